/**
 * The VM model and the default pager talking only through the generated stubs and the runtime
 * kernel: kernel → pager messages by the generated memory_object / memory_object_default clients,
 * the pager's seqnos servers chained on one port set, its replies by the generated mach client,
 * the kernel's control ports served by the generated mach server, and the tools' calls by the
 * generated default_pager client from a user task. No-senders notifications come from the runtime.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MACH_PORT_NULL } from "../../../runtime/index.js";
import type { mach_port_t, memory_object_name_t } from "../../../generated/default_pager.js";
import { ReturnCode } from "../constants.js";
import { startSystem, type PagerSystem, type SystemOptions } from "../ipc/system.js";
import { MemoryFault, type Task } from "../kernel-vm/vm-kernel.js";
import type { WriteErrorPolicy } from "../pager-core.js";
import { patternPage, prng, sameBytes, tempDir, tick } from "./helpers.js";

const P = 4096;
const RESIDENT = 16;

interface Region {
  readonly task: Task;
  readonly address: number;
  readonly size: number;
  readonly shadow: Uint8Array;
  readonly key: string;
}

function start(
  dir: string,
  files: [string, number][],
  policy: WriteErrorPolicy = "object",
): Promise<PagerSystem> {
  return startSystem({
    residentPages: RESIDENT,
    pager: {
      pageSize: P,
      pagingFiles: files.map(([name, pages]) => ({
        path: path.join(dir, name),
        sizeBytes: pages * P,
      })),
      writeErrorPolicy: policy,
      server: { removeBatchPages: 2 },
    },
  });
}

/**
 * Runs `body` with a system whose pager has one paging file of 256 pages in a new folder (and
 * RESIDENT resident pages unless `options` say otherwise); closes the system and removes the
 * folder after, whatever `body` did.
 */
async function withSystem(
  options: Omit<SystemOptions, "pager" | "residentPages"> & { residentPages?: number },
  body: (system: PagerSystem) => Promise<void>,
): Promise<void> {
  const { dir, cleanup } = tempDir();
  const system = await startSystem({
    residentPages: RESIDENT,
    ...options,
    pager: { pageSize: P, pagingFiles: [{ path: path.join(dir, "swap"), sizeBytes: 256 * P }] },
  });
  try {
    await body(system);
  } finally {
    await system.close();
    cleanup();
  }
}

/**
 * What default_pager_info / _objects / _object_pages report (through the stubs) matches the
 * storage, and nothing went wrong on either side.
 */
async function checkAccounting(sys: PagerSystem): Promise<void> {
  await sys.idle();
  const { storage, core, server } = sys.local!;
  const vm = sys.kernelServer.vm;
  expect(server.stats.errors).toEqual([]);
  expect(sys.kernelServer.errors).toEqual([]);
  expect(vm.sendFailures).toEqual([]);
  expect(vm.residentCount).toBeLessThanOrEqual(RESIDENT);
  expect(storage.verify(core.objects().map((o) => core.lookup(o.object)!.map))).toEqual([]);
  const s = storage.info();
  const info = await sys.pager.default_pager_info();
  expect(info).toEqual({
    dpi_total_space: BigInt(s.totalPages * P),
    dpi_free_space: BigInt(s.freePages * P),
    dpi_page_size: BigInt(P),
  });
  const listed = await sys.pager.default_pager_objects();
  expect(listed.objects.map((o) => Number(o.dpo_object)).sort()).toEqual(
    core
      .objects()
      .map((o) => o.object)
      .sort(),
  );
  const inUse = listed.objects.reduce((sum, o) => sum + o.dpo_size, 0n);
  expect(inUse).toBe(info.dpi_total_space - info.dpi_free_space);
  for (let i = 0; i < listed.objects.length; i++) {
    const object = core.lookup(Number(listed.objects[i]!.dpo_object))!;
    expect(Number(listed.objects[i]!.dpo_size)).toBe(object.map.size * P);
    const name = listed.ports[i]!;
    expect(name === MACH_PORT_NULL).toBe(object.name === null);
    if (name === MACH_PORT_NULL) continue;
    const pages = await sys.pager.default_pager_object_pages(name as memory_object_name_t);
    expect(pages.map((p) => Number(p.dpp_offset))).toEqual(core.storedOffsets(object));
    sys.user.mach_port_deallocate(name);
  }
}

