/**
 * The in-process Mach kernel: one per thread or process. It owns the tasks and runs the parts of
 * IPC that belong to no single task: releasing rights held by messages and by the kernel,
 * notifications, port death, queues, blocked senders and receivers.
 *
 * Everything is synchronous. A message handed to a receiver that is already waiting is dequeued
 * at once (so FIFO order and seqnos are fixed at arrival); its copy-out runs right away when the
 * send came from the top level of `mach_msg` (`handoff`), else in a microtask, so no kernel
 * operation is ever re-entered from inside another. A receiver that works on what it is given
 * at once (the serve loop) is run from the run queue (`schedule`): right after the send of an
 * RPC that woke it, else in a microtask, never inside a kernel operation or another runnable.
 */
import type { Abi, AbiInfo } from "../abi.js";
import { abiInfo } from "../abi.js";
import { writeDescriptor } from "../codec/descriptor.js";
import {
  MACH_MSG_TYPE_PORT_RECEIVE,
  MACH_MSG_TYPE_PORT_SEND,
  MACH_MSG_TYPE_PORT_SEND_ONCE,
  MACH_MSGH_BITS_CIRCULAR,
  MACH_NOTIFY_DEAD_NAME,
  MACH_NOTIFY_NO_SENDERS,
  MACH_NOTIFY_PORT_DELETED,
  MACH_NOTIFY_PORT_DESTROYED,
  MACH_NOTIFY_SEND_ONCE,
  MACH_PORT_TYPE_DEAD_NAME,
  MACH_PORT_TYPE_SEND,
  MACH_RCV_LARGE,
  ReturnCode,
} from "../constants.js";
import { buildNotification, notificationDataOffset, type NotificationId } from "./notify.js";
import type { CarriedRight, Entry, KMsg, ReceiveOutcome, ReceiveWaiter } from "./objects.js";
import { noRight, Port, PortSet, takeHolders } from "./objects.js";
import { Task } from "./task.js";
import type { MachMessage } from "../message.js";


/**
 * Sees every message a task sends (before copy-in: the sender's bytes and names) and receives
 * (after copy-out: the receiver's names). Observers must not keep or change the message.
 */
export interface MessageObserver {
  send?(task: Task, msg: MachMessage, size: number): void;
  receive?(task: Task, msg: MachMessage): void;
}

/** `globalThis[KERNEL_CREATED]`, when a function, is called with each new kernel (tracing hook). */
export const KERNEL_CREATED = Symbol.for("mig-ts.kernel-created");

export class Kernel {
  readonly abi: AbiInfo;
  readonly tasks = new Set<Task>();
  private readonly pending = new Set<Port | PortSet>();
  private draining = false;
  /**
   * True while a send at the top level of `mach_msg` enqueues its message (copy-in is complete,
   * nothing else is half done): a receiver already waiting then copies the message out at once
   * instead of in a microtask. Internal to the kernel.
   */
  handoff = false;
  /** Callbacks (kernel objects, death watchers) running now: their sends never hand off at once. */
  callbacks = 0;
  /**
   * True while the send half of a combined send + receive (an RPC) runs: receivers it wakes that
   * asked to run (`schedule`) are run right after the send, before the sender blocks in its
   * receive (Mach's handoff: the server runs while the client waits), instead of in a microtask.
   */
  rpcSend = false;
  /**
   * Runnables handed a message, FIFO in `ready[readyHead, readyTail)` (`schedule`, `runReady`).
   * The array is never shrunk (setting an array's length costs more than the run).
   */
  private readonly ready: Array<Runnable | undefined> = [];
  private readyHead = 0;
  private readyTail = 0;
  /** `runReady` is running the queue (a runnable that sends never runs another one nested). */
  private running = false;
  /** A microtask that runs the queue is pending. */
  private runQueued = false;
  private readonly runLater = (): void => {
    this.runQueued = false;
    this.runReady();
  };

  /** Runs code outside the kernel (a callback) that may call back into it. */
  private outside(fn: () => void): void {
    const handoff = this.handoff;
    this.handoff = false;
    this.callbacks++;
    try {
      fn();
    } finally {
      this.callbacks--;
      this.handoff = handoff;
    }
  }

  /** Message observers (runtime/trace): empty, and so free, unless a tracer is attached. Add them with `observe`. */
  readonly observers = new Set<MessageObserver>();
  /** `observers.size > 0`, kept by `observe` (checked on every message). */
  observing = false;

