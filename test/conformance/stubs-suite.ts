/**
 * The conformance suite driven through GENERATED STUBS: every vector file's `.defs` is compiled
 * to a TypeScript module (compiler/emit, as `mig-ts` emits it), loaded, and each vector runs
 *   (a) client encode:  the generated client class's method, with the vector's arguments as TS
 *                       values (structs through the module's own `_from_wire` converters), over a
 *                       capturing MigCaller that encodes exactly as runtime/mig/stubs.ts'
 *                       createCaller does, and keeps the request;
 *   (b) server decode:  the request given to `migDemux(<generated demux>(handlers))`, whose
 *                       handler records the parameters it is called with;
 *   (c) server encode:  the handler returns the vector's server outs; the reply the demux builds
 *                       (or the error reply `serve` would send) is compared;
 *   (d) client decode:  the capturing caller hands the delivered reply back; the method's
 *                       resolved value (or MachError code) is compared;
 *   (e) errors:         bad ids, truncated requests and failing server functions through the
 *                       same demux, and the client's code for the error reply.
 * Counts are not parameters of the generated API (arrays carry their length), so they are checked
 * through the arrays' contents.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { generate } from "../../compiler/emit/generate.js";
import { safeName } from "../../compiler/emit/imports.js";
import { valueShape } from "../../compiler/emit/ts-types.js";
import type { IrArgument, IrRoutine } from "../../compiler/layout/ir.js";
import { decodeReply, encodeRequest } from "../../runtime/codec/engine.js";
import type { RoutinePlan } from "../../runtime/codec/plan.js";
import { MachError, ReturnCode } from "../../runtime/constants.js";
import { Kernel } from "../../runtime/kernel/index.js";
import type { Task } from "../../runtime/kernel/task.js";
import type { MachMessage } from "../../runtime/message.js";
import { ReceivedMessage } from "../../runtime/mig/received.js";
import { mig_reply_setup } from "../../runtime/mig/reply.js";
import { migDemux, type AnyMigDemux, type CallOptions, type MigCaller, type MigValue } from "../../runtime/mig/stubs.js";
import {
  compareMessage,
  describeValue,
  loadJson,
  sameValue,
  shapeOf,
  Tally,
  toValue,
  vectorMessage,
  type ConformanceOptions,
  type ConformanceResult,
  type VArg,
  type VError,
  type VFile,
  type VMessage,
  type VRoutine,
} from "./suite.js";

type Module = Record<string, unknown>;
type Fn = (...args: unknown[]) => unknown;

/** What the capturing caller does with one call. */
class CapturingCaller implements MigCaller {
  requestPort = 0;
  reply: VMessage | null = null;
  request: MachMessage | number | null = null;
  options: CallOptions | undefined;

  private encode(plan: RoutinePlan, args: MigValue[], options?: CallOptions): MachMessage {
    this.options = options;
    const slot = plan.requestPortSlot >= 0 ? plan.requestPortSlot : (plan.request.remote?.slot ?? -1);
    if (slot >= 0) args[slot] = this.requestPort;
    const request = encodeRequest(plan, args, 0x50);
    this.request = request;
    if (typeof request === "number") throw new MachError(request, plan.name);
    return request;
  }

  async routine<T = MigValue[]>(plan: RoutinePlan, args: MigValue[], options?: CallOptions, outs?: (reply: MigValue[]) => T): Promise<T> {
    this.encode(plan, args, options);
    if (!this.reply) throw new Error("no reply to deliver");
    const out = new Array<MigValue>(plan.args.length).fill(null);
    const code = decodeReply(plan, vectorMessage(this.reply), out);
    if (code !== 0) throw new MachError(code, plan.name);
    // The generated stub passes its `outs` function (what it resolves to from the reply slots).
    return outs ? outs(out) : (out as T);
  }

  async simpleroutine(plan: RoutinePlan, args: MigValue[], options?: CallOptions): Promise<void> {
    this.encode(plan, args, options);
  }
}

