import { describe, expect, it } from "vitest";
import {
  MACH_MSG_TYPE_COPY_SEND,
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_MAKE_SEND_ONCE,
  MACH_MSG_TYPE_MOVE_RECEIVE,
  MACH_MSG_TYPE_MOVE_SEND,
  MACH_NOTIFY_SEND_ONCE,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_PORT_RIGHT_SEND,
  MACH_PORT_TYPE_DEAD_NAME,
  MACH_PORT_TYPE_RECEIVE,
  MACH_PORT_TYPE_SEND,
  MACH_RCV_MSG,
  MACH_RCV_TIMEOUT,
  ReturnCode as R,
} from "../../../runtime/constants.js";
import { Kernel, type Task } from "../../../runtime/kernel/index.js";
import type { MachMessage } from "../../../runtime/message.js";
import {
  checkReply,
  mig_rpc,
  mig_send,
  ReplyPortPool,
  SeqnoOrder,
  serve,
  type Demux,
  type ReceivedMessage,
} from "../../../runtime/mig/index.js";
import { audit, buildMessage, header, type Item } from "./support.js";

function world() {
  const kernel = new Kernel();
  const client = kernel.createTask("client");
  const server = kernel.createTask("server");
  const port = server.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const toServer = server.mach_port_extract_right(port, MACH_MSG_TYPE_MAKE_SEND, client).right;
  return { kernel, client, server, port, toServer, abi: kernel.abi };
}

/** A reply in the shape of a MIG routine reply: RetCode, then one integer. */
function replyTo(t: Task, req: ReceivedMessage, value: number, idDelta = 100): MachMessage {
  return buildMessage(t.kernel.abi, {
    remote: req.replyPort,
    remoteType: req.replyType,
    id: req.id + idDelta,
    items: [
      { kind: "int", value: 0 },
      { kind: "int", value },
    ],
  });
}

function request(abi: Kernel["abi"], toServer: number, id: number, items: Item[] = []): MachMessage {
  return buildMessage(abi, { remote: toServer, remoteType: MACH_MSG_TYPE_COPY_SEND, id, items });
}

function snapshot(t: Task) {
  const { names, types } = t.mach_port_names();
  return names.map((n, i) => [n, types[i], t.mach_port_get_refs(n, MACH_PORT_RIGHT_SEND).refs]);
}

const replyShape = (abi: Kernel["abi"]) => ({ size: abi.headerSize + 2 * (abi.descriptorSize + 8), complex: false });

