/**
 * Issue 5, fuzz: 100,000 mutated requests through the kernel to `serve` loops running the
 * generated demuxes of every defs/ interface (migDemux; a plain server and a SEQNOS server).
 * Valid requests are built for every routine by the generated client classes (their plans) and
 * the codec engine, given fresh rights per case, then mutated: bit flips, byte changes in the
 * header / descriptors / data, truncation, extension, id changes, descriptor name/size/number/
 * inline/longform/dealloc changes, out-of-line region changes, header bits, and port names
 * swapped for random, dead, null, unallocated or wrong-typed names. Each case must end in a send
 * error with a MACH_SEND_* code (the exact one where the mutation determines it), or a reply that
 * is MIG_BAD_ARGUMENTS, MIG_BAD_ID, a valid reply, a handler's own error, or nothing when the
 * request carried no reply right. Nothing may throw in the kernel, codec or loop; both spaces
 * and the ports' right counts return to their baseline after every batch (audit(kernel)
 * periodically and at the end). The handlers themselves follow the ownership contract at random
 * (succeed, fail, release then fail, MIG_NO_REPLY). The outcome counts are printed.
 *
 * FUZZ_CASES and FUZZ_SEED override the case count and the seed.
 */
import { describe, expect, it } from "vitest";
import { safeName } from "../../compiler/emit/imports.js";
import { valueShape } from "../../compiler/emit/ts-types.js";
import type { IrArgument, IrRoutine } from "../../compiler/layout/ir.js";
import { decodeReply, encodeRequest } from "../../runtime/codec/engine.js";
import type { RoutinePlan } from "../../runtime/codec/plan.js";
import { parseBody } from "../../runtime/kernel/body.js";
import type { Port } from "../../runtime/kernel/objects.js";
import {
  Kernel,
  MACH_MSG_TYPE_COPY_SEND,
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_MAKE_SEND_ONCE,
  MACH_MSG_TYPE_MOVE_RECEIVE,
  MACH_MSG_TYPE_MOVE_SEND,
  MACH_MSG_TYPE_MOVE_SEND_ONCE,
  MACH_PORT_DEAD,
  MACH_PORT_RIGHT_DEAD_NAME,
  MACH_PORT_RIGHT_PORT_SET,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_PORT_RIGHT_SEND,
  MACH_RCV_LARGE,
  MACH_RCV_MSG,
  MACH_RCV_TIMEOUT,
  MACH_SEND_MSG,
  MACH_SEND_TIMEOUT,
  MachError,
  ReceivedMessage,
  ReturnCode,
  migDemux,
  serve,
  type AnyMigDemux,
  type MachMessage,
  type MigCaller,
  type MigRequest,
  type MigValue,
  type Server,
  type Task,
} from "../../runtime/index.js";
import { audit } from "../unit/runtime/support.js";
import {
  diff,
  load,
  snapshot,
  variants,
  type Fn,
  type Module,
  type Snapshot,
} from "./support/spaces.js";

const CASES = Number(process.env.FUZZ_CASES ?? 100_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed1234);
const BATCH = 64;
const CODE_NAMES = new Map<number, string>(Object.entries(ReturnCode).map(([k, v]) => [v, k]));
const codeName = (c: number): string => CODE_NAMES.get(c) ?? `0x${(c >>> 0).toString(16)}`;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness.

let state = SEED >>> 0 || 1;
function rnd(): number {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state;
}
const below = (n: number): number => rnd() % n;
const pick = <T>(xs: readonly T[]): T => xs[below(xs.length)];
const chance = (p: number): boolean => rnd() / 0x100000000 < p;

// ---------------------------------------------------------------------------------------------
// Templates: one valid request per routine, with the places its rights go.

interface PortSlot {
  disposition: number;
  /** -1: inline at `offset` of the bytes; else the OOL region index. */
  ool: number;
  offset: number;
}

interface Template {
  name: string;
  plan: RoutinePlan;
  routine: boolean;
  bytes: Uint8Array;
  ool: Uint8Array[];
  remoteDisposition: number;
  slots: PortSlot[];
  descs: Array<{
    offset: number;
    long: boolean;
    inline: boolean;
    oolIndex: number;
    dataOffset: number;
  }>;
}

function sample(arg: IrArgument, n: number): unknown {
  const shape = valueShape(arg.type);
  switch (shape.shape) {
    case "bigint":
      return BigInt(n) * 4096n;
    case "number":
      return n % 3;
    case "string":
      return `/dev/hd${n}`;
    case "typedArray":
      return new Uint8Array(arg.type.inline ? 8 : 64 + n).fill(n & 0xff);
    default:
      return n;
  }
}

