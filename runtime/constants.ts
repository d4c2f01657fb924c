/**
 * Mach and MIG numbers, with Mach's own names so they can be grepped against its documentation
 * (mig-reference §4.1 and §7.4).
 */

/** msgt_name values. */
export const MACH_MSG_TYPE_UNSTRUCTURED = 0;
export const MACH_MSG_TYPE_BIT = 0;
export const MACH_MSG_TYPE_BOOLEAN = 0;
export const MACH_MSG_TYPE_INTEGER_16 = 1;
export const MACH_MSG_TYPE_INTEGER_32 = 2;
export const MACH_MSG_TYPE_CHAR = 8;
export const MACH_MSG_TYPE_BYTE = 9;
export const MACH_MSG_TYPE_INTEGER_8 = 9;
export const MACH_MSG_TYPE_REAL = 10;
export const MACH_MSG_TYPE_INTEGER_64 = 11;
export const MACH_MSG_TYPE_STRING = 12;
export const MACH_MSG_TYPE_STRING_C = 12;
export const MACH_MSG_TYPE_PORT_NAME = 15;
export const MACH_MSG_TYPE_MOVE_RECEIVE = 16;
export const MACH_MSG_TYPE_MOVE_SEND = 17;
export const MACH_MSG_TYPE_MOVE_SEND_ONCE = 18;
export const MACH_MSG_TYPE_COPY_SEND = 19;
export const MACH_MSG_TYPE_MAKE_SEND = 20;
export const MACH_MSG_TYPE_MAKE_SEND_ONCE = 21;
export const MACH_MSG_TYPE_PORT_RECEIVE = 16;
export const MACH_MSG_TYPE_PORT_SEND = 17;
export const MACH_MSG_TYPE_PORT_SEND_ONCE = 18;
export const MACH_MSG_TYPE_PROTECTED_PAYLOAD = 23;
export const MACH_MSG_TYPE_POLYMORPHIC = 0xffffffff;

/** True for the msgt_names that carry a port right (MOVE_RECEIVE .. MAKE_SEND_ONCE). */
export function isPortRightType(name: number): boolean {
  return name >= MACH_MSG_TYPE_MOVE_RECEIVE && name <= MACH_MSG_TYPE_MAKE_SEND_ONCE;
}

/** The type a right arrives as after the kernel copies it in (MAKE_SEND -> PORT_SEND, ...). */
export function receivedPortType(disposition: number): number {
  switch (disposition) {
    case MACH_MSG_TYPE_MOVE_RECEIVE:
      return MACH_MSG_TYPE_PORT_RECEIVE;
    case MACH_MSG_TYPE_MOVE_SEND:
    case MACH_MSG_TYPE_COPY_SEND:
    case MACH_MSG_TYPE_MAKE_SEND:
      return MACH_MSG_TYPE_PORT_SEND;
    case MACH_MSG_TYPE_MOVE_SEND_ONCE:
    case MACH_MSG_TYPE_MAKE_SEND_ONCE:
      return MACH_MSG_TYPE_PORT_SEND_ONCE;
    default:
      return disposition;
  }
}

export const MACH_PORT_NULL = 0;
export const MACH_PORT_DEAD = 0xffffffff;

/** mach_msg options. */
export const MACH_MSG_OPTION_NONE = 0;
export const MACH_SEND_MSG = 0x1;
export const MACH_RCV_MSG = 0x2;
export const MACH_SEND_TIMEOUT = 0x10;
export const MACH_SEND_NOTIFY = 0x20;
export const MACH_SEND_INTERRUPT = 0x40;
export const MACH_SEND_CANCEL = 0x80;
export const MACH_RCV_TIMEOUT = 0x100;
export const MACH_RCV_NOTIFY = 0x200;
export const MACH_RCV_INTERRUPT = 0x400;
export const MACH_RCV_LARGE = 0x800;
export const MACH_MSG_TIMEOUT_NONE = 0;

