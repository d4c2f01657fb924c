/**
 * Type descriptors (mach_msg_type_t / mach_msg_type_long_t), both ABIs.
 *
 *  x86_64: 8 bytes. word0: name 0-7, size 8-23, inline 29, longform 30, deallocate 31;
 *          word1: number. The long form is the same struct with longform set.
 *  i386:   4 bytes. name 0-7, size 8-15, number 16-27, inline 28, longform 29, deallocate 30.
 *          Long form: 12 bytes, the word above with name/size/number 0 and longform set,
 *          then u16 name, u16 size, u32 number.
 */
import type { AbiInfo } from "../abi.js";

export interface TypeDescriptor {
  name: number;
  size: number;
  number: number;
  inline: boolean;
  longForm: boolean;
  deallocate: boolean;
}

export function newDescriptor(): TypeDescriptor {
  return { name: 0, size: 0, number: 0, inline: true, longForm: false, deallocate: false };
}

/** Bytes the descriptor occupies on the wire. */
export function descriptorSize(abi: AbiInfo, longForm: boolean): number {
  return longForm ? abi.longDescriptorSize : abi.descriptorSize;
}

/** Writes a descriptor and returns its size in bytes. */
export function writeDescriptor(view: DataView, offset: number, abi: AbiInfo, d: TypeDescriptor): number {
  if (abi.descriptorSize === 8) {
    const word0 =
      (d.name & 0xff) |
      ((d.size & 0xffff) << 8) |
      (d.inline ? 1 << 29 : 0) |
      (d.longForm ? 1 << 30 : 0) |
      (d.deallocate ? 1 << 31 : 0);
    view.setUint32(offset, word0 >>> 0, true);
    view.setUint32(offset + 4, d.number >>> 0, true);
    return 8;
  }
  const flags = (d.inline ? 1 << 28 : 0) | (d.longForm ? 1 << 29 : 0) | (d.deallocate ? 1 << 30 : 0);
  if (d.longForm) {
    view.setUint32(offset, flags >>> 0, true);
    view.setUint16(offset + 4, d.name & 0xffff, true);
    view.setUint16(offset + 6, d.size & 0xffff, true);
    view.setUint32(offset + 8, d.number >>> 0, true);
    return 12;
  }
  const word = (d.name & 0xff) | ((d.size & 0xff) << 8) | ((d.number & 0xfff) << 16) | flags;
  view.setUint32(offset, word >>> 0, true);
  return 4;
}

/**
 * Reads a descriptor into `out` (no allocation) and returns its size in bytes, or -1 if it does
 * not fit in `limit` (the end of the message).
 */
export function readDescriptor(view: DataView, offset: number, limit: number, abi: AbiInfo, out: TypeDescriptor): number {
  if (abi.descriptorSize === 8) {
    if (offset + 8 > limit) return -1;
    const word0 = view.getUint32(offset, true);
    out.name = word0 & 0xff;
    out.size = (word0 >>> 8) & 0xffff;
    out.inline = (word0 & (1 << 29)) !== 0;
    out.longForm = (word0 & (1 << 30)) !== 0;
    out.deallocate = (word0 & (1 << 31)) !== 0;
    out.number = view.getUint32(offset + 4, true);
    return 8;
  }
  if (offset + 4 > limit) return -1;
  const word = view.getUint32(offset, true);
  out.inline = (word & (1 << 28)) !== 0;
  out.longForm = (word & (1 << 29)) !== 0;
  out.deallocate = (word & (1 << 30)) !== 0;
  if (out.longForm) {
    if (offset + 12 > limit) return -1;
    out.name = view.getUint16(offset + 4, true);
    out.size = view.getUint16(offset + 6, true);
    out.number = view.getUint32(offset + 8, true);
    return 12;
  }
  out.name = word & 0xff;
  out.size = (word >>> 8) & 0xff;
  out.number = (word >>> 16) & 0xfff;
  return 4;
}
