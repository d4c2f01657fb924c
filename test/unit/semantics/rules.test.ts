/** MIG's type and routine rules on small in-memory interfaces (mig-reference §2, §4, §5). */
import { describe, expect, it } from "vitest";
import { compileFile } from "../../../compiler/index.js";
import type { Abi } from "../../../compiler/preprocess/types.js";
import type { InterfaceModel } from "../../../compiler/semantics/model.js";
import { printMigType } from "../../../compiler/semantics/print.js";

function compile(text: string, abi: Abi = "x86_64") {
  const result = compileFile("/virtual/test.defs", {
    abi,
    readFile: (p) => (p === "/virtual/test.defs" ? text : undefined),
  });
  return { ...result, codes: result.diagnostics.map((d) => d.code) };
}

function model(text: string, abi: Abi = "x86_64"): InterfaceModel {
  const r = compile(text, abi);
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return r.model!;
}

const typeOf = (m: InterfaceModel, name: string) =>
  printMigType(m.types.find((t) => t.name === name)!);

describe("built-in types and declarations", () => {
  it("has char short int int64 uintptr_t intptr_t, pointer-sized per ABI", () => {
    for (const [abi, bits] of [
      ["x86_64", 64],
      ["i386", 32],
    ] as const) {
      const m = model("subsystem s 100;", abi);
      expect(m.types.map((t) => t.name)).toEqual([
        "char",
        "short",
        "int",
        "int64",
        "uintptr_t",
        "intptr_t",
      ]);
      expect(m.types.find((t) => t.name === "uintptr_t")!.size).toBe(bits);
    }
  });
  it("accepts an identical restatement of a built-in and types before subsystem", () => {
    const r = compile("type int = MACH_MSG_TYPE_INTEGER_32;\ntype t = int;\nsubsystem s 100;");
    expect(r.codes).toEqual([]);
    expect(r.model!.types.filter((t) => t.name === "int")).toHaveLength(1);
  });
  it("copies types without their translations (type new = old)", () => {
    const m = model(`subsystem s 1;
      type a = MACH_MSG_TYPE_COPY_SEND intran: x f(a) ctype: mach_port_t;
      type b = a;`);
    const b = m.types.find((t) => t.name === "b")!;
    expect(b.intran).toBeUndefined();
    expect([b.cUserType, b.cServerType, b.cTransType]).toEqual(["b", "b", "b"]);
  });
  it("takes the server C type from intran when no ctype is given", () => {
    const m = model(`subsystem s 1;
      type v = uintptr_t intran: v from_user(rpc_v) outtran: rpc_v to_user(v);`);
    const v = m.types.find((t) => t.name === "v")!;
    expect([v.cUserType, v.cServerType, v.cTransType]).toEqual(["v", "rpc_v", "v"]);
  });
});

describe("type constructors", () => {
  const defs = `subsystem s 1;
    type p = MACH_MSG_TYPE_PORT_SEND;
    type ms = MACH_MSG_TYPE_MOVE_SEND;
    type poly = polymorphic;
    type so = MACH_MSG_TYPE_MAKE_SEND_ONCE|polymorphic;
    type fixed = array[10] of int;
    type big = array[5000] of char;
    type bounded = array[*:1024] of int;
    type indef = array[] of int;
    type ports = array[] of ms;
    type ool = ^array[] of MACH_MSG_TYPE_BYTE;
    type oolfixed = ^array[10] of int;
    type cs = c_string[64];
    type vcs = c_string[*:64];
    type path = (MACH_MSG_TYPE_STRING_C, 8*256);
    type st = struct { int a; char b; };
    type wide = struct { int64 a; int b; };
    type sa = struct[3] of wide;`;
  it("prints like mig -v on x86_64", () => {
    const m = model(defs);
    expect(Object.fromEntries(m.types.slice(6).map((t) => [t.name, printMigType(t)]))).toEqual({
      p: "(MACH_MSG_TYPE_POLYMORPHIC|MACH_MSG_TYPE_PORT_SEND 64)",
      ms: "(MACH_MSG_TYPE_MOVE_SEND|MACH_MSG_TYPE_PORT_SEND 64)",
      poly: "(MACH_MSG_TYPE_POLYMORPHIC, 64)",
      so: "(MACH_MSG_TYPE_MAKE_SEND_ONCE|MACH_MSG_TYPE_POLYMORPHIC 64)",
      fixed: "array [10] of (MACH_MSG_TYPE_INTEGER_32, 32)",
      big: "array [5000] of (MACH_MSG_TYPE_CHAR, 8, IsLong)",
      bounded: "array [*:1024] of (MACH_MSG_TYPE_INTEGER_32, 32)",
      indef: "array [] of (MACH_MSG_TYPE_INTEGER_32, 32, IsLong)",
      ports: "array [] of (MACH_MSG_TYPE_MOVE_SEND|MACH_MSG_TYPE_PORT_SEND 64, IsLong)",
      ool: "^ array [] of (MACH_MSG_TYPE_BYTE, 8, IsLong)",
      oolfixed: "^ struct [0] of (MACH_MSG_TYPE_INTEGER_32, 32)",
      cs: "array [64] of (MACH_MSG_TYPE_STRING_C, 8)",
      vcs: "array [*:64] of (MACH_MSG_TYPE_STRING_C, 8)",
      path: "(MACH_MSG_TYPE_STRING_C, 2048, IsLong)",
      st: "struct [2] of (MACH_MSG_TYPE_INTEGER_32, 32)",
      wide: "struct [2] of (MACH_MSG_TYPE_INTEGER_64, 64)",
      sa: "struct [6] of (MACH_MSG_TYPE_INTEGER_64, 64)",
    });
  });
  it("flattens structs with the i386 alignment cap and port width", () => {
    const m = model(defs, "i386");
    expect(typeOf(m, "wide")).toBe("struct [3] of (MACH_MSG_TYPE_INTEGER_32, 32)");
    expect(typeOf(m, "ms")).toBe("(MACH_MSG_TYPE_MOVE_SEND|MACH_MSG_TYPE_PORT_SEND 32)");
    expect(m.types.find((t) => t.name === "wide")!.structFields!.map((f) => f.offset)).toEqual([
      0, 8,
    ]);
  });
  it("gives indefinite arrays 2048 bytes inline", () => {
    expect(model(defs).types.find((t) => t.name === "ports")!.maxInlineNumber).toBe(256);
    expect(model(defs, "i386").types.find((t) => t.name === "ports")!.maxInlineNumber).toBe(512);
    expect(model(defs).types.find((t) => t.name === "indef")!.maxInlineNumber).toBe(512);
  });
  it("warns about strange sizes, needless IsLong and dealloc on inline data", () => {
    const r = compile(`subsystem s 1;
      type a = (MACH_MSG_TYPE_INTEGER_32, 16);
      type b = (MACH_MSG_TYPE_INTEGER_32, 32, IsLong);
      type c = (MACH_MSG_TYPE_INTEGER_32, 32, dealloc);`);
    expect(r.codes).toEqual(["MIG3009", "MIG3010", "MIG3033"]);
    expect(r.ir).toBeDefined();
  });
});

