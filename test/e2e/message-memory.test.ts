/**
 * Message memory given back after a send (runtime/codec/memory.ts releaseMessage): the MIG stubs
 * release a request once the kernel has taken it and the serve loop releases a migDemux reply
 * once it is sent, so the next message is encoded over the same bytes. That is sound only because
 * the kernel copies a message's bytes when it is sent (Task#sendMessage): these tests would fail
 * if a later encode could change a message that is still queued, or being read by its receiver.
 * Each test also checks that the memory really was reused, so that it cannot pass vacuously.
 * The messages carry a 2 KiB inline array (small messages are not recorded for release:
 * memory.ts SLAB_RELEASE_MIN), from a small interface generated here.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { generate } from "../../compiler/emit/generate.js";
import { memory_object_data_request_plan } from "../../generated/memory_object.js";
import { type CodecMode, codecMode, decodeRequest, encodeRequest, releaseMessage, setCodecMode } from "../../runtime/codec/engine.js";
import { slab } from "../../runtime/codec/memory.js";
import type { RoutinePlan } from "../../runtime/codec/plan.js";
import {
  Kernel,
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_RCV_MSG,
  MACH_SEND_MSG,
  ReturnCode,
  createCaller,
  migDemux,
  serve,
  type AnyMigDemux,
  type MachMessage,
  type MigCaller,
  type Task,
} from "../../runtime/index.js";
import { ROOT } from "./support/spaces.js";

const DEFS = `
subsystem release_test 4400;
#include <mach/std_types.defs>
type words_t = array[*:512] of int;
routine rt_echo(server : mach_port_t; data : words_t; out back : words_t);
simpleroutine rt_put(server : mach_port_t; data : words_t);
`;

interface Client {
  rt_echo(data: Int32Array): Promise<Int32Array>;
  rt_put(data: Int32Array): Promise<void>;
}
interface Handlers {
  rt_echo(server: number, data: Int32Array): Int32Array | Promise<Int32Array>;
  rt_put(server: number, data: Int32Array): void;
}
interface Module {
  rt_put_plan: RoutinePlan;
  ReleaseTestClient: new (caller: MigCaller) => Client;
  release_test_server(handlers: Handlers): AnyMigDemux;
}

let mod: Module;
const dir = mkdtempSync(join(tmpdir(), "mig-ts-message-memory-"));
beforeAll(async () => {
  const path = join(dir, "release_test.defs");
  writeFileSync(path, DEFS);
  const readFile = (p: string) => {
    try {
      return readFileSync(p, "utf8");
    } catch {
      return undefined;
    }
  };
  const r = generate(path, { includeDirs: [join(ROOT, "defs")], readFile });
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  const out = join(dir, r.files[0].name);
  writeFileSync(out, r.files[0].text);
  mod = (await import(pathToFileURL(out).href)) as Module;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MODES: CodecMode[] = ["specialise", "interpret"];
const initialMode = codecMode();
afterEach(() => {
  setCodecMode(initialMode);
});

/** A kernel with a server task holding a receive right and a client task holding a send right to it. */
function setup(): { kernel: Kernel; server: Task; client: Task; port: number; send: number } {
  const kernel = new Kernel();
  const server = kernel.createTask("server");
  const client = kernel.createTask("client");
  const port = server.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const send = server.mach_port_extract_right(port, MACH_MSG_TYPE_MAKE_SEND, client).right;
  return { kernel, server, client, port, send };
}

/** 512 words that say which message they belong to. */
function words(i: number): Int32Array {
  return Int32Array.from({ length: 512 }, (_, k) => i * 100000 + k);
}

/** rt_put's request values. */
function putValues(port: number, i: number): unknown[] {
  const plan = mod.rt_put_plan;
  const values = new Array<unknown>(plan.args.length).fill(null);
  values[plan.requestPortSlot] = port;
  values[plan.args.indexOf("data")] = words(i);
  return values;
}

