/**
 * The bridge wire protocol: frames exchanged between two kernels.
 *
 * A frame is a small binary header plus zero or more payloads. How frames are delimited is the
 * link's business (link.ts: a u32 length before each frame, payloads of LARGE_PART bytes or more
 * beside the stream on a MessagePort); this file only lays out the headers. All integers are
 * little-endian. No JSON, no per-frame strings: a bridge reads and writes them in place.
 *
 * Ports never cross as names. A right is carried as a tag and a *bridge port id*: the id under
 * which one side's bridge exports one of its kernel's ports. Ids are chosen by the exporting side
 * and mean something only on one connection. A tag says whose id it is:
 *   SENDER   - the sender's export (the receiver represents it by a local proxy port);
 *   RECEIVER - the receiver's own export coming home (the receiver maps it back to the original);
 *   MOVED    - a receive right moving to the receiver's kernel (type 16 only): the id is new,
 *              chosen by the sender at or above MOVED_ID_BASE (the sender's own exports stay
 *              below it, so the two never meet), and becomes the receiver's export of the port
 *              it makes; a MOVED frame just before the MSG frame describes that port.
 *
 * MSG (kind 1), then payloads: the message bytes (`size`), then each out-of-line region.
 *   0  u8  kind            1  u8  destType (17 send | 18 send-once)
 *   2  u8  replyTag        3  u8  replyType (0 | 17 | 18)
 *   4  u32 destId (always the receiver's export)
 *   8  u32 replyId        12  u32 size
 *  16  u32 rights         20  u32 regions
 *  24  rights x 8: u8 tag, u8 type (16 | 17 | 18), u16 0, u32 id   (body order, as KMsg.rights)
 *  ..  regions x 4: u32 length
 * The message bytes carry msgh_bits (the flags; the dispositions are the frame's) and msgh_id in
 * their header; their port names are zero. A message without rights or regions is a 24-byte
 * header and its bytes.
 *
 * RELEASE (kind 2): u8 kind, 3 x 0, u32 id, u32 count. "I no longer hold `count` of the send
 *   rights you transferred to me under `id`" (sent when the proxy's last send right goes).
 * DEAD (kind 3): u8 kind, 3 x 0, u32 id. "The port I exported as `id` is dead."
 * OFFER (kind 4): u8 kind, u8 bootstrap, 2 x 0, u32 id. "One send right under `id` is yours to
 *   import" (exportPort / setBootstrapPort).
 * HELLO (kind 5): u8 kind, 3 x 0, u32 protocol version, u32 message header size (the ABI).
 * MOVED (kind 6, MOVED_SIZE bytes): the port whose receive right the next MSG frame moves.
 *   0  u8  kind            1  u8  flags (bit 0: the sender's kernel holds send rights to it)
 *   4  u32 id (the MOVED id the MSG frame's right uses)
 *   8  u32 qlimit         12  u32 send-once rights the sender's kernel holds to it
 *  16  its no-senders request, 24 its port-destroyed request: each a right as in MSG (a
 *      send-once right, or tag NULL for none)
 *  32  u32 alias: the sender's export id the receiver knows the port by (it holds proxies for
 *      it), or 0. The receiver turns that proxy into the port itself, and answers MOVE_ACK.
 *   Every MOVED frame is followed by the MSG frame that carries its right; anything else there
 *   is a protocol error.
 * BOUNCE (kind 7): a MSG frame coming back: the receiver sent it to an alias before it learnt of
 *   the move; its destination (a MOVED id of the receiver's) gets the right it had again. Only
 *   between MOVED with an alias and MOVE_DONE.
 * MOVE_ACK (kind 8): u8 kind, 3 x 0, u32 alias. "I will send nothing more to this alias."
 * MOVE_DONE (kind 9): u8 kind, 3 x 0, u32 id. "Nothing more will bounce to this moved port."
 * CREDIT (kind 10): u8 kind, 3 x 0, u32 id, u32 count. "`count` of the messages you sent to your
 *   proxy for my export `id` have left its queue here" (flow control, `BridgeOptions.window`):
 *   sent every CREDIT_BATCH messages, and as soon as there is any after a CREDIT_REQUEST.
 * CREDIT_REQUEST (kind 11): u8 kind, 3 x 0, u32 id. "I have half my window in flight to your
 *   export `id`: credit me as messages leave its queue."
 */

import { wr32 } from "../bytes.js";

export const PROTOCOL_VERSION = 3;

export const FRAME_MSG = 1;
export const FRAME_RELEASE = 2;
export const FRAME_DEAD = 3;
export const FRAME_OFFER = 4;
export const FRAME_HELLO = 5;
export const FRAME_MOVED = 6;
export const FRAME_BOUNCE = 7;
export const FRAME_MOVE_ACK = 8;
export const FRAME_MOVE_DONE = 9;
export const FRAME_CREDIT = 10;
export const FRAME_CREDIT_REQUEST = 11;

export const TAG_NULL = 0;
export const TAG_DEAD = 1;
/** The id is the sender's export. */
export const TAG_SENDER = 2;
/** The id is the receiver's export (the right goes home). */
export const TAG_RECEIVER = 3;
/** A receive right moving to the receiver (a MOVED frame describes the port). */
export const TAG_MOVED = 4;
/** MOVED ids start here; each side's own export ids stay below. */
export const MOVED_ID_BASE = 0x80000000;

export const MSG_FIXED = 24;
export const CONTROL_SIZE = 12;
export const RIGHT_SIZE = 8;
export const MOVED_SIZE = 36;

export function msgHeaderSize(rights: number, regions: number): number {
  return MSG_FIXED + rights * RIGHT_SIZE + regions * 4;
}

export function controlFrame(kind: number, id: number, value = 0, flag = 0): Uint8Array {
  const h = new Uint8Array(CONTROL_SIZE);
  writeControl(h, 0, kind, id, value, flag);
  return h;
}

/** Writes a control frame's header at `at`. */
export function writeControl(h: Uint8Array, at: number, kind: number, id: number, value: number, flag: number): void {
  h[at] = kind;
  h[at + 1] = flag;
  h[at + 2] = 0;
  h[at + 3] = 0;
  wr32(h, at + 4, id);
  wr32(h, at + 8, value);
}

/** A right of a MSG frame, as a test or tool would describe it. */
export interface FrameRight {
  tag: number;
  type: number;
  id: number;
}

/** A MSG frame header (for tools and tests; the bridge writes its own in place). */
export function msgFrameHeader(m: {
  destType: number;
  destId: number;
  replyTag?: number;
  replyType?: number;
  replyId?: number;
  size: number;
  rights?: readonly FrameRight[];
  regions?: readonly number[];
}): Uint8Array {
  const rights = m.rights ?? [];
  const regions = m.regions ?? [];
  const h = new Uint8Array(msgHeaderSize(rights.length, regions.length));
  h[0] = FRAME_MSG;
  h[1] = m.destType;
  h[2] = m.replyTag ?? TAG_NULL;
  h[3] = m.replyType ?? 0;
  wr32(h, 4, m.destId);
  wr32(h, 8, m.replyId ?? 0);
  wr32(h, 12, m.size);
  wr32(h, 16, rights.length);
  wr32(h, 20, regions.length);
  let at = MSG_FIXED;
  for (const r of rights) {
    h[at] = r.tag;
    h[at + 1] = r.type;
    wr32(h, at + 4, r.id);
    at += RIGHT_SIZE;
  }
  for (const n of regions) {
    wr32(h, at, n);
    at += 4;
  }
  return h;
}
