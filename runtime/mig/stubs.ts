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
 * checks and decodes the reply and resolves to its value slots. It rejects with a `MachError`
 * carrying the code and its symbolic name: the mach_msg error (MACH_SEND_INVALID_DEST,
 * MACH_RCV_TIMED_OUT, ...), MIG_ARRAY_TOO_LARGE before sending, MIG_SERVER_DIED,
 * MIG_REPLY_MISMATCH, MIG_TYPE_ERROR (the reply is destroyed), or the server's RetCode.
 * `simpleroutine` resolves once the message is queued. Rights and out-of-line regions the reply
 * carried belong to the caller.
 *
 * SERVER (§7.2-7.3). `migDemux(demuxes)` looks the request id up in each generated demux in turn
 * (their `routine(id)`: chaining several subsystems on one port set), decodes the request with
 * the plan (MIG_BAD_ARGUMENTS when it does not fit), fills the msgseqno and sreplyport slots,
 * calls the handler and encodes the reply. Ownership:
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
 */
import { decodeReply, decodeRequest, encodeReply, encodeRequest } from "../codec/engine.js";
import type { RoutinePlan, SubsystemPlan } from "../codec/plan.js";
import { MACH_PORT_NULL, MachError, ReturnCode } from "../constants.js";
import type { Task } from "../kernel/task.js";
import type { MachMessage } from "../message.js";
import { mig_rpc, mig_send, ReplyPortPool } from "./client.js";
import type { ReceivedMessage } from "./received.js";
import type { Demux, DemuxResult } from "./serve.js";

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
  /** Sends the request built from `args`; resolves to the reply's value slots. */
  routine(plan: RoutinePlan, args: MigValue[], options?: CallOptions): Promise<MigValue[]>;
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
    async routine(plan, args, callOptions) {
      const o = callOptions ? { ...defaults, ...callOptions } : defaults;
      const values = requestSlots(plan, args, port);
      // The routine's own replyport argument, else the caller's, else MIG's own (mig_rpc's).
      const local = plan.request.local;
      let userReply: number | undefined;
      if (local && local.slot >= 0) userReply = Number(values[local.slot] ?? 0);
      else if (o.replyPort !== undefined && o.replyPort !== MACH_PORT_NULL) userReply = o.replyPort;
      const request = encodeRequest(plan, values, userReply ?? 0);
      if (typeof request === "number") fail(request, plan);
      const r = await mig_rpc(task, request, {
        pool,
        timeout: o.timeout,
        option: o.msgOption,
        rcvSize: plan.reply.maxSize,
        replyPort: userReply,
      });
      if (r.code !== ReturnCode.KERN_SUCCESS) fail(r.code, plan);
      const reply = r.reply!;
      const out = new Array<MigValue>(plan.args.length).fill(null);
      const code = decodeReply(plan, reply, out);
      if (code !== ReturnCode.KERN_SUCCESS) {
        // An error reply carries nothing; a malformed one may: release it all.
        task.mach_msg_destroy(reply);
        fail(code, plan);
      }
      return out;
    },
    async simpleroutine(plan, args, callOptions) {
      const o = callOptions ? { ...defaults, ...callOptions } : defaults;
      const values = requestSlots(plan, args, port);
      const request = encodeRequest(plan, values, 0);
      if (typeof request === "number") fail(request, plan);
      const local = plan.request.local;
      if ((!local || local.slot < 0) && o.replyPort !== undefined && o.replyPort !== MACH_PORT_NULL) {
        setLocalPort(task, request, o.replyPort);
      }
      const code = await mig_send(task, request, o.msgOption ?? 0);
      if (code !== ReturnCode.KERN_SUCCESS) fail(code, plan);
    },
  };
}

/** msgh_local_port = `name` with MAKE_SEND_ONCE (a simpleroutine's caller-chosen reply port). */
function setLocalPort(task: Task, message: MachMessage, name: number): void {
  const abi = task.kernel.abi;
  const view = new DataView(message.bytes.buffer, message.bytes.byteOffset, message.bytes.byteLength);
  const bits = view.getUint32(abi.header.bits, true);
  view.setUint32(abi.header.bits, ((bits & ~0xff00) | (21 << 8)) >>> 0, true);
  view.setUint32(abi.header.localPort, name >>> 0, true);
}

// ---------------------------------------------------------------------------------------------
// Server.

/** Any generated demux (their handler types differ; the adapter only passes them through). */
export type AnyMigDemux = MigDemux<unknown>;

export interface MigDemuxOptions {
  /** Called with anything a handler threw (MachError included). */
  onError?: (error: unknown, request: ReceivedMessage) => void;
}

