/**
 * A bridge joins two kernels (threads, processes or machines) over a link, like Mach's network
 * message server: a right that crosses it is represented on the far side by a local proxy port.
 *
 * Exports (ports of this kernel the peer holds rights to). The bridge holds the real rights: send
 * rights in a task of its own (`bridge.task`), one per port however many the peer was given (the
 * count is `sendHeld`), and send-once rights itself (`soHeld`). Each exported port has an id,
 * chosen here, that the peer uses to name it; the peer can name only ids it was given and can use
 * only as many rights as it holds, so a peer never reaches a port it was not handed.
 *
 * Imports (ports of the peer's kernel). Each is a kernel port (`Kernel.createKernelPort`) whose
 * messages the bridge forwards. Local send rights to it count in its srights like any port's; when
 * the last one goes (a no-senders request the bridge keeps on the proxy), the bridge tells the peer
 * how many of its transfers it is giving back (RELEASE), and the peer drops its real send right
 * when nothing is left: no-senders works end to end, with the real port's make-send count counting
 * only real MAKE_SENDs. Send-once rights stay send-once: a message through one on the proxy side
 * consumes the bridge's send-once right on the home side, and destroying one here sends the
 * send-once notification through it, which reaches the real port.
 *
 * A right sent back across to its home side becomes the original port again, so rights that travel
 * back and forth never build chains of proxies.
 *
 * An export keeps its id, and the peer its proxy, until the port dies or the connection closes,
 * so a port that crosses again and again (a reply port, a service port) costs no new objects;
 * what the peer may use is decided by the rights it holds, not by the table.
 *
 * Death. When an exported port dies its proxies die (DEAD): every name for them becomes a dead
 * name and dead-name notifications fire. When the link closes, every proxy dies the same way and
 * the bridge task is destroyed, which releases every right the peer held here: no-senders where
 * that was the last sender, and a send-once notification for every outstanding reply right, so a
 * pending RPC fails at once (MIG_SERVER_DIED) and later sends fail with MACH_SEND_INVALID_DEST.
 *
 * Receive rights move (MOVED): the receiving kernel makes a new port for the right (queue limit,
 * send-once count and notification requests carried over; the seqno and make-send count start
 * again at 0, as any move of a receive right resets them) and exports it back under a new id; the
 * old port stays here as a proxy of it, so every send right and send-once right to it in this
 * kernel now reaches the new home, and messages queued on it follow the one that carried the
 * right. When the peer already holds rights to the port through this bridge (proxies of our
 * export), the MOVED frame names that export as an alias: the peer turns its proxy into the port
 * itself (its rights to the proxy become rights to the port) and answers MOVE_ACK; messages it
 * sent to the alias before it knew come back to it (BOUNCE) with their destination rights
 * restored, and the alias is dropped at the ACK (MOVE_DONE closes the peer's bounce window; until
 * then the port holds back its own kernel's sends, so no bounced message is overtaken by a later
 * one from the same sender). Receive rights of kernel ports (proxies, kernel objects) cannot be
 * moved: such a right is destroyed (its port-destroyed request, if any, is honoured) and arrives
 * as MACH_PORT_NULL; `stats.unsupported` counts them.
 *
 * Flow control. Messages from a bridge are queued without regard to the destination's queue
 * limit (a handful per round trip would throttle every pipelined client); instead a proxy
 * forwards at most `window` messages the peer has not yet taken off the real port's queue (the
 * peer counts them through `KMsg.source` and returns CREDIT frames every CREDIT_BATCH messages,
 * or as soon as it can after a CREDIT_REQUEST at half the window), and is full past that
 * (`Port.kfull`): senders through send rights wait or time out as at a full queue.
 */
import type { Kernel } from "../kernel/kernel.js";
import type { CarriedRight, KMsg, KMsgSource, Port } from "../kernel/objects.js";
import { noRight, Port as KernelPort } from "../kernel/objects.js";
import { newKmsg, newRight, type Task } from "../kernel/task.js";
import { newBodyItem, nextBodyItem, skipPlainItem } from "../kernel/body.js";
import {
  isPortRightType,
  MACH_MSG_TYPE_COPY_SEND,
  MACH_MSG_TYPE_PORT_RECEIVE,
  MACH_MSG_TYPE_PORT_SEND,
  MACH_MSG_TYPE_PORT_SEND_ONCE,
  MACH_MSGH_BITS_CIRCULAR,
  MACH_NOTIFY_NO_SENDERS,
  MACH_PORT_DEAD,
  MACH_PORT_QLIMIT_MAX,
  MACH_PORT_NULL,
  ReturnCode,
} from "../constants.js";
import { MACH_MSGH_BITS_COMPLEX } from "../codec/header.js";
import { rd32, wr32 } from "../bytes.js";
import { IdTable } from "./id-table.js";
import type { FrameReader, Link } from "./link.js";
import {
  CONTROL_SIZE,
  FRAME_DEAD,
  FRAME_BOUNCE,
  FRAME_CREDIT,
  FRAME_CREDIT_REQUEST,
  FRAME_HELLO,
  FRAME_MOVE_ACK,
  FRAME_MOVE_DONE,
  FRAME_MOVED,
  FRAME_MSG,
  FRAME_OFFER,
  FRAME_RELEASE,
  MOVED_ID_BASE,
  MOVED_SIZE,
  MSG_FIXED,
  PROTOCOL_VERSION,
  RIGHT_SIZE,
  TAG_DEAD,
  TAG_MOVED,
  TAG_NULL,
  TAG_RECEIVER,
  TAG_SENDER,
  writeControl,
} from "./protocol.js";

const R = ReturnCode;
/** Shared empty lists for messages without rights or regions (the kernel never adds to them). */
const NO_RIGHTS: CarriedRight[] = [];
const NO_REGIONS: Uint8Array[] = [];

/** A port of this kernel the peer holds rights to. */
interface Export {
  readonly owner: Bridge;
  readonly isImport: false;
  readonly id: number;
  readonly port: Port;
  /** The bridge task's name for its one send right, or 0. */
  sendName: number;
  /** Send rights transferred to the peer and not yet released by it. */
  sendHeld: number;
  /**
   * Send-once rights the peer holds. The bridge keeps these itself, as the kernel keeps rights
   * carried by a queued message (counted in the port's sorights, no name anywhere): they come and
   * go with every RPC, and a name per reply right would cost two table updates per call.
   */
  soHeld: number;
  readonly watcher: () => void;
  /**
   * The port moved to the peer while the peer held rights to it under this id: this record is
   * kept as an alias (messages to it go back, BOUNCE) until the peer's MOVE_ACK.
   */
  movedTo: Import | null;
  /** A port moved here under an alias: BOUNCE frames to it are accepted until MOVE_DONE. */
  bounceOpen: boolean;
  /** Messages delivered here for this export that left their queue, not yet credited. */
  uncredited: number;
  /** The peer asked for credit (CREDIT_REQUEST): give it as soon as there is any. */
  creditOwed: boolean;
  /** On the list of the next credit flush. */
  creditPending: boolean;
}

