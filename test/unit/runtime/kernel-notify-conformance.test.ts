/**
 * Notification messages against GNU MIG's notify.defs vectors (both ABIs): the bytes the kernel
 * builds must equal the user stub's `request`, and what a task receives must equal the vector's
 * `request_delivered` (same receiver name 0x100, same seqno). Vectors: /work/shared/conformance,
 * copied to test/fixtures/conformance/<abi>/notify.json.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { abiInfo, type Abi } from "../../../runtime/abi.js";
import {
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_MAKE_SEND_ONCE,
  MACH_NOTIFY_DEAD_NAME,
  MACH_NOTIFY_NO_SENDERS,
  MACH_NOTIFY_PORT_DELETED,
  MACH_NOTIFY_PORT_DESTROYED,
  MACH_NOTIFY_SEND_ONCE,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_RCV_MSG,
  MACH_RCV_TIMEOUT,
} from "../../../runtime/constants.js";
import { buildNotification, Kernel, type NotificationId } from "../../../runtime/kernel/index.js";
import { hex } from "./support.js";

interface Vector {
  name: string;
  id: number;
  case: string;
  args: Array<{ name: string; value?: string }>;
  request: { hex: string };
  request_delivered: { hex: string };
  seqno_delivered: number;
}

function vectors(abi: Abi): Vector[] {
  const url = new URL(`../../fixtures/conformance/${abi}/notify.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, "utf8")) as { routines: Vector[] }).routines;
}

const NOTIFY_PORT = 0x100;
const ARG_NAME = 0x101;

/** Produces the notification `v` describes in a real kernel and returns the received bytes. */
async function deliver(abi: Abi, v: Vector): Promise<Uint8Array | null> {
  const kernel = new Kernel(abi);
  const t = kernel.createTask("receiver");
  const u = kernel.createTask("other");
  expect(t.mach_port_allocate_name(MACH_PORT_RIGHT_RECEIVE, NOTIFY_PORT)).toBe(0);
  expect(t.mach_port_set_seqno(NOTIFY_PORT, v.seqno_delivered)).toBe(0);
  const value = Number(v.args[1]?.value ?? 0);
  switch (v.id) {
    case MACH_NOTIFY_PORT_DELETED: {
      if (value !== ARG_NAME) return null;
      t.mach_port_allocate_name(MACH_PORT_RIGHT_RECEIVE, ARG_NAME);
      t.mach_port_request_notification(ARG_NAME, MACH_NOTIFY_DEAD_NAME, 0, NOTIFY_PORT, MACH_MSG_TYPE_MAKE_SEND_ONCE);
      t.mach_port_destroy(ARG_NAME);
      break;
    }
    case MACH_NOTIFY_DEAD_NAME: {
      if (value !== ARG_NAME) return null;
      const x = u.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
      expect(t.mach_port_insert_right(ARG_NAME, x, MACH_MSG_TYPE_MAKE_SEND, u)).toBe(0);
      t.mach_port_request_notification(ARG_NAME, MACH_NOTIFY_DEAD_NAME, 0, NOTIFY_PORT, MACH_MSG_TYPE_MAKE_SEND_ONCE);
      u.mach_port_destroy(x);
      break;
    }
    case MACH_NOTIFY_NO_SENDERS: {
      const x = u.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
      u.mach_port_set_mscount(x, value);
      u.mach_port_request_notification(x, MACH_NOTIFY_NO_SENDERS, 0, NOTIFY_PORT, MACH_MSG_TYPE_MAKE_SEND_ONCE, t);
      break;
    }
    case MACH_NOTIFY_SEND_ONCE: {
      const so = t.mach_port_extract_right(NOTIFY_PORT, MACH_MSG_TYPE_MAKE_SEND_ONCE, u).right;
      u.mach_port_deallocate(so);
      break;
    }
    case MACH_NOTIFY_PORT_DESTROYED: {
      if (value !== ARG_NAME) return null;
      const x = u.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
      // The receiver already holds a send right named 0x101, so the receive right merges into it.
      expect(t.mach_port_insert_right(ARG_NAME, x, MACH_MSG_TYPE_MAKE_SEND, u)).toBe(0);
      u.mach_port_request_notification(x, MACH_NOTIFY_PORT_DESTROYED, 0, NOTIFY_PORT, MACH_MSG_TYPE_MAKE_SEND_ONCE, t);
      u.mach_port_destroy(x);
      break;
    }
    default:
      return null;
  }
  const r = await t.mach_msg(null, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, 1024, NOTIFY_PORT, 0);
  expect(r.code).toBe(0);
  return r.msg!.bytes;
}

const kernelIds = new Set<number>([
  MACH_NOTIFY_PORT_DELETED,
  MACH_NOTIFY_PORT_DESTROYED,
  MACH_NOTIFY_NO_SENDERS,
  MACH_NOTIFY_SEND_ONCE,
  MACH_NOTIFY_DEAD_NAME,
]);

for (const abi of ["x86_64", "i386"] as const) {
  describe(`notify.json (${abi})`, () => {
    const all = vectors(abi).filter((v) => kernelIds.has(v.id));

    it.each(all.map((v) => [`${v.name} ${v.case}`, v] as const))("built bytes equal the request: %s", (_, v) => {
      const value = Number(v.args[1]?.value ?? 0);
      const bytes = buildNotification(abiInfo(abi), v.id as NotificationId, Number(v.args[0].value), value);
      expect(hex(bytes)).toBe(v.request.hex);
    });

    it.each(all.map((v) => [`${v.name} ${v.case}`, v] as const))("received bytes equal request_delivered: %s", async (_, v) => {
      const bytes = await deliver(abi, v);
      if (bytes === null) return; // the vector's name is NULL/DEAD: no kernel makes that notification
      expect(hex(bytes)).toBe(v.request_delivered.hex);
    });

    it("covers every kernel-generated notification id with a real delivery", async () => {
      const delivered = new Set<number>();
      for (const v of all) if ((await deliver(abi, v)) !== null) delivered.add(v.id);
      expect([...delivered].sort()).toEqual([...kernelIds].sort());
    });
  });
}
