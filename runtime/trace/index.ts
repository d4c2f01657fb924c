/**
 * mig-ts message tracing (`mig-ts/trace`): attach a `Tracer` to a kernel to print every message
 * its tasks send and receive, decoded through the generated reflection descriptors.
 *
 *   import { traceKernel } from "mig-ts/trace";
 *   import { name_server_subsystem } from "./name_server.defs";
 *   traceKernel(kernel, { subsystems: [name_server_subsystem] });
 *
 * `mig-ts trace script.js` does the same for a whole program (see ./register.ts).
 */
export { formatValue, Tracer, traceKernel, type TracerOptions } from "./tracer.js";
export { TRACE_ENV, type TraceConfig } from "./config.js";
