/**
 * Our preprocessor against gcc's (`gcc -E -P -x c -nostdinc -undef` with our target macros
 * given as -D): for each fixture in test/fixtures/preprocess/compare, both outputs are split
 * into tokens and must be equal token for token. gcc is the oracle for every directive and macro
 * form, including the corner cases of painting, pasting and stringizing.
 */
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { preprocess, type PreprocessOptions } from "../../../compiler/preprocess/index.js";
import { describeWithTools } from "../../support/tools.js";
import { gccPreprocess, splitTokens } from "./support.js";

const dir = fileURLToPath(new URL("../../fixtures/preprocess/compare/", import.meta.url));

const cases: Array<[file: string, options: PreprocessOptions]> = [
  ["object-macros.defs", {}],
  ["function-macros.defs", {}],
  ["stringize.defs", {}],
  ["paste.defs", {}],
  ["variadic.defs", {}],
  ["blue-paint.defs", {}],
  ["conditionals.defs", {}],
  ["conditionals.defs", { abi: "i386" }],
  ["conditionals.defs", { defines: [["KERNEL_USER", "1"]] }],
  [
    "conditionals.defs",
    {
      defines: [
        ["KERNEL_SERVER", "1"],
        ["MACH_VM_DEBUG", "0"],
      ],
    },
  ],
  ["expressions.defs", {}],
  ["include.defs", { includeDirs: [`${dir}sys1`, `${dir}sys2`] }],
  ["line.defs", {}],
  ["lexical.defs", {}],
  [
    "command-line.defs",
    {
      commandLineMacros: [
        { kind: "define", name: "FROM_D", value: "2" },
        { kind: "define", name: "BOTH", value: "d" },
        { kind: "define", name: "REMOVED", value: "1" },
        { kind: "undefine", name: "REMOVED" },
        { kind: "define", name: "FUNC(x)", value: "[x]" },
        { kind: "define", name: "OVERRIDDEN", value: "from_d" },
      ],
      imacros: [`${dir}imacros.h`],
    },
  ],
  [
    "command-line.defs",
    {
      defines: [
        ["FROM_D", "2"],
        ["REMOVED", "1"],
      ],
      undefines: ["REMOVED", "__GNU__"],
    },
  ],
  [
    "mig-hooks.defs",
    {
      includeDirs: [`${dir}sys1`],
      defines: [
        ["MEMORY_OBJECT_INTRAN", "memory_object_t mo_intran(mach_port_t)"],
        ["MEMORY_OBJECT_IMPORTS", 'import "mo.h";'],
        ["SEQNOS", "1"],
      ],
    },
  ],
  ["mig-hooks.defs", { includeDirs: [`${dir}sys1`], defines: [["KERNEL_USER", "1"]], abi: "i386" }],
];

describeWithTools(["gcc"], "token streams equal gcc -E", () => {
  for (const [file, options] of cases) {
    it(`${file} ${JSON.stringify(options).replaceAll(dir, "")}`, () => {
      const ours = preprocess(dir + file, options);
      expect(ours.diagnostics.filter((d) => d.code !== "MIG1013")).toEqual([]);
      expect(splitTokens(ours.text)).toEqual(splitTokens(gccPreprocess(dir + file, options)));
    });
  }
});
