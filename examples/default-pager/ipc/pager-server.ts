/**
 * The default pager over IPC: one task, one port set holding the service port and every object
 * port, served by the generated seqnos servers of default_pager, memory_object and
 * memory_object_default plus the generated notify server (no-senders), chained through their
 * `<demux>_routine` lookups (as mach-defpager's default_pager_demux_object does).
 *
 * Each object's messages are handled in msgh_seqno order by the core's per-object gate, while
 * different objects (and the service port) proceed concurrently: the serve loop runs many
 * requests at once. Replies to the kernel (data_supply, data_unavailable, data_error, ready) go
 * out through the generated `mach` client bound to the object's control port, inside the
 * object's turn.
 *
 * Rights (memory-object-reference §1, §7.2): every kernel→pager message carries a MAKE_SEND of
 * the control port, so the pager keeps the one from init/create and deallocates the rest as it
 * handles each message; terminate brings the control and name receive rights, which are
 * destroyed with the pager's send rights; no-senders on an object port frees its pages and
 * destroys the port.
 */
import {
  MACH_MSG_TYPE_MAKE_SEND_ONCE,
  MACH_NOTIFY_NO_SENDERS,
  MACH_PORT_NULL,
  MACH_PORT_QLIMIT_MAX,
  MACH_PORT_RIGHT_DEAD_NAME,
  MACH_PORT_RIGHT_PORT_SET,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_PORT_RIGHT_SEND,
  MachError,
  ReturnCode,
  type AnyMigDemux,
  type Task,
} from "../../../runtime/index.js";
import {
  seqnos_default_pager_server,
  type SeqnosDefaultPagerHandlers,
  type default_pager_info_t,
  type default_pager_objects_outs,
  type default_pager_page_array_t,
  type memory_object_t,
} from "../../../generated/default_pager-seqnos.js";
import {
  seqnos_memory_object_server,
  type SeqnosMemoryObjectHandlers,
} from "../../../generated/memory_object-seqnos.js";
import {
  seqnos_memory_object_default_server,
  type SeqnosMemoryObjectDefaultHandlers,
} from "../../../generated/memory_object_default-seqnos.js";
import {
  seqnos_notify_server,
  type SeqnosNotifyHandlers,
} from "../../../generated/notify-seqnos.js";
import { MachClient } from "../../../generated/mach.js";
import type {
  DataRequestReply,
  DefaultPagerCore,
  PagerObject,
  WriteOutcome,
} from "../pager-core.js";
import { callerFor, queuedOn, serveChained, type ChainedServer } from "./mig.js";

type Handlers = SeqnosDefaultPagerHandlers &
  SeqnosMemoryObjectHandlers &
  SeqnosMemoryObjectDefaultHandlers &
  SeqnosNotifyHandlers;

export interface PagerServerOptions {
  /** Requests handled at once (the "threads"); default 64. */
  readonly concurrency?: number;
  /** Size given to a paging file that default_pager_paging_file adds and that does not exist yet. */
  readonly newPagingFileBytes?: number;
  /** Batch size when a removed paging file's pages move (default: the storage's). */
  readonly removeBatchPages?: number;
  /**
   * Awaited before a message on an object port enters its object's turn (tests inject delays
   * here, so that requests reach the gate out of order).
   */
  readonly beforeTurn?: (objectId: number, seqno: number, what: string) => void | Promise<void>;
}

export interface PagerServerStats {
  /** Pages the pager could not store (the objects' later reads fail). */
  readonly writeFailures: WriteOutcome["failed"][number][];
  /** Protocol oddities a real pager would log (or panic on). */
  readonly errors: string[];
}

