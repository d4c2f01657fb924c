/**
 * Specialised codecs: for one compiled plan (./compiled.ts) and one direction, the source of a
 * JavaScript function that does exactly what the interpreter in ./engine.ts does for that plan,
 * with every plan number folded in as a literal: descriptor words, masks, offsets of the items
 * before the first variable-size one, sizes, slots. The engine compiles it with `new Function`
 * once per (plan, direction), the first time that direction runs, and caches it on the compiled
 * plan.
 *
 * Why: the interpreter pays, per item, a switch on the kind, property loads from the compiled
 * item, and offset arithmetic that is the same for every message; for the small messages RPCs
 * send, that is most of the work left once the message memory is allocated. Straight-line code
 * lets V8 fold all of it away.
 *
 * Safety of the generated source: it is built only from numbers and booleans of the compiled
 * plan (each passed through `num`, which refuses anything but a finite number) and from fixed
 * text in this file; no string from a plan or from a message ever reaches it (the plan's
 * argument names are not used). Whatever the code needs beyond numbers (the compiled items, the
 * message memory, the helpers for strings and arrays) comes in through the `H` and `I`
 * parameters of the outer function.
 *
 * Equivalence: every check below mirrors one in engine.ts, in a form that gives the same result
 * for every input; the only checks left out are bounds checks that an earlier size check already
 * implies (an item of the fixed prefix ends at or before `minSize`, and msgh_size was checked to
 * be at least `minSize` and at most the bytes received). test/unit/codec/specialise.test.ts runs
 * both paths on every conformance vector and on mutated messages and compares them.
 */
import type { AbiInfo } from "../abi.js";
import { ReturnCode } from "../constants.js";
import type { MachMessage } from "../message.js";
import { type CItem, type CMessage, type CRoutine, DESC_LONG, DESC_X86 } from "./compiled.js";
import type { Slab } from "./memory.js";

const POLY = 0xffffffff;
const MACH_NOTIFY_SEND_ONCE = 71;

export type EncodeRequestFn = (values: ArrayLike<unknown>, replyPort: number) => MachMessage | number;
export type EncodeReplyFn = (request: MachMessage, values: ArrayLike<unknown>) => MachMessage | number;
export type DecodeFn = (message: MachMessage, out: unknown[]) => number;

/** What generated code calls (the engine's own helpers and message memory). */
export interface CodecHelpers {
  /** The current slab of message memory and its renewal (./memory.ts). */
  slab: Slab;
  renewSlab(): number;
  slabMessageMax: number;
  slabBytes: number;
  /** Plans whose messages are larger than this are recorded for releaseMessage (memory.ts). */
  slabReleaseMin: number;
  beginMessage(maxSize: number): number;
  targetView(): DataView;
  target8(): Uint8Array;
  endMessage(base: number, size: number): Uint8Array;
  toU32(v: unknown): number;
  toU64(v: unknown): bigint;
  wireCount(item: CItem, v: unknown): number;
  bytesOf(v: ArrayBufferView, length: number): Uint8Array;
  writeInlineArray(v: DataView, b: Uint8Array, item: CItem, value: unknown, d: number, n: number): number;
  oolRegion(item: CItem, v: unknown, n: number): Uint8Array;
  zero(b: Uint8Array, from: number, to: number): void;
  migStrncpy(dst: Uint8Array, offset: number, text: string, len: number): number;
  readCString(bytes: Uint8Array, offset: number, limit: number): string;
  makeArray(item: CItem, bytes: Uint8Array, start: number, n: number, bits: number): unknown;
  inlinePorts(b: Uint8Array, d: number, n: number, step: number): Uint32Array;
  u64(b: Uint8Array, o: number, signed: boolean): bigint;
  descWord0(mode: number, name: number, bits: number, inline: boolean, long: boolean, dealloc: boolean): number;
  descWord1(mode: number, name: number, bits: number): number;
  NO_OOL: Uint8Array[];
  EMPTY: Uint8Array;
  /** The %TypedArray%.prototype getters of byteOffset and buffer (called with a Uint8Array). */
  byteOffsetOf: (this: Uint8Array) => number;
  bufferOf: (this: Uint8Array) => ArrayBufferLike;
}

/** A plan number as a literal. Anything else is refused: no text but ours enters the source. */
function num(n: number | boolean): string {
  if (typeof n === "boolean") return n ? "true" : "false";
  if (typeof n !== "number" || !Number.isFinite(n)) throw new TypeError(`mig-ts codec: not a plan number: ${String(n)}`);
  return String(n);
}

