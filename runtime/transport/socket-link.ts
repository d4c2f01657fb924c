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
 * A batch is written out once it holds `BurstTuner.burst` frames (lazy ones not counted: they
 * must not split a burst of calls), without waiting for the end of the turn, so the peer starts
 * on the first part while we produce the rest. Which limit pays depends on the machine, not on
 * us. With a core free for each side, writing half a burst lets the two processes overlap
 * instead of taking turns (measured here, 64 calls in flight: ~1.5x the calls per second of
 * whole bursts); with the cores busy with other work the extra write and wakeup per burst is
 * pure cost (~10-25% fewer calls). So the link measures: it counts the frames it receives per
 * millisecond over epochs of SLICES x SLICE_FRAMES frames and now and then runs one epoch with the
 * other limit (a probe); it switches when the probe beat the epochs on either side of it by
 * SWITCH_GAIN.
 * A probe that lost clearly doubles the wait before the next one (up to PROBE_MAX epochs), so a
 * steady machine pays little for them.
 */
const WHOLE_FRAMES = 64;
const SPLIT_FRAMES = 32;
/** An epoch is SLICES slices of SLICE_FRAMES frames; its rate is their median (a GC pause or a preemption spoils one slice, not the epoch). */
const SLICE_FRAMES = 256;
const SLICES = 8;
const PROBE_MIN = 4;
const PROBE_MAX = 32;
const SWITCH_GAIN = 1.1;
const LOST = 0.95;
/** Data this long after the last (ms) ends a pause in the traffic: the epoch starts afresh. */
const PAUSE_MS = 10;

/** Chooses the burst limit (see above). Only when frames are written depends on it, never their order. */
export class BurstTuner {
  /** The limit in force now. */
  burst = WHOLE_FRAMES;
  /** The limit chosen so far (the other one is probed). */
  private preferred = WHOLE_FRAMES;
  /** Frames received in this slice (counted by the link), when it began, when data last came. */
  frames = 0;
  private start = 0;
  private last = -Infinity;
  /** Rates (frames per ms) of the epoch's slices so far. */
  private readonly slices: number[] = [];
  /** Epochs between probes, and left before the next one. */
  private interval = PROBE_MIN;
  private wait = PROBE_MIN;
  /** 0: preferred limit; 1: probing; 2: the epoch after a probe. */
  private phase = 0;
  /** Rates (frames per ms) of the epoch before the probe and of the probe. */
  private before = 0;
  private probe = 0;

  /** The link calls this after each chunk of data it received (`frames` counts their frames). */
  received(now: number): void {
    const last = this.last;
    this.last = now;
    if (now - last > PAUSE_MS) {
      // A pause (or the first data): the epoch starts afresh, and a probe it cut is run again.
      this.frames = 0;
      this.start = now;
      this.slices.length = 0;
      if (this.phase !== 0) {
        this.phase = 0;
        this.wait = 1;
        this.burst = this.preferred;
      }
      return;
    }
    if (this.frames < SLICE_FRAMES || now <= this.start) return;
    const slices = this.slices;
    slices.push(this.frames / (now - this.start));
    this.frames = 0;
    this.start = now;
    if (slices.length < SLICES) return;
    slices.sort((a, b) => a - b);
    const rate = (slices[SLICES / 2 - 1] + slices[SLICES / 2]) / 2;
    slices.length = 0;
    if (this.phase === 0) {
      if (--this.wait > 0) return;
      this.before = rate;
      this.burst = this.preferred === WHOLE_FRAMES ? SPLIT_FRAMES : WHOLE_FRAMES;
      this.phase = 1;
    } else if (this.phase === 1) {
      this.probe = rate;
      this.burst = this.preferred;
      this.phase = 2;
    } else {
      const around = (this.before + rate) / 2;
      if (this.probe > SWITCH_GAIN * around) this.preferred = this.burst = this.preferred === WHOLE_FRAMES ? SPLIT_FRAMES : WHOLE_FRAMES;
      this.interval = this.probe < LOST * around ? Math.min(2 * this.interval, PROBE_MAX) : PROBE_MIN;
      this.wait = this.interval;
      this.phase = 0;
    }
  }
}

/** A peer announcing a bigger frame is treated as broken rather than trusted with our memory. */
const MAX_FRAME = 1 << 30;

export class SocketLink implements Link {
  readonly out: FrameWriter;
  onFrame: ((frame: FrameReader) => void) | null = null;
  onClose: ((error?: Error) => void) | null = null;
  private closed = false;
  private readonly parser: StreamParser;
  private readonly schedule = new FlushSchedule(() => this.flush());
  /** @internal The burst limit and how it is chosen. */
  readonly tuner = new BurstTuner();

  constructor(private readonly socket: Socket) {
    this.out = new FrameWriter(false, (_frames, urgent) => {
      this.schedule.ended(urgent);
      if (urgent >= this.tuner.burst) this.flush();
    });
    this.parser = new StreamParser(
      MAX_FRAME,
      (frame) => {
        this.tuner.frames++;
        this.onFrame?.(frame);
        return !this.closed;
      },
      (e) => this.finish(e),
    );
    socket.setNoDelay?.(true);
    socket.on("data", (chunk: Buffer) => {
      if (this.closed) return;
      this.parser.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      this.tuner.received(performance.now());
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
