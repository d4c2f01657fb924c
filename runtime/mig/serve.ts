/**
 * The server receive loop (mig-reference §7.2-7.3) and the seqno ordering helper (§8).
 *
 * A demux is `(request, seqno) => result` (sync or async), where the result is one of:
 *   - `null`: not this demux's id; the next demux is tried (all null: MIG_BAD_ID);
 *   - a reply message: sent to the request's reply right (nothing is sent when its
 *     msgh_remote_port is NULL, as for a simpleroutine). A bare error reply (RetCode != 0)
 *     counts as a failure: the request is destroyed first;
 *   - a number, the RetCode: KERN_SUCCESS and MIG_NO_REPLY mean the handler consumed the
 *     request (send nothing); any other code means failure: the loop destroys what is left of
 *     the request and sends the error reply (mig_reply_header_t) if there is a reply right.
 * A demux that throws counts as failing with KERN_FAILURE (or the MachError's code).
 *
 * Ownership: on success (or MIG_NO_REPLY) whatever the handler did not release is the handler's
 * (the loop never touches it again); on failure the loop destroys exactly what is still in the
 * `ReceivedMessage`, keeping the reply right for the error reply. Handlers take or release
 * rights through the `ReceivedMessage`, so a release followed by a failure is never released twice.
 *
 * Reply memory: a reply that `migDemux` made (marked with `loopOwnsReply`) is the loop's alone;
 * once the kernel has taken it (sent, or destroyed for want of a reply right) its memory goes back
 * to the codec (memory.ts releaseMessage), as mach_msg_server reuses its reply buffer. A reply any
 * other demux returns is left alone: its maker may keep it, or send it again.
 */
import {
  MACH_PORT_NULL,
  MACH_RCV_LARGE,
  MACH_RCV_MSG,
  MACH_SEND_MSG,
  MachError,
  ReturnCode,
} from "../constants.js";
import type { Runnable } from "../kernel/kernel.js";
import type { KMsg, ReceiveWaiter } from "../kernel/objects.js";
import type { MachMsgResult, Task } from "../kernel/task.js";
import type { MachMessage } from "../message.js";
import { ReceivedMessage } from "./received.js";
import { mayDonate, releaseSent } from "./sent-memory.js";
import { rd32 } from "../bytes.js";
import { isErrorReply, mig_reply_setup, readRetCode } from "./reply.js";

export type DemuxResult = MachMessage | number | null;
export type Demux = (request: ReceivedMessage, seqno: number) => DemuxResult | Promise<DemuxResult>;

export interface ServeOptions {
  /** Requests handled at once (default 16); the loop stops receiving while at the limit. */
  concurrency?: number;
  /** Initial receive buffer; larger requests are received anyway. */
  rcvSize?: number;
  /** Called with anything a demux threw. */
  onError?: (error: unknown, request: ReceivedMessage) => void;
  /**
   * Called each time the loop has taken every queued request and is about to wait for the next
   * one: where a server that gathers work while a burst of requests arrives (several page reads,
   * say) does it once. It may send messages; what it throws is reported like an uncaught error.
   */
  idle?: () => void;
}

export interface Server {
  /** Stops receiving (in-flight requests finish); resolves when the loop has ended. */
  stop(): Promise<void>;
  /** Resolves when the loop ends: stopped, or the port/set died. */
  readonly done: Promise<void>;
  /** Requests being handled now. */
  readonly inFlight: number;
}

/** Runs one request through the demuxes and applies the ownership contract. */
export function handleRequest(task: Task, request: ReceivedMessage, demuxes: readonly Demux[], onError?: ServeOptions["onError"]): Promise<void> {
  try {
    return handle(task, request, demuxes, onError) ?? DONE;
  } catch (error) {
    return Promise.reject(error);
  }
}

const DONE: Promise<void> = Promise.resolve();

/**
 * `handleRequest`, synchronous as far as the demuxes and the reply send allow: undefined when
 * the request is finished, else a promise for the rest (an async demux, a blocked reply send).
 */
function handle(task: Task, request: ReceivedMessage, demuxes: readonly Demux[], onError: ServeOptions["onError"]): Promise<void> | undefined {
  let result: DemuxResult = null;
  for (let i = 0; i < demuxes.length; i++) {
    let out: DemuxResult | Promise<DemuxResult>;
    try {
      out = demuxes[i](request, request.seqno);
    } catch (error) {
      return finish(task, request, failed(error, request, onError));
    }
    if (isPromise(out)) return handleAsync(task, request, demuxes, i, out, onError);
    result = out;
    if (result !== null) break;
  }
  return finish(task, request, result ?? ReturnCode.MIG_BAD_ID);
}

