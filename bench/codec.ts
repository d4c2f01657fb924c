/**
 * Codec benchmark: encode + decode, in ns/op, of real GNU Mach messages (x86_64 ABI) with the
 * plan-driven codec engine, against two baselines measured in the same run:
 *  - hand-written DataView code that writes and checks/reads exactly the same bytes (goal: the
 *    engine at most 2x slower);
 *  - @bufbuild/protobuf (protobuf-es) `toBinary` + `fromBinary` of an equivalent message (the
 *    same fields and payload bytes; schema and message built once outside the timed loop, as the
 *    engine's value arrays are), from a runtime descriptor (goal: the engine at least 20x faster,
 *    i.e. ratio <= 0.05).
 * One op = encode the message from values, then decode the message as the receiver gets it (the
 * golden vector's delivered bytes, whose port types the kernel has rewritten), then
 * `releaseMessage(m)`: exactly what the MIG stubs run (runtime/mig/stubs.ts and serve.ts give a
 * message's memory back once the kernel has copied it in; the release rewinds the codec's slab
 * only when m is the message encoded last, as it is here and in a stub that sends one message at
 * a time, so the next message is written into the same, already faulted-in memory). Messages of
 * plans of at most 512 bytes are not recorded for release (runtime/codec/memory.ts
 * SLAB_RELEASE_MIN): for the three small messages here the release does nothing, and only
 * i386_set_ldt reuses its memory.
 * Two more columns, for the reader:
 *  - "message kept (no release)": the engine without the release, as for a program that keeps
 *    its messages (every message is then fresh slab memory: page faults and cache misses, most of
 *    an op for the 2 KiB i386_set_ldt);
 *  - the API floor of each (see `floorOp`): what any codec with this API must allocate and copy,
 *    with the memory given back or kept as the engine column does.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { create, createFileRegistry, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Bench } from "tinybench";
import { compileFile } from "../compiler/index.js";
import { routinePlanFromIR } from "../compiler/layout/plan.js";
import { codecMode, decodeReply, decodeRequest, encodeReply, encodeRequest, releaseMessage } from "../runtime/codec/engine.js";
import type { RoutinePlan } from "../runtime/codec/plan.js";
import type { MachMessage } from "../runtime/message.js";
import type { BenchResult } from "./result.js";

const DEFS = "/usr/include/x86_64-linux-gnu";
const VECTORS = join(import.meta.dirname, "../test/fixtures/conformance/x86_64");

// ---------------------------------------------------------------------------------------------
// Inputs: plans from our compiler, delivered messages from the golden vectors.

function plan(defs: string, routine: string): RoutinePlan {
  const { ir, diagnostics } = compileFile(join(DEFS, defs), { abi: "x86_64", includeDirs: [DEFS], defines: ["__x86_64__"] });
  const r = ir?.routines.find((x) => x.name === routine);
  if (!ir || !r) throw new Error(`cannot compile ${defs}: ${diagnostics.map((d) => d.message).join("; ")}`);
  return routinePlanFromIR(r, "x86_64");
}

interface VMessage {
  hex: string;
  ool: Array<{ hex: string }>;
}
function vector(file: string, routine: string, kase: string): { request: MachMessage; reply: MachMessage | null } {
  const data = JSON.parse(readFileSync(join(VECTORS, file), "utf8"));
  const v = data.routines.find((x: { name: string; case: string }) => x.name === routine && x.case === kase);
  const msg = (m: VMessage): MachMessage => ({ bytes: new Uint8Array(Buffer.from(m.hex, "hex")), ool: m.ool.map((r) => new Uint8Array(Buffer.from(r.hex, "hex"))) });
  return { request: msg(v.request_delivered), reply: v.reply_delivered ? msg(v.reply_delivered) : null };
}

let sink: unknown;

/**
 * Message memory for the hand-written code: Node's pooled Buffer (the cheapest idiomatic
 * allocation; measured against explicit zero stores instead of fill(0), and against
 * `new Uint8Array(n)` + DataView, which is several times slower because the DataView forces the
 * on-heap array out to a backing store). Zero-filled because the hand-written code skips pads.
 * The engine carves messages out of its own slabs (runtime/codec/memory.ts).
 */
