/**
 * The glue between generated stubs and the runtime: the names generated modules type-import from
 * `mig-ts/runtime` (MigValue, CallOptions, MigCaller, MigServerRoutine, MigDemux, MigRequest;
 * RoutinePlan and SubsystemPlan come from ../codec/plan.ts), a `MigCaller` bound to a task and a
 * send right (`createCaller`), and the adapter from generated demuxes to `serve`'s `Demux`
 * (`migDemux`).
 *
 * CLIENT (mig-reference §7.1). `routine` encodes the request with the routine's plan, puts the
 * send right in the request-port slot, sends it with a reply port (MIG's own from the pool, the
 * routine's `replyport` argument, or `options.replyPort`), waits (`options.timeout` ms: waittime),
 * checks and decodes the reply and resolves to what the stub's `outs` function makes of its value
 * slots (the slots themselves without one). When the server answered during the send (a serve
 * loop run by the kernel before the client blocks), the reply is checked and decoded at once and
 * the returned promise is the call's only one. It rejects with a `MachError`
 * carrying the code and its symbolic name: the mach_msg error (MACH_SEND_INVALID_DEST,
 * MACH_RCV_TIMED_OUT, ...), MIG_ARRAY_TOO_LARGE before sending, MIG_SERVER_DIED,
 * MIG_REPLY_MISMATCH, MIG_TYPE_ERROR (the reply is destroyed), or the server's RetCode.
 * `simpleroutine` resolves once the message is queued. Rights and out-of-line regions the reply
 * carried belong to the caller.
 *
 * SERVER (§7.2-7.3). `migDemux(demuxes)` looks the request id up in each generated demux in turn
 * (their `routine(id)`: chaining several subsystems on one port set), decodes the request with
 * the plan (MIG_BAD_ARGUMENTS when it does not fit), fills the msgseqno and sreplyport slots,
 * calls the handler (the entry's `call`, then `store` for its out values; older entries through
 * `run`/`invoke` with the handler call tracked) and encodes the reply. Ownership:
 *  - the handler returns: it has consumed every right and region of the request (they are marked
 *    taken in the `ReceivedMessage`; the loop never releases them), and the reply (for a
 *    simpleroutine the RetCode-only one GNU MIG's demux builds) goes to the reply right if any;
 *  - the handler throws `MachError(MIG_NO_REPLY)`: the same, and the reply right is the handler's
 *    too (it has it through its `sreplyport` argument and answers later with a `*_reply` stub);
 *  - the handler throws anything else (a `MachError`'s code, else KERN_FAILURE): it has consumed
 *    nothing, and the loop destroys what is still in the request and sends the error reply.
 *    A handler that wants to release a right before failing does it through the `MigRequest`
 *    it gets as its last argument (`request.releaseName(name)`): the right leaves the message
 *    then, so the loop's destroy skips it and a double release cannot happen.
 *
 * Message memory: the request a routine sends and the reply a `migDemux` returns are never handed
 * to the caller or the handler, so once the kernel has taken them (copied them in) their memory
 * goes back to the codec (sent-memory.ts, memory.ts releaseMessage): the next message is written over it, as GNU
 * MIG's stubs reuse their stack buffer. One the codec will never write again (a small one) is
 * given to the kernel instead, which keeps it rather than a copy (Task#sendMessage's `donate`):
 * the receiver gets those bytes and writes its header (and port names) into them. A demux
 * that wraps a `migDemux` must therefore not keep the reply it returns past the send (copy its
 * bytes if it needs them).
 */
import { decodeReply, decodeRequest, encodeReply, encodeRequest } from "../codec/engine.js";
import type { RoutinePlan, SubsystemPlan } from "../codec/plan.js";
import { MACH_MSG_TYPE_MAKE_SEND_ONCE, MACH_PORT_NULL, MACH_SEND_MSG, MachError, ReturnCode } from "../constants.js";
import type { Runnable } from "../kernel/kernel.js";
import type { KMsg, ReceiveWaiter } from "../kernel/objects.js";
import type { MachMsgResult, Task } from "../kernel/task.js";
import type { MachMessage } from "../message.js";
import { mayDonate, releaseSent } from "./sent-memory.js";
import { rd32, wr32 } from "../bytes.js";
import { receiveLarge, releaseReplyPort, ReplyPortPool, rpcOption, rpcOutcome, setReplyPort, takeReplyPort } from "./client.js";
import { ReceivedMessage } from "./received.js";
import { loopOwnsReply, type Demux, type DemuxResult } from "./serve.js";

