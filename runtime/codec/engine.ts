/**
 * The codec engine: writes and reads GNU Mach typed messages as a routine's message plan
 * (./plan.ts) describes them. Generated client and server stubs, the conformance suite and
 * message tracers all call these functions.
 *
 *   client: encodeRequest(plan, values, replyPort)  -> MachMessage | error code (MIG_ARRAY_TOO_LARGE)
 *           decodeReply(plan, reply, values)        -> 0, the server's RetCode, or MIG_* error code
 *   server: decodeRequest(plan, request, values)    -> 0 or MIG_BAD_ARGUMENTS
 *           encodeReply(plan, request, values)      -> MachMessage | error code
 *           encodeErrorReply(abi, request, code)    -> the mig_reply_header_t reply
 *           lookupRoutine(subsystem, id)            -> RoutinePlan | null (null: MIG_BAD_ID)
 *
 * Values live in a positional array, one slot per routine argument (see plan.ts for the value
 * model). Nothing here throws on a malformed message: decoders check every descriptor, size and
 * bound and return MIG_TYPE_ERROR (client) or MIG_BAD_ARGUMENTS (server).
 *
 * Speed:
 *  - The engine runs on a compiled form of each plan (./compiled.ts), built once per plan object
 *    and cached in a WeakMap (with the last plan in front of it): descriptor words, decoder masks
 *    and static header bits are precomputed.
 *  - By default each (plan, direction) then runs as specialised code (./specialise.ts): a function
 *    generated once with `new Function` from the compiled plan's numbers, in which every item
 *    is a few stores or loads at literal offsets. The loops below are the reference and the
 *    fallback where code generation is forbidden (setCodecMode / MIG_TS_CODEC=interpret select
 *    them); test/unit/codec/specialise.test.ts keeps the two identical.
 *  - Encoders write the message in place into a slab of message memory (./memory.ts) that hands
 *    each message its own slice, reused only once given back (releaseMessage, below): no scratch
 *    copy, no DataView and one typed-array allocation per message. Messages too large for the slabs are built in a scratch buffer and
 *    copied into a buffer of their own. Out-of-line values become the message's regions as they
 *    are (no copy); inline arrays are copied with one Uint8Array#set.
 *  - `releaseMessage(msg)` rewinds the slab over the message encoded last once its owner knows it
 *    dead (the MIG stubs after the kernel copied it in, as GNU MIG reuses its stack buffer), so a
 *    client or server that sends one message at a time writes every message into the same,
 *    already faulted-in memory.
 *  - Decoders read the received bytes directly (no DataView per message) and fill the caller's
 *    slot array. Decoded arrays are views of the received message's memory (or of its
 *    out-of-line region; a whole byte region is returned as it is) when aligned, so they alias
 *    it: a received message is never reused, but copy an array before changing the message's
 *    bytes. Only 64-bit values become bigints.
 *  - What is left per message is mostly what the API requires: fresh memory, the Uint8Array and
 *    the {bytes, ool} object for an encode, a bigint or typed array per 64-bit or array value for a
 *    decode (bench/codec.ts measures this floor next to the engine).
 */
import { type AbiInfo, abiInfo, alignUp } from "../abi.js";
import { rd32, rdI32 } from "../bytes.js";
import { ReturnCode } from "../constants.js";
import type { MachMessage } from "../message.js";
import { type CItem, type CMessage, type CRoutine, compiled, DESC_LONG, DESC_X86, descWord0, descWord1 } from "./compiled.js";
import { beginMessage, endMessage, renewSlab, SLAB_BYTES, SLAB_MESSAGE_MAX, SLAB_RELEASE_MIN, slab, target8, targetView } from "./memory.js";

/** Gives back the memory of a dead message if it was the last one encoded (./memory.ts). */
export { mayRelease, releaseMessage } from "./memory.js";
import type { RoutinePlan, SubsystemPlan } from "./plan.js";
import {
  type CodecHelpers,
  type DecodeFn,
  type EncodeReplyFn,
  type EncodeRequestFn,
  canGenerateCode,
  decodeReplySource,
  decodeRequestSource,
  encodeReplySource,
  encodeRequestSource,
  instantiate,
} from "./specialise.js";
import { migStrncpy, readCString } from "./strings.js";

