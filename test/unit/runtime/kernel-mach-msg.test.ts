import { describe, expect, it } from "vitest";
import { writeDescriptor } from "../../../runtime/codec/descriptor.js";
import {
  MACH_MSG_TYPE_COPY_SEND,
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_MAKE_SEND_ONCE,
  MACH_MSG_TYPE_MOVE_RECEIVE,
  MACH_MSG_TYPE_MOVE_SEND,
  MACH_MSG_TYPE_MOVE_SEND_ONCE,
  MACH_MSG_TYPE_PORT_NAME,
  MACH_NOTIFY_NO_SENDERS,
  MACH_NOTIFY_SEND_ONCE,
  MACH_PORT_DEAD,
  MACH_PORT_NULL,
  MACH_PORT_RIGHT_PORT_SET,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_PORT_RIGHT_SEND,
  MACH_PORT_TYPE_RECEIVE,
  MACH_PORT_TYPE_SEND_ONCE,
  MACH_PORT_TYPE_SEND_RECEIVE,
  MACH_RCV_LARGE,
  MACH_RCV_MSG,
  MACH_RCV_TIMEOUT,
  MACH_SEND_MSG,
  MACH_SEND_TIMEOUT,
  ReturnCode as R,
} from "../../../runtime/constants.js";
import type { Task } from "../../../runtime/kernel/index.js";
import type { MachMessage } from "../../../runtime/message.js";
import { audit, bodyPorts, buildMessage, descriptors, header, type Item, world } from "./support.js";

const RCV = MACH_RCV_MSG | MACH_RCV_TIMEOUT;
const SEND = MACH_SEND_MSG;


function snapshot(t: Task) {
  const { names, types } = t.mach_port_names();
  return names.map((n, i) => [n, types[i], t.mach_port_get_refs(n, MACH_PORT_RIGHT_SEND).refs]);
}

async function send(t: Task, msg: MachMessage, option = SEND, timeout = 0) {
  return (await t.mach_msg(msg, option, msg.bytes.length, 0, 0, timeout)).code;
}

