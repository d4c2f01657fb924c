/**
 * Generated stubs over the real runtime: for every routine of every defs/ interface (and the
 * SEQNOS servers), client class -> createCaller -> kernel mach_msg -> serve loop -> migDemux ->
 * generated demux -> handler -> reply -> client, on the in-process kernel. Arguments are made
 * from each argument's type (ports of every disposition, so send, send-once and receive rights
 * move; out-of-line data; arrays; strings), and the handler checks it got them (rights by the
 * port they name) and returns made-up outs the client must get back. Then: MIG_BAD_ID for an
 * unknown id, a deferred reply (MIG_NO_REPLY + sreplyport, answered later by a `_reply` stub),
 * MIG_SERVER_DIED when the server drops the reply right, a timeout, and MACH_SEND_INVALID_DEST.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { generate } from "../../compiler/emit/generate.js";
import { safeName } from "../../compiler/emit/imports.js";
import { valueShape } from "../../compiler/emit/ts-types.js";
import type { InterfaceIR, IrArgument, IrRoutine } from "../../compiler/layout/ir.js";
import type { RoutinePlan } from "../../runtime/codec/plan.js";
import {
  Kernel,
  MACH_MSG_TYPE_COPY_SEND,
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_MAKE_SEND_ONCE,
  MACH_MSG_TYPE_MOVE_RECEIVE,
  MACH_MSG_TYPE_MOVE_SEND,
  MACH_MSG_TYPE_MOVE_SEND_ONCE,
  MACH_PORT_RIGHT_RECEIVE,
  MachError,
  ReturnCode,
  createCaller,
  migDemux,
  serve,
  type AnyMigDemux,
  type MigCaller,
  type MigRequest,
  type Task,
} from "../../runtime/index.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const readFile = (p: string): string | undefined => {
  try {
    return readFileSync(p.startsWith("/") ? p : join(ROOT, p), "utf8");
  } catch {
    return undefined;
  }
};

type Module = Record<string, unknown>;
type Fn = (...args: unknown[]) => unknown;
const POLY = 0xffffffff;

interface Variant {
  defs: string;
  seqnos: boolean;
  ir: InterfaceIR;
  module: string;
}

function variants(): Variant[] {
  const out: Variant[] = [];
  for (const defs of ["default_pager", "mach_pager_calls", "memory_object", "memory_object_default", "notify"]) {
    const text = readFile(`defs/${defs}.defs`)!;
    for (const seqnos of /^#if\s+SEQNOS\b/m.test(text) ? [false, true] : [false]) {
      const r = generate(`defs/${defs}.defs`, { includeDirs: [join(ROOT, "defs")], defines: seqnos ? ["SEQNOS"] : [], readFile });
      out.push({ defs, seqnos, ir: r.ir!, module: r.files[0].name.replace(/\.ts$/, ".js") });
    }
  }
  return out;
}

/** A world: one kernel, a server task serving a port with a demux, a client task. */
function world(demux: AnyMigDemux) {
  const kernel = new Kernel("x86_64");
  const server = kernel.createTask("server");
  const client = kernel.createTask("client");
  const service = server.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const errors: unknown[] = [];
  const loop = serve(server, service, migDemux(demux, { onError: (e) => errors.push(e) }));
  /** A right to the service in the client's space, of the disposition `type` asks for. */
  const serviceRight = (disposition: number): number => {
    const make = disposition === MACH_MSG_TYPE_MOVE_SEND_ONCE ? MACH_MSG_TYPE_MAKE_SEND_ONCE : MACH_MSG_TYPE_MAKE_SEND;
    return server.mach_port_extract_right(service, make, client).right;
  };
  return { kernel, server, client, service, loop, serviceRight, errors };
}

/** A port in `task` and the name to send for disposition `d` (the right is made as needed). */
function portFor(task: Task, d: number): { name: number; port: unknown } {
  const recv = task.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const port = task.portOf(recv);
  if (d === MACH_MSG_TYPE_COPY_SEND || d === MACH_MSG_TYPE_MOVE_SEND) {
    task.mach_port_insert_right(recv, recv, MACH_MSG_TYPE_MAKE_SEND);
    return { name: recv, port };
  }
  if (d === MACH_MSG_TYPE_MOVE_SEND_ONCE) return { name: task.mach_port_extract_right(recv, MACH_MSG_TYPE_MAKE_SEND_ONCE).right, port };
  return { name: recv, port };
}

