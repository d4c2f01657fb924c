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
 * Speed: encoders write into one shared scratch buffer through one DataView and copy the finished
 * message out once (into pooled memory under Node); decoders create one DataView per message.
 * Fixed items need no other allocation. Decoded arrays are views of the received message's memory
 * (or of its out-of-line region) when aligned, so they alias it: a received message is never
 * reused, but copy an array before changing the message's bytes.
 */
import { type AbiInfo, abiInfo, alignUp } from "../abi.js";
import { ReturnCode } from "../constants.js";
import type { MachMessage } from "../message.js";
import type { ItemPlan, MessagePlan, RoutinePlan, SubsystemPlan } from "./plan.js";
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

// ---------------------------------------------------------------------------------------------
// Scratch buffer for encoding.

/**
 * Node's Buffer, when present: `allocUnsafe` carves small messages out of a shared pool without
 * zero-filling them (the encoders write every byte, pads included), which is several times
 * cheaper than a fresh ArrayBuffer. Elsewhere messages are plain `slice` copies.
 */
interface NodeBufferLike extends Uint8Array {
  copy(target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number): number;
}
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafe(size: number): NodeBufferLike; from(buffer: ArrayBuffer): NodeBufferLike } }).Buffer;

let scratchBuffer = new ArrayBuffer(16384);
let scratch = new Uint8Array(scratchBuffer);
let sview = new DataView(scratchBuffer);
let scratchNode = NodeBuffer?.from(scratchBuffer);

function reserve(size: number): void {
  if (size <= scratch.length) return;
  let n = scratch.length;
  while (n < size) n *= 2;
  scratchBuffer = new ArrayBuffer(n);
  scratch = new Uint8Array(scratchBuffer);
  sview = new DataView(scratchBuffer);
  scratchNode = NodeBuffer?.from(scratchBuffer);
}

/** The first `size` bytes of the scratch buffer, copied into memory of their own. */
function takeBytes(size: number): Uint8Array {
  if (scratchNode !== undefined) {
    const out = NodeBuffer!.allocUnsafe(size);
    scratchNode.copy(out, 0, 0, size);
    // A plain Uint8Array view (Buffer#slice would not copy, unlike Uint8Array#slice).
    return new Uint8Array(out.buffer, out.byteOffset, size);
  }
  return scratch.slice(0, size);
}

const NO_OOL: Uint8Array[] = [];
/** Out-of-line regions of the message being encoded, in body order. */
let oolRegions: Uint8Array[] | null = null;
/** Set by items that make the message complex at run time. */
let dynamicComplex = false;

// ---------------------------------------------------------------------------------------------
// Descriptors.

function writeDesc(v: DataView, o: number, abi: AbiInfo, name: number, bits: number, number: number, inline: boolean, long: boolean, dealloc: boolean): number {
  if (abi.descriptorSize === 8) {
    v.setUint32(o, ((name & 0xff) | ((bits & 0xffff) << 8) | (inline ? 0x20000000 : 0) | (long ? 0x40000000 : 0) | (dealloc ? 0x80000000 : 0)) >>> 0, true);
    v.setUint32(o + 4, number >>> 0, true);
    return 8;
  }
  const flags = (inline ? 0x10000000 : 0) | (long ? 0x20000000 : 0) | (dealloc ? 0x40000000 : 0);
  if (long) {
    v.setUint32(o, flags, true);
    v.setUint16(o + 4, name & 0xffff, true);
    v.setUint16(o + 6, bits & 0xffff, true);
    v.setUint32(o + 8, number >>> 0, true);
    return 12;
  }
  v.setUint32(o, ((name & 0xff) | ((bits & 0xff) << 8) | ((number & 0xfff) << 16) | flags) >>> 0, true);
  return 4;
}

// Fields of the descriptor read last (module state: no allocation per item).
let dName = 0;
let dBits = 0;
let dNumber = 0;
let dInline = false;
let dLong = false;

