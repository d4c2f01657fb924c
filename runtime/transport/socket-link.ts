/**
 * A link over a stream socket (Unix domain or TCP): the frame stream of link.ts as is.
 *
 * Writing: frames go into one write buffer (large payloads stay where they are, between its
 * segments); the whole batch is written once the current burst of callbacks and promise reactions
 * is over (process.nextTick), under one cork/uncork when it has several parts (writev), and the
 * buffer is written from its start again as soon as the socket has taken everything.
 *
 * Reading: every frame that lies whole in a 'data' chunk is handed to the bridge in place; only
 * a frame cut by a chunk boundary is joined.
 */
import type { Socket } from "node:net";
import { FlushSchedule, FrameWriter, StreamParser, type FrameReader, type Link } from "./link.js";

/**
 * A batch is written out once it holds this many frames (lazy ones not counted: they must not
 * split a burst of calls), without waiting for the end of the turn, so the peer starts on the
 * first part while we produce the rest (pipelining).
 */
const BURST_FRAMES = 64;
/** A peer announcing a bigger frame is treated as broken rather than trusted with our memory. */
const MAX_FRAME = 1 << 30;

export class SocketLink implements Link {
  readonly out: FrameWriter;
  onFrame: ((frame: FrameReader) => void) | null = null;
  onClose: ((error?: Error) => void) | null = null;
  private closed = false;
  private readonly parser: StreamParser;
  private readonly schedule = new FlushSchedule(() => this.flush());

  constructor(private readonly socket: Socket) {
    this.out = new FrameWriter(false, (_frames, urgent) => {
      this.schedule.ended(urgent);
      if (urgent >= BURST_FRAMES) this.flush();
    });
    this.parser = new StreamParser(
      MAX_FRAME,
      (frame) => {
        this.onFrame?.(frame);
        return !this.closed;
      },
      (e) => this.finish(e),
    );
    socket.setNoDelay?.(true);
    socket.on("data", (chunk: Buffer) => {
      if (!this.closed) this.parser.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    });
    socket.on("error", (e) => this.finish(e));
    socket.on("close", () => this.finish());
    socket.on("end", () => this.finish());
  }

  send(header: Uint8Array, payloads: readonly Uint8Array[]): void {
    this.out.frame(header, payloads);
  }

  private flush(): void {
    this.schedule.flushing();
    const out = this.out;
    if (this.closed || out.empty) return;
    const { parts } = out.take();
    const socket = this.socket;
    if (parts.length === 1) socket.write(parts[0]);
    else {
      socket.cork();
      for (const p of parts) socket.write(p);
      socket.uncork();
    }
    // Everything went to the kernel at once (the usual case): the buffer is free again.
    if (socket.writableLength === 0) out.rewind();
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
    this.out.clear();
    if (error) this.socket.destroy();
    else if (!this.socket.writableEnded) this.socket.end();
    this.onClose?.(error);
  }
}
