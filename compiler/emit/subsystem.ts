/**
 * IR -> one TypeScript module per subsystem: types, struct converters, the message plans (the
 * reflection descriptor), the client class, and the server handler interface, routine lookup and
 * demux. Reads only the IR.
 *
 * The generated code talks to the runtime through a few type-only names from `mig-ts/runtime`:
 *   MigValue        a value slot (runtime/codec/plan.ts "VALUE MODEL")
 *   MigCaller       sends a request built from a plan and value slots; `routine` resolves to what
 *                   the stub's `outs_<routine>` makes of the reply's slots (rejecting with
 *                   MachError), `simpleroutine` once queued
 *   CallOptions     { timeout?, msgOption?, replyPort? }
 *   MigServerRoutine<H>, MigDemux<H>
 *                   what a receive loop needs: the plan of a request id and a function that calls
 *                   the handler with the decoded slots and fills the reply slots
 *   MigRequest      the request a handler runs for (its last argument): id, seqno, and the
 *                   tracked release of the rights it carried (runtime/mig/stubs.ts)
 *   RoutinePlan, SubsystemPlan
 * runtime/mig/stubs.ts implements them (createCaller, migDemux).
 */
import type { IrArgument, InterfaceIR, IrRoutine, IrType } from "../layout/ir.js";
import { VERSION } from "../version.js";
import { ImportTracker, safeName } from "./imports.js";
import { routinePlanOf } from "./plans.js";
import {
  type ClassMember,
  type Decl,
  type Expr,
  type MethodSignature,
  type Param,
  type PropertySignature,
  type Stmt,
  type TypeNode,
  arr,
  asExpr,
  awaitExpr,
  call,
  id,
  index,
  literal,
  member,
  num,
  obj,
  printModule,
  raw,
  tref,
} from "./ts.js";
import { fieldAccess, structByteSize, tsStructure, tsType, valueShape } from "./ts-types.js";

export interface EmitOptions {
  /** Module the generated code imports the runtime from. */
  runtimeImport?: string;
  /** Which parts to print (default: all). */
  parts?: { types?: boolean; client?: boolean; server?: boolean };
  /** When parts are split: the module the client/server import the types from. */
  typesImport?: string;
  /** Add a `msgseqno` argument to every routine's server function (`--seqnos`). */
  seqnos?: boolean;
  /** `-prefix`: prepended to client and server function names and the demux. */
  prefix?: string;
  /** Shown in the header comment (e.g. `-DSEQNOS`). */
  commandLine?: string;
  /** Path of the source shown in the header (default: the IR's file). */
  sourceName?: string;
}

const RUNTIME = "mig-ts/runtime";

function pascal(name: string): string {
  return name
    .split(/_+/)
    .filter((p) => p !== "")
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join("");
}

/** The routine with a seqno argument appended (slots of existing arguments do not move). */
function withSeqno(routine: IrRoutine): IrRoutine {
  if (routine.args.some((a) => a.kind === "msgseqno")) return routine;
  const seqno: IrArgument = {
    name: "seqno",
    kind: "msgseqno",
    direction: "none",
    inRequest: false,
    inReply: false,
    userVisible: false,
    serverVisible: true,
    implicit: false,
    countInOut: false,
    serverCopy: false,
    type: {
      name: "mach_port_seqno_t",
      inName: 2,
      outName: 2,
      size: 32,
      number: 1,
      inline: true,
      longForm: false,
      dealloc: "no",
      isStruct: true,
      isString: false,
      varArray: false,
      indefinite: false,
      isPort: false,
      alignment: 4,
      cUserType: "mach_port_seqno_t",
      cServerType: "mach_port_seqno_t",
      cTransType: "mach_port_seqno_t",
      description: "(MACH_MSG_TYPE_INTEGER_32, 32)",
    },
  };
  return { ...routine, args: [...routine.args, seqno] };
}

interface RoutineInfo {
  routine: IrRoutine;
  planName: string;
  clientName: string;
  serverName: string;
  /** Out values the client resolves to (and the server handler returns). */
  outs: Array<{ arg: IrArgument; slot: number; key: string }>;
  outType: TypeNode;
  outInterface?: { name: string; members: PropertySignature[] };
}