/** Reads a descriptor at `o`; returns its size, or -1 when it runs past `limit`. */
function readDesc(v: DataView, o: number, limit: number, abi: AbiInfo): number {
  if (abi.descriptorSize === 8) {
    if (o + 8 > limit) return -1;
    const w = v.getUint32(o, true);
    dName = w & 0xff;
    dBits = (w >>> 8) & 0xffff;
    dInline = (w & 0x20000000) !== 0;
    dLong = (w & 0x40000000) !== 0;
    dNumber = v.getUint32(o + 4, true);
    return 8;
  }
  if (o + 4 > limit) return -1;
  const w = v.getUint32(o, true);
  dInline = (w & 0x10000000) !== 0;
  dLong = (w & 0x20000000) !== 0;
  if (dLong) {
    if (o + 12 > limit) return -1;
    dName = v.getUint16(o + 4, true);
    dBits = v.getUint16(o + 6, true);
    dNumber = v.getUint32(o + 8, true);
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
  if (typeof v === "bigint") return BigInt.asUintN(64, v);
  if (typeof v === "number" && Number.isFinite(v)) return BigInt.asUintN(64, BigInt(Math.trunc(v)));
  if (typeof v === "boolean") return v ? 1n : 0n;
  return 0n;
}

type ArrayValue = ArrayBufferView | ArrayLike<number>;

/** Wire elements an array value holds. */
function wireCount(item: ItemPlan, v: unknown): number {
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

/** Writes n wire elements of an array inline at d; returns the data bytes written (unpadded). */
function writeInlineArray(abi: AbiInfo, item: ItemPlan, v: unknown, d: number, n: number): number {
  if (n === 0) return 0;
  if (item.port) {
    const names = v as ArrayLike<number>;
    const step = item.bits >>> 3;
    for (let i = 0; i < n; i++) {
      sview.setUint32(d + i * step, names[i] >>> 0, true);
      if (step === 8) sview.setUint32(d + i * step + 4, 0, true);
    }
    return n * step;
  }
  const bytes = Math.ceil((n * item.bits) / 8);
  scratch.set(bytesOf(v as ArrayBufferView, bytes), d);
  return bytes;
}

function oolRegion(item: ItemPlan, v: unknown, n: number): Uint8Array {
  if (n === 0) return new Uint8Array(0);
  if (item.port) return portNameBytes(v as ArrayLike<number>, n);
  const view = v as ArrayBufferView;
  return bytesOf(view, Math.ceil((n * item.oolBits) / 8));
}

function zero(from: number, to: number): void {
  if (to - from === 4) sview.setUint32(from, 0, true);
  else if (to > from) scratch.fill(0, from, to);
}

// ---------------------------------------------------------------------------------------------
// Encoding.

/** Encodes the body items from offset `o`; returns the end offset or a (negative) MIG error. */
function encodeBody(m: MessagePlan, abi: AbiInfo, values: ArrayLike<unknown>, o: number, retCode: number): number {
  const v = sview;
  const items = m.items;
  const align = abi.alignment;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const ds = item.long ? abi.longDescriptorSize : abi.descriptorSize;
    const d = o + ds;
    switch (item.kind) {
      case 0: {
        // SCALAR
        writeDesc(v, o, abi, item.name, item.bits, 1, true, item.long, false);
        const value = item.role === 1 ? retCode : values[item.slot];
        const bits = item.bits;
        if (bits === 32) {
          v.setUint32(d, toU32(value), true);
          if (item.dataSize === 8) v.setUint32(d + 4, 0, true);
        } else if (bits === 64) {
          v.setBigUint64(d, toU64(value), true);
        } else if (bits === 16) {
          v.setUint16(d, toU32(value) & 0xffff, true);
          zero(d + 2, d + item.dataSize);
        } else {
          v.setUint8(d, toU32(value) & 0xff);
          zero(d + 1, d + item.dataSize);
        }
        o = d + item.dataSize;
        break;
      }
      case 1: {
        // PORT
        let name = item.name;
        if (name === POLY) {
          name = toU32(values[item.poly]);
          if (isPortRight(name)) dynamicComplex = true;
        }
        writeDesc(v, o, abi, name, item.bits, 1, true, item.long, false);
        v.setUint32(d, toU32(values[item.slot]), true);
        if (item.dataSize === 8) v.setUint32(d + 4, 0, true);
        o = d + item.dataSize;
        break;
      }
      case 2: {
        // FIXED
        writeDesc(v, o, abi, item.name, item.bits, item.number, true, item.long, false);
        const value = values[item.slot];
        const bytes = Math.ceil((item.number * item.bits) / 8);
        let written = 0;
        if (ArrayBuffer.isView(value)) {
          written = Math.min(bytes, value.byteLength);
          scratch.set(bytesOf(value, written), d);
        }
        zero(d + written, d + item.dataSize);
        o = d + item.dataSize;
        break;
      }
      case 3: {
        // STRING (fixed size)
        writeDesc(v, o, abi, item.name, item.bits, item.number, true, item.long, false);
        const bytes = Math.ceil((item.number * item.bits) / 8);
        const value = values[item.slot];
        migStrncpy(scratch, d, typeof value === "string" ? value : "", bytes);
        zero(d + bytes, d + item.dataSize);
        o = d + item.dataSize;
        break;
      }
      case 4: {
        // VARSTRING: msgt_number = strlen + 1, at most the bound.
        const value = values[item.slot];
        const copied = migStrncpy(scratch, d, typeof value === "string" ? value : "", item.number);
        const n = copied + 1;
        writeDesc(v, o, abi, item.name, item.bits, n, true, item.long, false);
        const end = d + alignUp(n, align);
        zero(d + n, end);
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
          writeDesc(v, o, abi, item.name, item.bits, n, true, item.long, false);
          const written = writeInlineArray(abi, item, value, d, n);
          const end = d + alignUp(written, align);
          zero(d + written, end);
          o = end;
        } else {
          o = encodeOutOfLine(abi, item, values, value, n, o, d);
        }
        break;
      }
      case 7: {
        // OOL
        const value = values[item.slot];
        o = encodeOutOfLine(abi, item, values, value, wireCount(item, value), o, d);
        break;
      }
    }
  }
  return o;
}

