/**
 * The kernel's run queue (Kernel.schedule/runReady) and the serve loop built on it: a serve loop
 * handed a request runs right after the send of an RPC that woke it (the client's mach_msg then
 * finds the reply already queued and returns without waiting), in a microtask after a plain send,
 * and never nested inside another runnable; queued requests are taken synchronously; seqnos and
 * FIFO order hold whether a message was handed off or queued.
 */
import { describe, expect, it } from "vitest";
import {
  MACH_MSG_TYPE_COPY_SEND,
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_MAKE_SEND_ONCE,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_RCV_MSG,
  MACH_SEND_MSG,
  ReturnCode as R,
} from "../../../runtime/constants.js";
import { Kernel, type Task } from "../../../runtime/kernel/index.js";
import type { MachMsgResult } from "../../../runtime/kernel/task.js";
import { mig_reply_setup } from "../../../runtime/mig/reply.js";
import { serve, type Demux } from "../../../runtime/mig/serve.js";
import { audit, buildMessage, header } from "./support.js";

function world(abi: "x86_64" | "i386") {
  const kernel = new Kernel(abi);
  const client = kernel.createTask("client");
  const server = kernel.createTask("server");
  const service = server.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const toService = server.mach_port_extract_right(service, MACH_MSG_TYPE_MAKE_SEND, client).right;
  return { kernel, client, server, service, toService, abi: kernel.abi };
}

/** A demux that answers every request with RetCode 0 (the request carries nothing to consume). */
function answering(task: Task, seen: Array<[number, number]>, events?: string[]): Demux {
  return (request, seqno) => {
    seen.push([request.id, seqno]);
    events?.push(`handled ${request.id}`);
    return mig_reply_setup(task.kernel.abi, request, 0);
  };
}

