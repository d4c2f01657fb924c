/**
 * The codec message plans of an IR routine (runtime/codec/plan.ts), from the layouts the layout
 * engine put in the IR. Generated stubs embed these as their reflection descriptor.
 */
import type { RoutinePlan } from "../../runtime/codec/plan.js";
import type { IrRoutine } from "../layout/ir.js";
import type { MessageLayout } from "../layout/message-layout.js";
import { messagePlan } from "../layout/plan.js";

export function routinePlanOf(routine: IrRoutine, abi: "x86_64" | "i386", seqnoSlot = -1): RoutinePlan {
  if (!routine.request || !routine.reply) {
    throw new Error(`internal error: the IR of ${routine.name} has no message layouts`);
  }
  const slotOf = (kinds: string[]): number => {
    let index = -1;
    routine.args.forEach((a, i) => {
      if (kinds.includes(a.kind) && !a.implicit) index = i;
    });
    return index;
  };
  const seqno = slotOf(["msgseqno"]);
  return {
    name: routine.name,
    kind: routine.kind,
    abi,
    args: routine.args.map((a) => a.name),
    requestPortSlot: slotOf(["requestport"]),
    replyPortSlot: slotOf(["sreplyport", "replyport"]),
    seqnoSlot: seqno >= 0 ? seqno : seqnoSlot,
    request: messagePlan(routine.request as unknown as MessageLayout),
    reply: messagePlan(routine.reply as unknown as MessageLayout),
  };
}
