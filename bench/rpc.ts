/**
 * RPC benchmark: null round trips (a header-only request, a RetCode reply, as MIG lays them out)
 * on each transport, each against a baseline measured in the same run:
 *  - in-process (one kernel, two tasks) vs a promise round trip through a queue that copies the
 *    same bytes each way (goal: at most 3x);
 *  - worker thread (a bridge over a MessagePort) vs a raw MessagePort ping-pong of the same bytes
 *    (goal: at most 1.5x);
 *  - processes over a Unix socket, and over TCP on 127.0.0.1, vs a raw socket ping-pong of the
 *    same bytes (goal: at most 1.3x);
 *  - pipelined throughput with 64 calls in flight over a Unix socket vs the raw socket with 64
 *    frames in flight (goal: at least 0.7x).
 * Latencies are µs per round trip, throughput is calls per second; each figure is the median of
 * several rounds, the measured and the baseline run alternating.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import { MACH_MSG_TYPE_MAKE_SEND, MACH_PORT_RIGHT_RECEIVE } from "../runtime/constants.js";
import { Kernel, type Task } from "../runtime/kernel/index.js";
import { bridgeMessagePort, listen, type Bridge, type SocketAddress } from "../runtime/transport/index.js";
import { nullCall, nullRequest, serve, stopRequest } from "../test/fixtures/transport/rpc.js";

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline: number;
  ratio: number;
  goal: number;
  goalOp: "<=" | ">=";
}

const fixtures = fileURLToPath(new URL("../test/fixtures/transport/", import.meta.url));
const root = fileURLToPath(new URL("../", import.meta.url));
const LATENCY_CALLS = 1000;
const PIPELINE_CALLS = 20000;
const IN_FLIGHT = 64;
const ROUNDS = 9;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs `value` and `baseline` alternately for several rounds; medians of each. */
async function paired(value: () => Promise<number>, baseline: () => Promise<number>, rounds = ROUNDS): Promise<[number, number]> {
  await value();
  await baseline();
  const vs: number[] = [];
  const bs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      vs.push(await value());
      bs.push(await baseline());
    } else {
      bs.push(await baseline());
      vs.push(await value());
    }
  }
  return [median(vs), median(bs)];
}

/** µs per call of `n` sequential calls. */
async function latency(n: number, call: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await call();
  return ((performance.now() - t0) * 1000) / n;
}

/** A client of a served port: sequential and pipelined null calls. */
function rpcClient(task: Task, service: number) {
  const abi = task.kernel.abi;
  const lanes = Array.from({ length: IN_FLIGHT }, () => {
    const reply = task.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    return { reply, req: nullRequest(abi, service, reply) };
  });
  const check = (code: number) => {
    if (code !== 0) throw new Error(`null call failed: ${code}`);
  };
  return {
    latency: () => latency(LATENCY_CALLS, async () => check(await nullCall(task, service, lanes[0].reply, lanes[0].req))),
    /** Calls per second with IN_FLIGHT calls outstanding. */
    async throughput(): Promise<number> {
      let left = PIPELINE_CALLS;
      const t0 = performance.now();
      await Promise.all(
        lanes.map(async (l) => {
          while (left-- > 0) check(await nullCall(task, service, l.reply, l.req));
        }),
      );
      return PIPELINE_CALLS / ((performance.now() - t0) / 1000);
    },
  };
}

function requestBytes(): Uint8Array {
  return nullRequest(new Kernel().abi, 1, 2).bytes;
}

// ---------------------------------------------------------------------------------------------
// In-process

