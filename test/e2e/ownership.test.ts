/**
 * Issue 5, ownership per routine (mig-reference §7.3, §10 "the MIG lifetime bug class"): for every
 * routine of defs/default_pager.defs and defs/memory_object.defs (plain and SEQNOS servers; also
 * memory_object_default, mach_pager_calls, notify, and a test interface with port arrays, inline
 * and out of line), through the generated client -> kernel -> serve -> migDemux(generated demux):
 *  (a) a handler that fails (MachError(KERN_FAILURE), an error code, a plain throw, a rejection)
 *      has consumed nothing: the loop destroys the request's rights and regions exactly once;
 *  (b) a handler that succeeds has consumed them: they are in the server's space as Mach says
 *      (send rights merged into the server's existing name, receive rights, new send-once names,
 *      the OOL bytes), and once it deallocates them everything is as after (a);
 *  (c) a handler that releases its rights through migRequest.releaseName and then fails: no
 *      double release (a second releaseName throws, the loop skips them);
 *  (d) the double releases found through the public API, now fixed in runtime/mig/.
 * The server holds its own send right ("witness") to every port the request carries, so that an
 * over-release shows up as a missing uref. Spaces are compared through mach_port_names /
 * mach_port_type / mach_port_get_refs, ports by srights / sorights / mscount / msgcount, plus
 * audit(kernel).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generate } from "../../compiler/emit/generate.js";
import { safeName } from "../../compiler/emit/imports.js";
import { valueShape } from "../../compiler/emit/ts-types.js";
import type { InterfaceIR, IrArgument, IrRoutine } from "../../compiler/layout/ir.js";
import {
  Kernel,
  MACH_MSG_TYPE_COPY_SEND,
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_MAKE_SEND_ONCE,
  MACH_MSG_TYPE_MOVE_RECEIVE,
  MACH_MSG_TYPE_MOVE_SEND,
  MACH_MSG_TYPE_MOVE_SEND_ONCE,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_PORT_RIGHT_SEND,
  MACH_PORT_TYPE_RECEIVE,
  MACH_PORT_TYPE_SEND,
  MACH_PORT_TYPE_SEND_ONCE,
  MachError,
  ReceivedMessage,
  ReturnCode,
  createCaller,
  migDemux,
  serve,
  type AnyMigDemux,
  type MigCaller,
  type MigRequest,
  type Task,
} from "../../runtime/index.js";
import type { Port } from "../../runtime/kernel/objects.js";
import { audit } from "../unit/runtime/support.js";
import {
  ROOT,
  cloneSnapshot,
  diff,
  dropSend,
  dropSendOnce,
  load,
  portDied,
  readFile,
  snapshot,
  variants,
  type Fn,
  type Module,
  type Snapshot,
} from "./support/spaces.js";

const POLY = 0xffffffff;

const ARRAYS = `
subsystem ownership_arrays 4300;
#include <mach/std_types.defs>
type send_array_t = array[] of mach_port_move_send_t;
type copy_array_t = array[] of mach_port_copy_send_t;
type once_array_t = array[] of mach_port_move_send_once_t;
type make_once_array_t = array[] of mach_port_make_send_once_t;
type recv_array_t = array[] of mach_port_move_receive_t;
type ool_send_array_t = ^array[] of mach_port_move_send_t;
type ool_recv_array_t = ^array[] of mach_port_move_receive_t;
type bytes_t = ^array[] of MACH_MSG_TYPE_BYTE;
routine own_inline_arrays(server: mach_port_t; sends: send_array_t; copies: copy_array_t; onces: once_array_t;
  made: make_once_array_t; recvs: recv_array_t; data: bytes_t; out n: int);
simpleroutine own_ool_arrays(server: mach_port_t; sends: ool_send_array_t; recvs: ool_recv_array_t; data: bytes_t);
`;

type Mode =
  | "throw KERN_FAILURE"
  | "throw KERN_INVALID_ARGUMENT"
  | "plain throw"
  | "async reject"
  | "succeed"
  | "release then fail";
const MODES: Mode[] = [
  "throw KERN_FAILURE",
  "throw KERN_INVALID_ARGUMENT",
  "plain throw",
  "async reject",
  "succeed",
  "release then fail",
];

/** A right the request carries: the client's name and disposition, the port, the server's witness. */
interface Carried {
  disposition: number;
  client: number;
  port: Port;
  witness: number;
}