const POLY = 0xffffffff;
const COMPLEX = 0x80000000;
const MIG_TYPE_ERROR = ReturnCode.MIG_TYPE_ERROR;
const MIG_REPLY_MISMATCH = ReturnCode.MIG_REPLY_MISMATCH;
const MIG_BAD_ARGUMENTS = ReturnCode.MIG_BAD_ARGUMENTS;
const MIG_ARRAY_TOO_LARGE = ReturnCode.MIG_ARRAY_TOO_LARGE;
const MIG_SERVER_DIED = ReturnCode.MIG_SERVER_DIED;
/** MACH_NOTIFY_SEND_ONCE: the server dropped the reply right without answering. */
const MACH_NOTIFY_SEND_ONCE = 71;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("mig-ts codec: typed-array values assume a little-endian host");
}

const NO_OOL: Uint8Array[] = [];

/** A getter of %TypedArray%.prototype (specialised decoders call it: see specialise.ts inlineArray). */
function typedArrayGetter(name: "byteOffset" | "buffer"): (this: ArrayBufferView) => unknown {
  const get = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype) as object, name)?.get;
  if (get === undefined) throw new Error(`mig-ts codec: no %TypedArray%.prototype.${name} getter`);
  return get as (this: ArrayBufferView) => unknown;
}
/** Out-of-line regions of the message being encoded, in body order. */
let oolRegions: Uint8Array[] | null = null;
/** Set by items that make the message complex at run time. */
let dynamicComplex = false;

// One 8-byte scratch seen as two int32 halves and as a 64-bit integer: the cheapest way we
// measured to make a bigint from two words (cheaper than a DataView's getBigUint64, and than
// BigInt arithmetic, which allocates intermediate bigints).
const wideHalves = new Int32Array(2);
const wideUnsigned = new BigUint64Array(wideHalves.buffer);
const wideSigned = new BigInt64Array(wideHalves.buffer);

function u64(b: Uint8Array, o: number, signed: boolean): bigint {
  wideHalves[0] = rdI32(b, o);
  wideHalves[1] = rdI32(b, o + 4);
  return signed ? wideSigned[0] : wideUnsigned[0];
}

// ---------------------------------------------------------------------------------------------
// Descriptors.

/** Writes a descriptor from its precomputed words (see compiled.ts) and its number. */
function putDesc(v: DataView, o: number, mode: number, w0: number, w1: number, number: number): void {
  if (mode === DESC_X86) {
    v.setUint32(o, w0, true);
    v.setUint32(o + 4, number, true);
  } else if (mode === DESC_LONG) {
    v.setUint32(o, w0, true);
    v.setUint32(o + 4, w1, true);
    v.setUint32(o + 8, number, true);
  } else {
    v.setUint32(o, w0 | ((number & 0xfff) << 16), true);
  }
}

// Fields of the descriptor read last (module state: no allocation per item).
let dName = 0;
let dBits = 0;
let dNumber = 0;
let dInline = false;
let dLong = false;

/** Reads a descriptor at `o`; returns its size, or -1 when it runs past `limit`. */
function readDesc(b: Uint8Array, o: number, limit: number, abi: AbiInfo): number {
  if (abi.descriptorSize === 8) {
    if (o + 8 > limit) return -1;
    const w = rdI32(b, o);
    dName = w & 0xff;
    dBits = (w >>> 8) & 0xffff;
    dInline = (w & 0x20000000) !== 0;
    dLong = (w & 0x40000000) !== 0;
    dNumber = rd32(b, o + 4);
    return 8;
  }
  if (o + 4 > limit) return -1;
  const w = rdI32(b, o);
  dInline = (w & 0x10000000) !== 0;
  dLong = (w & 0x20000000) !== 0;
  if (dLong) {
    if (o + 12 > limit) return -1;
    dName = b[o + 4] | (b[o + 5] << 8);
    dBits = b[o + 6] | (b[o + 7] << 8);
    dNumber = rd32(b, o + 8);
    return 12;
  }
  dName = w & 0xff;
  dBits = (w >>> 8) & 0xff;
  dNumber = (w >>> 16) & 0xfff;
  return 4;
}

function isPortRight(name: number): boolean {
  return name >= 16 && name <= 21;
}

// ---------------------------------------------------------------------------------------------
// Values.

function toU32(v: unknown): number {
  if (typeof v === "number") return v >>> 0;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "bigint") return Number(BigInt.asUintN(32, v));
  return 0;
}

function toU64(v: unknown): bigint {
  if (typeof v === "bigint") return v; // DataView#setBigUint64 reduces modulo 2^64 itself
  if (typeof v === "number" && Number.isFinite(v)) return BigInt(Math.trunc(v));
  if (typeof v === "boolean") return v ? 1n : 0n;
  return 0n;
}

