/**
 * The generated client and server stubs of defs/default_pager.defs, connected by a value-level
 * loopback (request slots go straight to the server's routine, reply slots straight back): the
 * client's arguments reach the right handler parameters, handler results come back as the
 * client's resolved values, and the seqnos server passes the message's sequence number.
 */
import type { RoutinePlan } from "../../runtime/codec/plan.js";
import { describe, expect, it } from "vitest";
import * as plain from "../../generated/default_pager.js";
import * as seqnos from "../../generated/default_pager-seqnos.js";

type Slots = Array<number | bigint | boolean | string | ArrayBufferView | null>;

interface Demux<H> {
  handlers: H;
  routine(id: number): { plan: RoutinePlan; invoke(handlers: H, args: Slots): Promise<void> } | undefined;
}

/** A caller that runs the request on `demux` in-process, assigning `seqno` to each message. */
function loopback<H>(demux: Demux<H>, port: number) {
  let seqno = 0x40;
  return {
    // The generated stub passes its `outs` function (what it resolves to from the reply slots).
    async routine<T = Slots>(plan: RoutinePlan, args: Slots, _options?: unknown, outs?: (reply: Slots) => T): Promise<T> {
      const entry = demux.routine(plan.request.id);
      if (!entry) throw new Error("MIG_BAD_ID");
      const slots = [...args];
      slots[plan.requestPortSlot] = port;
      if (plan.seqnoSlot >= 0) slots[plan.seqnoSlot] = seqno;
      seqno++;
      await entry.invoke(demux.handlers, slots);
      return outs ? outs(slots) : (slots as T);
    },
    async simpleroutine(plan: RoutinePlan, args: Slots): Promise<void> {
      await this.routine(plan, args);
    },
  };
}

const info = { dpi_total_space: 1n << 40n, dpi_free_space: 12345n, dpi_page_size: 4096n };

describe("default_pager stubs over a loopback", () => {
  it("routes every routine of the plain server", async () => {
    const calls: string[] = [];
    const handlers: plain.DefaultPagerHandlers = {
      default_pager_object_create(pager, size) {
        calls.push(`create ${pager} ${size}`);
        return 0x300 as plain.memory_object_t;
      },
      default_pager_info() {
        return info;
      },
      default_pager_objects() {
        return {
          objects: [
            { dpo_object: 1n, dpo_size: 8192n },
            { dpo_object: 2n, dpo_size: 4096n },
          ],
          ports: new Uint32Array([0x301, 0x302]),
        };
      },
      default_pager_object_pages(_pager, object) {
        return [{ dpp_offset: BigInt(object) * 4096n }];
      },
      default_pager_paging_file(_pager, device, filename, add) {
        calls.push(`paging_file ${device} ${filename} ${add}`);
      },
      default_pager_register_fileserver(_pager, fileserver) {
        calls.push(`fileserver ${fileserver}`);
      },
    };
    const client = new plain.DefaultPagerClient(loopback(plain.default_pager_server(handlers), 0x101));
    expect(await client.default_pager_object_create(65536n)).toBe(0x300);
    expect(await client.default_pager_info()).toEqual(info);
    const objects = await client.default_pager_objects();
    expect(objects.objects).toEqual([
      { dpo_object: 1n, dpo_size: 8192n },
      { dpo_object: 2n, dpo_size: 4096n },
    ]);
    expect([...objects.ports]).toEqual([0x301, 0x302]);
    expect(await client.default_pager_object_pages(3 as plain.memory_object_name_t)).toEqual([{ dpp_offset: 12288n }]);
    await client.default_pager_paging_file(0x105 as plain.mach_port_t, "/dev/hd0s2", 1);
    await client.default_pager_register_fileserver(0x106 as plain.mach_port_t);
    expect(calls).toEqual(["create 257 65536", "paging_file 261 /dev/hd0s2 1", "fileserver 262"]);
  });

  it("unknown ids have no routine (MIG_BAD_ID)", () => {
    expect(plain.default_pager_server_routine(2274)).toBeUndefined();
    expect(plain.default_pager_server_routine(2281)).toBeUndefined();
    expect(plain.default_pager_server_routine(2275)?.plan.name).toBe("default_pager_object_create");
  });

  it("seqnos_default_pager_server passes the seqno to seqnos_default_pager_object_create", async () => {
    const seen: Array<[number, number, bigint]> = [];
    const handlers = {
      seqnos_default_pager_object_create(pager: number, seqno: number, size: bigint) {
        seen.push([pager, seqno, size]);
        return 0x300 as seqnos.memory_object_t;
      },
    } as unknown as seqnos.SeqnosDefaultPagerHandlers;
    const client = new seqnos.DefaultPagerClient(loopback(seqnos.seqnos_default_pager_server(handlers), 0x101));
    expect(await client.default_pager_object_create(4096n)).toBe(0x300);
    expect(await client.default_pager_object_create(8192n)).toBe(0x300);
    expect(seen).toEqual([
      [0x101, 0x40, 4096n],
      [0x101, 0x41, 8192n],
    ]);
    expect(seqnos.seqnos_default_pager_server_routine(2275)?.plan.seqnoSlot).toBeGreaterThanOrEqual(0);
  });
});
