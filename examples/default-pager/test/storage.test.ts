import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PageBitmap } from "../storage/page-bitmap.js";
import { PagingStorage } from "../storage/paging-storage.js";
import { BlockTable, type PageMap } from "../storage/page-map.js";
import { patternPage, prng, sameBytes, tempDir, tick } from "./helpers.js";

describe("PageBitmap", () => {
  it("allocates first fit, skipping full words, and counts exactly", () => {
    const b = new PageBitmap(100);
    const got = Array.from({ length: 70 }, () => b.allocate());
    expect(got).toEqual(Array.from({ length: 70 }, (_, i) => i));
    expect(b.freePages).toBe(30);
    b.release(5);
    b.release(40);
    expect(b.allocate()).toBe(5);
    expect(b.allocate()).toBe(40);
    expect(b.allocate()).toBe(70);
  });

  it("never hands out the bits past the last page", () => {
    const b = new PageBitmap(33);
    const got = new Set<number>();
    for (;;) {
      const p = b.allocate();
      if (p < 0) break;
      got.add(p);
    }
    expect(got.size).toBe(33);
    expect(Math.max(...got)).toBe(32);
    expect(b.freePages).toBe(0);
  });

  it("rejects a double free and out-of-range pages", () => {
    const b = new PageBitmap(10);
    const p = b.allocate();
    b.release(p);
    expect(() => b.release(p)).toThrow(/twice/);
    expect(() => b.release(10)).toThrow(RangeError);
    expect(b.claim(3)).toBe(true);
    expect(b.claim(3)).toBe(false);
    expect(b.isAllocated(3)).toBe(true);
  });

  it("is fast on a large, mostly full bitmap", () => {
    const n = 1 << 18;
    const b = new PageBitmap(n);
    for (let i = 0; i < n; i++) b.allocate();
    const r = prng(1);
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) {
      b.release(Math.floor(r() * n) & ~0);
      if (b.allocate() < 0) throw new Error("lost a page");
    }
    // release+allocate 10k times over a 256k-page map: the hint and the word skip keep this well under 1 s.
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe("BlockTable", () => {
  it("maps pages to blocks like a Map, sparse and far apart, iterating in page order", () => {
    const t = new BlockTable();
    const far = 2 ** 31 + 5; // a huge sparse object: chunks only where pages are
    t.set(far, 7)
      .set(3, 2 ** 33 + 1)
      .set(1023, 0)
      .set(1024, 9);
    expect(t.size).toBe(4);
    expect([t.get(3), t.get(far), t.get(1023), t.get(1024), t.get(4)]).toEqual([
      2 ** 33 + 1,
      7,
      0,
      9,
      undefined,
    ]);
    t.set(3, 11);
    expect(t.size).toBe(4);
    expect(t.delete(1023)).toBe(true);
    expect(t.delete(1023)).toBe(false);
    expect(t.has(1023)).toBe(false);
    expect([...t]).toEqual([
      [3, 11],
      [1024, 9],
      [far, 7],
    ]);
    expect([...t.keys()]).toEqual([3, 1024, far]);
    // a chunk made before the ones below it (they stay empty until a page lands there)
    t.set(10 * 1024 + 2, 5);
    expect([t.get(5 * 1024), t.get(10 * 1024 + 2), t.delete(6 * 1024)]).toEqual([
      undefined,
      5,
      false,
    ]);
    t.set(6 * 1024, 6);
    expect([...t.keys()]).toEqual([3, 1024, 6 * 1024, 10 * 1024 + 2, far]);
    t.clear();
    expect(t.size).toBe(0);
    expect([...t.values()]).toEqual([]);
  });
});

describe("PagingStorage", () => {
  let dir: string;
  let cleanup: () => void;
  let storage: PagingStorage;
  const P = 4096;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    storage = new PagingStorage();
  });
  afterEach(() => {
    storage.close();
    cleanup();
  });

  function mustAdd(name: string, pages: number): void {
    const r = storage.addFile(path.join(dir, name), { sizeBytes: pages * P });
    if (!r.ok) throw new Error(r.error.message);
  }

  function readBack(map: PageMap, page: number): Uint8Array {
    const buf = new Uint8Array(P);
    const r = storage.readPage(map, page, buf);
    expect(r).toEqual({ ok: true, value: true });
    return buf;
  }

  it("reports total, free and page size and keeps written pages intact", () => {
    mustAdd("a", 64);
    expect(storage.info()).toEqual({ pageSize: P, totalPages: 64, freePages: 64 });
    const m = storage.createMap();
    for (let p = 0; p < 40; p++)
      expect(storage.writePage(m, p * 3, patternPage(P, 1, p)).ok).toBe(true);
    expect(storage.info().freePages).toBe(24);
    for (let p = 0; p < 40; p++)
      expect(sameBytes(readBack(m, p * 3), patternPage(P, 1, p))).toBe("same");
    // overwrite in place takes no space
    expect(storage.writePage(m, 0, patternPage(P, 2, 0)).ok).toBe(true);
    expect(storage.info().freePages).toBe(24);
    expect(sameBytes(readBack(m, 0), patternPage(P, 2, 0))).toBe("same");
    const absent = storage.readPage(m, 1, new Uint8Array(P));
    expect(absent).toEqual({ ok: true, value: false });
    expect(storage.verify([m])).toEqual([]);
  });

  it("readPages answers each entry as readPage would, across files, maps and failures", () => {
    mustAdd("a", 4);
    mustAdd("b", 4);
    const m = storage.createMap();
    const n = storage.createMap();
    for (let p = 0; p < 6; p++) expect(storage.writePage(m, p, patternPage(P, 4, p)).ok).toBe(true);
    expect(storage.writePage(n, 0, patternPage(P, 5, 0)).ok).toBe(true);
    const entry = (map: PageMap, objectPage: number, size = P) => ({
      map,
      objectPage,
      into: new Uint8Array(size),
      result: null as ReturnType<PagingStorage["readPage"]> | null,
    });
    // pages 5 and 0 of m live in different files; n's page 0 in b; 9 was never written
    const reads = [entry(m, 5), entry(n, 0), entry(m, 9), entry(m, 0), entry(m, 1, 100)];
    storage.readPages(reads);
    expect(reads.map((r) => r.result)).toEqual([
      { ok: true, value: true },
      { ok: true, value: true },
      { ok: true, value: false },
      { ok: true, value: true },
      { ok: false, error: { code: "INVALID_ARGUMENT", message: "buffer of 100 bytes for a page" } },
    ]);
    expect(sameBytes(reads[0]!.into, patternPage(P, 4, 5))).toBe("same");
    expect(sameBytes(reads[1]!.into, patternPage(P, 5, 0))).toBe("same");
    expect(sameBytes(reads[3]!.into, patternPage(P, 4, 0))).toBe("same");
    // a read that fails in the system call is an IO_ERROR for that entry only
    const closed = storage.listFiles().find((f) => f.path.endsWith("b"))!;
    const fileB = (storage as unknown as { fileById(id: number): { close(): void } }).fileById(closed.id);
    fileB.close();
    const again = [entry(m, 0), entry(m, 5)];
    storage.readPages(again);
    expect(again[0]!.result).toEqual({ ok: true, value: true });
    expect(again[1]!.result).toMatchObject({ ok: false, error: { code: "IO_ERROR" } });
  });

  it("keeps per-object maps apart", () => {
    mustAdd("a", 16);
    const a = storage.createMap();
    const b = storage.createMap();
    storage.writePage(a, 7, patternPage(P, 10, 7));
    storage.writePage(b, 7, patternPage(P, 20, 7));
    expect(sameBytes(readBack(a, 7), patternPage(P, 10, 7))).toBe("same");
    expect(sameBytes(readBack(b, 7), patternPage(P, 20, 7))).toBe("same");
    expect(a.block(7)).not.toEqual(b.block(7));
    expect(storage.releaseMap(a)).toBe(1);
    expect(storage.info().freePages).toBe(15);
    expect(storage.writePage(a, 1, patternPage(P, 1, 1)).ok).toBe(false);
  });

  it("returns STORAGE_FULL when every file is full and corrupts nothing", () => {
    mustAdd("a", 4);
    mustAdd("b", 4);
    const m = storage.createMap();
    for (let p = 0; p < 8; p++) expect(storage.writePage(m, p, patternPage(P, 3, p)).ok).toBe(true);
    const full = storage.writePage(m, 8, patternPage(P, 3, 8));
    expect(full.ok).toBe(false);
    if (!full.ok) expect(full.error.code).toBe("STORAGE_FULL");
    expect(m.has(8)).toBe(false);
    // rewriting an existing page still works when full
    expect(storage.writePage(m, 2, patternPage(P, 4, 2)).ok).toBe(true);
    for (let p = 0; p < 8; p++)
      expect(sameBytes(readBack(m, p), patternPage(P, p === 2 ? 4 : 3, p))).toBe("same");
    expect(storage.info().freePages).toBe(0);
    expect(storage.verify([m])).toEqual([]);
  });

  it("spills to another file and prefers the object's current file", () => {
    mustAdd("a", 2);
    mustAdd("b", 8);
    const m = storage.createMap();
    for (let p = 0; p < 5; p++) storage.writePage(m, p, patternPage(P, 5, p));
    const files = storage.listFiles();
    expect(files.map((f) => f.freePages)).toEqual([0, 5]);
    storage.releasePage(m, 0);
    const n = storage.createMap();
    storage.writePage(n, 0, patternPage(P, 6, 0)); // fresh object: first fit takes the hole in "a"
    expect(n.block(0)!.fileId).toBe(files[0]!.id);
    storage.writePage(m, 9, patternPage(P, 5, 9)); // m's current file is "b"
    expect(m.block(9)!.fileId).toBe(files[1]!.id);
  });

  it("adds files, refuses to remove one in use, removes an empty one", async () => {
    mustAdd("a", 8);
    expect(storage.addFile(path.join(dir, "a")).ok).toBe(false); // already in use
    const m = storage.createMap();
    storage.writePage(m, 0, patternPage(P, 1, 0));
    mustAdd("b", 8);
    expect(storage.info().totalPages).toBe(16);
    const refused = await storage.removeFile(path.join(dir, "a"));
    expect(refused.ok ? "" : refused.error.code).toBe("FILE_IN_USE");
    expect((await storage.removeFile(path.join(dir, "b"))).ok).toBe(true);
    expect(storage.info().totalPages).toBe(8);
    const missing = await storage.removeFile(path.join(dir, "zz"));
    expect(missing.ok ? "" : missing.error.code).toBe("NO_SUCH_FILE");
    // an existing file's size is used when none is given
    const again = storage.addFile(path.join(dir, "b"));
    expect(again.ok && again.value.totalPages).toBe(8);
  });

  it("moves pages off a file under concurrent load and keeps every map correct", async () => {
    mustAdd("a", 256);
    mustAdd("b", 128);
    mustAdd("c", 256);
    const rand = prng(7);
    const maps = [storage.createMap(), storage.createMap(), storage.createMap()];
    const shadow = maps.map(() => new Map<number, number>()); // page -> version tag
    let version = 1;
    const write = (i: number, page: number): void => {
      const tag = version++;
      const r = storage.writePage(maps[i]!, page, patternPage(P, tag, page));
      if (r.ok) shadow[i]!.set(page, tag);
    };
    for (let k = 0; k < 300; k++) write(k % 3, Math.floor(rand() * 120));
    const aPath = path.join(dir, "a");
    const usedOnA = storage.listFiles()[0]!.freePages;
    expect(usedOnA).toBeLessThan(256);
    let stop = false;
    const load = (async () => {
      let ops = 0;
      while (!stop) {
        for (let k = 0; k < 20; k++) {
          const i = Math.floor(rand() * 3);
          const page = Math.floor(rand() * 150);
          if (rand() < 0.5) write(i, page);
          else if (shadow[i]!.has(page))
            expect(
              sameBytes(readBack(maps[i]!, page), patternPage(P, shadow[i]!.get(page)!, page)),
            ).toBe("same");
          else if (rand() < 0.3 && storage.releasePage(maps[i]!, page)) shadow[i]!.delete(page);
          ops++;
        }
        await tick();
      }
      return ops;
    })();
    const removed = await storage.removeFile(aPath, { movePages: true, batchPages: 8 });
    stop = true;
    const ops = await load;
    expect(removed.ok).toBe(true);
    expect(ops).toBeGreaterThan(100); // the load really ran during the move
    expect(storage.listFiles().map((f) => path.basename(f.path))).toEqual(["b", "c"]);
    expect(storage.verify(maps)).toEqual([]);
    for (let i = 0; i < 3; i++) {
      for (const [page, tag] of shadow[i]!)
        expect(sameBytes(readBack(maps[i]!, page), patternPage(P, tag, page))).toBe("same");
      expect(maps[i]!.pages()).toEqual([...shadow[i]!.keys()].sort((x, y) => x - y));
    }
  });

  it("stops a move that does not fit, keeps the file and loses nothing", async () => {
    mustAdd("a", 16);
    const m = storage.createMap();
    for (let p = 0; p < 12; p++) storage.writePage(m, p, patternPage(P, 9, p));
    mustAdd("b", 4);
    const r = await storage.removeFile(path.join(dir, "a"), { movePages: true });
    expect(r.ok ? "" : r.error.code).toBe("STORAGE_FULL");
    expect(storage.listFiles()).toHaveLength(2);
    expect(storage.listFiles()[0]!.draining).toBe(false);
    for (let p = 0; p < 12; p++)
      expect(sameBytes(readBack(m, p), patternPage(P, 9, p))).toBe("same");
    expect(storage.verify([m])).toEqual([]);
    // the file accepts pages again
    storage.releasePage(m, 0);
    expect(storage.writePage(m, 100, patternPage(P, 9, 100)).ok).toBe(true);
  });

  it("supports another page size", () => {
    const s = new PagingStorage({ pageSize: 8192 });
    try {
      expect(s.addFile(path.join(dir, "big"), { sizeBytes: 8192 * 4 + 100 }).ok).toBe(true);
      expect(s.info()).toEqual({ pageSize: 8192, totalPages: 4, freePages: 4 });
      const m = s.createMap();
      expect(s.writePage(m, 0, patternPage(8192, 1, 0)).ok).toBe(true);
      expect(s.writePage(m, 1, new Uint8Array(4096)).ok).toBe(false);
      const buf = new Uint8Array(8192);
      s.readPage(m, 0, buf);
      expect(sameBytes(buf, patternPage(8192, 1, 0))).toBe("same");
    } finally {
      s.close();
    }
    expect(() => new PagingStorage({ pageSize: 3000 })).toThrow(RangeError);
  });

  it("refuses a file too small for one page", () => {
    const r = storage.addFile(path.join(dir, "tiny"), { sizeBytes: 100 });
    expect(r.ok ? "" : r.error.code).toBe("INVALID_ARGUMENT");
  });
});