function alloc(size: number): Uint8Array {
  const b = Buffer.allocUnsafe(size).fill(0);
  return new Uint8Array(b.buffer, b.byteOffset, size);
}

// ---------------------------------------------------------------------------------------------
// Hand-written baselines (what a careful human would write per message with DataView).

function handDpocRequestEncode(port: number, size: bigint): MachMessage {
  const bytes = alloc(48);
  const v = new DataView(bytes.buffer, bytes.byteOffset, 48);
  v.setUint32(0, 0x1513, true);
  v.setUint32(4, 48, true);
  v.setUint32(8, port, true);
  v.setUint32(16, 0x50, true);
  v.setInt32(28, 2275, true);
  v.setUint32(32, 0x2000400b, true);
  v.setUint32(36, 1, true);
  v.setBigUint64(40, size, true);
  return { bytes, ool: [] };
}
function handDpocRequestDecode(m: MachMessage, out: unknown[]): number {
  const b = m.bytes;
  if (b.length < 32) return -304;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(4, true) !== 48 || (v.getUint32(0, true) & 0x80000000) !== 0) return -304;
  if ((v.getUint32(32, true) & 0x7fffffff) !== 0x2000400b || v.getUint32(36, true) !== 1) return -304;
  out[2] = v.getUint32(16, true);
  out[4] = v.getBigUint64(40, true);
  return 0;
}
function handDpocReplyEncode(request: MachMessage, memoryObject: number): MachMessage {
  const rv = new DataView(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength);
  const bytes = alloc(64);
  const v = new DataView(bytes.buffer, bytes.byteOffset, 64);
  v.setUint32(0, ((rv.getUint32(0, true) & 0xff) | 0x80000000) >>> 0, true);
  v.setUint32(4, 64, true);
  v.setUint32(8, rv.getUint32(8, true), true);
  v.setInt32(28, rv.getInt32(28, true) + 100, true);
  v.setUint32(32, 0x20002002, true);
  v.setUint32(36, 1, true);
  v.setInt32(40, 0, true);
  v.setUint32(48, 0x20004014, true);
  v.setUint32(52, 1, true);
  v.setUint32(56, memoryObject, true);
  return { bytes, ool: [] };
}
function handDpocReplyDecode(m: MachMessage, out: unknown[]): number {
  const b = m.bytes;
  if (b.length < 32) return -300;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getInt32(28, true) !== 2375) return -301;
  const size = v.getUint32(4, true);
  const complex = (v.getUint32(0, true) & 0x80000000) !== 0;
  if (!(size === 64 && complex) && !(size === 48 && !complex && v.getInt32(40, true) !== 0)) return -300;
  if ((v.getUint32(32, true) & 0x7fffffff) !== 0x20002002 || v.getUint32(36, true) !== 1) return -300;
  const rc = v.getInt32(40, true);
  if (rc !== 0) return rc;
  if ((v.getUint32(48, true) & 0x7fffffff) !== 0x20004011 || v.getUint32(52, true) !== 1) return -300;
  out[3] = v.getUint32(56, true);
  return 0;
}

