import { afterEach, describe, expect, it } from "vitest";
import { MessageChannel } from "node:worker_threads";
import { alignUp } from "../../../runtime/abi.js";
import { writeDescriptor } from "../../../runtime/codec/descriptor.js";
import { MACH_MSGH_BITS_COMPLEX, msghBits, writeHeader } from "../../../runtime/codec/header.js";
import {
  MACH_MSG_TYPE_BYTE,
  MACH_MSG_TYPE_COPY_SEND,
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_MAKE_SEND_ONCE,
  MACH_MSG_TYPE_MOVE_RECEIVE,
  MACH_MSG_TYPE_MOVE_SEND,
  MACH_MSG_TYPE_MOVE_SEND_ONCE,
  MACH_NOTIFY_DEAD_NAME,
  MACH_NOTIFY_NO_SENDERS,
  MACH_PORT_DEAD,
  MACH_PORT_NULL,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_PORT_TYPE_DEAD_NAME,
  MACH_PORT_TYPE_RECEIVE,
  MACH_PORT_TYPE_SEND,
  MACH_PORT_TYPE_SEND_ONCE,
  MACH_PORT_TYPE_SEND_RECEIVE,
  MACH_SEND_MSG,
  MACH_SEND_TIMEOUT,
  ReturnCode as R,
} from "../../../runtime/constants.js";
import { Kernel, type Task } from "../../../runtime/kernel/index.js";
import type { MachMessage } from "../../../runtime/message.js";
import { mig_rpc, ReplyPortPool } from "../../../runtime/mig/index.js";
import { bridgeMessagePort, MessagePortLink } from "../../../runtime/transport/index.js";
import {
  controlFrame,
  FRAME_BOUNCE,
  FRAME_HELLO,
  FRAME_MOVED,
  MOVED_ID_BASE,
  MOVED_SIZE,
  msgFrameHeader,
  PROTOCOL_VERSION,
  TAG_MOVED,
  TAG_RECEIVER,
  TAG_SENDER,
} from "../../../runtime/transport/protocol.js";
import type { AbiInfo } from "../../../runtime/abi.js";
import { audit } from "../runtime/support.js";
import { buildMessage, echo, itemValue, messageId, nullRequest, serve, stopRequest } from "../../fixtures/transport/rpc.js";
import { LINK_KINDS, makePair, receive, rogueVictim, settle, settleUntil, type Pair } from "./support.js";

function allocate(t: Task): number {
  return t.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
}

async function send(t: Task, msg: MachMessage): Promise<number> {
  return (await t.mach_msg(msg, MACH_SEND_MSG, msg.bytes.length)).code;
}

/** A message carrying one OOL byte region (deallocated on send) and one OOL port array. */
function oolMessage(t: Task, dest: number, data: Uint8Array, port: number): MachMessage {
  const abi = t.kernel.abi;
  const slot = alignUp(abi.pointerSize, abi.alignment);
  const size = abi.headerSize + 2 * (abi.descriptorSize + slot);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  writeHeader(view, abi, {
    bits: (msghBits(MACH_MSG_TYPE_COPY_SEND, 0) | MACH_MSGH_BITS_COMPLEX) >>> 0,
    size,
    remotePort: dest,
    localPort: 0,
    seqno: 0,
    id: 777,
  });
  let at = abi.headerSize;
  writeDescriptor(view, at, abi, { name: MACH_MSG_TYPE_BYTE, size: 8, number: data.length, inline: false, longForm: false, deallocate: true });
  at += abi.descriptorSize + slot;
  writeDescriptor(view, at, abi, { name: MACH_MSG_TYPE_MAKE_SEND, size: 32, number: 1, inline: false, longForm: false, deallocate: false });
  const names = new Uint8Array(4);
  new DataView(names.buffer).setUint32(0, port, true);
  return { bytes, ool: [data, names] };
}

