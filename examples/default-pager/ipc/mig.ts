/**
 * Where this example meets the runtime's MIG glue: callers bound to a send right (for the
 * generated client classes), and a receive loop running generated demuxes chained on one port
 * set (each tried through its `<demux>_routine` lookup, in order).
 */
import {
  createCaller,
  migDemux,
  ReturnCode,
  serve,
  type AnyMigDemux,
  type Demux,
  type DemuxResult,
  type MigCaller,
  type ReceivedMessage,
  type Task,
} from "../../../runtime/index.js";

export interface ChainedServeOptions {
  readonly concurrency?: number;
  /**
   * Called for a request no handler ran for: an id no demux knows (answered MIG_BAD_ID) or a
   * request that does not decode (MIG_BAD_ARGUMENTS). The pager uses it to let such a message
   * take its seqno turn on an object port.
   */
  readonly unhandled?: (port: number, seqno: number, id: number) => void;
  readonly onError?: (error: unknown) => void;
  /** ServeOptions.idle: the queue has run dry. */
  readonly idle?: () => void;
}

export interface ChainedServer {
  stop(): Promise<void>;
  readonly done: Promise<void>;
  /** Requests being handled now. */
  readonly inFlight: number;
}

/** A caller from `task` to the send right `port` in its space. */
export function callerFor(task: Task, port: number): MigCaller {
  return createCaller(task, port);
}

/** Serves `portOrSet` with the demuxes, tried in order for each request id. */
export function serveChained(
  task: Task,
  portOrSet: number,
  demuxes: readonly AnyMigDemux[],
  options: ChainedServeOptions = {},
): ChainedServer {
  const onError = options.onError;
  const demux = migDemux(demuxes, onError === undefined ? {} : { onError: (e) => onError(e) });
  const unhandled = options.unhandled;
  const list: Demux[] =
    unhandled === undefined
      ? [demux]
      : [
          // Synchronous when the demux is (no async frame per request).
          (request, seqno) => {
            const result = demux(request, seqno);
            if (!(result instanceof Promise))
              return checkHandled(result, request, seqno, unhandled);
            return result.then((r) => checkHandled(r, request, seqno, unhandled));
          },
          (request, seqno) => {
            unhandled(request.requestPort, seqno, request.id);
            return null;
          },
        ];
  return serve(task, portOrSet, list, {
    concurrency: options.concurrency ?? 64,
    ...(onError === undefined ? {} : { onError: (e: unknown) => onError(e) }),
    ...(options.idle === undefined ? {} : { idle: options.idle }),
  });
}

/** The glue answers MIG_BAD_ARGUMENTS itself when the request does not fit the plan. */
function checkHandled(
  result: DemuxResult,
  request: ReceivedMessage,
  seqno: number,
  unhandled: NonNullable<ChainedServeOptions["unhandled"]>,
): DemuxResult {
  if (result === ReturnCode.MIG_BAD_ARGUMENTS) unhandled(request.requestPort, seqno, request.id);
  return result;
}

/** Messages waiting in a port set's queue (received by nobody yet). */
export function queuedOn(task: Task, portSet: number): number {
  return task.entry(portSet)?.pset?.queue.length ?? 0;
}
