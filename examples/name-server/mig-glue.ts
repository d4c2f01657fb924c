/**
 * Where generated stubs meet the in-process runtime: a caller bound to a send right (for the
 * generated client classes) and a receive loop that runs generated server routines, chained by
 * their `<demux>_routine` lookups, on a port or port set.
 *
 * Written against the runtime's codec engine and MIG helpers (mig_rpc, serve, ReceivedMessage);
 * the shapes are the ones the generated code names (MigCaller, MigServerRoutine). If the runtime
 * grows its own version of this glue, the example should switch to it.
 */
import { decodeReply, decodeRequest, encodeReply, encodeRequest } from "../../runtime/codec/engine.js";
import type { RoutinePlan } from "../../runtime/codec/plan.js";
import { MachError, ReturnCode } from "../../runtime/constants.js";
import type { Task } from "../../runtime/kernel/task.js";
import { mig_rpc, mig_send, ReplyPortPool } from "../../runtime/mig/client.js";
import { serve, type Demux, type Server, type ServeOptions } from "../../runtime/mig/serve.js";

export type Slot = unknown;

export interface Caller {
  routine(plan: RoutinePlan, args: Slot[], options?: { timeout?: number; msgOption?: number }): Promise<Slot[]>;
  simpleroutine(plan: RoutinePlan, args: Slot[], options?: { timeout?: number; msgOption?: number }): Promise<void>;
}

export interface ServerRoutine<H> {
  plan: RoutinePlan;
  invoke(handlers: H, args: Slot[]): Promise<void>;
}

/** A caller sending from `task` to the send right `port` (MIG's per-task reply ports pooled). */
export function callerFor(task: Task, port: number, pool: ReplyPortPool = new ReplyPortPool(task)): Caller {
  const request = (plan: RoutinePlan, args: Slot[]) => {
    const values = [...args];
    if (plan.requestPortSlot >= 0) values[plan.requestPortSlot] = port;
    const msg = encodeRequest(plan, values, 0);
    if (typeof msg === "number") throw new MachError(msg, plan.name);
    return msg;
  };
  return {
    async routine(plan, args, options = {}) {
      const { code, reply } = await mig_rpc(task, request(plan, args), {
        pool,
        ...(options.timeout ? { timeout: options.timeout } : {}),
        ...(options.msgOption ? { option: options.msgOption } : {}),
      });
      if (code !== ReturnCode.KERN_SUCCESS) throw new MachError(code, plan.name);
      const out: Slot[] = new Array(plan.args.length).fill(null);
      const rc = decodeReply(plan, reply!, out);
      if (rc !== ReturnCode.KERN_SUCCESS) {
        if (rc === ReturnCode.MIG_TYPE_ERROR) task.mach_msg_destroy(reply!);
        throw new MachError(rc, plan.name);
      }
      return out;
    },
    async simpleroutine(plan, args, options = {}) {
      const code = await mig_send(task, request(plan, args), options.msgOption ?? 0, options.timeout ?? 0);
      if (code !== ReturnCode.KERN_SUCCESS) throw new MachError(code, plan.name);
    },
  };
}

/** A demux over generated routine lookups: null (not ours) when no lookup knows the id. */
export function demuxOf<H>(handlers: H, lookups: ReadonlyArray<(id: number) => ServerRoutine<H> | undefined>): Demux {
  return async (request) => {
    let entry: ServerRoutine<H> | undefined;
    for (const lookup of lookups) if ((entry = lookup(request.id))) break;
    if (!entry) return null;
    const plan = entry.plan;
    const args: Slot[] = new Array(plan.args.length).fill(null);
    const rc = decodeRequest(plan, request, args);
    if (rc !== ReturnCode.KERN_SUCCESS) return rc;
    try {
      await entry.invoke(handlers, args);
    } catch (error) {
      if (error instanceof MachError) return error.code;
      throw error;
    }
    // Success: the handler consumed every right and region the request carried (mig-reference §7.3).
    request.takeAll();
    if (plan.kind === "simpleroutine") return ReturnCode.KERN_SUCCESS;
    return encodeReply(plan, request, args);
  };
}

/** Serves `portOrSet` with the chained lookups until stopped. */
export function serveRoutines<H>(
  task: Task,
  portOrSet: number,
  handlers: H,
  lookups: ReadonlyArray<(id: number) => ServerRoutine<H> | undefined>,
  options: ServeOptions = {},
): Server {
  return serve(task, portOrSet, demuxOf(handlers, lookups), options);
}
