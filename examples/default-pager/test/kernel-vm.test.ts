import { describe, expect, it } from "vitest";
import {
  MEMORY_OBJECT_COPY_DELAY,
  MEMORY_OBJECT_RETURN_ALL,
  MEMORY_OBJECT_RETURN_NONE,
  ReturnCode,
  VM_PROT_NO_CHANGE,
  VM_PROT_READ,
  VM_PROT_WRITE,
} from "../constants.js";
import type { DefaultPagerLink, MemoryManagerLink, MemoryObjectPort } from "../kernel-vm/links.js";
import { KernelObjectPort, type MemoryControl, type MemoryObjectName } from "../kernel-vm/ports.js";
import { ResidentPage } from "../kernel-vm/vm-object.js";
import { MemoryFault, VmKernel } from "../kernel-vm/vm-kernel.js";
import { tick } from "./helpers.js";

const P = 4096;

type Msg = {
  op: string;
  object?: MemoryObjectPort;
  offset?: number;
  data?: Uint8Array;
  control?: MemoryControl;
  extra?: unknown;
};

/** A manager that records every message and lets the test answer. */
class RecordingManager implements MemoryManagerLink, DefaultPagerLink {
  readonly log: Msg[] = [];
  onRequest: ((m: Msg) => void) | null = null;
  private push(m: Msg): Promise<void> {
    this.log.push(m);
    if (m.op === "data_request") queueMicrotask(() => this.onRequest?.(m));
    return Promise.resolve();
  }
  ops(): string[] {
    return this.log.map((m) => m.op);
  }
  init(object: MemoryObjectPort, control: MemoryControl, name: MemoryObjectName): Promise<void> {
    return this.push({ op: "init", object, control, extra: name });
  }
  dataRequest(
    object: MemoryObjectPort,
    control: MemoryControl,
    offset: number,
    length: number,
    access: number,
  ): Promise<void> {
    expect(length).toBe(P);
    return this.push({ op: "data_request", object, control, offset, extra: access });
  }
  dataUnlock(
    object: MemoryObjectPort,
    control: MemoryControl,
    offset: number,
    _l: number,
    access: number,
  ): Promise<void> {
    return this.push({ op: "data_unlock", object, control, offset, extra: access });
  }
  dataReturn(
    object: MemoryObjectPort,
    control: MemoryControl,
    offset: number,
    data: Uint8Array,
    dirty: boolean,
    kernelCopy: boolean,
  ): Promise<void> {
    return this.push({
      op: "data_return",
      object,
      control,
      offset,
      data,
      extra: { dirty, kernelCopy },
    });
  }
  terminate(object: MemoryObjectPort, control: MemoryControl): Promise<void> {
    return this.push({ op: "terminate", object, control });
  }
  lockCompleted(_r: object, control: MemoryControl, offset: number): Promise<void> {
    return this.push({ op: "lock_completed", control, offset });
  }
  supplyCompleted(
    _r: object,
    control: MemoryControl,
    offset: number,
    _l: number,
    result: number,
  ): Promise<void> {
    return this.push({ op: "supply_completed", control, offset, extra: result });
  }
  changeCompleted(): Promise<void> {
    return this.push({ op: "change_completed" });
  }
  memoryObjectCreate(
    newObject: MemoryObjectPort,
    size: number,
    control: MemoryControl,
  ): Promise<void> {
    return this.push({ op: "memory_object_create", object: newObject, control, extra: size });
  }
}

function setup(residentLimit = 4): { vm: VmKernel; mgr: RecordingManager } {
  const mgr = new RecordingManager();
  const vm = new VmKernel({ manager: mgr, residentLimit });
  return { vm, mgr };
}

const bytes = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);

