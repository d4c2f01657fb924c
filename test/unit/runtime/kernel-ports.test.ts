import { describe, expect, it } from "vitest";
import { Kernel } from "../../../runtime/kernel/index.js";
import {
  MACH_MSG_TYPE_COPY_SEND,
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_MAKE_SEND_ONCE,
  MACH_MSG_TYPE_MOVE_RECEIVE,
  MACH_MSG_TYPE_MOVE_SEND,
  MACH_MSG_TYPE_MOVE_SEND_ONCE,
  MACH_MSG_TYPE_PORT_NAME,
  MACH_NOTIFY_DEAD_NAME,
  MACH_NOTIFY_NO_SENDERS,
  MACH_NOTIFY_PORT_DELETED,
  MACH_NOTIFY_PORT_DESTROYED,
  MACH_NOTIFY_SEND_ONCE,
  MACH_PORT_DEAD,
  MACH_PORT_NULL,
  MACH_PORT_RIGHT_DEAD_NAME,
  MACH_PORT_RIGHT_PORT_SET,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_PORT_RIGHT_SEND,
  MACH_PORT_RIGHT_SEND_ONCE,
  MACH_PORT_TYPE_DEAD_NAME,
  MACH_PORT_TYPE_DNREQUEST,
  MACH_PORT_TYPE_PORT_SET,
  MACH_PORT_TYPE_RECEIVE,
  MACH_PORT_TYPE_SEND,
  MACH_PORT_TYPE_SEND_ONCE,
  MACH_PORT_TYPE_SEND_RECEIVE,
  MACH_RCV_MSG,
  MACH_RCV_TIMEOUT,
  ReturnCode as R,
} from "../../../runtime/constants.js";
import type { Task } from "../../../runtime/kernel/index.js";
import { audit, header } from "./support.js";

const RCV = MACH_RCV_MSG | MACH_RCV_TIMEOUT;

function setup() {
  const kernel = new Kernel();
  const a = kernel.createTask("A");
  const b = kernel.createTask("B");
  return { kernel, a, b };
}

function receivePort(t: Task): number {
  const r = t.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE);
  expect(r.code).toBe(R.KERN_SUCCESS);
  return r.name;
}

/** Gives `to` a send right (COPY_SEND... via insert) to a port `from` holds the receive right for. */
function giveSend(from: Task, name: number, to: Task): number {
  const x = from.mach_port_extract_right(name, MACH_MSG_TYPE_MAKE_SEND, to);
  expect(x.code).toBe(R.KERN_SUCCESS);
  return x.right;
}

function typeOf(t: Task, name: number): number {
  return t.mach_port_type(name).type;
}

function refs(t: Task, name: number, right: number): number {
  return t.mach_port_get_refs(name, right).refs;
}

/** Polls one message from `name` in `t`; returns its header (msgh_id etc.) and body word. */
async function poll(t: Task, name: number) {
  const r = await t.mach_msg(null, RCV, 0, 4096, name, 0);
  return r;
}

async function notification(t: Task, name: number) {
  const r = await poll(t, name);
  expect(r.code).toBe(R.KERN_SUCCESS);
  const abi = t.kernel.abi;
  const h = header(abi, r.msg!);
  const view = new DataView(r.msg!.bytes.buffer);
  const value = r.msg!.bytes.length > abi.headerSize ? view.getUint32(abi.headerSize + abi.descriptorSize, true) : 0;
  return { id: h.id, value, header: h, msg: r.msg! };
}