/** The disposition a poly argument sends: one that arrives as the type the receiver expects. */
function polyDisposition(arg: IrArgument): number {
  if (arg.type.outName === 16) return MACH_MSG_TYPE_MOVE_RECEIVE;
  if (arg.type.outName === 18) return MACH_MSG_TYPE_MAKE_SEND_ONCE;
  return MACH_MSG_TYPE_MAKE_SEND;
}

let counter = 1;
function sample(arg: IrArgument): unknown {
  const shape = valueShape(arg.type);
  const n = counter++;
  switch (shape.shape) {
    case "bigint":
      return (BigInt(n) << 32n) + 0x1234n;
    case "number":
      return n % 2;
    case "string":
      return `/dev/hd${n}s2`;
    case "typedArray": {
      const bytes = new Uint8Array(arg.type.inline ? 16 : 8192);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + n) & 0xff;
      return bytes;
    }
    default:
      return n;
  }
}

interface Expectation {
  value: unknown;
  /** For rights: the port object, and where the receiver finds it. */
  port?: unknown;
}

function sameIn(server: Task, arg: IrArgument, got: unknown, want: Expectation): boolean {
  if (want.port !== undefined) return server.portOf(got as number) === want.port;
  if (want.value instanceof Uint8Array) return got instanceof Uint8Array && Buffer.from(got).equals(Buffer.from(want.value));
  void arg;
  return got === want.value || (typeof want.value === "number" && got === want.value);
}