/** Wire elements an array value holds. */
function wireCount(item: CItem, v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (item.port) return (v as ArrayLike<number>).length >>> 0;
  if (ArrayBuffer.isView(v)) return Math.floor((v.byteLength * 8) / item.bits);
  return 0;
}

function bytesOf(v: ArrayBufferView, length: number): Uint8Array {
  if (v instanceof Uint8Array) return v.byteLength === length ? v : v.subarray(0, length);
  return new Uint8Array(v.buffer, v.byteOffset, length);
}

/** Port names as 4-byte little-endian words (an out-of-line port array region). */
function portNameBytes(v: ArrayLike<number>, n: number): Uint8Array {
  if (v instanceof Uint32Array) return new Uint8Array(v.buffer, v.byteOffset, n * 4);
  const names = new Uint32Array(n);
  for (let i = 0; i < n; i++) names[i] = v[i] >>> 0;
  return new Uint8Array(names.buffer);
}

/** Zeroes b[from .. to) (pads: usually a few bytes, where a loop beats fill's call). */
function zero(b: Uint8Array, from: number, to: number): void {
  if (to - from > 16) b.fill(0, from, to);
  else for (let i = from; i < to; i++) b[i] = 0;
}

/** Writes n wire elements of an array inline at d; returns the data bytes written (unpadded). */
function writeInlineArray(v: DataView, b: Uint8Array, item: CItem, value: unknown, d: number, n: number): number {
  if (n === 0) return 0;
  if (item.port) {
    const names = value as ArrayLike<number>;
    const step = item.bits >>> 3;
    for (let i = 0; i < n; i++) {
      v.setUint32(d + i * step, names[i] >>> 0, true);
      if (step === 8) v.setUint32(d + i * step + 4, 0, true);
    }
    return n * step;
  }
  const bytes = Math.ceil((n * item.bits) / 8);
  b.set(bytesOf(value as ArrayBufferView, bytes), d);
  return bytes;
}

function oolRegion(item: CItem, v: unknown, n: number): Uint8Array {
  if (n === 0) return new Uint8Array(0);
  if (item.port) return portNameBytes(v as ArrayLike<number>, n);
  return bytesOf(v as ArrayBufferView, Math.ceil((n * item.oolBits) / 8));
}

// ---------------------------------------------------------------------------------------------
// Specialised codecs (./specialise.ts) or this interpreter.

/**
 * "specialise": each plan's encoders and decoders are generated once as straight-line code (the
 * default where `new Function` works); "interpret": this module's loops run every plan (the
 * fallback, e.g. under a Content-Security-Policy that forbids eval). Both give the same bytes and
 * values; the conformance tests run both.
 */
export type CodecMode = "specialise" | "interpret";

const codeGeneration = canGenerateCode();
let specialising = codeGeneration && envMode() !== "interpret";

function envMode(): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.MIG_TS_CODEC;
}

/**
 * Selects how plans run from now on (the environment variable MIG_TS_CODEC=interpret selects the
 * interpreter at start-up). Returns the mode in effect: "interpret" when code generation is
 * unavailable here, whatever was asked.
 */
export function setCodecMode(mode: CodecMode): CodecMode {
  specialising = mode === "specialise" && codeGeneration;
  return codecMode();
}

export function codecMode(): CodecMode {
  return specialising ? "specialise" : "interpret";
}

const helpers: CodecHelpers = {
  slab,
  renewSlab,
  slabMessageMax: SLAB_MESSAGE_MAX,
  slabBytes: SLAB_BYTES,
  slabReleaseMin: SLAB_RELEASE_MIN,
  beginMessage,
  targetView,
  target8,
  endMessage,
  toU32,
  toU64,
  wireCount,
  bytesOf,
  writeInlineArray,
  oolRegion,
  zero,
  migStrncpy,
  readCString,
  makeArray,
  inlinePorts,
  u64,
  descWord0,
  descWord1,
  NO_OOL,
  EMPTY: new Uint8Array(0),
  byteOffsetOf: typedArrayGetter("byteOffset") as (this: Uint8Array) => number,
  bufferOf: typedArrayGetter("buffer") as (this: Uint8Array) => ArrayBufferLike,
};

