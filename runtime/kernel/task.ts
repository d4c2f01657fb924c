/**
 * A task: an IPC space (names -> entries) and the Mach calls that act on it. Calls return a
 * kern_return_t (or `{ code, ...outs }`) and never throw on bad input.
 *
 * Names are chosen like CMU Mach: (index << 8) | generation, the generation bumped each time an
 * index is reused, and freed indexes are recycled only after a delay, so a just-freed name never
 * comes back at once.
 */
import type { AbiInfo } from "../abi.js";
import { rd32, wr32 } from "../bytes.js";
import { MACH_MSGH_BITS_COMPLEX, msghBits, writeHeader } from "../codec/header.js";
import {
  isPortRightType,
  MACH_MSG_TYPE_COPY_SEND,
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_MAKE_SEND_ONCE,
  MACH_MSG_TYPE_MOVE_RECEIVE,
  MACH_MSG_TYPE_MOVE_SEND,
  MACH_MSG_TYPE_MOVE_SEND_ONCE,
  MACH_MSG_TYPE_PORT_RECEIVE,
  MACH_MSG_TYPE_PORT_SEND,
  MACH_MSG_TYPE_PORT_SEND_ONCE,
  MACH_MSGH_BITS_CIRCULAR,
  MACH_NOTIFY_DEAD_NAME,
  MACH_NOTIFY_NO_SENDERS,
  MACH_NOTIFY_PORT_DELETED,
  MACH_NOTIFY_PORT_DESTROYED,
  MACH_PORT_DEAD,
  MACH_PORT_NULL,
  MACH_PORT_QLIMIT_MAX,
  MACH_PORT_RIGHT_DEAD_NAME,
  MACH_PORT_RIGHT_NUMBER,
  MACH_PORT_RIGHT_PORT_SET,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_PORT_RIGHT_SEND,
  MACH_PORT_RIGHT_SEND_ONCE,
  MACH_PORT_TYPE_DEAD_NAME,
  MACH_PORT_TYPE_DNREQUEST,
  MACH_PORT_TYPE_PORT_SET,
  MACH_PORT_TYPE_RECEIVE,
  MACH_PORT_TYPE_SEND,
  MACH_PORT_TYPE_SEND_ONCE,
  MACH_PORT_UREFS_MAX,
  MACH_RCV_LARGE,
  MACH_RCV_MSG,
  MACH_RCV_TIMEOUT,
  MACH_SEND_MSG,
  MACH_SEND_TIMEOUT,
  receivedPortType,
  ReturnCode,
} from "../constants.js";
import type { MachMessage } from "../message.js";
import { newBodyItem, nextBodyItem, parseBodyBytes, rewriteDescriptor, skipPlainItem, type BodyItem } from "./body.js";
import type { Kernel } from "./kernel.js";
import type { CarriedRight, Entry, KMsg, ReceiveWaiter } from "./objects.js";
import { NameTable } from "./names.js";
import { addHolder, noRight, Port, PortSet, removeHolder, sendHolder } from "./objects.js";

const R = ReturnCode;
/** Freed indexes wait in a FIFO this long before reuse. */
const NAME_REUSE_DELAY = 64;
const MAX_INDEX = 0xfffffe;
const SEND_UREFS_MAX = MACH_PORT_UREFS_MAX - 1;
/** Freed entries a task keeps for reuse (enough for the replies of many calls in flight). */
const SPARE_ENTRIES = 64;

export interface NameResult {
  code: number;
  name: number;
}

/** mach_port_status_t. */
export interface PortStatus {
  mps_pset: number;
  mps_seqno: number;
  mps_mscount: number;
  mps_qlimit: number;
  mps_msgcount: number;
  mps_sorights: number;
  mps_srights: boolean;
  mps_pdrequest: boolean;
  mps_nsrequest: boolean;
}

export interface MachMsgResult {
  code: number;
  /**
   * The received message, or for MACH_RCV_TOO_LARGE a header-only message whose msgh_size is
   * the real size. Null when nothing was received.
   */
  msg: MachMessage | null;
}

function isValidName(name: number): boolean {
  return name !== MACH_PORT_NULL && name !== MACH_PORT_DEAD;
}

/** The `rights` of every simple message: nothing may be added to it. */
const NO_RIGHTS: CarriedRight[] = Object.freeze([]) as unknown as CarriedRight[];
/** The `reply` of every message without a reply right (a reply, a simpleroutine): never written. */
const NO_REPLY: CarriedRight = Object.freeze(noRight()) as CarriedRight;
/** The `ool` of every message without regions (as the codec shares its own): never added to. */
const NO_OOL: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];

/**
 * Kernel message buffers: a message of up to KMSG_SLAB_MAX bytes is copied into a view carved
 * from a shared slab, bump-allocated and never reused (a slab is garbage once no message still
 * refers to it). V8 keeps only typed arrays of up to 64 bytes on its heap; every larger
 * `new Uint8Array(n)` is an ArrayBuffer of its own, whose malloc, zero fill, registration and
 * sweeping cost more than the rest of a one-way message's copy-in (two per page-in). A received
 * message's bytes may therefore start anywhere in their ArrayBuffer (use `byteOffset`), and one
 * kept message keeps its slab (KMSG_SLAB bytes) alive.
 */
const KMSG_SLAB = 16384;
/** Larger messages get an ArrayBuffer of their own (a slab would hold few of them). */
const KMSG_SLAB_MAX = 1024;
/** On-heap typed arrays (V8's typed_array_max_size_in_heap): cheaper than a slab view. */
const KMSG_ON_HEAP_MAX = 64;
let kmsgSlab = new ArrayBuffer(KMSG_SLAB);
let kmsgSlabUsed = 0;

/**
 * The kernel's copy of a message's first `n` bytes (see KMSG_SLAB). Not `slice()`: that gives
 * every copy an ArrayBuffer of its own.
 */
function copyBytes(src: Uint8Array, n: number): Uint8Array {
  let copy: Uint8Array;
  if (n <= KMSG_ON_HEAP_MAX || n > KMSG_SLAB_MAX) copy = new Uint8Array(n);
  else {
    let at = kmsgSlabUsed;
    if (at + n > KMSG_SLAB) {
      kmsgSlab = new ArrayBuffer(KMSG_SLAB);
      at = 0;
    }
    copy = new Uint8Array(kmsgSlab, at, n);
    // 8-aligned, so aligned views of the body (the codec's typed arrays) stay possible.
    kmsgSlabUsed = at + ((n + 7) & ~7);
  }
  // Every byte is written: a slab view is not zero-filled, and its memory was never used.
  copy.set(n === src.length ? src : src.subarray(0, n));
  return copy;
}

/**
 * What a sender's `ool` slot holds once its region moved into a message (deallocate): one shared
 * empty array (nothing can be written to it), not a new one per message.
 */
const GIVEN_UP = new Uint8Array(0);

/** Adds a body right to a message being copied in (its first right replaces the shared empty list). */
function addRight(kmsg: KMsg, right: CarriedRight): void {
  if (kmsg.rights.length === 0) kmsg.rights = [right];
  else kmsg.rights.push(right);
}

/**
 * Kernel messages and carried rights kept for reuse: a message copied out is dead (its bytes and
 * regions went to the receiver, its rights into the receiver's space), and an RPC makes two
 * messages and a right or more. Allocating them was ~15% of what an in-process null RPC allocates (sampling heap
 * profiler), and every allocation brings the next scavenge closer.
 */
const SPARE_MAX = 256;
const spareKmsgs: KMsg[] = [];
/** A spare KMsg's destination: a port of no kernel. */
const NO_PORT = new Port();
const spareRights: CarriedRight[] = [];

/** @internal A carried right, from the spares if there are any (fields as `noRight()`). */
export function newRight(): CarriedRight {
  return spareRights.length > 0 ? spareRights.pop()! : noRight();
}

function spareRight(r: CarriedRight): void {
  if (spareRights.length >= SPARE_MAX) return;
  r.port = null;
  r.dead = false;
  r.type = 0;
  r.ool = -1;
  r.offset = -1;
  spareRights.push(r);
}

/**
 * @internal A kernel message with these fields, from the spares if there are any (no rights, no
 * regions, seqno 0, not from the kernel). Bridges make theirs here too: every KMsg copied out
 * goes back to the spares, whoever made it.
 */
export function newKmsg(flags: number, size: number, id: number, dest: Port, destType: number, reply: CarriedRight, bytes: Uint8Array): KMsg {
  if (spareKmsgs.length === 0) {
    return { flags, size, id, dest, destType, reply, rights: NO_RIGHTS, bytes, ool: NO_OOL, seqno: 0, fromKernel: false, source: null, sourceId: 0 };
  }
  const kmsg = spareKmsgs.pop()!;
  kmsg.flags = flags;
  kmsg.size = size;
  kmsg.id = id;
  kmsg.dest = dest;
  kmsg.destType = destType;
  kmsg.reply = reply;
  kmsg.bytes = bytes;
  kmsg.fromKernel = false;
  return kmsg;
}

