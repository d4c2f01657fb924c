import { describe, expect, it } from "vitest";
import { SeqnoGate, SeqnoOrderError } from "../seqno-gate.js";
import { prng, tick } from "./helpers.js";

const sleepTurns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await tick();
};

describe("SeqnoGate", () => {
  it("runs work in seqno order whatever the arrival order and completion times", async () => {
    const rand = prng(42);
    const gate = new SeqnoGate();
    const order: number[] = [];
    const seqnos = Array.from({ length: 50 }, (_, i) => i);
    // shuffle arrival
    for (let i = seqnos.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [seqnos[i], seqnos[j]] = [seqnos[j]!, seqnos[i]!];
    }
    const runs: Promise<number>[] = [];
    for (const s of seqnos) {
      await sleepTurns(Math.floor(rand() * 2));
      runs.push(
        gate.run(s, async () => {
          order.push(s);
          await sleepTurns(Math.floor(rand() * 4)); // injected out-of-order completion delays
          order.push(-s - 1);
          return s;
        }),
      );
    }
    const results = await Promise.all(runs);
    expect(results).toEqual(seqnos);
    // each piece of work starts only after the previous one finished
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => [i, -i - 1]).flat());
    expect(gate.next).toBe(50);
  });

  it("lets different objects proceed concurrently", async () => {
    const a = new SeqnoGate();
    const b = new SeqnoGate();
    const log: string[] = [];
    let releaseA!: () => void;
    const blockA = new Promise<void>((r) => (releaseA = r));
    const ra = a.run(0, async () => {
      log.push("a0 start");
      await blockA;
      log.push("a0 end");
    });
    await b.run(0, () => log.push("b0"));
    await b.run(1, () => log.push("b1"));
    releaseA();
    await ra;
    expect(log).toEqual(["a0 start", "b0", "b1", "a0 end"]);
  });

  it("advances past work that throws, and refuses reused seqnos", async () => {
    const gate = new SeqnoGate();
    const later = gate.run(1, () => "one");
    await expect(
      gate.run(0, () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await later).toBe("one");
    await expect(gate.run(0, () => 0)).rejects.toBeInstanceOf(SeqnoOrderError);
    const pending = gate.run(3, () => 3);
    await expect(gate.run(3, () => 3)).rejects.toBeInstanceOf(SeqnoOrderError);
    expect(gate.pending).toBe(1);
    await gate.run(2, () => 2);
    expect(await pending).toBe(3);
  });

  it("can start from a later seqno", async () => {
    const gate = new SeqnoGate(10);
    expect(await gate.run(10, () => "x")).toBe("x");
  });

  it("runOrValue hands back the value itself in turn, a promise otherwise", async () => {
    const gate = new SeqnoGate();
    expect(gate.runOrValue(0, () => "now")).toBe("now");
    const later = gate.runOrValue(2, () => "later");
    expect(later).toBeInstanceOf(Promise);
    expect(gate.runOrValue(1, () => 1)).toBe(1);
    expect(await later).toBe("later");
    const failed = gate.runOrValue(3, () => {
      throw new Error("boom");
    });
    await expect(failed).rejects.toThrow("boom");
    expect(gate.next).toBe(4);
  });

  it("enter holds the turn until leave; a later seqno waits for it", async () => {
    const gate = new SeqnoGate();
    expect(gate.enter(1)).toBe(false);
    expect(gate.enter(0)).toBe(true);
    const after = gate.run(1, () => "one");
    await Promise.resolve();
    expect(gate.next).toBe(0); // still held
    gate.leave();
    expect(await after).toBe("one");
    expect(gate.next).toBe(2);
    expect(gate.enter(2)).toBe(true);
    gate.leave();
    expect(gate.next).toBe(3);
  });
});