function alignExpr(e: string, align: number): string {
  return `((${e} + ${align - 1}) & ${~(align - 1)})`;
}

/** Little-endian int32 / uint32 at `b[e ..]`, as engine.ts reads them. */
function i32(b: string, e: string): string {
  return `(${b}[${e}] | (${b}[${plus(e, 1)}] << 8) | (${b}[${plus(e, 2)}] << 16) | (${b}[${plus(e, 3)}] << 24))`;
}
function u32(b: string, e: string): string {
  return `(${i32(b, e)} >>> 0)`;
}

/** `e + k` folded when `e` is a literal. */
function plus(e: string, k: number): string {
  if (/^-?\d+$/.test(e)) return num(Number(e) + k);
  return k === 0 ? e : `${e} + ${num(k)}`;
}

/**
 * Offsets in generated code: while every item so far had a fixed size, an item's offset is a
 * literal (relative to `base` for encoders, absolute for decoders, where the message starts at
 * 0); after the first variable-size item it is the variable `o`.
 */
class Offset {
  constructor(
    public stat: number | null,
    private readonly baseVar: string | null,
    /** Encoders in a slab store 32-bit words through the slab's Int32Array `w` (index `q` = base / 4). */
    readonly words = false,
  ) {}
  /** A statement storing the 32-bit `value` (int32 or uint32) at offset `k` from here. */
  st32(k: number, value: string): string {
    if (!this.words) return `v.setUint32(${this.at(k)}, ${value}, true);`;
    if (this.stat === null) return `w[(${plus("o", k)}) >>> 2] = ${value};`;
    return `w[q + ${num((this.stat + k) / 4)}] = ${value};`;
  }
  at(k: number): string {
    if (this.stat === null) return plus("o", k);
    return this.baseVar === null ? num(this.stat + k) : `${this.baseVar} + ${num(this.stat + k)}`;
  }
}

/** Moves past an item of `k` bytes: a new literal offset, or `o` advanced. */
function advance(L: string[], off: Offset, k: number): void {
  if (off.stat !== null) off.stat += k;
  else L.push(`o = ${off.at(k)};`);
}

// ---------------------------------------------------------------------------------------------
// Encoders.

/** Statements writing a descriptor at `off` (see engine.ts putDesc). */
function putDesc(L: string[], off: Offset, mode: number, w0: string, w1: string, number: string): void {
  if (mode === DESC_X86) {
    L.push(off.st32(0, w0), off.st32(4, number));
  } else if (mode === DESC_LONG) {
    L.push(off.st32(0, w0), off.st32(4, w1), off.st32(8, number));
  } else if (/^\d+$/.test(w0) && /^\d+$/.test(number)) {
    L.push(off.st32(0, num((Number(w0) | ((Number(number) & 0xfff) << 16)) >>> 0)));
  } else {
    L.push(off.st32(0, `${w0} | ((${number} & 4095) << 16)`));
  }
}

/** `x` (already loaded) as engine.ts's toU32 converts it. */
const U32X = `(typeof x === "number" ? x >>> 0 : H.toU32(x))`;