/** A port of the peer's kernel, represented here by a proxy (whose `transportRecord` it is). */
interface Import {
  readonly owner: Bridge;
  readonly isImport: true;
  readonly id: number;
  readonly proxy: Port;
  /** The kernel port the proxy's no-senders request points at (made on first use). */
  notify: Port | null;
  /** Send rights the peer transferred under this id since the last RELEASE. */
  sendReceived: number;
  /** A no-senders request is registered on the proxy. */
  armed: boolean;
  /** On the list of the next release scan. */
  pending: boolean;
  /** Messages forwarded that the peer has not yet taken off the port's queue (CREDIT). */
  inFlight: number;
  /** A CREDIT_REQUEST is out (half the window is in flight). */
  creditAsked: boolean;
}

/**
 * Transfers are released in batches: a proxy that received send rights is looked at this many
 * milliseconds later (all such proxies in one scan); if nothing holds it by then, one RELEASE
 * gives back every transfer since the last one. A right passed on and dropped within the delay
 * (a memory object handed out by every call) then costs no notification and no frame of its own,
 * and the peer keeps its real send right across the calls instead of dropping and re-making it.
 * Only a proxy still held at the scan gets a no-senders request, so a right kept for long is
 * released as soon as it goes, without polling.
 */
const RELEASE_DELAY_MS = 5;

/** A port arriving with a MOVED frame, until the MSG frame that carries its receive right. */
interface PendingMove {
  readonly id: number;
  /** Our export id for the port's proxy, if we had one (0: none). */
  readonly alias: number;
  readonly qlimit: number;
  readonly sorights: number;
  readonly hasSenders: boolean;
  readonly nsrequest: CarriedRight | null;
  readonly pdrequest: CarriedRight | null;
}

/** More MOVED frames than this before one MSG frame is a broken peer (a message carries few). */
const MAX_PENDING_MOVES = 1024;
/** Messages taken off a queue per CREDIT frame when the sender has not asked for credit. */
const CREDIT_BATCH = 256;
/** More send-once rights than this to one moved port is a broken peer. */
const MAX_MOVED_SORIGHTS = 1 << 24;

export interface BridgeOptions {
  /** A name for tracing (task and proxy labels). */
  label?: string;
  /**
   * Most ports the peer may make us create, proxies and ports whose receive rights it moved here
   * (each costs one until that port dies); a peer going past it is cut off. Default 1,000,000.
   */
  maxImports?: number;
  /**
   * Flow control: most messages sent through one proxy that the peer has not yet taken off the
   * real port's queue. Past it the proxy is full: a send through a send right waits (or times
   * out) as at a full queue, send-once messages still go. Default 1,000: the receiving kernel's
   * queue is bounded, calls in flight are not throttled.
   */
  window?: number;
}

export interface BridgeStats {
  /** Messages forwarded to the peer. */
  sent: number;
  /** Messages from the peer queued here. */
  received: number;
  /** Messages from the peer dropped because they named a port or right they do not hold. */
  rejected: number;
  /** Receive rights moved to the peer's kernel. */
  moved: number;
  /** Messages sent back to the peer: it sent them to a port of ours that had moved to it. */
  bounced: number;
  /** Receive rights that could not cross (destroyed; they arrive as MACH_PORT_NULL). */
  unsupported: number;
}

export interface ImportResult {
  code: number;
  name: number;
}

type Waiter = () => boolean;

export class Bridge implements KMsgSource {
  readonly kernel: Kernel;
  /** Holds the real rights the peer was given. */
  readonly task: Task;
  readonly label: string;
  readonly stats: BridgeStats = { sent: 0, received: 0, rejected: 0, moved: 0, bounced: 0, unsupported: 0 };
  /** Settles when the connection is gone (with the error that ended it, if any). */
  readonly closed: Promise<Error | undefined>;

  private readonly link: Link;
  private readonly exports = new IdTable<Export>();
  /**
   * Exports of ports whose `transportRecord` another transport had claimed (the rest are found
   * through the port). Proxies always carry their import.
   */
  private readonly exportsElsewhere = new Map<Port, Export>();
  private readonly imports = new IdTable<Import>();
  /** Ports moved to the peer whose `transportRecord` another transport had claimed. */
  private readonly importsElsewhere = new Map<Port, Import>();
  private nextMoveId = MOVED_ID_BASE;
  /** Ports moved by the message being forwarded: their queued messages follow it. */
  private movedNow: Import[] = [];
  /** MOVED frames received, waiting for their MSG frame. */
  private pendingMoves: PendingMove[] = [];
  /** Live ports the peer moved here (they count against `maxImports`, as proxies do). */
  private movedIn = 0;
  /** Aliases waiting for MOVE_ACK, and ports here holding messages until MOVE_DONE. */
  private openMoves = 0;
  private nextId = 1;
  /** Set by `exportRight`: the id of the right it turned into a tag. */
  private exportedId = 0;
  /** Set by `exportRight`: the right must be released once the message carrying it is queued. */
  private homeward = false;
  private readonly offers = new Map<number, number>();
  private bootstrapName = 0;
  private bootstrapSeen = false;
  private waiters: Waiter[] = [];
  private readonly bodyItem = newBodyItem();
  /** Proxies for the next release scan, and its timer. */
  private releaseScan: Import[] = [];
  private releaseTimer: ReturnType<typeof setTimeout> | null = null;
  private isClosed = false;
  private readonly maxImports: number;
  private readonly window: number;
  /** Exports with credit to send at the end of this turn. */
  private creditsDue: Export[] = [];
  private resolveClosed!: (e: Error | undefined) => void;