describe.each(["x86_64", "i386"] as const)("kernel run queue and serve loop (%s)", (abiName) => {
  it("an RPC to a serve loop with a synchronous handler completes inside mach_msg", async () => {
    const { kernel, client, server, service, toService, abi } = world(abiName);
    const seen: Array<[number, number]> = [];
    const loop = serve(server, service, answering(server, seen));
    const reply = client.mach_reply_port();
    for (let id = 500; id < 503; id++) {
      const msg = buildMessage(abi, { remote: toService, remoteType: MACH_MSG_TYPE_COPY_SEND, local: reply, localType: MACH_MSG_TYPE_MAKE_SEND_ONCE, id });
      const r = client.machMsg(msg, MACH_SEND_MSG | MACH_RCV_MSG, msg.bytes.length, 1024, reply);
      // The server ran during the send and queued its reply: no promise.
      expect(r instanceof Promise).toBe(false);
      const done = r as MachMsgResult;
      expect(done.code).toBe(R.KERN_SUCCESS);
      expect(header(abi, done.msg!).id).toBe(id + 100);
    }
    expect(seen).toEqual([
      [500, 0],
      [501, 1],
      [502, 2],
    ]);
    await loop.stop();
    expect(audit(kernel)).toEqual([]);
  });

  it("a plain send wakes the loop in a microtask, not inside the sender's call", async () => {
    const { client, server, service, toService, abi } = world(abiName);
    const seen: Array<[number, number]> = [];
    const loop = serve(server, service, (request, seqno) => {
      seen.push([request.id, seqno]);
      return R.KERN_SUCCESS;
    });
    const msg = buildMessage(abi, { remote: toService, remoteType: MACH_MSG_TYPE_COPY_SEND, id: 9 });
    expect(client.sendMessage(msg, MACH_SEND_MSG)).toBe(R.KERN_SUCCESS);
    expect(seen).toEqual([]);
    await Promise.resolve();
    expect(seen).toEqual([[9, 0]]);
    await loop.stop();
  });

  it("a handler's own RPC runs its server after the handler returns, never nested in it", async () => {
    const kernel = new Kernel(abiName);
    const abi = kernel.abi;
    const a = kernel.createTask("A");
    const b = kernel.createTask("B");
    const c = kernel.createTask("C");
    const aPort = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const bPort = b.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const toA = a.mach_port_extract_right(aPort, MACH_MSG_TYPE_MAKE_SEND, c).right;
    const aToB = b.mach_port_extract_right(bPort, MACH_MSG_TYPE_MAKE_SEND, a).right;
    const events: string[] = [];
    const bSeen: Array<[number, number]> = [];
    const loopB = serve(b, bPort, answering(b, bSeen, events));
    const aReply = a.mach_reply_port();
    const loopA = serve(a, aPort, async (request) => {
      events.push("A start");
      const msg = buildMessage(abi, { remote: aToB, remoteType: MACH_MSG_TYPE_COPY_SEND, local: aReply, localType: MACH_MSG_TYPE_MAKE_SEND_ONCE, id: 700 });
      const r = a.machMsg(msg, MACH_SEND_MSG | MACH_RCV_MSG, msg.bytes.length, 1024, aReply);
      events.push(r instanceof Promise ? "A waits" : "A got the reply at once");
      events.push("A returns");
      const got = await r;
      events.push(`A got ${header(abi, got.msg!).id}`);
      return mig_reply_setup(abi, request, 0);
    });
    const cReply = c.mach_reply_port();
    const msg = buildMessage(abi, { remote: toA, remoteType: MACH_MSG_TYPE_COPY_SEND, local: cReply, localType: MACH_MSG_TYPE_MAKE_SEND_ONCE, id: 600 });
    const r = await c.mach_msg(msg, MACH_SEND_MSG | MACH_RCV_MSG, msg.bytes.length, 1024, cReply);
    expect(header(abi, r.msg!).id).toBe(700);
    expect(events).toEqual(["A start", "A waits", "A returns", "handled 700", "A got 800"]);
    await Promise.all([loopA.stop(), loopB.stop()]);
    expect(audit(kernel)).toEqual([]);
  });

  it("requests queued before the loop starts are taken synchronously, in order", async () => {
    const { kernel, client, server, service, toService, abi } = world(abiName);
    for (let id = 1; id <= 3; id++) {
      const msg = buildMessage(abi, { remote: toService, remoteType: MACH_MSG_TYPE_COPY_SEND, id });
      expect(client.sendMessage(msg, MACH_SEND_MSG)).toBe(R.KERN_SUCCESS);
    }
    const seen: Array<[number, number]> = [];
    const loop = serve(server, service, (request, seqno) => {
      seen.push([request.id, seqno]);
      return R.KERN_SUCCESS;
    });
    expect(seen).toEqual([
      [1, 0],
      [2, 1],
      [3, 2],
    ]);
    await loop.stop();
    await loop.done;
    expect(audit(kernel)).toEqual([]);
  });

  it("hand-offs and queued messages share one seqno sequence (an async handler, concurrency 1)", async () => {
    const { kernel, client, server, service, toService, abi } = world(abiName);
    const seen: Array<[number, number]> = [];
    const release: Array<() => void> = [];
    const loop = serve(
      server,
      service,
      async (request, seqno) => {
        seen.push([request.id, seqno]);
        await new Promise<void>((resolve) => release.push(resolve));
        return R.KERN_SUCCESS;
      },
      { concurrency: 1 },
    );
    // The first is handed to the waiting loop; the loop is then at its limit and the rest queue.
    for (let id = 1; id <= 4; id++) {
      const msg = buildMessage(abi, { remote: toService, remoteType: MACH_MSG_TYPE_COPY_SEND, id });
      expect(client.sendMessage(msg, MACH_SEND_MSG)).toBe(R.KERN_SUCCESS);
    }
    expect(kernel.queuedMessages(server.portOf(service)!).length).toBe(3);
    while (seen.length < 4) {
      await new Promise((r) => setImmediate(r));
      release.shift()?.();
    }
    release.shift()?.();
    expect(seen).toEqual([
      [1, 0],
      [2, 1],
      [3, 2],
      [4, 3],
    ]);
    await loop.stop();
    expect(audit(kernel)).toEqual([]);
  });

  it("stop() ends a waiting loop; a loop whose port dies ends by itself", async () => {
    const { server, service } = world(abiName);
    const loop = serve(server, service, () => R.KERN_SUCCESS);
    await loop.stop();
    await expect(loop.done).resolves.toBeUndefined();
    const other = server.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const dying = serve(server, other, () => R.KERN_SUCCESS);
    server.mach_port_destroy(other);
    await expect(dying.done).resolves.toBeUndefined();
  });
});
