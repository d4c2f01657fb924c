/**
 * The kernel's copy of a message (Task#sendMessage): messages of 65 to 1024 bytes are carved from
 * shared slabs (task.ts copyBytes) rather than given an ArrayBuffer each. What must hold: every
 * received message has exactly the bytes that were sent, no two messages share bytes (a
 * receiver writing into one changes no other, across slab boundaries too), and a pseudo-received
 * message (a send that timed out) gets its header rewritten at its own offset in the slab.
 */
import { describe, expect, it } from "vitest";
import {
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_PORT_SEND,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_PORT_RIGHT_SEND,
  MACH_RCV_MSG,
  MACH_RCV_TIMEOUT,
  MACH_SEND_MSG,
  MACH_SEND_TIMEOUT,
  ReturnCode as R,
} from "../../../runtime/constants.js";
import type { MachMessage } from "../../../runtime/message.js";
import { audit, buildMessage, header, type Item, world } from "./support.js";

const RCV = MACH_RCV_MSG | MACH_RCV_TIMEOUT;
const COPY_SEND = 19;


/** `n` int items: a message well above the 64 bytes V8 keeps on its heap. */
function ints(n: number, base: number): Item[] {
  return Array.from({ length: n }, (_, i) => ({ kind: "int" as const, value: base + i }));
}

