/**
 * Every GNU Mach .defs installed by gnumach-dev, preprocessed by us and by gcc with the same
 * target macros, for both ABIs and the variants MIG users build (SEQNOS, KERNEL_USER,
 * KERNEL_SERVER): no error diagnostics, and the same token stream.
 */
import { expect, it } from "vitest";
import { hasErrors } from "../../../compiler/diagnostics/index.js";
import { preprocess, type PreprocessOptions } from "../../../compiler/preprocess/index.js";
import { GNUMACH_INCLUDE, describeWithTools } from "../../support/tools.js";
import { gccPreprocessAsync, gnumachDefs, splitTokens } from "./support.js";

const variants: Array<[label: string, defines: Array<[string, string]>]> = [
  ["plain", []],
  ["-DSEQNOS", [["SEQNOS", "1"]]],
  ["-DKERNEL_USER", [["KERNEL_USER", "1"]]],
  ["-DKERNEL_SERVER", [["KERNEL_SERVER", "1"]]],
];

describeWithTools(["gcc", "gnumachDefs"], "GNU Mach .defs match gcc -E", () => {
  const files = gnumachDefs(GNUMACH_INCLUDE);

  it("finds all 25 .defs", () => {
    expect(files).toHaveLength(25);
  });

  for (const abi of ["x86_64", "i386"] as const) {
    for (const [label, defines] of variants) {
      it(`${abi} ${label}`, async () => {
        const options: PreprocessOptions = { includeDirs: [GNUMACH_INCLUDE], abi, defines };
        // gcc runs overlap (a few at a time) while we compare the ones already done.
        const expected = new Map<string, Promise<string>>();
        const start = (i: number): void => {
          const file = files[i];
          if (file) expected.set(file, gccPreprocessAsync(file, options));
        };
        for (let i = 0; i < 4; i++) start(i);
        for (let i = 0; i < files.length; i++) {
          const file = files[i]!;
          const ours = preprocess(file, options);
          expect(hasErrors(ours.diagnostics), `${file}: ${JSON.stringify(ours.diagnostics)}`).toBe(
            false,
          );
          const gcc = await expected.get(file)!;
          start(i + 4);
          expect(splitTokens(ours.text), file).toEqual(splitTokens(gcc));
        }
      });
    }
  }

  it("preprocesses all 25 in one process quickly (time printed)", () => {
    const run = (): number => {
      const start = performance.now();
      for (const file of files) preprocess(file, { includeDirs: [GNUMACH_INCLUDE] });
      return performance.now() - start;
    };
    const first = run();
    let best = Infinity;
    for (let i = 0; i < 5; i++) best = Math.min(best, run());
    console.log(
      `preprocess 25 GNU Mach .defs: first pass ${first.toFixed(1)} ms, best warm pass ${best.toFixed(1)} ms`,
    );
    // A loose bound: the point is to catch accidental quadratic behaviour, not to benchmark.
    expect(best).toBeLessThan(500);
  });
});
