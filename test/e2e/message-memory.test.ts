/**
 * Message memory given back after a send (runtime/codec/memory.ts releaseMessage): the MIG stubs
 * release a request once the kernel has taken it and the serve loop releases a migDemux reply
 * once it is sent, so the next message is encoded over the same bytes. That is sound only because
 * the kernel copies a message's bytes when it is sent (Task#sendMessage): these tests would fail
 * if a later encode could change a message that is still queued, or being read by its receiver.
 * Each test also checks that the memory really was reused, so that it cannot pass vacuously.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  DefaultPagerClient,
  default_pager_server,
  type DefaultPagerHandlers,
  type default_pager_filename_t,
  type mach_port_t,
} from "../../generated/default_pager.js";
import {
  MemoryObjectClient,
  memory_object_data_request_plan,
  memory_object_server,
  type MemoryObjectHandlers,
  type memory_object_control_t,
  type vm_offset_t,
  type vm_prot_t,
  type vm_size_t,
} from "../../generated/memory_object.js";
import { type CodecMode, codecMode, decodeRequest, encodeRequest, releaseMessage, setCodecMode } from "../../runtime/codec/engine.js";
import { slab } from "../../runtime/codec/memory.js";
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
  type MachMessage,
  type Task,
} from "../../runtime/index.js";

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

const PAGE = 4096;
const plan = memory_object_data_request_plan;
const slot = (name: string) => plan.args.indexOf(name);

/** memory_object_data_request's values: a message that says which request it is (its offset). */
function requestValues(port: number, i: number): unknown[] {
  const values = new Array<unknown>(plan.args.length).fill(null);
  values[plan.requestPortSlot] = port;
  values[slot("memory_control")] = 0;
  values[slot("offset")] = BigInt(i * PAGE);
  values[slot("length")] = BigInt(PAGE);
  values[slot("desired_access")] = i & 7;
  return values;
}

/** The offset a received memory_object_data_request carries (its other values checked against it). */
function offsetOf(received: MachMessage): bigint {
  const out = new Array<unknown>(plan.args.length).fill(null);
  expect(decodeRequest(plan, received, out)).toBe(ReturnCode.KERN_SUCCESS);
  const offset = out[slot("offset")] as bigint;
  expect(out[slot("length")]).toBe(BigInt(PAGE));
  expect(out[slot("desired_access")]).toBe(Number(offset / BigInt(PAGE)) & 7);
  return offset;
}

