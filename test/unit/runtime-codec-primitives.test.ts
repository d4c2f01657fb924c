import { describe, expect, it } from "vitest";
import { I386, X86_64 } from "../../runtime/abi.js";
import { newDescriptor, readDescriptor, writeDescriptor } from "../../runtime/codec/descriptor.js";
import { MachError, ReturnCode, returnCodeName } from "../../runtime/constants.js";

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

describe("type descriptors", () => {
  // Values from mig-reference §6.2: the RetCode descriptor (INTEGER_32, 32, 1, inline).
  it("writes the x86_64 RetCode descriptor as 0x0000000120002002", () => {
    const buf = new Uint8Array(8);
    const n = writeDescriptor(new DataView(buf.buffer), 0, X86_64, { ...newDescriptor(), name: 2, size: 32, number: 1 });
    expect(n).toBe(8);
    expect(new DataView(buf.buffer).getBigUint64(0, true)).toBe(0x0000000120002002n);
  });

  it("writes the i386 RetCode and inline COPY_SEND descriptors", () => {
    const buf = new Uint8Array(4);
    const v = new DataView(buf.buffer);
    writeDescriptor(v, 0, I386, { ...newDescriptor(), name: 2, size: 32, number: 1 });
    expect(v.getUint32(0, true)).toBe(0x10012002);
    writeDescriptor(v, 0, I386, { ...newDescriptor(), name: 19, size: 32, number: 1 });
    expect(v.getUint32(0, true)).toBe(0x10012013);
  });

  it("round-trips i386 long descriptors through 12 bytes", () => {
    const buf = new Uint8Array(12);
    const v = new DataView(buf.buffer);
    const d = { name: 12, size: 2048, number: 1, inline: true, longForm: true, deallocate: false };
    expect(writeDescriptor(v, 0, I386, d)).toBe(12);
    expect(hex(buf)).toBe("000000300c00000801000000");
    const out = newDescriptor();
    expect(readDescriptor(v, 0, 12, I386, out)).toBe(12);
    expect(out).toEqual(d);
    expect(readDescriptor(v, 0, 8, I386, out)).toBe(-1);
  });
});

describe("return codes", () => {
  it("names codes symbolically", () => {
    expect(returnCodeName(ReturnCode.MIG_SERVER_DIED)).toBe("MIG_SERVER_DIED");
    expect(returnCodeName(0x10000003)).toBe("MACH_SEND_INVALID_DEST");
    expect(returnCodeName(0x10000003 | 0x2000)).toBe("MACH_SEND_INVALID_DEST|MACH_MSG_IPC_SPACE");
    expect(returnCodeName(12345)).toBe("12345");
    const e = new MachError(-303);
    expect(e.codeName).toBe("MIG_BAD_ID");
    expect(e.code).toBe(-303);
  });
});
