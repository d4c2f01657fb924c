/**
 * The type engine: turns AST type specifications into resolved `MigType`s for one ABI
 * (mig-reference §4): IPC names and sizes, array and struct constructors, `^` out of line,
 * c_string, struct flattening, long-form selection and translation options.
 */
import type { DiagnosticCode, SourceSpan } from "../diagnostics/index.js";
import type {
  CTypeName,
  IntExpression,
  IpcFlag,
  IpcPrimitive,
  TransOption,
  TransSpec,
  TypeSpec,
} from "../syntax/ast.js";
import {
  type AbiFacts,
  INDEFINITE_INLINE_BYTES,
  IPC_NAMES,
  ipcNameText,
  isPortName,
  MAX_ELEMENT_BITS,
  SHORT_FORM_MAX_NUMBER,
  SHORT_FORM_MAX_SIZE,
} from "./abi.js";
import { type DeallocMode, type MigType, MsgTypeName } from "./model.js";

const MAX_U32 = 0xffffffff;

export interface TypeEnvironment {
  abi: AbiFacts;
  /** A declared (or built-in) type by name. */
  lookup(name: string): MigType | undefined;
  report(code: DiagnosticCode, message: string, span: SourceSpan | undefined): void;
}

/** Evaluates an integer expression as MIG does (unsigned, 32 bits); undefined after an error. */
export function evaluate(expr: IntExpression, env: TypeEnvironment): number | undefined {
  if (expr.kind === "literal") {
    if (!Number.isSafeInteger(expr.value) || expr.value < 0 || expr.value > MAX_U32) {
      env.report("MIG3038", `integer ${expr.value} does not fit in 32 bits`, expr.span);
      return undefined;
    }
    return expr.value;
  }
  const left = evaluate(expr.left, env);
  const right = evaluate(expr.right, env);
  if (left === undefined || right === undefined) return undefined;
  let value: number;
  switch (expr.operator) {
    case "+":
      value = left + right;
      break;
    case "-":
      value = left - right;
      break;
    case "*":
      value = left * right;
      break;
    case "/":
      if (right === 0) {
        env.report("MIG3038", "division by zero in an integer expression", expr.span);
        return undefined;
      }
      value = Math.floor(left / right);
      break;
  }
  if (value < 0 || value > MAX_U32) {
    env.report(
      "MIG3038",
      `integer expression evaluates to ${value}, outside 0..4294967295`,
      expr.span,
    );
    return undefined;
  }
  return value;
}

/** Bytes one item of the type takes in C (`ceil(number * size / 8)`). */
export function typeBytes(t: MigType): number {
  return Math.ceil((t.number * t.size) / 8);
}

function naturalAlignment(size: number, inName: number): number {
  if (inName === MsgTypeName.STRING || inName === MsgTypeName.CHAR || inName === MsgTypeName.BYTE)
    return 1;
  if (size < 8) return 1;
  const bytes = size / 8;
  if (bytes === 1 || bytes === 2 || bytes === 4 || bytes === 8) return bytes;
  return Number.isInteger(bytes) && bytes > 8 && bytes % 8 === 0 ? 8 : 1;
}

function scalar(
  inName: number,
  outName: number,
  size: number,
  texts: { inText: string; outText: string },
): MigType {
  return {
    name: "",
    inName,
    outName,
    size,
    number: 1,
    inline: true,
    longForm: false,
    dealloc: "no",
    isStruct: true,
    isString: false,
    varArray: false,
    indefinite: false,
    isPort: isPortName(inName) || isPortName(outName),
    alignment: naturalAlignment(size, inName),
    cUserType: "",
    cServerType: "",
    cTransType: "",
    inNameText: texts.inText,
    outNameText: texts.outText,
  };
}

/** Makes a plain scalar type from a canonical IPC name (used for built-ins and implicit arguments). */
export function scalarType(name: string, cType: string, abi: AbiFacts, size?: number): MigType {
  const info = IPC_NAMES[name];
  if (!info) throw new Error(`unknown IPC name ${name}`);
  const bits = size ?? info.defaultSize(abi);
  const inText = info.isPort ? ipcNameText(info.value, false) : name;
  const outText = info.isPort ? ipcNameText(info.received, true) : name;
  const t = scalar(info.value, info.received, bits, { inText, outText });
  t.longForm = bits > SHORT_FORM_MAX_SIZE;
  t.name = cType;
  t.cUserType = t.cServerType = t.cTransType = cType;
  return t;
}

