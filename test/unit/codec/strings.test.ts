import { describe, expect, it } from "vitest";
import { migStrncpy, readCString } from "../../../runtime/codec/strings.js";

describe("mig_strncpy (glibc contract)", () => {
  it("copies a short string and NUL-pads the rest of the first len-1 bytes", () => {
    const dst = new Uint8Array(8).fill(0xaa);
    expect(migStrncpy(dst, 0, "abc", 8)).toBe(3);
    expect([...dst]).toEqual([97, 98, 99, 0, 0, 0, 0, 0]);
  });

  it("truncates to len-1 characters and terminates", () => {
    const dst = new Uint8Array(4).fill(0xaa);
    expect(migStrncpy(dst, 0, "abcdef", 4)).toBe(3);
    expect([...dst]).toEqual([97, 98, 99, 0]);
  });

  it("never splits a UTF-8 sequence when truncating", () => {
    const dst = new Uint8Array(4);
    const n = migStrncpy(dst, 0, "aé€", 4);
    expect(n).toBe(3);
    expect(readCString(dst, 0, 3)).toBe("aé");
  });
});

describe("reading received strings", () => {
  it("stops at the first NUL", () => {
    expect(readCString(new Uint8Array([104, 105, 0, 120]), 0, 4)).toBe("hi");
  });

  it("is NUL-terminated within its bound even when the sender did not terminate it", () => {
    expect(readCString(new Uint8Array([97, 98, 99, 100]), 0, 3)).toBe("abc");
  });
});