  constructor(abi: Abi | AbiInfo = "x86_64") {
    this.abi = typeof abi === "string" ? abiInfo(abi) : abi;
    // `mig-ts trace` attaches its tracer to every kernel the traced program creates.
    const onKernel = (globalThis as Record<symbol, unknown>)[KERNEL_CREATED];
    if (typeof onKernel === "function") onKernel(this);
  }

  /** Calls `observer` for every message a task of this kernel sends or receives; returns the detach function. */
  observe(observer: MessageObserver): () => void {
    this.observers.add(observer);
    this.observing = true;
    return () => {
      const had = this.observers.delete(observer);
      this.observing = this.observers.size > 0;
      return had;
    };
  }

  createTask(label = ""): Task {
    const task = new Task(this, label);
    this.tasks.add(task);
    return task;
  }

  /**
   * A port whose receive right the kernel holds: each message sent to it is handed to `handler`,
   * which then owns it (its rights as port objects). Transports use this for proxy ports.
   */
  createKernelPort(handler: (kmsg: KMsg) => void, label = ""): Port {
    const port = new Port();
    port.kobject = handler;
    port.label = label;
    return port;
  }

  // ---------------------------------------------------------------------------------------------
  // Rights held by messages and by the kernel

  /** Adds a send right to `port` for a holder outside any space (a bridge, a kernel message). */
  makeSend(port: Port): void {
    port.mscount++;
    port.srights++;
  }

  /** Adds a send right to `port` without counting a make-send (a copy of one already held). */
  copySend(port: Port): void {
    port.srights++;
  }

  /** Gives `task` a right the caller holds outside any space (consumed); returns its name there. */
  insertRight(task: Task, port: Port, type: number): number {
    return task.copyoutRight({ port, dead: false, type, ool: -1, offset: -1 });
  }

  /** Adds a send-once right to `port` for a holder outside any space. */
  makeSendOnce(port: Port): void {
    port.sorights++;
  }

  /** Releases one send right: no-senders if it was the last one and a request is registered. */
  releaseSend(port: Port): void {
    port.srights--;
    if (port.srights === 0 && !port.dead && port.nsrequest) {
      const so = port.nsrequest;
      port.nsrequest = null;
      this.sendNotification(so, MACH_NOTIFY_NO_SENDERS, port.mscount);
    }
  }

  /** Destroys a send-once right without a message through it: a send-once notification. */
  releaseSendOnce(port: Port): void {
    this.sendNotification(port, MACH_NOTIFY_SEND_ONCE, 0);
  }

  /** Destroys whatever right a message carried. */
  releaseCarried(r: CarriedRight): void {
    const port = r.port;
    if (!port) return;
    r.port = null;
    if (r.type === MACH_MSG_TYPE_PORT_SEND) this.releaseSend(port);
    else if (r.type === MACH_MSG_TYPE_PORT_SEND_ONCE) this.releaseSendOnce(port);
    else if (r.type === MACH_MSG_TYPE_PORT_RECEIVE) this.destroyPort(port);
  }

  /**
   * Sends notification `id` through the send-once right for `so`, consuming it. For
   * port-destroyed, `receiveRight` is the port whose receive right the message carries.
   */
  sendNotification(so: Port, id: NotificationId, value: number, receiveRight: Port | null = null): void {
    const bytes = buildNotification(this.abi, id, 0, value);
    const view = new DataView(bytes.buffer);
    const rights: CarriedRight[] = [];
    if (receiveRight) {
      const at = notificationDataOffset(this.abi);
      rights.push({ port: receiveRight, dead: false, type: MACH_MSG_TYPE_PORT_RECEIVE, ool: -1, offset: at });
      writeDescriptor(view, this.abi.headerSize, this.abi, {
        name: MACH_MSG_TYPE_PORT_RECEIVE,
        size: this.abi.inlinePortBits,
        number: 1,
        inline: true,
        longForm: false,
        deallocate: false,
      });
    }
    const kmsg: KMsg = {
      flags: (view.getUint32(this.abi.header.bits, true) & ~0xffff) >>> 0,
      size: bytes.length,
      id,
      dest: so,
      destType: MACH_MSG_TYPE_PORT_SEND_ONCE,
      reply: noRight(),
      rights,
      bytes,
      ool: [],
      seqno: 0,
      fromKernel: true,
      source: null,
      sourceId: 0,
    };
    this.enqueue(kmsg);
  }

