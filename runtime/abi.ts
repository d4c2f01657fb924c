/**
 * The two GNU Mach message ABIs mig-ts speaks (DESIGN.md §3). Everything that differs between
 * them is a number in this table, so codecs never branch on the ABI's name.
 */
export type Abi = "x86_64" | "i386";

export interface AbiInfo {
  readonly name: Abi;
  /** sizeof(mach_msg_header_t). */
  readonly headerSize: number;
  readonly header: {
    readonly bits: number;
    readonly size: number;
    readonly remotePort: number;
    readonly localPort: number;
    readonly seqno: number;
    readonly id: number;
  };
  /** Bytes of a short type descriptor. */
  readonly descriptorSize: number;
  /** Bytes of a long type descriptor (the same 8-byte struct on x86_64). */
  readonly longDescriptorSize: number;
  /** Body items start on this boundary and data is padded to it. */
  readonly alignment: number;
  /** Bytes of one port name inline in the body (x86_64: 4-byte name zero-extended to 8). */
  readonly inlinePortSize: number;
  /** Bits per element of an inline port (msgt_size). */
  readonly inlinePortBits: number;
  /** Bytes of an out-of-line pointer slot. */
  readonly pointerSize: number;
  /** sizeof(mig_reply_header_t): header + RetCode descriptor + RetCode (+ tail pad). */
  readonly replyHeaderSize: number;
}

export const X86_64: AbiInfo = Object.freeze({
  name: "x86_64",
  headerSize: 32,
  header: Object.freeze({ bits: 0, size: 4, remotePort: 8, localPort: 16, seqno: 24, id: 28 }),
  descriptorSize: 8,
  longDescriptorSize: 8,
  alignment: 8,
  inlinePortSize: 8,
  inlinePortBits: 64,
  pointerSize: 8,
  replyHeaderSize: 48,
});

export const I386: AbiInfo = Object.freeze({
  name: "i386",
  headerSize: 24,
  header: Object.freeze({ bits: 0, size: 4, remotePort: 8, localPort: 12, seqno: 16, id: 20 }),
  descriptorSize: 4,
  longDescriptorSize: 12,
  alignment: 4,
  inlinePortSize: 4,
  inlinePortBits: 32,
  pointerSize: 4,
  replyHeaderSize: 32,
});

export function abiInfo(abi: Abi): AbiInfo {
  return abi === "i386" ? I386 : X86_64;
}

/** Rounds `n` up to a multiple of `alignment` (a power of two). */
export function alignUp(n: number, alignment: number): number {
  return (n + alignment - 1) & ~(alignment - 1);
}
