/**
 * Keeps the phases of docs/architecture.md honest: each compiler phase imports only from itself
 * and the phases before it, the emitters never see the model or the AST, and the runtime imports
 * nothing from the compiler.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(new URL("../../", import.meta.url).pathname);

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) out.push(...files(path));
    else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

/** The repository-relative folders a file's relative imports land in. */
function importTargets(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8");
  const targets: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
    targets.push(relative(root, resolve(root, dirname(file), m[1]!)));
  }
  return targets;
}

const allowed: Record<string, string[]> = {
  "compiler/diagnostics": ["compiler/diagnostics"],
  "compiler/preprocess": ["compiler/preprocess", "compiler/diagnostics"],
  "compiler/syntax": ["compiler/syntax", "compiler/preprocess/types.js", "compiler/diagnostics"],
  "compiler/semantics": ["compiler/semantics", "compiler/syntax", "compiler/preprocess/types.js", "compiler/diagnostics"],
  // Layout reads the model and the ABI facts and plan types it shares with the runtime.
  "compiler/layout": [
    "compiler/layout",
    "compiler/semantics",
    "compiler/preprocess/types.js",
    "compiler/diagnostics",
    "runtime/abi.js",
    "runtime/codec/plan.js",
  ],
  // Emitters read only the IR (never the model or the AST).
  "compiler/emit": ["compiler/emit", "compiler/layout", "compiler/diagnostics", "compiler/version.js", "runtime"],
};

/** Drivers inside emit/ that run the whole pipeline (they are not emitters). */
const drivers: Record<string, string[]> = {
  "compiler/emit/generate.ts": ["compiler/index.js"],
  "compiler/emit/cli-emit.ts": ["compiler/cli.js"],
};

describe("phase boundaries", () => {
  for (const [phase, ok] of Object.entries(allowed)) {
    it(`${phase} imports only from ${ok.join(", ")}`, () => {
      const bad: string[] = [];
      for (const file of files(phase)) {
        for (const target of importTargets(file)) {
          const fine = [...ok, ...(drivers[file] ?? [])].some((a) => target === a || target.startsWith(`${a}/`));
          if (!fine) bad.push(`${file} -> ${target}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }

  it("runtime/ imports nothing from compiler/", () => {
    const bad = files("runtime").flatMap((file) =>
      importTargets(file)
        .filter((t) => t.startsWith("compiler/") || t === "compiler")
        .map((t) => `${file} -> ${t}`),
    );
    expect(bad).toEqual([]);
  });
});
