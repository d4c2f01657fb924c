/**
 * Message layout: from one model `Routine` and an ABI, the exact request and reply messages GNU
 * MIG's stubs build (mig-reference §6.3): per body item its type descriptor (short or long form,
 * exact words), where its data sits, how big it is, whether it may go out of line, and the
 * message's minimum and maximum sizes and complex bit.
 *
 * The result is plain data (it goes into the IR as is) and the only place these rules live:
 * emitters and the codec's message plans read it, they never recompute it.
 *
 * Rules that are easy to get wrong, all checked against GNU MIG's bytes (test/conformance):
 *  - every item starts on the ABI alignment (8 on x86_64, 4 on i386) and its data is padded to it;
 *  - an inline port takes `abi.inlinePortSize` bytes (64-bit slots on x86_64), but an out-of-line
 *    port array carries packed 4-byte names with msgt_size 32;
 *  - an indefinite array (`array[]`) goes inline up to 2048 bytes' worth of elements, else out of
 *    line (a pointer slot), which also makes the message complex at run time;
 *  - a variable item shifts every later item, so only items before the first variable one have a
 *    static offset;
 *  - the reply always starts with RetCode (INTEGER_32), and an error reply is the bare
 *    `mig_reply_header_t`.
 */
import { type AbiInfo, alignUp } from "../../runtime/abi.js";
import type { MigType, Routine, RoutineArgument } from "../semantics/model.js";
import { MsgTypeName } from "../semantics/model.js";

/** The most bytes of an indefinite array MIG puts inline (its Request/Reply struct capacity). */
export const INDEFINITE_INLINE_BYTES = 2048;

/**
 * How an item travels and which JavaScript value carries it (see runtime/codec/plan.ts):
 *  - `scalar`     fixed inline integer, 1 element of 8/16/32/64 bits (number, or bigint for 64)
 *  - `port`       one inline port right or name (number); polymorphic when `polyArg` is set
 *  - `fixed`      fixed-size inline array or flattened struct (typed array, `elementBits` wide)
 *  - `string`     fixed-size c_string / MACH_MSG_TYPE_STRING (string; mig_strncpy rules)
 *  - `varstring`  `c_string[*:N]`: wire number = strlen + 1, capped at N (string)
 *  - `bounded`    `array[*:N]`, always inline (typed array); over N is MIG_ARRAY_TOO_LARGE
 *  - `indefinite` `array[]`: inline up to `inlineMaxCount` elements, else out of line
 *  - `ool`        `^array[]`: always out of line (typed array)
 */
export type ItemKind = "scalar" | "port" | "fixed" | "string" | "varstring" | "bounded" | "indefinite" | "ool";

/** The fields of a type descriptor as the sender writes it. */
export interface MsgTypeLayout {
  /** msgt_name; 0xffffffff (POLYMORPHIC) when the sender chooses it at run time. */
  name: number;
  /** msgt_size in bits. */
  size: number;
  /** msgt_number: exact for fixed items, the maximum for bounded ones, 0 for indefinite/OOL. */
  number: number;
  inline: boolean;
  longForm: boolean;
  deallocate: boolean;
}

export interface ItemLayout {
  /** Argument name (as in the `.defs`; "RetCode" for the reply's return code). */
  arg: string;
  /** Index of the argument in `Routine.args` (the value slot), -1 for a synthesised RetCode. */
  argIndex: number;
  role: "retcode" | "count" | "value";
  kind: ItemKind;
  /** Offset of the descriptor from the start of the message; null once a variable item precedes it. */
  offset: number | null;
  /** Offset of the data; null once a variable item precedes it. */
  dataOffset: number | null;
  /** Hex of the descriptor's exact bytes as the sender writes them, when they are fixed. */
  descriptor: string | null;
  /** The sender's static descriptor fields. */
  msgType: MsgTypeLayout;
  /** msgt_name the receiver expects (the received right for ports); 0xffffffff: any (polymorphic). */
  receiveName: number;
  descriptorSize: number;
  /** Bytes of data in the message when fixed; for variable items the largest inline size (padded). */
  dataSize: number;
  /** Smallest data size (0 for variable items). */
  minDataSize: number;
  /** True when the data sits in the message body (false: a pointer slot, data out of line). */
  inline: boolean;
  /** The item's size in the message may vary (variable arrays, strings, indefinite). */
  variable: boolean;
  /** Bits per wire element (msgt_size) inline, and when it travels out of line. */
  elementBits: number;
  oolElementBits: number;
  /** Wire elements per C element (a count counts C elements; msgt_number = count × this). */
  elementsPerValue: number;
  /** Largest count in C elements that goes inline (bounded: N; indefinite: the inline maximum). */
  maxCount: number | null;
  /** Elements are port rights or names. */
  isPort: boolean;
  /** Elements decode as signed integers (a heuristic on the C type; encoders take either). */
  signed: boolean;
  /** Indices in `Routine.args` of the implicit arguments that belong to this item, or -1. */
  polyArg: number;
  countArg: number;
  deallocArg: number;
  serverCopyArg: number;
  /** Dealloc flag for out-of-line data: never, always, or from `deallocArg`. */
  dealloc: "no" | "yes" | "maybe";
  /** Bounded/indefinite out arrays whose capacity the client sends (`CountInOut`). */
  countInOut: boolean;
}

