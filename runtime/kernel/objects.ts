/**
 * The kernel's objects: ports, port sets, IPC-space entries and kernel messages (a message in
 * transit, holding its rights as port objects, never as names).
 */
import { MACH_PORT_QLIMIT_DEFAULT, MACH_PORT_TYPE_SEND } from "../constants.js";
import type { Task } from "./task.js";

/**
 * A blocked `mach_msg` receive. The kernel calls exactly one of `message`, `tooLarge` and `fail`,
 * at most once.
 */
export interface ReceiveWaiter {
  readonly task: Task;
  readonly option: number;
  readonly rcvSize: number;
  /**
   * A message handed over (now owned by the waiter), already dequeued with its seqno. With `now`
   * the kernel is at a consistent point (the top level of a send) and the copy-out may run at
   * once; otherwise it must wait for a microtask, so no kernel operation is re-entered.
   */
  message(kmsg: KMsg, now: boolean): void;
  /** The next message does not fit and MACH_RCV_LARGE is set: it stays queued. */
  tooLarge(size: number): void;
  /** The receive ends with `code` (port died, changed, interrupted). */
  fail(code: number): void;
}

/** What a waiting receiver can be given (the three `ReceiveWaiter` calls, as values). */
export type ReceiveOutcome =
  | { kind: "message"; kmsg: KMsg }
  | { kind: "too-large"; size: number }
  | { kind: "error"; code: number };

/** A send blocked on a full queue. */
export interface BlockedSender {
  readonly kmsg: KMsg;
  /** Called once: room became available (`true`) or the port died (`false`). */
  wake(enqueued: boolean): void;
}

/** What a transport keeps on a port (`Port.transportRecord`). */
export interface TransportRecord {
  readonly owner: object;
}

export class Port {
  private static nextId = 1;
  /** A number for debugging and tracing; names are per task, this is not a name. */
  readonly id = Port.nextId++;
  dead = false;
  /** The task holding the receive right and its name there; null while in transit, in limbo, or dead. */
  receiver: Task | null = null;
  receiverName = 0;
  /** While in transit: the port the carrying message was sent to (for the circularity check). */
  destination: Port | null = null;
  mscount = 0;
  srights = 0;
  sorights = 0;
  seqno = 0;
  qlimit = MACH_PORT_QLIMIT_DEFAULT;
  msgcount = 0;
  pset: PortSet | null = null;
  /** The port's own FIFO (used while it is in no set). */
  queue: KMsg[] = [];
  /**
   * Messages held back from the queue (counted in `msgcount`), or null: a transport holds a port
   * whose receive right just arrived while messages sent to it before are still coming back to it
   * (`Kernel.releaseHeld` queues them after those), so that no sender's messages overtake each
   * other.
   */
  held: KMsg[] | null = null;
  receivers: ReceiveWaiter[] = [];
  blockedSenders: BlockedSender[] = [];
  /** Registered send-once rights (the ports they name). */
  nsrequest: Port | null = null;
  pdrequest: Port | null = null;
  /**
   * Entries, in any space, holding a send or send-once right for this port: a list through
   * `Entry.holderNext`/`holderPrev`, oldest first (`addHolder`, `removeHolder`, `takeHolders`).
   */
  holdersHead: Entry | null = null;
  holdersTail: Entry | null = null;
  /** The length of the holder list. */
  holderCount = 0;
  /**
   * Each task's send entry for this port, kept only while the holder list is long (more than
   * CROWDED entries): a task finds its entry for a port by walking the list, which is short for
   * almost every port, and through this map for the few that many tasks hold (a service port).
   */
  crowded: Map<Task, Entry> | null = null;
  /**
   * A kernel object: when set, a message sent to the port is handed to this function at once
   * (no queueing, no limit) and the function owns it. Bridges use this for proxy ports.
   */
  kobject: ((kmsg: KMsg) => void) | null = null;
  /**
   * The record a transport keeps for this port (a bridge's export of it, or the import behind a
   * proxy), so the rights a message carries are matched to it without a map lookup. One slot:
   * the first transport to claim it; another keeps its own map. `owner` says whose it is.
   */
  transportRecord: TransportRecord | null = null;
  /**
   * A kernel-object port that takes no more messages for now (a bridge's proxy whose peer has
   * too many of its messages in flight): senders through send rights wait as at a full queue.
   */
  kfull = false;
  /** A free-form label for tracing. */
  label = "";
  /** Called once when the port dies (bridges turn proxies into dead names with this). */
  deathWatchers: Array<() => void> = [];
}

export class PortSet {
  dead = false;
  readonly members = new Set<Port>();
  /** One FIFO holding the messages of all members in arrival order. */
  queue: KMsg[] = [];
  receivers: ReceiveWaiter[] = [];
  constructor(
    readonly owner: Task,
    public name: number,
  ) {}
}