interface ResolvedPrim {
  value: number;
  received: number;
  /** 0 when the name implies no size. */
  size: number;
  text: string;
  receivedText: string;
  isNumber: boolean;
}

function resolvePrim(prim: IpcPrimitive, env: TypeEnvironment): ResolvedPrim | undefined {
  switch (prim.kind) {
    case "number":
      if (prim.value > 255) {
        env.report(
          "MIG3008",
          `msgt_name ${prim.value} does not fit the 8-bit name field of a type descriptor`,
          prim.span,
        );
        return undefined;
      }
      return {
        value: prim.value,
        received: prim.value,
        size: 0,
        text: String(prim.value),
        receivedText: String(prim.value),
        isNumber: true,
      };
    case "polymorphic":
      return {
        value: MsgTypeName.POLYMORPHIC,
        received: MsgTypeName.POLYMORPHIC,
        size: env.abi.portBits,
        text: "MACH_MSG_TYPE_POLYMORPHIC",
        receivedText: "MACH_MSG_TYPE_POLYMORPHIC",
        isNumber: false,
      };
    case "symbolic": {
      const info = IPC_NAMES[prim.name];
      if (!info) {
        const apple = /REAL_(32|64)$/.test(prim.name)
          ? " (Apple MIG's REAL_32/REAL_64 have no GNU Mach msgt_name; use (MACH_MSG_TYPE_REAL, bits))"
          : "";
        env.report(
          "MIG3031",
          `IPC type name ${prim.spelled} is not a GNU Mach msgt_name${apple}`,
          prim.span,
        );
        return undefined;
      }
      return {
        value: info.value,
        received: info.received,
        size: info.defaultSize(env.abi),
        text: info.isPort ? ipcNameText(info.value, false) : prim.name,
        receivedText: info.isPort ? ipcNameText(info.received, true) : prim.name,
        isNumber: false,
      };
    }
  }
}

interface LongFormFlags {
  isLong?: IpcFlag;
  isNotLong?: IpcFlag;
}

/**
 * Decides the descriptor form (mig-reference §4.3). `typeName` names the type in warnings.
 */
export function chooseLongForm(
  t: MigType,
  flags: LongFormFlags,
  typeName: string,
  env: TypeEnvironment,
  span: SourceSpan | undefined,
): void {
  const must = t.size > SHORT_FORM_MAX_SIZE || t.number > SHORT_FORM_MAX_NUMBER;
  const byDefault = must || t.indefinite || (!t.inline && t.varArray);
  const label = typeName ? `${typeName}: ` : "";
  if (flags.isLong && flags.isNotLong) {
    env.report(
      "MIG3034",
      `${label}IsLong and IsNotLong contradict each other`,
      flags.isNotLong.span,
    );
    t.longForm = byDefault;
    return;
  }
  if (flags.isLong) {
    if (byDefault) env.report("MIG3010", `${label}IsLong is redundant`, flags.isLong.span);
    else if (!must) env.report("MIG3010", `${label}doesn't need IsLong`, flags.isLong.span);
    t.longForm = true;
  } else if (flags.isNotLong) {
    if (must) {
      env.report(
        "MIG3007",
        `${label}IsNotLong on a type that must use the long form (size ${t.size} bits, number ${t.number})`,
        flags.isNotLong.span,
      );
      t.longForm = true;
    } else {
      if (!byDefault) env.report("MIG3010", `${label}IsNotLong is redundant`, flags.isNotLong.span);
      t.longForm = false;
    }
  } else {
    t.longForm = byDefault;
  }
  void span;
}

/** Collects the flags of a long-form spec or an argument. */
export interface FlagSet {
  dealloc?: { mode: DeallocMode; flag: IpcFlag };
  isLong?: IpcFlag;
  isNotLong?: IpcFlag;
  serverCopy?: IpcFlag;
  countInOut?: IpcFlag;
}

