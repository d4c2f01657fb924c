/**
 * mig_reply_header_t (mig-reference §6.3): the header plus RetCode that every reply starts with,
 * and the bare error reply a server sends when a routine fails.
 */
import type { AbiInfo } from "../abi.js";
import { MACH_MSGH_BITS_COMPLEX } from "../codec/header.js";
import { MACH_MSG_TYPE_INTEGER_32, ReturnCode } from "../constants.js";
import type { MachMessage } from "../message.js";
import { rd32, rdI32, wr32 } from "../bytes.js";

export function viewOf(msg: MachMessage): DataView {
  return new DataView(msg.bytes.buffer, msg.bytes.byteOffset, msg.bytes.byteLength);
}

/**
 * The reply header a server demux pre-builds for a request (mig_reply_setup): remote = the
 * request's reply right with its received type, local 0, id + 100, then RetCode.
 */
export function mig_reply_setup(abi: AbiInfo, request: MachMessage, retCode: number): MachMessage {
  const o = abi.header;
  const rb = request.bytes;
  // A new Uint8Array is zero: the local port, the seqno and the upper halves of x86_64 port slots.
  const bytes = new Uint8Array(abi.replyHeaderSize);
  wr32(bytes, o.bits, rb[o.bits]);
  wr32(bytes, o.size, abi.replyHeaderSize);
  wr32(bytes, o.remotePort, rd32(rb, o.remotePort));
  wr32(bytes, o.id, (rdI32(rb, o.id) + 100) | 0);
  const d = abi.headerSize;
  if (abi.descriptorSize === 8) {
    wr32(bytes, d, RETCODE_WORD0_X86);
    wr32(bytes, d + 4, 1);
  } else wr32(bytes, d, RETCODE_WORD_I386);
  wr32(bytes, d + abi.descriptorSize, retCode | 0);
  return { bytes, ool: [] };
}

/** The RetCode descriptor (INTEGER_32, 32 bits, 1, inline, short form): x86_64's first word. */
const RETCODE_WORD0_X86 = (MACH_MSG_TYPE_INTEGER_32 | (32 << 8) | (1 << 29)) >>> 0;
/** i386's one word (number 1 in bits 16..27). */
const RETCODE_WORD_I386 = (MACH_MSG_TYPE_INTEGER_32 | (32 << 8) | (1 << 16) | (1 << 28)) >>> 0;
/** Bits a RetCode descriptor must match: name, size, inline and longForm (not deallocate). */
const X86_MASK = 0x60ffffff;
const I386_MASK = 0x3fffffff;

/** The RetCode of a reply, or null if the message has no well-typed RetCode item. */
export function readRetCode(abi: AbiInfo, reply: MachMessage): number | null {
  const b = reply.bytes;
  const d = abi.headerSize;
  const at = d + abi.descriptorSize;
  if (b.length < at + 4) return null;
  if (abi.descriptorSize === 8) {
    if ((rd32(b, d) & X86_MASK) !== RETCODE_WORD0_X86 || rd32(b, d + 4) !== 1) return null;
  } else if ((rd32(b, d) & I386_MASK) !== RETCODE_WORD_I386) return null;
  return rdI32(b, at);
}

/** True for a bare error reply: exactly mig_reply_header_t, simple, RetCode != 0. */
export function isErrorReply(abi: AbiInfo, reply: MachMessage): boolean {
  if (reply.bytes.length !== abi.replyHeaderSize) return false;
  if (rd32(reply.bytes, abi.header.bits) & MACH_MSGH_BITS_COMPLEX) return false;
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
  const complex = (rd32(reply.bytes, abi.header.bits) & MACH_MSGH_BITS_COMPLEX) !== 0;
  const size = reply.bytes.length;
  const sizeOk = shape.variable ? size >= shape.size : size === shape.size;
  if (!(sizeOk && complex === shape.complex) && !isErrorReply(abi, reply)) return ReturnCode.MIG_TYPE_ERROR;
  const rc = readRetCode(abi, reply);
  return rc === null ? ReturnCode.MIG_TYPE_ERROR : rc;
}