/** A value slot (see ../codec/plan.ts "VALUE MODEL"). */
export type MigValue = number | bigint | boolean | string | ArrayBufferView | null;

export interface CallOptions {
  /** Milliseconds to wait for the reply (MIG's waittime); 0 or absent waits forever. */
  timeout?: number;
  /** mach_msg option bits OR-ed into the call (MIG's msgoption). */
  msgOption?: number;
  /**
   * A reply port the caller holds the receive right for, used instead of MIG's own: for a
   * routine the reply is received on it (a MAKE_SEND_ONCE right to it travels in the request);
   * for a simpleroutine it is sent as msgh_local_port (MAKE_SEND_ONCE), for a later answer.
   * A routine's `replyport`/`ureplyport` argument, when it has one, wins.
   */
  replyPort?: number;
}

/** What generated client classes call. */
export interface MigCaller {
  /**
   * Sends the request built from `args`; resolves to `outs` of the reply's value slots (to the
   * slots themselves without `outs`). Generated stubs pass their `outs_<routine>` function, so
   * that a reply already there costs the call one promise, the one returned here.
   */
  routine<T = MigValue[]>(plan: RoutinePlan, args: MigValue[], options?: CallOptions, outs?: (reply: MigValue[]) => T): Promise<T>;
  /** Sends the request built from `args`; resolves once it is queued. */
  simpleroutine(plan: RoutinePlan, args: MigValue[], options?: CallOptions): Promise<void>;
}

/**
 * The request a handler is running for (the last argument of every generated handler): its id
 * and seqno, and the rights and regions it carries, each of which can leave it once.
 */
export interface MigRequest {
  readonly id: number;
  readonly seqno: number;
  /** The reply right's name while the request still owns it (MACH_PORT_NULL after). */
  readonly replyPort: number;
  /** Releases now one right the request carried under `name` (it leaves the request). */
  releaseName(name: number): void;
  /** Takes the reply right (for MIG_NO_REPLY and a later reply), when the routine has no `sreplyport`. */
  takeReplyPort(): { name: number; type: number };
}

/** One routine of a generated demux: its plan and the call of its handler. */
export interface MigServerRoutine<H> {
  plan: RoutinePlan;
  /**
   * Calls the handler with the decoded slots of `args` and stores its out values in `args`.
   * Rejects with what the handler threw.
   */
  invoke(handlers: H, args: MigValue[], request?: MigRequest): Promise<void>;
  /**
   * `invoke` without the promise when it is not needed (optional; the demux prefers it): returns
   * undefined once the out values are stored (the handler returned a value), else a promise for
   * that (the handler returned one). Throws or rejects with what the handler threw.
   */
  run?(handlers: H, args: MigValue[], request?: MigRequest): void | Promise<void>;
  /**
   * The handler call alone (optional; the demux prefers it to `run`): calls the handler with the
   * decoded slots of `args` and returns what it returned (a value or a promise); throws what it
   * threw. With it the demux knows without tracking the call whether a failure is the handler's
   * (it consumed nothing) or came after it returned (storing its out values).
   */
  call?(handlers: H, args: MigValue[], request: MigRequest): unknown;
  /** Stores `out`, what `call` returned (awaited), as out values in `args`; absent without out values. */
  store?(args: MigValue[], out: never): void;
}

/** What a generated `<subsystem>_server(handlers)` returns. */
export interface MigDemux<H> {
  subsystem: SubsystemPlan;
  handlers: H;
  routine(id: number): MigServerRoutine<H> | undefined;
}

// ---------------------------------------------------------------------------------------------
// Client.

export interface CallerOptions {
  /** Reply ports come from here (default: one pool per task, shared; null: a new port per call). */
  pool?: ReplyPortPool | null;
  /** Defaults for every call (a call's own options win). */
  defaults?: CallOptions;
}

const pools = new WeakMap<Task, ReplyPortPool>();

