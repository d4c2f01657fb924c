/** The kernel's per-object state (memory-object-reference §2.1) and its page slots. */
import { MEMORY_OBJECT_COPY_NONE } from "../constants.js";
import type { MemoryObjectPort } from "./links.js";
import { MemoryObjectName, type MemoryControl } from "./ports.js";

/**
 * A one-shot wake-up for threads sleeping on a page or an object. The promise is made only when
 * somebody waits: most pages and placeholders are never slept on, and a promise plus its resolver
 * per page was a measurable share of the fault path.
 */
export class Wakeup {
  private resolveFn: (() => void) | null = null;
  private waitFor: Promise<void> | null = null;
  private woken = false;
  get promise(): Promise<void> {
    if (this.waitFor === null) {
      this.waitFor = this.woken
        ? Promise.resolve()
        : new Promise<void>((resolve) => (this.resolveFn = resolve));
    }
    return this.waitFor;
  }
  wake(): void {
    this.woken = true;
    if (this.resolveFn !== null) {
      this.resolveFn();
      this.resolveFn = null;
    }
  }
}

export class ResidentPage {
  readonly kind = "resident" as const;
  /** The page queue it is on (active or inactive), and its neighbours there. */
  queue: PageQueue | null = null;
  prev: ResidentPage | null = null;
  next: ResidentPage | null = null;
  dirty = false;
  precious = false;
  /** Accesses the manager forbids (page_lock). */
  lock = 0;
  /** Accesses already asked for with data_unlock. */
  unlockRequest = 0;
  /** Woken when the lock changes (threads waiting for an unlock sleep here); made on first use. */
  private lockWakeup: Wakeup | null = null;
  constructor(
    readonly object: VmObject,
    readonly offset: number,
    public data: Uint8Array,
  ) {}

  get lockChanged(): Wakeup {
    return (this.lockWakeup ??= new Wakeup());
  }

  /** Wakes the threads waiting for a lock change; later ones wait for the next change. */
  lockChangedNow(): void {
    const w = this.lockWakeup;
    this.lockWakeup = null;
    w?.wake();
  }
}

/**
 * An LRU page queue (active or inactive), oldest first, linked through the pages themselves as
 * GNU Mach's vm_page queues are. A Map keyed by page objects cost ~0.7 µs per insertion (each
 * new page needs an identity hash, and the table is rebuilt as deletions pile up), several
 * times per page-in.
 */
export class PageQueue {
  head: ResidentPage | null = null;
  tail: ResidentPage | null = null;
  size = 0;

  /** Appends `page` (newest); it must be on no queue. */
  push(page: ResidentPage): void {
    page.queue = this;
    page.prev = this.tail;
    page.next = null;
    if (this.tail === null) this.head = page;
    else this.tail.next = page;
    this.tail = page;
    this.size++;
  }

  /** Takes `page` off this queue; false if it is not on it. */
  remove(page: ResidentPage): boolean {
    if (page.queue !== this) return false;
    if (page.prev === null) this.head = page.next;
    else page.prev.next = page.next;
    if (page.next === null) this.tail = page.prev;
    else page.next.prev = page.prev;
    page.queue = null;
    page.prev = null;
    page.next = null;
    this.size--;
    return true;
  }
}

/**
 * A non-resident slot:
 * - requested: busy+absent, a data_request is outstanding (one per page);
 * - holding: busy, the page is on its way out in a data_return;
 * - unavailable: absent, not busy (data_unavailable): zero-fill on the next look;
 * - error: data_error: the first thread to look fails with KERN_MEMORY_ERROR and frees it;
 * - unsent: the data_request could not be sent: likewise.
 */
export class Placeholder extends Wakeup {
  constructor(public state: "requested" | "holding" | "unavailable" | "error" | "unsent") {
    super();
  }
  /** Woken when the slot settles (the placeholder is its own wake-up: one object per page-in). */
  get done(): Wakeup {
    return this;
  }
  get busy(): boolean {
    return this.state === "requested" || this.state === "holding";
  }
}

export type PageSlot = ResidentPage | Placeholder;

/** Slots per chunk of a SlotTable. */
const SLOT_CHUNK = 256;

/** Chunks found by index in an array (objects up to 16 GiB of 4 KiB pages); beyond, in a Map. */
const DIRECT_CHUNKS = 16384;

/**
 * An object's page slots by offset (the resident page or placeholder at each page), in chunks
 * of SLOT_CHUNK pages found by chunk number: what GNU Mach's object/offset hash of vm_pages is
 * for. A Map keyed by offset was rebuilt (a fresh table, page faults in new memory) every few
 * hundred page-ins, as the deletions of evicted pages piled up in it; chunks in a Map cost a
 * hash lookup per access, several per page-in, so the first DIRECT_CHUNKS are in an array.
 * The Map operations the VM model uses; iteration is in ascending offset order.
 */
export class SlotTable {
  private readonly direct: (PageSlot | undefined)[][] = [];
  private readonly far = new Map<number, (PageSlot | undefined)[]>();

  constructor(readonly pageSize: number) {}

  private chunk(c: number): (PageSlot | undefined)[] | undefined {
    return c < DIRECT_CHUNKS ? this.direct[c] : this.far.get(c);
  }