describe("generated stubs over the in-process kernel", () => {
  for (const v of variants()) {
    it(`${v.module}: every routine round-trips`, async () => {
      const mod = (await import(pathToFileURL(join(ROOT, "generated", v.module.replace(/\.js$/, ".ts"))).href)) as Module;
      const ClientClass = Object.entries(mod).find(([n, x]) => n.endsWith("Client") && typeof x === "function")![1] as new (
        caller: MigCaller,
      ) => Record<string, Fn>;
      let expected: { routine: IrRoutine; params: Map<number, Expectation>; outs: unknown; check: (params: unknown[]) => void } | null = null;
      const seqnos: number[] = [];
      const handlers = new Proxy(
        {},
        {
          get: () =>
            (...params: unknown[]) => {
              const e = expected!;
              e.check(params);
              return e.outs;
            },
        },
      );
      const w = world((mod[v.ir.serverDemux] as Fn)(handlers) as AnyMigDemux);
      for (const r of v.ir.routines) {
        // Client arguments by the emitter's rules, and what the server must see.
        const params = new Map<number, Expectation>();
        const clientArgs: unknown[] = [];
        const parent = (a: IrArgument) => r.args.find((x) => x.name === a.parent && !x.implicit);
        const polyValue = new Map<string, number>();
        r.args.forEach((arg, slot) => {
          if (!arg.userVisible || ["requestport", "retcode", "count", "out"].includes(arg.kind)) return;
          if (arg.kind === "poly") {
            const of = parent(arg);
            if (of?.kind === "out") return;
            // A poly request port travels as the COPY_SEND of the caller's send right.
            clientArgs.push(of?.kind === "requestport" ? MACH_MSG_TYPE_COPY_SEND : (polyValue.get(arg.parent!) ?? MACH_MSG_TYPE_MAKE_SEND));
            return;
          }
          if (arg.kind === "dealloc") return void clientArgs.push(false);
          const shape = valueShape(arg.type);
          if (shape.shape === "port" && arg.type.isPort) {
            const d = arg.type.inName === POLY ? polyDisposition(arg) : arg.type.inName;
            if (arg.type.inName === POLY) polyValue.set(arg.name, d);
            const p = portFor(w.client, d);
            clientArgs.push(p.name);
            params.set(slot, { value: p.name, port: p.port });
            return;
          }
          const value = sample(arg);
          clientArgs.push(value);
          params.set(slot, { value });
        });
        // Outs the handler returns, and the ports they name in the server.
        const outSlots = r.args
          .map((a, slot) => ({ a, slot }))
          .filter(({ a }) => a.kind === "out" || a.kind === "inout" || (a.kind === "poly" && ["out", "inout"].includes(parent(a)?.kind ?? "")));
        const outPorts = new Map<number, unknown>();
        const outValues = outSlots.map(({ a, slot }) => {
          const shape = valueShape(a.type);
          if (shape.shape === "port" && a.type.isPort) {
            const p = portFor(w.server, a.type.inName === POLY ? polyDisposition(a) : a.type.inName);
            outPorts.set(slot, p.port);
            return p.name;
          }
          if (shape.shape === "typedArray" && a.type.isPort) {
            const ps = [portFor(w.server, MACH_MSG_TYPE_MOVE_SEND), portFor(w.server, MACH_MSG_TYPE_MOVE_SEND)];
            outPorts.set(slot, ps.map((p) => p.port));
            return new Uint32Array(ps.map((p) => p.name));
          }
          if (shape.shape === "struct") return (mod[`${safeName(a.type.name)}_from_wire`] as Fn)(new Uint8Array(Math.ceil((a.type.size * a.type.number) / 8)).fill(3));
          if (shape.shape === "structArray") {
            const size = Math.ceil((shape.element.size * shape.element.number) / 8);
            return (mod[`${safeName(shape.element.name)}_array_from_wire`] as Fn)(new Uint8Array(size * 3).fill(5));
          }
          if (a.kind === "poly") return MACH_MSG_TYPE_MOVE_SEND;
          return sample(a);
        });
        const outs = outSlots.length === 0 ? undefined : outSlots.length === 1 ? outValues[0] : Object.fromEntries(outSlots.map(({ a }, i) => [safeName(a.name), outValues[i]]));
        // Server parameter order: request port, seqno, then the visible arguments.
        const requestPort = r.args.findIndex((a) => a.kind === "requestport");
        const seqnoSlot = r.args.findIndex((a) => a.kind === "msgseqno");
        const order = [requestPort, ...(seqnoSlot >= 0 ? [seqnoSlot] : [])];
        r.args.forEach((a, slot) => {
          if (!a.serverVisible || slot === requestPort || slot === seqnoSlot) return;
          if (["retcode", "count", "out", "dealloc"].includes(a.kind)) return;
          if (a.kind === "poly" && parent(a)?.kind === "out") return;
          order.push(slot);
        });
        let called = false;
        expected = {
          routine: r,
          params,
          outs,
          check: (got) => {
            called = true;
            expect(got[0], `${r.name}: request port`).toBe(w.service);
            expect(got.length).toBe(order.length + 1);
            const request = got[order.length] as MigRequest;
            expect(request.id).toBe(r.requestId);
            order.forEach((slot, i) => {
              if (slot === seqnoSlot) seqnos.push(got[i] as number);
              const want = params.get(slot);
              if (want) expect(sameIn(w.server, r.args[slot], got[i], want), `${r.name}: ${r.args[slot].name}`).toBe(true);
            });
          },
        };
        const rp = r.args[requestPort];
        const disposition = rp.type.inName === POLY ? MACH_MSG_TYPE_COPY_SEND : rp.type.inName;
        const right = w.serviceRight(disposition === MACH_MSG_TYPE_MOVE_SEND_ONCE ? MACH_MSG_TYPE_MOVE_SEND_ONCE : MACH_MSG_TYPE_COPY_SEND);
        const client = new ClientClass(createCaller(w.client, right));
        const result = await client[r.userFunction](...clientArgs);
        if (r.kind === "simpleroutine") {
          // Queued: wait for the server to run it.
          for (let i = 0; i < 50 && !called; i++) await new Promise((res) => setTimeout(res, 1));
        }
        expect(called, `${r.name} reached its handler`).toBe(true);
        // The client gets the outs back (rights as the same ports, in its own space).
        const valueOf = (i: number) => (outSlots.length === 1 ? result : (result as Record<string, unknown>)[safeName(outSlots[i].a.name)]);
        outSlots.forEach(({ a, slot }, i) => {
          const got = valueOf(i);
          const port = outPorts.get(slot);
          if (Array.isArray(port)) expect([...(got as Uint32Array)].map((n) => w.client.portOf(n))).toEqual(port);
          else if (port !== undefined) expect(w.client.portOf(got as number), `${r.name}: ${a.name}`).toBe(port);
          else if (a.kind !== "poly") expect(got, `${r.name}: ${a.name}`).toEqual(outValues[i]);
        });
      }
      if (v.seqnos) {
        expect(seqnos.length).toBe(v.ir.routines.length);
        expect(seqnos).toEqual(seqnos.map((_, i) => seqnos[0] + i));
      }
      expect(w.errors).toEqual([]);
      await w.loop.stop();
    });
  }
});

// ---------------------------------------------------------------------------------------------