describe("mig_rpc and serve", () => {
  it("a call round-trips; the reply port is reused from the pool", async () => {
    const { kernel, client, server, port, toServer, abi } = world();
    const demux: Demux = (req) => (req.id === 500 ? replyTo(server, req, req.seqno + 1000) : null);
    const srv = serve(server, port, demux);
    const pool = new ReplyPortPool(client);
    for (let i = 0; i < 3; i++) {
      const r = await mig_rpc(client, request(abi, toServer, 500), { pool });
      expect(r.code).toBe(0);
      expect(checkReply(abi, r.reply!, replyShape(abi))).toBe(0);
      const rb = r.reply!.bytes;
      // A received message's bytes may be a view into a kernel slab: mind byteOffset.
      expect(new DataView(rb.buffer, rb.byteOffset, rb.byteLength).getUint32(abi.headerSize + 2 * abi.descriptorSize + 8, true)).toBe(1000 + i);
      expect(pool.size).toBe(1);
    }
    await srv.stop();
    expect(audit(kernel)).toEqual([]);
  });

  it("unknown ids get a MIG_BAD_ID error reply; demuxes chain", async () => {
    const { client, server, port, toServer, abi } = world();
    const first: Demux = (req) => (req.id === 1 ? replyTo(server, req, 1) : null);
    const second: Demux = (req) => (req.id === 2 ? replyTo(server, req, 2) : null);
    const srv = serve(server, port, [first, second]);
    expect((await mig_rpc(client, request(abi, toServer, 2))).code).toBe(0);
    const bad = await mig_rpc(client, request(abi, toServer, 3));
    expect(bad.code).toBe(0);
    expect(bad.reply!.bytes.length).toBe(abi.replyHeaderSize);
    expect(checkReply(abi, bad.reply!, replyShape(abi))).toBe(R.MIG_BAD_ID);
    await srv.stop();
  });

  it("MIG_SERVER_DIED when the server drops the reply right; MIG_REPLY_MISMATCH on a wrong id", async () => {
    const { kernel, client, server, port, toServer, abi } = world();
    const demux: Demux = (req) => {
      if (req.id === 10) {
        server.mach_port_deallocate(req.takeReplyPort().name);
        return R.MIG_NO_REPLY;
      }
      return replyTo(server, req, 0, 99);
    };
    const srv = serve(server, port, demux);
    const pool = new ReplyPortPool(client);
    expect((await mig_rpc(client, request(abi, toServer, 10), { pool })).code).toBe(R.MIG_SERVER_DIED);
    expect(pool.size).toBe(1);
    expect((await mig_rpc(client, request(abi, toServer, 11), { pool })).code).toBe(R.MIG_REPLY_MISMATCH);
    expect(pool.size).toBe(0);
    await srv.stop();
    expect(client.mach_port_names().names).toEqual([toServer]);
    expect(audit(kernel)).toEqual([]);
  });

  it("a timed-out call destroys its reply port, so a late reply cannot reach a later call", async () => {
    const { kernel, client, server, port, toServer, abi } = world();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const demux: Demux = async (req) => {
      if (req.id === 20) await gate;
      return replyTo(server, req, req.id);
    };
    const srv = serve(server, port, demux);
    const pool = new ReplyPortPool(client);
    expect((await mig_rpc(client, request(abi, toServer, 20), { pool, timeout: 10 })).code).toBe(R.MACH_RCV_TIMED_OUT);
    expect(pool.size).toBe(0);
    release();
    const next = await mig_rpc(client, request(abi, toServer, 21), { pool });
    expect(next.code).toBe(0);
    expect(header(abi, next.reply!).id).toBe(121);
    await srv.stop();
    expect(server.mach_port_names().types.every((t) => t !== MACH_PORT_TYPE_DEAD_NAME)).toBe(true);
    expect(audit(kernel)).toEqual([]);
  });

  it("MIG_NO_REPLY with a deferred reply through the taken reply right", async () => {
    const { client, server, port, toServer, abi } = world();
    const deferred: Array<{ name: number; type: number; id: number }> = [];
    const demux: Demux = (req) => {
      deferred.push({ ...req.takeReplyPort(), id: req.id });
      return R.MIG_NO_REPLY;
    };
    const srv = serve(server, port, demux);
    const call = mig_rpc(client, request(abi, toServer, 30));
    await new Promise((r) => setTimeout(r, 1));
    expect(deferred.length).toBe(1);
    const d = deferred[0];
    const reply = buildMessage(abi, { remote: d.name, remoteType: d.type, id: d.id + 100, items: [{ kind: "int", value: 0 }, { kind: "int", value: 7 }] });
    expect(await mig_send(server, reply)).toBe(0);
    expect((await call).code).toBe(0);
    await srv.stop();
  });

  it("handles requests concurrently", async () => {
    const { client, server, port, toServer, abi } = world();
    let unblock!: () => void;
    const second = new Promise<void>((r) => (unblock = r));
    const demux: Demux = async (req) => {
      if (req.id === 40) await second; // would deadlock if requests ran one at a time
      else unblock();
      return replyTo(server, req, req.id);
    };
    const srv = serve(server, port, demux);
    const [a, b] = await Promise.all([mig_rpc(client, request(abi, toServer, 40)), mig_rpc(client, request(abi, toServer, 41))]);
    expect([a.code, b.code]).toEqual([0, 0]);
    await srv.stop();
  });

  it("idle runs once a burst of queued requests has been taken, not once per request", async () => {
    const { server, client, port, toServer, abi } = world();
    const log: string[] = [];
    const demux: Demux = (req) => {
      log.push(`req ${req.id}`);
      return R.KERN_SUCCESS;
    };
    // Five requests queued before the loop first runs, then two more one at a time.
    for (let id = 1; id <= 5; id++) expect(await mig_send(client, request(abi, toServer, id))).toBe(0);
    const srv = serve(server, port, demux, { idle: () => log.push("idle") });
    expect(log).toEqual(["req 1", "req 2", "req 3", "req 4", "req 5", "idle"]);
    for (const id of [6, 7]) {
      expect(await mig_send(client, request(abi, toServer, id))).toBe(0);
      await Promise.resolve();
    }
    expect(log.slice(6)).toEqual(["req 6", "idle", "req 7", "idle"]);
    // An idle hook that throws is reported like an uncaught error; the loop goes on serving.
    const thrown: unknown[] = [];
    const onUncaught = (e: unknown) => thrown.push(e);
    process.on("uncaughtException", onUncaught);
    try {
      const srv2Port = server.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
      const to2 = server.mach_port_extract_right(srv2Port, MACH_MSG_TYPE_MAKE_SEND, client).right;
      let served = 0;
      const srv2 = serve(server, srv2Port, () => (served++, R.KERN_SUCCESS), {
        idle: () => {
          throw new Error("idle failed");
        },
      });
      expect(await mig_send(client, request(abi, to2, 9))).toBe(0);
      await new Promise((r) => setTimeout(r, 10));
      expect(await mig_send(client, request(abi, to2, 10))).toBe(0);
      await new Promise((r) => setTimeout(r, 10));
      expect(served).toBe(2);
      expect(thrown.map((e) => (e as Error).message)).toContain("idle failed");
      await srv2.stop();
    } finally {
      process.off("uncaughtException", onUncaught);
    }
    await srv.stop();
  });

  it("simpleroutines send nothing; a failing one has its request destroyed", async () => {
    const { kernel, client, server, port, toServer, abi } = world();
    const carried = client.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const seen: number[] = [];
    const demux: Demux = (req) => {
      seen.push(req.id);
      return req.id === 50 ? R.KERN_SUCCESS : R.KERN_FAILURE;
    };
    const srv = serve(server, port, demux);
    expect(await mig_send(client, request(abi, toServer, 50))).toBe(0);
    const items: Item[] = [{ kind: "ports", disposition: MACH_MSG_TYPE_MAKE_SEND, names: [carried] }];
    expect(await mig_send(client, request(abi, toServer, 51, items))).toBe(0);
    await new Promise((r) => setTimeout(r, 2));
    expect(seen).toEqual([50, 51]);
    expect(client.mach_port_get_srights(carried).srights).toBe(0);
    await srv.stop();
    expect(audit(kernel)).toEqual([]);
  });
});

