/**
 * Message memory for the encoders. Private to the codec.
 *
 * A message of at most POOL_MAX bytes is written in place into a slab (one ArrayBuffer shared by
 * many messages, like Node's Buffer pool) through the slab's long-lived DataView, and returned as
 * a Uint8Array view of its own slice, 8-byte aligned. A slice is handed out once and never
 * reused, so nothing written later can change a message already returned. Larger messages are
 * written into a scratch buffer and copied into an ArrayBuffer of their own (which a transport can
 * then transfer rather than copy).
 *
 * The encoder calls `beginMessage(maxSize)`, writes through `targetView()`/`target8()` at offsets
 * from the returned base, and finishes with `endMessage(base, size)`; an encoder that gives up
 * midway just does not call `endMessage` (the space is used by the next message). Encoders write
 * every byte of a message, pads included, so slabs need not be zeroed.
 *
 * `releaseMessage(msg)` gives back the slice of the message carved last, once its owner knows it
 * is dead (the MIG stubs, after the kernel has copied a sent message: GNU MIG's C stubs build a
 * message in a stack buffer that mach_msg copies in, so the buffer is free again after the send).
 * The next message is then written over it, in memory that is already faulted in and in cache:
 * without it every 2 KiB message touches fresh slab pages (codec bench i386_set_ldt). Only the
 * last slice can be given back (then the one before it: an in-process RPC's request, once its
 * reply was given back), so the slab stays a bump allocator and everything else about slices
 * holds: any other message, and any message not explicitly released, is never reused.
 */

/**
 * Slab size. A message pins its slab, as a pooled Node Buffer pins Node's 8 KiB pool, so smaller
 * is kinder to a program that keeps messages around; but every slab is fresh memory whose pages
 * the OS must fault in and zero, and with 32 KiB slabs that was most of the cost of encoding a
 * 2 KiB message (perf: page faults under memmove; codec bench i386_set_ldt ~340 ns/op vs ~250 with
 * 128 KiB, and ~5 ns/op less for 48-byte messages). glibc also recycles freed blocks of this size
 * without handing them back to the OS each time. 128 KiB measured as well as 256 and 512 KiB.
 * Keep a message's bytes (`slice()` them) rather than the message if it must outlive many others.
 */
const SLAB_SIZE = 128 * 1024;
/** Largest message (msgh_size bound) carved from a slab. */
const POOL_MAX = 4 * 1024;

interface NodeBufferStatic {
  allocUnsafeSlow(size: number): Uint8Array;
}
const NodeBuffer = (globalThis as { Buffer?: NodeBufferStatic }).Buffer;

/** Fresh memory for a slab: not zero-filled under Node (every byte is written before use). */
function slabBuffer(): ArrayBuffer {
  if (NodeBuffer !== undefined) {
    const b = NodeBuffer.allocUnsafeSlow(SLAB_SIZE);
    if (b.byteOffset === 0 && b.byteLength === SLAB_SIZE && b.buffer instanceof ArrayBuffer) return b.buffer;
  }
  return new ArrayBuffer(SLAB_SIZE);
}

/**
 * The current slab, as one object so that specialised encoders (./specialise.ts) can carve a
 * message from it inline: `used` is the offset of its first free byte (8-byte aligned).
 */
export interface Slab {
  buffer: ArrayBuffer;
  u8: Uint8Array;
  view: DataView;
  /** The slab as 32-bit words: what specialised encoders store headers and descriptors with. */
  i32: Int32Array;
  /** The slab as 64-bit words: an aligned bigint store costs half of DataView#setBigUint64. */
  u64: BigUint64Array;
  used: number;
  /**
   * The bytes of the message carved last from this slab, the one slice `releaseMessage` may give
   * back (null when unknown: a new slab, or after two releases). By identity, so that a message
   * released twice, or a view that happens to cover the same bytes, never rewinds over a later
   * message. Invariant: `last` is exactly lastBase .. used.
   */
  last: Uint8Array | null;
  lastBase: number;
  /**
   * The message carved just before `last` (exactly prevBase .. lastBase), which becomes `last`
   * when `last` is released: an in-process RPC encodes the request, then (in the server, during
   * the send) the reply, and gives them back in that reverse order.
   */
  prev: Uint8Array | null;
  prevBase: number;
}

export const slab: Slab = newSlab();

function newSlab(): Slab {
  const buffer = slabBuffer();
  return { buffer, u8: new Uint8Array(buffer), view: new DataView(buffer), i32: new Int32Array(buffer), u64: new BigUint64Array(buffer), used: 0, last: null, lastBase: 0, prev: null, prevBase: 0 };
}

