/**
 * A spike, not part of the runtime: how fast could a kernel go whose ports, names and messages
 * live in typed arrays (struct of arrays) instead of JS objects? It runs a header-only RPC
 * through such a kernel and through the real one (runtime/kernel), interleaved round by round in
 * one process, and prints both (issue 5's closing note, session 6: 0.19-0.21 us against
 * 0.36-0.42 us).
 *
 *   npx tsx bench/spikes/typed-array-kernel.ts
 *
 * The spike does the null RPC's steps with their checks: copy-in of the destination (COPY_SEND)
 * and the reply right (MAKE_SEND_ONCE), enqueue with a seqno, hand-off to a waiting server,
 * copy-out (destination consumed, the reply right named in the server's space, the header
 * rewritten), the reply through MOVE_SEND_ONCE (its entry freed), and the client's receive. It has
 * no port sets, dead names, holder lists, notifications, queue limits, timeouts, bodies or
 * observers, so it is a lower bound for such a design, not a measure of one.
 */
import { MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE, MACH_MSG_TYPE_MOVE_SEND_ONCE, MACH_PORT_RIGHT_RECEIVE, MACH_RCV_LARGE, MACH_RCV_MSG, MACH_SEND_MSG } from "../../runtime/constants.js";
import { Kernel, type KMsg } from "../../runtime/kernel/index.js";
import { rd32, wr32 } from "../../runtime/bytes.js";

const MAXP = 1 << 12;
const MAXN = 1 << 12;
const MAXM = 1 << 10;
// ports
const pReceiver = new Int32Array(MAXP).fill(-1); // task id
const pRecvName = new Int32Array(MAXP);
const pSrights = new Int32Array(MAXP);
const pSorights = new Int32Array(MAXP);
const pQHead = new Int32Array(MAXP).fill(-1);
const pQTail = new Int32Array(MAXP).fill(-1);
const pSeq = new Int32Array(MAXP);
const pWaiting = new Int32Array(MAXP); // 1: a server waits (hand-off)
let nPorts = 1;
// messages
const mDest = new Int32Array(MAXM);
const mDestType = new Int32Array(MAXM);
const mReply = new Int32Array(MAXM);
const mReplyType = new Int32Array(MAXM);
const mNext = new Int32Array(MAXM);
const mSeq = new Int32Array(MAXM);
const mBytes: (Uint8Array | null)[] = new Array(MAXM).fill(null);
const mFree: number[] = [];
for (let i = MAXM - 1; i >= 0; i--) mFree.push(i);
// spaces: per task, entries by index (name = index << 8 | gen)
const T = 2;
const eType = Array.from({ length: T }, () => new Int32Array(MAXN));
const ePort = Array.from({ length: T }, () => new Int32Array(MAXN));
const eUrefs = Array.from({ length: T }, () => new Int32Array(MAXN));
const eGen = Array.from({ length: T }, () => new Int32Array(MAXN));
const eFree: number[][] = Array.from({ length: T }, () => []);
const eNext = new Int32Array(T).fill(1);
const RECEIVE = 1, SEND = 2, SEND_ONCE = 4;
const COPY_SEND = 19, MAKE_SEND_ONCE = 21, MOVE_SEND_ONCE = 18, PORT_SEND = 17, PORT_SEND_ONCE = 18;

function rd(b: Uint8Array, o: number): number { return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0; }
function wr(b: Uint8Array, o: number, v: number): void { b[o] = v; b[o + 1] = v >>> 8; b[o + 2] = v >>> 16; b[o + 3] = v >>> 24; }