function specialisedEncodeRequest(c: CRoutine): EncodeRequestFn {
  const f = instantiate<EncodeRequestFn>(encodeRequestSource(c, helpers), helpers, c.request.items);
  c.encodeRequest = f;
  return f;
}
function specialisedEncodeReply(c: CRoutine): EncodeReplyFn {
  const f = instantiate<EncodeReplyFn>(encodeReplySource(c, helpers), helpers, c.reply.items);
  c.encodeReply = f;
  return f;
}
function specialisedDecodeRequest(c: CRoutine): DecodeFn {
  const f = instantiate<DecodeFn>(decodeRequestSource(c), helpers, c.request.items);
  c.decodeRequest = f;
  return f;
}
function specialisedDecodeReply(c: CRoutine): DecodeFn {
  const f = instantiate<DecodeFn>(decodeReplySource(c), helpers, c.reply.items);
  c.decodeReply = f;
  return f;
}

// ---------------------------------------------------------------------------------------------
// Encoding.

/** Encodes the body items from offset `o`; returns the end offset or a (negative) MIG error. */
function encodeBody(m: CMessage, abi: AbiInfo, values: ArrayLike<unknown>, o: number): number {
  const v = targetView();
  const b = target8();
  const items = m.items;
  const align = abi.alignment;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const d = o + item.ds;
    switch (item.kind) {
      case 0: {
        // SCALAR
        putDesc(v, o, item.mode, item.inW0, item.inW1, 1);
        const value = item.role === 1 ? 0 : values[item.slot];
        const bits = item.bits;
        if (bits === 32) {
          v.setUint32(d, toU32(value), true);
          if (item.dataSize === 8) v.setUint32(d + 4, 0, true);
        } else if (bits === 64) {
          v.setBigUint64(d, toU64(value), true);
        } else if (bits === 16) {
          v.setUint16(d, toU32(value) & 0xffff, true);
          zero(b, d + 2, d + item.dataSize);
        } else {
          b[d] = toU32(value) & 0xff;
          zero(b, d + 1, d + item.dataSize);
        }
        o = d + item.dataSize;
        break;
      }
      case 1: {
        // PORT
        if (item.name === POLY) {
          const name = toU32(values[item.poly]);
          if (isPortRight(name)) dynamicComplex = true;
          putDesc(v, o, item.mode, descWord0(item.mode, name, item.bits, true, item.long, false), descWord1(item.mode, name, item.bits), 1);
        } else {
          putDesc(v, o, item.mode, item.inW0, item.inW1, 1);
        }
        v.setUint32(d, toU32(values[item.slot]), true);
        if (item.dataSize === 8) v.setUint32(d + 4, 0, true);
        o = d + item.dataSize;
        break;
      }
      case 2: {
        // FIXED
        putDesc(v, o, item.mode, item.inW0, item.inW1, item.number);
        const value = values[item.slot];
        let written = 0;
        if (ArrayBuffer.isView(value)) {
          written = Math.min(item.bytes, value.byteLength);
          b.set(bytesOf(value, written), d);
        }
        zero(b, d + written, d + item.dataSize);
        o = d + item.dataSize;
        break;
      }
      case 3: {
        // STRING (fixed size)
        putDesc(v, o, item.mode, item.inW0, item.inW1, item.number);
        const value = values[item.slot];
        migStrncpy(b, d, typeof value === "string" ? value : "", item.bytes);
        zero(b, d + item.bytes, d + item.dataSize);
        o = d + item.dataSize;
        break;
      }
      case 4: {
        // VARSTRING: msgt_number = strlen + 1, at most the bound.
        const value = values[item.slot];
        const n = migStrncpy(b, d, typeof value === "string" ? value : "", item.number) + 1;
        putDesc(v, o, item.mode, item.inW0, item.inW1, n);
        const end = d + alignUp(n, align);
        zero(b, d + n, end);
        o = end;
        break;
      }
      case 5:
      case 6: {
        // BOUNDED, INDEFINITE
        const value = values[item.slot];
        const n = wireCount(item, value);
        if (item.kind === 5 || n <= item.max * item.per) {
          if (n > item.number && item.kind === 5) return MIG_ARRAY_TOO_LARGE;
          putDesc(v, o, item.mode, item.inW0, item.inW1, n);
          const written = writeInlineArray(v, b, item, value, d, n);
          const end = d + alignUp(written, align);
          zero(b, d + written, end);
          o = end;
        } else {
          o = encodeOutOfLine(v, abi, item, values, value, n, o, d);
        }
        break;
      }
      case 7: {
        // OOL
        const value = values[item.slot];
        o = encodeOutOfLine(v, abi, item, values, value, wireCount(item, value), o, d);
        break;
      }
    }
  }
  return o;
}

