/**
 * The conformance suite: runs GNU MIG's golden vectors (see test/fixtures/conformance/README.md)
 * through OUR compiler (compileFile -> IR layouts -> message plans) and the codec engine the
 * generated stubs use. For every vector:
 *   (a) client encode of `args`             == `request` (bytes with undefined ranges masked, OOL regions)
 *   (b) server decode of `request_delivered` == `server.params` (and seqno)
 *   (c) server encode of `server.outs`       == `reply` (or `demux_reply_unsent` for simpleroutines)
 *   (d) client decode of `reply_delivered`   == `outs` and `retcode`
 * and for every `errors` entry (e): the error reply the demux builds and the client's retcode.
 * Overflow vectors expect MIG_ARRAY_TOO_LARGE from the encoder and no request.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compileFile } from "../../compiler/index.js";
import type { InterfaceIR, IrArgument, IrRoutine } from "../../compiler/layout/ir.js";
import { routinePlanFromIR, subsystemPlanFromIR } from "../../compiler/layout/plan.js";
import {
  decodeReply,
  decodeRequest,
  encodeErrorReply,
  encodeReply,
  encodeRequest,
  lookupRoutine,
  messageId,
} from "../../runtime/codec/engine.js";
import type { RoutinePlan, SubsystemPlan } from "../../runtime/codec/plan.js";
import { ReturnCode } from "../../runtime/constants.js";
import type { MachMessage } from "../../runtime/message.js";

// ---------------------------------------------------------------------------------------------
// Vector JSON shapes (the fields we use).

export interface VMessage {
  size: number;
  hex: string;
  ool: Array<{ offset: number; length: number; hex: string; null_pointer?: boolean }>;
  undefined: Array<[number, number]>;
}
export interface VArg {
  name: string;
  dir: string;
  shape: string;
  value?: unknown;
  capacity?: string;
}
export interface VRoutine {
  name: string;
  kind: string;
  id: number;
  case: string;
  args: VArg[];
  request: VMessage | null;
  request_delivered: VMessage | null;
  reply: VMessage | null;
  reply_delivered: VMessage | null;
  demux_reply_unsent?: VMessage;
  seqno_delivered: number;
  outs: Record<string, unknown> | null;
  retcode: string;
  server: { params: VArg[]; outs: Record<string, unknown> | null; called: boolean };
}
export interface VError {
  routine: string;
  kind: string;
  request_delivered: VMessage;
  reply: VMessage;
  reply_sent: boolean;
  reply_retcode: string;
  user_retcode: string;
  server_called: boolean;
  mutated_msgh_id?: number;
  server_return?: string;
}
export interface VFile {
  abi: "x86_64" | "i386";
  defs: string;
  cppflags: string[];
  subsystem: string;
  routines: VRoutine[];
  errors: Record<string, VError>;
}

export interface ConformanceOptions {
  vectors: string;
  defsRoot: string;
  includeDirs?: string[];
  defines?: string[];
  /** Only these ABIs (default: every ABI in index.json). */
  abis?: string[];
}

export interface CheckCounts {
  passed: number;
  total: number;
}

export interface AbiResult {
  passed: number;
  total: number;
  /** Per check: a (request encode), b (request decode), c (reply encode), d (reply decode), e (errors). */
  checks: Record<"a" | "b" | "c" | "d" | "e", CheckCounts>;
  /** Per vector case (random, zero, one, max, min, ool, overflow, and the error kinds). */
  cases: Record<string, CheckCounts>;
}

export interface ConformanceResult {
  abis: Record<string, AbiResult>;
  failures: string[];
}

// ---------------------------------------------------------------------------------------------
// Helpers.

function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, "hex"));
}
function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function vectorMessage(m: VMessage): MachMessage {
  return { bytes: fromHex(m.hex), ool: m.ool.map((r) => (r.null_pointer ? new Uint8Array(0) : fromHex(r.hex))) };
}