function handDataReturnEncode(object: number, control: number, offset: bigint, data: Uint8Array, dirty: boolean, kernelCopy: boolean): MachMessage {
  const bytes = alloc(112);
  const v = new DataView(bytes.buffer, bytes.byteOffset, 112);
  v.setUint32(0, 0x80000013, true);
  v.setUint32(4, 112, true);
  v.setUint32(8, object, true);
  v.setInt32(28, 2208, true);
  v.setUint32(32, 0x20004014, true);
  v.setUint32(36, 1, true);
  v.setUint32(40, control, true);
  v.setUint32(48, 0x2000400b, true);
  v.setUint32(52, 1, true);
  v.setBigUint64(56, offset, true);
  v.setUint32(64, 0x40000809, true);
  v.setUint32(68, data.length, true);
  v.setUint32(80, 0x20002000, true);
  v.setUint32(84, 1, true);
  v.setUint32(88, dirty ? 1 : 0, true);
  v.setUint32(96, 0x20002000, true);
  v.setUint32(100, 1, true);
  v.setUint32(104, kernelCopy ? 1 : 0, true);
  return { bytes, ool: [data] };
}
function handDataReturnDecode(m: MachMessage, out: unknown[]): number {
  const b = m.bytes;
  if (b.length < 32) return -304;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(4, true) !== 112 || (v.getUint32(0, true) & 0x80000000) === 0) return -304;
  if ((v.getUint32(32, true) & 0x7fffffff) !== 0x20004011 || v.getUint32(36, true) !== 1) return -304;
  if ((v.getUint32(48, true) & 0x7fffffff) !== 0x2000400b || v.getUint32(52, true) !== 1) return -304;
  const w = v.getUint32(64, true);
  if ((w & 0x7fffffff) !== 0x40000809) return -304;
  const n = v.getUint32(68, true);
  if ((v.getUint32(80, true) & 0x7fffffff) !== 0x20002000 || v.getUint32(84, true) !== 1) return -304;
  if ((v.getUint32(96, true) & 0x7fffffff) !== 0x20002000 || v.getUint32(100, true) !== 1) return -304;
  const region = m.ool[0];
  if (!region || region.length < n) return -304;
  out[0] = v.getUint32(16, true);
  out[2] = v.getUint32(40, true);
  out[3] = v.getBigUint64(56, true);
  out[4] = region.subarray(0, n);
  out[5] = n;
  out[6] = v.getUint32(88, true);
  out[7] = v.getUint32(104, true);
  return 0;
}