describe("names", () => {
  it("allocate gives valid, distinct names and never reuses a just-freed name", () => {
    const { a } = setup();
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const n = receivePort(a);
      expect(n).not.toBe(MACH_PORT_NULL);
      expect(n).not.toBe(MACH_PORT_DEAD);
      expect(seen.has(n)).toBe(false);
      seen.add(n);
      expect(a.mach_port_mod_refs(n, MACH_PORT_RIGHT_RECEIVE, -1)).toBe(R.KERN_SUCCESS);
    }
  });

  it("allocate: receive only, port set, dead name; bad right is KERN_INVALID_VALUE", () => {
    const { a } = setup();
    const p = receivePort(a);
    expect(typeOf(a, p)).toBe(MACH_PORT_TYPE_RECEIVE);
    expect(refs(a, p, MACH_PORT_RIGHT_SEND)).toBe(0);
    expect(refs(a, p, MACH_PORT_RIGHT_RECEIVE)).toBe(1);
    const s = a.mach_port_allocate(MACH_PORT_RIGHT_PORT_SET).name;
    expect(typeOf(a, s)).toBe(MACH_PORT_TYPE_PORT_SET);
    const d = a.mach_port_allocate(MACH_PORT_RIGHT_DEAD_NAME).name;
    expect(typeOf(a, d)).toBe(MACH_PORT_TYPE_DEAD_NAME);
    expect(refs(a, d, MACH_PORT_RIGHT_DEAD_NAME)).toBe(1);
    expect(a.mach_port_allocate(MACH_PORT_RIGHT_SEND).code).toBe(R.KERN_INVALID_VALUE);
    expect(a.mach_port_allocate(7).code).toBe(R.KERN_INVALID_VALUE);
  });

  it("allocate_name checks NULL/DEAD, the right, then NAME_EXISTS", () => {
    const { a } = setup();
    expect(a.mach_port_allocate_name(MACH_PORT_RIGHT_RECEIVE, 0)).toBe(R.KERN_INVALID_VALUE);
    expect(a.mach_port_allocate_name(MACH_PORT_RIGHT_RECEIVE, MACH_PORT_DEAD)).toBe(R.KERN_INVALID_VALUE);
    expect(a.mach_port_allocate_name(MACH_PORT_RIGHT_SEND, 77)).toBe(R.KERN_INVALID_VALUE);
    expect(a.mach_port_allocate_name(MACH_PORT_RIGHT_RECEIVE, 77)).toBe(R.KERN_SUCCESS);
    expect(a.mach_port_allocate_name(MACH_PORT_RIGHT_PORT_SET, 77)).toBe(R.KERN_NAME_EXISTS);
    expect(typeOf(a, 77)).toBe(MACH_PORT_TYPE_RECEIVE);
  });

  it("names are per task: a name in one task means nothing in another", () => {
    const { a, b } = setup();
    const p = receivePort(a);
    expect(b.mach_port_type(p).code).toBe(R.KERN_INVALID_NAME);
    const s = giveSend(a, p, b);
    expect(typeOf(b, s)).toBe(MACH_PORT_TYPE_SEND);
    expect(b.portOf(s)).toBe(a.portOf(p));
  });

  it("rename: INVALID_VALUE, NAME_EXISTS before INVALID_NAME; requests and receiver name follow", async () => {
    const { a } = setup();
    const p = receivePort(a);
    const n = receivePort(a);
    expect(a.mach_port_rename(p, 0)).toBe(R.KERN_INVALID_VALUE);
    expect(a.mach_port_rename(p, p)).toBe(R.KERN_NAME_EXISTS);
    expect(a.mach_port_rename(12345, 999)).toBe(R.KERN_INVALID_NAME);
    expect(a.mach_port_request_notification(p, MACH_NOTIFY_DEAD_NAME, 0, n, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(0);
    expect(a.mach_port_rename(p, 999)).toBe(R.KERN_SUCCESS);
    expect(a.mach_port_type(p).code).toBe(R.KERN_INVALID_NAME);
    expect(typeOf(a, 999)).toBe((MACH_PORT_TYPE_RECEIVE | MACH_PORT_TYPE_DNREQUEST) >>> 0);
    expect(a.mach_port_get_receive_status(999).code).toBe(0);
    expect(a.portOf(999)!.receiverName).toBe(999);
    expect(a.mach_port_destroy(999)).toBe(0);
    const note = await notification(a, n);
    expect(note.id).toBe(MACH_NOTIFY_PORT_DELETED);
    expect(note.value).toBe(999);
  });

  it("mach_port_names lists exactly the names mach_port_type accepts, with equal bits (§6.14)", () => {
    const { a, b } = setup();
    const p = receivePort(a);
    giveSend(a, p, b);
    a.mach_port_allocate(MACH_PORT_RIGHT_PORT_SET);
    a.mach_port_allocate(MACH_PORT_RIGHT_DEAD_NAME);
    a.mach_port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND);
    const { names, types } = a.mach_port_names();
    expect(names.length).toBe(3);
    names.forEach((n, i) => expect(typeOf(a, n)).toBe(types[i]));
    expect(types).toContain(MACH_PORT_TYPE_SEND_RECEIVE);
  });
});

