/**
 * Compiled plans: what the codec engine (./engine.ts) actually runs. A routine's plan (./plan.ts)
 * stays plain JSON-serialisable data; the first time the engine sees a plan object it derives,
 * once, everything that does not depend on the values (each item's descriptor words for encoding,
 * the masked words a decoder compares, data sizes, the header bits when no `poly` argument
 * decides them) and caches it in a WeakMap keyed by that plan object. Private to the codec.
 */
import { type AbiInfo, abiInfo } from "../abi.js";
import type { ItemPlan, MessagePlan, RoutinePlan } from "./plan.js";
import type { DecodeFn, EncodeReplyFn, EncodeRequestFn } from "./specialise.js";

const POLY = 0xffffffff;
const COMPLEX = 0x80000000;

/** How a descriptor is laid out: x86_64 (word0, number); i386 short (one word); i386 long (flags, name|size, number). */
export const DESC_X86 = 0;
export const DESC_SHORT = 1;
export const DESC_LONG = 2;

/**
 * Descriptor words (the number excluded: it goes in word1 on x86_64, in bits 16-27 of word0 for
 * the i386 short form, in word2 for the i386 long form).
 */
export function descWord0(mode: number, name: number, bits: number, inline: boolean, long: boolean, dealloc: boolean): number {
  if (mode === DESC_X86) {
    return ((name & 0xff) | ((bits & 0xffff) << 8) | (inline ? 0x20000000 : 0) | (long ? 0x40000000 : 0) | (dealloc ? 0x80000000 : 0)) >>> 0;
  }
  const flags = (inline ? 0x10000000 : 0) | (long ? 0x20000000 : 0) | (dealloc ? 0x40000000 : 0);
  if (mode === DESC_LONG) return flags >>> 0;
  return ((name & 0xff) | ((bits & 0xff) << 8) | flags) >>> 0;
}

/** The second word of an i386 long descriptor (u16 name, u16 size); 0 for the other forms. */
export function descWord1(mode: number, name: number, bits: number): number {
  return mode === DESC_LONG ? ((name & 0xffff) | ((bits & 0xffff) << 16)) >>> 0 : 0;
}

/** One body item, with its precomputed words. Every field is a number or boolean (one shape). */
export class CItem {
  readonly kind: number;
  readonly role: number;
  readonly slot: number;
  readonly name: number;
  readonly recv: number;
  readonly bits: number;
  readonly oolBits: number;
  readonly number: number;
  readonly long: boolean;
  readonly per: number;
  readonly max: number;
  readonly dataSize: number;
  readonly port: boolean;
  readonly signed: boolean;
  readonly poly: number;
  readonly count: number;
  readonly deallocSlot: number;
  readonly scopy: number;
  readonly dealloc: number;
  /** Descriptor layout (DESC_*) and size in bytes. */
  readonly mode: number;
  readonly ds: number;
  /** Encoding: words of the inline descriptor (number excluded; 0 when the name is POLY). */
  readonly inW0: number;
  readonly inW1: number;
  /** Encoding: words of the out-of-line descriptor (number and dealloc bit excluded). */
  readonly oolW0: number;
  readonly oolW1: number;
  readonly deallocBit: number;
  /** Fixed items: data bytes (before padding). */
  readonly bytes: number;
  /**
   * Decoding a fixed inline item (kinds 0-3): word0 & m0 must equal e0; then on x86_64 word1 must
   * equal the number; on i386 long form word1 & m1 must equal e1 and word2 the number. The masks
   * leave out exactly what the checks ignore (the dealloc bit, unused bits, the name when any is
   * accepted). All four are int32s, to compare with `word & mask` as they are.
   */
  readonly m0: number;
  readonly e0: number;
  readonly m1: number;
  readonly e1: number;

  constructor(item: ItemPlan, abi: AbiInfo) {
    this.kind = item.kind;
    this.role = item.role;
    this.slot = item.slot;
    this.name = item.name >>> 0;
    this.recv = item.recv >>> 0;
    this.bits = item.bits;
    this.oolBits = item.oolBits;
    this.number = item.number;
    this.long = item.long;
    this.per = item.per;
    this.max = item.max;
    this.dataSize = item.dataSize;
    this.port = item.port;
    this.signed = item.signed;
    this.poly = item.poly;
    this.count = item.count;
    this.deallocSlot = item.deallocSlot;
    this.scopy = item.scopy;
    this.dealloc = item.dealloc;
    const mode = abi.descriptorSize === 8 ? DESC_X86 : item.long ? DESC_LONG : DESC_SHORT;
    this.mode = mode;
    this.ds = item.long ? abi.longDescriptorSize : abi.descriptorSize;
    // A POLY name writes as all ones (masked), as the descriptor writer always did; a port item
    // with a POLY name computes its words from the `poly` slot per message instead.
    const name = this.name;
    this.inW0 = descWord0(mode, name, item.bits, true, item.long, false);
    this.inW1 = descWord1(mode, name, item.bits);
    this.oolW0 = descWord0(mode, name, item.oolBits, false, item.long, false);
    this.oolW1 = descWord1(mode, name, item.oolBits);
    this.deallocBit = mode === DESC_X86 ? 0x80000000 : 0x40000000;
    this.bytes = Math.ceil((item.number * item.bits) / 8);
    const anyName = this.recv === POLY;
    const recv = anyName ? 0 : this.recv;
    if (mode === DESC_X86) {
      this.m0 = anyName ? 0x60ffff00 : 0x60ffffff;
      this.e0 = descWord0(mode, recv, item.bits, true, item.long, false) | 0;
      this.m1 = 0;
      this.e1 = 0;
    } else if (mode === DESC_SHORT) {
      this.m0 = anyName ? 0x3fffff00 : 0x3fffffff;
      this.e0 = descWord0(mode, recv, item.bits, true, false, false) | ((item.number & 0xfff) << 16);
      // A number the short form cannot hold never matches (the reader compares the full number).
      if (item.number > 0xfff) this.m0 = 0;
      if (item.number > 0xfff) this.e0 = 1;
      this.m1 = 0;
      this.e1 = 0;
    } else {
      this.m0 = 0x30000000;
      this.e0 = 0x30000000;
      this.m1 = anyName ? 0xffff0000 | 0 : -1;
      this.e1 = descWord1(mode, recv, item.bits) | 0;
    }
  }
}

