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

export function unpackBlock(packed: number): BlockAddress {
  return { fileId: Math.floor(packed / FILE_UNIT), page: packed % FILE_UNIT };
}

export class PageMap {
  /** @internal object page -> packed block */
  readonly entries = new Map<number, number>();
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
    return [...this.entries.keys()].sort((a, b) => a - b);
  }
}
