/**
 * The codec message plans of an IR routine (runtime/codec/plan.ts), from the layouts the layout
 * engine put in the IR. Generated stubs embed these as their reflection descriptor; they are the
 * very plans the conformance suite checks (compiler/layout/plan.ts `routinePlan`).
 */
import type { RoutinePlan } from "../../runtime/codec/plan.js";
import type { IrRoutine } from "../layout/ir.js";
import { routinePlan } from "../layout/plan.js";

export function routinePlanOf(routine: IrRoutine, abi: "x86_64" | "i386", seqnoSlot = -1): RoutinePlan {
  if (!routine.request || !routine.reply) {
    throw new Error(`internal error: the IR of ${routine.name} has no message layouts`);
  }
  const plan = routinePlan(routine, { request: routine.request, reply: routine.reply }, abi);
  if (plan.seqnoSlot < 0) plan.seqnoSlot = seqnoSlot;
  return plan;
}
