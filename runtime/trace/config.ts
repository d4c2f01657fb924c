/** What `mig-ts trace` hands the traced program (the file named by `$MIG_TS_TRACE`). */
import type { SubsystemPlan } from "../codec/plan.js";

export const TRACE_ENV = "MIG_TS_TRACE";

export interface TraceConfig {
  /** Reflection descriptors compiled from the `.defs` files given to `mig-ts trace`, every ABI. */
  subsystems: SubsystemPlan[];
  /** Append lines to this file instead of writing them to standard error. */
  output?: string;
}