describe.each(MODES)("message memory given back after a send (%s codec)", (mode) => {
  it("a queued message is the kernel's copy: encoding over the sender's released memory leaves it whole", () => {
    expect(setCodecMode(mode)).toBe(mode);
    const { client, server, port, send } = setup();
    const a = encodeRequest(plan, requestValues(send, 1)) as MachMessage;
    const body = Buffer.from(a.bytes.subarray(32)).toString("hex");
    const at = { buffer: a.bytes.buffer, offset: a.bytes.byteOffset };
    expect(client.sendMessage(a, MACH_SEND_MSG)).toBe(ReturnCode.KERN_SUCCESS);
    releaseMessage(a);

    // B is written where A was (the test is not vacuous) and so changes A's bytes ...
    const b = encodeRequest(plan, requestValues(send, 2)) as MachMessage;
    expect(b.bytes.buffer).toBe(at.buffer);
    expect(b.bytes.byteOffset).toBe(at.offset);
    expect(Buffer.from(a.bytes.subarray(32)).toString("hex")).not.toBe(body);
    expect(client.sendMessage(b, MACH_SEND_MSG)).toBe(ReturnCode.KERN_SUCCESS);
    releaseMessage(b);
    // ... and C overwrites the memory again while both are queued.
    const c = encodeRequest(plan, requestValues(send, 3)) as MachMessage;
    expect(c.bytes.byteOffset).toBe(at.offset);

    // ... but what is queued is the kernel's copy: A then B arrive as they were sent.
    const first = server.machMsg(null, MACH_RCV_MSG, 0, 4096, port) as { code: number; msg: MachMessage };
    expect(first.code).toBe(ReturnCode.KERN_SUCCESS);
    expect(offsetOf(first.msg)).toBe(BigInt(PAGE));
    const second = server.machMsg(null, MACH_RCV_MSG, 0, 4096, port) as { code: number; msg: MachMessage };
    expect(offsetOf(second.msg)).toBe(BigInt(2 * PAGE));
  });

  it("release gives back only the message encoded last, once", () => {
    expect(setCodecMode(mode)).toBe(mode);
    const a = encodeRequest(plan, requestValues(0x100, 1)) as MachMessage;
    const b = encodeRequest(plan, requestValues(0x100, 2)) as MachMessage;
    const bHex = Buffer.from(b.bytes).toString("hex");
    // A is not the last one: nothing happens, and C goes after B.
    releaseMessage(a);
    const c = encodeRequest(plan, requestValues(0x100, 3)) as MachMessage;
    expect(Buffer.from(b.bytes).toString("hex")).toBe(bHex);
    // C is: D takes its place. A second release of C must not give back D's memory.
    releaseMessage(c);
    const d = encodeRequest(plan, requestValues(0x100, 4)) as MachMessage;
    expect(d.bytes.byteOffset).toBe(c.bytes.byteOffset);
    const dHex = Buffer.from(d.bytes).toString("hex");
    releaseMessage(c);
    const e = encodeRequest(plan, requestValues(0x100, 5)) as MachMessage;
    expect(e.bytes.byteOffset).not.toBe(d.bytes.byteOffset);
    expect(Buffer.from(d.bytes).toString("hex")).toBe(dHex);
    expect(Buffer.from(b.bytes).toString("hex")).toBe(bHex);

    // Request then reply (an in-process RPC): given back in reverse order, both go; the request
    // first (the reply still live) gives nothing back.
    const request = encodeRequest(plan, requestValues(0x100, 6)) as MachMessage;
    const reply = encodeRequest(plan, requestValues(0x100, 7)) as MachMessage;
    const replyHex = Buffer.from(reply.bytes).toString("hex");
    releaseMessage(request);
    expect(Buffer.from(reply.bytes).toString("hex")).toBe(replyHex);
    expect((encodeRequest(plan, requestValues(0x100, 8)) as MachMessage).bytes.byteOffset).toBeGreaterThan(reply.bytes.byteOffset);
    const request2 = encodeRequest(plan, requestValues(0x100, 9)) as MachMessage;
    const reply2 = encodeRequest(plan, requestValues(0x100, 10)) as MachMessage;
    releaseMessage(reply2);
    releaseMessage(request2);
    expect((encodeRequest(plan, requestValues(0x100, 11)) as MachMessage).bytes.byteOffset).toBe(request2.bytes.byteOffset);
  });

  it("simpleroutines queued with no receiver yet: each request's memory is reused, each arrives whole", async () => {
    expect(setCodecMode(mode)).toBe(mode);
    const { server, client, port, send } = setup();
    const mo = new MemoryObjectClient(createCaller(client, send));
    const calls = 16;
    // The first five fit the queue (qlimit 5) and are released at once; the rest block until the
    // server receives and are kept until their send completes.
    const sent: Promise<void>[] = [];
    const used: number[] = [];
    for (let i = 0; i < calls; i++) {
      sent.push(mo.memory_object_data_request(0 as memory_object_control_t, BigInt(i * PAGE) as vm_offset_t, BigInt(PAGE) as vm_size_t, (i & 7) as vm_prot_t));
      used.push(slab.used);
    }
    // Every queued send gave its memory back: the slab did not move (not vacuous).
    expect(new Set(used.slice(0, 5)).size).toBe(1);

    const offsets: bigint[] = [];
    const handlers = {
      memory_object_data_request(_object: unknown, _control: unknown, offset: bigint) {
        offsets.push(offset);
      },
    } as unknown as MemoryObjectHandlers;
    const loop = serve(server, port, migDemux(memory_object_server(handlers)));
    await Promise.all(sent);
    expect(offsets).toEqual(Array.from({ length: calls }, (_, i) => BigInt(i * PAGE)));
    await loop.stop();
  });

  it("pipelined routines through the generated stubs: requests and replies are each their own", async () => {
    expect(setCodecMode(mode)).toBe(mode);
    const { server, client, port, send } = setup();
    let infos = 0;
    const files: string[] = [];
    const handlers = {
      async default_pager_paging_file(_pager: unknown, _device: unknown, filename: string, add: boolean | number) {
        files.push(`${filename}:${Number(add)}`);
        // Answer out of order: replies are encoded and sent while other requests are queued.
        for (let i = filename.length % 3; i > 0; i--) await Promise.resolve();
      },
      default_pager_info() {
        const n = BigInt(infos++);
        return { dpi_total_space: n << 20n, dpi_free_space: n, dpi_page_size: 4096n + n };
      },
    } as unknown as DefaultPagerHandlers;
    const dp = new DefaultPagerClient(createCaller(client, send));

    // Before the server runs (requests queue; calls wait), then with it running (replies come
    // during the send), then both at once.
    const batch = (from: number, to: number) => {
      const calls: Promise<unknown>[] = [];
      for (let i = from; i < to; i++) {
        calls.push(i % 2 === 0 ? dp.default_pager_paging_file(0 as mach_port_t, `paging-file-${"x".repeat(i % 5)}${i}` as default_pager_filename_t, i & 1) : dp.default_pager_info());
      }
      return calls;
    };
    const early = batch(0, 20);
    const loop = serve(server, port, migDemux(default_pager_server(handlers)));
    const results = [...(await Promise.all(early)), ...(await Promise.all(batch(20, 60)))];
    const infoCalls = results.filter((r) => r !== undefined) as Array<{ dpi_total_space: bigint; dpi_free_space: bigint; dpi_page_size: bigint }>;
    // default_pager_info calls are answered in call order (one queue, handled in order).
    expect(infoCalls.map((r) => r.dpi_free_space)).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(i)));
    for (const r of infoCalls) {
      expect(r.dpi_total_space).toBe(r.dpi_free_space << 20n);
      expect(r.dpi_page_size).toBe(4096n + r.dpi_free_space);
    }
    expect(files).toEqual(Array.from({ length: 30 }, (_, k) => `paging-file-${"x".repeat((2 * k) % 5)}${2 * k}:0`));

    // One call at a time: the request and the reply are given back, so the slab does not move.
    await dp.default_pager_info();
    const before = slab.used;
    for (let i = 0; i < 10; i++) await dp.default_pager_info();
    expect(slab.used).toBe(before);
    await loop.stop();
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
    const loop = serve(server, port, migDemux(default_pager_server({ default_pager_info: () => ({ dpi_total_space: 1n, dpi_free_space: 2n, dpi_page_size: 3n }) } as unknown as DefaultPagerHandlers)));
    const dp = new DefaultPagerClient(createCaller(client, send));
    for (let i = 0; i < 5; i++) await dp.default_pager_info();
    detach();
    await loop.stop();
    // Requests and replies, each still as it was when sent (the kernel's send rewrites nothing in
    // the sender's message).
    expect(seen.length).toBe(10);
    for (const s of seen) expect(Buffer.from(s.msg.bytes).toString("hex")).toBe(s.hex);
  });
});
