/**
 * Out-of-line data with deallocate is moved, not copied (Mach: vm_map_copyin with src_destroy
 * unmaps the region from the sender): the receiver gets the sender's memory itself and the
 * sender's slot is emptied. Without deallocate the kernel copies, so later writes by the sender
 * are not seen by the receiver.
 */
import { describe, expect, it } from "vitest";
import { MACH_RCV_MSG, MACH_RCV_TIMEOUT, MACH_SEND_MSG } from "../../../runtime/constants.js";
import { audit, buildMessage, descriptors, world } from "./support.js";

const RCV = MACH_RCV_MSG | MACH_RCV_TIMEOUT;
const COPY_SEND = 19;

describe.each(["x86_64", "i386"] as const)("OOL move semantics (%s)", (abiName) => {
  it("deallocate: the receiver gets the sender's region itself; the sender's slot is emptied", async () => {
    const { kernel, a, b, server, toServer, abi } = world(abiName);
    const data = new Uint8Array(2048).fill(7); // < 4096: the i386 short form counts 12 bits
    const msg = buildMessage(abi, {
      remote: toServer,
      remoteType: COPY_SEND,
      items: [{ kind: "ool", data, dealloc: true }],
    });
    expect((await a.mach_msg(msg, MACH_SEND_MSG, msg.bytes.length, 0, 0)).code).toBe(0);
    expect(msg.ool[0]!.length).toBe(0);
    const r = await b.mach_msg(null, RCV, 0, 1024, server, 0);
    expect(r.code).toBe(0);
    const got = r.msg!.ool[0]!;
    expect(got).toBe(data); // moved: same memory, no copy
    expect(descriptors(abi, r.msg!)[0]!.deallocate).toBe(true);
    expect(audit(kernel)).toEqual([]);
  });

  it("deallocate with a region longer than the count: a view of its first bytes, not a copy", async () => {
    const { a, b, server, toServer, abi } = world(abiName);
    const msg = buildMessage(abi, {
      remote: toServer,
      remoteType: COPY_SEND,
      items: [{ kind: "ool", data: new Uint8Array(3), dealloc: true }],
    });
    const region = new Uint8Array([9, 8, 7, 6, 5]);
    msg.ool[0] = region;
    expect((await a.mach_msg(msg, MACH_SEND_MSG, msg.bytes.length, 0, 0)).code).toBe(0);
    expect(msg.ool[0]!.length).toBe(0);
    const got = (await b.mach_msg(null, RCV, 0, 1024, server, 0)).msg!.ool[0]!;
    expect([...got]).toEqual([9, 8, 7]);
    expect(got.buffer).toBe(region.buffer);
    expect(got.byteOffset).toBe(region.byteOffset);
  });

  it("no deallocate: the kernel copies; the sender keeps its region and later writes stay private", async () => {
    const { kernel, a, b, server, toServer, abi } = world(abiName);
    const data = new Uint8Array([1, 2, 3, 4]);
    const msg = buildMessage(abi, {
      remote: toServer,
      remoteType: COPY_SEND,
      items: [{ kind: "ool", data }],
    });
    expect((await a.mach_msg(msg, MACH_SEND_MSG, msg.bytes.length, 0, 0)).code).toBe(0);
    expect(msg.ool[0]).toBe(data);
    data[0] = 99; // after the send: must not reach the receiver
    const got = (await b.mach_msg(null, RCV, 0, 1024, server, 0)).msg!.ool[0]!;
    expect(got).not.toBe(data);
    expect([...got]).toEqual([1, 2, 3, 4]);
    expect(audit(kernel)).toEqual([]);
  });
});
