/**
 * The VM model and the pager core joined by direct asynchronous calls: a stand-in for the IPC layer,
 * and the shape that layer will have. Each kernel→manager call takes the object port's next seqno
 * synchronously (as dequeuing from the port would), then delivers the message, optionally after a
 * random delay so that messages overtake each other the way several receiving threads would make
 * them; the pager core's per-object gates must restore the order. Replies go back to the VM's
 * control-port methods.
 *
 * What the real runtime provides and this file imitates: the no-senders notification (here: once
 * neither the kernel nor a client holds a send right to an object port) and send-right counting for
 * the ports default_pager_object_create hands out.
 */
import { ReturnCode } from "./constants.js";
import type {
  DefaultPagerLink,
  MemoryManagerLink,
  MemoryObjectPort,
  ReplyPort,
} from "./kernel-vm/links.js";
import type { MemoryControl, MemoryObjectName } from "./kernel-vm/ports.js";
import type { VmKernel } from "./kernel-vm/vm-kernel.js";
import type {
  DataRequestReply,
  DefaultPagerCore,
  PagerObject,
  WriteOutcome,
} from "./pager-core.js";

/** The send right a client gets from default_pager_object_create. */
export class ExternalObjectPort {
  private static next = 1;
  readonly id = ExternalObjectPort.next++;
}

interface Binding {
  readonly object: PagerObject<object>;
  nextSeqno: number;
  clientRights: number;
  kernelRight: boolean;
  noSendersSent: boolean;
}

export interface DirectWiringOptions {
  /** Deliver each message after 0–2 event-loop turns, chosen at random. */
  readonly jitter?: boolean;
  readonly random?: () => number;
}

export class DirectWiring implements MemoryManagerLink, DefaultPagerLink {
  /** Anything that would have been a protocol error or a panic in a real pager. */
  readonly errors: string[] = [];
  /** Page-outs the pager could not store (the pages are lost; later reads get data_error). */
  readonly writeFailures: WriteOutcome["failed"][number][] = [];
  /** Replies the kernel refused (e.g. a supply that raced terminate). */
  controlRejections = 0;
  private readonly bindings = new Map<MemoryObjectPort, Binding>();
  private readonly pending = new Set<Promise<void>>();
  private readonly random: () => number;

  constructor(
    readonly core: DefaultPagerCore<object>,
    readonly vm: VmKernel,
    private readonly options: DirectWiringOptions = {},
  ) {
    this.random = options.random ?? Math.random;
  }

  // ---- the service port (user side) ----

  /** default_pager_object_create: returns the port to vm_map. */
  defaultPagerObjectCreate(size: number): ExternalObjectPort {
    const r = this.core.defaultPagerObjectCreate(size);
    if (r.value === undefined) throw new Error(`default_pager_object_create: ${String(r.error)}`);
    const port = new ExternalObjectPort();
    this.bindings.set(port, {
      object: r.value,
      nextSeqno: 0,
      clientRights: 1,
      kernelRight: false,
      noSendersSent: false,
    });
    return port;
  }

  /** The client deallocates its send right. */
  releaseSendRight(port: ExternalObjectPort): void {
    const b = this.bindings.get(port);
    if (b === undefined || b.clientRights === 0) {
      this.errors.push("release of a send right nobody holds");
      return;
    }
    b.clientRights--;
    this.maybeNoSenders(port, b);
  }

  pagerObject(port: MemoryObjectPort): PagerObject<object> | undefined {
    return this.bindings.get(port)?.object;
  }

  /** Resolves once every delivered message has been handled and its reply applied. */
  async idle(): Promise<void> {
    for (;;) {
      await this.vm.quiesce();
      if (this.pending.size === 0) {
        // Let timers and immediates that may still queue work run once more.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.pending.size === 0) return;
      }
      await Promise.allSettled([...this.pending]);
    }
  }

  // ---- DefaultPagerLink ----

  memoryObjectCreate(
    newObject: MemoryObjectPort,
    size: number,
    control: MemoryControl,
    name: MemoryObjectName,
    pageSize: number,
  ): Promise<void> {
    const r = this.core.memoryObjectCreate(size, control, name, pageSize);
    if (r.value === undefined) {
      this.errors.push(`memory_object_create: ${String(r.error)}`);
      return Promise.resolve();
    }
    // The receive right moved: seqnos start again at 0. Nothing else holds a send right.
    this.bindings.set(newObject, {
      object: r.value,
      nextSeqno: 0,
      clientRights: 0,
      kernelRight: true,
      noSendersSent: false,
    });
    return Promise.resolve();
  }

  // ---- MemoryManagerLink ----