export function collectFlags(flags: readonly IpcFlag[], env: TypeEnvironment): FlagSet {
  const set: FlagSet = {};
  for (const f of flags) {
    if (f.dynamic && f.name !== "dealloc") {
      env.report("MIG3035", `only Dealloc may be written with [], not ${f.name}`, f.span);
    }
    switch (f.name) {
      case "dealloc":
      case "notdealloc": {
        const mode: DeallocMode = f.name === "notdealloc" ? "no" : f.dynamic ? "maybe" : "yes";
        if (set.dealloc && (set.dealloc.mode === "no") !== (mode === "no")) {
          env.report("MIG3034", "Dealloc and NotDealloc contradict each other", f.span);
        }
        set.dealloc = { mode, flag: f };
        break;
      }
      case "islong":
        set.isLong = f;
        break;
      case "isnotlong":
        set.isNotLong = f;
        break;
      case "servercopy":
        set.serverCopy = f;
        break;
      case "countinout":
        set.countInOut = f;
        break;
      case "retcode":
        // GNU MIG accepts RetCode and ignores it (the Hurd's RETURN_CODE_ARG uses it).
        break;
      case "physicalcopy":
      case "auto":
      case "const":
        env.report(
          "MIG3029",
          `Apple MIG flag ${f.name} has no effect on GNU typed messages; ignored`,
          f.span,
        );
        break;
      case "samecount":
      case "overwrite":
        env.report(
          "MIG3030",
          `Apple MIG flag ${f.name} cannot be honoured by GNU typed messages`,
          f.span,
        );
        break;
    }
  }
  return set;
}

/** A deep copy (types are small trees; structuredClone is several times slower here). */
export function cloneType(t: MigType): MigType {
  const copy: MigType = { ...t };
  if (t.element) copy.element = cloneType(t.element);
  if (t.structFields)
    copy.structFields = t.structFields.map((f) => ({
      name: f.name,
      type: cloneType(f.type),
      offset: f.offset,
    }));
  if (t.intran) copy.intran = { ...t.intran };
  if (t.intranPayload) copy.intranPayload = { ...t.intranPayload };
  if (t.outtran) copy.outtran = { ...t.outtran };
  if (t.destructor) copy.destructor = { ...t.destructor };
  return copy;
}

interface BuildContext {
  /** The name being declared (for messages and the C names of the result); "" inside constructors. */
  declName: string;
  /** Inside `^`: a variable array here needs no named element (it travels out of line). */
  underPointer: boolean;
}

/**
 * Builds the type of a specification without its translation options. Returns undefined after
 * reporting an error.
 */
