/**
 * The default pager's logic, independent of IPC (memory-object-reference §7 and §9, "Default
 * pager"). The IPC layer owns ports and messages; it maps each object port to a PagerObject, calls
 * the method for the message with the message's seqno, and turns the returned reply value into the
 * kernel call (data_supply, data_unavailable, data_error, ready) on the object's control port.
 *
 * `Port` is whatever the IPC layer uses for the control and name rights; the core only stores and
 * compares them (default_pager_object_pages finds an object by its name port).
 */
import { MEMORY_OBJECT_COPY_DELAY, ReturnCode, VM_PROT_NONE } from "./constants.js";
import type { PageFramePool } from "./page-pool.js";
import { SeqnoGate, type RequestOrdering } from "./seqno-gate.js";
import type { PageMap } from "./storage/page-map.js";
import type { PageRead, PagingStorage } from "./storage/paging-storage.js";
import type { Result } from "./storage/result.js";
import type { PagingFileInfo, StorageError } from "./storage/index.js";

/** Ends a turn entered with `enter` once `sent` settles; resolves to `result` (or rejects). */
function leaveAfter<T>(ordering: RequestOrdering, sent: Promise<void>, result: T): Promise<T> {
  return sent.then(
    () => {
      ordering.leave!();
      return result;
    },
    (e: unknown) => {
      ordering.leave!();
      throw e;
    },
  );
}

/** A gathered request's buffer until the flush gives it one. */
const NO_FRAME = new Uint8Array(0);

/** Page buffers per slab (newPageBuffer). */
const READ_SLAB = 16;

export type ObjectKind = "internal" | "external";

/**
 * What a failed page-out does to later reads. "object" is mach-defpager's rule and
 * memory-object-reference §10 (after one failed write every later data_request on the object gets
 * data_error). "page" confines the damage to the pages whose data was lost.
 */
export type WriteErrorPolicy = "object" | "page";

export interface PagerCoreOptions {
  readonly storage: PagingStorage;
  readonly writeErrorPolicy?: WriteErrorPolicy;
  /** Builds the per-object ordering; defaults to SeqnoGate (runtime/mig's SeqnoOrder fits too). */
  readonly makeOrdering?: () => RequestOrdering;
  /**
   * Called at the start of every in-order section (object id, seqno, message), for tracing and
   * for the tests that check each object's requests are handled in seqno order.
   */
  readonly onOrdered?: (objectId: number, seqno: number, what: string) => void;
  /** Frames shared with the VM model in the same event loop (page-pool.ts); read buffers come from it. */
  readonly framePool?: PageFramePool;
  /**
   * Gather page-ins (default false): a well-formed data_request with a `then` that finds its
   * turn is not answered at once but queued; `flushReads` reads every queued page back to back
   * and only then sends the answers. It runs when the IPC layer's receive queue runs dry, in a
   * microtask after the first request queued, or when `gatherLimit` are queued. See `flushReads`
   * for why, and for the ordering rules.
   */
  readonly gatherReads?: boolean;
  /** Queued page-ins that force a flush (default 32). */
  readonly gatherLimit?: number;
  /**
   * Asked before queueing a request while none is queued yet: true when more requests are
   * already waiting behind it (the IPC layer looks at its receive queue). A lone request is
   * answered at once: gathering pays only in a burst, and costs a lone page-in its latency.
   * Without it every gatherable request is queued.
   */
  readonly burstPending?: () => boolean;
  /** Told when a gathered answer's send failed (its `then` returned a rejected promise). */
  readonly onGatheredReplyError?: (error: unknown) => void;
}

/** A data_request whose read was deferred to the next `flushReads` (and its PageRead there). */
interface GatheredRead<Port> extends PageRead {
  readonly object: PagerObject<Port>;
  readonly offset: number;
  readonly length: number;
  readonly then: InOrder<DataRequestReply> | undefined;
  reply: DataRequestReply | null;
  map: PageMap;
  objectPage: number;
  into: Uint8Array;
}

/**
 * Work the IPC layer does with a handler's result while the object's turn is still held: sending
 * the reply on the control port, destroying rights after terminate. The next message for the
 * object waits for it, so (for example) a terminate can never destroy the control port before
 * the data_supply of the request ahead of it has been queued.
 */
