/**
 * mach_msg_header_t, read and written in place. Port fields hold names (user-space view); on
 * x86_64 they are 8-byte slots whose low 4 bytes are the name, and we write the upper half as 0.
 */
import type { AbiInfo } from "../abi.js";

export interface MessageHeader {
  bits: number;
  size: number;
  remotePort: number;
  localPort: number;
  seqno: number;
  id: number;
}

export function writeHeader(view: DataView, abi: AbiInfo, h: MessageHeader): void {
  const o = abi.header;
  view.setUint32(o.bits, h.bits >>> 0, true);
  view.setUint32(o.size, h.size >>> 0, true);
  writePortSlot(view, o.remotePort, abi, h.remotePort);
  writePortSlot(view, o.localPort, abi, h.localPort);
  view.setUint32(o.seqno, h.seqno >>> 0, true);
  view.setInt32(o.id, h.id | 0, true);
}

/** Fills `out` (no allocation) from the header at the start of `view`. */
export function readHeader(view: DataView, abi: AbiInfo, out: MessageHeader): MessageHeader {
  const o = abi.header;
  out.bits = view.getUint32(o.bits, true);
  out.size = view.getUint32(o.size, true);
  out.remotePort = view.getUint32(o.remotePort, true);
  out.localPort = view.getUint32(o.localPort, true);
  out.seqno = view.getUint32(o.seqno, true);
  out.id = view.getInt32(o.id, true);
  return out;
}

/** Writes a port name into a header or inline-port slot: 4 bytes on i386, 4 + 4 zero bytes on x86_64. */
export function writePortSlot(view: DataView, offset: number, abi: AbiInfo, name: number): void {
  view.setUint32(offset, name >>> 0, true);
  if (abi.inlinePortSize === 8) view.setUint32(offset + 4, 0, true);
}

export function newHeader(): MessageHeader {
  return { bits: 0, size: 0, remotePort: 0, localPort: 0, seqno: 0, id: 0 };
}

/** MACH_MSGH_BITS(remote, local). */
export function msghBits(remote: number, local: number): number {
  return (remote | (local << 8)) >>> 0;
}

export const MACH_MSGH_BITS_COMPLEX = 0x80000000;

export function msghBitsRemote(bits: number): number {
  return bits & 0xff;
}

export function msghBitsLocal(bits: number): number {
  return (bits >>> 8) & 0xff;
}
