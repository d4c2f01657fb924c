/**
 * Builds the IR from the interface model: a plain-data copy in the IR's own vocabulary. The layout
 * engine adds each routine's `request`/`reply` layout afterwards.
 */
import { printMigType } from "../semantics/print.js";
import type { InterfaceModel, MigType, RoutineArgument } from "../semantics/model.js";
import { abiInfo } from "../../runtime/abi.js";
import { layoutRoutine } from "./message-layout.js";
import {
  type InterfaceIR,
  IR_VERSION,
  type IrArgument,
  type IrRoutine,
  type IrType,
} from "./ir.js";

export function buildIR(model: InterfaceModel): InterfaceIR {
  const routines: IrRoutine[] = model.routines.map((r) => {
    const routine: IrRoutine = {
      name: r.name,
      kind: r.kind,
      number: r.number,
      requestId: r.requestId,
      replyId: r.replyId,
      userPrefix: r.userPrefix,
      serverPrefix: r.serverPrefix,
      userFunction: r.userPrefix + r.name,
      serverFunction: r.serverPrefix + r.name,
      args: r.args.map(irArgument),
    };
    if (r.waitTime !== undefined) routine.waitTime = r.waitTime;
    if (r.msgOption !== undefined) routine.msgOption = r.msgOption;
    if (r.span) routine.source = { ...r.span.start };
    const layout = layoutRoutine(r, abiInfo(model.abi));
    routine.request = layout.request;
    routine.reply = layout.reply;
    routine.errorReplySize = layout.errorReplySize;
    return routine;
  });
  const last = model.routines[model.routines.length - 1];
  const ir: InterfaceIR = {
    irVersion: IR_VERSION,
    abi: model.abi,
    file: model.file,
    subsystem: {
      name: model.subsystem.name,
      base: model.subsystem.base,
      kernelUser: model.subsystem.kernelUser,
      kernelServer: model.subsystem.kernelServer,
    },
    serverPrefix: last?.serverPrefix ?? "",
    userPrefix: last?.userPrefix ?? "",
    serverDemux: model.serverDemux,
    typesOnly: model.typesOnly ?? false,
    slots: model.slots.map((s) =>
      s.kind === "routine"
        ? { kind: "routine", number: s.routine.number, name: s.routine.name }
        : { kind: "skip", number: s.number },
    ),
    idRange:
      model.slots.length > 0
        ? [model.subsystem.base, model.subsystem.base + model.slots.length - 1]
        : null,
    routines,
    skips: model.slots.flatMap((s) => (s.kind === "skip" ? [s.number] : [])),
    types: model.types.map(irType),
    imports: model.imports.map((i) => ({ ...i })),
  };
  if (model.rcsId !== undefined) ir.rcsId = model.rcsId;
  return ir;
}

function irArgument(a: RoutineArgument): IrArgument {
  const type = irType(a.type);
  type.dealloc = a.dealloc;
  const arg: IrArgument = {
    name: a.name,
    kind: a.kind,
    direction:
      a.inRequest && a.inReply
        ? "both"
        : a.inRequest
          ? "request"
          : a.inReply
            ? "reply"
            : directionOf(a),
    inRequest: a.inRequest,
    inReply: a.inReply,
    userVisible: a.userVisible,
    serverVisible: a.serverVisible,
    implicit: a.implicit ?? false,
    countInOut: a.countInOut,
    serverCopy: a.serverCopy,
    type,
  };
  if (a.parent !== undefined) arg.parent = a.parent;
  return arg;
}

/** Header-carried and implicit arguments still have a direction of travel worth recording. */
function directionOf(a: RoutineArgument): IrArgument["direction"] {
  switch (a.kind) {
    case "requestport":
    case "replyport":
    case "ureplyport":
    case "sreplyport":
    case "msgseqno":
      return "request";
    case "in":
      return "request";
    case "out":
      return "reply";
    case "inout":
      return "both";
    default:
      return "none";
  }
}

export function irType(t: MigType): IrType {
  const out: IrType = {
    name: t.name,
    inName: t.inName,
    outName: t.outName,
    size: t.size,
    number: t.number,
    inline: t.inline,
    longForm: t.longForm,
    dealloc: t.dealloc,
    isStruct: t.isStruct,
    isString: t.isString,
    varArray: t.varArray,
    indefinite: t.indefinite,
    isPort: t.isPort,
    alignment: t.alignment,
    cUserType: t.cUserType,
    cServerType: t.cServerType,
    cTransType: t.cTransType,
    description: printMigType(t),
  };
  if (t.maxInlineNumber !== undefined) out.maxInlineNumber = t.maxInlineNumber;
  if (t.element) out.element = irType(t.element);
  if (t.intran) out.intran = { ...t.intran };
  if (t.intranPayload) out.intranPayload = { ...t.intranPayload };
  if (t.outtran) out.outtran = { ...t.outtran };
  if (t.destructor) out.destructor = { ...t.destructor };
  if (t.structFields)
    out.structFields = t.structFields.map((f) => ({
      name: f.name,
      type: irType(f.type),
      offset: f.offset,
    }));
  return out;
}