  constructor(kernel: Kernel, link: Link, options: BridgeOptions = {}) {
    this.kernel = kernel;
    this.link = link;
    this.label = options.label ?? "bridge";
    this.maxImports = options.maxImports ?? 1_000_000;
    this.window = Math.max(1, options.window ?? 1000);
    this.task = kernel.createTask(this.label);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    link.onFrame = (frame) => this.receiveFrame(frame);
    link.onClose = (error) => this.shutdown(error);
    this.control(FRAME_HELLO, PROTOCOL_VERSION, kernel.abi.headerSize);
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** Ports of this kernel the peer currently holds rights to (counted by walking the table). */
  get exportCount(): number {
    let n = 0;
    for (const rec of this.exports.values()) if (rec.sendHeld > 0 || rec.soHeld > 0) n++;
    return n;
  }

  /** Proxies for the peer's ports that rights here still denote (counted by walking the table). */
  /**
   * Moves of receive rights whose handshake is not over (an alias here waiting for the peer's
   * MOVE_ACK, or a port here holding its own kernel's messages until MOVE_DONE): 0 once every
   * bounce has come back (for tests and orderly shutdowns).
   */
  get movesInProgress(): number {
    return this.openMoves;
  }

  get importCount(): number {
    let n = 0;
    for (const imp of this.imports.values()) if (imp.proxy.srights > 0 || imp.proxy.sorights > 0) n++;
    return n;
  }

  // ---------------------------------------------------------------------------------------------
  // Bootstrapping

  /**
   * Hands the peer one send right, taken from `name` in `task` with `disposition` (COPY_SEND,
   * MOVE_SEND or MAKE_SEND), under the returned id. The peer claims it with `importPort(id)`.
   */
  exportPort(task: Task, name: number, disposition = MACH_MSG_TYPE_COPY_SEND): { code: number; id: number } {
    return this.offer(task, name, disposition, false);
  }

  /**
   * Claims a send right the peer offered with `exportPort` (waiting for the offer if it has not
   * arrived yet) and puts it in `task`; resolves to its name there. A closed bridge resolves with
   * MACH_SEND_INVALID_DEST.
   */
  importPort(task: Task, id: number): Promise<ImportResult> {
    return this.wait(() => {
      const n = this.offers.get(id);
      if (!n) return null;
      if (n === 1) this.offers.delete(id);
      else this.offers.set(id, n - 1);
      return this.importSend(task, id);
    });
  }

  /** Makes a send right (from `name`, with `disposition`) this connection's bootstrap port for the peer. */
  setBootstrapPort(task: Task, name: number, disposition = MACH_MSG_TYPE_COPY_SEND): { code: number; id: number } {
    return this.offer(task, name, disposition, true);
  }

  /**
   * A send right to the bootstrap port the peer set, for `task` (as many times as asked: the
   * bridge keeps one right and copies it). Waits until the peer has set it.
   */
  getBootstrapPort(task: Task): Promise<ImportResult> {
    return this.wait(() => {
      if (this.bootstrapName === 0) return null;
      const r = this.task.mach_port_extract_right(this.bootstrapName, MACH_MSG_TYPE_COPY_SEND, task);
      if (r.code !== R.KERN_SUCCESS || r.right === MACH_PORT_NULL || r.right === MACH_PORT_DEAD) {
        return { code: R.MACH_SEND_INVALID_DEST, name: 0 };
      }
      return { code: R.KERN_SUCCESS, name: r.right };
    });
  }

  private offer(task: Task, name: number, disposition: number, bootstrap: boolean): { code: number; id: number } {
    if (this.isClosed) return { code: R.MACH_SEND_INVALID_DEST, id: 0 };
    const c = task.copyinRight(name, disposition, false);
    if (c.code !== R.KERN_SUCCESS) return { code: c.code, id: 0 };
    if (c.right.type !== MACH_MSG_TYPE_PORT_SEND || !c.right.port) {
      this.kernel.releaseCarried(c.right);
      return { code: R.KERN_INVALID_RIGHT, id: 0 };
    }
    const tag = this.exportRight(c.right);
    const id = this.exportedId;
    if (this.homeward) {
      this.homeward = false;
      this.releaseAfterSend(c.right);
    }
    // A right to one of the peer's own ports is the peer's already.
    if (tag !== TAG_SENDER) return { code: R.KERN_INVALID_CAPABILITY, id: 0 };
    this.control(FRAME_OFFER, id, 0, bootstrap ? 1 : 0);
    return { code: R.KERN_SUCCESS, id };
  }

  private wait(attempt: () => ImportResult | null): Promise<ImportResult> {
    return new Promise((resolve) => {
      const w: Waiter = () => {
        if (this.isClosed) {
          resolve({ code: R.MACH_SEND_INVALID_DEST, name: 0 });
          return true;
        }
        const r = attempt();
        if (r) resolve(r);
        return r !== null;
      };
      if (!w()) this.waiters.push(w);
    });
  }

  private runWaiters(): void {
    if (this.waiters.length > 0) this.waiters = this.waiters.filter((w) => !w());
  }

  /** One send right to the proxy for the peer's `id`, counted as a transfer, put in `task`. */
  private importSend(task: Task, id: number): ImportResult {
    const imp = this.importFor(id);
    this.gotSend(imp);
    const name = task.copyoutRight({ port: imp.proxy, dead: false, type: MACH_MSG_TYPE_PORT_SEND, ool: -1, offset: -1 });
    return { code: name === 0 ? R.KERN_INVALID_TASK : R.KERN_SUCCESS, name };
  }

  // ---------------------------------------------------------------------------------------------
  // Closing

  /** Closes the connection: every proxy dies and every right the peer held here is released. */
  close(): void {
    this.link.close();
    this.shutdown();
  }

  private shutdown(error?: Error): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.releaseTimer !== null) clearTimeout(this.releaseTimer);
    this.releaseTimer = null;
    this.releaseScan = [];
    const imports = this.imports.values();
    for (const imp of imports) this.dropImport(imp);
    for (const imp of imports) this.kernel.destroyPort(imp.proxy);
    const moves = this.pendingMoves;
    this.pendingMoves = [];
    for (const m of moves) this.dropMove(m);
    const exports = this.exports.values();
    this.exports.clear();
    this.movedIn = 0;
    for (const rec of exports) {
      this.unlinkExport(rec);
      removeWatcher(rec);
      this.closeBounces(rec); // nothing more can come back
      // Reply rights the peer will never use: send-once notifications (MIG_SERVER_DIED).
      for (; rec.soHeld > 0; rec.soHeld--) this.kernel.releaseSendOnce(rec.port);
    }
    this.openMoves = 0;
    this.offers.clear();
    this.task.terminate();
    this.runWaiters();
    this.resolveClosed(error);
  }

  private fail(message: string): void {
    const error = new Error(`${this.label}: ${message}`);
    this.shutdown(error);
    this.link.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Outgoing: a message sent to a proxy

  private importFor(id: number): Import {
    let imp = this.imports.get(id);
    if (imp) return imp;
    const proxy = this.kernel.createKernelPort((kmsg) => this.forward(imp!, kmsg), `${this.label} proxy #${id}`);
    imp = this.addImport(id, proxy);
    return imp;
  }

  /**
   * Records `proxy` as the port standing here for the peer's export `id` (a new kernel port, or
   * one whose receive right just moved to the peer). The caller makes it forward to the peer.
   */
  private addImport(id: number, proxy: Port): Import {
    const imp: Import = { owner: this, isImport: true, id, proxy, notify: null, sendReceived: 0, armed: false, pending: false, inFlight: 0, creditAsked: false };
    this.imports.set(id, imp);
    if (proxy.transportRecord === null) proxy.transportRecord = imp;
    else this.importsElsewhere.set(proxy, imp);
    return imp;
  }

  /** Takes `imp` out of the tables, its proxy's record included (the proxy itself stays). */
  private dropImport(imp: Import): void {
    this.imports.delete(imp.id);
    if (imp.proxy.transportRecord === imp) imp.proxy.transportRecord = null;
    else this.importsElsewhere.delete(imp.proxy);
  }

  /** Detaches `rec` from its port: the record on the port, or the map beside it. */
  private unlinkExport(rec: Export): void {
    if (rec.port.transportRecord === rec) rec.port.transportRecord = null;
    else this.exportsElsewhere.delete(rec.port);
  }

  /** The peer transferred one more send right under `imp`'s id: a send right to the proxy. */
  private gotSend(imp: Import): void {
    this.kernel.makeSend(imp.proxy);
    imp.sendReceived++;
    this.watchRelease(imp);
  }

  /** Puts `imp` on the next release scan (unless it is armed or already there). */
  private watchRelease(imp: Import): void {
    if (imp.armed || imp.pending) return;
    imp.pending = true;
    this.releaseScan.push(imp);
    if (this.releaseTimer === null) {
      this.releaseTimer = setTimeout(this.scanReleases, RELEASE_DELAY_MS);
      // Nothing is lost if the process ends first: closing the connection releases everything.
      this.releaseTimer.unref?.();
    }
  }

  /** The release scan (RELEASE_DELAY_MS). */
  private readonly scanReleases = (): void => {
    this.releaseTimer = null;
    const list = this.releaseScan;
    this.releaseScan = [];
    for (const imp of list) {
      imp.pending = false;
      if (this.imports.get(imp.id) !== imp) continue; // dead meanwhile
      if (imp.proxy.srights === 0) this.release(imp);
      else this.arm(imp);
    }
  };

  /**
   * Tells the peer that none of the transfers under `imp`'s id is held here any more. The frame
   * is lazy: it rides with the next batch (no write and no wakeup of its own while calls flow).
   */
  private release(imp: Import): void {
    if (imp.sendReceived > 0) {
      const out = this.link.out;
      const at = out.begin(CONTROL_SIZE);
      writeControl(out.buf, at, FRAME_RELEASE, imp.id, imp.sendReceived, 0);
      out.endLazy();
      imp.sendReceived = 0;
    }
  }

  /** Registers the no-senders request that tells us when the proxy's last send right goes. */
  private arm(imp: Import): void {
    if (imp.armed || imp.proxy.dead) return;
    if (imp.notify === null) {
      const i = imp;
      imp.notify = this.kernel.createKernelPort((kmsg) => this.proxyNotification(i, kmsg), `${this.label} notify #${imp.id}`);
    }
    this.kernel.makeSendOnce(imp.notify);
    imp.proxy.nsrequest = imp.notify;
    imp.armed = true;
  }

  private proxyNotification(imp: Import, kmsg: KMsg): void {
    kmsg.dest.sorights--; // the notification consumed the request's send-once right
    if (kmsg.id !== MACH_NOTIFY_NO_SENDERS || this.imports.get(imp.id) !== imp) return;
    imp.armed = false;
    this.release(imp);
  }

  /** Queues a control frame. */
  private control(kind: number, id: number, value: number, flag = 0): void {
    const out = this.link.out;
    const at = out.begin(CONTROL_SIZE);
    writeControl(out.buf, at, kind, id, value, flag);
    out.end();
  }

  /**
   * The proxy's kernel object: writes the message into the link's buffer for the peer. The
   * bridge owns `kmsg`.
   */
  private forward(imp: Import, kmsg: KMsg, bounce = false): void {
    // Leaving this kernel: a message another bridge delivered is off its queue now.
    if (kmsg.source !== null) this.kernel.messageLeft(kmsg);
    if (++imp.inFlight >= this.window >> 1) this.inFlightHigh(imp);
    const rights = kmsg.rights;
    const regions = kmsg.ool;
    const nrights = rights.length;
    const nregions = regions.length;
    // Every right is turned into a tag and an id before the frame is begun. Releases of rights
    // that went home wait until the message is queued, so a RELEASE they cause can never overtake
    // the message that carries the right.
    let after: CarriedRight[] | null = null;
    let exported: number[] | null = null;
    // Receive rights first: once a port has moved, the message's other rights to it (its reply
    // right, a send right beside the receive right) go to its new home (the peer imports moved
    // rights first too).
    let moves = false;
    if (nrights > 0) {
      exported = new Array<number>(2 * nrights);
      for (let i = 0; i < nrights; i++) {
        const r = rights[i];
        if (r.type !== MACH_MSG_TYPE_PORT_RECEIVE) continue;
        moves = true;
        exported[2 * i] = this.exportRight(r);
        exported[2 * i + 1] = this.exportedId;
        if (this.homeward) {
          this.homeward = false;
          (after ??= []).push(r);
        }
      }
    }
    const replyType = kmsg.reply.type;
    const replyTag = this.exportRight(kmsg.reply);
    const replyId = this.exportedId;
    if (this.homeward) {
      this.homeward = false;
      (after ??= []).push(kmsg.reply);
    }
    for (let i = 0; i < nrights; i++) {
      const r = rights[i];
      if (moves && r.type === MACH_MSG_TYPE_PORT_RECEIVE) continue;
      exported![2 * i] = this.exportRight(r);
      exported![2 * i + 1] = this.exportedId;
      if (this.homeward) {
        this.homeward = false;
        (after ??= []).push(r);
      }
    }

    const out = this.link.out;
    let at = out.begin(MSG_FIXED + nrights * RIGHT_SIZE + nregions * 4);
    const b = out.buf;
    b[at] = bounce ? FRAME_BOUNCE : FRAME_MSG;
    b[at + 1] = kmsg.destType;
    b[at + 2] = replyTag;
    b[at + 3] = replyType;
    wr32(b, at + 4, imp.id);
    wr32(b, at + 8, replyId);
    wr32(b, at + 12, kmsg.size);
    wr32(b, at + 16, nrights);
    wr32(b, at + 20, nregions);
    at += MSG_FIXED;
    for (let i = 0; i < nrights; i++, at += RIGHT_SIZE) {
      b[at] = exported![2 * i];
      b[at + 1] = rights[i].type;
      b[at + 2] = 0;
      b[at + 3] = 0;
      wr32(b, at + 4, exported![2 * i + 1]);
    }
    for (let i = 0; i < nregions; i++, at += 4) wr32(b, at, regions[i].byteLength);
    // The header's names are the sender's and mean nothing to the peer; the flags and id travel
    // in the message's own header.
    const bytes = kmsg.bytes;
    const o = this.kernel.abi.header;
    wr32(bytes, o.bits, kmsg.flags);
    for (let i = o.remotePort; i < o.seqno; i++) bytes[i] = 0;
    wr32(bytes, o.id, kmsg.id);
    out.put(bytes);
    for (let i = 0; i < nregions; i++) out.put(regions[i]);
    out.end();
    this.stats.sent++;
    // The message consumed its destination right (a bounced one held none here).
    if (!bounce) {
      if (kmsg.destType === MACH_MSG_TYPE_PORT_SEND) this.kernel.releaseSend(imp.proxy);
      else imp.proxy.sorights--;
    }
    kmsg.destType = 0;
    if (after !== null) for (const r of after) this.releaseAfterSend(r);
    if (this.movedNow.length > 0) this.forwardMovedQueues();
  }

  /**
   * Turns a carried right into a tag (returned) and an id (left in `exportedId`) for the peer,
   * taking the right from the message: a right to a proxy goes home (`homeward` set: the caller
   * releases it with `releaseAfterSend` once the frame is queued); a right to one of this
   * kernel's ports is exported (its rights move into the bridge task).
   */
  private exportRight(r: CarriedRight): number {
    const port = r.port;
    this.exportedId = 0;
    if (!port) return r.dead ? TAG_DEAD : TAG_NULL;
    if (port.dead) {
      this.kernel.releaseCarried(r);
      return TAG_DEAD;
    }
    const mine = port.transportRecord;
    let rec: Export | undefined;
    if (mine !== null && mine.owner === this) {
      const r = mine as Export | Import;
      if (r.isImport) {
        // One of our proxies: the right goes home.
        this.homeward = true;
        this.exportedId = r.id;
        return TAG_RECEIVER;
      }
      rec = r;
    } else {
      const moved = this.importsElsewhere.size > 0 ? this.importsElsewhere.get(port) : undefined;
      if (moved) {
        this.homeward = true;
        this.exportedId = moved.id;
        return TAG_RECEIVER;
      }
      if (this.exportsElsewhere.size > 0) rec = this.exportsElsewhere.get(port);
    }
    if (r.type === MACH_MSG_TYPE_PORT_RECEIVE) {
      if (port.kobject === null) return this.moveReceive(r, rec ?? null);
      // A kernel port's receive right (not in any task, cannot be sent): see the top of the file.
      this.stats.unsupported++;
      this.homeward = true;
      return TAG_NULL;
    }
    if (!rec) rec = this.newExport(port);
    if (r.type === MACH_MSG_TYPE_PORT_SEND) {
      if (rec.sendName === 0) rec.sendName = this.task.copyoutRight(r);
      else {
        r.port = null;
        this.kernel.releaseSend(port); // merged: the bridge already holds a send right
      }
      rec.sendHeld++;
    } else {
      r.port = null;
      rec.soHeld++; // the message's send-once right moves to the bridge
    }
    this.exportedId = rec.id;
    return TAG_SENDER;
  }

  /**
   * Moves a receive right to the peer (TAG_MOVED, the new id in `exportedId`): writes the MOVED
   * frame, and turns the port into a proxy of the one the peer makes. Its queued messages are
   * forwarded after the message that carries the right (`forwardMovedQueues`).
   */
  private moveReceive(r: CarriedRight, alias: Export | null): number {
    const port = r.port!;
    r.port = null; // the right is the peer's from here on
    const id = this.allocateMoveId();
    // The port's notification requests go with it, as send-once rights like any other.
    const requests = [port.nsrequest, port.pdrequest];
    port.nsrequest = null;
    port.pdrequest = null;
    if (alias !== null) {
      // The peer's rights under the alias become its rights to the port itself: this side lets go
      // of what it held for them, quietly (no request is left on the port to fire).
      if (alias.sendName !== 0) this.task.mach_port_deallocate(alias.sendName);
      port.sorights -= alias.soHeld;
      alias.sendName = 0;
      alias.sendHeld = 0;
      alias.soHeld = 0;
      this.unlinkExport(alias);
      removeWatcher(alias);
    }
    const tags = [TAG_NULL, TAG_NULL];
    const ids = [0, 0];
    const home: CarriedRight[] = [];
    for (let i = 0; i < 2; i++) {
      const so = requests[i];
      if (so === null) continue;
      const right: CarriedRight = { port: so, dead: false, type: MACH_MSG_TYPE_PORT_SEND_ONCE, ool: -1, offset: -1 };
      tags[i] = this.exportRight(right);
      ids[i] = this.exportedId;
      if (this.homeward) {
        this.homeward = false;
        home.push(right);
      }
    }
    const out = this.link.out;
    const at = out.begin(MOVED_SIZE);
    const b = out.buf;
    b[at] = FRAME_MOVED;
    b[at + 1] = port.srights > 0 ? 1 : 0;
    b[at + 2] = 0;
    b[at + 3] = 0;
    wr32(b, at + 4, id);
    wr32(b, at + 8, port.qlimit);
    wr32(b, at + 12, port.sorights);
    for (let i = 0, k = at + 16; i < 2; i++, k += RIGHT_SIZE) {
      b[k] = tags[i];
      b[k + 1] = tags[i] === TAG_NULL ? 0 : MACH_MSG_TYPE_PORT_SEND_ONCE;
      b[k + 2] = 0;
      b[k + 3] = 0;
      wr32(b, k + 4, ids[i]);
    }
    wr32(b, at + 32, alias === null ? 0 : alias.id);
    out.end();
    for (const right of home) this.releaseAfterSend(right);

    // The port stays as a proxy of the peer's: the rights to it here reach the new home.
    const imp = this.addImport(id, port);
    port.kobject = (kmsg) => this.forward(imp, kmsg);
    port.destination = null;
    // The peer holds one send right for all of ours (the MOVED flag), given back as any transfer.
    if (port.srights > 0) {
      imp.sendReceived = 1;
      this.watchRelease(imp);
    }
    if (alias !== null) {
      alias.movedTo = imp;
      this.openMoves++;
    }
    this.movedNow.push(imp);
    this.stats.moved++;
    this.exportedId = id;
    this.homeward = false;
    return TAG_MOVED;
  }

  /** Messages that were queued on ports just moved, to their new home, oldest first. */
  private forwardMovedQueues(): void {
    while (this.movedNow.length > 0) {
      const imp = this.movedNow.shift()!;
      const port = imp.proxy;
      const queued = port.queue;
      port.queue = [];
      // Messages it holds back (its bounce window is still open, see `arrive`) stay held: the
      // bounces still to come go first, then these (`closeBounces`).
      port.msgcount = port.held === null ? 0 : port.held.length;
      for (const kmsg of queued) this.forward(imp, kmsg);
      if (port.blockedSenders.length > 0) this.kernel.wakeSenders(port, Infinity);
    }
  }

  private allocateMoveId(): number {
    for (;;) {
      const id = this.nextMoveId;
      this.nextMoveId = this.nextMoveId >= 0xfffffffe ? MOVED_ID_BASE : this.nextMoveId + 1;
      if (!this.imports.has(id)) return id;
    }
  }

  private releaseAfterSend(r: CarriedRight): void {
    const port = r.port!;
    r.port = null;
    if (r.type === MACH_MSG_TYPE_PORT_RECEIVE) {
      this.kernel.destroyPort(port);
      return;
    }
    if (r.type === MACH_MSG_TYPE_PORT_SEND) this.kernel.releaseSend(port);
    else port.sorights--; // the send-once right moved home: the peer consumes its own
  }

  private newExport(port: Port, id = this.allocateId()): Export {
    const rec: Export = {
      owner: this,
      isImport: false,
      id,
      port,
      sendName: 0,
      sendHeld: 0,
      soHeld: 0,
      watcher: () => this.exportDied(rec),
      movedTo: null,
      bounceOpen: false,
      uncredited: 0,
      creditOwed: false,
      creditPending: false,
    };
    this.exports.set(id, rec);
    if (port.transportRecord === null) port.transportRecord = rec;
    else this.exportsElsewhere.set(port, rec);
    port.deathWatchers.push(rec.watcher);
    return rec;
  }

  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = this.nextId >= MOVED_ID_BASE - 1 ? 1 : this.nextId + 1;
      if (!this.exports.has(id)) return id;
    }
  }

  /** The real port died: the bridge task's names for it are dead names now. */
  private exportDied(rec: Export): void {
    if (this.exports.get(rec.id) !== rec) return;
    this.exports.delete(rec.id);
    if (rec.id >= MOVED_ID_BASE) this.movedIn--; // only ports the peer moved here have such ids
    this.unlinkExport(rec);
    if (rec.sendName !== 0) this.task.mach_port_deallocate(rec.sendName);
    rec.sendName = 0;
    rec.sendHeld = 0;
    rec.soHeld = 0;
    if (!this.isClosed) this.control(FRAME_DEAD, rec.id, 0);
  }

  // ---------------------------------------------------------------------------------------------
  // Incoming

  private receiveFrame(f: FrameReader): void {
    if (this.isClosed) return;
    const b = f.buf;
    const at = f.at;
    if (f.end - at < 4) return this.fail("short frame from peer");
    const kind = b[at];
    if (kind === FRAME_MSG || kind === FRAME_BOUNCE) {
      this.receiveMessage(f, kind === FRAME_BOUNCE);
      if (this.pendingMoves.length > 0) this.failMoves();
      return;
    }
    if (kind === FRAME_MOVED) return this.peerMoving(f);
    if (this.pendingMoves.length > 0) return this.failMoves();
    if (f.end - at !== CONTROL_SIZE) return this.fail("bad control frame from peer");
    const id = rd32(b, at + 4);
    const value = rd32(b, at + 8);
    switch (kind) {
      case FRAME_RELEASE:
        return this.peerReleased(id, value);
      case FRAME_DEAD:
        return this.peerPortDied(id);
      case FRAME_OFFER:
        return this.peerOffered(id, b[at + 1] !== 0);
      case FRAME_MOVE_ACK:
        return this.peerMoveAcked(id);
      case FRAME_CREDIT:
        return this.peerCredited(id, value);
      case FRAME_CREDIT_REQUEST: {
        const rec = this.exports.get(id);
        if (rec !== undefined) {
          rec.creditOwed = true;
          if (rec.uncredited > 0) this.creditDue(rec);
        }
        return;
      }
      case FRAME_MOVE_DONE: {
        const rec = this.exports.get(id);
        if (rec) this.closeBounces(rec);
        return;
      }
      case FRAME_HELLO:
        if (id !== PROTOCOL_VERSION) return this.fail(`peer speaks protocol ${id}, not ${PROTOCOL_VERSION}`);
        if (value !== this.kernel.abi.headerSize) return this.fail("peer uses another message ABI");
        return;
      default:
        return this.fail(`unknown frame kind ${kind} from peer`);
    }
  }

  /** A MOVED frame: the port whose receive right the next message brings. */
  private peerMoving(f: FrameReader): void {
    const b = f.buf;
    const at = f.at;
    if (f.end - at !== MOVED_SIZE) return this.fail("bad MOVED frame from peer");
    if (this.pendingMoves.length >= MAX_PENDING_MOVES) return this.fail("MOVED frames without their message");
    if (this.imports.size + this.movedIn + this.pendingMoves.length >= this.maxImports) {
      return this.fail(`peer handed over more than ${this.maxImports} ports`);
    }
    const id = rd32(b, at + 4);
    const qlimit = rd32(b, at + 8);
    const sorights = rd32(b, at + 12);
    if (id < MOVED_ID_BASE || this.exports.has(id) || this.pendingMoves.some((m) => m.id === id)) {
      return this.fail(`bad moved port id ${id} from peer`);
    }
    if (qlimit < 1 || qlimit > MACH_PORT_QLIMIT_MAX || sorights > MAX_MOVED_SORIGHTS) {
      return this.fail("bad moved port state from peer");
    }
    const nsrequest = this.requestRight(b, at + 16);
    const pdrequest = this.requestRight(b, at + 24);
    if (nsrequest === undefined || pdrequest === undefined) {
      if (nsrequest) this.kernel.releaseCarried(nsrequest);
      if (pdrequest) this.kernel.releaseCarried(pdrequest);
      return this.fail("bad notification request in a MOVED frame from peer");
    }
    const alias = rd32(b, at + 32);
    this.pendingMoves.push({ id, alias, qlimit, sorights, hasSenders: (b[at + 1] & 1) !== 0, nsrequest, pdrequest });
  }

  /** A moved port's notification request: a send-once right, null for none, undefined if bad. */
  private requestRight(b: Uint8Array, k: number): CarriedRight | null | undefined {
    const tag = b[k];
    if (tag === TAG_NULL) return null;
    if (b[k + 1] !== MACH_MSG_TYPE_PORT_SEND_ONCE) return undefined;
    const r = this.importRight(tag, MACH_MSG_TYPE_PORT_SEND_ONCE, rd32(b, k + 4), false);
    return r === null || r.port === null ? undefined : r;
  }

  /** Releases what a MOVED frame brought that no port will take now. */
  private dropMove(m: PendingMove): void {
    if (m.nsrequest) this.kernel.releaseCarried(m.nsrequest);
    if (m.pdrequest) this.kernel.releaseCarried(m.pdrequest);
  }

  private failMoves(): void {
    const moves = this.pendingMoves;
    this.pendingMoves = [];
    for (const m of moves) this.dropMove(m);
    this.fail("MOVED frame not followed by the message that carries its right");
  }

  /**
   * The port for a receive right the peer moved here (TAG_MOVED): made now, with the state of
   * its MOVED frame, and exported back under the id the peer chose (its proxy's). Null if no
   * MOVED frame announced it.
   */
  private arrive(id: number): Port | null {
    const i = this.pendingMoves.findIndex((m) => m.id === id);
    if (i < 0) return null;
    const m = this.pendingMoves[i];
    this.pendingMoves.splice(i, 1);
    const port = m.alias === 0 ? new KernelPort() : this.unproxy(m.alias);
    port.label = `${this.label} moved #${id}`;
    port.qlimit = m.qlimit;
    port.sorights += m.sorights;
    port.nsrequest = m.nsrequest?.port ?? null;
    port.pdrequest = m.pdrequest?.port ?? null;
    const rec = this.newExport(port, id);
    this.movedIn++;
    rec.soHeld = m.sorights;
    if (m.alias !== 0) {
      // Until MOVE_DONE, what was sent to the alias comes back (BOUNCE); this kernel's own sends
      // to the port meanwhile wait behind it (held), so that none overtakes one it sent before.
      // Messages from the peer are in order on the link and are queued as they come.
      rec.bounceOpen = true;
      this.openMoves++;
      port.held = [];
      this.control(FRAME_MOVE_ACK, m.alias, 0);
    }
    if (m.hasSenders) {
      this.kernel.copySend(port);
      rec.sendName = this.task.copyoutRight({ port, dead: false, type: MACH_MSG_TYPE_PORT_SEND, ool: -1, offset: -1 });
      rec.sendHeld = 1;
    }
    // Senders that waited on the proxy's flow control send to the port itself now.
    if (port.blockedSenders.length > 0) this.kernel.wakeSenders(port, Infinity);
    return port;
  }

  /**
   * A message this bridge delivered left its queue (KMsgSource). The peer is credited every
   * CREDIT_BATCH messages (a frame riding with other traffic), or at once when it asked (it has
   * half its window in flight): a call costs no frame of its own for flow control.
   */
  dequeued(id: number): void {
    const rec = this.exports.get(id);
    if (rec === undefined) return; // the port died meanwhile
    if (++rec.uncredited >= CREDIT_BATCH || rec.creditOwed) this.creditDue(rec);
  }

  private creditDue(rec: Export): void {
    if (rec.creditPending) return;
    rec.creditPending = true;
    if (this.creditsDue.length === 0) process.nextTick(this.sendCredits);
    this.creditsDue.push(rec);
  }

  private readonly sendCredits = (): void => {
    const due = this.creditsDue;
    this.creditsDue = [];
    for (const rec of due) {
      rec.creditPending = false;
      if (this.isClosed || rec.uncredited === 0) continue;
      const out = this.link.out;
      const at = out.begin(CONTROL_SIZE);
      writeControl(out.buf, at, FRAME_CREDIT, rec.id, rec.uncredited, 0);
      // Asked for: the sender may be waiting. Otherwise it rides with the next batch.
      if (rec.creditOwed) out.end();
      else out.endLazy();
      rec.uncredited = 0;
      rec.creditOwed = false;
    }
  };

  /** Half the window (or more) is in flight through `imp`: ask for credit, and stop at the window. */
  private inFlightHigh(imp: Import): void {
    if (imp.inFlight >= this.window) imp.proxy.kfull = true;
    if (imp.creditAsked || this.isClosed) return;
    imp.creditAsked = true;
    const out = this.link.out;
    const at = out.begin(CONTROL_SIZE);
    writeControl(out.buf, at, FRAME_CREDIT_REQUEST, imp.id, 0, 0);
    out.end();
  }

  /** The peer took `count` of our messages through proxy `id` off the real port's queue. */
  private peerCredited(id: number, count: number): void {
    const imp = this.imports.get(id);
    if (imp === undefined) return; // the port died or came home meanwhile
    imp.inFlight = Math.max(0, imp.inFlight - count);
    imp.creditAsked = false;
    const proxy = imp.proxy;
    if (proxy.kfull && imp.inFlight < this.window) {
      proxy.kfull = false;
      if (proxy.blockedSenders.length > 0) this.kernel.wakeSenders(proxy, Infinity);
    }
    // Still half full: keep the peer crediting as messages leave.
    if (imp.inFlight >= this.window >> 1) this.inFlightHigh(imp);
  }

  /** Nothing more will bounce to `rec`'s port: what it held back is queued. */
  private closeBounces(rec: Export): void {
    if (!rec.bounceOpen) return;
    rec.bounceOpen = false;
    this.openMoves--;
    this.kernel.releaseHeld(rec.port);
  }

  /** The peer will send nothing more to `alias` (a port we moved to it): the alias goes. */
  private peerMoveAcked(alias: number): void {
    const rec = this.exports.get(alias);
    if (!rec || rec.movedTo === null) return this.fail(`MOVE_ACK for ${alias}, which moved nothing`);
    this.exports.delete(alias);
    this.control(FRAME_MOVE_DONE, rec.movedTo.id, 0);
    rec.movedTo = null;
    this.openMoves--;
  }

  /**
   * The proxy we had for the peer's export `alias`, turned into a plain port (its receive right
   * is arriving): the rights to it here are rights to the port from now on. A fresh port if we
   * had no such proxy (nothing here refers to it).
   */
  private unproxy(alias: number): Port {
    const imp = this.imports.get(alias);
    if (imp === undefined) return new KernelPort();
    const port = imp.proxy;
    this.dropImport(imp);
    port.kobject = null;
    port.kfull = false;
    if (imp.armed && port.nsrequest === imp.notify) {
      // Our own no-senders request on the proxy, dropped without a notification.
      port.nsrequest = null;
      imp.notify!.sorights--;
    }
    imp.armed = false;
    // As on any move of a receive right.
    port.mscount = 0;
    port.seqno = 0;
    return port;
  }

  private peerReleased(id: number, count: number): void {
    const rec = this.exports.get(id);
    if (!rec || rec.movedTo !== null) return; // the port died meanwhile, or moved to the peer
    if (count === 0 || count > rec.sendHeld) {
      this.stats.rejected++;
      count = Math.min(count, rec.sendHeld);
    }
    rec.sendHeld -= count;
    if (rec.sendHeld === 0 && rec.sendName !== 0) {
      const name = rec.sendName;
      rec.sendName = 0;
      this.task.mach_port_deallocate(name); // may be the port's last sender: no-senders
    }
  }

  private peerPortDied(id: number): void {
    this.offers.delete(id);
    const imp = this.imports.get(id);
    if (!imp) return;
    this.dropImport(imp);
    this.kernel.destroyPort(imp.proxy);
  }

  private peerOffered(id: number, bootstrap: boolean): void {
    if (bootstrap && !this.bootstrapSeen) {
      this.bootstrapSeen = true;
      this.bootstrapName = this.importSend(this.task, id).name;
    } else {
      this.offers.set(id, (this.offers.get(id) ?? 0) + 1);
    }
    this.runWaiters();
  }

  private receiveMessage(f: FrameReader, bounced: boolean): void {
    const b = f.buf;
    const h = f.at;
    if (f.end - h < MSG_FIXED) return this.fail("short message frame from peer");
    const destType = b[h + 1];
    const destId = rd32(b, h + 4);
    const size = rd32(b, h + 12);
    const nrights = rd32(b, h + 16);
    const nregions = rd32(b, h + 20);
    // In doubles: a peer's counts cannot overflow the check.
    const headerLength = MSG_FIXED + nrights * RIGHT_SIZE + nregions * 4;
    if (!f.skip(headerLength)) return this.fail("bad message frame from peer");
    const abi = this.kernel.abi;
    if (size < abi.headerSize) return this.fail("short message from peer");
    const bytes = f.bytes(size);
    if (bytes === null) return this.fail("message bytes missing from frame");
    let ool: Uint8Array[] = NO_REGIONS;
    if (nregions > 0) {
      ool = [];
      for (let i = 0, at = h + MSG_FIXED + nrights * RIGHT_SIZE; i < nregions; i++, at += 4) {
        const region = f.region(rd32(b, at));
        if (region === null) return this.fail("out-of-line region missing from frame");
        ool.push(region);
      }
    }
    if (f.at !== f.end) return this.fail("bad message frame from peer");
    this.stats.received++;

    // Every right is taken in (so the peer's bookkeeping and ours agree) before anything is judged.
    // Moved receive rights first, as the peer exported them (see `forward`).
    let valid = true;
    let moved: Array<CarriedRight | undefined> | null = null;
    if (nrights > 0 && this.pendingMoves.length > 0) {
      moved = new Array<CarriedRight | undefined>(nrights);
      for (let i = 0, at = h + MSG_FIXED; i < nrights; i++, at += RIGHT_SIZE) {
        if (b[at] !== TAG_MOVED) continue;
        const r = this.importRight(b[at], b[at + 1], rd32(b, at + 4), false);
        if (r === null) valid = false;
        moved[i] = r ?? noRight();
      }
    }
    const reply = this.importRight(b[h + 2], b[h + 3], rd32(b, h + 8), true);
    if (reply === null) valid = false;
    let rights: CarriedRight[] = NO_RIGHTS;
    if (nrights > 0) {
      // Built by push: the kernel's own lists are packed arrays, and its loops over them stay
      // monomorphic only if ours are too.
      rights = [];
      for (let i = 0, at = h + MSG_FIXED; i < nrights; i++, at += RIGHT_SIZE) {
        let r = moved === null ? undefined : moved[i];
        if (r === undefined) {
          r = this.importRight(b[at], b[at + 1], rd32(b, at + 4), false) ?? undefined;
          if (r === undefined) valid = false;
        }
        rights.push(r ?? noRight());
      }
    }
    const o = abi.header;
    const flags = (rd32(bytes, o.bits) & ~0xffff & ~MACH_MSGH_BITS_CIRCULAR) >>> 0;
    const movedTo = bounced ? null : this.exports.get(destId)?.movedTo ?? null;
    if (movedTo !== null && (destType === MACH_MSG_TYPE_PORT_SEND || destType === MACH_MSG_TYPE_PORT_SEND_ONCE)) {
      // Sent to a port of ours that has moved to the peer, before the peer knew: back it goes.
      if (valid && this.placeRights(flags, bytes, ool, rights)) {
        const kmsg = newKmsg(flags, size, rd32(bytes, o.id) | 0, movedTo.proxy, destType, reply!, bytes);
        kmsg.rights = rights;
        kmsg.ool = ool;
        this.stats.bounced++;
        this.forward(movedTo, kmsg, true);
        return;
      }
    }
    const dest = bounced ? this.bouncedDest(destType, destId) : movedTo !== null ? null : this.takeDest(destType, destId);
    if (valid) valid = this.placeRights(flags, bytes, ool, rights);
    if (dest === null || !valid) {
      this.stats.rejected++;
      this.kernel.releaseCarried(reply ?? noRight());
      for (const r of rights) this.kernel.releaseCarried(r);
      if (dest) this.kernel.releaseCarried({ port: dest, dead: false, type: destType, ool: -1, offset: -1 });
      return;
    }
    const kmsg = newKmsg(flags, size, rd32(bytes, o.id) | 0, dest, destType, reply!, bytes);
    kmsg.rights = rights;
    kmsg.ool = ool;
    // The peer counts it in flight until it leaves the queue (`dequeued`: CREDIT).
    kmsg.source = this;
    kmsg.sourceId = destId;
    // From a transport callback, outside any kernel operation: a receiver already waiting copies
    // the message out at once (Kernel.post; inside a kernel callback it is plain enqueue).
    if (dest.held === null) {
      this.kernel.post(kmsg);
      return;
    }
    // What comes over this link (the old home's queue and later sends, bounces) is in each
    // sender's order already and goes ahead of what the port holds back (see `arrive`).
    const held = dest.held;
    dest.held = null;
    try {
      this.kernel.post(kmsg);
    } finally {
      if (!dest.dead && dest.held === null) dest.held = held;
    }
  }

  /**
   * The destination of a message coming back (BOUNCE) to a port moved here under an alias: the
   * right it was sent with, which the peer could not take, is ours again. Null outside the bounce
   * window.
   */
  private bouncedDest(destType: number, id: number): Port | null {
    const rec = this.exports.get(id);
    if (!rec || !rec.bounceOpen || rec.port.dead) return null;
    if (destType === MACH_MSG_TYPE_PORT_SEND) this.kernel.copySend(rec.port);
    else if (destType === MACH_MSG_TYPE_PORT_SEND_ONCE) rec.port.sorights++;
    else return null;
    return rec.port;
  }

  /** The destination right, taken from what the peer holds; null if it holds no such right. */
  private takeDest(destType: number, id: number): Port | null {
    const rec = this.exports.get(id);
    if (!rec) return null;
    if (destType === MACH_MSG_TYPE_PORT_SEND) {
      // A copy of the bridge task's send right (exports are dropped when their port dies).
      if (rec.sendHeld === 0 || rec.port.dead) return null;
      this.kernel.copySend(rec.port);
      return rec.port;
    }
    if (destType === MACH_MSG_TYPE_PORT_SEND_ONCE) {
      if (rec.soHeld === 0) return null;
      rec.soHeld--; // moves into the message
      return rec.port;
    }
    return null;
  }

  /** A right from the peer as a carried right; null if the peer named something it does not hold. */
  private importRight(tag: number, type: number, id: number, header: boolean): CarriedRight | null {
    const r = newRight();
    if (this.isClosed) return null;
    if (header && type === 0) return tag === TAG_NULL ? r : null;
    if (!header && type === MACH_MSG_TYPE_PORT_RECEIVE) {
      // A moved receive right, or NULL where the sender could not move it (it destroyed it).
      r.type = type;
      if (tag === TAG_NULL) return r;
      if (tag !== TAG_MOVED) return null;
      const port = this.arrive(id);
      if (port === null) return null;
      r.port = port;
      return r;
    }
    if (type !== MACH_MSG_TYPE_PORT_SEND && type !== MACH_MSG_TYPE_PORT_SEND_ONCE) return null;
    r.type = type;
    switch (tag) {
      case TAG_NULL:
        return r;
      case TAG_DEAD:
        r.dead = true;
        return r;
      case TAG_SENDER: {
        if (this.imports.size + this.movedIn >= this.maxImports && !this.imports.has(id)) {
          this.fail(`peer handed over more than ${this.maxImports} ports`);
          return null;
        }
        const imp = this.importFor(id);
        if (type === MACH_MSG_TYPE_PORT_SEND) this.gotSend(imp);
        else {
          this.kernel.makeSendOnce(imp.proxy);
        }
        r.port = imp.proxy;
        return r;
      }
      case TAG_RECEIVER: {
        const port = this.takeDest(type, id);
        if (!port) return null;
        r.port = port;
        return r;
      }
      default:
        return null;
    }
  }

  /**
   * Checks the body the way the kernel's copy-in would have left it and records where each right
   * goes (the peer's offsets are never trusted). False if rights and body do not match.
   */
  private placeRights(flags: number, bytes: Uint8Array, ool: Uint8Array[], rights: CarriedRight[]): boolean {
    if (!(flags & MACH_MSGH_BITS_COMPLEX)) return rights.length === 0 && ool.length === 0;
    const abi = this.kernel.abi;
    const size = bytes.byteLength;
    // Byte by byte with one reused item (a DataView over the small on-heap copy would make V8
    // move it off the heap).
    const item = this.bodyItem;
    let next = 0;
    let regions = 0;
    for (let offset = abi.headerSize; offset < size; ) {
      const plain = skipPlainItem(abi, bytes, offset, size);
      if (plain < 0) return false;
      if (plain > 0) {
        offset = plain;
        continue;
      }
      const after = nextBodyItem(abi, bytes, offset, size, item);
      if (after < 0) return false;
      offset = after;
      const isPort = isPortRightType(item.name);
      if (isPort && item.name > MACH_MSG_TYPE_PORT_SEND_ONCE) return false; // still a disposition
      const oolIndex = item.inline ? -1 : regions++;
      if (oolIndex >= 0) {
        const region = ool[oolIndex];
        if (!region || region.byteLength !== item.dataBytes) return false;
      }
      if (!isPort) continue;
      for (let i = 0; i < item.number; i++) {
        const r = rights[next++];
        if (!r || r.type !== item.name) return false;
        if (oolIndex < 0) {
          r.ool = -1;
          r.offset = item.dataOffset + i * abi.inlinePortSize;
        } else {
          r.ool = oolIndex;
          r.offset = i * 4;
        }
      }
    }
    return next === rights.length && regions === ool.length;
  }

}

function removeWatcher(rec: Export): void {
  const list = rec.port.deathWatchers;
  const i = list.indexOf(rec.watcher);
  if (i >= 0) list.splice(i, 1);
}
