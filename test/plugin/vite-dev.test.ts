/**
 * Under Vite's dev server a `.defs` module depends on the files it #includes: editing an
 * included file invalidates the module (so HMR reloads its importers), and the next load compiles
 * the new definitions.
 */
import { appendFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { createServer, type ViteDevServer } from "vite";
import migVite from "../../compiler/plugin/vite.js";
import { makeProject, type Project } from "./support.js";

let project: Project | undefined;
let server: ViteDevServer | undefined;
afterAll(async () => {
  await server?.close();
  project?.cleanup();
});

describe("Vite dev server", () => {
  it("reloads a .defs module when a file it includes changes", async () => {
    project = await makeProject();
    server = await createServer({
      root: project.dir,
      configFile: false,
      logLevel: "silent",
      appType: "custom",
      plugins: [migVite()],
      server: { middlewareMode: true, watch: { usePolling: true, interval: 50 } },
    });
    const before = await server.ssrLoadModule("/calc.defs");
    expect(before.calc_add_plan.request.id).toBe(7000);
    expect(before.calc_mul_plan).toBeUndefined();

    const graph = server.environments.ssr.moduleGraph;
    const module = await graph.getModuleByUrl("/calc.defs");
    expect([...module!.importedModules].map((m) => m.file)).toContain(project.file("calc_types.defs"));

    const changed = new Promise<void>((resolve) => server!.watcher.on("change", (file) => file.endsWith("calc_types.defs") && resolve()));
    appendFileSync(project.file("calc_types.defs"), "\nroutine calc_mul(server : mach_port_t; a : int; b : int; out product : int);\n");
    await changed;
    await expect.poll(() => module!.transformResult).toBeNull();

    const after = await server.ssrLoadModule("/calc.defs");
    expect(after.calc_mul_plan.name).toBe("calc_mul");
  });
});
