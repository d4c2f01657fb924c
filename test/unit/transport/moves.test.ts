/**
 * Receive rights wandering between two kernels while messages flow: a seeded random walk of moves
 * (some racing a send through the peer's proxy, which then bounces, some moving the port back
 * before the bounces are home), sends from both sides, send rights handed over and dropped, and
 * queues drained at random. Every message sent to a port is received exactly once by whoever
 * holds it last, each side's messages in the order it sent them, and both kernels' rights balance
 * at the end.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  MACH_MSG_TYPE_COPY_SEND,
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_MOVE_RECEIVE,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_PORT_TYPE_RECEIVE,
  MACH_PORT_TYPE_SEND,
  MACH_SEND_MSG,
  MACH_SEND_TIMEOUT,
  ReturnCode as R,
} from "../../../runtime/constants.js";
import type { Task } from "../../../runtime/kernel/index.js";
import type { MachMessage } from "../../../runtime/message.js";
import { buildMessage, itemValue, messageId } from "../../fixtures/transport/rpc.js";
import { prng } from "../../support/prng.js";
import { audit } from "../runtime/support.js";
import { makePair, receive, settle, settleUntil, type Pair } from "./support.js";

type Side = "a" | "b";

interface Wanderer {
  holder: Side;
  /** Each side's name for the port (its receive and/or send right), 0 for none. */
  names: Record<Side, number>;
  sent: number[];
  got: number[];
}

async function send(t: Task, msg: MachMessage): Promise<number> {
  return (await t.mach_msg(msg, MACH_SEND_MSG, msg.bytes.length)).code;
}

