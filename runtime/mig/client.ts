/**
 * The client side of a MIG call (mig-reference §7.1): a reply port per call, send + receive, and
 * the reply checks with their codes. Generated user stubs build the request, call `mig_rpc`, then
 * `checkReply` and unpack.
 */
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
import type { MachMsgResult, Task } from "../kernel/task.js";
import type { MachMessage } from "../message.js";
import { rd32, wr32 } from "../bytes.js";

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
  const pool = options.pool;
  const own = options.replyPort === undefined;
  const replyPort = own ? takeReplyPort(task, pool) : options.replyPort!;
  if (own) setReplyPort(task, request, replyPort);
  const timeout = options.timeout ?? 0;
  const option = rpcOption(options.option ?? 0, timeout);
  let r = await task.mach_msg(request, option, request.bytes.length, options.rcvSize ?? 4096, replyPort, timeout);
  if (r.code === ReturnCode.MACH_RCV_TOO_LARGE) r = await receiveLarge(task, r, option, replyPort, timeout);
  const code = rpcOutcome(task, rd32(request.bytes, task.kernel.abi.header.id) | 0, r, own ? pool : null, replyPort);
  return { code, reply: code === ReturnCode.KERN_SUCCESS ? r.msg : null };
}

/** MIG's own reply port for a call: from the pool, else a new receive right. */
export function takeReplyPort(task: Task, pool: ReplyPortPool | undefined): number {
  return pool ? pool.get() : task.mach_reply_port();
}

/**
 * Puts MIG's own reply port in the request header (msgh_local_port, MAKE_SEND_ONCE), in place,
 * byte by byte (no DataView per call).
 */
export function setReplyPort(task: Task, request: MachMessage, replyPort: number): void {
  const abi = task.kernel.abi;
  const o = abi.header;
  const bytes = request.bytes;
  wr32(bytes, o.bits, (rd32(bytes, o.bits) & ~0xff00) | (MACH_MSG_TYPE_MAKE_SEND_ONCE << 8));
  wr32(bytes, o.localPort, replyPort);
  if (abi.inlinePortSize === 8) {
    wr32(bytes, o.remotePort + 4, 0);
    wr32(bytes, o.localPort + 4, 0);
  }
}

/** The mach_msg option of a call: send, receive (MACH_RCV_LARGE), a timeout if any. */
export function rpcOption(extra: number, timeout: number): number {
  const option = MACH_SEND_MSG | MACH_RCV_MSG | MACH_RCV_LARGE | extra;
  return timeout > 0 ? option | MACH_RCV_TIMEOUT : option;
}

/** Receives again, with a buffer of the size MACH_RCV_TOO_LARGE reported, until it fits. */
export async function receiveLarge(task: Task, r: MachMsgResult, option: number, replyPort: number, timeout: number): Promise<MachMsgResult> {
  const o = task.kernel.abi.header;
  while (r.code === ReturnCode.MACH_RCV_TOO_LARGE) {
    r = await task.mach_msg(null, option & ~MACH_SEND_MSG, 0, rd32(r.msg!.bytes, o.size), replyPort, timeout);
  }
  return r;
}

/**
 * The outcome of a call's mach_msg: KERN_SUCCESS (the reply is `r.msg`, the caller's), the
 * mach_msg error, MIG_SERVER_DIED or MIG_REPLY_MISMATCH (the reply destroyed). MIG's own reply
 * port (`pool` not null: undefined for no pool) goes back to the pool after a clean call and is
 * destroyed after a failed one. `requestId` is the msgh_id of the request that was sent (the id
 * rather than the request: the MIG stubs give the request's memory back once it is sent).
 */
export function rpcOutcome(task: Task, requestId: number, r: MachMsgResult, pool: ReplyPortPool | undefined | null, replyPort: number): number {
  const own = pool !== null;
  if (r.code !== ReturnCode.KERN_SUCCESS) {
    if (own) discardReplyPort(task, pool, replyPort);
    return r.code;
  }
  const o = task.kernel.abi.header;
  const reply = r.msg!;
  const id = rd32(reply.bytes, o.id) | 0;
  if (id !== requestId + 100) {
    if (id === MACH_NOTIFY_SEND_ONCE) {
      if (own) releaseReplyPort(task, pool, replyPort);
      return ReturnCode.MIG_SERVER_DIED;
    }
    task.mach_msg_destroy(reply);
    if (own) discardReplyPort(task, pool, replyPort);
    return ReturnCode.MIG_REPLY_MISMATCH;
  }
  if (own) releaseReplyPort(task, pool, replyPort);
  return ReturnCode.KERN_SUCCESS;
}

/** After a clean call: back to the pool (or destroyed without one). */
export function releaseReplyPort(task: Task, pool: ReplyPortPool | undefined, name: number): void {
  if (pool) pool.put(name);
  else discardReplyPort(task, undefined, name);
}

/** After a failed call: destroyed, so a late reply is never taken for a later call's. */
function discardReplyPort(task: Task, pool: ReplyPortPool | undefined, name: number): void {
  if (pool) pool.discard(name);
  else task.mach_port_mod_refs(name, MACH_PORT_RIGHT_RECEIVE, -1);
}

/** Sends a simpleroutine's request: resolves once it is queued (or with the mach_msg error). */
export async function mig_send(task: Task, request: MachMessage, option = 0, timeout = 0): Promise<number> {
  return (await task.mach_msg(request, MACH_SEND_MSG | option, request.bytes.length, 0, 0, timeout)).code;
}