export interface HeaderPortLayout {
  /** Index in `Routine.args` of the argument carried in this header field, or -1 (MIG's own). */
  argIndex: number;
  /** Disposition the sender puts in msgh_bits; 0xffffffff when chosen at run time (polyArg). */
  disposition: number;
  polyArg: number;
}

export interface MessageLayout {
  /** msgh_id. */
  id: number;
  /** Header size plus every item at its smallest. */
  minSize: number;
  /** Header size plus every item at its largest inline size (GNU MIG's sizeof(Request/Reply)). */
  maxSize: number;
  /** True when every item is fixed (msgh_size is checked for equality). */
  fixed: boolean;
  /**
   * "yes"/"no": the complex bit is static (and checked on receive); "dynamic": polymorphic ports
   * or indefinite arrays decide it per message (not checked on receive, as GNU MIG does).
   */
  complex: "yes" | "no" | "dynamic";
  items: ItemLayout[];
  /** Request only: the remote (request) and local (reply) port of the header. */
  remotePort?: HeaderPortLayout;
  localPort?: HeaderPortLayout;
}

export interface RoutineLayout {
  name: string;
  kind: "routine" | "simpleroutine";
  request: MessageLayout;
  /** For a simpleroutine: the reply a server demux builds (never sent), i.e. RetCode only. */
  reply: MessageLayout;
  /** sizeof(mig_reply_header_t): what an error reply or a simpleroutine's dummy reply is. */
  errorReplySize: number;
}

const POLY = MsgTypeName.POLYMORPHIC;

function isPortName(name: number): boolean {
  return name >= MsgTypeName.MOVE_RECEIVE && name <= MsgTypeName.MAKE_SEND_ONCE;
}

/**
 * C types that decode as signed numbers. MIG does not know signedness (only the C type does), so
 * this follows the C names Mach uses: plain `int`-family types and the `*integer*` types are
 * signed; `natural_t`, sizes, addresses, names and the rest are unsigned.
 */
export function isSignedCType(cType: string): boolean {
  const t = cType.replace(/\bconst\b|\*/g, "").trim();
  if (/^(unsigned|u_|uint|natural|rpc_long_natural|vm_size|vm_offset|vm_address|rpc_vm|rpc_uintptr|mach_port|mach_msg|boolean)/.test(t)) {
    return false;
  }
  return /integer/.test(t) || SIGNED_C_TYPES.has(t) || /^int\d+_t$/.test(t);
}

const SIGNED_C_TYPES = new Set([
  "int", "long", "short", "char", "signed", "signed char", "long long",
  "kern_return_t", "vm_prot_t", "vm_inherit_t", "policy_t", "vm_machine_attribute_val_t",
  "vm_machine_attribute_t", "exception_type_t", "mach_port_delta_t", "dev_mode_t",
]);

function byteSize(bits: number, number: number): number {
  return Math.ceil((bits * number) / 8);
}

function findImplicit(routine: Routine, parent: string, kind: RoutineArgument["kind"]): number {
  return routine.args.findIndex((a) => a.kind === kind && a.parent === parent);
}

/** The element type of an array type (itself for scalars). */
function elementOf(type: MigType): MigType {
  return type.element ?? type;
}

function classify(type: MigType): ItemKind {
  const stringName = type.inName === MsgTypeName.STRING_C || elementOf(type).inName === MsgTypeName.STRING_C;
  if (type.varArray) {
    if (stringName || type.isString) return "varstring";
    if (!type.inline) return "ool";
    if (type.indefinite) return "indefinite";
    return "bounded";
  }
  if (!type.inline) return "ool";
  if (type.isString || stringName) return "string";
  if (type.isPort) return "port";
  if (type.number === 1 && (type.size === 8 || type.size === 16 || type.size === 32 || type.size === 64) && !type.element) {
    return "scalar";
  }
  return "fixed";
}