function handSetLdtEncode(thread: number, first: number, desc: Uint8Array): MachMessage {
  const n = desc.length >>> 2;
  const size = 56 + ((desc.length + 7) & ~7);
  const bytes = alloc(size);
  const v = new DataView(bytes.buffer, bytes.byteOffset, size);
  v.setUint32(0, 0x1513, true);
  v.setUint32(4, size, true);
  v.setUint32(8, thread, true);
  v.setUint32(16, 0x50, true);
  v.setInt32(28, 3803, true);
  v.setUint32(32, 0x20002002, true);
  v.setUint32(36, 1, true);
  v.setInt32(40, first, true);
  v.setUint32(48, 0x60002002, true);
  v.setUint32(52, n, true);
  bytes.set(desc, 56);
  return { bytes, ool: [] };
}
function handSetLdtDecode(m: MachMessage, out: unknown[]): number {
  const b = m.bytes;
  if (b.length < 32) return -304;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const size = v.getUint32(4, true);
  if (size < 56 || size > b.length) return -304;
  if ((v.getUint32(32, true) & 0x7fffffff) !== 0x20002002 || v.getUint32(36, true) !== 1) return -304;
  const w = v.getUint32(48, true);
  const n = v.getUint32(52, true);
  if ((w & 0x5fffffff) !== 0x40002002 || n > 512 || n % 2 !== 0) return -304;
  if ((w & 0x20000000) === 0 || 56 + ((n * 4 + 7) & ~7) !== size) return -304;
  out[0] = v.getUint32(16, true);
  out[2] = v.getInt32(40, true);
  out[3] = new Int32Array(b.buffer, b.byteOffset + 56, n);
  out[4] = n >>> 1;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// protobuf-es: equivalent messages from a runtime-built descriptor.

function protobufSchemas(): Record<string, DescMessage> {
  const T = { uint32: 13, uint64: 4, int32: 5, bool: 8, bytes: 12 } as const;
  const field = (name: string, number: number, type: number) => ({ name, number, type, label: 1, jsonName: name });
  const file = create(FileDescriptorProtoSchema, {
    name: "bench/mach.proto",
    package: "bench",
    syntax: "proto3",
    messageType: [
      { name: "ObjectCreateRequest", field: [field("default_pager", 1, T.uint32), field("reply", 2, T.uint32), field("object_size", 3, T.uint64)] },
      { name: "ObjectCreateReply", field: [field("ret_code", 1, T.int32), field("memory_object", 2, T.uint32)] },
      {
        name: "DataReturn",
        field: [
          field("memory_object", 1, T.uint32),
          field("memory_control", 2, T.uint32),
          field("offset", 3, T.uint64),
          field("data", 4, T.bytes),
          field("dirty", 5, T.bool),
          field("kernel_copy", 6, T.bool),
        ],
      },
      { name: "SetLdt", field: [field("target_thread", 1, T.uint32), field("first_selector", 2, T.int32), field("desc_list", 3, T.bytes)] },
    ],
  });
  const registry = createFileRegistry(file, () => undefined);
  const get = (name: string) => registry.getMessage(`bench.${name}`)!;
  return { create: get("ObjectCreateRequest"), reply: get("ObjectCreateReply"), dataReturn: get("DataReturn"), setLdt: get("SetLdt") };
}

// ---------------------------------------------------------------------------------------------

interface Scenario {
  name: string;
  /** Encode, decode, release: what the stubs run. */
  engine: () => void;
  /** Encode and decode; the message is kept (never given back). */
  engineKept: () => void;
  hand: () => void;
  protobuf: () => void;
  /** What any codec with this API must allocate and copy per op (see `floorOp`); not a goal. */
  floor: () => void;
  /** The floor when the message is kept. */
  floorKept: () => void;
}

// ---------------------------------------------------------------------------------------------
// The floor: the part of an op that the API itself requires, whatever the codec does. Encoding
// returns a MachMessage: fresh memory of the message's size that nothing else will write (here
// carved from a 128 KiB slab, as the engine does), a Uint8Array of exactly that size, the
// {bytes, ool} object, an array of out-of-line regions when there are some, and the inline data
// copied in; decoding creates a bigint per 64-bit value and a typed array per array value. No
// descriptor, header or check is written or read: the engine's time minus this is what the
// codec itself costs. With `release` the memory is given back at the end of the op (the slab
// rewound), as the engine column's releaseMessage does; without it every op takes fresh memory.

const FLOOR_SLAB = 128 * 1024;
let floorSlab = new ArrayBuffer(FLOOR_SLAB);
let floorU8 = new Uint8Array(floorSlab);
let floorUsed = FLOOR_SLAB;
const floorHalves = new Int32Array(2);
const floorWide = new BigUint64Array(floorHalves.buffer);
const NO_REGIONS: Uint8Array[] = [];

function floorOp(size: number, inline: Uint8Array | null, regions: Uint8Array[] | null, bigints: number, arrayBytes: number, release: boolean): unknown {
  if (floorUsed + size > FLOOR_SLAB) {
    floorSlab = Buffer.allocUnsafeSlow(FLOOR_SLAB).buffer as ArrayBuffer;
    floorU8 = new Uint8Array(floorSlab);
    floorUsed = 0;
  }
  const base = floorUsed;
  floorUsed = base + ((size + 7) & ~7);
  if (inline !== null) floorU8.set(inline, base + size - inline.length);
  const message = { bytes: new Uint8Array(floorSlab, base, size), ool: regions === null ? NO_REGIONS : [regions[0]] };
  let last: unknown = message;
  for (let i = 0; i < bigints; i++) {
    floorHalves[0] = i;
    floorHalves[1] = 0x8000;
    last = floorWide[0];
  }
  if (arrayBytes > 0) last = new Int32Array(message.bytes.buffer, message.bytes.byteOffset + size - arrayBytes, arrayBytes >>> 2);
  if (release) floorUsed = base;
  return last;
}

function scenarios(): Scenario[] {
  const pb = protobufSchemas();
  const dpoc = plan("mach/default_pager.defs", "default_pager_object_create");
  const dpocV = vector("default_pager.json", "default_pager_object_create", "random");
  const modr = plan("mach/memory_object.defs", "memory_object_data_return");
  const modrV = vector("memory_object.json", "memory_object_data_return", "max");
  const ldt = plan("mach/x86_64/mach_i386.defs", "i386_set_ldt");
  const ldtV = vector("mach_i386.json", "i386_set_ldt", "max");

  const slots = (p: RoutinePlan) => new Array<unknown>(p.args.length);
  const slot = (p: RoutinePlan, name: string) => p.args.indexOf(name);

  // default_pager_object_create request
  const dpocIn = slots(dpoc);
  dpocIn[slot(dpoc, "default_pager")] = 0x100;
  dpocIn[slot(dpoc, "object_size")] = 0x8000_0000_0000_1000n;
  const dpocOut = slots(dpoc);
  // default_pager_object_create reply
  const dpocReplyIn = slots(dpoc);
  dpocReplyIn[slot(dpoc, "memory_object")] = 0x301;
  // memory_object_data_return with 4 KiB out of line
  const page = new Uint8Array(4096).map((_, i) => i & 0xff);
  const modrIn = slots(modr);
  modrIn[slot(modr, "memory_object")] = 0x100;
  modrIn[slot(modr, "memory_control")] = 0x101;
  modrIn[slot(modr, "offset")] = 0x10000n;
  modrIn[slot(modr, "data")] = page;
  modrIn[slot(modr, "dirty")] = 1;
  modrIn[slot(modr, "kernel_copy")] = 0;
  const modrOut = slots(modr);
  // i386_set_ldt with a 2 KiB inline array
  const ldtDesc = new Uint8Array(2048).map((_, i) => (i * 7) & 0xff);
  const ldtIn = slots(ldt);
  ldtIn[slot(ldt, "target_thread")] = 0x100;
  ldtIn[slot(ldt, "first_selector")] = 7;
  ldtIn[slot(ldt, "desc_list")] = ldtDesc;
  const ldtOut = slots(ldt);

  const check = (code: unknown) => {
    if (typeof code === "number" && code !== 0) throw new Error(`codec returned ${code}`);
  };
  // Every path must succeed before it is timed.
  check(decodeRequest(dpoc, dpocV.request, dpocOut));
  check(decodeReply(dpoc, dpocV.reply!, dpocOut));
  check(decodeRequest(modr, modrV.request, modrOut));
  check(decodeRequest(ldt, ldtV.request, ldtOut));
  check(handDpocRequestDecode(dpocV.request, dpocOut));
  check(handDpocReplyDecode(dpocV.reply!, dpocOut));
  check(handDataReturnDecode(modrV.request, modrOut));
  check(handSetLdtDecode(ldtV.request, ldtOut));
  const hexOf = (m: MachMessage | number) => (typeof m === "number" ? String(m) : Buffer.from(m.bytes).toString("hex"));
  const same = (a: MachMessage | number, b: MachMessage | number, what: string) => {
    if (hexOf(a) !== hexOf(b)) throw new Error(`${what}: engine and hand-written bytes differ`);
  };
  same(encodeRequest(dpoc, dpocIn, 0x50), handDpocRequestEncode(0x100, 0x8000_0000_0000_1000n), "dpoc request");
  same(encodeReply(dpoc, dpocV.request, dpocReplyIn), handDpocReplyEncode(dpocV.request, 0x301), "dpoc reply");
  same(encodeRequest(modr, modrIn), handDataReturnEncode(0x100, 0x101, 0x10000n, page, true, false), "data_return");
  same(encodeRequest(ldt, ldtIn, 0x50), handSetLdtEncode(0x100, 7, ldtDesc), "set_ldt");

  // protobuf-es messages with the same fields and payload bytes, built once outside the timed
  // loop (as the engine's value arrays are). protobuf-es init objects use the fields' camelCase
  // local names; check every field really travels, so each side moves the same information.
  const pbCreate = create(pb.create, { defaultPager: 0x100, reply: 0x50, objectSize: 0x8000_0000_0000_1000n } as never);
  const pbReply = create(pb.reply, { retCode: 0, memoryObject: 0x301 } as never);
  const pbDataReturn = create(pb.dataReturn, { memoryObject: 0x100, memoryControl: 0x101, offset: 0x10000n, data: page, dirty: true, kernelCopy: false } as never);
  const pbSetLdt = create(pb.setLdt, { targetThread: 0x100, firstSelector: 7, descList: ldtDesc } as never);
  const pbCheck = (schema: DescMessage, message: object, minBytes: number, what: string) => {
    const bytes = toBinary(schema, message as never);
    if (bytes.length < minBytes) throw new Error(`${what}: protobuf-es encoded ${bytes.length} bytes, expected at least ${minBytes}`);
    const back = fromBinary(schema, bytes) as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(message)) {
      if (key === "$typeName") continue;
      const same = value instanceof Uint8Array ? Buffer.from(value).equals(Buffer.from(back[key] as Uint8Array)) : back[key] === value;
      if (!same) throw new Error(`${what}: protobuf-es field ${key} did not round-trip`);
    }
    return bytes.length;
  };
  // Every non-zero field present: tag + varint sizes (proto3 leaves zero values out, as it must).
  pbBytes.create = pbCheck(pb.create, pbCreate, 3 + 2 + 11, "dpoc request");
  pbBytes.reply = pbCheck(pb.reply, pbReply, 3, "dpoc reply");
  pbBytes.dataReturn = pbCheck(pb.dataReturn, pbDataReturn, 4096, "data_return");
  pbBytes.setLdt = pbCheck(pb.setLdt, pbSetLdt, 2048, "set_ldt");

  const pbOut: unknown[] = [];
  return [
    {
      name: "default_pager_object_create request",
      engine: () => {
        const m = encodeRequest(dpoc, dpocIn, 0x50) as MachMessage;
        sink = decodeRequest(dpoc, dpocV.request, dpocOut) + m.bytes.length;
        releaseMessage(m);
      },
      engineKept: () => {
        const m = encodeRequest(dpoc, dpocIn, 0x50) as MachMessage;
        sink = decodeRequest(dpoc, dpocV.request, dpocOut) + m.bytes.length;
      },
      hand: () => {
        const m = handDpocRequestEncode(0x100, 0x8000_0000_0000_1000n);
        sink = handDpocRequestDecode(dpocV.request, dpocOut) + m.bytes.length;
      },
      protobuf: () => {
        pbOut[0] = fromBinary(pb.create, toBinary(pb.create, pbCreate));
      },
      floor: () => {
        sink = floorOp(48, null, null, 1, 0, true);
      },
      floorKept: () => {
        sink = floorOp(48, null, null, 1, 0, false);
      },
    },
    {
      name: "default_pager_object_create reply",
      engine: () => {
        const m = encodeReply(dpoc, dpocV.request, dpocReplyIn) as MachMessage;
        sink = decodeReply(dpoc, dpocV.reply!, dpocOut) + m.bytes.length;
        releaseMessage(m);
      },
      engineKept: () => {
        const m = encodeReply(dpoc, dpocV.request, dpocReplyIn) as MachMessage;
        sink = decodeReply(dpoc, dpocV.reply!, dpocOut) + m.bytes.length;
      },
      hand: () => {
        const m = handDpocReplyEncode(dpocV.request, 0x301);
        sink = handDpocReplyDecode(dpocV.reply!, dpocOut) + m.bytes.length;
      },
      protobuf: () => {
        pbOut[0] = fromBinary(pb.reply, toBinary(pb.reply, pbReply));
      },
      floor: () => {
        sink = floorOp(64, null, null, 0, 0, true);
      },
      floorKept: () => {
        sink = floorOp(64, null, null, 0, 0, false);
      },
    },
    {
      name: "memory_object_data_return 4 KiB out of line",
      engine: () => {
        const m = encodeRequest(modr, modrIn) as MachMessage;
        sink = decodeRequest(modr, modrV.request, modrOut) + m.bytes.length;
        releaseMessage(m);
      },
      engineKept: () => {
        const m = encodeRequest(modr, modrIn) as MachMessage;
        sink = decodeRequest(modr, modrV.request, modrOut) + m.bytes.length;
      },
      hand: () => {
        const m = handDataReturnEncode(0x100, 0x101, 0x10000n, page, true, false);
        sink = handDataReturnDecode(modrV.request, modrOut) + m.bytes.length;
      },
      protobuf: () => {
        pbOut[0] = fromBinary(pb.dataReturn, toBinary(pb.dataReturn, pbDataReturn));
      },
      floor: () => {
        sink = floorOp(112, null, [page], 1, 0, true);
      },
      floorKept: () => {
        sink = floorOp(112, null, [page], 1, 0, false);
      },
    },
    {
      name: "i386_set_ldt 2 KiB inline array",
      engine: () => {
        const m = encodeRequest(ldt, ldtIn, 0x50) as MachMessage;
        sink = decodeRequest(ldt, ldtV.request, ldtOut) + m.bytes.length;
        releaseMessage(m);
      },
      engineKept: () => {
        const m = encodeRequest(ldt, ldtIn, 0x50) as MachMessage;
        sink = decodeRequest(ldt, ldtV.request, ldtOut) + m.bytes.length;
      },
      hand: () => {
        const m = handSetLdtEncode(0x100, 7, ldtDesc);
        sink = handSetLdtDecode(ldtV.request, ldtOut) + m.bytes.length;
      },
      protobuf: () => {
        pbOut[0] = fromBinary(pb.setLdt, toBinary(pb.setLdt, pbSetLdt));
      },
      floor: () => {
        sink = floorOp(2104, ldtDesc, null, 0, 2048, true);
      },
      floorKept: () => {
        sink = floorOp(2104, ldtDesc, null, 0, 2048, false);
      },
    },
  ];
}