export function buildTypeSpec(
  spec: TypeSpec,
  env: TypeEnvironment,
  ctx: BuildContext,
): MigType | undefined {
  switch (spec.kind) {
    case "named": {
      const t = env.lookup(spec.name.text);
      if (!t) {
        env.report("MIG3001", `type '${spec.name.text}' not defined`, spec.name.span);
        return undefined;
      }
      return cloneType(t);
    }
    case "ipc": {
      const inPrim = resolvePrim(spec.inName, env);
      const outPrim = spec.outName ? resolvePrim(spec.outName, env) : inPrim;
      if (!inPrim || !outPrim) return undefined;
      if (inPrim.isNumber || outPrim.isNumber) {
        env.report(
          "MIG3005",
          "a numeric msgt_name needs the full IPC type declaration (name, size)",
          spec.span,
        );
        return undefined;
      }
      const size = inPrim.size || outPrim.size;
      if (size === 0) {
        env.report(
          "MIG3005",
          `must use full IPC type decl: ${inPrim.text} has no implied size; write (${inPrim.text}, bits)`,
          spec.span,
        );
        return undefined;
      }
      const t = scalar(inPrim.value, spec.outName ? outPrim.received : inPrim.received, size, {
        inText: inPrim.text,
        outText: spec.outName ? outPrim.receivedText : inPrim.receivedText,
      });
      chooseLongForm(t, {}, ctx.declName, env, spec.span);
      return t;
    }
    case "long": {
      const inPrim = resolvePrim(spec.inName, env);
      const outPrim = spec.outName ? resolvePrim(spec.outName, env) : inPrim;
      const size = evaluate(spec.size, env);
      if (!inPrim || !outPrim || size === undefined) return undefined;
      if (size > MAX_ELEMENT_BITS) {
        env.report(
          "MIG3006",
          `IPC type size ${size} bits is too big (the limit is ${MAX_ELEMENT_BITS})`,
          spec.size.span,
        );
        return undefined;
      }
      if (size === 0) {
        env.report("MIG3017", "IPC type size must be at least 1 bit", spec.size.span);
        return undefined;
      }
      const natural = inPrim.size || outPrim.size;
      if (natural !== 0 && natural !== size) {
        env.report(
          "MIG3009",
          `IPC type decl has strange size (${size} instead of ${natural})`,
          spec.size.span,
        );
      }
      const t = scalar(inPrim.value, spec.outName ? outPrim.received : inPrim.received, size, {
        inText: inPrim.text,
        outText: spec.outName ? outPrim.receivedText : inPrim.receivedText,
      });
      const flags = collectFlags(spec.flags, env);
      for (const f of [flags.serverCopy, flags.countInOut]) {
        if (f)
          env.report("MIG3032", `${f.name} belongs on an argument, not on a type; ignored`, f.span);
      }
      if (flags.dealloc) t.dealloc = flags.dealloc.mode;
      chooseLongForm(t, flags, ctx.declName, env, spec.span);
      return t;
    }
    case "array":
    case "structarray": {
      const element = buildTypeSpec(spec.element, env, { declName: "", underPointer: false });
      if (!element) return undefined;
      if (!element.inline || element.varArray || element.number === 0) {
        env.report(
          "MIG3012",
          "an array element must be a fixed-size inline type",
          spec.element.span,
        );
        return undefined;
      }
      const isVariable = spec.kind === "array" && spec.bound.kind !== "fixed";
      if (isVariable && spec.element.kind !== "named" && !ctx.underPointer) {
        env.report(
          "MIG3011",
          `${ctx.declName ? `${ctx.declName}: ` : ""}variable-sized in-line arrays need a named base type`,
          spec.element.span,
        );
        return undefined;
      }
      const t: MigType = {
        name: "",
        inName: element.inName,
        outName: element.outName,
        size: element.size,
        number: 0,
        inline: true,
        longForm: false,
        dealloc: element.dealloc,
        isStruct: spec.kind === "structarray",
        isString: false,
        varArray: false,
        indefinite: false,
        isPort: element.isPort,
        element,
        alignment: element.alignment,
        cUserType: "",
        cServerType: "",
        cTransType: "",
        span: spec.span,
      };
      if (element.inNameText !== undefined) t.inNameText = element.inNameText;
      if (element.outNameText !== undefined) t.outNameText = element.outNameText;
      if (spec.kind === "structarray" || spec.bound.kind !== "indefinite") {
        const sizeExpr =
          spec.kind === "structarray"
            ? spec.size
            : spec.bound.kind === "fixed"
              ? spec.bound.size
              : spec.bound.kind === "bounded"
                ? spec.bound.max
                : undefined;
        const n = sizeExpr ? evaluate(sizeExpr, env) : undefined;
        if (n === undefined) return undefined;
        if (n === 0) {
          env.report("MIG3017", "array size must be at least 1", spec.span);
          return undefined;
        }
        const total = n * element.number;
        if (total > MAX_U32) {
          env.report("MIG3042", `array has ${total} wire elements, more than 2^32-1`, spec.span);
          return undefined;
        }
        t.number = total;
        t.varArray = spec.kind === "array" && spec.bound.kind === "bounded";
        t.indefinite = false;
      } else {
        t.number = 0;
        t.varArray = true;
        t.indefinite = true;
        const elementBytes = typeBytes(element);
        t.maxInlineNumber =
          elementBytes > 0
            ? Math.floor(INDEFINITE_INLINE_BYTES / elementBytes) * element.number
            : 0;
      }
      chooseLongForm(t, {}, ctx.declName, env, spec.span);
      return t;
    }
    case "pointer": {
      const target = buildTypeSpec(spec.target, env, {
        declName: ctx.declName,
        underPointer: true,
      });
      if (!target) return undefined;
      if (!target.inline) {
        env.report(
          "MIG3013",
          "^ needs an inline type: this one is already out of line",
          spec.target.span,
        );
        return undefined;
      }
      if (target.varArray && !target.indefinite) {
        env.report(
          "MIG3013",
          "^ of a bounded variable array (array[*:N]) is not allowed; use ^array[] of",
          spec.target.span,
        );
        return undefined;
      }
      const { maxInlineNumber: _capacity, ...rest } = cloneType(target);
      const t: MigType = rest;
      t.inline = false;
      t.span = spec.span;
      if (target.indefinite) {
        t.indefinite = false;
        t.varArray = true;
        t.number = 0;
      } else {
        // GNU MIG quirk: a fixed out-of-line array loses its length (msgt_number 0, no count).
        t.number = 0;
        t.isStruct = true;
        if (!t.element) t.element = cloneType(target);
      }
      chooseLongForm(t, {}, ctx.declName, env, spec.span);
      return t;
    }
    case "cstring": {
      const n = evaluate(spec.size, env);
      if (n === undefined) return undefined;
      if (n === 0) {
        env.report("MIG3017", "c_string size must be at least 1", spec.size.span);
        return undefined;
      }
      const element = scalar(MsgTypeName.STRING_C, MsgTypeName.STRING_C, 8, {
        inText: "MACH_MSG_TYPE_STRING_C",
        outText: "MACH_MSG_TYPE_STRING_C",
      });
      const t: MigType = {
        ...cloneType(element),
        number: n,
        isStruct: false,
        isString: true,
        varArray: spec.variable,
        element,
        span: spec.span,
      };
      chooseLongForm(t, {}, ctx.declName, env, spec.span);
      return t;
    }
    case "cstruct":
      return flattenStruct(spec, env, ctx);
  }
}