/** The rest of `handle` once a demux returned a promise (demux `i`). */
async function handleAsync(
  task: Task,
  request: ReceivedMessage,
  demuxes: readonly Demux[],
  i: number,
  pending: Promise<DemuxResult>,
  onError: ServeOptions["onError"],
): Promise<void> {
  let result: DemuxResult;
  try {
    result = await pending;
  } catch (error) {
    result = failed(error, request, onError);
  }
  if (result === null) result = await nextDemuxes(request, demuxes, i, onError);
  const rest = finish(task, request, result);
  if (rest !== undefined) await rest;
}

/** Demuxes after `i`, for an id demux `i` did not know (MIG_BAD_ID if none does). */
async function nextDemuxes(request: ReceivedMessage, demuxes: readonly Demux[], i: number, onError: ServeOptions["onError"]): Promise<MachMessage | number> {
  try {
    let result: DemuxResult = null;
    for (i++; result === null && i < demuxes.length; i++) result = await demuxes[i](request, request.seqno);
    return result ?? ReturnCode.MIG_BAD_ID;
  } catch (error) {
    return failed(error, request, onError);
  }
}

function isPromise(x: unknown): x is Promise<DemuxResult> {
  return typeof x === "object" && x !== null && typeof (x as { then?: unknown }).then === "function";
}

/** A demux threw: KERN_FAILURE, or the MachError's code. */
function failed(error: unknown, request: ReceivedMessage, onError: ServeOptions["onError"]): number {
  onError?.(error, request);
  return error instanceof MachError ? error.code : ReturnCode.KERN_FAILURE;
}

/**
 * The reply `migDemux` made last, nobody else's: set just before the demux returns it, checked
 * (by identity) and cleared when `finish` takes a result. An asynchronous demux's reply may have
 * been displaced by another request's meanwhile: it is then simply not released.
 */
let ownedReply: MachMessage | null = null;

/** Marks `reply` as made by the demux for the loop alone (see "Reply memory" above). */
export function loopOwnsReply(reply: MachMessage): void {
  ownedReply = reply;
}

/** Applies the ownership contract to a demux result and sends the reply, if any. */
function finish(task: Task, request: ReceivedMessage, result: MachMessage | number): Promise<void> | undefined {
  const abi = task.kernel.abi;
  const owned = ownedReply;
  ownedReply = null;
  if (typeof result === "number") {
    if (result === ReturnCode.KERN_SUCCESS || result === ReturnCode.MIG_NO_REPLY) return undefined;
    ReceivedMessage.destroy(request, true);
    const reply = request.replyPort;
    if (reply === MACH_PORT_NULL) return undefined;
    return sendReply(task, mig_reply_setup(abi, request, result), request);
  }
  // A bare error reply has exactly mig_reply_header_t's size and a RetCode that is not 0; the
  // size and the raw RetCode word decide most replies without a closer look.
  if (result.bytes.length === abi.replyHeaderSize && rd32(result.bytes, abi.headerSize + abi.descriptorSize) !== 0 && isErrorReply(abi, result)) {
    // A demux in GNU's style pre-builds the reply and stores the RetCode in it.
    if (readRetCode(abi, result) === ReturnCode.MIG_NO_REPLY) return undefined;
    ReceivedMessage.destroy(request, true);
  }
  if (result.bytes.length < abi.headerSize) throw new RangeError(`a demux returned a ${result.bytes.length}-byte reply`);
  if (rd32(result.bytes, abi.header.remotePort) === MACH_PORT_NULL) {
    task.mach_msg_destroy(result);
    // A simpleroutine's RetCode-only reply, never sent: dead once destroyed.
    if (result === owned) releaseSent(task, result);
    return undefined;
  }
  return sendReply(task, result, request, result === owned);
}

function sendReply(task: Task, reply: MachMessage, request: ReceivedMessage, owned = false): Promise<void> | undefined {
  // The reply right now travels in the reply message.
  if (rd32(reply.bytes, task.kernel.abi.header.remotePort) === request.replyPort && request.replyPort !== 0) {
    ReceivedMessage.replySent(request);
  }
  // A reply the loop owns is dead once sent (sent-memory.ts): the kernel may keep its bytes.
  const sent = task.sendMessage(reply, MACH_SEND_MSG, reply.bytes.length, 0, owned && mayDonate(reply));
  if (typeof sent === "number") {
    afterReply(task, reply, sent, owned);
    return undefined;
  }
  return sent.then((code) => afterReply(task, reply, code, owned));
}