/** The generated module's view of one routine (the emitter's parameter rules). */
interface RoutineApi {
  routine: IrRoutine;
  /** Client method parameters (before `options`), by argument slot. */
  clientParams: number[];
  /** Server handler parameters (before the MigRequest), by argument slot. */
  serverParams: number[];
  /** Out values: slot and key (a single out is the value itself). */
  outs: Array<{ slot: number; key: string }>;
}

function parentOf(r: IrRoutine, arg: IrArgument): IrArgument | undefined {
  return r.args.find((a) => a.name === arg.parent && !a.implicit);
}

function routineApi(r: IrRoutine): RoutineApi {
  const clientParams: number[] = [];
  const serverParams: number[] = [];
  const outs: RoutineApi["outs"] = [];
  r.args.forEach((arg, slot) => {
    if (arg.kind === "out" || arg.kind === "inout") outs.push({ slot, key: safeName(arg.name) });
    else if (arg.kind === "poly" && arg.parent) {
      const p = parentOf(r, arg);
      if (p && (p.kind === "out" || p.kind === "inout")) outs.push({ slot, key: safeName(arg.name) });
    }
    if (!arg.userVisible) return;
    if (arg.kind === "requestport" || arg.kind === "retcode" || arg.kind === "count" || arg.kind === "out") return;
    if (arg.kind === "poly" && parentOf(r, arg)?.kind === "out") return;
    clientParams.push(slot);
  });
  const requestPort = r.args.findIndex((a) => a.kind === "requestport");
  const seqno = r.args.findIndex((a) => a.kind === "msgseqno");
  if (requestPort >= 0) serverParams.push(requestPort);
  if (seqno >= 0) serverParams.push(seqno);
  r.args.forEach((arg, slot) => {
    if (!arg.serverVisible || slot === requestPort || slot === seqno) return;
    if (arg.kind === "retcode" || arg.kind === "count" || arg.kind === "out" || arg.kind === "dealloc") return;
    if (arg.kind === "poly" && parentOf(r, arg)?.kind === "out") return;
    serverParams.push(slot);
  });
  return { routine: r, clientParams, serverParams, outs };
}

/** Slot value -> the TS value the generated API uses (structs through the module's converters). */
function toTs(mod: Module, arg: IrArgument, value: unknown): unknown {
  const shape = valueShape(arg.type);
  if (value === null || value === undefined) return value;
  if (shape.shape === "struct" && arg.type.name) return (mod[`${safeName(arg.type.name)}_from_wire`] as Fn)(value);
  if (shape.shape === "structArray" && shape.element.name) return (mod[`${safeName(shape.element.name)}_array_from_wire`] as Fn)(value);
  return value;
}

/** TS value -> slot value. */
function toSlot(mod: Module, arg: IrArgument, value: unknown): unknown {
  const shape = valueShape(arg.type);
  if (value === null || value === undefined) return value;
  if (shape.shape === "struct" && arg.type.name) return (mod[`${safeName(arg.type.name)}_to_wire`] as Fn)(value);
  if (shape.shape === "structArray" && shape.element.name) return (mod[`${safeName(shape.element.name)}_array_to_wire`] as Fn)(value);
  return value;
}

interface Loaded {
  mod: Module;
  apis: Map<string, RoutineApi>;
  clientClass: new (caller: MigCaller) => Record<string, Fn>;
  demux: (handlers: unknown) => AnyMigDemux;
  task: Task;
}

