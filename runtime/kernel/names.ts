/**
 * An IPC space's name table: name -> entry, like a `Map` but without a hash table's churn for
 * the names the kernel generates (a send-once reply right gets a fresh name on every call).
 * Generated names are `(index << 8) | generation` with dense indexes, so their entries live in
 * an array by index; names chosen by the caller (allocate_name, insert_right, rename), and a
 * generated name whose index slot is taken, go to a `Map`. Iteration is in insertion order, as
 * a `Map`'s.
 */
import type { Entry } from "./objects.js";

export class NameTable {
  private readonly slots: Array<Entry | undefined> = [];
  private readonly others = new Map<number, Entry>();
  private count = 0;
  private stamp = 0;

  get size(): number {
    return this.count;
  }

  get(name: number): Entry | undefined {
    const i = name >>> 8;
    if (i < this.slots.length) {
      const e = this.slots[i];
      if (e !== undefined && e.name === name) return e;
    }
    return this.others.size === 0 ? undefined : this.others.get(name);
  }

  has(name: number): boolean {
    return this.get(name) !== undefined;
  }

  /** Adds `e` under `name` (`e.name`), which must not be in the table. */
  set(name: number, e: Entry): void {
    e.order = this.stamp++;
    this.count++;
    const i = name >>> 8;
    if (e.generated && (i >= this.slots.length || this.slots[i] === undefined)) {
      while (this.slots.length < i) this.slots.push(undefined);
      this.slots[i] = e;
    } else {
      this.others.set(name, e);
    }
  }

  delete(name: number): boolean {
    const i = name >>> 8;
    if (i < this.slots.length) {
      const e = this.slots[i];
      if (e !== undefined && e.name === name) {
        this.slots[i] = undefined;
        this.count--;
        return true;
      }
    }
    if (this.others.delete(name)) {
      this.count--;
      return true;
    }
    return false;
  }

  /** Every entry, in insertion order. */
  values(): Entry[] {
    const out: Entry[] = [];
    for (const e of this.slots) if (e !== undefined) out.push(e);
    for (const e of this.others.values()) out.push(e);
    return out.sort((a, b) => a.order - b.order);
  }

  keys(): number[] {
    return this.values().map((e) => e.name);
  }
}
