import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** A fresh temporary directory and its removal. */
export function tempDir(prefix = "mig-ts-dp-"): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** The project's seeded PRNG (mulberry32), so failures reproduce. */
export { prng } from "../../../test/support/prng.js";

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