function afterReply(task: Task, reply: MachMessage, code: number, owned: boolean): void {
  // Sent: the kernel has its copy. A failed send is never released (it may be destroyed below).
  if (code === ReturnCode.KERN_SUCCESS) {
    if (owned) releaseSent(task, reply);
    return;
  }
  // Destroy the reply only when the kernel left it (or put it back) whole. After a body failure
  // (INVALID_RIGHT/_TYPE/_MEMORY, or MSG_TOO_SMALL past the header) the kernel has already
  // destroyed the header rights and the items before the bad one, so destroying the message again
  // would release those rights twice (mach-ipc-reference §3.7 "partial"; glibc's loop destroys
  // the reply only for MACH_SEND_INVALID_DEST).
  if (replyUntouched(task, reply, code)) task.mach_msg_destroy(reply);
}

/** True when a failed send left `reply`'s rights in the sender's space (§3.7: untouched or restored). */
function replyUntouched(task: Task, reply: MachMessage, code: number): boolean {
  switch (code) {
    case ReturnCode.MACH_SEND_INVALID_DEST:
    case ReturnCode.MACH_SEND_INVALID_REPLY:
    case ReturnCode.MACH_SEND_INVALID_HEADER:
    case ReturnCode.MACH_SEND_INVALID_DATA:
    case ReturnCode.MACH_SEND_NO_BUFFER:
    case ReturnCode.MACH_SEND_TIMED_OUT:
    case ReturnCode.MACH_SEND_INTERRUPTED:
      return true;
    case ReturnCode.MACH_SEND_MSG_TOO_SMALL: {
      const abi = task.kernel.abi;
      const n = reply.bytes.length;
      return n < abi.headerSize || n % (abi.alignment === 8 ? 8 : 4) !== 0;
    }
    default:
      return false;
  }
}

/**
 * Receives on `portOrSet` and handles requests concurrently until stopped or the port dies.
 * mig-reference §7.2's glibc loop, with MACH_RCV_LARGE retries.
 *
 * The loop takes queued requests synchronously, one after another, and waits only when the queue
 * is empty: then one waiter object (no promise) stays queued on the port, and the kernel runs
 * the loop again when a request arrives (`Kernel.schedule`): right after the send when the sender
 * is an RPC client about to block in its receive, else in a microtask.
 */
export function serve(task: Task, portOrSet: number, demuxes: Demux | readonly Demux[], options: ServeOptions = {}): Server {
  const loop = new ServeLoop(task, portOrSet, typeof demuxes === "function" ? [demuxes] : demuxes, options);
  loop.next();
  return {
    async stop() {
      loop.stop();
      await loop.done;
    },
    done: loop.done,
    get inFlight() {
      return loop.inFlight;
    },
  };
}

/** The state of one `serve` loop: the kernel's waiter while it waits, and its runnable. */
class ServeLoop implements ReceiveWaiter, Runnable {
  readonly option = MACH_RCV_MSG | MACH_RCV_LARGE;
  rcvSize: number;
  readonly concurrency: number;
  /** Requests whose handling went asynchronous (an async demux, a blocked reply send). */
  inFlight = 0;
  readonly done: Promise<void>;
  private stopped = false;
  /** The loop is queued on the port (a waiter) or waiting for a free slot. */
  private waiting: "no" | "message" | "slot" = "no";
  /** What the kernel handed over while the loop waited, for `run`. */
  private delivered: KMsg | null = null;
  private deliveredCode = 0;
  private ended = false;
  private failure: { error: unknown } | null = null;
  private resolveDone!: () => void;
  private rejectDone!: (error: unknown) => void;
  private readonly settled = (): void => {
    this.inFlight--;
    this.afterSettle();
  };
  private readonly rejected = (error: unknown): void => {
    // As Promise.all over the requests did: the loop fails with the first request that failed.
    this.failure ??= { error };
    this.inFlight--;
    this.afterSettle();
  };

  constructor(
    readonly task: Task,
    readonly portOrSet: number,
    readonly demuxes: readonly Demux[],
    readonly options: ServeOptions,
  ) {
    this.rcvSize = options.rcvSize ?? 4096;
    this.concurrency = Math.max(1, options.concurrency ?? 16);
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
  }

  // ReceiveWaiter: the kernel calls one of these once per wait; the work runs in `run`.
  message(kmsg: KMsg): void {
    this.delivered = kmsg;
    this.task.kernel.schedule(this);
  }
  tooLarge(size: number): void {
    this.rcvSize = Math.max(this.rcvSize, size);
    this.deliveredCode = ReturnCode.MACH_RCV_TOO_LARGE;
    this.task.kernel.schedule(this);
  }
  fail(code: number): void {
    this.deliveredCode = code;
    this.task.kernel.schedule(this);
  }