export class DefaultPagerServer {
  readonly task: Task;
  /** The service port (receive right): default_pager_* and memory_object_create come here. */
  readonly service: number;
  /** The port set holding the service port and every object port. */
  readonly portSet: number;
  readonly stats: PagerServerStats = { writeFailures: [], errors: [] };
  /** Object port (receive right name) → object. */
  private readonly byPort = new Map<number, PagerObject<number>>();
  /** Control port name → what the pager keeps for it (one lookup per kernel message). */
  private readonly controls = new Map<number, ControlPort>();
  /** The object port and object objectFor found last. */
  private lastPort = MACH_PORT_NULL as number;
  private lastObject: PagerObject<number> | null = null;
  /** The control port record looked up last (controlPort). */
  private lastControl: ControlPort | null = null;
  private server: ChainedServer | null = null;
  private readonly options: PagerServerOptions;

  constructor(
    task: Task,
    readonly core: DefaultPagerCore<number>,
    options: PagerServerOptions = {},
  ) {
    this.task = task;
    this.options = options;
    this.service = this.check(task.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE), "service port");
    this.portSet = this.check(task.mach_port_allocate(MACH_PORT_RIGHT_PORT_SET), "port set");
    task.mach_port_set_qlimit(this.service, MACH_PORT_QLIMIT_MAX);
    this.code(task.mach_port_move_member(this.service, this.portSet), "move service port");
  }

  /** Starts receiving on the port set. */
  start(): void {
    if (this.server !== null) return;
    // mach-defpager's default_pager_demux_object: memory_object, memory_object_default, the
    // no-senders notification, then default_pager, each looked up by its `_routine(id)`.
    const h = this.handlers;
    const demuxes = [
      seqnos_memory_object_server(h),
      seqnos_memory_object_default_server(h),
      seqnos_notify_server(h),
      seqnos_default_pager_server(h),
    ];
    this.server = serveChained(this.task, this.portSet, demuxes as AnyMigDemux[], {
      concurrency: this.options.concurrency ?? 64,
      // Every message on an object port takes its turn, even one no handler ran for.
      unhandled: (port, seqno, id) => {
        const object = this.byPort.get(port);
        if (object === undefined) return;
        this.stats.errors.push(`message ${id} on an object port not handled`);
        void this.core.unexpected(object, seqno, `message ${id}`);
      },
      onError: (e) => {
        if (!(e instanceof MachError))
          this.stats.errors.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
      },
      // Gathered page-ins (PagerCoreOptions.gatherReads) are read once the burst has been taken.
      idle: () => this.core.flushReads(),
    });
  }

  /** Stops receiving; requests in progress finish. */
  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = null;
    this.core.flushReads();
  }

  /** Requests queued on the port set, not yet received. */
  get queued(): number {
    return queuedOn(this.task, this.portSet);
  }

  /** Requests in progress or queued on the port set (0 when the pager is idle). */
  get busy(): number {
    return (this.server?.inFlight ?? 0) + queuedOn(this.task, this.portSet);
  }

  /** The object served on `port` (tests). */
  objectOf(port: number): PagerObject<number> | undefined {
    return this.byPort.get(port);
  }

  get objectPorts(): number[] {
    return [...this.byPort.keys()];
  }

  // ---- the handlers the generated servers call ----

  private readonly handlers: Handlers = {
    // default_pager.defs (service port)
    seqnos_default_pager_object_create: (pager, _seqno, objectSize): memory_object_t => {
      this.requireService(pager);
      const r = this.core.defaultPagerObjectCreate(Number(objectSize));
      if (r.value === undefined) throw new MachError(r.code, "default_pager_object_create");
      const port = this.check(this.task.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE), "object port");
      // §7.3: no-senders with sync 1, so it fires only once a send right has existed and gone.
      this.adoptObjectPort(port, r.value, 1);
      return port as memory_object_t; // the reply makes the send right (MAKE_SEND)
    },

    seqnos_default_pager_info: (pager): default_pager_info_t => {
      this.requireService(pager);
      const info = this.core.info();
      return {
        dpi_total_space: BigInt(info.totalSpace),
        dpi_free_space: BigInt(info.freeSpace),
        dpi_page_size: BigInt(info.pageSize),
      };
    },

    seqnos_default_pager_objects: (pager): default_pager_objects_outs => {
      this.requireService(pager);
      const entries = this.core.objects();
      const ports = new Uint32Array(entries.length);
      entries.forEach((e, i) => {
        // The reply moves a send right per name port: make one from ours.
        if (e.name !== null && this.task.mach_port_mod_refs(e.name, MACH_PORT_RIGHT_SEND, 1) === 0)
          ports[i] = e.name;
      });
      return {
        objects: entries.map((e) => ({ dpo_object: BigInt(e.object), dpo_size: BigInt(e.size) })),
        ports: ports as default_pager_objects_outs["ports"],
      };
    },

    seqnos_default_pager_object_pages: (pager, _seqno, name): default_pager_page_array_t => {
      this.requireService(pager);
      const r = this.core.objectPages(name);
      if (r.value === undefined) throw new MachError(r.code, "default_pager_object_pages");
      this.release(name); // the request's send right: consumed on success
      return r.value.map((offset) => ({ dpp_offset: BigInt(offset) }));
    },

    seqnos_default_pager_paging_file: async (pager, _seqno, device, filename, add) => {
      this.requireService(pager);
      const r = await this.core.pagingFile(filename, add !== 0, {
        ...(this.options.newPagingFileBytes === undefined
          ? {}
          : { sizeBytes: this.options.newPagingFileBytes }),
        ...(this.options.removeBatchPages === undefined
          ? {}
          : { removeBatchPages: this.options.removeBatchPages }),
      });
      if (r.code !== ReturnCode.KERN_SUCCESS)
        throw new MachError(r.code, `default_pager_paging_file ${filename}: ${describe(r.error)}`);
      this.release(device);
    },

    seqnos_default_pager_register_fileserver: (pager, _seqno, fileserver) => {
      this.requireService(pager);
      const old = this.core.registeredFileserver;
      this.core.registerFileserver(fileserver);
      if (old !== null) this.release(old);
    },

    // memory_object_default.defs (service port, then object ports)
    seqnos_memory_object_create: (pager, _seqno, newObject, size, control, name, pageSize) => {
      if (pager !== this.service || newObject === MACH_PORT_NULL) {
        // A receive right cannot cross a bridge between kernels: it arrives as MACH_PORT_NULL.
        this.stats.errors.push("memory_object_create without a memory object receive right");
        for (const n of [newObject, control, name]) this.destroy(n);
        return;
      }
      const r = this.core.memoryObjectCreate(Number(size), control, name, Number(pageSize));
      if (r.value === undefined) {
        this.stats.errors.push(`memory_object_create: ${describe(r.error)}`);
        for (const n of [newObject, control, name]) this.destroy(n);
        return;
      }
      // §7.2: sync 0; the kernel's send right exists, so it fires once the kernel lets go.
      this.adoptObjectPort(newObject, r.value, 0);
    },

    seqnos_memory_object_data_initialize: (port, seqno, control, offset, data) =>
      this.inTurnOf(port, seqno, "data_initialize", (object) =>
        this.core.dataInitialize(object, seqno, Number(offset), data, (outcome) => {
          this.recordWrite(outcome);
          this.releaseControl(control);
        }),
      ),

    // memory_object.defs (object ports)
    seqnos_memory_object_init: async (port, seqno, control, name, pageSize) => {
      const object = await this.enter(port, seqno, "init");
      await this.core.init(object, seqno, control, name, Number(pageSize), async (reply) => {
        if (reply.kind === "ready") {
          await this.controlPort(control).kernel.memory_object_ready(
            reply.mayCache ? 1 : 0,
            reply.copyStrategy,
          );
        } else {
          this.stats.errors.push(`init: ${reply.reason}`);
          if (object.control !== control) {
            this.release(control);
            this.release(name);
          }
        }
      });
    },

    // A page-in runs synchronously from here to the queued data_supply when it is the object's
    // turn: no promise per step (the handler returns no promise, so neither does the stub).
    seqnos_memory_object_data_request: (port, seqno, control, offset, length, access) => {
      // The hot path of a page-in: no closure but the in-turn reply (each new closure costs a
      // lazy-compile stub call and, with a name, a defineProperty under tsx).
      if (this.options.beforeTurn !== undefined)
        return this.inTurnOf(port, seqno, "data_request", (object) =>
          this.dataRequest(object, seqno, control, offset, length, access),
        );
      return this.dataRequest(
        this.objectFor(port, "data_request"),
        seqno,
        control,
        offset,
        length,
        access,
      );
    },

    seqnos_memory_object_data_return: (port, seqno, control, offset, data, dirty, kernelCopy) =>
      this.inTurnOf(port, seqno, "data_return", (object) =>
        this.core.dataReturn(
          object,
          seqno,
          Number(offset),
          data,
          dirty !== 0,
          kernelCopy !== 0,
          (outcome) => {
            this.recordWrite(outcome);
            this.releaseControl(control);
          },
        ),
      ),

    seqnos_memory_object_terminate: async (port, seqno, control, name) => {
      const object = await this.enter(port, seqno, "terminate");
      await this.core.terminate(object, seqno, (held) => {
        // The receive rights arrived under the names of our send rights (or, from another
        // kernel, as MACH_PORT_NULL): destroying the names ends both ports here.
        for (const n of new Set([held.control, held.name, control, name])) this.destroy(n);
        if (held.control !== null) this.forgetControl(held.control);
      });
    },

    seqnos_memory_object_copy: (port, seqno, control, _offset, _length, newObject) =>
      this.unexpected(port, seqno, "memory_object_copy", [control, newObject]),
    seqnos_memory_object_data_unlock: (port, seqno, control) =>
      this.unexpected(port, seqno, "memory_object_data_unlock", [control]),
    seqnos_memory_object_lock_completed: (port, seqno, control) =>
      this.unexpected(port, seqno, "memory_object_lock_completed", [control]),
    seqnos_memory_object_supply_completed: (port, seqno, control) =>
      this.unexpected(port, seqno, "memory_object_supply_completed", [control]),
    seqnos_memory_object_change_completed: (port, seqno) =>
      this.unexpected(port, seqno, "memory_object_change_completed", []),

    // notify.defs: the object ports are their own no-senders notify ports.
    do_seqnos_mach_notify_no_senders: async (port, seqno) => {
      const object = await this.enter(port, seqno, "no_senders");
      await this.core.noSenders(object, seqno, (r) => {
        if (r.code !== ReturnCode.KERN_SUCCESS) {
          this.stats.errors.push(`no-senders: ${describe(r.error)}`);
          return;
        }
        this.byPort.delete(port);
        if (port === this.lastPort) this.lastObject = null;
        this.destroy(port);
      });
    },
    do_seqnos_mach_notify_port_deleted: (port, seqno) =>
      this.unexpected(port, seqno, "mach_notify_port_deleted", []),
    do_seqnos_mach_notify_msg_accepted: (port, seqno) =>
      this.unexpected(port, seqno, "mach_notify_msg_accepted", []),
    do_seqnos_mach_notify_port_destroyed: (port, seqno, rights) =>
      this.unexpected(port, seqno, "mach_notify_port_destroyed", [rights]),
    do_seqnos_mach_notify_send_once: (port, seqno) =>
      this.unexpected(port, seqno, "mach_notify_send_once", []),
    do_seqnos_mach_notify_dead_name: (port, seqno, name) => {
      // A dead-name notification carries a user reference for the name.
      void this.unexpected(port, seqno, "mach_notify_dead_name", []);
      this.release(name);
    },
  };

  // ---- helpers ----

  private adoptObjectPort(port: number, object: PagerObject<number>, sync: number): void {
    const t = this.task;
    t.mach_port_set_qlimit(port, MACH_PORT_QLIMIT_MAX);
    const r = t.mach_port_request_notification(
      port,
      MACH_NOTIFY_NO_SENDERS,
      sync,
      port,
      MACH_MSG_TYPE_MAKE_SEND_ONCE,
    );
    this.code(r.code, "no-senders request");
    this.byPort.set(port, object);
    if (port === this.lastPort) this.lastObject = null;
    // Messages already queued on the port (a data_return behind memory_object_create) follow it
    // into the set, still in order.
    this.code(t.mach_port_move_member(port, this.portSet), "move object port");
  }

  /** The object of a message on an object port, after the test hook. */
  private async enter(port: number, seqno: number, what: string): Promise<PagerObject<number>> {
    const object = this.byPort.get(port);
    if (object === undefined)
      throw new MachError(ReturnCode.KERN_INVALID_ARGUMENT, `${what}: not an object port`);
    await this.options.beforeTurn?.(object.id, seqno, what);
    return object;
  }

  private dataRequest(
    object: PagerObject<number>,
    seqno: number,
    control: number,
    offset: bigint,
    length: bigint,
    access: number,
  ): void | Promise<void> {
    const r = this.core.dataRequest(
      object,
      seqno,
      Number(offset),
      Number(length),
      access,
      this.controlPort(control).answer,
    );
    if (r instanceof Promise) return r.then(ignore);
  }

  /** The object served on the port a message came in on (a MachError if none). */
  private objectFor(port: number, what: string): PagerObject<number> {
    // The last one first (page-ins of one object come one after another).
    if (port === this.lastPort && this.lastObject !== null) return this.lastObject;
    const object = this.byPort.get(port);
    if (object === undefined)
      throw new MachError(ReturnCode.KERN_INVALID_ARGUMENT, `${what}: not an object port`);
    this.lastPort = port;
    this.lastObject = object;
    return object;
  }

  /**
   * Runs `go` with the object of a message on an object port: at once (so a handler that stays
   * synchronous returns no promise), or after the test hook when there is one.
   */
  private inTurnOf(
    port: number,
    seqno: number,
    what: string,
    go: (object: PagerObject<number>) => unknown,
  ): void | Promise<void> {
    const object = this.objectFor(port, what);
    const hook = this.options.beforeTurn;
    const r =
      hook === undefined
        ? go(object)
        : Promise.resolve(hook(object.id, seqno, what)).then(() => go(object));
    if (r instanceof Promise) return r.then(ignore);
  }

  /**
   * Sends the answer to a data_request on the control port, in the object's turn. The send is
   * queued inside the stub call (control ports have no queue limit), so the turn can pass
   * without waiting for the stub's promise; a failure is only logged (the kernel's faulting
   * thread then waits, as in Mach when a reply is lost).
   */
  private answerRequest(control: ControlPort, reply: DataRequestReply): void {
    const kernel = control.kernel;
    let sent: Promise<void>;
    switch (reply.kind) {
      case "supply":
        // dataDealloc: the page leaves with the message (moved, not copied).
        sent = kernel.memory_object_data_supply(
          BigInt(reply.offset),
          reply.data,
          true,
          reply.lockValue,
          reply.precious ? 1 : 0,
          MACH_PORT_NULL as Parameters<MachClient["memory_object_data_supply"]>[5],
        );
        break;
      case "unavailable":
        sent = kernel.memory_object_data_unavailable(BigInt(reply.offset), BigInt(reply.size));
        break;
      case "error":
        sent = kernel.memory_object_data_error(
          BigInt(reply.offset),
          BigInt(reply.size),
          reply.error,
        );
        break;
    }
    // A promise already seen fulfilled (the stubs return the same one for every send that
    // completed at once) cannot fail: no handler, no reaction job.
    if (sent !== this.sentOk) sent.then(() => (this.sentOk = sent), this.replyFailed);
    this.releaseRef(control);
  }

  /** The last reply promise seen fulfilled. */
  private sentOk: Promise<void> | null = null;

  private readonly replyFailed = (e: unknown): void => {
    this.stats.errors.push(`reply to data_request not sent: ${describe(e)}`);
  };

  private recordWrite(outcome: WriteOutcome): void {
    if (outcome.failed.length > 0) this.stats.writeFailures.push(...outcome.failed);
  }

  /**
   * Drops the user reference to a control port that a kernel message brought (every one carries
   * a MAKE_SEND, §1). As mach-defpager does, the references are let pile up and trimmed in one
   * mach_port_mod_refs when they pass default_pager_max_urefs, instead of a
   * mach_port_deallocate per message; terminate destroys the name with whatever is left.
   */
  private releaseControl(name: number): void {
    if (name !== MACH_PORT_NULL) this.releaseRef(this.controlPort(name));
  }

  private releaseRef(control: ControlPort): void {
    const n = ++control.refs;
    if (n < MAX_UREFS) return;
    control.refs = 0;
    const name = control.name;
    if (this.task.mach_port_mod_refs(name, MACH_PORT_RIGHT_SEND, -n) !== ReturnCode.KERN_SUCCESS)
      this.task.mach_port_mod_refs(name, MACH_PORT_RIGHT_DEAD_NAME, -n); // the port died meanwhile
  }

  private async unexpected(
    port: number,
    seqno: number,
    what: string,
    rights: number[],
  ): Promise<void> {
    const object = this.byPort.get(port);
    for (const n of rights) this.release(n);
    this.stats.errors.push(`unexpected ${what}`);
    if (object !== undefined) await this.core.unexpected(object, seqno, what);
  }

  /** What the pager keeps for the control port it holds under `name` (made on first use). */
  private controlPort(name: number): ControlPort {
    // The last one first: an object's messages come with its control.
    const last = this.lastControl;
    if (last !== null && last.name === name) return last;
    let control = this.controls.get(name);
    if (control === undefined) {
      const made: ControlPort = {
        name,
        kernel: new MachClient(callerFor(this.task, name)),
        refs: 0,
        answer: (reply) => this.answerRequest(made, reply),
      };
      this.controls.set(name, made);
      control = made;
    }
    this.lastControl = control;
    return control;
  }

  private forgetControl(name: number): void {
    this.controls.delete(name);
    if (this.lastControl !== null && this.lastControl.name === name) this.lastControl = null;
  }

  private requireService(port: number): void {
    if (port !== this.service)
      throw new MachError(ReturnCode.KERN_INVALID_ARGUMENT, "not the default pager port");
  }

  /** Drops one send user reference (a right a message brought). */
  private release(name: number | null): void {
    if (name !== null && name !== MACH_PORT_NULL) this.task.mach_port_deallocate(name);
  }

  private destroy(name: number | null): void {
    if (name === null || name === MACH_PORT_NULL) return;
    this.forgetControl(name); // the references it held go with the name
    this.task.mach_port_destroy(name);
  }

  private check(r: { code: number; name: number }, what: string): number {
    this.code(r.code, what);
    return r.name;
  }

  private code(code: number, what: string): void {
    if (code !== ReturnCode.KERN_SUCCESS) throw new MachError(code, what);
  }
}

/**
 * A control port the pager holds a send right to, under `name`: the kernel's control-port calls
 * (generated mach client bound to it), the user references kernel messages brought and not
 * released yet, and the answer to a data_request on it (made once, not per request).
 */
interface ControlPort {
  readonly name: number;
  readonly kernel: MachClient;
  refs: number;
  readonly answer: (reply: DataRequestReply) => void;
}

/** [HD] default_pager_max_urefs: control-port references kept before they are trimmed. */
const MAX_UREFS = 10000;

function ignore(): void {}

function describe(error: unknown): string {
  if (error === undefined) return "failed";
  if (typeof error === "string") return error;
  if (typeof error === "object" && error !== null && "message" in error)
    return String(error.message);
  return String(error);
}
