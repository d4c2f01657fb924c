import fs from "node:fs";
import path from "node:path";
import { PageMap, blockFile, blockPage, packBlock, unpackBlock } from "./page-map.js";
import { PagingFile } from "./paging-file.js";
import { fail, ok, type Result, type StorageError } from "./result.js";

// readPage's answers are the same objects every time (results are read-only): one page-in,
// one allocation fewer.
const STORED: Result<boolean> = ok(true);
const NOT_STORED: Result<boolean> = ok(false);

export const DEFAULT_PAGE_SIZE = 4096;

/** One page for `readPages`: where from, into what, and (filled in) `readPage`'s answer. */
export interface PageRead {
  readonly map: PageMap;
  readonly objectPage: number;
  readonly into: Uint8Array;
  result: Result<boolean> | null;
}

export interface StorageInfo {
  readonly pageSize: number;
  readonly totalPages: number;
  readonly freePages: number;
}

export interface PagingFileInfo {
  readonly id: number;
  readonly path: string;
  readonly totalPages: number;
  readonly freePages: number;
  readonly draining: boolean;
}

export interface AddFileOptions {
  /** Size of the paging area; defaults to the existing file's size. Rounded down to whole pages. */
  readonly sizeBytes?: number;
}

export interface RemoveFileOptions {
  /** Move the file's pages to the other files first (otherwise removal of a used file is refused). */
  readonly movePages?: boolean;
  /** Pages moved between yields to the event loop, so paging traffic continues during the move. */
  readonly batchPages?: number;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The default pager's backing store: a set of paging files, page-granular first-fit allocation,
 * and per-object page maps. Every operation is synchronous and completes before returning (see
 * PagingFile for why), except removeFile, which moves pages in batches and yields between them.
 *
 * Guarantees: a write either stores the whole page or leaves the map and every other page as they
 * were; a full storage is the STORAGE_FULL value; a page is never readable through two maps.
 */
export class PagingStorage {
  readonly pageSize: number;
  private readonly files: PagingFile[] = [];
  private readonly filesById = new Map<number, PagingFile>();
  /** The file fileById found last. */
  private lastFile: PagingFile | null = null;
  private nextFileId = 1;
  private nextMapId = 1;
  private readonly scratch: Uint8Array;

  constructor(options: { pageSize?: number } = {}) {
    const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) {
      throw new RangeError(`page size must be a power of two >= 512, got ${pageSize}`);
    }
    this.pageSize = pageSize;
    this.scratch = new Uint8Array(pageSize);
  }

  // ---- paging files ----

