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
  dirty = false;
  precious = false;
  /** Accesses the manager forbids (page_lock). */
  lock = 0;
  /** Accesses already asked for with data_unlock. */
  unlockRequest = 0;
  /** Woken when the lock changes (threads waiting for an unlock sleep here). */
  lockChanged = new Wakeup();
  constructor(
    readonly object: VmObject,
    readonly offset: number,
    public data: Uint8Array,
  ) {}
}

/**
 * A non-resident slot:
 * - requested: busy+absent, a data_request is outstanding (one per page);
 * - holding: busy, the page is on its way out in a data_return;
 * - unavailable: absent, not busy (data_unavailable): zero-fill on the next look;
 * - error: data_error: the first thread to look fails with KERN_MEMORY_ERROR and frees it.
 */
export class Placeholder {
  readonly done = new Wakeup();
  constructor(public state: "requested" | "holding" | "unavailable" | "error") {}
  get busy(): boolean {
    return this.state === "requested" || this.state === "holding";
  }
}

export type PageSlot = ResidentPage | Placeholder;

let nextObjectId = 1;

export class VmObject {
  readonly id = nextObjectId++;
  readonly name = new MemoryObjectName();
  readonly slots = new Map<number, PageSlot>();
  /** Offsets of an internal object that have been paged out (the existence map, MACH_PAGEMAP). */
  readonly existence = new Set<number>();
  pager: MemoryObjectPort | null = null;
  control: MemoryControl | null = null;
  pagerCreated = false;
  pagerInitialized = false;
  pagerReady = false;
  /** Set by memory_object_destroy or death of the object port: non-resident pages can no longer be had. */
  pagerLost = false;
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
  ) {}

  setReady(): void {
    this.pagerReady = true;
    const w = this.readyWakeup;
    this.readyWakeup = new Wakeup();
    w.wake();
  }
}
