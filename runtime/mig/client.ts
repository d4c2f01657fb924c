/**
 * The client side of a MIG call (mig-reference §7.1): a reply port per call, send + receive, and
 * the reply checks with their codes. Generated user stubs build the request, call `mig_rpc`, then
 * `checkReply` and unpack.
 */
import { newHeader, readHeader } from "../codec/header.js";
import {
  MACH_MSG_TYPE_MAKE_SEND_ONCE,
  MACH_NOTIFY_SEND_ONCE,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_RCV_LARGE,
  MACH_RCV_MSG,
  MACH_RCV_TIMEOUT,
  MACH_SEND_MSG,
  ReturnCode,
} from "../constants.js";
import type { Task } from "../kernel/task.js";
import type { MachMessage } from "../message.js";
import { viewOf } from "./reply.js";

/**
 * Reply ports for one task: `get` hands out an idle receive right, `put` returns one after a
 * clean call, `discard` destroys one after a failed call so a late reply can never be taken for
 * a later call's reply (mig_get_reply_port / mig_put_reply_port / mig_dealloc_reply_port).
 */
export class ReplyPortPool {
  private readonly idle: number[] = [];
  constructor(
    readonly task: Task,
    readonly maxIdle = 8,
  ) {}

  get(): number {
    return this.idle.pop() ?? this.task.mach_reply_port();
  }

  put(name: number): void {
    if (this.idle.length < this.maxIdle) this.idle.push(name);
    else this.discard(name);
  }

  discard(name: number): void {
    this.task.mach_port_mod_refs(name, MACH_PORT_RIGHT_RECEIVE, -1);
  }

  /** Idle reply ports (for tests). */
  get size(): number {
    return this.idle.length;
  }
}

export interface RpcOptions {
  /** Reply ports come from here (default: a new receive right per call, destroyed afterwards). */
  pool?: ReplyPortPool;
  /** Milliseconds to wait for the reply (MIG's waittime); 0 or absent waits forever. */
  timeout?: number;
  /** Extra mach_msg option bits (MACH_SEND_TIMEOUT, ...). */
  option?: number;
  /** Initial receive buffer size; larger replies are received anyway (MACH_RCV_LARGE). */
  rcvSize?: number;
  /**
   * A reply port the caller owns (MIG's `replyport` argument): the request's header already
   * names it with its disposition, the reply is received on it, and it is never destroyed here.
   */
  replyPort?: number;
}

export interface RpcResult {
  code: number;
  /** The reply, owned by the caller (its rights and regions), when `code` is KERN_SUCCESS. */
  reply: MachMessage | null;
}

/**
 * Sends a routine's request with a fresh send-once reply right and waits for the reply. Returns
 * the mach_msg error, MIG_SERVER_DIED (a send-once notification came back instead of a reply)
 * or MIG_REPLY_MISMATCH (a reply with the wrong id, destroyed), else the reply.
 */
export async function mig_rpc(task: Task, request: MachMessage, options: RpcOptions = {}): Promise<RpcResult> {
  const abi = task.kernel.abi;
  const o = abi.header;
  const pool = options.pool;
  const own = options.replyPort === undefined;
  const replyPort = own ? (pool ? pool.get() : task.mach_reply_port()) : options.replyPort!;
  const bytes = request.bytes;
  // The header is read and written in place, byte by byte (no DataView per call).
  const requestId = rd32(bytes, o.id) | 0;
  if (own) {
    wr32(bytes, o.bits, (rd32(bytes, o.bits) & ~0xff00) | (MACH_MSG_TYPE_MAKE_SEND_ONCE << 8));
    wr32(bytes, o.localPort, replyPort);
    if (abi.inlinePortSize === 8) {
      wr32(bytes, o.remotePort + 4, 0);
      wr32(bytes, o.localPort + 4, 0);
    }
  }
  const timeout = options.timeout ?? 0;
  let option = MACH_SEND_MSG | MACH_RCV_MSG | MACH_RCV_LARGE | (options.option ?? 0);
  if (timeout > 0) option |= MACH_RCV_TIMEOUT;
  let rcvSize = options.rcvSize ?? 4096;
  let r = await task.mach_msg(request, option, bytes.length, rcvSize, replyPort, timeout);
  while (r.code === ReturnCode.MACH_RCV_TOO_LARGE) {
    rcvSize = readHeader(viewOf(r.msg!), abi, newHeader()).size;
    r = await task.mach_msg(null, option & ~MACH_SEND_MSG, 0, rcvSize, replyPort, timeout);
  }
  if (r.code !== ReturnCode.KERN_SUCCESS) {
    if (own) discardReplyPort(task, pool, replyPort);
    return { code: r.code, reply: null };
  }
  const reply = r.msg!;
  const id = rd32(reply.bytes, o.id) | 0;
  if (id !== requestId + 100) {
    if (id === MACH_NOTIFY_SEND_ONCE) {
      if (own) releaseReplyPort(task, pool, replyPort);
      return { code: ReturnCode.MIG_SERVER_DIED, reply: null };
    }
    task.mach_msg_destroy(reply);
    if (own) discardReplyPort(task, pool, replyPort);
    return { code: ReturnCode.MIG_REPLY_MISMATCH, reply: null };
  }
  if (own) releaseReplyPort(task, pool, replyPort);
  return { code: ReturnCode.KERN_SUCCESS, reply };
}

/** After a clean call: back to the pool (or destroyed without one). */
function releaseReplyPort(task: Task, pool: ReplyPortPool | undefined, name: number): void {
  if (pool) pool.put(name);
  else discardReplyPort(task, undefined, name);
}

/** After a failed call: destroyed, so a late reply is never taken for a later call's. */
function discardReplyPort(task: Task, pool: ReplyPortPool | undefined, name: number): void {
  if (pool) pool.discard(name);
  else task.mach_port_mod_refs(name, MACH_PORT_RIGHT_RECEIVE, -1);
}

/** Little-endian 32-bit read and write at `o` of a message's bytes. */
function rd32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}

/** Sends a simpleroutine's request: resolves once it is queued (or with the mach_msg error). */
export async function mig_send(task: Task, request: MachMessage, option = 0, timeout = 0): Promise<number> {
  return (await task.mach_msg(request, MACH_SEND_MSG | option, request.bytes.length, 0, 0, timeout)).code;
}