  /** Opens (creating if needed) and preallocates a paging file. */
  addFile(filePath: string, options: AddFileOptions = {}): Result<PagingFileInfo> {
    const resolved = path.resolve(filePath);
    if (this.files.some((f) => f.path === resolved))
      return fail("FILE_EXISTS", `${resolved} is already a paging file`);
    let fd: number;
    try {
      fd = fs.openSync(resolved, fs.existsSync(resolved) ? "r+" : "w+");
    } catch (e) {
      return fail("IO_ERROR", `cannot open ${resolved}: ${describe(e)}`);
    }
    try {
      const existing = fs.fstatSync(fd).size;
      const size = options.sizeBytes ?? existing;
      const pages = Math.floor(size / this.pageSize);
      if (!Number.isFinite(pages) || pages <= 0) {
        fs.closeSync(fd);
        return fail(
          "INVALID_ARGUMENT",
          `${resolved}: a paging file needs at least one page (size ${size})`,
        );
      }
      if (existing < pages * this.pageSize) fs.ftruncateSync(fd, pages * this.pageSize);
      const file = new PagingFile(this.nextFileId++, resolved, fd, this.pageSize, pages);
      this.files.push(file);
      this.filesById.set(file.id, file);
      return ok(this.fileInfo(file));
    } catch (e) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already failing */
      }
      return fail("IO_ERROR", `cannot prepare ${resolved}: ${describe(e)}`);
    }
  }

  /**
   * Removes a paging file. With pages stored there it is refused (FILE_IN_USE) unless movePages is
   * set; then every page is copied to another file and its map entry re-pointed, a batch at a time,
   * while other requests proceed. If the other files fill up, the move stops with STORAGE_FULL and
   * the file stays in service (pages already moved stay where they went). The file itself is closed,
   * not deleted.
   */
  async removeFile(
    filePath: string,
    options: RemoveFileOptions = {},
  ): Promise<Result<PagingFileInfo>> {
    const file = this.findFile(filePath);
    if (file === undefined) return fail("NO_SUCH_FILE", `${filePath} is not a paging file`);
    if (file.draining) return fail("FILE_IN_USE", `${file.path} is already being removed`);
    if (file.usedPages > 0 && options.movePages !== true) {
      return fail("FILE_IN_USE", `${file.path} holds ${file.usedPages} pages; move them first`);
    }
    const batch = Math.max(1, options.batchPages ?? 256);
    file.draining = true;
    // Pages below the cursor cannot gain new owners (a draining file is never allocated from), so
    // one pass suffices even while objects keep writing.
    let cursor = 0;
    while (cursor < file.totalPages) {
      const end = Math.min(file.totalPages, cursor + batch);
      for (; cursor < end; cursor++) {
        const owner = file.owner(cursor);
        if (owner === undefined) continue;
        const moved = this.moveBlock(file, cursor, owner.map, owner.objectPage);
        if (!moved.ok) {
          file.draining = false;
          return moved;
        }
      }
      if (cursor < file.totalPages) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (file.usedPages !== 0) {
      file.draining = false;
      return fail("FILE_IN_USE", `${file.path}: pages remained after the move`);
    }
    const info = this.fileInfo(file);
    this.files.splice(this.files.indexOf(file), 1);
    this.filesById.delete(file.id);
    if (this.lastFile === file) this.lastFile = null;
    try {
      file.close();
    } catch (e) {
      return fail("IO_ERROR", `closing ${file.path}: ${describe(e)}`);
    }
    return ok(info);
  }

  listFiles(): PagingFileInfo[] {
    return this.files.map((f) => this.fileInfo(f));
  }

  info(): StorageInfo {
    let totalPages = 0;
    let freePages = 0;
    for (const f of this.files) {
      totalPages += f.totalPages;
      freePages += f.freePages;
    }
    return { pageSize: this.pageSize, totalPages, freePages };
  }

  /** Closes every paging file; the storage is unusable afterwards. */
  close(): void {
    for (const f of this.files.splice(0)) f.close();
    this.filesById.clear();
    this.lastFile = null;
  }

  // ---- page maps ----

  createMap(): PageMap {
    return new PageMap(this.nextMapId++);
  }

  /** Frees every page of the map; the map must not be used again. Returns the pages freed. */
  releaseMap(map: PageMap): number {
    let freed = 0;
    for (const packed of map.entries.values()) {
      const { fileId, page } = unpackBlock(packed);
      this.fileById(fileId).release(page);
      freed++;
    }
    map.entries.clear();
    map.live = false;
    return freed;
  }

  /** Frees one object page; false if none was stored. */
  releasePage(map: PageMap, objectPage: number): boolean {
    const packed = map.entries.get(objectPage);
    if (packed === undefined) return false;
    const { fileId, page } = unpackBlock(packed);
    this.fileById(fileId).release(page);
    map.entries.delete(objectPage);
    return true;
  }

  /** Reads one object page into `into` (pageSize bytes). ok(false): never written. */
  readPage(map: PageMap, objectPage: number, into: Uint8Array): Result<boolean> {
    const packed = this.locate(map, objectPage, into);
    if (typeof packed !== "number") return packed;
    try {
      this.fileById(blockFile(packed)).read(blockPage(packed), into);
    } catch (e) {
      return fail("IO_ERROR", `reading object page ${objectPage}: ${describe(e)}`);
    }
    return STORED;
  }

  /**
   * Where object page `objectPage` of `map` is stored (its packed block), or `readPage`'s answer
   * when there is nothing to read: a buffer too small for a page, or a page never written.
   */
  private locate(map: PageMap, objectPage: number, into: Uint8Array): number | Result<boolean> {
    if (into.length < this.pageSize)
      return fail("INVALID_ARGUMENT", `buffer of ${into.length} bytes for a page`);
    return map.entries.get(objectPage) ?? NOT_STORED;
  }

  /**
   * `readPage` for several pages, their system calls back to back: every location is looked up
   * first, then the reads follow one another with nothing in between (see DefaultPagerCore
   * `flushReads` for why that matters). Each entry's `result` gets what `readPage` would answer.
   */
  readPages(reads: readonly PageRead[]): void {
    const files: (PagingFile | null)[] = new Array(reads.length);
    const filePages: number[] = new Array(reads.length);
    for (let i = 0; i < reads.length; i++) {
      const r = reads[i]!;
      files[i] = null;
      filePages[i] = 0;
      const packed = this.locate(r.map, r.objectPage, r.into);
      if (typeof packed !== "number") {
        r.result = packed;
        continue;
      }
      files[i] = this.fileById(blockFile(packed));
      filePages[i] = blockPage(packed);
    }
    for (let i = 0; i < reads.length; i++) {
      const file = files[i];
      if (file === null) continue;
      const r = reads[i]!;
      try {
        file!.read(filePages[i]!, r.into);
        r.result = STORED;
      } catch (e) {
        r.result = fail("IO_ERROR", `reading object page ${r.objectPage}: ${describe(e)}`);
      }
    }
  }

  /**
   * Stores one object page (overwriting any stored copy). A page already stored is rewritten in
   * place; a new one gets a block, first in the object's current file, then first fit across files.
   */
  writePage(map: PageMap, objectPage: number, data: Uint8Array): Result<void> {
    if (!map.live) return fail("INVALID_ARGUMENT", "write to a released page map");
    if (data.length !== this.pageSize)
      return fail("INVALID_ARGUMENT", `page data of ${data.length} bytes`);
    const existing = map.entries.get(objectPage);
    if (existing !== undefined) {
      const { fileId, page } = unpackBlock(existing);
      try {
        this.fileById(fileId).write(page, data);
      } catch (e) {
        return fail("IO_ERROR", `writing object page ${objectPage}: ${describe(e)}`);
      }
      return ok(undefined);
    }
    const placed = this.allocate(map, objectPage, map.preferredFileId);
    if (placed === undefined) return fail("STORAGE_FULL", "no paging file has a free page");
    try {
      placed.file.write(placed.page, data);
    } catch (e) {
      placed.file.release(placed.page);
      return fail("IO_ERROR", `writing object page ${objectPage}: ${describe(e)}`);
    }
    map.entries.set(objectPage, packBlock(placed.file.id, placed.page));
    map.preferredFileId = placed.file.id;
    return ok(undefined);
  }

  /**
   * Stores `data.length / pageSize` consecutive object pages from `firstPage`, as writePage does
   * for each, but pages whose blocks are consecutive in one file go out in one write (a cluster
   * of a data_return on a fresh map is usually one write). Returns the pages that failed (their
   * map entries stay as they were); the others are stored.
   */
  writePages(
    map: PageMap,
    firstPage: number,
    data: Uint8Array,
  ): { objectPage: number; error: StorageError }[] {
    const size = this.pageSize;
    const n = data.length / size;
    const failures: { objectPage: number; error: StorageError }[] = [];
    if (!map.live || !Number.isInteger(n)) {
      const error: StorageError = map.live
        ? { code: "INVALID_ARGUMENT", message: `page data of ${data.length} bytes` }
        : { code: "INVALID_ARGUMENT", message: "write to a released page map" };
      for (let i = 0; i < Math.max(1, Math.floor(n)); i++)
        failures.push({ objectPage: firstPage + i, error });
      return failures;
    }
    // The current run: `runLength` pages from data index `runFrom` to blocks from `runBlock`.
    let runFile: PagingFile | null = null;
    let runBlock = 0;
    let runFrom = 0;
    let runLength = 0;
    const fresh: boolean[] = [];
    for (let i = 0; i < n; i++) {
      const objectPage = firstPage + i;
      const existing = map.entries.get(objectPage);
      let file: PagingFile;
      let block: number;
      if (existing !== undefined) {
        const at = unpackBlock(existing);
        file = this.fileById(at.fileId);
        block = at.page;
      } else {
        const placed = this.allocate(map, objectPage, runFile?.id ?? map.preferredFileId);
        if (placed === undefined) {
          this.storeRun(
            map,
            firstPage,
            data,
            runFile,
            runBlock,
            runFrom,
            runLength,
            fresh,
            failures,
          );
          runLength = 0;
          fresh.length = 0;
          failures.push({
            objectPage,
            error: { code: "STORAGE_FULL", message: "no paging file has a free page" },
          });
          continue;
        }
        file = placed.file;
        block = placed.page;
      }
      if (runLength === 0 || file !== runFile || block !== runBlock + runLength) {
        this.storeRun(map, firstPage, data, runFile, runBlock, runFrom, runLength, fresh, failures);
        runLength = 0;
        fresh.length = 0;
        runFile = file;
        runBlock = block;
        runFrom = i;
      }
      runLength++;
      fresh.push(existing === undefined);
    }
    this.storeRun(map, firstPage, data, runFile, runBlock, runFrom, runLength, fresh, failures);
    return failures;
  }

  /**
   * writePages' run: `runLength` pages from data page `runFrom` to consecutive blocks of `file`
   * from `runBlock`, in one write; `fresh[k]` says the block was allocated for it (mapped on
   * success, released on failure). Nothing when there is no run yet (no file, or no pages). A
   * method rather than a closure in writePages: under tsx (keepNames) each named closure costs an
   * Object.defineProperty per call.
   */
  private storeRun(
    map: PageMap,
    firstPage: number,
    data: Uint8Array,
    file: PagingFile | null,
    runBlock: number,
    runFrom: number,
    runLength: number,
    fresh: readonly boolean[],
    failures: { objectPage: number; error: StorageError }[],
  ): void {
    if (file === null || runLength === 0) return;
    const size = this.pageSize;
    try {
      file.writeRun(runBlock, data.subarray(runFrom * size, (runFrom + runLength) * size));
      for (let k = 0; k < runLength; k++) {
        if (fresh[k]) map.entries.set(firstPage + runFrom + k, packBlock(file.id, runBlock + k));
      }
      map.preferredFileId = file.id;
    } catch (e) {
      for (let k = 0; k < runLength; k++) {
        if (fresh[k]) file.release(runBlock + k);
        failures.push({
          objectPage: firstPage + runFrom + k,
          error: {
            code: "IO_ERROR",
            message: `writing object page ${firstPage + runFrom + k}: ${describe(e)}`,
          },
        });
      }
    }
  }

  /**
   * Problems found by a full cross-check of bitmaps, reverse indexes and maps (empty when
   * consistent). For tests and debugging; it walks everything.
   */
  verify(maps: Iterable<PageMap>): string[] {
    const problems: string[] = [];
    const seen = new Map<PagingFile, number>();
    for (const map of maps) {
      for (const [objectPage, packed] of map.entries) {
        const { fileId, page } = unpackBlock(packed);
        const file = this.filesById.get(fileId);
        if (file === undefined) {
          problems.push(`map ${map.id} page ${objectPage} points into removed file ${fileId}`);
          continue;
        }
        if (!file.bitmap.isAllocated(page))
          problems.push(`map ${map.id} page ${objectPage}: block ${page} is free`);
        const owner = file.owner(page);
        if (owner?.map !== map || owner.objectPage !== objectPage) {
          problems.push(`file ${fileId} block ${page}: reverse index disagrees with map ${map.id}`);
        }
        seen.set(file, (seen.get(file) ?? 0) + 1);
      }
    }
    for (const file of this.files) {
      if ((seen.get(file) ?? 0) !== file.usedPages) {
        problems.push(
          `file ${file.path}: ${file.usedPages} blocks allocated, ${seen.get(file) ?? 0} mapped`,
        );
      }
    }
    return problems;
  }

  // ---- internals ----

  private allocate(
    map: PageMap,
    objectPage: number,
    preferredFileId: number,
  ): { file: PagingFile; page: number } | undefined {
    const preferred = this.filesById.get(preferredFileId);
    if (preferred !== undefined && !preferred.draining) {
      const page = preferred.allocate(map, objectPage);
      if (page >= 0) return { file: preferred, page };
    }
    for (const file of this.files) {
      if (file.draining || file === preferred || file.freePages === 0) continue;
      const page = file.allocate(map, objectPage);
      if (page >= 0) return { file, page };
    }
    return undefined;
  }

  private moveBlock(
    from: PagingFile,
    page: number,
    map: PageMap,
    objectPage: number,
  ): Result<void> {
    const target = this.allocate(map, objectPage, -1);
    if (target === undefined) return fail("STORAGE_FULL", `no room to move pages off ${from.path}`);
    try {
      from.read(page, this.scratch);
      target.file.write(target.page, this.scratch);
    } catch (e) {
      target.file.release(target.page);
      return fail("IO_ERROR", `moving a page off ${from.path}: ${describe(e)}`);
    }
    map.entries.set(objectPage, packBlock(target.file.id, target.page));
    if (map.preferredFileId === from.id) map.preferredFileId = target.file.id;
    from.release(page);
    return ok(undefined);
  }

  private findFile(filePath: string): PagingFile | undefined {
    const resolved = path.resolve(filePath);
    return this.files.find((f) => f.path === resolved);
  }

  private fileById(id: number): PagingFile {
    // The last one first: with one paging file (or one in use) every page-in reads it.
    const last = this.lastFile;
    if (last !== null && last.id === id) return last;
    const file = this.filesById.get(id);
    if (file === undefined) throw new Error(`paging file ${id} is gone but still mapped`);
    this.lastFile = file;
    return file;
  }

  private fileInfo(f: PagingFile): PagingFileInfo {
    return {
      id: f.id,
      path: f.path,
      totalPages: f.totalPages,
      freePages: f.freePages,
      draining: f.draining,
    };
  }
}
