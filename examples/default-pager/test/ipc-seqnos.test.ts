/**
 * Seqno ordering over IPC (memory-object-reference §8): the pager's serve loop handles many
 * requests at once, and a random delay injected before each object-port message reaches its
 * object's gate makes them arrive there out of order. Each object's messages must still be
 * handled in msgh_seqno order, every seqno exactly once, while the two objects interleave.
 */
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  MACH_MSG_TYPE_COPY_SEND,
  MACH_SEND_MSG,
  msghBits,
  newHeader,
  writeHeader,
} from "../../../runtime/index.js";
import { startSystem, type PagerSystem } from "../ipc/system.js";
import { prng, sameBytes, tempDir } from "./helpers.js";

const P = 4096;

describe("seqnos server: one object's requests in seqno order, objects concurrently", () => {
  let sys: PagerSystem | undefined;
  let cleanup: (() => void) | undefined;
  afterEach(async () => {
    await sys?.close();
    cleanup?.();
    sys = undefined;
  });

  it("restores seqno order after out-of-order arrival injected at the gate", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const rand = prng(7);
    const arrived = new Map<number, number[]>();
    const handled = new Map<number, { seqno: number; what: string }[]>();
    const order: number[] = []; // object ids in the order their in-order sections ran
    let waiting = 0;
    let maxWaiting = 0;
    sys = await startSystem({
      residentPages: 4,
      pager: {
        pageSize: P,
        pagingFiles: [{ path: path.join(t.dir, "p.swap"), sizeBytes: 256 * P }],
      },
      pagerHooks: {
        beforeTurn: async (object, seqno) => {
          waiting++;
          maxWaiting = Math.max(maxWaiting, waiting);
          // 0–3 ms: later messages often overtake earlier ones.
          await new Promise((resolve) => setTimeout(resolve, Math.floor(rand() * 4)));
          waiting--;
          (arrived.get(object) ?? arrived.set(object, []).get(object)!).push(seqno);
        },
        onOrdered: (object, seqno, what) => {
          (handled.get(object) ?? handled.set(object, []).get(object)!).push({ seqno, what });
          order.push(object);
        },
      },
    });
    const { kernelServer, user, pager } = sys;
    const vm = kernelServer.vm;
    const size = 32 * P;
    const objects = [
      await pager.default_pager_object_create(BigInt(size)),
      await pager.default_pager_object_create(BigInt(size)),
    ];
    const task1 = vm.createTask();
    const task2 = vm.createTask();
    const maps = [];
    for (const o of objects) {
      maps.push({
        a: await kernelServer.vmMap(task1, user, o, { size }),
        b: await kernelServer.vmMap(task2, user, o, { size }),
        shadow: new Uint8Array(size),
      });
    }
    // Writes through one task, reads through the other, on both objects at once: with 4 resident
    // pages nearly every access is a data_request, and evictions send data_returns.
    for (let round = 0; round < 6; round++) {
      const work: Promise<void>[] = [];
      for (const [i, m] of maps.entries()) {
        work.push(
          (async () => {
            // Eight pages at a time per object, so several of its requests are in flight at once.
            for (let first = 0; first < 32; first += 8) {
              const lane: Promise<void>[] = [];
              for (let page = first; page < first + 8; page++) {
                const at = ((page * 5 + round + i) % 32) * P;
                const bytes = new Uint8Array(P).fill((round * 31 + page + i * 7) & 0xff);
                m.shadow.set(bytes, at);
                lane.push(
                  (async () => {
                    await vm.write(
                      round % 2 === 0 ? task1 : task2,
                      (round % 2 === 0 ? m.a : m.b) + at,
                      bytes,
                    );
                    const got = await vm.read(
                      round % 2 === 0 ? task2 : task1,
                      (round % 2 === 0 ? m.b : m.a) + at,
                      P,
                    );
                    expect(sameBytes(got, bytes)).toBe("same");
                  })(),
                );
              }
              await Promise.all(lane);
            }
          })(),
        );
      }
      await Promise.all(work);
    }
    for (const [i, m] of maps.entries()) {
      expect(sameBytes(await vm.read(task1, m.a, size), m.shadow), `object ${i}`).toBe("same");
    }
    await sys.idle();

    expect(handled.size).toBe(2);
    let overtaken = 0;
    for (const [object, list] of handled) {
      // Handled: 0, 1, 2, ... with none missing or repeated.
      expect(list.map((h) => h.seqno)).toEqual(list.map((_, i) => i));
      expect(list[0]!.what).toBe("init");
      expect(list.some((h) => h.what === "data_return")).toBe(true);
      expect(list.some((h) => h.what === "data_request")).toBe(true);
      // Arrival at the gate was out of order.
      const got = arrived.get(object)!;
      for (let i = 1; i < got.length; i++) if (got[i]! < got[i - 1]!) overtaken++;
    }
    expect(overtaken).toBeGreaterThan(10);
    expect(maxWaiting).toBeGreaterThan(1);
    // The two objects' requests were handled interleaved, not one object after the other.
    let switches = 0;
    for (let i = 1; i < order.length; i++) if (order[i] !== order[i - 1]) switches++;
    expect(switches).toBeGreaterThan(10);
    expect(sys.local!.server.stats.errors).toEqual([]);
  });

  it("a message no handler runs for (unknown id, or one that does not decode) still takes its turn", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const handled: { seqno: number; what: string }[] = [];
    sys = await startSystem({
      residentPages: 4,
      pager: {
        pageSize: P,
        pagingFiles: [{ path: path.join(t.dir, "p.swap"), sizeBytes: 64 * P }],
      },
      pagerHooks: { onOrdered: (_object, seqno, what) => handled.push({ seqno, what }) },
    });
    const { kernelServer, user, pager } = sys;
    const vm = kernelServer.vm;
    const object = await pager.default_pager_object_create(BigInt(8 * P));
    const task = vm.createTask();
    const at = await kernelServer.vmMap(task, user, object, { size: 8 * P }); // init: seqno 0
    // Two bare headers to the object port: data_request's id without its body, and an unknown id.
    const abi = sys.kernel.abi;
    for (const id of [2203, 9999]) {
      const bytes = new Uint8Array(abi.headerSize);
      const h = newHeader();
      h.bits = msghBits(MACH_MSG_TYPE_COPY_SEND, 0);
      h.size = bytes.length;
      h.remotePort = object;
      h.id = id;
      writeHeader(new DataView(bytes.buffer), abi, h);
      const r = await user.mach_msg({ bytes, ool: [] }, MACH_SEND_MSG, bytes.length, 0, 0, 0);
      expect(r.code).toBe(0);
    }
    // The next real requests are not stuck behind them.
    await vm.write(task, at, new Uint8Array(P).fill(9));
    expect((await vm.read(task, at, 1))[0]).toBe(9);
    await sys.idle();
    expect(handled.slice(0, 4).map((h) => h.what)).toEqual([
      "init",
      "message 2203",
      "message 9999",
      "data_request",
    ]);
    expect(handled.map((h) => h.seqno)).toEqual(handled.map((_, i) => i));
    expect(sys.local!.server.stats.errors).toEqual([
      "message 2203 on an object port not handled",
      "message 9999 on an object port not handled",
    ]);
  });
});
