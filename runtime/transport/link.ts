/**
 * A link carries frames between two bridges, in order, and reports when the other side is gone.
 *
 * Frames travel in a byte stream: each is a u32 length (little-endian) and that many bytes. A
 * frame is a header written by the bridge plus payloads (message bytes, out-of-line regions).
 * Payloads below LARGE_PART bytes are copied into the stream; larger ones are handed over as they
 * are: a socket writes them in place in the stream (writev, no copy), a MessagePort sends them as
 * separate parts of the batch (transferred when they own their buffer). Both ends apply the same
 * size rule, so a reader knows where each payload is from its length alone.
 *
 * Links batch: frames written during one burst of callbacks and promise reactions go out together
 * once it is over (process.nextTick), so a burst costs one write or one postMessage and a lone
 * message waits for no event-loop turn. The bridge writes frames straight into the link's buffer
 * (`FrameWriter`) and reads them in place (`FrameReader`): no allocation per frame on either side
 * but the message's own bytes.
 */
import { rd32, wr32 } from "../bytes.js";

/** Payloads of at least this many bytes are never copied into the stream. */
export const LARGE_PART = 16 * 1024;
/** Size of each write buffer (a new one only when a socket still holds the last). */
const WRITE_BUFFER = 64 * 1024;
/** A batch of lazy frames alone goes out after this many milliseconds. */
const LAZY_FLUSH_MS = 5;

export interface Link {
  /** Frames are written here (`begin`, header bytes, `put` payloads, `end` or `endLazy`). */
  readonly out: FrameWriter;
  /** Queues one frame, header then payloads (the general form of `out.begin`/`put`/`end`). */
  send(header: Uint8Array, payloads: readonly Uint8Array[]): void;
  /** Closes the connection (queued frames are written first where the platform allows). */
  close(): void;
  /** Set by the bridge: one call per received frame, with the reader positioned on it. */
  onFrame: ((frame: FrameReader) => void) | null;
  /** Set by the bridge: called once, when the connection is gone for any reason. */
  onClose: ((error?: Error) => void) | null;
}

/**
 * True if `view` covers its whole ArrayBuffer, so the buffer can be transferred (detached from
 * this side) or used as a message's own bytes. Only for views known to be off-heap (a small
 * `new Uint8Array(n)` lives on the V8 heap, and reading its `.buffer` moves it off at a cost).
 */
export function ownsBuffer(view: Uint8Array): boolean {
  return (
    view.byteOffset === 0 &&
    view.byteLength === view.buffer.byteLength &&
    !(typeof SharedArrayBuffer !== "undefined" && view.buffer instanceof SharedArrayBuffer)
  );
}

/** Copies `n` bytes of `from` at `at` into a new array of its own (on the V8 heap when small). */
export function copyBytes(from: Uint8Array, at: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  if (n <= 64) for (let i = 0; i < n; i++) out[i] = from[at + i];
  else out.set(from.subarray(at, at + n));
  return out;
}

/**
 * When a link writes what its FrameWriter queued: the first urgent frame of a batch at the end of
 * the current turn (so a burst of calls goes out as one write), a batch of lazy frames alone after
 * LAZY_FLUSH_MS. The link calls `ended` from the writer's callback and `flushing` when it flushes.
 */
export class FlushSchedule {
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly flush: () => void) {}

  ended(urgent: number): void {
    if (urgent === 1) process.nextTick(this.flush);
    else if (urgent === 0 && this.timer === null) {
      this.timer = setTimeout(this.lazyFlush, LAZY_FLUSH_MS);
      // Nothing is lost if the process ends first: closing the connection releases everything.
      this.timer.unref?.();
    }
  }

  /**
   * A flush takes everything queued, lazy frames included. Their timer is left to run out (it
   * then finds nothing to write): when calls flow, every batch may start with a lazy frame (a
   * credit), and setting and clearing a timer per batch cost more than one idle firing per
   * LAZY_FLUSH_MS.
   */
  flushing(): void {}

  private readonly lazyFlush = (): void => {
    this.timer = null;
    this.flush();
  };
}

/**
 * Builds the outgoing stream. `begin(n)` makes room for a frame header of `n` bytes and returns
 * where it starts in `buf`; the caller writes it, hands each payload to `put`, and calls `end`.
 * The stream is cut into parts: segments of the write buffer, and large payloads in between
 * (`separate` false: in stream order, as a socket writes them) or beside it (`separate` true).
 */
