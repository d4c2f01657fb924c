/**
 * A message tracer in the spirit of the Hurd's rpctrace: one line for every message a task sends
 * or receives, decoded through the generated stubs' reflection descriptors (their message plans).
 *
 *   client  > name_register(server=0x100 copy-send, name="printer", service=0x300 copy-send) reply-to 0x400
 *   server  < name_register(server=0x100, name="printer", service=0x205 send) seqno 0
 *   server  > name_register = KERN_SUCCESS (entry=0x100 make-send) in 0.21 ms
 *   client  < name_register = KERN_SUCCESS (entry=0x502 send) round trip 0.43 ms
 *   server  < mach_notify_no_senders(mscount=1) on 0x600
 *   client  > msg 4242 to 0x100 copy-send (48 bytes, no descriptor for this id)
 *             0000  13 00 00 00 30 00 00 00 ...
 *
 * Send lines show the sender's names and dispositions (before the kernel copies the message in);
 * receive lines the receiver's names and the rights it got. Request lines name the routine and its
 * arguments, reply lines the return code by its symbolic name, the out values and the time since
 * the request (round trip on the client, handling time on the server). Messages whose id no
 * registered subsystem knows, and messages that do not decode, fall back to a hex dump.
 */
import type { AbiInfo } from "../abi.js";
import { decodeReply, decodeRequest } from "../codec/engine.js";
import type { ItemPlan, RoutinePlan, SubsystemPlan } from "../codec/plan.js";
import { newHeader, readHeader, type MessageHeader } from "../codec/header.js";
import { returnCodeName } from "../constants.js";
import type { Kernel, MessageObserver } from "../kernel/kernel.js";
import type { Task } from "../kernel/task.js";
import type { MachMessage } from "../message.js";

export interface TracerOptions {
  /** Reflection descriptors (the generated `<subsystem>_subsystem` constants) to decode with. */
  subsystems?: readonly SubsystemPlan[];
  /** Where lines go (default: standard error). */
  write?: (line: string) => void;
  /** Trace only the tasks this accepts (default: every task). */
  tasks?: (task: Task) => boolean;
  /** Clock in milliseconds (default: performance.now). */
  now?: () => number;
  /** Bytes shown by a hex dump before it is cut (default 256). */
  dumpLimit?: number;
}

/** A msgh_bits disposition or received right type, as rpctrace-style text. */
const RIGHT_NAMES: Record<number, string> = {
  16: "receive",
  17: "send",
  18: "send-once",
  19: "copy-send",
  20: "make-send",
  21: "make-send-once",
  15: "name",
};
// On the sending side 16/17/18 are the MOVE_ dispositions.
const SEND_RIGHT_NAMES: Record<number, string> = { ...RIGHT_NAMES, 16: "move-receive", 17: "move-send", 18: "move-send-once" };

const NOTIFICATIONS: Record<number, { name: string; value?: string }> = {
  65: { name: "mach_notify_port_deleted", value: "name" },
  66: { name: "mach_notify_msg_accepted", value: "name" },
  69: { name: "mach_notify_port_destroyed", value: "rights" },
  70: { name: "mach_notify_no_senders", value: "mscount" },
  71: { name: "mach_notify_send_once" },
  72: { name: "mach_notify_dead_name", value: "name" },
};

/** A port name as text: MACH_PORT_NULL and MACH_PORT_DEAD by name. */
const hex = (n: number): string => (n === 0 ? "null" : n >>> 0 === 0xffffffff ? "dead" : `0x${(n >>> 0).toString(16)}`);

interface Known {
  plan: RoutinePlan;
  reply: boolean;
}

interface Pending {
  routine: string;
  at: number;
}

export class Tracer implements MessageObserver {
  private readonly byId = new Map<string, Known>();
  private readonly senderPlans = new WeakMap<RoutinePlan, RoutinePlan>();
  private readonly write: (line: string) => void;
  private readonly accepts: (task: Task) => boolean;
  private readonly now: () => number;
  private readonly dumpLimit: number;
  /** Requests waiting for their reply, by task and reply-port name. */
  private readonly clientPending = new Map<Task, Map<number, Pending>>();
  private readonly serverPending = new Map<Task, Map<number, Pending>>();
  private readonly taskNames = new Map<Task, string>();
  private readonly detachers: Array<() => void> = [];

  constructor(options: TracerOptions = {}) {
    this.write = options.write ?? ((line) => process.stderr.write(`${line}\n`));
    this.accepts = options.tasks ?? (() => true);
    this.now = options.now ?? (() => performance.now());
    this.dumpLimit = options.dumpLimit ?? 256;
    this.register(...(options.subsystems ?? []));
  }