function encodeOutOfLine(v: DataView, abi: AbiInfo, item: CItem, values: ArrayLike<unknown>, value: unknown, n: number, o: number, d: number): number {
  const dealloc = item.dealloc === 1 || (item.dealloc === 2 && Boolean(values[item.deallocSlot]));
  putDesc(v, o, item.mode, dealloc ? item.oolW0 | item.deallocBit : item.oolW0, item.oolW1, n);
  v.setUint32(d, 0, true);
  if (abi.pointerSize === 8) v.setUint32(d + 4, 0, true);
  const region = oolRegion(item, value, n);
  if (oolRegions === null) oolRegions = [region];
  else oolRegions.push(region);
  dynamicComplex = true;
  return d + abi.pointerSize;
}

function writeHeaderAt(abi: AbiInfo, base: number, bits: number, size: number, remote: number, local: number, id: number): void {
  const v = targetView();
  const h = abi.header;
  v.setUint32(base + h.bits, bits, true);
  v.setUint32(base + h.size, size, true);
  v.setUint32(base + h.remotePort, remote, true);
  v.setUint32(base + h.localPort, local, true);
  if (abi.headerSize === 32) {
    v.setUint32(base + h.remotePort + 4, 0, true);
    v.setUint32(base + h.localPort + 4, 0, true);
  }
  v.setUint32(base + h.seqno, 0, true);
  v.setInt32(base + h.id, id, true);
}

function finish(base: number, size: number): MachMessage {
  const message: MachMessage = { bytes: endMessage(base, size), ool: oolRegions ?? NO_OOL };
  oolRegions = null;
  return message;
}

function complexBit(m: CMessage): number {
  return m.complex === 1 || (m.complex === 2 && dynamicComplex) ? COMPLEX : 0;
}

/**
 * Client: builds the request. `values` holds the routine's arguments by slot (the request port,
 * in and inout values, xPoly/xDealloc, CountInOut capacities); `replyPort` is MIG's own reply
 * port (ignored for simpleroutines and when the routine has a replyport argument).
 * Returns MIG_ARRAY_TOO_LARGE, without building anything, when a bounded array is over its limit.
 */
export function encodeRequest(plan: RoutinePlan, values: ArrayLike<unknown>, replyPort = 0): MachMessage | number {
  const c = compiled(plan);
  if (specialising) return (c.encodeRequest ?? specialisedEncodeRequest(c))(values, replyPort);
  return interpretEncodeRequest(c, values, replyPort);
}

/** The interpreter's encodeRequest (kept out of the exported function so that it stays small enough to inline). */
function interpretEncodeRequest(c: CRoutine, values: ArrayLike<unknown>, replyPort: number): MachMessage | number {
  const abi = c.abi;
  const m = c.request;
  const base = beginMessage(m.maxSize);
  oolRegions = null;
  dynamicComplex = false;
  const end = encodeBody(m, abi, values, base + abi.headerSize);
  if (end < 0) {
    oolRegions = null;
    return end;
  }
  const remote = m.remote;
  const local = m.local;
  let bits = m.headerBits;
  if (bits < 0) {
    let remoteType = remote.disposition;
    if (remoteType === POLY) remoteType = toU32(values[remote.poly]);
    let localType = local.disposition;
    if (localType === POLY) localType = toU32(values[local.poly]);
    bits = ((remoteType & 0xff) | ((localType & 0xff) << 8) | complexBit(m)) >>> 0;
  }
  const remotePort = toU32(values[c.requestPortSlot >= 0 ? c.requestPortSlot : remote.slot]);
  const localPort = local.slot >= 0 ? toU32(values[local.slot]) : c.routine ? replyPort >>> 0 : 0;
  writeHeaderAt(abi, base, bits, end - base, remotePort, localPort, m.id);
  return finish(base, end - base);
}

/**
 * Server: builds the reply to `request` (RetCode KERN_SUCCESS, then the out and inout values of
 * `values`). For a simpleroutine this is the RetCode-only reply a demux builds and never sends.
 */
export function encodeReply(plan: RoutinePlan, request: MachMessage, values: ArrayLike<unknown>): MachMessage | number {
  const c = compiled(plan);
  if (specialising) return (c.encodeReply ?? specialisedEncodeReply(c))(request, values);
  return interpretEncodeReply(c, request, values);
}