describe.each(["x86_64", "i386"] as const)("mach_msg (%s)", (abiName) => {
  it("delivers with the header swapped and dispositions converted; seqnos count up", async () => {
    const { a, b, server, toServer, abi, kernel } = world(abiName);
    const reply = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    for (let i = 0; i < 3; i++) {
      const msg = buildMessage(abi, {
        remote: toServer,
        remoteType: MACH_MSG_TYPE_COPY_SEND,
        local: reply,
        localType: MACH_MSG_TYPE_MAKE_SEND_ONCE,
        id: 4000 + i,
        items: [{ kind: "int", value: 0xdead0000 + i }],
      });
      expect(await send(a, msg)).toBe(0);
    }
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await b.mach_msg(null, RCV, 0, 1024, server, 0);
      expect(r.code).toBe(0);
      const h = header(abi, r.msg!);
      expect(h.bits).toBe(0x1112);
      expect(h.localPort).toBe(server);
      expect(h.id).toBe(4000 + i);
      expect(h.size).toBe(r.msg!.bytes.length);
      expect(b.mach_port_type(h.remotePort).type).toBe(MACH_PORT_TYPE_SEND_ONCE);
      expect(b.portOf(h.remotePort)).toBe(a.portOf(reply));
      seen.push(h.seqno);
      b.mach_port_deallocate(h.remotePort);
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(audit(kernel)).toEqual([]);
  });

  it("copies in every body disposition and copies out with name translation", async () => {
    const { a, b, server, toServer, abi, kernel } = world(abiName);
    const mine = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const moved = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    a.mach_port_insert_right(mine, mine, MACH_MSG_TYPE_MAKE_SEND);
    a.mach_port_mod_refs(mine, MACH_PORT_RIGHT_SEND, 2);
    const so = a.mach_port_extract_right(mine, MACH_MSG_TYPE_MAKE_SEND_ONCE).right;
    const data = new Uint8Array(3000).map((_, i) => i & 0xff);
    const items: Item[] = [
      { kind: "ports", disposition: MACH_MSG_TYPE_COPY_SEND, names: [mine] },
      { kind: "ports", disposition: MACH_MSG_TYPE_MOVE_SEND, names: [mine, MACH_PORT_NULL] },
      { kind: "ports", disposition: MACH_MSG_TYPE_MAKE_SEND, names: [mine] },
      { kind: "ports", disposition: MACH_MSG_TYPE_MAKE_SEND_ONCE, names: [mine] },
      { kind: "ports", disposition: MACH_MSG_TYPE_MOVE_SEND_ONCE, names: [so] },
      { kind: "ports", disposition: MACH_MSG_TYPE_MOVE_RECEIVE, names: [moved] },
      { kind: "ports", disposition: MACH_MSG_TYPE_PORT_NAME, names: [0x12345] },
      { kind: "ool", data },
      { kind: "oolports", disposition: MACH_MSG_TYPE_COPY_SEND, names: [mine, MACH_PORT_DEAD, toServer] },
    ];
    const msg = buildMessage(abi, { remote: toServer, remoteType: MACH_MSG_TYPE_COPY_SEND, items });
    expect(await send(a, msg)).toBe(0);
    expect(a.mach_port_get_refs(mine, MACH_PORT_RIGHT_SEND).refs).toBe(2);
    expect(a.mach_port_type(so).code).toBe(R.KERN_INVALID_NAME);
    expect(a.mach_port_type(moved).code).toBe(R.KERN_INVALID_NAME);
    const r = await b.mach_msg(null, RCV, 0, 8192, server, 0);
    expect(r.code).toBe(0);
    const got = r.msg!;
    expect(header(abi, got).bits >>> 0).toBe(0x80001100);
    const ports = bodyPorts(abi, got);
    const minePort = a.portOf(mine);
    const sendName = ports[0].name;
    expect(b.portOf(sendName)).toBe(minePort);
    expect(ports.map((p) => p.type)).toEqual([17, 17, 17, 17, 18, 18, 16, 17, 17, 17]);
    // All send rights for one port merge into one name with urefs; send-once rights never merge.
    expect([ports[1].name, ports[3].name, ports[7].name]).toEqual([sendName, sendName, sendName]);
    expect(ports[2].name).toBe(MACH_PORT_NULL);
    expect(b.mach_port_get_refs(sendName, MACH_PORT_RIGHT_SEND).refs).toBe(4);
    expect(ports[4].name).not.toBe(ports[5].name);
    expect(b.mach_port_type(ports[4].name).type).toBe(MACH_PORT_TYPE_SEND_ONCE);
    expect(b.mach_port_type(ports[6].name).type).toBe(MACH_PORT_TYPE_RECEIVE);
    expect(ports[8].name).toBe(MACH_PORT_DEAD);
    // A send right to the receiver's own port merges with its receive right.
    expect(ports[9].name).toBe(server);
    expect(b.mach_port_type(server).type).toBe(MACH_PORT_TYPE_SEND_RECEIVE);
    // PORT_NAME items are plain data.
    const descs = descriptors(abi, got);
    expect(descs[6].name).toBe(MACH_MSG_TYPE_PORT_NAME);
    expect(bodyPorts(abi, got).length).toBe(10);
    // OOL: a new region with the same bytes; received OOL descriptors have deallocate set.
    expect(got.ool[0]).toEqual(data);
    expect(got.ool[0]).not.toBe(data);
    expect(descs[7].deallocate).toBe(true);
    expect(descs[7].inline).toBe(false);
    expect(descs.filter((d) => d.inline).every((d) => !d.deallocate)).toBe(true);
    expect(audit(kernel)).toEqual([]);
    // mach_msg_destroy releases every right and region.
    b.mach_msg_destroy(got);
    expect(b.mach_port_type(sendName).code).toBe(R.KERN_INVALID_NAME);
    expect(b.mach_port_type(ports[6].name).code).toBe(R.KERN_INVALID_NAME);
    expect(b.mach_port_type(server).type).toBe(MACH_PORT_TYPE_RECEIVE);
    expect(got.ool[0].length).toBe(0);
    // The send-once rights came back to `mine` as two send-once notifications.
    const n1 = await a.mach_msg(null, RCV, 0, 1024, mine, 0);
    const n2 = await a.mach_msg(null, RCV, 0, 1024, mine, 0);
    expect([header(abi, n1.msg!).id, header(abi, n2.msg!).id]).toEqual([MACH_NOTIFY_SEND_ONCE, MACH_NOTIFY_SEND_ONCE]);
    expect(audit(kernel)).toEqual([]);
  });

  it("clears COMPLEX when the body carried no port or OOL item", async () => {
    const { a, b, server, toServer, abi } = world(abiName);
    const msg = buildMessage(abi, {
      remote: toServer,
      remoteType: MACH_MSG_TYPE_COPY_SEND,
      complex: true,
      items: [{ kind: "int", value: 1 }],
    });
    expect(await send(a, msg)).toBe(0);
    const r = await b.mach_msg(null, RCV, 0, 1024, server, 0);
    expect(header(abi, r.msg!).bits).toBe(0x1100);
  });

  it("send errors: TOO_SMALL, INVALID_DATA, INVALID_HEADER, INVALID_DEST, INVALID_REPLY leave the space unchanged", async () => {
    const { a, toServer, abi } = world(abiName);
    const reply = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const before = snapshot(a);
    const ok = buildMessage(abi, { remote: toServer, remoteType: MACH_MSG_TYPE_MOVE_SEND });
    expect((await a.mach_msg(ok, SEND, abi.headerSize - 4)).code).toBe(R.MACH_SEND_MSG_TOO_SMALL);
    expect((await a.mach_msg(ok, SEND, abi.headerSize + 2)).code).toBe(R.MACH_SEND_MSG_TOO_SMALL);
    expect((await a.mach_msg(ok, SEND, abi.headerSize + abi.alignment * 4)).code).toBe(R.MACH_SEND_INVALID_DATA);
    const cases: Array<[Parameters<typeof buildMessage>[1], number]> = [
      [{ remote: toServer, remoteType: MACH_MSG_TYPE_MOVE_RECEIVE }, R.MACH_SEND_INVALID_HEADER],
      [{ remote: toServer, remoteType: 22 }, R.MACH_SEND_INVALID_HEADER],
      [{ remote: toServer, remoteType: 19, local: reply, localType: 0 }, R.MACH_SEND_INVALID_HEADER],
      [{ remote: toServer, remoteType: 19, local: reply, localType: 16 }, R.MACH_SEND_INVALID_HEADER],
      [{ remote: 0, remoteType: 19 }, R.MACH_SEND_INVALID_DEST],
      [{ remote: 0x7777, remoteType: 19 }, R.MACH_SEND_INVALID_DEST],
      [{ remote: toServer, remoteType: MACH_MSG_TYPE_MAKE_SEND }, R.MACH_SEND_INVALID_DEST],
      [{ remote: toServer, remoteType: MACH_MSG_TYPE_MOVE_SEND_ONCE }, R.MACH_SEND_INVALID_DEST],
      [{ remote: toServer, remoteType: 17, local: 0x7777, localType: 21 }, R.MACH_SEND_INVALID_REPLY],
      [{ remote: toServer, remoteType: 17, local: toServer, localType: 21 }, R.MACH_SEND_INVALID_REPLY],
      [{ remote: 0x7777, remoteType: 17, local: 0x7778, localType: 21 }, R.MACH_SEND_INVALID_DEST],
      // Reply checks run before the destination's disposition check.
      [{ remote: toServer, remoteType: 20, local: reply, localType: 18 }, R.MACH_SEND_INVALID_REPLY],
      [{ remote: toServer, remoteType: 17, local: toServer, localType: 17 }, R.MACH_SEND_INVALID_DEST],
      [{ remote: reply, remoteType: 21, local: reply, localType: 18 }, R.MACH_SEND_INVALID_REPLY],
    ];
    for (const [b, code] of cases) {
      expect((await send(a, buildMessage(abi, b))).toString(16)).toBe(code.toString(16));
      expect(snapshot(a)).toEqual(before);
    }
  });

  it("same name for destination and reply follows §3.4", async () => {
    const { a, b, server, toServer, abi, kernel } = world(abiName);
    expect(await send(a, buildMessage(abi, { remote: toServer, remoteType: 19, local: toServer, localType: 19 }))).toBe(0);
    expect(a.mach_port_get_refs(toServer, MACH_PORT_RIGHT_SEND).refs).toBe(1);
    // COPY + MOVE with a single uref works.
    expect(await send(a, buildMessage(abi, { remote: toServer, remoteType: 17, local: toServer, localType: 19 }))).toBe(0);
    expect(a.mach_port_type(toServer).code).toBe(R.KERN_INVALID_NAME);
    const own = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    expect(await send(a, buildMessage(abi, { remote: own, remoteType: 20, local: own, localType: 21 }))).toBe(0);
    const r = await a.mach_msg(null, RCV, 0, 1024, own, 0);
    expect(header(abi, r.msg!).bits).toBe(0x1112);
    for (let i = 0; i < 2; i++) {
      const m = await b.mach_msg(null, RCV, 0, 1024, server, 0);
      expect(header(abi, m.msg!).bits).toBe(0x1111);
      b.mach_msg_destroy(m.msg!);
    }
    a.mach_msg_destroy(r.msg!);
    expect(audit(kernel)).toEqual([]);
  });

  it("body errors: INVALID_TYPE, MSG_TOO_SMALL, INVALID_RIGHT, INVALID_MEMORY destroy the header rights and earlier items", async () => {
    const { a, b, server, toServer, abi, kernel } = world(abiName);
    const reply = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const other = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    a.mach_port_insert_right(other, other, MACH_MSG_TYPE_MAKE_SEND);
    a.mach_port_mod_refs(other, MACH_PORT_RIGHT_SEND, 1);
    const base = { remote: toServer, remoteType: MACH_MSG_TYPE_COPY_SEND, local: reply, localType: MACH_MSG_TYPE_MAKE_SEND_ONCE };
    const inlineDealloc: Item = { kind: "raw", name: 2, size: 32, number: 1, inline: true, dealloc: true, data: new Uint8Array(4) };
    const badPortSize: Item = { kind: "raw", name: 19, size: 16, number: 1, inline: true, data: new Uint8Array(4) };
    const bad: Array<[Item[], number]> = [
      [[{ kind: "ports", disposition: MACH_MSG_TYPE_MOVE_SEND, names: [other] }, inlineDealloc], R.MACH_SEND_INVALID_TYPE],
      [[{ kind: "ports", disposition: MACH_MSG_TYPE_MOVE_SEND, names: [other] }, badPortSize], R.MACH_SEND_INVALID_TYPE],
      [[{ kind: "ports", disposition: MACH_MSG_TYPE_MOVE_SEND, names: [other] }, { kind: "ports", disposition: 19, names: [0x9999] }], R.MACH_SEND_INVALID_RIGHT],
      [[{ kind: "ports", disposition: MACH_MSG_TYPE_MOVE_SEND, names: [other] }, { kind: "ool", data: new Uint8Array(8) }], R.MACH_SEND_INVALID_MEMORY],
    ];
    for (const [items, code] of bad) {
      const msg = buildMessage(abi, { ...base, items });
      if (code === R.MACH_SEND_INVALID_MEMORY) msg.ool = [];
      expect(a.mach_port_get_refs(other, MACH_PORT_RIGHT_SEND).refs).toBe(2);
      expect(await send(a, msg)).toBe(code);
      // The moved send right (an earlier item) was destroyed: one uref gone.
      expect(a.mach_port_get_refs(other, MACH_PORT_RIGHT_SEND).refs).toBe(1);
      a.mach_port_mod_refs(other, MACH_PORT_RIGHT_SEND, 1);
      // The made send-once reply right came back as a send-once notification.
      const n = await a.mach_msg(null, RCV, 0, 1024, reply, 0);
      expect(header(abi, n.msg!).id).toBe(MACH_NOTIFY_SEND_ONCE);
    }
    // Truncated body: MSG_TOO_SMALL.
    const msg = buildMessage(abi, { ...base, items: [{ kind: "int", value: 1 }, { kind: "int", value: 2 }] });
    const cut = { bytes: msg.bytes.slice(0, msg.bytes.length - abi.alignment), ool: [] };
    new DataView(cut.bytes.buffer).setUint32(abi.header.bits, (new DataView(cut.bytes.buffer).getUint32(abi.header.bits, true) | 0x80000000) >>> 0, true);
    writeDescriptor(new DataView(cut.bytes.buffer), cut.bytes.length - abi.descriptorSize, abi, {
      name: 2, size: 32, number: 1, inline: true, longForm: false, deallocate: false,
    });
    expect(await send(a, cut)).toBe(R.MACH_SEND_MSG_TOO_SMALL);
    expect((await b.mach_msg(null, RCV, 0, 1024, server, 0)).code).toBe(R.MACH_RCV_TIMED_OUT);
    expect(audit(kernel)).toEqual([]);
  });

  it("qlimit: SEND_TIMED_OUT with timeout 0 returns the rights (pseudo-receive); send-once bypasses the limit", async () => {
    const { a, b, server, toServer, abi, kernel } = world(abiName);
    const reply = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const carried = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    for (let i = 0; i < 5; i++) {
      expect(await send(a, buildMessage(abi, { remote: toServer, remoteType: 19 }), SEND | MACH_SEND_TIMEOUT, 0)).toBe(0);
    }
    const msg = buildMessage(abi, {
      remote: toServer,
      remoteType: MACH_MSG_TYPE_COPY_SEND,
      local: reply,
      localType: MACH_MSG_TYPE_MAKE_SEND_ONCE,
      items: [{ kind: "ports", disposition: MACH_MSG_TYPE_MOVE_RECEIVE, names: [carried] }],
    });
    expect(await send(a, msg, SEND | MACH_SEND_TIMEOUT, 0)).toBe(R.MACH_SEND_TIMED_OUT);
    const h = header(abi, msg);
    // Not swapped: remote = our name for the destination (one more uref), local = a new send-once right.
    expect(h.remotePort).toBe(toServer);
    expect(a.mach_port_get_refs(toServer, MACH_PORT_RIGHT_SEND).refs).toBe(2);
    expect(h.bits & 0xffff).toBe(0x1211);
    expect(a.mach_port_type(h.localPort).type).toBe(MACH_PORT_TYPE_SEND_ONCE);
    const back = bodyPorts(abi, msg)[0];
    expect(a.mach_port_type(back.name).type).toBe(MACH_PORT_TYPE_RECEIVE);
    expect(a.portOf(back.name)).toBeTruthy();
    // Messages to a send-once right ignore the limit.
    const so = b.mach_port_extract_right(server, MACH_MSG_TYPE_MAKE_SEND_ONCE, a).right;
    expect(await send(a, buildMessage(abi, { remote: so, remoteType: MACH_MSG_TYPE_MOVE_SEND_ONCE }), SEND | MACH_SEND_TIMEOUT, 0)).toBe(0);
    expect(b.mach_port_get_receive_status(server).status!.mps_msgcount).toBe(6);
    // A blocked sender without a timeout completes once a receive makes room.
    const blocked = a.mach_msg(buildMessage(abi, { remote: toServer, remoteType: 19, id: 77 }), SEND);
    let done = false;
    void blocked.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(false);
    for (let i = 0; i < 2; i++) b.mach_msg_destroy((await b.mach_msg(null, RCV, 0, 1024, server, 0)).msg!);
    expect((await blocked).code).toBe(0);
    // A send that times out after waiting.
    const started = Date.now();
    expect(await send(a, buildMessage(abi, { remote: toServer, remoteType: 19 }), SEND | MACH_SEND_TIMEOUT, 20)).toBe(
      R.MACH_SEND_TIMED_OUT,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    a.mach_msg_destroy({ ...msg, bytes: msg.bytes });
    a.mach_port_deallocate(h.localPort);
    expect(audit(kernel)).toEqual([]);
  });

  it("raising qlimit wakes blocked senders; port death wakes them with SUCCESS and destroys their messages", async () => {
    const { a, b, server, toServer, abi } = world(abiName);
    b.mach_port_set_qlimit(server, 1);
    expect(await send(a, buildMessage(abi, { remote: toServer, remoteType: 19 }))).toBe(0);
    const p1 = a.mach_msg(buildMessage(abi, { remote: toServer, remoteType: 19 }), SEND);
    const p2 = a.mach_msg(buildMessage(abi, { remote: toServer, remoteType: 19 }), SEND);
    const p3 = a.mach_msg(buildMessage(abi, { remote: toServer, remoteType: 19 }), SEND);
    b.mach_port_set_qlimit(server, 2);
    expect((await p1).code).toBe(0);
    expect(b.mach_port_get_receive_status(server).status!.mps_msgcount).toBe(2);
    b.mach_port_destroy(server);
    expect((await p2).code).toBe(0);
    expect((await p3).code).toBe(0);
    expect(a.mach_port_type(toServer).type).toBe(0x100000);
  });

  it("MACH_RCV_TOO_LARGE: dequeued and destroyed (seqno consumed) without RCV_LARGE, kept with it", async () => {
    const { a, b, server, toServer, abi, kernel } = world(abiName);
    const reply = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const big = () =>
      buildMessage(abi, {
        remote: toServer,
        remoteType: 19,
        local: reply,
        localType: MACH_MSG_TYPE_MAKE_SEND_ONCE,
        items: [{ kind: "int", value: 1 }, { kind: "int", value: 2 }],
      });
    await send(a, big());
    await send(a, big());
    const size = big().bytes.length;
    let r = await b.mach_msg(null, RCV | MACH_RCV_LARGE, 0, abi.headerSize, server, 0);
    expect(r.code).toBe(R.MACH_RCV_TOO_LARGE);
    expect(header(abi, r.msg!).size).toBe(size);
    expect(b.mach_port_get_receive_status(server).status!.mps_seqno).toBe(0);
    r = await b.mach_msg(null, RCV, 0, abi.headerSize, server, 0);
    expect(r.code).toBe(R.MACH_RCV_TOO_LARGE);
    const h = header(abi, r.msg!);
    expect([h.size, h.remotePort, h.localPort, h.seqno]).toEqual([size, 0, server, 0]);
    // The reply send-once right was destroyed: a send-once notification went to the reply port.
    const n = await a.mach_msg(null, RCV, 0, 1024, reply, 0);
    expect(header(abi, n.msg!).id).toBe(MACH_NOTIFY_SEND_ONCE);
    r = await b.mach_msg(null, RCV, 0, size, server, 0);
    expect(r.code).toBe(0);
    expect(header(abi, r.msg!).seqno).toBe(1);
    b.mach_msg_destroy(r.msg!);
    expect(audit(kernel)).toEqual([]);
  });

  it("receive errors and waiting: INVALID_NAME, IN_SET, TIMED_OUT, PORT_DIED; a waiting receiver gets the next message", async () => {
    const { a, b, server, toServer, abi } = world(abiName);
    expect((await b.mach_msg(null, RCV, 0, 1024, 0x4444, 0)).code).toBe(R.MACH_RCV_INVALID_NAME);
    expect((await a.mach_msg(null, RCV, 0, 1024, toServer, 0)).code).toBe(R.MACH_RCV_INVALID_NAME);
    const t0 = Date.now();
    expect((await b.mach_msg(null, RCV, 0, 1024, server, 15)).code).toBe(R.MACH_RCV_TIMED_OUT);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(10);
    const waiting = b.mach_msg(null, MACH_RCV_MSG, 0, 1024, server);
    await send(a, buildMessage(abi, { remote: toServer, remoteType: 19, id: 9 }));
    const got = await waiting;
    expect(got.code).toBe(0);
    expect(header(abi, got.msg!).id).toBe(9);
    const set = b.mach_port_allocate(MACH_PORT_RIGHT_PORT_SET).name;
    const dying = b.mach_msg(null, MACH_RCV_MSG, 0, 1024, server);
    b.mach_port_move_member(server, set);
    expect((await dying).code).toBe(R.MACH_RCV_PORT_CHANGED);
    expect((await b.mach_msg(null, RCV, 0, 1024, server, 0)).code).toBe(R.MACH_RCV_IN_SET);
    const onSet = b.mach_msg(null, MACH_RCV_MSG, 0, 1024, set);
    b.mach_port_destroy(set);
    expect((await onSet).code).toBe(R.MACH_RCV_PORT_DIED);
    const onPort = b.mach_msg(null, MACH_RCV_MSG, 0, 1024, server);
    b.mach_port_mod_refs(server, 1, -1);
    expect((await onPort).code).toBe(R.MACH_RCV_PORT_DIED);
    expect((await send(a, buildMessage(abi, { remote: toServer, remoteType: 19 })))).toBe(R.MACH_SEND_INVALID_DEST);
  });

  it("port sets: one FIFO for all members, local names the member, per-member seqnos", async () => {
    const { a, b, server, toServer, abi, kernel } = world(abiName);
    const second = b.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const toSecond = b.mach_port_extract_right(second, MACH_MSG_TYPE_MAKE_SEND, a).right;
    const set = b.mach_port_allocate(MACH_PORT_RIGHT_PORT_SET).name;
    await send(a, buildMessage(abi, { remote: toServer, remoteType: 19, id: 1 }));
    await send(a, buildMessage(abi, { remote: toSecond, remoteType: 19, id: 2 }));
    b.mach_port_move_member(second, set);
    b.mach_port_move_member(server, set);
    await send(a, buildMessage(abi, { remote: toSecond, remoteType: 19, id: 3 }));
    const out: Array<[number, number, number]> = [];
    for (let i = 0; i < 3; i++) {
      const r = await b.mach_msg(null, RCV, 0, 1024, set, 0);
      const h = header(abi, r.msg!);
      out.push([h.id, h.localPort, h.seqno]);
    }
    // `second` joined first, so its queued message precedes server's.
    expect(out).toEqual([
      [2, second, 0],
      [1, server, 0],
      [3, second, 1],
    ]);
    const waiting = b.mach_msg(null, MACH_RCV_MSG, 0, 1024, set);
    await send(a, buildMessage(abi, { remote: toServer, remoteType: 19, id: 4 }));
    expect(header(abi, (await waiting).msg!).localPort).toBe(server);
    // Leaving the set takes the member's messages back.
    await send(a, buildMessage(abi, { remote: toServer, remoteType: 19, id: 5 }));
    b.mach_port_move_member(server, MACH_PORT_NULL);
    expect((await b.mach_msg(null, RCV, 0, 1024, set, 0)).code).toBe(R.MACH_RCV_TIMED_OUT);
    expect(header(abi, (await b.mach_msg(null, RCV, 0, 1024, server, 0)).msg!).id).toBe(5);
    expect(audit(kernel)).toEqual([]);
  });

  it("receive rights in transit keep their queue; mscount and seqno reset; circular messages are destroyed", async () => {
    const { kernel, a, b, server, toServer, abi } = world(abiName);
    const c = kernel.createTask("C");
    const moving = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const toMoving = a.mach_port_extract_right(moving, MACH_MSG_TYPE_MAKE_SEND, c).right;
    await send(c, buildMessage(abi, { remote: toMoving, remoteType: 19, id: 11 }));
    a.mach_port_set_seqno(moving, 40);
    await send(a, buildMessage(abi, { remote: toServer, remoteType: 19, items: [{ kind: "ports", disposition: 16, names: [moving] }] }));
    // While in transit, sends to it still queue.
    await send(c, buildMessage(abi, { remote: toMoving, remoteType: 19, id: 12 }));
    const r = await b.mach_msg(null, RCV, 0, 1024, server, 0);
    const got = bodyPorts(abi, r.msg!)[0].name;
    const st = b.mach_port_get_receive_status(got).status!;
    expect([st.mps_mscount, st.mps_seqno, st.mps_msgcount]).toEqual([0, 0, 2]);
    const m1 = await b.mach_msg(null, RCV, 0, 1024, got, 0);
    expect([header(abi, m1.msg!).id, header(abi, m1.msg!).seqno]).toEqual([11, 0]);
    // Circular: a message carrying the receive right of its own destination.
    const self = b.mach_port_extract_right(got, MACH_MSG_TYPE_MAKE_SEND, b).right;
    expect(self).toBe(got);
    expect(
      await send(b, buildMessage(abi, { remote: got, remoteType: MACH_MSG_TYPE_MAKE_SEND, items: [{ kind: "ports", disposition: 16, names: [got] }] })),
    ).toBe(0);
    expect(c.mach_port_type(toMoving).type).toBe(0x100000);
    expect(audit(kernel)).toEqual([]);
  });

  it("the last send right arriving as a destination fires no-senders on receipt", async () => {
    const { a, b, server, toServer, abi } = world(abiName);
    const w = b.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    b.mach_port_request_notification(server, MACH_NOTIFY_NO_SENDERS, 1, w, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    await send(a, buildMessage(abi, { remote: toServer, remoteType: MACH_MSG_TYPE_MOVE_SEND }));
    expect((await b.mach_msg(null, RCV, 0, 1024, w, 0)).code).toBe(R.MACH_RCV_TIMED_OUT);
    await b.mach_msg(null, RCV, 0, 1024, server, 0);
    const n = await b.mach_msg(null, RCV, 0, 1024, w, 0);
    expect(header(abi, n.msg!).id).toBe(MACH_NOTIFY_NO_SENDERS);
  });

  it("a right whose port died in transit arrives as MACH_PORT_DEAD", async () => {
    const { a, b, server, toServer, abi, kernel } = world(abiName);
    const p = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    await send(a, buildMessage(abi, { remote: toServer, remoteType: 19, items: [{ kind: "ports", disposition: 20, names: [p] }] }));
    a.mach_port_destroy(p);
    const r = await b.mach_msg(null, RCV, 0, 1024, server, 0);
    expect(bodyPorts(abi, r.msg!)[0].name).toBe(MACH_PORT_DEAD);
    expect(b.mach_port_names().names).toEqual([server]);
    expect(audit(kernel)).toEqual([]);
  });

  it("queued messages at a dying port are destroyed: their rights released", async () => {
    const { a, b, server, toServer, abi, kernel } = world(abiName);
    const reply = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const carried = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const toCarried = a.mach_port_extract_right(carried, MACH_MSG_TYPE_MAKE_SEND, b).right;
    await send(a, buildMessage(abi, {
      remote: toServer,
      remoteType: 19,
      local: reply,
      localType: 21,
      items: [{ kind: "ports", disposition: 16, names: [carried] }],
    }));
    b.mach_port_destroy(server);
    expect(b.mach_port_type(toCarried).type).toBe(0x100000);
    expect(header(abi, (await a.mach_msg(null, RCV, 0, 1024, reply, 0)).msg!).id).toBe(MACH_NOTIFY_SEND_ONCE);
    expect(audit(kernel)).toEqual([]);
  });

  it("OOL data with deallocate is taken from the sender", async () => {
    const { a, b, server, toServer, abi } = world(abiName);
    const data = new Uint8Array([1, 2, 3, 4, 5]);
    const msg = buildMessage(abi, { remote: toServer, remoteType: 19, items: [{ kind: "ool", data, dealloc: true }, { kind: "ool", data: new Uint8Array(0) }] });
    expect(await send(a, msg)).toBe(0);
    expect(msg.ool[0].length).toBe(0);
    const r = await b.mach_msg(null, RCV, 0, 1024, server, 0);
    expect([...r.msg!.ool[0]]).toEqual([1, 2, 3, 4, 5]);
    expect(r.msg!.ool[1].length).toBe(0);
  });
});
