/**
 * Reflection descriptors (message plans) of `.defs` files, as generated stubs embed them: what
 * `mig-ts trace` gives the tracer for programs it did not build.
 */
import type { SubsystemPlan } from "../../runtime/codec/plan.js";
import type { Diagnostic } from "../diagnostics/index.js";
import { type CompileOptions, compileFile } from "../index.js";
import { subsystemPlanFromIR } from "../layout/plan.js";
import type { Abi } from "../preprocess/types.js";

export function subsystemPlans(file: string, options: CompileOptions, abis: readonly Abi[] = ["x86_64", "i386"]): { plans: SubsystemPlan[]; diagnostics: Diagnostic[] } {
  const plans: SubsystemPlan[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const abi of abis) {
    const result = compileFile(file, { ...options, abi });
    if (abi === abis[0]) diagnostics.push(...result.diagnostics);
    const ir = result.ir;
    if (!ir || ir.typesOnly) continue;
    plans.push(subsystemPlanFromIR(ir));
  }
  return { plans, diagnostics };
}