describe("deallocate, destroy, mod_refs, get_refs", () => {
  it("deallocate: INVALID_NAME, INVALID_RIGHT on receive-only and sets, -1 uref otherwise", () => {
    const { a, b } = setup();
    const p = receivePort(a);
    expect(a.mach_port_deallocate(4242)).toBe(R.KERN_INVALID_NAME);
    expect(a.mach_port_deallocate(p)).toBe(R.KERN_INVALID_RIGHT);
    const set = a.mach_port_allocate(MACH_PORT_RIGHT_PORT_SET).name;
    expect(a.mach_port_deallocate(set)).toBe(R.KERN_INVALID_RIGHT);
    const s = giveSend(a, p, b);
    giveSend(a, p, b);
    expect(refs(b, s, MACH_PORT_RIGHT_SEND)).toBe(2);
    expect(a.mach_port_get_srights(p).srights).toBe(1);
    expect(b.mach_port_deallocate(s)).toBe(0);
    expect(refs(b, s, MACH_PORT_RIGHT_SEND)).toBe(1);
    expect(b.mach_port_deallocate(s)).toBe(0);
    expect(b.mach_port_type(s).code).toBe(R.KERN_INVALID_NAME);
    expect(a.mach_port_get_srights(p).srights).toBe(0);
    expect(audit(a.kernel)).toEqual([]);
  });

  it("deallocate on SEND|RECEIVE at 0 leaves RECEIVE", () => {
    const { a } = setup();
    const p = receivePort(a);
    expect(a.mach_port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND)).toBe(0);
    expect(typeOf(a, p)).toBe(MACH_PORT_TYPE_SEND_RECEIVE);
    expect(a.mach_port_deallocate(p)).toBe(0);
    expect(typeOf(a, p)).toBe(MACH_PORT_TYPE_RECEIVE);
    expect(a.mach_port_get_receive_status(p).status!.mps_srights).toBe(false);
  });

  it("mod_refs SEND: INVALID_VALUE for bad right, underflow; UREFS_OVERFLOW above 65534", () => {
    const { a, b } = setup();
    const p = receivePort(a);
    const s = giveSend(a, p, b);
    expect(b.mach_port_mod_refs(s, 5, 1)).toBe(R.KERN_INVALID_VALUE);
    expect(b.mach_port_mod_refs(999, MACH_PORT_RIGHT_SEND, 1)).toBe(R.KERN_INVALID_NAME);
    expect(b.mach_port_mod_refs(s, MACH_PORT_RIGHT_RECEIVE, -1)).toBe(R.KERN_INVALID_RIGHT);
    expect(b.mach_port_mod_refs(s, MACH_PORT_RIGHT_SEND, -2)).toBe(R.KERN_INVALID_VALUE);
    expect(b.mach_port_mod_refs(s, MACH_PORT_RIGHT_SEND, 65533)).toBe(0);
    expect(refs(b, s, MACH_PORT_RIGHT_SEND)).toBe(65534);
    expect(b.mach_port_mod_refs(s, MACH_PORT_RIGHT_SEND, 1)).toBe(R.KERN_UREFS_OVERFLOW);
    // A received send right at the limit is silently released, urefs stay pegged.
    expect(a.mach_port_extract_right(p, MACH_MSG_TYPE_MAKE_SEND, b).right).toBe(s);
    expect(refs(b, s, MACH_PORT_RIGHT_SEND)).toBe(65534);
    expect(a.mach_port_get_srights(p).srights).toBe(1);
    // insert_right onto 65534 overflows.
    expect(b.mach_port_insert_right(s, p, MACH_MSG_TYPE_MAKE_SEND, a)).toBe(R.KERN_UREFS_OVERFLOW);
    expect(b.mach_port_mod_refs(s, MACH_PORT_RIGHT_SEND, -65534)).toBe(0);
    expect(b.mach_port_type(s).code).toBe(R.KERN_INVALID_NAME);
    expect(audit(a.kernel)).toEqual([]);
  });

  it("mod_refs DEAD_NAME allows 65535, RECEIVE/SEND_ONCE/PORT_SET only 0 or -1", () => {
    const { a } = setup();
    const d = a.mach_port_allocate(MACH_PORT_RIGHT_DEAD_NAME).name;
    expect(a.mach_port_mod_refs(d, MACH_PORT_RIGHT_DEAD_NAME, 65534)).toBe(0);
    expect(a.mach_port_mod_refs(d, MACH_PORT_RIGHT_DEAD_NAME, 1)).toBe(R.KERN_UREFS_OVERFLOW);
    expect(a.mach_port_mod_refs(d, MACH_PORT_RIGHT_DEAD_NAME, -65536)).toBe(R.KERN_INVALID_VALUE);
    expect(a.mach_port_mod_refs(d, MACH_PORT_RIGHT_SEND, 1)).toBe(R.KERN_INVALID_RIGHT);
    expect(a.mach_port_mod_refs(d, MACH_PORT_RIGHT_DEAD_NAME, -65535)).toBe(0);
    expect(a.mach_port_type(d).code).toBe(R.KERN_INVALID_NAME);
    const p = receivePort(a);
    expect(a.mach_port_mod_refs(p, MACH_PORT_RIGHT_RECEIVE, 1)).toBe(R.KERN_INVALID_VALUE);
    expect(a.mach_port_mod_refs(p, MACH_PORT_RIGHT_RECEIVE, 0)).toBe(0);
    expect(a.mach_port_mod_refs(p, MACH_PORT_RIGHT_DEAD_NAME, 1)).toBe(R.KERN_INVALID_RIGHT);
    const set = a.mach_port_allocate(MACH_PORT_RIGHT_PORT_SET).name;
    expect(a.mach_port_mod_refs(set, MACH_PORT_RIGHT_PORT_SET, -2)).toBe(R.KERN_INVALID_VALUE);
    expect(a.mach_port_mod_refs(set, MACH_PORT_RIGHT_PORT_SET, -1)).toBe(0);
    expect(a.mach_port_type(set).code).toBe(R.KERN_INVALID_NAME);
    const so = a.mach_port_extract_right(p, MACH_MSG_TYPE_MAKE_SEND_ONCE).right;
    expect(a.mach_port_mod_refs(so, MACH_PORT_RIGHT_SEND_ONCE, 1)).toBe(R.KERN_INVALID_VALUE);
    expect(a.mach_port_mod_refs(so, MACH_PORT_RIGHT_SEND, -1)).toBe(R.KERN_INVALID_RIGHT);
  });

  it("get_refs: INVALID_VALUE then INVALID_NAME; 0 for a right the name lacks", () => {
    const { a } = setup();
    const p = receivePort(a);
    expect(a.mach_port_get_refs(p, 5).code).toBe(R.KERN_INVALID_VALUE);
    expect(a.mach_port_get_refs(31337, 5).code).toBe(R.KERN_INVALID_VALUE);
    expect(a.mach_port_get_refs(31337, 0).code).toBe(R.KERN_INVALID_NAME);
    expect(refs(a, p, MACH_PORT_RIGHT_SEND_ONCE)).toBe(0);
    expect(refs(a, p, MACH_PORT_RIGHT_PORT_SET)).toBe(0);
    expect(refs(a, p, MACH_PORT_RIGHT_DEAD_NAME)).toBe(0);
  });

  it("send-once rights never merge; destroying one sends a send-once notification", async () => {
    const { a, b } = setup();
    const p = receivePort(a);
    const x = a.mach_port_extract_right(p, MACH_MSG_TYPE_MAKE_SEND_ONCE, b);
    const y = a.mach_port_extract_right(p, MACH_MSG_TYPE_MAKE_SEND_ONCE, b);
    expect(x.acquiredType).toBe(18);
    expect(x.right).not.toBe(y.right);
    expect(typeOf(b, x.right)).toBe(MACH_PORT_TYPE_SEND_ONCE);
    expect(refs(b, x.right, MACH_PORT_RIGHT_SEND_ONCE)).toBe(1);
    expect(a.mach_port_get_receive_status(p).status!.mps_sorights).toBe(2);
    expect(b.mach_port_deallocate(x.right)).toBe(0);
    expect(b.mach_port_destroy(y.right)).toBe(0);
    const n1 = await notification(a, p);
    const n2 = await notification(a, p);
    expect([n1.id, n2.id]).toEqual([MACH_NOTIFY_SEND_ONCE, MACH_NOTIFY_SEND_ONCE]);
    expect(n1.header.bits).toBe(0x1200);
    expect(n1.header.localPort).toBe(p);
    expect(a.mach_port_get_receive_status(p).status!.mps_sorights).toBe(0);
    expect(audit(a.kernel)).toEqual([]);
  });

  it("destroy on SEND|RECEIVE: no-senders with the pre-destruction mscount first, then port-deleted", async () => {
    const { a, b } = setup();
    const p = receivePort(a);
    const watcher = receivePort(b);
    expect(a.mach_port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND)).toBe(0);
    const ns = b.mach_port_extract_right(watcher, MACH_MSG_TYPE_MAKE_SEND_ONCE, a).right;
    expect(a.mach_port_request_notification(p, MACH_NOTIFY_NO_SENDERS, 0, ns, MACH_MSG_TYPE_MOVE_SEND_ONCE).code).toBe(0);
    const dn = b.mach_port_extract_right(watcher, MACH_MSG_TYPE_MAKE_SEND_ONCE, a).right;
    expect(a.mach_port_request_notification(p, MACH_NOTIFY_DEAD_NAME, 0, dn, MACH_MSG_TYPE_MOVE_SEND_ONCE).code).toBe(0);
    expect(a.mach_port_destroy(p)).toBe(0);
    expect(a.mach_port_type(p).code).toBe(R.KERN_INVALID_NAME);
    const first = await notification(b, watcher);
    const second = await notification(b, watcher);
    expect(first.id).toBe(MACH_NOTIFY_NO_SENDERS);
    expect(first.value).toBe(1);
    expect(second.id).toBe(MACH_NOTIFY_PORT_DELETED);
    expect(second.value).toBe(p);
    expect((await poll(b, watcher)).code).toBe(R.MACH_RCV_TIMED_OUT);
    expect(audit(a.kernel)).toEqual([]);
  });

  it("mod_refs(RECEIVE,-1) on SEND|RECEIVE leaves a dead name (+1 with a request) and fires dead-name", async () => {
    const { a } = setup();
    const p = receivePort(a);
    const watcher = receivePort(a);
    a.mach_port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND);
    a.mach_port_mod_refs(p, MACH_PORT_RIGHT_SEND, 2);
    a.mach_port_request_notification(p, MACH_NOTIFY_DEAD_NAME, 0, watcher, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    const ns = a.mach_port_request_notification(p, MACH_NOTIFY_NO_SENDERS, 99, watcher, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    expect(ns.code).toBe(0);
    expect(a.mach_port_mod_refs(p, MACH_PORT_RIGHT_RECEIVE, -1)).toBe(0);
    expect(typeOf(a, p)).toBe(MACH_PORT_TYPE_DEAD_NAME);
    expect(refs(a, p, MACH_PORT_RIGHT_DEAD_NAME)).toBe(4);
    const ids = [(await notification(a, watcher)).id, (await notification(a, watcher)).id];
    // No no-senders: the registered request gets a send-once notification instead.
    expect(ids).toEqual([MACH_NOTIFY_SEND_ONCE, MACH_NOTIFY_DEAD_NAME]);
    expect(audit(a.kernel)).toEqual([]);
  });
});

