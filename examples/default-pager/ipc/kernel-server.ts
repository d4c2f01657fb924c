/**
 * The kernel side over IPC: the VM model (../kernel-vm) given a task of the runtime kernel that
 * stands for the Mach kernel's own space.
 *
 * - Outgoing: memory_object_init / data_request / data_unlock / data_return / terminate /
 *   *_completed go to object ports through the generated memory_object client, and
 *   memory_object_create goes to the registered default pager through the generated
 *   memory_object_default client. Each is a simpleroutine whose send is queued inside the call,
 *   which is the ordering contract of ../kernel-vm/links.ts.
 * - Incoming: the control ports (one per VM object association) and the host_priv port sit in one
 *   port set served by the generated server of defs/mach_pager_calls.defs: memory_object_ready,
 *   data_supply, data_unavailable, data_error, lock_request, change_attributes, destroy,
 *   get_attributes, and vm_set_default_memory_manager.
 *
 * Ports (memory-object-reference §1): the kernel holds one send right per VM object association
 * (added at init, moved away by terminate as the message's destination); control and name ports
 * are receive rights here until terminate moves them to the manager. An object port is known to
 * the VM model by its runtime `Port` (external objects) or a KernelObjectPort (internal objects,
 * bound here to a port whose receive right memory_object_create moves to the default pager).
 */
import {
  MACH_MSG_TYPE_COPY_SEND,
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_MOVE_SEND_ONCE,
  MACH_PORT_NULL,
  MACH_PORT_QLIMIT_MAX,
  MACH_PORT_RIGHT_PORT_SET,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_PORT_RIGHT_SEND,
  MachError,
  ReturnCode,
  type AnyMigDemux,
  type Kernel,
  type Port,
  type Task,
} from "../../../runtime/index.js";
import {
  mach_server,
  type MachHandlers,
  type memory_object_control_t,
  type memory_object_get_attributes_outs,
  type mach_port_make_send_t,
} from "../../../generated/mach.js";
import { MemoryObjectClient, type memory_object_name_t } from "../../../generated/memory_object.js";
import { MemoryObjectDefaultClient } from "../../../generated/memory_object_default.js";
import type {
  DefaultPagerLink,
  MemoryManagerLink,
  MemoryObjectPort,
  ReplyPort,
} from "../kernel-vm/links.js";
import { KernelObjectPort, MemoryControl, MemoryObjectName } from "../kernel-vm/ports.js";
import type { PageFramePool } from "../page-pool.js";
import { VmKernel, type Task as VmTask, type VmMapOptions } from "../kernel-vm/vm-kernel.js";
import { callerFor, queuedOn, serveChained, type ChainedServer } from "./mig.js";

/** Stands for a control port the kernel no longer holds: the VM refuses every call on it. */
const DETACHED: MemoryControl = Object.assign(
  Object.create(MemoryControl.prototype) as MemoryControl,
  {
    id: 0,
    object: null,
  },
);

/** What a data_request on a control uses (KernelServer.requestLink, kept in MemoryControl.link). */
interface RequestLink {
  readonly object: MemoryObjectPort;
  readonly client: MemoryObjectClient;
  readonly control: memory_object_control_t;
}

/** A send-once reply right (lock_request, data_supply, change_attributes) held by the kernel task. */
class ReplyRight {
  constructor(readonly name: number) {}
}

export interface KernelServerOptions {
  readonly residentLimit: number;
  readonly pageSize?: number;
  /** Pages per page-out pass and per data_return (VmKernelOptions.pageoutCluster; default 1). */
  readonly pageoutCluster?: number;
  /** Page frames shared with a pager in this event loop (../page-pool.ts). */
  readonly framePool?: PageFramePool;
  /** Control-port requests handled at once (default 64). */
  readonly concurrency?: number;
  /** VmKernelOptions.faultHandoff (default true). */
  readonly faultHandoff?: boolean;
}

