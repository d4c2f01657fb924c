/**
 * The ABI facts the semantic phase needs (mig-reference §4, DESIGN §3). Message layout facts
 * (header and descriptor sizes) belong to the layout phase, not here.
 */
import type { Abi } from "../preprocess/types.js";
import { MsgTypeName } from "./model.js";

export interface AbiFacts {
  abi: Abi;
  /** Bits of an inline port right on the wire (`msgt_size` of port types). */
  portBits: number;
  /** Bits of MIG's built-in `uintptr_t`/`intptr_t`. */
  pointerBits: number;
  /** Largest alignment a C struct member gets when flattening `struct { }` types. */
  structAlignmentCap: number;
}

export const ABI_FACTS: Record<Abi, AbiFacts> = {
  x86_64: { abi: "x86_64", portBits: 64, pointerBits: 64, structAlignmentCap: 8 },
  i386: { abi: "i386", portBits: 32, pointerBits: 32, structAlignmentCap: 4 },
};

/** An indefinite array (`array[] of T`) travels inline up to this many bytes, else out of line. */
export const INDEFINITE_INLINE_BYTES = 2048;

/** The descriptor limits that force the long form (the i386 short descriptor's bitfields). */
export const SHORT_FORM_MAX_SIZE = 255;
export const SHORT_FORM_MAX_NUMBER = 4095;
/** `msgt_size` is 16 bits even in the long form. */
export const MAX_ELEMENT_BITS = 65535;

export interface IpcNameInfo {
  value: number;
  /** Default `msgt_size` in bits; 0 when the name implies none (the long form is required). */
  defaultSize: (abi: AbiFacts) => number;
  /** The msgt_name the receiver sees for this sender-side name. */
  received: number;
  /** Port rights (and POLYMORPHIC) travel as port names. */
  isPort: boolean;
}

const fixed = (n: number) => () => n;
const port = (abi: AbiFacts) => abi.portBits;

/** GNU Mach's symbolic msgt_names (mig-reference §4.1), keyed by their canonical spelling. */
export const IPC_NAMES: Record<string, IpcNameInfo> = {
  MACH_MSG_TYPE_UNSTRUCTURED: { value: 0, defaultSize: fixed(0), received: 0, isPort: false },
  MACH_MSG_TYPE_BIT: { value: 0, defaultSize: fixed(1), received: 0, isPort: false },
  MACH_MSG_TYPE_BOOLEAN: { value: 0, defaultSize: fixed(32), received: 0, isPort: false },
  MACH_MSG_TYPE_INTEGER_16: { value: 1, defaultSize: fixed(16), received: 1, isPort: false },
  MACH_MSG_TYPE_INTEGER_32: { value: 2, defaultSize: fixed(32), received: 2, isPort: false },
  MACH_MSG_TYPE_CHAR: { value: 8, defaultSize: fixed(8), received: 8, isPort: false },
  MACH_MSG_TYPE_BYTE: { value: 9, defaultSize: fixed(8), received: 9, isPort: false },
  MACH_MSG_TYPE_INTEGER_8: { value: 9, defaultSize: fixed(8), received: 9, isPort: false },
  MACH_MSG_TYPE_REAL: { value: 10, defaultSize: fixed(0), received: 10, isPort: false },
  MACH_MSG_TYPE_INTEGER_64: { value: 11, defaultSize: fixed(64), received: 11, isPort: false },
  MACH_MSG_TYPE_STRING: { value: 12, defaultSize: fixed(0), received: 12, isPort: false },
  MACH_MSG_TYPE_STRING_C: { value: 12, defaultSize: fixed(0), received: 12, isPort: false },
  MACH_MSG_TYPE_PORT_NAME: { value: 15, defaultSize: fixed(32), received: 15, isPort: false },
  MACH_MSG_TYPE_MOVE_RECEIVE: { value: 16, defaultSize: port, received: 16, isPort: true },
  MACH_MSG_TYPE_MOVE_SEND: { value: 17, defaultSize: port, received: 17, isPort: true },
  MACH_MSG_TYPE_MOVE_SEND_ONCE: { value: 18, defaultSize: port, received: 18, isPort: true },
  MACH_MSG_TYPE_COPY_SEND: { value: 19, defaultSize: port, received: 17, isPort: true },
  MACH_MSG_TYPE_MAKE_SEND: { value: 20, defaultSize: port, received: 17, isPort: true },
  MACH_MSG_TYPE_MAKE_SEND_ONCE: { value: 21, defaultSize: port, received: 18, isPort: true },
  // Written as a type, a received-right name means "the sender chooses the disposition".
  MACH_MSG_TYPE_PORT_RECEIVE: {
    value: MsgTypeName.POLYMORPHIC,
    defaultSize: port,
    received: 16,
    isPort: true,
  },
  MACH_MSG_TYPE_PORT_SEND: {
    value: MsgTypeName.POLYMORPHIC,
    defaultSize: port,
    received: 17,
    isPort: true,
  },
  MACH_MSG_TYPE_PORT_SEND_ONCE: {
    value: MsgTypeName.POLYMORPHIC,
    defaultSize: port,
    received: 18,
    isPort: true,
  },
  // Spelled out, POLYMORPHIC has no implied size (GNU MIG: "must use full IPC type decl");
  // the `polymorphic` keyword is port-sized.
  MACH_MSG_TYPE_POLYMORPHIC: {
    value: MsgTypeName.POLYMORPHIC,
    defaultSize: fixed(0),
    received: MsgTypeName.POLYMORPHIC,
    isPort: true,
  },
};

/** What `mig -v` prints for a msgt_name value when the source gave no spelling. */
export function ipcNameText(value: number, received: boolean): string {
  switch (value) {
    case 0:
      return "MACH_MSG_TYPE_UNSTRUCTURED";
    case 1:
      return "MACH_MSG_TYPE_INTEGER_16";
    case 2:
      return "MACH_MSG_TYPE_INTEGER_32";
    case 8:
      return "MACH_MSG_TYPE_CHAR";
    case 9:
      return "MACH_MSG_TYPE_BYTE";
    case 10:
      return "MACH_MSG_TYPE_REAL";
    case 11:
      return "MACH_MSG_TYPE_INTEGER_64";
    case 12:
      return "MACH_MSG_TYPE_STRING";
    case 15:
      return "MACH_MSG_TYPE_PORT_NAME";
    case 16:
      return received ? "MACH_MSG_TYPE_PORT_RECEIVE" : "MACH_MSG_TYPE_MOVE_RECEIVE";
    case 17:
      return received ? "MACH_MSG_TYPE_PORT_SEND" : "MACH_MSG_TYPE_MOVE_SEND";
    case 18:
      return received ? "MACH_MSG_TYPE_PORT_SEND_ONCE" : "MACH_MSG_TYPE_MOVE_SEND_ONCE";
    case 19:
      return "MACH_MSG_TYPE_COPY_SEND";
    case 20:
      return "MACH_MSG_TYPE_MAKE_SEND";
    case 21:
      return "MACH_MSG_TYPE_MAKE_SEND_ONCE";
    case MsgTypeName.POLYMORPHIC:
      return "MACH_MSG_TYPE_POLYMORPHIC";
    default:
      return String(value);
  }
}

/** msgt_names that carry a port right (PORT_NAME does not). */
export function isPortName(value: number): boolean {
  return (value >= 16 && value <= 21) || value === MsgTypeName.POLYMORPHIC;
}
