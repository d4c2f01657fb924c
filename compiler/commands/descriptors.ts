/**
 * Reflection descriptors (message plans) of `.defs` files, as generated stubs embed them: what
 * `mig-ts trace` gives the tracer for programs it did not build.
 */
import type { SubsystemPlan } from "../../runtime/codec/plan.js";
import type { Diagnostic } from "../diagnostics/index.js";
import { generate } from "../emit/generate.js";
import { routinePlanOf } from "../emit/plans.js";
import type { CompileOptions } from "../index.js";
import type { Abi } from "../preprocess/types.js";

export function subsystemPlans(file: string, options: CompileOptions, abis: readonly Abi[] = ["x86_64", "i386"]): { plans: SubsystemPlan[]; diagnostics: Diagnostic[] } {
  const plans: SubsystemPlan[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const abi of abis) {
    const result = generate(file, { ...options, abi });
    if (abi === abis[0]) diagnostics.push(...result.diagnostics);
    const ir = result.ir;
    if (!ir || ir.typesOnly) continue;
    const byNumber = new Map(ir.routines.map((r) => [r.number, r]));
    plans.push({
      subsystem: ir.subsystem.name,
      abi,
      base: ir.subsystem.base,
      routines: ir.slots.map((s) => {
        const r = s.kind === "routine" ? byNumber.get(s.number) : undefined;
        return r ? routinePlanOf(r, abi, r.args.findIndex((a) => a.kind === "msgseqno")) : null;
      }),
    });
  }
  return { plans, diagnostics };
}
