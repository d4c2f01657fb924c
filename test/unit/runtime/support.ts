/** Builds and inspects typed messages for the kernel tests (either ABI). */
import type { AbiInfo } from "../../../runtime/abi.js";
import { alignUp } from "../../../runtime/abi.js";
import { newDescriptor, readDescriptor, writeDescriptor } from "../../../runtime/codec/descriptor.js";
import { MACH_MSGH_BITS_COMPLEX, msghBits, newHeader, readHeader, writeHeader, writePortSlot } from "../../../runtime/codec/header.js";
import { MACH_MSG_TYPE_BYTE, MACH_MSG_TYPE_INTEGER_32, MACH_MSG_TYPE_MAKE_SEND, MACH_PORT_RIGHT_RECEIVE } from "../../../runtime/constants.js";
import type { MachMessage } from "../../../runtime/message.js";
import { parseBody } from "../../../runtime/kernel/body.js";

export type Item =
  | { kind: "int"; value: number }
  | { kind: "ports"; disposition: number; names: number[] }
  | { kind: "ool"; data: Uint8Array; dealloc?: boolean }
  | { kind: "oolports"; disposition: number; names: number[]; dealloc?: boolean }
  | { kind: "raw"; name: number; size: number; number: number; inline: boolean; dealloc?: boolean; data: Uint8Array };

export interface Build {
  remote: number;
  remoteType: number;
  local?: number;
  localType?: number;
  id?: number;
  complex?: boolean;
  items?: Item[];
}

export function buildMessage(abi: AbiInfo, b: Build): MachMessage {
  const items = b.items ?? [];
  const chunks: Array<(view: DataView, at: number) => void> = [];
  const ool: Uint8Array[] = [];
  let size = abi.headerSize;
  const desc = (name: number, bits: number, number: number, inline: boolean, dealloc = false) => {
    const at = size;
    chunks.push((v) => writeDescriptor(v, at, abi, { name, size: bits, number, inline, longForm: false, deallocate: dealloc }));
    size += abi.descriptorSize;
  };
  let complex = b.complex ?? false;
  for (const it of items) {
    if (it.kind === "int") {
      desc(MACH_MSG_TYPE_INTEGER_32, 32, 1, true);
      const at = size;
      chunks.push((v) => v.setUint32(at, it.value >>> 0, true));
      size += alignUp(4, abi.alignment);
    } else if (it.kind === "ports") {
      complex = true;
      desc(it.disposition, abi.inlinePortBits, it.names.length, true);
      const at = size;
      chunks.push((v) => it.names.forEach((n, i) => writePortSlot(v, at + i * abi.inlinePortSize, abi, n)));
      size += alignUp(it.names.length * abi.inlinePortSize, abi.alignment);
    } else if (it.kind === "ool") {
      complex = true;
      desc(MACH_MSG_TYPE_BYTE, 8, it.data.length, false, it.dealloc);
      ool.push(it.data);
      size += alignUp(abi.pointerSize, abi.alignment);
    } else if (it.kind === "oolports") {
      complex = true;
      desc(it.disposition, 32, it.names.length, false, it.dealloc);
      const region = new Uint8Array(it.names.length * 4);
      const rv = new DataView(region.buffer);
      it.names.forEach((n, i) => rv.setUint32(i * 4, n, true));
      ool.push(region);
      size += alignUp(abi.pointerSize, abi.alignment);
    } else {
      desc(it.name, it.size, it.number, it.inline, it.dealloc);
      const at = size;
      chunks.push((v) => new Uint8Array(v.buffer).set(it.data, at));
      size += alignUp(it.inline ? it.data.length : abi.pointerSize, abi.alignment);
    }
  }
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  writeHeader(view, abi, {
    bits: (msghBits(b.remoteType, b.localType ?? 0) | (complex ? MACH_MSGH_BITS_COMPLEX : 0)) >>> 0,
    size,
    remotePort: b.remote,
    localPort: b.local ?? 0,
    seqno: 0,
    id: b.id ?? 1000,
  });
  for (const c of chunks) c(view, 0);
  return { bytes, ool };
}

export function header(abi: AbiInfo, msg: MachMessage) {
  return readHeader(new DataView(msg.bytes.buffer, msg.bytes.byteOffset, msg.bytes.byteLength), abi, newHeader());
}

/** The port names (inline and out-of-line) and received types a message carries, in body order. */
export function bodyPorts(abi: AbiInfo, msg: MachMessage): Array<{ type: number; name: number; ool: boolean }> {
  const view = new DataView(msg.bytes.buffer, msg.bytes.byteOffset, msg.bytes.byteLength);
  const out: Array<{ type: number; name: number; ool: boolean }> = [];
  for (const item of parseBody(abi, view, msg.bytes.length).items) {
    if (item.name < 16 || item.name > 21) continue;
    for (let i = 0; i < item.number; i++) {
      if (item.inline) out.push({ type: item.name, name: view.getUint32(item.dataOffset + i * abi.inlinePortSize, true), ool: false });
      else {
        const r = msg.ool[item.oolIndex];
        out.push({ type: item.name, name: new DataView(r.buffer, r.byteOffset).getUint32(i * 4, true), ool: true });
      }
    }
  }
  return out;
}