function newName(t: number): number {
  const free = eFree[t];
  let i: number;
  if (free.length > 16) i = free.shift()!; else i = eNext[t]++;
  const g = (eGen[t][i] + 1) & 0xff;
  eGen[t][i] = g;
  return (i << 8) | g;
}
function lookup(t: number, name: number): number {
  const i = name >>> 8;
  if (i <= 0 || i >= MAXN || eGen[t][i] !== (name & 0xff) || eType[t][i] === 0) return -1;
  return i;
}
function allocPort(t: number): number {
  const p = nPorts++;
  const name = newName(t);
  const i = name >>> 8;
  eType[t][i] = RECEIVE; ePort[t][i] = p; eUrefs[t][i] = 0;
  pReceiver[p] = t; pRecvName[p] = name;
  return name;
}
function makeSend(t: number, recvName: number, to: number): number {
  const p = ePort[t][lookup(t, recvName)];
  pSrights[p]++;
  const name = newName(to);
  const i = name >>> 8;
  eType[to][i] = SEND; ePort[to][i] = p; eUrefs[to][i] = 1;
  return name;
}

type Handler = (t: number, bytes: Uint8Array) => void;
const servers: (Handler | null)[] = new Array(MAXP).fill(null);

/** Copy-in and enqueue; 0 or an error code. */
function send(t: number, bytes: Uint8Array): number {
  const bits = rd(bytes, 0);
  const destDisp = bits & 0xff, replyDisp = (bits >>> 8) & 0xff;
  const di = lookup(t, rd(bytes, 8));
  if (di < 0) return 0x10000003;
  const ty = eType[t];
  let dest = ePort[t][di];
  let destType: number;
  if (destDisp === COPY_SEND) { if (!(ty[di] & SEND)) return 0x10000003; pSrights[dest]++; destType = PORT_SEND; }
  else if (destDisp === MOVE_SEND_ONCE) { if (ty[di] !== SEND_ONCE) return 0x10000003; ty[di] = 0; eFree[t].push(di); destType = PORT_SEND_ONCE; }
  else return 0x10000002;
  let reply = 0, replyType = 0;
  if (replyDisp === MAKE_SEND_ONCE) {
    const ri = lookup(t, rd(bytes, 16));
    if (ri < 0 || !(ty[ri] & RECEIVE)) return 0x10000005;
    reply = ePort[t][ri]; pSorights[reply]++; replyType = PORT_SEND_ONCE;
  } else if (replyDisp !== 0) return 0x10000002;
  const m = mFree.pop()!;
  mDest[m] = dest; mDestType[m] = destType; mReply[m] = reply; mReplyType[m] = replyType; mBytes[m] = bytes; mNext[m] = -1;
  mSeq[m] = pSeq[dest]++;
  if (pQTail[dest] < 0) pQHead[dest] = m; else mNext[pQTail[dest]] = m;
  pQTail[dest] = m;
  if (pWaiting[dest]) {
    pWaiting[dest] = 0;
    const r = receive(pReceiver[dest], pRecvName[dest])!;
    servers[dest]!(pReceiver[dest], r);
  }
  return 0;
}

/** Dequeue and copy out; the bytes or null. */
function receive(t: number, name: number): Uint8Array | null {
  const i = lookup(t, name);
  if (i < 0 || !(eType[t][i] & RECEIVE)) return null;
  const p = ePort[t][i];
  const m = pQHead[p];
  if (m < 0) return null;
  pQHead[p] = mNext[m];
  if (pQHead[p] < 0) pQTail[p] = -1;
  const bytes = mBytes[m]!;
  mBytes[m] = null;
  // dest consumed
  if (mDestType[m] === PORT_SEND) pSrights[p]--; else pSorights[p]--;
  let remote = 0;
  const rp = mReply[m];
  if (mReplyType[m] === PORT_SEND_ONCE) {
    remote = newName(t);
    const ri = remote >>> 8;
    eType[t][ri] = SEND_ONCE; ePort[t][ri] = rp; eUrefs[t][ri] = 1;
  }
  wr(bytes, 0, (rd(bytes, 0) & ~0xffff) | mReplyType[m] | (mDestType[m] << 8));
  wr(bytes, 8, remote);
  wr(bytes, 16, name);
  wr(bytes, 20, mSeq[m]);
  mFree.push(m);
  return bytes;
}

