import { describe, expect, it } from "vitest";
import { parseText, typeSpecOf } from "./helpers.js";

const sym = (name: string, spelled = name) => ({ kind: "symbolic", name, spelled });
const lit = (value: number) => ({ kind: "literal", value });

describe("IPC types", () => {
  it("short form with a symbolic name, polymorphic, and a number", () => {
    expect(typeSpecOf("MACH_MSG_TYPE_INTEGER_32")).toEqual({ kind: "ipc", inName: sym("MACH_MSG_TYPE_INTEGER_32") });
    expect(typeSpecOf("polymorphic")).toEqual({ kind: "ipc", inName: { kind: "polymorphic" } });
    expect(typeSpecOf("12")).toEqual({ kind: "ipc", inName: { kind: "number", value: 12 } });
  });

  it("every GNU MACH_MSG_TYPE_* name", () => {
    for (const n of [
      "UNSTRUCTURED", "BIT", "BOOLEAN", "INTEGER_8", "INTEGER_16", "INTEGER_32", "INTEGER_64", "CHAR", "BYTE", "REAL",
      "STRING", "STRING_C", "MOVE_RECEIVE", "COPY_SEND", "MAKE_SEND", "MOVE_SEND", "MAKE_SEND_ONCE", "MOVE_SEND_ONCE",
      "PORT_NAME", "PORT_RECEIVE", "PORT_SEND", "PORT_SEND_ONCE", "POLYMORPHIC",
    ]) {
      expect(typeSpecOf(`MACH_MSG_TYPE_${n}`)).toEqual({ kind: "ipc", inName: sym(`MACH_MSG_TYPE_${n}`) });
    }
  });

  it("Mach 2.5 MSG_TYPE_* names map to the canonical names and keep their spelling", () => {
    expect(typeSpecOf("MSG_TYPE_INTEGER_32")).toEqual({ kind: "ipc", inName: sym("MACH_MSG_TYPE_INTEGER_32", "MSG_TYPE_INTEGER_32") });
    expect(typeSpecOf("MSG_TYPE_PORT")).toEqual({ kind: "ipc", inName: sym("MACH_MSG_TYPE_COPY_SEND", "MSG_TYPE_PORT") });
    expect(typeSpecOf("MSG_TYPE_PORT_ALL")).toEqual({ kind: "ipc", inName: sym("MACH_MSG_TYPE_MOVE_RECEIVE", "MSG_TYPE_PORT_ALL") });
    // No Mach 3 equivalent: its own name, for the semantic phase to report.
    expect(typeSpecOf("MSG_TYPE_PORT_OWNERSHIP")).toEqual({ kind: "ipc", inName: sym("MSG_TYPE_PORT_OWNERSHIP") });
  });

  it("Apple-only names stay symbolic under their own name", () => {
    expect(typeSpecOf("(MACH_MSG_TYPE_REAL_64, 64)")).toMatchObject({ kind: "long", inName: sym("MACH_MSG_TYPE_REAL_64") });
    expect(typeSpecOf("MACH_MSG_TYPE_REAL_32")).toEqual({ kind: "ipc", inName: sym("MACH_MSG_TYPE_REAL_32") });
  });

  it("in|out names, short and long", () => {
    expect(typeSpecOf("polymorphic|MACH_MSG_TYPE_PORT_SEND_ONCE")).toEqual({
      kind: "ipc",
      inName: { kind: "polymorphic" },
      outName: sym("MACH_MSG_TYPE_PORT_SEND_ONCE"),
    });
    expect(typeSpecOf("(MACH_MSG_TYPE_MAKE_SEND_ONCE|polymorphic, 32)")).toEqual({
      kind: "long",
      inName: sym("MACH_MSG_TYPE_MAKE_SEND_ONCE"),
      outName: { kind: "polymorphic" },
      size: lit(32),
      flags: [],
    });
  });

  it("long form with a size expression and every flag", () => {
    expect(
      typeSpecOf(
        "(MACH_MSG_TYPE_STRING_C, 8*256, islong, isnotlong, dealloc, dealloc[], notdealloc, servercopy, countinout, retcode, samecount, physicalcopy, overwrite, auto, const)",
      ),
    ).toEqual({
      kind: "long",
      inName: sym("MACH_MSG_TYPE_STRING_C"),
      size: { kind: "binary", operator: "*", left: lit(8), right: lit(256) },
      flags: [
        { name: "islong", dynamic: false },
        { name: "isnotlong", dynamic: false },
        { name: "dealloc", dynamic: false },
        { name: "dealloc", dynamic: true },
        { name: "notdealloc", dynamic: false },
        { name: "servercopy", dynamic: false },
        { name: "countinout", dynamic: false },
        { name: "retcode", dynamic: false },
        { name: "samecount", dynamic: false },
        { name: "physicalcopy", dynamic: false },
        { name: "overwrite", dynamic: false },
        { name: "auto", dynamic: false },
        { name: "const", dynamic: false },
      ],
    });
  });

  it("[] on a flag other than dealloc is kept for the semantic phase to judge", () => {
    expect(typeSpecOf("(MACH_MSG_TYPE_INTEGER_32, 32, islong[])")).toMatchObject({ flags: [{ name: "islong", dynamic: true }] });
  });
});