export class FrameWriter {
  /** The current write buffer; valid for the header from `begin` until the next `begin`/`put`. */
  buf: Uint8Array = new Uint8Array(0);
  private start = 0;
  private end_ = 0;
  /** Where the current frame's length word is, and the stream bytes it has so far. */
  private frameBuf: Uint8Array = this.buf;
  private frameAt = 0;
  private frameBytes = 0;
  /** Stream parts cut so far (buffer segments, and large payloads when not `separate`). */
  parts: Uint8Array[] = [];
  /** Large payloads sent beside the stream (`separate`). */
  large: Uint8Array[] = [];
  /** Frames since the last `take`, and how many of them were ended with `end` (not `endLazy`). */
  frames = 0;
  private urgent = 0;

  constructor(
    private readonly separate: boolean,
    /**
     * Called by `end` with the batch's frame counts, all and urgent (the link schedules its flush
     * at the first urgent one, or forces it), and by `endLazy` for the first frame of a batch
     * with urgent 0 (the link makes sure it goes out eventually).
     */
    private readonly ended: (frames: number, urgent: number) => void,
  ) {}

  begin(headerLength: number): number {
    const at = this.reserve(4 + headerLength);
    this.frameBuf = this.buf;
    this.frameAt = at;
    this.frameBytes = headerLength;
    this.end_ = at + 4 + headerLength;
    return at + 4;
  }

  put(p: Uint8Array): void {
    const n = p.length; // not byteLength: a builtin call in optimized code here (perf)
    if (n >= LARGE_PART) {
      if (this.separate) {
        this.large.push(p);
        return;
      }
      this.cut();
      this.parts.push(p);
      this.frameBytes += n;
      return;
    }
    if (n === 0) return;
    const at = this.reserve(n);
    const b = this.buf;
    if (n <= 64) for (let i = 0; i < n; i++) b[at + i] = p[i];
    else b.set(p, at);
    this.end_ = at + n;
    this.frameBytes += n;
  }

  end(): void {
    wr32(this.frameBuf, this.frameAt, this.frameBytes);
    this.ended(++this.frames, ++this.urgent);
  }

  /** One whole frame, header then payloads (what `Link.send` queues). */
  frame(header: Uint8Array, payloads: readonly Uint8Array[]): void {
    const at = this.begin(header.byteLength);
    this.buf.set(header, at);
    for (const p of payloads) this.put(p);
    this.end();
  }

  /**
   * Ends a frame that need not go out on its own (a batched release): it rides with the next
   * batch, or goes out after a while if no other frame comes.
   */
  endLazy(): void {
    wr32(this.frameBuf, this.frameAt, this.frameBytes);
    if (++this.frames === 1) this.ended(1, 0);
  }

  /** True if nothing is queued. */
  get empty(): boolean {
    return this.frames === 0;
  }

  /**
   * Hands over what is queued: the stream parts (buffer segments are views of the write buffer,
   * never written over unless the caller says they are done with, `rewind`) and the large
   * payloads. Resets the batch.
   */
  take(): { parts: Uint8Array[]; large: Uint8Array[] } {
    this.cut();
    const parts = this.parts;
    const large = this.large;
    if (parts.length > 0) this.parts = [];
    if (large.length > 0) this.large = [];
    this.frames = 0;
    this.urgent = 0;
    return { parts, large };
  }

  /** After `take`: the buffer's bytes are no longer needed, write from its start again. */
  rewind(): void {
    this.start = this.end_ = 0;
  }

  /** Drops everything queued. */
  clear(): void {
    this.parts = [];
    this.large = [];
    this.frames = 0;
    this.urgent = 0;
    this.start = this.end_ = 0;
  }

  /** Room for `n` more bytes; returns where they go. Bytes already cut off are never overwritten. */
  private reserve(n: number): number {
    if (this.end_ + n > this.buf.length) {
      this.cut();
      this.buf = new Uint8Array(new ArrayBuffer(Math.max(n, WRITE_BUFFER)));
      this.start = this.end_ = 0;
    }
    return this.end_;
  }

  /** Moves the buffer's bytes so far to `parts` (it keeps filling after them). */
  private cut(): void {
    if (this.end_ > this.start) {
      this.parts.push(this.buf.subarray(this.start, this.end_));
      this.start = this.end_;
    }
  }
}

/**
 * One received frame, read in place: the bridge reads its header from `buf` at `at` (up to
 * `end`), moves `at` past it (`skip`), then takes the payloads in order.
 */
export class FrameReader {
  buf: Uint8Array = new Uint8Array(0);
  at = 0;
  end = 0;
  /** Large payloads that came beside the stream (MessagePort batches), and the next one. */
  private large: readonly unknown[] = [];
  private nextLarge = 0;
  private separate = false;