function flattenStruct(
  spec: Extract<TypeSpec, { kind: "cstruct" }>,
  env: TypeEnvironment,
  ctx: BuildContext,
): MigType | undefined {
  const cap = env.abi.structAlignmentCap;
  let offset = 0;
  let alignment = 1;
  let ok = true;
  const fields: Array<{ name: string; type: MigType; offset: number }> = [];
  const seen = new Set<string>();
  for (const field of spec.fields) {
    const member = env.lookup(field.type.text);
    if (!member) {
      env.report("MIG3001", `type '${field.type.text}' not defined`, field.type.span);
      ok = false;
      continue;
    }
    if (!member.inline || member.varArray || member.number === 0) {
      env.report(
        "MIG3014",
        `struct member ${field.name.text}: ${field.type.text} is not a fixed-size inline type`,
        field.type.span,
      );
      ok = false;
      continue;
    }
    if (member.isPort) {
      env.report(
        "MIG3041",
        `struct member ${field.name.text}: port rights cannot be flattened into struct data`,
        field.type.span,
      );
      ok = false;
      continue;
    }
    if (seen.has(field.name.text)) {
      env.report("MIG3014", `struct member ${field.name.text} is declared twice`, field.name.span);
      ok = false;
      continue;
    }
    seen.add(field.name.text);
    const a = Math.min(member.alignment, cap);
    alignment = Math.max(alignment, a);
    offset = Math.ceil(offset / a) * a;
    fields.push({ name: field.name.text, type: cloneType(member), offset });
    offset += typeBytes(member);
  }
  if (!ok) return undefined;
  if (fields.length === 0) {
    env.report("MIG3017", "a struct needs at least one member", spec.span);
    return undefined;
  }
  const total = Math.ceil(offset / alignment) * alignment;
  const elementName = (
    {
      1: "MACH_MSG_TYPE_BYTE",
      2: "MACH_MSG_TYPE_INTEGER_16",
      4: "MACH_MSG_TYPE_INTEGER_32",
      8: "MACH_MSG_TYPE_INTEGER_64",
    } as Record<number, string>
  )[alignment]!;
  const element = scalarType(elementName, "", env.abi);
  element.name = "";
  element.cUserType = element.cServerType = element.cTransType = "";
  const t: MigType = {
    ...cloneType(element),
    number: total / alignment,
    isStruct: true,
    element,
    alignment,
    structFields: fields,
    span: spec.span,
  };
  chooseLongForm(t, {}, ctx.declName, env, spec.span);
  return t;
}

function cTypeText(c: CTypeName, env: TypeEnvironment): string | undefined {
  if (c.kind === "name") return c.name.text;
  env.report(
    "MIG3028",
    `Apple MIG C type ${c.kind}(...) is not supported; declare a C type name instead`,
    c.span,
  );
  return undefined;
}

/**
 * Declares a type from a translation spec with MIG's copying rule: the result is named `name`,
 * its C names default to `name`, and translation info is never inherited.
 */