async function templates(): Promise<{
  list: Template[];
  plans: Map<number, RoutinePlan>;
  outs: Map<number, (mod: Module) => unknown>;
}> {
  const list: Template[] = [];
  const plans = new Map<number, RoutinePlan>();
  const outs = new Map<number, (mod: Module) => unknown>();
  for (const v of variants([
    "default_pager",
    "mach_pager_calls",
    "memory_object",
    "memory_object_default",
    "notify",
  ])) {
    const mod = await load(v.file);
    const ClientClass = Object.entries(mod).find(
      ([n, x]) => n.endsWith("Client") && typeof x === "function",
    )![1] as new (c: MigCaller) => Record<string, Fn>;
    let captured: { plan: RoutinePlan; args: MigValue[] } | null = null;
    const client = new ClientClass({
      // Only the request is looked at: what the call resolves to does not matter.
      routine: async <T>(plan: RoutinePlan, args: MigValue[]) => {
        captured = { plan, args };
        return [] as unknown as T;
      },
      simpleroutine: async (plan, args) => {
        captured = { plan, args };
      },
    });
    for (const r of v.ir.routines) {
      const clientArgs: unknown[] = [];
      const parent = (a: IrArgument) => r.args.find((x) => x.name === a.parent && !x.implicit);
      let n = 1;
      for (const arg of r.args) {
        if (!arg.userVisible || ["requestport", "retcode", "count", "out"].includes(arg.kind))
          continue;
        if (arg.kind === "poly") {
          const of = parent(arg);
          if (of?.kind === "out") continue;
          clientArgs.push(
            of?.kind === "requestport"
              ? MACH_MSG_TYPE_COPY_SEND
              : of && of.type.outName === 16
                ? MACH_MSG_TYPE_MOVE_RECEIVE
                : MACH_MSG_TYPE_MAKE_SEND,
          );
        } else if (arg.kind === "dealloc") clientArgs.push(false);
        else if (arg.type.isPort)
          clientArgs.push(
            valueShape(arg.type).shape === "typedArray" ? new Uint32Array([1, 1]) : 1,
          );
        else clientArgs.push(sample(arg, n++));
      }
      captured = null;
      try {
        await client[r.userFunction](...clientArgs);
      } catch {
        // converting the (empty) outs may fail; the request was captured
      }
      const { plan, args } = captured!;
      plans.set(plan.request.id, plan);
      outs.set(plan.request.id, outMaker(r));
      if (v.seqnos) continue; // same request layout as the plain interface
      const slot =
        plan.requestPortSlot >= 0 ? plan.requestPortSlot : (plan.request.remote?.slot ?? -1);
      if (slot >= 0) args[slot] = 1;
      const msg = encodeRequest(plan, args, 1) as MachMessage;
      list.push(describeTemplate(r, plan, msg));
    }
  }
  return { list, plans, outs };
}

function describeTemplate(r: IrRoutine, plan: RoutinePlan, msg: MachMessage): Template {
  const kernelAbi = new Kernel("x86_64").abi;
  const bytes = msg.bytes.slice();
  const view = new DataView(bytes.buffer);
  const bits = view.getUint32(kernelAbi.header.bits, true);
  const slots: PortSlot[] = [];
  const descs: Template["descs"] = [];
  const parsed = parseBody(kernelAbi, view, bytes.length);
  if (parsed.code !== 0) throw new Error(`${r.name}: template does not parse`);
  for (const item of parsed.items) {
    descs.push({
      offset: item.descOffset,
      long: item.longForm,
      inline: item.inline,
      oolIndex: item.oolIndex,
      dataOffset: item.dataOffset,
    });
    if (bits & 0x80000000 && item.name >= 16 && item.name <= 21) {
      for (let i = 0; i < item.number; i++) {
        slots.push(
          item.inline
            ? {
                disposition: item.name,
                ool: -1,
                offset: item.dataOffset + i * kernelAbi.inlinePortSize,
              }
            : { disposition: item.name, ool: item.oolIndex, offset: i * 4 },
        );
      }
    }
  }
  return {
    name: r.name,
    plan,
    routine: r.kind === "routine",
    bytes,
    ool: msg.ool.map((o) => o.slice()),
    remoteDisposition: bits & 0xff,
    slots,
    descs,
  };
}

/** Out values of a routine that carry no rights. */
function outMaker(r: IrRoutine): (mod: Module) => unknown {
  const parent = (a: IrArgument) => r.args.find((x) => x.name === a.parent && !x.implicit);
  const outSlots = r.args.filter(
    (a) =>
      a.kind === "out" ||
      a.kind === "inout" ||
      (a.kind === "poly" && ["out", "inout"].includes(parent(a)?.kind ?? "")),
  );
  return (mod) => {
    const values = outSlots.map((a) => {
      const shape = valueShape(a.type);
      if (shape.shape === "port") return 0;
      if (shape.shape === "typedArray")
        return a.type.isPort ? new Uint32Array(0) : new Uint8Array(0);
      if (shape.shape === "struct")
        return (mod[`${safeName(a.type.name)}_from_wire`] as Fn)(
          new Uint8Array(Math.ceil((a.type.size * a.type.number) / 8)),
        );
      if (shape.shape === "structArray") return [];
      if (shape.shape === "bigint") return 0n;
      if (shape.shape === "string") return "";
      if (a.kind === "poly") return MACH_MSG_TYPE_MOVE_SEND;
      return 0;
    });
    return values.length === 0
      ? undefined
      : values.length === 1
        ? values[0]
        : Object.fromEntries(outSlots.map((a, i) => [safeName(a.name), values[i]]));
  };
}

