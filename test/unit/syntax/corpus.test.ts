/**
 * GNU Mach's own .defs files, preprocessed by gcc the way MIG's wrapper would (with the target
 * macros defined), must parse without a single diagnostic, in every configuration the kernel and
 * the Hurd build them in.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { preprocess as ourPreprocess } from "../../../compiler/preprocess/index.js";
import { parse } from "../../../compiler/syntax/index.js";
import { GNUMACH_INCLUDE, describeWithTools, tools } from "../../support/tools.js";
import { parseText } from "./helpers.js";

function defsFiles(): string[] {
  if (!tools.gnumachDefs()) return [];
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      // mach/machine is a symlink to mach/x86_64: the same files twice.
      if (path === join(GNUMACH_INCLUDE, "mach", "machine")) continue;
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".defs")) found.push(path);
    }
  };
  for (const top of ["mach", "device", "mach_debug"]) walk(join(GNUMACH_INCLUDE, top));
  return found;
}

function preprocess(file: string, defines: string[]): string {
  return execFileSync(
    "gcc",
    ["-E", "-P", "-x", "c", "-nostdinc", "-undef", "-D__GNU__=1", "-D__gnu_hurd__=1", "-D__MACH__=1", "-D__x86_64__=1", "-D__LP64__=1", `-I${GNUMACH_INCLUDE}`, ...defines, file],
    { encoding: "utf8" },
  );
}

const CONFIGURATIONS: string[][] = [[], ["-DSEQNOS"], ["-DKERNEL_USER"], ["-DKERNEL_SERVER"]];

describeWithTools(["gcc", "gnumachDefs"], "GNU Mach's .defs files", () => {
  const files = defsFiles();

  it("are all found (25 of them)", () => {
    expect(files).toHaveLength(25);
  });

  for (const file of files) {
    it(`${file.slice(GNUMACH_INCLUDE.length + 1)} parses with no diagnostics in every configuration`, () => {
      for (const defines of CONFIGURATIONS) {
        const text = preprocess(file, defines);
        const result = parseText(text, file);
        expect(result.diagnostics, `${file} ${defines.join(" ")}`).toEqual([]);
        expect(result.file.statements.length).toBeGreaterThan(0);
      }
    });
  }

  it("mach.defs yields its subsystem, types and routines", () => {
    const result = parseText(preprocess(join(GNUMACH_INCLUDE, "mach", "mach.defs"), []));
    const kinds = new Set(result.file.statements.map((s) => s.kind));
    expect([...kinds]).toEqual(expect.arrayContaining(["subsystem", "type", "routine", "simpleroutine", "skip", "import"]));
    const subsystem = result.file.statements.find((s) => s.kind === "subsystem");
    expect(subsystem).toMatchObject({ name: { text: "mach" }, base: { value: 2000 } });
  });
});

describeWithTools(["gnumachDefs"], "GNU Mach's .defs files through our own preprocessor", () => {
  const files = defsFiles();
  const configurations: Array<Array<[string, string]>> = [[], [["SEQNOS", "1"]], [["KERNEL_USER", "1"]], [["KERNEL_SERVER", "1"]]];

  it("all parse with no diagnostics in every configuration", () => {
    expect(files).toHaveLength(25);
    for (const file of files) {
      for (const defines of configurations) {
        const pp = ourPreprocess(file, { includeDirs: [GNUMACH_INCLUDE], defines });
        const result = parse(pp.text, pp.locate, { file });
        expect(result.diagnostics, `${file} ${defines.map(([n]) => n).join(" ")}`).toEqual([]);
        // Spans point into the original files, not into the preprocessed text.
        for (const s of result.file.statements) expect(s.span.start.file.endsWith(".defs")).toBe(true);
      }
    }
  });
});