/** Return codes, by symbolic name. */
export const ReturnCode = {
  KERN_SUCCESS: 0,
  KERN_INVALID_ADDRESS: 1,
  KERN_PROTECTION_FAILURE: 2,
  KERN_NO_SPACE: 3,
  KERN_INVALID_ARGUMENT: 4,
  KERN_FAILURE: 5,
  KERN_RESOURCE_SHORTAGE: 6,
  KERN_NOT_RECEIVER: 7,
  KERN_NO_ACCESS: 8,
  KERN_MEMORY_FAILURE: 9,
  KERN_MEMORY_ERROR: 10,
  KERN_NOT_IN_SET: 12,
  KERN_NAME_EXISTS: 13,
  KERN_ABORTED: 14,
  KERN_INVALID_NAME: 15,
  KERN_INVALID_TASK: 16,
  KERN_INVALID_RIGHT: 17,
  KERN_INVALID_VALUE: 18,
  KERN_UREFS_OVERFLOW: 19,
  KERN_INVALID_CAPABILITY: 20,
  KERN_RIGHT_EXISTS: 21,
  KERN_INVALID_HOST: 22,
  KERN_MEMORY_PRESENT: 23,
  KERN_WRITE_PROTECTION_FAILURE: 24,
  KERN_TERMINATED: 26,
  KERN_TIMEDOUT: 27,
  KERN_INTERRUPTED: 28,

  MACH_SEND_IN_PROGRESS: 0x10000001,
  MACH_SEND_INVALID_DATA: 0x10000002,
  MACH_SEND_INVALID_DEST: 0x10000003,
  MACH_SEND_TIMED_OUT: 0x10000004,
  MACH_SEND_WILL_NOTIFY: 0x10000005,
  MACH_SEND_NOTIFY_IN_PROGRESS: 0x10000006,
  MACH_SEND_INTERRUPTED: 0x10000007,
  MACH_SEND_MSG_TOO_SMALL: 0x10000008,
  MACH_SEND_INVALID_REPLY: 0x10000009,
  MACH_SEND_INVALID_RIGHT: 0x1000000a,
  MACH_SEND_INVALID_NOTIFY: 0x1000000b,
  MACH_SEND_INVALID_MEMORY: 0x1000000c,
  MACH_SEND_NO_BUFFER: 0x1000000d,
  MACH_SEND_NO_NOTIFY: 0x1000000e,
  MACH_SEND_INVALID_TYPE: 0x1000000f,
  MACH_SEND_INVALID_HEADER: 0x10000010,

  MACH_RCV_IN_PROGRESS: 0x10004001,
  MACH_RCV_INVALID_NAME: 0x10004002,
  MACH_RCV_TIMED_OUT: 0x10004003,
  MACH_RCV_TOO_LARGE: 0x10004004,
  MACH_RCV_INTERRUPTED: 0x10004005,
  MACH_RCV_PORT_CHANGED: 0x10004006,
  MACH_RCV_INVALID_NOTIFY: 0x10004007,
  MACH_RCV_INVALID_DATA: 0x10004008,
  MACH_RCV_PORT_DIED: 0x10004009,
  MACH_RCV_IN_SET: 0x1000400a,
  MACH_RCV_HEADER_ERROR: 0x1000400b,
  MACH_RCV_BODY_ERROR: 0x1000400c,

  MIG_TYPE_ERROR: -300,
  MIG_REPLY_MISMATCH: -301,
  MIG_REMOTE_ERROR: -302,
  MIG_BAD_ID: -303,
  MIG_BAD_ARGUMENTS: -304,
  MIG_NO_REPLY: -305,
  MIG_EXCEPTION: -306,
  MIG_ARRAY_TOO_LARGE: -307,
  MIG_SERVER_DIED: -308,
  MIG_DESTROY_REQUEST: -309,
} as const;

export type ReturnCodeName = keyof typeof ReturnCode;

const namesByCode = new Map<number, ReturnCodeName>();
for (const [name, code] of Object.entries(ReturnCode) as Array<[ReturnCodeName, number]>) {
  if (!namesByCode.has(code)) namesByCode.set(code, name);
}

/**
 * The symbolic name of a return code ("MACH_SEND_INVALID_DEST"), or its number as a string for
 * codes Mach does not name. MACH_MSG_* special bits (IPC_SPACE, VM_SPACE, ...) are shown with `|`.
 */
