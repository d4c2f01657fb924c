/**
 * The bytes of the kernel's notification messages (notify.defs, subsystem 64), laid out exactly
 * as GNU MIG's notify user stubs lay them out for each ABI: a header addressed to a send-once
 * right (MOVE_SEND_ONCE, no reply), then at most one inline item. Pad bytes are written as 0.
 *
 * The kernel fills the header's port slots on copy-out, so the destination name written here is
 * only a placeholder; the conformance test passes the vectors' name to compare whole messages.
 */
import type { AbiInfo } from "../abi.js";
import { alignUp } from "../abi.js";
import { writeDescriptor } from "../codec/descriptor.js";
import { MACH_MSGH_BITS_COMPLEX, msghBits, writeHeader, writePortSlot } from "../codec/header.js";
import {
  MACH_MSG_TYPE_INTEGER_32,
  MACH_MSG_TYPE_MOVE_RECEIVE,
  MACH_MSG_TYPE_MOVE_SEND_ONCE,
  MACH_MSG_TYPE_PORT_NAME,
  MACH_NOTIFY_DEAD_NAME,
  MACH_NOTIFY_MSG_ACCEPTED,
  MACH_NOTIFY_NO_SENDERS,
  MACH_NOTIFY_PORT_DELETED,
  MACH_NOTIFY_PORT_DESTROYED,
  MACH_NOTIFY_SEND_ONCE,
} from "../constants.js";

export type NotificationId =
  | typeof MACH_NOTIFY_PORT_DELETED
  | typeof MACH_NOTIFY_MSG_ACCEPTED
  | typeof MACH_NOTIFY_PORT_DESTROYED
  | typeof MACH_NOTIFY_NO_SENDERS
  | typeof MACH_NOTIFY_SEND_ONCE
  | typeof MACH_NOTIFY_DEAD_NAME;

/** Byte offset of the single body item's data (the name, mscount or receive right). */
export function notificationDataOffset(abi: AbiInfo): number {
  return abi.headerSize + abi.descriptorSize;
}

/**
 * Builds a notification as sent: `remoteName` in the destination slot, and `value` (a port name,
 * the make-send count, or the name of the receive right for port-destroyed) as the body item.
 */
export function buildNotification(abi: AbiInfo, id: NotificationId, remoteName: number, value = 0): Uint8Array {
  const hasBody = id !== MACH_NOTIFY_SEND_ONCE;
  const itemName =
    id === MACH_NOTIFY_NO_SENDERS
      ? MACH_MSG_TYPE_INTEGER_32
      : id === MACH_NOTIFY_PORT_DESTROYED
        ? MACH_MSG_TYPE_MOVE_RECEIVE
        : MACH_MSG_TYPE_PORT_NAME;
  const itemBits = id === MACH_NOTIFY_PORT_DESTROYED ? abi.inlinePortBits : 32;
  const itemBytes = id === MACH_NOTIFY_PORT_DESTROYED ? abi.inlinePortSize : 4;
  const size = hasBody ? alignUp(notificationDataOffset(abi) + itemBytes, abi.alignment) : abi.headerSize;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  const complex = id === MACH_NOTIFY_PORT_DESTROYED ? MACH_MSGH_BITS_COMPLEX : 0;
  writeHeader(view, abi, {
    bits: (msghBits(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0) | complex) >>> 0,
    size,
    remotePort: remoteName,
    localPort: 0,
    seqno: 0,
    id,
  });
  if (hasBody) {
    writeDescriptor(view, abi.headerSize, abi, {
      name: itemName,
      size: itemBits,
      number: 1,
      inline: true,
      longForm: false,
      deallocate: false,
    });
    const at = notificationDataOffset(abi);
    if (id === MACH_NOTIFY_PORT_DESTROYED) writePortSlot(view, at, abi, value);
    else view.setUint32(at, value >>> 0, true);
  }
  return bytes;
}