/** Which message a received rt_put request is, after checking all of its words. */
function whichPut(received: MachMessage): number {
  const plan = mod.rt_put_plan;
  const out = new Array<unknown>(plan.args.length).fill(null);
  expect(decodeRequest(plan, received, out)).toBe(ReturnCode.KERN_SUCCESS);
  return which(out[plan.args.indexOf("data")] as Int32Array);
}

function which(data: Int32Array): number {
  const i = Math.floor(data[0] / 100000);
  expect([...data]).toEqual([...words(i)]);
  return i;
}

describe.each(MODES)("message memory given back after a send (%s codec)", (mode) => {
  it("a queued message is the kernel's copy: encoding over the sender's released memory leaves it whole", () => {
    expect(setCodecMode(mode)).toBe(mode);
    const { client, server, port, send } = setup();
    const plan = mod.rt_put_plan;
    const a = encodeRequest(plan, putValues(send, 1)) as MachMessage;
    const body = Buffer.from(a.bytes.subarray(32)).toString("hex");
    const at = { buffer: a.bytes.buffer, offset: a.bytes.byteOffset };
    expect(client.sendMessage(a, MACH_SEND_MSG)).toBe(ReturnCode.KERN_SUCCESS);
    releaseMessage(a);

    // B is written where A was (the test is not vacuous) and so changes A's bytes ...
    const b = encodeRequest(plan, putValues(send, 2)) as MachMessage;
    expect(b.bytes.buffer).toBe(at.buffer);
    expect(b.bytes.byteOffset).toBe(at.offset);
    expect(Buffer.from(a.bytes.subarray(32)).toString("hex")).not.toBe(body);
    expect(client.sendMessage(b, MACH_SEND_MSG)).toBe(ReturnCode.KERN_SUCCESS);
    releaseMessage(b);
    // ... and C overwrites the memory again while both are queued.
    const c = encodeRequest(plan, putValues(send, 3)) as MachMessage;
    expect(c.bytes.byteOffset).toBe(at.offset);

    // ... but what is queued is the kernel's copy: A then B arrive as they were sent.
    const first = server.machMsg(null, MACH_RCV_MSG, 0, 4096, port) as { code: number; msg: MachMessage };
    expect(first.code).toBe(ReturnCode.KERN_SUCCESS);
    expect(whichPut(first.msg)).toBe(1);
    const second = server.machMsg(null, MACH_RCV_MSG, 0, 4096, port) as { code: number; msg: MachMessage };
    expect(whichPut(second.msg)).toBe(2);
  });

  it("release gives back only the message encoded last (then the one before it), once", () => {
    expect(setCodecMode(mode)).toBe(mode);
    const plan = mod.rt_put_plan;
    const put = (i: number) => encodeRequest(plan, putValues(0x100, i)) as MachMessage;
    const hex = (m: MachMessage) => Buffer.from(m.bytes).toString("hex");
    const a = put(1);
    const b = put(2);
    const bHex = hex(b);
    // A is not the last one: nothing happens, and C goes after B.
    releaseMessage(a);
    const c = put(3);
    expect(hex(b)).toBe(bHex);
    expect(c.bytes.byteOffset).toBeGreaterThan(b.bytes.byteOffset);
    // C is: D takes its place. A second release of C must not give back D's memory.
    releaseMessage(c);
    const d = put(4);
    expect(d.bytes.byteOffset).toBe(c.bytes.byteOffset);
    const dHex = hex(d);
    releaseMessage(c);
    const e = put(5);
    expect(e.bytes.byteOffset).toBeGreaterThan(d.bytes.byteOffset);
    expect(hex(d)).toBe(dHex);

    // Request then reply (an in-process RPC): given back in reverse order, both go; the request
    // first (the reply still live) gives nothing back.
    const request = put(6);
    const reply = put(7);
    const replyHex = hex(reply);
    releaseMessage(request);
    expect(put(8).bytes.byteOffset).toBeGreaterThan(reply.bytes.byteOffset);
    expect(hex(reply)).toBe(replyHex);
    const request2 = put(9);
    const reply2 = put(10);
    releaseMessage(reply2);
    releaseMessage(request2);
    expect(put(11).bytes.byteOffset).toBe(request2.bytes.byteOffset);

    // A small message after a large one: neither can be given back (the small one is not
    // recorded, and the large one is no longer last).
    const large = put(12);
    const small = encodeRequest(memory_object_data_request_plan, [0x100, null, 0, 0n, 4096n, 1]) as MachMessage;
    const smallHex = hex(small);
    releaseMessage(large);
    releaseMessage(small);
    expect(put(13).bytes.byteOffset).toBeGreaterThan(small.bytes.byteOffset);
    expect(hex(small)).toBe(smallHex);
  });

  it("simpleroutines queued with no receiver yet: each request's memory is reused, each arrives whole", async () => {
    expect(setCodecMode(mode)).toBe(mode);
    const { server, client, port, send } = setup();
    const rt = new mod.ReleaseTestClient(createCaller(client, send));
    const calls = 16;
    // The first five fit the queue (qlimit 5) and are released at once; the rest block until the
    // server receives and are kept until their send completes.
    const sent: Promise<void>[] = [];
    const used: number[] = [];
    for (let i = 0; i < calls; i++) {
      sent.push(rt.rt_put(words(i)));
      used.push(slab.used);
    }
    // Every queued send gave its memory back: the slab did not move (not vacuous).
    expect(new Set(used.slice(0, 5)).size).toBe(1);

    const got: number[] = [];
    const handlers: Handlers = {
      rt_echo: (_server, data) => data,
      rt_put(_server, data) {
        got.push(which(data));
      },
    };
    const loop = serve(server, port, migDemux(mod.release_test_server(handlers)));
    await Promise.all(sent);
    expect(got).toEqual(Array.from({ length: calls }, (_, i) => i));
    await loop.stop();
  });

  it("pipelined routines through the generated stubs: requests and replies are each their own", async () => {
    expect(setCodecMode(mode)).toBe(mode);
    const { server, client, port, send } = setup();
    const handlers: Handlers = {
      async rt_echo(_server, data) {
        const i = which(data);
        // Answer out of order: replies are encoded and sent while other requests are queued.
        for (let k = i % 3; k > 0; k--) await Promise.resolve();
        return words(i + 1000);
      },
      rt_put() {},
    };
    const rt = new mod.ReleaseTestClient(createCaller(client, send));
    const batch = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => rt.rt_echo(words(from + k)));
    // Before the server runs (requests queue; calls wait), then with it running, in one batch.
    const early = batch(0, 20);
    const loop = serve(server, port, migDemux(mod.release_test_server(handlers)));
    const results = [...(await Promise.all(early)), ...(await Promise.all(batch(20, 60)))];
    expect(results.map(which)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1000));

    // One call at a time: the request and the reply are given back, so the slab does not move.
    const sync: Handlers = { rt_echo: (_server, data) => words(which(data) + 1000), rt_put() {} };
    await loop.stop();
    const loop2 = serve(server, port, migDemux(mod.release_test_server(sync)));
    await rt.rt_echo(words(0));
    const before = slab.used;
    for (let i = 1; i <= 10; i++) expect(which(await rt.rt_echo(words(i)))).toBe(i + 1000);
    expect(slab.used).toBe(before);
    await loop2.stop();
  });

  it("nothing is given back while a message observer is attached: it may keep what it sees", async () => {
    expect(setCodecMode(mode)).toBe(mode);
    const { kernel, server, client, port, send } = setup();
    const seen: Array<{ msg: MachMessage; hex: string }> = [];
    const detach = kernel.observe({
      send(_task, msg) {
        seen.push({ msg, hex: Buffer.from(msg.bytes).toString("hex") });
      },
    });
    const loop = serve(server, port, migDemux(mod.release_test_server({ rt_echo: (_server, data) => words(which(data) + 1000), rt_put() {} })));
    const rt = new mod.ReleaseTestClient(createCaller(client, send));
    for (let i = 0; i < 5; i++) await rt.rt_echo(words(i));
    detach();
    await loop.stop();
    // Requests and replies, each still as it was when sent.
    expect(seen.length).toBe(10);
    for (const s of seen) expect(Buffer.from(s.msg.bytes).toString("hex")).toBe(s.hex);
  });
});