  /** @internal Positions the reader on a frame. */
  frame(buf: Uint8Array, at: number, end: number): void {
    this.buf = buf;
    this.at = at;
    this.end = end;
  }

  /** @internal The large payloads of a batch (MessagePort), taken by index from `first`. */
  setLarge(separate: boolean, large: readonly unknown[], first: number): void {
    this.separate = separate;
    this.large = large;
    this.nextLarge = first;
  }

  /** Large payloads not taken yet (a batch must use up exactly its own). */
  get largeLeft(): number {
    return this.separate ? this.large.length - this.nextLarge : 0;
  }

  skip(n: number): boolean {
    if (this.at + n > this.end) return false;
    this.at += n;
    return true;
  }

  /**
   * The next payload as bytes of its own from offset 0 (what a kernel message's bytes must be;
   * a small one lives on the V8 heap, as the kernel's own copy of a sent message does); null if
   * the frame has no such payload.
   */
  bytes(n: number): Uint8Array | null {
    const p = this.part(n);
    if (p === null) return null;
    if (p.copied) return p.view;
    return copyBytes(p.view, 0, n);
  }

  /** The next payload (a region): a view when it is large, else a copy. Null if missing. */
  region(n: number): Uint8Array | null {
    const p = this.part(n);
    return p === null ? null : p.view;
  }

  private readonly result: { view: Uint8Array; copied: boolean } = { view: new Uint8Array(0), copied: false };

  private part(n: number): { view: Uint8Array; copied: boolean } | null {
    const r = this.result;
    if (n >= LARGE_PART && this.separate) {
      const p = this.large[this.nextLarge];
      if (!(p instanceof Uint8Array) || p.byteLength !== n) return null;
      this.nextLarge++;
      // A part that came with a buffer of its own (transferred, or cloned whole) is used as is.
      r.copied = ownsBuffer(p);
      r.view = p;
      return r;
    }
    if (this.at + n > this.end) return null;
    if (n >= LARGE_PART) {
      r.view = this.buf.subarray(this.at, this.at + n);
      r.copied = false;
    } else {
      r.view = copyBytes(this.buf, this.at, n);
      r.copied = true;
    }
    this.at += n;
    return r;
  }
}

/**
 * Splits stream bytes into frames for `deliver`, carrying an incomplete frame over to the next
 * chunk. Frames that lie whole in a chunk are read in place; only a frame cut by a chunk boundary
 * is joined (once, when its last byte has arrived).
 */
export class StreamParser {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private readonly reader = new FrameReader();

  constructor(
    private readonly maxFrame: number,
    /** Returns false to stop (the link closed). */
    private readonly deliver: (frame: FrameReader) => boolean,
    private readonly fail: (error: Error) => void,
  ) {}

  get frameReader(): FrameReader {
    return this.reader;
  }

  /** Parses `chunk` (which the parser may keep views of). False if the stream is broken or closed. */
  push(chunk: Uint8Array): boolean {
    let buf = chunk;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      const need = this.pendingNeed();
      if (need < 0) return false;
      if (need === 0 || this.pendingBytes < need) return true;
      buf = concatBytes(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    const len = buf.length;
    let at = 0;
    const reader = this.reader;
    while (len - at >= 4) {
      const n = rd32(buf, at);
      if (n > this.maxFrame) {
        this.fail(new Error(`bridge: bad frame length ${n} from peer`));
        return false;
      }
      if (len - at - 4 < n) break;
      reader.frame(buf, at + 4, at + 4 + n);
      at += 4 + n;
      if (!this.deliver(reader)) return false;
    }
    if (at < len) {
      this.pending.push(at === 0 ? buf : buf.subarray(at));
      this.pendingBytes = len - at;
    }
    return true;
  }

  /** Bytes the pending frame needs in all (0 while its length is incomplete, -1 if it is bad). */
  private pendingNeed(): number {
    if (this.pendingBytes < 4) return 0;
    let n = 0;
    let got = 0;
    for (const p of this.pending) {
      for (let i = 0; i < p.length && got < 4; i++, got++) n |= p[i] << (8 * got);
      if (got === 4) break;
    }
    n >>>= 0;
    if (n > this.maxFrame) {
      this.fail(new Error(`bridge: bad frame length ${n} from peer`));
      return -1;
    }
    return 4 + n;
  }
}

/** `parts` end to end in one new array (`total`: their summed length, when the caller has it). */
export function concatBytes(parts: readonly Uint8Array[], total = parts.reduce((n, p) => n + p.length, 0)): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