interface World {
  kernel: Kernel;
  server: Task;
  client: Task;
  service: number;
  servicePort: Port;
  /** The request being handled (captured before migDemux runs). */
  current: ReceivedMessage | null;
  handler: ((params: unknown[]) => unknown) | null;
  errors: unknown[];
  stop(): Promise<void>;
  settle(): Promise<void>;
}

function world(makeDemux: (handlers: object) => AnyMigDemux): World {
  const kernel = new Kernel("x86_64");
  const server = kernel.createTask("server");
  const client = kernel.createTask("client");
  const service = server.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const w: World = {
    kernel,
    server,
    client,
    service,
    servicePort: server.portOf(service)!,
    current: null,
    handler: null,
    errors: [],
    stop: async () => loop.stop(),
    settle: async () => {
      for (let i = 0; i < 1000; i++) {
        await new Promise((r) => setImmediate(r));
        if (w.servicePort.msgcount === 0 && loop.inFlight === 0) return;
      }
      throw new Error("server did not settle");
    },
  };
  const handlers = new Proxy(
    {},
    {
      get:
        () =>
        (...params: unknown[]) =>
          w.handler!(params),
    },
  );
  const inner = migDemux(makeDemux(handlers), { onError: (e) => w.errors.push(e) });
  const loop = serve(server, service, (request, seqno) => {
    w.current = request;
    return inner(request, seqno);
  });
  return w;
}

/** A fresh port whose receive right `task` holds, and the name to send with disposition `d`. */
function portFor(task: Task, d: number): { name: number; port: Port } {
  const recv = task.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const port = task.portOf(recv)!;
  if (d === MACH_MSG_TYPE_COPY_SEND || d === MACH_MSG_TYPE_MOVE_SEND) {
    task.mach_port_insert_right(recv, recv, MACH_MSG_TYPE_MAKE_SEND);
    return { name: recv, port };
  }
  if (d === MACH_MSG_TYPE_MOVE_SEND_ONCE)
    return { name: task.mach_port_extract_right(recv, MACH_MSG_TYPE_MAKE_SEND_ONCE).right, port };
  return { name: recv, port };
}

/** The receive-right name `task` holds for `port`. */
function receiveName(task: Task, port: Port): number {
  return port.receiverName;
}

function sample(arg: IrArgument, n: number): unknown {
  const shape = valueShape(arg.type);
  switch (shape.shape) {
    case "bigint":
      return BigInt(n) * 4096n;
    case "number":
      return n % 2;
    case "string":
      return `/dev/hd${n}s1`;
    case "typedArray": {
      const bytes = new Uint8Array(arg.type.inline ? 16 : 5000);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13 + n) & 0xff;
      return bytes;
    }
    default:
      return n;
  }
}

/** Out values that carry no rights (so the client's space is unchanged by a successful reply). */
function outValue(mod: Module, a: IrArgument): unknown {
  const shape = valueShape(a.type);
  if (shape.shape === "port") return 0;
  if (shape.shape === "typedArray") return a.type.isPort ? new Uint32Array(0) : new Uint8Array(0);
  if (shape.shape === "struct")
    return (mod[`${safeName(a.type.name)}_from_wire`] as Fn)(
      new Uint8Array(Math.ceil((a.type.size * a.type.number) / 8)),
    );
  if (shape.shape === "structArray") return [];
  if (shape.shape === "bigint") return 0n;
  if (shape.shape === "string") return "";
  if (a.kind === "poly") return MACH_MSG_TYPE_MOVE_SEND;
  return 0;
}

interface Call {
  args: unknown[];
  carried: Carried[];
  /** The request port right the client uses, and whether it is a send-once right. */
  requestRight: number;
  sendOnceDest: boolean;
  moveSendDest: boolean;
  ool: Uint8Array[];
  outs: unknown;
  /** Server parameter index -> what it must be. */
  serverOrder: number[];
}