export function emitSubsystem(ir: InterfaceIR, options: EmitOptions = {}): string {
  const parts = { types: true, client: true, server: true, ...options.parts };
  const runtime = options.runtimeImport ?? RUNTIME;
  const prefix = options.prefix ?? "";
  const imports = new ImportTracker();
  const subsystem = ir.subsystem.name;
  const routines = options.seqnos ? ir.routines.map(withSeqno) : ir.routines;
  const demuxName =
    prefix + (options.seqnos && !ir.serverDemux.startsWith("seqnos_") ? `seqnos_${ir.serverDemux}` : ir.serverDemux);
  const demuxBase = demuxName.replace(/_server$/, "");

  const namedTypes = new Set(ir.types.map((t) => t.name).filter((n) => n !== ""));
  const typeDecls: Decl[] = [];
  const helperDecls: Decl[] = [];
  const usedHelpers = new Set<string>();
  let anyPadded = false;
  /** Some struct field is raw bytes (bytes_at / put_bytes), or some struct is padded (keep_wire). */
  let anyByteField = false;
  const fromTypes = (name: string): string =>
    parts.types ? name : imports.use(options.typesImport ?? "./types.js", name, { typeOnly: /^[A-Z]|_t$/.test(name) });

  // Names the module defines, so imports and helpers never collide with them.
  imports.reserve(...[...namedTypes].map(safeName), "Port", "Awaitable", "as_promise", "ignore_value", "stored", "no_outs");

  // ----- types
  const structTypes = ir.types.filter((t) => t.structFields && t.structFields.length > 0 && !t.varArray);
  if (parts.types) {
    typeDecls.push({ d: "comment", text: "A port name in this task's space, branded with the right it carries." });
    typeDecls.push({
      d: "typeAlias",
      name: "Port",
      typeParams: ["R extends string"],
      type: tref("number & { readonly __right: R }"),
      exported: true,
    });
    typeDecls.push({ d: "blank" });
    typeDecls.push({ d: "typeAlias", name: "Awaitable", typeParams: ["T"], type: tref("T | Promise<T>"), exported: true });
    for (const type of ir.types) {
      if (!type.name) continue;
      typeDecls.push({ d: "blank" });
      const name = safeName(type.name);
      const doc = `${type.name}: ${type.description}`;
      if (type.structFields && type.structFields.length > 0 && valueShape(type).shape === "struct") {
        typeDecls.push({ d: "comment", text: doc });
        typeDecls.push({
          d: "interface",
          name,
          exported: true,
          members: type.structFields.map((f) => ({
            name: safeName(f.name),
            type: fieldAccess(f.type)?.type ?? tsStructure(f.type, namedTypes),
          })),
        });
      } else {
        typeDecls.push({ d: "comment", text: doc });
        typeDecls.push({ d: "typeAlias", name, type: tsStructure(type, namedTypes), exported: true });
      }
    }
  }

  const portType = (): string => fromTypes("Port");

  // ----- struct converters (emitted on demand)
  function structHelpers(type: IrType): { toWire: string; fromWire: string; arrayToWire: string; arrayFromWire: string } {
    const base = safeName(type.name);
    const names = {
      toWire: `${base}_to_wire`,
      fromWire: `${base}_from_wire`,
      arrayToWire: `${base}_array_to_wire`,
      arrayFromWire: `${base}_array_from_wire`,
    };
    if (!parts.types) {
      return {
        toWire: fromTypes(names.toWire),
        fromWire: fromTypes(names.fromWire),
        arrayToWire: fromTypes(names.arrayToWire),
        arrayFromWire: fromTypes(names.arrayFromWire),
      };
    }
    return names;
  }

  function emitStructHelpers(type: IrType): void {
    if (usedHelpers.has(type.name)) return;
    usedHelpers.add(type.name);
    const name = safeName(type.name);
    const size = structByteSize(type);
    const fields = type.structFields ?? [];
    const migValue = imports.type(runtime, "MigValue");
    const reads: Array<{ key: string; value: Expr }> = [];
    const writes: Stmt[] = [];
    // Bytes no field covers (alignment padding): GNU MIG copies the struct's memory, padding
    // included, so a decoded value keeps its wire bytes (a hidden, non-enumerable property) and
    // re-encoding it gives the same bytes; a value built in TS has zero padding.
    const covered = new Uint8Array(size);
    for (const f of fields) {
      const bytes = fieldAccess(f.type) ? Math.ceil(f.type.size / 8) : structByteSize(f.type);
      covered.fill(1, Math.min(f.offset, size), Math.min(f.offset + bytes, size));
    }
    const padded = covered.includes(0);
    if (padded) {
      anyPadded = true;
      writes.push({ s: "raw", text: "const wire = wire_of(value);" });
      writes.push({ s: "if", test: raw("wire"), then: [{ s: "raw", text: `put_bytes(view, offset, ${size}, wire);` }] });
    }
    for (const f of fields) {
      const access = fieldAccess(f.type);
      const key = safeName(f.name);
      const at = f.offset === 0 ? "offset" : `offset + ${f.offset}`;
      if (access) {
        const read = raw(`view.${access.get}(${at}${access.get.endsWith("8") ? "" : ", true"})`);
        reads.push({ key, value: access.type.t === "ref" && access.type.name === "Port" ? asExpr(read, access.type) : read });
        writes.push({ s: "raw", text: `view.${access.set}(${at}, value.${key}${access.set.endsWith("8") ? "" : ", true"});` });
      } else {
        const bytes = structByteSize(f.type);
        anyByteField = true;
        reads.push({ key, value: call(id("bytes_at"), [id("view"), raw(at), num(bytes)]) });
        writes.push({ s: "raw", text: `put_bytes(view, ${at}, ${bytes}, value.${key});` });
      }
    }
    const view = tref("DataView");
    helperDecls.push(
      { d: "blank" },
      {
        d: "function",
        name: `read_${name}`,
        params: [
          { name: "view", type: view },
          { name: "offset", type: tref("number") },
        ],
        returns: tref(name),
        body: [{ s: "return", expr: obj(reads) }],
      },
      { d: "blank" },
      {
        d: "function",
        name: `write_${name}`,
        params: [
          { name: "view", type: view },
          { name: "offset", type: tref("number") },
          { name: "value", type: tref(name) },
        ],
        returns: tref("void"),
        body: writes,
      },
      { d: "blank" },
      { d: "comment", text: `${type.name} from the flattened words the codec decodes.` },
      {
        d: "function",
        name: `${name}_from_wire`,
        exported: true,
        params: [{ name: "data", type: tref(migValue) }],
        returns: tref(name),
        body: padded
          ? [
              { s: "raw", text: "const view = view_of(data);" },
              { s: "return", expr: raw(`keep_wire(read_${name}(view, 0), view, 0, ${size})`) },
            ]
          : [{ s: "return", expr: call(id(`read_${name}`), [call(id("view_of"), [id("data")]), num(0)]) }],
      },
      { d: "blank" },
      {
        d: "function",
        name: `${name}_to_wire`,
        exported: true,
        params: [{ name: "value", type: tref(name) }],
        returns: tref("Uint8Array"),
        body: [
          { s: "raw", text: `const bytes = new Uint8Array(${size});` },
          { s: "raw", text: `write_${name}(new DataView(bytes.buffer), 0, value);` },
          { s: "return", expr: id("bytes") },
        ],
      },
      { d: "blank" },
      {
        d: "function",
        name: `${name}_array_from_wire`,
        exported: true,
        params: [{ name: "data", type: tref(migValue) }],
        returns: tref(`${name}[]`),
        body: [
          { s: "raw", text: "const view = view_of(data);" },
          { s: "raw", text: `const out: ${name}[] = [];` },
          {
            s: "for",
            head: `let offset = 0; offset + ${size} <= view.byteLength; offset += ${size}`,
            body: [
              {
                s: "raw",
                text: padded ? `out.push(keep_wire(read_${name}(view, offset), view, offset, ${size}));` : `out.push(read_${name}(view, offset));`,
              },
            ],
          },
          { s: "return", expr: id("out") },
        ],
      },
      { d: "blank" },
      {
        d: "function",
        name: `${name}_array_to_wire`,
        exported: true,
        params: [{ name: "values", type: tref(`readonly ${name}[]`) }],
        returns: tref("Uint8Array"),
        body: [
          { s: "raw", text: `const bytes = new Uint8Array(values.length * ${size});` },
          { s: "raw", text: "const view = new DataView(bytes.buffer);" },
          { s: "raw", text: `values.forEach((value, i) => write_${name}(view, i * ${size}, value));` },
          { s: "return", expr: id("bytes") },
        ],
      },
    );
  }

  if (parts.types) {
    for (const t of structTypes) if (valueShape(t).shape === "struct") emitStructHelpers(t);
    if (anyPadded) {
      helperDecls.unshift(
        { d: "blank" },
        { d: "comment", text: "The wire bytes of a decoded struct (its padding included), kept for re-encoding." },
        { d: "stmt", stmt: { s: "raw", text: 'const WIRE: unique symbol = Symbol("mig-ts.wire");' } },
        { d: "blank" },
        {
          d: "function",
          name: "keep_wire",
          typeParams: ["T extends object"],
          params: [
            { name: "value", type: tref("T") },
            { name: "view", type: tref("DataView") },
            { name: "offset", type: tref("number") },
            { name: "length", type: tref("number") },
          ],
          returns: tref("T"),
          body: [
            { s: "raw", text: "Object.defineProperty(value, WIRE, { value: bytes_at(view, offset, length) });" },
            { s: "return", expr: id("value") },
          ],
        },
        { d: "blank" },
        {
          d: "function",
          name: "wire_of",
          params: [{ name: "value", type: tref("object") }],
          returns: tref("Uint8Array | undefined"),
          body: [{ s: "return", expr: raw("(value as { [WIRE]?: Uint8Array })[WIRE]") }],
        },
      );
    }
    if (usedHelpers.size > 0) {
      const migValue = imports.type(runtime, "MigValue");
      // bytes_at and put_bytes only where a struct has byte fields or padding: an unused
      // function would fail a user's `noUnusedLocals`.
      const byteHelpers: typeof helperDecls = anyPadded || anyByteField ? [
        { d: "blank" },
        {
          d: "function",
          name: "bytes_at",
          params: [
            { name: "view", type: tref("DataView") },
            { name: "offset", type: tref("number") },
            { name: "length", type: tref("number") },
          ],
          returns: tref("Uint8Array"),
          body: [
            { s: "raw", text: "const start = view.byteOffset + offset;" },
            { s: "raw", text: "return new Uint8Array(view.buffer.slice(start, start + length));" },
          ],
        },
        { d: "blank" },
        {
          d: "function",
          name: "put_bytes",
          params: [
            { name: "view", type: tref("DataView") },
            { name: "offset", type: tref("number") },
            { name: "length", type: tref("number") },
            { name: "value", type: tref("Uint8Array") },
          ],
          returns: tref("void"),
          body: [{ s: "raw", text: "new Uint8Array(view.buffer, view.byteOffset + offset, length).set(value.subarray(0, length));" }],
        },
      ] : [];
      helperDecls.unshift(
        { d: "blank" },
        {
          d: "function",
          name: "view_of",
          params: [{ name: "data", type: tref(migValue) }],
          returns: tref("DataView"),
          body: [
            {
              s: "if",
              test: raw("!ArrayBuffer.isView(data)"),
              then: [{ s: "throw", expr: raw('new TypeError("mig-ts: expected an array of bytes")') }],
            },
            { s: "return", expr: raw("new DataView(data.buffer, data.byteOffset, data.byteLength)") },
          ],
        },
        ...byteHelpers,
      );
    }
  }

  /** Slot value -> TS value of `arg`'s type. */
  function fromSlot(slot: Expr, arg: IrArgument): Expr {
    const shape = valueShape(arg.type);
    if (shape.shape === "struct" && arg.type.name) return call(id(structHelpers(arg.type).fromWire), [slot]);
    if (shape.shape === "structArray" && shape.element.name) {
      return call(id(structHelpers(shape.element).arrayFromWire), [slot]);
    }
    return asExpr(slot, argType(arg));
  }

  /** TS value -> slot value. */
  function toSlot(value: Expr, arg: IrArgument): Expr {
    const shape = valueShape(arg.type);
    if (shape.shape === "struct" && arg.type.name) return call(id(structHelpers(arg.type).toWire), [value]);
    if (shape.shape === "structArray" && shape.element.name) return call(id(structHelpers(shape.element).arrayToWire), [value]);
    return value;
  }

  function argType(arg: IrArgument): TypeNode {
    const t = tsType(arg.type, namedTypes);
    if (t.t === "ref" && namedTypes.has(arg.type.name)) return tref(fromTypes(t.name));
    if (t.t === "ref" && t.name === "Port") return tref(portType(), t.args);
    if (t.t === "array" && t.element.t === "ref" && namedTypes.has(t.element.name)) {
      return { t: "array", element: tref(fromTypes(t.element.name)) };
    }
    return t;
  }

  // ----- per-routine information
  const infos: RoutineInfo[] = routines.map((routine) => {
    const planName = `${routine.name}_plan`;
    const outs: RoutineInfo["outs"] = [];
    routine.args.forEach((arg, slot) => {
      if (arg.kind === "out" || arg.kind === "inout") outs.push({ arg, slot, key: safeName(arg.name) });
      else if (arg.kind === "poly" && arg.parent) {
        const parent = routine.args.find((a) => a.name === arg.parent && !a.implicit);
        if (parent && (parent.kind === "out" || parent.kind === "inout")) outs.push({ arg, slot, key: safeName(arg.name) });
      }
    });
    let outType: TypeNode = tref("void");
    let outInterface: RoutineInfo["outInterface"];
    if (outs.length === 1) outType = argType(outs[0].arg);
    else if (outs.length > 1) {
      const name = `${routine.name}_outs`;
      outInterface = { name, members: outs.map((o) => ({ name: o.key, type: argType(o.arg) })) };
      outType = tref(parts.types ? name : fromTypes(name));
    }
    return {
      routine,
      planName: parts.types ? planName : fromTypes(planName),
      clientName: prefix + routine.userFunction,
      serverName: prefix + (options.seqnos && !routine.serverPrefix.includes("seqnos") ? `seqnos_${routine.serverFunction}` : routine.serverFunction),
      outs,
      outType,
      outInterface,
    };
  });

  // ----- descriptor: the message plans
  const planDecls: Decl[] = [];
  if (parts.types) {
    const routinePlan = imports.type(runtime, "RoutinePlan");
    for (const info of infos) {
      if (info.outInterface) {
        planDecls.push({ d: "blank" });
        planDecls.push({ d: "comment", text: `What ${info.routine.name} returns.` });
        planDecls.push({ d: "interface", name: info.outInterface.name, exported: true, members: info.outInterface.members });
      }
    }
    for (const info of infos) {
      const r = info.routine;
      const seqnoSlot = r.args.findIndex((a) => a.kind === "msgseqno");
      const plan = routinePlanOf(r, ir.abi, seqnoSlot);
      planDecls.push({ d: "blank" });
      planDecls.push({
        d: "comment",
        text: `${r.kind} ${r.name}: request ${r.requestId}${r.replyId !== null ? `, reply ${r.replyId}` : ""}.`,
      });
      planDecls.push({
        d: "stmt",
        stmt: { s: "const", exported: true, name: `${r.name}_plan`, type: tref(routinePlan), init: literal(plan) },
      });
    }
    const subsystemPlan = imports.type(runtime, "SubsystemPlan");
    const byNumber = new Map(infos.map((i) => [i.routine.number, i]));
    planDecls.push({ d: "blank" });
    planDecls.push({
      d: "comment",
      text: `The reflection descriptor of subsystem ${subsystem}: every routine's message plans, indexed by\nmsgh_id - ${ir.subsystem.base} (null for skipped numbers).`,
    });
    planDecls.push({
      d: "stmt",
      stmt: {
        s: "const",
        exported: true,
        name: `${subsystem}_subsystem`,
        type: tref(subsystemPlan),
        init: obj(
          [
            { key: "subsystem", value: literal(subsystem) },
            { key: "abi", value: literal(ir.abi) },
            { key: "base", value: num(ir.subsystem.base) },
            {
              key: "routines",
              value: arr(
                ir.slots.map((s) => {
                  const info = s.kind === "routine" ? byNumber.get(s.number) : undefined;
                  return info ? id(info.planName) : raw("null");
                }),
              ),
            },
          ],
          true,
        ),
      },
    });
  }

  // ----- client
  const clientDecls: Decl[] = [];
  if (parts.client && routines.length > 0) {
    const migCaller = imports.type(runtime, "MigCaller");
    const callOptions = imports.type(runtime, "CallOptions");
    const migValue = imports.type(runtime, "MigValue");
    const outsDecls: Decl[] = [];
    let needNoOuts = false;
    const members: ClassMember[] = [
      { m: "field", name: "#caller", type: tref(migCaller), readonly: true },
      { m: "blank" },
      { m: "constructor", params: [{ name: "caller", type: tref(migCaller) }], body: [{ s: "raw", text: "this.#caller = caller;" }] },
    ];
    for (const info of infos) {
      const r = info.routine;
      const params: Param[] = [];
      const slots: Expr[] = r.args.map(() => raw("null"));
      let timeoutArg: string | undefined;
      let optionArg: string | undefined;
      r.args.forEach((arg, slot) => {
        if (!arg.userVisible) return;
        const name = safeName(arg.name);
        switch (arg.kind) {
          case "requestport":
          case "retcode":
            return;
          case "count": {
            // Counts come from the arrays; a CountInOut count offers the largest inline capacity.
            type Item = { argIndex: number; maxCount: number | null };
            const items = ((r.reply as { items?: Item[] } | undefined)?.items ?? []) as Item[];
            const parent = r.args.findIndex((a) => a.name === arg.parent && !a.implicit);
            const item = items.find((i) => i.argIndex === parent);
            if (arg.inRequest) slots[slot] = num(item?.maxCount ?? 0);
            return;
          }
          case "out":
            return;
          case "poly": {
            const parent = r.args.find((a) => a.name === arg.parent && !a.implicit);
            if (parent && parent.kind === "out") return;
            params.push({ name, type: tref("number") });
            slots[slot] = id(name);
            return;
          }
          case "dealloc":
            params.push({ name, type: tref("boolean") });
            slots[slot] = id(name);
            return;
          case "waittime":
            params.push({ name, type: tref("number") });
            timeoutArg = name;
            return;
          case "msgoption":
            params.push({ name, type: tref("number") });
            optionArg = name;
            return;
          default:
            params.push({ name, type: argType(arg) });
            slots[slot] = toSlot(id(name), arg);
        }
      });
      // Locals never collide with the routine's own argument names (mach_host has an `options`).
      const taken = new Set(params.map((p) => p.name));
      const fresh = (base: string): string => {
        let name = base;
        while (taken.has(name)) name += "_";
        taken.add(name);
        return name;
      };
      const optionsName = fresh("options");
      const argsName = fresh("args");
      params.push({ name: optionsName, type: tref(callOptions), optional: true });
      const body: Stmt[] = [{ s: "const", name: argsName, type: tref(`${migValue}[]`), init: arr(slots) }];
      const defaults: string[] = [];
      if (r.waitTime !== undefined && /^\d+$/.test(r.waitTime.trim())) defaults.push(`timeout: ${r.waitTime.trim()}`);
      if (r.msgOption !== undefined && /^(0x)?[0-9a-fA-F]+$/.test(r.msgOption.trim())) defaults.push(`msgOption: ${r.msgOption.trim()}`);
      const overrides: string[] = [];
      if (timeoutArg) overrides.push(`timeout: ${timeoutArg}`);
      if (optionArg) overrides.push(`msgOption: ${optionArg}`);
      let optionsExpr: Expr = id(optionsName);
      if (defaults.length > 0 || overrides.length > 0) {
        const merged = fresh("callOptions");
        body.push({ s: "raw", text: `const ${merged}: ${callOptions} = { ${[...defaults, `...${optionsName}`, ...overrides].join(", ")} };` });
        optionsExpr = id(merged);
      }
      const caller = member(id("this"), "#caller");
      const callArgs = [id(info.planName), id(argsName), optionsExpr];
      // A routine hands the caller the function that turns the reply's slots into its result
      // (module-level, no closure per call), so the caller's promise is the call's only one.
      // Converting an argument (a struct) can throw: such a stub stays async, so that the
      // throw rejects the call as before.
      const converts = slots.some((e) => e.e === "call");
      if (r.kind === "simpleroutine") {
        body.push({ s: "return", expr: call(member(caller, "simpleroutine"), callArgs) });
      } else {
        let outsName = "no_outs";
        if (info.outs.length === 0) needNoOuts = true;
        else {
          outsName = `outs_${info.clientName}`;
          const value =
            info.outs.length === 1
              ? fromSlot(index(id("reply"), num(info.outs[0].slot)), info.outs[0].arg)
              : obj(info.outs.map((o) => ({ key: o.key, value: fromSlot(index(id("reply"), num(o.slot)), o.arg) })));
          outsDecls.push(
            { d: "blank" },
            { d: "comment", text: `What ${info.clientName} resolves to, from its reply's slots.` },
            {
              d: "function",
              name: outsName,
              params: [{ name: "reply", type: tref(`${migValue}[]`) }],
              returns: info.outType,
              body: [{ s: "return", expr: value }],
            },
          );
        }
        const routineCall = call(member(caller, "routine"), [...callArgs, id(outsName)]);
        body.push({ s: "return", expr: converts ? awaitExpr(routineCall) : routineCall });
      }
      members.push({ m: "blank" });
      members.push({
        m: "method",
        name: info.clientName,
        async: r.kind === "routine" && converts,
        doc: `${r.kind} ${r.name} (${r.requestId}).`,
        params,
        returns: tref("Promise", [info.outType]),
        body,
      });
    }
    if (needNoOuts) {
      outsDecls.push(
        { d: "blank" },
        { d: "comment", text: "What a routine without out values resolves to." },
        { d: "function", name: "no_outs", params: [], returns: tref("void"), body: [] },
      );
    }
    const className = `${pascal(prefix + subsystem)}Client`;
    clientDecls.push(
      { d: "blank" },
      {
        d: "comment",
        text: `Client stubs of subsystem ${subsystem}, bound to a caller (a task and a send right to the\nserver). Routines resolve to their out arguments and reject with MachError.`,
      },
      { d: "class", name: className, exported: true, members },
      ...outsDecls,
    );
  }

  // ----- server
  const serverDecls: Decl[] = [];
  if (parts.server && routines.length > 0) {
    const migValue = imports.type(runtime, "MigValue");
    const serverRoutine = imports.type(runtime, "MigServerRoutine");
    const migDemux = imports.type(runtime, "MigDemux");
    const migRequest = imports.type(runtime, "MigRequest");
    const handlersName = `${pascal(demuxBase)}Handlers`;
    const awaitable = parts.types ? "Awaitable" : fromTypes("Awaitable");
    const methods: MethodSignature[] = [];
    const routineDecls: Decl[] = [];
    // Translation functions (intran, outtran, destructor): optional hooks of a translations object,
    // the translated C types generic parameters defaulting to the wire type.
    const trans = translationsOf(routines, argType, new Set([...namedTypes].map(safeName)));
    const translationsName = `${pascal(demuxBase)}Translations`;
    const serverHooks = (arg: IrArgument): ServerHooks => hooksOf(arg, trans.names);
    const genericArgs = trans.params.length > 0 ? `<${trans.params.map(() => "unknown").join(", ")}>` : "";
    let needThenable = false;
    let needStored = false;
    /** Some routine without out values waits for its handler's promise (ignore_value). */
    let needIgnore = false;
    const withRun = new Set<string>();
    const withCall = new Set<string>();
    for (const info of infos) {
      const r = info.routine;
      const params: Param[] = [];
      const callArgs: Expr[] = [];
      const prelude: Stmt[] = [];
      const destructors: Stmt[] = [];
      const add = (arg: IrArgument, slot: number, type: TypeNode): void => {
        const hooks = trans.params.length > 0 ? serverHooks(arg) : {};
        params.push({ name: safeName(arg.name), type: hooks.inType ? tref(hooks.inType) : type });
        const value = arg.kind === "msgseqno" || arg.kind === "poly" ? asExpr(index(id("args"), num(slot)), tref("number")) : arg.kind === "servercopy" ? raw(`Boolean(args[${slot}])`) : fromSlot(index(id("args"), num(slot)), arg);
        if (!hooks.intran && !hooks.destructor) return void callArgs.push(value);
        const local = `arg${slot}`;
        prelude.push({ s: "const", name: local, init: hooks.intran ? call(id("translate_value"), [id("translations"), literal(hooks.intran), value]) : value });
        if (hooks.destructor) destructors.push({ s: "expr", expr: call(id("translate_value"), [id("translations"), literal(hooks.destructor), id(local)]) });
        callArgs.push(id(local));
      };
      const requestPort = r.args.findIndex((a) => a.kind === "requestport");
      const seqno = r.args.findIndex((a) => a.kind === "msgseqno");
      if (requestPort >= 0) add(r.args[requestPort], requestPort, argType(r.args[requestPort]));
      if (seqno >= 0) add(r.args[seqno], seqno, tref(fromTypes(safeName(r.args[seqno].type.name || "mach_port_seqno_t"))));
      r.args.forEach((arg, slot) => {
        if (!arg.serverVisible || slot === requestPort || slot === seqno) return;
        switch (arg.kind) {
          case "retcode":
          case "count":
          case "out":
          case "dealloc":
            return;
          case "poly": {
            const parent = r.args.find((a) => a.name === arg.parent && !a.implicit);
            if (parent && parent.kind === "out") return;
            add(arg, slot, tref("number"));
            return;
          }
          case "servercopy":
            add(arg, slot, tref("boolean"));
            return;
          default:
            add(arg, slot, argType(arg));
        }
      });
      params.push({ name: "migRequest", type: tref(migRequest) });
      callArgs.push(id("request"));
      let serverOutType = info.outType;
      const outtran = (o: RoutineInfo["outs"][number]): string | undefined => (trans.params.length > 0 ? serverHooks(o.arg).outtran : undefined);
      const outTypeOf = (o: RoutineInfo["outs"][number]): TypeNode => {
        const t = trans.params.length > 0 ? serverHooks(o.arg).outType : undefined;
        return t ? tref(t) : argType(o.arg);
      };
      if (info.outs.some((o) => outtran(o))) {
        serverOutType =
          info.outs.length === 1
            ? outTypeOf(info.outs[0])
            : { t: "objectType", members: info.outs.map((o) => ({ name: o.key, type: outTypeOf(o) })) };
      }
      const outSlot = (value: Expr, o: RoutineInfo["outs"][number]): Expr => {
        const fn = outtran(o);
        return toSlot(fn ? asExpr(call(id("translate_value"), [id("translations"), literal(fn), value]), argType(o.arg)) : value, o.arg);
      };
      methods.push({
        method: true,
        name: info.serverName,
        params,
        returns: tref(awaitable, [serverOutType]),
        doc: `${r.kind} ${r.name} (${r.requestId}).`,
      });
      const invokeName = `invoke_${info.serverName}`;
      const handlerArgs = call(member(id("handlers"), info.serverName), callArgs);
      const invokeParams: Param[] = [
        { name: "handlers", type: tref(handlersName + genericArgs) },
        { name: "args", type: tref(`${migValue}[]`) },
        { name: "request", type: tref(migRequest) },
        ...(trans.params.length > 0 ? [{ name: "translations", type: tref(translationsName + genericArgs), optional: true }] : []),
      ];
      const assignOut = (slot: number, value: Expr, o: RoutineInfo["outs"][number]): Stmt =>
        outtran(o)
          ? { s: "expr", expr: { e: "binary", op: "=", left: index(id("args"), num(slot)), right: outSlot(value, o) } }
          : { s: "expr", expr: raw(`args[${slot}] = ${printInline(toSlot(value, o.arg))}`) };
      const stores = (value: string): Stmt[] =>
        info.outs.length === 1
          ? [assignOut(info.outs[0].slot, id(value), info.outs[0])]
          : info.outs.map((o) => assignOut(o.slot, id(`${value}.${o.key}`), o));
      if (destructors.length > 0) {
        // The destructors run once the handler (and the out conversion) is done, even when it throws.
        const handlerCall = awaitExpr(handlerArgs);
        let body: Stmt[] = [];
        if (info.outs.length === 0) body.push({ s: "expr", expr: handlerCall });
        else {
          const value = info.outs.length === 1 ? "out" : "outs";
          body.push({ s: "const", name: value, init: handlerCall }, ...stores(value));
        }
        body = [...prelude, { s: "try", body, finally: destructors }];
        routineDecls.push(
          { d: "blank" },
          { d: "function", name: invokeName, async: true, params: invokeParams, returns: tref("Promise", [tref("void")]), body },
        );
      } else {
        // A handler that returns a value has its out values stored synchronously (the demux
        // answers at once); only a promise (any thenable, as `await` takes it) is waited for.
        needThenable = true;
        const body: Stmt[] = [...prelude, { s: "const", name: "out", init: handlerArgs }];
        if (info.outs.length === 0) {
          needIgnore = true;
          body.push(
            { s: "const", name: "later", init: raw("as_promise(out)") },
            { s: "if", test: id("later"), then: [{ s: "return", expr: raw("later.then(ignore_value)") }] },
          );
        } else {
          const storeName = `store_${info.serverName}`;
          const passTranslations = trans.params.length > 0 ? ", translations" : "";
          body.push(
            { s: "const", name: "later", init: raw("as_promise(out)") },
            { s: "if", test: id("later"), then: [{ s: "return", expr: raw(`stored(later, ${storeName}, args${passTranslations})`) }] },
            { s: "expr", expr: call(id(storeName), [id("args"), asExpr(id("out"), serverOutType), ...(trans.params.length > 0 ? [id("translations")] : [])]) },
          );
          needStored = true;
          routineDecls.push(
            { d: "blank" },
            {
              d: "function",
              name: storeName,
              params: [
                { name: "args", type: tref(`${migValue}[]`) },
                { name: "out", type: serverOutType },
                ...(trans.params.length > 0 ? [{ name: "translations", type: tref(translationsName + genericArgs), optional: true }] : []),
              ],
              returns: tref("void"),
              body: stores("out"),
            },
          );
        }
        const runName = `run_${info.serverName}`;
        const passArgs = `handlers, args, request${trans.params.length > 0 ? ", translations" : ""}`;
        routineDecls.push(
          { d: "blank" },
          { d: "function", name: runName, params: invokeParams, returns: tref("void | Promise<void>"), body },
          { d: "blank" },
          {
            d: "function",
            name: invokeName,
            async: true,
            params: invokeParams,
            returns: tref("Promise", [tref("void")]),
            body: [{ s: "expr", expr: raw(`await ${runName}(${passArgs})`) }],
          },
        );
        withRun.add(info.serverName);
        if (trans.params.length === 0) {
          // The handler call alone: the demux then tells the handler's own failure (it consumed
          // nothing) from a failure to store what it returned without tracking the call.
          routineDecls.push(
            { d: "blank" },
            {
              d: "function",
              name: `call_${info.serverName}`,
              params: invokeParams,
              returns: tref(awaitable, [serverOutType]),
              body: [{ s: "return", expr: handlerArgs }],
            },
          );
          withCall.add(info.serverName);
        }
      }
    }
    if (needThenable) {
      routineDecls.push(
        { d: "blank" },
        { d: "comment", text: "What a handler returned, as a promise when it is a thenable (what `await` waits for)." },
        {
          d: "function",
          name: "as_promise",
          typeParams: ["T"],
          params: [{ name: "value", type: tref("T | Promise<T>") }],
          returns: tref("Promise<T> | undefined"),
          body: [
            { s: "raw", text: "const v: unknown = value;" },
            { s: "raw", text: 'if (typeof v !== "object" && typeof v !== "function") return undefined;' },
            { s: "raw", text: 'if (typeof (v as { then?: unknown } | null)?.then !== "function") return undefined;' },
            { s: "return", expr: raw("Promise.resolve(v as PromiseLike<T>)") },
          ],
        },
      );
    }
    if (needIgnore) {
      routineDecls.push({ d: "blank" }, { d: "function", name: "ignore_value", params: [], returns: tref("void"), body: [] });
    }
    if (needStored) {
      routineDecls.push(
        { d: "blank" },
        { d: "comment", text: "Stores the out values a handler's promise resolves to (`store` is the routine's)." },
        {
          d: "function",
          name: "stored",
          typeParams: ["T", "X"],
          params: [
            { name: "out", type: tref("Promise<T>") },
            { name: "store", type: tref(`(args: ${migValue}[], out: T, translations?: X) => void`) },
            { name: "args", type: tref(`${migValue}[]`) },
            { name: "translations", type: tref("X"), optional: true },
          ],
          returns: tref("Promise<void>"),
          body: [{ s: "return", expr: raw("out.then((value) => store(args, value, translations))") }],
        },
      );
    }
    // Each routine's entry is made once (a lookup per request allocates nothing).
    const entryType = trans.params.length > 0 ? "TranslatedRoutine" : `${serverRoutine}<${handlersName}${genericArgs}>`;
    const entryConsts: Decl[] = [];
    const cases: Array<{ test: Expr | null; body: Stmt[] }> = infos.map((info) => {
      const name = `routine_${info.serverName}`;
      entryConsts.push(
        { d: "blank" },
        {
          d: "stmt",
          stmt: {
            s: "const",
            name,
            type: tref(entryType),
            init: obj([
              { key: "plan", value: id(info.planName) },
              { key: "invoke", value: id(`invoke_${info.serverName}`) },
              ...(withRun.has(info.serverName) ? [{ key: "run", value: id(`run_${info.serverName}`) }] : []),
              ...(withCall.has(info.serverName) ? [{ key: "call", value: id(`call_${info.serverName}`) }] : []),
              ...(withCall.has(info.serverName) && info.outs.length > 0 ? [{ key: "store", value: id(`store_${info.serverName}`) }] : []),
            ]),
          },
        },
      );
      return { test: num(info.routine.requestId), body: [{ s: "return", expr: id(name) }] };
    });
    cases.push({ test: null, body: [{ s: "return", expr: raw("undefined") }] });
    const routineType = tref(`${serverRoutine}<${handlersName}${genericArgs}> | undefined`);
    const typeParams = trans.params.map((p) => `${p.name} = ${p.default}`);
    const typeArgs = trans.params.length > 0 ? `<${trans.params.map((p) => p.name).join(", ")}>` : "";
    const translationDecls: Decl[] = [];
    if (trans.params.length > 0) {
      translationDecls.push(
        { d: "blank" },
        {
          d: "comment",
          text: `Translation functions of subsystem ${subsystem} (intran, outtran, destructor), all optional:\na value whose function is missing passes untranslated (the type parameters default to the\nwire types).`,
        },
        {
          d: "interface",
          name: translationsName,
          exported: true,
          typeParams,
          members: trans.hooks.map((h) => ({
            method: true as const,
            name: h.name,
            optional: true,
            params: [{ name: "value", type: tref(h.from) }],
            returns: tref(h.to),
            doc: h.doc,
          })),
        },
        { d: "blank" },
        { d: "comment", text: "Calls `translations[name]` on `value` (with `translations` as `this`), or returns `value`." },
        {
          d: "function",
          name: "translate_value",
          params: [
            { name: "translations", type: tref("object | undefined") },
            { name: "name", type: tref("string") },
            { name: "value", type: tref("unknown") },
          ],
          returns: tref("unknown"),
          body: [
            { s: "raw", text: "const hook: unknown = translations && Reflect.get(translations, name);" },
            { s: "return", expr: raw('typeof hook === "function" ? (hook as TranslationHook).call(translations, value) : value') },
          ],
        },
        { d: "blank" },
        { d: "stmt", stmt: { s: "raw", text: "type TranslationHook = (value: unknown) => unknown;" } },
      );
    }
    const routineParams: Param[] = [{ name: "id", type: tref("number") }];
    let routineBody: Stmt[] = [{ s: "switch", discriminant: id("id"), cases }];
    const entryDecls: Decl[] = [];
    const entryName = `${demuxName}_entry`;
    if (trans.params.length > 0) {
      entryDecls.push(
        { d: "blank" },
        {
          d: "function",
          name: entryName,
          params: [{ name: "id", type: tref("number") }],
          returns: tref("TranslatedRoutine | undefined"),
          body: routineBody,
        },
        { d: "blank" },
        {
          d: "interface",
          name: "TranslatedRoutine",
          members: [
            { name: "plan", type: tref(imports.type(runtime, "RoutinePlan")) },
            {
              method: true,
              name: "invoke",
              params: [
                { name: "handlers", type: tref(handlersName + genericArgs) },
                { name: "args", type: tref(`${migValue}[]`) },
                { name: "request", type: tref(`${migRequest} | undefined`) },
                { name: "translations", type: tref(translationsName + genericArgs), optional: true },
              ],
              returns: tref("Promise", [tref("void")]),
            },
            {
              method: true,
              name: "run",
              optional: true,
              params: [
                { name: "handlers", type: tref(handlersName + genericArgs) },
                { name: "args", type: tref(`${migValue}[]`) },
                { name: "request", type: tref(`${migRequest} | undefined`) },
                { name: "translations", type: tref(translationsName + genericArgs), optional: true },
              ],
              returns: tref("void | Promise<void>"),
            },
          ],
        },
      );
      routineParams.push({ name: "translations", type: tref(translationsName + genericArgs), optional: true });
      routineBody = [
        { s: "raw", text: `const entry = ${entryName}(id);` },
        { s: "if", test: raw("!entry || !translations"), then: [{ s: "return", expr: id("entry") }] },
        { s: "raw", text: "const run = entry.run;" },
        {
          s: "return",
          expr: obj([
            { key: "plan", value: raw("entry.plan") },
            { key: "invoke", value: raw("(h, a, r) => entry.invoke(h, a, r, translations)") },
            { key: "run", value: raw("run && ((h, a, r) => run(h, a, r, translations))") },
          ]),
        },
      ];
    }
    serverDecls.push(
      { d: "blank" },
      {
        d: "comment",
        text: `Server functions of subsystem ${subsystem}. Return the out arguments; throw MachError to\nanswer with an error code (MIG_NO_REPLY: no reply now; answer later through the reply right).`,
      },
      { d: "interface", name: handlersName, exported: true, members: methods, typeParams },
      ...translationDecls,
      ...routineDecls,
      ...entryConsts,
      ...entryDecls,
      { d: "blank" },
      {
        d: "comment",
        text:
          trans.params.length > 0
            ? `The routine for request id \`id\`, or undefined (MIG_BAD_ID), its handler called with\n\`translations\`: chain these to serve several subsystems on one port set.`
            : `The routine for request id \`id\`, or undefined (MIG_BAD_ID): chain these to serve\nseveral subsystems on one port set.`,
      },
      {
        d: "function",
        name: `${demuxName}_routine`,
        exported: true,
        params: routineParams,
        returns: routineType,
        body: routineBody,
      },
      { d: "blank" },
      { d: "comment", text: `The demux of subsystem ${subsystem} (ids ${ir.idRange ? ir.idRange.join("..") : "none"}).` },
      {
        d: "function",
        name: demuxName,
        exported: true,
        typeParams,
        params: [
          { name: "handlers", type: tref(handlersName + typeArgs) },
          ...(trans.params.length > 0 ? [{ name: "translations", type: tref(translationsName + typeArgs), optional: true }] : []),
        ],
        returns: tref(`${migDemux}<${handlersName}${typeArgs}>`),
        body: [
          {
            s: "return",
            expr: obj([
              { key: "subsystem", value: id(parts.types ? `${subsystem}_subsystem` : fromTypes(`${subsystem}_subsystem`)) },
              { key: "handlers", value: id("handlers") },
              {
                key: "routine",
                value: trans.params.length > 0 ? raw(`(id: number) => ${demuxName}_routine(id, translations)`) : id(`${demuxName}_routine`),
              },
            ]),
          },
        ],
      },
    );
  }

  const source = options.sourceName ?? ir.file;
  const header: Decl = {
    d: "comment",
    text: [
      `Generated by mig-ts ${VERSION} from ${source} (subsystem ${subsystem} ${ir.subsystem.base}, ABI ${ir.abi}).`,
      ...(options.commandLine ? [`Options: ${options.commandLine}`] : []),
      "Do not edit: regenerate it from the .defs.",
    ].join("\n"),
  };
  const importDecls = imports.declarations();
  const decls: Decl[] = [header, ...(importDecls.length > 0 ? [{ d: "blank" } as Decl, ...importDecls] : [])];
  const body = [...typeDecls, ...helperDecls, ...planDecls, ...clientDecls, ...serverDecls];
  if (body.length > 0 && body[0].d !== "blank") decls.push({ d: "blank" });
  decls.push(...body);
  return printModule(decls);
}