  init(
    object: MemoryObjectPort,
    control: MemoryControl,
    name: MemoryObjectName,
    pageSize: number,
  ): Promise<void> {
    return this.send(
      object,
      async (b, seqno) => {
        const reply = await this.core.init(b.object, seqno, control, name, pageSize);
        if (reply.kind === "ready")
          this.checkControl(this.vm.memoryObjectReady(control, reply.mayCache, reply.copyStrategy));
        else this.errors.push(`init: ${reply.reason}`);
      },
      (b) => (b.kernelRight = true),
    );
  }

  dataRequest(
    object: MemoryObjectPort,
    control: MemoryControl,
    offset: number,
    length: number,
    desiredAccess: number,
  ): Promise<void> {
    return this.send(object, async (b, seqno) => {
      const reply: DataRequestReply = await this.core.dataRequest(
        b.object,
        seqno,
        offset,
        length,
        desiredAccess,
      );
      switch (reply.kind) {
        case "supply":
          this.checkControl(
            await this.vm.dataSupply(
              control,
              reply.offset,
              reply.data,
              reply.lockValue,
              reply.precious,
              null,
            ),
          );
          break;
        case "unavailable":
          this.checkControl(this.vm.dataUnavailable(control, reply.offset, reply.size));
          break;
        case "error":
          this.checkControl(this.vm.dataError(control, reply.offset, reply.size, reply.error));
          break;
      }
    });
  }

  dataUnlock(
    object: MemoryObjectPort,
    _control: MemoryControl,
    _offset: number,
    _length: number,
    _desiredAccess: number,
  ): Promise<void> {
    return this.send(object, async (b, seqno) => {
      const r = await this.core.unexpected(b.object, seqno, "data_unlock");
      this.errors.push(String(r.error));
    });
  }

  dataReturn(
    object: MemoryObjectPort,
    _control: MemoryControl,
    offset: number,
    data: Uint8Array,
    dirty: boolean,
    kernelCopy: boolean,
  ): Promise<void> {
    return this.send(object, async (b, seqno) => {
      const outcome = await this.core.dataReturn(b.object, seqno, offset, data, dirty, kernelCopy);
      this.writeFailures.push(...outcome.failed);
    });
  }

  terminate(
    object: MemoryObjectPort,
    _control: MemoryControl,
    _name: MemoryObjectName,
  ): Promise<void> {
    return this.send(
      object,
      async (b, seqno) => {
        await this.core.terminate(b.object, seqno);
      },
      (b) => {
        b.kernelRight = false; // the kernel's send right moved as the destination, and is consumed
        queueMicrotask(() => this.maybeNoSenders(object, b));
      },
    );
  }

  lockCompleted(
    _replyTo: ReplyPort,
    _control: MemoryControl,
    _offset: number,
    _length: number,
  ): Promise<void> {
    this.errors.push("lock_completed: the default pager never asks for it");
    return Promise.resolve();
  }

  supplyCompleted(
    _replyTo: ReplyPort,
    _control: MemoryControl,
    _offset: number,
    _length: number,
    _result: number,
    _errorOffset: number,
  ): Promise<void> {
    this.errors.push("supply_completed: the default pager never asks for it");
    return Promise.resolve();
  }

  changeCompleted(_replyTo: ReplyPort, _mayCache: boolean, _copyStrategy: number): Promise<void> {
    this.errors.push("change_completed: the default pager never asks for it");
    return Promise.resolve();
  }

  // ---- internals ----

  /** Takes the port's next seqno now, then delivers `handle` (perhaps late). */
  private send(
    port: MemoryObjectPort,
    handle: (b: Binding, seqno: number) => Promise<void>,
    onQueued?: (b: Binding) => void,
  ): Promise<void> {
    const b = this.bindings.get(port);
    if (b === undefined || !b.object.live)
      return Promise.reject(new Error("send to a dead memory object port"));
    const seqno = b.nextSeqno++;
    onQueued?.(b);
    this.spawn(async () => {
      await this.delay();
      await handle(b, seqno);
    });
    return Promise.resolve();
  }

  private maybeNoSenders(port: MemoryObjectPort, b: Binding): void {
    if (b.noSendersSent || b.kernelRight || b.clientRights > 0) return;
    b.noSendersSent = true;
    const seqno = b.nextSeqno++;
    this.spawn(async () => {
      await this.delay();
      const r = await this.core.noSenders(b.object, seqno);
      if (r.code !== ReturnCode.KERN_SUCCESS) this.errors.push(`no-senders: ${String(r.error)}`);
      this.bindings.delete(port);
    });
  }

  private spawn(work: () => Promise<void>): void {
    const p = work().catch((e: unknown) => {
      this.errors.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
    });
    this.pending.add(p);
    void p.then(() => this.pending.delete(p));
  }

  private async delay(): Promise<void> {
    if (this.options.jitter !== true) return;
    const turns = Math.floor(this.random() * 3);
    for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  private checkControl(code: number): void {
    if (code !== ReturnCode.KERN_SUCCESS) this.controlRejections++;
  }
}