function prepare(mod: Module, w: World, r: IrRoutine): Call {
  const carried: Carried[] = [];
  const args: unknown[] = [];
  const ool: Uint8Array[] = [];
  const parent = (a: IrArgument) => r.args.find((x) => x.name === a.parent && !x.implicit);
  const carry = (d: number): number => {
    const p = portFor(w.client, d);
    const witness = w.client.mach_port_extract_right(
      receiveName(w.client, p.port),
      MACH_MSG_TYPE_MAKE_SEND,
      w.server,
    ).right;
    carried.push({ disposition: d, client: p.name, port: p.port, witness });
    return p.name;
  };
  const rp = r.args.find((a) => a.kind === "requestport")!;
  let sendOnceDest = rp.type.inName === MACH_MSG_TYPE_MOVE_SEND_ONCE;
  const moveSendDest = rp.type.inName === MACH_MSG_TYPE_MOVE_SEND;
  let n = 1;
  for (const arg of r.args) {
    if (!arg.userVisible || ["requestport", "retcode", "count", "out"].includes(arg.kind)) continue;
    if (arg.kind === "poly") {
      const of = parent(arg);
      if (of?.kind === "out") continue;
      if (of?.kind === "requestport") {
        // The request port sent as a send-once right (consumed on receipt).
        sendOnceDest = true;
        args.push(MACH_MSG_TYPE_MOVE_SEND_ONCE);
      } else
        args.push(
          of && of.type.outName === 16 ? MACH_MSG_TYPE_MOVE_RECEIVE : MACH_MSG_TYPE_MAKE_SEND,
        );
      continue;
    }
    if (arg.kind === "dealloc") {
      args.push(false);
      continue;
    }
    const shape = valueShape(arg.type);
    if (shape.shape === "port" && arg.type.isPort) {
      const d =
        arg.type.inName === POLY
          ? arg.type.outName === 16
            ? MACH_MSG_TYPE_MOVE_RECEIVE
            : MACH_MSG_TYPE_MAKE_SEND
          : arg.type.inName;
      args.push(carry(d));
      continue;
    }
    if (shape.shape === "typedArray" && arg.type.isPort) {
      const d = arg.type.element?.inName ?? arg.type.inName;
      args.push(new Uint32Array([carry(d), carry(d), carry(d)]));
      continue;
    }
    const v = sample(arg, n++);
    if (v instanceof Uint8Array && !arg.type.inline) ool.push(v);
    args.push(v);
  }
  const requestRight = w.server.mach_port_extract_right(
    w.service,
    sendOnceDest ? MACH_MSG_TYPE_MAKE_SEND_ONCE : MACH_MSG_TYPE_MAKE_SEND,
    w.client,
  ).right;
  const outSlots = r.args.filter(
    (a) =>
      a.kind === "out" ||
      a.kind === "inout" ||
      (a.kind === "poly" && ["out", "inout"].includes(parent(a)?.kind ?? "")),
  );
  const outValues = outSlots.map((a) => outValue(mod, a));
  const outs =
    outSlots.length === 0
      ? undefined
      : outSlots.length === 1
        ? outValues[0]
        : Object.fromEntries(outSlots.map((a, i) => [safeName(a.name), outValues[i]]));
  return { args, carried, requestRight, sendOnceDest, moveSendDest, ool, outs, serverOrder: [] };
}

/** What Mach says the state is once the request's rights are gone (destroyed by the loop, or by the handler). */
function expectedAfter(before: Snapshot, w: World, call: Call): Snapshot {
  const s = cloneSnapshot(before);
  if (call.sendOnceDest) dropSendOnce(s, w.client, call.requestRight, w.servicePort);
  else if (call.moveSendDest) dropSend(s, w.client, call.requestRight, w.servicePort);
  for (const c of call.carried) {
    switch (c.disposition) {
      case MACH_MSG_TYPE_MOVE_RECEIVE:
        portDied(s, c.port, [
          { task: w.client, name: c.client },
          { task: w.server, name: c.witness },
        ]);
        break;
      case MACH_MSG_TYPE_MOVE_SEND:
        dropSend(s, w.client, c.client, c.port);
        break;
      case MACH_MSG_TYPE_MOVE_SEND_ONCE:
        dropSendOnce(s, w.client, c.client, c.port);
        // Destroyed, the send-once right carries its notification back to the port.
        s.ports.get(c.port)!.sorights++;
        s.ports.get(c.port)!.msgcount++;
        break;
      case MACH_MSG_TYPE_MAKE_SEND:
        s.ports.get(c.port)!.mscount++;
        break;
      case MACH_MSG_TYPE_MAKE_SEND_ONCE:
        s.ports.get(c.port)!.sorights++;
        s.ports.get(c.port)!.msgcount++;
        break;
    }
  }
  return s;
}

