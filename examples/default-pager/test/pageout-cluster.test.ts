/**
 * Page-out clustering (VmKernelOptions.pageoutCluster): a pass frees several pages and runs of
 * contiguous dirty pages of one object leave in one multi-page data_return, through the whole
 * message path. Every byte must come back, in any read order, with several faults in flight.
 */
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startSystem, type PagerSystem } from "../ipc/system.js";
import { patternPage, prng, sameBytes, tempDir } from "./helpers.js";

const P = 4096;

describe("page-out clusters over IPC", () => {
  let dir: string;
  let cleanup: () => void;
  let sys: PagerSystem | null = null;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(async () => {
    await sys?.close();
    sys = null;
    cleanup();
  });

  async function run(
    cluster: number,
    lanes: number,
  ): Promise<{ returns: number; pageouts: number }> {
    let returns = 0;
    sys = await startSystem({
      residentPages: 16,
      pageoutCluster: cluster,
      pager: {
        pageSize: P,
        pagingFiles: [{ path: path.join(dir, `c${cluster}.swap`), sizeBytes: 512 * P }],
      },
      pagerHooks: {
        onOrdered: (_id, _seqno, what) => {
          if (what === "data_return") returns++;
        },
      },
    });
    const vm = sys.kernelServer.vm;
    const task = vm.createTask();
    const pages = 200;
    const base = await vm.vmAllocate(task, pages * P);
    const expected = Array.from({ length: pages }, (_, i) => patternPage(P, 1, i));
    // In order (long contiguous runs), then a scattered rewrite of a third of the pages.
    for (let i = 0; i < pages; i++) await vm.write(task, base + i * P, expected[i]!);
    const rnd = prng(cluster);
    for (let k = 0; k < pages / 3; k++) {
      const i = Math.floor(rnd() * pages);
      expected[i] = patternPage(P, 2 + k, i);
      await vm.write(task, base + i * P, expected[i]!);
    }
    await sys.idle();
    const order = Array.from({ length: pages }, (_, i) => i).sort(() => rnd() - 0.5);
    let next = 0;
    const problems: string[] = [];
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        const buf = new Uint8Array(P);
        while (next < order.length) {
          const i = order[next++]!;
          await vm.readInto(task, base + i * P, buf);
          const same = sameBytes(buf, expected[i]!);
          if (same !== "same") problems.push(`page ${i}: ${same}`);
        }
      }),
    );
    expect(problems).toEqual([]);
    expect(vm.residentCount).toBeLessThanOrEqual(16);
    expect(vm.sendFailures).toEqual([]);
    expect(sys.local!.server.stats.errors).toEqual([]);
    return { returns, pageouts: vm.stats.pageouts };
  }

  it("one page per data_return without clustering", async () => {
    const r = await run(1, 1);
    expect(r.returns).toBe(r.pageouts);
  });

  it("several pages per data_return with clusters of 8, every byte back with 4 faults in flight", async () => {
    const r = await run(8, 4);
    expect(r.pageouts).toBeGreaterThanOrEqual(200);
    // 200 in-order pages go out 8 at a time; the scattered rewrites mostly one by one.
    expect(r.returns).toBeLessThan(r.pageouts / 2);
  });
});
