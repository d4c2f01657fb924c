/**
 * `npm run conformance -- --vectors DIR --defs-root DIR [-I DIR]... [-D NAME]... [--abi ABI] [-v]`
 *
 * Runs the conformance suite (./suite.ts) over a directory laid out like
 * test/fixtures/conformance. Prints `conformance <abi>: passed N/M` per ABI (and per check and
 * case), and as its last line one JSON object:
 *   {"conformance": {"<abi>": {"passed": N, "total": M}}, "failures": [...]}
 * Exits 1 when anything fails.
 */
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";
import { runConformance, type ConformanceOptions } from "./suite.js";

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv: string[]): ConformanceOptions & { verbose: boolean } {
  const options: ConformanceOptions & { verbose: boolean } = {
    vectors: join(here, "../fixtures/conformance"),
    defsRoot: "/usr/include/x86_64-linux-gnu",
    includeDirs: [],
    defines: [],
    verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--vectors") options.vectors = resolve(next());
    else if (a === "--defs-root") options.defsRoot = resolve(next());
    else if (a === "-I") options.includeDirs!.push(resolve(next()));
    else if (a.startsWith("-I")) options.includeDirs!.push(resolve(a.slice(2)));
    else if (a === "-D") options.defines!.push(next());
    else if (a.startsWith("-D")) options.defines!.push(a.slice(2));
    else if (a === "--abi") (options.abis ??= []).push(next());
    else if (a === "-v" || a === "--verbose") options.verbose = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return options;
}

function main(): void {
  const options = parseArgs(process.argv.slice(2));
  const result = runConformance(options);
  const summary: Record<string, { passed: number; total: number }> = {};
  for (const [abi, r] of Object.entries(result.abis)) {
    summary[abi] = { passed: r.passed, total: r.total };
    const checks = Object.entries(r.checks)
      .map(([k, c]) => `${k} ${c.passed}/${c.total}`)
      .join(", ");
    const cases = Object.entries(r.cases)
      .map(([k, c]) => `${k} ${c.passed}/${c.total}`)
      .join(", ");
    console.log(`  ${abi} checks: ${checks}`);
    console.log(`  ${abi} cases: ${cases}`);
  }
  const shown = options.verbose ? result.failures : result.failures.slice(0, 40);
  for (const f of shown) console.log(`FAIL ${f}`);
  if (shown.length < result.failures.length) console.log(`... ${result.failures.length - shown.length} more failures (-v shows all)`);
  for (const [abi, r] of Object.entries(summary)) console.log(`conformance ${abi}: passed ${r.passed}/${r.total}`);
  console.log(JSON.stringify({ conformance: summary, failures: result.failures }));
  const allPassed = Object.values(summary).every((r) => r.passed === r.total) && result.failures.length === 0;
  process.exitCode = allPassed ? 0 : 1;
}

main();
