/**
 * Regenerates generated/name_server.ts from name_server.defs (`npm run generate` runs it after generated/).
 * The example runs under tsx, which cannot import a `.defs` the way the build plugin lets a
 * bundled app do, so the stubs are checked in; the example's test fails when they are stale.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generate, type GeneratedFile } from "../../compiler/emit/generate.js";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export function nameServerStubs(): GeneratedFile {
  const result = generate("examples/name-server/name_server.defs", {
    includeDirs: [here("../../defs")],
    readFile: (p) => {
      try {
        return readSource(p);
      } catch {
        return undefined;
      }
    },
  });
  const errors = result.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0 || result.files.length !== 1) throw new Error(`name_server.defs: ${errors.map((d) => d.message).join("; ")}`);
  return result.files[0];
}

/** Paths relative to the repository root, whatever the current directory. */
function readSource(p: string): string {
  return readFileSync(isAbsolute(p) ? p : join(here("../.."), p), "utf8");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(here("generated"), { recursive: true });
  const file = nameServerStubs();
  writeFileSync(here(`generated/${file.name}`), file.text);
  console.log(`examples/name-server/generated/${file.name}`);
}