/** The names of rights among the server parameters (single names and port arrays). */
function rightNames(params: unknown[], carried: Carried[], server: Task): number[] {
  const ports = new Set(carried.map((c) => c.port));
  const out: number[] = [];
  for (const p of params) {
    if (typeof p === "number" && p !== 0 && ports.has(server.portOf(p)!)) out.push(p);
    if (p instanceof Uint32Array) for (const n of p) if (ports.has(server.portOf(n)!)) out.push(n);
  }
  return out;
}

async function runRoutine(
  mod: Module,
  ClientClass: new (c: MigCaller) => Record<string, Fn>,
  w: World,
  r: IrRoutine,
  mode: Mode,
): Promise<void> {
  const call = prepare(mod, w, r);
  const tasks = [w.server, w.client];
  const ports = [w.servicePort, ...call.carried.map((c) => c.port)];
  const before = snapshot(tasks, ports);
  const want = expectedAfter(before, w, call);
  const label = `${r.name} [${mode}]`;
  let params: unknown[] | null = null;
  let got: { names: number[]; checks: string[] } = { names: [], checks: [] };
  w.handler = (p) => {
    params = p;
    const request = p[p.length - 1] as MigRequest;
    const names = rightNames(p, call.carried, w.server);
    got = { names, checks: [] };
    switch (mode) {
      case "throw KERN_FAILURE":
        throw new MachError(ReturnCode.KERN_FAILURE);
      case "throw KERN_INVALID_ARGUMENT":
        throw new MachError(ReturnCode.KERN_INVALID_ARGUMENT);
      case "plain throw":
        throw new Error("handler bug");
      case "async reject":
        return new Promise((_, reject) =>
          setImmediate(() => reject(new MachError(ReturnCode.KERN_FAILURE))),
        );
      case "release then fail":
        for (const n of names) request.releaseName(n);
        for (const n of names) {
          try {
            request.releaseName(n);
            got.checks.push(`second releaseName(${n}) did not throw`);
          } catch {
            // refused: the right already left the request
          }
        }
        throw new MachError(ReturnCode.KERN_FAILURE);
      case "succeed": {
        // The rights are in the server's space as Mach says.
        for (const c of call.carried) {
          const name = w.server.nameOf(c.port);
          const type = w.server.mach_port_type(name).type;
          if (c.disposition === MACH_MSG_TYPE_MOVE_RECEIVE) {
            if (name !== c.witness || type !== (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_RECEIVE))
              got.checks.push(`receive right of port ${c.port.id}: ${type.toString(16)}`);
          } else if (
            c.disposition === MACH_MSG_TYPE_MOVE_SEND_ONCE ||
            c.disposition === MACH_MSG_TYPE_MAKE_SEND_ONCE
          ) {
            if (
              !names.some(
                (n) =>
                  w.server.portOf(n) === c.port &&
                  w.server.mach_port_type(n).type === MACH_PORT_TYPE_SEND_ONCE,
              )
            )
              got.checks.push(`no send-once right to port ${c.port.id}`);
          } else {
            // Send rights merge into the server's existing name for the port: witness + 1 per copy.
            const copies = call.carried.filter((x) => x.port === c.port).length;
            const refs = w.server.mach_port_get_refs(c.witness, MACH_PORT_RIGHT_SEND).refs;
            if (refs !== 1 + copies || !names.includes(c.witness))
              got.checks.push(`send right to port ${c.port.id}: urefs ${refs}`);
          }
        }
        const oolParams = p.filter(
          (x): x is Uint8Array => x instanceof Uint8Array && x.length > 16,
        );
        call.ool.forEach((data, i) => {
          if (!oolParams[i] || !Buffer.from(oolParams[i]).equals(Buffer.from(data)))
            got.checks.push(`ool region ${i} differs`);
        });
        return call.outs;
      }
    }
  };
  const client = new ClientClass(createCaller(w.client, call.requestRight, { pool: null }));
  const outcome = await (client[r.userFunction](...call.args) as Promise<unknown>).then(
    () => "ok",
    (e: unknown) => (e instanceof MachError ? e.codeName : String(e)),
  );
  await w.settle();
  expect(params, `${label}: handler ran`).not.toBeNull();
  expect(got.checks, label).toEqual([]);
  const request = w.current!;
  if (r.kind === "routine") {
    const wantCode =
      mode === "succeed"
        ? "ok"
        : mode === "throw KERN_INVALID_ARGUMENT"
          ? "KERN_INVALID_ARGUMENT"
          : "KERN_FAILURE";
    expect(outcome, label).toBe(wantCode);
  } else expect(outcome, label).toBe("ok");
  if (mode === "succeed") {
    // The handler owns the regions: the loop left them alone.
    request.ool.forEach((region, i) =>
      expect(region.length, `${label}: region ${i} kept`).toBeGreaterThan(0),
    );
    // Now the handler (this test) deallocates what it received.
    for (const c of call.carried) {
      const name = w.server.nameOf(c.port);
      if (c.disposition === MACH_MSG_TYPE_MOVE_RECEIVE)
        expect(w.server.mach_port_mod_refs(name, MACH_PORT_RIGHT_RECEIVE, -1)).toBe(0);
    }
    for (const n of got.names) {
      const t = w.server.mach_port_type(n).type;
      if (t & (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_SEND_ONCE))
        expect(w.server.mach_port_deallocate(n), `${label}: dealloc ${n}`).toBe(0);
    }
  } else {
    // The loop released the regions (exactly once: a second destroy finds nothing to release).
    request.ool.forEach((region, i) =>
      expect(region.length, `${label}: region ${i} released`).toBe(0),
    );
    for (const n of got.names)
      expect(() => request.releaseName(n), `${label}: ${n} already left`).toThrow();
  }
  expect(diff(want, snapshot(tasks, ports)), label).toEqual([]);
  expect(audit(w.kernel), label).toEqual([]);
  const unexpected = w.errors.filter(
    (e) => !(e instanceof MachError) && !(e instanceof Error && e.message === "handler bug"),
  );
  expect(unexpected, label).toEqual([]);
  w.errors.length = 0;
  // Tidy up this routine's ports so the next one starts from a small space.
  for (const c of call.carried) {
    for (const [task, name] of [
      [w.client, c.client],
      [w.client, receiveName(w.client, c.port)],
      [w.server, c.witness],
    ] as const) {
      if (name !== 0 && w.server.kernel && task.mach_port_type(name).code === 0)
        task.mach_port_destroy(name);
    }
  }
  if (
    !call.sendOnceDest &&
    !call.moveSendDest &&
    w.client.mach_port_type(call.requestRight).code === 0
  )
    w.client.mach_port_deallocate(call.requestRight);
  await w.settle();
}