describe("routines", () => {
  const defs = `subsystem demo 500;
    type port = MACH_MSG_TYPE_COPY_SEND;
    type list = array[] of int;
    type data = ^array[] of char;
    type name = c_string[*:32];
    type pp = polymorphic;
    routine r0(p : port; out l : list, CountInOut);
    skip 2;
    simpleroutine r3(p : port; d : data, dealloc[]; n : name);
    routine r4(in x : int; p : port; out o : pp);
    skip;`;
  it("numbers routines with skips, trailing skips included", () => {
    const m = model(defs);
    expect(m.routines.map((r) => [r.name, r.number, r.requestId, r.replyId])).toEqual([
      ["r0", 0, 500, 600],
      ["r3", 3, 503, null],
      ["r4", 4, 504, 604],
    ]);
    expect(m.slots.map((s) => s.kind)).toEqual([
      "routine",
      "skip",
      "skip",
      "routine",
      "routine",
      "skip",
    ]);
  });
  it("adds RetCode, the reply port and per-argument implicit arguments in MIG's order", () => {
    const m = model(defs);
    const names = (i: number) => m.routines[i]!.args.map((a) => `${a.name}:${a.kind}`);
    expect(names(0)).toEqual([
      "RetCode:retcode",
      "Reply:replyport",
      "p:requestport",
      "l:out",
      "lCnt:count",
    ]);
    expect(m.routines[0]!.args[4]!.inRequest).toBe(true);
    expect(names(1)).toEqual([
      "RetCode:retcode",
      "p:requestport",
      "d:in",
      "dCnt:count",
      "dDealloc:dealloc",
      "n:in",
    ]);
    expect(names(2)).toEqual([
      "RetCode:retcode",
      "Reply:replyport",
      "x:in",
      "p:requestport",
      "o:out",
      "oPoly:poly",
    ]);
  });
  it("applies positional options to the routines that follow", () => {
    const m = model(`subsystem s 1; type port = MACH_MSG_TYPE_COPY_SEND;
      routine a(p : port);
      serverprefix S_; userprefix U_; waittime 100; msgoption MACH_SEND_INTERRUPT;
      routine b(p : port);
      nowaittime; msgoption MACH_MSG_OPTION_NONE; serverdemux my_demux;
      routine c(p : port);`);
    expect(m.routines.map((r) => [r.serverPrefix, r.userPrefix, r.waitTime, r.msgOption])).toEqual([
      ["", "", undefined, undefined],
      ["S_", "U_", "100", "MACH_SEND_INTERRUPT"],
      ["S_", "U_", undefined, undefined],
    ]);
    expect(m.serverDemux).toBe("my_demux");
  });
  it("rewrites mach_port_t to ipc_port_t on the kernel side", () => {
    const m =
      model(`subsystem KernelServer k 1; type port = MACH_MSG_TYPE_COPY_SEND ctype: mach_port_t;
      routine a(p : port; x : port);`);
    const x = m.routines[0]!.args.find((a) => a.name === "x")!;
    expect([x.type.cUserType, x.type.cServerType]).toEqual(["mach_port_t", "ipc_port_t"]);
  });
  it("warns when several request ports are given", () => {
    const r = compile(`subsystem s 1; type port = MACH_MSG_TYPE_COPY_SEND;
      routine a(p : port; requestport q : port);`);
    expect(r.codes).toEqual(["MIG3025"]);
  });
  it("reports Apple statements as ignored", () => {
    const r = compile(`subsystem s 1; UseSpecialReplyPort 1;`);
    expect(r.codes).toEqual(["MIG3027"]);
  });
});