/** One reply-port pool per task, shared by its callers. */
function sharedPool(task: Task): ReplyPortPool {
  let pool = pools.get(task);
  if (!pool) pools.set(task, (pool = new ReplyPortPool(task)));
  return pool;
}

/**
 * `n` value slots, all null. Not `new Array(n).fill(null)`: `fill` is a C++ builtin in Node 20,
 * and its call cost ~6% of an in-process null RPC (perf), twice per call.
 */
function nullValues(n: number): MigValue[] {
  const a = new Array<MigValue>(n);
  for (let i = 0; i < n; i++) a[i] = null;
  return a;
}

function fail(code: number, plan: RoutinePlan): never {
  throw new MachError(code, plan.name);
}

/** The request's value slots with the request port filled in. */
function requestSlots(plan: RoutinePlan, args: MigValue[], port: number): MigValue[] {
  const slot = plan.requestPortSlot >= 0 ? plan.requestPortSlot : (plan.request.remote?.slot ?? -1);
  if (slot >= 0) args[slot] = port;
  return args;
}

/**
 * A `MigCaller` that sends from `task` to the send right `port` (a name in `task`'s space).
 * `new <Subsystem>Client(createCaller(task, port))` gives the generated client for that server.
 */
export function createCaller(task: Task, port: number, options: CallerOptions = {}): MigCaller {
  const pool = options.pool === null ? undefined : (options.pool ?? sharedPool(task));
  const defaults = options.defaults ?? {};
  return {
    routine<T>(plan: RoutinePlan, args: MigValue[], callOptions?: CallOptions, outs?: (reply: MigValue[]) => T): Promise<T> {
      try {
        const o = callOptions ? { ...defaults, ...callOptions } : defaults;
        const values = requestSlots(plan, args, port);
        // The routine's own replyport argument, else the caller's, else MIG's own.
        const local = plan.request.local;
        let userReply: number | undefined;
        if (local && local.slot >= 0) userReply = Number(values[local.slot] ?? 0);
        else if (o.replyPort !== undefined && o.replyPort !== MACH_PORT_NULL) userReply = o.replyPort;
        const own = userReply === undefined;
        const replyPort = own ? takeReplyPort(task, pool) : userReply!;
        const request = encodeRequest(plan, values, replyPort);
        if (typeof request === "number") {
          // Nothing was sent: MIG's own reply port is still clean.
          if (own) releaseReplyPort(task, pool, replyPort);
          fail(request, plan);
        }
        // The encoder put the reply port in the header with the plan's disposition, which for a
        // routine's own reply port is MAKE_SEND_ONCE already.
        if (own && local?.disposition !== MACH_MSG_TYPE_MAKE_SEND_ONCE) setReplyPort(task, request, replyPort);
        const timeout = o.timeout ?? 0;
        const option = rpcOption(o.msgOption ?? 0, timeout);
        const donate = mayDonate(request);
        let sent: MachMsgResult | Promise<MachMsgResult>;
        if (timeout === 0) {
          const code = task.rpcSend(request, option, request.bytes.length, donate);
          if (typeof code !== "number") {
            sent = receiveAfterBlockedSend(task, plan, code, option, replyPort);
          } else if (code !== ReturnCode.KERN_SUCCESS) {
            sent = { code, msg: null };
          } else {
            const r = task.tryReceive(replyPort, option, plan.reply.maxSize);
            if (r === null) {
              // No reply yet: a PendingCall waits for it and finishes the call when it comes (no
              // promise for the receive, no continuation hop on top of the call's own promise).
              const call = new PendingCall<T>(task, plan, request, own ? pool : null, replyPort, option, outs);
              task.receiveWith(call, replyPort);
              return call.promise();
            }
            sent = r;
          }
        } else {
          sent = task.machMsg(request, option, request.bytes.length, plan.reply.maxSize, replyPort, timeout, donate);
        }
        // A server that answered at once (run during the send) has queued the reply by now: it
        // is checked and decoded here, and the call costs one promise hop, its own.
        const callPool = own ? pool : null;
        if (sent instanceof Promise) return finishLater(task, plan, request, sent, callPool, replyPort, option, timeout, outs);
        const value = finishCall(task, plan, request, sent, callPool, replyPort, option, timeout, outs);
        // A routine without out values shares one promise resolved to undefined, as a sent
        // simpleroutine does (a settled promise cannot change). Promise.resolve of the promise a
        // too-large reply gives is that promise.
        return value === undefined ? (SENT as Promise<T>) : Promise.resolve(value);
      } catch (error) {
        return Promise.reject(error);
      }
    },
    // Not an async function: a send that completed at once (the usual case) costs the call the
    // one promise it returns, already resolved; a failure still rejects, never throws.
    simpleroutine(plan, args, callOptions) {
      try {
        const o = callOptions ? { ...defaults, ...callOptions } : defaults;
        const values = requestSlots(plan, args, port);
        const request = encodeRequest(plan, values, 0);
        if (typeof request === "number") fail(request, plan);
        const local = plan.request.local;
        if ((!local || local.slot < 0) && o.replyPort !== undefined && o.replyPort !== MACH_PORT_NULL) {
          setLocalPort(task, request, o.replyPort);
        }
        // mig_send, with the send's result at once when it did not block: the request is given
        // back before anything else can encode (a blocked send resolves later, when other messages
        // usually follow it in the slab and the release does nothing).
        const sent = task.sendMessage(request, MACH_SEND_MSG | (o.msgOption ?? 0), request.bytes.length, 0, mayDonate(request));
        if (typeof sent !== "number") return sentLater(task, plan, request, sent);
        if (sent !== ReturnCode.KERN_SUCCESS) fail(sent, plan);
        releaseSent(task, request);
        return SENT;
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
}

/**
 * A routine call waiting for its reply without a timeout: the kernel's waiter on the reply port
 * (a ReceiveWaiter) and, once handed the reply, the call's end (mig_rpc's checks, the decode,
 * the `outs`), which settles the one promise the call returned. The copy-out and the rest run as
 * a kernel runnable (`Kernel.schedule`: after the kernel operation that delivered the reply, never
 * inside it), as the serve loop's do.
 */
class PendingCall<T> implements ReceiveWaiter, Runnable {
  declare readonly task: Task;
  declare readonly option: number;
  declare readonly rcvSize: number;
  declare private readonly plan: RoutinePlan;
  declare private readonly request: MachMessage;
  declare private readonly pool: ReplyPortPool | undefined | null;
  declare private readonly replyPort: number;
  declare private readonly outs: ((reply: MigValue[]) => T) | undefined;
  declare private kmsg: KMsg | null;
  declare private outcome: number;
  /** The size a MACH_RCV_TOO_LARGE reported. */
  declare private rcvSizeSeen: number;
  declare private resolve: (value: T | PromiseLike<T>) => void;
  declare private reject: (error: unknown) => void;

  constructor(
    task: Task,
    plan: RoutinePlan,
    request: MachMessage,
    pool: ReplyPortPool | undefined | null,
    replyPort: number,
    option: number,
    outs: ((reply: MigValue[]) => T) | undefined,
  ) {
    this.task = task;
    this.option = option;
    this.rcvSize = plan.reply.maxSize;
    this.plan = plan;
    this.request = request;
    this.pool = pool;
    this.replyPort = replyPort;
    this.outs = outs;
    this.kmsg = null;
    this.outcome = 0;
    this.rcvSizeSeen = 0;
    this.resolve = noSettle;
    this.reject = noSettle;
  }

  /** The call's promise (made once the waiter is queued: most calls never need it). */
  promise(): Promise<T> {
    const p = new Promise<T>(capturePending as (resolve: (value: T | PromiseLike<T>) => void, reject: (error: unknown) => void) => void);
    this.resolve = pendingResolve as (value: T | PromiseLike<T>) => void;
    this.reject = pendingReject!;
    return p;
  }

  message(kmsg: KMsg): void {
    this.kmsg = kmsg;
    this.task.kernel.schedule(this);
  }
  tooLarge(size: number): void {
    this.outcome = ReturnCode.MACH_RCV_TOO_LARGE;
    this.kmsg = null;
    this.rcvSizeSeen = size;
    this.task.kernel.schedule(this);
  }
  fail(code: number): void {
    this.outcome = code;
    this.task.kernel.schedule(this);
  }

  run(): void {
    const kmsg = this.kmsg;
    this.kmsg = null;
    let r: MachMsgResult;
    try {
      if (kmsg !== null) r = this.task.completeReceive(kmsg, this.rcvSize);
      else if (this.outcome === ReturnCode.MACH_RCV_TOO_LARGE) r = this.task.tooLargeKept(this.rcvSizeSeen);
      else r = { code: this.outcome, msg: null };
    } catch (error) {
      // Only a message observer (a tracer) can throw in a copy-out.
      this.reject(error);
      return;
    }
    try {
      this.resolve(finishCall(this.task, this.plan, this.request, r, this.pool, this.replyPort, this.option, 0, this.outs));
    } catch (error) {
      this.reject(error);
    }
  }
}

function noSettle(): void {}

/** `new Promise(capturePending)` leaves its resolve and reject here (no closure per call). */
let pendingResolve: ((value: unknown) => void) | null = null;
let pendingReject: ((error: unknown) => void) | null = null;
function capturePending(resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
  pendingResolve = resolve;
  pendingReject = reject;
}

/**
 * The end of a routine call once its receive is over (`r`): mig_rpc's checks and the decoded
 * reply through `outs` (throws MachError), or, for a reply too large for the first buffer, a
 * promise of that after receiving it again. `pool` is null for a caller-owned reply port.
 */
function finishCall<T>(
  task: Task,
  plan: RoutinePlan,
  request: MachMessage,
  r: MachMsgResult,
  pool: ReplyPortPool | undefined | null,
  replyPort: number,
  option: number,
  timeout: number,
  outs: ((reply: MigValue[]) => T) | undefined,
): T | Promise<T> {
  if (r.code === ReturnCode.MACH_RCV_TOO_LARGE) {
    const later = awaitReply(task, plan, request, r, pool, replyPort, option, timeout);
    return (outs ? later.then(outs) : later) as Promise<T>;
  }
  // A reply came: the send is over and succeeded. When it came later, the request is seldom the
  // last message encoded any more, and the release then does nothing.
  if (r.code === ReturnCode.KERN_SUCCESS) releaseSent(task, request);
  const reply = replyValues(task, plan, r, pool, replyPort);
  return outs ? outs(reply) : (reply as T);
}

/*
 * The two rare paths of `routine` whose continuations are closures, as functions of their own:
 * a closure in `routine` itself made V8 allocate a context for the variables it captures on
 * every call (~120 bytes, sampling heap profiler), taken or not.
 */

/** A send that blocked on a full queue: once it is through, the receive, as mach_msg's. */
function receiveAfterBlockedSend(task: Task, plan: RoutinePlan, code: Promise<number>, option: number, replyPort: number): Promise<MachMsgResult> {
  return code.then((c) =>
    c === ReturnCode.KERN_SUCCESS ? task.machMsg(null, option & ~MACH_SEND_MSG, 0, plan.reply.maxSize, replyPort, 0) : { code: c, msg: null },
  );
}

/**
 * The reply comes later (a send that blocked, or a receive with a timeout): one continuation,
 * one promise hop, no async frame.
 */
function finishLater<T>(
  task: Task,
  plan: RoutinePlan,
  request: MachMessage,
  sent: Promise<MachMsgResult>,
  pool: ReplyPortPool | undefined | null,
  replyPort: number,
  option: number,
  timeout: number,
  outs: ((reply: MigValue[]) => T) | undefined,
): Promise<T> {
  return sent.then((r) => finishCall(task, plan, request, r, pool, replyPort, option, timeout, outs));
}

/** What a simpleroutine whose send completed at once returns (nothing to wait for). */
const SENT: Promise<void> = Promise.resolve();

/** The rest of a simpleroutine whose send blocked (a full queue): its outcome, as mig_send's. */
async function sentLater(task: Task, plan: RoutinePlan, request: MachMessage, sent: Promise<number>): Promise<void> {
  const code = await sent;
  if (code !== ReturnCode.KERN_SUCCESS) fail(code, plan);
  releaseSent(task, request);
}

/**
 * The rest of a routine call whose reply was too large for the first receive buffer (mig_rpc's
 * wait and checks, then the reply decoded), as one small async frame. `pool` is null for a
 * caller-owned reply port.
 */
async function awaitReply(
  task: Task,
  plan: RoutinePlan,
  request: MachMessage,
  sent: MachMsgResult,
  pool: ReplyPortPool | undefined | null,
  replyPort: number,
  option: number,
  timeout: number,
): Promise<MigValue[]> {
  // A reply too large for the buffer came: the send is over and succeeded.
  releaseSent(task, request);
  const r = await receiveLarge(task, sent, option, replyPort, timeout);
  return replyValues(task, plan, r, pool, replyPort);
}

/** mig_rpc's checks on a call's mach_msg result, then the reply decoded (throws MachError). */
function replyValues(task: Task, plan: RoutinePlan, r: MachMsgResult, pool: ReplyPortPool | undefined | null, replyPort: number): MigValue[] {
  const rpcCode = rpcOutcome(task, plan.request.id, r, pool, replyPort);
  if (rpcCode !== ReturnCode.KERN_SUCCESS) fail(rpcCode, plan);
  const reply = r.msg!;
  const out = nullValues(plan.args.length);
  const code = decodeReply(plan, reply, out);
  if (code !== ReturnCode.KERN_SUCCESS) {
    // An error reply carries nothing; a malformed one may: release it all.
    task.mach_msg_destroy(reply);
    fail(code, plan);
  }
  return out;
}

/** msgh_local_port = `name` with MAKE_SEND_ONCE (a simpleroutine's caller-chosen reply port). */
function setLocalPort(task: Task, message: MachMessage, name: number): void {
  const o = task.kernel.abi.header;
  const b = message.bytes;
  wr32(b, o.bits, (rd32(b, o.bits) & ~0xff00) | (MACH_MSG_TYPE_MAKE_SEND_ONCE << 8));
  wr32(b, o.localPort, name);
}

// ---------------------------------------------------------------------------------------------
// Server.

/** Any generated demux (their handler types differ; the adapter only passes them through). */
export type AnyMigDemux = MigDemux<unknown>;

export interface MigDemuxOptions {
  /** Called with anything a handler threw (MachError included). */
  onError?: (error: unknown, request: ReceivedMessage) => void;
}

/**
 * The MigRequest a handler called through `invoke` or `run` gets: a view of the ReceivedMessage
 * with MigRequest's operations only, which also records whether the handler returned: generated
 * `invoke`s convert the out values after the handler returns, and a throw there must not be
 * taken for the handler's own failure. (A handler called through `call` gets the request itself:
 * the loop's own operations, `ReceivedMessage.takeAll`/`destroy`, are not methods of it.)
 */
class RequestView implements MigRequest {
  readonly #request: ReceivedMessage;
  /** True once the handler returned (a value or a promise, which may still reject). */
  #called = false;
  #result: unknown = undefined;

  constructor(request: ReceivedMessage) {
    this.#request = request;
  }
  get id(): number {
    return this.#request.id;
  }
  get seqno(): number {
    return this.#request.seqno;
  }
  get replyPort(): number {
    return this.#request.replyPort;
  }
  releaseName(name: number): void {
    this.#request.releaseName(name);
  }
  takeReplyPort(): { name: number; type: number } {
    return this.#request.takeReplyPort();
  }

  /** Records what a tracked handler returned for the request `view` (its last argument). */
  static returned(view: unknown, result: unknown): void {
    if (view instanceof RequestView) {
      view.#called = true;
      view.#result = result;
    }
  }

  /**
   * Whether the handler returned: it was called, did not throw, and what it returned is not a
   * promise that rejected. Asked only after `invoke` failed, when that promise has settled.
   */
  handlerReturned(): boolean | Promise<boolean> {
    if (!this.#called) return false;
    const r = this.#result;
    if (r instanceof Promise) return r.then(yes, no);
    return true;
  }
}

const yes = (): boolean => true;
const no = (): boolean => false;

/** Each handlers object's tracking twin (see `tracking`). */
const trackedHandlers = new WeakMap<object, object>();

/**
 * The object generated `invoke`s call instead of `handlers`: its methods call the handler's
 * method of the same name (looked up at each call, with `handlers` as `this`) and record on the
 * MigRequest (the last argument) that it returned. Nothing is allocated per call: each method's
 * wrapper is made on its first use and kept as an own property (the prototype is a Proxy that
 * only sees names not wrapped yet, so any property name works, as with a Proxy handlers object).
 */
function tracking(handlers: unknown): unknown {
  if (typeof handlers !== "object" || handlers === null) return handlers;
  let t = trackedHandlers.get(handlers);
  if (!t) {
    const target = handlers;
    const firstUse = new Proxy(Object.create(null) as object, {
      get(_t, prop, receiver: object) {
        const f: unknown = Reflect.get(target, prop);
        if (typeof f !== "function") return f;
        const w = function (this: unknown): unknown {
          // The method is looked up again: a handlers object may change its methods.
          const method = Reflect.get(target, prop) as (...a: unknown[]) => unknown;
          // eslint-disable-next-line prefer-rest-params
          const a = arguments;
          const r = method.apply(target, a as unknown as unknown[]);
          RequestView.returned(a[a.length - 1], r);
          return r;
        };
        Object.defineProperty(receiver, prop, { value: w, configurable: true, writable: true });
        return w;
      },
    });
    t = Object.create(firstUse) as object;
    trackedHandlers.set(handlers, t);
  }
  return t;
}

/**
 * A `serve` demux for one or several generated demuxes (tried in order by request id; an id none
 * of them knows returns null, so `serve` answers MIG_BAD_ID or tries its next demux).
 */
export function migDemux(demuxes: AnyMigDemux | readonly AnyMigDemux[], options: MigDemuxOptions = {}): Demux {
  const list: readonly AnyMigDemux[] = isList(demuxes) ? demuxes : [demuxes];
  // Each demux's handlers and their tracking twin, looked up again only if `handlers` changes.
  const seen: unknown[] = list.map(() => undefined);
  const tracked: unknown[] = list.map(() => undefined);
  return (request: ReceivedMessage, seqno: number): DemuxResult | Promise<DemuxResult> => {
    const id = request.id;
    for (let i = 0; i < list.length; i++) {
      const demux = list[i];
      const entry = demux.routine(id);
      if (!entry) continue;
      const handlers = demux.handlers;
      if (seen[i] !== handlers || tracked[i] === undefined) {
        seen[i] = handlers;
        tracked[i] = tracking(handlers);
      }
      return runRoutine(handlers, tracked[i], entry, request, seqno, options);
    }
    return null;
  };
}

function isList(d: AnyMigDemux | readonly AnyMigDemux[]): d is readonly AnyMigDemux[] {
  return Array.isArray(d);
}

function runRoutine(
  handlers: unknown,
  tracked: unknown,
  entry: MigServerRoutine<unknown>,
  request: ReceivedMessage,
  seqno: number,
  options: MigDemuxOptions,
): DemuxResult | Promise<DemuxResult> {
  const plan = entry.plan;
  const args = nullValues(plan.args.length);
  if (decodeRequest(plan, request, args) !== ReturnCode.KERN_SUCCESS) return ReturnCode.MIG_BAD_ARGUMENTS;
  if (plan.seqnoSlot >= 0) args[plan.seqnoSlot] = seqno;
  if (plan.replyPortSlot >= 0) args[plan.replyPortSlot] = request.replyPort;
  // A handler called through `call` gets the request itself as its MigRequest (the loop's own
  // operations are not methods of it); `invoke` and `run` get a view that records whether the
  // handler returned.
  if (entry.call) return callRoutine(handlers, entry, plan, request, args, options);
  const view = new RequestView(request);
  let running: void | Promise<void>;
  try {
    running = entry.run ? entry.run(tracked, args, view) : entry.invoke(tracked, args, view);
  } catch (error) {
    // Synchronous failure: the handler threw, or storing what it returned did.
    const returned = view.handlerReturned();
    if (typeof returned === "boolean") return failedWith(error, returned, request, options);
    return returned.then((r) => failedWith(error, r, request, options));
  }
  if (running === undefined) return succeeded(plan, request, args);
  return settle(running, plan, request, args, view, options);
}

/** `runRoutine` through the entry's `call` and `store` (no tracking of the handler call). */
function callRoutine(
  handlers: unknown,
  entry: MigServerRoutine<unknown>,
  plan: RoutinePlan,
  request: ReceivedMessage,
  args: MigValue[],
  options: MigDemuxOptions,
): DemuxResult | Promise<DemuxResult> {
  let out: unknown;
  try {
    out = entry.call!(handlers, args, request);
  } catch (error) {
    return failedWith(error, false, request, options);
  }
  if (isThenable(out)) return settleCall(out, entry, plan, request, args, options);
  return stored(entry, plan, request, args, out, options);
}

/** Stores what the handler returned; a throw there comes after the handler consumed the request. */
function stored(entry: MigServerRoutine<unknown>, plan: RoutinePlan, request: ReceivedMessage, args: MigValue[], out: unknown, options: MigDemuxOptions): DemuxResult {
  if (entry.store) {
    try {
      entry.store(args, out as never);
    } catch (error) {
      return failedWith(error, true, request, options);
    }
  }
  return succeeded(plan, request, args);
}

/** Waits for a handler that returned a thenable (as `await` takes it): rejected is its failure. */
async function settleCall(
  out: PromiseLike<unknown>,
  entry: MigServerRoutine<unknown>,
  plan: RoutinePlan,
  request: ReceivedMessage,
  args: MigValue[],
  options: MigDemuxOptions,
): Promise<DemuxResult> {
  let value: unknown;
  try {
    value = await out;
  } catch (error) {
    return failedWith(error, false, request, options);
  }
  return stored(entry, plan, request, args, value, options);
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return (typeof x === "object" || typeof x === "function") && x !== null && typeof (x as { then?: unknown }).then === "function";
}

/** The handler and the storing of its out values succeeded. */
function succeeded(plan: RoutinePlan, request: ReceivedMessage, args: MigValue[]): DemuxResult {
  // Success: the handler consumed the request's rights and regions.
  ReceivedMessage.takeAll(request);
  // A simpleroutine's reply is RetCode only, as GNU MIG's demux builds it: `serve` sends it to a
  // ureplyport, and sends nothing when the request had no reply port (the usual case). Then it is
  // not built at all: KERN_SUCCESS tells `serve` the same (consumed, nothing to send), as
  // mach_msg_server ends up doing with a NULL-destination reply.
  if (plan.kind === "simpleroutine" && request.replyPort === MACH_PORT_NULL) return ReturnCode.KERN_SUCCESS;
  const reply = encodeReply(plan, request, args);
  // Made here and handed to nobody else: `serve` may give its memory back once it is sent.
  if (typeof reply !== "number") loopOwnsReply(reply);
  return reply;
}

/** Waits for a handler that returned a promise (a small async frame). */
async function settle(
  running: Promise<void>,
  plan: RoutinePlan,
  request: ReceivedMessage,
  args: MigValue[],
  view: RequestView,
  options: MigDemuxOptions,
): Promise<DemuxResult> {
  try {
    await running;
  } catch (error) {
    return routineFailed(error, request, view, options);
  }
  return succeeded(plan, request, args);
}

/** `invoke` failed: the handler's failure, MIG_NO_REPLY, or a failure after the handler returned. */
async function routineFailed(error: unknown, request: ReceivedMessage, view: RequestView, options: MigDemuxOptions): Promise<DemuxResult> {
  return failedWith(error, await view.handlerReturned(), request, options);
}

/** `routineFailed` once it is known whether the handler itself returned. */
function failedWith(error: unknown, handlerReturned: boolean, request: ReceivedMessage, options: MigDemuxOptions): DemuxResult {
  const code = error instanceof MachError ? error.code : ReturnCode.KERN_FAILURE;
  if (handlerReturned) {
    // The handler itself returned (so it has consumed the request, and may have released
    // rights), but turning its out values into the reply threw: destroying the request now
    // would release those rights a second time. It stays the handler's; the client gets the
    // error reply.
    ReceivedMessage.takeAll(request);
    options.onError?.(error, request);
    return code === ReturnCode.KERN_SUCCESS || code === ReturnCode.MIG_NO_REPLY ? ReturnCode.KERN_FAILURE : code;
  }
  if (code === ReturnCode.MIG_NO_REPLY) {
    // Deferred: the handler owns everything, the reply right included.
    ReceivedMessage.takeAll(request);
    if (request.replyPort !== MACH_PORT_NULL) request.takeReplyPort();
    return ReturnCode.MIG_NO_REPLY;
  }
  options.onError?.(error, request);
  // Failure: nothing consumed; `serve` destroys what is left and sends the error reply.
  return code === ReturnCode.KERN_SUCCESS ? ReturnCode.KERN_FAILURE : code;
}
