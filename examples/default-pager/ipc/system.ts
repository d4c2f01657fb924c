/**
 * A whole system: the runtime kernel with the VM model's task (KernelServer), the default pager
 * (in this event loop, in a worker thread, or in another process over a Unix domain socket), and
 * a user task holding a send right to the pager's service port with the generated
 * default_pager client bound to it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import type { Server } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { MessageChannel, Worker } from "node:worker_threads";
import { Kernel, MACH_MSG_TYPE_MAKE_SEND, type Task } from "../../../runtime/index.js";
import { bridgeMessagePort, listen, type Bridge } from "../../../runtime/transport/index.js";
import { DefaultPagerClient } from "../../../generated/default_pager.js";
import { PageFramePool } from "../page-pool.js";
import { KernelServer } from "./kernel-server.js";
import { callerFor } from "./mig.js";
import {
  startDefaultPager,
  type PagerHooks,
  type PagerStartOptions,
  type RunningPager,
} from "./pager-process.js";

export type Transport = "in-process" | "worker" | "process";
export const TRANSPORTS: readonly Transport[] = ["in-process", "worker", "process"];

export interface SystemOptions {
  readonly transport?: Transport;
  /** The VM model's bound on resident pages. */
  readonly residentPages: number;
  /** Pages per page-out pass and per data_return (default 1). */
  readonly pageoutCluster?: number;
  /** VmKernelOptions.faultHandoff (default true). */
  readonly faultHandoff?: boolean;
  readonly pager: PagerStartOptions;
  /** In-process only: hooks for tests. */
  readonly pagerHooks?: PagerHooks;
}

export interface PagerSystem {
  readonly transport: Transport;
  readonly kernel: Kernel;
  readonly kernelServer: KernelServer;
  /** A user task holding `service`, a send right to the default pager. */
  readonly user: Task;
  readonly service: number;
  /** default_pager.defs calls from the user task. */
  readonly pager: DefaultPagerClient;
  /** The pager's own objects when it runs in this event loop (tests look inside). */
  readonly local: RunningPager | null;
  /** The pager's process when it runs in one (tests kill it). */
  readonly pagerProcess: ChildProcess | null;
  /**
   * Resolves once nothing is moving: no kernel send pending, nothing queued or being handled on
   * either side (the pager's side is seen only when it runs in this event loop).
   */
  idle(): Promise<void>;
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));

export async function startSystem(options: SystemOptions): Promise<PagerSystem> {
  const transport = options.transport ?? "in-process";
  const kernel = new Kernel();
  // In one event loop the kernel and the pager share physical memory: one pool of free frames.
  const framePool =
    transport === "in-process" ? new PageFramePool(options.pager.pageSize ?? 4096) : undefined;
  const kernelServer = new KernelServer(kernel, {
    residentLimit: options.residentPages,
    ...(framePool === undefined ? {} : { framePool }),
    ...(options.pageoutCluster === undefined ? {} : { pageoutCluster: options.pageoutCluster }),
    ...(options.faultHandoff === undefined ? {} : { faultHandoff: options.faultHandoff }),
  });
  const stops: Array<() => Promise<void> | void> = [];
  let local: RunningPager | null = null;
  let pagerProcess: ChildProcess | null = null;
  try {
    if (transport === "in-process") {
      const task = kernel.createTask("default-pager");
      local = await startDefaultPager(task, kernelServer.giveHostPriv(task), options.pager, {
        ...options.pagerHooks,
        ...(framePool === undefined ? {} : { framePool }),
      });
      stops.push(() => local!.stop());
    } else if (transport === "worker") {
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(path.join(here, "worker-boot.mjs"), {
        workerData: {
          role: "default-pager",
          entry: path.join(here, "pager-process.ts"),
          port: port2,
          options: options.pager,
        },
        transferList: [port2],
      });
      const bridge = bridgeMessagePort(kernel, port1, { label: "to-pager-worker" });
      offerHostPriv(bridge, kernelServer);
      stops.push(async () => {
        bridge.close();
        await worker.terminate();
      });
      await Promise.race([kernelServer.whenDefaultPager(), failure(worker, "error")]);
    } else {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mig-ts-pager-sock-"));
      const socketPath = path.join(dir, "pager.sock");
      let accepted!: (b: Bridge) => void;
      const bridged = new Promise<Bridge>((resolve) => (accepted = resolve));
      const server: Server = await listen(kernel, { path: socketPath }, accepted, {
        label: "to-pager-process",
      });
      const child: ChildProcess = (pagerProcess = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          path.join(here, "pager-process.ts"),
          socketPath,
          JSON.stringify(options.pager),
        ],
        // From the repository root, where `--import tsx` resolves.
        { stdio: ["ignore", "inherit", "inherit"], cwd: path.resolve(here, "../../..") },
      ));
      stops.push(async () => {
        server.close();
        fs.rmSync(dir, { recursive: true, force: true });
        // A child killed by a signal has exitCode null too: its exit has been seen already.
        if (child.exitCode === null && child.signalCode === null) {
          const exited = once(child, "exit");
          child.kill();
          await exited;
        }
      });
      const bridge = await Promise.race([bridged, failure(child, "exit")]);
      offerHostPriv(bridge, kernelServer);
      stops.push(() => bridge.close());
      await Promise.race([kernelServer.whenDefaultPager(), failure(child, "exit")]);
    }
  } catch (e) {
    for (const stop of stops.reverse()) await stop();
    await kernelServer.stop();
    throw e;
  }
  const user = kernel.createTask("user");
  const service = kernelServer.defaultPagerPortFor(user);
  return {
    transport,
    kernel,
    kernelServer,
    user,
    service,
    pager: new DefaultPagerClient(callerFor(user, service)),
    local,
    pagerProcess,
    async idle() {
      for (let quiet = 0; quiet < 3;) {
        await kernelServer.vm.quiesce();
        await new Promise<void>((resolve) => setImmediate(resolve));
        const busy = kernelServer.busy + (local?.server.busy ?? 0);
        quiet = busy === 0 ? quiet + 1 : 0;
      }
    },
    async close() {
      for (const stop of stops.reverse()) await stop();
      await kernelServer.stop();
    },
  };
}

function offerHostPriv(bridge: Bridge, kernelServer: KernelServer): void {
  bridge.setBootstrapPort(kernelServer.task, kernelServer.hostPriv, MACH_MSG_TYPE_MAKE_SEND);
}

/** Rejects when the peer fails before registering. */
function failure(peer: Worker | ChildProcess, event: "error" | "exit"): Promise<never> {
  return once(peer, event).then((args) => {
    throw new Error(
      `the default pager ${event === "error" ? "failed" : "exited"}: ${String(args[0])}`,
    );
  });
}