/** The interpreter's encodeReply (kept out of the exported function so that it stays small enough to inline). */
function interpretEncodeReply(c: CRoutine, request: MachMessage, values: ArrayLike<unknown>): MachMessage | number {
  const abi = c.abi;
  const m = c.reply;
  const base = beginMessage(m.maxSize);
  oolRegions = null;
  dynamicComplex = false;
  const end = encodeBody(m, abi, values, base + abi.headerSize);
  if (end < 0) {
    oolRegions = null;
    return end;
  }
  const rb = request.bytes;
  const h = abi.header;
  const bits = ((rb[h.bits] & 0xff) | complexBit(m)) >>> 0;
  writeHeaderAt(abi, base, bits, end - base, rd32(rb, h.remotePort), 0, rdI32(rb, h.id) + 100);
  return finish(base, end - base);
}

/**
 * Server: the bare `mig_reply_header_t` reply with `retCode` (an error: MIG_BAD_ID,
 * MIG_BAD_ARGUMENTS, or a server function's failure). Works on any request with a header.
 */
export function encodeErrorReply(abiName: "x86_64" | "i386", request: MachMessage, retCode: number): MachMessage {
  const abi = abiInfo(abiName);
  const size = abi.replyHeaderSize;
  const base = beginMessage(size);
  const bytes = request.bytes;
  let remoteBits = 0;
  let remotePort = 0;
  let id = 0;
  if (bytes.length >= abi.headerSize) {
    remoteBits = bytes[abi.header.bits];
    remotePort = rd32(bytes, abi.header.remotePort);
    id = rdI32(bytes, abi.header.id);
  }
  writeHeaderAt(abi, base, remoteBits, size, remotePort, 0, (id + 100) | 0);
  const o = base + abi.headerSize;
  const mode = abi.descriptorSize === 8 ? DESC_X86 : 1;
  const v = targetView();
  putDesc(v, o, mode, descWord0(mode, 2, 32, true, false, false), 0, 1);
  v.setInt32(o + abi.descriptorSize, retCode | 0, true);
  zero(target8(), o + abi.descriptorSize + 4, base + size);
  oolRegions = null;
  return finish(base, size);
}

// ---------------------------------------------------------------------------------------------
// Decoding.

const EMPTY = helpers.EMPTY;

/**
 * A typed array of `n` wire elements at `bytes[start ..]`: a view of the message's own memory
 * when aligned (as protobuf-es does for bytes fields; a received message is never reused), else a
 * copy.
 */
function makeArray(item: CItem, bytes: Uint8Array, start: number, n: number, bits: number): unknown {
  const length = Math.ceil((n * bits) / 8);
  if (bits === 8 || (bits !== 16 && bits !== 32 && bits !== 64)) {
    // A whole out-of-line region is its own view (a subarray would be a second object for it).
    return start === 0 && length === bytes.length ? bytes : bytes.subarray(start, start + length);
  }
  const from = bytes.byteOffset + start;
  if (from % (bits >>> 3) === 0) return typedView(item, bytes.buffer as ArrayBuffer, from, n, bits);
  const buffer = bytes.buffer.slice(from, from + length) as ArrayBuffer;
  return typedView(item, buffer, 0, n, bits);
}

function typedView(item: CItem, buffer: ArrayBuffer, offset: number, n: number, bits: number): unknown {
  if (bits === 32) return item.signed ? new Int32Array(buffer, offset, n) : new Uint32Array(buffer, offset, n);
  if (bits === 64) return item.signed ? new BigInt64Array(buffer, offset, n) : new BigUint64Array(buffer, offset, n);
  if (bits === 16) return item.signed ? new Int16Array(buffer, offset, n) : new Uint16Array(buffer, offset, n);
  return new Uint8Array(buffer, offset, Math.ceil((n * bits) / 8));
}

/** Port names from inline slots (8-byte slots on x86_64). */
function inlinePorts(b: Uint8Array, d: number, n: number, step: number): Uint32Array {
  const names = new Uint32Array(n);
  for (let i = 0; i < n; i++) names[i] = rd32(b, d + i * step);
  return names;
}

/** A scalar of `bits` at `d`, signed or not. */
function readScalar(b: Uint8Array, d: number, bits: number, signed: boolean): number | bigint {
  if (bits === 32) return signed ? rdI32(b, d) : rd32(b, d);
  if (bits === 64) return u64(b, d, signed);
  if (bits === 16) {
    const x = b[d] | (b[d + 1] << 8);
    return signed ? (x << 16) >> 16 : x;
  }
  return signed ? (b[d] << 24) >> 24 : b[d];
}

/**
 * Decodes the body items from `o` to `size`; returns the end offset, or -1 for a malformed body.
 * Fills `out` by slot.
 */