export class KernelServer implements MemoryManagerLink, DefaultPagerLink {
  readonly task: Task;
  readonly vm: VmKernel;
  /** The privileged host port (receive right): vm_set_default_memory_manager is sent here. */
  readonly hostPriv: number;
  private readonly controlSet: number;
  /** Control port name → control, while the kernel holds its receive right. */
  private readonly controls = new Map<number, MemoryControl>();
  private lastControlName = MACH_PORT_NULL as number;
  private lastControl: MemoryControl | null = null;
  private readonly controlNames = new WeakMap<MemoryControl, number>();
  private readonly nameNames = new WeakMap<MemoryObjectName, number>();
  private readonly internalPorts = new WeakMap<KernelObjectPort, number>();
  private readonly clients = new Map<number, MemoryObjectClient>();
  private defaultPager: { name: number; client: MemoryObjectDefaultClient } | null = null;
  private registered: Array<() => void> = [];
  private server: ChainedServer | null = null;
  /** Replies the kernel refused (a manager call on a control port that no longer has an object). */
  controlRejections = 0;
  /** The VM's page size, and as the bigint a data_request's length is (one, not one per request). */
  private readonly pageSize: number;
  private readonly pageSizeBig: bigint;
  readonly errors: string[] = [];

  constructor(
    readonly kernel: Kernel,
    options: KernelServerOptions,
  ) {
    this.task = kernel.createTask("kernel");
    this.vm = new VmKernel({
      manager: this,
      residentLimit: options.residentLimit,
      ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
      ...(options.pageoutCluster === undefined ? {} : { pageoutCluster: options.pageoutCluster }),
      ...(options.framePool === undefined ? {} : { framePool: options.framePool }),
      ...(options.faultHandoff === undefined ? {} : { faultHandoff: options.faultHandoff }),
      // The generated memory_object_data_return sends its data without dealloc: the runtime
      // copies the region into the message at send, so returned frames are free once queued.
      returnsCopied: true,
    });
    this.pageSize = this.vm.pageSize;
    this.pageSizeBig = BigInt(this.pageSize);
    const t = this.task;
    this.controlSet = t.mach_port_allocate(MACH_PORT_RIGHT_PORT_SET).name;
    this.hostPriv = t.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    t.mach_port_move_member(this.hostPriv, this.controlSet);
    this.server = serveChained(t, this.controlSet, [mach_server(this.handlers) as AnyMigDemux], {
      concurrency: options.concurrency ?? 64,
      onError: (e) => {
        if (!(e instanceof MachError))
          this.errors.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
      },
    });
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = null;
  }

  /** Control-port requests in progress or queued (0 when idle). */
  get busy(): number {
    return (this.server?.inFlight ?? 0) + queuedOn(this.task, this.controlSet);
  }

  /** Gives `task` a send right to the host_priv port (how a default pager registers). */
  giveHostPriv(task: Task): number {
    return this.task.mach_port_extract_right(this.hostPriv, MACH_MSG_TYPE_MAKE_SEND, task).right;
  }

  /** Resolves once a default pager has registered with vm_set_default_memory_manager. */
  whenDefaultPager(): Promise<void> {
    if (this.defaultPager !== null) return Promise.resolve();
    return new Promise((resolve) => this.registered.push(resolve));
  }

  /** A send right to the registered default pager's service port, for a user task. */
  defaultPagerPortFor(task: Task): number {
    if (this.defaultPager === null) throw new Error("no default pager registered");
    const r = this.task.mach_port_extract_right(
      this.defaultPager.name,
      MACH_MSG_TYPE_COPY_SEND,
      task,
    );
    if (r.code !== ReturnCode.KERN_SUCCESS) throw new MachError(r.code, "default pager port");
    return r.right;
  }

