import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { alignUp, type AbiInfo } from "../../../runtime/abi.js";
import { writeDescriptor } from "../../../runtime/codec/descriptor.js";
import { MACH_MSGH_BITS_COMPLEX, msghBits, writeHeader } from "../../../runtime/codec/header.js";
import { MACH_MSG_TYPE_BYTE, MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND, MACH_PORT_RIGHT_RECEIVE } from "../../../runtime/constants.js";
import type { MachMessage } from "../../../runtime/message.js";
import { Kernel } from "../../../runtime/kernel/index.js";
import { Bridge, SocketLink } from "../../../runtime/transport/index.js";
import { buildMessage, messageId } from "../../fixtures/transport/rpc.js";
import { receive } from "./support.js";

/** A socket stand-in that delivers whatever is written to its peer in pieces of `piece` bytes. */
class ChoppySocket extends EventEmitter {
  peer!: ChoppySocket;
  writableEnded = false;
  written = 0;
  constructor(private readonly piece: number) {
    super();
  }
  setNoDelay(): void {}
  cork(): void {}
  uncork(): void {}
  write(chunk: Uint8Array): boolean {
    const copy = Buffer.from(chunk);
    this.written += copy.length;
    queueMicrotask(() => {
      for (let at = 0; at < copy.length; at += this.piece) this.peer.emit("data", copy.subarray(at, at + this.piece));
    });
    return true;
  }
  end(): void {
    if (this.writableEnded) return;
    this.writableEnded = true;
    queueMicrotask(() => this.peer.emit("end"));
  }
  destroy(): void {
    this.end();
  }
}

function oolMessage(abi: AbiInfo, dest: number, id: number, data: Uint8Array): MachMessage {
  const size = abi.headerSize + abi.descriptorSize + alignUp(abi.pointerSize, abi.alignment);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  writeHeader(view, abi, { bits: (msghBits(MACH_MSG_TYPE_COPY_SEND, 0) | MACH_MSGH_BITS_COMPLEX) >>> 0, size, remotePort: dest, localPort: 0, seqno: 0, id });
  writeDescriptor(view, abi.headerSize, abi, { name: MACH_MSG_TYPE_BYTE, size: 8, number: data.length, inline: false, longForm: false, deallocate: false });
  return { bytes, ool: [data] };
}

describe("socket link framing", () => {
  it.each([1, 3, 7, 1000])("reassembles frames delivered in %i-byte pieces", async (piece) => {
    const [x, y] = [new ChoppySocket(piece), new ChoppySocket(piece)];
    x.peer = y;
    y.peer = x;
    const [ka, kb] = [new Kernel(), new Kernel()];
    const [a, b] = [ka.createTask("A"), kb.createTask("B")];
    const ba = new Bridge(ka, new SocketLink(x as unknown as Socket));
    const bb = new Bridge(kb, new SocketLink(y as unknown as Socket));
    const port = b.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    bb.setBootstrapPort(b, port, MACH_MSG_TYPE_MAKE_SEND);
    const name = (await ba.getBootstrapPort(a)).name;
    for (let i = 0; i < 5; i++) {
      // Every other message carries a region above the link's copy threshold (written as is).
      const m = i % 2 ? oolMessage(ka.abi, name, 100 + i, new Uint8Array(20_000).fill(i)) : buildMessage(ka.abi, name, MACH_MSG_TYPE_COPY_SEND, 0, 0, 100 + i);
      expect((await a.mach_msg(m, 1, m.bytes.length)).code).toBe(0);
    }
    for (let i = 0; i < 5; i++) {
      const r = await receive(b, port);
      expect(r.code).toBe(0);
      expect(messageId(kb.abi, r.msg!)).toBe(100 + i);
      if (i % 2) expect(Buffer.compare(r.msg!.ool[0], new Uint8Array(20_000).fill(i))).toBe(0);
    }
    ba.close();
    expect(await bb.closed).toBeUndefined();
  });

  it("closes on a frame length beyond the limit, without waiting for the bytes", async () => {
    const [x, y] = [new ChoppySocket(1000), new ChoppySocket(1000)];
    x.peer = y;
    y.peer = x;
    const bridge = new Bridge(new Kernel(), new SocketLink(x as unknown as Socket));
    y.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    expect(String(await bridge.closed)).toMatch(/bad frame length/);
  });
});
