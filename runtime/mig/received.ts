/**
 * A received request and the rights and regions it carries, with their ownership explicit.
 *
 * mig-reference §7.3: a server function that succeeds (or returns MIG_NO_REPLY) has consumed
 * everything the request carried; on any other result the receive loop destroys the request.
 * Here every right and region of the request is a numbered item that can leave the message
 * exactly once: `takeRight` / `takeOol` hand it to the handler, `releaseRight` deallocates it,
 * `destroy` releases whatever is still in the message. A second take, or a release after a take,
 * throws, and `destroy` skips what already left, so a handler that releases and then fails does
 * not cause a double release: that bug cannot be written through this API.
 */
import { rd32 } from "../bytes.js";
import { MACH_MSGH_BITS_COMPLEX, type MessageHeader } from "../codec/header.js";
import { isPortRightType, MACH_PORT_NULL } from "../constants.js";
import type { MachMessage } from "../message.js";
import { newBodyItem, nextBodyItem, skipPlainItem } from "../kernel/body.js";
import type { Task } from "../kernel/task.js";

interface RightItem {
  name: number;
  type: number;
  gone: boolean;
}

const NO_RIGHTS: RightItem[] = [];
const NO_OOL: boolean[] = [];

/** `n` times false (not `fill`, a C++ builtin call in Node 20). */
function falses(n: number): boolean[] {
  const a = new Array<boolean>(n);
  for (let i = 0; i < n; i++) a[i] = false;
  return a;
}

export class ReceivedMessage implements MachMessage {
  // Fields are `declare`d and all set by the constructor, in one order: class field definitions
  // (ES2022 [[Define]] semantics) would define each one first, which cost more than the rest of
  // the construction on every request.
  declare readonly task: Task;
  declare bytes: Uint8Array;
  declare ool: Uint8Array[];
  /** Header fields, read byte by byte (a DataView over a small message costs more than the call). */
  private declare readonly bits: number;
  private declare readonly remotePort: number;
  private declare readonly localPort: number;
  declare readonly seqno: number;
  declare readonly id: number;
  private declare readonly size: number;
  /**
   * The body rights, found by walking the body only when first asked for (`list`): a request
   * whose handler succeeds is consumed whole (`takeAll`) without it. null until then.
   */
  private declare rights: RightItem[] | null;
  /** `takeAll` ran before the rights were listed: they are all gone once listed. */
  private declare allTaken: boolean;
  private declare readonly oolGone: boolean[];
  private declare replyGone: boolean;

  constructor(task: Task, msg: MachMessage) {
    const b = msg.bytes;
    this.task = task;
    this.bytes = b;
    this.ool = msg.ool;
    const o = task.kernel.abi.header;
    // Written out rather than six rd32 calls, which V8 stopped inlining here (perf: rd32 as a
    // function of its own under the serve loop, ~1.5% of an in-process null RPC).
    let k = o.bits;
    this.bits = (b[k] | (b[k + 1] << 8) | (b[k + 2] << 16) | (b[k + 3] << 24)) >>> 0;
    k = o.size;
    this.size = (b[k] | (b[k + 1] << 8) | (b[k + 2] << 16) | (b[k + 3] << 24)) >>> 0;
    k = o.remotePort;
    this.remotePort = (b[k] | (b[k + 1] << 8) | (b[k + 2] << 16) | (b[k + 3] << 24)) >>> 0;
    k = o.localPort;
    this.localPort = (b[k] | (b[k + 1] << 8) | (b[k + 2] << 16) | (b[k + 3] << 24)) >>> 0;
    k = o.seqno;
    this.seqno = (b[k] | (b[k + 1] << 8) | (b[k + 2] << 16) | (b[k + 3] << 24)) >>> 0;
    k = o.id;
    this.id = b[k] | (b[k + 1] << 8) | (b[k + 2] << 16) | (b[k + 3] << 24);
    // Listed now when the message has out-of-line regions: a region a handler takes is its own to
    // write, and a port array's names must be the ones received.
    this.rights = !(this.bits & MACH_MSGH_BITS_COMPLEX) ? NO_RIGHTS : msg.ool.length > 0 ? bodyRights(task, msg) : null;
    this.allTaken = false;
    this.oolGone = msg.ool.length === 0 ? NO_OOL : falses(msg.ool.length);
    this.replyGone = false;
  }

  /** The header as received. */
  get header(): Readonly<MessageHeader> {
    return { bits: this.bits, size: this.size, remotePort: this.remotePort, localPort: this.localPort, seqno: this.seqno, id: this.id };
  }
  /** The request port (msgh_local_port): the receiver's name, no right attached. */
  get requestPort(): number {
    return this.localPort;
  }
  /** The reply right's name (msgh_remote_port), while the message still owns it. */
  get replyPort(): number {
    return this.replyGone ? MACH_PORT_NULL : this.remotePort;
  }
  get replyType(): number {
    return this.bits & 0xff;
  }
  /** Body rights in body order (inline items, OOL port arrays element by element). */
  get rightCount(): number {
    return this.list().length;
  }
  /** True once every right, region and the reply right has left the message. */
  get empty(): boolean {
    return this.replyGone && this.list().every((r) => r.gone) && this.oolGone.every((g) => g);
  }

