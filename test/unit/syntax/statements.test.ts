import { describe, expect, it } from "vitest";
import { statements } from "./helpers.js";

const sym = (name: string, spelled = name) => ({ kind: "symbolic", name, spelled });

describe("statements", () => {
  it("subsystem with no, one and both modifiers", () => {
    expect(statements("subsystem memory_object 2200;")).toEqual([
      { kind: "subsystem", modifiers: [], name: { text: "memory_object" }, base: { kind: "literal", value: 2200 } },
    ]);
    expect(statements("subsystem KernelUser KernelServer m 2200;")).toEqual([
      {
        kind: "subsystem",
        modifiers: [{ name: "KernelUser" }, { name: "KernelServer" }],
        name: { text: "m" },
        base: { kind: "literal", value: 2200 },
      },
    ]);
  });

  it("type declarations with a translation list", () => {
    expect(statements("type mach_port_t = MACH_MSG_TYPE_COPY_SEND ctype: mach_port_t;")).toEqual([
      {
        kind: "type",
        name: { text: "mach_port_t" },
        spec: {
          type: { kind: "ipc", inName: sym("MACH_MSG_TYPE_COPY_SEND") },
          options: [{ kind: "ctype", cType: { kind: "name", name: { text: "mach_port_t" } } }],
        },
      },
    ]);
  });

  it("every translation option", () => {
    const [s] = statements(
      "type m = mach_port_t intran: T in_fn(mach_port_t) intranpayload: T payload_fn outtran: mach_port_t out_fn(T) " +
        "destructor: free_fn(T) ctype: c cusertype: cu cservertype: cs;",
    );
    const name = (text: string) => ({ kind: "name", name: { text } });
    expect(s).toMatchObject({
      spec: {
        type: { kind: "named", name: { text: "mach_port_t" } },
        options: [
          { kind: "intran", transType: name("T"), function: { text: "in_fn" }, serverType: name("mach_port_t") },
          { kind: "intranpayload", transType: name("T"), function: { text: "payload_fn" } },
          { kind: "outtran", serverType: name("mach_port_t"), function: { text: "out_fn" }, transType: name("T") },
          { kind: "destructor", function: { text: "free_fn" }, transType: name("T") },
          { kind: "ctype", cType: name("c") },
          { kind: "cusertype", cType: name("cu") },
          { kind: "cservertype", cType: name("cs") },
        ],
      },
    });
  });

  it("skip and skip N", () => {
    expect(statements("skip; skip 3;")).toEqual([
      { kind: "skip", count: 1 },
      { kind: "skip", count: 3 },
    ]);
  });

  it("imports keep their delimiters", () => {
    expect(statements('import <mach/std_types.h>; uimport "u.h"; simport <s.h>; dimport "d.h"; iimport <i.h>;')).toEqual([
      { kind: "import", which: "import", file: "<mach/std_types.h>" },
      { kind: "import", which: "uimport", file: '"u.h"' },
      { kind: "import", which: "simport", file: "<s.h>" },
      { kind: "import", which: "dimport", file: '"d.h"' },
      { kind: "import", which: "iimport", file: "<i.h>" },
    ]);
  });

  it("rcsid keeps its quotes", () => {
    expect(statements('rcsid "$Id: foo.defs,v 1.2 $";')).toEqual([{ kind: "rcsid", value: '"$Id: foo.defs,v 1.2 $"' }]);
  });

  it("positional options", () => {
    expect(statements("waittime 1000; nowaittime; msgoption MACH_SEND_INTERRUPT; serverprefix S_; userprefix U_; serverdemux my_demux;")).toEqual([
      { kind: "waittime", value: { text: "1000" } },
      { kind: "nowaittime" },
      { kind: "msgoption", value: { text: "MACH_SEND_INTERRUPT" } },
      { kind: "serverprefix", value: { text: "S_" } },
      { kind: "userprefix", value: { text: "U_" } },
      { kind: "serverdemux", value: { text: "my_demux" } },
    ]);
  });

  it("the 2022 error statement and empty statements", () => {
    expect(statements("error my_error_fn; ;;")).toEqual([{ kind: "error", value: { text: "my_error_fn" } }, { kind: "empty" }, { kind: "empty" }]);
  });

  it("an empty file", () => {
    expect(statements("")).toEqual([]);
    expect(statements("  \n\t\n")).toEqual([]);
  });
});

describe("case", () => {
  it("keywords are case-insensitive", () => {
    expect(statements("SUBSYSTEM KERNELUSER foo 1; Type x = ARRAY[*:4] OF Polymorphic CType: foo; SimpleRoutine r(In p: x, DEALLOC);")).toMatchObject([
      { kind: "subsystem", modifiers: [{ name: "KernelUser" }] },
      { kind: "type", spec: { type: { kind: "array", element: { kind: "ipc", inName: { kind: "polymorphic" } } } } },
      { kind: "simpleroutine", args: [{ direction: { name: "in" }, flags: [{ name: "dealloc" }] }] },
    ]);
  });

  it("identifiers are case-sensitive and kept as written", () => {
    expect(statements("type INT = Int;")).toEqual([{ kind: "type", name: { text: "INT" }, spec: { type: { kind: "named", name: { text: "Int" } }, options: [] } }]);
  });

  it("symbolic type names are case-sensitive: a lower-case spelling is an identifier", () => {
    expect(statements("type t = mach_msg_type_integer_32;")).toMatchObject([{ spec: { type: { kind: "named", name: { text: "mach_msg_type_integer_32" } } } }]);
  });
});
