/**
 * The IR: what the emitters read, and what `mig-ts --emit ir` prints. Plain JSON data (no
 * classes, no undefined-vs-missing ambiguity that matters, no cycles), built from the interface
 * model by `buildIR` and completed with per-routine message layouts by the layout engine.
 */
import type { Abi } from "../preprocess/types.js";
import type { MessageLayout } from "./message-layout.js";

/** Bumped when the IR's shape changes incompatibly. */
export const IR_VERSION = 1;

export type IrDealloc = "no" | "yes" | "maybe";

/** A resolved MIG type as the wire sees it. */
export interface IrType {
  /** Declared name ("" for anonymous element types). */
  name: string;
  /** msgt_name sent / expected on receipt (0xffffffff = POLYMORPHIC, chosen at run time). */
  inName: number;
  outName: number;
  /** Bits per wire element. */
  size: number;
  /** Wire elements: fixed count, the maximum of a bounded array, 0 for indefinite/out-of-line arrays. */
  number: number;
  inline: boolean;
  longForm: boolean;
  dealloc: IrDealloc;
  isStruct: boolean;
  isString: boolean;
  varArray: boolean;
  indefinite: boolean;
  isPort: boolean;
  /** Indefinite arrays: the most wire elements that go inline (2048 bytes' worth); beyond, out of line. */
  maxInlineNumber?: number;
  /** Alignment in bytes of one element inside a C struct (before the ABI cap). */
  alignment: number;
  /** Element type of arrays (its `number` is wire elements per C element). */
  element?: IrType;
  /** C names on the user side, on the server side (message field) and for the server function. */
  cUserType: string;
  cServerType: string;
  cTransType: string;
  intran?: { transType: string; function: string; serverType: string };
  intranPayload?: { transType: string; function: string };
  outtran?: { serverType: string; function: string; transType: string };
  destructor?: { function: string; transType: string };
  /** Flattened `struct { }` types: the C fields and their byte offsets (per ABI). */
  structFields?: Array<{ name: string; type: IrType; offset: number }>;
  /** `mig -v`'s description, e.g. `array [] of (MACH_MSG_TYPE_INTEGER_64, 64, IsLong)`. */
  description: string;
}

export type IrArgumentKind =
  | "requestport"
  | "replyport"
  | "ureplyport"
  | "sreplyport"
  | "in"
  | "out"
  | "inout"
  | "waittime"
  | "msgoption"
  | "msgseqno"
  | "retcode"
  | "poly"
  | "count"
  | "dealloc"
  | "servercopy";

export interface IrArgument {
  name: string;
  kind: IrArgumentKind;
  /** Which way the value travels: "request" (client to server), "reply", "both", or "none" (header or local only). */
  direction: "request" | "reply" | "both" | "none";
  /** Carried in the request / reply body (header-carried arguments are in neither). */
  inRequest: boolean;
  inReply: boolean;
  /** A parameter of the client stub / of the server function. */
  userVisible: boolean;
  serverVisible: boolean;
  /** Added by MIG (RetCode, the dummy reply port, xPoly, xCnt, xDealloc, xSCopy). */
  implicit: boolean;
  /** For implicit per-argument parameters: the argument they belong to. */
  parent?: string;
  countInOut: boolean;
  serverCopy: boolean;
  /** The argument's type with the argument's own flags applied (Dealloc, IsLong). */
  type: IrType;
}

/**
 * One message's layout, filled in by the layout engine (compiler/layout/message-layout.ts, which
 * documents every field): sizes, complex bit, and per body item its descriptor, offsets, element
 * sizes, count/poly/dealloc/servercopy arguments and receive checks.
 */
export type IrMessageLayout = MessageLayout;

export interface IrRoutine {
  name: string;
  kind: "routine" | "simpleroutine";
  /** Index in the subsystem, skips counted. */
  number: number;
  requestId: number;
  /** requestId + 100, or null for a simpleroutine. */
  replyId: number | null;
  userPrefix: string;
  serverPrefix: string;
  /** C name of the client stub (`userPrefix + name`) and of the server function (`serverPrefix + name`). */
  userFunction: string;
  serverFunction: string;
  waitTime?: string;
  msgOption?: string;
  args: IrArgument[];
  /** Where the routine was declared. */
  source?: { file: string; line: number; column: number };
  /** Message layouts, added by the layout engine. */
  request?: IrMessageLayout;
  reply?: IrMessageLayout;
  /** sizeof(mig_reply_header_t): the size of an error reply (and of a simpleroutine's dummy reply). */
  errorReplySize?: number;
}

export type IrSlot =
  { kind: "routine"; number: number; name: string } | { kind: "skip"; number: number };

export interface InterfaceIR {
  irVersion: number;
  abi: Abi;
  /** The `.defs` file compiled. */
  file: string;
  subsystem: { name: string; base: number; kernelUser: boolean; kernelServer: boolean };
  /** The last `serverprefix`/`userprefix` in the file (routines carry the value in force where they were declared). */
  serverPrefix: string;
  userPrefix: string;
  serverDemux: string;
  /** A file with types only (no `subsystem`, no routines), such as std_types.defs. */
  typesOnly: boolean;
  /** The routine table in number order: routines and skipped numbers (trailing skips included). */
  slots: IrSlot[];
  /** Ids the server demux accepts: [base, base + slots.length - 1], or null when there are no slots. */
  idRange: [number, number] | null;
  routines: IrRoutine[];
  skips: number[];
  /** Named types in declaration order, built-ins first. */
  types: IrType[];
  imports: Array<{ which: "import" | "uimport" | "simport" | "dimport" | "iimport"; file: string }>;
  rcsId?: string;
}
