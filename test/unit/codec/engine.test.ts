import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { compileFile } from "../../../compiler/index.js";
import { routinePlanFromIR } from "../../../compiler/layout/plan.js";
import { decodeReply, decodeRequest, encodeRequest } from "../../../runtime/codec/engine.js";
import { ReturnCode } from "../../../runtime/constants.js";
import type { MachMessage } from "../../../runtime/message.js";
import { GNUMACH_INCLUDE, describeWithTools } from "../../support/tools.js";

const vectors = join(import.meta.dirname, "../../fixtures/conformance");

function planOf(defs: string, routine: string, abi: "x86_64" | "i386") {
  const defines = abi === "x86_64" ? ["__x86_64__"] : [];
  const { ir } = compileFile(join(GNUMACH_INCLUDE, defs), { abi, includeDirs: [GNUMACH_INCLUDE], defines });
  return routinePlanFromIR(ir!.routines.find((r) => r.name === routine)!, abi);
}

describeWithTools(["gnumachDefs"], "codec engine", () => {
  it("refuses a bounded array over its limit with MIG_ARRAY_TOO_LARGE and builds nothing", () => {
    const plan = planOf("device/device.defs", "device_write_inband", "x86_64");
    const values = new Array<unknown>(plan.args.length);
    values[plan.args.indexOf("device")] = 0x100;
    values[plan.args.indexOf("data")] = new Uint8Array(129);
    expect(encodeRequest(plan, values, 0x50)).toBe(ReturnCode.MIG_ARRAY_TOO_LARGE);
    values[plan.args.indexOf("data")] = new Uint8Array(128);
    expect(typeof encodeRequest(plan, values, 0x50)).toBe("object");
  });

  it("sends an indefinite array inline up to 2048 bytes and out of line beyond, setting the complex bit", () => {
    const plan = planOf("mach/x86_64/mach_i386.defs", "i386_set_ldt", "x86_64");
    const values = new Array<unknown>(plan.args.length);
    values[plan.args.indexOf("desc_list")] = new Uint8Array(2048);
    const inline = encodeRequest(plan, values, 0x50) as MachMessage;
    expect(inline.ool).toHaveLength(0);
    expect(new DataView(inline.bytes.buffer, inline.bytes.byteOffset).getUint32(0, true) & 0x80000000).toBe(0);
    values[plan.args.indexOf("desc_list")] = new Uint8Array(2056);
    const ool = encodeRequest(plan, values, 0x50) as MachMessage;
    expect(ool.ool).toHaveLength(1);
    expect(ool.ool[0].length).toBe(2056);
    expect(new DataView(ool.bytes.buffer, ool.bytes.byteOffset).getUint32(0, true) >>> 31).toBe(1);
  });

  it("answers every corrupted delivered message with a code and never throws", () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 0x1000000;
    for (const abi of ["x86_64", "i386"] as const) {
      for (const [defs, file] of [
        ["mach/default_pager.defs", "default_pager.json"],
        ["mach/mach.defs", "mach.json"],
      ]) {
        const data = JSON.parse(readFileSync(join(vectors, abi, file), "utf8"));
        const defines = abi === "x86_64" ? ["__x86_64__"] : [];
        const { ir } = compileFile(join(GNUMACH_INCLUDE, defs), { abi, includeDirs: [GNUMACH_INCLUDE], defines });
        for (const v of data.routines.filter((r: { case: string }) => r.case === "random" || r.case === "ool")) {
          const plan = routinePlanFromIR(ir!.routines.find((r) => r.name === v.name)!, abi);
          for (const [which, m] of [["request", v.request_delivered], ["reply", v.reply_delivered]] as const) {
            if (!m) continue;
            for (let k = 0; k < 30; k++) {
              const bytes = new Uint8Array(Buffer.from(m.hex, "hex"));
              const cut = random() < 0.3 ? Math.floor(random() * bytes.length) : bytes.length;
              const msg: MachMessage = { bytes: bytes.subarray(0, cut), ool: m.ool.map((r: { hex: string }) => new Uint8Array(Buffer.from(r.hex, "hex"))) };
              for (let f = 0; f < 3; f++) if (cut > 0) msg.bytes[Math.floor(random() * cut)] ^= 1 << Math.floor(random() * 8);
              if (random() < 0.2) msg.ool = [];
              const out: unknown[] = new Array(plan.args.length);
              const code = which === "request" ? decodeRequest(plan, msg, out) : decodeReply(plan, msg, out);
              expect(typeof code).toBe("number");
            }
          }
        }
      }
    }
  });
});