  /** Runnable: the kernel gave the waiting loop a request (or ended its wait). */
  run(): void {
    this.waiting = "no";
    const kmsg = this.delivered;
    const code = this.deliveredCode;
    this.delivered = null;
    this.deliveredCode = 0;
    if (kmsg) {
      // The copy-out the kernel deferred to here (the sender's operation was not over then).
      let r: MachMsgResult;
      try {
        r = this.task.completeReceive(kmsg, this.rcvSize);
      } catch (error) {
        // Only a message observer (a tracer) can throw here: report it, keep serving.
        queueMicrotask(() => {
          throw error;
        });
        return this.next();
      }
      if (!this.take(r)) return this.end();
    } else if (!this.retry(code)) return this.end();
    this.next();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.waiting === "message") this.task.interruptReceivers(this.portOrSet);
    else if (this.waiting === "slot") {
      this.waiting = "no";
      this.end();
    }
  }

  /** Takes requests while they are queued; returns once the loop waits or has ended. */
  next(): void {
    while (!this.stopped) {
      if (this.inFlight >= this.concurrency) {
        this.waiting = "slot";
        return;
      }
      const r = this.task.receiveWith(this, this.portOrSet);
      if (r === null) {
        this.waiting = "message";
        if (this.options.idle !== undefined) this.runIdle(this.options.idle);
        return;
      }
      if (r.code === ReturnCode.MACH_RCV_TOO_LARGE) {
        this.rcvSize = Math.max(this.rcvSize, rd32(r.msg!.bytes, this.task.kernel.abi.header.size));
        continue;
      }
      if (!this.take(r)) break;
    }
    this.end();
  }

  private runIdle(idle: () => void): void {
    try {
      idle();
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  /** Whether the loop goes on after a wait that ended without a message. */
  private retry(code: number): boolean {
    return code === ReturnCode.MACH_RCV_TOO_LARGE || code === ReturnCode.MACH_RCV_INTERRUPTED || code === ReturnCode.MACH_RCV_PORT_CHANGED;
  }

  /** Handles a received request; false when the receive failed for good (the loop ends). */
  private take(r: MachMsgResult): boolean {
    if (r.code !== ReturnCode.KERN_SUCCESS) return this.retry(r.code);
    const request = new ReceivedMessage(this.task, r.msg!);
    // A synchronous demux and a reply send that did not block finish the request here; only
    // the rest are tracked (a counter: no Set entry, closure or promise per request).
    let rest: Promise<void> | undefined;
    try {
      rest = handle(this.task, request, this.demuxes, this.options.onError);
    } catch (error) {
      rest = Promise.reject(error);
    }
    if (rest !== undefined) {
      this.inFlight++;
      rest.then(this.settled, this.rejected);
    }
    return true;
  }

  private afterSettle(): void {
    if (this.waiting === "slot") {
      this.waiting = "no";
      this.next();
    } else if (this.ended) this.finish();
  }

  private end(): void {
    this.ended = true;
    this.finish();
  }

  /** Once the loop has ended and no request is in flight, `done` settles. */
  private finish(): void {
    if (!this.ended || this.inFlight > 0) return;
    if (this.failure) this.rejectDone(this.failure.error);
    else this.resolveDone();
  }
}

/**
 * Runs handlers for one object in seqno order (the Hurd pager's pager_port_lock): `run(seqno, fn)`
 * starts `fn` only after the handler with the previous seqno finished. Every seqno of the port
 * must pass through `run` or `skip`, or later ones wait forever.
 */
export class SeqnoOrder {
  private next: number;
  private readonly waiting = new Map<number, () => void>();

  constructor(first = 0) {
    this.next = first;
  }

  async run<T>(seqno: number, fn: () => T | Promise<T>): Promise<T> {
    await this.turn(seqno);
    try {
      return await fn();
    } finally {
      this.advance();
    }
  }

  /** Marks a seqno that has nothing to do with this object as done. */
  async skip(seqno: number): Promise<void> {
    await this.run(seqno, () => undefined);
  }

  /** The seqno the next handler must have (after a receive-right move resets the port's seqno). */
  reset(next: number): void {
    this.next = next;
  }

  private turn(seqno: number): Promise<void> {
    if (seqno === this.next) return Promise.resolve();
    return new Promise((resolve) => this.waiting.set(seqno, resolve));
  }

  private advance(): void {
    this.next = (this.next + 1) >>> 0;
    const w = this.waiting.get(this.next);
    if (w) {
      this.waiting.delete(this.next);
      w();
    }
  }
}
