import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** A fresh temporary directory and its removal. */
export function tempDir(prefix = "mig-ts-dp-"): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A small deterministic PRNG (mulberry32), so failures reproduce. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A page whose bytes identify (tag, page) so misplaced pages are caught. */
export function patternPage(size: number, tag: number, page: number): Uint8Array {
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < size; i += 8) {
    view.setUint32(i, tag >>> 0, true);
    view.setUint32(i + 4, (page * 2654435761 + i) >>> 0, true);
  }
  return out;
}

export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Byte equality without vitest's slow element-by-element diff (reports the first difference). */
export function sameBytes(actual: Uint8Array, expected: Uint8Array): string {
  if (
    Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(
      Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength),
    )
  ) {
    return "same";
  }
  if (actual.length !== expected.length) return `length ${actual.length} != ${expected.length}`;
  const i = actual.findIndex((v, k) => v !== expected[k]);
  return `byte ${i}: ${actual[i]} != ${expected[i]}`;
}
