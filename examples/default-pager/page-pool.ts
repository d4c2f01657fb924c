/**
 * Free page frames shared by the VM model and the pager when both run in one event loop: as in
 * a real machine, physical memory is one pool. A page the pager reads moves to the kernel with
 * data_supply (deallocated on send, so never copied); when the kernel drops that page clean, its
 * frame comes back here and the pager's next read goes into it. Without this, every page-in
 * took fresh memory, and the first touch of fresh memory (a page fault under `pread`, or calloc
 * zeroing) cost several times the 4 KiB read itself.
 *
 * Only frames nobody references may be given back: the VM gives a frame only when it drops a
 * clean page (nothing was sent, the page's data is referenced nowhere else). Takers must
 * overwrite or zero the whole frame.
 */
export class PageFramePool {
  private readonly free: Uint8Array[] = [];

  constructor(
    readonly pageSize: number,
    /** Frames kept at most; more are left to the garbage collector. */
    readonly capacity = 1024,
  ) {}

  get size(): number {
    return this.free.length;
  }

  /** A free frame with arbitrary contents, or undefined. */
  take(): Uint8Array | undefined {
    return this.free.pop();
  }

  give(frame: Uint8Array): void {
    if (frame.length === this.pageSize && this.free.length < this.capacity) this.free.push(frame);
  }
}