export function declareType(
  name: string,
  spec: TransSpec,
  env: TypeEnvironment,
): MigType | undefined {
  const base = buildTypeSpec(spec.type, env, { declName: name, underPointer: false });
  if (!base) return undefined;
  // Copying a type never copies its translation info (mig-reference §2).
  const { intran: _i, intranPayload: _p, outtran: _o, destructor: _d, builtin: _b, ...rest } = base;
  const t: MigType = rest;
  t.name = name;
  t.cUserType = t.cServerType = t.cTransType = name;
  t.span = spec.span;
  applyTransOptions(t, spec.options, env);
  if (t.dealloc === "maybe" && t.inline && !t.indefinite) {
    env.report(
      "MIG3044",
      `${name}: Dealloc[] on inline data can only produce an invalid message`,
      spec.span,
    );
  } else if (t.dealloc === "yes" && t.inline && !t.indefinite) {
    env.report("MIG3033", `${name}: Dealloc will cause an IPC error`, spec.span);
  }
  if (!t.varArray && (t.number * t.size) % 8 !== 0) {
    env.report("MIG3037", `${name}: size of C types must be multiples of 8 bits`, spec.span);
  }
  return t;
}

function applyTransOptions(
  t: MigType,
  options: readonly TransOption[],
  env: TypeEnvironment,
): void {
  const seen = new Set<string>();
  let cType: string | undefined;
  let cUser: string | undefined;
  let cServer: string | undefined;
  for (const o of options) {
    if (seen.has(o.kind))
      env.report("MIG3016", `${o.kind} given twice for ${t.name}; the last one wins`, o.span);
    seen.add(o.kind);
    if ((o.kind === "intran" || o.kind === "outtran" || o.kind === "destructor") && t.varArray) {
      env.report(
        "MIG3015",
        `${t.name}: variable-size arrays cannot have ${o.kind} translation`,
        o.span,
      );
      continue;
    }
    switch (o.kind) {
      case "ctype":
        cType = cTypeText(o.cType, env) ?? cType;
        break;
      case "cusertype":
        cUser = cTypeText(o.cType, env) ?? cUser;
        break;
      case "cservertype":
        cServer = cTypeText(o.cType, env) ?? cServer;
        break;
      case "intran": {
        const transType = cTypeText(o.transType, env);
        const serverType = cTypeText(o.serverType, env);
        if (transType && serverType)
          t.intran = { transType, function: o.function.text, serverType };
        break;
      }
      case "intranpayload": {
        const transType = cTypeText(o.transType, env);
        if (transType) t.intranPayload = { transType, function: o.function.text };
        break;
      }
      case "outtran": {
        const serverType = cTypeText(o.serverType, env);
        const transType = cTypeText(o.transType, env);
        if (transType && serverType)
          t.outtran = { serverType, function: o.function.text, transType };
        break;
      }
      case "destructor": {
        const transType = cTypeText(o.transType, env);
        if (transType) t.destructor = { function: o.function.text, transType };
        break;
      }
    }
  }
  t.cUserType = cUser ?? cType ?? t.name;
  // Without an explicit server C type, the message field has the type the translation functions take.
  t.cServerType = cServer ?? cType ?? t.intran?.serverType ?? t.outtran?.serverType ?? t.name;
  t.cTransType =
    t.intran?.transType ?? t.outtran?.transType ?? t.destructor?.transType ?? t.cServerType;
  const span = options[0]?.span;
  if (t.intran && t.intran.serverType !== t.cServerType) {
    env.report(
      "MIG3045",
      `${t.name}: intran takes ${t.intran.serverType} but the server type is ${t.cServerType}`,
      span,
    );
  }
  if (t.outtran && t.outtran.serverType !== t.cServerType) {
    env.report(
      "MIG3045",
      `${t.name}: outtran yields ${t.outtran.serverType} but the server type is ${t.cServerType}`,
      span,
    );
  }
  if (t.intran && t.outtran && t.intran.transType !== t.outtran.transType) {
    env.report(
      "MIG3045",
      `${t.name}: intran yields ${t.intran.transType} but outtran takes ${t.outtran.transType}`,
      span,
    );
  }
}

/** Two declarations mean the same type (used to accept identical redeclarations of built-ins). */
export function sameType(a: MigType, b: MigType): boolean {
  return canonical(a) === canonical(b);
}

/** A stable text form of a type's meaning: key order, spans and spellings do not matter. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const ignored = new Set(["span", "builtin", "inNameText", "outNameText"]);
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([k, v]) => !ignored.has(k) && v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${k}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
