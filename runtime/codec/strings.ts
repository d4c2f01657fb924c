/**
 * C strings in messages. Sending follows glibc's `mig_strncpy` (copy at most `len - 1` bytes with
 * stpncpy semantics, NUL-padding the rest of those `len - 1` bytes, and terminate); receiving
 * always stops at the first NUL or at `len - 1` bytes, so a received string is NUL-terminated
 * within its bound whatever the sender wrote. Text is UTF-8 on the wire (ASCII fast path);
 * truncation never splits a UTF-8 sequence.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8");

/**
 * Copies `text` into `dst[offset ..]` as `mig_strncpy(dst + offset, text, len)` would, writing the
 * terminating NUL and zeros up to `offset + len - 1`. Returns the number of bytes copied (without
 * the NUL), like `mig_strncpy`.
 */
export function migStrncpy(dst: Uint8Array, offset: number, text: string, len: number): number {
  if (len <= 0) return 0;
  const limit = len - 1;
  let n = 0;
  const length = text.length;
  for (; n < length && n < limit; n++) {
    const c = text.charCodeAt(n);
    if (c === 0) break;
    if (c > 0x7f) {
      n = copyUtf8(dst, offset, text, limit);
      break;
    }
    dst[offset + n] = c;
  }
  dst.fill(0, offset + n, offset + len);
  return n;
}

function copyUtf8(dst: Uint8Array, offset: number, text: string, limit: number): number {
  const nul = text.indexOf("\0");
  const source = nul >= 0 ? text.slice(0, nul) : text;
  const { written } = encoder.encodeInto(source, dst.subarray(offset, offset + limit));
  return written;
}

/** Reads a NUL-terminated string of at most `limit` bytes at `bytes[offset ..]`. */
export function readCString(bytes: Uint8Array, offset: number, limit: number): string {
  let end = offset;
  const stop = offset + Math.max(0, limit);
  let ascii = true;
  while (end < stop) {
    const b = bytes[end];
    if (b === 0) break;
    if (b > 0x7f) ascii = false;
    end++;
  }
  const n = end - offset;
  if (n === 0) return "";
  if (ascii && n <= 64) {
    let s = "";
    for (let i = offset; i < end; i++) s += String.fromCharCode(bytes[i]);
    return s;
  }
  return decoder.decode(bytes.subarray(offset, end));
}
