/**
 * `npm run generate`: rebuilds generated/ from defs/ (x86_64): one module per subsystem, plus a
 * `-seqnos` module (built with -DSEQNOS) for every interface with SEQNOS variants.
 * A test compares generated/ with `expectedGeneratedFiles()` and fails when it is stale.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type GeneratedFile, generate } from "../compiler/emit/generate.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export function expectedGeneratedFiles(): GeneratedFile[] {
  const out: GeneratedFile[] = [];
  const defs = readdirSync(join(ROOT, "defs"))
    .filter((f) => f.endsWith(".defs"))
    .sort();
  for (const name of defs) {
    const path = `defs/${name}`;
    const text = readFileSync(join(ROOT, path), "utf8");
    const variants: Array<{ defines: string[]; commandLine?: string }> = [{ defines: [] }];
    if (/^#if\s+SEQNOS\b/m.test(text)) variants.push({ defines: ["SEQNOS"], commandLine: "-DSEQNOS" });
    for (const v of variants) {
      const result = generate(path, {
        includeDirs: [join(ROOT, "defs")],
        defines: v.defines,
        commandLine: v.commandLine,
        readFile: (p) => {
          try {
            return readFileSync(p.startsWith("/") ? p : join(ROOT, p), "utf8");
          } catch {
            return undefined;
          }
        },
      });
      const errors = result.diagnostics.filter((d) => d.severity === "error");
      if (errors.length > 0) throw new Error(`${path}: ${errors.map((d) => d.message).join("; ")}`);
      out.push(...result.files);
    }
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(join(ROOT, "generated"), { recursive: true });
  for (const file of expectedGeneratedFiles()) {
    writeFileSync(join(ROOT, "generated", file.name), file.text);
    console.log(`generated/${file.name}`);
  }
}