describe("constructed types", () => {
  it("named", () => {
    expect(typeSpecOf("natural_t")).toEqual({ kind: "named", name: { text: "natural_t" } });
  });

  it("arrays: indefinite ([] and [*]), bounded, fixed", () => {
    const element = { kind: "named", name: { text: "char" } };
    expect(typeSpecOf("array[] of char")).toEqual({ kind: "array", bound: { kind: "indefinite" }, element });
    expect(typeSpecOf("array[*] of char")).toEqual({ kind: "array", bound: { kind: "indefinite" }, element });
    expect(typeSpecOf("array[*:1024] of char")).toEqual({ kind: "array", bound: { kind: "bounded", max: lit(1024) }, element });
    expect(typeSpecOf("array[16] of char")).toEqual({ kind: "array", bound: { kind: "fixed", size: lit(16) }, element });
  });

  it("out of line, nested", () => {
    expect(typeSpecOf("^array[] of MACH_MSG_TYPE_BYTE")).toEqual({
      kind: "pointer",
      target: { kind: "array", bound: { kind: "indefinite" }, element: { kind: "ipc", inName: sym("MACH_MSG_TYPE_BYTE") } },
    });
    expect(typeSpecOf("array[4] of array[*:8] of int")).toMatchObject({ kind: "array", element: { kind: "array", bound: { kind: "bounded" } } });
  });

  it("struct[N] of T", () => {
    expect(typeSpecOf("struct[13] of integer_t")).toEqual({ kind: "structarray", size: lit(13), element: { kind: "named", name: { text: "integer_t" } } });
  });

  it("C-like struct", () => {
    expect(typeSpecOf("struct { int a; char b; mach_port_name_t c; }")).toEqual({
      kind: "cstruct",
      fields: [
        { type: { text: "int" }, name: { text: "a" } },
        { type: { text: "char" }, name: { text: "b" } },
        { type: { text: "mach_port_name_t" }, name: { text: "c" } },
      ],
    });
  });

  it("c_string[N] and c_string[*:N]", () => {
    expect(typeSpecOf("c_string[1024]")).toEqual({ kind: "cstring", variable: false, size: lit(1024) });
    expect(typeSpecOf("c_string[*:64]")).toEqual({ kind: "cstring", variable: true, size: lit(64) });
  });
});

describe("integer expressions", () => {
  it("* and / bind tighter than + and -, all left-associative", () => {
    expect(typeSpecOf("array[1+2*3] of char")).toMatchObject({
      bound: { size: { kind: "binary", operator: "+", left: lit(1), right: { kind: "binary", operator: "*", left: lit(2), right: lit(3) } } },
    });
    expect(typeSpecOf("array[8-4-2] of char")).toMatchObject({
      bound: { size: { kind: "binary", operator: "-", left: { kind: "binary", operator: "-", left: lit(8), right: lit(4) }, right: lit(2) } },
    });
    expect(typeSpecOf("array[64/8/2] of char")).toMatchObject({
      bound: { size: { kind: "binary", operator: "/", left: { kind: "binary", operator: "/", left: lit(64), right: lit(8) }, right: lit(2) } },
    });
  });

  it("parentheses", () => {
    expect(typeSpecOf("array[(1+2)*3] of char")).toMatchObject({
      bound: { size: { kind: "binary", operator: "*", left: { kind: "binary", operator: "+", left: lit(1), right: lit(2) }, right: lit(3) } },
    });
    expect(typeSpecOf("c_string[((4))]")).toEqual({ kind: "cstring", variable: false, size: lit(4) });
  });

  it("the span of a parenthesised expression covers its parentheses", () => {
    const r = parseText("type t = array[(1+2)] of char;");
    const s = r.file.statements[0];
    if (s?.kind !== "type" || s.spec.type.kind !== "array" || s.spec.type.bound.kind !== "fixed") throw new Error("shape");
    expect(s.spec.type.bound.size.span.start.column).toBe(16);
    expect(s.spec.type.bound.size.span.end.column).toBe(21);
  });
});

describe("Apple C type constructors", () => {
  it("PointerTo, PointerToIfNot, ValueOf", () => {
    const r = parseText("type t = int ctype: PointerTo(foo_t) cusertype: PointerToIfNot(foo_t, bad_t) cservertype: ValueOf(bar_t);");
    expect(r.diagnostics).toEqual([]);
    const s = r.file.statements[0];
    expect(s).toMatchObject({
      spec: {
        options: [
          { kind: "ctype", cType: { kind: "PointerTo", target: { text: "foo_t" } } },
          { kind: "cusertype", cType: { kind: "PointerToIfNot", target: { text: "foo_t" }, bad: { text: "bad_t" } } },
          { kind: "cservertype", cType: { kind: "ValueOf", target: { text: "bar_t" } } },
        ],
      },
    });
  });

  it("the constructor names are soft: a plain C type may be called PointerTo", () => {
    const r = parseText("type t = int ctype: PointerTo intran: ValueOf fn(PointerTo);");
    expect(r.diagnostics).toEqual([]);
    expect(r.file.statements[0]).toMatchObject({
      spec: {
        options: [
          { kind: "ctype", cType: { kind: "name", name: { text: "PointerTo" } } },
          { kind: "intran", transType: { kind: "name", name: { text: "ValueOf" } }, serverType: { kind: "name", name: { text: "PointerTo" } } },
        ],
      },
    });
  });
});