// ---------------------------------------------------------------------------------------------
// The world: a kernel, a server task serving two ports (plain and SEQNOS demuxes), a client.

interface World {
  kernel: Kernel;
  server: Task;
  client: Task;
  services: Array<{ name: number; port: Port; loop: Server; clientSend: number }>;
  decoyDead: number;
  decoySet: number;
  crashes: unknown[];
  handlerRuns: number;
  /** Deliberate handler failures, by code name. */
  handlerFailures: Map<string, number>;
}

const SEND_UREFS = 1000;

async function world(outs: Map<number, (mod: Module) => unknown>): Promise<World> {
  const kernel = new Kernel("x86_64");
  const server = kernel.createTask("server");
  const client = kernel.createTask("client");
  const w: World = {
    kernel,
    server,
    client,
    services: [],
    decoyDead: 0,
    decoySet: 0,
    crashes: [],
    handlerRuns: 0,
    handlerFailures: new Map(),
  };
  const plain: AnyMigDemux[] = [];
  const seqnos: AnyMigDemux[] = [];
  const mods = new Map<string, Module>();
  let current: ReceivedMessage | null = null;
  for (const v of variants([
    "default_pager",
    "mach_pager_calls",
    "memory_object",
    "memory_object_default",
    "notify",
  ])) {
    const mod = await load(v.file);
    mods.set(v.file, mod);
    const handlers = new Proxy(
      {},
      {
        get:
          () =>
          (...params: unknown[]): unknown => {
            const request = params[params.length - 1] as MigRequest;
            const received = current!;
            w.handlerRuns++;
            const releaseAll = (from = 0) => {
              for (let i = from; i < received.rightCount; i++) received.releaseRight(i);
            };
            const fail = (code: number): never => {
              const name = codeName(code);
              w.handlerFailures.set(name, (w.handlerFailures.get(name) ?? 0) + 1);
              throw new MachError(code);
            };
            const roll = below(100);
            if (roll < 60) {
              releaseAll();
              return outs.get(request.id)!(mod);
            }
            if (roll < 70) {
              return new Promise((resolve) =>
                setImmediate(() => {
                  releaseAll();
                  resolve(outs.get(request.id)!(mod));
                }),
              );
            }
            if (roll < 85) fail(ReturnCode.KERN_FAILURE);
            if (roll < 95) {
              // Release some rights through the request, then fail: the loop destroys the rest.
              for (const p of params) {
                if (typeof p !== "number") continue;
                try {
                  request.releaseName(p);
                } catch {
                  // not a right this request carries (any more)
                }
              }
              for (let i = 1; i < received.rightCount; i += 2) {
                try {
                  received.releaseRight(i);
                } catch {
                  // released above by name
                }
              }
              fail(ReturnCode.KERN_INVALID_ARGUMENT);
            }
            // Deferred, then dropped: the handler owns (and releases) everything, the reply right too.
            releaseAll();
            if (request.replyPort !== 0) {
              const reply = request.takeReplyPort();
              server.destroyName(reply.name, reply.type);
            }
            w.handlerFailures.set("MIG_NO_REPLY", (w.handlerFailures.get("MIG_NO_REPLY") ?? 0) + 1);
            throw new MachError(ReturnCode.MIG_NO_REPLY);
          },
      },
    );
    (v.seqnos ? seqnos : plain).push((mod[v.ir.serverDemux] as Fn)(handlers) as AnyMigDemux);
    if (!v.seqnos && !["default_pager", "memory_object", "memory_object_default"].includes(v.defs))
      seqnos.push((mod[v.ir.serverDemux] as Fn)(handlers) as AnyMigDemux);
  }
  for (const list of [plain, seqnos]) {
    const name = server.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const inner = migDemux(list);
    const loop = serve(
      server,
      name,
      (request, seqno) => {
        current = request;
        return inner(request, seqno);
      },
      { onError: (e) => w.crashes.push(e) },
    );
    loop.done.catch((e: unknown) => w.crashes.push(e));
    const clientSend = server.mach_port_extract_right(name, MACH_MSG_TYPE_MAKE_SEND, client).right;
    client.mach_port_mod_refs(clientSend, MACH_PORT_RIGHT_SEND, SEND_UREFS - 1);
    w.services.push({ name, port: server.portOf(name)!, loop, clientSend });
  }
  // Decoys in the client: a dead name, a port set, a receive right with a send right.
  const gone = client.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  w.decoyDead = client.mach_port_extract_right(gone, MACH_MSG_TYPE_MAKE_SEND, client).right;
  client.mach_port_insert_right(gone, gone, MACH_MSG_TYPE_MAKE_SEND);
  client.mach_port_mod_refs(gone, MACH_PORT_RIGHT_RECEIVE, -1);
  client.mach_port_mod_refs(gone, MACH_PORT_RIGHT_DEAD_NAME, SEND_UREFS - 2);
  w.decoyDead = gone;
  w.decoySet = client.mach_port_allocate(MACH_PORT_RIGHT_PORT_SET).name;
  return w;
}

