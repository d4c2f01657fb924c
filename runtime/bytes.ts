/**
 * Little-endian 32-bit reads and writes on a message's bytes, shared by the kernel, the MIG helpers
 * and the transports. For the small messages of a call (a header, a RetCode) a DataView costs more
 * than the work: V8 materialises the ArrayBuffer of a small Uint8Array on its first `.buffer`
 * access and allocates the view, so header fields are read and written byte by byte instead.
 */

export function rd32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

export function rdI32(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
}

export function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}