  private list(): RightItem[] {
    let rights = this.rights;
    if (rights === null) {
      rights = this.rights = bodyRights(this.task, this);
      if (this.allTaken) for (let i = 0; i < rights.length; i++) rights[i].gone = true;
    }
    return rights;
  }

  private right(i: number): RightItem {
    const r = this.list()[i];
    if (!r) throw new RangeError(`request carries no right #${i}`);
    if (r.gone) throw new Error(`right #${i} of message ${this.id} was already taken or released`);
    return r;
  }

  /** Takes body right `i` (its name in the task); the caller now owns it. */
  takeRight(i: number): { name: number; type: number } {
    const r = this.right(i);
    r.gone = true;
    return { name: r.name, type: r.type };
  }

  /** Deallocates body right `i` now. */
  releaseRight(i: number): void {
    const r = this.right(i);
    r.gone = true;
    this.task.destroyName(r.name, r.type);
  }

  /**
   * Deallocates now one right the request carried under `name` (the first still in the message),
   * so a later `destroy` skips it. Throws when the request carries no such right any more.
   */
  releaseName(name: number): void {
    const i = this.list().findIndex((r) => !r.gone && r.name === name);
    if (i < 0) throw new Error(`message ${this.id} carries no right named ${name} (already taken or released?)`);
    this.releaseRight(i);
  }

  /** Takes out-of-line region `i`; the caller now owns it. */
  takeOol(i: number): Uint8Array {
    if (i >= this.oolGone.length) throw new RangeError(`request carries no region #${i}`);
    if (this.oolGone[i]) throw new Error(`region #${i} of message ${this.id} was already taken or released`);
    this.oolGone[i] = true;
    return this.ool[i];
  }

  /** Takes the reply right (MIG's `sreplyport`), for a reply sent later. */
  takeReplyPort(): { name: number; type: number } {
    if (this.replyGone) throw new Error(`the reply right of message ${this.id} was already taken`);
    this.replyGone = true;
    return { name: this.remotePort, type: this.replyType };
  }

  // The receive loop's own operations are static, not methods: a handler is given the request
  // itself as its MigRequest, and no method of the request can end it behind the loop's back.

  /** @internal The reply right left in the reply message (the loop's send took it). */
  static replySent(m: ReceivedMessage): void {
    m.replyGone = true;
  }

  /** @internal The handler keeps everything the request carried (the success contract). */
  static takeAll(m: ReceivedMessage): void {
    const rights = m.rights;
    if (rights === null) m.allTaken = true;
    else for (let i = 0; i < rights.length; i++) rights[i].gone = true;
    const ool = m.oolGone;
    for (let i = 0; i < ool.length; i++) ool[i] = true;
  }

  /**
   * @internal Releases every right and region still in the message (mach_msg_destroy over what
   * is left). With `keepReply` the reply right stays (the loop needs it for the error reply).
   */
  static destroy(m: ReceivedMessage, keepReply = false): void {
    if (!keepReply && !m.replyGone) {
      m.replyGone = true;
      m.task.destroyName(m.remotePort, m.replyType);
    }
    const rights = m.list();
    for (let i = 0; i < rights.length; i++) {
      const r = rights[i];
      if (r.gone) continue;
      r.gone = true;
      m.task.destroyName(r.name, r.type);
    }
    const ool = m.oolGone;
    for (let i = 0; i < ool.length; i++) {
      if (ool[i]) continue;
      ool[i] = true;
      m.ool[i] = new Uint8Array(0);
    }
  }
}

/**
 * The rights a complex message's body carries, in body order. Walks the body with one scratch
 * item (`nextBodyItem`), not `parseBodyBytes`, which copies every item into an object of its own:
 * this runs for every complex request a server receives. A bad item ends the walk (the items
 * before it count), as with `parseBodyBytes`.
 */
function bodyRights(task: Task, msg: MachMessage): RightItem[] {
  const abi = task.kernel.abi;
  const b = msg.bytes;
  const rights: RightItem[] = [];
  const item = scratchItem;
  let oolIndex = 0;
  for (let offset = abi.headerSize; offset < b.length; ) {
    const plain = skipPlainItem(abi, b, offset, b.length);
    if (plain < 0) break;
    if (plain > 0) {
      offset = plain;
      continue;
    }
    const next = nextBodyItem(abi, b, offset, b.length, item);
    if (next < 0) break;
    offset = next;
    const ool = item.inline ? -1 : oolIndex++;
    if (!isPortRightType(item.name)) continue;
    for (let i = 0; i < item.number; i++) {
      let name = MACH_PORT_NULL;
      // Byte by byte, no DataView (it would materialise the ArrayBuffer of a small message).
      if (ool < 0) name = rd32(b, item.dataOffset + i * abi.inlinePortSize);
      else {
        const r = msg.ool[ool];
        if (r && (i + 1) * 4 <= r.length) name = rd32(r, i * 4);
      }
      rights.push({ name, type: item.name, gone: false });
    }
  }
  return rights;
}

/** `bodyRights`' item (the walk runs to completion without calling out, so one is enough). */
const scratchItem = newBodyItem();

/** Little-endian 32-bit read at `o`. */