// ---------------------------------------------------------------------------------------------
// Cases.

interface Case {
  template: Template;
  msg: MachMessage;
  /** Names this case created in the client (destroyed afterwards). */
  names: number[];
  ports: Port[];
  reply: number;
  hasReply: boolean;
  id: number;
  mutation: string;
  /** The send codes this mutation allows (null: any MACH_SEND_* or success). */
  expect: number[] | null;
  /** Sent to a service; with a reply right; with a MAKE_SEND_ONCE right to `reply`. */
  addressed: boolean;
  replyRight: boolean;
  replyHere: boolean;
}

/** A fresh right in the client for disposition `d`; returns the name to send. */
function freshRight(w: World, c: Case, d: number): number {
  const recv = w.client.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  c.names.push(recv);
  c.ports.push(w.client.portOf(recv)!);
  if (d === MACH_MSG_TYPE_COPY_SEND || d === MACH_MSG_TYPE_MOVE_SEND) {
    w.client.mach_port_insert_right(recv, recv, MACH_MSG_TYPE_MAKE_SEND);
    return recv;
  }
  if (d === MACH_MSG_TYPE_MOVE_SEND_ONCE) {
    const so = w.client.mach_port_extract_right(recv, MACH_MSG_TYPE_MAKE_SEND_ONCE).right;
    c.names.push(so);
    return so;
  }
  return recv;
}

function instantiate(w: World, t: Template, service: World["services"][number]): Case {
  const abi = w.kernel.abi;
  const bytes = t.bytes.slice();
  const ool = t.ool.map((o) => o.slice());
  const c: Case = {
    template: t,
    msg: { bytes, ool },
    names: [],
    ports: [],
    reply: 0,
    hasReply: false,
    id: t.plan.request.id,
    mutation: "none",
    expect: [ReturnCode.KERN_SUCCESS],
    addressed: false,
    replyRight: false,
    replyHere: false,
  };
  const view = new DataView(bytes.buffer);
  for (const s of t.slots) {
    const name = freshRight(w, c, s.disposition);
    if (s.ool < 0) view.setUint32(s.offset, name, true);
    else new DataView(ool[s.ool].buffer).setUint32(s.offset, name, true);
  }
  let remote = service.clientSend;
  if (t.remoteDisposition === MACH_MSG_TYPE_MOVE_SEND_ONCE) {
    remote = w.server.mach_port_extract_right(
      service.name,
      MACH_MSG_TYPE_MAKE_SEND_ONCE,
      w.client,
    ).right;
    c.names.push(remote);
  }
  view.setUint32(abi.header.remotePort, remote, true);
  c.reply = w.client.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  c.names.push(c.reply);
  c.ports.push(w.client.portOf(c.reply)!);
  c.hasReply = t.routine || chance(0.5);
  const bits = view.getUint32(abi.header.bits, true) & ~0xff00;
  view.setUint32(
    abi.header.bits,
    (bits | (c.hasReply ? MACH_MSG_TYPE_MAKE_SEND_ONCE << 8 : 0)) >>> 0,
    true,
  );
  view.setUint32(abi.header.localPort, c.hasReply ? c.reply : 0, true);
  return c;
}

/** Body failures: the kernel destroyed the header rights and the items before the bad one. */
const PARTIAL = new Set<number>([
  ReturnCode.MACH_SEND_INVALID_RIGHT,
  ReturnCode.MACH_SEND_INVALID_TYPE,
  ReturnCode.MACH_SEND_INVALID_MEMORY,
  ReturnCode.MACH_SEND_MSG_TOO_SMALL,
]);

const SEND_CODES = new Set<number>(
  Object.entries(ReturnCode)
    .filter(([n]) => n.startsWith("MACH_SEND_"))
    .map(([, v]) => v),
);

/** A name from the interesting ones: null, dead, random, unallocated, decoys, this case's own. */
function someName(w: World, c: Case): { name: number; kind: string } {
  switch (below(10)) {
    case 0:
      return { name: 0, kind: "null" };
    case 1:
      return { name: MACH_PORT_DEAD, kind: "dead" };
    case 2:
      return { name: rnd(), kind: "random" };
    case 3:
      return { name: ((0x7000 + below(0x1000)) << 8) | 0x42, kind: "unallocated" };
    case 4:
      return { name: w.decoyDead, kind: "dead name" };
    case 5:
      return { name: w.decoySet, kind: "port set" };
    case 6:
      return { name: freshRight(w, c, MACH_MSG_TYPE_COPY_SEND), kind: "receive+send" };
    case 7:
      return { name: pick(w.services).clientSend, kind: "service send" };
    case 8:
      return { name: c.reply, kind: "reply port" };
    default:
      return { name: c.names.length > 0 ? pick(c.names) : 0, kind: "case name" };
  }
}