function encodeOutOfLine(abi: AbiInfo, item: ItemPlan, values: ArrayLike<unknown>, value: unknown, n: number, o: number, d: number): number {
  const dealloc = item.dealloc === 1 || (item.dealloc === 2 && Boolean(values[item.deallocSlot]));
  writeDesc(sview, o, abi, item.name, item.oolBits, n, false, item.long, dealloc);
  if (abi.pointerSize === 8) sview.setBigUint64(d, 0n, true);
  else sview.setUint32(d, 0, true);
  (oolRegions ??= []).push(oolRegion(item, value, n));
  dynamicComplex = true;
  return d + abi.pointerSize;
}

function writeHeaderAt(abi: AbiInfo, bits: number, size: number, remote: number, local: number, id: number): void {
  const v = sview;
  const h = abi.header;
  v.setUint32(h.bits, bits >>> 0, true);
  v.setUint32(h.size, size, true);
  v.setUint32(h.remotePort, remote >>> 0, true);
  v.setUint32(h.localPort, local >>> 0, true);
  if (abi.headerSize === 32) {
    v.setUint32(h.remotePort + 4, 0, true);
    v.setUint32(h.localPort + 4, 0, true);
  }
  v.setUint32(h.seqno, 0, true);
  v.setInt32(h.id, id, true);
}

function finish(size: number): MachMessage {
  const message: MachMessage = { bytes: takeBytes(size), ool: oolRegions ?? NO_OOL };
  oolRegions = null;
  return message;
}

function complexBit(m: MessagePlan): number {
  return m.complex === 1 || (m.complex === 2 && dynamicComplex) ? COMPLEX : 0;
}

/**
 * Client: builds the request. `values` holds the routine's arguments by slot (the request port,
 * in and inout values, xPoly/xDealloc, CountInOut capacities); `replyPort` is MIG's own reply
 * port (ignored for simpleroutines and when the routine has a replyport argument).
 * Returns MIG_ARRAY_TOO_LARGE, without building anything, when a bounded array is over its limit.
 */