/** MigRequest views whose handler has returned (not thrown). */
const returned = new WeakSet<MigRequest>();
/** Each handlers object wrapped so that a handler's return is recorded on its MigRequest. */
const trackedHandlers = new WeakMap<object, object>();

/**
 * `handlers` with every method wrapped to add its last argument (the MigRequest) to `returned`
 * once the method has returned or resolved. Generated `invoke`s convert the out values after the
 * handler returns; this tells a throw there from the handler's own failure.
 */
function tracking(handlers: unknown): unknown {
  if (typeof handlers !== "object" || handlers === null) return handlers;
  let t = trackedHandlers.get(handlers);
  if (!t) {
    t = new Proxy(handlers, {
      get(target, prop, receiver) {
        const f: unknown = Reflect.get(target, prop, receiver);
        if (typeof f !== "function") return f;
        return (...a: unknown[]): unknown => {
          const r: unknown = f.apply(target, a);
          const request = a[a.length - 1] as MigRequest;
          if (r instanceof Promise) {
            return r.then((v: unknown) => {
              returned.add(request);
              return v;
            });
          }
          returned.add(request);
          return r;
        };
      },
    });
    trackedHandlers.set(handlers, t);
  }
  return t;
}

/** The MigRequest view of a received message. */
function requestView(request: ReceivedMessage): MigRequest {
  return {
    get id() {
      return request.id;
    },
    get seqno() {
      return request.seqno;
    },
    get replyPort() {
      return request.replyPort;
    },
    releaseName(name: number) {
      request.releaseName(name);
    },
    takeReplyPort() {
      return request.takeReplyPort();
    },
  };
}

/**
 * A `serve` demux for one or several generated demuxes (tried in order by request id; an id none
 * of them knows returns null, so `serve` answers MIG_BAD_ID or tries its next demux).
 */
export function migDemux(demuxes: AnyMigDemux | readonly AnyMigDemux[], options: MigDemuxOptions = {}): Demux {
  const list: readonly AnyMigDemux[] = isList(demuxes) ? demuxes : [demuxes];
  return (request: ReceivedMessage, seqno: number): DemuxResult | Promise<DemuxResult> => {
    const id = request.id;
    for (const demux of list) {
      const entry = demux.routine(id);
      if (entry) return runRoutine(demux.handlers, entry, request, seqno, options);
    }
    return null;
  };
}

function isList(d: AnyMigDemux | readonly AnyMigDemux[]): d is readonly AnyMigDemux[] {
  return Array.isArray(d);
}

async function runRoutine(
  handlers: unknown,
  entry: MigServerRoutine<unknown>,
  request: ReceivedMessage,
  seqno: number,
  options: MigDemuxOptions,
): Promise<DemuxResult> {
  const plan = entry.plan;
  const args = new Array<MigValue>(plan.args.length).fill(null);
  if (decodeRequest(plan, request, args) !== ReturnCode.KERN_SUCCESS) return ReturnCode.MIG_BAD_ARGUMENTS;
  if (plan.seqnoSlot >= 0) args[plan.seqnoSlot] = seqno;
  const sreplyport = plan.replyPortSlot >= 0;
  if (sreplyport) args[plan.replyPortSlot] = request.replyPort;
  const view = requestView(request);
  try {
    await entry.invoke(tracking(handlers), args, view);
  } catch (error) {
    const code = error instanceof MachError ? error.code : ReturnCode.KERN_FAILURE;
    if (returned.has(view)) {
      // The handler itself returned (so it has consumed the request, and may have released
      // rights), but turning its out values into the reply threw: destroying the request now
      // would release those rights a second time. It stays the handler's; the client gets the
      // error reply.
      request.takeAll();
      options.onError?.(error, request);
      return code === ReturnCode.KERN_SUCCESS || code === ReturnCode.MIG_NO_REPLY ? ReturnCode.KERN_FAILURE : code;
    }
    if (code === ReturnCode.MIG_NO_REPLY) {
      // Deferred: the handler owns everything, the reply right included.
      request.takeAll();
      if (request.replyPort !== MACH_PORT_NULL) request.takeReplyPort();
      return ReturnCode.MIG_NO_REPLY;
    }
    options.onError?.(error, request);
    // Failure: nothing consumed; `serve` destroys what is left and sends the error reply.
    return code === ReturnCode.KERN_SUCCESS ? ReturnCode.KERN_FAILURE : code;
  }
  // Success: the handler consumed the request's rights and regions.
  request.takeAll();
  // A simpleroutine's reply is RetCode only, as GNU MIG's demux builds it: `serve` sends nothing
  // when the request had no reply port (the usual case) and sends it to a ureplyport otherwise.
  const reply = encodeReply(plan, request, args);
  return reply;
}