/** Keeps a copied-out message (and its rights) for the next send; drops what it referred to. */
function recycleKmsg(kmsg: KMsg): void {
  if (kmsg.reply !== NO_REPLY) spareRight(kmsg.reply);
  const rights = kmsg.rights;
  for (let i = 0; i < rights.length; i++) spareRight(rights[i]);
  if (spareKmsgs.length >= SPARE_MAX) return;
  // Nothing of a kernel is kept reachable from the (module-wide) spares.
  kmsg.dest = NO_PORT;
  kmsg.reply = NO_REPLY;
  kmsg.rights = NO_RIGHTS;
  kmsg.bytes = GIVEN_UP;
  kmsg.ool = NO_OOL;
  kmsg.seqno = 0;
  kmsg.source = null;
  spareKmsgs.push(kmsg);
}

/**
 * A received message's header, written byte by byte in one call (eight `wr32` calls in `copyout`
 * were no longer inlined there: perf showed wr32 as a function of its own).
 */
function writeReceivedHeader(b: Uint8Array, abi: AbiInfo, bits: number, size: number, remote: number, local: number, seqno: number, id: number): void {
  const o = abi.header;
  let k = o.bits;
  b[k] = bits;
  b[k + 1] = bits >>> 8;
  b[k + 2] = bits >>> 16;
  b[k + 3] = bits >>> 24;
  k = o.size;
  b[k] = size;
  b[k + 1] = size >>> 8;
  b[k + 2] = size >>> 16;
  b[k + 3] = size >>> 24;
  k = o.remotePort;
  b[k] = remote;
  b[k + 1] = remote >>> 8;
  b[k + 2] = remote >>> 16;
  b[k + 3] = remote >>> 24;
  if (abi.inlinePortSize === 8) b[k + 4] = b[k + 5] = b[k + 6] = b[k + 7] = 0;
  k = o.localPort;
  b[k] = local;
  b[k + 1] = local >>> 8;
  b[k + 2] = local >>> 16;
  b[k + 3] = local >>> 24;
  if (abi.inlinePortSize === 8) b[k + 4] = b[k + 5] = b[k + 6] = b[k + 7] = 0;
  k = o.seqno;
  b[k] = seqno;
  b[k + 1] = seqno >>> 8;
  b[k + 2] = seqno >>> 16;
  b[k + 3] = seqno >>> 24;
  k = o.id;
  b[k] = id;
  b[k + 1] = id >>> 8;
  b[k + 2] = id >>> 16;
  b[k + 3] = id >>> 24;
}

/** `new Promise(captureResolve)` leaves the resolve function in `captured` (no closure per call). */
let captured: ((r: MachMsgResult) => void) | null = null;
function captureResolve(resolve: (r: MachMsgResult) => void): void {
  captured = resolve;
}

function noResolve(): void {}

/** A blocked receive (one per waiting mach_msg). */
class PendingReceive implements ReceiveWaiter {
  // Declared and set by the constructor (one per blocked receive: ES2022 class field
  // definitions would define each field first).
  declare resolve: (r: MachMsgResult) => void;
  declare timer: ReturnType<typeof setTimeout> | undefined;
  declare readonly task: Task;
  declare readonly option: number;
  declare readonly rcvSize: number;
  declare readonly q: Port | PortSet;

  constructor(task: Task, option: number, rcvSize: number, q: Port | PortSet) {
    this.resolve = noResolve;
    this.timer = undefined;
    this.task = task;
    this.option = option;
    this.rcvSize = rcvSize;
    this.q = q;
  }

  message(kmsg: KMsg, now: boolean): void {
    this.clearTimer();
    if (!now) {
      queueMicrotask(() => this.resolve(this.task.completeReceive(kmsg, this.rcvSize)));
      return;
    }
    let result: MachMsgResult;
    try {
      result = this.task.completeReceive(kmsg, this.rcvSize);
    } catch (error) {
      // Only an observer can throw here; the sender's call must not see it.
      queueMicrotask(() => {
        throw error;
      });
      return;
    }
    this.resolve(result);
  }

  tooLarge(size: number): void {
    this.clearTimer();
    this.resolve(this.task.tooLargeKept(size));
  }

  fail(code: number): void {
    this.clearTimer();
    this.resolve({ code, msg: null });
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}

function receiveTimedOut(w: PendingReceive): void {
  w.timer = undefined;
  const i = w.q.receivers.indexOf(w);
  if (i < 0) return;
  w.q.receivers.splice(i, 1);
  w.resolve({ code: R.MACH_RCV_TIMED_OUT, msg: null });
}

export class Task {
  alive = true;
  private readonly entries = new NameTable();
  private nextIndex = 1;
  /** Freed indexes, oldest first from `freeHead`. */
  private readonly freeIndexes: number[] = [];
  private freeHead = 0;
  /** Body copy-in's scratch item (`copyinBody`), and whether a copy-in is using it. */
  private readonly bodyItem: BodyItem = newBodyItem();
  private bodyItemBusy = false;
  /** Where header copy-in puts the destination right (never kept). */
  private readonly destScratch: CarriedRight = noRight();
  /** Freed entries kept for reuse (`recycleEntry`). */
  private readonly spareEntries: Entry[] = [];
  /** The generation last used with each index (by index). */
  private readonly generations: number[] = [0];

  constructor(
    readonly kernel: Kernel,
    readonly label = "",
  ) {}

  // ---------------------------------------------------------------------------------------------
  // The name table

  private newName(): number {
    for (;;) {
      let index: number;
      let gen: number;
      const free = this.freeIndexes.length - this.freeHead;
      if (free > NAME_REUSE_DELAY || (this.nextIndex > MAX_INDEX && free > 0)) {
        index = this.freeIndexes[this.freeHead++];
        if (this.freeHead >= 1024) {
          this.freeIndexes.splice(0, this.freeHead);
          this.freeHead = 0;
        }
        gen = (this.generations[index] + 1) & 0xff;
      } else if (this.nextIndex <= MAX_INDEX) {
        index = this.nextIndex++;
        gen = 0;
      } else {
        return MACH_PORT_NULL;
      }
      this.generations[index] = gen;
      const name = index * 256 + gen;
      if (!this.entries.has(name)) return name;
    }
  }

  private addEntry(name: number, type: number, urefs: number, port: Port | null, generated: boolean): Entry {
    let e: Entry;
    const spare = this.spareEntries;
    if (spare.length > 0) {
      e = spare.pop()!;
      e.name = name;
      e.type = type;
      e.urefs = urefs;
      e.port = port;
      e.generated = generated;
    } else {
      e = {
        owner: this,
        name,
        type,
        urefs,
        port,
        pset: null,
        dnrequest: null,
        generated,
        order: 0,
        holderOf: null,
        holderPrev: null,
        holderNext: null,
      };
    }
    this.entries.set(name, e);
    if (port && (type & (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_SEND_ONCE)) !== 0) addHolder(port, e);
    return e;
  }

  /**
   * Keeps an entry that is freed and no longer referenced by anything, for the next `addEntry`
   * (a send-once reply right's entry comes and goes on every RPC). Only called where the entry
   * is provably dead: off the name table, the port map and the holder list, no dead-name request.
   */
  private recycleEntry(e: Entry): void {
    if (this.spareEntries.length >= SPARE_ENTRIES) return;
    e.port = null;
    e.pset = null;
    e.dnrequest = null;
    this.spareEntries.push(e);
  }

  private freeEntry(e: Entry): void {
    this.entries.delete(e.name);
    if (e.port) this.forgetPort(e);
    if (e.generated) this.freeIndexes.push(Math.floor(e.name / 256));
  }

  /** Drops the port side of an entry's bookkeeping (the entry itself stays). */
  forgetPort(e: Entry): void {
    const port = e.port;
    if (!port) return;
    removeHolder(port, e);
  }

  /** Fires an entry's dead-name request as port-deleted (the name stopped denoting a live port). */
  private portDeleted(e: Entry): void {
    const dn = e.dnrequest;
    e.dnrequest = null;
    if (dn) this.kernel.notifyName(dn, MACH_NOTIFY_PORT_DELETED, e.name);
  }

  /**
   * The entry holding send and/or receive for `port` in this space (at most one, §1.2): the
   * receive right's entry, else a send holder of the port. No map from ports to entries: keeping
   * one cost a hash-table insert and delete (and its rehashing) for every right that came and went.
   */
  private portEntry(port: Port): Entry | undefined {
    if (port.receiver === this) return this.entries.get(port.receiverName);
    return port.holdersHead === null ? undefined : sendHolder(port, this);
  }

  /** The entry for a name (for tests and transports: treat as read-only). */
  entry(name: number): Readonly<Entry> | undefined {
    return this.entries.get(name);
  }

