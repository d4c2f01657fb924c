/**
 * IR layout -> codec message plan (runtime/codec/plan.ts): the compact form generated stubs embed
 * and the codec engine runs on. Pure data conversion; every number comes from the layout.
 */
import type { DeallocCode, ItemKindCode, ItemPlan, MessagePlan, RoutinePlan, SubsystemPlan } from "../../runtime/codec/plan.js";
import type { InterfaceIR, IrRoutine } from "./ir.js";
import type { HeaderPortLayout, ItemKind, ItemLayout, MessageLayout } from "./message-layout.js";

const KIND_CODES: Record<ItemKind, ItemKindCode> = {
  scalar: 0,
  port: 1,
  fixed: 2,
  string: 3,
  varstring: 4,
  bounded: 5,
  indefinite: 6,
  ool: 7,
};

function itemPlan(item: ItemLayout): ItemPlan {
  return {
    arg: item.arg,
    slot: item.argIndex,
    kind: KIND_CODES[item.kind],
    role: item.role === "retcode" ? 1 : item.role === "count" ? 2 : 0,
    name: item.msgType.name,
    recv: item.receiveName,
    bits: item.elementBits,
    oolBits: item.oolElementBits,
    number: item.kind === "bounded" || item.kind === "varstring" ? item.msgType.number : item.kind === "indefinite" || item.kind === "ool" ? 0 : item.msgType.number,
    long: item.msgType.longForm,
    per: item.elementsPerValue,
    max: item.maxCount ?? 0,
    dataSize: item.dataSize,
    port: item.isPort,
    signed: item.signed,
    poly: item.polyArg,
    count: item.countArg,
    deallocSlot: item.deallocArg,
    scopy: item.serverCopyArg,
    dealloc: (item.dealloc === "yes" ? 1 : item.dealloc === "maybe" ? 2 : 0) as DeallocCode,
  };
}

function headerPlan(h: HeaderPortLayout) {
  return { slot: h.argIndex, disposition: h.disposition, poly: h.polyArg };
}

export function messagePlan(m: MessageLayout): MessagePlan {
  const plan: MessagePlan = {
    id: m.id,
    minSize: m.minSize,
    maxSize: m.maxSize,
    fixed: m.fixed,
    complex: m.complex === "yes" ? 1 : m.complex === "no" ? 0 : 2,
    items: m.items.map(itemPlan),
  };
  if (m.remotePort) plan.remote = headerPlan(m.remotePort);
  if (m.localPort) plan.local = headerPlan(m.localPort);
  return plan;
}

/** What `routinePlan` needs of a routine: the model's `Routine` and the IR's `IrRoutine` both fit. */
export interface PlanRoutine {
  name: string;
  kind: "routine" | "simpleroutine";
  args: ReadonlyArray<{ name: string; kind: string; implicit?: boolean; parent?: string }>;
}

/** The plan of one routine, from its arguments (the value slots) and its layout. */
export function routinePlan(routine: PlanRoutine, layout: { request: MessageLayout; reply: MessageLayout }, abi: "x86_64" | "i386"): RoutinePlan {
  const slotOf = (kinds: string[]) => {
    let index = -1;
    routine.args.forEach((a, i) => {
      if (kinds.includes(a.kind) && !a.implicit) index = i;
    });
    return index;
  };
  const polyOf = (slot: number) => (slot < 0 ? -1 : routine.args.findIndex((a) => a.kind === "poly" && a.parent === routine.args[slot].name));
  const requestPortSlot = slotOf(["requestport"]);
  const replyPortSlot = slotOf(["sreplyport", "replyport"]);
  return {
    name: routine.name,
    kind: routine.kind,
    abi,
    args: routine.args.map((a) => a.name),
    requestPortSlot,
    replyPortSlot,
    seqnoSlot: slotOf(["msgseqno"]),
    requestPortPolySlot: polyOf(requestPortSlot),
    replyPortPolySlot: polyOf(replyPortSlot),
    request: messagePlan(layout.request),
    reply: messagePlan(layout.reply),
  };
}

/** The plan of an IR routine (the IR carries its layouts: see build-ir.ts). */
export function routinePlanFromIR(routine: IrRoutine, abi: "x86_64" | "i386"): RoutinePlan {
  if (!routine.request || !routine.reply) throw new Error(`internal error: the IR of ${routine.name} has no message layouts`);
  return routinePlan(routine, { request: routine.request, reply: routine.reply }, abi);
}

/** The demux table of an IR: routine plans indexed by msgh_id - base (null for skips). */
export function subsystemPlanFromIR(ir: InterfaceIR): SubsystemPlan {
  const byName = new Map(ir.routines.map((r) => [r.name, r]));
  return {
    subsystem: ir.subsystem.name,
    abi: ir.abi,
    base: ir.subsystem.base,
    routines: ir.slots.map((s) => (s.kind === "routine" ? routinePlanFromIR(byName.get(s.name)!, ir.abi) : null)),
  };
}

export function subsystemPlan(
  subsystem: string,
  base: number,
  abi: "x86_64" | "i386",
  slots: Array<RoutinePlan | null>,
): SubsystemPlan {
  return { subsystem, abi, base, routines: slots };
}