function descriptorBytes(abi: AbiInfo, t: MsgTypeLayout): Uint8Array {
  const size = t.longForm ? abi.longDescriptorSize : abi.descriptorSize;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  const name = t.name === POLY ? 0 : t.name;
  if (abi.descriptorSize === 8) {
    const w0 = (name & 0xff) | ((t.size & 0xffff) << 8) | (t.inline ? 1 << 29 : 0) | (t.longForm ? 1 << 30 : 0) | (t.deallocate ? 1 << 31 : 0);
    view.setUint32(0, w0 >>> 0, true);
    view.setUint32(4, t.number >>> 0, true);
  } else {
    const flags = (t.inline ? 1 << 28 : 0) | (t.longForm ? 1 << 29 : 0) | (t.deallocate ? 1 << 30 : 0);
    if (t.longForm) {
      view.setUint32(0, flags >>> 0, true);
      view.setUint16(4, name & 0xffff, true);
      view.setUint16(6, t.size & 0xffff, true);
      view.setUint32(8, t.number >>> 0, true);
    } else {
      view.setUint32(0, ((name & 0xff) | ((t.size & 0xff) << 8) | ((t.number & 0xfff) << 16) | flags) >>> 0, true);
    }
  }
  return bytes;
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Lays out one body item for `arg` (a value, a CountInOut count, or RetCode). */
function layoutItem(routine: Routine, argIndex: number, arg: RoutineArgument, abi: AbiInfo, role: ItemLayout["role"]): ItemLayout {
  const type = arg.type;
  const kind = classify(type);
  const element = elementOf(type);
  const isPort = type.isPort || isPortName(type.inName) || isPortName(element.inName) || (type.inName === POLY && type.isPort);
  const elementsPerValue = type.element ? Math.max(1, type.element.number) : 1;
  const elementBits = type.size;
  // GNU Mach's current ABI sends out-of-line port arrays as packed 4-byte names.
  const oolElementBits = isPort ? 32 : elementBits;
  const longForm = type.longForm;
  const descriptorSize = longForm ? abi.longDescriptorSize : abi.descriptorSize;
  const polyArg = findImplicit(routine, arg.name, "poly");
  const countArg = findImplicit(routine, arg.name, "count");
  const deallocArg = findImplicit(routine, arg.name, "dealloc");
  const serverCopyArg = findImplicit(routine, arg.name, "servercopy");
  const dealloc: ItemLayout["dealloc"] = deallocArg >= 0 ? "maybe" : arg.dealloc === "yes" || type.dealloc === "yes" ? "yes" : "no";

  let number = type.number;
  let dataSize: number;
  let minDataSize: number;
  let maxCount: number | null = null;
  let variable = false;
  let inline = type.inline;
  let deallocate = false;
  switch (kind) {
    case "scalar":
    case "fixed":
    case "string":
      dataSize = alignUp(byteSize(elementBits, number), abi.alignment);
      minDataSize = dataSize;
      break;
    case "port":
      dataSize = alignUp(byteSize(elementBits, number), abi.alignment);
      minDataSize = dataSize;
      break;
    case "varstring":
    case "bounded":
      variable = true;
      maxCount = Math.floor(type.number / elementsPerValue);
      dataSize = alignUp(byteSize(elementBits, type.number), abi.alignment);
      minDataSize = 0;
      break;
    case "indefinite": {
      variable = true;
      const elementBytes = byteSize(elementBits, elementsPerValue);
      maxCount = Math.floor(INDEFINITE_INLINE_BYTES / elementBytes);
      number = 0;
      dataSize = alignUp(maxCount * elementBytes, abi.alignment);
      minDataSize = 0;
      break;
    }
    case "ool":
      // A pointer slot; the data (number × size bits) is a separate region.
      number = 0;
      inline = false;
      deallocate = dealloc === "yes";
      dataSize = abi.pointerSize;
      minDataSize = dataSize;
      break;
  }
  const msgType: MsgTypeLayout = {
    name: type.inName,
    size: kind === "ool" ? oolElementBits : elementBits,
    number,
    inline,
    longForm,
    deallocate,
  };
  const fixedDescriptor = kind === "scalar" || kind === "fixed" || kind === "string" || (kind === "port" && type.inName !== POLY);
  return {
    arg: arg.name,
    argIndex,
    role,
    kind,
    offset: null,
    dataOffset: null,
    descriptor: fixedDescriptor ? hex(descriptorBytes(abi, msgType)) : null,
    msgType,
    receiveName: type.outName,
    descriptorSize,
    dataSize,
    minDataSize,
    inline,
    variable,
    elementBits,
    oolElementBits,
    elementsPerValue,
    maxCount,
    isPort,
    signed: !isPort && isSignedCType(element.cUserType || type.cUserType),
    polyArg,
    countArg,
    deallocArg,
    serverCopyArg,
    dealloc,
    countInOut: arg.countInOut,
  };
}

function retCodeItem(routine: Routine, abi: AbiInfo): ItemLayout {
  const index = routine.args.findIndex((a) => a.kind === "retcode");
  const arg: RoutineArgument =
    index >= 0
      ? routine.args[index]
      : {
          name: "RetCode",
          kind: "retcode",
          type: {
            name: "kern_return_t",
            inName: MsgTypeName.INTEGER_32,
            outName: MsgTypeName.INTEGER_32,
            size: 32,
            number: 1,
            inline: true,
            longForm: false,
            dealloc: "no",
            isStruct: true,
            isString: false,
            varArray: false,
            indefinite: false,
            isPort: false,
            alignment: 4,
            cUserType: "kern_return_t",
            cServerType: "kern_return_t",
            cTransType: "kern_return_t",
          },
          inRequest: false,
          inReply: true,
          userVisible: false,
          serverVisible: false,
          countInOut: false,
          serverCopy: false,
          dealloc: "no",
        };
  const item = layoutItem(routine, index, arg, abi, "retcode");
  item.signed = true;
  return item;
}

function finishMessage(id: number, items: ItemLayout[], abi: AbiInfo): MessageLayout {
  let offset: number | null = abi.headerSize;
  let minSize = abi.headerSize;
  let maxSize = abi.headerSize;
  let staticComplex = false;
  let dynamicComplex = false;
  for (const item of items) {
    item.offset = offset;
    item.dataOffset = offset === null ? null : offset + item.descriptorSize;
    minSize += item.descriptorSize + item.minDataSize;
    maxSize += item.descriptorSize + item.dataSize;
    if (offset !== null) offset = item.variable ? null : offset + item.descriptorSize + item.dataSize;
    if (item.kind === "ool") staticComplex = true;
    else if (item.kind === "indefinite") dynamicComplex = true;
    if (item.isPort && item.msgType.name !== MsgTypeName.PORT_NAME) {
      if (item.msgType.name === POLY) dynamicComplex = true;
      else staticComplex = true;
    }
  }
  const fixed = items.every((i) => !i.variable);
  return {
    id,
    minSize,
    maxSize,
    fixed,
    complex: staticComplex ? "yes" : dynamicComplex ? "dynamic" : "no",
    items,
  };
}

function headerPort(routine: Routine, kinds: RoutineArgument["kind"][]): HeaderPortLayout | null {
  let index = -1;
  // The last one wins, as in GNU MIG (it warns about several).
  routine.args.forEach((a, i) => {
    if (kinds.includes(a.kind)) index = i;
  });
  if (index < 0) return null;
  const arg = routine.args[index];
  // MIG's own reply port (an implicit argument): the client runtime supplies it.
  if (arg.implicit) return { argIndex: -1, disposition: arg.type.inName, polyArg: -1 };
  return { argIndex: index, disposition: arg.type.inName, polyArg: findImplicit(routine, arg.name, "poly") };
}

/** Lays out the request, the reply and the error reply of one routine. */
export function layoutRoutine(routine: Routine, abi: AbiInfo): RoutineLayout {
  const requestItems: ItemLayout[] = [];
  const replyItems: ItemLayout[] = [retCodeItem(routine, abi)];
  routine.args.forEach((arg, index) => {
    if (arg.kind === "retcode") return;
    if (arg.kind === "count") {
      // A count travels as its own item only for CountInOut (the client's capacity).
      if (arg.inRequest) requestItems.push(layoutItem(routine, index, arg, abi, "count"));
      return;
    }
    if (arg.kind === "poly" || arg.kind === "dealloc" || arg.kind === "servercopy") return;
    if (arg.inRequest) requestItems.push(layoutItem(routine, index, arg, abi, "value"));
    if (arg.inReply) replyItems.push(layoutItem(routine, index, arg, abi, "value"));
  });
  const request = finishMessage(routine.requestId, requestItems, abi);
  const remote = headerPort(routine, ["requestport"]);
  request.remotePort = remote ?? { argIndex: -1, disposition: MsgTypeName.COPY_SEND, polyArg: -1 };
  const local = headerPort(routine, ["replyport", "ureplyport"]);
  request.localPort =
    local ??
    (routine.kind === "routine"
      ? { argIndex: -1, disposition: MsgTypeName.MAKE_SEND_ONCE, polyArg: -1 }
      : { argIndex: -1, disposition: 0, polyArg: -1 });
  const reply = finishMessage(routine.replyId ?? routine.requestId + 100, replyItems, abi);
  return { name: routine.name, kind: routine.kind, request, reply, errorReplySize: abi.replyHeaderSize };
}
