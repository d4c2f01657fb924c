/**
 * The VM model and the default pager core wired by direct asynchronous calls (no IPC yet), with
 * delivery jitter so that messages for one object arrive out of order and the seqno gates must
 * restore it.
 */
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ReturnCode } from "../constants.js";
import { DirectWiring, type ExternalObjectPort } from "../direct-wiring.js";
import { MemoryFault, VmKernel, type Task } from "../kernel-vm/vm-kernel.js";
import { DefaultPagerCore, type WriteErrorPolicy } from "../pager-core.js";
import { PagingStorage } from "../storage/paging-storage.js";
import { prng, sameBytes, tempDir, tick } from "./helpers.js";

const P = 4096;
const RESIDENT = 16;

interface Region {
  readonly task: Task;
  readonly address: number;
  readonly size: number;
  /** Which shadow (and which object) it shows. */
  readonly shadow: Uint8Array;
  readonly key: string;
}

interface System {
  storage: PagingStorage;
  core: DefaultPagerCore<object>;
  vm: VmKernel;
  wiring: DirectWiring;
}

function makeSystem(
  dir: string,
  files: [string, number][],
  policy: WriteErrorPolicy,
  seed: number,
): System {
  const storage = new PagingStorage({ pageSize: P });
  for (const [name, pages] of files) {
    const r = storage.addFile(path.join(dir, name), { sizeBytes: pages * P });
    if (!r.ok) throw new Error(r.error.message);
  }
  const core = new DefaultPagerCore<object>({ storage, writeErrorPolicy: policy });
  let wiring!: DirectWiring;
  const vm = new VmKernel({
    residentLimit: RESIDENT,
    pageSize: P,
    manager: {
      init: (...a) => wiring.init(...a),
      dataRequest: (...a) => wiring.dataRequest(...a),
      dataUnlock: (...a) => wiring.dataUnlock(...a),
      dataReturn: (...a) => wiring.dataReturn(...a),
      terminate: (...a) => wiring.terminate(...a),
      lockCompleted: (...a) => wiring.lockCompleted(...a),
      supplyCompleted: (...a) => wiring.supplyCompleted(...a),
      changeCompleted: (...a) => wiring.changeCompleted(...a),
    },
  });
  wiring = new DirectWiring(core, vm, { jitter: true, random: prng(seed) });
  vm.setDefaultMemoryManager(wiring);
  return { storage, core, vm, wiring };
}

/** Info, objects and object_pages agree with the storage, and nothing went wrong on the way. */
async function checkAccounting(sys: System): Promise<void> {
  const { storage, core, vm, wiring } = sys;
  await wiring.idle();
  expect(wiring.errors).toEqual([]);
  expect(vm.sendFailures).toEqual([]);
  expect(vm.residentCount).toBeLessThanOrEqual(RESIDENT);
  const maps = core.objects().map((o) => core.lookup(o.object)!.map);
  expect(storage.verify(maps)).toEqual([]);
  const s = storage.info();
  const info = core.info();
  expect(info).toEqual({ totalSpace: s.totalPages * P, freeSpace: s.freePages * P, pageSize: P });
  const objects = core.objects();
  const stored = objects.reduce((sum, o) => sum + o.size, 0);
  expect(stored).toBe(info.totalSpace - info.freeSpace);
  for (const o of objects) {
    const obj = core.lookup(o.object)!;
    expect(o.size).toBe(obj.map.size * P);
    if (o.name !== null)
      expect(core.objectPages(o.name)).toEqual({ code: 0, value: core.storedOffsets(obj) });
  }
}

function pagesOf(region: Region, offset: number, length: number): string[] {
  const keys: string[] = [];
  for (let p = Math.floor(offset / P); p <= Math.floor((offset + length - 1) / P); p++)
    keys.push(`${region.key}:${p}`);
  return keys;
}

/**
 * `count` random reads and writes, up to four at a time on distinct pages, every byte read checked
 * against the shadow copy. Returns the ops done.
 */
async function randomOps(
  sys: System,
  regions: Region[],
  count: number,
  rand: () => number,
): Promise<number> {
  let done = 0;
  while (done < count) {
    const busy = new Set<string>();
    const batch: Promise<void>[] = [];
    for (let k = 0; k < 4 && done < count; k++) {
      const region = regions[Math.floor(rand() * regions.length)]!;
      const offset = Math.floor(rand() * region.size);
      const maxLen = rand() < 0.2 ? 6000 : 64;
      const length = 1 + Math.floor(rand() * Math.min(maxLen, region.size - offset));
      const keys = pagesOf(region, offset, length);
      if (keys.some((key) => busy.has(key))) continue;
      for (const key of keys) busy.add(key);
      done++;
      if (rand() < 0.5) {
        const data = new Uint8Array(length);
        for (let i = 0; i < length; i++) data[i] = Math.floor(rand() * 256);
        region.shadow.set(data, offset);
        batch.push(sys.vm.write(region.task, region.address + offset, data));
      } else {
        const expected = region.shadow.slice(offset, offset + length);
        batch.push(
          sys.vm.read(region.task, region.address + offset, length).then((got) => {
            const verdict = sameBytes(got, expected);
            if (verdict !== "same")
              throw new Error(`${region.key} at ${offset}+${length}: ${verdict}`);
          }),
        );
      }
    }
    await Promise.all(batch);
  }
  return done;
}

