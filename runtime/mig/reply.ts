/**
 * mig_reply_header_t (mig-reference §6.3): the header plus RetCode that every reply starts with,
 * and the bare error reply a server sends when a routine fails.
 */
import type { AbiInfo } from "../abi.js";
import { newDescriptor, readDescriptor, writeDescriptor } from "../codec/descriptor.js";
import { MACH_MSGH_BITS_COMPLEX, msghBits, newHeader, readHeader, writeHeader } from "../codec/header.js";
import { MACH_MSG_TYPE_INTEGER_32, ReturnCode } from "../constants.js";
import type { MachMessage } from "../message.js";

export function viewOf(msg: MachMessage): DataView {
  return new DataView(msg.bytes.buffer, msg.bytes.byteOffset, msg.bytes.byteLength);
}

/**
 * The reply header a server demux pre-builds for a request (mig_reply_setup): remote = the
 * request's reply right with its received type, local 0, id + 100, then RetCode.
 */
export function mig_reply_setup(abi: AbiInfo, request: MachMessage, retCode: number): MachMessage {
  const h = readHeader(viewOf(request), abi, newHeader());
  const bytes = new Uint8Array(abi.replyHeaderSize);
  const view = new DataView(bytes.buffer);
  writeHeader(view, abi, {
    bits: msghBits(h.bits & 0xff, 0),
    size: abi.replyHeaderSize,
    remotePort: h.remotePort,
    localPort: 0,
    seqno: 0,
    id: h.id + 100,
  });
  writeDescriptor(view, abi.headerSize, abi, {
    name: MACH_MSG_TYPE_INTEGER_32,
    size: 32,
    number: 1,
    inline: true,
    longForm: false,
    deallocate: false,
  });
  view.setInt32(abi.headerSize + abi.descriptorSize, retCode, true);
  return { bytes, ool: [] };
}

/** The RetCode of a reply, or null if the message has no well-typed RetCode item. */
export function readRetCode(abi: AbiInfo, reply: MachMessage): number | null {
  const view = viewOf(reply);
  const at = abi.headerSize + abi.descriptorSize;
  if (reply.bytes.length < at + 4) return null;
  const d = newDescriptor();
  if (readDescriptor(view, abi.headerSize, reply.bytes.length, abi, d) < 0) return null;
  if (d.name !== MACH_MSG_TYPE_INTEGER_32 || d.size !== 32 || d.number !== 1 || !d.inline || d.longForm) return null;
  return view.getInt32(at, true);
}

/** True for a bare error reply: exactly mig_reply_header_t, simple, RetCode != 0. */
export function isErrorReply(abi: AbiInfo, reply: MachMessage): boolean {
  if (reply.bytes.length !== abi.replyHeaderSize) return false;
  const h = readHeader(viewOf(reply), abi, newHeader());
  if (h.bits & MACH_MSGH_BITS_COMPLEX) return false;
  const rc = readRetCode(abi, reply);
  return rc !== null && rc !== 0;
}

export interface ReplyShape {
  /** The exact size of a successful reply, or its minimum when `variable`. */
  size: number;
  variable?: boolean;
  complex: boolean;
}

/**
 * The client stub's TypeCheck (mig-reference §7.1 steps 6-7): MIG_TYPE_ERROR unless the reply
 * has the expected size and complexity or is a bare error reply; otherwise its RetCode.
 */
export function checkReply(abi: AbiInfo, reply: MachMessage, shape: ReplyShape): number {
  const h = readHeader(viewOf(reply), abi, newHeader());
  const complex = (h.bits & MACH_MSGH_BITS_COMPLEX) !== 0;
  const size = reply.bytes.length;
  const sizeOk = shape.variable ? size >= shape.size : size === shape.size;
  if (!(sizeOk && complex === shape.complex) && !isErrorReply(abi, reply)) return ReturnCode.MIG_TYPE_ERROR;
  const rc = readRetCode(abi, reply);
  return rc === null ? ReturnCode.MIG_TYPE_ERROR : rc;
}
