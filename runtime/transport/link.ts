/**
 * A link carries frames (a header and its payloads) between two bridges, in order, and reports
 * when the other side is gone. Links batch: `send` only queues, and the queue is written once the
 * current callback and its promise reactions are done (process.nextTick), so a burst of messages
 * costs one write and a lone message waits for no event-loop turn.
 */

/** Hands a frame's payloads to the decoder, in order. */
export interface PayloadSource {
  /** The next payload, which must be exactly `length` bytes; null if the frame has no such payload. */
  take(length: number): Uint8Array | null;
}

export interface Link {
  /** Queues one frame. Payloads are handed over: the link may transfer their memory. */
  send(header: Uint8Array, payloads: readonly Uint8Array[]): void;
  /** Closes the connection (queued frames are written first where the platform allows). */
  close(): void;
  /** Set by the bridge: one call per received frame. */
  onFrame: ((header: Uint8Array, payloads: PayloadSource) => void) | null;
  /** Set by the bridge: called once, when the connection is gone for any reason. */
  onClose: ((error?: Error) => void) | null;
}

/**
 * True if `view` covers its whole ArrayBuffer, so the buffer can be transferred (detached from
 * this side) instead of copied.
 */
export function ownsBuffer(view: Uint8Array): boolean {
  return (
    view.byteOffset === 0 &&
    view.byteLength === view.buffer.byteLength &&
    !(typeof SharedArrayBuffer !== "undefined" && view.buffer instanceof SharedArrayBuffer)
  );
}