async function load(file: VFile, key: string, options: ConformanceOptions, outDir: string): Promise<Loaded | string> {
  const defines = [...(options.defines ?? [])];
  for (const flag of file.cppflags) if (flag.startsWith("-D")) defines.push(flag.slice(2));
  if (file.abi === "x86_64") defines.push("__x86_64__");
  const result = generate(join(options.defsRoot, file.defs), {
    abi: file.abi,
    includeDirs: [...(options.includeDirs ?? []), options.defsRoot],
    defines,
  });
  const errors = result.diagnostics.filter((d) => d.severity === "error");
  if (!result.ir || errors.length > 0 || result.files.length !== 1) {
    return `generate ${file.defs} (${file.abi}) failed: ${errors.map((d) => d.message).slice(0, 3).join("; ")}`;
  }
  const path = join(outDir, `${file.abi}-${key}.ts`);
  writeFileSync(path, result.files[0].text);
  const mod = (await import(pathToFileURL(path).href)) as Module;
  const clientName = Object.keys(mod).find((n) => n.endsWith("Client") && typeof mod[n] === "function");
  const demux = mod[result.ir.serverDemux];
  if (!clientName || typeof demux !== "function") return `${path}: no client class or demux ${result.ir.serverDemux}`;
  return {
    mod,
    apis: new Map(result.ir.routines.map((r) => [r.name, routineApi(r)])),
    clientClass: mod[clientName] as Loaded["clientClass"],
    demux: demux as Loaded["demux"],
    task: new Kernel(file.abi).createTask("conformance"),
  };
}

/** Client method arguments from a vector's user arguments. */
function clientArgs(l: Loaded, api: RoutineApi, vargs: VArg[]): unknown[] {
  const byName = new Map(vargs.map((a) => [a.name, a]));
  return api.clientParams.map((slot) => {
    const arg = api.routine.args[slot];
    const v = byName.get(arg.name);
    if (arg.kind === "waittime" || arg.kind === "msgoption") return v?.value !== undefined ? Number(v.value) : 0;
    if (arg.kind === "dealloc") return v?.value !== undefined ? Number(v.value) !== 0 : false;
    if (!v || v.value === undefined) return null;
    return toTs(l.mod, arg, toValue(arg, v));
  });
}

function requestPortOf(api: RoutineApi, vargs: VArg[]): number {
  const rp = api.routine.args.find((a) => a.kind === "requestport");
  const v = rp ? vargs.find((a) => a.name === rp.name) : undefined;
  return v?.value !== undefined ? Number(v.value) : 0;
}

/** Calls the client method; resolves to its value or the MachError code. */
async function callClient(l: Loaded, api: RoutineApi, caller: CapturingCaller, vargs: VArg[]): Promise<{ value?: unknown; code: number }> {
  const client = new l.clientClass(caller);
  caller.requestPort = requestPortOf(api, vargs);
  try {
    const value = await client[api.routine.userFunction](...clientArgs(l, api, vargs));
    return { value, code: 0 };
  } catch (e) {
    if (e instanceof MachError) return { code: e.code };
    throw e;
  }
}

interface HandlerCall {
  called: boolean;
  params: unknown[];
}

/** Handlers for every routine: record the call, then return `outs` or throw `failWith`. */
function recordingHandlers(call: HandlerCall, outs: () => unknown, failWith?: number): unknown {
  return new Proxy(
    {},
    {
      get: () =>
        (...params: unknown[]) => {
          call.called = true;
          call.params = params;
          if (failWith !== undefined) throw new MachError(failWith);
          return outs();
        },
    },
  );
}

/** Runs a delivered request through migDemux(generated demux) as `serve` would; returns the reply. */
async function serveOne(l: Loaded, request: MachMessage, handlers: unknown): Promise<MachMessage> {
  const received = new ReceivedMessage(l.task, request);
  const result = await migDemux(l.demux(handlers))(received, received.seqno);
  if (result === null) return mig_reply_setup(l.task.kernel.abi, request, ReturnCode.MIG_BAD_ID);
  if (typeof result === "number") return mig_reply_setup(l.task.kernel.abi, request, result);
  return result;
}