function mutate(w: World, c: Case): void {
  const abi = w.kernel.abi;
  const t = c.template;
  let bytes = c.msg.bytes;
  const view = () => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rounds = chance(0.2) ? 2 + below(2) : 1;
  const names: string[] = [];
  let expect: number[] | null = null;
  for (let round = 0; round < rounds; round++) {
    const single = rounds === 1;
    const kind = below(17);
    // A round after a truncation may address bytes that are gone: skip it (RangeError).
    try {
      switch (kind) {
        case 0: {
          const flips = 1 + below(4);
          for (let i = 0; i < flips; i++) bytes[below(bytes.length)] ^= 1 << below(8);
          names.push("bit flips");
          break;
        }
        case 1: {
          bytes[below(Math.min(bytes.length, abi.headerSize))] = below(256);
          names.push("header byte");
          break;
        }
        case 2: {
          if (t.descs.length === 0) {
            names.push("none");
            break;
          }
          const d = pick(t.descs);
          bytes[d.offset + below(8)] = below(256);
          names.push("descriptor byte");
          break;
        }
        case 3: {
          if (bytes.length > abi.headerSize)
            bytes[abi.headerSize + below(bytes.length - abi.headerSize)] = below(256);
          names.push("body byte");
          break;
        }
        case 4: {
          const len = below(bytes.length);
          bytes = bytes.slice(0, len);
          names.push("truncate");
          if (single && (len < abi.headerSize || len % 8 !== 0))
            expect = [ReturnCode.MACH_SEND_MSG_TOO_SMALL];
          break;
        }
        case 5: {
          const extra = pick([8, 16, 24, 3, 5, 64, 4096]);
          const grown = new Uint8Array(bytes.length + extra);
          grown.set(bytes);
          for (let i = bytes.length; i < grown.length; i++) grown[i] = chance(0.5) ? 0 : below(256);
          bytes = grown;
          names.push("extend");
          if (single && extra % 8 !== 0) expect = [ReturnCode.MACH_SEND_MSG_TOO_SMALL];
          break;
        }
        case 6: {
          const id = pick([
            c.id + 1,
            c.id - 1,
            c.id + 100,
            below(3000),
            rnd() | 0,
            2275 + below(8),
            2200 + below(12),
            64 + below(10),
            2039 + below(60),
          ]);
          view().setInt32(abi.header.id, id, true);
          names.push("id");
          break;
        }
        case 7:
        case 8: {
          // Descriptor fields.
          if (t.descs.length === 0) {
            names.push("none");
            break;
          }
          const d = pick(t.descs);
          const v = view();
          const w0 = v.getUint32(d.offset, true);
          const field = below(7);
          if (field === 0) v.setUint32(d.offset, ((w0 & ~0xff) | below(32)) >>> 0, true);
          else if (field === 1)
            v.setUint32(
              d.offset,
              ((w0 & ~0xffff00) | (pick([0, 1, 8, 16, 32, 64, 128, 4096, below(0x10000)]) << 8)) >>>
                0,
              true,
            );
          else if (field === 2)
            v.setUint32(
              d.offset + 4,
              pick([
                0,
                1,
                2,
                3,
                255,
                4096,
                0x10000,
                0x7fffffff,
                0xffffffff,
                v.getUint32(d.offset + 4, true) + 1,
                v.getUint32(d.offset + 4, true) - 1,
              ]) >>> 0,
              true,
            );
          else if (field === 3) v.setUint32(d.offset, (w0 ^ (1 << 29)) >>> 0, true);
          else if (field === 4) v.setUint32(d.offset, (w0 ^ (1 << 30)) >>> 0, true);
          else if (field === 5) v.setUint32(d.offset, (w0 ^ (1 << 31)) >>> 0, true);
          else v.setUint32(d.offset, (w0 | (1 << (24 + below(5)))) >>> 0, true);
          names.push(
            [
              "descriptor name",
              "descriptor size",
              "descriptor number",
              "descriptor inline",
              "descriptor longform",
              "descriptor dealloc",
              "descriptor unused bits",
            ][field],
          );
          if (single && field === 6)
            expect = [ReturnCode.MACH_SEND_INVALID_TYPE, ReturnCode.KERN_SUCCESS];
          break;
        }
        case 9: {
          // Out-of-line regions.
          const ool = c.msg.ool;
          const op = below(5);
          if (op === 0 && ool.length > 0) {
            ool.splice(below(ool.length), 1);
            names.push("ool dropped");
          } else if (op === 1 && ool.length > 0) {
            const i = below(ool.length);
            ool[i] = ool[i].slice(0, below(ool[i].length + 1));
            names.push("ool shortened");
          } else if (op === 2 && ool.length > 0) {
            const i = below(ool.length);
            const g = new Uint8Array(ool[i].length + 1 + below(64));
            g.set(ool[i]);
            ool[i] = g;
            names.push("ool lengthened");
          } else if (op === 3) {
            ool.push(new Uint8Array(below(128)).fill(7));
            names.push("ool added");
          } else {
            if (ool.length > 0) ool[below(ool.length)].fill(0xff);
            names.push("ool contents");
          }
          break;
        }
        case 10:
        case 11: {
          // A body port name.
          if (t.slots.length === 0) {
            names.push("none");
            break;
          }
          const s = pick(t.slots);
          const n = someName(w, c);
          if (s.ool < 0) view().setUint32(s.offset, n.name, true);
          else if (c.msg.ool[s.ool] && c.msg.ool[s.ool].length >= s.offset + 4)
            new DataView(c.msg.ool[s.ool].buffer, c.msg.ool[s.ool].byteOffset).setUint32(
              s.offset,
              n.name,
              true,
            );
          names.push(`body port -> ${n.kind}`);
          if (single && (n.kind === "unallocated" || n.kind === "port set"))
            expect = [ReturnCode.MACH_SEND_INVALID_RIGHT];
          break;
        }
        case 12: {
          const n = someName(w, c);
          view().setUint32(abi.header.remotePort, n.name, true);
          names.push(`dest -> ${n.kind}`);
          if (single && ["null", "dead", "unallocated", "dead name", "port set"].includes(n.kind))
            expect = [ReturnCode.MACH_SEND_INVALID_DEST];
          break;
        }
        case 13: {
          const n = someName(w, c);
          const v = view();
          v.setUint32(abi.header.localPort, n.name, true);
          if (chance(0.5))
            v.setUint32(
              abi.header.bits,
              ((v.getUint32(abi.header.bits, true) & ~0xff00) |
                (pick([17, 18, 19, 20, 21]) << 8)) >>>
                0,
              true,
            );
          names.push(`reply -> ${n.kind}`);
          break;
        }
        case 14: {
          const v = view();
          const b = v.getUint32(abi.header.bits, true);
          const which = below(3);
          if (which === 0) v.setUint32(abi.header.bits, ((b & ~0xff) | below(32)) >>> 0, true);
          else if (which === 1)
            v.setUint32(abi.header.bits, ((b & ~0xff00) | (below(32) << 8)) >>> 0, true);
          else v.setUint32(abi.header.bits, (b ^ 0x80000000) >>> 0, true);
          names.push(["dest disposition", "reply disposition", "complex bit"][which]);
          if (single && which === 0) {
            const d = v.getUint32(abi.header.bits, true) & 0xff;
            if (d < 17 || d > 21) expect = [ReturnCode.MACH_SEND_INVALID_HEADER];
          }
          break;
        }
        case 15: {
          // Body port dispositions (the descriptor names of port items).
          const ports = t.descs.filter((d) => {
            const n = view().getUint32(d.offset, true) & 0xff;
            return n >= 16 && n <= 21;
          });
          if (ports.length === 0) {
            names.push("none");
            break;
          }
          const d = pick(ports);
          const v = view();
          v.setUint32(
            d.offset,
            ((v.getUint32(d.offset, true) & ~0xff) | (16 + below(6))) >>> 0,
            true,
          );
          names.push("port disposition");
          break;
        }
        default:
          names.push("none");
      }
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      names.push("none");
    }
  }
  c.msg.bytes = bytes;
  c.mutation = names.join(" + ");
  c.expect = names.every((n) => n === "none") ? [ReturnCode.KERN_SUCCESS] : expect;
}

