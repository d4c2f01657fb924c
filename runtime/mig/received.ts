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
import { MACH_MSGH_BITS_COMPLEX, newHeader, readHeader, type MessageHeader } from "../codec/header.js";
import { isPortRightType, MACH_PORT_NULL } from "../constants.js";
import type { MachMessage } from "../message.js";
import { parseBody } from "../kernel/body.js";
import type { Task } from "../kernel/task.js";
import { viewOf } from "./reply.js";

interface RightItem {
  name: number;
  type: number;
  gone: boolean;
}

export class ReceivedMessage implements MachMessage {
  bytes: Uint8Array;
  ool: Uint8Array[];
  readonly header: Readonly<MessageHeader>;
  private readonly rights: RightItem[] = [];
  private readonly oolGone: boolean[];
  private replyGone = false;

  constructor(
    readonly task: Task,
    msg: MachMessage,
  ) {
    this.bytes = msg.bytes;
    this.ool = msg.ool;
    const abi = task.kernel.abi;
    const view = viewOf(msg);
    this.header = readHeader(view, abi, newHeader());
    if (this.header.bits & MACH_MSGH_BITS_COMPLEX) {
      for (const item of parseBody(abi, view, msg.bytes.length).items) {
        if (!isPortRightType(item.name)) continue;
        for (let i = 0; i < item.number; i++) {
          let name = MACH_PORT_NULL;
          if (item.inline) name = view.getUint32(item.dataOffset + i * abi.inlinePortSize, true);
          else {
            const r = msg.ool[item.oolIndex];
            if (r && (i + 1) * 4 <= r.length) name = new DataView(r.buffer, r.byteOffset, r.byteLength).getUint32(i * 4, true);
          }
          this.rights.push({ name, type: item.name, gone: false });
        }
      }
    }
    this.oolGone = msg.ool.map(() => false);
  }

  get seqno(): number {
    return this.header.seqno;
  }
  get id(): number {
    return this.header.id;
  }
  /** The request port (msgh_local_port): the receiver's name, no right attached. */
  get requestPort(): number {
    return this.header.localPort;
  }
  /** The reply right's name (msgh_remote_port), while the message still owns it. */
  get replyPort(): number {
    return this.replyGone ? MACH_PORT_NULL : this.header.remotePort;
  }
  get replyType(): number {
    return this.header.bits & 0xff;
  }
  /** Body rights in body order (inline items, OOL port arrays element by element). */
  get rightCount(): number {
    return this.rights.length;
  }
  /** True once every right, region and the reply right has left the message. */
  get empty(): boolean {
    return this.replyGone && this.rights.every((r) => r.gone) && this.oolGone.every((g) => g);
  }

  private right(i: number): RightItem {
    const r = this.rights[i];
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
    const i = this.rights.findIndex((r) => !r.gone && r.name === name);
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
    return { name: this.header.remotePort, type: this.replyType };
  }

  /** The handler keeps everything the request carried (the success contract). */
  takeAll(): void {
    for (const r of this.rights) r.gone = true;
    this.oolGone.fill(true);
  }

  /**
   * Releases every right and region still in the message (mach_msg_destroy over what is left).
   * With `keepReply` the reply right stays (the loop needs it for the error reply).
   */
  destroy(keepReply = false): void {
    if (!keepReply && !this.replyGone) {
      this.replyGone = true;
      this.task.destroyName(this.header.remotePort, this.replyType);
    }
    for (const r of this.rights) {
      if (r.gone) continue;
      r.gone = true;
      this.task.destroyName(r.name, r.type);
    }
    for (let i = 0; i < this.oolGone.length; i++) {
      if (this.oolGone[i]) continue;
      this.oolGone[i] = true;
      this.ool[i] = new Uint8Array(0);
    }
  }
}