export type InOrder<T> = (result: T) => void | Promise<void>;

export class PagerObject<Port> {
  control: Port | null = null;
  name: Port | null = null;
  /** Failed page-outs; under the "object" policy any makes every read fail. */
  writeErrors = 0;
  readonly lostPages = new Set<number>();
  live = true;

  constructor(
    /** Opaque id reported by default_pager_objects (the Hurd reports the record's address). */
    readonly id: number,
    readonly kind: ObjectKind,
    /** external: the limit; reads at or beyond it fail. internal: the size the kernel announced. */
    readonly sizeBytes: number,
    readonly map: PageMap,
    readonly ordering: RequestOrdering,
  ) {}
}

/** The answer to data_request, to be sent on the object's control port. */
export type DataRequestReply =
  | {
      readonly kind: "supply";
      readonly offset: number;
      readonly data: Uint8Array;
      readonly lockValue: number;
      readonly precious: boolean;
    }
  | { readonly kind: "unavailable"; readonly offset: number; readonly size: number }
  | {
      readonly kind: "error";
      readonly offset: number;
      readonly size: number;
      readonly error: number;
      readonly reason: string;
    };

/** The answer to init: memory_object_ready on the control port, or a refusal to log. */
export type InitReply =
  | { readonly kind: "ready"; readonly mayCache: boolean; readonly copyStrategy: number }
  | { readonly kind: "protocol-error"; readonly reason: string };

export interface WriteOutcome {
  /** Pages written. */
  readonly stored: number;
  /** Pages skipped because a copy existed (data_initialize only). */
  readonly skipped: number;
  /** Pages whose data was lost, with the storage's reason. */
  readonly failed: readonly { readonly offset: number; readonly error: StorageError }[];
}

export interface KernResult<T = void> {
  readonly code: number;
  readonly value?: T;
  readonly error?: StorageError | string;
}

export interface DefaultPagerInfo {
  readonly totalSpace: number;
  readonly freeSpace: number;
  readonly pageSize: number;
}

export interface DefaultPagerObjectEntry<Port> {
  readonly object: number;
  /** Bytes actually allocated in paging storage. */
  readonly size: number;
  /** Its name port, or null before init / between terminate and no-senders. */
  readonly name: Port | null;
  readonly kind: ObjectKind;
}

export class DefaultPagerCore<Port = unknown> {
  readonly storage: PagingStorage;
  readonly pageSize: number;
  readonly writeErrorPolicy: WriteErrorPolicy;
  private readonly objectTable = new Map<number, PagerObject<Port>>();
  private readonly makeOrdering: () => RequestOrdering;
  private readonly onOrdered: ((objectId: number, seqno: number, what: string) => void) | undefined;
  private nextObjectId = 1;
  private fileserver: Port | null = null;
  private slab: ArrayBuffer | null = null;
  private slabNext = READ_SLAB;
  private readonly framePool: PageFramePool | null;
  private readonly gatherReads: boolean;
  private readonly gatherLimit: number;
  private readonly onGatheredReplyError: ((error: unknown) => void) | undefined;
  private readonly burstPending: (() => boolean) | undefined;
  /** Page-ins waiting for `flushReads`, in the order their turns came. */
  private gathered: GatheredRead<Port>[] = [];
  /** Flushes that had page-ins to read, the page-ins they read, and the largest burst. */
  readonly gatherStats = { bursts: 0, pages: 0, largest: 0 };

  constructor(options: PagerCoreOptions) {
    this.storage = options.storage;
    this.pageSize = options.storage.pageSize;
    this.writeErrorPolicy = options.writeErrorPolicy ?? "object";
    this.makeOrdering = options.makeOrdering ?? (() => new SeqnoGate());
    this.onOrdered = options.onOrdered;
    this.framePool = options.framePool ?? null;
    this.gatherReads = options.gatherReads ?? false;
    this.gatherLimit = Math.max(1, options.gatherLimit ?? 32);
    this.onGatheredReplyError = options.onGatheredReplyError;
    this.burstPending = options.burstPending;
  }

  // ---- service port: default_pager.defs and memory_object_default.defs ----