/** One name in an IPC space. */
export interface Entry {
  readonly owner: Task;
  name: number;
  /** MACH_PORT_TYPE_* bits: SEND, RECEIVE, SEND|RECEIVE, SEND_ONCE, PORT_SET or DEAD_NAME. */
  type: number;
  /** User references: send or dead-name urefs; 1 for send-once; 0 for receive-only and sets. */
  urefs: number;
  port: Port | null;
  pset: PortSet | null;
  /** The send-once right (named by its port) registered for a dead-name notification. */
  dnrequest: Port | null;
  /** The kernel chose the name (so its index may be recycled). */
  generated: boolean;
  /** Insertion order in the name table. */
  order: number;
  /** The port whose holder list this entry is on (a send or send-once entry), and its neighbours. */
  holderOf: Port | null;
  holderPrev: Entry | null;
  holderNext: Entry | null;
}

/** Holder lists longer than this keep `Port.crowded`. */
const CROWDED = 8;

/** Puts `e` on `port`'s holder list (at the end); nothing if it is already there. */
export function addHolder(port: Port, e: Entry): void {
  if (e.holderOf === port) return;
  if (e.holderOf) removeHolder(e.holderOf, e);
  e.holderOf = port;
  e.holderNext = null;
  e.holderPrev = port.holdersTail;
  if (port.holdersTail) port.holdersTail.holderNext = e;
  else port.holdersHead = e;
  port.holdersTail = e;
  port.holderCount++;
  if (port.crowded !== null) {
    if ((e.type & MACH_PORT_TYPE_SEND) !== 0) port.crowded.set(e.owner, e);
  } else if (port.holderCount > CROWDED) {
    const crowded = new Map<Task, Entry>();
    for (let h = port.holdersHead; h !== null; h = h.holderNext) if ((h.type & MACH_PORT_TYPE_SEND) !== 0) crowded.set(h.owner, h);
    port.crowded = crowded;
  }
}

/**
 * `task`'s entry holding a send right for `port` (at most one per task, §1.2), if any: a walk of
 * the holder list, or its map when the list is long.
 */
export function sendHolder(port: Port, task: Task): Entry | undefined {
  const crowded = port.crowded;
  if (crowded !== null) return crowded.get(task);
  for (let e = port.holdersHead; e !== null; e = e.holderNext) if (e.owner === task && (e.type & MACH_PORT_TYPE_SEND) !== 0) return e;
  return undefined;
}

/** Takes `e` off `port`'s holder list; nothing if it is not on it. */
export function removeHolder(port: Port, e: Entry): void {
  if (e.holderOf !== port) return;
  const prev = e.holderPrev;
  const next = e.holderNext;
  if (prev) prev.holderNext = next;
  else port.holdersHead = next;
  if (next) next.holderPrev = prev;
  else port.holdersTail = prev;
  e.holderOf = null;
  e.holderPrev = null;
  e.holderNext = null;
  port.holderCount--;
  const crowded = port.crowded;
  if (crowded !== null) {
    if (port.holderCount <= CROWDED / 2) port.crowded = null;
    else if (crowded.get(e.owner) === e) crowded.delete(e.owner);
  }
}

/** Empties `port`'s holder list and returns it, oldest first. */
export function takeHolders(port: Port): Entry[] {
  const out: Entry[] = [];
  for (let e = port.holdersHead; e; ) {
    const next: Entry | null = e.holderNext;
    e.holderOf = null;
    e.holderPrev = null;
    e.holderNext = null;
    out.push(e);
    e = next;
  }
  port.holdersHead = null;
  port.holdersTail = null;
  port.holderCount = 0;
  port.crowded = null;
  return out;
}

/**
 * A right carried by a message, as a port object. `port` null means the message carries the
 * name NULL or DEAD (`dead`), which transfers no right.
 */
export interface CarriedRight {
  port: Port | null;
  dead: boolean;
  /** MACH_MSG_TYPE_PORT_SEND, _PORT_SEND_ONCE or _PORT_RECEIVE (0 for a header slot without a right). */
  type: number;
  /** Where copy-out writes the name: -1 for inline (an offset into `bytes`), else an index into `ool`. */
  ool: number;
  offset: number;
}

/**
 * A message in the kernel. `bytes` is the kernel's own copy of the sender's bytes, with port
 * items' msgt_name already rewritten to the received type and msgt_deallocate normalised; port
 * slots are filled with names only on copy-out.
 */
export interface KMsg {
  /** msgh_bits without the two disposition bytes (COMPLEX and the other flags). */
  flags: number;
  size: number;
  id: number;
  /** The destination right (PORT_SEND or PORT_SEND_ONCE). */
  dest: Port;
  destType: number;
  /** The reply right; type 0 and port null when there is none. */
  reply: CarriedRight;
  /**
   * Body rights in body order (inline items, then each OOL array's elements in index order): one
   * per port slot, NULL and DEAD slots included (their port is null), since copy-in zeroes every
   * slot and a bridge's peer places the rights it receives by slot.
   */
  rights: CarriedRight[];
  bytes: Uint8Array;
  ool: Uint8Array[];
  seqno: number;
  /** Sent by the kernel (notifications): bypasses the queue limit. */
  fromKernel: boolean;
  /**
   * Who delivered it (a bridge) and under what id, told when it leaves the queue (received,
   * handed on, or destroyed): a bridge's flow control counts what its peer still has in flight.
   */
  source: KMsgSource | null;
  sourceId: number;
}

/** See `KMsg.source`. */
export interface KMsgSource {
  dequeued(id: number): void;
}

export function noRight(): CarriedRight {
  return { port: null, dead: false, type: 0, ool: -1, offset: -1 };
}
