/**
 * The interface model: what a `.defs` file means for one ABI, after name resolution, the copying
 * rules, struct flattening, long-form selection, routine numbering and implicit arguments.
 * It is the only input of the layout phase. ABI-dependent facts (port width, `uintptr_t`, the
 * struct alignment cap) are already applied here, so one model is built per ABI.
 *
 * Plain data: no classes, no cycles (an array type holds its element by value), so it can be
 * printed and compared in tests.
 */
import type { SourceSpan } from "../diagnostics/index.js";
import type { Abi } from "../preprocess/types.js";

/** `msgt_name` values (mig-reference §4.1). */
export const MsgTypeName = {
  UNSTRUCTURED: 0,
  BIT: 0,
  BOOLEAN: 0,
  INTEGER_16: 1,
  INTEGER_32: 2,
  CHAR: 8,
  BYTE: 9,
  INTEGER_8: 9,
  REAL: 10,
  INTEGER_64: 11,
  STRING: 12,
  STRING_C: 12,
  PORT_NAME: 15,
  MOVE_RECEIVE: 16,
  MOVE_SEND: 17,
  MOVE_SEND_ONCE: 18,
  COPY_SEND: 19,
  MAKE_SEND: 20,
  MAKE_SEND_ONCE: 21,
  PORT_RECEIVE: 16,
  PORT_SEND: 17,
  PORT_SEND_ONCE: 18,
  PROTECTED_PAYLOAD: 23,
  /** (unsigned) -1: the name is chosen at run time (an extra `<arg>Poly` argument). */
  POLYMORPHIC: 0xffffffff,
} as const;

export type DeallocMode = "no" | "yes" | "maybe";

/** One MIG type (GNU MIG's `ipc_type_t`), resolved for one ABI. */
export interface MigType {
  /** The declared name (`vm_size_t`), or the one-off name of an argument type; "" for anonymous specs. */
  name: string;
  /** msgt_name the sender puts on the wire (POLYMORPHIC when chosen at run time). */
  inName: number;
  /** msgt_name the receiver expects (POLYMORPHIC when it accepts any). */
  outName: number;
  /** Bits per wire element (`msgt_size`). */
  size: number;
  /**
   * Wire elements per item (`msgt_number`) for fixed types; for variable arrays the maximum
   * (bounded) or 0 (indefinite); 0 for fixed out-of-line arrays (a MIG quirk).
   */
  number: number;
  inline: boolean;
  longForm: boolean;
  dealloc: DeallocMode;
  /** Assignable by value in C (scalars, `struct[N] of`, flattened C structs). */
  isStruct: boolean;
  /** `c_string`. */
  isString: boolean;
  /** Variable-size array (`[*:N]`, `[]`, or variable c_string). */
  varArray: boolean;
  /** `array[]`: may travel inline (up to 2048 bytes) or out of line. */
  indefinite: boolean;
  /** True for types whose wire element is a port right (in or out name is a port type or POLYMORPHIC port). */
  isPort: boolean;
  /**
   * Element type for arrays (its `number` is the wire elements per array element, e.g. 2 for
   * a flattened 16-byte struct of INTEGER_64). Absent for scalars.
   */
  element?: MigType;
  /** Bytes this type needs to be aligned to inside a C struct (before the ABI's cap). */
  alignment: number;
  /** C names: user side, server side (the message field), and what the server function receives. */
  cUserType: string;
  cServerType: string;
  cTransType: string;
  intran?: { transType: string; function: string; serverType: string };
  intranPayload?: { transType: string; function: string };
  outtran?: { serverType: string; function: string; transType: string };
  destructor?: { function: string; transType: string };
  /** For flattened `struct { }` types: the C fields, for typed TS interfaces. */
  structFields?: Array<{ name: string; type: MigType; offset: number }>;
  span?: SourceSpan;
  /**
   * How the source spelled the in/out msgt_names (`MACH_MSG_TYPE_BOOLEAN` and `_UNSTRUCTURED` are
   * both 0), for printing types the way `mig -v` does. Added by the semantic phase.
   */
  inNameText?: string;
  outNameText?: string;
  /** Indefinite arrays: the most wire elements that travel inline (2048 bytes' worth). */
  maxInlineNumber?: number;
  /** One of MIG's built-in types (`char short int int64 uintptr_t intptr_t`). */
  builtin?: boolean;
}

/** What an argument is, after MIG's rules (mig-reference §5.2). */
export type ArgumentKind =
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
  // Implicit arguments MIG adds:
  | "retcode"
  | "poly"
  | "count"
  | "dealloc"
  | "servercopy";

export interface RoutineArgument {
  name: string;
  kind: ArgumentKind;
  type: MigType;
  /** Implicit arguments (`xPoly`, `xCnt`, `xDealloc`, `xSCopy`) name the argument they belong to. */
  parent?: string;
  /** Carried in the request body / reply body (header-carried arguments are in neither). */
  inRequest: boolean;
  inReply: boolean;
  /** Seen by the client stub's caller / by the server function. */
  userVisible: boolean;
  serverVisible: boolean;
  /** `countinout`: the client sends the capacity of an out array. */
  countInOut: boolean;
  /** `servercopy`. */
  serverCopy: boolean;
  /** Per-argument dealloc after flags (`dealloc`, `notdealloc`, `dealloc[]`). */
  dealloc: DeallocMode;
  span?: SourceSpan;
  /** Added by MIG rather than written in the `.defs` (RetCode, the dummy reply port, `xPoly`, `xCnt`, ...). */
  implicit?: boolean;
}

export interface Routine {
  name: string;
  kind: "routine" | "simpleroutine";
  /** Index in the subsystem (skips counted). */
  number: number;
  requestId: number;
  /** Request id + 100; null for a simpleroutine. */
  replyId: number | null;
  /** All arguments in MIG's order, explicit and implicit (`x, xPoly, xCnt, xDealloc, xSCopy`), RetCode first. */
  args: RoutineArgument[];
  /** Positional options in force where the routine was declared. */
  userPrefix: string;
  serverPrefix: string;
  /** `waittime` value (a C expression string) in force, if any. */
  waitTime?: string;
  msgOption?: string;
  span?: SourceSpan;
}

/** A slot of the routine table: a routine or a `skip`ped number. */
export type RoutineSlot = { kind: "routine"; routine: Routine } | { kind: "skip"; number: number };

export interface InterfaceModel {
  abi: Abi;
  /** The top-level `.defs` file. */
  file: string;
  subsystem: {
    name: string;
    base: number;
    kernelUser: boolean;
    kernelServer: boolean;
    span?: SourceSpan;
  };
  /** The last `serverdemux` given, or `<subsystem>_server`. */
  serverDemux: string;
  /** Routine table in number order: routines and skips (trailing skips count). */
  slots: RoutineSlot[];
  routines: Routine[];
  /** Named types in declaration order (built-ins first). */
  types: MigType[];
  imports: Array<{ which: "import" | "uimport" | "simport" | "dimport" | "iimport"; file: string }>;
  rcsId?: string;
  /**
   * True for a file that declares only types (std_types.defs and friends): it has no `subsystem`,
   * so `subsystem` holds an empty name and base 0, and there are no routines.
   */
  typesOnly?: boolean;
}
