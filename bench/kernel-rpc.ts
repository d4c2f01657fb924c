/**
 * The kernel's share of an in-process RPC (a reference for bench/rpc.ts): the same two messages as
 * the generated stubs send for `null_rpc` and `default_pager_object_create` (sizes, ids, header
 * dispositions, the send-once reply right, the MAKE_SEND right in create's reply, which the client
 * then deallocates), but built by hand, with a server that answers from a kernel receive waiter as
 * `serve` does and a client that sends and receives as the stubs do (`rpcSend`, then
 * `tryReceive`). No codec, no demux, no MIG checks: what Mach's semantics cost by themselves in
 * this runtime, and so the least any stub built on it can cost.
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

  start(): void {
    if (this.task.receiveWith(this, this.service) !== null) throw new Error("kernel-rpc: a request was queued before the server started");
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
    const request = this.task.completeReceive(kmsg, this.rcvSize).msg!.bytes;
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
    this.start();
  }

  stop(): void {
    this.task.interruptReceivers(this.service);
  }
}

export interface KernelRpc {
  /** One null_rpc round trip. */
  null_rpc(): Promise<void>;
  /** One default_pager_object_create round trip; the client deallocates the right it gets. */
  default_pager_object_create(): Promise<void>;
  stop(): void;
}

/** Hand-built RPCs from `client` to a server in `server` (both tasks of one kernel). */
export function kernelRpc(client: Task, server: Task): KernelRpc {
  const service = server.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const object = server.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const send = server.mach_port_extract_right(service, MACH_MSG_TYPE_MAKE_SEND, client).right;
  const replyPort = client.mach_reply_port();
  const serverLoop = new KernelServer(server, service, object);
  serverLoop.start();

  /** Sends a request of `size` bytes (an int64 argument for create) and returns the reply's bytes. */
  function call(id: number, size: number): Uint8Array {
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
    const r = client.tryReceive(replyPort, RPC_OPTION, 4096);
    if (r === null || r.code !== ReturnCode.KERN_SUCCESS) throw new Error("kernel-rpc: no reply");
    return r.msg!.bytes;
  }

  return {
    null_rpc() {
      call(NULL_RPC_ID, HEADER);
      return Promise.resolve();
    },
    async default_pager_object_create() {
      const reply = await Promise.resolve(call(CREATE_ID, 48));
      client.mach_port_deallocate(rd32(reply, 56));
    },
    stop() {
      serverLoop.stop();
    },
  };
}
