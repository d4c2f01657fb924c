/**
 * The kernel's fast paths keep Mach's semantics: direct hand-off to a waiting receiver (FIFO,
 * seqnos, header as received), copy-out deferred for hand-offs from inside callbacks, the name
 * table's array/Map split (generated vs chosen names), the holder list kept in order.
 */
import { describe, expect, it } from "vitest";
import {
  MACH_MSG_TYPE_COPY_SEND,
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_MAKE_SEND_ONCE,
  MACH_MSG_TYPE_MOVE_SEND_ONCE,
  MACH_MSG_TYPE_PORT_SEND,
  MACH_NOTIFY_DEAD_NAME,
  MACH_PORT_RIGHT_DEAD_NAME,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_PORT_TYPE_DEAD_NAME,
  MACH_PORT_TYPE_RECEIVE,
  MACH_PORT_TYPE_SEND_ONCE,
  MACH_RCV_MSG,
  MACH_RCV_TIMEOUT,
  MACH_SEND_MSG,
  ReturnCode as R,
} from "../../../runtime/constants.js";
import { Kernel } from "../../../runtime/kernel/index.js";
import { audit, buildMessage, header, world } from "./support.js";


describe.each(["x86_64", "i386"] as const)("kernel fast paths (%s)", (abiName) => {
  it("a send to a waiting receiver is copied out by the time mach_msg returns; FIFO and seqnos hold", async () => {
    const { kernel, a, b, server, toServer, abi } = world(abiName);
    const reply = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const waiting = b.mach_msg(null, MACH_RCV_MSG, 0, 1024, server);
    const before = b.mach_port_names().names.length;
    const msg = buildMessage(abi, { remote: toServer, remoteType: MACH_MSG_TYPE_COPY_SEND, local: reply, localType: MACH_MSG_TYPE_MAKE_SEND_ONCE, id: 7 });
    // Garbage in the upper halves of the x86_64 port slots must not survive into the received header.
    if (abi.inlinePortSize === 8) msg.bytes.fill(0xee, abi.header.remotePort + 4, abi.header.remotePort + 8);
    const sent = a.mach_msg(msg, MACH_SEND_MSG | MACH_RCV_MSG, msg.bytes.length, 1024, reply);
    // The reply right is already named in B's space (copied out during A's send).
    expect(b.mach_port_names().names.length).toBe(before + 1);
    const r = await waiting;
    expect(r.code).toBe(0);
    const h = header(abi, r.msg!);
    expect(h.id).toBe(7);
    expect(h.seqno).toBe(0);
    expect(h.localPort).toBe(server);
    expect(b.mach_port_type(h.remotePort).type).toBe(MACH_PORT_TYPE_SEND_ONCE);
    if (abi.inlinePortSize === 8) expect([...r.msg!.bytes.subarray(abi.header.remotePort + 4, abi.header.remotePort + 8)]).toEqual([0, 0, 0, 0]);
    // Three more: the first to the waiting receiver, two queued; order and seqnos by send order.
    const next = b.mach_msg(null, MACH_RCV_MSG, 0, 1024, server);
    for (let id = 8; id <= 10; id++) {
      const m = buildMessage(abi, { remote: toServer, remoteType: MACH_MSG_TYPE_COPY_SEND, id });
      expect((await a.mach_msg(m, MACH_SEND_MSG)).code).toBe(0);
    }
    const got = [await next, await b.mach_msg(null, MACH_RCV_MSG, 0, 1024, server), await b.mach_msg(null, MACH_RCV_MSG, 0, 1024, server)];
    expect(got.map((g) => [header(abi, g.msg!).id, header(abi, g.msg!).seqno])).toEqual([
      [8, 1],
      [9, 2],
      [10, 3],
    ]);
    // The reply through the send-once right reaches A's waiting receive.
    const rep = buildMessage(abi, { remote: h.remotePort, remoteType: MACH_MSG_TYPE_MOVE_SEND_ONCE, id: 107 });
    expect((await b.mach_msg(rep, MACH_SEND_MSG)).code).toBe(0);
    const back = await sent;
    expect(header(abi, back.msg!).id).toBe(107);
    expect(audit(kernel)).toEqual([]);
  });

  it("a send made from inside a kernel callback is copied out in a microtask", async () => {
    const { kernel, a, b, server, toServer, abi } = world(abiName);
    const waiting = b.mach_msg(null, MACH_RCV_MSG, 0, 1024, server);
    const before = b.mach_port_names().names.length;
    let namesInCallback = -1;
    const kport = kernel.createKernelPort((kmsg) => {
      kernel.destroyKmsg(kmsg);
      const reply = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
      const m = buildMessage(abi, { remote: toServer, remoteType: MACH_MSG_TYPE_COPY_SEND, local: reply, localType: MACH_MSG_TYPE_MAKE_SEND_ONCE, id: 9 });
      expect(a.sendMessage(m, MACH_SEND_MSG)).toBe(0);
      namesInCallback = b.mach_port_names().names.length;
    });
    kernel.makeSend(kport);
    const toK = kernel.insertRight(a, kport, MACH_MSG_TYPE_PORT_SEND);
    const m = buildMessage(abi, { remote: toK, remoteType: MACH_MSG_TYPE_COPY_SEND, id: 1 });
    expect(a.sendMessage(m, MACH_SEND_MSG)).toBe(0);
    expect(namesInCallback).toBe(before);
    expect(b.mach_port_names().names.length).toBe(before);
    const r = await waiting;
    expect(header(abi, r.msg!).id).toBe(9);
    expect(b.mach_port_names().names.length).toBe(before + 1);
    b.mach_msg_destroy(r.msg!);
    expect(audit(kernel)).toEqual([]);
  });

  it("chosen names share index slots with generated ones; lookups, renames and listing stay exact", () => {
    const { kernel, a } = world(abiName);
    const gen = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    // Same index, another generation: a distinct name.
    const chosen = (gen & ~0xff) | ((gen + 1) & 0xff);
    expect(a.mach_port_allocate_name(MACH_PORT_RIGHT_DEAD_NAME, chosen)).toBe(R.KERN_SUCCESS);
    expect(a.mach_port_allocate_name(MACH_PORT_RIGHT_RECEIVE, gen)).toBe(R.KERN_NAME_EXISTS);
    expect(a.mach_port_type(gen).type).toBe(MACH_PORT_TYPE_RECEIVE);
    expect(a.mach_port_get_refs(chosen, MACH_PORT_RIGHT_DEAD_NAME).refs).toBe(1);
    expect(a.mach_port_rename(gen, 0x7fff0000)).toBe(R.KERN_SUCCESS);
    expect(a.mach_port_type(gen).code).toBe(R.KERN_INVALID_NAME);
    expect(a.mach_port_type(0x7fff0000).type).toBe(MACH_PORT_TYPE_RECEIVE);
    expect(a.mach_port_names().names).toEqual([...a.mach_port_names().names].sort((x, y) => x - y));
    expect(a.mach_port_names().names).toContain(chosen);
    // Many generated names later, none collides with a live one, and freed ones come back only
    // after the reuse delay with a new generation.
    const live = new Set(a.mach_port_names().names);
    const made: number[] = [];
    for (let i = 0; i < 300; i++) {
      const n = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
      expect(live.has(n)).toBe(false);
      live.add(n);
      made.push(n);
      if (i % 3 === 0) {
        const old = made.shift()!;
        expect(a.mach_port_mod_refs(old, MACH_PORT_RIGHT_RECEIVE, -1)).toBe(R.KERN_SUCCESS);
        live.delete(old);
      }
    }
    expect(new Set(a.mach_port_names().names)).toEqual(live);
    expect(audit(kernel)).toEqual([]);
  });

  it("a dying port turns its holders into dead names in the order they got their rights", async () => {
    const kernel = new Kernel(abiName);
    const owner = kernel.createTask("owner");
    const watcher = kernel.createTask("watcher");
    const port = owner.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const notify = watcher.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const holders = [kernel.createTask("h0"), kernel.createTask("h1"), kernel.createTask("h2")];
    const names = holders.map((t) => owner.mach_port_extract_right(port, MACH_MSG_TYPE_MAKE_SEND, t).right);
    // Register in reverse order; the notifications still follow the holders' order.
    for (let i = holders.length - 1; i >= 0; i--) {
      const so = watcher.mach_port_extract_right(notify, MACH_MSG_TYPE_MAKE_SEND_ONCE, holders[i]).right;
      expect(holders[i].mach_port_request_notification(names[i], MACH_NOTIFY_DEAD_NAME, 0, so, MACH_MSG_TYPE_MOVE_SEND_ONCE).code).toBe(0);
    }
    // Holder 1 drops and re-gets its right: it moves to the end.
    const so1 = holders[1].mach_port_request_notification(names[1], MACH_NOTIFY_DEAD_NAME, 0, 0, 0).previous;
    holders[1].mach_port_deallocate(so1);
    expect(holders[1].mach_port_deallocate(names[1])).toBe(0);
    names[1] = owner.mach_port_extract_right(port, MACH_MSG_TYPE_MAKE_SEND, holders[1]).right;
    const so = watcher.mach_port_extract_right(notify, MACH_MSG_TYPE_MAKE_SEND_ONCE, holders[1]).right;
    expect(holders[1].mach_port_request_notification(names[1], MACH_NOTIFY_DEAD_NAME, 0, so, MACH_MSG_TYPE_MOVE_SEND_ONCE).code).toBe(0);
    owner.mach_port_mod_refs(port, MACH_PORT_RIGHT_RECEIVE, -1);
    const seen: number[] = [];
    for (;;) {
      const r = await watcher.mach_msg(null, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, 1024, notify, 0);
      if (r.code !== 0) break;
      const id = header(kernel.abi, r.msg!).id;
      if (id === MACH_NOTIFY_DEAD_NAME) {
        const view = new DataView(r.msg!.bytes.buffer);
        seen.push(view.getUint32(kernel.abi.headerSize + kernel.abi.descriptorSize, true));
      }
      watcher.mach_msg_destroy(r.msg!);
    }
    expect(seen).toEqual([names[0], names[2], names[1]]);
    for (let i = 0; i < 3; i++) expect(holders[i].mach_port_type(names[i]).type).toBe(MACH_PORT_TYPE_DEAD_NAME);
    expect(audit(kernel)).toEqual([]);
  });
});