/** A header port of a request: its slot, and its disposition (POLY: from the `poly` slot). */
export interface CHeaderPort {
  slot: number;
  disposition: number;
  poly: number;
}

export class CMessage {
  readonly id: number;
  readonly minSize: number;
  readonly maxSize: number;
  readonly fixed: boolean;
  readonly complex: number;
  readonly items: CItem[];
  /** Request only (a placeholder with slot -1 otherwise). */
  readonly remote: CHeaderPort;
  readonly local: CHeaderPort;
  /** msgh_bits when neither disposition is POLY and complexity is static, else -1. */
  readonly headerBits: number;
  /** Reply: the capacities offered to a server for its variable out arrays (items with a count). */
  readonly capacityItems: CItem[];

  constructor(m: MessagePlan, abi: AbiInfo) {
    this.id = m.id;
    this.minSize = m.minSize;
    this.maxSize = m.maxSize;
    this.fixed = m.fixed;
    this.complex = m.complex;
    this.items = m.items.map((i) => new CItem(i, abi));
    this.remote = m.remote ? { slot: m.remote.slot, disposition: m.remote.disposition >>> 0, poly: m.remote.poly } : { slot: -1, disposition: 0, poly: -1 };
    this.local = m.local ? { slot: m.local.slot, disposition: m.local.disposition >>> 0, poly: m.local.poly } : { slot: -1, disposition: 0, poly: -1 };
    const staticBits = this.remote.disposition !== POLY && this.local.disposition !== POLY && m.complex !== 2;
    this.headerBits = staticBits
      ? ((this.remote.disposition & 0xff) | ((this.local.disposition & 0xff) << 8) | (m.complex === 1 ? COMPLEX : 0)) >>> 0
      : -1;
    this.capacityItems = this.items.filter((i) => i.count >= 0 && (i.kind === 5 || i.kind === 6));
  }
}

export class CRoutine {
  readonly abi: AbiInfo;
  readonly routine: boolean;
  readonly request: CMessage;
  readonly reply: CMessage;
  readonly requestPortSlot: number;
  readonly replyPortSlot: number;
  readonly seqnoSlot: number;
  readonly requestPortPolySlot: number;
  readonly replyPortPolySlot: number;
  /**
   * The specialised codecs (./specialise.ts), generated the first time each direction runs in
   * "specialise" mode; null until then.
   */
  encodeRequest: EncodeRequestFn | null = null;
  encodeReply: EncodeReplyFn | null = null;
  decodeRequest: DecodeFn | null = null;
  decodeReply: DecodeFn | null = null;

  constructor(plan: RoutinePlan) {
    this.abi = abiInfo(plan.abi);
    this.routine = plan.kind === "routine";
    this.request = new CMessage(plan.request, this.abi);
    this.reply = new CMessage(plan.reply, this.abi);
    this.requestPortSlot = plan.requestPortSlot;
    this.replyPortSlot = plan.replyPortSlot;
    this.seqnoSlot = plan.seqnoSlot;
    this.requestPortPolySlot = plan.requestPortPolySlot ?? -1;
    this.replyPortPolySlot = plan.replyPortPolySlot ?? -1;
  }
}

const cache = new WeakMap<RoutinePlan, CRoutine>();
/**
 * The plan looked up last, in front of the WeakMap: an RPC encodes and decodes with the same plan
 * back to back (client: request then reply; server: request then reply), and a WeakMap lookup
 * costs about as much as encoding a small message's header.
 */
let lastPlan: RoutinePlan | null = null;
let lastCompiled: CRoutine | null = null;

/** The compiled form of `plan`, built on first use. Plans are treated as immutable once used. */
export function compiled(plan: RoutinePlan): CRoutine {
  if (plan === lastPlan) return lastCompiled!;
  let c = cache.get(plan);
  if (c === undefined) {
    c = new CRoutine(plan);
    cache.set(plan, c);
  }
  lastPlan = plan;
  lastCompiled = c;
  return c;
}