  /** Port-deleted or dead-name for an entry's dead-name request. */
  notifyName(so: Port, id: typeof MACH_NOTIFY_PORT_DELETED | typeof MACH_NOTIFY_DEAD_NAME, name: number): void {
    this.sendNotification(so, id, name);
  }

  // ---------------------------------------------------------------------------------------------
  // Messages

  /** Destroys a message in the kernel: every right it carries and its regions. */
  destroyKmsg(kmsg: KMsg): void {
    if (kmsg.source !== null) this.messageLeft(kmsg);
    const dest = kmsg.dest;
    if (kmsg.destType === MACH_MSG_TYPE_PORT_SEND) this.releaseSend(dest);
    else if (kmsg.destType === MACH_MSG_TYPE_PORT_SEND_ONCE) {
      if (dest.dead) dest.sorights--;
      else this.releaseSendOnce(dest);
    }
    kmsg.destType = 0;
    this.releaseCarried(kmsg.reply);
    const rights = kmsg.rights;
    for (let i = 0; i < rights.length; i++) this.releaseCarried(rights[i]);
    kmsg.ool = [];
  }

  /** True if moving `moved`'s receive right into a message for `dest` would make a cycle. */
  isCircular(moved: Port, dest: Port): boolean {
    let p: Port | null = dest;
    for (let guard = 0; p && guard < 1_000_000; guard++) {
      if (p === moved) return true;
      if (p.receiver !== null || p.dead) return false;
      p = p.destination;
    }
    return false;
  }

  /**
   * Puts a message on its destination's queue (or hands it to a kernel object), ignoring the
   * queue limit: callers that must respect it check first. A message to a dead port, or a
   * circular one, is destroyed; the send still succeeded.
   */
  enqueue(kmsg: KMsg): void {
    const port = kmsg.dest;
    if (port.dead) {
      this.destroyKmsg(kmsg);
      return;
    }
    const rights = kmsg.rights;
    if (rights.length > 0) {
      for (let i = 0; i < rights.length; i++) {
        const r = rights[i];
        if (r.type === MACH_MSG_TYPE_PORT_RECEIVE && r.port && this.isCircular(r.port, port)) {
          kmsg.flags = (kmsg.flags | MACH_MSGH_BITS_CIRCULAR) >>> 0;
          this.destroyKmsg(kmsg);
          return;
        }
      }
      for (let i = 0; i < rights.length; i++) {
        const r = rights[i];
        if (r.type === MACH_MSG_TYPE_PORT_RECEIVE && r.port) r.port.destination = port;
      }
    }
    if (port.held !== null) {
      port.msgcount++;
      port.held.push(kmsg);
      return;
    }
    if (port.kobject) {
      if (kmsg.source !== null) this.messageLeft(kmsg);
      const handoff = this.handoff;
      this.handoff = false;
      this.callbacks++;
      try {
        port.kobject(kmsg);
      } finally {
        this.callbacks--;
        this.handoff = handoff;
      }
      return;
    }
    port.msgcount++;
    const q = port.pset ?? port;
    // Hand-off: nothing queued ahead and a receiver waiting that can take it, so the message
    // goes straight to that receiver (dequeued: its seqno is fixed now), as `kick` would
    // do after queueing it, without the queue round trip.
    if (!this.draining && q.queue.length === 0 && q.receivers.length > 0) {
      const w = q.receivers[0];
      if (kmsg.size <= w.rcvSize || (w.option & MACH_RCV_LARGE) === 0) {
        q.receivers.shift();
        if (kmsg.source !== null) this.messageLeft(kmsg);
        kmsg.seqno = port.seqno;
        port.seqno = (port.seqno + 1) >>> 0;
        port.msgcount--;
        if (port.blockedSenders.length > 0) this.wakeSenders(port, Infinity);
        // As inside `kick`: what the receiver's copy-out sends is queued and drained after it.
        this.draining = true;
        try {
          w.message(kmsg, this.handoff);
          this.drainPending();
        } finally {
          this.draining = false;
        }
        return;
      }
    }
    q.queue.push(kmsg);
    // Nobody waiting: nothing to hand over (receivers only queue up from a receive call, never
    // from inside a drain).
    if (q.receivers.length > 0) this.kick(q);
  }

  /**
   * `enqueue` for a caller outside any kernel operation (a send at the top level of `mach_msg`,
   * a transport handing over an incoming message): a receiver already waiting copies the
   * message out at once instead of in a microtask. From inside a kernel callback it is plain
   * `enqueue`.
   */
  post(kmsg: KMsg): void {
    if (this.handoff || this.callbacks > 0) {
      this.enqueue(kmsg);
      return;
    }
    this.handoff = true;
    try {
      this.enqueue(kmsg);
    } finally {
      this.handoff = false;
    }
  }

