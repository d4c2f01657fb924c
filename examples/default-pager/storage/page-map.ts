/**
 * Where one object's pages live: object page index -> (paging file id, page in that file). Entries
 * are packed into one number (file id * 2^32 + page) to keep large maps small. A map is created
 * and owned by a PagingStorage; only the storage changes it, so the paging files' reverse indexes
 * stay in step.
 */
export interface BlockAddress {
  readonly fileId: number;
  readonly page: number;
}

const FILE_UNIT = 0x1_0000_0000;

export function packBlock(fileId: number, page: number): number {
  return fileId * FILE_UNIT + page;
}

/** The file id of a packed block (unpackBlock without the object). */
export function blockFile(packed: number): number {
  return Math.floor(packed / FILE_UNIT);
}

/** The page in its file of a packed block. */
export function blockPage(packed: number): number {
  return packed % FILE_UNIT;
}

export function unpackBlock(packed: number): BlockAddress {
  return { fileId: Math.floor(packed / FILE_UNIT), page: packed % FILE_UNIT };
}

/** Pages per chunk of a BlockTable (8 KiB of blocks). */
const CHUNK_PAGES = 1024;

/** Chunks found by index in an array (objects up to 64 GiB of 4 KiB pages); beyond, in a Map. */
const DIRECT_CHUNKS = 16384;

/**
 * object page -> packed block, as arrays indexed by object page in chunks of CHUNK_PAGES (the
 * two-level block map of mach-defpager, memory-object-reference §7.4, without its 24-bit
 * encoding). Every page-in looks a page up here: a hash map of thousands of entries missed the
 * cache on most lookups; the chunk map stays small. The Map operations the storage uses.
 */
export class BlockTable {
  /**
   * Chunk number → its blocks (-1: none): the first DIRECT_CHUNKS in an array (no hash lookup
   * per page-in; chunks not made yet are null), the rest in a Map, so a huge sparse object
   * costs its chunks only.
   */
  private readonly direct: (Float64Array | null)[] = [];
  private readonly far = new Map<number, Float64Array>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  private chunk(c: number): Float64Array | undefined {
    if (c < DIRECT_CHUNKS) return this.direct[c] ?? undefined;
    return this.far.get(c);
  }

  /** Chunk numbers in use, ascending. */
  private chunkNumbers(): number[] {
    const out: number[] = [];
    this.direct.forEach((chunk, c) => {
      if (chunk !== null) out.push(c);
    });
    return out.concat([...this.far.keys()].sort((a, b) => a - b));
  }

  get(page: number): number | undefined {
    const chunk = this.chunk(Math.floor(page / CHUNK_PAGES));
    if (chunk === undefined) return undefined;
    const packed = chunk[page % CHUNK_PAGES]!;
    return packed < 0 ? undefined : packed;
  }

  has(page: number): boolean {
    return this.get(page) !== undefined;
  }

  set(page: number, packed: number): this {
    const c = Math.floor(page / CHUNK_PAGES);
    let chunk = this.chunk(c);
    if (chunk === undefined) {
      chunk = new Float64Array(CHUNK_PAGES).fill(-1);
      if (c < DIRECT_CHUNKS) {
        // Kept packed (no holes): the chunks below that are not made yet hold null.
        while (this.direct.length < c) this.direct.push(null);
        this.direct[c] = chunk;
      } else this.far.set(c, chunk);
    }
    const i = page % CHUNK_PAGES;
    if (chunk[i]! < 0) this.count++;
    chunk[i] = packed;
    return this;
  }

  delete(page: number): boolean {
    const chunk = this.chunk(Math.floor(page / CHUNK_PAGES));
    const i = page % CHUNK_PAGES;
    if (chunk === undefined || chunk[i]! < 0) return false;
    chunk[i] = -1;
    this.count--;
    return true;
  }

  clear(): void {
    this.direct.length = 0;
    this.far.clear();
    this.count = 0;
  }

  /** [object page, packed block] in ascending page order. */
  *[Symbol.iterator](): IterableIterator<[number, number]> {
    for (const c of this.chunkNumbers()) {
      const chunk = this.chunk(c)!;
      for (let i = 0; i < CHUNK_PAGES; i++) {
        const packed = chunk[i]!;
        if (packed >= 0) yield [c * CHUNK_PAGES + i, packed];
      }
    }
  }

  *keys(): IterableIterator<number> {
    for (const [page] of this) yield page;
  }

  *values(): IterableIterator<number> {
    for (const [, packed] of this) yield packed;
  }
}

export class PageMap {
  /** @internal object page -> packed block */
  readonly entries = new BlockTable();
  /** @internal the file new pages of this object go to first (§7.4: "the object's current partition"). */
  preferredFileId = -1;
  /** @internal false once the storage released it */
  live = true;

  constructor(readonly id: number) {}

  get size(): number {
    return this.entries.size;
  }

  has(objectPage: number): boolean {
    return this.entries.has(objectPage);
  }

  block(objectPage: number): BlockAddress | undefined {
    const packed = this.entries.get(objectPage);
    return packed === undefined ? undefined : unpackBlock(packed);
  }

  /** Stored object pages, ascending. */
  pages(): number[] {
    return [...this.entries.keys()];
  }
}