/** A short expression as one line of text (for simple assignments). */
function printInline(expr: Expr): string {
  switch (expr.e) {
    case "id":
      return expr.name;
    case "call":
      return `${printInline(expr.callee)}(${expr.args.map(printInline).join(", ")})`;
    case "raw":
      return expr.text;
    default:
      throw new Error("internal error: not an inline expression");
  }
}

/** The translation functions a server argument calls, and its translated (generic) types. */
interface ServerHooks {
  intran?: string;
  destructor?: string;
  outtran?: string;
  /** The handler's parameter type / out value type: a type parameter of the handlers interface. */
  inType?: string;
  outType?: string;
}

/** Which of its type's translation functions the server stub calls for `arg` (MIG §4.4). */
function hooksOf(arg: IrArgument, names: Map<string, string>): ServerHooks {
  const t = arg.type;
  const hooks: ServerHooks = {};
  const incoming = arg.kind === "in" || arg.kind === "requestport" || arg.kind === "inout";
  if (incoming && t.intran) {
    hooks.intran = t.intran.function;
    hooks.inType = names.get(t.intran.transType);
  }
  // The destructor runs for in arguments (not inout), after the server function.
  if ((arg.kind === "in" || arg.kind === "requestport") && t.destructor) {
    hooks.destructor = t.destructor.function;
    hooks.inType ??= names.get(t.destructor.transType);
  }
  if ((arg.kind === "out" || arg.kind === "inout") && t.outtran) {
    hooks.outtran = t.outtran.function;
    hooks.outType = names.get(t.outtran.transType);
  }
  return hooks;
}