  /**
   * Runs `r` once the current kernel operation is over, and never inside another runnable: right
   * after the send of an RPC that woke it (`Task.mach_msg` with send and receive calls `runReady`
   * then), else in a microtask. A receiver that handles what it is given at once (the serve loop)
   * uses this instead of resolving a promise, so its work starts without a promise hop while no
   * kernel operation is ever re-entered.
   */
  schedule(r: Runnable): void {
    this.ready[this.readyTail++] = r;
    if (this.running || this.runQueued || this.rpcSend) return;
    this.runQueued = true;
    queueMicrotask(this.runLater);
  }

  /**
   * Runs the scheduled runnables in order, if the kernel is at rest (no operation half done, no
   * callback running, no runnable already running); otherwise leaves them to a microtask.
   */
  runReady(): void {
    if (this.readyHead === this.readyTail || this.running) return;
    if (this.handoff || this.draining || this.callbacks > 0) {
      if (!this.runQueued) {
        this.runQueued = true;
        queueMicrotask(this.runLater);
      }
      return;
    }
    this.running = true;
    const ready = this.ready;
    try {
      while (this.readyHead < this.readyTail) {
        const r = ready[this.readyHead]!;
        ready[this.readyHead++] = undefined;
        try {
          r.run();
        } catch (error) {
          // Runnables handle their own failures; one that throws anyway must not break the
          // sender whose call happened to run it.
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    } finally {
      this.readyHead = 0;
      this.readyTail = 0;
      this.running = false;
    }
  }

  /** True if a send through a send right must wait for room. */
  isFull(port: Port): boolean {
    if (port.dead) return false;
    return port.kobject === null ? port.msgcount >= port.qlimit : port.kfull;
  }

  /** Tells a delivered message's source (`KMsg.source`) that it has left its queue. */
  messageLeft(kmsg: KMsg): void {
    const source = kmsg.source;
    if (source === null) return;
    kmsg.source = null;
    source.dequeued(kmsg.sourceId);
  }

  /** Takes the oldest message of a port or set and stamps its seqno. */
  dequeue(q: Port | PortSet): KMsg {
    const kmsg = q.queue.shift()!;
    if (kmsg.source !== null) this.messageLeft(kmsg);
    const port = kmsg.dest;
    kmsg.seqno = port.seqno;
    port.seqno = (port.seqno + 1) >>> 0;
    port.msgcount--;
    if (port.blockedSenders.length > 0) this.wakeSenders(port, Infinity);
    return kmsg;
  }

  /** Lets up to `max` blocked senders enqueue while there is room. */
  wakeSenders(port: Port, max: number): void {
    let woken = 0;
    while (woken < max && port.blockedSenders.length > 0 && !this.isFull(port)) {
      const b = port.blockedSenders.shift()!;
      woken++;
      this.enqueue(b.kmsg);
      b.wake(true);
    }
  }

  /** Hands queued messages to waiting receivers, FIFO on both sides. */
  kick(q: Port | PortSet): void {
    if (this.draining) {
      this.pending.add(q);
      return;
    }
    this.draining = true;
    try {
      this.drain(q);
      this.drainPending();
    } finally {
      this.draining = false;
    }
  }

  /** Drains the queues kicked while draining, in the order they were kicked. */
  private drainPending(): void {
    const pending = this.pending;
    while (pending.size > 0) {
      const next = pending.values().next().value as Port | PortSet;
      pending.delete(next);
      this.drain(next);
    }
  }

  private drain(q: Port | PortSet): void {
    while (q.receivers.length > 0 && q.queue.length > 0) {
      const w = q.receivers.shift()!;
      const head = q.queue[0];
      if (head.size > w.rcvSize && (w.option & MACH_RCV_LARGE) !== 0) w.tooLarge(head.size);
      else w.message(this.dequeue(q), this.handoff);
    }
  }

  failReceivers(q: Port | PortSet, code: number): void {
    const waiting = q.receivers;
    if (waiting.length === 0) return;
    q.receivers = [];
    for (const w of waiting) w.fail(code);
  }

  // ---------------------------------------------------------------------------------------------
  // Port sets

  joinSet(port: Port, set: PortSet): void {
    port.pset = set;
    set.members.add(port);
    for (const k of port.queue) set.queue.push(k);
    port.queue = [];
    this.failReceivers(port, ReturnCode.MACH_RCV_PORT_CHANGED);
    this.kick(set);
  }

  leaveSet(port: Port): void {
    const set = port.pset;
    if (!set) return;
    port.pset = null;
    set.members.delete(port);
    const mine: KMsg[] = [];
    const rest: KMsg[] = [];
    for (const k of set.queue) (k.dest === port ? mine : rest).push(k);
    set.queue = rest;
    port.queue = mine.concat(port.queue);
    this.kick(port);
  }

  destroySet(set: PortSet): void {
    set.dead = true;
    this.failReceivers(set, ReturnCode.MACH_RCV_PORT_DIED);
    for (const port of [...set.members]) this.leaveSet(port);
  }

  // ---------------------------------------------------------------------------------------------
  // Port death (mach-ipc-reference §5.1)

  /**
   * Detaches a receive right from wherever it was (its set, its waiting receivers) and resets
   * the counters a move resets. The caller has already updated the holder's entry.
   */
  detachReceive(port: Port): void {
    if (port.pset) this.leaveSet(port);
    this.failReceivers(port, ReturnCode.MACH_RCV_PORT_DIED);
    port.receiver = null;
    port.receiverName = 0;
    port.destination = null;
    port.mscount = 0;
    port.seqno = 0;
  }

  /** The receive right of `port` is destroyed: port-destroyed if requested, otherwise death. */
  destroyPort(port: Port): void {
    if (port.dead) return;
    this.detachReceive(port);
    if (port.pdrequest) {
      const backup = port.pdrequest;
      port.pdrequest = null;
      if (!this.isCircular(port, backup)) {
        this.sendNotification(backup, MACH_NOTIFY_PORT_DESTROYED, 0, port);
        return;
      }
      backup.sorights--; // a circular request right is discarded silently
    }
    port.dead = true;
    port.kobject = null;
    const blocked = port.blockedSenders;
    port.blockedSenders = [];
    for (const b of blocked) {
      this.destroyKmsg(b.kmsg);
      b.wake(false);
    }
    if (port.nsrequest) {
      const ns = port.nsrequest;
      port.nsrequest = null;
      this.releaseSendOnce(ns);
    }
    const queued = port.held === null ? port.queue : port.queue.concat(port.held);
    port.queue = [];
    port.held = null;
    port.msgcount = 0;
    for (const k of queued) this.destroyKmsg(k);
    const holders = takeHolders(port);
    for (const e of holders) this.convertToDeadName(e);
    const watchers = port.deathWatchers.splice(0);
    if (watchers.length > 0) this.outside(() => watchers.forEach((cb) => cb()));
  }

  /** A send or send-once entry whose port died becomes a dead name (§4.4). */
  private convertToDeadName(e: Entry): void {
    const owner = e.owner;
    if (e.port) owner.forgetPort(e);
    const dn = e.dnrequest;
    const base = (e.type & MACH_PORT_TYPE_SEND) !== 0 ? e.urefs : 1;
    e.type = MACH_PORT_TYPE_DEAD_NAME;
    e.port = null;
    e.dnrequest = null;
    e.urefs = base + (dn ? 1 : 0);
    if (dn) this.notifyName(dn, MACH_NOTIFY_DEAD_NAME, e.name);
  }

  /**
   * Queues the messages `port` held back (`Port.held`), in order, and stops holding; a port that
   * has become a kernel object meanwhile (its receive right moved on) is handed them instead.
   */
  releaseHeld(port: Port): void {
    const held = port.held;
    if (held === null) return;
    port.held = null;
    if (port.dead) return;
    if (port.kobject !== null) {
      port.msgcount -= held.length;
      for (const k of held) this.enqueue(k);
      return;
    }
    const q = port.pset ?? port;
    for (const k of held) q.queue.push(k);
    if (q.receivers.length > 0) this.kick(q);
  }

  /** Messages and waiters a test can inspect (held ones last). */
  queuedMessages(port: Port): readonly KMsg[] {
    const queued = port.pset ? port.pset.queue.filter((k) => k.dest === port) : port.queue;
    return port.held === null ? queued : queued.concat(port.held);
  }
}

/** Work a receiver schedules on the kernel (`Kernel.schedule`). `run` must not throw. */
export interface Runnable {
  run(): void;
}

export type { ReceiveOutcome, ReceiveWaiter };
