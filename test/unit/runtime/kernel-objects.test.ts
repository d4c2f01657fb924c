import { describe, expect, it } from "vitest";
import {
  MACH_MSG_TYPE_COPY_SEND,
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_PORT_SEND,
  MACH_NOTIFY_NO_SENDERS,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_PORT_TYPE_DEAD_NAME,
  MACH_RCV_MSG,
  MACH_RCV_TIMEOUT,
  MACH_SEND_MSG,
} from "../../../runtime/constants.js";
import { Kernel, type KMsg, type Port } from "../../../runtime/kernel/index.js";
import { audit, bodyPorts, buildMessage, header } from "./support.js";

describe("kernel ports (what a bridge builds on)", () => {
  it("a kernel port hands messages over with rights as port objects; they can be forwarded", async () => {
    const kernel = new Kernel();
    const a = kernel.createTask("A");
    const b = kernel.createTask("B");
    const real = b.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const realPort = b.portOf(real)!;
    // The bridge holds a send right to the real port, as an object.
    const held = b.mach_port_extract_right(real, MACH_MSG_TYPE_MAKE_SEND, b);
    expect(held.right).toBe(real);
    const got: KMsg[] = [];
    let proxy!: Port;
    proxy = kernel.createKernelPort((kmsg) => {
      got.push(kmsg);
      // Forward: the proxy send right is released, the message goes out on a copy of ours.
      kernel.releaseSend(proxy);
      kernel.copySend(realPort);
      kmsg.dest = realPort;
      kernel.enqueue(kmsg);
    }, "proxy");
    kernel.makeSend(proxy);
    const toProxy = kernel.insertRight(a, proxy, MACH_MSG_TYPE_PORT_SEND);
    const carried = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const msg = buildMessage(kernel.abi, {
      remote: toProxy,
      remoteType: MACH_MSG_TYPE_COPY_SEND,
      id: 99,
      items: [{ kind: "ports", disposition: MACH_MSG_TYPE_MAKE_SEND, names: [carried] }],
    });
    expect((await a.mach_msg(msg, MACH_SEND_MSG)).code).toBe(0);
    expect(got.length).toBe(1);
    expect(got[0].rights[0].port).toBe(a.portOf(carried));
    const r = await b.mach_msg(null, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, 1024, real, 0);
    expect(header(kernel.abi, r.msg!).id).toBe(99);
    const name = bodyPorts(kernel.abi, r.msg!)[0].name;
    expect(b.portOf(name)).toBe(a.portOf(carried));
    // No-senders works through kernel-held requests too: the proxy learns when A lets go.
    const notes: KMsg[] = [];
    const watcher = kernel.createKernelPort((k) => notes.push(k));
    kernel.makeSendOnce(watcher);
    proxy.nsrequest = watcher;
    a.mach_port_deallocate(toProxy);
    expect(notes.map((n) => n.id)).toEqual([MACH_NOTIFY_NO_SENDERS]);
    kernel.destroyKmsg(notes[0]);
    // Killing a proxy turns holders' names into dead names and tells death watchers.
    const again = kernel.insertRight(a, proxy, (kernel.makeSend(proxy), MACH_MSG_TYPE_PORT_SEND));
    let died = false;
    proxy.deathWatchers.push(() => (died = true));
    kernel.destroyPort(proxy);
    expect(died).toBe(true);
    expect(a.mach_port_type(again).type).toBe(MACH_PORT_TYPE_DEAD_NAME);
    b.mach_port_deallocate(real);
    expect(audit(kernel)).toEqual([]);
  });
});
