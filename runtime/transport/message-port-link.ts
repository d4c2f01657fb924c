/**
 * A link over a worker_threads MessagePort (or anything with the same shape, such as
 * `parentPort`). A batch is one postMessage: the frame stream of link.ts in one Uint8Array of its
 * own, or, when the batch has large payloads, an array [stream, large payloads...]. Everything is
 * transferred, never cloned: the stream is a fresh copy made for the purpose (measured here,
 * transferring even a 72-byte buffer costs less than cloning it), and a large payload that shares
 * its buffer gets a copy of its own first, which is cheaper than letting the clone copy the whole
 * buffer.
 */
import type { MessagePort } from "node:worker_threads";
import { rd32 } from "../bytes.js";
import { concatBytes, FlushSchedule, FrameReader, FrameWriter, ownsBuffer, type Link } from "./link.js";

const NONE: readonly unknown[] = [];

export class MessagePortLink implements Link {
  readonly out: FrameWriter;
  onFrame: ((frame: FrameReader) => void) | null = null;
  onClose: ((error?: Error) => void) | null = null;
  private closed = false;
  private readonly reader = new FrameReader();
  private readonly schedule = new FlushSchedule(() => this.flush());

  constructor(private readonly port: MessagePort) {
    this.out = new FrameWriter(true, (_frames, urgent) => this.schedule.ended(urgent));
    port.on("message", (data: unknown) => this.receive(data));
    port.on("close", () => this.finish());
  }

  send(header: Uint8Array, payloads: readonly Uint8Array[]): void {
    this.out.frame(header, payloads);
  }

  private flush(): void {
    this.schedule.flushing();
    const out = this.out;
    if (this.closed || out.empty) return;
    const { parts, large } = out.take();
    const stream = parts.length === 1 ? parts[0].slice() : concatBytes(parts);
    out.rewind();
    try {
      if (large.length === 0) {
        this.port.postMessage(stream, [stream.buffer as ArrayBuffer]);
        return;
      }
      const batch: Uint8Array[] = [stream];
      const transfer: ArrayBuffer[] = [stream.buffer as ArrayBuffer];
      for (let p of large) {
        if (!ownsBuffer(p)) p = p.slice();
        const buffer = p.buffer as ArrayBuffer;
        // A buffer may appear once in a transfer list.
        if (!transfer.includes(buffer)) transfer.push(buffer);
        batch.push(p);
      }
      this.port.postMessage(batch, transfer);
    } catch (e) {
      this.finish(e as Error);
    }
  }

  private receive(data: unknown): void {
    if (this.closed) return;
    let stream: Uint8Array;
    const reader = this.reader;
    if (data instanceof Uint8Array) {
      stream = data;
      reader.setLarge(true, NONE, 0);
    } else if (Array.isArray(data) && data[0] instanceof Uint8Array) {
      stream = data[0];
      reader.setLarge(true, data, 1);
    } else {
      this.finish(new Error("bridge: malformed batch from peer"));
      return;
    }
    const len = stream.length;
    for (let at = 0; at < len; ) {
      const n = len - at >= 4 ? rd32(stream, at) : -1;
      if (n < 0 || len - at - 4 < n) {
        this.finish(new Error("bridge: malformed frame from peer"));
        return;
      }
      reader.frame(stream, at + 4, at + 4 + n);
      at += 4 + n;
      this.onFrame?.(reader);
      if (this.closed) return;
    }
    if (reader.largeLeft !== 0) this.finish(new Error("bridge: malformed batch from peer"));
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.finish();
  }

  private finish(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.out.clear();
    this.port.close();
    this.onClose?.(error);
  }
}