describe("ownership contract (mig-reference §7.3)", () => {
  /** A request carrying a send right, a receive right, a send-once right and OOL memory. */
  function richRequest(w: ReturnType<typeof world>, id: number) {
    const { client, abi, toServer } = w;
    const mine = client.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const moved = client.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const toMoved = client.mach_port_extract_right(moved, MACH_MSG_TYPE_MAKE_SEND).right;
    expect(toMoved).toBe(moved);
    const msg = request(abi, toServer, id, [
      { kind: "ports", disposition: MACH_MSG_TYPE_MAKE_SEND, names: [mine] },
      { kind: "ports", disposition: MACH_MSG_TYPE_MOVE_RECEIVE, names: [moved] },
      { kind: "ports", disposition: MACH_MSG_TYPE_MAKE_SEND_ONCE, names: [mine] },
      { kind: "ool", data: new Uint8Array(100).fill(7) },
    ]);
    return { msg, mine, moved };
  }

  for (const style of ["untouched", "released one, then failed"] as const) {
    it(`a failing handler (${style}) leaks nothing and releases nothing twice`, async () => {
      const w = world();
      const { kernel, client, server, port } = w;
      const before = snapshot(server);
      const { msg, mine, moved } = richRequest(w, 60);
      let handed: ReceivedMessage | null = null;
      const demux: Demux = (req) => {
        handed = req;
        expect(req.rightCount).toBe(3);
        // The loop's own operations are not methods of the request a demux or handler is given.
        for (const op of ["takeAll", "destroy", "replySent"]) expect((req as unknown as Record<string, unknown>)[op]).toBeUndefined();
        if (style !== "untouched") {
          req.releaseRight(0);
          // A second release (or a take after it) cannot happen through the API.
          expect(() => req.releaseRight(0)).toThrow();
          expect(() => req.takeRight(0)).toThrow();
        }
        return R.KERN_INVALID_ARGUMENT;
      };
      const srv = serve(server, port, demux);
      const r = await mig_rpc(client, msg);
      expect(r.code).toBe(0);
      expect(checkReply(w.abi, r.reply!, replyShape(w.abi))).toBe(R.KERN_INVALID_ARGUMENT);
      await srv.stop();
      // The server's space is exactly as before the request.
      expect(snapshot(server)).toEqual(before);
      expect(handed!.empty).toBe(true);
      expect(handed!.ool[0].length).toBe(0);
      // The send right is gone (srights 0), the receive right died (our send right is a dead
      // name), the send-once right came back as a send-once notification.
      expect(client.mach_port_get_srights(mine).srights).toBe(0);
      expect(client.mach_port_type(moved).type).toBe(MACH_PORT_TYPE_DEAD_NAME);
      const n = await client.mach_msg(null, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, 1024, mine, 0);
      expect(header(w.abi, n.msg!).id).toBe(MACH_NOTIFY_SEND_ONCE);
      expect((await client.mach_msg(null, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, 1024, mine, 0)).code).toBe(R.MACH_RCV_TIMED_OUT);
      expect(audit(kernel)).toEqual([]);
    });
  }

  it("a handler that succeeds has consumed the rights: the loop does not touch them", async () => {
    const w = world();
    const { kernel, client, server, port } = w;
    const before = snapshot(server).length;
    const { msg, mine } = richRequest(w, 61);
    const kept: Array<{ name: number; type: number }> = [];
    let region: Uint8Array | null = null;
    const demux: Demux = (req) => {
      for (let i = 0; i < req.rightCount; i++) kept.push(req.takeRight(i));
      region = req.takeOol(0);
      return replyTo(server, req, 0);
    };
    const srv = serve(server, port, demux);
    expect((await mig_rpc(client, msg)).code).toBe(0);
    await srv.stop();
    expect(kept.map((k) => k.type)).toEqual([17, 16, 18]);
    expect(server.mach_port_type(kept[0].name).type).toBe(MACH_PORT_TYPE_SEND);
    expect(server.mach_port_get_refs(kept[0].name, MACH_PORT_RIGHT_SEND).refs).toBe(1);
    expect(server.mach_port_type(kept[1].name).type).toBe(MACH_PORT_TYPE_RECEIVE);
    expect(snapshot(server).length).toBe(before + 3);
    expect(region!.length).toBe(100);
    expect(client.mach_port_get_srights(mine).srights).toBe(1);
    expect(audit(kernel)).toEqual([]);
  });

  it("a handler that throws counts as a failure", async () => {
    const w = world();
    const { client, server, port } = w;
    const before = snapshot(server);
    const { msg } = richRequest(w, 62);
    const errors: unknown[] = [];
    const srv = serve(server, port, () => {
      throw new Error("boom");
    }, { onError: (e) => errors.push(e) });
    const r = await mig_rpc(client, msg);
    expect(checkReply(w.abi, r.reply!, replyShape(w.abi))).toBe(R.KERN_FAILURE);
    expect(errors.length).toBe(1);
    await srv.stop();
    expect(snapshot(server)).toEqual(before);
  });

  it("moving a right then failing through the API is safe; MOVE_SEND from the client is released once", async () => {
    const { kernel, client, server, port, toServer, abi } = world();
    const mine = client.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    client.mach_port_insert_right(mine, mine, MACH_MSG_TYPE_MAKE_SEND);
    const msg = request(abi, toServer, 63, [{ kind: "ports", disposition: MACH_MSG_TYPE_MOVE_SEND, names: [mine] }]);
    const srv = serve(server, port, (req) => {
      const r = req.takeRight(0);
      server.mach_port_deallocate(r.name);
      return R.KERN_FAILURE;
    });
    await mig_rpc(client, msg);
    await srv.stop();
    expect(client.mach_port_get_srights(mine).srights).toBe(0);
    expect(audit(kernel)).toEqual([]);
  });
});

describe("SeqnoOrder", () => {
  it("runs handlers for one object in seqno order whatever order they arrive in", async () => {
    const order = new SeqnoOrder();
    const ran: number[] = [];
    const seqnos = [3, 0, 4, 1, 2];
    await Promise.all(
      seqnos.map((s) =>
        order.run(s, async () => {
          await new Promise((r) => setTimeout(r, (5 - s) * 2));
          ran.push(s);
        }),
      ),
    );
    expect(ran).toEqual([0, 1, 2, 3, 4]);
  });

  it("serialises a seqnos server's handlers on one port", async () => {
    const { client, server, port, toServer, abi } = world();
    const order = new SeqnoOrder();
    const ran: number[] = [];
    const demux: Demux = (req, seqno) =>
      order.run(seqno, async () => {
        await new Promise((r) => setTimeout(r, seqno % 2 === 0 ? 6 : 0));
        ran.push(seqno);
        return R.KERN_SUCCESS;
      });
    const srv = serve(server, port, demux);
    for (let i = 0; i < 5; i++) await mig_send(client, request(abi, toServer, 70 + i));
    await new Promise((r) => setTimeout(r, 60));
    await srv.stop();
    expect(ran).toEqual([0, 1, 2, 3, 4]);
  });
});