function decodeBody(m: CMessage, abi: AbiInfo, b: Uint8Array, o: number, size: number, ool: Uint8Array[], out: unknown[]): number {
  const items = m.items;
  const align = abi.alignment;
  let oolIndex = 0;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const kind = item.kind;
    if (kind <= 3) {
      // Fixed inline items: the descriptor must be exactly the one expected (precomputed words).
      const d = o + item.ds;
      if (d + item.dataSize > size) return -1;
      const w0 = rdI32(b, o);
      if ((w0 & item.m0) !== item.e0) return -1;
      const mode = item.mode;
      if (mode === DESC_X86) {
        if (rd32(b, o + 4) !== item.number) return -1;
      } else if (mode === DESC_LONG) {
        if ((rdI32(b, o + 4) & item.m1) !== item.e1 || rd32(b, o + 8) !== item.number) return -1;
      }
      if (kind === 0) {
        if (item.role !== 1) out[item.slot] = readScalar(b, d, item.bits, item.signed);
      } else if (kind === 1) {
        out[item.slot] = rd32(b, d);
        if (item.poly >= 0) out[item.poly] = mode === DESC_LONG ? b[o + 4] | (b[o + 5] << 8) : w0 & 0xff;
      } else if (kind === 2) {
        out[item.slot] = item.port ? inlinePorts(b, d, item.number, item.bits >>> 3) : makeArray(item, b, d, item.number, item.bits);
      } else {
        out[item.slot] = readCString(b, d, item.bytes - 1);
      }
      o = d + item.dataSize;
      continue;
    }
    const ds = readDesc(b, o, size, abi);
    if (ds < 0 || dLong !== item.long) return -1;
    const d = o + ds;
    if (item.recv !== POLY && dName !== item.recv) return -1;
    const n = dNumber;
    if (kind === 4) {
      // VARSTRING
      if (!dInline || dBits !== item.bits || n > item.number) return -1;
      const end = d + alignUp(n, align);
      if (end > size) return -1;
      out[item.slot] = readCString(b, d, Math.min(n, item.number - 1));
      o = end;
      continue;
    }
    if (n % item.per !== 0) return -1;
    if (dInline) {
      if (kind === 7 || dBits !== item.bits) return -1;
      if (kind === 5 ? n > item.number : n > item.max * item.per) return -1;
      const length = Math.ceil((n * item.bits) / 8);
      const end = d + alignUp(length, align);
      if (end > size) return -1;
      out[item.slot] = item.port ? inlinePorts(b, d, n, item.bits >>> 3) : makeArray(item, b, d, n, item.bits);
      o = end;
    } else {
      if (kind === 5 || dBits !== item.oolBits) return -1;
      const end = d + abi.pointerSize;
      if (end > size) return -1;
      const region = oolIndex < ool.length ? ool[oolIndex] : undefined;
      oolIndex++;
      const length = Math.ceil((n * item.oolBits) / 8);
      if (region === undefined || region.length < length) return -1;
      out[item.slot] = makeArray(item, length === 0 ? EMPTY : region, 0, n, item.oolBits);
      o = end;
    }
    if (item.count >= 0) out[item.count] = n / item.per;
    if (item.scopy >= 0) out[item.scopy] = dInline;
  }
  return o;
}

/**
 * Server: checks and decodes a request into `out` (by slot; the request port, reply port and
 * seqno come from the header). Returns KERN_SUCCESS or MIG_BAD_ARGUMENTS.
 */
export function decodeRequest(plan: RoutinePlan, request: MachMessage, out: unknown[]): number {
  const c = compiled(plan);
  if (specialising) return (c.decodeRequest ?? specialisedDecodeRequest(c))(request, out);
  return interpretDecodeRequest(c, request, out);
}

