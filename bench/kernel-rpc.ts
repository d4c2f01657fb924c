/**
 * The kernel's share of an RPC (reference rows of bench/rpc.ts, in one kernel and across a bridge):
 * the same two messages as the generated stubs send for `null_rpc` and
 * `default_pager_object_create` (sizes, ids, header dispositions, the send-once reply right, the
 * MAKE_SEND right in create's reply, which the client then deallocates), but built by hand, with a
 * server that answers from a kernel receive waiter as `serve` does and a client that sends and
 * receives as the stubs do (`rpcSend`, then `tryReceive`, else a waiter on its reply port). No
 * codec, no demux, no MIG checks: what Mach's semantics (and the bridge) cost by themselves in this
 * runtime, and so the least any stub built on it can cost.
 */
import { rd32, wr32 } from "../runtime/bytes.js";
import { MACH_MSGH_BITS_COMPLEX } from "../runtime/codec/header.js";
import {
  MACH_MSG_TYPE_COPY_SEND,
  MACH_MSG_TYPE_INTEGER_32,
  MACH_MSG_TYPE_INTEGER_64,
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_MAKE_SEND_ONCE,
  MACH_MSG_TYPE_MOVE_SEND_ONCE,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_RCV_LARGE,
  MACH_RCV_MSG,
  MACH_SEND_MSG,
  ReturnCode,
} from "../runtime/constants.js";
import type { Runnable } from "../runtime/kernel/kernel.js";
import type { KMsg, ReceiveWaiter } from "../runtime/kernel/objects.js";
import type { Task } from "../runtime/kernel/task.js";

/** x86_64 layout (DESIGN.md §3): a 32-byte header, 8-byte descriptors, 8-byte port slots. */
const HEADER = 32;
const INLINE = 1 << 29;
const NULL_RPC_ID = 5300;
const CREATE_ID = 2275;
const RPC_OPTION = MACH_SEND_MSG | MACH_RCV_MSG | MACH_RCV_LARGE;

/** An inline type descriptor (x86_64): name, size in bits, the inline bit; the count in word 1. */
function descriptor(bytes: Uint8Array, at: number, name: number, bits: number, count: number): void {
  wr32(bytes, at, name | (bits << 8) | INLINE);
  wr32(bytes, at + 4, count);
}

/** The server: answers each request as the stubs' server would (a RetCode, and create's right). */
class KernelServer implements ReceiveWaiter, Runnable {
  readonly option = MACH_RCV_MSG | MACH_RCV_LARGE;
  readonly rcvSize = 4096;
  private kmsg: KMsg | null = null;

  constructor(
    readonly task: Task,
    private readonly service: number,
    private readonly object: number,
  ) {}

  /** Answers the requests queued, then waits for the next (as `serve`'s loop does). */
  start(): void {
    for (;;) {
      const r = this.task.receiveWith(this, this.service);
      if (r === null) return;
      if (r.code !== ReturnCode.KERN_SUCCESS) throw new Error(`kernel-rpc: receive failed (${r.code})`);
      this.answer(r.msg!.bytes);
    }
  }

  message(kmsg: KMsg): void {
    this.kmsg = kmsg;
    this.task.kernel.schedule(this);
  }
  tooLarge(): void {
    throw new Error("kernel-rpc: request too large");
  }
  fail(code: number): void {
    if (code !== ReturnCode.MACH_RCV_INTERRUPTED) throw new Error(`kernel-rpc: receive failed (${code})`);
  }

  run(): void {
    const kmsg = this.kmsg!;
    this.kmsg = null;
    this.answer(this.task.completeReceive(kmsg, this.rcvSize).msg!.bytes);
    this.start();
  }

  private answer(request: Uint8Array): void {
    const create = rd32(request, 28) === CREATE_ID;
    const size = create ? 64 : 48;
    const reply = new Uint8Array(size);
    wr32(reply, 0, MACH_MSG_TYPE_MOVE_SEND_ONCE | (create ? MACH_MSGH_BITS_COMPLEX : 0));
    wr32(reply, 4, size);
    wr32(reply, 8, rd32(request, 8));
    wr32(reply, 28, rd32(request, 28) + 100);
    descriptor(reply, HEADER, MACH_MSG_TYPE_INTEGER_32, 32, 1);
    if (create) {
      descriptor(reply, 48, MACH_MSG_TYPE_MAKE_SEND, 64, 1);
      wr32(reply, 56, this.object);
    }
    const code = this.task.sendMessage({ bytes: reply, ool: [] }, MACH_SEND_MSG, size, 0, true);
    if (code !== ReturnCode.KERN_SUCCESS) throw new Error(`kernel-rpc: reply failed (${String(code)})`);
  }

