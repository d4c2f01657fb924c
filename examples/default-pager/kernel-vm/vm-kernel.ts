/**
 * A model of the kernel side of external memory management (memory-object-reference §2–§5, §9
 * "Kernel-side VM model"), independent of IPC. Tasks map memory objects; byte reads and writes fault
 * pages in through data_request; a bounded set of resident pages is kept in active/inactive LRU
 * queues and dirty pages are evicted with data_return; anonymous memory gets a default-pager object
 * (memory_object_create) at its first page-out.
 *
 * Outgoing messages go through MemoryManagerLink / DefaultPagerLink. The manager's calls on control
 * ports are the public methods in the "control port" section; each returns a kern_return_t.
 *
 * Page-out can be clustered (VmKernelOptions.pageoutCluster): runs of contiguous dirty pages of
 * one object leave in one data_return, as lock_request's returns do in GNU Mach (§5).
 *
 * Not modelled (yet): copy-on-write (vm_map copy = TRUE, shadow and copy objects, data_initialize
 * pushes), partial vm_deallocate, wiring, the external-object request limit (50), laundry
 * throttling, and the data_unavailable "offset 0, > 8192 bytes" quirk.
 */
import {
  MEMORY_OBJECT_COPY_TEMPORARY,
  MEMORY_OBJECT_RETURN_ALL,
  MEMORY_OBJECT_RETURN_NONE,
  ReturnCode,
  VM_PROT_ALL,
  VM_PROT_NO_CHANGE,
  VM_PROT_READ,
  VM_PROT_WRITE,
} from "../constants.js";
import type { DefaultPagerLink, MemoryManagerLink, MemoryObjectPort, ReplyPort } from "./links.js";
import { KernelObjectPort, MemoryControl } from "./ports.js";
import { PageQueue, Placeholder, ResidentPage, VmObject } from "./vm-object.js";
import type { PageFramePool } from "../page-pool.js";

/** A failure of a kernel call, carrying the kern_return_t. */
export class KernError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The exception a faulting thread gets (EXC_BAD_ACCESS with this code and the address). */
export class MemoryFault extends KernError {
  constructor(
    code: number,
    readonly address: number,
    message: string,
  ) {
    super(code, message);
  }
}

export interface MapEntry {
  readonly start: number;
  readonly end: number;
  readonly object: VmObject;
  readonly offset: number;
  readonly protection: number;
}

/** What a fault on a resident page returns (its work is done synchronously). */
const DONE: Promise<void> = Promise.resolve();

/**
 * What an access does with the page once it is resident (a module function, not a closure per
 * access): `bytes` is the caller's buffer, `inPage` where in the page it starts.
 */
type PageUse = (page: ResidentPage, bytes: Uint8Array, inPage: number) => void;

/** A read: the page's bytes into the caller's buffer. */
function copyOut(page: ResidentPage, into: Uint8Array, inPage: number): void {
  const data = page.data;
  into.set(
    inPage === 0 && into.length === data.length
      ? data
      : data.subarray(inPage, inPage + into.length),
  );
}

/** A write: the caller's bytes into the page, which becomes dirty. */
function copyIn(page: ResidentPage, data: Uint8Array, inPage: number): void {
  page.data.set(data, inPage);
  page.dirty = true;
}

/** Page frames per slab (newFrame). */
const FRAME_SLAB = 16;

export class Task {
  readonly entries: MapEntry[] = [];
  alive = true;
  /** Next address tried for "anywhere" mappings. */
  nextAddress = 0x1000_0000;
  constructor(readonly id: number) {}
}

export interface VmKernelOptions {
  readonly manager: MemoryManagerLink;
  readonly pageSize?: number;
  /** The bound on resident pages (the model's physical memory). */
  readonly residentLimit: number;
  /**
   * Page-out clustering (default 1: one page per pass, one page per data_return). With n > 1, a
   * pass that finds the bound exceeded frees n pages at once (the pageout daemon's low/high
   * free-page targets, §4.1), and runs of contiguous dirty (or precious) pages of one object go
   * out together, up to n pages per data_return (the batching lock_request does, §5). Capped at
   * the resident limit.
   */
  readonly pageoutCluster?: number;
  /** Frames shared with a pager in the same event loop (../page-pool.ts). */
  readonly framePool?: PageFramePool;
  /**
   * The manager link copies data_return's data when it queues the message (the IPC link does:
   * memory_object_data_return's data is not `dealloc`, so the runtime copies the region into
   * the message at send). The frames of returned pages then go back to `framePool` once the
   * send is queued, instead of to the garbage collector. Default false: a link may keep them.
   */
  readonly returnsCopied?: boolean;
  /**
   * What a faulting thread does as it blocks after its data_request (default true): hand the
   * processor to the manager the send woke (MemoryManagerLink.runWoken), so a lone faulting
   * thread has its page as soon as the manager can answer. False models a scheduler that first
   * runs every other runnable thread: with several faulting threads their data_requests queue
   * up, and the manager takes them in one burst (the default pager then reads their pages back
   * to back: PagerCoreOptions.gatherReads).
   */
  readonly faultHandoff?: boolean;
}

export interface VmMapOptions {
  readonly size: number;
  /** A memory object port, or null for anonymous zero-fill memory. */
  readonly object: MemoryObjectPort | null;
  readonly offset?: number;
  /** A fixed address; otherwise the kernel chooses one. */
  readonly address?: number;
  readonly protection?: number;
  readonly copy?: boolean;
}