  /** The port a name denotes (send, send-once or receive), or null. */
  portOf(name: number): Port | null {
    return this.entries.get(name)?.port ?? null;
  }

  /** This task's name for the send and/or receive right of `port`, or MACH_PORT_NULL. */
  nameOf(port: Port): number {
    return this.portEntry(port)?.name ?? MACH_PORT_NULL;
  }

  // ---------------------------------------------------------------------------------------------
  // mach_port.defs

  mach_port_allocate(right: number): NameResult {
    if (!this.alive) return { code: R.KERN_INVALID_TASK, name: 0 };
    if (right !== MACH_PORT_RIGHT_RECEIVE && right !== MACH_PORT_RIGHT_PORT_SET && right !== MACH_PORT_RIGHT_DEAD_NAME) {
      return { code: R.KERN_INVALID_VALUE, name: 0 };
    }
    const name = this.newName();
    if (name === MACH_PORT_NULL) return { code: R.KERN_NO_SPACE, name: 0 };
    this.createRight(right, name, true);
    return { code: R.KERN_SUCCESS, name };
  }

  mach_port_allocate_name(right: number, name: number): number {
    if (!this.alive) return R.KERN_INVALID_TASK;
    if (!isValidName(name)) return R.KERN_INVALID_VALUE;
    if (right !== MACH_PORT_RIGHT_RECEIVE && right !== MACH_PORT_RIGHT_PORT_SET && right !== MACH_PORT_RIGHT_DEAD_NAME) {
      return R.KERN_INVALID_VALUE;
    }
    if (this.entries.has(name)) return R.KERN_NAME_EXISTS;
    this.createRight(right, name >>> 0, false);
    return R.KERN_SUCCESS;
  }

  /** mach_reply_port(): a new receive right, or MACH_PORT_NULL. */
  mach_reply_port(): number {
    return this.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  }

  private createRight(right: number, name: number, generated: boolean): void {
    if (right === MACH_PORT_RIGHT_RECEIVE) {
      const port = new Port();
      port.receiver = this;
      port.receiverName = name;
      this.addEntry(name, MACH_PORT_TYPE_RECEIVE, 0, port, generated);
    } else if (right === MACH_PORT_RIGHT_PORT_SET) {
      const e = this.addEntry(name, MACH_PORT_TYPE_PORT_SET, 0, null, generated);
      e.pset = new PortSet(this, name);
    } else {
      this.addEntry(name, MACH_PORT_TYPE_DEAD_NAME, 1, null, generated);
    }
  }

  mach_port_destroy(name: number): number {
    if (!this.alive) return R.KERN_INVALID_TASK;
    const e = this.entries.get(name);
    if (!e) return R.KERN_INVALID_NAME;
    this.destroyEntry(e);
    return R.KERN_SUCCESS;
  }

  /** Drops every right under an entry (mach_port_destroy, task termination). */
  private destroyEntry(e: Entry): void {
    const k = this.kernel;
    const port = e.port;
    if (e.type === MACH_PORT_TYPE_DEAD_NAME) {
      this.freeEntry(e);
    } else if (e.type === MACH_PORT_TYPE_PORT_SET) {
      this.freeEntry(e);
      k.destroySet(e.pset!);
    } else if (e.type === MACH_PORT_TYPE_SEND_ONCE) {
      this.freeEntry(e);
      k.releaseSendOnce(port!);
      this.portDeleted(e);
    } else if (e.type === MACH_PORT_TYPE_SEND) {
      this.freeEntry(e);
      k.releaseSend(port!);
      this.portDeleted(e);
      this.recycleEntry(e);
    } else {
      // RECEIVE, with or without SEND: no-senders (pre-destruction mscount) first, then
      // port-deleted, then the port is destroyed.
      this.freeEntry(e);
      if (e.type & MACH_PORT_TYPE_SEND) k.releaseSend(port!);
      this.portDeleted(e);
      k.destroyPort(port!);
    }
  }

  mach_port_deallocate(name: number): number {
    if (!this.alive) return R.KERN_INVALID_TASK;
    const e = this.entries.get(name);
    if (!e) return R.KERN_INVALID_NAME;
    if (e.type === MACH_PORT_TYPE_DEAD_NAME) {
      if (--e.urefs === 0) this.freeEntry(e);
      return R.KERN_SUCCESS;
    }
    if (e.type & MACH_PORT_TYPE_SEND) {
      this.dropSendUrefs(e, 1);
      return R.KERN_SUCCESS;
    }
    if (e.type === MACH_PORT_TYPE_SEND_ONCE) {
      this.destroyEntry(e);
      return R.KERN_SUCCESS;
    }
    return R.KERN_INVALID_RIGHT;
  }

  /** urefs -= n on a send entry; at 0 the send right goes (SEND|RECEIVE becomes RECEIVE). */
  private dropSendUrefs(e: Entry, n: number): void {
    e.urefs -= n;
    if (e.urefs > 0) return;
    const port = e.port!;
    if (e.type & MACH_PORT_TYPE_RECEIVE) {
      e.type = MACH_PORT_TYPE_RECEIVE;
      e.urefs = 0;
      removeHolder(port, e);
      this.kernel.releaseSend(port);
    } else {
      this.destroyEntry(e);
    }
  }

  mach_port_mod_refs(name: number, right: number, delta: number): number {
    if (!this.alive) return R.KERN_INVALID_TASK;
    if (!(right >= 0 && right < MACH_PORT_RIGHT_NUMBER)) return R.KERN_INVALID_VALUE;
    const e = this.entries.get(name);
    if (!e) return R.KERN_INVALID_NAME;
    const k = this.kernel;
    switch (right) {
      case MACH_PORT_RIGHT_SEND: {
        if (!(e.type & MACH_PORT_TYPE_SEND)) return R.KERN_INVALID_RIGHT;
        if (e.urefs + delta < 0) return R.KERN_INVALID_VALUE;
        if (e.urefs + delta > SEND_UREFS_MAX) return R.KERN_UREFS_OVERFLOW;
        if (delta < 0) this.dropSendUrefs(e, -delta);
        else e.urefs += delta;
        return R.KERN_SUCCESS;
      }
      case MACH_PORT_RIGHT_RECEIVE: {
        if (!(e.type & MACH_PORT_TYPE_RECEIVE)) return R.KERN_INVALID_RIGHT;
        if (delta !== 0 && delta !== -1) return R.KERN_INVALID_VALUE;
        if (delta === 0) return R.KERN_SUCCESS;
        const port = e.port!;
        if (e.type & MACH_PORT_TYPE_SEND) {
          // The name keeps the send right; port death turns it into a dead name (§2.1).
          e.type = MACH_PORT_TYPE_SEND;
        } else {
          this.freeEntry(e);
          this.portDeleted(e);
        }
        k.destroyPort(port);
        return R.KERN_SUCCESS;
      }
      case MACH_PORT_RIGHT_SEND_ONCE: {
        if (e.type !== MACH_PORT_TYPE_SEND_ONCE) return R.KERN_INVALID_RIGHT;
        if (delta !== 0 && delta !== -1) return R.KERN_INVALID_VALUE;
        if (delta === -1) this.destroyEntry(e);
        return R.KERN_SUCCESS;
      }
      case MACH_PORT_RIGHT_PORT_SET: {
        if (e.type !== MACH_PORT_TYPE_PORT_SET) return R.KERN_INVALID_RIGHT;
        if (delta !== 0 && delta !== -1) return R.KERN_INVALID_VALUE;
        if (delta === -1) this.destroyEntry(e);
        return R.KERN_SUCCESS;
      }
      default: {
        if (e.type !== MACH_PORT_TYPE_DEAD_NAME) return R.KERN_INVALID_RIGHT;
        if (e.urefs + delta < 0) return R.KERN_INVALID_VALUE;
        if (e.urefs + delta > MACH_PORT_UREFS_MAX) return R.KERN_UREFS_OVERFLOW;
        e.urefs += delta;
        if (e.urefs === 0) this.freeEntry(e);
        return R.KERN_SUCCESS;
      }
    }
  }

  mach_port_get_refs(name: number, right: number): { code: number; refs: number } {
    if (!this.alive) return { code: R.KERN_INVALID_TASK, refs: 0 };
    if (!(right >= 0 && right < MACH_PORT_RIGHT_NUMBER)) return { code: R.KERN_INVALID_VALUE, refs: 0 };
    const e = this.entries.get(name);
    if (!e) return { code: R.KERN_INVALID_NAME, refs: 0 };
    let refs = 0;
    if (right === MACH_PORT_RIGHT_SEND) refs = e.type & MACH_PORT_TYPE_SEND ? e.urefs : 0;
    else if (right === MACH_PORT_RIGHT_RECEIVE) refs = e.type & MACH_PORT_TYPE_RECEIVE ? 1 : 0;
    else if (right === MACH_PORT_RIGHT_SEND_ONCE) refs = e.type === MACH_PORT_TYPE_SEND_ONCE ? 1 : 0;
    else if (right === MACH_PORT_RIGHT_PORT_SET) refs = e.type === MACH_PORT_TYPE_PORT_SET ? 1 : 0;
    else refs = e.type === MACH_PORT_TYPE_DEAD_NAME ? e.urefs : 0;
    return { code: R.KERN_SUCCESS, refs };
  }

