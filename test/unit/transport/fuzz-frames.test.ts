/**
 * A rogue peer sending random and mutated frames (every kind, the MOVED/BOUNCE handshake's
 * included) to a bridge: the bridge must either take them or close with an error, never throw,
 * hang or leave a right unbalanced in its kernel.
 */
import { describe, expect, it } from "vitest";
import { MACH_MSG_TYPE_COPY_SEND, MACH_RCV_MSG, MACH_RCV_TIMEOUT } from "../../../runtime/constants.js";
import {
  CONTROL_SIZE,
  controlFrame,
  FRAME_BOUNCE,
  FRAME_MOVED,
  MOVED_ID_BASE,
  MOVED_SIZE,
  msgFrameHeader,
  TAG_MOVED,
} from "../../../runtime/transport/protocol.js";
import { buildMessage } from "../../fixtures/transport/rpc.js";
import { prng } from "../../support/prng.js";
import { audit } from "../runtime/support.js";
import { rogueVictim } from "./support.js";

describe("bridge frames from a rogue peer", () => {
  it("300 connections of random and mutated frames: taken or refused, never a throw or an unbalanced right", async () => {
    const rand = prng(Number(process.env.MIG_TS_FUZZ_SEED ?? 0xf4a3));
    const int = (n: number) => Math.floor(rand() * n);
    let closedByPeer = 0;
    let delivered = 0;
    for (let round = 0; round < 300; round++) {
      const { kernel, task, bridge, target, id, abi, rogue } = rogueVictim();
      const someId = () => [id, id + 1, MOVED_ID_BASE + int(4), int(2 ** 32), 0][int(5)]!;
      for (let k = 1 + int(6); k > 0; k--) {
        const what = int(6);
        let header: Uint8Array;
        let payloads: Uint8Array[] = [];
        if (what === 5) {
          // A plain, valid message (checks that a connection that is not cut off still works).
          const bytes = buildMessage(abi, 0, MACH_MSG_TYPE_COPY_SEND, 0, 0, 8).bytes;
          header = msgFrameHeader({ destType: 17, destId: id, size: bytes.length });
          payloads = [bytes];
        } else if (what === 0 || what === 1) {
          // A message (or a bounce), with rights of random tags, types and ids.
          const nrights = int(3);
          const items = Array.from({ length: nrights }, () => ({ port: 0, disposition: [16, 17, 18][int(3)]! }));
          const bytes = buildMessage(abi, 0, MACH_MSG_TYPE_COPY_SEND, 0, 0, 7, items).bytes;
          header = msgFrameHeader({
            destType: [17, 18, int(256)][int(3)]!,
            destId: someId(),
            replyTag: int(6),
            replyType: [0, 17, 18][int(3)]!,
            replyId: someId(),
            size: bytes.length,
            rights: items.map((it) => ({ tag: [TAG_MOVED, int(6)][int(2)]!, type: it.disposition, id: someId() })),
          });
          if (what === 1) header[0] = FRAME_BOUNCE;
          payloads = [bytes];
        } else if (what === 2) {
          header = new Uint8Array(MOVED_SIZE);
          const v = new DataView(header.buffer);
          header[0] = FRAME_MOVED;
          header[1] = int(4);
          v.setUint32(4, someId(), true);
          v.setUint32(8, int(20), true);
          v.setUint32(12, int(4), true);
          for (const at of [16, 24]) {
            header[at] = int(6);
            header[at + 1] = [0, 18, int(256)][int(3)]!;
            v.setUint32(at + 4, someId(), true);
          }
          v.setUint32(32, [0, id, someId()][int(3)]!, true);
        } else if (what === 3) {
          header = controlFrame(int(12), someId(), int(4), int(2));
        } else {
          header = new Uint8Array(1 + int(40));
          for (let i = 0; i < header.length; i++) header[i] = int(256);
        }
        // Now and then a byte of the header flipped, or the frame cut.
        if (what !== 5 && rand() < 0.2) header[int(header.length)] ^= 1 << int(8);
        if (what !== 5 && rand() < 0.05 && header.length > CONTROL_SIZE) header = header.subarray(0, int(header.length));
        rogue.send(header, payloads);
      }
      await new Promise((r) => setTimeout(r, 2));
      for (;;) {
        const r = await task.mach_msg(null, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, 1 << 16, target, 0);
        if (r.code !== 0) break;
        delivered++;
        task.mach_msg_destroy(r.msg!);
      }
      if (!bridge.isOpen) closedByPeer++;
      bridge.close();
      rogue.close();
      await new Promise((r) => setTimeout(r, 1));
      expect(audit(kernel), `round ${round}`).toEqual([]);
    }
    // The mix does both: some connections are cut off, some messages get through.
    expect(closedByPeer).toBeGreaterThan(100);
    expect(delivered).toBeGreaterThan(20);
  }, 60_000);
});
