/**
 * The bridge wire protocol: frames exchanged between two kernels.
 *
 * A frame is a small binary header plus zero or more payloads. How frames are delimited is the
 * link's business (a length prefix on a socket, one array element per part on a MessagePort);
 * this file only lays out the headers. All integers are little-endian.
 *
 * Ports never cross as names. A right is carried as a tag and a *bridge port id*: the id under
 * which one side's bridge exports one of its kernel's ports. Ids are chosen by the exporting side
 * and mean something only on one connection. A tag says whose id it is:
 *   SENDER   - the sender's export (the receiver represents it by a local proxy port);
 *   RECEIVER - the receiver's own export coming home (the receiver maps it back to the original).
 *
 * MSG (kind 1), then payloads: the message bytes (`size`), then each out-of-line region.
 *   0  u8  kind            1  u8  destType (17 send | 18 send-once)
 *   2  u8  replyTag        3  u8  replyType (0 | 17 | 18)
 *   4  u32 destId (always the receiver's export)
 *   8  u32 replyId        12  u32 flags (msgh_bits without the dispositions)
 *  16  i32 msgh_id        20  u32 size
 *  24  u32 rights         28  u32 regions
 *  32  rights x 8: u8 tag, u8 type (16 | 17 | 18), u16 0, u32 id   (body order, as KMsg.rights)
 *  ..  regions x 4: u32 length
 *
 * RELEASE (kind 2): u8 kind, 3 x 0, u32 id, u32 count. "I no longer hold `count` of the send
 *   rights you transferred to me under `id`" (sent when the proxy's last send right goes).
 * DEAD (kind 3): u8 kind, 3 x 0, u32 id. "The port I exported as `id` is dead."
 * OFFER (kind 4): u8 kind, u8 bootstrap, 2 x 0, u32 id. "One send right under `id` is yours to
 *   import" (exportPort / setBootstrapPort).
 * HELLO (kind 5): u8 kind, 3 x 0, u32 protocol version, u32 message header size (the ABI).
 */

export const PROTOCOL_VERSION = 1;

export const FRAME_MSG = 1;
export const FRAME_RELEASE = 2;
export const FRAME_DEAD = 3;
export const FRAME_OFFER = 4;
export const FRAME_HELLO = 5;

export const TAG_NULL = 0;
export const TAG_DEAD = 1;
/** The id is the sender's export. */
export const TAG_SENDER = 2;
/** The id is the receiver's export (the right goes home). */
export const TAG_RECEIVER = 3;

export const MSG_FIXED = 32;
export const RIGHT_SIZE = 8;

export function msgHeaderSize(rights: number, regions: number): number {
  return MSG_FIXED + rights * RIGHT_SIZE + regions * 4;
}

export function controlFrame(kind: number, id: number, value = 0, flag = 0): Uint8Array {
  const h = new Uint8Array(12);
  const v = new DataView(h.buffer);
  v.setUint8(0, kind);
  v.setUint8(1, flag);
  v.setUint32(4, id >>> 0, true);
  v.setUint32(8, value >>> 0, true);
  return h;
}