async function runVector(v: VRoutine, l: Loaded, tally: Tally, fail: (m: string) => void): Promise<boolean> {
  const api = l.apis.get(v.name);
  if (!api) {
    fail("routine not in our IR");
    for (const k of ["a", "b", "c", "d"] as const) tally.check(k, false);
    return false;
  }
  const r = api.routine;
  const index = (name: string) => r.args.findIndex((a) => a.name === name);
  let ok = true;

  // (a) + (d): one client call; the caller captures the request and delivers the reply.
  const caller = new CapturingCaller();
  caller.reply = v.kind === "routine" ? v.reply_delivered : null;
  const result = await callClient(l, api, caller, v.args);
  let okA: boolean;
  if (v.request === null) {
    okA = result.code === Number(v.retcode) && typeof caller.request === "number";
    if (!okA) fail(`(a) expected retcode ${v.retcode} and no request, got ${result.code}`);
  } else if (caller.request === null || typeof caller.request === "number") {
    okA = false;
    fail(`(a) no request (${result.code})`);
  } else {
    const problem = compareMessage(caller.request, v.request);
    okA = problem === null;
    if (problem) fail(`(a) request ${problem}`);
  }
  ok = tally.check("a", okA) && ok;
  if (v.request === null) return ok;

  // (b) + (c): the generated demux, through migDemux.
  const call: HandlerCall = { called: false, params: [] };
  const serverOuts = () => {
    const values = api.outs.map((o) => {
      const arg = r.args[o.slot];
      const value = (v.server.outs ?? {})[arg.name];
      if (value === undefined) return undefined;
      return toTs(l.mod, arg, toValue(arg, { name: arg.name, dir: "out", shape: shapeOf(r, arg, value), value }));
    });
    if (api.outs.length === 0) return undefined;
    if (api.outs.length === 1) return values[0];
    return Object.fromEntries(api.outs.map((o, i) => [o.key, values[i]]));
  };
  const reply = await serveOne(l, vectorMessage(v.request_delivered!), recordingHandlers(call, serverOuts));
  let okB = call.called;
  if (!call.called) fail("(b) handler not called");
  else {
    for (const p of v.server.params) {
      const i = index(p.name);
      const position = api.serverParams.indexOf(i);
      if (p.dir === "msgseqno") {
        if (position < 0 || Number(call.params[position]) !== v.seqno_delivered) {
          okB = false;
          fail(`(b) seqno: ours ${describeValue(call.params[position])}, expected ${v.seqno_delivered}`);
        }
        continue;
      }
      // Counts (and the capacities offered for out arrays) are not handler parameters.
      if (p.shape === "count" || p.value === undefined) continue;
      if (position < 0) {
        okB = false;
        fail(`(b) parameter ${p.name} is not a handler parameter`);
        continue;
      }
      const ours = toSlot(l.mod, r.args[i], call.params[position]);
      if (!sameValue(r.args[i], p.shape, ours, p.value)) {
        okB = false;
        fail(`(b) ${p.name}: ours ${describeValue(ours)}, expected ${JSON.stringify(p.value)}`);
      }
    }
  }
  ok = tally.check("b", okB) && ok;

  const expectedReply = v.kind === "simpleroutine" ? (v.demux_reply_unsent ?? null) : v.reply;
  let okC = true;
  if (expectedReply) {
    const problem = compareMessage(reply, expectedReply);
    if (problem) {
      okC = false;
      fail(`(c) reply ${problem}`);
    }
  }
  ok = tally.check("c", okC) && ok;

  // (d) what the client method resolved to.
  let okD = true;
  if (v.kind === "routine" && v.reply_delivered) {
    if (result.code !== Number(v.retcode)) {
      okD = false;
      fail(`(d) client code ${result.code}, expected ${v.retcode}`);
    } else if (result.code === 0) {
      for (const [name, value] of Object.entries(v.outs ?? {})) {
        const i = index(name);
        const arg = r.args[i];
        if (i < 0) {
          okD = false;
          fail(`(d) out ${name} not in our routine`);
          continue;
        }
        if (arg.kind === "count") continue;
        const o = api.outs.find((x) => x.slot === i);
        if (!o) {
          okD = false;
          fail(`(d) out ${name} is not a value the client returns`);
          continue;
        }
        const raw = api.outs.length === 1 ? result.value : (result.value as Record<string, unknown>)[o.key];
        const ours = toSlot(l.mod, arg, raw);
        if (!sameValue(arg, shapeOf(r, arg, value), ours, value)) {
          okD = false;
          fail(`(d) ${name}: ours ${describeValue(ours)}, expected ${JSON.stringify(value)}`);
        }
      }
    }
  }
  ok = tally.check("d", okD) && ok;
  return ok;
}