const DEFERRED = `
subsystem deferred 4000;
#include <mach/std_types.defs>
routine deferred_add(server: mach_port_t; sreplyport reply: mach_port_make_send_once_t; a: int; b: int; out sum: int);
routine deferred_echo(server: mach_port_t; data: int);
`;
const DEFERRED_REPLY = `
subsystem deferred_reply 4100;
#include <mach/std_types.defs>
simpleroutine deferred_add_reply(reply: mach_port_move_send_once_t; return_code: kern_return_t; sum: int);
`;

describe("deferred replies and failures over the kernel", () => {
  const dir = mkdtempSync(join(tmpdir(), "mig-ts-stubs-runtime-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function load(name: string, text: string): Promise<Module> {
    const path = join(dir, `${name}.defs`);
    writeFileSync(path, text);
    writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
    const r = generate(path, { includeDirs: [join(ROOT, "defs")] });
    expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const out = join(dir, r.files[0].name);
    writeFileSync(out, r.files[0].text);
    return (await import(pathToFileURL(out).href)) as Module;
  }

  it("MIG_NO_REPLY + sreplyport, answered later; MIG_SERVER_DIED; timeout; MIG_BAD_ID; MACH_SEND_INVALID_DEST", async () => {
    const d = await load("deferred", DEFERRED);
    const dr = await load("deferred_reply", DEFERRED_REPLY);
    const pending: Array<{ reply: number; sum: number }> = [];
    let mode: "defer" | "drop" | "hold" = "defer";
    let server: Task | null = null;
    const handlers = {
      deferred_add(_port: number, reply: number, a: number, b: number, request: MigRequest) {
        expect(request.replyPort).toBe(reply);
        if (mode === "defer") pending.push({ reply, sum: a + b });
        else if (mode === "drop") server!.mach_port_deallocate(reply);
        throw new MachError(ReturnCode.MIG_NO_REPLY);
      },
      deferred_echo() {
        throw new MachError(ReturnCode.KERN_INVALID_ARGUMENT);
      },
    };
    const w = world((d.deferred_server as Fn)(handlers) as AnyMigDemux);
    server = w.server;
    const send = w.serviceRight(MACH_MSG_TYPE_COPY_SEND);
    const client = new (d.DeferredClient as new (c: MigCaller) => Record<string, Fn>)(createCaller(w.client, send));

    // Deferred: the call waits until the server answers through deferred_add_reply.
    const call = client.deferred_add(2, 3) as Promise<number>;
    for (let i = 0; i < 50 && pending.length === 0; i++) await new Promise((res) => setTimeout(res, 1));
    expect(pending).toHaveLength(1);
    const p = pending.pop()!;
    const replier = new (dr.DeferredReplyClient as new (c: MigCaller) => Record<string, Fn>)(createCaller(w.server, p.reply));
    await replier.deferred_add_reply(ReturnCode.KERN_SUCCESS, p.sum);
    expect(await call).toBe(5);

    // The server drops the reply right: the client hears MIG_SERVER_DIED.
    mode = "drop";
    await expect(client.deferred_add(1, 1)).rejects.toMatchObject({ code: ReturnCode.MIG_SERVER_DIED, codeName: "MIG_SERVER_DIED" });

    // The server holds the reply right: a timeout.
    mode = "hold";
    await expect(client.deferred_add(1, 1, { timeout: 20 })).rejects.toMatchObject({ codeName: "MACH_RCV_TIMED_OUT" });

    // A server function's error code comes back as a MachError.
    await expect(client.deferred_echo(7)).rejects.toMatchObject({ code: ReturnCode.KERN_INVALID_ARGUMENT, codeName: "KERN_INVALID_ARGUMENT" });

    // An id no demux knows: MIG_BAD_ID.
    const plan = d.deferred_add_plan as RoutinePlan;
    const unknown: RoutinePlan = { ...plan, request: { ...plan.request, id: 4050 }, reply: { ...plan.reply, id: 4150 } };
    await expect(createCaller(w.client, send).routine(unknown, [null, null, null, null, 1, 2, null])).rejects.toMatchObject({
      codeName: "MIG_BAD_ID",
    });

    // A dead destination.
    const dead = w.client.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const deadSend = w.client.mach_port_extract_right(dead, MACH_MSG_TYPE_MAKE_SEND).right;
    w.client.mach_port_mod_refs(dead, MACH_PORT_RIGHT_RECEIVE, -1);
    const deadClient = new (d.DeferredClient as new (c: MigCaller) => Record<string, Fn>)(createCaller(w.client, deadSend));
    await expect(deadClient.deferred_echo(1)).rejects.toMatchObject({ codeName: "MACH_SEND_INVALID_DEST" });
    await w.loop.stop();
  });
});