describe("insert_right and extract_right", () => {
  it("insert_right: INVALID_VALUE, INVALID_CAPABILITY, NAME_EXISTS, RIGHT_EXISTS; the idiom n,n,MAKE_SEND", () => {
    const { a, b } = setup();
    const p = receivePort(a);
    const other = receivePort(a);
    expect(a.mach_port_insert_right(0, p, MACH_MSG_TYPE_MAKE_SEND)).toBe(R.KERN_INVALID_VALUE);
    expect(a.mach_port_insert_right(p, p, MACH_MSG_TYPE_PORT_NAME)).toBe(R.KERN_INVALID_VALUE);
    expect(a.mach_port_insert_right(5000, 0, MACH_MSG_TYPE_COPY_SEND)).toBe(R.KERN_INVALID_CAPABILITY);
    // The port already has a name in `a`: RIGHT_EXISTS is checked before NAME_EXISTS.
    expect(a.mach_port_insert_right(other, p, MACH_MSG_TYPE_MAKE_SEND)).toBe(R.KERN_RIGHT_EXISTS);
    const bq = receivePort(b);
    expect(b.mach_port_insert_right(bq, p, MACH_MSG_TYPE_MAKE_SEND, a)).toBe(R.KERN_NAME_EXISTS);
    const status = a.mach_port_get_receive_status(p).status!;
    // The failed calls released the made rights; their mscount bumps stay (name 0 included:
    // the right is copied in with the request before the kernel checks the name).
    expect(status.mps_mscount).toBe(3);
    expect(status.mps_srights).toBe(false);
    expect(a.mach_port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND)).toBe(0);
    expect(typeOf(a, p)).toBe(MACH_PORT_TYPE_SEND_RECEIVE);
    expect(refs(a, p, MACH_PORT_RIGHT_SEND)).toBe(1);
    expect(a.mach_port_get_receive_status(p).status!.mps_mscount).toBe(4);
    expect(a.mach_port_insert_right(7000, p, MACH_MSG_TYPE_MAKE_SEND)).toBe(R.KERN_RIGHT_EXISTS);
    expect(b.mach_port_insert_right(7000, p, MACH_MSG_TYPE_MAKE_SEND, a)).toBe(0);
    expect(b.mach_port_insert_right(7000, p, MACH_MSG_TYPE_COPY_SEND, a)).toBe(0);
    expect(refs(b, 7000, MACH_PORT_RIGHT_SEND)).toBe(2);
    expect(b.mach_port_insert_right(7001, p, MACH_MSG_TYPE_MAKE_SEND, a)).toBe(R.KERN_RIGHT_EXISTS);
    expect(b.mach_port_insert_right(7000, p, MACH_MSG_TYPE_MAKE_SEND_ONCE, a)).toBe(R.KERN_NAME_EXISTS);
    expect(b.mach_port_insert_right(7002, p, MACH_MSG_TYPE_MAKE_SEND_ONCE, a)).toBe(0);
    expect(a.mach_port_insert_right(p, 4444, MACH_MSG_TYPE_COPY_SEND)).toBe(R.MACH_SEND_INVALID_RIGHT);
    expect(audit(a.kernel)).toEqual([]);
  });

  it("a failed insert_right of a send-once right produces a send-once notification", async () => {
    const { a } = setup();
    const p = receivePort(a);
    expect(a.mach_port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND_ONCE)).toBe(R.KERN_NAME_EXISTS);
    expect((await notification(a, p)).id).toBe(MACH_NOTIFY_SEND_ONCE);
  });

  it("insert_right moves a receive right into another task, merging with its send right", () => {
    const { a, b } = setup();
    const p = receivePort(a);
    const s = giveSend(a, p, b);
    expect(b.mach_port_insert_right(s + 1, p, MACH_MSG_TYPE_MOVE_RECEIVE, a)).toBe(R.KERN_RIGHT_EXISTS);
    // Failure destroyed the moved receive right: a's send right... a had none; the port is dead now.
    expect(typeOf(b, s)).toBe(MACH_PORT_TYPE_DEAD_NAME);
    const q = receivePort(a);
    const t = giveSend(a, q, b);
    expect(b.mach_port_insert_right(t, q, MACH_MSG_TYPE_MOVE_RECEIVE, a)).toBe(0);
    expect(typeOf(b, t)).toBe(MACH_PORT_TYPE_SEND_RECEIVE);
    expect(a.mach_port_type(q).code).toBe(R.KERN_INVALID_NAME);
    expect(audit(a.kernel)).toEqual([]);
  });

  it("a port held by many tasks: each task's send rights merge under one name, through holder list and map alike", () => {
    // A task finds its entry for a port on the port's holder list, through a map once more than
    // a few tasks hold it; both ways must merge rights under the one name (§1.2).
    const kernel = new Kernel();
    const server = kernel.createTask("server");
    const p = receivePort(server);
    const tasks = Array.from({ length: 20 }, (_, i) => kernel.createTask(`t${i}`));
    const names = tasks.map((t) => giveSend(server, p, t));
    for (let round = 0; round < 3; round++) {
      tasks.forEach((t, i) => {
        expect(giveSend(server, p, t)).toBe(names[i]);
        expect(refs(t, names[i], MACH_PORT_RIGHT_SEND)).toBe(2);
        expect(t.nameOf(t.portOf(names[i])!)).toBe(names[i]);
      });
      // Drop back below the threshold and up again: the map is dropped and rebuilt.
      tasks.forEach((t, i) => expect(t.mach_port_deallocate(names[i])).toBe(0));
      for (let i = 2; i < tasks.length; i++) {
        expect(tasks[i].mach_port_deallocate(names[i])).toBe(0);
        expect(tasks[i].mach_port_type(names[i]).code).toBe(R.KERN_INVALID_NAME);
      }
      for (let i = 2; i < tasks.length; i++) names[i] = giveSend(server, p, tasks[i]);
    }
    // A task holding the receive right and a send right: one SEND_RECEIVE entry.
    expect(giveSend(server, p, server)).toBe(p);
    expect(typeOf(server, p)).toBe(MACH_PORT_TYPE_SEND_RECEIVE);
    expect(server.mach_port_mod_refs(p, MACH_PORT_RIGHT_RECEIVE, -1)).toBe(0);
    // The port died: every holder's name is a dead name now.
    tasks.forEach((t, i) => expect(typeOf(t, names[i])).toBe(MACH_PORT_TYPE_DEAD_NAME));
  });

  it("extract_right: INVALID_VALUE, INVALID_NAME, INVALID_RIGHT; dead names give MACH_PORT_DEAD", () => {
    const { a, b } = setup();
    const p = receivePort(a);
    expect(a.mach_port_extract_right(p, 15, b).code).toBe(R.KERN_INVALID_VALUE);
    expect(a.mach_port_extract_right(999, MACH_MSG_TYPE_MAKE_SEND, b).code).toBe(R.KERN_INVALID_NAME);
    expect(a.mach_port_extract_right(p, MACH_MSG_TYPE_COPY_SEND, b).code).toBe(R.KERN_INVALID_RIGHT);
    const d = a.mach_port_allocate(MACH_PORT_RIGHT_DEAD_NAME).name;
    a.mach_port_mod_refs(d, MACH_PORT_RIGHT_DEAD_NAME, 1);
    const c = a.mach_port_extract_right(d, MACH_MSG_TYPE_COPY_SEND, b);
    expect(c.code).toBe(0);
    expect(c.right).toBe(MACH_PORT_DEAD);
    expect(refs(a, d, MACH_PORT_RIGHT_DEAD_NAME)).toBe(2);
    expect(a.mach_port_extract_right(d, MACH_MSG_TYPE_MOVE_SEND, b).right).toBe(MACH_PORT_DEAD);
    expect(a.mach_port_extract_right(d, MACH_MSG_TYPE_MOVE_SEND_ONCE, b).right).toBe(MACH_PORT_DEAD);
    expect(a.mach_port_type(d).code).toBe(R.KERN_INVALID_NAME);
    expect(a.mach_port_extract_right(p, MACH_MSG_TYPE_MOVE_RECEIVE, b).acquiredType).toBe(16);
  });

  it("MOVE_SEND of the last uref frees the name with port-deleted; srights unchanged", async () => {
    const { a, b } = setup();
    const p = receivePort(a);
    const s = giveSend(a, p, b);
    const w = receivePort(b);
    b.mach_port_request_notification(s, MACH_NOTIFY_DEAD_NAME, 0, w, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    const moved = b.mach_port_extract_right(s, MACH_MSG_TYPE_MOVE_SEND, a);
    expect(moved.right).toBe(p);
    expect(typeOf(a, p)).toBe(MACH_PORT_TYPE_SEND_RECEIVE);
    expect(b.mach_port_type(s).code).toBe(R.KERN_INVALID_NAME);
    expect(a.mach_port_get_srights(p).srights).toBe(1);
    const note = await notification(b, w);
    expect([note.id, note.value]).toEqual([MACH_NOTIFY_PORT_DELETED, s]);
  });
});

