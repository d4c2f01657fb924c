/**
 * Walks a typed message body (mig-reference §6.3) and checks it as GNU Mach's copy-in does
 * (mach-ipc-reference §3.6). Shared by the kernel's copy-in and by user-space helpers that need
 * to find a message's rights and regions (mach_msg_destroy, the MIG ownership objects).
 */
import type { AbiInfo } from "../abi.js";
import { alignUp } from "../abi.js";
import { rd32 } from "../bytes.js";
import type { TypeDescriptor } from "../codec/descriptor.js";
import { isPortRightType, ReturnCode } from "../constants.js";

/** A body item: its descriptor's fields plus where its data is. */
export interface BodyItem extends TypeDescriptor {
  descOffset: number;
  /** Offset of the inline data, or of the pointer slot for an out-of-line item. */
  dataOffset: number;
  /** Inline: bytes of data (unpadded). Out of line: the region's length, ceil(number*size/8). */
  dataBytes: number;
  /** Index into the message's `ool` list, or -1 for an inline item. */
  oolIndex: number;
}

export interface ParsedBody {
  /** Every item that parsed and passed the checks, in body order. */
  items: BodyItem[];
  /** 0, or the code of the first bad item (which is not in `items`). */
  code: number;
}

/** Parses the body of a message whose bytes are `view[0, size)`. */
export function parseBody(abi: AbiInfo, view: DataView, size: number): ParsedBody {
  return parseBodyBytes(abi, new Uint8Array(view.buffer, view.byteOffset, view.byteLength), size);
}

/** `parseBody` over the message's bytes (no DataView: see `nextBodyItem`). */
export function parseBodyBytes(abi: AbiInfo, bytes: Uint8Array, size: number): ParsedBody {
  const items: BodyItem[] = [];
  let offset = abi.headerSize;
  let oolIndex = 0;
  while (offset < size) {
    // A fresh literal per item (one shape), not a spread of a scratch item: a spread goes
    // through the generic object-clone path. Hot paths walk with `nextBodyItem` and no list.
    const item = newBodyItem();
    const next = nextBodyItem(abi, bytes, offset, size, item);
    if (next < 0) return { items, code: -next };
    if (!item.inline) item.oolIndex = oolIndex++;
    items.push(item);
    offset = next;
  }
  return { items, code: 0 };
}

export function newBodyItem(): BodyItem {
  return { name: 0, size: 0, number: 0, inline: true, longForm: false, deallocate: false, descOffset: 0, dataOffset: 0, dataBytes: 0, oolIndex: -1 };
}

/**
 * Reads and checks the body item at `offset` of `bytes[0, size)` into `item` (its `oolIndex` is
 * the caller's: left as it was for an out-of-line item, -1 for an inline one). Returns the
 * offset of the next item, or the negated MACH_SEND_* code of a bad item. Byte by byte: the
 * kernel's copy of a small message is an on-heap typed array, and a DataView over it would make
 * V8 materialise its ArrayBuffer on every complex message.
 */