describe("receive rights wandering across a bridge", () => {
  let pair: Pair | null = null;
  afterEach(async () => {
    await pair?.close();
    pair = null;
  });

  for (const kind of ["message-port", "unix"] as const) {
    it(`loses and duplicates no message over ${kind}, and every right balances`, async () => {
      pair = await makePair(kind);
      const { a, b, ka, ba, bb } = pair;
      const abi = ka.abi;
      const task: Record<Side, Task> = { a, b };
      const other = (s: Side): Side => (s === "a" ? "b" : "a");
      // Each side's mailbox, and the other side's send right to it.
      const mailbox: Record<Side, number> = {
        a: a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name,
        b: b.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name,
      };
      ba.setBootstrapPort(a, mailbox.a, MACH_MSG_TYPE_MAKE_SEND);
      bb.setBootstrapPort(b, mailbox.b, MACH_MSG_TYPE_MAKE_SEND);
      const mailboxOf: Record<Side, number> = {
        a: (await ba.getBootstrapPort(a)).name, // a's right to b's mailbox
        b: (await bb.getBootstrapPort(b)).name,
      };
      const wanderers: Wanderer[] = [];
      for (let i = 0; i < 6; i++) {
        const name = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
        wanderers.push({ holder: "a", names: { a: name, b: 0 }, sent: [], got: [] });
      }
      const rand = prng(Number(process.env.MIG_TS_MOVES_SEED ?? 0x5eed));
      let nextId = 1000;

      /** Hands `items` to side `to` through its mailbox; the names it got there. */
      const handOver = async (from: Side, to: Side, items: { port: number; disposition: number }[], race?: () => Promise<unknown>) => {
        const msg = buildMessage(abi, mailboxOf[from], MACH_MSG_TYPE_COPY_SEND, 0, 0, 1, items);
        const [code] = await Promise.all([send(task[from], msg), race?.()]);
        expect(code).toBe(0);
        const got = await receive(task[to], mailbox[to]);
        expect(got.code).toBe(0);
        return items.map((_, i) => itemValue(abi, got.msg!, i));
      };
      // A send that would wait for room in a full queue times out at once instead (the message
      // then counts as not sent); sends through a proxy never wait.
      const sendTo = async (w: Wanderer, s: Side): Promise<number> => {
        // Even ids from side a, odd from b: each sender's messages must arrive in order.
        const id = nextId++ * 2 + (s === "a" ? 0 : 1);
        const own = s === w.holder && !(task[s].mach_port_type(w.names[s]).type & MACH_PORT_TYPE_SEND);
        const msg = buildMessage(abi, w.names[s], own ? MACH_MSG_TYPE_MAKE_SEND : MACH_MSG_TYPE_COPY_SEND, 0, 0, id);
        const code = (await task[s].mach_msg(msg, MACH_SEND_MSG | MACH_SEND_TIMEOUT, msg.bytes.length, 0, 0, 0)).code;
        if (code === 0) w.sent.push(id);
        else if (code === R.MACH_SEND_TIMED_OUT) task[s].mach_msg_destroy(msg);
        return code === R.MACH_SEND_TIMED_OUT ? 0 : code;
      };
      const drain = async (w: Wanderer) => {
        for (;;) {
          const r = await receive(task[w.holder], w.names[w.holder], 5);
          if (r.code === R.MACH_RCV_TIMED_OUT) return;
          expect(r.code).toBe(0);
          w.got.push(messageId(abi, r.msg!));
        }
      };
      const moves = { plain: 0, raced: 0 };

      for (let step = 0; step < 250; step++) {
        const w = wanderers[Math.floor(rand() * wanderers.length)]!;
        const h = w.holder;
        const o = other(h);
        const op = rand();
        if (op < 0.3) {
          // Send from a random side that can.
          const s: Side = rand() < 0.5 ? h : o;
          if (w.names[s] !== 0) expect(await sendTo(w, s)).toBe(0);
        } else if (op < 0.45) {
          const [name] = await handOver(h, o, [{ port: w.names[h], disposition: MACH_MSG_TYPE_MAKE_SEND }]);
          if (w.names[o] !== 0) expect(name).toBe(w.names[o]);
          w.names[o] = name!;
        } else if (op < 0.55) {
          if (w.names[o] !== 0) {
            // The other side lets go of every reference it has.
            const refs = task[o].mach_port_get_refs(w.names[o], 0).refs;
            for (let i = 0; i < refs; i++) expect(task[o].mach_port_deallocate(w.names[o])).toBe(0);
            w.names[o] = 0;
          }
        } else if (op < 0.65) {
          await drain(w);
        } else {
          // Move the receive right; half the time the other side sends through its proxy meanwhile.
          const racing = w.names[o] !== 0 && rand() < 0.5;
          const [name] = await handOver(h, o, [{ port: w.names[h], disposition: MACH_MSG_TYPE_MOVE_RECEIVE }], racing ? () => sendTo(w, o) : undefined);
          if (w.names[o] !== 0) expect(name).toBe(w.names[o]);
          w.names[o] = name!;
          expect(task[o].mach_port_type(name!).type & MACH_PORT_TYPE_RECEIVE).toBeTruthy();
          if (task[h].mach_port_type(w.names[h]).code !== R.KERN_SUCCESS) w.names[h] = 0;
          w.holder = o;
          if (racing) {
            // At once, before the message it sent through its proxy has come back: this one must
            // still come after it.
            expect(await sendTo(w, o)).toBe(0);
            moves.raced++;
          } else moves.plain++;
          // Half the time the walk goes on before the move's handshake is over, so the port may
          // move back while messages are still bouncing.
          if (rand() < 0.5) await settleUntil(() => ba.movesInProgress === 0 && bb.movesInProgress === 0);
        }
      }
      await settle();
      for (const w of wanderers) {
        await drain(w);
        expect([...w.got].sort()).toEqual([...w.sent].sort());
        for (const parity of [0, 1]) {
          const fromOne = w.got.filter((id) => id % 2 === parity);
          expect(fromOne).toEqual([...fromOne].sort((x, y) => x - y));
        }
      }
      expect(moves.plain).toBeGreaterThan(20);
      expect(moves.raced).toBeGreaterThan(10);
      expect(ba.stats.bounced + bb.stats.bounced).toBeGreaterThan(0);
      expect(ba.stats.rejected + bb.stats.rejected).toBe(0);
      expect(ba.stats.unsupported + bb.stats.unsupported).toBe(0);

      // Everything goes: rights balance in both kernels.
      for (const w of wanderers) {
        expect(task[w.holder].mach_port_mod_refs(w.names[w.holder], MACH_PORT_RIGHT_RECEIVE, -1)).toBe(0);
        const o = other(w.holder);
        if (w.names[o] !== 0) {
          const refs = task[o].mach_port_get_refs(w.names[o], 0).refs;
          for (let i = 0; i < refs; i++) task[o].mach_port_deallocate(w.names[o]);
        }
        const left = task[w.holder].mach_port_type(w.names[w.holder]);
        if (left.code === R.KERN_SUCCESS && left.type & MACH_PORT_TYPE_SEND) task[w.holder].mach_port_destroy(w.names[w.holder]);
      }
      await settle(20);
      expect(audit(pair.ka)).toEqual([]);
      expect(audit(pair.kb)).toEqual([]);
    }, 60_000);
  }
});