  mach_port_type(name: number): { code: number; type: number } {
    if (!this.alive) return { code: R.KERN_INVALID_TASK, type: 0 };
    const e = this.entries.get(name);
    if (!e) return { code: R.KERN_INVALID_NAME, type: 0 };
    return { code: R.KERN_SUCCESS, type: (e.type | (e.dnrequest ? MACH_PORT_TYPE_DNREQUEST : 0)) >>> 0 };
  }

  mach_port_names(): { code: number; names: number[]; types: number[] } {
    if (!this.alive) return { code: R.KERN_INVALID_TASK, names: [], types: [] };
    const names = this.entries.keys().sort((a, b) => a - b);
    const types = names.map((n) => this.mach_port_type(n).type);
    return { code: R.KERN_SUCCESS, names, types };
  }

  mach_port_rename(oldName: number, newName: number): number {
    if (!this.alive) return R.KERN_INVALID_TASK;
    if (!isValidName(newName)) return R.KERN_INVALID_VALUE;
    if (this.entries.has(newName)) return R.KERN_NAME_EXISTS;
    const e = this.entries.get(oldName);
    if (!e) return R.KERN_INVALID_NAME;
    this.entries.delete(oldName);
    if (e.generated) this.freeIndexes.push(Math.floor(oldName / 256));
    e.generated = false;
    e.name = newName >>> 0;
    this.entries.set(e.name, e);
    if (e.type & MACH_PORT_TYPE_RECEIVE) e.port!.receiverName = e.name;
    if (e.pset) e.pset.name = e.name;
    return R.KERN_SUCCESS;
  }

  mach_port_move_member(member: number, after: number): number {
    if (!this.alive) return R.KERN_INVALID_TASK;
    const m = this.entries.get(member);
    if (!m) return R.KERN_INVALID_NAME;
    if (!(m.type & MACH_PORT_TYPE_RECEIVE)) return R.KERN_INVALID_RIGHT;
    const port = m.port!;
    let set: PortSet | null = null;
    if (after !== MACH_PORT_NULL) {
      const s = this.entries.get(after);
      if (!s) return R.KERN_INVALID_NAME;
      if (s.type !== MACH_PORT_TYPE_PORT_SET) return R.KERN_INVALID_RIGHT;
      set = s.pset!;
    } else if (!port.pset) {
      return R.KERN_NOT_IN_SET;
    }
    if (port.pset === set) return R.KERN_SUCCESS;
    if (port.pset) this.kernel.leaveSet(port);
    if (set) this.kernel.joinSet(port, set);
    return R.KERN_SUCCESS;
  }

  mach_port_get_set_status(name: number): { code: number; members: number[] } {
    if (!this.alive) return { code: R.KERN_INVALID_TASK, members: [] };
    const e = this.entries.get(name);
    if (!e) return { code: R.KERN_INVALID_NAME, members: [] };
    if (e.type !== MACH_PORT_TYPE_PORT_SET) return { code: R.KERN_INVALID_RIGHT, members: [] };
    const members = [...e.pset!.members].map((p) => p.receiverName).sort((a, b) => a - b);
    return { code: R.KERN_SUCCESS, members };
  }

  /** Looks up a receive right: the common INVALID_NAME -> INVALID_RIGHT checks. */
  private receiveEntry(name: number): { code: number; port: Port | null } {
    if (!this.alive) return { code: R.KERN_INVALID_TASK, port: null };
    const e = this.entries.get(name);
    if (!e) return { code: R.KERN_INVALID_NAME, port: null };
    if (!(e.type & MACH_PORT_TYPE_RECEIVE)) return { code: R.KERN_INVALID_RIGHT, port: null };
    return { code: R.KERN_SUCCESS, port: e.port };
  }

  mach_port_set_qlimit(name: number, qlimit: number): number {
    if (!(qlimit >= 0 && qlimit <= MACH_PORT_QLIMIT_MAX)) return R.KERN_INVALID_VALUE;
    const { code, port } = this.receiveEntry(name);
    if (!port) return code;
    const old = port.qlimit;
    port.qlimit = qlimit;
    if (qlimit > old) this.kernel.wakeSenders(port, qlimit - old);
    return R.KERN_SUCCESS;
  }

  mach_port_set_mscount(name: number, mscount: number): number {
    const { code, port } = this.receiveEntry(name);
    if (!port) return code;
    port.mscount = mscount >>> 0;
    return R.KERN_SUCCESS;
  }

  mach_port_set_seqno(name: number, seqno: number): number {
    const { code, port } = this.receiveEntry(name);
    if (!port) return code;
    port.seqno = seqno >>> 0;
    return R.KERN_SUCCESS;
  }

  mach_port_get_receive_status(name: number): { code: number; status: PortStatus | null } {
    const { code, port } = this.receiveEntry(name);
    if (!port) return { code, status: null };
    return {
      code: R.KERN_SUCCESS,
      status: {
        mps_pset: port.pset ? port.pset.name : MACH_PORT_NULL,
        mps_seqno: port.seqno,
        mps_mscount: port.mscount,
        mps_qlimit: port.qlimit,
        mps_msgcount: port.msgcount,
        mps_sorights: port.sorights,
        mps_srights: port.srights > 0,
        mps_pdrequest: port.pdrequest !== null,
        mps_nsrequest: port.nsrequest !== null,
      },
    };
  }

  /** mach_debug's mach_port_get_srights: the exact number of send rights. */
  mach_port_get_srights(name: number): { code: number; srights: number } {
    const { code, port } = this.receiveEntry(name);
    if (!port) return { code, srights: 0 };
    return { code: R.KERN_SUCCESS, srights: port.srights };
  }

  /**
   * mach_port_insert_right(task, name, right, rightPoly), called by `caller` (default: this
   * task) naming `right` in its own space with disposition `rightPoly`.
   */
  mach_port_insert_right(name: number, right: number, rightPoly: number, caller: Task = this): number {
    if (!isPortRightType(rightPoly)) return R.KERN_INVALID_VALUE;
    const c = caller.copyinRight(right, rightPoly, true);
    if (c.code !== R.KERN_SUCCESS) return R.MACH_SEND_INVALID_RIGHT;
    const carried = c.right;
    const fail = (code: number): number => {
      this.kernel.releaseCarried(carried);
      return code;
    };
    if (!this.alive) return fail(R.KERN_INVALID_TASK);
    if (!isValidName(name)) return fail(R.KERN_INVALID_VALUE);
    const port = carried.port;
    if (!port || port.dead) return fail(R.KERN_INVALID_CAPABILITY);
    const e = this.entries.get(name);
    if (carried.type === MACH_MSG_TYPE_PORT_SEND_ONCE) {
      if (e) return fail(R.KERN_NAME_EXISTS);
      this.addEntry(name >>> 0, MACH_PORT_TYPE_SEND_ONCE, 1, port, false);
      return R.KERN_SUCCESS;
    }
    const existing = this.portEntry(port);
    if (existing && existing !== e) return fail(R.KERN_RIGHT_EXISTS);
    if (e && e !== existing) return fail(R.KERN_NAME_EXISTS);
    if (carried.type === MACH_MSG_TYPE_PORT_SEND && e && e.type & MACH_PORT_TYPE_SEND && e.urefs >= SEND_UREFS_MAX) {
      return fail(R.KERN_UREFS_OVERFLOW);
    }
    if (!e) {
      // A fresh name: copy out under the chosen name.
      if (carried.type === MACH_MSG_TYPE_PORT_SEND) this.addEntry(name >>> 0, MACH_PORT_TYPE_SEND, 1, port, false);
      else this.installReceive(port, this.addEntry(name >>> 0, MACH_PORT_TYPE_RECEIVE, 0, port, false));
      return R.KERN_SUCCESS;
    }
    this.copyoutInto(e, carried);
    return R.KERN_SUCCESS;
  }

  /**
   * mach_port_extract_right(task, name, disposition) called by `caller`: the right is copied in
   * from this task (dead names allowed) and copied out into the caller.
   */
  mach_port_extract_right(
    name: number,
    disposition: number,
    caller: Task = this,
  ): { code: number; right: number; acquiredType: number } {
    if (!this.alive) return { code: R.KERN_INVALID_TASK, right: 0, acquiredType: 0 };
    if (!isPortRightType(disposition)) return { code: R.KERN_INVALID_VALUE, right: 0, acquiredType: 0 };
    const c = this.copyinRight(name, disposition, true);
    if (c.code !== R.KERN_SUCCESS) return { code: c.code, right: 0, acquiredType: 0 };
    const right = caller.copyoutRight(c.right);
    return { code: R.KERN_SUCCESS, right, acquiredType: c.right.type };
  }