describe("VmKernel", () => {
  it("anonymous memory: zero-fill, no messages, reads back writes across page boundaries", async () => {
    const { vm, mgr } = setup(16);
    const task = vm.createTask();
    const a = await vm.vmAllocate(task, 4 * P);
    expect(await vm.read(task, a + 100, 10)).toEqual(bytes(10, 0));
    await vm.write(task, a + P - 3, bytes(8, 7)); // crosses into the second page
    expect(await vm.read(task, a + P - 4, 10)).toEqual(
      Uint8Array.from([0, 7, 7, 7, 7, 7, 7, 7, 7, 0]),
    );
    expect(mgr.log).toEqual([]);
    await expect(vm.read(task, a + 4 * P, 1)).rejects.toMatchObject({
      code: ReturnCode.KERN_INVALID_ADDRESS,
    });
  });

  it("one init per object; faults wait for ready; one data_request per page; supply wakes all waiters", async () => {
    const { vm, mgr } = setup();
    const port = {};
    const t1 = vm.createTask();
    const t2 = vm.createTask();
    const a1 = await vm.vmMap(t1, { size: 2 * P, object: port });
    const a2 = await vm.vmMap(t2, { size: 2 * P, object: port });
    expect(mgr.ops()).toEqual(["init"]);
    const control = mgr.log[0]!.control!;
    const reads = [vm.read(t1, a1, 4), vm.read(t2, a2 + 1, 4), vm.read(t1, a1 + 2, 1)];
    await tick();
    expect(mgr.ops()).toEqual(["init"]); // not ready: no request
    expect(vm.getAttributes(control)).toMatchObject({ ready: false });
    expect(vm.memoryObjectReady(control, false, MEMORY_OBJECT_COPY_DELAY)).toBe(0);
    await tick();
    expect(mgr.ops()).toEqual(["init", "data_request"]);
    expect(mgr.log[1]).toMatchObject({ offset: 0, extra: VM_PROT_READ });
    expect(
      await vm.dataSupply(
        control,
        0,
        Uint8Array.from({ length: P }, (_, i) => i & 0xff),
        0,
        false,
        null,
      ),
    ).toBe(0);
    expect(await Promise.all(reads)).toEqual([
      Uint8Array.from([0, 1, 2, 3]),
      Uint8Array.from([1, 2, 3, 4]),
      Uint8Array.from([2]),
    ]);
    // a supply for a resident page reports MEMORY_PRESENT through supply_completed
    await vm.dataSupply(control, 0, bytes(P, 9), 0, false, {});
    expect(mgr.log.at(-1)).toMatchObject({
      op: "supply_completed",
      extra: ReturnCode.KERN_MEMORY_PRESENT,
    });
    expect(await vm.read(t2, a2, 1)).toEqual(Uint8Array.from([0]));
  });

  it("data_error faults the waiting thread only once; the next access asks again; unavailable zero-fills", async () => {
    const { vm, mgr } = setup();
    const port = {};
    const t = vm.createTask();
    const a = await vm.vmMap(t, { size: 2 * P, object: port });
    const control = mgr.log[0]!.control!;
    vm.memoryObjectReady(control, false, MEMORY_OBJECT_COPY_DELAY);
    const failing = vm.read(t, a, 1);
    await tick();
    vm.dataError(control, 0, P, ReturnCode.KERN_FAILURE);
    await expect(failing).rejects.toBeInstanceOf(MemoryFault);
    await expect(failing).rejects.toMatchObject({ code: ReturnCode.KERN_MEMORY_ERROR, address: a });
    const again = vm.read(t, a, 1);
    await tick();
    expect(mgr.ops().filter((o) => o === "data_request")).toHaveLength(2);
    vm.dataUnavailable(control, 0, P);
    expect(await again).toEqual(Uint8Array.from([0]));
  });

  it("evicts clean pages silently, dirty pages with data_return(kernel_copy F); bound holds; re-fault asks again", async () => {
    const { vm, mgr } = setup(2);
    const port = {};
    const t = vm.createTask();
    const a = await vm.vmMap(t, { size: 8 * P, object: port });
    const control = mgr.log[0]!.control!;
    vm.memoryObjectReady(control, false, MEMORY_OBJECT_COPY_DELAY);
    mgr.onRequest = (m) =>
      void vm.dataSupply(control, m.offset!, bytes(P, m.offset! / P), 0, false, null);
    await vm.write(t, a, bytes(1, 0xaa)); // page 0 dirty
    await vm.read(t, a + P, 1); // page 1 clean
    await vm.read(t, a + 2 * P, 1); // evicts page 0 (oldest): dirty
    await vm.read(t, a + 3 * P, 1); // evicts page 1: clean, silent
    expect(vm.residentCount).toBeLessThanOrEqual(2);
    const returns = mgr.log.filter((m) => m.op === "data_return");
    expect(returns.map((m) => [m.offset, m.extra])).toEqual([
      [0, { dirty: true, kernelCopy: false }],
    ]);
    expect(returns[0]!.data![0]).toBe(0xaa);
    const before = mgr.log.length;
    await vm.read(t, a, 1);
    expect(mgr.log.slice(before).map((m) => [m.op, m.offset])).toEqual([["data_request", 0]]);
  });

  it("anonymous page-out creates a default-pager object first, then uses the existence map", async () => {
    const { vm, mgr } = setup(1);
    const t = vm.createTask();
    const a = await vm.vmAllocate(t, 4 * P);
    await vm.write(t, a, bytes(1, 5));
    await vm.read(t, a + P, 1); // page 0 would be evicted, but no default pager: stays
    expect(vm.residentCount).toBe(2);
    expect(mgr.log).toEqual([]);
    vm.setDefaultMemoryManager(mgr);
    await vm.read(t, a + 2 * P, 1);
    expect(mgr.ops()).toEqual(["memory_object_create", "data_return"]);
    expect(mgr.log[0]!.object).toBeInstanceOf(KernelObjectPort);
    expect(mgr.log[1]!.object).toBe(mgr.log[0]!.object);
    const control = mgr.log[0]!.control!;
    expect(vm.getAttributes(control).ready).toBe(true); // ready at create
    // page 3 was never paged out: zero-fill without a message; page 0 was: data_request
    await vm.read(t, a + 3 * P, 1);
    expect(mgr.ops().includes("data_request")).toBe(false);
    const r = vm.read(t, a, 1);
    await tick();
    expect(mgr.log.filter((m) => m.op === "data_request").map((m) => m.offset)).toEqual([0]);
    await vm.dataSupply(control, 0, mgr.log[1]!.data!, 0, false, null);
    expect(await r).toEqual(Uint8Array.from([5]));
    // deallocation of a temporary object: no data_return, then terminate
    const n = mgr.log.length;
    await vm.vmDeallocate(t, a, 4 * P);
    expect(mgr.log.slice(n).map((m) => m.op)).toEqual(["terminate"]);
  });

  it("termination of a permanent object returns dirty pages before terminate; a remap sends a new init", async () => {
    const { vm, mgr } = setup(8);
    const port = {};
    const t = vm.createTask();
    const a = await vm.vmMap(t, { size: 2 * P, object: port });
    const c1 = mgr.log[0]!.control!;
    vm.memoryObjectReady(c1, false, MEMORY_OBJECT_COPY_DELAY);
    mgr.onRequest = (m) => void vm.dataSupply(m.control!, m.offset!, bytes(P, 0), 0, false, null);
    await vm.write(t, a + P, bytes(3, 1));
    await vm.read(t, a, 1);
    await vm.vmDeallocate(t, a, 2 * P);
    expect(mgr.ops().slice(-2)).toEqual(["data_return", "terminate"]);
    expect(mgr.log.at(-2)!.offset).toBe(P);
    expect(c1.object).toBeNull();
    expect(vm.getAttributes(c1).code).toBe(ReturnCode.KERN_INVALID_ARGUMENT);
    await vm.vmMap(t, { size: P, object: port });
    const inits = mgr.log.filter((m) => m.op === "init");
    expect(inits).toHaveLength(2);
    expect(inits[1]!.control).not.toBe(c1);
  });

  it("may_cache keeps the object and its pages: a remap sends nothing", async () => {
    const { vm, mgr } = setup(8);
    const port = {};
    const t = vm.createTask();
    const a = await vm.vmMap(t, { size: P, object: port });
    const control = mgr.log[0]!.control!;
    vm.memoryObjectReady(control, true, MEMORY_OBJECT_COPY_DELAY);
    mgr.onRequest = (m) => void vm.dataSupply(m.control!, m.offset!, bytes(P, 4), 0, false, null);
    await vm.read(t, a, 1);
    await vm.vmDeallocate(t, a, P);
    const n = mgr.log.length;
    const b = await vm.vmMap(t, { size: P, object: port });
    expect(await vm.read(t, b, 1)).toEqual(Uint8Array.from([4]));
    expect(mgr.log.length).toBe(n);
    // uncaching through change_attributes terminates it, then change_completed
    await vm.vmDeallocate(t, b, P);
    expect(await vm.changeAttributes(control, false, MEMORY_OBJECT_COPY_DELAY, {})).toBe(0);
    expect(mgr.ops().slice(-2)).toEqual(["terminate", "change_completed"]);
  });

  it("lock_request: write-lock makes writes ask data_unlock; grant wakes them; flush with return sends kernel_copy F", async () => {
    const { vm, mgr } = setup(8);
    const port = {};
    const t = vm.createTask();
    const a = await vm.vmMap(t, { size: 2 * P, object: port });
    const control = mgr.log[0]!.control!;
    vm.memoryObjectReady(control, false, MEMORY_OBJECT_COPY_DELAY);
    await vm.dataSupply(control, 0, bytes(P, 1), VM_PROT_WRITE, false, null); // prefetched, write-locked
    expect(await vm.read(t, a, 1)).toEqual(Uint8Array.from([1])); // read is allowed, no message
    expect(mgr.ops()).toEqual(["init"]);
    const w = vm.write(t, a, bytes(1, 2));
    const w2 = vm.write(t, a + 1, bytes(1, 3));
    await tick();
    expect(mgr.ops()).toEqual(["init", "data_unlock"]); // once per new access set
    expect(await vm.lockRequest(control, 0, P, MEMORY_OBJECT_RETURN_NONE, false, 0, null)).toBe(0);
    await Promise.all([w, w2]);
    // sync without flush: kernel_copy T, page kept clean
    await vm.lockRequest(control, 0, P, MEMORY_OBJECT_RETURN_ALL, false, VM_PROT_NO_CHANGE, {});
    expect(mgr.log.slice(-2).map((m) => [m.op, m.extra])).toEqual([
      ["data_return", { dirty: true, kernelCopy: true }],
      ["lock_completed", undefined],
    ]);
    expect(mgr.log.at(-2)!.data!.subarray(0, 2)).toEqual(Uint8Array.from([2, 3]));
    // flush with RETURN_NONE discards; the next access asks again
    await vm.lockRequest(
      control,
      0,
      2 * P,
      MEMORY_OBJECT_RETURN_NONE,
      true,
      VM_PROT_NO_CHANGE,
      null,
    );
    const r = vm.read(t, a, 1);
    await tick();
    expect(mgr.ops().at(-1)).toBe("data_request");
    await vm.dataSupply(control, 0, bytes(P, 6), 0, false, null);
    expect(await r).toEqual(Uint8Array.from([6]));
  });

  it("memory_object_destroy: terminate at once, resident pages stay usable, others fault", async () => {
    const { vm, mgr } = setup(8);
    const port = {};
    const t = vm.createTask();
    const a = await vm.vmMap(t, { size: 2 * P, object: port });
    const control = mgr.log[0]!.control!;
    vm.memoryObjectReady(control, false, MEMORY_OBJECT_COPY_DELAY);
    await vm.dataSupply(control, 0, bytes(P, 8), 0, false, null);
    expect(await vm.destroy(control, 0)).toBe(0);
    expect(mgr.ops()).toEqual(["init", "terminate"]);
    expect(await vm.read(t, a, 1)).toEqual(Uint8Array.from([8]));
    await expect(vm.read(t, a + P, 1)).rejects.toMatchObject({
      code: ReturnCode.KERN_MEMORY_ERROR,
    });
  });

  it("death of the object port fails waiting faults without a terminate", async () => {
    const { vm, mgr } = setup(8);
    const port = {};
    const t = vm.createTask();
    const a = await vm.vmMap(t, { size: P, object: port });
    vm.memoryObjectReady(mgr.log[0]!.control!, false, MEMORY_OBJECT_COPY_DELAY);
    const r = vm.read(t, a, 1);
    await tick();
    vm.memoryObjectPortDied(port);
    await expect(r).rejects.toMatchObject({ code: ReturnCode.KERN_MEMORY_ERROR });
    expect(mgr.ops()).toEqual(["init", "data_request"]);
  });

  it("validates arguments", async () => {
    const { vm, mgr } = setup();
    const t = vm.createTask();
    await expect(vm.vmMap(t, { size: 0, object: null })).rejects.toMatchObject({
      code: ReturnCode.KERN_INVALID_ARGUMENT,
    });
    await expect(vm.vmMap(t, { size: P, object: {}, copy: true })).rejects.toMatchObject({
      code: ReturnCode.KERN_INVALID_ARGUMENT,
    });
    const a = await vm.vmMap(t, { size: P, object: null, address: 0x4000_0000 });
    await expect(vm.vmMap(t, { size: P, object: null, address: a })).rejects.toMatchObject({
      code: ReturnCode.KERN_NO_SPACE,
    });
    await vm.vmMap(t, { size: P, object: {} });
    const control = mgr.log[0]!.control!;
    expect(vm.memoryObjectReady(control, false, 9)).toBe(ReturnCode.KERN_INVALID_ARGUMENT);
    expect(await vm.dataSupply(control, 0, bytes(100, 0), 0, false, null)).toBe(
      ReturnCode.KERN_INVALID_ARGUMENT,
    );
    expect(await vm.lockRequest(control, 0, P, 0, false, 99, null)).toBe(
      ReturnCode.KERN_INVALID_ARGUMENT,
    );
    const ro = await vm.vmMap(t, { size: P, object: null, protection: VM_PROT_READ });
    await expect(vm.write(t, ro, bytes(1, 1))).rejects.toMatchObject({
      code: ReturnCode.KERN_PROTECTION_FAILURE,
    });
  });

  it("a data_request that cannot be sent fails the fault with KERN_MEMORY_ERROR; the next access asks again", async () => {
    const { vm, mgr } = setup();
    const port = {};
    const t = vm.createTask();
    const a = await vm.vmMap(t, { size: P, object: port });
    vm.memoryObjectReady(mgr.log[0]!.control!, false, MEMORY_OBJECT_COPY_DELAY);
    const send = mgr.dataRequest.bind(mgr);
    mgr.dataRequest = () => Promise.reject(new Error("port gone"));
    await expect(vm.read(t, a, 1)).rejects.toMatchObject({
      code: ReturnCode.KERN_MEMORY_ERROR,
      message: "data_request could not be sent",
    });
    mgr.dataRequest = send;
    mgr.onRequest = (m) => vm.dataSupply(m.control!, m.offset!, bytes(P, 3), 0, false, null);
    expect(await vm.read(t, a, 2)).toEqual(bytes(2, 3));
    expect(mgr.ops().filter((op) => op === "data_request")).toHaveLength(1);
  });

  it("the existence map, page slots and LRU queues hold across a large sparse object", async () => {
    const { vm, mgr } = setup(3);
    vm.setDefaultMemoryManager(mgr);
    const t = vm.createTask();
    const size = 4096 * P; // slots in chunks, the existence map a bitmap
    const a = await vm.vmAllocate(t, size);
    const pages = [0, 1, 255, 256, 257, 4095, 1000];
    for (const p of pages) await vm.write(t, a + p * P, bytes(1, (p % 250) + 1));
    // Four pages were evicted dirty (bound 3); oldest first, each its own data_return.
    expect(mgr.log.filter((m) => m.op === "data_return").map((m) => m.offset! / P)).toEqual([
      0, 1, 255, 256,
    ]);
    expect(vm.residentCount).toBe(3);
    const control = mgr.log[0]!.control!;
    mgr.onRequest = (m) => {
      const ret = mgr.log.find((r) => r.op === "data_return" && r.offset === m.offset)!;
      void vm.dataSupply(control, m.offset!, ret.data!.slice(), 0, false, null);
    };
    for (const p of pages) expect(await vm.read(t, a + p * P, 1)).toEqual(bytes(1, (p % 250) + 1));
    // Never-written pages zero-fill without a message; written ones were asked for once each.
    expect(await vm.read(t, a + 2000 * P, 1)).toEqual(bytes(1, 0));
    const asked = mgr.log.filter((m) => m.op === "data_request").map((m) => m.offset! / P);
    expect(new Set(asked).size).toBe(asked.length); // one request per page-in
    expect(asked.every((p) => pages.includes(p))).toBe(true);
  });

  it("a manager that answers while the faulting thread is about to block (runWoken): the fault completes at once", async () => {
    const { vm, mgr } = setup(2);
    const port = {};
    const t = vm.createTask();
    const a = await vm.vmMap(t, { size: 4 * P, object: port });
    const control = mgr.log[0]!.control!;
    vm.memoryObjectReady(control, false, MEMORY_OBJECT_COPY_DELAY);
    // The answer is queued by the send and delivered only when runWoken runs (as the IPC
    // link's serve loops are), never from inside dataRequest.
    let queued: (() => void) | null = null;
    let woken = 0;
    mgr.dataRequest = (_o, _c, offset) => {
      mgr.log.push({ op: "data_request", offset });
      queued = () => {
        if (offset === 3 * P) vm.dataUnavailable(control, offset, P);
        else void vm.dataSupply(control, offset, bytes(P, offset / P + 1), 0, false, null);
      };
      return Promise.resolve();
    };
    (mgr as MemoryManagerLink).runWoken = () => {
      woken++;
      const run = queued;
      queued = null;
      run?.();
    };
    const into = new Uint8Array(2);
    for (const p of [0, 1, 2, 0]) {
      // readIntoNow: true, the bytes already in `into`
      expect(vm.readIntoNow(t, a + p * P + 5, into)).toBe(true);
      expect(into).toEqual(bytes(2, p + 1));
    }
    expect(woken).toBe(4);
    let done = false;
    const r = vm.readInto(t, a + 5, into).then(() => (done = true)); // resident: settled
    await Promise.resolve();
    expect(done).toBe(true);
    await r;
    expect(vm.stats.pageins).toBe(4); // page 0 came back after eviction (bound 2)
    // data_unavailable while blocking: zero fill, by the slow path (a promise)
    const zero = new Uint8Array(3).fill(1);
    const waited = vm.readIntoNow(t, a + 3 * P, zero);
    expect(waited).toBeInstanceOf(Promise);
    await waited;
    expect(zero).toEqual(bytes(3, 0));
    // writes go through the same path
    await vm.write(t, a + P + 1, bytes(2, 9));
    expect(await vm.read(t, a + P, 4)).toEqual(Uint8Array.from([2, 9, 9, 2]));
  });

  it("page slots far beyond the directly indexed chunks, and out of order", async () => {
    const { vm, mgr } = setup(4);
    vm.setDefaultMemoryManager(mgr);
    const t = vm.createTask();
    const size = 2 ** 37; // 128 GiB: slots past 16 GiB live in the map of far chunks
    const a = await vm.vmAllocate(t, size);
    const pages = [2 ** 24 - 1, 2 ** 22 + 3, 5, 2 ** 24 + 300, 3 * 2 ** 22];
    for (const p of pages) await vm.write(t, a + p * P, bytes(1, (p % 200) + 1));
    const object = vm.objectAt(t, a)!;
    const resident = object.slots
      .entries()
      .filter(([, s]) => s instanceof ResidentPage)
      .map(([o]) => o / P);
    expect(resident).toEqual([...pages].slice(-4).sort((x, y) => x - y));
    expect(object.slots.get(6 * P)).toBeUndefined();
    expect(object.slots.get((2 ** 24 + 301) * P)).toBeUndefined();
    const control = mgr.log.find((m) => m.op === "memory_object_create")!.control!;
    mgr.onRequest = (m) => {
      const ret = mgr.log.find((r) => r.op === "data_return" && r.offset === m.offset)!;
      void vm.dataSupply(control, m.offset!, ret.data!.slice(), 0, false, null);
    };
    for (const p of pages) expect(await vm.read(t, a + p * P, 1)).toEqual(bytes(1, (p % 200) + 1));
  });
});
