/**
 * The `--import` hook `mig-ts trace` runs the traced program with. When `$MIG_TS_TRACE` names a
 * trace configuration (./config.ts), every kernel the program creates gets a tracer: the kernel's
 * constructor calls `globalThis[Symbol.for("mig-ts.kernel-created")]`, so this works whichever
 * copy of the runtime the program loads (the package's dist, or the sources under tsx).
 */
import { appendFileSync, readFileSync } from "node:fs";
import { TRACE_ENV, type TraceConfig } from "./config.js";
import { Tracer } from "./tracer.js";

const path = process.env[TRACE_ENV];
if (path) {
  const config = JSON.parse(readFileSync(path, "utf8")) as TraceConfig;
  const output = config.output;
  const write = output ? (line: string) => appendFileSync(output, `${line}\n`) : (line: string) => process.stderr.write(`${line}\n`);
  const tracer = new Tracer({ subsystems: config.subsystems, write });
  (globalThis as Record<symbol, unknown>)[Symbol.for("mig-ts.kernel-created")] = (kernel: Parameters<Tracer["attach"]>[0]) => {
    tracer.attach(kernel);
  };
}
