/**
 * examples/plugin-esbuild: the example's own build (esbuild + the mig-ts plugin, the app's
 * `.defs` including the std_types.defs mig-ts ships) produces an app whose RPCs work.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { typesMain } from "../../compiler/commands/types.js";
// @ts-expect-error: a plain .mjs build script, without declarations
import { buildExample } from "../../examples/plugin-esbuild/build.mjs";

describe("examples/plugin-esbuild", () => {
  it("builds and runs", async () => {
    const outdir = mkdtempSync(join(tmpdir(), "mig-ts-example-esbuild-"));
    try {
      // The runtime from the sources (the "mig-ts-source" export condition) rather than dist/.
      await buildExample({ outdir, conditions: ["mig-ts-source"], logLevel: "silent" });
      const app = (await import(pathToFileURL(join(outdir, "main.js")).href)) as { main(log: (l: string) => void): Promise<string[]> };
      expect(await app.main(() => {})).toEqual(["Hello, Mach! (greeting #1)", "Hello, Hurd! (greeting #2)"]);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it("type-checks against the declarations mig-ts types writes", async () => {
    const out: string[] = [];
    const code = await typesMain(["-I", "defs", "examples/plugin-esbuild/src/greeter.defs"], { stdout: (t) => out.push(t), stderr: (t) => out.push(t) });
    expect(code, out.join("")).toBe(0);
    expect(existsSync("examples/plugin-esbuild/src/greeter.defs.d.ts")).toBe(true);
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    // Throws (with tsc's output) on any type error.
    execFileSync(process.execPath, [tsc, "-p", "examples/plugin-esbuild/tsconfig.json"], { encoding: "utf8" });
  });
});