  /**
   * mach_port_request_notification(task, name, id, sync, notify, notifyPoly) called by `caller`:
   * `notify` names a right in the caller's space (MAKE_SEND_ONCE or MOVE_SEND_ONCE), and the
   * previous request right comes back as a new send-once name in the caller's space.
   */
  mach_port_request_notification(
    name: number,
    id: number,
    sync: number,
    notify: number,
    notifyPoly: number,
    caller: Task = this,
  ): { code: number; previous: number } {
    let carried: CarriedRight = noRight();
    if (isValidName(notify)) {
      if (!isPortRightType(notifyPoly)) return { code: R.MIG_BAD_ARGUMENTS, previous: 0 };
      const c = caller.copyinRight(notify, notifyPoly, true);
      if (c.code !== R.KERN_SUCCESS) return { code: R.MACH_SEND_INVALID_RIGHT, previous: 0 };
      carried = c.right;
    } else {
      carried.dead = notify === MACH_PORT_DEAD;
    }
    const fail = (code: number) => {
      this.kernel.releaseCarried(carried);
      return { code, previous: 0 };
    };
    if (carried.port && carried.type !== MACH_MSG_TYPE_PORT_SEND_ONCE) return fail(R.MIG_BAD_ARGUMENTS);
    if (carried.dead || (carried.port && carried.port.dead)) return fail(R.KERN_INVALID_CAPABILITY);
    if (!this.alive) return fail(R.KERN_INVALID_TASK);
    const so = carried.port;
    let previous: Port | null = null;
    switch (id) {
      case MACH_NOTIFY_PORT_DESTROYED: {
        if (sync !== 0) return fail(R.KERN_INVALID_VALUE);
        const { code, port } = this.receiveEntry(name);
        if (!port) return fail(code);
        previous = port.pdrequest;
        port.pdrequest = so;
        break;
      }
      case MACH_NOTIFY_NO_SENDERS: {
        const { code, port } = this.receiveEntry(name);
        if (!port) return fail(code);
        previous = port.nsrequest;
        port.nsrequest = null;
        if (so && port.srights === 0 && sync >>> 0 <= port.mscount) {
          this.kernel.sendNotification(so, MACH_NOTIFY_NO_SENDERS, port.mscount);
        } else {
          port.nsrequest = so;
        }
        break;
      }
      case MACH_NOTIFY_DEAD_NAME: {
        const e = this.entries.get(name);
        if (!e) return fail(R.KERN_INVALID_NAME);
        if (e.type === MACH_PORT_TYPE_PORT_SET) return fail(R.KERN_INVALID_RIGHT);
        if (e.type === MACH_PORT_TYPE_DEAD_NAME) {
          if (sync === 0 || !so) return fail(R.KERN_INVALID_ARGUMENT);
          if (e.urefs >= MACH_PORT_UREFS_MAX) return fail(R.KERN_UREFS_OVERFLOW);
          e.urefs++;
          this.kernel.notifyName(so, MACH_NOTIFY_DEAD_NAME, e.name);
          break;
        }
        previous = e.dnrequest;
        e.dnrequest = so;
        break;
      }
      default:
        return fail(R.KERN_INVALID_VALUE);
    }
    const prev = previous
      ? caller.copyoutRight({ port: previous, dead: false, type: MACH_MSG_TYPE_PORT_SEND_ONCE, ool: -1, offset: -1 })
      : MACH_PORT_NULL;
    return { code: R.KERN_SUCCESS, previous: prev };
  }

  /** Destroys the space: every entry as by mach_port_destroy (§5.3). */
  terminate(): void {
    if (!this.alive) return;
    this.alive = false;
    for (const e of this.entries.values()) {
      if (this.entries.get(e.name) === e) this.destroyEntry(e);
    }
    this.kernel.tasks.delete(this);
  }

  // ---------------------------------------------------------------------------------------------
  // Rights in and out of the space (§3.3, §3.5), also used by transports

  /** Whether `e` can supply `disposition` (dead names allowed for the send-type moves if `allowDead`). */
  private canSupply(e: Entry, disposition: number, allowDead: boolean): boolean {
    switch (disposition) {
      case MACH_MSG_TYPE_MOVE_RECEIVE:
      case MACH_MSG_TYPE_MAKE_SEND:
      case MACH_MSG_TYPE_MAKE_SEND_ONCE:
        return (e.type & MACH_PORT_TYPE_RECEIVE) !== 0;
      case MACH_MSG_TYPE_COPY_SEND:
      case MACH_MSG_TYPE_MOVE_SEND:
        return (e.type & MACH_PORT_TYPE_SEND) !== 0 || (allowDead && e.type === MACH_PORT_TYPE_DEAD_NAME);
      case MACH_MSG_TYPE_MOVE_SEND_ONCE:
        return e.type === MACH_PORT_TYPE_SEND_ONCE || (allowDead && e.type === MACH_PORT_TYPE_DEAD_NAME);
      default:
        return false;
    }
  }

  /**
   * Takes a right out of the space as a port object, exactly as a message copy-in does. NULL and
   * DEAD names carry no right. Returns KERN_INVALID_NAME or KERN_INVALID_RIGHT on failure.
   */
  copyinRight(name: number, disposition: number, allowDead: boolean): { code: number; right: CarriedRight } {
    const right = noRight();
    if (!isValidName(name)) {
      right.dead = name === MACH_PORT_DEAD;
      right.type = receivedPortType(disposition);
      return { code: R.KERN_SUCCESS, right };
    }
    const e = this.entries.get(name);
    if (!e) return { code: R.KERN_INVALID_NAME, right };
    if (!this.canSupply(e, disposition, allowDead)) return { code: R.KERN_INVALID_RIGHT, right };
    return { code: R.KERN_SUCCESS, right: this.copyinEntry(e, disposition) };
  }

  /** `copyinRight(name, disposition, true)` into `right` (a body item's right): the code. */
  private copyinRightInto(name: number, disposition: number, right: CarriedRight): number {
    if (!isValidName(name)) {
      right.dead = name === MACH_PORT_DEAD;
      right.type = receivedPortType(disposition);
      return R.KERN_SUCCESS;
    }
    const e = this.entries.get(name);
    if (!e) return R.KERN_INVALID_NAME;
    if (!this.canSupply(e, disposition, true)) return R.KERN_INVALID_RIGHT;
    this.copyinEntryInto(e, disposition, right);
    return R.KERN_SUCCESS;
  }

  /** The mutation half of copy-in; `canSupply` has said yes. */
  private copyinEntry(e: Entry, disposition: number): CarriedRight {
    const right = noRight();
    this.copyinEntryInto(e, disposition, right);
    return right;
  }

  /** `copyinEntry` into an existing right (its port, dead and type are set). */
  private copyinEntryInto(e: Entry, disposition: number, right: CarriedRight): void {
    const k = this.kernel;
    right.type = receivedPortType(disposition);
    if (e.type === MACH_PORT_TYPE_DEAD_NAME) {
      right.port = null;
      right.dead = true;
      if (disposition !== MACH_MSG_TYPE_COPY_SEND && --e.urefs === 0) this.freeEntry(e);
      return;
    }
    const port = e.port!;
    right.port = port;
    right.dead = false;
    switch (disposition) {
      case MACH_MSG_TYPE_MOVE_RECEIVE:
        if (e.type & MACH_PORT_TYPE_SEND) {
          e.type = MACH_PORT_TYPE_SEND;
        } else {
          this.freeEntry(e);
          this.portDeleted(e);
        }
        k.detachReceive(port);
        break;
      case MACH_MSG_TYPE_COPY_SEND:
        port.srights++;
        break;
      case MACH_MSG_TYPE_MOVE_SEND:
        if (e.urefs > 1) {
          e.urefs--;
          port.srights++;
        } else if (e.type & MACH_PORT_TYPE_RECEIVE) {
          e.type = MACH_PORT_TYPE_RECEIVE;
          e.urefs = 0;
          removeHolder(port, e);
        } else {
          this.freeEntry(e);
          this.portDeleted(e);
        }
        break;
      case MACH_MSG_TYPE_MAKE_SEND:
        port.mscount++;
        port.srights++;
        break;
      case MACH_MSG_TYPE_MOVE_SEND_ONCE:
        this.freeEntry(e);
        this.portDeleted(e);
        this.recycleEntry(e);
        break;
      case MACH_MSG_TYPE_MAKE_SEND_ONCE:
        port.sorights++;
        break;
    }
  }