describe.each(["x86_64", "i386"] as const)("kernel message memory (%s)", (abiName) => {
  it("messages carved from slabs arrive intact and share no bytes, across slab boundaries", async () => {
    const { kernel, a, b, server, toServer, abi } = world(abiName);
    // 400 messages of 100-200 bytes, several 16 KiB slabs' worth, sent and received 5 at a
    // time (the queue limit), every received one kept.
    const sent: Uint8Array[] = [];
    const got: MachMessage[] = [];
    for (let i = 0; i < 400; i++) {
      const msg = buildMessage(abi, { remote: toServer, remoteType: COPY_SEND, id: 1000 + i, items: ints(6 + (i % 7), i * 100) });
      expect(msg.bytes.length).toBeGreaterThan(64);
      sent.push(msg.bytes.slice());
      expect((await a.mach_msg(msg, MACH_SEND_MSG, msg.bytes.length)).code).toBe(0);
      // The sender's buffer is its own again once the send returned.
      msg.bytes.fill(0xee);
      if (i % 5 === 4) {
        for (let j = 0; j < 5; j++) {
          const r = await b.mach_msg(null, RCV, 0, 4096, server, 0);
          expect(r.code).toBe(0);
          got.push(r.msg!);
        }
      }
    }
    for (let i = 0; i < 400; i++) {
      const bytes = got[i]!.bytes;
      expect(bytes.length).toBe(sent[i]!.length);
      expect(header(abi, got[i]!).id).toBe(1000 + i);
      // The body is what was sent (the header's ports and seqno are the receiver's).
      expect([...bytes.subarray(abi.headerSize)]).toEqual([...sent[i]!.subarray(abi.headerSize)]);
      expect(bytes.byteOffset % 8).toBe(0);
    }
    // They did come from slabs (views at offsets into shared buffers).
    expect(got.some((m) => m.bytes.byteOffset > 0)).toBe(true);
    // A receiver scribbling over every message it got changes no other message.
    const snapshot = got.map((m) => m.bytes.slice());
    for (let i = 0; i < 400; i += 2) got[i]!.bytes.fill(0x55);
    for (let i = 1; i < 400; i += 2) expect([...got[i]!.bytes]).toEqual([...snapshot[i]!]);
    expect(audit(kernel)).toEqual([]);
  });

  it("a send that times out returns a slab-carved message with its header rewritten in place", async () => {
    const { kernel, a, b, server, toServer, abi } = world(abiName);
    b.mach_port_set_qlimit(server, 1);
    const first = buildMessage(abi, { remote: toServer, remoteType: COPY_SEND, items: ints(8, 0) });
    expect((await a.mach_msg(first, MACH_SEND_MSG | MACH_SEND_TIMEOUT, first.bytes.length, 0, 0, 0)).code).toBe(0);
    // Something else in the slab right before the message that will come back.
    const other = buildMessage(abi, { remote: toServer, remoteType: COPY_SEND, id: 7, items: ints(8, 50) });
    const msg = buildMessage(abi, { remote: toServer, remoteType: COPY_SEND, id: 4242, items: ints(8, 100) });
    const body = msg.bytes.slice(abi.headerSize);
    expect((await a.mach_msg(other, MACH_SEND_MSG | MACH_SEND_TIMEOUT, other.bytes.length, 0, 0, 0)).code).toBe(R.MACH_SEND_TIMED_OUT);
    expect((await a.mach_msg(msg, MACH_SEND_MSG | MACH_SEND_TIMEOUT, msg.bytes.length, 0, 0, 0)).code).toBe(R.MACH_SEND_TIMED_OUT);
    const h = header(abi, msg);
    expect(h.id).toBe(4242);
    expect(h.size).toBe(msg.bytes.length);
    expect(h.remotePort).toBe(toServer);
    // Not swapped (§3.10): the destination's received type, one more user reference.
    expect(h.bits & 0xff).toBe(MACH_MSG_TYPE_PORT_SEND);
    expect([...msg.bytes.subarray(abi.headerSize)]).toEqual([...body]);
    expect(header(abi, other).id).toBe(7);
    // Two pseudo-receives: two more user references on the destination name.
    expect(a.mach_port_get_refs(toServer, MACH_PORT_RIGHT_SEND).refs).toBe(3);
    a.mach_msg_destroy(msg);
    a.mach_msg_destroy(other);
    b.mach_msg_destroy((await b.mach_msg(null, RCV, 0, 4096, server, 0)).msg!);
    expect(audit(kernel)).toEqual([]);
  });

  it("a donated message is the receiver's copy; a failed or observed one is not taken", async () => {
    const { kernel, a, b, server, toServer, abi } = world(abiName);
    // Donated and sent: the receiver gets the very bytes, its header written in.
    const small = buildMessage(abi, { remote: toServer, remoteType: COPY_SEND, id: 11, items: ints(2, 0) });
    expect(a.sendMessage(small, MACH_SEND_MSG, small.bytes.length, 0, true)).toBe(0);
    const got = (await b.mach_msg(null, RCV, 0, 4096, server, 0)).msg!;
    expect(got.bytes).toBe(small.bytes);
    expect(header(abi, got).localPort).toBe(server);
    expect(header(abi, got).id).toBe(11);
    // A failed send (an invalid destination, or a reply right the task lacks) leaves the donated
    // message exactly as it was.
    for (const [msg, code] of [
      [buildMessage(abi, { remote: 0x7777, remoteType: COPY_SEND, id: 12, items: ints(2, 0) }), R.MACH_SEND_INVALID_DEST],
      [buildMessage(abi, { remote: toServer, remoteType: COPY_SEND, local: 0x7777, localType: COPY_SEND, id: 12, items: ints(2, 0) }), R.MACH_SEND_INVALID_REPLY],
    ] as const) {
      const before = msg.bytes.slice();
      expect(a.sendMessage(msg, MACH_SEND_MSG, msg.bytes.length, 0, true)).toBe(code);
      expect([...msg.bytes]).toEqual([...before]);
    }
    // A complex one too; not donated, it is copied.
    const port = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    for (const donate of [true, false]) {
      const complex = buildMessage(abi, { remote: toServer, remoteType: COPY_SEND, id: 13, items: [{ kind: "ports", disposition: MACH_MSG_TYPE_MAKE_SEND, names: [port] }] });
      expect(a.sendMessage(complex, MACH_SEND_MSG, complex.bytes.length, 0, donate)).toBe(0);
      const gotComplex = (await b.mach_msg(null, RCV, 0, 4096, server, 0)).msg!;
      expect(gotComplex.bytes === complex.bytes).toBe(donate);
      expect(header(abi, gotComplex).id).toBe(13);
      b.mach_msg_destroy(gotComplex);
    }
    // A donated complex message that fails in its body: the rights before the bad item are
    // released once, by the kernel; nothing leaks or is released twice.
    const bad = buildMessage(abi, {
      remote: toServer,
      remoteType: COPY_SEND,
      id: 15,
      items: [
        { kind: "ports", disposition: MACH_MSG_TYPE_MAKE_SEND, names: [port] },
        { kind: "ports", disposition: MACH_MSG_TYPE_MAKE_SEND, names: [0x7777] },
      ],
    });
    expect(a.sendMessage(bad, MACH_SEND_MSG, bad.bytes.length, 0, true)).toBe(R.MACH_SEND_INVALID_RIGHT);
    // So is any message while an observer is attached (it may keep what it is given).
    const stop = kernel.observe({});
    const observed = buildMessage(abi, { remote: toServer, remoteType: COPY_SEND, id: 14, items: ints(2, 0) });
    expect(a.sendMessage(observed, MACH_SEND_MSG, observed.bytes.length, 0, true)).toBe(0);
    expect((await b.mach_msg(null, RCV, 0, 4096, server, 0)).msg!.bytes).not.toBe(observed.bytes);
    stop();
    a.mach_port_destroy(port);
    expect(audit(kernel)).toEqual([]);
  });
});