function pagesOf(region: Region, offset: number, length: number): string[] {
  const keys: string[] = [];
  for (let p = Math.floor(offset / P); p <= Math.floor((offset + length - 1) / P); p++)
    keys.push(`${region.key}:${p}`);
  return keys;
}

/** Random reads and writes, up to four at once on distinct pages, every byte read checked. */
async function randomOps(
  sys: PagerSystem,
  regions: Region[],
  count: number,
  rand: () => number,
): Promise<number> {
  const vm = sys.kernelServer.vm;
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
        batch.push(vm.write(region.task, region.address + offset, data));
      } else {
        const expected = region.shadow.slice(offset, offset + length);
        batch.push(
          vm.read(region.task, region.address + offset, length).then((got) => {
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

/**
 * Two tasks of the VM model sharing an object of `xPages` from default_pager_object_create (X,
 * mapped in both, one shadow), each with `anonPages` of anonymous memory of its own: the regions
 * the random operations work on, and what the tests later unmap.
 */
async function twoTasks(sys: PagerSystem, xPages: number, anonPages: number) {
  const { kernelServer, user, pager } = sys;
  const vm = kernelServer.vm;
  const t1 = vm.createTask();
  const t2 = vm.createTask();
  const X = await pager.default_pager_object_create(BigInt(xPages * P));
  const xShadow = new Uint8Array(xPages * P);
  const x1 = await kernelServer.vmMap(t1, user, X, { size: xPages * P });
  const x2 = await kernelServer.vmMap(t2, user, X, { size: xPages * P });
  const anon1 = await vm.vmAllocate(t1, anonPages * P);
  const anon2 = await vm.vmAllocate(t2, anonPages * P);
  const regions: Region[] = [
    { task: t1, address: x1, size: xPages * P, shadow: xShadow, key: "X" },
    { task: t2, address: x2, size: xPages * P, shadow: xShadow, key: "X" },
    { task: t1, address: anon1, size: anonPages * P, shadow: new Uint8Array(anonPages * P), key: "A1" },
    { task: t2, address: anon2, size: anonPages * P, shadow: new Uint8Array(anonPages * P), key: "A2" },
  ];
  return { t1, t2, X, xShadow, x1, x2, anon1, anon2, regions };
}

async function readAll(sys: PagerSystem, region: Region): Promise<void> {
  const got = await sys.kernelServer.vm.read(region.task, region.address, region.size);
  expect(sameBytes(got, region.shadow)).toBe("same");
}

const NO_DEVICE = MACH_PORT_NULL as mach_port_t;

describe("VM model ↔ default pager through the generated stubs and the runtime kernel", () => {
  let dir: string;
  let cleanup: () => void;
  let sys: PagerSystem | undefined;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
  });
  afterEach(async () => {
    await sys?.close();
    sys = undefined;
    cleanup();
  });

  it("20,000 random page writes and reads across two tasks with 16 resident pages; paging files added and removed under load; destruction frees everything (no-senders)", async () => {
    sys = await start(dir, [
      ["a.swap", 128],
      ["b.swap", 64],
    ]);
    const s = sys;
    const { kernelServer, user, pager } = s;
    const { core, storage, server } = s.local!;
    const vm = kernelServer.vm;
    const rand = prng(2024);
    const { t1, t2, X, xShadow, x1, x2, anon1, anon2, regions } = await twoTasks(s, 64, 48);
    const initial = await pager.default_pager_info();

    // Phase 1: steady paging. The anonymous regions reach the pager by memory_object_create.
    expect(await randomOps(s, regions, 8000, rand)).toBe(8000);
    await checkAccounting(s);
    expect(vm.stats.pageouts).toBeGreaterThan(1000);
    expect(core.objects().filter((o) => o.kind === "internal")).toHaveLength(2);
    expect(core.objects()).toHaveLength(3);

    // Phase 2: a paging file added under load (default_pager_paging_file).
    const cPath = path.join(dir, "c.swap");
    fs.writeFileSync(cPath, new Uint8Array(128 * P));
    const ops2 = randomOps(s, regions, 4000, rand);
    for (let i = 0; i < 20; i++) await tick();
    await pager.default_pager_paging_file(NO_DEVICE, cPath, 1);
    expect(await ops2).toBe(4000);
    await checkAccounting(s);
    expect((await pager.default_pager_info()).dpi_total_space).toBe(
      initial.dpi_total_space + BigInt(128 * P),
    );

    // Phase 3: the first paging file removed under load (its pages move two at a time).
    expect(128 - storage.listFiles()[0]!.freePages).toBeGreaterThan(0);
    let opsDuringRemoval = 0;
    let removing = true;
    const ops3 = (async () => {
      while (removing) {
        opsDuringRemoval += await randomOps(s, regions, 20, rand);
        // In one event loop every message is a microtask: let the mover's turns (setImmediate) run.
        await tick();
      }
    })();
    await pager.default_pager_paging_file(NO_DEVICE, path.join(dir, "a.swap"), 0);
    removing = false;
    await ops3;
    expect(opsDuringRemoval).toBeGreaterThan(0);
    expect(storage.listFiles().map((f) => path.basename(f.path))).toEqual(["b.swap", "c.swap"]);
    await checkAccounting(s);
    // Removing a file that is not a paging file is an error the caller sees.
    await expect(
      pager.default_pager_paging_file(NO_DEVICE, path.join(dir, "nope.swap"), 0),
    ).rejects.toMatchObject({
      code: ReturnCode.KERN_INVALID_ARGUMENT,
    });

    // Phase 4: the rest of the 20,000, then every byte of every region.
    expect(await randomOps(s, regions, 20_000 - 12_000 - opsDuringRemoval, rand)).toBeGreaterThan(
      0,
    );
    for (const r of regions) await readAll(s, r);
    await checkAccounting(s);
    expect(server.stats.writeFailures).toEqual([]);

    // Phase 5: destruction. Anonymous memory: terminate, then no-senders frees its pages.
    const xId = core.objects().find((o) => o.kind === "external")!.object;
    await vm.vmDeallocate(t1, anon1, 48 * P);
    await vm.vmDeallocate(t2, anon2, 48 * P);
    await checkAccounting(s);
    expect(core.objects().map((o) => o.object)).toEqual([xId]);

    // X: unmapped by both tasks; terminate keeps its data, a new mapping gets a new init.
    await vm.vmDeallocate(t1, x1, 64 * P);
    await vm.vmDeallocate(t2, x2, 64 * P);
    await checkAccounting(s);
    expect(core.lookup(xId)!.control).toBeNull();
    expect((await pager.default_pager_objects()).ports[0]).toBe(MACH_PORT_NULL);
    const again = await kernelServer.vmMap(t1, user, X, { size: 64 * P });
    await readAll(s, { task: t1, address: again, size: 64 * P, shadow: xShadow, key: "X" });
    await vm.vmDeallocate(t1, again, 64 * P);
    // The last send right goes: no-senders, and every page is free again.
    user.mach_port_deallocate(X);
    await checkAccounting(s);
    expect(core.objects()).toEqual([]);
    expect(server.objectPorts).toEqual([]);
    const final = await pager.default_pager_info();
    expect(final.dpi_free_space).toBe(final.dpi_total_space);
  });

  for (const policy of ["object", "page"] as const) {
    it(`a full paging file gives the faulting task an error and loses no stored data (${policy} policy)`, async () => {
      sys = await start(dir, [["small.swap", 12]], policy);
      const s = sys;
      const { kernelServer, user, pager } = s;
      const { core, storage, server } = s.local!;
      const vm = kernelServer.vm;
      const rand = prng(99);
      const t = vm.createTask();
      const Y = await pager.default_pager_object_create(BigInt(8 * P));
      const y = await kernelServer.vmMap(t, user, Y, { size: 8 * P });
      const yRegion: Region = {
        task: t,
        address: y,
        size: 8 * P,
        shadow: new Uint8Array(8 * P),
        key: "Y",
      };
      for (let i = 0; i < yRegion.shadow.length; i++) yRegion.shadow[i] = Math.floor(rand() * 256);
      await vm.write(t, y, yRegion.shadow);
      const anon = await vm.vmAllocate(t, 40 * P);
      for (let p = 0; p < 40; p++) await vm.write(t, anon + p * P, new Uint8Array(P).fill(p + 1));
      await s.idle();
      expect(server.stats.writeFailures.length).toBeGreaterThan(0);
      expect(server.stats.writeFailures.every((f) => f.error.code === "STORAGE_FULL")).toBe(true);
      expect((await pager.default_pager_info()).dpi_free_space).toBe(0n);

      await readAll(s, yRegion);
      const lost = (): Set<number> => new Set(server.stats.writeFailures.map((f) => f.offset / P));
      let faults = 0;
      for (let p = 0; p < 40; p++) {
        try {
          const got = await vm.read(t, anon + p * P, P);
          expect(got.every((b) => b === p + 1)).toBe(true);
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
      await checkAccounting(s);
      const anonObject = core.objects().find((o) => o.kind === "internal")!;
      const map = core.lookup(anonObject.object)!.map;
      for (const page of map.pages()) {
        const buf = new Uint8Array(P);
        storage.readPage(map, page, buf);
        expect(buf.every((b) => b === page + 1)).toBe(true);
      }
      await vm.vmDeallocate(t, anon, 40 * P);
      await checkAccounting(s);
      expect(core.objects().map((o) => o.kind)).toEqual(["external"]);
      await readAll(s, yRegion);
    });
  }
});

describe("anonymous memory with the default pager in another kernel", () => {
  // memory_object_create moves the new object's receive right to the pager: across a bridge the
  // port moves to the pager's kernel and the kernel's send right follows it (runtime/transport).
  for (const transport of ["worker", "process"] as const) {
    it(`vm_allocate'd memory goes out to a pager in a ${transport} through memory_object_create, comes back intact, and is freed on vm_deallocate`, async () => {
      const pages = 96;
      await withSystem({ transport }, async (system) => {
        const vm = system.kernelServer.vm;
        const task = vm.createTask();
        const base = await vm.vmAllocate(task, pages * P);
        for (let page = 0; page < pages; page++) await vm.write(task, base + page * P, patternPage(P, 3, page));
        await system.idle();
        expect(vm.sendFailures).toEqual([]);
        expect(system.kernelServer.errors).toEqual([]);
        expect(vm.residentCount).toBeLessThanOrEqual(RESIDENT);
        const stored = async () => {
          const info = await system.pager.default_pager_info();
          return Number(info.dpi_total_space - info.dpi_free_space) / P;
        };
        expect(await stored()).toBeGreaterThanOrEqual(pages - RESIDENT);
        const pageins = vm.stats.pageins;
        for (let page = 0; page < pages; page++) {
          expect(sameBytes(await vm.read(task, base + page * P, P), patternPage(P, 3, page)), `page ${page}`).toBe("same");
        }
        expect(vm.stats.pageins - pageins).toBeGreaterThanOrEqual(pages - RESIDENT);
        await vm.vmDeallocate(task, base, pages * P);
        await system.idle();
        for (let i = 0; i < 200 && (await stored()) > 0; i++) await new Promise((r) => setTimeout(r, 5));
        expect(await stored()).toBe(0);
        expect(vm.sendFailures).toEqual([]);
      });
    }, 30_000);
  }
});

describe("several faulting threads, no handoff to the pager (page-ins in bursts)", () => {
  it("page-ins reach the pager in bursts and are read back to back; every byte matches through writes, page-outs and reads", async () => {
    const pages = 128;
    const lanes = 8;
    await withSystem({ pageoutCluster: 4, faultHandoff: false }, async (system) => {
      const vm = system.kernelServer.vm;
      const task = vm.createTask();
      const base = await vm.vmAllocate(task, pages * P);
      const shadow = new Uint8Array(pages * P);
      const rand = prng(11);
      // Lane k owns the pages p with p % lanes === k, so what each read must see is its own last
      // write; the lanes' faults interleave all the same.
      const lane = async (k: number) => {
        const own = Array.from({ length: pages / lanes }, (_, i) => i * lanes + k);
        for (let op = 0; op < 300; op++) {
          const page = own[Math.floor(rand() * own.length)]!;
          if (rand() < 0.4) {
            const bytes = patternPage(P, op + 1, page);
            shadow.set(bytes, page * P);
            await vm.write(task, base + page * P, bytes);
          } else {
            const got = await vm.read(task, base + page * P, P);
            expect(sameBytes(got, shadow.subarray(page * P, (page + 1) * P)), `page ${page}`).toBe("same");
          }
        }
      };
      await Promise.all(Array.from({ length: lanes }, (_, k) => lane(k)));
      await system.idle();
      expect(vm.sendFailures).toEqual([]);
      expect(system.kernelServer.errors).toEqual([]);
      expect(system.local!.server.stats.errors).toEqual([]);
      const gather = system.local!.core.gatherStats;
      expect(vm.stats.pageins).toBeGreaterThan(500);
      // Most page-ins came in bursts; a request alone in the queue is answered at once.
      expect(gather.pages).toBeLessThanOrEqual(vm.stats.pageins);
      expect(gather.pages).toBeGreaterThan(vm.stats.pageins * 0.8);
      expect(gather.largest).toBeGreaterThan(1);
      expect(gather.pages / gather.bursts).toBeGreaterThan(1.5);
      // One thread reading every page in turn: each of its requests is alone, none is queued.
      const gathered = gather.pages;
      const pageins = vm.stats.pageins;
      for (let page = 0; page < pages; page++) {
        expect(sameBytes(await vm.read(task, base + page * P, P), shadow.subarray(page * P, (page + 1) * P)), `page ${page}`).toBe("same");
      }
      expect(vm.stats.pageins - pageins).toBeGreaterThan(pages / 2);
      expect(gather.pages).toBe(gathered);
    });
  }, 30_000);
});

describe("a default pager that goes away", () => {
  it("page-outs it can no longer take are sent once, not on every pass: the data stays resident past the bound and the writes go on", async () => {
    await withSystem({}, async (system) => {
      const vm = system.kernelServer.vm;
      const task = vm.createTask();
      const base = await vm.vmAllocate(task, 64 * P);
      for (let page = 0; page < 32; page++) await vm.write(task, base + page * P, patternPage(P, 5, page));
      await system.idle();
      expect(vm.sendFailures).toEqual([]);
      const pageouts = vm.stats.pageouts;
      // The pager's task dies: its ports with it, so every data_return to them fails.
      system.local!.server.task.terminate();
      for (let page = 32; page < 64; page++) await vm.write(task, base + page * P, patternPage(P, 5, page));
      await system.idle();
      // Before: every page-out pass sent the object's failed pages again (272 failed sends and
      // 272 page-outs for these 32 writes; 16 million for 8,192 pages).
      expect(vm.sendFailures.length).toBeGreaterThan(0);
      expect(vm.sendFailures.length).toBeLessThanOrEqual(4);
      expect(vm.stats.pageouts - pageouts).toBeLessThanOrEqual(4);
      expect(vm.residentCount).toBeGreaterThan(RESIDENT);
      for (let page = 32; page < 64; page++) {
        expect(sameBytes(await vm.read(task, base + page * P, P), patternPage(P, 5, page)), `page ${page}`).toBe("same");
      }
    });
  });
});

describe("the same paging load with the pager in another kernel", () => {
  // What the tools see through the stubs (no access to the pager's objects from here).
  async function checkThroughStubs(sys: PagerSystem): Promise<void> {
    await sys.idle();
    const vm = sys.kernelServer.vm;
    expect(vm.sendFailures).toEqual([]);
    expect(sys.kernelServer.errors).toEqual([]);
    expect(vm.residentCount).toBeLessThanOrEqual(RESIDENT);
    const info = await sys.pager.default_pager_info();
    const listed = await sys.pager.default_pager_objects();
    const inUse = listed.objects.reduce((sum, o) => sum + o.dpo_size, 0n);
    expect(inUse).toBe(info.dpi_total_space - info.dpi_free_space);
    for (let i = 0; i < listed.objects.length; i++) {
      const name = listed.ports[i]!;
      if (name === MACH_PORT_NULL) continue;
      const pages = await sys.pager.default_pager_object_pages(name as memory_object_name_t);
      expect(BigInt(pages.length * P)).toBe(listed.objects[i]!.dpo_size);
      sys.user.mach_port_deallocate(name);
    }
  }

  for (const transport of ["worker", "process"] as const) {
    it(`3,000 random page writes and reads across two tasks, external and anonymous memory, pager in a ${transport}; destruction frees everything`, async () => {
      await withSystem({ transport }, async (sys) => {
        const { user, pager } = sys;
        const vm = sys.kernelServer.vm;
        const rand = prng(77);
        const { t1, t2, X, x1, x2, anon1, anon2, regions } = await twoTasks(sys, 48, 32);
        expect(await randomOps(sys, regions, 3000, rand)).toBe(3000);
        for (const r of regions) await readAll(sys, r);
        await checkThroughStubs(sys);
        expect(vm.stats.pageouts).toBeGreaterThan(200);
        expect((await pager.default_pager_objects()).objects).toHaveLength(3);

        await vm.vmDeallocate(t1, anon1, 32 * P);
        await vm.vmDeallocate(t2, anon2, 32 * P);
        await vm.vmDeallocate(t1, x1, 48 * P);
        await vm.vmDeallocate(t2, x2, 48 * P);
        user.mach_port_deallocate(X);
        await sys.idle();
        for (let i = 0; i < 200 && (await pager.default_pager_objects()).objects.length > 0; i++) {
          await new Promise((r) => setTimeout(r, 5));
        }
        expect((await pager.default_pager_objects()).objects).toEqual([]);
        const final = await pager.default_pager_info();
        expect(final.dpi_free_space).toBe(final.dpi_total_space);
        await checkThroughStubs(sys);
      });
    }, 60_000);
  }
});

describe("a default pager process that dies", () => {
  it("a fault on a page it held fails at once with a memory error, resident pages stay usable, and the system closes", async () => {
    // Closing the system (in withSystem) used to wait forever for the exit of a child killed by a signal.
    await withSystem({ transport: "process" }, async (system) => {
      const vm = system.kernelServer.vm;
      const task = vm.createTask();
      const base = await vm.vmAllocate(task, 64 * P);
      for (let page = 0; page < 64; page++) await vm.write(task, base + page * P, patternPage(P, 6, page));
      await system.idle();
      const child = system.pagerProcess!;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      // Page 0 went out to the pager: its page-in fails (whether or not the bridge has seen the
      // socket close yet), and soon.
      const t0 = performance.now();
      await expect(vm.read(task, base, P)).rejects.toBeInstanceOf(MemoryFault);
      expect(performance.now() - t0).toBeLessThan(1000);
      // The last pages are still resident.
      await vm.write(task, base + 63 * P, patternPage(P, 7, 63));
      expect(sameBytes(await vm.read(task, base + 63 * P, P), patternPage(P, 7, 63))).toBe("same");
    });
  }, 30_000);
});