// ---------------------------------------------------------------------------------------------

async function settle(w: World): Promise<void> {
  let quiet = 0;
  for (let i = 0; i < 20_000; i++) {
    await new Promise((r) => setImmediate(r));
    const busy = w.services.some(
      (s) => s.port.msgcount > 0 || s.loop.inFlight > 0 || s.port.blockedSenders.length > 0,
    );
    quiet = busy ? 0 : quiet + 1;
    if (quiet >= 2) return;
  }
  throw new Error("the server did not settle (hang)");
}

async function receiveAll(task: Task, name: number): Promise<MachMessage[]> {
  const out: MachMessage[] = [];
  const port = task.portOf(name);
  if (port && port.receiver === task && port.msgcount === 0) return out;
  for (;;) {
    const r = await task.mach_msg(
      null,
      MACH_RCV_MSG | MACH_RCV_TIMEOUT | MACH_RCV_LARGE,
      0,
      1 << 20,
      name,
      0,
    );
    if (r.code !== 0) return out;
    out.push(r.msg!);
  }
}

function header(w: World, msg: MachMessage) {
  const abi = w.kernel.abi;
  const v = new DataView(msg.bytes.buffer, msg.bytes.byteOffset, msg.bytes.byteLength);
  return {
    bits: v.getUint32(abi.header.bits, true),
    id: v.getInt32(abi.header.id, true),
    size: msg.bytes.length,
  };
}

