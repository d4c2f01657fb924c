/**
 * `npm run bench -- compile`: how fast mig-ts turns .defs into formatted TypeScript, against GNU
 * MIG measured in the same run.
 *  - all of Debian's GNU Mach .defs in one process, vs one `x86_64-gnu-mig` run per file;
 *  - a cold `mig-ts` process on default_pager.defs, vs one `x86_64-gnu-mig` run (after one untimed
 *    run that writes bin/mig-ts.js's V8 code cache, as any earlier run of an install does; the
 *    cache goes to the bench's temporary directory);
 *  - a warm in-process recompile of default_pager.defs, vs `x86_64-gnu-migcom` alone on the same
 *    preprocessed input.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generate } from "../compiler/emit/generate.js";
import type { BenchResult } from "./result.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const GNUMACH = "/usr/include/x86_64-linux-gnu";
const MIGCOM = "/usr/lib/mig/x86_64-gnu-migcom";

function defsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (entry === "machine") continue;
    if (statSync(path).isDirectory()) out.push(...defsFiles(path));
    else if (entry.endsWith(".defs")) out.push(path);
  }
  return out;
}

function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** The best of `rounds` timings (ms). */
function best(rounds: number, fn: () => void): number {
  let min = Infinity;
  for (let i = 0; i < rounds; i++) min = Math.min(min, time(fn));
  return min;
}

export function runCompileBench(): BenchResult[] {
  const files = [...defsFiles(join(GNUMACH, "mach")), ...defsFiles(join(GNUMACH, "device")), ...defsFiles(join(GNUMACH, "mach_debug"))];
  const work = mkdtempSync(join(tmpdir(), "mig-ts-bench-"));
  const results: BenchResult[] = [];
  const add = (name: string, value: number, baseline: number, goal: number): void => {
    results.push({ name, value, unit: "ms", baseline, ratio: value / baseline, goal, goalOp: "<=" });
  };
  try {
    const gnuMig = (file: string): void => {
      spawnSync("x86_64-gnu-mig", ["-D__x86_64__", `-I${GNUMACH}`, file], { cwd: work, stdio: "ignore" });
    };
    const compileAll = (): void => {
      for (const file of files) generate(file, { includeDirs: [GNUMACH] });
    };
    compileAll(); // warm up the JIT and the file cache
    add(`all ${files.length} .defs to formatted TS, one process`, best(3, compileAll), best(3, () => files.forEach(gnuMig)), 0.25);

    const pager = join(GNUMACH, "mach/default_pager.defs");
    execFileSync("node", [join(ROOT, "scripts/build.mjs")], { cwd: ROOT, stdio: "ignore" });
    const env = { ...process.env, MIG_TS_CACHE_DIR: join(work, "v8-cache") };
    const coldRun = (): void => {
      spawnSync("node", [join(ROOT, "bin/mig-ts.js"), "--emit", "ts", "--out-dir", work, "-I", GNUMACH, pager], { stdio: "ignore", env });
    };
    coldRun(); // writes the code cache
    const cold = best(5, coldRun);
    add("cold mig-ts on default_pager.defs", cold, best(5, () => gnuMig(pager)), 3);

    const preprocessed = execFileSync("gcc", ["-E", "-x", "c", "-D__x86_64__", `-I${GNUMACH}`, pager], { encoding: "utf8" });
    const migcom = best(10, () => {
      spawnSync(MIGCOM, ["-user", "/dev/null", "-server", "/dev/null", "-header", "/dev/null"], {
        input: preprocessed,
        cwd: work,
        stdio: ["pipe", "ignore", "ignore"],
      });
    });
    const warm = best(20, () => generate(pager, { includeDirs: [GNUMACH] }));
    add("warm in-process recompile of default_pager.defs", warm, migcom, 1);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  console.log("| measure | mig-ts ms | GNU MIG ms | ratio | goal |");
  for (const r of results) {
    console.log(`| ${r.name} | ${r.value.toFixed(2)} | ${r.baseline.toFixed(2)} | ${r.ratio.toFixed(3)} | ${r.goalOp} ${r.goal} |`);
  }
  return results;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(JSON.stringify({ bench: "compile", results: runCompileBench() }));
}
