/**
 * The server side of bench/rpc.ts, in a worker thread or a child process.
 *
 *   worker thread (workerData: { port, mode }), or
 *   rpc-peer.ts <mode> '<address json>'   (a child process; connects to the bench's socket)
 *
 * mode "stubs": a kernel of its own, a bridge to the bench, and a service port (the connection's
 *               bootstrap port) served by the generated demuxes of null_rpc and default_pager
 *               through `migDemux` + `serve`;
 * mode "kernel":  the same, but the service port answered with hand-built replies (bench/kernel-rpc.ts);
 * mode "raw":   the baseline: answers every message of n bytes with a fresh one of n + 16 bytes,
 *               the size of the stub reply (null_rpc: 32 -> 48; default_pager_object_create:
 *               48 -> 64). Over a socket, messages are frames with a 32-bit length prefix.
 * It exits when the connection closes.
 */
import { connect as netConnect } from "node:net";
import { isMainThread, workerData, type MessagePort } from "node:worker_threads";
import { MACH_MSG_TYPE_MAKE_SEND, MACH_PORT_RIGHT_RECEIVE } from "../runtime/constants.js";
import { Kernel, type Task } from "../runtime/kernel/index.js";
import { migDemux, serve } from "../runtime/mig/index.js";
import { bridgeMessagePort, connect, type SocketAddress } from "../runtime/transport/index.js";
import { MachError, ReturnCode } from "../runtime/constants.js";
import { default_pager_server, type DefaultPagerHandlers, type memory_object_t } from "../generated/default_pager.js";
import { null_rpc_server } from "./generated/null_rpc.js";
import { serveKernelOnly } from "./kernel-rpc.js";

/** Growth of a reply over its request (the RetCode item, 16 bytes on x86_64). */
export const REPLY_GROWTH = 16;

/** Serves the bench's stubs on a new receive right of `task`; returns its name. */
export function serveStubs(task: Task): { service: number; stop: () => Promise<void> } {
  const service = task.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  // default_pager_object_create hands out a send right (MAKE_SEND) to this port every call.
  const object = task.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name as memory_object_t;
  const unsupported = (): never => {
    throw new MachError(ReturnCode.KERN_FAILURE);
  };
  const pager: DefaultPagerHandlers = {
    default_pager_object_create: () => object,
    default_pager_info: unsupported,
    default_pager_objects: unsupported,
    default_pager_object_pages: unsupported,
    default_pager_paging_file: unsupported,
    default_pager_register_fileserver: unsupported,
  };
  const server = serve(task, service, migDemux([null_rpc_server({ null_rpc: () => undefined }), default_pager_server(pager)]), {
    concurrency: 64,
  });
  return { service, stop: () => server.stop() };
}

function rawReply(request: Uint8Array): Uint8Array {
  const reply = new Uint8Array(request.length + REPLY_GROWTH);
  reply.set(request);
  return reply;
}

async function main(): Promise<void> {
  if (!isMainThread) {
    const { port, mode } = workerData as { port: MessagePort; mode: string };
    if (mode === "stubs") {
      const kernel = new Kernel();
      const task = kernel.createTask("bench-server");
      const { service } = serveStubs(task);
      const bridge = bridgeMessagePort(kernel, port, { label: "bench-worker" });
      bridge.setBootstrapPort(task, service, MACH_MSG_TYPE_MAKE_SEND);
      void bridge.closed.then(() => process.exit(0));
    } else {
      port.on("message", (m: Uint8Array) => {
        const r = rawReply(m);
        port.postMessage(r, [r.buffer as ArrayBuffer]);
      });
    }
    return;
  }
  const mode = process.argv[2];
  const address = JSON.parse(process.argv[3]) as SocketAddress;
  if (mode === "stubs" || mode === "kernel") {
    const kernel = new Kernel();
    const task = kernel.createTask("bench-server");
    const { service } = mode === "stubs" ? serveStubs(task) : serveKernelOnly(task);
    const bridge = await connect(kernel, address, { label: "bench-server" });
    bridge.setBootstrapPort(task, service, MACH_MSG_TYPE_MAKE_SEND);
    void bridge.closed.then(() => process.exit(0));
    return;
  }
  const socket = "path" in address ? netConnect(address.path) : netConnect(address.port, address.host ?? "127.0.0.1");
  socket.setNoDelay(true);
  let pending: Buffer = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const out: Buffer[] = [];
    while (pending.length >= 4) {
      const n = pending.readUInt32LE(0);
      if (pending.length < 4 + n) break;
      const frame = Buffer.allocUnsafe(4 + n + REPLY_GROWTH);
      frame.writeUInt32LE(n + REPLY_GROWTH, 0);
      frame.set(pending.subarray(4, 4 + n), 4);
      frame.fill(0, 4 + n);
      out.push(frame);
      pending = pending.subarray(4 + n);
    }
    if (out.length === 1) socket.write(out[0]);
    else if (out.length > 1) socket.write(Buffer.concat(out));
  });
  socket.on("close", () => process.exit(0));
  socket.on("error", () => process.exit(0));
}

// Run only as the peer itself (bench/rpc.ts imports serveStubs from here too).
const ENTRY = /rpc-peer\.[cm]?[jt]s$/;
const isEntry = isMainThread ? ENTRY.test(process.argv[1] ?? "") : ENTRY.test(String((workerData as { entry?: string } | null)?.entry ?? ""));
if (isEntry) await main();