export function encodeRequest(plan: RoutinePlan, values: ArrayLike<unknown>, replyPort = 0): MachMessage | number {
  const abi = abiInfo(plan.abi);
  const m = plan.request;
  reserve(m.maxSize);
  oolRegions = null;
  dynamicComplex = false;
  const end = encodeBody(m, abi, values, abi.headerSize, 0);
  if (end < 0) {
    oolRegions = null;
    return end;
  }
  const remote = m.remote!;
  const local = m.local!;
  let remoteType = remote.disposition;
  if (remoteType === POLY) remoteType = toU32(values[remote.poly]);
  let localType = local.disposition;
  if (localType === POLY) localType = toU32(values[local.poly]);
  const remotePort = toU32(values[plan.requestPortSlot >= 0 ? plan.requestPortSlot : remote.slot]);
  const localPort = local.slot >= 0 ? toU32(values[local.slot]) : plan.kind === "routine" ? replyPort : 0;
  const bits = ((remoteType & 0xff) | ((localType & 0xff) << 8) | complexBit(m)) >>> 0;
  writeHeaderAt(abi, bits, end, remotePort, localPort, m.id);
  return finish(end);
}

/**
 * Server: builds the reply to `request` (RetCode KERN_SUCCESS, then the out and inout values of
 * `values`). For a simpleroutine this is the RetCode-only reply a demux builds and never sends.
 */
export function encodeReply(plan: RoutinePlan, request: MachMessage, values: ArrayLike<unknown>): MachMessage | number {
  const abi = abiInfo(plan.abi);
  const m = plan.reply;
  reserve(m.maxSize);
  oolRegions = null;
  dynamicComplex = false;
  const end = encodeBody(m, abi, values, abi.headerSize, 0);
  if (end < 0) {
    oolRegions = null;
    return end;
  }
  const rv = new DataView(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength);
  const h = abi.header;
  const bits = ((rv.getUint32(h.bits, true) & 0xff) | complexBit(m)) >>> 0;
  writeHeaderAt(abi, bits, end, rv.getUint32(h.remotePort, true), 0, rv.getInt32(h.id, true) + 100);
  return finish(end);
}

/**
 * Server: the bare `mig_reply_header_t` reply with `retCode` (an error: MIG_BAD_ID,
 * MIG_BAD_ARGUMENTS, or a server function's failure). Works on any request with a header.
 */
export function encodeErrorReply(abiName: "x86_64" | "i386", request: MachMessage, retCode: number): MachMessage {
  const abi = abiInfo(abiName);
  reserve(abi.replyHeaderSize);
  const bytes = request.bytes;
  let remoteBits = 0;
  let remotePort = 0;
  let id = 0;
  if (bytes.length >= abi.headerSize) {
    const rv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    remoteBits = rv.getUint32(abi.header.bits, true) & 0xff;
    remotePort = rv.getUint32(abi.header.remotePort, true);
    id = rv.getInt32(abi.header.id, true);
  }
  writeHeaderAt(abi, remoteBits, abi.replyHeaderSize, remotePort, 0, (id + 100) | 0);
  const o = abi.headerSize;
  const ds = writeDesc(sview, o, abi, 2, 32, 1, true, false, false);
  sview.setInt32(o + ds, retCode | 0, true);
  zero(o + ds + 4, abi.replyHeaderSize);
  oolRegions = null;
  return finish(abi.replyHeaderSize);
}

// ---------------------------------------------------------------------------------------------
// Decoding.

const EMPTY = new Uint8Array(0);

/**
 * A typed array of `n` wire elements at `bytes[start ..]`: a view of the message's own memory
 * when aligned (as protobuf-es does for bytes fields; a received message is never reused), else a
 * copy.
 */
function makeArray(item: ItemPlan, bytes: Uint8Array, start: number, n: number, bits: number): unknown {
  const length = Math.ceil((n * bits) / 8);
  if (bits === 8 || (bits !== 16 && bits !== 32 && bits !== 64)) return bytes.subarray(start, start + length);
  const from = bytes.byteOffset + start;
  if (from % (bits >>> 3) === 0) return typedView(item, bytes.buffer as ArrayBuffer, from, n, bits);
  const buffer = bytes.buffer.slice(from, from + length) as ArrayBuffer;
  return typedView(item, buffer, 0, n, bits);
}

