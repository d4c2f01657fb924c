/**
 * Regenerates bench/generated/ from bench/*.defs (`npm run generate` runs it): the stubs the RPC
 * benchmark calls. Checked in so the bench runs under tsx without a build step.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generate, type GeneratedFile } from "../compiler/emit/generate.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export function benchStubs(): GeneratedFile[] {
  const out: GeneratedFile[] = [];
  for (const name of readdirSync(join(ROOT, "bench")).filter((f) => f.endsWith(".defs")).sort()) {
    const path = `bench/${name}`;
    const result = generate(path, {
      includeDirs: [join(ROOT, "defs")],
      readFile: (p) => {
        try {
          return readFileSync(isAbsolute(p) ? p : join(ROOT, p), "utf8");
        } catch {
          return undefined;
        }
      },
    });
    const errors = result.diagnostics.filter((d) => d.severity === "error");
    if (errors.length > 0) throw new Error(`${path}: ${errors.map((d) => d.message).join("; ")}`);
    out.push(...result.files);
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(join(ROOT, "bench/generated"), { recursive: true });
  for (const file of benchStubs()) {
    writeFileSync(join(ROOT, "bench/generated", file.name), file.text);
    console.log(`bench/generated/${file.name}`);
  }
}
