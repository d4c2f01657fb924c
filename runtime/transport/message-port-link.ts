/**
 * A link over a worker_threads MessagePort (or anything with the same shape, such as
 * `parentPort`). Each batch is one postMessage of a flat array [header, payloads..., header, ...]
 * whose buffers are transferred rather than cloned whenever the view owns its whole buffer.
 */
import type { MessagePort } from "node:worker_threads";
import { ownsBuffer, type Link, type PayloadSource } from "./link.js";

class BatchSource implements PayloadSource {
  index = 0;
  constructor(readonly parts: readonly Uint8Array[]) {}
  take(length: number): Uint8Array | null {
    const part = this.parts[this.index];
    if (!(part instanceof Uint8Array) || part.byteLength !== length) return null;
    this.index++;
    return part;
  }
}

export class MessagePortLink implements Link {
  onFrame: ((header: Uint8Array, payloads: PayloadSource) => void) | null = null;
  onClose: ((error?: Error) => void) | null = null;
  private batch: Uint8Array[] = [];
  private transfer: ArrayBuffer[] = [];
  private scheduled = false;
  private closed = false;

  constructor(private readonly port: MessagePort) {
    port.on("message", (data: unknown) => this.receive(data));
    port.on("close", () => this.finish());
  }

  send(header: Uint8Array, payloads: readonly Uint8Array[]): void {
    if (this.closed) return;
    this.add(header);
    for (const p of payloads) this.add(p);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(() => this.flush());
    }
  }

  private add(part: Uint8Array): void {
    this.batch.push(part);
    if (part.byteLength > 0 && ownsBuffer(part)) {
      const buffer = part.buffer as ArrayBuffer;
      // A buffer may appear once in a transfer list.
      if (!this.transfer.includes(buffer)) this.transfer.push(buffer);
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.closed || this.batch.length === 0) return;
    const batch = this.batch;
    const transfer = this.transfer;
    this.batch = [];
    this.transfer = [];
    try {
      this.port.postMessage(batch, transfer);
    } catch (e) {
      this.finish(e as Error);
    }
  }

  private receive(data: unknown): void {
    if (this.closed) return;
    if (!Array.isArray(data)) {
      this.finish(new Error("bridge: malformed batch from peer"));
      return;
    }
    const src = new BatchSource(data as Uint8Array[]);
    while (src.index < data.length && !this.closed) {
      const header = data[src.index++];
      if (!(header instanceof Uint8Array)) {
        this.finish(new Error("bridge: malformed frame from peer"));
        return;
      }
      this.onFrame?.(header, src);
    }
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.finish();
  }

  private finish(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.batch = [];
    this.transfer = [];
    this.port.close();
    this.onClose?.(error);
  }
}