describe("notifications requests", () => {
  it("request_notification error order and variants", () => {
    const { a, b } = setup();
    const p = receivePort(a);
    const d = a.mach_port_allocate(MACH_PORT_RIGHT_DEAD_NAME).name;
    const set = a.mach_port_allocate(MACH_PORT_RIGHT_PORT_SET).name;
    expect(a.mach_port_request_notification(p, 66, 0, MACH_PORT_DEAD, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(
      R.KERN_INVALID_CAPABILITY,
    );
    expect(a.mach_port_request_notification(p, 66, 0, p, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(R.KERN_INVALID_VALUE);
    expect(a.mach_port_request_notification(p, MACH_NOTIFY_PORT_DESTROYED, 1, p, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(
      R.KERN_INVALID_VALUE,
    );
    expect(a.mach_port_request_notification(999, MACH_NOTIFY_NO_SENDERS, 0, p, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(
      R.KERN_INVALID_NAME,
    );
    expect(a.mach_port_request_notification(d, MACH_NOTIFY_NO_SENDERS, 0, p, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(
      R.KERN_INVALID_RIGHT,
    );
    expect(a.mach_port_request_notification(set, MACH_NOTIFY_DEAD_NAME, 0, p, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(
      R.KERN_INVALID_RIGHT,
    );
    expect(a.mach_port_request_notification(d, MACH_NOTIFY_DEAD_NAME, 0, p, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(
      R.KERN_INVALID_ARGUMENT,
    );
    expect(a.mach_port_request_notification(d, MACH_NOTIFY_DEAD_NAME, 1, 0, 0).code).toBe(R.KERN_INVALID_ARGUMENT);
    a.mach_port_mod_refs(d, MACH_PORT_RIGHT_DEAD_NAME, 65534);
    expect(a.mach_port_request_notification(d, MACH_NOTIFY_DEAD_NAME, 1, p, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(
      R.KERN_UREFS_OVERFLOW,
    );
    // Every failed request released its send-once right as a send-once notification.
    expect(a.mach_port_get_receive_status(p).status!.mps_msgcount).toBe(7);
    expect(a.mach_port_get_receive_status(p).status!.mps_sorights).toBe(7);
    void b;
  });

  it("a replaced request comes back as `previous`, a new send-once name in the caller", () => {
    const { a, b } = setup();
    const p = receivePort(a);
    const w = receivePort(b);
    const so = b.mach_port_extract_right(w, MACH_MSG_TYPE_MAKE_SEND_ONCE, a).right;
    expect(a.mach_port_request_notification(p, MACH_NOTIFY_PORT_DESTROYED, 0, so, MACH_MSG_TYPE_MOVE_SEND_ONCE).code).toBe(0);
    expect(a.mach_port_get_receive_status(p).status!.mps_pdrequest).toBe(true);
    const r = a.mach_port_request_notification(p, MACH_NOTIFY_PORT_DESTROYED, 0, MACH_PORT_NULL, 0);
    expect(r.code).toBe(0);
    expect(typeOf(a, r.previous)).toBe(MACH_PORT_TYPE_SEND_ONCE);
    expect(a.portOf(r.previous)).toBe(b.portOf(w));
    expect(a.mach_port_get_receive_status(p).status!.mps_pdrequest).toBe(false);
    expect(audit(a.kernel)).toEqual([]);
  });

  it("no-senders: immediate when srights=0 and sync<=mscount; otherwise on the last send right", async () => {
    const { a, b } = setup();
    const p = receivePort(a);
    const w = receivePort(a);
    expect(a.mach_port_request_notification(p, MACH_NOTIFY_NO_SENDERS, 0, w, MACH_MSG_TYPE_MAKE_SEND_ONCE).code).toBe(0);
    let n = await notification(a, w);
    expect([n.id, n.value]).toEqual([MACH_NOTIFY_NO_SENDERS, 0]);
    expect(a.mach_port_get_receive_status(p).status!.mps_nsrequest).toBe(false);
    // sync = 1 > mscount 0: registered.
    a.mach_port_request_notification(p, MACH_NOTIFY_NO_SENDERS, 1, w, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    expect(a.mach_port_get_receive_status(p).status!.mps_nsrequest).toBe(true);
    const s = giveSend(a, p, b);
    giveSend(a, p, b);
    expect((await poll(a, w)).code).toBe(R.MACH_RCV_TIMED_OUT);
    b.mach_port_deallocate(s);
    expect((await poll(a, w)).code).toBe(R.MACH_RCV_TIMED_OUT);
    b.mach_port_deallocate(s);
    n = await notification(a, w);
    expect([n.id, n.value]).toEqual([MACH_NOTIFY_NO_SENDERS, 2]);
    expect(audit(a.kernel)).toEqual([]);
  });

  it("dead-name on a dead name with sync: urefs+1 and an immediate notification", async () => {
    const { a } = setup();
    const d = a.mach_port_allocate(MACH_PORT_RIGHT_DEAD_NAME).name;
    const w = receivePort(a);
    const r = a.mach_port_request_notification(d, MACH_NOTIFY_DEAD_NAME, 1, w, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    expect(r).toEqual({ code: 0, previous: 0 });
    expect(refs(a, d, MACH_PORT_RIGHT_DEAD_NAME)).toBe(2);
    const n = await notification(a, w);
    expect([n.id, n.value]).toEqual([MACH_NOTIFY_DEAD_NAME, d]);
  });

  it("port death: every send/send-once holder becomes a dead name (§4.4), one notification per request", async () => {
    const { kernel, a, b } = setup();
    const c = kernel.createTask("C");
    const p = receivePort(a);
    const w = receivePort(c);
    const s = giveSend(a, p, b);
    b.mach_port_mod_refs(s, MACH_PORT_RIGHT_SEND, 2);
    const so = a.mach_port_extract_right(p, MACH_MSG_TYPE_MAKE_SEND_ONCE, b).right;
    const s2 = giveSend(a, p, c);
    const so2 = a.mach_port_extract_right(p, MACH_MSG_TYPE_MAKE_SEND_ONCE, c).right;
    const wb = c.mach_port_extract_right(w, MACH_MSG_TYPE_MAKE_SEND_ONCE, b).right;
    b.mach_port_request_notification(s, MACH_NOTIFY_DEAD_NAME, 0, wb, MACH_MSG_TYPE_MOVE_SEND_ONCE);
    c.mach_port_request_notification(so2, MACH_NOTIFY_DEAD_NAME, 0, w, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    expect(typeOf(b, s)).toBe((MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_DNREQUEST) >>> 0);
    expect(a.mach_port_destroy(p)).toBe(0);
    expect(typeOf(b, s)).toBe(MACH_PORT_TYPE_DEAD_NAME);
    expect(refs(b, s, MACH_PORT_RIGHT_DEAD_NAME)).toBe(4);
    expect(refs(b, so, MACH_PORT_RIGHT_DEAD_NAME)).toBe(1);
    expect(refs(c, s2, MACH_PORT_RIGHT_DEAD_NAME)).toBe(1);
    expect(refs(c, so2, MACH_PORT_RIGHT_DEAD_NAME)).toBe(2);
    const got = [await notification(c, w), await notification(c, w)].map((n) => [n.id, n.value]).sort();
    expect(got).toEqual([
      [MACH_NOTIFY_DEAD_NAME, s],
      [MACH_NOTIFY_DEAD_NAME, so2],
    ].sort());
    // deallocate and destroy work on the dead names.
    expect(b.mach_port_deallocate(so)).toBe(0);
    expect(b.mach_port_destroy(s)).toBe(0);
    expect(b.mach_port_names().names).toEqual([]);
    expect(audit(kernel)).toEqual([]);
  });

  it("port-destroyed: the receive right is delivered to the backup instead of dying", async () => {
    const { a, b } = setup();
    const p = receivePort(a);
    const backup = receivePort(b);
    const s = giveSend(a, p, b);
    const so = b.mach_port_extract_right(backup, MACH_MSG_TYPE_MAKE_SEND_ONCE, a).right;
    expect(a.mach_port_request_notification(p, MACH_NOTIFY_PORT_DESTROYED, 0, so, MACH_MSG_TYPE_MOVE_SEND_ONCE).code).toBe(0);
    a.mach_port_mod_refs(p, MACH_PORT_RIGHT_RECEIVE, -1);
    expect(typeOf(b, s)).toBe(MACH_PORT_TYPE_SEND);
    const n = await notification(b, backup);
    expect(n.id).toBe(MACH_NOTIFY_PORT_DESTROYED);
    expect(n.header.bits).toBe(0x80001200);
    // Merged into b's existing send name.
    expect(n.value).toBe(s);
    expect(typeOf(b, s)).toBe(MACH_PORT_TYPE_SEND_RECEIVE);
    expect(b.mach_port_get_receive_status(s).status!.mps_mscount).toBe(0);
    expect(audit(a.kernel)).toEqual([]);
  });

  it("a circular port-destroyed request is dropped and the port dies", () => {
    const { a } = setup();
    const p = receivePort(a);
    a.mach_port_request_notification(p, MACH_NOTIFY_PORT_DESTROYED, 0, p, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    a.mach_port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND);
    a.mach_port_mod_refs(p, MACH_PORT_RIGHT_RECEIVE, -1);
    expect(typeOf(a, p)).toBe(MACH_PORT_TYPE_DEAD_NAME);
    expect(audit(a.kernel)).toEqual([]);
  });
});

describe("port sets, qlimit, receive status", () => {
  it("move_member error order and NOT_IN_SET", () => {
    const { a } = setup();
    const p = receivePort(a);
    const set = a.mach_port_allocate(MACH_PORT_RIGHT_PORT_SET).name;
    const d = a.mach_port_allocate(MACH_PORT_RIGHT_DEAD_NAME).name;
    expect(a.mach_port_move_member(999, set)).toBe(R.KERN_INVALID_NAME);
    expect(a.mach_port_move_member(d, set)).toBe(R.KERN_INVALID_RIGHT);
    expect(a.mach_port_move_member(p, 998)).toBe(R.KERN_INVALID_NAME);
    expect(a.mach_port_move_member(p, d)).toBe(R.KERN_INVALID_RIGHT);
    expect(a.mach_port_move_member(p, MACH_PORT_NULL)).toBe(R.KERN_NOT_IN_SET);
    expect(a.mach_port_move_member(p, set)).toBe(0);
    expect(a.mach_port_move_member(p, set)).toBe(0);
    expect(a.mach_port_get_receive_status(p).status!.mps_pset).toBe(set);
    expect(a.mach_port_get_set_status(set).members).toEqual([p]);
    expect(a.mach_port_destroy(set)).toBe(0);
    expect(a.mach_port_move_member(p, MACH_PORT_NULL)).toBe(R.KERN_NOT_IN_SET);
  });

  it("set_qlimit: INVALID_VALUE above 16, INVALID_NAME, INVALID_RIGHT; get_receive_status fields", () => {
    const { a, b } = setup();
    const p = receivePort(a);
    expect(a.mach_port_set_qlimit(p, 17)).toBe(R.KERN_INVALID_VALUE);
    expect(a.mach_port_set_qlimit(999, 3)).toBe(R.KERN_INVALID_NAME);
    const s = giveSend(a, p, b);
    expect(b.mach_port_set_qlimit(s, 3)).toBe(R.KERN_INVALID_RIGHT);
    expect(a.mach_port_set_qlimit(p, 0)).toBe(0);
    expect(a.mach_port_set_qlimit(p, 16)).toBe(0);
    expect(b.mach_port_get_receive_status(s).code).toBe(R.KERN_INVALID_RIGHT);
    expect(a.mach_port_get_receive_status(999).code).toBe(R.KERN_INVALID_NAME);
    expect(a.mach_port_get_receive_status(p).status).toEqual({
      mps_pset: 0,
      mps_seqno: 0,
      mps_mscount: 1,
      mps_qlimit: 16,
      mps_msgcount: 0,
      mps_sorights: 0,
      mps_srights: true,
      mps_pdrequest: false,
      mps_nsrequest: false,
    });
  });

  it("terminating a task destroys its space; later calls give KERN_INVALID_TASK", async () => {
    const { kernel, a, b } = setup();
    const p = receivePort(a);
    const s = giveSend(a, p, b);
    const w = receivePort(a);
    a.mach_port_request_notification(p, MACH_NOTIFY_NO_SENDERS, 1, w, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    const q = receivePort(b);
    giveSend(b, q, a);
    b.terminate();
    expect(b.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).code).toBe(R.KERN_INVALID_TASK);
    expect(b.mach_port_deallocate(s)).toBe(R.KERN_INVALID_TASK);
    const n = await notification(a, w);
    expect([n.id, n.value]).toEqual([MACH_NOTIFY_NO_SENDERS, 1]);
    expect(a.mach_port_names().types).toContain(MACH_PORT_TYPE_DEAD_NAME);
    expect(audit(kernel)).toEqual([]);
  });
});