/** Replaces the current slab with a fresh one (the old one lives on in the messages it holds); returns 0, the new base. */
export function renewSlab(): number {
  const buffer = slabBuffer();
  slab.buffer = buffer;
  slab.u8 = new Uint8Array(buffer);
  slab.view = new DataView(buffer);
  slab.i32 = new Int32Array(buffer);
  slab.u64 = new BigUint64Array(buffer);
  slab.used = 0;
  slab.last = null;
  slab.prev = null;
  return 0;
}

/** Largest message the inline path of a specialised encoder may carve from `slab`. */
export const SLAB_MESSAGE_MAX = POOL_MAX;
/**
 * Messages of a plan whose maxSize is at most this are not recorded for `releaseMessage` (their
 * carve sets `slab.last` to null instead). Recording stores the new view into the long-lived slab
 * object (a write barrier and a remembered-set entry for a young object): a few ns per message,
 * measured as default_pager_object_create's encode + decode going from ~42 to ~47 ns, where fresh
 * memory costs a 48-byte message next to nothing; for a 2 KiB message it saves ~140 ns.
 */
export const SLAB_RELEASE_MIN = 512;
export const SLAB_BYTES = SLAB_SIZE;

let scratch = new Uint8Array(16384);
let scratchView = new DataView(scratch.buffer);

/** Where the message being encoded is written. */
let target = slab.u8;
let view = slab.view;
let pooled = true;
/** The message being encoded will be recorded for `releaseMessage` (see SLAB_RELEASE_MIN). */
let recorded = false;

/**
 * Starts a message of at most `maxSize` bytes; returns the offset of its first byte in
 * `target8()` / `targetView()`.
 */
export function beginMessage(maxSize: number): number {
  if (maxSize <= POOL_MAX) {
    if (slab.used + maxSize > SLAB_SIZE) renewSlab();
    target = slab.u8;
    view = slab.view;
    pooled = true;
    recorded = maxSize > SLAB_RELEASE_MIN;
    return slab.used;
  }
  if (maxSize > scratch.length) {
    let n = scratch.length;
    while (n < maxSize) n *= 2;
    scratch = new Uint8Array(n);
    scratchView = new DataView(scratch.buffer);
  }
  target = scratch;
  view = scratchView;
  pooled = false;
  return 0;
}

export function target8(): Uint8Array {
  return target;
}

export function targetView(): DataView {
  return view;
}

/** The finished message: `size` bytes from `base`, in memory of its own. */
export function endMessage(base: number, size: number): Uint8Array {
  if (pooled) {
    slab.used = base + ((size + 7) & ~7);
    const bytes = new Uint8Array(slab.buffer, base, size);
    if (recorded) {
      slab.prev = slab.last;
      slab.prevBase = slab.lastBase;
      slab.last = bytes;
      slab.lastBase = base;
    } else slab.last = null;
    return bytes;
  }
  // Memory of its own, outside the slab: `slab.last` is still the slab's last slice.
  return scratch.slice(0, size);
}

/**
 * Whether `releaseMessage` may still give back `msg`'s memory (it is the last or the one before
 * the last recorded slice of the current slab). A message for which it may not is never written
 * by the codec again, and so may be given away whole (Task#sendMessage's `donate`).
 */
export function mayRelease(msg: { bytes: Uint8Array }): boolean {
  return msg.bytes === slab.last || msg.bytes === slab.prev;
}

/**
 * Gives the memory of `msg` back when it is the message carved last from the current slab (the
 * next message is written over it), or the one carved before it once that one has been given
 * back; does nothing otherwise (an older message, one of a previous slab, a large message with
 * memory of its own, a small one (SLAB_RELEASE_MIN), a second release). O(1).
 *
 * The caller must own `msg` and know it dead: nothing will read or write its bytes again, and no
 * view of them was handed out. A message the kernel has sent is (Task#sendMessage copies the
 * bytes before anything else happens: only a message this cannot give back is ever donated, see
 * `mayRelease`) unless a tracer, a sender or anyone else kept it.
 */
export function releaseMessage(msg: { bytes: Uint8Array }): void {
  // Every carve (endMessage, and the inline one of specialised encoders) moves `last` to `prev`
  // and sets `last`, or sets `last` to null (an unrecorded small message: nothing before it can
  // be given back, and `prev` is never reached while `last` is null); nothing else moves `used`
  // until the next carve, a renewal (both null) or a release (prev becomes last): the
  // invariants of `last` and `prev` hold throughout.
  // (Identity and recorded bases rather than the view's byteOffset/byteLength, whose reads here
  // cost more than the rest of the release.)
  if (msg.bytes === slab.last) {
    slab.used = slab.lastBase;
    slab.last = slab.prev;
    slab.lastBase = slab.prevBase;
    slab.prev = null;
  }
}