/**
 * The translation hooks of the server side of `routines`: one type parameter per translated C
 * type (defaulting to the wire type of the first argument that uses it) and one optional method
 * per function.
 */
function translationsOf(
  routines: IrRoutine[],
  argType: (arg: IrArgument) => TypeNode,
  reserved: Set<string>,
): {
  params: Array<{ name: string; default: string }>;
  names: Map<string, string>;
  hooks: Array<{ name: string; from: string; to: string; doc: string }>;
} {
  const names = new Map<string, string>();
  const params: Array<{ name: string; default: string }> = [];
  const hooks: Array<{ name: string; from: string; to: string; doc: string }> = [];
  const seen = new Set<string>();
  const param = (transType: string, arg: IrArgument): string => {
    let name = names.get(transType);
    if (name === undefined) {
      name = safeName(transType);
      while (reserved.has(name) || params.some((p) => p.name === name)) name += "_";
      names.set(transType, name);
      params.push({ name, default: typeText(argType(arg)) });
    }
    return name;
  };
  for (const r of routines) {
    for (const arg of r.args) {
      const t = arg.type;
      const h = hooksOf(arg, new Map());
      const wire = typeText(argType(arg));
      if (h.intran && t.intran && !seen.has(h.intran)) {
        seen.add(h.intran);
        const to = param(t.intran.transType, arg);
        hooks.push({ name: h.intran, from: wire, to, doc: `intran: ${t.intran.transType} ${h.intran}(${t.intran.serverType})` });
      }
      if (h.outtran && t.outtran && !seen.has(h.outtran)) {
        seen.add(h.outtran);
        const from = param(t.outtran.transType, arg);
        hooks.push({ name: h.outtran, from, to: wire, doc: `outtran: ${t.outtran.serverType} ${h.outtran}(${t.outtran.transType})` });
      }
      if (h.destructor && t.destructor && !seen.has(h.destructor)) {
        seen.add(h.destructor);
        const from = param(t.destructor.transType, arg);
        hooks.push({ name: h.destructor, from, to: "void", doc: `destructor: ${h.destructor}(${t.destructor.transType})` });
      }
    }
  }
  return { params, names, hooks };
}

/** A type as source text (for type parameter defaults). */
function typeText(type: TypeNode): string {
  switch (type.t) {
    case "ref":
      return type.args && type.args.length > 0 ? `${type.name}<${type.args.map(typeText).join(", ")}>` : type.name;
    case "literal":
      return JSON.stringify(type.value);
    case "union":
      return type.types.map(typeText).join(" | ");
    case "array": {
      const e = type.element.t === "union" ? `(${typeText(type.element)})` : typeText(type.element);
      return type.readonly ? `readonly ${e}[]` : `${e}[]`;
    }
    case "tuple":
      return `${type.readonly ? "readonly " : ""}[${type.elements.map(typeText).join(", ")}]`;
    case "objectType":
      return `{ ${type.members.map((m) => `${m.name}${m.optional ? "?" : ""}: ${typeText(m.type)}`).join("; ")} }`;
  }
}
