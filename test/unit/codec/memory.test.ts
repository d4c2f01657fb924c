import { join } from "node:path";
import { expect, it } from "vitest";
import { compileFile } from "../../../compiler/index.js";
import { routinePlanFromIR } from "../../../compiler/layout/plan.js";
import { decodeReply, decodeRequest, encodeErrorReply, encodeReply, encodeRequest } from "../../../runtime/codec/engine.js";
import { beginMessage, target8 } from "../../../runtime/codec/memory.js";
import type { ItemPlan, RoutinePlan } from "../../../runtime/codec/plan.js";
import type { MachMessage } from "../../../runtime/message.js";
import { GNUMACH_INCLUDE, describeWithTools } from "../../support/tools.js";

const DEFS = ["mach/mach.defs", "mach/default_pager.defs", "mach/memory_object.defs", "mach/mach_port.defs", "mach/gnumach.defs", "device/device.defs"];

function plansOf(defs: string, abi: "x86_64" | "i386"): RoutinePlan[] {
  const defines = abi === "x86_64" ? ["__x86_64__"] : [];
  const { ir } = compileFile(join(GNUMACH_INCLUDE, defs), { abi, includeDirs: [GNUMACH_INCLUDE], defines });
  return ir!.routines.map((r) => routinePlanFromIR(r, abi));
}

/** A value for every slot the plan's items use; `big` picks arrays past their inline maximum. */
function valuesFor(plan: RoutinePlan, items: ItemPlan[], big: boolean): unknown[] {
  const values = new Array<unknown>(plan.args.length);
  let seed = 7;
  const fill = (a: Uint8Array) => a.map(() => (seed = (seed * 33 + 11) & 0xff));
  for (const item of items) {
    if (item.slot < 0) continue;
    const elements = big ? item.max * item.per + 3 * item.per : Math.min(3, Math.max(item.max, 1)) * item.per;
    switch (item.kind) {
      case 0:
        values[item.slot] = item.bits === 64 ? 0x8123_4567_89ab_cdefn : 0xa5a5a5a5 & (2 ** item.bits - 1);
        break;
      case 1:
        values[item.slot] = 0x1234;
        break;
      case 2:
        values[item.slot] = item.port ? Uint32Array.from({ length: item.number }, (_, i) => 0x100 + i) : fill(new Uint8Array(Math.ceil((item.number * item.bits) / 8)));
        break;
      case 3:
      case 4:
        values[item.slot] = "mig-ts \u00e9t\u00e9";
        break;
      default:
        values[item.slot] = item.port
          ? Uint32Array.from({ length: elements }, (_, i) => 0x200 + i)
          : fill(new Uint8Array(Math.ceil((elements * (item.kind === 7 ? item.oolBits : item.bits)) / 8)));
    }
    if (item.poly >= 0) values[item.poly] = 19; // MACH_MSG_TYPE_COPY_SEND
    if (item.deallocSlot >= 0) values[item.deallocSlot] = true;
  }
  for (const h of [plan.request.remote, plan.request.local]) {
    if (h && h.slot >= 0) values[h.slot] = 0x77;
    if (h && h.poly >= 0) values[h.poly] = 21; // MACH_MSG_TYPE_MAKE_SEND_ONCE
  }
  return values;
}

/** Fills the memory the next message of at most `maxSize` bytes will be written into. */
function poison(maxSize: number, byte: number): void {
  const base = beginMessage(maxSize);
  target8().fill(byte, base, base + maxSize);
}

const hex = (m: MachMessage | number) => (typeof m === "number" ? String(m) : Buffer.from(m.bytes).toString("hex"));