/** Compares our message with a vector's, masking its undefined ranges; returns a problem or null. */
export function compareMessage(ours: MachMessage, expected: VMessage): string | null {
  const bytes = new Uint8Array(ours.bytes);
  for (const [offset, length] of expected.undefined) bytes.fill(0, offset, offset + length);
  const got = toHex(bytes);
  if (got !== expected.hex) return `bytes differ:\n      ours     ${got}\n      expected ${expected.hex}`;
  if (ours.ool.length !== expected.ool.length) return `OOL regions: ours ${ours.ool.length}, expected ${expected.ool.length}`;
  for (let i = 0; i < ours.ool.length; i++) {
    const e = expected.ool[i];
    const g = toHex(ours.ool[i].subarray(0, e.length));
    if (ours.ool[i].length !== e.length || g !== e.hex) return `OOL region ${i} differs (ours ${ours.ool[i].length} bytes, expected ${e.length})`;
  }
  return null;
}

function bitsOf(arg: IrArgument): number {
  return arg.type.size;
}

/** A vector's argument value in the codec's value model. */
export function toValue(arg: IrArgument, v: VArg): unknown {
  const value = v.value;
  switch (v.shape) {
    case "int":
    case "count":
    case "disposition":
    case "port":
      return bitsOf(arg) === 64 && v.shape === "int" ? BigInt(value as string) : Number(value as string);
    case "dealloc":
      return Number(value as string) !== 0;
    case "bytes":
      return fromHex(value as string);
    case "string":
    case "varstring":
      return value as string;
    case "array": {
      const a = value as { count: string; elem_size: number; hex?: string; names?: string[] };
      if (a.names) return Uint32Array.from(a.names.map((n) => Number(n)));
      return fromHex(a.hex ?? "");
    }
    default:
      return value;
  }
}

function bytesOfValue(v: unknown): Uint8Array | null {
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return null;
}

/** Compares a decoded slot value with a vector value of the given shape. */
export function sameValue(arg: IrArgument, shape: string, ours: unknown, expected: unknown, count?: unknown): boolean {
  switch (shape) {
    case "int":
    case "count":
    case "disposition":
    case "port": {
      if (ours === undefined || ours === null || typeof ours === "object") return false;
      const bits = shape === "int" ? Math.max(bitsOf(arg), 32) : 32;
      const a = BigInt.asUintN(bits, BigInt(ours as number | bigint));
      const b = BigInt.asUintN(bits, BigInt(expected as string));
      return a === b;
    }
    case "dealloc":
    case "servercopy":
      return Number(Boolean(ours)) === Number(expected);
    case "bytes": {
      const b = bytesOfValue(ours);
      return b !== null && toHex(b) === expected;
    }
    case "string":
    case "varstring":
      return ours === expected;
    case "array": {
      const a = expected as { count: string; elem_size: number; hex?: string; names?: string[] };
      if (count !== undefined && Number(count) !== Number(a.count)) return false;
      if (a.names) {
        if (!(ours instanceof Uint32Array)) return false;
        return ours.length === a.names.length && a.names.every((n, i) => ours[i] === Number(n) >>> 0);
      }
      const b = bytesOfValue(ours);
      return b !== null && toHex(b) === (a.hex ?? "");
    }
    default:
      return false;
  }
}