  /**
   * vm_map of a memory object port by a task that holds a send right to it under `name` in
   * `holder` (the kernel copies the right in, as the vm_map trap does).
   */
  async vmMap(
    vmTask: VmTask,
    holder: Task,
    name: number,
    options: Omit<VmMapOptions, "object">,
  ): Promise<number> {
    const r = holder.mach_port_extract_right(name, MACH_MSG_TYPE_COPY_SEND, this.task);
    if (r.code !== ReturnCode.KERN_SUCCESS) throw new MachError(r.code, "vm_map: memory object");
    const port = this.task.portOf(r.right);
    try {
      return await this.vm.vmMap(vmTask, { ...options, object: port });
    } finally {
      this.task.mach_port_deallocate(r.right);
    }
  }

  // ---- MemoryManagerLink: kernel → manager ----

  init(
    object: MemoryObjectPort,
    control: MemoryControl,
    name: MemoryObjectName,
    pageSize: number,
  ): Promise<void> {
    const objectName = this.objectName(object);
    // The VM object's own send right, moved away again by terminate.
    this.task.mach_port_mod_refs(objectName, MACH_PORT_RIGHT_SEND, 1);
    return this.client(objectName)
      .memory_object_init(this.controlPort(control), this.namePort(name), BigInt(pageSize))
      .catch((e: unknown) => {
        this.task.mach_port_deallocate(objectName); // no association after all
        throw e;
      });
  }

  dataRequest(
    object: MemoryObjectPort,
    control: MemoryControl,
    offset: number,
    length: number,
    desiredAccess: number,
  ): Promise<void> {
    const link = this.requestLink(object, control);
    return link.client.memory_object_data_request(
      link.control,
      BigInt(offset),
      length === this.pageSize ? this.pageSizeBig : BigInt(length),
      desiredAccess,
    );
  }

  /** The faulting thread blocks: the serve loops its data_request woke run now (runReady). */
  runWoken(): void {
    this.kernel.runReady();
  }

  dataUnlock(
    object: MemoryObjectPort,
    control: MemoryControl,
    offset: number,
    length: number,
    desiredAccess: number,
  ): Promise<void> {
    return this.client(this.objectName(object)).memory_object_data_unlock(
      this.controlPort(control),
      BigInt(offset),
      BigInt(length),
      desiredAccess,
    );
  }

  dataReturn(
    object: MemoryObjectPort,
    control: MemoryControl,
    offset: number,
    data: Uint8Array,
    dirty: boolean,
    kernelCopy: boolean,
  ): Promise<void> {
    return this.client(this.objectName(object)).memory_object_data_return(
      this.controlPort(control),
      BigInt(offset),
      data,
      dirty ? 1 : 0,
      kernelCopy ? 1 : 0,
    );
  }

  terminate(
    object: MemoryObjectPort,
    control: MemoryControl,
    name: MemoryObjectName,
  ): Promise<void> {
    const objectName = this.objectName(object);
    const controlName = this.controlPort(control);
    const nameName = this.namePort(name);
    // Both receive rights leave with the message (MOVE_RECEIVE); so does the send right.
    control.link = null;
    this.forgetControl(controlName);
    this.controlNames.delete(control);
    this.nameNames.delete(name);
    const sent = this.client(objectName).memory_object_terminate(controlName, nameName);
    if (this.task.portOf(objectName) === null) this.clients.delete(objectName);
    return sent;
  }

  lockCompleted(
    replyTo: ReplyPort,
    control: MemoryControl,
    offset: number,
    length: number,
  ): Promise<void> {
    return this.replyClient(replyTo).memory_object_lock_completed(
      MACH_MSG_TYPE_MOVE_SEND_ONCE,
      this.controlPort(control),
      BigInt(offset),
      BigInt(length),
    );
  }

  supplyCompleted(
    replyTo: ReplyPort,
    control: MemoryControl,
    offset: number,
    length: number,
    result: number,
    errorOffset: number,
  ): Promise<void> {
    return this.replyClient(replyTo).memory_object_supply_completed(
      MACH_MSG_TYPE_MOVE_SEND_ONCE,
      this.controlPort(control),
      BigInt(offset),
      BigInt(length),
      result,
      BigInt(errorOffset),
    );
  }

