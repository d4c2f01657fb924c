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
import { BurstTuner } from "../../../runtime/transport/socket-link.js";
import { buildMessage, messageId } from "../../fixtures/transport/rpc.js";
import { receive } from "./support.js";

/** A socket stand-in that delivers whatever is written to its peer in pieces of `piece` bytes. */
class ChoppySocket extends EventEmitter {
  peer!: ChoppySocket;
  writableEnded = false;
  written = 0;
  writes = 0;
  readonly writableLength = 0;
  constructor(private readonly piece: number) {
    super();
  }
  setNoDelay(): void {}
  cork(): void {}
  uncork(): void {}
  write(chunk: Uint8Array): boolean {
    const copy = Buffer.from(chunk);
    this.written += copy.length;
    this.writes++;
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

describe("socket link burst limit", () => {
  /** Drives a tuner through `epochs` epochs of 2048 frames at `rate(burst)` frames per ms; returns the share of epochs run split. */
  function drive(tuner: BurstTuner, epochs: number, rate: (burst: number) => number, clock = { now: 0 }): number {
    let split = 0;
    for (let e = 0; e < epochs; e++) {
      if (tuner.burst < 64) split++;
      for (let i = 0; i < 8; i++) {
        tuner.frames += 256;
        clock.now += 256 / rate(tuner.burst);
        tuner.received(clock.now);
      }
    }
    return split / epochs;
  }

  it("starts with whole bursts, moves to split bursts when they carry more, and back when they stop", () => {
    const tuner = new BurstTuner();
    expect(tuner.burst).toBe(64);
    const clock = { now: 0 };
    drive(tuner, 20, (b) => (b < 64 ? 450 : 300), clock);
    expect(tuner.burst).toBe(32);
    expect(drive(tuner, 100, (b) => (b < 64 ? 450 : 300), clock)).toBeGreaterThan(0.9);
    drive(tuner, 40, (b) => (b < 64 ? 250 : 300), clock); // within PROBE_MAX epochs
    expect(tuner.burst).toBe(64);
  });

  it("probes less and less while the other limit keeps losing", () => {
    const tuner = new BurstTuner();
    drive(tuner, 50, (b) => (b < 64 ? 200 : 300));
    expect(drive(tuner, 400, (b) => (b < 64 ? 200 : 300))).toBeLessThan(0.05);
    expect(tuner.burst).toBe(64);
  });

  it("decides nothing across a pause in the traffic", () => {
    const tuner = new BurstTuner();
    const clock = { now: 0 };
    // Split bursts look faster only because the epochs around the probes span pauses.
    for (let e = 0; e < 200; e++) {
      for (let i = 0; i < 8; i++) {
        tuner.frames += 256;
        clock.now += i === 0 && tuner.burst === 64 ? 50 : 256 / 300;
        tuner.received(clock.now);
      }
    }
    expect(tuner.burst).toBe(64);
  });

  it("writes a burst in parts of the limit, in order", async () => {
    const [x, y] = [new ChoppySocket(1 << 20), new ChoppySocket(1 << 20)];
    x.peer = y;
    y.peer = x;
    const [ka, kb] = [new Kernel(), new Kernel()];
    const [a, b] = [ka.createTask("A"), kb.createTask("B")];
    const linkA = new SocketLink(x as unknown as Socket);
    const ba = new Bridge(ka, linkA);
    const bb = new Bridge(kb, new SocketLink(y as unknown as Socket));
    const port = b.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    bb.setBootstrapPort(b, port, MACH_MSG_TYPE_MAKE_SEND);
    const name = (await ba.getBootstrapPort(a)).name;
    await new Promise((r) => setTimeout(r, 1));
    for (const burst of [64, 32]) {
      linkA.tuner.burst = burst;
      const before = x.writes;
      for (let i = 0; i < 100; i++) {
        const m = buildMessage(ka.abi, name, MACH_MSG_TYPE_COPY_SEND, 0, 0, 1000 + i);
        expect(a.sendMessage(m, 0)).toBe(0);
      }
      await new Promise((r) => setTimeout(r, 1));
      // 100 frames: whole parts of `burst` frames, then the rest at the end of the turn.
      expect(x.writes - before).toBe(Math.ceil(100 / burst));
      for (let i = 0; i < 100; i++) {
        const r = await receive(b, port);
        expect(messageId(kb.abi, r.msg!)).toBe(1000 + i);
      }
    }
    ba.close();
    expect(await bb.closed).toBeUndefined();
  });
});
