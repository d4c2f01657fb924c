/**
 * Per-object request ordering by message sequence number (memory-object-reference §8).
 *
 * Messages for one memory object are numbered by the kernel as they are dequeued from the object
 * port (msgh_seqno, starting at 0, reset when the receive right moves). Handlers may be started in
 * any order, but each object's work must run in seqno order: a data_request must never overtake the
 * data_return before it. Different objects have different gates and proceed concurrently.
 *
 * Every message on the port must take its turn, including notifications and messages the pager
 * rejects; a seqno that never arrives stalls the later ones, exactly as a lost ticket does in the
 * Hurd's mach-defpager.
 *
 * The interface is the one runtime/mig's `SeqnoOrder` has, so either plugs into DefaultPagerCore
 * (`makeOrdering`). Seqnos do not wrap here: 2^53 messages on one object port are out of reach.
 */
export interface RequestOrdering {
  /** Runs `work` once every lower seqno has finished; resolves (or rejects) with its result. */
  run<T>(seqno: number, work: () => T | Promise<T>): Promise<T>;
  /**
   * Optional: `run` that hands back what `work` returned, without a promise, when it is already
   * `seqno`'s turn and `work` returns a value. A page-in is a chain of such steps (message in,
   * read, message out); a promise per step was a measurable share of it.
   */
  runOrValue?<T>(seqno: number, work: () => T | Promise<T>): T | Promise<T>;
  /**
   * Optional, with `leave`: true when it is `seqno`'s turn now, which the caller then holds
   * until it calls `leave` once (no work function: nothing to allocate for a request that finds
   * its turn). False when it is not its turn: the caller goes through `run` instead.
   */
  enter?(seqno: number): boolean;
  /** Ends the turn `enter` gave. */
  leave?(): void;
}

export class SeqnoOrderError extends Error {}

export class SeqnoGate implements RequestOrdering {
  private turn: number;
  private readonly waiting = new Map<number, () => void>();

  constructor(first = 0) {
    this.turn = first;
  }

  get next(): number {
    return this.turn;
  }

  /** Seqnos queued behind a missing one (for diagnostics). */
  get pending(): number {
    return this.waiting.size;
  }

  enter(seqno: number): boolean {
    return seqno === this.turn;
  }

  leave(): void {
    this.advance();
  }

  run<T>(seqno: number, work: () => T | Promise<T>): Promise<T> {
    const r = this.runOrValue(seqno, work);
    return r instanceof Promise ? r : Promise.resolve(r);
  }

  runOrValue<T>(seqno: number, work: () => T | Promise<T>): T | Promise<T> {
    if (!Number.isInteger(seqno) || seqno < this.turn || this.waiting.has(seqno)) {
      return Promise.reject(
        new SeqnoOrderError(`seqno ${seqno} already used or invalid (next is ${this.turn})`),
      );
    }
    if (seqno !== this.turn)
      return new Promise<void>((resolve) => this.waiting.set(seqno, resolve)).then(() =>
        this.runNow(work),
      );
    return this.runNow(work);
  }

  /** Runs `work` in its turn; the turn passes when it returns, or when its promise settles. */
  private runNow<T>(work: () => T | Promise<T>): T | Promise<T> {
    let result: T | Promise<T>;
    try {
      result = work();
    } catch (e) {
      this.advance();
      return Promise.reject(e as Error);
    }
    if (!(result instanceof Promise)) {
      this.advance();
      return result;
    }
    return result.then(
      (value) => {
        this.advance();
        return value;
      },
      (e: unknown) => {
        this.advance();
        throw e;
      },
    );
  }

  private advance(): void {
    this.turn++;
    const wake = this.waiting.get(this.turn);
    if (wake !== undefined) {
      this.waiting.delete(this.turn);
      wake();
    }
  }
}