function encodeItems(L: string[], m: CMessage, abi: AbiInfo, off: Offset, slabbed: boolean): void {
  const align = abi.alignment;
  m.items.forEach((item, i) => {
    const ds = item.ds;
    const mode = item.mode;
    switch (item.kind) {
      case 0: {
        putDesc(L, off, mode, num(item.inW0), num(item.inW1), "1");
        const d = (k: number) => off.at(ds + k);
        L.push(item.role === 1 ? "x = 0;" : `x = values[${num(item.slot)}];`);
        if (item.bits === 32) {
          L.push(off.st32(ds, U32X));
          if (item.dataSize === 8) L.push(off.st32(ds + 4, "0"));
        } else if (item.bits === 64) {
          const value = `typeof x === "bigint" ? x : H.toU64(x)`;
          // In a slab (8-byte aligned base) at an 8-byte aligned literal offset: a word store.
          if (slabbed && off.stat !== null && (off.stat + ds) % 8 === 0) L.push(`S.u64[(base + ${num(off.stat + ds)}) >>> 3] = ${value};`);
          else L.push(`v.setBigUint64(${d(0)}, ${value}, true);`);
        } else if (item.bits === 16) {
          L.push(`v.setUint16(${d(0)}, ${U32X} & 65535, true);`);
          for (let k = 2; k < item.dataSize; k++) L.push(`b[${d(k)}] = 0;`);
        } else {
          L.push(`b[${d(0)}] = ${U32X} & 255;`);
          for (let k = 1; k < item.dataSize; k++) L.push(`b[${d(k)}] = 0;`);
        }
        advance(L, off, ds + item.dataSize);
        return;
      }
      case 1: {
        if (item.name === POLY) {
          L.push(`x = values[${num(item.poly)}];`, `n = ${U32X};`, `if (n >= 16 && n <= 21) cx = true;`);
          const w0 = `H.descWord0(${num(mode)}, n, ${num(item.bits)}, true, ${num(item.long)}, false)`;
          putDesc(L, off, mode, w0, `H.descWord1(${num(mode)}, n, ${num(item.bits)})`, "1");
        } else {
          putDesc(L, off, mode, num(item.inW0), num(item.inW1), "1");
        }
        L.push(`x = values[${num(item.slot)}];`, off.st32(ds, U32X));
        if (item.dataSize === 8) L.push(off.st32(ds + 4, "0"));
        advance(L, off, ds + item.dataSize);
        return;
      }
      case 2: {
        putDesc(L, off, mode, num(item.inW0), num(item.inW1), num(item.number));
        const d = off.at(ds);
        L.push(
          `x = values[${num(item.slot)}];`,
          `n = 0;`,
          `if (ArrayBuffer.isView(x)) { n = Math.min(${num(item.bytes)}, x.byteLength); b.set(H.bytesOf(x, n), ${d}); }`,
          `H.zero(b, ${d} + n, ${off.at(ds + item.dataSize)});`,
        );
        advance(L, off, ds + item.dataSize);
        return;
      }
      case 3: {
        putDesc(L, off, mode, num(item.inW0), num(item.inW1), num(item.number));
        L.push(
          `x = values[${num(item.slot)}];`,
          `H.migStrncpy(b, ${off.at(ds)}, typeof x === "string" ? x : "", ${num(item.bytes)});`,
          `H.zero(b, ${off.at(ds + item.bytes)}, ${off.at(ds + item.dataSize)});`,
        );
        advance(L, off, ds + item.dataSize);
        return;
      }
      case 4: {
        L.push(`d = ${off.at(ds)};`, `x = values[${num(item.slot)}];`, `n = H.migStrncpy(b, d, typeof x === "string" ? x : "", ${num(item.number)}) + 1;`);
        putDesc(L, off, mode, num(item.inW0), num(item.inW1), "n");
        L.push(`e = d + ${alignExpr("n", align)};`, `H.zero(b, d + n, e);`, `o = e;`);
        off.stat = null;
        return;
      }
      case 5:
      case 6: {
        L.push(`x = values[${num(item.slot)}];`);
        // Data whose elements are whole bytes (not ports): wireCount and writeInlineArray inline,
        // with the value's size read once. A typed array's byteLength/byteOffset/buffer are not
        // inlined by TurboFan in Node 20 (perf: Builtins_LoadIC -> TypedArrayPrototypeByteLength
        // from the generated code), each read costing several ns; the helpers read it twice.
        // Same results: n = floor(byteLength / element bytes); the bytes copied are
        // n * element bytes, the whole value when that equals its byteLength.
        const bytewise = !item.port && item.bits % 8 === 0 && item.bits > 0;
        const eb = item.bits / 8;
        // A Uint8Array's length is its byteLength, and TurboFan inlines `length` where
        // `byteLength` stays a LoadIC call (~9 ns/read measured in Node 20).
        const count = eb === 1 ? "bl" : `Math.floor(bl / ${num(eb)})`;
        if (bytewise) L.push(`if (ArrayBuffer.isView(x)) { bl = x instanceof Uint8Array ? x.length : x.byteLength; n = ${count}; } else { bl = 0; n = 0; }`);
        else L.push(`n = H.wireCount(I[${num(i)}], x);`);
        const inline = (): void => {
          putDesc(L, off, mode, num(item.inW0), num(item.inW1), "n");
          L.push(`d = ${off.at(ds)};`);
          if (bytewise) {
            L.push(
              `r = ${eb === 1 ? "n" : `n * ${num(eb)}`};`,
              `if (r !== 0) b.set(r === bl && x instanceof Uint8Array ? x : H.bytesOf(x, r), d);`,
              `e = d + ${alignExpr("r", align)};`,
              `if (e !== d + r) H.zero(b, d + r, e);`,
            );
          } else {
            L.push(`r = H.writeInlineArray(v, b, I[${num(i)}], x, d, n);`, `e = d + ${alignExpr("r", align)};`, `H.zero(b, d + r, e);`);
          }
        };
        if (item.kind === 5) {
          L.push(`if (n > ${num(item.number)}) return ${num(ReturnCode.MIG_ARRAY_TOO_LARGE)};`);
          inline();
        } else {
          L.push(`if (n <= ${num(item.max * item.per)}) {`);
          inline();
          L.push(`} else {`);
          encodeOutOfLine(L, off, abi, item, i);
          L.push(`e = ${off.at(ds + abi.pointerSize)};`, `}`);
        }
        L.push(`o = e;`);
        off.stat = null;
        return;
      }
      case 7: {
        L.push(`x = values[${num(item.slot)}];`, `n = H.wireCount(I[${num(i)}], x);`);
        encodeOutOfLine(L, off, abi, item, i);
        // An out-of-line item has a fixed size in the body: the offsets stay static.
        advance(L, off, ds + abi.pointerSize);
        return;
      }
    }
  });
}

