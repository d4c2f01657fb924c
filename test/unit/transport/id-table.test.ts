import { describe, expect, it } from "vitest";
import { IdTable } from "../../../runtime/transport/id-table.js";

describe("IdTable", () => {
  it("behaves as a map for small and large ids alike", () => {
    const t = new IdTable<string>();
    const ids = [1, 2, 70000, 0xfffffffe, 65535, 65536];
    for (const id of ids) t.set(id, `v${id}`);
    expect(t.size).toBe(ids.length);
    for (const id of ids) {
      expect(t.get(id)).toBe(`v${id}`);
      expect(t.has(id)).toBe(true);
    }
    expect(t.get(3)).toBeUndefined();
    expect(t.get(70001)).toBeUndefined();
    t.set(2, "again");
    t.set(70000, "again");
    expect(t.size).toBe(ids.length);
    expect(t.delete(2)).toBe(true);
    expect(t.delete(2)).toBe(false);
    expect(t.delete(70000)).toBe(true);
    expect(t.delete(70000)).toBe(false);
    expect(t.delete(123456789)).toBe(false);
    expect(t.size).toBe(ids.length - 2);
    expect(t.values().sort()).toEqual(["v1", "v4294967294", "v65535", "v65536"].sort());
    t.clear();
    expect(t.size).toBe(0);
    expect(t.get(1)).toBeUndefined();
    expect(t.values()).toEqual([]);
  });

  it("does not grow its array for ids a peer picks past the dense limit", () => {
    const t = new IdTable<number>();
    t.set(0xfffffff0, 1);
    expect((t as unknown as { dense: unknown[] }).dense.length).toBe(0);
  });
});