  /** default_pager_object_create: an external, temporary, zero-filled object of `size` bytes. */
  defaultPagerObjectCreate(size: number): KernResult<PagerObject<Port>> {
    if (!Number.isSafeInteger(size) || size < 0)
      return { code: ReturnCode.KERN_INVALID_ARGUMENT, error: `size ${size}` };
    return { code: ReturnCode.KERN_SUCCESS, value: this.newObject("external", size) };
  }

  /**
   * memory_object_create: the kernel hands over a temporary object it created. It stands for the
   * first init: control and name are recorded and no ready is needed. Messages on the new object port
   * start at seqno 0 (its receive right has just moved).
   */
  memoryObjectCreate(
    size: number,
    control: Port,
    name: Port,
    pageSize: number,
  ): KernResult<PagerObject<Port>> {
    if (pageSize !== this.pageSize) {
      return {
        code: ReturnCode.KERN_INVALID_ARGUMENT,
        error: `page size ${pageSize}, pager uses ${this.pageSize}`,
      };
    }
    if (!Number.isSafeInteger(size) || size < 0)
      return { code: ReturnCode.KERN_INVALID_ARGUMENT, error: `size ${size}` };
    const object = this.newObject("internal", size);
    object.control = control;
    object.name = name;
    return { code: ReturnCode.KERN_SUCCESS, value: object };
  }

  /** default_pager_info: sums over the paging files, in bytes. */
  info(): DefaultPagerInfo {
    const s = this.storage.info();
    return {
      totalSpace: s.totalPages * s.pageSize,
      freeSpace: s.freePages * s.pageSize,
      pageSize: s.pageSize,
    };
  }

  /** default_pager_objects. */
  objects(): DefaultPagerObjectEntry<Port>[] {
    return [...this.objectTable.values()].map((o) => ({
      object: o.id,
      size: o.map.size * this.pageSize,
      name: o.name,
      kind: o.kind,
    }));
  }

  /** default_pager_object_pages: stored offsets of the object whose name port is `name`. */
  objectPages(name: Port): KernResult<number[]> {
    for (const o of this.objectTable.values()) {
      if (o.name !== null && o.name === name)
        return { code: ReturnCode.KERN_SUCCESS, value: this.storedOffsets(o) };
    }
    return { code: ReturnCode.KERN_INVALID_ARGUMENT, error: "no object has that name port" };
  }

  /** Stored offsets, ascending (also for objects without a name port). */
  storedOffsets(object: PagerObject<Port>): number[] {
    return object.map.pages().map((p) => p * this.pageSize);
  }

  /**
   * default_pager_paging_file(filename, add). Adding opens (or creates, with sizeBytes) the file;
   * removing moves its pages to the other files first, as mach-defpager's removal does, and fails
   * with KERN_FAILURE (keeping the file) when they do not fit.
   */
  async pagingFile(
    filename: string,
    add: boolean,
    options: { sizeBytes?: number; removeBatchPages?: number } = {},
  ): Promise<KernResult<PagingFileInfo>> {
    this.flushReads();
    const r = add
      ? this.storage.addFile(
          filename,
          options.sizeBytes === undefined ? {} : { sizeBytes: options.sizeBytes },
        )
      : await this.storage.removeFile(filename, {
          movePages: true,
          ...(options.removeBatchPages === undefined
            ? {}
            : { batchPages: options.removeBatchPages }),
        });
    if (r.ok) return { code: ReturnCode.KERN_SUCCESS, value: r.value };
    const code =
      r.error.code === "NO_SUCH_FILE" ||
      r.error.code === "INVALID_ARGUMENT" ||
      r.error.code === "FILE_EXISTS"
        ? ReturnCode.KERN_INVALID_ARGUMENT
        : ReturnCode.KERN_FAILURE;
    return { code, error: r.error };
  }

  /** default_pager_register_fileserver: kept, not used yet. */
  registerFileserver(port: Port): KernResult {
    this.fileserver = port;
    return { code: ReturnCode.KERN_SUCCESS };
  }

  get registeredFileserver(): Port | null {
    return this.fileserver;
  }

  lookup(id: number): PagerObject<Port> | undefined {
    return this.objectTable.get(id);
  }

