/** Two kernels joined by a bridge over each kind of link, in this process. */
import { rmSync } from "node:fs";
import type { Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageChannel } from "node:worker_threads";
import { MACH_RCV_MSG, MACH_RCV_TIMEOUT } from "../../../runtime/constants.js";
import { Kernel, type Task } from "../../../runtime/kernel/index.js";
import { Bridge, bridgeMessagePort, connect, listen, type SocketAddress } from "../../../runtime/transport/index.js";

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
