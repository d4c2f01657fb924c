/** Two kernels joined by a bridge over each kind of link; worker and child-process peers. */
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import type { Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import {
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_MAKE_SEND_ONCE,
  MACH_NOTIFY_DEAD_NAME,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_RCV_MSG,
  MACH_RCV_TIMEOUT,
} from "../../../runtime/constants.js";
import { Kernel, type Task } from "../../../runtime/kernel/index.js";
import { Bridge, bridgeMessagePort, connect, listen, MessagePortLink, type BridgeOptions, type SocketAddress } from "../../../runtime/transport/index.js";
import { controlFrame, FRAME_HELLO, PROTOCOL_VERSION } from "../../../runtime/transport/protocol.js";
import { echo } from "../../fixtures/transport/rpc.js";

export type LinkKind = "message-port" | "unix" | "tcp";
export const LINK_KINDS: LinkKind[] = ["message-port", "unix", "tcp"];

export interface Pair {
  ka: Kernel;
  kb: Kernel;
  a: Task;
  b: Task;
  ba: Bridge;
  bb: Bridge;
  close(): Promise<void>;
}

let counter = 0;

export function socketPath(): string {
  return join(tmpdir(), `mig-ts-bridge-${process.pid}-${counter++}.sock`);
}

export async function makePair(kind: LinkKind): Promise<Pair> {
  const ka = new Kernel();
  const kb = new Kernel();
  const a = ka.createTask("A");
  const b = kb.createTask("B");
  let ba: Bridge;
  let bb: Bridge;
  let server: Server | null = null;
  let path: string | null = null;
  if (kind === "message-port") {
    const { port1, port2 } = new MessageChannel();
    ba = bridgeMessagePort(ka, port1, { label: "bridge-a" });
    bb = bridgeMessagePort(kb, port2, { label: "bridge-b" });
  } else {
    let address: SocketAddress;
    if (kind === "unix") address = { path: (path = socketPath()) };
    else address = { host: "127.0.0.1", port: 0 };
    let accepted!: (b: Bridge) => void;
    const got = new Promise<Bridge>((r) => (accepted = r));
    server = await listen(kb, address, (br) => accepted(br), { label: "bridge-b" });
    if (kind === "tcp") {
      const info = server.address();
      address = { host: "127.0.0.1", port: typeof info === "object" && info ? info.port : 0 };
    }
    ba = await connect(ka, address, { label: "bridge-a" });
    bb = await got;
  }
  return {
    ka,
    kb,
    a,
    b,
    ba,
    bb,
    async close() {
      ba.close();
      bb.close();
      if (server) await new Promise<void>((r) => server!.close(() => r()));
      if (path) rmSync(path, { force: true });
    },
  };
}

/** Receives one message on `name`, waiting at most `ms`. */
export function receive(task: Task, name: number, ms = 2000) {
  return task.mach_msg(null, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, 1 << 21, name, ms);
}

/** Lets queued frames cross (a few turns of the event loop). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setTimeout(r, 2));
}

/**
 * Lets frames cross until `done()` holds (batched releases reach the peer within ~10 ms, later on
 * a loaded machine), giving up after `turns` turns; the caller's assertions then say what is wrong.
 */
export async function settleUntil(done: () => boolean, turns = 500): Promise<void> {
  for (let i = 0; i < turns && !done(); i++) await new Promise((r) => setTimeout(r, 2));
}


const fixtures = fileURLToPath(new URL("../../fixtures/transport/", import.meta.url));
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** A worker thread running test/fixtures/transport/worker.ts in `mode`, and our end of its channel. */
export function startWorker(mode: "bridge" | "raw"): { worker: Worker; port: MessagePort } {
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(join(fixtures, "worker-boot.mjs"), {
    workerData: { port: port2, mode, entry: join(fixtures, "worker.ts") },
    transferList: [port2],
  });
  return { worker, port: port1 };
}

/** A child process running test/fixtures/transport/server.ts, connecting to `address`. */
export function startServerProcess(mode: "bridge" | "raw", address: SocketAddress): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", join(fixtures, "server.ts"), mode, JSON.stringify(address)], {
    cwd: repoRoot,
    stdio: ["ignore", "inherit", "inherit"],
  });
}

/** A client task with a bridge's bootstrap port, reply ports, a token port and a dead-name watch. */
export async function client(kernel: Kernel, bridge: Bridge, lanes: number) {
  const task = kernel.createTask("client");
  const boot = await bridge.getBootstrapPort(task);
  if (boot.code !== 0) throw new Error(`no bootstrap port: ${boot.code}`);
  const service = boot.name;
  const replies = Array.from({ length: lanes }, () => task.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name);
  const token = task.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  task.mach_port_insert_right(token, token, MACH_MSG_TYPE_MAKE_SEND);
  const notify = task.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  task.mach_port_request_notification(service, MACH_NOTIFY_DEAD_NAME, 0, notify, MACH_MSG_TYPE_MAKE_SEND_ONCE);
  return { task, service, replies, token, notify };
}

export type Client = Awaited<ReturnType<typeof client>>;

/**
 * `count` echo calls spread over the client's lanes; each checks that the token came home and
 * the server's right landed on the bootstrap name. A lane stops at its first failure; resolves to
 * the number of successful calls and the failure codes.
 */
export async function echoMany(c: Client, count: number, progress = { done: 0 }): Promise<{ done: number; codes: number[] }> {
  let next = 0;
  const codes: number[] = [];
  const lane = async (reply: number) => {
    while (next < count) {
      const seq = next++;
      const r = await echo(c.task, c.service, reply, seq, c.token);
      if (r.code !== 0) {
        codes.push(r.code);
        return;
      }
      if (r.seq !== seq || r.token !== c.token || r.server !== c.service) {
        throw new Error(`bad reply ${JSON.stringify(r)} for ${seq} (token ${c.token}, service ${c.service})`);
      }
      c.task.mach_port_deallocate(c.token);
      c.task.mach_port_deallocate(c.service);
      progress.done++;
    }
  };
  await Promise.all(c.replies.map(lane));
  return { done: progress.done, codes };
}

/**
 * A kernel whose bridge talks to a rogue peer (`rogue` speaks the framing, not the bridge's
 * rules; the HELLO is sent), with one port of its task exported to the peer as `id`.
 */
export function rogueVictim(options?: BridgeOptions) {
  const kernel = new Kernel();
  const task = kernel.createTask("victim");
  const { port1, port2 } = new MessageChannel();
  const bridge = bridgeMessagePort(kernel, port1, options);
  const target = task.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const { id } = bridge.exportPort(task, target, MACH_MSG_TYPE_MAKE_SEND);
  const rogue = new MessagePortLink(port2);
  rogue.send(controlFrame(FRAME_HELLO, PROTOCOL_VERSION, kernel.abi.headerSize), []);
  return { kernel, task, bridge, target, id, abi: kernel.abi, rogue };
}