export function nextBodyItem(abi: AbiInfo, b: Uint8Array, offset: number, size: number, item: BodyItem): number {
  let n: number;
  let word: number;
  if (abi.descriptorSize === 8) {
    if (offset + 8 > size) return -ReturnCode.MACH_SEND_MSG_TOO_SMALL;
    word = rd32(b, offset);
    item.name = word & 0xff;
    item.size = (word >>> 8) & 0xffff;
    item.inline = (word & (1 << 29)) !== 0;
    item.longForm = (word & (1 << 30)) !== 0;
    item.deallocate = (word & (1 << 31)) !== 0;
    item.number = rd32(b, offset + 4);
    n = 8;
    if ((word & 0x1f000000) !== 0) return -ReturnCode.MACH_SEND_INVALID_TYPE;
  } else {
    if (offset + 4 > size) return -ReturnCode.MACH_SEND_MSG_TOO_SMALL;
    word = rd32(b, offset);
    item.inline = (word & (1 << 28)) !== 0;
    item.longForm = (word & (1 << 29)) !== 0;
    item.deallocate = (word & (1 << 30)) !== 0;
    if (item.longForm) {
      if (offset + 12 > size) return -ReturnCode.MACH_SEND_MSG_TOO_SMALL;
      item.name = b[offset + 4] | (b[offset + 5] << 8);
      item.size = b[offset + 6] | (b[offset + 7] << 8);
      item.number = rd32(b, offset + 8);
      n = 12;
    } else {
      item.name = word & 0xff;
      item.size = (word >>> 8) & 0xff;
      item.number = (word >>> 16) & 0xfff;
      n = 4;
    }
    if ((word & 0x80000000) !== 0) return -ReturnCode.MACH_SEND_INVALID_TYPE;
    if (item.longForm && (word & 0x0fffffff) !== 0) return -ReturnCode.MACH_SEND_INVALID_TYPE;
  }
  if (item.inline && item.deallocate) return -ReturnCode.MACH_SEND_INVALID_TYPE;
  const isPort = isPortRightType(item.name);
  if (isPort && item.size !== (item.inline ? abi.inlinePortBits : 32)) return -ReturnCode.MACH_SEND_INVALID_TYPE;
  const dataOffset = offset + n;
  const dataBytes = Math.ceil((item.number * item.size) / 8);
  const slot = item.inline ? dataBytes : abi.pointerSize;
  if (dataOffset + slot > size) return -ReturnCode.MACH_SEND_MSG_TOO_SMALL;
  item.descOffset = offset;
  item.dataOffset = dataOffset;
  item.dataBytes = dataBytes;
  if (item.inline) item.oolIndex = -1;
  return dataOffset + alignUp(slot, abi.alignment);
}

/**
 * The offset after the item at `offset` when it is plain inline data: an 8-byte descriptor with
 * only the inline bit among its flags, whose type is not a port right (most items of most
 * messages). Checked as `nextBodyItem` checks it (a negated MACH_SEND_MSG_TOO_SMALL when its
 * data runs past `size`). 0 for any other item, which the caller decodes with `nextBodyItem`.
 * A walk over it skips such items without filling a `BodyItem`.
 */
export function skipPlainItem(abi: AbiInfo, b: Uint8Array, offset: number, size: number): number {
  if (abi.descriptorSize !== 8 || offset + 8 > size) return 0;
  const word = b[offset] | (b[offset + 1] << 8) | (b[offset + 2] << 16) | (b[offset + 3] << 24);
  if ((word & 0xff000000) !== 0x20000000 || isPortRightType(word & 0xff)) return 0;
  const number = (b[offset + 4] | (b[offset + 5] << 8) | (b[offset + 6] << 16) | (b[offset + 7] << 24)) >>> 0;
  const dataBytes = Math.ceil((number * ((word >>> 8) & 0xffff)) / 8);
  if (offset + 8 + dataBytes > size) return -ReturnCode.MACH_SEND_MSG_TOO_SMALL;
  return offset + 8 + alignUp(dataBytes, abi.alignment);
}

/**
 * Rewrites the descriptor of a checked item in place: its type name (a port right's received
 * type) and its deallocate bit (an out-of-line region's). The other fields stay as they are,
 * which is what re-encoding them would write (the checks above leave no stray bits).
 */
export function rewriteDescriptor(abi: AbiInfo, b: Uint8Array, item: BodyItem, name: number, deallocate: boolean): void {
  const o = item.descOffset;
  if (abi.descriptorSize === 4 && item.longForm) {
    b[o + 4] = name;
    b[o + 5] = name >>> 8;
  } else b[o] = name;
  const bit = abi.descriptorSize === 8 ? 0x80 : 0x40;
  b[o + 3] = deallocate ? b[o + 3] | bit : b[o + 3] & ~bit;
}