export function returnCodeName(code: number): string {
  const exact = namesByCode.get(code);
  if (exact) return exact;
  const special = code & 0x3c00;
  if (special !== 0 && code > 0) {
    const base = namesByCode.get(code & ~0x3c00);
    if (base) {
      const bits: string[] = [];
      if (code & 0x2000) bits.push("MACH_MSG_IPC_SPACE");
      if (code & 0x1000) bits.push("MACH_MSG_VM_SPACE");
      if (code & 0x800) bits.push("MACH_MSG_IPC_KERNEL");
      if (code & 0x400) bits.push("MACH_MSG_VM_KERNEL");
      return [base, ...bits].join("|");
    }
  }
  return String(code);
}

/** An error carrying a Mach/MIG return code and its symbolic name: what client stubs reject with. */
export class MachError extends Error {
  readonly code: number;
  readonly codeName: string;
  constructor(code: number, context?: string) {
    const codeName = returnCodeName(code);
    super(context ? `${context}: ${codeName} (${code})` : `${codeName} (${code})`);
    this.name = "MachError";
    this.code = code;
    this.codeName = codeName;
  }
}

/** mach_msg_header_t bits beyond the dispositions (kernel-internal ones included, mig-reference §6.1). */
export const MACH_MSGH_BITS_CIRCULAR = 0x40000000;
export const MACH_MSGH_BITS_PORTS_MASK = 0x0000ffff;

/** mach_port_right_t (mach-ipc-reference §1.1). */
export const MACH_PORT_RIGHT_SEND = 0;
export const MACH_PORT_RIGHT_RECEIVE = 1;
export const MACH_PORT_RIGHT_SEND_ONCE = 2;
export const MACH_PORT_RIGHT_PORT_SET = 3;
export const MACH_PORT_RIGHT_DEAD_NAME = 4;
export const MACH_PORT_RIGHT_NUMBER = 5;

/** mach_port_type_t bits: MACH_PORT_TYPE(right) = 1 << (right + 16). */
export const MACH_PORT_TYPE_NONE = 0;
export const MACH_PORT_TYPE_SEND = 0x00010000;
export const MACH_PORT_TYPE_RECEIVE = 0x00020000;
export const MACH_PORT_TYPE_SEND_ONCE = 0x00040000;
export const MACH_PORT_TYPE_PORT_SET = 0x00080000;
export const MACH_PORT_TYPE_DEAD_NAME = 0x00100000;
export const MACH_PORT_TYPE_SEND_RECEIVE = 0x00030000;
export const MACH_PORT_TYPE_SEND_RIGHTS = 0x00050000;
export const MACH_PORT_TYPE_PORT_RIGHTS = 0x00070000;
export const MACH_PORT_TYPE_PORT_OR_DEAD = 0x00170000;
export const MACH_PORT_TYPE_ALL_RIGHTS = 0x001f0000;
/** Pseudo-bits OR-ed in by mach_port_type / mach_port_names. */
export const MACH_PORT_TYPE_DNREQUEST = 0x80000000;
export const MACH_PORT_TYPE_MAREQUEST = 0x40000000;

export const MACH_PORT_UREFS_MAX = 0xffff;
export const MACH_PORT_QLIMIT_DEFAULT = 5;
export const MACH_PORT_QLIMIT_MAX = 16;

/** notify.defs message ids (subsystem notify 64). */
export const MACH_NOTIFY_FIRST = 64;
export const MACH_NOTIFY_PORT_DELETED = 65;
export const MACH_NOTIFY_MSG_ACCEPTED = 66;
export const MACH_NOTIFY_PORT_DESTROYED = 69;
export const MACH_NOTIFY_NO_SENDERS = 70;
export const MACH_NOTIFY_SEND_ONCE = 71;
export const MACH_NOTIFY_DEAD_NAME = 72;
export const MACH_NOTIFY_LAST = 77;

/** Special bits a receive or pseudo-receive can OR into its return code. */
export const MACH_MSG_IPC_SPACE = 0x2000;
export const MACH_MSG_VM_SPACE = 0x1000;
export const MACH_MSG_IPC_KERNEL = 0x800;
export const MACH_MSG_VM_KERNEL = 0x400;