  /** Puts a carried right into the space and returns its name (NULL/DEAD for no right). */
  copyoutRight(r: CarriedRight): number {
    const port = r.port;
    if (!port) return r.dead ? MACH_PORT_DEAD : MACH_PORT_NULL;
    r.port = null;
    if (!this.alive) {
      this.kernel.releaseCarried({ ...r, port });
      return MACH_PORT_NULL;
    }
    if (port.dead) {
      if (r.type === MACH_MSG_TYPE_PORT_SEND) port.srights--;
      else if (r.type === MACH_MSG_TYPE_PORT_SEND_ONCE) port.sorights--;
      return MACH_PORT_DEAD;
    }
    if (r.type === MACH_MSG_TYPE_PORT_SEND_ONCE) {
      const name = this.newName();
      this.addEntry(name, MACH_PORT_TYPE_SEND_ONCE, 1, port, true);
      return name;
    }
    const e = this.portEntry(port);
    if (e) {
      this.copyoutInto(e, { ...r, port });
      return e.name;
    }
    const name = this.newName();
    if (r.type === MACH_MSG_TYPE_PORT_SEND) {
      this.addEntry(name, MACH_PORT_TYPE_SEND, 1, port, true);
    } else {
      this.installReceive(port, this.addEntry(name, MACH_PORT_TYPE_RECEIVE, 0, port, true));
    }
    return name;
  }

  /** Merges a send or receive right into the existing entry for its port. */
  private copyoutInto(e: Entry, r: CarriedRight): void {
    const port = r.port!;
    if (r.type === MACH_MSG_TYPE_PORT_SEND) {
      if (e.type & MACH_PORT_TYPE_SEND) {
        if (e.urefs >= SEND_UREFS_MAX) this.kernel.releaseSend(port);
        else {
          e.urefs++;
          port.srights--;
        }
      } else {
        e.type |= MACH_PORT_TYPE_SEND;
        e.urefs = 1;
        addHolder(port, e);
      }
    } else {
      e.type |= MACH_PORT_TYPE_RECEIVE;
      this.installReceive(port, e);
    }
  }

  private installReceive(port: Port, e: Entry): void {
    port.receiver = this;
    port.receiverName = e.name;
    port.destination = null;
  }

  // ---------------------------------------------------------------------------------------------
  // mach_msg

  /**
   * mach_msg(msg, option, send_size, rcv_size, rcv_name, timeout, notify). The send part runs
   * synchronously (its copy-in and enqueue happen before this returns); the promise settles when
   * the whole call is done. A failed send that returns the message (timed out) rewrites `msg` in
   * place with the rights restored under this task's names. The received message is in the result.
   */
  mach_msg(
    msg: MachMessage | null,
    option: number,
    sendSize = msg ? msg.bytes.length : 0,
    rcvSize = 0,
    rcvName = MACH_PORT_NULL,
    timeout = 0,
    _notify = MACH_PORT_NULL,
  ): Promise<MachMsgResult> {
    const r = this.machMsg(msg, option, sendSize, rcvSize, rcvName, timeout);
    return r instanceof Promise ? r : Promise.resolve(r);
  }

  /**
   * `mach_msg` without the promise when the call completes at once (for the MIG client, which
   * would otherwise wait a promise hop for a reply that is already there): the result, or a
   * promise for it when the call blocks.
   *
   * With both send and receive (an RPC), receivers the send woke that run at once (a serve loop)
   * run right after the send and before the receive, as Mach hands the processor to the server
   * while the client blocks: a server that answers without waiting has queued its reply by then.
   */
  machMsg(
    msg: MachMessage | null,
    option: number,
    sendSize = msg ? msg.bytes.length : 0,
    rcvSize = 0,
    rcvName = MACH_PORT_NULL,
    timeout = 0,
    donate = false,
  ): MachMsgResult | Promise<MachMsgResult> {
    if (option & MACH_SEND_MSG) {
      if (!msg) return { code: R.MACH_SEND_INVALID_DATA, msg: null };
      const sent = option & MACH_RCV_MSG ? this.rpcSend(msg, option, sendSize, donate, timeout) : this.sendMessage(msg, option, sendSize, timeout, donate);
      if (typeof sent !== "number") return sent.then((code) => this.receiveAfterSend(code, option, rcvSize, rcvName, timeout));
      if (sent !== R.KERN_SUCCESS) return { code: sent, msg: null };
    }
    if (!(option & MACH_RCV_MSG)) return { code: R.KERN_SUCCESS, msg: null };
    return this.receive(option, rcvSize, rcvName, timeout);
  }

  /**
   * @internal The send half of an RPC's `mach_msg` (send and receive; `machMsg` uses it): a
   * server the send wakes runs right after it (Mach's hand-off), so that a server answering at
   * once has queued its reply when this returns. The code, or a promise of it when the send
   * blocked on a full queue. For callers that then receive their own way (the MIG client:
   * `tryReceive`, else `receiveWith` and a waiter object instead of a promise).
   */
  rpcSend(msg: MachMessage, option: number, sendSize: number, donate = false, timeout = 0): number | Promise<number> {
    const k = this.kernel;
    const rpc = k.rpcSend;
    k.rpcSend = true;
    try {
      return this.sendMessage(msg, option, sendSize, timeout, donate);
    } finally {
      k.rpcSend = rpc;
      // Even when a message observer threw: what the send woke must not be left waiting.
      if (!rpc) k.runReady();
    }
  }

  /**
   * @internal A receive on `rcvName` that does not wait: the result when a message is queued or
   * the receive fails at once, null when it would block (nothing is queued for the caller then).
   */
  tryReceive(rcvName: number, option: number, rcvSize: number): MachMsgResult | null {
    const q = this.receiveQueue(rcvName);
    if (typeof q === "number") return { code: q, msg: null };
    return q.queue.length === 0 ? null : this.takeQueued(q, option, rcvSize);
  }

  /** A receive from `q`, whose queue is not empty: its head copied out, or kept if it is too large (MACH_RCV_LARGE). */
  private takeQueued(q: Port | PortSet, option: number, rcvSize: number): MachMsgResult {
    const head = q.queue[0];
    if (head.size > rcvSize && option & MACH_RCV_LARGE) return this.tooLargeKept(head.size);
    return this.completeReceive(this.kernel.dequeue(q), rcvSize);
  }

  private receiveAfterSend(code: number, option: number, rcvSize: number, rcvName: number, timeout: number): MachMsgResult | Promise<MachMsgResult> {
    if (code !== R.KERN_SUCCESS || !(option & MACH_RCV_MSG)) return { code, msg: null };
    return this.receive(option, rcvSize, rcvName, timeout);
  }

  /**
   * The send half of `mach_msg` (MACH_SEND_MSG implied): the code at once when the send
   * completed or failed without blocking, else a promise (a full queue, MACH_SEND_TIMEOUT
   * honoured). Lets a caller that only sends skip a promise round trip.
   *
   * `donate` (the MIG stubs, for messages they own and never hand out): the caller will neither
   * read nor write `msg.bytes` again once the send succeeded, so the kernel may keep them as its
   * copy instead of copying them (the receiver then gets them, with its header written in).
   * A send that fails in the header, or times out, leaves the message as always (untouched, or
   * put back in `msg`). One that fails in the body of a complex message (MACH_SEND_INVALID_RIGHT,
   * _TYPE, _MEMORY...) leaves a donated message as copy-in left it: descriptors before the bad
   * item rewritten and their port slots zeroed, those rights already released by the kernel; a
   * donor must not read it after such a failure (MIG's stubs only throw or send an error reply,
   * and their receive loop destroys a failed reply only after header failures).
   * Ignored while a message observer is attached (it may keep what it is given).
   */
  sendMessage(msg: MachMessage, option: number, sendSize = msg.bytes.length, timeout = 0, donate = false): number | Promise<number> {
    const k = this.kernel;
    if (k.observing) for (const o of k.observers) o.send?.(this, msg, sendSize);
    const abi = k.abi;
    if (!this.alive) return R.MACH_SEND_INVALID_DEST;
    if (sendSize < abi.headerSize || sendSize % (abi.alignment === 8 ? 8 : 4) !== 0) return R.MACH_SEND_MSG_TOO_SMALL;
    if (sendSize > msg.bytes.length) return R.MACH_SEND_INVALID_DATA;
    // A donated message becomes the kernel's copy as it is (see above for a body failure).
    const o = abi.header;
    const bytes = donate && !k.observing && sendSize === msg.bytes.length ? msg.bytes : copyBytes(msg.bytes, sendSize);
    const bits = rd32(bytes, o.bits);
    const destDisp = bits & 0xff;
    const replyDisp = (bits >>> 8) & 0xff;
    if (destDisp < MACH_MSG_TYPE_MOVE_SEND || destDisp > MACH_MSG_TYPE_MAKE_SEND_ONCE) return R.MACH_SEND_INVALID_HEADER;
    if (replyDisp !== 0 && (replyDisp < MACH_MSG_TYPE_MOVE_SEND || replyDisp > MACH_MSG_TYPE_MAKE_SEND_ONCE)) {
      return R.MACH_SEND_INVALID_HEADER;
    }
    const localName = rd32(bytes, o.localPort);
    if (replyDisp === 0 && localName !== MACH_PORT_NULL) return R.MACH_SEND_INVALID_HEADER;

    const reply = replyDisp === 0 ? NO_REPLY : newRight();
    const dest = this.copyinHeader(rd32(bytes, o.remotePort), destDisp, localName, replyDisp, reply);
    if (typeof dest === "number") return dest;
    const flags = (bits & ~0xffff & ~MACH_MSGH_BITS_CIRCULAR) >>> 0;
    const id = rd32(bytes, o.id) | 0;
    const kmsg = newKmsg(flags, sendSize, id, dest, receivedPortType(destDisp), reply, bytes);
    if (bits & MACH_MSGH_BITS_COMPLEX) {
      const code = this.copyinBody(kmsg, msg);
      if (code !== 0) {
        k.destroyKmsg(kmsg);
        return code;
      }
    }
    if (kmsg.destType === MACH_MSG_TYPE_PORT_SEND && k.isFull(dest)) return this.sendBlocked(kmsg, msg, option, timeout);
    // Copy-in is complete and nothing else is in progress: a waiting receiver may take the
    // message at once (`post`).
    k.post(kmsg);
    return R.KERN_SUCCESS;
  }