function typedView(item: ItemPlan, buffer: ArrayBuffer, offset: number, n: number, bits: number): unknown {
  if (bits === 32) return item.signed ? new Int32Array(buffer, offset, n) : new Uint32Array(buffer, offset, n);
  if (bits === 64) return item.signed ? new BigInt64Array(buffer, offset, n) : new BigUint64Array(buffer, offset, n);
  if (bits === 16) return item.signed ? new Int16Array(buffer, offset, n) : new Uint16Array(buffer, offset, n);
  return new Uint8Array(buffer, offset, Math.ceil((n * bits) / 8));
}

/** An array from an out-of-line region: used in place when aligned, else copied. */
function arrayFromRegion(item: ItemPlan, region: Uint8Array, n: number, bits: number): unknown {
  return makeArray(item, region, 0, n, bits);
}

/** Port names from inline slots (8-byte slots on x86_64). */
function inlinePorts(v: DataView, d: number, n: number, step: number): Uint32Array {
  const names = new Uint32Array(n);
  for (let i = 0; i < n; i++) names[i] = v.getUint32(d + i * step, true);
  return names;
}

/**
 * Decodes the body items from `o` to `size`; returns the end offset, or -1 for a malformed body.
 * Fills `out` by slot.
 */
function decodeBody(m: MessagePlan, abi: AbiInfo, v: DataView, bytes: Uint8Array, o: number, size: number, ool: Uint8Array[], out: unknown[]): number {
  const items = m.items;
  const align = abi.alignment;
  let oolIndex = 0;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const ds = readDesc(v, o, size, abi);
    if (ds < 0 || dLong !== item.long) return -1;
    const d = o + ds;
    const kind = item.kind;
    if (item.recv !== POLY && dName !== item.recv) return -1;
    if (kind <= 3) {
      // Fixed inline items.
      if (!dInline || dBits !== item.bits || dNumber !== item.number || d + item.dataSize > size) return -1;
      if (kind === 0) {
        const bits = item.bits;
        let value: number | bigint;
        if (bits === 32) value = item.signed ? v.getInt32(d, true) : v.getUint32(d, true);
        else if (bits === 64) value = item.signed ? v.getBigInt64(d, true) : v.getBigUint64(d, true);
        else if (bits === 16) value = item.signed ? v.getInt16(d, true) : v.getUint16(d, true);
        else value = item.signed ? v.getInt8(d) : v.getUint8(d);
        if (item.role !== 1) out[item.slot] = value;
      } else if (kind === 1) {
        out[item.slot] = v.getUint32(d, true);
        if (item.poly >= 0) out[item.poly] = dName;
      } else if (kind === 2) {
        out[item.slot] = item.port
          ? inlinePorts(v, d, item.number, item.bits >>> 3)
          : makeArray(item, bytes, d, item.number, item.bits);
      } else {
        const length = Math.ceil((item.number * item.bits) / 8);
        out[item.slot] = readCString(bytes, d, length - 1);
      }
      o = d + item.dataSize;
      continue;
    }
    const n = dNumber;
    if (kind === 4) {
      // VARSTRING
      if (!dInline || dBits !== item.bits || n > item.number) return -1;
      const end = d + alignUp(n, align);
      if (end > size) return -1;
      out[item.slot] = readCString(bytes, d, Math.min(n, item.number - 1));
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
      out[item.slot] = item.port ? inlinePorts(v, d, n, item.bits >>> 3) : makeArray(item, bytes, d, n, item.bits);
      o = end;
    } else {
      if (kind === 5 || dBits !== item.oolBits) return -1;
      const end = d + abi.pointerSize;
      if (end > size) return -1;
      const region = oolIndex < ool.length ? ool[oolIndex] : undefined;
      oolIndex++;
      const length = Math.ceil((n * item.oolBits) / 8);
      if (region === undefined || region.length < length) return -1;
      out[item.slot] = arrayFromRegion(item, length === 0 ? EMPTY : region, n, item.oolBits);
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
  const abi = abiInfo(plan.abi);
  const bytes = request.bytes;
  if (bytes.length < abi.headerSize) return MIG_BAD_ARGUMENTS;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = abi.header;
  const m = plan.request;
  const size = v.getUint32(h.size, true);
  if (size > bytes.length || (m.fixed ? size !== m.minSize : size < m.minSize || size > m.maxSize)) return MIG_BAD_ARGUMENTS;
  const complex = (v.getUint32(h.bits, true) & COMPLEX) !== 0;
  if (m.complex !== 2 && complex !== (m.complex === 1)) return MIG_BAD_ARGUMENTS;
  if (plan.requestPortSlot >= 0) out[plan.requestPortSlot] = v.getUint32(h.localPort, true);
  if (plan.replyPortSlot >= 0) out[plan.replyPortSlot] = v.getUint32(h.remotePort, true);
  if (plan.seqnoSlot >= 0) out[plan.seqnoSlot] = v.getUint32(h.seqno, true);
  const headerBits = v.getUint32(h.bits, true);
  if (plan.requestPortPolySlot !== undefined && plan.requestPortPolySlot >= 0) out[plan.requestPortPolySlot] = (headerBits >>> 8) & 0xff;
  if (plan.replyPortPolySlot !== undefined && plan.replyPortPolySlot >= 0) out[plan.replyPortPolySlot] = headerBits & 0xff;
  const end = decodeBody(m, abi, v, bytes, abi.headerSize, size, request.ool, out);
  if (end !== size) return MIG_BAD_ARGUMENTS;
  offerCapacities(plan.reply, out);
  return 0;
}

/**
 * The capacity a server function is offered for its variable out arrays (MIG initialises the
 * count to the maximum, capped by the client's CountInOut value): bounded and indefinite arrays get
 * their inline maximum; out-of-line-only arrays (`^array[]`) get none.
 */
function offerCapacities(reply: MessagePlan, out: unknown[]): void {
  const items = reply.items;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (item.count < 0) continue;
    const offered = out[item.count];
    if (item.kind === 5 || item.kind === 6) out[item.count] = typeof offered === "number" ? Math.min(offered, item.max) : item.max;
  }
}

