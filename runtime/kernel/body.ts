/**
 * Walks a typed message body (mig-reference §6.3) and checks it as GNU Mach's copy-in does
 * (mach-ipc-reference §3.6). Shared by the kernel's copy-in and by user-space helpers that need
 * to find a message's rights and regions (mach_msg_destroy, the MIG ownership objects).
 */
import type { AbiInfo } from "../abi.js";
import { alignUp } from "../abi.js";
import { readDescriptor, newDescriptor, type TypeDescriptor } from "../codec/descriptor.js";
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
  const items: BodyItem[] = [];
  const d = newDescriptor();
  let offset = abi.headerSize;
  let oolIndex = 0;
  while (offset < size) {
    const n = readDescriptor(view, offset, size, abi, d);
    if (n < 0) return { items, code: ReturnCode.MACH_SEND_MSG_TOO_SMALL };
    const word = view.getUint32(offset, true);
    if (abi.descriptorSize === 8) {
      if ((word & 0x1f000000) !== 0) return { items, code: ReturnCode.MACH_SEND_INVALID_TYPE };
    } else {
      if ((word & 0x80000000) !== 0) return { items, code: ReturnCode.MACH_SEND_INVALID_TYPE };
      if (d.longForm && (word & 0x0fffffff) !== 0) return { items, code: ReturnCode.MACH_SEND_INVALID_TYPE };
    }
    if (d.inline && d.deallocate) return { items, code: ReturnCode.MACH_SEND_INVALID_TYPE };
    const isPort = isPortRightType(d.name);
    if (isPort && d.size !== (d.inline ? abi.inlinePortBits : 32)) {
      return { items, code: ReturnCode.MACH_SEND_INVALID_TYPE };
    }
    const dataOffset = offset + n;
    const dataBytes = Math.ceil((d.number * d.size) / 8);
    const slot = d.inline ? dataBytes : abi.pointerSize;
    if (dataOffset + slot > size) return { items, code: ReturnCode.MACH_SEND_MSG_TOO_SMALL };
    items.push({
      descOffset: offset,
      name: d.name,
      size: d.size,
      number: d.number,
      inline: d.inline,
      longForm: d.longForm,
      deallocate: d.deallocate,
      dataOffset,
      dataBytes,
      oolIndex: d.inline ? -1 : oolIndex++,
    });
    offset = dataOffset + alignUp(slot, abi.alignment);
  }
  return { items, code: 0 };
}
