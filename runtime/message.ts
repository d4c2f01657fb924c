/**
 * A Mach message in user space: its bytes exactly as GNU Mach user space sees them (header and
 * typed body, port names in place), plus its out-of-line regions as separate buffers.
 *
 * Out-of-line regions are listed in the order their items appear in the body (one entry per
 * out-of-line item, an empty buffer for a null pointer); the pointer slot in `bytes` holds 0,
 * because a user-space address means nothing here. An out-of-line port array's region holds
 * 4-byte port names, as GNU Mach's current ABI sends them.
 */
export interface MachMessage {
  /** Exactly msgh_size bytes. */
  bytes: Uint8Array;
  /** Out-of-line regions in body order. */
  ool: Uint8Array[];
}