/** Mirrors engine.ts encodeOutOfLine (value in `x`, wire count in `n`). */
function encodeOutOfLine(L: string[], off: Offset, abi: AbiInfo, item: CItem, i: number): void {
  const plain = num(item.oolW0);
  const dealloc = num((item.oolW0 | item.deallocBit) >>> 0);
  const w0 = item.dealloc === 1 ? dealloc : item.dealloc === 2 ? `(values[${num(item.deallocSlot)}] ? ${dealloc} : ${plain})` : plain;
  putDesc(L, off, item.mode, w0, num(item.oolW1), "n");
  L.push(off.st32(item.ds, "0"));
  if (abi.pointerSize === 8) L.push(off.st32(item.ds + 4, "0"));
  L.push(`r = H.oolRegion(I[${num(i)}], x, n);`, `if (ool === H.NO_OOL) ool = [r]; else ool.push(r);`, `cx = true;`);
}

function complexBitExpr(m: CMessage): string {
  return m.complex === 1 ? "2147483648" : m.complex === 2 ? "(cx ? 2147483648 : 0)" : "0";
}

function writeHeader(L: string[], abi: AbiInfo, words: boolean, bits: string, remote: string, local: string, id: string): void {
  const h = abi.header;
  const at = new Offset(0, "base", words);
  L.push(at.st32(h.bits, bits), at.st32(h.size, "size"), at.st32(h.remotePort, remote), at.st32(h.localPort, local));
  if (abi.headerSize === 32) L.push(at.st32(h.remotePort + 4, "0"), at.st32(h.localPort + 4, "0"));
  L.push(at.st32(h.seqno, "0"), at.st32(h.id, id));
}

/**
 * Message memory: a message that fits carves its slice straight from the current slab (what
 * memory.ts beginMessage/endMessage do, without their calls and mode switches); a larger one
 * goes through beginMessage/endMessage.
 */
function encoderPrologue(m: CMessage, H: CodecHelpers): string[] {
  const L = [`let ool = H.NO_OOL, cx = false, o = 0, d = 0, e = 0, n = 0, bl = 0, r, x;`];
  if (m.maxSize <= H.slabMessageMax) {
    L.push(
      `const S = H.slab;`,
      `let base = S.used;`,
      `if (base + ${num(m.maxSize)} > ${num(H.slabBytes)}) base = H.renewSlab();`,
      `const v = S.view;`,
      `const b = S.u8;`,
      `const w = S.i32;`,
      `const q = base >>> 2;`,
    );
  } else {
    L.push(`const base = H.beginMessage(${num(m.maxSize)});`, `const v = H.targetView();`, `const b = H.target8();`);
  }
  return L;
}