async function runError(e: VError, file: VFile, l: Loaded, tally: Tally, fail: (m: string) => void): Promise<boolean> {
  const request = vectorMessage(e.request_delivered);
  const headerSize = file.abi === "i386" ? 24 : 32;
  if (request.bytes.length < headerSize) {
    // A truncated header-only request: the demux's buffer still holds the whole header (see suite.ts).
    const bytes = new Uint8Array(headerSize);
    bytes.set(request.bytes);
    new DataView(bytes.buffer).setInt32(headerSize - 4, (e as unknown as { id: number }).id, true);
    request.bytes = bytes;
  }
  const call: HandlerCall = { called: false, params: [] };
  const failWith = e.server_return !== undefined && Number(e.server_return) !== 0 ? Number(e.server_return) : undefined;
  const reply = await serveOne(l, request, recordingHandlers(call, () => undefined, failWith));
  let ok = true;
  if (call.called !== e.server_called) {
    ok = false;
    fail(`(e) server called: ours ${call.called}, expected ${e.server_called}`);
  }
  const problem = compareMessage(reply, e.reply);
  if (problem) {
    ok = false;
    fail(`(e) reply ${problem}`);
  }
  if (e.kind === "routine") {
    const api = l.apis.get(e.routine);
    const sample = file.routines.find((v) => v.name === e.routine && v.request !== null);
    if (!api || !sample) {
      ok = false;
      fail(`(e) no client call for ${e.routine}`);
    } else {
      const caller = new CapturingCaller();
      caller.reply = e.reply;
      const got = await callClient(l, api, caller, sample.args);
      if (got.code !== Number(e.user_retcode)) {
        ok = false;
        fail(`(e) client code: ours ${got.code}, expected ${e.user_retcode}`);
      }
    }
  }
  return tally.check("e", ok);
}

/** Runs every vector of every file in `index.json` through generated stubs written to `outDir`. */
export async function runStubConformance(options: ConformanceOptions & { outDir: string }): Promise<ConformanceResult> {
  mkdirSync(options.outDir, { recursive: true });
  // Generated modules import `mig-ts/runtime`: resolved by the test runner's alias.
  writeFileSync(join(options.outDir, "package.json"), '{ "type": "module" }\n');
  const index = loadJson<Record<string, Record<string, { file: string }>>>(join(options.vectors, "index.json"));
  const result: ConformanceResult = { abis: {}, failures: [] };
  for (const [abi, files] of Object.entries(index)) {
    if (options.abis && !options.abis.includes(abi)) continue;
    const tally = new Tally();
    for (const [key, entry] of Object.entries(files)) {
      const file = loadJson<VFile>(join(options.vectors, entry.file));
      const loaded = await load(file, key, options, options.outDir);
      if (typeof loaded === "string") {
        result.failures.push(`${abi}/${key}: ${loaded}`);
        for (const v of file.routines) tally.vector(v.case, false);
        for (const k of Object.keys(file.errors)) tally.vector(k, false);
        continue;
      }
      for (const v of file.routines) {
        const problems: string[] = [];
        const ok = await runVector(v, loaded, tally, (m) => problems.push(m)).catch((e: unknown) => {
          problems.push(`threw ${String(e)}`);
          return false;
        });
        tally.vector(v.case, ok);
        if (!ok) result.failures.push(`${abi}/${key}/${v.name}/${v.case}: ${problems.join("; ")}`);
      }
      for (const [kind, e] of Object.entries(file.errors)) {
        const problems: string[] = [];
        const ok = await runError(e, file, loaded, tally, (m) => problems.push(m)).catch((x: unknown) => {
          problems.push(`threw ${String(x)}`);
          return false;
        });
        tally.vector(kind, ok);
        if (!ok) result.failures.push(`${abi}/${key}/errors/${kind}: ${problems.join("; ")}`);
      }
    }
    result.abis[abi] = tally.result;
  }
  return result;
}