export function describeValue(v: unknown): string {
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${toHex(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))})`;
  if (typeof v === "bigint") return `${v}n`;
  return JSON.stringify(v);
}

// ---------------------------------------------------------------------------------------------
// One vector file.

interface Compiled {
  ir: InterfaceIR;
  plans: Map<string, RoutinePlan>;
  routines: Map<string, IrRoutine>;
  subsystem: SubsystemPlan;
}

function compileVectors(file: VFile, options: ConformanceOptions): Compiled | string {
  const defines = [...(options.defines ?? [])];
  for (const flag of file.cppflags) if (flag.startsWith("-D")) defines.push(flag.slice(2));
  if (file.abi === "x86_64") defines.push("__x86_64__");
  const result = compileFile(join(options.defsRoot, file.defs), {
    abi: file.abi,
    includeDirs: [...(options.includeDirs ?? []), options.defsRoot],
    defines,
  });
  if (!result.ir) {
    return `compile ${file.defs} (${file.abi}) failed: ${result.diagnostics.map((d) => d.message).slice(0, 3).join("; ")}`;
  }
  const ir = result.ir;
  const plans = new Map<string, RoutinePlan>();
  const routines = new Map<string, IrRoutine>();
  for (const r of ir.routines) {
    plans.set(r.name, routinePlanFromIR(r, file.abi));
    routines.set(r.name, r);
  }
  return { ir, plans, routines, subsystem: subsystemPlanFromIR(ir) };
}

export class Tally {
  result: AbiResult = {
    passed: 0,
    total: 0,
    checks: { a: { passed: 0, total: 0 }, b: { passed: 0, total: 0 }, c: { passed: 0, total: 0 }, d: { passed: 0, total: 0 }, e: { passed: 0, total: 0 } },
    cases: {},
  };
  check(which: keyof AbiResult["checks"], ok: boolean): boolean {
    this.result.checks[which].total++;
    if (ok) this.result.checks[which].passed++;
    return ok;
  }
  vector(caseName: string, ok: boolean): void {
    this.result.total++;
    if (ok) this.result.passed++;
    const c = (this.result.cases[caseName] ??= { passed: 0, total: 0 });
    c.total++;
    if (ok) c.passed++;
  }
}

export function argIndex(routine: IrRoutine, name: string): number {
  return routine.args.findIndex((a) => a.name === name);
}

function runRoutineVector(v: VRoutine, c: Compiled, tally: Tally, fail: (m: string) => void): boolean {
  const plan = c.plans.get(v.name);
  const routine = c.routines.get(v.name);
  if (!plan || !routine) {
    fail(`routine not in our IR`);
    for (const k of ["a", "b", "c", "d"] as const) tally.check(k, false);
    return false;
  }
  let ok = true;

  // (a) client encode.
  const values: unknown[] = new Array(routine.args.length);
  for (const a of v.args) {
    const i = argIndex(routine, a.name);
    if (i < 0) {
      if (a.value !== undefined && a.dir !== "waittime" && a.dir !== "msgoption") fail(`(a) argument ${a.name} not in our routine`);
      continue;
    }
    if (a.value !== undefined) values[i] = toValue(routine.args[i], a);
  }
  const encoded = encodeRequest(plan, values, 0x50);
  let okA: boolean;
  if (v.request === null) {
    okA = encoded === Number(v.retcode);
    if (!okA) fail(`(a) expected retcode ${v.retcode} and no request, got ${typeof encoded === "number" ? encoded : "a message"}`);
  } else if (typeof encoded === "number") {
    okA = false;
    fail(`(a) encodeRequest returned ${encoded}`);
  } else {
    const problem = compareMessage(encoded, v.request);
    okA = problem === null;
    if (problem) fail(`(a) request ${problem}`);
  }
  ok = tally.check("a", okA) && ok;
  if (v.request === null) return ok;

  // (b) server decode of the delivered request.
  let okB = true;
  const decoded: unknown[] = new Array(routine.args.length);
  const code = decodeRequest(plan, vectorMessage(v.request_delivered!), decoded);
  if (code !== 0) {
    okB = false;
    fail(`(b) decodeRequest returned ${code}`);
  } else {
    for (const p of v.server.params) {
      const i = argIndex(routine, p.name);
      if (p.dir === "msgseqno") {
        if (i < 0 || Number(decoded[i]) !== v.seqno_delivered || Number(p.value) !== v.seqno_delivered) {
          okB = false;
          fail(`(b) seqno: ours ${describeValue(decoded[i])}, expected ${v.seqno_delivered}`);
        }
        continue;
      }
      const expected = p.value !== undefined ? p.value : p.capacity !== undefined && p.shape === "count" ? p.capacity : undefined;
      if (expected === undefined) continue;
      if (expected === null) {
        // No capacity offered (indefinite out arrays without CountInOut).
        if (i >= 0 && decoded[i] !== undefined) {
          okB = false;
          fail(`(b) ${p.name}: ours ${describeValue(decoded[i])}, expected none`);
        }
        continue;
      }
      if (i < 0) {
        okB = false;
        fail(`(b) parameter ${p.name} not in our routine`);
        continue;
      }
      const countName = routine.args.find((a) => a.kind === "count" && a.parent === p.name)?.name;
      const count = countName ? decoded[argIndex(routine, countName)] : undefined;
      if (!sameValue(routine.args[i], p.shape, decoded[i], expected, count)) {
        okB = false;
        fail(`(b) ${p.name}: ours ${describeValue(decoded[i])}, expected ${JSON.stringify(expected)}`);
      }
    }
  }
  ok = tally.check("b", okB) && ok;

  // (c) server encode of the reply.
  const expectedReply = v.kind === "simpleroutine" ? v.demux_reply_unsent ?? null : v.reply;
  let okC = true;
  if (expectedReply) {
    const outs: unknown[] = decoded.slice();
    for (const [name, value] of Object.entries(v.server.outs ?? {})) {
      const i = argIndex(routine, name);
      if (i < 0) {
        okC = false;
        fail(`(c) out ${name} not in our routine`);
        continue;
      }
      const arg = routine.args[i];
      const shape = shapeOf(routine, arg, value);
      outs[i] = toValue(arg, { name, dir: "out", shape, value });
    }
    const reply = encodeReply(plan, vectorMessage(v.request_delivered!), outs);
    if (typeof reply === "number") {
      okC = false;
      fail(`(c) encodeReply returned ${reply}`);
    } else {
      const problem = compareMessage(reply, expectedReply);
      if (problem) {
        okC = false;
        fail(`(c) reply ${problem}`);
      }
    }
  }
  ok = tally.check("c", okC) && ok;

  // (d) client decode of the delivered reply.
  let okD = true;
  if (v.kind === "routine" && v.reply_delivered) {
    const outs: unknown[] = new Array(routine.args.length);
    const retcode = decodeReply(plan, vectorMessage(v.reply_delivered), outs);
    if (retcode !== Number(v.retcode)) {
      okD = false;
      fail(`(d) decodeReply returned ${retcode}, expected ${v.retcode}`);
    } else {
      for (const [name, value] of Object.entries(v.outs ?? {})) {
        const i = argIndex(routine, name);
        if (i < 0) {
          okD = false;
          fail(`(d) out ${name} not in our routine`);
          continue;
        }
        const arg = routine.args[i];
        const shape = shapeOf(routine, arg, value);
        const countName = routine.args.find((a) => a.kind === "count" && a.parent === name)?.name;
        const count = countName ? outs[argIndex(routine, countName)] : undefined;
        if (!sameValue(arg, shape, outs[i], value, count)) {
          okD = false;
          fail(`(d) ${name}: ours ${describeValue(outs[i])}, expected ${JSON.stringify(value)}`);
        }
      }
    }
  }
  ok = tally.check("d", okD) && ok;
  return ok;
}

/** The vector shape of an out value (outs maps carry no shape). */
export function shapeOf(routine: IrRoutine, arg: IrArgument, value: unknown): string {
  if (arg.kind === "count") return "count";
  if (arg.kind === "poly") return "disposition";
  if (typeof value === "object" && value !== null) return "array";
  const t = arg.type;
  if (t.isString || t.inName === 12) return t.varArray ? "varstring" : "string";
  if (t.isPort) return "port";
  if (t.element || t.number > 1) return "bytes";
  void routine;
  return "int";
}

function runErrorVector(kind: string, e: VError, c: Compiled, file: VFile, tally: Tally, fail: (m: string) => void): boolean {
  const plan = c.plans.get(e.routine);
  if (!plan) {
    fail(`routine not in our IR`);
    return tally.check("e", false);
  }
  const request = vectorMessage(e.request_delivered);
  const headerSize = file.abi === "i386" ? 24 : 32;
  if (request.bytes.length < headerSize) {
    // A truncated header-only request: msgh_size says 4 bytes fewer than the header, but the
    // demux's buffer still holds the whole header, so MIG reads msgh_id (the last 4 bytes) from it.
    const bytes = new Uint8Array(headerSize);
    bytes.set(request.bytes);
    new DataView(bytes.buffer).setInt32(headerSize - 4, (e as unknown as { id: number }).id, true);
    request.bytes = bytes;
  }
  // The demux: look the id up, decode, "call" the server function, build the reply.
  const target = lookupRoutine(c.subsystem, messageId(file.abi, request));
  let reply: MachMessage | number;
  let called = false;
  if (!target) {
    reply = encodeErrorReply(file.abi, request, ReturnCode.MIG_BAD_ID);
  } else {
    const values: unknown[] = new Array(target.args.length);
    const code = decodeRequest(target, request, values);
    if (code !== 0) reply = encodeErrorReply(file.abi, request, code);
    else {
      called = true;
      reply = encodeErrorReply(file.abi, request, Number(e.server_return ?? 0));
    }
  }
  let ok = true;
  if (called !== e.server_called) {
    ok = false;
    fail(`(e) server called: ours ${called}, expected ${e.server_called}`);
  }
  if (typeof reply === "number") {
    fail(`(e) reply encode returned ${reply}`);
    return tally.check("e", false);
  }
  const problem = compareMessage(reply, e.reply);
  if (problem) {
    ok = false;
    fail(`(e) reply ${problem}`);
  }
  if (e.kind === "routine") {
    const got = decodeReply(plan, vectorMessage(e.reply), new Array(plan.args.length));
    if (got !== Number(e.user_retcode)) {
      ok = false;
      fail(`(e) client retcode: ours ${got}, expected ${e.user_retcode}`);
    }
  }
  void kind;
  return tally.check("e", ok);
}

export function loadJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

/** Runs every vector of every file in `index.json` under `options.vectors`. */
export function runConformance(options: ConformanceOptions): ConformanceResult {
  const index = loadJson<Record<string, Record<string, { file: string }>>>(join(options.vectors, "index.json"));
  const result: ConformanceResult = { abis: {}, failures: [] };
  for (const [abi, files] of Object.entries(index)) {
    if (options.abis && !options.abis.includes(abi)) continue;
    const tally = new Tally();
    for (const [key, entry] of Object.entries(files)) {
      const file = loadJson<VFile>(join(options.vectors, entry.file));
      const compiled = compileVectors(file, options);
      if (typeof compiled === "string") {
        result.failures.push(`${abi}/${key}: ${compiled}`);
        for (const v of file.routines) tally.vector(v.case, false);
        for (const k of Object.keys(file.errors)) tally.vector(k, false);
        continue;
      }
      for (const v of file.routines) {
        const label = `${abi}/${key}/${v.name}/${v.case}`;
        const problems: string[] = [];
        const ok = runRoutineVector(v, compiled, tally, (m) => problems.push(m));
        tally.vector(v.case, ok);
        if (!ok) result.failures.push(`${label}: ${problems.join("; ")}`);
      }
      for (const [kind, e] of Object.entries(file.errors)) {
        const problems: string[] = [];
        const ok = runErrorVector(kind, e, compiled, file, tally, (m) => problems.push(m));
        tally.vector(kind, ok);
        if (!ok) result.failures.push(`${abi}/${key}/errors/${kind}: ${problems.join("; ")}`);
      }
    }
    result.abis[abi] = tally.result;
  }
  return result;
}