  changeCompleted(replyTo: ReplyPort, mayCache: boolean, copyStrategy: number): Promise<void> {
    return this.replyClient(replyTo).memory_object_change_completed(
      MACH_MSG_TYPE_MOVE_SEND_ONCE,
      mayCache ? 1 : 0,
      copyStrategy,
    );
  }

  // ---- DefaultPagerLink ----

  memoryObjectCreate(
    newObject: MemoryObjectPort,
    size: number,
    control: MemoryControl,
    name: MemoryObjectName,
    pageSize: number,
  ): Promise<void> {
    const pager = this.defaultPager;
    if (pager === null || !(newObject instanceof KernelObjectPort))
      return Promise.reject(new Error("memory_object_create: no default pager"));
    const t = this.task;
    const port = t.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    // Keep a send right under the same name; the receive right moves to the pager.
    t.mach_port_insert_right(port, port, MACH_MSG_TYPE_MAKE_SEND);
    this.internalPorts.set(newObject, port);
    // The request moves a send right to the default pager port (MOVE_SEND): copy one first.
    t.mach_port_mod_refs(pager.name, MACH_PORT_RIGHT_SEND, 1);
    return pager.client
      .memory_object_create(
        port as never,
        BigInt(size),
        this.controlPort(control),
        this.namePort(name),
        BigInt(pageSize),
      )
      .catch((e: unknown) => {
        t.mach_port_deallocate(pager.name); // the moved copy stayed here
        throw e;
      });
  }

  // ---- the control-port server (generated from mach_pager_calls.defs) ----

  private readonly handlers: MachHandlers = {
    memory_object_ready: (control, mayCache, copyStrategy) => {
      this.checked(this.vm.memoryObjectReady(this.control(control), mayCache !== 0, copyStrategy));
    },
    memory_object_change_attributes: async (control, mayCache, copyStrategy, replyTo) => {
      this.checked(
        await this.vm.changeAttributes(
          this.control(control),
          mayCache !== 0,
          copyStrategy,
          this.replyRight(replyTo),
        ),
        replyTo,
      );
    },
    memory_object_get_attributes: (control): memory_object_get_attributes_outs => {
      const r = this.vm.getAttributes(this.control(control));
      if (r.code !== ReturnCode.KERN_SUCCESS)
        throw new MachError(r.code, "memory_object_get_attributes");
      return {
        object_ready: r.ready ? 1 : 0,
        may_cache: r.mayCache ? 1 : 0,
        copy_strategy: r.copyStrategy,
      };
    },
    memory_object_data_supply: (control, offset, data, lockValue, precious, replyTo) => {
      // Usually synchronous (the serve loop then answers without tracking a promise).
      const code = this.vm.dataSupply(
        this.control(control),
        Number(offset),
        data,
        lockValue,
        precious !== 0,
        this.replyRight(replyTo),
      );
      if (typeof code !== "number") return code.then((c) => this.checked(c, replyTo));
      this.checked(code, replyTo);
    },
    memory_object_data_unavailable: (control, offset, size) => {
      this.checked(this.vm.dataUnavailable(this.control(control), Number(offset), Number(size)));
    },
    memory_object_data_error: (control, offset, size, error) => {
      this.checked(this.vm.dataError(this.control(control), Number(offset), Number(size), error));
    },
    memory_object_lock_request: async (
      control,
      offset,
      size,
      shouldReturn,
      shouldFlush,
      lockValue,
      replyTo,
    ) => {
      this.checked(
        await this.vm.lockRequest(
          this.control(control),
          Number(offset),
          Number(size),
          shouldReturn,
          shouldFlush !== 0,
          lockValue,
          this.replyRight(replyTo),
        ),
        replyTo,
      );
    },
    memory_object_destroy: async (control, reason) => {
      this.checked(await this.vm.destroy(this.control(control), reason));
    },
    vm_set_default_memory_manager: (host, manager): mach_port_make_send_t => {
      if (host !== this.hostPriv)
        throw new MachError(ReturnCode.KERN_INVALID_HOST, "vm_set_default_memory_manager");
      // Registration only: the reply makes a send right, which this kernel task cannot make for
      // a port it does not receive, so a query (MACH_PORT_NULL) answers MACH_PORT_NULL.
      if (manager !== MACH_PORT_NULL) {
        const old = this.defaultPager;
        this.defaultPager = {
          name: manager,
          client: new MemoryObjectDefaultClient(callerFor(this.task, manager)),
        };
        if (old !== null) this.task.mach_port_deallocate(old.name);
        this.vm.setDefaultMemoryManager(this);
        for (const wake of this.registered.splice(0)) wake();
      }
      return MACH_PORT_NULL as mach_port_make_send_t;
    },
  };