export interface VmStatistics {
  resident: number;
  faults: number;
  pageins: number;
  pageouts: number;
  zeroFills: number;
  cleanDrops: number;
}

export class VmKernel {
  readonly pageSize: number;
  readonly residentLimit: number;
  readonly pageoutCluster: number;
  readonly stats: VmStatistics = {
    resident: 0,
    faults: 0,
    pageins: 0,
    pageouts: 0,
    zeroFills: 0,
    cleanDrops: 0,
  };
  private readonly manager: MemoryManagerLink;
  private defaultPager: DefaultPagerLink | null = null;
  private defaultPagerWakeup: (() => void)[] = [];
  /** Port → VM object (the port's kernel-object type PAGER). */
  private readonly bound = new Map<MemoryObjectPort, VmObject>();
  private readonly active = new PageQueue();
  private readonly inactive = new PageQueue();
  private nextTaskId = 1;
  /** Sends (page-outs, terminations) that have not settled, so tests can wait for quiescence. */
  private inFlight = 0;
  private readonly quiesceWaiters: (() => void)[] = [];
  /** Page frames are carved out of slabs: one ArrayBuffer per FRAME_SLAB pages, not one per page. */
  private slab: ArrayBuffer | null = null;
  private slabNext = FRAME_SLAB;
  private readonly framePool: PageFramePool | null;
  private readonly returnsCopied: boolean;
  private readonly faultHandoff: boolean;
  /** Staging for non-adjacent runs of a data_return when the link copies (returnsCopied). */
  private staging: Uint8Array | null = null;
  /** The last data_request send promise seen fulfilled (pageIn). */
  private sentOk: Promise<void> | null = null;
  /** Failures of one-way sends nobody waits for (the IPC layer would log them). */
  readonly sendFailures: unknown[] = [];

  constructor(options: VmKernelOptions) {
    this.manager = options.manager;
    this.pageSize = options.pageSize ?? 4096;
    if (options.residentLimit < 1) throw new RangeError("residentLimit must be at least 1");
    this.residentLimit = options.residentLimit;
    const cluster = options.pageoutCluster ?? 1;
    if (!Number.isInteger(cluster) || cluster < 1)
      throw new RangeError("pageoutCluster must be a positive integer");
    this.pageoutCluster = Math.min(cluster, this.residentLimit);
    this.framePool = options.framePool ?? null;
    this.returnsCopied = options.returnsCopied ?? false;
    this.faultHandoff = options.faultHandoff ?? true;
  }

  // ---- host and tasks ----

  /** vm_set_default_memory_manager. Internal pages become evictable once one is registered. */
  setDefaultMemoryManager(link: DefaultPagerLink | null): DefaultPagerLink | null {
    const old = this.defaultPager;
    this.defaultPager = link;
    if (link !== null) for (const wake of this.defaultPagerWakeup.splice(0)) wake();
    return old;
  }

  createTask(): Task {
    return new Task(this.nextTaskId++);
  }

  async taskTerminate(task: Task): Promise<void> {
    task.alive = false;
    for (const entry of task.entries.splice(0)) await this.releaseObject(entry.object);
  }

  /** vm_allocate: anonymous memory. Nothing is sent until a page of it is evicted. */
  vmAllocate(task: Task, size: number): Promise<number> {
    return this.vmMap(task, { size, object: null });
  }

  /** vm_map. The first map of a memory object port sends init; faults wait for ready, vm_map does not. */
  async vmMap(task: Task, options: VmMapOptions): Promise<number> {
    const { size, object: port } = options;
    const offset = options.offset ?? 0;
    const protection = options.protection ?? VM_PROT_ALL;
    if (!task.alive) throw new KernError(ReturnCode.KERN_INVALID_TASK, "task is dead");
    if (size <= 0 || !Number.isSafeInteger(size))
      throw new KernError(ReturnCode.KERN_INVALID_ARGUMENT, `size ${size}`);
    if ((protection & ~VM_PROT_ALL) !== 0)
      throw new KernError(ReturnCode.KERN_INVALID_ARGUMENT, "protection");
    if (offset % this.pageSize !== 0)
      throw new KernError(ReturnCode.KERN_INVALID_ARGUMENT, "unaligned offset");
    if (options.copy === true)
      throw new KernError(
        ReturnCode.KERN_INVALID_ARGUMENT,
        "copy-on-write mappings are not modelled",
      );
    const length = this.roundPage(size);
    const start = this.chooseAddress(task, options.address, length);
    let object: VmObject;
    if (port === null) {
      object = new VmObject(true, true, length, this.pageSize);
      object.refs = 1;
    } else {
      object = await this.enterObject(port, offset + length);
    }
    task.entries.push({ start, end: start + length, object, offset, protection });
    task.entries.sort((a, b) => a.start - b.start);
    return start;
  }

  /** vm_deallocate of a whole mapping. The last reference to an object terminates (or caches) it. */
  async vmDeallocate(task: Task, address: number, size: number): Promise<void> {
    const i = task.entries.findIndex(
      (e) => e.start === address && e.end === address + this.roundPage(size),
    );
    if (i < 0)
      throw new KernError(
        ReturnCode.KERN_INVALID_ADDRESS,
        "only whole mappings can be deallocated here",
      );
    const [entry] = task.entries.splice(i, 1);
    await this.releaseObject(entry!.object);
  }