/** The interpreter's decodeRequest (kept out of the exported function so that it stays small enough to inline). */
function interpretDecodeRequest(c: CRoutine, request: MachMessage, out: unknown[]): number {
  const abi = c.abi;
  const b = request.bytes;
  if (b.length < abi.headerSize) return MIG_BAD_ARGUMENTS;
  const h = abi.header;
  const m = c.request;
  const size = rd32(b, h.size);
  if (size > b.length || (m.fixed ? size !== m.minSize : size < m.minSize || size > m.maxSize)) return MIG_BAD_ARGUMENTS;
  const headerBits = rdI32(b, h.bits);
  if (m.complex !== 2 && (headerBits < 0) !== (m.complex === 1)) return MIG_BAD_ARGUMENTS;
  if (c.requestPortSlot >= 0) out[c.requestPortSlot] = rd32(b, h.localPort);
  if (c.replyPortSlot >= 0) out[c.replyPortSlot] = rd32(b, h.remotePort);
  if (c.seqnoSlot >= 0) out[c.seqnoSlot] = rd32(b, h.seqno);
  if (c.requestPortPolySlot >= 0) out[c.requestPortPolySlot] = (headerBits >>> 8) & 0xff;
  if (c.replyPortPolySlot >= 0) out[c.replyPortPolySlot] = headerBits & 0xff;
  const end = decodeBody(m, abi, b, abi.headerSize, size, request.ool, out);
  if (end !== size) return MIG_BAD_ARGUMENTS;
  // The capacity a server function is offered for its variable out arrays (MIG initialises the
  // count to the maximum, capped by the client's CountInOut value): bounded and indefinite arrays
  // get their inline maximum; out-of-line-only arrays (`^array[]`) get none.
  const capacities = c.reply.capacityItems;
  for (let i = 0; i < capacities.length; i++) {
    const item = capacities[i];
    const offered = out[item.count];
    out[item.count] = typeof offered === "number" ? Math.min(offered, item.max) : item.max;
  }
  return 0;
}

/** x86_64 / i386 RetCode descriptor (INTEGER_32, 32 bits, 1, inline, short): masked first word. */
const RETCODE_X86 = 0x20002002;
const RETCODE_I386 = 0x10012002;

/**
 * Client: checks and decodes a reply into `out` (by slot). Returns KERN_SUCCESS; the server's
 * RetCode when it is not KERN_SUCCESS (nothing else is decoded); MIG_REPLY_MISMATCH or
 * MIG_SERVER_DIED for a reply with the wrong msgh_id; MIG_TYPE_ERROR for a malformed reply.
 */
export function decodeReply(plan: RoutinePlan, reply: MachMessage, out: unknown[]): number {
  const c = compiled(plan);
  if (specialising) return (c.decodeReply ?? specialisedDecodeReply(c))(reply, out);
  return interpretDecodeReply(c, reply, out);
}

/** The interpreter's decodeReply (kept out of the exported function so that it stays small enough to inline). */
function interpretDecodeReply(c: CRoutine, reply: MachMessage, out: unknown[]): number {
  const abi = c.abi;
  const b = reply.bytes;
  if (b.length < abi.headerSize) return MIG_TYPE_ERROR;
  const h = abi.header;
  const m = c.reply;
  const id = rdI32(b, h.id);
  if (id !== m.id) return id === MACH_NOTIFY_SEND_ONCE ? MIG_SERVER_DIED : MIG_REPLY_MISMATCH;
  const size = rd32(b, h.size);
  const complex = rdI32(b, h.bits) < 0;
  const desc = abi.headerSize;
  const retCodeAt = desc + abi.descriptorSize;
  const expected =
    size <= b.length &&
    (m.fixed ? size === m.minSize : size >= m.minSize && size <= m.maxSize) &&
    (m.complex === 2 || complex === (m.complex === 1));
  if (!expected) {
    const errorReply = size === abi.replyHeaderSize && size <= b.length && !complex && rdI32(b, retCodeAt) !== 0;
    if (!errorReply) return MIG_TYPE_ERROR;
  }
  // RetCode: INTEGER_32, 32 bits, 1, inline, short form.
  if (abi.descriptorSize === 8) {
    if (desc + 8 > size || (rdI32(b, desc) & 0x60ffffff) !== RETCODE_X86 || rd32(b, desc + 4) !== 1) return MIG_TYPE_ERROR;
  } else if (desc + 4 > size || (rdI32(b, desc) & 0x3fffffff) !== RETCODE_I386) return MIG_TYPE_ERROR;
  const retCode = rdI32(b, retCodeAt);
  if (retCode !== 0) return retCode;
  const end = decodeBody(m, abi, b, abi.headerSize, size, reply.ool, out);
  return end === size ? 0 : MIG_TYPE_ERROR;
}

/** The routine plan for a request id, or null (the demux answers MIG_BAD_ID). */
export function lookupRoutine(subsystem: SubsystemPlan, id: number): RoutinePlan | null {
  const index = id - subsystem.base;
  if (index < 0 || index >= subsystem.routines.length) return null;
  return subsystem.routines[index] ?? null;
}

/** The msgh_id of a message (or -1 when it has no header). */
export function messageId(abiName: "x86_64" | "i386", message: MachMessage): number {
  const abi = abiInfo(abiName);
  const bytes = message.bytes;
  if (bytes.length < abi.headerSize) return -1;
  return rdI32(bytes, abi.header.id);
}