function encoderEpilogue(L: string[], m: CMessage, H: CodecHelpers): void {
  if (m.maxSize <= H.slabMessageMax) {
    // `S.last`, `S.prev`: the slices memory.ts releaseMessage may give back (its invariants);
    // a small message is not recorded (memory.ts SLAB_RELEASE_MIN).
    L.push(`S.used = base + ((size + 7) & -8);`, `const bytes = new Uint8Array(S.buffer, base, size);`);
    if (m.maxSize > H.slabReleaseMin) L.push(`S.prev = S.last;`, `S.prevBase = S.lastBase;`, `S.last = bytes;`, `S.lastBase = base;`);
    else L.push(`S.last = null;`);
    L.push(`return { bytes, ool };`);
  } else {
    L.push(`return { bytes: H.endMessage(base, size), ool };`);
  }
}

function endExpr(off: Offset): string {
  return off.stat !== null ? `${num(off.stat)}` : `o - base`;
}

/** Source of `function (values, replyPort)`: engine.ts encodeRequest for this plan. */
export function encodeRequestSource(c: CRoutine, H: CodecHelpers): string {
  const m = c.request;
  const abi = c.abi;
  const L = encoderPrologue(m, H);
  const words = m.maxSize <= H.slabMessageMax;
  const off = new Offset(abi.headerSize, "base", words);
  encodeItems(L, m, abi, off, words);
  L.push(`const size = ${endExpr(off)};`);
  let bits: string;
  if (m.headerBits >= 0) {
    bits = num(m.headerBits);
  } else {
    const remote = m.remote.disposition === POLY ? `H.toU32(values[${num(m.remote.poly)}])` : num(m.remote.disposition);
    const local = m.local.disposition === POLY ? `H.toU32(values[${num(m.local.poly)}])` : num(m.local.disposition);
    bits = `((${remote} & 255) | ((${local} & 255) << 8) | ${complexBitExpr(m)}) >>> 0`;
  }
  const remoteSlot = c.requestPortSlot >= 0 ? c.requestPortSlot : m.remote.slot;
  const remote = `H.toU32(values[${num(remoteSlot)}])`;
  const local = m.local.slot >= 0 ? `H.toU32(values[${num(m.local.slot)}])` : c.routine ? "replyPort >>> 0" : "0";
  writeHeader(L, abi, words, bits, remote, local, num(m.id));
  encoderEpilogue(L, m, H);
  return `return function encodeRequest(values, replyPort) {\n${L.join("\n")}\n};`;
}

/** Source of `function (request, values)`: engine.ts encodeReply for this plan. */
export function encodeReplySource(c: CRoutine, H: CodecHelpers): string {
  const m = c.reply;
  const abi = c.abi;
  const h = abi.header;
  const L = encoderPrologue(m, H);
  const words = m.maxSize <= H.slabMessageMax;
  const off = new Offset(abi.headerSize, "base", words);
  encodeItems(L, m, abi, off, words);
  L.push(`const size = ${endExpr(off)};`, `const rb = request.bytes;`);
  const bits = `((rb[${num(h.bits)}] & 255) | ${complexBitExpr(m)}) >>> 0`;
  writeHeader(L, abi, words, bits, u32("rb", num(h.remotePort)), "0", `${i32("rb", num(h.id))} + 100`);
  encoderEpilogue(L, m, H);
  return `return function encodeReply(request, values) {\n${L.join("\n")}\n};`;
}

// ---------------------------------------------------------------------------------------------
// Decoders.

/**
 * Statements decoding the body items of `m` from offset `off` (bytes in `b`, msgh_size in `size`,
 * out-of-line regions in `ool`); a malformed item returns `fail`.
 */