async function readAll(sys: System, region: Region): Promise<void> {
  const got = await sys.vm.read(region.task, region.address, region.size);
  expect(sameBytes(got, region.shadow)).toBe("same");
}

describe("VM model ↔ default pager core, end to end", () => {
  let dir: string;
  let cleanup: () => void;
  let sys: System | undefined;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
  });
  afterEach(() => {
    sys?.storage.close();
    sys = undefined;
    cleanup();
  });

  it("20,000 random page writes and reads across two tasks with 16 resident pages; files added and removed under load; destruction frees everything", async () => {
    sys = makeSystem(
      dir,
      [
        ["a.swap", 128],
        ["b.swap", 64],
      ],
      "object",
      11,
    );
    const { vm, core, wiring, storage } = sys;
    const rand = prng(2024);
    const t1 = vm.createTask();
    const t2 = vm.createTask();
    const X = wiring.defaultPagerObjectCreate(64 * P);
    const xShadow = new Uint8Array(64 * P);
    const x1 = await vm.vmMap(t1, { size: 64 * P, object: X });
    const x2 = await vm.vmMap(t2, { size: 64 * P, object: X });
    const anon1 = await vm.vmAllocate(t1, 48 * P);
    const anon2 = await vm.vmAllocate(t2, 48 * P);
    const regions: Region[] = [
      { task: t1, address: x1, size: 64 * P, shadow: xShadow, key: "X" },
      { task: t2, address: x2, size: 64 * P, shadow: xShadow, key: "X" },
      { task: t1, address: anon1, size: 48 * P, shadow: new Uint8Array(48 * P), key: "A1" },
      { task: t2, address: anon2, size: 48 * P, shadow: new Uint8Array(48 * P), key: "A2" },
    ];
    const initial = core.info();

    // Phase 1: steady paging.
    expect(await randomOps(sys, regions, 8000, rand)).toBe(8000);
    await checkAccounting(sys);
    expect(vm.stats.pageouts).toBeGreaterThan(1000);
    expect(core.objects()).toHaveLength(3); // X and the two anonymous objects (memory_object_create)
    expect(core.objects().filter((o) => o.kind === "internal")).toHaveLength(2);

    // Phase 2: a paging file added under load.
    const ops2 = randomOps(sys, regions, 4000, rand);
    for (let i = 0; i < 20; i++) await tick();
    expect(
      (await core.pagingFile(path.join(dir, "c.swap"), true, { sizeBytes: 128 * P })).code,
    ).toBe(0);
    expect(await ops2).toBe(4000);
    await checkAccounting(sys);
    expect(core.info().totalSpace).toBe(initial.totalSpace + 128 * P);

    // Phase 3: the first paging file removed under load (its pages move, a few at a time).
    const usedOnA = 128 - storage.listFiles()[0]!.freePages;
    expect(usedOnA).toBeGreaterThan(0);
    let opsDuringRemoval = 0;
    let removing = true;
    const ops3 = (async () => {
      while (removing) opsDuringRemoval += await randomOps(sys!, regions, 20, rand);
    })();
    const removed = await core.pagingFile(path.join(dir, "a.swap"), false, { removeBatchPages: 2 });
    removing = false;
    await ops3;
    expect(removed.code).toBe(0);
    expect(opsDuringRemoval).toBeGreaterThan(0);
    expect(storage.listFiles().map((f) => path.basename(f.path))).toEqual(["b.swap", "c.swap"]);
    await checkAccounting(sys);

    // Phase 4: the rest of the 20,000, then every byte of every region.
    expect(await randomOps(sys, regions, 20_000 - 16_000 - opsDuringRemoval, rand)).toBeGreaterThan(
      0,
    );
    for (const r of regions) await readAll(sys, r);
    await checkAccounting(sys);
    expect(wiring.writeFailures).toEqual([]);

    // Phase 5: destruction. Anonymous memory: terminate, then no-senders frees its pages.
    const xObject = wiring.pagerObject(X)!;
    await vm.vmDeallocate(t1, anon1, 48 * P);
    await vm.vmDeallocate(t2, anon2, 48 * P);
    await checkAccounting(sys);
    expect(core.objects().map((o) => o.object)).toEqual([xObject.id]);
    expect(core.info().totalSpace - core.info().freeSpace).toBe(xObject.map.size * P);

    // X: unmapped by both tasks, its dirty pages come back before terminate and the data survives.
    await vm.vmDeallocate(t1, x1, 64 * P);
    await vm.vmDeallocate(t2, x2, 64 * P);
    await checkAccounting(sys);
    expect(xObject.control).toBeNull();
    expect(core.objects()[0]!.name).toBeNull();
    const again = await vm.vmMap(t1, { size: 64 * P, object: X });
    await readAll(sys, { task: t1, address: again, size: 64 * P, shadow: xShadow, key: "X" });
    await vm.vmDeallocate(t1, again, 64 * P);
    wiring.releaseSendRight(X as ExternalObjectPort);
    await checkAccounting(sys);
    expect(core.objects()).toEqual([]);
    const finalInfo = core.info();
    expect(finalInfo.freeSpace).toBe(finalInfo.totalSpace);
  });

  for (const policy of ["object", "page"] as const) {
    it(`a full paging file gives the faulting task an error and loses no stored data (${policy} policy)`, async () => {
      sys = makeSystem(dir, [["small.swap", 12]], policy, 5);
      const { vm, core, wiring, storage } = sys;
      const rand = prng(99);
      const t = vm.createTask();
      // Y: an external object whose 8 pages are stored first.
      const Y = wiring.defaultPagerObjectCreate(8 * P);
      const y = await vm.vmMap(t, { size: 8 * P, object: Y });
      const yRegion: Region = {
        task: t,
        address: y,
        size: 8 * P,
        shadow: new Uint8Array(8 * P),
        key: "Y",
      };
      for (let i = 0; i < yRegion.shadow.length; i++) yRegion.shadow[i] = Math.floor(rand() * 256);
      await vm.write(t, y, yRegion.shadow);
      // Anonymous memory larger than what is left: page-outs start failing.
      const anon = await vm.vmAllocate(t, 40 * P);
      const aRegion: Region = {
        task: t,
        address: anon,
        size: 40 * P,
        shadow: new Uint8Array(40 * P),
        key: "A",
      };
      for (let p = 0; p < 40; p++) {
        const data = new Uint8Array(P).fill(p + 1);
        aRegion.shadow.set(data, p * P);
        await vm.write(t, anon + p * P, data);
      }
      await wiring.idle();
      expect(wiring.writeFailures.length).toBeGreaterThan(0);
      expect(wiring.writeFailures.every((f) => f.error.code === "STORAGE_FULL")).toBe(true);
      expect(storage.info().freePages).toBe(0);
      expect(wiring.errors).toEqual([]);

      // Y reads back intact through the task.
      await readAll(sys, yRegion);
      // The anonymous region: lost pages fault with KERN_MEMORY_ERROR; with the page policy,
      // every page that was stored reads back correctly.
      // Reading evicts the pages still resident from the writes, so more page-outs can fail as we go.
      const lost = (): Set<number> => new Set(wiring.writeFailures.map((f) => f.offset / P));
      let faults = 0;
      for (let p = 0; p < 40; p++) {
        try {
          const got = await vm.read(t, anon + p * P, P);
          expect(sameBytes(got, aRegion.shadow.subarray(p * P, (p + 1) * P))).toBe("same");
          expect(lost().has(p)).toBe(false);
        } catch (e) {
          expect(e).toBeInstanceOf(MemoryFault);
          expect((e as MemoryFault).code).toBe(ReturnCode.KERN_MEMORY_ERROR);
          if (policy === "page") expect(lost().has(p)).toBe(true);
          faults++;
        }
      }
      expect(faults).toBeGreaterThan(0);
      if (policy === "page") expect(faults).toBe(lost().size);
      await checkAccounting(sys);
      // Stored bytes are exactly what was paged out (no corruption from the failed writes).
      const anonObject = core.objects().find((o) => o.kind === "internal")!;
      const map = core.lookup(anonObject.object)!.map;
      for (const page of map.pages()) {
        const buf = new Uint8Array(P);
        storage.readPage(map, page, buf);
        expect(buf.every((b) => b === page + 1)).toBe(true);
      }
      // Destroying the anonymous object frees its pages; Y keeps its data.
      await vm.vmDeallocate(t, anon, 40 * P);
      await checkAccounting(sys);
      expect(core.objects().map((o) => o.kind)).toEqual(["external"]);
      await readAll(sys, yRegion);
    });
  }
});
