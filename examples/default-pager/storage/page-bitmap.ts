/**
 * One bit per page of a paging file: set = allocated. First-fit allocation that skips full 32-bit
 * words, remembers the lowest word that may hold a free bit, and keeps an exact free count
 * (memory-object-reference §7.4: "a bitmap of 32-bit words, one bit per page, and total and free
 * counts in pages").
 */
export class PageBitmap {
  readonly totalPages: number;
  private readonly words: Uint32Array;
  private free: number;
  /** No word below this index has a free bit. */
  private searchFrom = 0;

  constructor(totalPages: number) {
    if (!Number.isInteger(totalPages) || totalPages < 0)
      throw new RangeError(`bad page count ${totalPages}`);
    this.totalPages = totalPages;
    this.words = new Uint32Array(Math.ceil(totalPages / 32));
    this.free = totalPages;
    // Bits past the end of the last word are marked allocated so the scan never returns them.
    const tail = totalPages % 32;
    if (tail !== 0) this.words[this.words.length - 1] = ~((1 << tail) - 1) >>> 0;
  }

  get freePages(): number {
    return this.free;
  }

  /** The lowest free page, now allocated, or -1 when every page is in use. */
  allocate(): number {
    if (this.free === 0) return -1;
    const words = this.words;
    for (let i = this.searchFrom; i < words.length; i++) {
      const w = words[i]!;
      if (w === 0xffffffff) continue;
      const inverted = ~w;
      const bit = 31 - Math.clz32(inverted & -inverted); // lowest zero bit of w
      words[i] = (w | (1 << bit)) >>> 0;
      this.free--;
      this.searchFrom = words[i] === 0xffffffff ? i + 1 : i;
      return i * 32 + bit;
    }
    throw new Error("PageBitmap: free count says a page is free but none was found");
  }

  /** Marks a specific page allocated (used to restore state); false if it already was. */
  claim(page: number): boolean {
    this.check(page);
    const i = page >>> 5;
    const mask = 1 << (page & 31);
    if ((this.words[i]! & mask) !== 0) return false;
    this.words[i] = (this.words[i]! | mask) >>> 0;
    this.free--;
    return true;
  }

  /** Returns a page to the free pool; throws on a double free, which would mean a corrupted map. */
  release(page: number): void {
    this.check(page);
    const i = page >>> 5;
    const mask = 1 << (page & 31);
    if ((this.words[i]! & mask) === 0) throw new Error(`PageBitmap: page ${page} released twice`);
    this.words[i] = (this.words[i]! & ~mask) >>> 0;
    this.free++;
    if (i < this.searchFrom) this.searchFrom = i;
  }

  isAllocated(page: number): boolean {
    this.check(page);
    return (this.words[page >>> 5]! & (1 << (page & 31))) !== 0;
  }

  private check(page: number): void {
    if (!Number.isInteger(page) || page < 0 || page >= this.totalPages) {
      throw new RangeError(`page ${page} outside 0..${this.totalPages - 1}`);
    }
  }
}