function decodeItems(L: string[], m: CMessage, abi: AbiInfo, off: Offset, fail: number): void {
  const F = `return ${num(fail)};`;
  const align = abi.alignment;
  /** Bounds check `end > size`, unless the size check already guarantees it. */
  const bound = (endAt: number): void => {
    if (off.stat !== null && off.stat + endAt <= m.minSize) return;
    L.push(`if (${off.at(endAt)} > size) ${F}`);
  };
  m.items.forEach((item, i) => {
    const kind = item.kind;
    const ds = item.ds;
    const mode = item.mode;
    if (kind <= 3) {
      bound(ds + item.dataSize);
      L.push(`x = ${i32("b", off.at(0))};`, `if ((x & ${num(item.m0)}) !== ${num(item.e0)}) ${F}`);
      if (mode === DESC_X86) {
        L.push(`if (${u32("b", off.at(4))} !== ${num(item.number)}) ${F}`);
      } else if (mode === DESC_LONG) {
        L.push(`if ((${i32("b", off.at(4))} & ${num(item.m1)}) !== ${num(item.e1)} || ${u32("b", off.at(8))} !== ${num(item.number)}) ${F}`);
      }
      const d = (k: number) => off.at(ds + k);
      const slot = `out[${num(item.slot)}]`;
      if (kind === 0) {
        if (item.role !== 1) {
          if (item.bits === 32) L.push(`${slot} = ${item.signed ? i32("b", d(0)) : u32("b", d(0))};`);
          else if (item.bits === 64) L.push(`${slot} = H.u64(b, ${d(0)}, ${num(item.signed)});`);
          else if (item.bits === 16) L.push(`n = b[${d(0)}] | (b[${d(1)}] << 8);`, `${slot} = ${item.signed ? "(n << 16) >> 16" : "n"};`);
          else L.push(`${slot} = ${item.signed ? `(b[${d(0)}] << 24) >> 24` : `b[${d(0)}]`};`);
        }
      } else if (kind === 1) {
        L.push(`${slot} = ${u32("b", d(0))};`);
        if (item.poly >= 0) L.push(`out[${num(item.poly)}] = ${mode === DESC_LONG ? `b[${off.at(4)}] | (b[${off.at(5)}] << 8)` : "x & 255"};`);
      } else if (kind === 2) {
        L.push(
          item.port
            ? `${slot} = H.inlinePorts(b, ${d(0)}, ${num(item.number)}, ${num(item.bits >>> 3)});`
            : `${slot} = H.makeArray(I[${num(i)}], b, ${d(0)}, ${num(item.number)}, ${num(item.bits)});`,
        );
      } else {
        L.push(`${slot} = H.readCString(b, ${d(0)}, ${num(item.bytes - 1)});`);
      }
      advance(L, off, ds + item.dataSize);
      return;
    }
    // Variable items: read the descriptor (its form must be the expected one).
    if (mode === DESC_X86) {
      bound(8);
      L.push(
        `x = ${i32("b", off.at(0))};`,
        `if ((x & 1073741824) ${item.long ? "===" : "!=="} 0) ${F}`,
        `nm = x & 255; bt = (x >>> 8) & 65535; inl = (x & 536870912) !== 0; n = ${u32("b", off.at(4))};`,
        `d = ${off.at(8)};`,
      );
    } else {
      bound(4);
      L.push(`x = ${i32("b", off.at(0))};`, `if ((x & 536870912) ${item.long ? "===" : "!=="} 0) ${F}`, `inl = (x & 268435456) !== 0;`);
      if (item.long) {
        bound(12);
        L.push(`nm = b[${off.at(4)}] | (b[${off.at(5)}] << 8); bt = b[${off.at(6)}] | (b[${off.at(7)}] << 8); n = ${u32("b", off.at(8))};`, `d = ${off.at(12)};`);
      } else {
        L.push(`nm = x & 255; bt = (x >>> 8) & 255; n = (x >>> 16) & 4095;`, `d = ${off.at(4)};`);
      }
    }
    if (item.recv !== POLY) L.push(`if (nm !== ${num(item.recv)}) ${F}`);
    if (kind === 4) {
      L.push(
        `if (!inl || bt !== ${num(item.bits)} || n > ${num(item.number)}) ${F}`,
        `e = d + ${alignExpr("n", align)};`,
        `if (e > size) ${F}`,
        `out[${num(item.slot)}] = H.readCString(b, d, Math.min(n, ${num(item.number - 1)}));`,
        `o = e;`,
      );
      off.stat = null;
      return;
    }
    if (item.per !== 1) L.push(`if (n % ${num(item.per)} !== 0) ${F}`);
    const length = (bits: number) => (bits % 8 === 0 ? `n * ${num(bits / 8)}` : `Math.ceil((n * ${num(bits)}) / 8)`);
    const slot = `out[${num(item.slot)}]`;
    L.push(`if (inl) {`);
    if (kind === 7) {
      L.push(F);
    } else {
      L.push(
        `if (bt !== ${num(item.bits)}) ${F}`,
        `if (n > ${num(kind === 5 ? item.number : item.max * item.per)}) ${F}`,
        `e = d + ${alignExpr(length(item.bits), align)};`,
        `if (e > size) ${F}`,
        item.port ? `${slot} = H.inlinePorts(b, d, n, ${num(item.bits >>> 3)});` : inlineArray(item, i, slot),
        `o = e;`,
      );
    }
    L.push(`} else {`);
    if (kind === 5) {
      L.push(F);
    } else {
      L.push(
        `if (bt !== ${num(item.oolBits)}) ${F}`,
        `e = d + ${num(abi.pointerSize)};`,
        `if (e > size) ${F}`,
        `r = oi < ool.length ? ool[oi] : undefined;`,
        `oi++;`,
        `e2 = ${length(item.oolBits)};`,
        `if (r === undefined || r.length < e2) ${F}`,
        `${slot} = H.makeArray(I[${num(i)}], e2 === 0 ? H.EMPTY : r, 0, n, ${num(item.oolBits)});`,
        `o = e;`,
      );
    }
    L.push(`}`);
    if (item.count >= 0) L.push(`out[${num(item.count)}] = ${item.per === 1 ? "n" : `n / ${num(item.per)}`};`);
    if (item.scopy >= 0) L.push(`out[${num(item.scopy)}] = inl;`);
    // Only an out-of-line-only item (kind 7) has a size in the body known in advance; `o` is
    // set either way, so later items can use it.
    if (kind === 7 && off.stat !== null) off.stat += ds + abi.pointerSize;
    else off.stat = null;
  });
}