  // ---- object ports: memory_object.defs / memory_object_default.defs, in seqno order ----

  /** memory_object_init: record control and name, answer ready(may_cache F, COPY_DELAY). */
  init(
    object: PagerObject<Port>,
    seqno: number,
    control: Port,
    name: Port,
    pageSize: number,
    then?: InOrder<InitReply>,
  ): InitReply | Promise<InitReply> {
    return this.ordered(object, seqno, "init", then, (): InitReply => {
      if (!object.live) return { kind: "protocol-error", reason: "init on a destroyed object" };
      if (pageSize !== this.pageSize)
        return { kind: "protocol-error", reason: `page size ${pageSize}` };
      if (object.control !== null)
        return { kind: "protocol-error", reason: "init while a kernel is still attached" };
      object.control = control;
      object.name = name;
      return { kind: "ready", mayCache: false, copyStrategy: MEMORY_OBJECT_COPY_DELAY };
    });
  }

  /**
   * memory_object_data_request: stored page → supply; never written → unavailable (internal) or a
   * zero page (external); at or beyond an external object's size, after a lost write, or on a read
   * failure → data_error. The kernel always asks for exactly one page.
   */
  dataRequest(
    object: PagerObject<Port>,
    seqno: number,
    offset: number,
    length: number,
    desiredAccess: number,
  ): DataRequestReply | Promise<DataRequestReply>;
  /**
   * With `then`, on a core that gathers page-ins (PagerCoreOptions.gatherReads), a request it
   * queues returns null: `then` gets the answer at the next `flushReads`.
   */
  dataRequest(
    object: PagerObject<Port>,
    seqno: number,
    offset: number,
    length: number,
    desiredAccess: number,
    then: InOrder<DataRequestReply>,
  ): DataRequestReply | null | Promise<DataRequestReply>;
  dataRequest(
    object: PagerObject<Port>,
    seqno: number,
    offset: number,
    length: number,
    _desiredAccess: number,
    then?: InOrder<DataRequestReply>,
  ): DataRequestReply | null | Promise<DataRequestReply> {
    // The page-in path: when the request finds its turn (as it does unless an earlier message
    // of the object is still being handled), no work closure and no promise.
    const ordering = object.ordering;
    if (ordering.enter !== undefined && ordering.enter(seqno)) {
      // Assigned unless the request is gathered (then the turn ends with null, below).
      let reply!: DataRequestReply;
      let sent!: void | Promise<void>;
      let gathered = false;
      try {
        this.onOrdered?.(object.id, seqno, "data_request");
        if (
          this.gatherReads &&
          then !== undefined &&
          this.mayGather(object, offset, length) &&
          (this.gathered.length > 0 || this.burstPending === undefined || this.burstPending())
        ) {
          // Its turn ends here: nothing that could change the page runs before the flush.
          // The first one asks for a flush once this burst is over (the IPC layer's receive
          // loop may flush earlier, when its queue runs dry).
          const g: GatheredRead<Port> = {
            object,
            offset,
            length,
            then,
            reply: null,
            map: object.map,
            objectPage: 0,
            into: NO_FRAME,
            result: null,
          };
          if (this.gathered.push(g) === 1) queueMicrotask(this.flushLater);
          gathered = true;
        } else {
          this.flushReads();
          reply = this.answerRequest(object, offset, length);
          sent = then === undefined ? undefined : then(reply);
        }
      } catch (e) {
        ordering.leave!();
        return Promise.reject(e as Error);
      }
      if (gathered) {
        // A flush at the limit runs after the turn has passed (so a failure in it cannot end
        // the turn twice).
        ordering.leave!();
        if (this.gathered.length >= this.gatherLimit) this.flushReads();
        return null;
      }
      if (sent instanceof Promise) return leaveAfter(ordering, sent, reply);
      ordering.leave!();
      return reply;
    }
    return this.ordered(object, seqno, "data_request", then, () =>
      this.answerRequest(object, offset, length),
    );
  }