describe("fuzzing the generated demuxes through the kernel", () => {
  it(`${CASES} mutated requests: MACH_SEND_* errors, MIG_BAD_ARGUMENTS / MIG_BAD_ID or valid replies, no crash, no hang, no leak`, async () => {
    const started = performance.now();
    const { list, plans, outs } = await templates();
    const w = await world(outs);
    const outcomes = new Map<string, number>();
    const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    const bad: string[] = [];
    const abi = w.kernel.abi;
    const tasks = [w.server, w.client];
    const basePorts = w.services.map((s) => s.port);
    const baseline: Snapshot = snapshot(tasks, basePorts);
    expect(audit(w.kernel)).toEqual([]);
    let done = 0;
    let exactChecks = 0;
    let batchNo = 0;
    while (done < CASES) {
      const n = Math.min(BATCH, CASES - done);
      const cases: Array<Case & { code: number }> = [];
      // Names that sent requests carried as their reply port (msgh_local_port): a bit flip can
      // turn a case's reply port name into another case's, whose port then gets that reply.
      const replyNamesSent = new Set<number>();
      let local = 0;
      for (let i = 0; i < n; i++) {
        local = 0;
        const service = w.services[(done + i) & 1];
        const c = instantiate(w, pick(list), service);
        if (!chance(0.03)) mutate(w, c);
        else c.mutation = "none";
        {
          const v = new DataView(
            c.msg.bytes.buffer,
            c.msg.bytes.byteOffset,
            c.msg.bytes.byteLength,
          );
          if (c.msg.bytes.length >= abi.headerSize) {
            const bits = v.getUint32(abi.header.bits, true);
            local = v.getUint32(abi.header.localPort, true);
            const dest = w.client.portOf(v.getUint32(abi.header.remotePort, true));
            c.addressed = w.services.some((s) => s.port === dest);
            c.replyRight = ((bits >>> 8) & 0xff) !== 0 && local !== 0 && local !== MACH_PORT_DEAD;
            c.replyHere =
              c.replyRight &&
              local === c.reply &&
              ((bits >>> 8) & 0xff) === MACH_MSG_TYPE_MAKE_SEND_ONCE;
          }
        }
        if (c.expect && c.expect.length === 1 && c.expect[0] !== 0) exactChecks++;
        let code: number;
        try {
          code = (
            await w.client.mach_msg(
              c.msg,
              MACH_SEND_MSG | MACH_SEND_TIMEOUT,
              c.msg.bytes.length,
              0,
              0,
              5000,
            )
          ).code;
        } catch (e) {
          w.crashes.push(e);
          bad.push(`kernel threw on ${c.template.name} [${c.mutation}]: ${String(e)}`);
          code = -1;
        }
        if (code === ReturnCode.MACH_SEND_TIMED_OUT)
          bad.push(`send timed out (hang) on ${c.template.name} [${c.mutation}]`);
        if (code !== 0 && !SEND_CODES.has(code))
          bad.push(`send code ${codeName(code)} on ${c.template.name} [${c.mutation}]`);
        if (c.expect && !c.expect.includes(code))
          bad.push(
            `${c.template.name} [${c.mutation}]: send ${codeName(code)}, want ${c.expect.map(codeName).join("|")}`,
          );
        cases.push({ ...c, code });
        if (code === 0 && c.replyRight) replyNamesSent.add(local);
      }
      await settle(w);
      for (const c of cases) {
        // A mutation may have moved the reply port's receive right itself into the request.
        const own = (w.client.mach_port_type(c.reply).type & 0x20000) !== 0;
        const got = own ? await receiveAll(w.client, c.reply) : [];
        const notifications = got.filter((m) => header(w, m).id === 71).length;
        const messages = got.filter((m) => header(w, m).id !== 71);
        if (c.code !== 0) {
          // A failed send: at most the send-once notifications of the rights the kernel destroyed,
          // and only after a body failure (mach-ipc-reference §3.7 "partial").
          if (messages.length > 0 && !replyNamesSent.has(c.reply))
            bad.push(`${c.template.name} [${c.mutation}]: send failed but a message arrived`);
          if (notifications > 0 && !PARTIAL.has(c.code))
            bad.push(`${c.template.name} [${c.mutation}]: ${codeName(c.code)} destroyed rights`);
          count(
            `send failed: ${codeName(c.code)}${notifications > 0 ? " (+ send-once notification: the kernel destroyed the made reply right)" : ""}`,
          );
        } else if (messages.length === 0) {
          if (notifications > 0)
            count(
              c.addressed
                ? "sent: no reply, send-once notification (handler MIG_NO_REPLY dropped the reply right)"
                : "sent elsewhere: send-once notification",
            );
          else
            count(
              !c.addressed
                ? "sent, not addressed to the server (no reply)"
                : c.replyHere && !own
                  ? "sent: the reply port's receive right went with the request"
                  : c.replyHere
                    ? "sent: no reply (!)"
                    : c.replyRight
                      ? "sent: the reply went to another port"
                      : "sent: no reply right, no reply",
            );
          if (c.addressed && c.replyHere && own && notifications === 0)
            bad.push(`${c.template.name} [${c.mutation}]: no reply and no send-once notification`);
        } else {
          const m = messages[0];
          const h = header(w, m);
          if (h.size === abi.replyHeaderSize && !(h.bits & 0x80000000)) {
            const rc = new DataView(m.bytes.buffer, m.bytes.byteOffset).getInt32(
              abi.headerSize + abi.descriptorSize,
              true,
            );
            const name = codeName(rc);
            if (rc === ReturnCode.MIG_BAD_ARGUMENTS || rc === ReturnCode.MIG_BAD_ID)
              count(`reply: ${name}`);
            else if (rc === ReturnCode.KERN_FAILURE || rc === ReturnCode.KERN_INVALID_ARGUMENT)
              count(`reply: the handler failed (${name})`);
            else if (rc === 0) {
              const plan = plans.get(h.id - 100);
              if (plan && decodeReply(plan, m, new Array(plan.args.length).fill(null)) === 0)
                count("reply: valid");
              else bad.push(`RetCode 0 reply that is not a valid reply: id ${h.id}`);
            } else bad.push(`reply with RetCode ${name} to ${c.template.name} [${c.mutation}]`);
          } else {
            const plan = plans.get(h.id - 100);
            if (plan && decodeReply(plan, m, new Array(plan.args.length).fill(null)) === 0)
              count("reply: valid");
            else if (!c.addressed)
              count("sent to a client port (dest mutated): the request itself arrived");
            else
              bad.push(
                `unexpected message id ${h.id} on the reply port of ${c.template.name} [${c.mutation}]`,
              );
          }
        }
        for (const m of got) w.client.mach_msg_destroy(m);
      }
      // Clean up the cases' names, then the decoy queue, and wait for the notifications that causes.
      for (const c of cases)
        for (const name of c.names)
          if (w.client.mach_port_type(name).code === 0) w.client.mach_port_destroy(name);
      await settle(w);
      // Top up what the mutations legitimately moved out of the client's baseline rights.
      for (const s of w.services) {
        const have = w.client.mach_port_get_refs(s.clientSend, MACH_PORT_RIGHT_SEND).refs;
        if (have > 0 && have < SEND_UREFS)
          w.client.mach_port_mod_refs(s.clientSend, MACH_PORT_RIGHT_SEND, SEND_UREFS - have);
        else if (have === 0) bad.push(`the client lost all its send rights to a service`);
      }
      const dead = w.client.mach_port_get_refs(w.decoyDead, MACH_PORT_RIGHT_DEAD_NAME).refs;
      if (dead > 0 && dead < SEND_UREFS)
        w.client.mach_port_mod_refs(w.decoyDead, MACH_PORT_RIGHT_DEAD_NAME, SEND_UREFS - dead);
      // Baseline: both spaces, the baseline ports' counts, every case port dead.
      const d = diff(baseline, snapshot(tasks, basePorts));
      if (d.length > 0)
        bad.push(
          `after batch ${batchNo}: ${d.join("; ")} (mutations: ${cases.map((c) => `${c.template.name} [${c.mutation}]`).join(", ")})`,
        );
      for (const c of cases)
        for (const p of c.ports)
          if (!p.dead) bad.push(`a port of ${c.template.name} [${c.mutation}] is still alive`);
      if (batchNo % 100 === 0) {
        const a = audit(w.kernel);
        if (a.length > 0) bad.push(`audit after batch ${batchNo}: ${a.join("; ")}`);
      }
      if (bad.length > 0 || w.crashes.length > 0) break;
      // Mutations that never reached a demux still count; so do the reply outcomes above.
      done += n;
      batchNo++;
    }
    for (const s of w.services) await s.loop.stop();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const table = [...outcomes]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${String(v).padStart(7)}  ${k}`);
    console.log(
      `fuzz-demux: ${done} cases (seed 0x${SEED.toString(16)}) in ${seconds} s; handlers ran ${w.handlerRuns} times ` +
        `(exact send code checked for ${exactChecks} cases; deliberate handler failures: ${[...w.handlerFailures].map(([k, v]) => `${k} ${v}`).join(", ")})\n${table.join("\n")}`,
    );
    expect(w.crashes.map(String)).toEqual([]);
    expect(bad.slice(0, 10)).toEqual([]);
    expect(audit(w.kernel)).toEqual([]);
    expect(diff(baseline, snapshot(tasks, basePorts))).toEqual([]);
    expect(done).toBe(CASES);
  }, 180_000);
});