  /** A send through a send right to a full queue: waits for room (or the timeout, §3.10). */
  private sendBlocked(kmsg: KMsg, msg: MachMessage, option: number, timeout: number): number | Promise<number> {
    const port = kmsg.dest;
    if (option & MACH_SEND_TIMEOUT && timeout === 0) {
      this.pseudoReceive(kmsg, msg);
      return R.MACH_SEND_TIMED_OUT;
    }
    return new Promise<number>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const blocked = {
        kmsg,
        wake: () => {
          if (timer !== undefined) clearTimeout(timer);
          resolve(R.KERN_SUCCESS);
        },
      };
      port.blockedSenders.push(blocked);
      if (option & MACH_SEND_TIMEOUT) {
        timer = setTimeout(() => {
          const i = port.blockedSenders.indexOf(blocked);
          if (i < 0) return;
          port.blockedSenders.splice(i, 1);
          this.pseudoReceive(kmsg, msg);
          resolve(R.MACH_SEND_TIMED_OUT);
        }, timeout);
      }
    });
  }

  /**
   * Header copy-in, all or nothing (§3.4): the destination port, or the error code. The reply
   * right is written into `reply`.
   */
  private copyinHeader(destName: number, destDisp: number, replyName: number, replyDisp: number, reply: CarriedRight): number | Port {
    const de = isValidName(destName) ? this.entries.get(destName) : undefined;
    if (!de) return R.MACH_SEND_INVALID_DEST;
    if (replyDisp !== 0) reply.type = receivedPortType(replyDisp);
    const dest = this.destScratch;
    if (replyName === destName) {
      if (!this.canSupply(de, replyDisp, true)) return R.MACH_SEND_INVALID_REPLY;
      if (destDisp === MACH_MSG_TYPE_MOVE_SEND_ONCE || replyDisp === MACH_MSG_TYPE_MOVE_SEND_ONCE) {
        return R.MACH_SEND_INVALID_DEST;
      }
      if (!this.canSupply(de, destDisp, false)) return R.MACH_SEND_INVALID_DEST;
      if (destDisp === MACH_MSG_TYPE_MOVE_SEND && replyDisp === MACH_MSG_TYPE_MOVE_SEND && de.urefs < 2) {
        return R.MACH_SEND_INVALID_DEST;
      }
      // COPY before MOVE, so a single uref serves both.
      if (replyDisp === MACH_MSG_TYPE_COPY_SEND && destDisp === MACH_MSG_TYPE_MOVE_SEND) {
        this.copyinEntryInto(de, replyDisp, reply);
        this.copyinEntryInto(de, destDisp, dest);
      } else {
        this.copyinEntryInto(de, destDisp, dest);
        this.copyinEntryInto(de, replyDisp, reply);
      }
    } else {
      let re: Entry | undefined;
      if (isValidName(replyName)) {
        re = this.entries.get(replyName);
        if (!re) return R.MACH_SEND_INVALID_REPLY;
        if (!this.canSupply(re, replyDisp, true)) return R.MACH_SEND_INVALID_REPLY;
      } else {
        if (replyDisp !== 0) reply.dead = replyName === MACH_PORT_DEAD;
      }
      if (!this.canSupply(de, destDisp, false)) return R.MACH_SEND_INVALID_DEST;
      this.copyinEntryInto(de, destDisp, dest);
      if (re) this.copyinEntryInto(re, replyDisp, reply);
    }
    const port = dest.port!;
    dest.port = null;
    return port;
  }

  /**
   * Body copy-in (§3.6), item by item as the body is checked (a bad item stops it with its code,
   * the items before it copied in). On failure the rights copied so far stay in `kmsg` for
   * destruction. Works on the bytes (see `nextBodyItem`).
   */
  private copyinBody(kmsg: KMsg, msg: MachMessage): number {
    // The task's scratch item, unless a copy-in of this task is already using it (a kernel
    // object called during this one may send again).
    const item = this.bodyItemBusy ? newBodyItem() : this.bodyItem;
    const own = item === this.bodyItem;
    if (own) this.bodyItemBusy = true;
    try {
      return this.copyinBodyItems(kmsg, msg, item);
    } finally {
      if (own) this.bodyItemBusy = false;
    }
  }

  private copyinBodyItems(kmsg: KMsg, msg: MachMessage, item: BodyItem): number {
    const abi = this.kernel.abi;
    const b = kmsg.bytes;
    const size = kmsg.size;
    let carriesRights = false;
    let oolIndex = 0;
    for (let offset = abi.headerSize; offset < size; ) {
      const plain = skipPlainItem(abi, b, offset, size);
      if (plain < 0) return -plain;
      if (plain > 0) {
        offset = plain;
        continue;
      }
      const next = nextBodyItem(abi, b, offset, size, item);
      if (next < 0) return -next;
      offset = next;
      const isPort = isPortRightType(item.name);
      if (isPort || !item.inline) carriesRights = true;
      if (item.inline) {
        if (!isPort) continue;
        for (let i = 0; i < item.number; i++) {
          const at = item.dataOffset + i * abi.inlinePortSize;
          const right = newRight();
          if (this.copyinRightInto(rd32(b, at), item.name, right) !== 0) return R.MACH_SEND_INVALID_RIGHT;
          right.offset = at;
          addRight(kmsg, right);
          wr32(b, at, 0);
          if (abi.inlinePortSize === 8) wr32(b, at + 4, 0);
        }
        rewriteDescriptor(abi, b, item, receivedPortType(item.name), false);
        continue;
      }
      // Out of line. Without deallocate the kernel takes its own copy of the region. With
      // deallocate it is moved, never copied: as in Mach, where vm_map_copyin with src_destroy
      // unmaps the region from the sender, the memory belongs to the message from here on. The
      // sender's slot in msg.ool is emptied; a sender that kept another reference to the same
      // bytes must not write them again (they are the receiver's now). A region longer than the
      // descriptor's count is moved as a view of its first `length` bytes.
      const index = oolIndex++;
      const region = msg.ool[index];
      const length = item.dataBytes;
      if (length > 0 && (!region || region.length < length)) return R.MACH_SEND_INVALID_MEMORY;
      let copy: Uint8Array;
      if (length === 0) copy = new Uint8Array(0);
      else if (item.deallocate) copy = region!.length === length ? region! : region!.subarray(0, length);
      else copy = region!.slice(0, length);
      if (item.deallocate && length > 0) msg.ool[index] = GIVEN_UP;
      const kIndex = kmsg.ool.length;
      // The shared empty list until the first region (a message with none allocates nothing).
      if (kIndex === 0) kmsg.ool = [copy];
      else kmsg.ool.push(copy);
      if (isPort) {
        for (let i = 0; i < item.number; i++) {
          const right = newRight();
          if (this.copyinRightInto(rd32(copy, i * 4), item.name, right) !== 0) return R.MACH_SEND_INVALID_RIGHT;
          right.ool = kIndex;
          right.offset = i * 4;
          addRight(kmsg, right);
          wr32(copy, i * 4, 0);
        }
      }
      wr32(b, item.dataOffset, 0);
      if (abi.pointerSize === 8) wr32(b, item.dataOffset + 4, 0);
      rewriteDescriptor(abi, b, item, isPort ? receivedPortType(item.name) : item.name, true);
    }
    if (!carriesRights) kmsg.flags = (kmsg.flags & ~MACH_MSGH_BITS_COMPLEX) >>> 0;
    return 0;
  }

  /** A failed send returns the message: every right back into this space, header not swapped (§3.10). */
  private pseudoReceive(kmsg: KMsg, msg: MachMessage): void {
    const destName = this.copyoutRight({ port: kmsg.dest, dead: false, type: kmsg.destType, ool: -1, offset: -1 });
    const replyType = kmsg.reply.type;
    const replyName = this.copyoutRight(kmsg.reply);
    this.copyoutBody(kmsg);
    // The bytes may be a view into a kernel slab (copyBytes).
    const view = new DataView(kmsg.bytes.buffer, kmsg.bytes.byteOffset, kmsg.bytes.byteLength);
    writeHeader(view, this.kernel.abi, {
      bits: (kmsg.flags | msghBits(kmsg.destType, replyType)) >>> 0,
      size: kmsg.size,
      remotePort: destName,
      localPort: replyName,
      seqno: 0,
      id: kmsg.id,
    });
    msg.bytes = kmsg.bytes;
    msg.ool = kmsg.ool;
  }

  private copyoutBody(kmsg: KMsg): void {
    const abi = this.kernel.abi;
    const b = kmsg.bytes;
    const rights = kmsg.rights;
    for (let i = 0; i < rights.length; i++) {
      const r = rights[i];
      const name = this.copyoutRight(r);
      if (r.ool < 0) {
        wr32(b, r.offset, name);
        if (abi.inlinePortSize === 8) wr32(b, r.offset + 4, 0);
      } else wr32(kmsg.ool[r.ool], r.offset, name);
    }
  }

  /** The queue a receive on `rcvName` takes from, or the receive's error code. */
  private receiveQueue(rcvName: number): Port | PortSet | number {
    if (!this.alive) return R.MACH_RCV_INVALID_NAME;
    const e = isValidName(rcvName) ? this.entries.get(rcvName) : undefined;
    if (e && e.type & MACH_PORT_TYPE_RECEIVE) {
      if (e.port!.pset) return R.MACH_RCV_IN_SET;
      return e.port!;
    }
    if (e && e.type === MACH_PORT_TYPE_PORT_SET) return e.pset!;
    return R.MACH_RCV_INVALID_NAME;
  }

  /**
   * @internal A receive (no timeout) on `rcvName` for `waiter`'s option and size: the result when
   * a message is queued (or the receive fails) at once, else null, and the waiter is queued
   * for the next message (the kernel calls one of its methods once). For receive loops that keep
   * one waiter object (the serve loop) instead of a promise per receive.
   */
  receiveWith(waiter: ReceiveWaiter, rcvName: number): MachMsgResult | null {
    const q = this.receiveQueue(rcvName);
    if (typeof q === "number") return { code: q, msg: null };
    if (q.queue.length > 0) return this.takeQueued(q, waiter.option, waiter.rcvSize);
    q.receivers.push(waiter);
    return null;
  }

  private receive(option: number, rcvSize: number, rcvName: number, timeout: number): MachMsgResult | Promise<MachMsgResult> {
    const q = this.receiveQueue(rcvName);
    if (typeof q === "number") return { code: q, msg: null };
    if (q.queue.length > 0) return this.takeQueued(q, option, rcvSize);
    if (option & MACH_RCV_TIMEOUT && timeout === 0) return { code: R.MACH_RCV_TIMED_OUT, msg: null };
    const waiter = new PendingReceive(this, option, rcvSize, q);
    const p = new Promise<MachMsgResult>(captureResolve);
    waiter.resolve = captured!;
    captured = null;
    q.receivers.push(waiter);
    if (option & MACH_RCV_TIMEOUT) waiter.timer = setTimeout(receiveTimedOut, timeout, waiter);
    return p;
  }

  /**
   * Wakes every receive waiting on `name` (a receive right or a port set) with
   * MACH_RCV_INTERRUPTED, like thread_abort on the receiving threads.
   */
  interruptReceivers(name: number): number {
    const e = this.entries.get(name);
    if (!e) return R.KERN_INVALID_NAME;
    const q = e.type & MACH_PORT_TYPE_RECEIVE ? e.port : e.type === MACH_PORT_TYPE_PORT_SET ? e.pset : null;
    if (!q) return R.KERN_INVALID_RIGHT;
    this.kernel.failReceivers(q, R.MACH_RCV_INTERRUPTED);
    return R.KERN_SUCCESS;
  }

  /** @internal The result of a MACH_RCV_LARGE receive whose message stays queued. */
  tooLargeKept(size: number): MachMsgResult {
    const bytes = new Uint8Array(this.kernel.abi.headerSize);
    new DataView(bytes.buffer).setUint32(this.kernel.abi.header.size, size, true);
    return { code: R.MACH_RCV_TOO_LARGE, msg: { bytes, ool: [] } };
  }

  /** Consumes the destination right on receipt and returns the local name (§3.2, §3.5). */
  private consumeDest(kmsg: KMsg): number {
    const port = kmsg.dest;
    const local = port.dead ? MACH_PORT_DEAD : port.receiver === this ? port.receiverName : MACH_PORT_NULL;
    if (kmsg.destType === MACH_MSG_TYPE_PORT_SEND) this.kernel.releaseSend(port);
    else if (port.dead || port.receiver === this) port.sorights--;
    else this.kernel.releaseSendOnce(port);
    return local;
  }

  /** @internal Copy-out of a dequeued message into this space. */
  completeReceive(kmsg: KMsg, rcvSize: number): MachMsgResult {
    const abi = this.kernel.abi;
    const destType = kmsg.destType;
    if (!this.alive) {
      this.kernel.destroyKmsg(kmsg);
      return { code: R.MACH_RCV_INVALID_NAME, msg: null };
    }
    if (kmsg.size > rcvSize) {
      const local = this.consumeDest(kmsg);
      const replyType = kmsg.reply.type;
      this.kernel.releaseCarried(kmsg.reply);
      for (const r of kmsg.rights) this.kernel.releaseCarried(r);
      const bytes = new Uint8Array(abi.headerSize);
      writeHeader(new DataView(bytes.buffer), abi, {
        bits: (kmsg.flags | msghBits(replyType, destType)) >>> 0,
        size: kmsg.size,
        remotePort: MACH_PORT_NULL,
        localPort: local,
        seqno: kmsg.seqno,
        id: kmsg.id,
      });
      return { code: R.MACH_RCV_TOO_LARGE, msg: { bytes, ool: [] } };
    }
    const local = this.consumeDest(kmsg);
    const replyType = kmsg.reply.type;
    const remote = this.copyoutRight(kmsg.reply);
    if (kmsg.rights.length > 0) this.copyoutBody(kmsg);
    const bytes = kmsg.bytes;
    writeReceivedHeader(bytes, abi, kmsg.flags | replyType | (destType << 8), kmsg.size, remote, local, kmsg.seqno, kmsg.id);
    const received: MachMessage = { bytes, ool: kmsg.ool };
    recycleKmsg(kmsg);
    if (this.kernel.observing) for (const o of this.kernel.observers) o.receive?.(this, received);
    return { code: R.KERN_SUCCESS, msg: received };
  }

  /**
   * mach_msg_destroy: releases every right a received (or unsent) message in this space holds,
   * the remote (reply) right and the body's, and drops its out-of-line regions. The local port
   * holds no right (receiving consumed it).
   */
  mach_msg_destroy(msg: MachMessage): void {
    const abi = this.kernel.abi;
    if (msg.bytes.length < abi.headerSize) return;
    const b = msg.bytes;
    const o = abi.header;
    const bits = rd32(b, o.bits);
    this.destroyName(rd32(b, o.remotePort), bits & 0xff);
    if (!(bits & MACH_MSGH_BITS_COMPLEX)) return;
    const size = Math.min(rd32(b, o.size), b.length);
    for (const item of parseBodyBytes(abi, b, size).items) {
      const isPort = isPortRightType(item.name);
      if (item.inline) {
        if (!isPort) continue;
        for (let i = 0; i < item.number; i++) this.destroyName(rd32(b, item.dataOffset + i * abi.inlinePortSize), item.name);
        continue;
      }
      const region = msg.ool[item.oolIndex];
      if (region && isPort) {
        for (let i = 0; i < item.number && (i + 1) * 4 <= region.length; i++) this.destroyName(rd32(region, i * 4), item.name);
      }
      if (region) msg.ool[item.oolIndex] = new Uint8Array(0);
    }
  }

  /** Releases one right of the given type under a name (mach_msg_destroy_port). */
  destroyName(name: number, type: number): void {
    if (!isValidName(name)) return;
    switch (type) {
      case MACH_MSG_TYPE_PORT_SEND:
      case MACH_MSG_TYPE_PORT_SEND_ONCE:
        this.mach_port_deallocate(name);
        break;
      case MACH_MSG_TYPE_PORT_RECEIVE:
        this.mach_port_mod_refs(name, MACH_PORT_RIGHT_RECEIVE, -1);
        break;
      case MACH_MSG_TYPE_COPY_SEND:
      case MACH_MSG_TYPE_MAKE_SEND:
      case MACH_MSG_TYPE_MAKE_SEND_ONCE:
        break;
    }
  }
}