  /**
   * Reads every gathered page-in and sends the answers, in the order the requests took their
   * turns.
   *
   * Why gather: each read is a system call, and on a kernel that isolates page tables without
   * PCID (as this project's machines do: `pti` and no `pcid` in /proc/cpuinfo) every system call
   * empties the TLB, so the message path that runs after it pays a refill of its whole working
   * set. Reading the queued pages back to back and then running the message path once for all
   * of them pays that refill once per burst instead of once per page.
   *
   * Why it keeps each object's order: a request is gathered only in its turn, and every other
   * message's turn (data_return, terminate, no-senders, ...), every non-gathered answer and every
   * paging-file change flushes first. So nothing taken after a gathered request can change the
   * page it reads or overtake its answer; only page-ins queue up behind one another.
   */
  flushReads(): void {
    const batch = this.gathered;
    if (batch.length === 0) return;
    this.gathered = [];
    const stats = this.gatherStats;
    stats.bursts++;
    stats.pages += batch.length;
    if (batch.length > stats.largest) stats.largest = batch.length;
    // Checks and buffers first, then every read (nothing in between), then the answers.
    try {
      const reads: GatheredRead<Port>[] = [];
      for (let i = 0; i < batch.length; i++) {
        const g = batch[i]!;
        g.reply = this.refuseRequest(g.object, g.offset, g.length);
        if (g.reply !== null) continue;
        g.map = g.object.map;
        g.objectPage = g.offset / this.pageSize;
        g.into = this.newPageBuffer();
        reads.push(g);
      }
      this.storage.readPages(reads);
      for (let i = 0; i < reads.length; i++) {
        const g = reads[i]!;
        g.reply = this.answerRead(g.object, g.offset, g.length, g.into, g.result!);
      }
    } catch (e) {
      // Storage failures are values; a throw is a broken invariant. Every request still gets an
      // answer (a faulting thread must not wait for ever), as data_error.
      const reason = `page-in failed: ${e instanceof Error ? e.message : String(e)}`;
      for (let i = 0; i < batch.length; i++) {
        const g = batch[i]!;
        if (g.reply === null) g.reply = this.requestError(g.offset, g.length, reason);
      }
    }
    for (let i = 0; i < batch.length; i++) {
      const g = batch[i]!;
      if (g.then === undefined) continue;
      let sent: void | Promise<void>;
      try {
        sent = g.then(g.reply!);
      } catch (e) {
        this.onGatheredReplyError?.(e);
        continue;
      }
      if (sent instanceof Promise && this.onGatheredReplyError !== undefined)
        sent.then(undefined, this.onGatheredReplyError);
    }
  }

  private readonly flushLater = (): void => this.flushReads();

  /** Page-ins waiting for `flushReads`. */
  get gatheredReads(): number {
    return this.gathered.length;
  }

  /**
   * True for a well-formed request on a live object, which gathering defers whatever its answer
   * turns out to be (a supply, or unavailable for a page never written): answering the ones that
   * find no page at once would mean flushing the others first, breaking up every mixed burst.
   */
  private mayGather(object: PagerObject<Port>, offset: number, length: number): boolean {
    return (
      object.live &&
      length === this.pageSize &&
      offset >= 0 &&
      offset % this.pageSize === 0 &&
      (object.kind !== "external" || offset < object.sizeBytes)
    );
  }

  /** The answer to a data_request, in the object's turn. */
  private answerRequest(
    object: PagerObject<Port>,
    offset: number,
    length: number,
  ): DataRequestReply {
    const refused = this.refuseRequest(object, offset, length);
    if (refused !== null) return refused;
    const data = this.newPageBuffer();
    const read = this.storage.readPage(object.map, offset / this.pageSize, data);
    return this.answerRead(object, offset, length, data, read);
  }

  /** The answer to a request that reads no page (a data_error), or null when it reads one. */
  private refuseRequest(
    object: PagerObject<Port>,
    offset: number,
    length: number,
  ): DataRequestReply | null {
    if (!object.live) return this.requestError(offset, length, "object destroyed");
    if (length !== this.pageSize || offset % this.pageSize !== 0 || offset < 0) {
      return this.requestError(
        offset,
        length,
        `request of ${length} bytes at ${offset}`,
        ReturnCode.KERN_INVALID_ARGUMENT,
      );
    }
    if (object.kind === "external" && offset >= object.sizeBytes)
      return this.requestError(offset, length, `offset ${offset} beyond the object's size`);
    const lost =
      this.writeErrorPolicy === "object"
        ? object.writeErrors > 0
        : object.lostPages.has(offset / this.pageSize);
    if (lost) return this.requestError(offset, length, "an earlier page-out of this object failed");
    return null;
  }

