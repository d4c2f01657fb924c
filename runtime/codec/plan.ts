/**
 * Message plans: the compact, JSON-serialisable description of a routine's messages that drives
 * the codec engine (./engine.ts). The compiler derives them from the IR's layouts
 * (compiler/layout/plan.ts); generated stubs embed them as their reflection descriptor, and the
 * conformance suite and message tracers run the same engine on the same plans.
 *
 * VALUE MODEL. The engine reads and writes argument values in a positional array, one slot per
 * argument of the routine in MIG's order (`RoutinePlan.args`: explicit arguments and the implicit
 * `xPoly`, `xCnt`, `xDealloc`, `xSCopy` ones; RetCode is not a slot). A slot holds:
 *  - integers of 32 bits or fewer: `number` (decoded signed or unsigned as `ItemPlan.signed` says;
 *    the encoder takes either); 64-bit integers: `bigint` (the encoder also takes a safe `number`);
 *  - port names (rights or MACH_MSG_TYPE_PORT_NAME): `number` (unsigned 32-bit);
 *  - `xPoly`: the disposition to send / the msgt_name received (`number`);
 *  - `xDealloc`, `xSCopy`: `boolean` (the encoder also takes 0/1);
 *  - `xCnt`: written by the decoders (the element count of the array, or for a CountInOut request
 *    count the capacity the client offered); the encoders take counts from the array's length,
 *    except a CountInOut request count, which they read from its slot;
 *  - arrays and flattened structs: typed arrays of the wire element, whose length is the number of
 *    wire elements (count × `per`): 8-bit `Uint8Array`, 16/32-bit `Int16Array`/`Uint16Array`/
 *    `Int32Array`/`Uint32Array`, 64-bit `BigInt64Array`/`BigUint64Array`, port arrays `Uint32Array`
 *    of names; any other element width travels as raw `Uint8Array` bytes. Encoders accept any
 *    ArrayBufferView of the right byte length (the bytes are copied as they are: little-endian
 *    hosts only, as every Node target is; an out-of-line value becomes the message's region without
 *    a copy); decoders return the typed array named above as a view of the received message's
 *    memory or out-of-line region when aligned (zero-copy, like protobuf-es's bytes fields), else
 *    a copy; inline port arrays (8-byte slots on x86_64) are always copied into a Uint32Array;
 *  - strings (`c_string`, MACH_MSG_TYPE_STRING): `string`, UTF-8 on the wire, copied with glibc's
 *    `mig_strncpy` rules when sent and always NUL-terminated within their bound when received.
 */

/** Item kinds (see compiler/layout/message-layout.ts `ItemKind`). */
export const ItemKind = {
  SCALAR: 0,
  PORT: 1,
  FIXED: 2,
  STRING: 3,
  VARSTRING: 4,
  BOUNDED: 5,
  INDEFINITE: 6,
  OOL: 7,
} as const;
export type ItemKindCode = (typeof ItemKind)[keyof typeof ItemKind];

export const ItemRole = { VALUE: 0, RETCODE: 1, COUNT: 2 } as const;
export type ItemRoleCode = (typeof ItemRole)[keyof typeof ItemRole];

/** Dealloc modes for out-of-line data. */
export const Dealloc = { NO: 0, YES: 1, MAYBE: 2 } as const;
export type DeallocCode = (typeof Dealloc)[keyof typeof Dealloc];

/** One body item. */
export interface ItemPlan {
  /** Argument name (for tracers and error messages). */
  arg: string;
  /** Value slot (index in `RoutinePlan.args`), -1 for RetCode. */
  slot: number;
  kind: ItemKindCode;
  role: ItemRoleCode;
  /** msgt_name the sender writes (0xffffffff: from the `poly` slot). */
  name: number;
  /** msgt_name the receiver expects (0xffffffff: any; reported in the `poly` slot). */
  recv: number;
  /** msgt_size inline, and out of line (4-byte names for port arrays). */
  bits: number;
  oolBits: number;
  /** msgt_number of a fixed item; the largest inline number of a bounded/varstring one; else 0. */
  number: number;
  long: boolean;
  /** Wire elements per C element. */
  per: number;
  /** Largest count (C elements) that goes inline; 0 when not variable. */
  max: number;
  /** Bytes of data in the body for fixed items (padded to the alignment). */
  dataSize: number;
  port: boolean;
  signed: boolean;
  /** Implicit argument slots, -1 when absent. */
  poly: number;
  count: number;
  deallocSlot: number;
  scopy: number;
  dealloc: DeallocCode;
}

export interface HeaderPortPlan {
  /** Value slot of the port, or -1 (the reply port argument of `encodeRequest`). */
  slot: number;
  /** Disposition in msgh_bits (0xffffffff: from the `poly` slot). */
  disposition: number;
  poly: number;
}

export interface MessagePlan {
  id: number;
  minSize: number;
  maxSize: number;
  /** Every item is fixed: msgh_size must equal minSize. */
  fixed: boolean;
  /** 0 simple, 1 complex (both checked on receive), 2 decided per message (not checked). */
  complex: 0 | 1 | 2;
  items: ItemPlan[];
  /** Request only. */
  remote?: HeaderPortPlan;
  local?: HeaderPortPlan;
}

export interface RoutinePlan {
  name: string;
  kind: "routine" | "simpleroutine";
  abi: "x86_64" | "i386";
  /** The routine's arguments in MIG's order: the value slots. */
  args: string[];
  /** Slots the server decoder fills from the header, -1 when absent. */
  requestPortSlot: number;
  replyPortSlot: number;
  seqnoSlot: number;
  /** Slots of the header ports' `xPoly` arguments the server decoder fills (received dispositions), -1 when absent. */
  requestPortPolySlot?: number;
  replyPortPolySlot?: number;
  request: MessagePlan;
  /** For a simpleroutine: the RetCode-only reply a demux builds (never sent). */
  reply: MessagePlan;
}

export interface SubsystemPlan {
  subsystem: string;
  abi: "x86_64" | "i386";
  base: number;
  /** Indexed by msgh_id - base; null for skipped numbers. */
  routines: Array<RoutinePlan | null>;
}
