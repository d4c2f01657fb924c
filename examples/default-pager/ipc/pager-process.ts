/**
 * Starting the default pager in a task: paging storage, the core, the IPC server on its port set,
 * and registration with the kernel (vm_set_default_memory_manager on the host_priv port, through
 * the generated `mach` client), the way mach-defpager starts.
 *
 * Run as a program (`pager-process.ts <socket path> <options JSON>`) it is the pager in another
 * process: a kernel of its own, a bridge over a Unix domain socket, host_priv as the bootstrap
 * port. Loaded in a worker thread (workerData: { port, options }), the same over a MessagePort.
 */
import { isMainThread, workerData, type MessagePort } from "node:worker_threads";
import { pathToFileURL } from "node:url";
import { Kernel, MachError, ReturnCode, type Task } from "../../../runtime/index.js";
import { bridgeMessagePort, connect, type Bridge } from "../../../runtime/transport/index.js";
import { MachClient, type mach_port_make_send_t } from "../../../generated/mach.js";
import type { PageFramePool } from "../page-pool.js";
import { DefaultPagerCore, type WriteErrorPolicy } from "../pager-core.js";
import { PagingStorage } from "../storage/paging-storage.js";
import { callerFor } from "./mig.js";
import { DefaultPagerServer, type PagerServerOptions } from "./pager-server.js";

export interface PagerStartOptions {
  readonly pageSize?: number;
  /** Paging files to open (created at `sizeBytes` if missing). */
  readonly pagingFiles: readonly { readonly path: string; readonly sizeBytes?: number }[];
  readonly writeErrorPolicy?: WriteErrorPolicy;
  /**
   * Page-ins that arrive in a burst are read back to back before any is answered
   * (PagerCoreOptions.gatherReads). Default true; false answers each request as it is taken.
   */
  readonly gatherReads?: boolean;
  readonly server?: Omit<PagerServerOptions, "beforeTurn">;
}

/** Test hooks (in-process only): see PagerServerOptions.beforeTurn and PagerCoreOptions.onOrdered. */
export interface PagerHooks {
  readonly beforeTurn?: PagerServerOptions["beforeTurn"];
  readonly onOrdered?: (objectId: number, seqno: number, what: string) => void;
  /** Page frames shared with the kernel's VM model (in-process only). */
  readonly framePool?: PageFramePool;
}

export interface RunningPager {
  readonly storage: PagingStorage;
  readonly core: DefaultPagerCore<number>;
  readonly server: DefaultPagerServer;
  stop(): Promise<void>;
}

/** Starts the pager in `task` and registers it through `hostPriv` (a send right in `task`). */
export async function startDefaultPager(
  task: Task,
  hostPriv: number,
  options: PagerStartOptions,
  hooks: PagerHooks = {},
): Promise<RunningPager> {
  const storage = new PagingStorage({ pageSize: options.pageSize ?? 4096 });
  for (const file of options.pagingFiles) {
    const r = storage.addFile(
      file.path,
      file.sizeBytes === undefined ? {} : { sizeBytes: file.sizeBytes },
    );
    if (!r.ok) {
      storage.close();
      throw new Error(`paging file ${file.path}: ${r.error.message}`);
    }
  }
  const core: DefaultPagerCore<number> = new DefaultPagerCore<number>({
    storage,
    ...(options.writeErrorPolicy === undefined
      ? {}
      : { writeErrorPolicy: options.writeErrorPolicy }),
    ...(hooks.onOrdered === undefined ? {} : { onOrdered: hooks.onOrdered }),
    ...(hooks.framePool === undefined ? {} : { framePool: hooks.framePool }),
    gatherReads: options.gatherReads ?? true,
    onGatheredReplyError: (e) => server.stats.errors.push(`gathered reply: ${String(e)}`),
    burstPending: (): boolean => server.queued > 0,
  });
  const server: DefaultPagerServer = new DefaultPagerServer(task, core, {
    ...options.server,
    ...(hooks.beforeTurn === undefined ? {} : { beforeTurn: hooks.beforeTurn }),
  });
  server.start();
  const host = new MachClient(callerFor(task, hostPriv));
  const old = await host.vm_set_default_memory_manager(server.service as mach_port_make_send_t);
  if (old !== 0) task.mach_port_deallocate(old);
  return {
    storage,
    core,
    server,
    async stop() {
      await server.stop();
      storage.close();
    },
  };
}

/** The pager on the far side of a bridge: host_priv is the bridge's bootstrap port. */
export async function servePagerOverBridge(
  kernel: Kernel,
  bridge: Bridge,
  options: PagerStartOptions,
): Promise<RunningPager> {
  const task = kernel.createTask("default-pager");
  const boot = await bridge.getBootstrapPort(task);
  if (boot.code !== ReturnCode.KERN_SUCCESS) throw new MachError(boot.code, "bootstrap port");
  const pager = await startDefaultPager(task, boot.name, options);
  void bridge.closed.then(() => pager.stop());
  return pager;
}

function fail(e: unknown): never {
  console.error(`default pager: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
}

// In a worker thread (booted by ./worker-boot.mjs).
if (!isMainThread && (workerData as { role?: string } | null)?.role === "default-pager") {
  const { port, options } = workerData as { port: MessagePort; options: PagerStartOptions };
  const kernel = new Kernel();
  const bridge = bridgeMessagePort(kernel, port, { label: "pager-worker" });
  servePagerOverBridge(kernel, bridge, options).catch(fail);
  void bridge.closed.then(() => process.exit(0));
}

// As a program: node --import tsx pager-process.ts <socket path> <options JSON>
if (isMainThread && import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [socketPath, json] = process.argv.slice(2);
  if (socketPath === undefined || json === undefined)
    fail("usage: pager-process.ts <socket path> <options JSON>");
  const kernel = new Kernel();
  connect(kernel, { path: socketPath }, { label: "pager-process" })
    .then(async (bridge) => {
      await servePagerOverBridge(kernel, bridge, JSON.parse(json) as PagerStartOptions);
      await bridge.closed;
      process.exit(0);
    })
    .catch(fail);
}