  /** Adds reflection descriptors (a subsystem's plans for one ABI each). */
  register(...subsystems: readonly SubsystemPlan[]): this {
    for (const s of subsystems) {
      for (const plan of s.routines) {
        if (!plan) continue;
        this.byId.set(`${s.abi}:${plan.request.id}`, { plan, reply: false });
        if (plan.kind === "routine") this.byId.set(`${s.abi}:${plan.reply.id}`, { plan, reply: true });
      }
    }
    return this;
  }

  /** Starts tracing every task of `kernel`; returns the detach function. */
  attach(kernel: Kernel): () => void {
    const detach = kernel.observe(this);
    this.detachers.push(detach);
    return detach;
  }

  /** Stops tracing every kernel this tracer was attached to. */
  detach(): void {
    for (const d of this.detachers.splice(0)) d();
  }

  // ---------------------------------------------------------------------------------------------
  // MessageObserver

  send(task: Task, msg: MachMessage, size: number): void {
    if (!this.accepts(task)) return;
    this.trace(task, msg, size, true);
  }

  receive(task: Task, msg: MachMessage): void {
    if (!this.accepts(task)) return;
    this.trace(task, msg, msg.bytes.length, false);
  }

  // ---------------------------------------------------------------------------------------------

  private name(task: Task): string {
    let n = this.taskNames.get(task);
    if (n === undefined) {
      n = task.label || `task${this.taskNames.size + 1}`;
      this.taskNames.set(task, n);
    }
    return n;
  }

  private trace(task: Task, msg: MachMessage, size: number, sending: boolean): void {
    const abi = task.kernel.abi;
    let line: string;
    try {
      line = this.describe(task, abi, msg, size, sending);
    } catch (error) {
      line = `${sending ? ">" : "<"} (tracer could not decode: ${(error as Error).message})`;
    }
    this.write(`${this.name(task).padEnd(8)} ${line}`);
  }

  private describe(task: Task, abi: AbiInfo, msg: MachMessage, size: number, sending: boolean): string {
    const arrow = sending ? ">" : "<";
    if (msg.bytes.length < abi.headerSize || size < abi.headerSize) return `${arrow} (message shorter than a header: ${size} bytes)`;
    const view = new DataView(msg.bytes.buffer, msg.bytes.byteOffset, msg.bytes.byteLength);
    const h = readHeader(view, abi, newHeader());
    const known = this.byId.get(`${abi.name}:${h.id}`);
    if (known) {
      const text = known.reply ? this.describeReply(task, known.plan, msg, h, sending) : this.describeRequest(task, known.plan, msg, h, sending);
      if (text !== undefined) return `${arrow} ${text}`;
      return `${arrow} ${known.plan.name}${known.reply ? " reply" : ""} (does not decode as its plan says)${this.dump(msg, size, h, sending)}`;
    }
    const notification = NOTIFICATIONS[h.id];
    if (notification && !sending) {
      const at = abi.headerSize + abi.descriptorSize;
      const value = notification.value && msg.bytes.length >= at + 4 ? `${notification.value}=${notification.value === "mscount" ? view.getUint32(at, true) : hex(view.getUint32(at, true))}` : "";
      return `${arrow} ${notification.name}(${value}) on ${hex(h.localPort)} seqno ${h.seqno}`;
    }
    return `${arrow} msg ${h.id} ${this.ports(h, sending)} (${size} bytes, no descriptor for this id)${this.dump(msg, size, h, sending)}`;
  }

  private ports(h: MessageHeader, sending: boolean): string {
    const names = sending ? SEND_RIGHT_NAMES : RIGHT_NAMES;
    const remote = h.bits & 0xff;
    const local = (h.bits >>> 8) & 0xff;
    if (sending) {
      return `to ${hex(h.remotePort)} ${names[remote] ?? remote}${h.localPort ? ` reply-to ${hex(h.localPort)} ${names[local] ?? local}` : ""}`;
    }
    return `on ${hex(h.localPort)}${h.remotePort ? ` reply-to ${hex(h.remotePort)} ${names[remote] ?? remote}` : ""}`;
  }

  /** The plan as the sender sees it: port items carry the disposition, not the received type. */
  private senderPlan(plan: RoutinePlan): RoutinePlan {
    let p = this.senderPlans.get(plan);
    if (!p) {
      const flip = (items: ItemPlan[]) => items.map((i) => (i.port && i.recv !== 0xffffffff ? { ...i, recv: i.name } : i));
      p = { ...plan, request: { ...plan.request, items: flip(plan.request.items) }, reply: { ...plan.reply, items: flip(plan.reply.items) } };
      this.senderPlans.set(plan, p);
    }
    return p;
  }