  // ---- task memory ----

  async read(task: Task, address: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    await this.readInto(task, address, out);
    return out;
  }

  /** Like read, into the caller's buffer (`into.length` bytes from `address`). */
  readInto(task: Task, address: number, into: Uint8Array): Promise<void> {
    const r = this.readIntoNow(task, address, into);
    return r === true ? DONE : r;
  }

  /**
   * readInto for a thread that goes on at once when it can: true when the bytes are in `into`
   * on return (the page was resident, or its page-in completed during the call: the manager
   * answered while the thread was about to block, see MemoryManagerLink.runWoken), else a
   * promise that settles once they are (or rejects with the MemoryFault).
   */
  readIntoNow(task: Task, address: number, into: Uint8Array): true | Promise<void> {
    const inPage = address % this.pageSize;
    // Within one page (the usual case): one access, no loop frame.
    if (inPage + into.length <= this.pageSize && into.length > 0)
      return this.access(task, address, VM_PROT_READ, copyOut, into, inPage);
    return this.pages(task, address, into, VM_PROT_READ, copyOut);
  }

  write(task: Task, address: number, data: Uint8Array): Promise<void> {
    const inPage = address % this.pageSize;
    if (inPage + data.length <= this.pageSize && data.length > 0) {
      const r = this.access(task, address, VM_PROT_READ | VM_PROT_WRITE, copyIn, data, inPage);
      return r === true ? DONE : r;
    }
    return this.pages(task, address, data, VM_PROT_READ | VM_PROT_WRITE, copyIn);
  }

  /** A read or write crossing pages: one access per page, in order. */
  private async pages(
    task: Task,
    address: number,
    bytes: Uint8Array,
    access: number,
    use: PageUse,
  ): Promise<void> {
    const length = bytes.length;
    let done = 0;
    while (done < length) {
      const at = address + done;
      const inPage = at % this.pageSize;
      const n = Math.min(length - done, this.pageSize - inPage);
      const r = this.access(task, at, access, use, bytes.subarray(done, done + n), inPage);
      if (r !== true) await r;
      done += n;
    }
  }

  /** Waits until no page-out or termination send is pending (for tests and orderly shutdown). */
  async quiesce(): Promise<void> {
    while (this.inFlight > 0)
      await new Promise<void>((resolve) => this.quiesceWaiters.push(resolve));
  }

  // ---- control port: calls from the memory manager ----

  /** memory_object_ready. */
  memoryObjectReady(control: MemoryControl, mayCache: boolean, copyStrategy: number): number {
    const object = control.object;
    if (object === null) return ReturnCode.KERN_INVALID_ARGUMENT;
    if (copyStrategy < 0 || copyStrategy > MEMORY_OBJECT_COPY_TEMPORARY)
      return ReturnCode.KERN_INVALID_ARGUMENT;
    this.applyAttributes(object, mayCache, copyStrategy);
    return ReturnCode.KERN_SUCCESS;
  }

  /** memory_object_change_attributes; change_completed goes to replyTo afterwards, without the control port. */
  async changeAttributes(
    control: MemoryControl,
    mayCache: boolean,
    copyStrategy: number,
    replyTo: ReplyPort | null,
  ): Promise<number> {
    const object = control.object;
    if (object === null) return ReturnCode.KERN_INVALID_ARGUMENT;
    if (copyStrategy < 0 || copyStrategy > MEMORY_OBJECT_COPY_TEMPORARY)
      return ReturnCode.KERN_INVALID_ARGUMENT;
    this.applyAttributes(object, mayCache, copyStrategy);
    if (object.cached && !mayCache) {
      object.cached = false;
      await this.terminateObject(object);
    }
    if (replyTo !== null) await this.manager.changeCompleted(replyTo, mayCache, copyStrategy);
    return ReturnCode.KERN_SUCCESS;
  }

  /** memory_object_get_attributes. */
  getAttributes(control: MemoryControl): {
    code: number;
    ready: boolean;
    mayCache: boolean;
    copyStrategy: number;
  } {
    const object = control.object;
    if (object === null)
      return {
        code: ReturnCode.KERN_INVALID_ARGUMENT,
        ready: false,
        mayCache: false,
        copyStrategy: 0,
      };
    return {
      code: ReturnCode.KERN_SUCCESS,
      ready: object.pagerReady,
      mayCache: object.mayCache,
      copyStrategy: object.copyStrategy,
    };
  }

  /**
   * memory_object_data_supply. Per page: fills a requested placeholder (active), inserts an
   * unrequested page as a prefetch (inactive), stops with KERN_MEMORY_PRESENT at a resident page.
   * The data buffer is consumed.
   */
  dataSupply(
    control: MemoryControl,
    offset: number,
    data: Uint8Array,
    lockValue: number,
    precious: boolean,
    replyTo: ReplyPort | null,
  ): number | Promise<number> {
    const object = control.object;
    if (object === null) return ReturnCode.KERN_INVALID_ARGUMENT;
    if (
      (lockValue & ~VM_PROT_ALL) !== 0 ||
      data.length % this.pageSize !== 0 ||
      offset % this.pageSize !== 0
    ) {
      return ReturnCode.KERN_INVALID_ARGUMENT;
    }
    // Synchronous unless a page on its way out must be waited for or supply_completed is asked for.
    // (supply_completed's result is gathered only when somebody asked for it.)
    return this.supplyFrom(
      object,
      control,
      offset,
      data,
      lockValue,
      precious,
      replyTo,
      0,
      replyTo === null ? null : { result: ReturnCode.KERN_SUCCESS, errorOffset: 0 },
    );
  }