async function inProcess(): Promise<BenchResult> {
  const kernel = new Kernel();
  const server = kernel.createTask("server");
  const clientTask = kernel.createTask("client");
  const service = server.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const serviceInClient = server.mach_port_extract_right(service, MACH_MSG_TYPE_MAKE_SEND, clientTask).right;
  const served = serve(server, service);
  const rpc = rpcClient(clientTask, serviceInClient);

  // Baseline: the same bytes copied into a queue and back, each hop a promise.
  class Queue {
    private items: Uint8Array[] = [];
    private waiter: ((b: Uint8Array) => void) | null = null;
    put(bytes: Uint8Array): void {
      const copy = bytes.slice();
      const w = this.waiter;
      if (w) {
        this.waiter = null;
        w(copy);
      } else this.items.push(copy);
    }
    take(): Promise<Uint8Array> {
      const item = this.items.shift();
      if (item) return Promise.resolve(item);
      return new Promise((r) => (this.waiter = r));
    }
  }
  const requests = new Queue();
  const replies = new Queue();
  const req = requestBytes();
  const rep = new Uint8Array(kernel.abi.replyHeaderSize);
  let stop = false;
  const echoLoop = (async () => {
    while (!stop) {
      await requests.take();
      replies.put(rep);
    }
  })();
  const [value, baseline] = await paired(rpc.latency, () =>
    latency(LATENCY_CALLS, async () => {
      requests.put(req);
      await replies.take();
    }),
  );
  stop = true;
  requests.put(req);
  await echoLoop;
  await clientTask.mach_msg(stopRequest(kernel.abi, serviceInClient), 1);
  await served;
  return result("null RPC, in-process", value, "µs", baseline, 3, "<=");
}

// ---------------------------------------------------------------------------------------------
// Worker threads

function startWorker(mode: "bridge" | "raw"): { worker: Worker; port: MessagePort } {
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(join(fixtures, "worker-boot.mjs"), {
    workerData: { port: port2, mode, entry: join(fixtures, "worker.ts") },
    transferList: [port2],
  });
  return { worker, port: port1 };
}

async function workers(): Promise<BenchResult> {
  const kernel = new Kernel();
  const task = kernel.createTask("client");
  const bridged = startWorker("bridge");
  const bridge = bridgeMessagePort(kernel, bridged.port, { label: "to-worker" });
  const boot = await bridge.getBootstrapPort(task);
  const rpc = rpcClient(task, boot.name);

  const raw = startWorker("raw");
  let onEcho: (() => void) | null = null;
  raw.port.on("message", () => onEcho?.());
  const req = requestBytes();
  const rawPing = () =>
    new Promise<void>((resolve) => {
      onEcho = resolve;
      const copy = req.slice();
      raw.port.postMessage(copy, [copy.buffer]);
    });
  const [value, baseline] = await paired(rpc.latency, () => latency(LATENCY_CALLS, rawPing));
  bridge.close();
  raw.port.close();
  await Promise.all([bridged.worker.terminate(), raw.worker.terminate()]);
  return result("null RPC, worker thread", value, "µs", baseline, 1.5, "<=");
}

// ---------------------------------------------------------------------------------------------
// Processes

function startProcess(mode: "bridge" | "raw", address: SocketAddress): ChildProcess {
  // MIG_TS_BENCH_CHILD_FLAGS: extra node flags for the server processes (e.g. --cpu-prof).
  const flags = (process.env.MIG_TS_BENCH_CHILD_FLAGS ?? "").split(" ").filter(Boolean);
  return spawn(process.execPath, [...flags, "--import", "tsx", join(fixtures, "server.ts"), mode, JSON.stringify(address)], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
  });
}

async function listenOn(kind: "unix" | "tcp", make: (address: SocketAddress) => Promise<Server>): Promise<{ server: Server; address: SocketAddress }> {
  if (kind === "unix") {
    const path = join(tmpdir(), `mig-ts-bench-${process.pid}-${Math.random().toString(36).slice(2)}.sock`);
    return { server: await make({ path }), address: { path } };
  }
  const server = await make({ host: "127.0.0.1", port: 0 });
  const info = server.address();
  return { server, address: { host: "127.0.0.1", port: typeof info === "object" && info ? info.port : 0 } };
}