  private describeRequest(task: Task, plan: RoutinePlan, msg: MachMessage, h: MessageHeader, sending: boolean): string | undefined {
    const values: unknown[] = new Array(plan.args.length).fill(null);
    const code = decodeRequest(sending ? this.senderPlan(plan) : plan, msg, values);
    if (code !== 0) return undefined;
    const args: string[] = [];
    const names = sending ? SEND_RIGHT_NAMES : RIGHT_NAMES;
    // The request port: header remote when sending, local (no right attached) when received.
    if (plan.requestPortSlot >= 0) {
      const arg = plan.args[plan.requestPortSlot];
      args.push(sending ? `${arg}=${hex(h.remotePort)} ${names[h.bits & 0xff] ?? h.bits & 0xff}` : `${arg}=${hex(h.localPort)}`);
    }
    for (const item of plan.request.items) {
      if (item.role !== 0 || item.slot === plan.requestPortSlot) continue;
      args.push(`${item.arg}=${this.value(item, values, sending)}`);
    }
    let text = `${plan.name}(${args.join(", ")})`;
    if (sending) {
      const reply = h.localPort;
      if (reply && plan.kind === "routine") {
        text += ` reply-to ${hex(reply)}`;
        this.pending(this.clientPending, task).set(reply, { routine: plan.name, at: this.now() });
      }
    } else {
      text += ` seqno ${h.seqno}`;
      if (h.remotePort && plan.kind === "routine") this.pending(this.serverPending, task).set(h.remotePort, { routine: plan.name, at: this.now() });
    }
    return text;
  }

  private describeReply(task: Task, plan: RoutinePlan, msg: MachMessage, h: MessageHeader, sending: boolean): string | undefined {
    const values: unknown[] = new Array(plan.args.length).fill(null);
    const code = decodeReply(sending ? this.senderPlan(plan) : plan, msg, values);
    if (code === -300 /* MIG_TYPE_ERROR */) return undefined;
    let text = `${plan.name} = ${returnCodeName(code)}`;
    if (code === 0) {
      const outs = plan.reply.items.filter((i) => i.role === 0).map((i) => `${i.arg}=${this.value(i, values, sending)}`);
      if (outs.length > 0) text += ` (${outs.join(", ")})`;
    }
    // Client: the reply arrives on the reply port (local); server: it goes to the reply right (remote).
    const key = sending ? h.remotePort : h.localPort;
    const table = this.pending(sending ? this.serverPending : this.clientPending, task);
    const started = table.get(key);
    if (started && started.routine === plan.name) {
      table.delete(key);
      text += ` ${sending ? "in" : "round trip"} ${(this.now() - started.at).toFixed(2)} ms`;
    }
    return text;
  }

  private pending(tables: Map<Task, Map<number, Pending>>, task: Task): Map<number, Pending> {
    let t = tables.get(task);
    if (!t) tables.set(task, (t = new Map()));
    return t;
  }

  /** One argument value as text. */
  private value(item: ItemPlan, values: unknown[], sending: boolean): string {
    const v = values[item.slot];
    if (item.port) {
      const type = item.poly >= 0 ? Number(values[item.poly]) : sending ? item.name : item.recv;
      const right = (sending ? SEND_RIGHT_NAMES : RIGHT_NAMES)[type] ?? String(type);
      if (typeof v === "number") return `${hex(v)} ${right}`;
      if (v instanceof Uint32Array) return `[${[...v].slice(0, 16).map(hex).join(", ")}${v.length > 16 ? ", ..." : ""}] ${right}`;
    }
    return formatValue(v);
  }

  private dump(msg: MachMessage, size: number, h: MessageHeader, sending: boolean): string {
    const lines: string[] = [];
    if (!sending && h.seqno) lines.push(`seqno ${h.seqno}`);
    const bytes = msg.bytes.subarray(0, Math.min(size, this.dumpLimit));
    for (let at = 0; at < bytes.length; at += 16) {
      const row = [...bytes.subarray(at, at + 16)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
      lines.push(`${at.toString(16).padStart(4, "0")}  ${row}`);
    }
    if (size > bytes.length) lines.push(`... ${size - bytes.length} more bytes`);
    msg.ool.forEach((r, i) => lines.push(`out-of-line region ${i}: ${r.length} bytes`));
    return lines.map((l) => `\n${" ".repeat(11)}${l}`).join("");
  }
}

/** Arguments as text: strings quoted, arrays shortened, bytes in hex. */
export function formatValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "bigint") return `${v}`;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (v === null || v === undefined) return "null";
  if (v instanceof Uint8Array) {
    const shown = [...v.subarray(0, 32)].map((b) => b.toString(16).padStart(2, "0")).join("");
    return `<${v.length} bytes ${shown}${v.length > 32 ? "..." : ""}>`;
  }
  if (ArrayBuffer.isView(v) && "length" in v) {
    const items = [...(v as unknown as ArrayLike<number | bigint>) as unknown as Iterable<number | bigint>];
    return `[${items.slice(0, 16).join(", ")}${items.length > 16 ? `, ... (${items.length})` : ""}]`;
  }
  return String(v);
}

/** Attaches a new tracer to `kernel`. */
export function traceKernel(kernel: Kernel, options: TracerOptions = {}): Tracer {
  const tracer = new Tracer(options);
  tracer.attach(kernel);
  return tracer;
}