/** Typed-array constructors of engine.ts typedView, by bits and signedness (fixed text). */
const VIEW_CTOR: Record<number, [string, string]> = { 16: ["Uint16Array", "Int16Array"], 32: ["Uint32Array", "Int32Array"], 64: ["BigUint64Array", "BigInt64Array"] };

/**
 * A statement decoding an inline array of `n` elements at `d` of `b` into `slot`: what
 * H.makeArray returns, with its aligned typed-view case inline (the call, its Math.ceil and the
 * item loads were a measurable part of i386_set_ldt's decode); anything else still goes through
 * H.makeArray. `b`'s byteOffset and buffer are read by calling the %TypedArray%.prototype
 * getters (DECODER_PRELUDE) rather than as properties: the property reads go through a LoadIC
 * call in Node 20, ~31 vs ~21 ns for both reads plus the view measured (`b` is the message's
 * Uint8Array, so the getters give what the properties would).
 */
function inlineArray(item: CItem, i: number, slot: string): string {
  const call = `H.makeArray(I[${num(i)}], b, d, n, ${num(item.bits)})`;
  const ctor = VIEW_CTOR[item.bits];
  if (ctor === undefined) return `${slot} = ${call};`;
  return `ao = byteOffsetOf.call(b) + d; ${slot} = ao % ${num(item.bits >>> 3)} === 0 ? new ${ctor[item.signed ? 1 : 0]}(bufferOf.call(b), ao, n) : ${call};`;
}

/** Outer-function prelude of decoders: the getters `inlineArray` calls. */
const DECODER_PRELUDE = `const byteOffsetOf = H.byteOffsetOf, bufferOf = H.bufferOf;\n`;

const DECODER_LOCALS = `let o = 0, oi = 0, ao = 0, d = 0, e = 0, e2 = 0, n = 0, nm = 0, bt = 0, inl = false, x = 0, r;`;

/** Source of `function (request, out)`: engine.ts decodeRequest for this plan. */
export function decodeRequestSource(c: CRoutine): string {
  const m = c.request;
  const abi = c.abi;
  const h = abi.header;
  const BAD = num(ReturnCode.MIG_BAD_ARGUMENTS);
  const L: string[] = [`const b = request.bytes;`, `const ool = request.ool;`, DECODER_LOCALS];
  // b.length read once for both checks.
  L.push(`const bl = b.length;`, `if (bl < ${num(abi.headerSize)}) return ${BAD};`, `const size = ${u32("b", num(h.size))};`);
  const sizeOk = m.fixed ? `size !== ${num(m.minSize)}` : `size < ${num(m.minSize)} || size > ${num(m.maxSize)}`;
  L.push(`if (size > bl || ${sizeOk}) return ${BAD};`, `const hb = ${i32("b", num(h.bits))};`);
  if (m.complex !== 2) L.push(`if (hb ${m.complex === 1 ? ">=" : "<"} 0) return ${BAD};`);
  if (c.requestPortSlot >= 0) L.push(`out[${num(c.requestPortSlot)}] = ${u32("b", num(h.localPort))};`);
  if (c.replyPortSlot >= 0) L.push(`out[${num(c.replyPortSlot)}] = ${u32("b", num(h.remotePort))};`);
  if (c.seqnoSlot >= 0) L.push(`out[${num(c.seqnoSlot)}] = ${u32("b", num(h.seqno))};`);
  if (c.requestPortPolySlot >= 0) L.push(`out[${num(c.requestPortPolySlot)}] = (hb >>> 8) & 255;`);
  if (c.replyPortPolySlot >= 0) L.push(`out[${num(c.replyPortPolySlot)}] = hb & 255;`);
  const off = new Offset(abi.headerSize, null);
  decodeItems(L, m, abi, off, ReturnCode.MIG_BAD_ARGUMENTS);
  // A message of fixed size whose items all had static offsets ends where the size check said.
  if (!(m.fixed && off.stat === m.minSize)) L.push(`if (${off.at(0)} !== size) return ${BAD};`);
  for (const item of c.reply.capacityItems) {
    L.push(`x = out[${num(item.count)}];`, `out[${num(item.count)}] = typeof x === "number" ? Math.min(x, ${num(item.max)}) : ${num(item.max)};`);
  }
  L.push(`return 0;`);
  return `${DECODER_PRELUDE}return function decodeRequest(request, out) {\n${L.join("\n")}\n};`;
}