/**
 * Client: checks and decodes a reply into `out` (by slot). Returns KERN_SUCCESS; the server's
 * RetCode when it is not KERN_SUCCESS (nothing else is decoded); MIG_REPLY_MISMATCH or
 * MIG_SERVER_DIED for a reply with the wrong msgh_id; MIG_TYPE_ERROR for a malformed reply.
 */
export function decodeReply(plan: RoutinePlan, reply: MachMessage, out: unknown[]): number {
  const abi = abiInfo(plan.abi);
  const bytes = reply.bytes;
  if (bytes.length < abi.headerSize) return MIG_TYPE_ERROR;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = abi.header;
  const m = plan.reply;
  const id = v.getInt32(h.id, true);
  if (id !== m.id) return id === MACH_NOTIFY_SEND_ONCE ? MIG_SERVER_DIED : MIG_REPLY_MISMATCH;
  const size = v.getUint32(h.size, true);
  const complex = (v.getUint32(h.bits, true) & COMPLEX) !== 0;
  const retCodeAt = abi.headerSize + abi.descriptorSize;
  const expected =
    size <= bytes.length &&
    (m.fixed ? size === m.minSize : size >= m.minSize && size <= m.maxSize) &&
    (m.complex === 2 || complex === (m.complex === 1));
  if (!expected) {
    const errorReply = size === abi.replyHeaderSize && size <= bytes.length && !complex && v.getInt32(retCodeAt, true) !== 0;
    if (!errorReply) return MIG_TYPE_ERROR;
  }
  // RetCode: INTEGER_32, 32 bits, 1, inline.
  if (readDesc(v, abi.headerSize, size, abi) < 0 || dName !== 2 || dBits !== 32 || dNumber !== 1 || !dInline || dLong) return MIG_TYPE_ERROR;
  const retCode = v.getInt32(retCodeAt, true);
  if (retCode !== 0) return retCode;
  const end = decodeBody(m, abi, v, bytes, abi.headerSize, size, reply.ool, out);
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
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getInt32(abi.header.id, true);
}