// setup
const SERVER = 0, CLIENT = 1;
const spikeService = allocPort(SERVER);
const spikeSend = makeSend(SERVER, spikeService, CLIENT);
const spikeReply = allocPort(CLIENT);
const svcPort = ePort[SERVER][lookup(SERVER, spikeService)];
servers[svcPort] = (t, req) => {
  const rep = new Uint8Array(48);
  wr(rep, 0, MOVE_SEND_ONCE); wr(rep, 4, 48); wr(rep, 8, rd(req, 8)); wr(rep, 28, rd(req, 28) + 100);
  wr(rep, 32, 2 | (32 << 8) | (1 << 29)); wr(rep, 36, 1);
  if (send(t, rep) !== 0) throw new Error("reply");
  pWaiting[svcPort] = 1;
};
pWaiting[svcPort] = 1;

function spikeCall(): number {
  const req = new Uint8Array(32);
  wr(req, 0, COPY_SEND | (MAKE_SEND_ONCE << 8)); wr(req, 4, 32); wr(req, 8, spikeSend); wr(req, 16, spikeReply); wr(req, 28, 5300);
  if (send(CLIENT, req) !== 0) throw new Error("send");
  const r = receive(CLIENT, spikeReply);
  if (r === null) throw new Error("no reply");
  return rd(r, 28);
}

// The real kernel doing the same call (as bench/kernel-rpc.ts does, without a promise).
const kernel = new Kernel();
const server = kernel.createTask("server");
const client = kernel.createTask("client");
const svc = server.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
const service = server.mach_port_extract_right(svc, MACH_MSG_TYPE_MAKE_SEND, client).right;
const replyPort = client.mach_reply_port();
class Waiter {
  task = server; option = MACH_RCV_MSG | MACH_RCV_LARGE; rcvSize = 4096;
  kmsg: KMsg | null = null;
  message(k: KMsg) { this.kmsg = k; kernel.schedule(this); }
  tooLarge() {} fail() {}
  run() {
    const r = server.completeReceive(this.kmsg!, 4096); this.kmsg = null;
    const req = r.msg!.bytes;
    const rep = new Uint8Array(48);
    wr32(rep, 0, MACH_MSG_TYPE_MOVE_SEND_ONCE); wr32(rep, 4, 48); wr32(rep, 8, rd32(req, 8)); wr32(rep, 28, rd32(req, 28) + 100);
    wr32(rep, 32, 2 | (32 << 8) | (1 << 29)); wr32(rep, 36, 1);
    server.sendMessage({ bytes: rep, ool: [] }, MACH_SEND_MSG, 48, 0, true);
    server.receiveWith(this, svc);
  }
}
server.receiveWith(new Waiter(), svc);
const opt = MACH_SEND_MSG | MACH_RCV_MSG | MACH_RCV_LARGE;
function realCall(): number {
  const req = new Uint8Array(32);
  wr32(req, 0, MACH_MSG_TYPE_COPY_SEND | (MACH_MSG_TYPE_MAKE_SEND_ONCE << 8)); wr32(req, 4, 32); wr32(req, 8, service); wr32(req, 16, replyPort); wr32(req, 28, 5300);
  client.rpcSend({ bytes: req, ool: [] }, opt, 32, true);
  return rd32(client.tryReceive(replyPort, opt, 4096)!.msg!.bytes, 28);
}
if (spikeCall() !== 5400 || realCall() !== 5400) throw new Error("bad reply id");
const N = 10000, R = 40;
const fs = [realCall, spikeCall]; const res: number[][] = [[], []];
for (let r = 0; r < R; r++) for (let j = 0; j < 2; j++) {
  const f = fs[j]; const t0 = performance.now();
  for (let i = 0; i < N; i++) f();
  res[j].push(((performance.now() - t0) * 1000) / N);
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`runtime kernel ${med(res[0]).toFixed(3)} us | typed-array spike ${med(res[1]).toFixed(3)} us | ratio ${(med(res[0]) / med(res[1])).toFixed(2)}`);