describe.each(LINK_KINDS)("bridge over %s", (kind) => {
  let pair: Pair | null = null;
  afterEach(async () => {
    await pair?.close();
    pair = null;
  });

  async function world() {
    pair = await makePair(kind);
    const { a, b, ba, bb } = pair;
    const service = allocate(b);
    expect(bb.setBootstrapPort(b, service, MACH_MSG_TYPE_MAKE_SEND).code).toBe(0);
    const boot = await ba.getBootstrapPort(a);
    expect(boot.code).toBe(0);
    return { ...pair, service, serviceInA: boot.name };
  }

  it("carries send rights both ways; a right sent home is the original port again", async () => {
    const { a, b, ka, kb, service, serviceInA, ba, bb } = await world();
    const mine = allocate(a);
    const hello = buildMessage(ka.abi, serviceInA, MACH_MSG_TYPE_COPY_SEND, 0, 0, 1, [{ port: mine, disposition: MACH_MSG_TYPE_MAKE_SEND }]);
    expect(await send(a, hello)).toBe(0);
    const got = await receive(b, service);
    expect(got.code).toBe(0);
    const proxyName = itemValue(kb.abi, got.msg!, 0);
    expect(b.mach_port_type(proxyName).type).toBe(MACH_PORT_TYPE_SEND);
    expect(b.portOf(proxyName)!.kobject).not.toBeNull(); // a proxy

    // B answers through the proxy, handing the right back and one of its own.
    const back = buildMessage(kb.abi, proxyName, MACH_MSG_TYPE_COPY_SEND, 0, 0, 2, [
      { port: proxyName, disposition: MACH_MSG_TYPE_COPY_SEND },
      { port: service, disposition: MACH_MSG_TYPE_MAKE_SEND },
    ]);
    expect(await send(b, back)).toBe(0);
    const home = await receive(a, mine);
    expect(home.code).toBe(0);
    expect(messageId(ka.abi, home.msg!)).toBe(2);
    expect(itemValue(ka.abi, home.msg!, 0)).toBe(mine); // merged into the receive right's name
    expect(a.mach_port_type(mine).type).toBe(MACH_PORT_TYPE_SEND_RECEIVE);
    expect(a.portOf(mine)!.kobject).toBeNull(); // the real port, not a proxy of a proxy
    expect(itemValue(ka.abi, home.msg!, 1)).toBe(serviceInA); // the same proxy as the bootstrap right

    // Everything given back: only the bootstrap export/import remain.
    expect(a.mach_port_deallocate(mine)).toBe(0);
    expect(a.mach_port_deallocate(serviceInA)).toBe(0);
    expect(b.mach_port_deallocate(proxyName)).toBe(0);
    await settleUntil(() => ba.exportCount === 0 && bb.importCount === 0);
    expect(ba.exportCount).toBe(0);
    expect(bb.importCount).toBe(0);
    expect(bb.exportCount).toBe(1);
    expect(a.portOf(mine)!.srights).toBe(0);
    expect(audit(ka)).toEqual([]);
    expect(audit(kb)).toEqual([]);
  });

  it("carries MACH_PORT_NULL and MACH_PORT_DEAD slots among real rights, each in its place", async () => {
    const { a, b, ka, kb, service, serviceInA } = await world();
    const mine = allocate(a);
    // The peer places the rights it is sent by slot: a NULL or DEAD slot must keep its place in
    // the list of carried rights, or every right after it lands one slot early (or the message is
    // rejected as naming rights it does not carry).
    const msg = buildMessage(ka.abi, serviceInA, MACH_MSG_TYPE_COPY_SEND, 0, 0, 3, [
      { port: MACH_PORT_NULL, disposition: MACH_MSG_TYPE_COPY_SEND },
      { port: mine, disposition: MACH_MSG_TYPE_MAKE_SEND },
      { port: MACH_PORT_DEAD, disposition: MACH_MSG_TYPE_COPY_SEND },
      { port: MACH_PORT_NULL, disposition: MACH_MSG_TYPE_MAKE_SEND_ONCE },
      { port: mine, disposition: MACH_MSG_TYPE_MAKE_SEND_ONCE },
    ]);
    expect(await send(a, msg)).toBe(0);
    const got = await receive(b, service);
    expect(got.code).toBe(0);
    const names = [0, 1, 2, 3, 4].map((i) => itemValue(kb.abi, got.msg!, i));
    expect(names[0]).toBe(MACH_PORT_NULL);
    expect(b.mach_port_type(names[1]).type).toBe(MACH_PORT_TYPE_SEND);
    expect(names[2]).toBe(MACH_PORT_DEAD);
    expect(names[3]).toBe(MACH_PORT_NULL);
    expect(b.mach_port_type(names[4]).type).toBe(MACH_PORT_TYPE_SEND_ONCE);
    expect(b.portOf(names[4])).toBe(b.portOf(names[1]));
    b.mach_msg_destroy(got.msg!);
    await settle();
    expect(audit(ka)).toEqual([]);
    expect(audit(kb)).toEqual([]);
  });

  it("keeps reply rights send-once across an RPC and leaves nothing behind", async () => {
    const { a, b, ka, kb, service, serviceInA, ba, bb } = await world();
    const served = serve(b, service);
    const reply = allocate(a);
    const token = allocate(a);
    expect(a.mach_port_insert_right(token, token, MACH_MSG_TYPE_MAKE_SEND)).toBe(0);
    for (let i = 0; i < 20; i++) {
      const r = await echo(a, serviceInA, reply, i, token);
      expect(r).toEqual({ code: 0, seq: i, token, server: serviceInA });
      // The reply merged one more uref into each name; give them back.
      a.mach_port_deallocate(token);
      a.mach_port_deallocate(serviceInA);
    }
    expect(a.mach_port_get_refs(token, 0).refs).toBe(1);
    expect(a.mach_port_get_refs(serviceInA, 0).refs).toBe(1);
    expect(await send(a, stopRequest(ka.abi, serviceInA))).toBe(0);
    expect(await served).toBe(21);
    await settleUntil(() => ba.exportCount === 0 && bb.importCount === 0);
    expect(a.portOf(reply)!.sorights).toBe(0);
    expect(ba.exportCount).toBe(0);
    expect(bb.importCount).toBe(0);
    expect(audit(ka)).toEqual([]);
    expect(audit(kb)).toEqual([]);
  });

  it("delivers no-senders end to end, with the real make-send count", async () => {
    const { a, b, ka, kb, service, serviceInA } = await world();
    const watched = allocate(a);
    const notify = allocate(a);
    for (let i = 0; i < 2; i++) {
      const m = buildMessage(ka.abi, serviceInA, MACH_MSG_TYPE_COPY_SEND, 0, 0, 10 + i, [{ port: watched, disposition: MACH_MSG_TYPE_MAKE_SEND }]);
      expect(await send(a, m)).toBe(0);
    }
    const nr = a.mach_port_request_notification(watched, MACH_NOTIFY_NO_SENDERS, 2, notify, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    expect(nr.code).toBe(0);
    const m1 = await receive(b, service);
    const m2 = await receive(b, service);
    const name = itemValue(kb.abi, m1.msg!, 0);
    expect(itemValue(kb.abi, m2.msg!, 0)).toBe(name);
    expect(b.mach_port_get_refs(name, 0).refs).toBe(2);
    b.mach_port_deallocate(name);
    await settle();
    expect((await receive(a, notify, 30)).code).toBe(R.MACH_RCV_TIMED_OUT);
    b.mach_port_deallocate(name);
    const ns = await receive(a, notify);
    expect(ns.code).toBe(0);
    expect(messageId(ka.abi, ns.msg!)).toBe(MACH_NOTIFY_NO_SENDERS);
    expect(itemValue(ka.abi, ns.msg!, 0)).toBe(2); // mscount: the two MAKE_SENDs, nothing of the bridge's
    expect(audit(ka)).toEqual([]);
    expect(audit(kb)).toEqual([]);
  });

  it("gives back a right handed out and dropped call after call in batches, with the real make-send count", async () => {
    const { a, b, ka, kb, service, serviceInA, ba } = await world();
    const object = allocate(a);
    const notify = allocate(a);
    expect(a.mach_port_request_notification(object, MACH_NOTIFY_NO_SENDERS, 1, notify, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(0);
    // Like default_pager_object_create: every message makes a send right, the receiver drops it at once.
    for (let i = 0; i < 10; i++) {
      expect(await send(a, buildMessage(ka.abi, serviceInA, MACH_MSG_TYPE_COPY_SEND, 0, 0, 20 + i, [{ port: object, disposition: MACH_MSG_TYPE_MAKE_SEND }]))).toBe(0);
    }
    let proxy = 0;
    for (let i = 0; i < 10; i++) {
      const got = await receive(b, service);
      expect(messageId(kb.abi, got.msg!)).toBe(20 + i);
      const name = itemValue(kb.abi, got.msg!, 0);
      if (i === 0) proxy = b.portOf(name)!.id;
      expect(b.portOf(name)!.id).toBe(proxy); // one proxy for the one remote port
      expect(b.mach_port_deallocate(name)).toBe(0);
    }
    const ns = await receive(a, notify);
    expect(messageId(ka.abi, ns.msg!)).toBe(MACH_NOTIFY_NO_SENDERS);
    expect(itemValue(ka.abi, ns.msg!, 0)).toBe(10);
    expect((await receive(a, notify, 30)).code).toBe(R.MACH_RCV_TIMED_OUT); // once
    expect(ba.exportCount).toBe(0);
    expect(audit(ka)).toEqual([]);
    expect(audit(kb)).toEqual([]);
  });

  it("turns proxies into dead names when the real port dies", async () => {
    const { a, b, ka, kb, service, serviceInA } = await world();
    const doomed = allocate(a);
    expect(await send(a, buildMessage(ka.abi, serviceInA, MACH_MSG_TYPE_COPY_SEND, 0, 0, 3, [{ port: doomed, disposition: MACH_MSG_TYPE_MAKE_SEND }]))).toBe(0);
    const got = await receive(b, service);
    const name = itemValue(kb.abi, got.msg!, 0);
    const notify = allocate(b);
    expect(b.mach_port_request_notification(name, MACH_NOTIFY_DEAD_NAME, 0, notify, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(0);
    expect(a.mach_port_mod_refs(doomed, MACH_PORT_RIGHT_RECEIVE, -1)).toBe(0);
    const dn = await receive(b, notify);
    expect(dn.code).toBe(0);
    expect(messageId(kb.abi, dn.msg!)).toBe(MACH_NOTIFY_DEAD_NAME);
    expect(itemValue(kb.abi, dn.msg!, 0)).toBe(name);
    expect(b.mach_port_type(name).type).toBe(MACH_PORT_TYPE_DEAD_NAME);
    expect(await send(b, buildMessage(kb.abi, name, MACH_MSG_TYPE_COPY_SEND, 0, 0, 4))).toBe(R.MACH_SEND_INVALID_DEST);
    expect(audit(ka)).toEqual([]);
    expect(audit(kb)).toEqual([]);
  });

  it("fails pending calls and kills every proxy when the peer goes away", async () => {
    const { a, b, bb, serviceInA } = await world();
    const reply = allocate(a);
    const notify = allocate(a);
    expect(a.mach_port_request_notification(serviceInA, MACH_NOTIFY_DEAD_NAME, 0, notify, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(0);
    const token = allocate(a);
    a.mach_port_insert_right(token, token, MACH_MSG_TYPE_MAKE_SEND);
    // Nobody serves: the call waits for its reply until the peer disappears.
    const pending = echo(a, serviceInA, reply, 1, token);
    await settle();
    const t0 = performance.now();
    bb.close();
    const r = await pending;
    expect(r.code).toBe(R.MIG_SERVER_DIED);
    const dn = await receive(a, notify, 1000);
    expect(dn.code).toBe(0);
    expect(messageId(a.kernel.abi, dn.msg!)).toBe(MACH_NOTIFY_DEAD_NAME);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(a.mach_port_type(serviceInA).type).toBe(MACH_PORT_TYPE_DEAD_NAME);
    expect((await echo(a, serviceInA, reply, 2, token)).code).toBe(R.MACH_SEND_INVALID_DEST);
    expect(audit(a.kernel)).toEqual([]);
    expect(audit(b.kernel)).toEqual([]);
  });

  it("works with the MIG client helpers: replies, then MIG_SERVER_DIED when the peer goes", async () => {
    const { a, b, bb, ka, service, serviceInA } = await world();
    const pool = new ReplyPortPool(a);
    const served = serve(b, service);
    for (let i = 0; i < 5; i++) {
      const r = await mig_rpc(a, nullRequest(ka.abi, serviceInA, 0), { pool });
      expect(r.code).toBe(0);
      expect(itemValue(ka.abi, r.reply!, 0)).toBe(0);
    }
    expect(await send(a, stopRequest(ka.abi, serviceInA))).toBe(0);
    await served;
    const pending = mig_rpc(a, nullRequest(ka.abi, serviceInA, 0), { pool });
    await settle();
    bb.close();
    expect((await pending).code).toBe(R.MIG_SERVER_DIED);
    expect((await mig_rpc(a, nullRequest(ka.abi, serviceInA, 0), { pool })).code).toBe(R.MACH_SEND_INVALID_DEST);
  });

  it("carries out-of-line memory and out-of-line port arrays", async () => {
    const { a, b, ka, kb, service, serviceInA } = await world();
    const data = new Uint8Array(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    const expected = data.slice();
    const mine = allocate(a);
    expect(await send(a, oolMessage(a, serviceInA, data, mine))).toBe(0);
    const got = await receive(b, service);
    expect(got.code).toBe(0);
    expect(got.msg!.ool[0].length).toBe(expected.length);
    expect(Buffer.compare(got.msg!.ool[0], expected)).toBe(0);
    const name = new DataView(got.msg!.ool[1].buffer, got.msg!.ool[1].byteOffset).getUint32(0, true);
    expect(b.mach_port_type(name).type).toBe(MACH_PORT_TYPE_SEND);
    if (kind === "message-port") expect(data.buffer.byteLength).toBe(0); // transferred, not copied
    expect(audit(ka)).toEqual([]);
    expect(audit(kb)).toEqual([]);
  });

  it("moves a receive right: rights left behind reach the new home, queued messages follow in order, requests go along", async () => {
    const { a, b, ka, kb, ba, service, serviceInA } = await world();
    const p = allocate(a);
    const notifyA = allocate(a);
    // A keeps a send right to P, three messages wait in P's queue, and P has a no-senders request.
    expect(a.mach_port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND)).toBe(0);
    for (let i = 0; i < 3; i++) expect(await send(a, buildMessage(ka.abi, p, MACH_MSG_TYPE_COPY_SEND, 0, 0, 10 + i))).toBe(0);
    expect(a.mach_port_request_notification(p, MACH_NOTIFY_NO_SENDERS, 0, notifyA, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(0);

    const carrier = buildMessage(ka.abi, serviceInA, MACH_MSG_TYPE_COPY_SEND, 0, 0, 5, [{ port: p, disposition: MACH_MSG_TYPE_MOVE_RECEIVE }]);
    expect(await send(a, carrier)).toBe(0);
    const got = await receive(b, service);
    expect(got.code).toBe(0);
    const pInB = itemValue(kb.abi, got.msg!, 0);
    expect(b.mach_port_type(pInB).type).toBe(MACH_PORT_TYPE_RECEIVE);
    expect(ba.stats.moved).toBe(1);
    expect(ba.stats.unsupported).toBe(0);
    expect(a.mach_port_type(p).type).toBe(MACH_PORT_TYPE_SEND); // the right A kept

    // The queued messages arrive in order, numbered from 0 (a moved receive right's seqno restarts).
    for (let i = 0; i < 3; i++) {
      const q = await receive(b, pInB);
      expect(q.code).toBe(0);
      expect(messageId(kb.abi, q.msg!)).toBe(10 + i);
      expect(new DataView(q.msg!.bytes.buffer, q.msg!.bytes.byteOffset).getUint32(kb.abi.header.seqno, true)).toBe(i);
    }
    // A's send right reaches the new home.
    expect(await send(a, buildMessage(ka.abi, p, MACH_MSG_TYPE_COPY_SEND, 0, 0, 20))).toBe(0);
    expect(messageId(kb.abi, (await receive(b, pInB)).msg!)).toBe(20);

    // The no-senders request went with the port: A dropping its last send right fires it in B's
    // kernel, and the notification comes back to A's notify port.
    expect(a.mach_port_deallocate(p)).toBe(0);
    const ns = await receive(a, notifyA);
    expect(ns.code).toBe(0);
    expect(messageId(ka.abi, ns.msg!)).toBe(MACH_NOTIFY_NO_SENDERS);

    // A send right to the moved port handed back to A is a proxy again; the port's death reaches it.
    const inbox = allocate(a);
    expect(await send(a, buildMessage(ka.abi, serviceInA, MACH_MSG_TYPE_COPY_SEND, 0, 0, 6, [{ port: inbox, disposition: MACH_MSG_TYPE_MAKE_SEND }]))).toBe(0);
    const inboxInB = itemValue(kb.abi, (await receive(b, service)).msg!, 0);
    expect(await send(b, buildMessage(kb.abi, inboxInB, MACH_MSG_TYPE_COPY_SEND, 0, 0, 7, [{ port: pInB, disposition: MACH_MSG_TYPE_MAKE_SEND }]))).toBe(0);
    const back = itemValue(ka.abi, (await receive(a, inbox)).msg!, 0);
    expect(a.mach_port_type(back).type).toBe(MACH_PORT_TYPE_SEND);
    expect(await send(a, buildMessage(ka.abi, back, MACH_MSG_TYPE_COPY_SEND, 0, 0, 21))).toBe(0);
    expect(messageId(kb.abi, (await receive(b, pInB)).msg!)).toBe(21);
    expect(b.mach_port_mod_refs(pInB, MACH_PORT_RIGHT_RECEIVE, -1)).toBe(0);
    await settleUntil(() => a.mach_port_type(back).type === MACH_PORT_TYPE_DEAD_NAME);
    expect(a.mach_port_type(back).type).toBe(MACH_PORT_TYPE_DEAD_NAME);
    expect(a.mach_port_deallocate(back)).toBe(0);
    expect(b.mach_port_deallocate(inboxInB)).toBe(0);
    expect(audit(ka)).toEqual([]);
    expect(audit(kb)).toEqual([]);
  });

  it("moves a receive right whose sender keeps no right: the port lives on the far side alone", async () => {
    const { a, b, ka, kb, ba, bb, service, serviceInA } = await world();
    const p = allocate(a);
    expect(await send(a, buildMessage(ka.abi, serviceInA, MACH_MSG_TYPE_COPY_SEND, 0, 0, 5, [{ port: p, disposition: MACH_MSG_TYPE_MOVE_RECEIVE }]))).toBe(0);
    const pInB = itemValue(kb.abi, (await receive(b, service)).msg!, 0);
    expect(b.mach_port_type(pInB).type).toBe(MACH_PORT_TYPE_RECEIVE);
    expect(a.mach_port_type(p).code).toBe(R.KERN_INVALID_NAME);
    // Nothing in A refers to it: no right to A's proxy of it, no right held for A in B.
    await settle();
    expect(ba.importCount).toBe(1); // the bootstrap service's proxy only
    expect(bb.exportCount).toBe(1); // the bootstrap service only
    expect(b.mach_port_mod_refs(pInB, MACH_PORT_RIGHT_RECEIVE, -1)).toBe(0);
    expect(audit(ka)).toEqual([]);
    expect(audit(kb)).toEqual([]);
  });

  it("moves a receive right with other rights to the same port in the same message: they all arrive as rights to the moved port", async () => {
    const { a, b, ka, kb, ba, bb, service, serviceInA } = await world();
    const p = allocate(a);
    // The reply right (MAKE_SEND_ONCE) and a send right ahead of the receive right in body order.
    const m = buildMessage(ka.abi, serviceInA, MACH_MSG_TYPE_COPY_SEND, p, MACH_MSG_TYPE_MAKE_SEND_ONCE, 8, [
      { port: p, disposition: MACH_MSG_TYPE_MAKE_SEND },
      { port: p, disposition: MACH_MSG_TYPE_MOVE_RECEIVE },
    ]);
    expect(await send(a, m)).toBe(0);
    const got = (await receive(b, service)).msg!;
    const sendName = itemValue(kb.abi, got, 0);
    const receiveName = itemValue(kb.abi, got, 1);
    expect(receiveName).toBe(sendName); // one entry: send and receive
    expect(b.mach_port_type(receiveName).type).toBe(MACH_PORT_TYPE_SEND_RECEIVE);
    expect(b.portOf(receiveName)!.kobject).toBeNull();
    const replyName = new DataView(got.bytes.buffer, got.bytes.byteOffset).getUint32(kb.abi.header.remotePort, true);
    expect(b.portOf(replyName)).toBe(b.portOf(receiveName)); // a send-once right to the same port
    expect(await send(b, buildMessage(kb.abi, replyName, MACH_MSG_TYPE_MOVE_SEND_ONCE, 0, 0, 9))).toBe(0);
    expect(messageId(kb.abi, (await receive(b, receiveName)).msg!)).toBe(9);
    expect(ba.stats.rejected + bb.stats.rejected).toBe(0);
    expect(b.mach_port_destroy(receiveName)).toBe(0);
    await settle();
    expect(audit(ka)).toEqual([]);
    expect(audit(kb)).toEqual([]);
  });

  it("moves a receive right the peer holds rights to: its proxy there becomes the port, and what it sent meanwhile comes back", async () => {
    const { a, b, ka, kb, ba, bb, service, serviceInA } = await world();
    const p = allocate(a);
    expect(a.mach_port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND)).toBe(0);
    // B holds a send right and a send-once right to P (proxies), as rights of A's port.
    expect(await send(a, buildMessage(ka.abi, serviceInA, MACH_MSG_TYPE_COPY_SEND, 0, 0, 4, [
      { port: p, disposition: MACH_MSG_TYPE_MAKE_SEND },
      { port: p, disposition: MACH_MSG_TYPE_MAKE_SEND_ONCE },
    ]))).toBe(0);
    const rights = (await receive(b, service)).msg!;
    const proxyInB = itemValue(kb.abi, rights, 0);
    const onceInB = itemValue(kb.abi, rights, 1);
    expect(b.portOf(proxyInB)!.kobject).not.toBeNull();

    // A moves P's receive right to B while B, not knowing yet, sends to its proxy: that message
    // reaches A after the move and comes back.
    // The second one carries a receive right of B's own, which so crosses twice.
    const r = allocate(b);
    expect(b.mach_port_insert_right(r, r, MACH_MSG_TYPE_MAKE_SEND)).toBe(0);
    const codes = await Promise.all([
      send(a, buildMessage(ka.abi, serviceInA, MACH_MSG_TYPE_COPY_SEND, 0, 0, 5, [{ port: p, disposition: MACH_MSG_TYPE_MOVE_RECEIVE }])),
      send(b, buildMessage(kb.abi, proxyInB, MACH_MSG_TYPE_COPY_SEND, 0, 0, 30)),
      send(b, buildMessage(kb.abi, proxyInB, MACH_MSG_TYPE_COPY_SEND, 0, 0, 33, [{ port: r, disposition: MACH_MSG_TYPE_MOVE_RECEIVE }])),
    ]);
    expect(codes).toEqual([0, 0, 0]);
    const got = await receive(b, service);
    expect(got.code).toBe(0);
    // The receive right joins B's send right: the proxy is the port now, under the same name.
    expect(itemValue(kb.abi, got.msg!, 0)).toBe(proxyInB);
    expect(b.mach_port_type(proxyInB).type).toBe(MACH_PORT_TYPE_SEND_RECEIVE);
    expect(b.portOf(proxyInB)!.kobject).toBeNull();
    expect(messageId(kb.abi, (await receive(b, proxyInB)).msg!)).toBe(30);
    const twice = (await receive(b, proxyInB)).msg!;
    expect(messageId(kb.abi, twice)).toBe(33);
    expect(itemValue(kb.abi, twice, 0)).toBe(r); // home again, joined to B's send right
    expect(b.mach_port_type(r).type).toBe(MACH_PORT_TYPE_SEND_RECEIVE);
    expect(b.portOf(r)!.kobject).toBeNull();
    expect(await send(b, buildMessage(kb.abi, r, MACH_MSG_TYPE_COPY_SEND, 0, 0, 34))).toBe(0);
    expect(messageId(kb.abi, (await receive(b, r)).msg!)).toBe(34);
    expect(b.mach_port_destroy(r)).toBe(0);

    // B's send-once right, A's send right: both reach the port in B.
    expect(await send(b, buildMessage(kb.abi, onceInB, MACH_MSG_TYPE_MOVE_SEND_ONCE, 0, 0, 31))).toBe(0);
    expect(messageId(kb.abi, (await receive(b, proxyInB)).msg!)).toBe(31);
    expect(await send(a, buildMessage(ka.abi, p, MACH_MSG_TYPE_COPY_SEND, 0, 0, 32))).toBe(0);
    expect(messageId(kb.abi, (await receive(b, proxyInB)).msg!)).toBe(32);
    expect(ba.stats.moved).toBe(2); // P, and B's receive right going back
    expect(bb.stats.moved).toBe(1);
    expect(ba.stats.bounced).toBe(2);
    expect(ba.stats.unsupported).toBe(0);
    expect(ba.stats.rejected + bb.stats.rejected).toBe(0);

    // A lets go: the port, in B, has B's own send right left, then none.
    expect(a.mach_port_deallocate(p)).toBe(0);
    await settleUntil(() => b.portOf(proxyInB)!.srights === 1);
    expect(b.portOf(proxyInB)!.srights).toBe(1);
    expect(b.mach_port_destroy(proxyInB)).toBe(0);
    await settle();
    expect(audit(ka)).toEqual([]);
    expect(audit(kb)).toEqual([]);
  });
});

describe("bridge security", () => {
  it("drops messages that name ports or rights the peer was not given", async () => {
    const { kernel, task, bridge, target, id, abi, rogue } = rogueVictim();
    allocate(task); // a port of the task's the peer was never given
    const frame = (destId: number, destType: number, msgId: number, bodyRight?: { tag: number; id: number }): Uint8Array[] => {
      // The message's flags (COMPLEX) and id travel in its own header.
      const bytes = bodyRight
        ? buildMessage(abi, 0, MACH_MSG_TYPE_COPY_SEND, 0, 0, msgId, [{ port: 0, disposition: 17 }]).bytes
        : buildMessage(abi, 0, MACH_MSG_TYPE_COPY_SEND, 0, 0, msgId).bytes;
      const rights = bodyRight ? [{ tag: bodyRight.tag, type: 17, id: bodyRight.id }] : [];
      return [msgFrameHeader({ destType, destId, size: bytes.length, rights }), bytes];
    };
    const put = ([h, ...payloads]: Uint8Array[]) => rogue.send(h, payloads);
    put(frame(id + 1, 17, 1)); // a port never exported
    put(frame(id, 18, 2)); // a send-once right it does not hold
    put(frame(id, 17, 3, { tag: TAG_RECEIVER, id: id + 5 })); // a body right naming our ports by guess
    const bounce = frame(id, 18, 5); // a send-once right claimed back from a port that never moved here
    bounce[0]![0] = FRAME_BOUNCE;
    put(bounce);
    put(frame(id, 17, 4)); // legitimate
    const got = await receive(task, target);
    expect(got.code).toBe(0);
    expect(messageId(abi, got.msg!)).toBe(4);
    expect((await receive(task, target, 20)).code).toBe(R.MACH_RCV_TIMED_OUT);
    expect(bridge.stats.rejected).toBe(4);
    expect(audit(kernel)).toEqual([]);
    bridge.close();
    rogue.close();
  });

  it("closes on a MOVED frame not followed by its message, or one with a bad id", async () => {
    for (const [what, frames] of [
      ["no message", (abi: AbiInfo) => [movedFrame(MOVED_ID_BASE + 1), controlFrame(FRAME_HELLO, PROTOCOL_VERSION, abi.headerSize)]],
      ["an id below the MOVED range", () => [movedFrame(7)]],
      ["a queue limit out of range", () => [movedFrame(MOVED_ID_BASE, 0)]],
    ] as const) {
      const kernel = new Kernel();
      const { port1, port2 } = new MessageChannel();
      const bridge = bridgeMessagePort(kernel, port1);
      const rogue = new MessagePortLink(port2);
      rogue.send(controlFrame(FRAME_HELLO, PROTOCOL_VERSION, kernel.abi.headerSize), []);
      for (const f of frames(kernel.abi)) rogue.send(f, []);
      const error = await bridge.closed;
      expect(String(error), what).toMatch(/MOVED|moved/);
      expect(audit(kernel)).toEqual([]);
      rogue.close();
    }
  });
});

/** A MOVED frame as a rogue peer would write it (no send rights, no requests). */
function movedFrame(id: number, qlimit = 5): Uint8Array {
  const f = new Uint8Array(MOVED_SIZE);
  const v = new DataView(f.buffer);
  f[0] = FRAME_MOVED;
  v.setUint32(4, id, true);
  v.setUint32(8, qlimit, true);
  return f;
}

describe("bridges in a chain of three kernels", () => {
  it("forwards through a middle kernel; no-senders and death travel both hops", async () => {
    const [ka, kb, kc] = [new Kernel(), new Kernel(), new Kernel()];
    const [a, b, c] = [ka.createTask("A"), kb.createTask("B"), kc.createTask("C")];
    const ab = new MessageChannel();
    const bc = new MessageChannel();
    const [aToB, bToA] = [bridgeMessagePort(ka, ab.port1), bridgeMessagePort(kb, ab.port2)];
    const [bToC, cToB] = [bridgeMessagePort(kb, bc.port1), bridgeMessagePort(kc, bc.port2)];
    // C's port P reaches B as a bootstrap right, and A as B's bootstrap right (a proxy of a proxy).
    const p = allocate(c);
    const notify = allocate(c);
    cToB.setBootstrapPort(c, p, MACH_MSG_TYPE_MAKE_SEND);
    const pInB = (await bToC.getBootstrapPort(b)).name;
    bToA.setBootstrapPort(b, pInB, MACH_MSG_TYPE_COPY_SEND);
    const pInA = (await aToB.getBootstrapPort(a)).name;
    expect(b.mach_port_deallocate(pInB)).toBe(0);

    // A message from A reaches C's port through B.
    expect(await send(a, buildMessage(ka.abi, pInA, MACH_MSG_TYPE_COPY_SEND, 0, 0, 42))).toBe(0);
    const got = await receive(c, p);
    expect(got.code).toBe(0);
    expect(messageId(kc.abi, got.msg!)).toBe(42);

    // Death crosses both hops.
    const dnotify = allocate(a);
    expect(a.mach_port_request_notification(pInA, MACH_NOTIFY_DEAD_NAME, 0, dnotify, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(0);
    expect(c.mach_port_request_notification(p, MACH_NOTIFY_NO_SENDERS, 1, notify, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(0);
    expect(c.mach_port_mod_refs(p, MACH_PORT_RIGHT_RECEIVE, -1)).toBe(0);
    const dn = await receive(a, dnotify);
    expect(messageId(ka.abi, dn.msg!)).toBe(MACH_NOTIFY_DEAD_NAME);
    expect(a.mach_port_type(pInA).type).toBe(MACH_PORT_TYPE_DEAD_NAME);
    for (const k of [ka, kb, kc]) expect(audit(k)).toEqual([]);
    for (const br of [aToB, bToA, bToC, cToB]) br.close();
  });

  it("releases the real port's last sender only when every hop has let go", async () => {
    const [ka, kb, kc] = [new Kernel(), new Kernel(), new Kernel()];
    const [a, b, c] = [ka.createTask("A"), kb.createTask("B"), kc.createTask("C")];
    const ab = new MessageChannel();
    const bc = new MessageChannel();
    const [aToB, bToA] = [bridgeMessagePort(ka, ab.port1), bridgeMessagePort(kb, ab.port2)];
    const [bToC, cToB] = [bridgeMessagePort(kb, bc.port1), bridgeMessagePort(kc, bc.port2)];
    const p = allocate(c);
    const notify = allocate(c);
    // Hand-offs in messages this time: C -> B's port, then B -> A's port.
    const bPort = allocate(b);
    const aPort = allocate(a);
    const bPortId = bToC.exportPort(b, bPort, MACH_MSG_TYPE_MAKE_SEND).id;
    const aPortId = aToB.exportPort(a, aPort, MACH_MSG_TYPE_MAKE_SEND).id;
    const bPortInC = (await cToB.importPort(c, bPortId)).name;
    const aPortInB = (await bToA.importPort(b, aPortId)).name;
    expect(await send(c, buildMessage(kc.abi, bPortInC, MACH_MSG_TYPE_COPY_SEND, 0, 0, 1, [{ port: p, disposition: MACH_MSG_TYPE_MAKE_SEND }]))).toBe(0);
    const atB = await receive(b, bPort);
    const pInB = itemValue(kb.abi, atB.msg!, 0);
    expect(await send(b, buildMessage(kb.abi, aPortInB, MACH_MSG_TYPE_COPY_SEND, 0, 0, 2, [{ port: pInB, disposition: MACH_MSG_TYPE_MOVE_SEND }]))).toBe(0);
    const atA = await receive(a, aPort);
    const pInA = itemValue(ka.abi, atA.msg!, 0);
    expect(a.mach_port_type(pInA).type).toBe(MACH_PORT_TYPE_SEND);
    expect(c.mach_port_request_notification(p, MACH_NOTIFY_NO_SENDERS, 1, notify, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(0);
    await settle();
    expect((await receive(c, notify, 30)).code).toBe(R.MACH_RCV_TIMED_OUT);
    expect(a.mach_port_deallocate(pInA)).toBe(0);
    const ns = await receive(c, notify);
    expect(ns.code).toBe(0);
    expect(messageId(kc.abi, ns.msg!)).toBe(MACH_NOTIFY_NO_SENDERS);
    expect(itemValue(kc.abi, ns.msg!, 0)).toBe(1);
    for (const k of [ka, kb, kc]) expect(audit(k)).toEqual([]);
    for (const br of [aToB, bToA, bToC, cToB]) br.close();
  });
});

describe("one port exported over two bridges", () => {
  it("serves both peers, keeps one export per bridge, and survives either bridge closing", async () => {
    const [kh, kx, ky] = [new Kernel(), new Kernel(), new Kernel()];
    const [h, x, y] = [kh.createTask("H"), kx.createTask("X"), ky.createTask("Y")];
    const hx = new MessageChannel();
    const hy = new MessageChannel();
    const [hToX, xToH] = [bridgeMessagePort(kh, hx.port1), bridgeMessagePort(kx, hx.port2)];
    const [hToY, yToH] = [bridgeMessagePort(kh, hy.port1), bridgeMessagePort(ky, hy.port2)];
    // The first bridge to export P keeps its record on the port; the second keeps its own map.
    const p = allocate(h);
    const pPort = h.portOf(p)!;
    hToX.setBootstrapPort(h, p, MACH_MSG_TYPE_MAKE_SEND);
    hToY.setBootstrapPort(h, p, MACH_MSG_TYPE_MAKE_SEND);
    const pInX = (await xToH.getBootstrapPort(x)).name;
    const pInY = (await yToH.getBootstrapPort(y)).name;
    expect(await send(x, buildMessage(kx.abi, pInX, MACH_MSG_TYPE_COPY_SEND, 0, 0, 1))).toBe(0);
    expect(await send(y, buildMessage(ky.abi, pInY, MACH_MSG_TYPE_COPY_SEND, 0, 0, 2))).toBe(0);
    expect(messageId(kh.abi, (await receive(h, p)).msg!)).toBe(1);
    expect(messageId(kh.abi, (await receive(h, p)).msg!)).toBe(2);

    // H hands P to each peer again inside a message: found as the same export, the same proxy.
    for (const [toPeer, peerTask, peerKernel, inPeer, peerBridge] of [
      [hToX, x, kx, pInX, xToH],
      [hToY, y, ky, pInY, yToH],
    ] as const) {
      const mailbox = allocate(peerTask);
      const id = peerBridge.exportPort(peerTask, mailbox, MACH_MSG_TYPE_MAKE_SEND).id;
      const mailboxInH = (await toPeer.importPort(h, id)).name;
      expect(await send(h, buildMessage(kh.abi, mailboxInH, MACH_MSG_TYPE_COPY_SEND, 0, 0, 3, [{ port: p, disposition: MACH_MSG_TYPE_MAKE_SEND }]))).toBe(0);
      const got = await receive(peerTask, mailbox);
      expect(itemValue(peerKernel.abi, got.msg!, 0)).toBe(inPeer);
      expect(toPeer.exportCount).toBe(1);
      expect(peerTask.mach_port_deallocate(inPeer)).toBe(0); // the right the message brought
      expect(h.mach_port_deallocate(mailboxInH)).toBe(0);
      expect(peerTask.mach_port_mod_refs(mailbox, MACH_PORT_RIGHT_RECEIVE, -1)).toBe(0);
    }

    // Either bridge may go first; the other still reaches P, and P's death reaches it.
    expect(pPort.transportRecord?.owner).toBe(hToX);
    hToX.close();
    xToH.close();
    expect(pPort.transportRecord).toBeNull();
    expect(await send(y, buildMessage(ky.abi, pInY, MACH_MSG_TYPE_COPY_SEND, 0, 0, 4))).toBe(0);
    expect(messageId(kh.abi, (await receive(h, p)).msg!)).toBe(4);
    const dnotify = allocate(y);
    expect(y.mach_port_request_notification(pInY, MACH_NOTIFY_DEAD_NAME, 0, dnotify, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(0);
    expect(h.mach_port_mod_refs(p, MACH_PORT_RIGHT_RECEIVE, -1)).toBe(0);
    expect(messageId(ky.abi, (await receive(y, dnotify)).msg!)).toBe(MACH_NOTIFY_DEAD_NAME);
    expect(y.mach_port_type(pInY).type).toBe(MACH_PORT_TYPE_DEAD_NAME);
    expect(pPort.transportRecord).toBeNull();
    for (const k of [kh, kx, ky]) expect(audit(k)).toEqual([]);
    for (const br of [hToY, yToH]) br.close();
  });
});

describe("malformed input from a peer", () => {
  async function closedBy(post: (port: import("node:worker_threads").MessagePort) => void): Promise<string> {
    const { port1, port2 } = new MessageChannel();
    const bridge = bridgeMessagePort(new Kernel(), port1);
    post(port2);
    const error = await bridge.closed;
    port2.close();
    return String(error);
  }

  it("closes on a batch that is not a frame stream", async () => {
    expect(await closedBy((p) => p.postMessage("hello"))).toMatch(/malformed batch/);
  });

  it("closes on a frame cut short", async () => {
    const stream = new Uint8Array(8);
    new DataView(stream.buffer).setUint32(0, 100, true); // 100 bytes announced, 4 there
    expect(await closedBy((p) => p.postMessage(stream))).toMatch(/malformed frame/);
  });

  it("closes on large payloads no frame asked for", async () => {
    const hello = controlFrame(FRAME_HELLO, PROTOCOL_VERSION, new Kernel().abi.headerSize);
    const stream = new Uint8Array(4 + hello.length);
    new DataView(stream.buffer).setUint32(0, hello.length, true);
    stream.set(hello, 4);
    expect(await closedBy((p) => p.postMessage([stream, new Uint8Array(20_000)]))).toMatch(/malformed batch/);
  });
});

describe("bridge handshake", () => {
  it("refuses a peer whose kernel uses another message ABI", async () => {
    const { port1, port2 } = new MessageChannel();
    const x = bridgeMessagePort(new Kernel("x86_64"), port1);
    const y = bridgeMessagePort(new Kernel("i386"), port2);
    const [ex, ey] = await Promise.all([x.closed, y.closed]);
    expect(String(ex ?? ey)).toMatch(/ABI/);
    expect(x.isOpen || y.isOpen).toBe(false);
  });
});

describe("bridge flow control", () => {
  it("a proxy takes at most `window` messages its peer has not taken off the queue; senders wait or time out past it, send-once messages still go", async () => {
    const [ka, kb] = [new Kernel(), new Kernel()];
    const [a, b] = [ka.createTask("A"), kb.createTask("B")];
    const { port1, port2 } = new MessageChannel();
    const aToB = bridgeMessagePort(ka, port1, { window: 8 });
    const bToA = bridgeMessagePort(kb, port2);
    const target = allocate(b);
    bToA.setBootstrapPort(b, target, MACH_MSG_TYPE_MAKE_SEND);
    const proxy = (await aToB.getBootstrapPort(a)).name;
    const message = (id: number) => buildMessage(ka.abi, proxy, MACH_MSG_TYPE_COPY_SEND, 0, 0, id);
    /** A send that does not wait: its code (a timed-out message is destroyed). */
    const sendNow = async (id: number) => {
      const m = message(id);
      const code = (await a.mach_msg(m, MACH_SEND_MSG | MACH_SEND_TIMEOUT, m.bytes.length, 0, 0, 0)).code;
      if (code === R.MACH_SEND_TIMED_OUT) a.mach_msg_destroy(m);
      return code;
    };
    for (let i = 0; i < 8; i++) expect(await sendNow(i)).toBe(0);
    expect(await sendNow(8)).toBe(R.MACH_SEND_TIMED_OUT);
    await settle();
    expect(b.mach_port_get_receive_status(target).status!.mps_msgcount).toBe(8);

    // A send without a timeout waits until B takes messages off its queue.
    let sent = false;
    const waiting = send(a, message(100)).then((code) => ((sent = true), code));
    await settle();
    expect(sent).toBe(false);
    for (let i = 0; i < 3; i++) expect(messageId(kb.abi, (await receive(b, target)).msg!)).toBe(i);
    expect(await waiting).toBe(0);
    expect(await sendNow(101)).toBe(0);
    expect(await sendNow(102)).toBe(0);
    expect(await sendNow(103)).toBe(R.MACH_SEND_TIMED_OUT);

    // A reply through a send-once right is never held back.
    const inbox = allocate(a);
    const inboxInB = (await bToA.importPort(b, aToB.exportPort(a, inbox, MACH_MSG_TYPE_MAKE_SEND).id)).name;
    expect(await send(b, buildMessage(kb.abi, inboxInB, MACH_MSG_TYPE_COPY_SEND, 0, 0, 1, [{ port: target, disposition: MACH_MSG_TYPE_MAKE_SEND_ONCE }]))).toBe(0);
    const once = itemValue(ka.abi, (await receive(a, inbox)).msg!, 0);
    const reply = buildMessage(ka.abi, once, MACH_MSG_TYPE_MOVE_SEND_ONCE, 0, 0, 200);
    expect((await a.mach_msg(reply, MACH_SEND_MSG | MACH_SEND_TIMEOUT, reply.bytes.length, 0, 0, 0)).code).toBe(0);

    const rest: number[] = [];
    for (let i = 0; i < 9; i++) rest.push(messageId(kb.abi, (await receive(b, target)).msg!));
    expect(rest).toEqual([3, 4, 5, 6, 7, 100, 101, 102, 200]);
    expect((await receive(b, target, 20)).code).toBe(R.MACH_RCV_TIMED_OUT);
    expect(a.mach_port_deallocate(proxy)).toBe(0);
    expect(b.mach_port_deallocate(inboxInB)).toBe(0);
    await settle();
    expect(audit(ka)).toEqual([]);
    expect(audit(kb)).toEqual([]);
    aToB.close();
    bToA.close();
  });
});

describe("bridge limits", () => {
  it("cuts off a peer that hands over more ports than allowed", async () => {
    const { kernel, bridge, id, abi, rogue } = rogueVictim({ maxImports: 2 });
    for (let i = 0; i < 4; i++) {
      const m = buildMessage(abi, 0, MACH_MSG_TYPE_COPY_SEND, 0, 0, 9, [{ port: 0, disposition: 17 }]);
      // A fresh port of the peer's each time.
      const h = msgFrameHeader({ destType: 17, destId: id, size: m.bytes.length, rights: [{ tag: TAG_SENDER, type: 17, id: 1000 + i }] });
      rogue.send(h, [m.bytes]);
    }
    const error = await bridge.closed;
    expect(String(error)).toMatch(/more than 2 ports/);
    expect(audit(kernel)).toEqual([]);
    rogue.close();
  });

  it("counts ports whose receive rights the peer moves here against the same limit", async () => {
    const { kernel, bridge, id, abi, rogue } = rogueVictim({ maxImports: 2 });
    for (let i = 0; i < 4; i++) {
      // A fresh receive right moved here each time, none of them received.
      const m = buildMessage(abi, 0, MACH_MSG_TYPE_COPY_SEND, 0, 0, 9, [{ port: 0, disposition: 16 }]);
      rogue.send(movedFrame(MOVED_ID_BASE + i), []);
      rogue.send(msgFrameHeader({ destType: 17, destId: id, size: m.bytes.length, rights: [{ tag: TAG_MOVED, type: 16, id: MOVED_ID_BASE + i }] }), [m.bytes]);
    }
    const error = await bridge.closed;
    expect(String(error)).toMatch(/more than 2 ports/);
    expect(bridge.stats.received).toBe(2);
    expect(audit(kernel)).toEqual([]);
    rogue.close();
  });
});