export function descriptors(abi: AbiInfo, msg: MachMessage) {
  const view = new DataView(msg.bytes.buffer, msg.bytes.byteOffset, msg.bytes.byteLength);
  return parseBody(abi, view, msg.bytes.length).items.map((i) => {
    const d = newDescriptor();
    readDescriptor(view, i.descOffset, msg.bytes.length, abi, d);
    return d;
  });
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

export function fromHex(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h, "hex"));
}

import { Kernel } from "../../../runtime/kernel/kernel.js";
import type { KMsg, Port } from "../../../runtime/kernel/objects.js";

/**
 * Checks the invariants of mach-ipc-reference §6 (1-5) over every task and every queued message,
 * and returns the violations (an empty list when all hold).
 */
export function audit(kernel: Kernel): string[] {
  const bad: string[] = [];
  const ports = new Set<Port>();
  const srights = new Map<Port, number>();
  const sorights = new Map<Port, number>();
  const receives = new Map<Port, number>();
  const inc = (m: Map<Port, number>, p: Port | null) => {
    if (!p) return;
    ports.add(p);
    m.set(p, (m.get(p) ?? 0) + 1);
  };
  const visitMsg = (k: KMsg) => {
    inc(k.destType === 17 ? srights : sorights, k.dest);
    for (const r of [k.reply, ...k.rights]) {
      if (!r.port) continue;
      if (r.type === 17) inc(srights, r.port);
      else if (r.type === 18) inc(sorights, r.port);
      else if (r.type === 16) {
        inc(receives, r.port);
        visitPort(r.port);
      }
    }
  };
  const seen = new Set<Port>();
  const visitPort = (p: Port) => {
    if (seen.has(p)) return;
    seen.add(p);
    ports.add(p);
    for (const k of kernel.queuedMessages(p)) visitMsg(k);
    if (p.nsrequest) inc(sorights, p.nsrequest);
    if (p.pdrequest) inc(sorights, p.pdrequest);
  };
  for (const task of kernel.tasks) {
    const { names } = task.mach_port_names();
    const sendReceiveNames = new Map<Port, number>();
    for (const name of names) {
      if (name === 0 || name === 0xffffffff) bad.push(`${task.label}: reserved name ${name}`);
      const e = task.entry(name)!;
      const t = e.type;
      if (t & 0x10000 && !(e.urefs >= 1 && e.urefs <= 65534)) bad.push(`${task.label}:${name} send urefs ${e.urefs}`);
      if (t === 0x100000 && !(e.urefs >= 1 && e.urefs <= 65535)) bad.push(`${task.label}:${name} dead urefs ${e.urefs}`);
      if (t === 0x40000 && e.urefs !== 1) bad.push(`${task.label}:${name} send-once urefs ${e.urefs}`);
      if (e.port) {
        if (e.port.dead) bad.push(`${task.label}:${name} names a dead port`);
        visitPort(e.port);
        if (t & 0x30000) {
          if (sendReceiveNames.has(e.port)) bad.push(`${task.label}: two send/receive names for one port`);
          sendReceiveNames.set(e.port, name);
        }
        if (t & 0x10000) inc(srights, e.port);
        if (t === 0x40000) inc(sorights, e.port);
        if (t & 0x20000) {
          inc(receives, e.port);
          if (e.port.receiver !== task || e.port.receiverName !== name) bad.push(`${task.label}:${name} receiver mismatch`);
          if (e.port.pset && e.port.pset.owner !== task) bad.push(`${task.label}:${name} in another space's set`);
        }
      }
      if (e.dnrequest) inc(sorights, e.dnrequest);
    }
  }
  for (const p of ports) {
    if (p.dead) continue;
    visitPort(p);
  }
  for (const p of ports) {
    if (p.dead) continue;
    if ((srights.get(p) ?? 0) !== p.srights) bad.push(`port ${p.id}: srights ${p.srights} counted ${srights.get(p) ?? 0}`);
    if ((sorights.get(p) ?? 0) !== p.sorights) bad.push(`port ${p.id}: sorights ${p.sorights} counted ${sorights.get(p) ?? 0}`);
    if (p.kobject === null && (receives.get(p) ?? 0) !== 1) bad.push(`port ${p.id}: ${receives.get(p) ?? 0} receive rights`);
    if (p.msgcount !== kernel.queuedMessages(p).length) bad.push(`port ${p.id}: msgcount ${p.msgcount}`);
  }
  return bad;
}

/**
 * Two tasks of a new kernel: `b` holds the receive right `server`, `a` a send right `toServer`
 * to it (the kernel tests' usual world).
 */
export function world(abi: "x86_64" | "i386" = "x86_64") {
  const kernel = new Kernel(abi);
  const a = kernel.createTask("A");
  const b = kernel.createTask("B");
  const server = b.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const toServer = b.mach_port_extract_right(server, MACH_MSG_TYPE_MAKE_SEND, a).right;
  return { kernel, a, b, server, toServer, abi: kernel.abi };
}