  get(offset: number): PageSlot | undefined {
    const page = offset / this.pageSize;
    return this.chunk(Math.floor(page / SLOT_CHUNK))?.[page % SLOT_CHUNK];
  }

  set(offset: number, slot: PageSlot): void {
    const page = offset / this.pageSize;
    const c = Math.floor(page / SLOT_CHUNK);
    let chunk = this.chunk(c);
    if (chunk === undefined || chunk === EMPTY_CHUNK) {
      chunk = new Array<PageSlot | undefined>(SLOT_CHUNK).fill(undefined);
      if (c < DIRECT_CHUNKS) {
        // Keep the array packed (no holes): fill the chunks below with nothing yet.
        const direct = this.direct;
        while (direct.length < c) direct.push(EMPTY_CHUNK);
        if (direct.length === c) direct.push(chunk);
        else direct[c] = chunk;
      } else this.far.set(c, chunk);
    }
    chunk[page % SLOT_CHUNK] = slot;
  }

  delete(offset: number): void {
    const page = offset / this.pageSize;
    const chunk = this.chunk(Math.floor(page / SLOT_CHUNK));
    if (chunk !== undefined && chunk !== EMPTY_CHUNK) chunk[page % SLOT_CHUNK] = undefined;
  }

  /** [offset, slot] pairs, ascending; a snapshot, so the table may change meanwhile. */
  entries(): [number, PageSlot][] {
    const out: [number, PageSlot][] = [];
    const add = (c: number, chunk: (PageSlot | undefined)[]): void => {
      for (let i = 0; i < SLOT_CHUNK; i++) {
        const slot = chunk[i];
        if (slot !== undefined) out.push([(c * SLOT_CHUNK + i) * this.pageSize, slot]);
      }
    };
    this.direct.forEach((chunk, c) => add(c, chunk));
    for (const c of [...this.far.keys()].sort((a, b) => a - b)) add(c, this.far.get(c)!);
    return out;
  }

  values(): PageSlot[] {
    return this.entries().map((e) => e[1]);
  }
}

/** A chunk of the array that holds nothing yet; `set` replaces it with a real one. */
const EMPTY_CHUNK: (PageSlot | undefined)[] = Object.freeze(
  new Array<PageSlot | undefined>(SLOT_CHUNK).fill(undefined),
) as (PageSlot | undefined)[];

/** Pages an existence map covers at most (4 GiB of 4 KiB pages, 128 KiB of bits). */
const EXISTENCE_MAX_PAGES = 1 << 20;

/**
 * The existence map (MACH_PAGEMAP, memory-object-reference §2.4): one bit per page, set once
 * the page has been paged out. A bitmap, as GNU Mach's vm_external is (a hash set of offsets
 * cost a cache-missing lookup on every fault of a large object). Like GNU Mach's, it covers a
 * bounded number of pages: beyond them the answer is UNKNOWN, and the kernel asks the pager.
 */
export class ExistenceMap {
  private readonly bits: Uint8Array;
  private readonly pages: number;

  constructor(
    readonly pageSize: number,
    size: number,
  ) {
    this.pages = Math.min(Math.ceil(size / pageSize), EXISTENCE_MAX_PAGES);
    this.bits = new Uint8Array(Math.ceil(this.pages / 8));
  }

  /** False only when the page is known never to have been paged out (ABSENT). */
  mayExist(offset: number): boolean {
    const page = offset / this.pageSize;
    if (page >= this.pages) return true; // UNKNOWN
    return (this.bits[page >>> 3] & (1 << (page & 7))) !== 0;
  }

  add(offset: number): void {
    const page = offset / this.pageSize;
    if (page < this.pages) this.bits[page >>> 3] |= 1 << (page & 7);
  }
}

let nextObjectId = 1;

export class VmObject {
  readonly id = nextObjectId++;
  readonly name = new MemoryObjectName();
  readonly slots: SlotTable;
  /** Offsets of an internal object that have been paged out (the existence map, MACH_PAGEMAP). */
  readonly existence: ExistenceMap;
  pager: MemoryObjectPort | null = null;
  control: MemoryControl | null = null;
  pagerCreated = false;
  pagerInitialized = false;
  pagerReady = false;
  /** Set by memory_object_destroy or death of the object port: non-resident pages can no longer be had. */
  pagerLost = false;
  /**
   * A data_return of this object could not be sent (its pager is gone): its dirty and precious
   * pages are no longer chosen for page-out and stay resident past the bound, rather than being
   * sent again and failing again on every page-out pass.
   */
  pageoutFailed = false;
  readyWakeup = new Wakeup();
  mayCache = false;
  copyStrategy = MEMORY_OBJECT_COPY_NONE;
  /** Mappings referring to it. */
  refs = 0;
  cached = false;
  alive = true;
  /** Set while the object is being terminated; mappers of its port wait for it. */
  terminating: Promise<void> | null = null;
  residentPages = 0;

  constructor(
    readonly internal: boolean,
    public temporary: boolean,
    public size: number,
    pageSize = 4096,
  ) {
    this.slots = new SlotTable(pageSize);
    this.existence = new ExistenceMap(pageSize, internal ? size : 0);
  }

  setReady(): void {
    this.pagerReady = true;
    const w = this.readyWakeup;
    this.readyWakeup = new Wakeup();
    w.wake();
  }
}
