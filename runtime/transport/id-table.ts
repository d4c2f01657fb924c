/**
 * A bridge's table from port ids to records: a `Map`'s interface, with the small ids in an array.
 * Ids are handed out one after another from 1 (ours by `Bridge.allocateId`, the peer's by its
 * own), so in practice every id is small, and a message costs an array index per id instead of a
 * hash lookup (Builtins_FindOrderedHashMapEntry was ~4% of each process's CPU with 64 calls in
 * flight). Ids at or past DENSE_LIMIT, which only a long-lived connection (after wrapping) or a
 * misbehaving peer produces, live in a `Map`, so a peer's ids size the array to DENSE_LIMIT slots at
 * most.
 */
const DENSE_LIMIT = 1 << 16;

export class IdTable<T> {
  private readonly dense: Array<T | undefined> = [];
  private readonly sparse = new Map<number, T>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: number): T | undefined {
    if (id < DENSE_LIMIT) return id < this.dense.length ? this.dense[id] : undefined;
    return this.sparse.size === 0 ? undefined : this.sparse.get(id);
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  set(id: number, value: T): void {
    if (id < DENSE_LIMIT) {
      const dense = this.dense;
      while (dense.length <= id) dense.push(undefined);
      if (dense[id] === undefined) this.count++;
      dense[id] = value;
      return;
    }
    if (!this.sparse.has(id)) this.count++;
    this.sparse.set(id, value);
  }

  delete(id: number): boolean {
    if (id < DENSE_LIMIT) {
      if (id >= this.dense.length || this.dense[id] === undefined) return false;
      this.dense[id] = undefined;
      this.count--;
      return true;
    }
    if (!this.sparse.delete(id)) return false;
    this.count--;
    return true;
  }

  /** Every record (small ids in id order, then the others). */
  values(): T[] {
    const out: T[] = [];
    for (const v of this.dense) if (v !== undefined) out.push(v);
    for (const v of this.sparse.values()) out.push(v);
    return out;
  }

  clear(): void {
    this.dense.length = 0;
    this.sparse.clear();
    this.count = 0;
  }
}