/** A raw echo peer in a child process: ping-pong and pipelined frames of the request's bytes. */
async function rawPeer(kind: "unix" | "tcp") {
  let accepted!: (s: Socket) => void;
  const got = new Promise<Socket>((r) => (accepted = r));
  const { server, address } = await listenOn(kind, (a) =>
    new Promise((resolve) => {
      const s = createServer(accepted);
      if ("path" in a) s.listen(a.path, () => resolve(s));
      else s.listen(a.port, a.host, () => resolve(s));
    }),
  );
  const child = startProcess("raw", address);
  const socket = await got;
  socket.setNoDelay(true);
  const req = requestBytes();
  const frameSize = 4 + req.length;
  let pending = 0;
  let onFrames: ((n: number) => void) | null = null;
  socket.on("data", (chunk: Buffer) => {
    pending += chunk.length;
    const n = Math.floor(pending / frameSize);
    pending -= n * frameSize;
    if (n > 0) onFrames?.(n);
  });
  const frame = () => {
    const b = Buffer.allocUnsafe(frameSize);
    b.writeUInt32LE(req.length, 0);
    b.set(req, 4);
    return b;
  };
  return {
    ping: () =>
      latency(LATENCY_CALLS, () => new Promise<void>((resolve) => {
        onFrames = () => resolve();
        socket.write(frame());
      })),
    throughput: () =>
      new Promise<number>((resolve) => {
        let sent = 0;
        let received = 0;
        const t0 = performance.now();
        onFrames = (n) => {
          received += n;
          for (let i = 0; i < n && sent < PIPELINE_CALLS; i++, sent++) socket.write(frame());
          if (received >= PIPELINE_CALLS) resolve(PIPELINE_CALLS / ((performance.now() - t0) / 1000));
        };
        for (; sent < IN_FLIGHT; sent++) socket.write(frame());
      }),
    async close() {
      const exited = once(child, "exit");
      socket.end();
      await exited;
      await new Promise<void>((r) => server.close(() => r()));
      if ("path" in address) rmSync(address.path, { force: true });
    },
  };
}

/** A bridged server process: its service port is the connection's bootstrap port. */
async function bridgedPeer(kind: "unix" | "tcp") {
  const kernel = new Kernel();
  const task = kernel.createTask("client");
  let accepted!: (b: Bridge) => void;
  const got = new Promise<Bridge>((r) => (accepted = r));
  const { server, address } = await listenOn(kind, (a) => listen(kernel, a, accepted, { label: "to-server" }));
  const child = startProcess("bridge", address);
  const bridge = await got;
  const boot = await bridge.getBootstrapPort(task);
  const rpc = rpcClient(task, boot.name);
  return {
    ...rpc,
    async close() {
      const exited = once(child, "exit");
      bridge.close();
      await exited;
      await new Promise<void>((r) => server.close(() => r()));
      if ("path" in address) rmSync(address.path, { force: true });
    },
  };
}

async function processes(kind: "unix" | "tcp"): Promise<BenchResult[]> {
  const bridged = await bridgedPeer(kind);
  const raw = await rawPeer(kind);
  const out: BenchResult[] = [];
  const [value, baseline] = await paired(bridged.latency, raw.ping);
  out.push(result(`null RPC, processes over ${kind === "unix" ? "a Unix socket" : "TCP 127.0.0.1"}`, value, "µs", baseline, 1.3, "<="));
  if (kind === "unix") {
    const [v, b] = await paired(bridged.throughput, raw.throughput, 3);
    out.push(result(`pipelined null RPC (${IN_FLIGHT} in flight), processes over a Unix socket`, v, "calls/s", b, 0.7, ">="));
  }
  await bridged.close();
  await raw.close();
  return out;
}

// ---------------------------------------------------------------------------------------------

function result(name: string, value: number, unit: string, baseline: number, goal: number, goalOp: "<=" | ">="): BenchResult {
  return { name, value: round(value), unit, baseline: round(baseline), ratio: round(value / baseline, 3), goal, goalOp };
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function printTable(results: BenchResult[]): void {
  const rows = [["benchmark", "value", "baseline", "unit", "ratio", "goal", "met"]];
  for (const r of results) {
    const met = r.goalOp === "<=" ? r.ratio <= r.goal : r.ratio >= r.goal;
    rows.push([r.name, String(r.value), String(r.baseline), r.unit, r.ratio.toFixed(3), `${r.goalOp} ${r.goal}`, met ? "yes" : "NO"]);
  }
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  rows.forEach((r, i) => {
    console.log(r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join("  "));
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  });
}

/** Runs the RPC benchmark; prints a table and returns its results. */
export async function runRpcBench(): Promise<BenchResult[]> {
  // MIG_TS_RPC_ONLY=in-process,worker,unix,tcp runs a subset (for profiling).
  const only = (process.env.MIG_TS_RPC_ONLY ?? "in-process,worker,unix,tcp").split(",");
  const results: BenchResult[] = [];
  if (only.includes("in-process")) results.push(await inProcess());
  if (only.includes("worker")) results.push(await workers());
  if (only.includes("unix")) results.push(...(await processes("unix")));
  if (only.includes("tcp")) results.push(...(await processes("tcp")));
  printTable(results);
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await runRpcBench();
  console.log(JSON.stringify({ bench: "rpc", results }));
}