/** Source of `function (reply, out)`: engine.ts decodeReply for this plan. */
export function decodeReplySource(c: CRoutine): string {
  const m = c.reply;
  const abi = c.abi;
  const h = abi.header;
  const TE = num(ReturnCode.MIG_TYPE_ERROR);
  const desc = abi.headerSize;
  const retCodeAt = desc + abi.descriptorSize;
  const L: string[] = [`const b = reply.bytes;`, `const ool = reply.ool;`, DECODER_LOCALS];
  L.push(
    `const bl = b.length;`,
    `if (bl < ${num(abi.headerSize)}) return ${TE};`,
    `const id = ${i32("b", num(h.id))};`,
    `if (id !== ${num(m.id)}) return id === ${num(MACH_NOTIFY_SEND_ONCE)} ? ${num(ReturnCode.MIG_SERVER_DIED)} : ${num(ReturnCode.MIG_REPLY_MISMATCH)};`,
    `const size = ${u32("b", num(h.size))};`,
    `const complex = ${i32("b", num(h.bits))} < 0;`,
  );
  const sizeOk = m.fixed ? `size === ${num(m.minSize)}` : `size >= ${num(m.minSize)} && size <= ${num(m.maxSize)}`;
  const complexOk = m.complex === 2 ? "" : ` && ${m.complex === 1 ? "complex" : "!complex"}`;
  L.push(
    `if (!(size <= bl && ${sizeOk}${complexOk})) {`,
    `if (!(size === ${num(abi.replyHeaderSize)} && size <= bl && !complex && ${i32("b", num(retCodeAt))} !== 0)) return ${TE};`,
    `}`,
  );
  if (abi.descriptorSize === 8) {
    L.push(`if (${num(desc + 8)} > size || (${i32("b", num(desc))} & 1627389951) !== 536879106 || ${u32("b", num(desc + 4))} !== 1) return ${TE};`);
  } else {
    L.push(`if (${num(desc + 4)} > size || (${i32("b", num(desc))} & 1073741823) !== 268509186) return ${TE};`);
  }
  L.push(`x = ${i32("b", num(retCodeAt))};`, `if (x !== 0) return x;`);
  // From here msgh_size passed the expected-size check (an error reply returned above).
  const off = new Offset(abi.headerSize, null);
  decodeItems(L, m, abi, off, ReturnCode.MIG_TYPE_ERROR);
  L.push(m.fixed && off.stat === m.minSize ? `return 0;` : `return ${off.at(0)} === size ? 0 : ${TE};`);
  return `${DECODER_PRELUDE}return function decodeReply(reply, out) {\n${L.join("\n")}\n};`;
}

/** Compiles generated source into a function (`H`: helpers, `I`: the message's compiled items). */
export function instantiate<T>(source: string, helpers: CodecHelpers, items: readonly CItem[]): T {
  return new Function("H", "I", `"use strict";\n${source}`)(helpers, items) as T;
}

/** Whether this environment can compile code at run time (a CSP may forbid it). */
export function canGenerateCode(): boolean {
  try {
    return new Function("return 1")() === 1;
  } catch {
    return false;
  }
}

