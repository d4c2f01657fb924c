/**
 * A link over a stream socket (Unix domain or TCP). On the wire each frame is
 *   u32 frame length (what follows), u32 header length, header, payloads back to back.
 * Small parts are copied into one growing write buffer; parts of LARGE_PART bytes or more (big
 * out-of-line regions) are handed to the socket as they are, so writev sends them without a copy.
 * Everything queued before the current burst of callbacks and promise reactions has run goes out
 * together (the flush is a process.nextTick: it runs once the microtask queue is empty, with no
 * trip around the event loop), under one cork/uncork.
 */
import type { Socket } from "node:net";
import type { Link, PayloadSource } from "./link.js";

const LARGE_PART = 16 * 1024;
/**
 * A burst is written out once it reaches this many frames, without waiting for the end of the
 * turn, so the peer starts on the first part while we produce the rest (pipelining).
 */
const BURST_FRAMES = 64;
const WRITE_BUFFER = 64 * 1024;
/** A peer announcing a bigger frame is treated as broken rather than trusted with our memory. */
const MAX_FRAME = 1 << 30;

class BlobSource implements PayloadSource {
  constructor(
    private readonly blob: Uint8Array,
    private at: number,
  ) {}
  take(length: number): Uint8Array | null {
    if (this.at + length > this.blob.byteLength) return null;
    // A plain Uint8Array view (not a Buffer): Buffer#slice shares memory, Uint8Array#slice copies.
    const part = new Uint8Array(this.blob.buffer, this.blob.byteOffset + this.at, length);
    this.at += length;
    return part;
  }
}

export class SocketLink implements Link {
  onFrame: ((header: Uint8Array, payloads: PayloadSource) => void) | null = null;
  onClose: ((error?: Error) => void) | null = null;
  private closed = false;

  // Writing
  private chunks: Uint8Array[] = [];
  private buf: Buffer | null = null;
  private bufStart = 0;
  private bufEnd = 0;
  private scheduled = false;
  private queuedFrames = 0;

  // Reading
  private inChunks: Buffer[] = [];
  private inBytes = 0;

  constructor(private readonly socket: Socket) {
    socket.setNoDelay?.(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", (e) => this.finish(e));
    socket.on("close", () => this.finish());
    socket.on("end", () => this.finish());
  }

  send(header: Uint8Array, payloads: readonly Uint8Array[]): void {
    if (this.closed) return;
    let total = 4 + header.byteLength;
    for (const p of payloads) total += p.byteLength;
    const b = this.reserve(8 + header.byteLength);
    b.writeUInt32LE(total, this.bufEnd);
    b.writeUInt32LE(header.byteLength, this.bufEnd + 4);
    b.set(header, this.bufEnd + 8);
    this.bufEnd += 8 + header.byteLength;
    for (const p of payloads) {
      if (p.byteLength >= LARGE_PART) {
        this.cut();
        this.chunks.push(p);
      } else if (p.byteLength > 0) {
        const into = this.reserve(p.byteLength);
        into.set(p, this.bufEnd);
        this.bufEnd += p.byteLength;
      }
    }
    if (++this.queuedFrames >= BURST_FRAMES) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Room for `n` more bytes in the write buffer. Bytes already cut off are never overwritten. */
  private reserve(n: number): Buffer {
    if (this.buf === null || this.bufEnd + n > this.buf.length) {
      this.cut();
      this.buf = Buffer.allocUnsafeSlow(Math.max(n, WRITE_BUFFER));
      this.bufStart = this.bufEnd = 0;
    }
    return this.buf;
  }

  /** Moves what the write buffer holds so far to the chunk list (the buffer keeps filling after it). */
  private cut(): void {
    if (this.buf !== null && this.bufEnd > this.bufStart) {
      this.chunks.push(this.buf.subarray(this.bufStart, this.bufEnd));
      this.bufStart = this.bufEnd;
    }
  }

  private flush(): void {
    this.queuedFrames = 0;
    if (this.closed) return;
    this.cut();
    const chunks = this.chunks;
    if (chunks.length === 0) return;
    this.chunks = [];
    if (chunks.length === 1) {
      this.socket.write(chunks[0]);
      return;
    }
    this.socket.cork();
    for (const c of chunks) this.socket.write(c);
    this.socket.uncork();
  }

  private receive(chunk: Buffer): void {
    this.inChunks.push(chunk);
    this.inBytes += chunk.length;
    while (!this.closed && this.inBytes >= 4) {
      let first = this.inChunks[0];
      if (first.length < 4) {
        this.coalesce(4);
        first = this.inChunks[0];
      }
      const length = first.readUInt32LE(0);
      if (length < 4 || length > MAX_FRAME) {
        this.finish(new Error(`bridge: bad frame length ${length} from peer`));
        return;
      }
      if (this.inBytes < 4 + length) return;
      if (first.length < 4 + length) {
        this.coalesce(4 + length);
        first = this.inChunks[0];
      }
      const frame = first.subarray(0, 4 + length);
      if (first.length === 4 + length) this.inChunks.shift();
      else this.inChunks[0] = first.subarray(4 + length);
      this.inBytes -= 4 + length;
      this.dispatch(frame);
    }
  }

  /** Joins leading chunks until the first holds at least `n` bytes. */
  private coalesce(n: number): void {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      const c = this.inChunks.shift()!;
      parts.push(c);
      have += c.length;
    }
    this.inChunks.unshift(Buffer.concat(parts, have));
  }

  private dispatch(frame: Buffer): void {
    const headerLength = frame.readUInt32LE(4);
    if (8 + headerLength > frame.length) {
      this.finish(new Error("bridge: bad frame header length from peer"));
      return;
    }
    const header = new Uint8Array(frame.buffer, frame.byteOffset + 8, headerLength);
    this.onFrame?.(header, new BlobSource(frame, 8 + headerLength));
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.socket.end();
    this.finish();
  }

  private finish(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.chunks = [];
    this.inChunks = [];
    if (error) this.socket.destroy();
    else if (!this.socket.writableEnded) this.socket.end();
    this.onClose?.(error);
  }
}