  stop(): void {
    this.task.interruptReceivers(this.service);
  }
}

/** Serves hand-built replies on a new receive right of `server`; returns its name and the stop. */
export function serveKernelOnly(server: Task): { service: number; stop: () => void } {
  const service = server.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const object = server.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const loop = new KernelServer(server, service, object);
  loop.start();
  return { service, stop: () => loop.stop() };
}

/**
 * A call waiting for its reply (a reply that was not there right after the send: the server is
 * across a bridge): the kernel's waiter on the reply port, as the stubs' pending calls are.
 */
class PendingReply implements ReceiveWaiter, Runnable {
  readonly option = RPC_OPTION;
  readonly rcvSize = 4096;
  private kmsg: KMsg | null = null;
  readonly done: Promise<Uint8Array>;
  private resolve!: (reply: Uint8Array) => void;
  private reject!: (error: Error) => void;

  constructor(readonly task: Task) {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
  message(kmsg: KMsg): void {
    this.kmsg = kmsg;
    this.task.kernel.schedule(this);
  }
  tooLarge(): void {
    this.reject(new Error("kernel-rpc: reply too large"));
  }
  fail(code: number): void {
    this.reject(new Error(`kernel-rpc: receive failed (${code})`));
  }
  run(): void {
    const kmsg = this.kmsg!;
    this.kmsg = null;
    this.resolve(this.task.completeReceive(kmsg, this.rcvSize).msg!.bytes);
  }
}

export interface KernelRpc {
  /** One null_rpc round trip. */
  null_rpc(): Promise<void>;
  /** One default_pager_object_create round trip; the client deallocates the right it gets. */
  default_pager_object_create(): Promise<void>;
}

/**
 * Hand-built calls from `client` through its send right `send` (to a `serveKernelOnly` port, in
 * this kernel or across a bridge), each with a reply port of its own from a pool, as the stubs'.
 */
export function kernelRpc(client: Task, send: number): KernelRpc {
  const idle: number[] = [];

  /** Sends a request of `size` bytes (an int64 argument for create); returns its reply port. */
  function sendRequest(id: number, size: number): number {
    const replyPort = idle.pop() ?? client.mach_reply_port();
    const request = new Uint8Array(size);
    wr32(request, 0, MACH_MSG_TYPE_COPY_SEND | (MACH_MSG_TYPE_MAKE_SEND_ONCE << 8));
    wr32(request, 4, size);
    wr32(request, 8, send);
    wr32(request, 16, replyPort);
    wr32(request, 28, id);
    if (size > HEADER) {
      descriptor(request, HEADER, MACH_MSG_TYPE_INTEGER_64, 64, 1);
      wr32(request, 40, 0x10000);
    }
    const sent = client.rpcSend({ bytes: request, ool: [] }, RPC_OPTION, size, true);
    if (sent !== ReturnCode.KERN_SUCCESS) throw new Error(`kernel-rpc: send failed (${String(sent)})`);
    return replyPort;
  }

  // A reply that is there at once (a server in this kernel) finishes the call without a promise
  // hop of its own, as the stubs' calls do.
  const DONE = Promise.resolve();
  /** Receives the reply on `replyPort` (at once, else through a waiter) and hands it to `done`. */
  function complete(replyPort: number, done: (replyPort: number, reply: Uint8Array) => void): Promise<void> {
    const r = client.tryReceive(replyPort, RPC_OPTION, 4096);
    if (r !== null) {
      if (r.code !== ReturnCode.KERN_SUCCESS) throw new Error(`kernel-rpc: receive failed (${r.code})`);
      done(replyPort, r.msg!.bytes);
      return DONE;
    }
    const pending = new PendingReply(client);
    client.receiveWith(pending, replyPort);
    return pending.done.then((reply) => done(replyPort, reply));
  }
  function nullDone(replyPort: number): void {
    idle.push(replyPort);
  }
  function createDone(replyPort: number, reply: Uint8Array): void {
    client.mach_port_deallocate(rd32(reply, 56));
    idle.push(replyPort);
  }
  return {
    null_rpc: () => complete(sendRequest(NULL_RPC_ID, HEADER), nullDone),
    default_pager_object_create: () => complete(sendRequest(CREATE_ID, 48), createDone),
  };
}