  /** The answer once the page was read into `data` (read: stored or not, or the failure). */
  private answerRead(
    object: PagerObject<Port>,
    offset: number,
    length: number,
    data: Uint8Array,
    read: Result<boolean>,
  ): DataRequestReply {
    if (!read.ok) return this.requestError(offset, length, read.error.message);
    if (!read.value) data.fill(0); // a pooled frame holds old bytes
    if (read.value || object.kind === "external") {
      return { kind: "supply", offset, data, lockValue: VM_PROT_NONE, precious: false };
    }
    return { kind: "unavailable", offset, size: this.pageSize };
  }

  // A method, not a closure in answerRequest: under tsx (esbuild keepNames) every named closure
  // costs an Object.defineProperty when it is made, about a microsecond per page-in.
  private requestError(
    offset: number,
    length: number,
    reason: string,
    code: number = ReturnCode.KERN_FAILURE,
  ): DataRequestReply {
    return { kind: "error", offset, size: Math.max(length, this.pageSize), error: code, reason };
  }

  /**
   * memory_object_data_return: always overwrite. dirty and kernel_copy do not change what the
   * default pager does (every returned page is stored); they are accepted and ignored, as in
   * mach-defpager. The caller deallocates `data` after this resolves.
   */
  dataReturn(
    object: PagerObject<Port>,
    seqno: number,
    offset: number,
    data: Uint8Array,
    _dirty: boolean,
    _kernelCopy: boolean,
    then?: InOrder<WriteOutcome>,
  ): WriteOutcome | Promise<WriteOutcome> {
    return this.ordered(object, seqno, "data_return", then, () =>
      this.store(object, offset, data, false),
    );
  }

  /** memory_object_data_initialize: store only the pages that have no stored copy. */
  dataInitialize(
    object: PagerObject<Port>,
    seqno: number,
    offset: number,
    data: Uint8Array,
    then?: InOrder<WriteOutcome>,
  ): WriteOutcome | Promise<WriteOutcome> {
    return this.ordered(object, seqno, "data_initialize", then, () =>
      this.store(object, offset, data, true),
    );
  }

  /**
   * memory_object_terminate: the kernel let go. Returns the control and name rights the caller must
   * now destroy. The data is kept: an external object can be mapped again and gets a new init.
   */
  terminate(
    object: PagerObject<Port>,
    seqno: number,
    then?: InOrder<{ control: Port | null; name: Port | null }>,
  ):
    | { control: Port | null; name: Port | null }
    | Promise<{ control: Port | null; name: Port | null }> {
    return this.ordered(object, seqno, "terminate", then, () => {
      const released = { control: object.control, name: object.name };
      object.control = null;
      object.name = null;
      return released;
    });
  }

  /**
   * The no-senders notification on the object port (sequenced like any other message): nobody can
   * reach the object any more, so its pages are freed and it leaves the table.
   */
  noSenders(
    object: PagerObject<Port>,
    seqno: number,
    then?: InOrder<KernResult<number>>,
  ): KernResult<number> | Promise<KernResult<number>> {
    return this.ordered(object, seqno, "no_senders", then, (): KernResult<number> => {
      if (!object.live)
        return { code: ReturnCode.KERN_INVALID_ARGUMENT, error: "object already gone" };
      if (object.control !== null) {
        return {
          code: ReturnCode.KERN_FAILURE,
          error: "no-senders while a kernel is attached; object kept",
        };
      }
      const freed = this.storage.releaseMap(object.map);
      object.live = false;
      this.objectTable.delete(object.id);
      return { code: ReturnCode.KERN_SUCCESS, value: freed };
    });
  }

  /**
   * copy, data_unlock, lock_completed, supply_completed, change_completed: the default pager never
   * asks for them (mach-defpager panics). The message still takes its turn, or later ones would stall.
   */
  unexpected(
    object: PagerObject<Port>,
    seqno: number,
    what: string,
    then?: InOrder<KernResult>,
  ): KernResult | Promise<KernResult> {
    return this.ordered(object, seqno, what, then, () => ({
      code: ReturnCode.KERN_FAILURE,
      error: `unexpected ${what} for a default-pager object`,
    }));
  }