/** protobuf-es encoded sizes of the four messages (filled by `scenarios`). */
const pbBytes: Record<string, number> = {};

/** Runs the codec benchmark; prints a table and returns its results. */
export async function runCodecBench(options: { time?: number; rounds?: number } = {}): Promise<BenchResult[]> {
  const list = scenarios();
  console.log(`protobuf-es message sizes (bytes): ${Object.entries(pbBytes).map(([k, n]) => `${k} ${n}`).join(", ")}`);
  // Each sample runs a batch of ops, so the timer's own cost (about a microsecond) does not
  // swamp operations that take tens of nanoseconds.
  const batch = 200;
  const batched = (fn: () => void) => () => {
    for (let i = 0; i < batch; i++) fn();
  };
  // The machines are shared: run the whole set several times in short rounds, so the contenders
  // of a row see the same load, and keep each task's median over the rounds.
  const rounds = options.rounds ?? 7;
  const samples = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({ time: options.time ?? 80, warmup: round === 0 });
    for (const s of list) {
      bench.add(`${s.name} [engine]`, batched(s.engine));
      bench.add(`${s.name} [engine, message kept]`, batched(s.engineKept));
      bench.add(`${s.name} [hand-written]`, batched(s.hand));
      bench.add(`${s.name} [protobuf-es]`, batched(s.protobuf));
      bench.add(`${s.name} [floor]`, batched(s.floor));
      bench.add(`${s.name} [floor, message kept]`, batched(s.floorKept));
    }
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result as { latency?: { mean: number; p50?: number } } | undefined;
      const ms = result?.latency?.p50 ?? result?.latency?.mean ?? NaN;
      let list2 = samples.get(task.name);
      if (!list2) samples.set(task.name, (list2 = []));
      list2.push((ms * 1e6) / batch);
    }
  }
  const ns = (name: string) => {
    const values = [...(samples.get(name) ?? [NaN])].sort((a, b) => a - b);
    return values[values.length >> 1];
  };
  const results: BenchResult[] = [];
  const rows: string[][] = [
    [
      "message",
      "engine ns/op",
      "hand-written ns/op",
      "ratio (goal <= 2)",
      "protobuf-es ns/op",
      "speed-up (goal >= 20)",
      "API floor ns/op",
      "message kept (no release) ns/op",
      "kept speed-up",
      "kept API floor ns/op",
    ],
  ];
  for (const s of list) {
    const engine = ns(`${s.name} [engine]`);
    const hand = ns(`${s.name} [hand-written]`);
    const proto = ns(`${s.name} [protobuf-es]`);
    const floor = ns(`${s.name} [floor]`);
    const kept = ns(`${s.name} [engine, message kept]`);
    const floorKept = ns(`${s.name} [floor, message kept]`);
    results.push({ name: `${s.name} vs hand-written DataView`, value: round(engine), unit: "ns/op", baseline: round(hand), ratio: round(engine / hand, 3), goal: 2, goalOp: "<=" });
    results.push({ name: `${s.name} vs protobuf-es`, value: round(engine), unit: "ns/op", baseline: round(proto), ratio: round(engine / proto, 4), goal: 0.05, goalOp: "<=" });
    rows.push([
      s.name,
      round(engine).toString(),
      round(hand).toString(),
      round(engine / hand, 2).toString(),
      round(proto).toString(),
      `${round(proto / engine, 1)}x`,
      round(floor).toString(),
      round(kept).toString(),
      `${round(proto / kept, 1)}x`,
      round(floorKept).toString(),
    ]);
  }
  printTable(rows);
  console.log(`codec path: ${codecMode()} (MIG_TS_CODEC=interpret for the interpreter)`);
  return results;
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join("  "));
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
}

void sink;