  // ---- ports ----

  private objectName(object: MemoryObjectPort): number {
    const name =
      object instanceof KernelObjectPort
        ? this.internalPorts.get(object)
        : this.task.nameOf(object as Port);
    if (name === undefined || name === MACH_PORT_NULL)
      throw new MachError(ReturnCode.MACH_SEND_INVALID_DEST, "memory object port");
    return name;
  }

  /**
   * The client and control name a data_request on `control` uses, kept on the control (its
   * association's object port and control port do not change while it lives; terminate
   * clears it).
   */
  private requestLink(object: MemoryObjectPort, control: MemoryControl): RequestLink {
    const cached = control.link as RequestLink | null;
    if (cached !== null && cached.object === object) return cached;
    const link: RequestLink = {
      object,
      client: this.client(this.objectName(object)),
      control: this.controlPort(control),
    };
    control.link = link;
    return link;
  }

  private client(objectName: number): MemoryObjectClient {
    let c = this.clients.get(objectName);
    if (c === undefined) {
      c = new MemoryObjectClient(callerFor(this.task, objectName));
      this.clients.set(objectName, c);
    }
    return c;
  }

  private replyClient(replyTo: ReplyPort): MemoryObjectClient {
    return new MemoryObjectClient(callerFor(this.task, (replyTo as ReplyRight).name));
  }

  private replyRight(name: number): ReplyRight | null {
    return name === MACH_PORT_NULL ? null : new ReplyRight(name);
  }

  /** The control port's name here, made (receive right, in the control set) on first use. */
  private controlPort(control: MemoryControl): memory_object_control_t {
    let name = this.controlNames.get(control);
    if (name === undefined) {
      name = this.task.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
      this.task.mach_port_set_qlimit(name, MACH_PORT_QLIMIT_MAX);
      this.task.mach_port_move_member(name, this.controlSet);
      this.controlNames.set(control, name);
      this.controls.set(name, control);
    }
    return name as memory_object_control_t;
  }

  private namePort(name: MemoryObjectName): memory_object_name_t {
    let n = this.nameNames.get(name);
    if (n === undefined) {
      n = this.task.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
      this.nameNames.set(name, n);
    }
    return n as memory_object_name_t;
  }

  /** The control behind a port; a detached one (every call refused) for a port no longer ours. */
  private control(name: number): MemoryControl {
    // The last one looked up first: a page-in's data_supply comes on the control its request
    // went out with.
    if (name === this.lastControlName && this.lastControl !== null) return this.lastControl;
    const control = this.controls.get(name);
    if (control === undefined) return DETACHED;
    this.lastControlName = name;
    this.lastControl = control;
    return control;
  }

  private forgetControl(name: number): void {
    this.controls.delete(name);
    if (name === this.lastControlName) this.lastControl = null;
  }

  private checked(code: number, replyTo = MACH_PORT_NULL as number): void {
    if (code === ReturnCode.KERN_SUCCESS) return;
    this.controlRejections++;
    // A refused call never reaches its completion message: release the reply right.
    if (replyTo !== MACH_PORT_NULL) this.task.mach_port_deallocate(replyTo);
  }
}
