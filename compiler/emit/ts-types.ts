/**
 * How MIG types look in TypeScript: the mapping from an IR type to a TS type, and the values the
 * codec engine uses for them (runtime/codec/plan.ts "VALUE MODEL").
 *
 *  - integers of 64 bits: bigint; smaller integers and booleans: number;
 *  - port rights and names: `Port<R>`, a number branded with the right it carries
 *    ("send", "send_once", "receive", "name", or "any" when the sender chooses);
 *  - c_string / MACH_MSG_TYPE_STRING: string;
 *  - `struct { }` types: an interface (converted to and from the wire's flattened words by
 *    generated functions);
 *  - arrays of structs: arrays of the interface;
 *  - other arrays and fixed arrays: the typed array of the wire element, as the codec produces.
 */
import type { IrType } from "../layout/ir.js";
import { isSignedCType } from "../layout/message-layout.js";
import { safeName } from "./imports.js";
import { type TypeNode, tarray, tlit, tref } from "./ts.js";

const POLY = 0xffffffff;
const MSG_PORT_NAME = 15;
const MSG_STRING = 12;

/** The right a port type carries once received. */
export function portRight(type: IrType): string {
  switch (type.outName) {
    case 16:
      return "receive";
    case 17:
      return "send";
    case 18:
      return "send_once";
    case MSG_PORT_NAME:
      return "name";
    default:
      return "any";
  }
}

function isPortLike(type: IrType): boolean {
  return type.isPort || type.inName === MSG_PORT_NAME || type.outName === MSG_PORT_NAME;
}

function isStringType(type: IrType): boolean {
  return type.isString || type.inName === MSG_STRING;
}

/** What kind of TS value carries the type. */
export type ValueShape =
  | { shape: "bigint" }
  | { shape: "number" }
  | { shape: "port"; right: string }
  | { shape: "string" }
  | { shape: "struct"; type: IrType }
  | { shape: "structArray"; element: IrType }
  | { shape: "typedArray"; name: string };

/** The typed array the codec uses for elements of `bits` bits. */
export function typedArrayName(bits: number, signed: boolean, port: boolean): string {
  if (port) return "Uint32Array";
  switch (bits) {
    case 8:
      return "Uint8Array";
    case 16:
      return signed ? "Int16Array" : "Uint16Array";
    case 32:
      return signed ? "Int32Array" : "Uint32Array";
    case 64:
      return signed ? "BigInt64Array" : "BigUint64Array";
    default:
      return "Uint8Array";
  }
}

export function valueShape(type: IrType): ValueShape {
  if (isStringType(type)) return { shape: "string" };
  if (type.structFields && type.structFields.length > 0 && !type.varArray && type.inline) {
    return { shape: "struct", type };
  }
  const element = type.element;
  const isArray = type.varArray || !type.inline || element !== undefined || type.number !== 1;
  if (isArray) {
    if (element && element.structFields && element.structFields.length > 0) return { shape: "structArray", element };
    if (element && isStringType(element) && !type.varArray) return { shape: "string" };
    const port = isPortLike(type) || (element !== undefined && isPortLike(element));
    const bits = type.size;
    return { shape: "typedArray", name: typedArrayName(bits, isSignedCType(type.cUserType || type.name), port) };
  }
  if (isPortLike(type)) return { shape: "port", right: portRight(type) };
  if (type.size === 64) return { shape: "bigint" };
  return { shape: "number" };
}

/** The TS type of a value of `type`; named types are referred to by name when `named` knows it. */
export function tsType(type: IrType, named: ReadonlySet<string>): TypeNode {
  if (type.name && named.has(type.name)) return tref(safeName(type.name));
  return tsStructure(type, named);
}

/** The TS type of `type`'s structure (ignoring its own name). */
export function tsStructure(type: IrType, named: ReadonlySet<string>): TypeNode {
  const shape = valueShape(type);
  switch (shape.shape) {
    case "bigint":
      return tref("bigint");
    case "number":
      return tref("number");
    case "port":
      return tref("Port", [tlit(shape.right)]);
    case "string":
      return tref("string");
    case "struct":
      // An anonymous struct only appears as a named type's structure in practice.
      return tref("Uint8Array");
    case "structArray":
      return tarray(shape.element.name && named.has(shape.element.name) ? tref(safeName(shape.element.name)) : tref("Uint8Array"));
    case "typedArray":
      return tref(shape.name);
  }
}

/** Bytes of one element of a struct array (or of one struct). */
export function structByteSize(type: IrType): number {
  return Math.ceil((type.size * Math.max(1, type.number)) / 8);
}

/** The TS type of a struct field and the DataView accessor that reads/writes it. */
export function fieldAccess(field: IrType): { type: TypeNode; get: string; set: string; bigint: boolean } | null {
  if (field.structFields || field.varArray || !field.inline || field.number !== 1 || field.element) return null;
  const signed = isSignedCType(field.cUserType || field.name);
  if (isPortLike(field)) return { type: tref("Port", [tlit(portRight(field))]), get: "getUint32", set: "setUint32", bigint: false };
  switch (field.size) {
    case 8:
      return { type: tref("number"), get: signed ? "getInt8" : "getUint8", set: signed ? "setInt8" : "setUint8", bigint: false };
    case 16:
      return { type: tref("number"), get: signed ? "getInt16" : "getUint16", set: signed ? "setInt16" : "setUint16", bigint: false };
    case 32:
      return { type: tref("number"), get: signed ? "getInt32" : "getUint32", set: signed ? "setInt32" : "setUint32", bigint: false };
    case 64:
      return {
        type: tref("bigint"),
        get: signed ? "getBigInt64" : "getBigUint64",
        set: signed ? "setBigInt64" : "setBigUint64",
        bigint: true,
      };
    default:
      return null;
  }
}

export { POLY };