async function checkInterface(ir: InterfaceIR, mod: Module): Promise<void> {
  const ClientClass = Object.entries(mod).find(
    ([n, x]) => n.endsWith("Client") && typeof x === "function",
  )![1] as new (c: MigCaller) => Record<string, Fn>;
  const w = world((h) => (mod[ir.serverDemux] as Fn)(h) as AnyMigDemux);
  for (const r of ir.routines)
    for (const mode of MODES) await runRoutine(mod, ClientClass, w, r, mode);
  expect(audit(w.kernel)).toEqual([]);
  await w.stop();
}

describe("ownership per routine (mig-reference §7.3)", () => {
  for (const v of variants([
    "default_pager",
    "memory_object",
    "memory_object_default",
    "mach_pager_calls",
    "notify",
  ])) {
    it(`${v.defs}${v.seqnos ? " (SEQNOS server)" : ""}: fail / succeed / release-then-fail for every routine`, async () => {
      await checkInterface(v.ir, await load(v.file));
    });
  }

  const dir = mkdtempSync(join(tmpdir(), "mig-ts-ownership-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("port arrays (inline and out of line: send, copy-send, send-once, make-send-once, receive) and OOL data", async () => {
    const path = join(dir, "ownership_arrays.defs");
    writeFileSync(path, ARRAYS);
    writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
    const r = generate(path, { includeDirs: [join(ROOT, "defs")], readFile });
    expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const out = join(dir, r.files[0].name);
    writeFileSync(out, r.files[0].text);
    await checkInterface(r.ir!, await load(out));
  });
});

