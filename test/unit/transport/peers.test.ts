/**
 * Bridges to real peers: a worker thread, and server processes over a Unix domain socket and
 * over TCP on 127.0.0.1. RPCs carry send rights both ways; killing the peer mid-run must fail
 * every pending and later call within a second and deliver the dead-name notification.
 */
import { once } from "node:events";
import { rmSync } from "node:fs";
import type { Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { MACH_NOTIFY_DEAD_NAME, MACH_PORT_TYPE_DEAD_NAME, ReturnCode as R } from "../../../runtime/constants.js";
import { Kernel } from "../../../runtime/kernel/index.js";
import { bridgeMessagePort, listen, type Bridge, type SocketAddress } from "../../../runtime/transport/index.js";
import { echo, messageId } from "../../fixtures/transport/rpc.js";
import { audit } from "../runtime/support.js";
import { client, echoMany, receive, settle, socketPath, startServerProcess, startWorker, type Client } from "./support.js";

const DIED = [R.MIG_SERVER_DIED, R.MACH_SEND_INVALID_DEST];

async function killMidRun(c: Client, kill: () => void): Promise<void> {
  const progress = { done: 0 };
  const run = echoMany(c, Number.MAX_SAFE_INTEGER, progress);
  while (progress.done < 200) await new Promise((r) => setTimeout(r, 5));
  const t0 = performance.now();
  kill();
  const { codes } = await run;
  const failedWithin = performance.now() - t0;
  expect(codes.length).toBe(c.replies.length);
  for (const code of codes) expect(DIED).toContain(code);
  expect(codes).toContain(R.MIG_SERVER_DIED); // at least one call was pending when the peer died
  const dn = await receive(c.task, c.notify, 1000);
  const notifiedWithin = performance.now() - t0;
  expect(dn.code).toBe(0);
  expect(messageId(c.task.kernel.abi, dn.msg!)).toBe(MACH_NOTIFY_DEAD_NAME);
  expect(failedWithin).toBeLessThan(1000);
  expect(notifiedWithin).toBeLessThan(1000);
  expect(c.task.mach_port_type(c.service).type).toBe(MACH_PORT_TYPE_DEAD_NAME);
  const later = await echo(c.task, c.service, c.replies[0], 0, c.token);
  expect(later.code).toBe(R.MACH_SEND_INVALID_DEST);
  expect(audit(c.task.kernel)).toEqual([]);
}

describe("bridge to a worker thread", () => {
  it("serves RPCs carrying rights both ways, and fails them all when the worker dies", async () => {
    const kernel = new Kernel();
    const { worker, port } = startWorker("bridge");
    const bridge = bridgeMessagePort(kernel, port, { label: "to-worker" });
    const c = await client(kernel, bridge, 4);
    const { done, codes } = await echoMany(c, 1000);
    expect(codes).toEqual([]);
    expect(done).toBe(1000);
    expect(c.task.mach_port_get_refs(c.token, 0).refs).toBe(1);
    await killMidRun(c, () => void worker.terminate());
    await bridge.closed;
  });
});

describe.each(["unix", "tcp"] as const)("bridge to a server process over %s", (kind) => {
  let server: Server | null = null;
  let path: string | null = null;
  afterEach(async () => {
    if (server) await new Promise<void>((r) => server!.close(() => r()));
    if (path) rmSync(path, { force: true });
    server = null;
    path = null;
  });

  const count = kind === "unix" ? 10_000 : 1_000;
  it(`exchanges ${count} RPCs carrying rights both ways; killing the server fails every call within 1 s`, async () => {
    const kernel = new Kernel();
    let address: SocketAddress = kind === "unix" ? { path: (path = socketPath()) } : { host: "127.0.0.1", port: 0 };
    let accepted!: (b: Bridge) => void;
    const got = new Promise<Bridge>((r) => (accepted = r));
    server = await listen(kernel, address, accepted, { label: "to-server" });
    if (kind === "tcp") {
      const info = server.address();
      address = { host: "127.0.0.1", port: typeof info === "object" && info ? info.port : 0 };
    }
    const child = startServerProcess("bridge", address);
    const bridge = await got;
    const c = await client(kernel, bridge, 8);
    const { done, codes } = await echoMany(c, count);
    expect(codes).toEqual([]);
    expect(done).toBe(count);
    // Every reply brought the token home and merged into the same names.
    expect(c.task.mach_port_get_refs(c.token, 0).refs).toBe(1);
    expect(c.task.mach_port_get_refs(c.service, 0).refs).toBe(1);
    expect(bridge.importCount).toBe(1); // the service port's proxy, nothing else
    // Every transfer of the token was released by the server's side: ours is its only send right.
    for (let i = 0; i < 100 && c.task.mach_port_get_srights(c.token).srights !== 1; i++) await settle();
    expect(c.task.mach_port_get_srights(c.token).srights).toBe(1);
    expect(bridge.exportCount).toBe(0);
    const exited = once(child, "exit");
    await killMidRun(c, () => child.kill("SIGKILL"));
    await exited;
    await bridge.closed;
  });
});
