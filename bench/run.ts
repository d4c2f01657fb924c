/**
 * `npm run bench` runs every benchmark; `npm run bench -- NAME` runs one. Each prints a table and,
 * as its last line, one JSON object: {"bench": NAME, "results": [{name, value, unit, baseline,
 * ratio, goal, goalOp}]} (DESIGN.md §1).
 *
 * With more than one, each runs in a process of its own: what one bench leaves behind (a larger
 * heap, code made polymorphic by other transports) would otherwise slow the next. The default
 * pager's page-in measured 0.45 of raw after the codec, rpc and compile benches in one process,
 * 0.51-0.53 on its own.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
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
  const unknown = names.filter((n) => !(n in benches));
  if (unknown.length > 0) {
    console.error(`unknown bench ${unknown.join(", ")}; known: ${Object.keys(benches).join(", ")}`);
    process.exitCode = 2;
    return;
  }
  if (names.length > 1) {
    for (const name of names) {
      const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), name], { stdio: "inherit" });
      if (child.status !== 0) {
        console.error(`bench ${name} failed (${child.status ?? child.signal})`);
        process.exitCode = 1;
      }
    }
    return;
  }
  const name = names[0]!;
  console.log(`# bench ${name}`);
  const results = await benches[name]!();
  console.log(JSON.stringify({ bench: name, results }));
}

await main();
