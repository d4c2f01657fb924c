/**
 * A scratch project for the bundler tests: the fixture files copied into a temporary folder whose
 * node_modules holds a minimal `mig-ts` package exposing `mig-ts/runtime` (the runtime bundled
 * from the sources by esbuild), as an installed package would.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export interface Project {
  dir: string;
  file(name: string): string;
  cleanup(): void;
}

export async function makeProject(): Promise<Project> {
  const dir = mkdtempSync(join(tmpdir(), "mig-ts-plugin-"));
  cpSync(here("./fixture"), dir, { recursive: true });
  const pkg = join(dir, "node_modules", "mig-ts");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(
    join(pkg, "package.json"),
    JSON.stringify({ name: "mig-ts", type: "module", sideEffects: false, exports: { "./runtime": "./runtime.js" } }),
  );
  await build({
    entryPoints: [here("../../runtime/index.ts")],
    outfile: join(pkg, "runtime.js"),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "silent",
  });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "fixture", private: true, type: "module" }));
  return {
    dir,
    file: (name) => join(dir, name),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