  private supplyFrom(
    object: VmObject,
    control: MemoryControl,
    offset: number,
    data: Uint8Array,
    lockValue: number,
    precious: boolean,
    replyTo: ReplyPort | null,
    start: number,
    outcome: { result: number; errorOffset: number } | null,
  ): number | Promise<number> {
    for (let at = start; at < data.length;) {
      const pageOffset = offset + at;
      const slot = object.slots.get(pageOffset);
      if (slot instanceof Placeholder && slot.state === "holding") {
        // busy but not absent: wait, then look again
        return slot.done.promise.then(() =>
          this.supplyFrom(object, control, offset, data, lockValue, precious, replyTo, at, outcome),
        );
      }
      if (slot instanceof ResidentPage) {
        if (outcome !== null) {
          outcome.result = ReturnCode.KERN_MEMORY_PRESENT;
          outcome.errorOffset = pageOffset;
        }
        break;
      }
      // The data is consumed: a one-page supply becomes the page itself, without a copy.
      const bytes = data.length === this.pageSize ? data : data.slice(at, at + this.pageSize);
      const page = new ResidentPage(object, pageOffset, bytes);
      page.lock = lockValue;
      page.precious = precious;
      const requested = slot instanceof Placeholder && slot.state === "requested";
      this.insertResident(page, requested ? "active" : "inactive");
      if (slot !== undefined) slot.done.wake();
      this.stats.pageins++;
      at += this.pageSize;
    }
    if (replyTo === null || outcome === null) return ReturnCode.KERN_SUCCESS;
    return this.manager
      .supplyCompleted(replyTo, control, offset, data.length, outcome.result, outcome.errorOffset)
      .then(() => ReturnCode.KERN_SUCCESS);
  }

  /** memory_object_data_unavailable: requested pages become zero-fill (or "use the shadow"). */
  dataUnavailable(control: MemoryControl, offset: number, size: number): number {
    return this.settleRequested(control, offset, size, "unavailable");
  }

  /** memory_object_data_error: requested pages fail the threads waiting for them. */
  dataError(control: MemoryControl, offset: number, size: number, _error: number): number {
    return this.settleRequested(control, offset, size, "error");
  }

  /**
   * memory_object_lock_request (§5): per resident page in order, return, flush and/or set the lock;
   * sleeps on busy pages. lock_completed is queued after every data_return the call caused.
   */
  async lockRequest(
    control: MemoryControl,
    offset: number,
    size: number,
    shouldReturn: number,
    shouldFlush: boolean,
    lockValue: number,
    replyTo: ReplyPort | null,
  ): Promise<number> {
    const object = control.object;
    if (object === null) return ReturnCode.KERN_INVALID_ARGUMENT;
    if ((lockValue & ~VM_PROT_ALL) !== 0 && lockValue !== VM_PROT_NO_CHANGE)
      return ReturnCode.KERN_INVALID_ARGUMENT;
    if (shouldReturn < MEMORY_OBJECT_RETURN_NONE || shouldReturn > MEMORY_OBJECT_RETURN_ALL)
      return ReturnCode.KERN_INVALID_ARGUMENT;
    const end = offset + this.roundPage(size);
    const sends: Promise<boolean>[] = [];
    for (let at = offset; at < end;) {
      const slot = object.slots.get(at);
      if (slot instanceof Placeholder) {
        if (slot.state === "holding") {
          await slot.done.promise;
          continue;
        }
        at += this.pageSize; // absent (requested) pages are skipped
        continue;
      }
      if (slot !== undefined) {
        const page = slot;
        const returnIt =
          shouldReturn !== MEMORY_OBJECT_RETURN_NONE &&
          (page.dirty || (page.precious && shouldReturn === MEMORY_OBJECT_RETURN_ALL));
        if (returnIt && object.pager !== null && object.control !== null) {
          const data = shouldFlush ? page.data : page.data.slice();
          sends.push(
            this.track(
              this.manager.dataReturn(
                object.pager,
                object.control,
                at,
                data,
                page.dirty,
                !shouldFlush,
              ),
            ),
          );
          this.stats.pageouts++;
          if (!shouldFlush) page.dirty = false;
        }
        if (shouldFlush) {
          this.removeResident(page);
          page.lockChangedNow();
        } else {
          if (lockValue !== VM_PROT_NO_CHANGE) {
            page.lock = lockValue;
            page.unlockRequest = 0;
            page.lockChangedNow();
          }
          if (shouldReturn !== MEMORY_OBJECT_RETURN_NONE && !returnIt) this.deactivate(page);
        }
      }
      at += this.pageSize;
    }
    await Promise.allSettled(sends);
    if (replyTo !== null) await this.manager.lockCompleted(replyTo, control, offset, size);
    return ReturnCode.KERN_SUCCESS;
  }