describeWithTools(["gnumachDefs"], "codec engine message memory", () => {
  it("writes every byte of every message: the memory's old contents never show through", () => {
    let checked = 0;
    for (const abi of ["x86_64", "i386"] as const) {
      for (const defs of DEFS) {
        for (const plan of plansOf(defs, abi)) {
          for (const big of [false, true]) {
            const values = valuesFor(plan, [...plan.request.items, ...plan.reply.items], big);
            poison(plan.request.maxSize, 0xaa);
            const a = encodeRequest(plan, values, 0x50);
            poison(plan.request.maxSize, 0x55);
            const b = encodeRequest(plan, values, 0x50);
            expect(hex(b), `${plan.name} request (${abi})`).toBe(hex(a));
            if (typeof a === "number") continue;
            poison(plan.reply.maxSize, 0xaa);
            const c = encodeReply(plan, a, values);
            poison(plan.reply.maxSize, 0x55);
            const d = encodeReply(plan, a, values);
            expect(hex(d), `${plan.name} reply (${abi})`).toBe(hex(c));
            for (const byte of [0xaa, 0x55]) {
              poison(64, byte);
              const e = encodeErrorReply(abi, a, -303);
              expect(hex(e)).toBe(hex(encodeErrorReply(abi, a, -303)));
            }
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(200);
  });

  it("gives each message memory of its own that later messages never touch, 8-byte aligned", () => {
    const plan = plansOf("mach/default_pager.defs", "x86_64").find((p) => p.name === "default_pager_object_create")!;
    const values = valuesFor(plan, plan.request.items, false);
    const first = encodeRequest(plan, values, 0x50) as MachMessage;
    const before = hex(first);
    const later: MachMessage[] = [];
    for (let i = 0; i < 5000; i++) {
      values[plan.args.indexOf("object_size")] = BigInt(i);
      later.push(encodeRequest(plan, values, 0x50) as MachMessage);
    }
    expect(hex(first)).toBe(before);
    for (const m of later) expect(m.bytes.byteOffset % 8).toBe(0);
    // A failed encode leaves nothing behind either.
    const device = plansOf("device/device.defs", "x86_64").find((p) => p.name === "device_write_inband")!;
    const dv = new Array<unknown>(device.args.length);
    dv[device.args.indexOf("data")] = new Uint8Array(129);
    const last = later[later.length - 1];
    const lastHex = hex(last);
    expect(typeof encodeRequest(device, dv, 0x50)).toBe("number");
    expect(hex(last)).toBe(lastHex);
    // Round trip through the decoder.
    const out = new Array<unknown>(plan.args.length);
    expect(decodeRequest(plan, last, out)).toBe(0);
    expect(out[plan.args.indexOf("object_size")]).toBe(4999n);
  });

  it("gives a message too large for the shared slabs a buffer of its own", () => {
    const big = plansOf("mach/mach.defs", "x86_64").find((p) => p.name === "thread_set_state")!;
    expect(big.request.maxSize).toBeGreaterThan(4096);
    const values = valuesFor(big, big.request.items, false);
    values[big.args.indexOf("new_state")] = new Uint32Array(1024).fill(0x01020304);
    const m = encodeRequest(big, values, 0x50) as MachMessage;
    expect(m.bytes.length).toBe(big.request.maxSize);
    expect(m.bytes.byteOffset).toBe(0);
    expect(m.bytes.byteLength).toBe(m.bytes.buffer.byteLength);
    const out = new Array<unknown>(big.args.length);
    expect(decodeRequest(big, m, out)).toBe(0);
    expect(Array.from(out[big.args.indexOf("new_state")] as Uint32Array).every((x) => x === 0x01020304)).toBe(true);
  });

  it("leaves plans as plain data (the compiled form lives outside them)", () => {
    const plans = plansOf("mach/default_pager.defs", "i386");
    const json = JSON.stringify(plans);
    const keys = plans.map((p) => Object.keys(p).join(","));
    for (const plan of plans) {
      const values = valuesFor(plan, [...plan.request.items, ...plan.reply.items], false);
      const request = encodeRequest(plan, values, 0x50);
      if (typeof request === "number") continue;
      const reply = encodeReply(plan, request, values) as MachMessage;
      decodeRequest(plan, request, new Array(plan.args.length));
      decodeReply(plan, reply, new Array(plan.args.length));
    }
    expect(JSON.stringify(plans)).toBe(json);
    expect(plans.map((p) => Object.keys(p).join(","))).toEqual(keys);
  });
});
