/**
 * PagingStorage.writePages: a run of object pages stored like writePage per page, with
 * consecutive blocks written in one call; failures are per page and leave the map consistent.
 */
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PagingFile } from "../storage/paging-file.js";
import { PagingStorage } from "../storage/paging-storage.js";
import { patternPage, sameBytes, tempDir } from "./helpers.js";

const P = 4096;

function run(pages: number, tag: number, first: number): Uint8Array {
  const out = new Uint8Array(pages * P);
  for (let i = 0; i < pages; i++) out.set(patternPage(P, tag, first + i), i * P);
  return out;
}

describe("PagingStorage.writePages", () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it("stores a run with one write per consecutive block run, mixing new and rewritten pages", () => {
    const s = new PagingStorage({ pageSize: P });
    expect(s.addFile(path.join(dir, "a"), { sizeBytes: 64 * P }).ok).toBe(true);
    const map = s.createMap();
    const writes: number[] = [];
    const original = PagingFile.prototype.writeRun;
    PagingFile.prototype.writeRun = function (page: number, data: Uint8Array) {
      writes.push(data.length / P);
      original.call(this, page, data);
    };
    try {
      expect(s.writePages(map, 10, run(16, 1, 10))).toEqual([]);
      expect(writes).toEqual([16]);
      // Pages 4..9 are new (blocks 16..21), 10..13 rewrite blocks 0..3: two runs.
      writes.length = 0;
      expect(s.writePages(map, 4, run(10, 2, 4))).toEqual([]);
      expect(writes).toEqual([6, 4]);
    } finally {
      PagingFile.prototype.writeRun = original;
    }
    const into = new Uint8Array(P);
    for (let page = 4; page < 26; page++) {
      expect(s.readPage(map, page, into)).toEqual({ ok: true, value: true });
      expect(sameBytes(into, patternPage(P, page < 14 ? 2 : 1, page))).toBe("same");
    }
    expect(s.verify([map])).toEqual([]);
    s.close();
  });

  it("reports STORAGE_FULL per page past the last free block and keeps the rest", () => {
    const s = new PagingStorage({ pageSize: P });
    s.addFile(path.join(dir, "small"), { sizeBytes: 5 * P });
    const map = s.createMap();
    const failures = s.writePages(map, 0, run(8, 3, 0));
    expect(failures.map((f) => [f.objectPage, f.error.code])).toEqual([
      [5, "STORAGE_FULL"],
      [6, "STORAGE_FULL"],
      [7, "STORAGE_FULL"],
    ]);
    expect(map.size).toBe(5);
    expect(s.info().freePages).toBe(0);
    expect(s.verify([map])).toEqual([]);
    s.close();
  });

  it("an I/O error fails the run's pages and frees their new blocks", () => {
    const s = new PagingStorage({ pageSize: P });
    s.addFile(path.join(dir, "b"), { sizeBytes: 16 * P });
    const map = s.createMap();
    const original = PagingFile.prototype.writeRun;
    PagingFile.prototype.writeRun = () => {
      throw new Error("EIO");
    };
    try {
      const failures = s.writePages(map, 0, run(4, 4, 0));
      expect(failures.map((f) => f.error.code)).toEqual([
        "IO_ERROR",
        "IO_ERROR",
        "IO_ERROR",
        "IO_ERROR",
      ]);
    } finally {
      PagingFile.prototype.writeRun = original;
    }
    expect(map.size).toBe(0);
    expect(s.info().freePages).toBe(16);
    expect(s.verify([map])).toEqual([]);
    s.close();
  });
});