  /**
   * memory_object_destroy: the associations break at once and terminate is sent with all three
   * rights. Mappings stay; resident pages stay usable; non-resident pages fault with
   * KERN_MEMORY_ERROR.
   */
  async destroy(control: MemoryControl, _reason: number): Promise<number> {
    const object = control.object;
    if (object === null || object.pager === null) return ReturnCode.KERN_INVALID_ARGUMENT;
    const port = object.pager;
    object.mayCache = false;
    this.detachPager(object);
    const sent = await this.track(this.manager.terminate(port, control, object.name));
    return sent ? ReturnCode.KERN_SUCCESS : ReturnCode.KERN_FAILURE;
  }

  /**
   * The memory object port died (the manager destroyed its receive right): no terminate is sent;
   * outstanding requests fail, and the object becomes usable only through its resident pages.
   */
  memoryObjectPortDied(port: MemoryObjectPort): void {
    const object = this.bound.get(port);
    if (object === undefined) return;
    this.detachPager(object);
    for (const slot of object.slots.values()) {
      if (slot instanceof Placeholder && slot.state === "requested") {
        slot.state = "error";
        slot.done.wake();
      }
    }
  }

  // ---- introspection ----

  /** The control port of the object mapped at `address` in `task` (tests and the IPC layer's vm_region). */
  objectAt(task: Task, address: number): VmObject | undefined {
    return this.entryAt(task, address)?.object;
  }

  get residentCount(): number {
    return this.active.size + this.inactive.size;
  }

  // ---- internals: objects ----

  private async enterObject(port: MemoryObjectPort, size: number): Promise<VmObject> {
    for (;;) {
      const existing = this.bound.get(port);
      if (existing !== undefined && existing.terminating !== null) {
        await existing.terminating;
        continue;
      }
      if (existing !== undefined) {
        existing.refs++;
        existing.cached = false;
        return existing; // live or cached: no message, the size is ignored
      }
      const object = new VmObject(false, false, size, this.pageSize);
      object.refs = 1;
      object.pager = port;
      object.control = new MemoryControl(object);
      object.pagerCreated = true;
      this.bound.set(port, object);
      try {
        await this.manager.init(port, object.control, object.name, this.pageSize);
      } catch (e) {
        this.bound.delete(port);
        throw new KernError(
          ReturnCode.KERN_INVALID_ARGUMENT,
          `init could not be sent: ${String(e)}`,
        );
      }
      object.pagerInitialized = true;
      return object;
    }
  }

  private applyAttributes(object: VmObject, mayCache: boolean, copyStrategy: number): void {
    object.mayCache = mayCache;
    if (copyStrategy === MEMORY_OBJECT_COPY_TEMPORARY) object.temporary = true;
    else object.copyStrategy = copyStrategy;
    object.setReady();
  }

  private async releaseObject(object: VmObject): Promise<void> {
    if (--object.refs > 0) return;
    if (object.mayCache && object.residentPages > 0 && object.pager !== null) {
      object.cached = true; // kept with its pages and ports; remapping finds it
      return;
    }
    await this.terminateObject(object);
  }

  /**
   * §2.6: temporary objects drop their pages; permanent ones return dirty and precious pages one per
   * message; then terminate moves the rights, if a pager exists.
   */
  private terminateObject(object: VmObject): Promise<void> {
    const run = async (): Promise<void> => {
      object.alive = false;
      const port = object.pager;
      const control = object.control;
      const sends: Promise<boolean>[] = [];
      for (const [offset, slot] of object.slots.entries()) {
        if (slot instanceof ResidentPage) {
          if (
            !object.temporary &&
            port !== null &&
            control !== null &&
            (slot.dirty || slot.precious)
          ) {
            sends.push(
              this.track(
                this.manager.dataReturn(port, control, offset, slot.data, slot.dirty, false),
              ),
            );
            this.stats.pageouts++;
          }
          this.removeResident(slot);
        } else {
          object.slots.delete(offset);
          slot.state = "error";
          slot.done.wake();
        }
      }
      if (port !== null && control !== null) {
        sends.push(this.track(this.manager.terminate(port, control, object.name)));
        control.object = null;
      }
      await Promise.allSettled(sends);
      if (port !== null && this.bound.get(port) === object) this.bound.delete(port);
    };
    object.terminating = run();
    return object.terminating;
  }

  private detachPager(object: VmObject): void {
    if (object.pager !== null && this.bound.get(object.pager) === object)
      this.bound.delete(object.pager);
    if (object.control !== null) object.control.object = null;
    object.pager = null;
    object.control = null;
    object.pagerLost = true;
    object.setReady(); // activity is aborted: nobody waits for a ready that cannot come
  }

  // ---- internals: faults ----