describe("double releases through the public API (fixed in runtime/mig/)", () => {
  async function setup(handlers: object) {
    const dp = await load(join(ROOT, "generated/default_pager.ts"));
    const w = world(() => (dp.default_pager_server as Fn)(handlers) as AnyMigDemux);
    const send = w.server.mach_port_extract_right(
      w.service,
      MACH_MSG_TYPE_MAKE_SEND,
      w.client,
    ).right;
    const client = new (dp.DefaultPagerClient as new (c: MigCaller) => Record<string, Fn>)(
      createCaller(w.client, send, { pool: null }),
    );
    return { w, client };
  }

  it("a handler that consumed its rights and returns outs the stub cannot convert: the loop does not release them again", async () => {
    let server: Task | null = null;
    const { w, client } = await setup({
      default_pager_object_pages(_port: number, name: number) {
        expect(server!.mach_port_deallocate(name)).toBe(0); // success contract: consumed
        return undefined; // not a page array: the stub's conversion throws after the handler returned
      },
    });
    server = w.server;
    const p = portFor(w.client, MACH_MSG_TYPE_COPY_SEND);
    const witness = w.client.mach_port_extract_right(
      p.name,
      MACH_MSG_TYPE_MAKE_SEND,
      w.server,
    ).right;
    const before = snapshot([w.server, w.client], [p.port, w.servicePort]);
    await expect(client.default_pager_object_pages(p.name)).rejects.toMatchObject({
      codeName: "KERN_FAILURE",
    });
    await w.settle();
    expect(diff(before, snapshot([w.server, w.client], [p.port, w.servicePort]))).toEqual([]);
    expect(w.server.mach_port_get_refs(witness, MACH_PORT_RIGHT_SEND).refs).toBe(1);
    expect(w.errors.map(String)).toEqual([expect.stringContaining("TypeError")]);
    expect(audit(w.kernel)).toEqual([]);
    await w.stop();
  });

  it("a reply whose body copy-in fails (a bad out right) is not destroyed again: the right moved before the bad one loses one uref, not two", async () => {
    let out: number[] = [];
    const { w, client } = await setup({
      default_pager_objects: () => ({ objects: [], ports: new Uint32Array(out) }),
    });
    const p = w.server.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    w.server.mach_port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND);
    w.server.mach_port_mod_refs(p, MACH_PORT_RIGHT_SEND, 2);
    out = [p, 0x4242];
    // The kernel moves p's right, fails on 0x4242 and destroys what it took (and the reply right:
    // the client hears MIG_SERVER_DIED).
    await expect(client.default_pager_objects()).rejects.toMatchObject({
      codeName: "MIG_SERVER_DIED",
    });
    await w.settle();
    expect(w.server.mach_port_get_refs(p, MACH_PORT_RIGHT_SEND).refs).toBe(2);
    expect(w.server.portOf(p)!.srights).toBe(1);
    expect(audit(w.kernel)).toEqual([]);
    await w.stop();
  });

  it("the checks catch the bug class: a handler that deallocates a right directly and then fails shows as an over-release", async () => {
    let server: Task | null = null;
    const { w, client } = await setup({
      default_pager_object_pages(_port: number, name: number) {
        server!.mach_port_deallocate(name); // not through migRequest.releaseName
        throw new MachError(ReturnCode.KERN_FAILURE);
      },
    });
    server = w.server;
    const p = portFor(w.client, MACH_MSG_TYPE_COPY_SEND);
    const witness = w.client.mach_port_extract_right(
      p.name,
      MACH_MSG_TYPE_MAKE_SEND,
      w.server,
    ).right;
    const before = snapshot([w.server, w.client], [p.port]);
    await expect(client.default_pager_object_pages(p.name)).rejects.toMatchObject({
      codeName: "KERN_FAILURE",
    });
    await w.settle();
    expect(w.server.mach_port_type(witness).code).toBe(ReturnCode.KERN_INVALID_NAME);
    expect(diff(before, snapshot([w.server, w.client], [p.port]))).toEqual([
      expect.stringContaining(`server: name ${witness.toString(16)} missing`),
      expect.stringMatching(/srights":1,.*want.*srights":2/),
    ]);
    await w.stop();
  });
});
