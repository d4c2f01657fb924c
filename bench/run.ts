/**
 * `npm run bench` runs every benchmark; `npm run bench -- NAME` runs one. Each prints a table and,
 * as its last line, one JSON object: {"bench": NAME, "results": [{name, value, unit, baseline,
 * ratio, goal, goalOp}]} (DESIGN.md §1).
 */
import type { BenchResult } from "./result.js";

const benches: Record<string, () => Promise<BenchResult[]>> = {
  codec: async () => (await import("./codec.js")).runCodecBench(),
  rpc: async () => (await import("./rpc.js")).runRpcBench(),
  compile: async () => (await import("./compile.js")).runCompileBench(),
  pager: async () => (await import("./pager.js")).runPagerBench(),
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const names = wanted.length > 0 ? wanted : Object.keys(benches);
  for (const name of names) {
    const run = benches[name];
    if (!run) {
      console.error(`unknown bench ${name}; known: ${Object.keys(benches).join(", ")}`);
      process.exitCode = 2;
      return;
    }
    console.log(`# bench ${name}`);
    const results = await run();
    console.log(JSON.stringify({ bench: name, results }));
  }
}

await main();