  private entryAt(task: Task, address: number): MapEntry | undefined {
    // A loop, not `find` with a closure: every access looks its entry up.
    const entries = task.entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (address >= e.start && address < e.end) return e;
    }
    return undefined;
  }

  /**
   * Faults the page in and runs `use` on it synchronously, while it is certainly resident: anything
   * awaited in between could let a page-out take it. A resident page is used at once, and so is
   * one a page-in brought during the call (true, no promise made); otherwise the access waits
   * for the supply.
   */
  private access(
    task: Task,
    address: number,
    access: number,
    use: PageUse,
    bytes: Uint8Array,
    inPage: number,
  ): true | Promise<void> {
    if (!task.alive)
      return Promise.reject(new MemoryFault(ReturnCode.KERN_INVALID_TASK, address, "task is dead"));
    const entry = this.entryAt(task, address);
    if (entry === undefined)
      return Promise.reject(
        new MemoryFault(ReturnCode.KERN_INVALID_ADDRESS, address, "unmapped address"),
      );
    if ((entry.protection & access) !== access)
      return Promise.reject(
        new MemoryFault(ReturnCode.KERN_PROTECTION_FAILURE, address, "protection"),
      );
    const pageAddress = address - (address % this.pageSize);
    const offset = entry.offset + (pageAddress - entry.start);
    const object = entry.object;
    let found: ResidentPage | Promise<ResidentPage | void>;
    try {
      found = this.fault(object, offset, access, address);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    if (found instanceof ResidentPage && object.slots.get(offset) === found) {
      this.touch(found);
      use(found, bytes, inPage);
      return true;
    }
    return this.accessLater(object, offset, access, address, use, bytes, inPage, found);
  }

  /** The rest of `access` once the fault had to wait. */
  private async accessLater(
    object: VmObject,
    offset: number,
    access: number,
    address: number,
    use: PageUse,
    bytes: Uint8Array,
    inPage: number,
    found: ResidentPage | Promise<ResidentPage | void>,
  ): Promise<void> {
    for (;;) {
      const page = found instanceof ResidentPage ? found : await found;
      // undefined: a page-in's placeholder was settled; look again. A page may also have been
      // evicted by another fault between its arrival and this continuation.
      if (page !== undefined && object.slots.get(offset) === page) {
        this.touch(page);
        use(page, bytes, inPage);
        return;
      }
      found =
        page === undefined
          ? this.faultStep(object, offset, access, address)
          : this.fault(object, offset, access, address);
    }
  }

  /**
   * The page at `offset`, or a promise: for a ResidentPage, or (a page-in) for the settling of
   * the request's placeholder, after which the caller looks again (faultStep).
   */
  private fault(
    object: VmObject,
    offset: number,
    access: number,
    address: number,
  ): ResidentPage | Promise<ResidentPage | void> {
    this.stats.faults++;
    return this.faultStep(object, offset, access, address);
  }

  private faultStep(
    object: VmObject,
    offset: number,
    access: number,
    address: number,
  ): ResidentPage | Promise<ResidentPage | void> {
    const slot = object.slots.get(offset);
    if (slot instanceof ResidentPage) {
      if ((slot.lock & access) === 0) return slot;
    } else if (slot === undefined && object.alive && !(object.pagerLost && !object.internal)) {
      // faultSlow's last steps, without its async frame: zero fill, or a page-in.
      const askPager =
        object.pager !== null &&
        object.control !== null &&
        (!object.internal || object.existence.mayExist(offset));
      if (!askPager) return this.zeroFill(object, offset);
      if (object.pagerReady) return this.pageIn(object, offset, access);
    }
    return this.faultSlow(object, offset, access, address);
  }

  /**
   * §3.1 step 2: a busy+absent placeholder, then data_request. The send is queued inside the
   * link call, so nothing waits for its promise; a failed send settles the placeholder
   * ("unsent"), and the waiting fault fails with KERN_MEMORY_ERROR.
   */
  private pageIn(
    object: VmObject,
    offset: number,
    access: number,
  ): ResidentPage | Promise<ResidentPage | void> {
    const placeholder = new Placeholder("requested");
    object.slots.set(offset, placeholder);
    let sent: Promise<void>;
    try {
      sent = this.manager.dataRequest(
        object.pager!,
        object.control!,
        offset,
        this.pageSize,
        access,
      );
    } catch {
      sent = Promise.reject(new Error("data_request could not be sent"));
    }
    // A promise already seen fulfilled cannot fail (the IPC link's stubs return one shared
    // promise for every send that completed at once): no handler, no reaction job.
    if (sent !== this.sentOk)
      sent.then(
        () => (this.sentOk = sent),
        () => this.requestNotSent(placeholder),
      );
    const manager = this.manager;
    if (this.faultHandoff && manager.runWoken !== undefined) {
      manager.runWoken();
      // Supplied while the thread was about to block: no wait.
      const slot = object.slots.get(offset);
      if (slot instanceof ResidentPage && (slot.lock & access) === 0) return slot;
    }
    return placeholder.done.promise;
  }

  private requestNotSent(placeholder: Placeholder): void {
    if (placeholder.state !== "requested") return; // settled meanwhile (terminated, port died)
    placeholder.state = "unsent";
    placeholder.done.wake();
  }

  /** Every other case of §3.1: locks, busy pages, settled placeholders, zero fill, waiting for ready. */
  private async faultSlow(
    object: VmObject,
    offset: number,
    access: number,
    address: number,
  ): Promise<ResidentPage> {
    for (;;) {
      const slot = object.slots.get(offset);
      if (slot instanceof ResidentPage) {
        if ((slot.lock & access) === 0) return slot;
        // §3.3: ask once per new access set, then sleep until a lock operation wakes us.
        const wake = slot.lockChanged.promise;
        if (
          (slot.unlockRequest & access) !== access &&
          object.pager !== null &&
          object.control !== null
        ) {
          slot.unlockRequest |= access;
          try {
            await this.manager.dataUnlock(
              object.pager,
              object.control,
              offset,
              this.pageSize,
              slot.unlockRequest,
            );
          } catch {
            throw new MemoryFault(
              ReturnCode.KERN_MEMORY_ERROR,
              address,
              "data_unlock could not be sent",
            );
          }
        }
        await wake;
        continue;
      }
      if (slot !== undefined) {
        if (slot.busy) {
          await slot.done.promise;
          continue;
        }
        object.slots.delete(offset);
        if (slot.state === "error")
          throw new MemoryFault(
            ReturnCode.KERN_MEMORY_ERROR,
            address,
            "the memory manager reported an error",
          );
        if (slot.state === "unsent")
          throw new MemoryFault(
            ReturnCode.KERN_MEMORY_ERROR,
            address,
            "data_request could not be sent",
          );
        return this.zeroFill(object, offset); // unavailable
      }
      if (!object.alive)
        throw new MemoryFault(ReturnCode.KERN_MEMORY_ERROR, address, "object terminated");
      const external = !object.internal;
      if (object.pagerLost && external)
        throw new MemoryFault(ReturnCode.KERN_MEMORY_ERROR, address, "the object has no pager");
      const askPager =
        object.pager !== null &&
        object.control !== null &&
        (external || object.existence.mayExist(offset));
      if (!askPager) return this.zeroFill(object, offset);
      if (!object.pagerReady) {
        await object.readyWakeup.promise;
        continue;
      }
      await this.pageIn(object, offset, access);
    }
  }

  private zeroFill(object: VmObject, offset: number): ResidentPage {
    const page = new ResidentPage(object, offset, this.newFrame());
    this.insertResident(page, "active");
    this.stats.zeroFills++;
    return page;
  }

  private settleRequested(
    control: MemoryControl,
    offset: number,
    size: number,
    state: "unavailable" | "error",
  ): number {
    const object = control.object;
    if (object === null) return ReturnCode.KERN_INVALID_ARGUMENT;
    if (offset % this.pageSize !== 0 || size % this.pageSize !== 0)
      return ReturnCode.KERN_INVALID_ARGUMENT;
    for (let at = offset; at < offset + size; at += this.pageSize) {
      const slot = object.slots.get(at);
      if (slot instanceof Placeholder && slot.state === "requested") {
        slot.state = state;
        slot.done.wake();
      }
    }
    return ReturnCode.KERN_SUCCESS;
  }

  // ---- internals: resident pages and page-out ----

  private insertResident(page: ResidentPage, queue: "active" | "inactive"): void {
    page.object.slots.set(page.offset, page);
    page.object.residentPages++;
    (queue === "active" ? this.active : this.inactive).push(page);
    this.stats.resident = this.residentCount;
    this.pageoutPass(page);
  }

  private removeResident(page: ResidentPage): void {
    if (page.object.slots.get(page.offset) === page) page.object.slots.delete(page.offset);
    const queue = page.queue;
    if (queue !== null) {
      queue.remove(page);
      page.object.residentPages--;
    }
    this.stats.resident = this.residentCount;
  }

  private touch(page: ResidentPage): void {
    const queue = page.queue;
    if (queue === null || (queue === this.active && page === this.active.tail)) return;
    queue.remove(page);
    this.active.push(page);
  }

  private deactivate(page: ResidentPage): void {
    if (this.active.remove(page)) this.inactive.push(page);
  }

  /**
   * Evicts until the bound holds: inactive before active, oldest first (§4.2). With clustering, a
   * pass frees `pageoutCluster` pages and sends each run of contiguous pages of one object (same
   * dirty bit) in one data_return.
   */
  private pageoutPass(arriving: ResidentPage | null = null): void {
    if (this.residentCount <= this.residentLimit) return;
    const target = this.residentLimit + 1 - this.pageoutCluster;
    let run: ResidentPage[] = [];
    let holds: Placeholder[] = [];
    while (this.residentCount > target) {
      const victim = this.chooseVictim(arriving);
      // Nothing else can go (internal pages without a default pager, pages whose pager is
      // gone): they stay, past the bound.
      if (victim === undefined) break;
      const holding = this.evict(victim);
      if (holding === null) continue;
      const last = run[run.length - 1];
      if (
        last !== undefined &&
        (last.object !== victim.object ||
          last.offset + this.pageSize !== victim.offset ||
          last.dirty !== victim.dirty ||
          run.length >= this.pageoutCluster)
      ) {
        this.sendReturn(run, holds);
        run = [];
        holds = [];
      }
      run.push(victim);
      holds.push(holding);
    }
    if (run.length > 0) this.sendReturn(run, holds);
  }

  /**
   * The next page to evict; never `arriving`, the page whose arrival started the pass (evicting
   * it would leave its fault to bring it in again, and again, when nothing else can go).
   */
  private chooseVictim(arriving: ResidentPage | null): ResidentPage | undefined {
    for (let page = this.inactive.head; page !== null; page = page.next) {
      if (page !== arriving && this.evictable(page)) return page;
    }
    for (let page = this.active.head; page !== null; page = page.next) {
      if (page !== arriving && this.evictable(page)) return page;
    }
    return undefined;
  }

  private evictable(page: ResidentPage): boolean {
    const object = page.object;
    if (object.internal && this.defaultPager === null) return false;
    return !object.pageoutFailed || (!page.dirty && !page.precious);
  }

  /**
   * Takes the page out of memory. A clean, non-precious page is dropped (null). Otherwise a
   * holding placeholder keeps faults away until the data_return is queued (a fault after it sends
   * a data_request, which queues behind the return), and the caller sends it.
   */
  private evict(page: ResidentPage): Placeholder | null {
    const object = page.object;
    this.removeResident(page);
    if (!page.dirty && !page.precious) {
      this.stats.cleanDrops++; // the manager (or zero-fill) has it
      // Nothing was sent and nothing else refers to the data: the frame is free memory again.
      this.framePool?.give(page.data);
      return null;
    }
    if (object.internal && !object.pagerCreated) this.createPager(object);
    if (object.pager === null || object.control === null) return null; // destroyed: dirty data has nowhere to go
    if (object.internal) object.existence.add(page.offset);
    const holding = new Placeholder("holding");
    object.slots.set(page.offset, holding);
    this.stats.pageouts++;
    return holding;
  }

  /** One data_return for a run of contiguous evicted pages of one object. */
  private sendReturn(run: readonly ResidentPage[], holds: readonly Placeholder[]): void {
    const first = run[0]!;
    const object = first.object;
    const size = this.pageSize;
    let data = first.data;
    if (run.length > 1) {
      // Frames of pages faulted in one after another usually sit side by side in one slab: then
      // the run is one view, without a copy. The frames leave with the message either way.
      let adjacent = true;
      for (let i = 1; i < run.length && adjacent; i++) {
        const d = run[i]!.data;
        adjacent = d.buffer === data.buffer && d.byteOffset === data.byteOffset + i * size;
      }
      if (adjacent) data = new Uint8Array(data.buffer, data.byteOffset, run.length * size);
      else {
        // When the link copies the data into the message at send, one staging buffer serves
        // every run (warm memory; a fresh one per run cost an allocation and page faults).
        data = this.returnsCopied
          ? this.stagingFor(run.length * size)
          : new Uint8Array(run.length * size);
        for (let i = 0; i < run.length; i++) data.set(run[i]!.data, i * size);
      }
    }
    const sent = this.track(
      this.manager.dataReturn(
        object.pager!,
        object.control!,
        first.offset,
        data,
        first.dirty,
        false,
      ),
    );
    const recycle = this.returnsCopied ? this.framePool : null;
    void sent.then((queued) => {
      for (let i = 0; i < run.length; i++) {
        const page = run[i]!;
        const holding = holds[i]!;
        // The message holds its own copy of the data: the frame is free memory again.
        if (queued && recycle !== null) recycle.give(page.data);
        if (object.slots.get(page.offset) === holding) {
          object.slots.delete(page.offset);
          if (!queued) {
            // The send failed: keep the data rather than lose it, and stop choosing the object's
            // dirty pages (each pass would send them again and fail again).
            object.pageoutFailed = true;
            const back = new ResidentPage(object, page.offset, page.data);
            back.dirty = true;
            object.slots.set(page.offset, back);
            object.residentPages++;
            this.inactive.push(back);
          }
        }
        holding.done.wake();
      }
    });
  }

  /** §2.4: the first page-out of an internal object gives it a pager. */
  private createPager(object: VmObject): void {
    const link = this.defaultPager;
    if (link === null) throw new Error("internal page chosen for page-out without a default pager");
    const port = new KernelObjectPort();
    object.pager = port;
    object.control = new MemoryControl(object);
    object.pagerCreated = true;
    object.pagerInitialized = true;
    object.setReady();
    this.bound.set(port, object);
    this.track(
      link.memoryObjectCreate(port, object.size, object.control, object.name, this.pageSize),
    );
  }

  /** Resolves true once the message is queued, false (recorded in sendFailures) if the send failed. */
  private track(p: Promise<void>): Promise<boolean> {
    this.inFlight++;
    const settled = p.then(
      () => true,
      (e: unknown) => {
        this.sendFailures.push(e);
        return false;
      },
    );
    // Registered first, so quiesce resumes only after the caller's own reactions to `settled`.
    void settled.then(() => {
      if (--this.inFlight === 0) for (const wake of this.quiesceWaiters.splice(0)) wake();
    });
    return settled;
  }

  /** The first `length` bytes of the staging buffer for returned runs (grown as needed). */
  private stagingFor(length: number): Uint8Array {
    if (this.staging === null || this.staging.length < length)
      this.staging = new Uint8Array(length);
    return this.staging.subarray(0, length);
  }

  /** A zeroed page frame (a view into the current slab). */
  private newFrame(): Uint8Array {
    const free = this.framePool?.take();
    if (free !== undefined) return free.fill(0);
    const size = this.pageSize;
    if (this.slabNext >= FRAME_SLAB) {
      this.slab = new ArrayBuffer(size * FRAME_SLAB);
      this.slabNext = 0;
    }
    return new Uint8Array(this.slab!, size * this.slabNext++, size);
  }

  private chooseAddress(task: Task, fixed: number | undefined, length: number): number {
    const overlaps = (start: number): boolean =>
      task.entries.some((e) => start < e.end && start + length > e.start);
    if (fixed !== undefined) {
      if (fixed % this.pageSize !== 0)
        throw new KernError(ReturnCode.KERN_INVALID_ARGUMENT, "unaligned address");
      if (overlaps(fixed)) throw new KernError(ReturnCode.KERN_NO_SPACE, "address range in use");
      return fixed;
    }
    let start = task.nextAddress;
    while (overlaps(start)) start += this.pageSize;
    task.nextAddress = start + length + this.pageSize; // a guard page between mappings
    return start;
  }

  private roundPage(n: number): number {
    return Math.ceil(n / this.pageSize) * this.pageSize;
  }
}