  // ---- internals ----

  /**
   * Runs `work` in the object's turn for `seqno`, then `then` with its result, still in turn.
   * The result comes back as a plain value when the turn had come and nothing was asynchronous
   * (the usual page-in), else as a promise.
   */
  private ordered<T>(
    object: PagerObject<Port>,
    seqno: number,
    what: string,
    then: InOrder<T> | undefined,
    work: () => T,
  ): T | Promise<T> {
    // Arrows passed straight as arguments: a named one would cost a defineProperty under tsx.
    const ordering = object.ordering;
    if (ordering.runOrValue !== undefined)
      return ordering.runOrValue(seqno, () => this.inTurn(object, seqno, what, then, work));
    return ordering.run(seqno, () => this.inTurn(object, seqno, what, then, work));
  }

  private inTurn<T>(
    object: PagerObject<Port>,
    seqno: number,
    what: string,
    then: InOrder<T> | undefined,
    work: () => T,
  ): T | Promise<T> {
    this.onOrdered?.(object.id, seqno, what);
    // Every gathered page-in was taken before this message: it is read and answered first.
    this.flushReads();
    const result = work();
    if (then === undefined) return result;
    const sent = then(result);
    return sent instanceof Promise ? sent.then(() => result) : result;
  }

  /**
   * A page buffer for a data_supply. It is handed over with the message (deallocated on send), so
   * it is never reused here; buffers are carved out of slabs to save an allocation per page.
   */
  private newPageBuffer(): Uint8Array {
    const free = this.framePool?.take();
    if (free !== undefined) return free;
    const size = this.pageSize;
    if (this.slabNext >= READ_SLAB) {
      this.slab = new ArrayBuffer(size * READ_SLAB);
      this.slabNext = 0;
    }
    return new Uint8Array(this.slab!, size * this.slabNext++, size);
  }

  private newObject(kind: ObjectKind, size: number): PagerObject<Port> {
    const object = new PagerObject<Port>(
      this.nextObjectId++,
      kind,
      size,
      this.storage.createMap(),
      this.makeOrdering(),
    );
    this.objectTable.set(object.id, object);
    return object;
  }

  private store(
    object: PagerObject<Port>,
    offset: number,
    data: Uint8Array,
    onlyIfAbsent: boolean,
  ): WriteOutcome {
    const size = this.pageSize;
    const failed: { offset: number; error: StorageError }[] = [];
    let stored = 0;
    let skipped = 0;
    if (!object.live || offset % size !== 0 || offset < 0 || data.length % size !== 0) {
      object.writeErrors++;
      return {
        stored,
        skipped,
        failed: [
          {
            offset,
            error: {
              code: "INVALID_ARGUMENT",
              message: `bad write of ${data.length} bytes at ${offset}`,
            },
          },
        ],
      };
    }
    if (!onlyIfAbsent) {
      // Every page is written: consecutive blocks go out in one write.
      const first = offset / size;
      const failures = this.storage.writePages(object.map, first, data);
      let f = 0;
      for (let page = first; page < first + data.length / size; page++) {
        if (f < failures.length && failures[f]!.objectPage === page) {
          object.writeErrors++;
          object.lostPages.add(page);
          failed.push({ offset: page * size, error: failures[f]!.error });
          f++;
        } else {
          stored++;
          if (object.lostPages.size > 0) object.lostPages.delete(page);
        }
      }
      return { stored, skipped, failed };
    }
    for (let at = 0; at < data.length; at += size) {
      const page = (offset + at) / size;
      if (onlyIfAbsent && object.map.has(page)) {
        skipped++;
        continue;
      }
      const r = this.storage.writePage(object.map, page, data.subarray(at, at + size));
      if (r.ok) {
        stored++;
        object.lostPages.delete(page);
      } else {
        object.writeErrors++;
        object.lostPages.add(page);
        failed.push({ offset: offset + at, error: r.error });
      }
    }
    return { stored, skipped, failed };
  }
}
