import { describe, expect, it } from "vitest";
import { codes, parseText } from "./helpers.js";

describe("error recovery", () => {
  it("reports every bad statement in one run and keeps the good ones", () => {
    const text = [
      "subsystem s 100;",
      "type a = ;",
      "type b = int;",
      "routine r(x : int y : int);",
      "routine ok(x : int);",
      "skip 2+1;",
      "type c = array[*:4] of char;",
    ].join("\n");
    const r = parseText(text);
    expect(r.diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`)).toEqual([
      "MIG2003 2:10",
      "MIG2003 4:19",
      "MIG2003 6:7",
    ]);
    expect(r.file.statements.map((s) => (s.kind === "type" || s.kind === "routine" ? `${s.kind} ${s.name.text}` : s.kind))).toEqual([
      "subsystem",
      "type b",
      "routine ok",
      "type c",
    ]);
  });

  it("a ; between arguments does not end the statement", () => {
    const r = parseText("routine r(a : ; b : int; c : int);\ntype t = int;");
    expect(r.diagnostics.map((d) => d.code)).toEqual(["MIG2003"]);
    expect(r.file.statements.map((s) => s.kind)).toEqual(["type"]);
  });

  it("a missing ) costs one diagnostic: recovery stops at the next statement keyword", () => {
    const r = parseText("routine r(a : int;\nroutine s(b : int);\ntype t = int;");
    expect(r.diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`)).toEqual(["MIG2003 2:1"]);
    expect(r.file.statements.map((s) => s.kind)).toEqual(["routine", "type"]);
  });

  it("a missing ; is reported at the token after it, with its own code", () => {
    const r = parseText("type a = int\ntype b = int;\nroutine r(x : a) routine s(x : b);");
    expect(r.diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`)).toEqual(["MIG2010 2:1", "MIG2010 3:18"]);
    expect(r.diagnostics[0]!.expected).toEqual(["';'"]);
    expect(r.diagnostics[0]!.message).toContain("missing ';'");
    expect(r.file.statements.map((s) => s.kind)).toEqual(["type", "routine"]);
  });

  it("the expected list names the tokens a human would type", () => {
    const [d] = parseText("type t = ;").diagnostics;
    expect(d!.expected).toEqual(["number", "MACH_MSG_TYPE_* name", "'polymorphic'", "'('", "identifier", "'array'", "'struct'", "'^'", "'c_string'"]);
    expect(d!.message).toBe("expected one of number, MACH_MSG_TYPE_* name, 'polymorphic', '(', identifier, 'array', 'struct', '^', 'c_string', found ';'");
    const [e] = parseText("subsystem s 0x;").diagnostics;
    expect(e!.code).toBe("MIG2004");
  });

  it("statement-level errors list the statement keywords", () => {
    const [d] = parseText("foo;").diagnostics;
    expect(d!.code).toBe("MIG2003");
    expect(d!.expected).toContain("'routine'");
    expect(d!.expected).toContain("'type'");
    expect(d!.expected).toContain("';'");
  });

  it("removed statement forms get a message that says what to write", () => {
    const r = parseText("procedure p(a : int);\nsimpleprocedure q(a : int);\nFunction f(a : int);\ncamelotroutine c(a : int);\nroutine ok(a : int);");
    expect(r.diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`)).toEqual([
      "MIG2007 1:1",
      "MIG2007 2:1",
      "MIG2007 3:1",
      "MIG2007 4:1",
    ]);
    expect(r.diagnostics[0]!.message).toContain("'routine'");
    expect(r.diagnostics[1]!.message).toContain("'simpleroutine'");
    expect(r.file.statements.map((s) => s.kind)).toEqual(["routine"]);
  });

  it("end of input inside a statement", () => {
    expect(codes("routine r(a : int")).toEqual(["MIG2008 1:18"]);
    expect(codes("subsystem s 1;\ntype t =\n")).toEqual(["MIG2008 2:9"]);
  });

  it("one diagnostic for a dropped character and the syntax error it causes", () => {
    expect(codes("type t = @;\ntype u = int;")).toEqual(["MIG2001 1:10"]);
  });

  it("the old CMU translation syntax is a syntax error", () => {
    expect(codes("type t = int > in_fn < out_fn : I ~ T - D;")).toEqual(["MIG2003 1:14"]);
  });

  it("never throws, whatever the input", () => {
    const samples = ["(((((", "routine", "type t = array[", "struct { int a; ", ")))))) ;;;", "\u0000\u0001", "<<<>>>", '"', "import", "waittime"];
    for (const s of samples) expect(() => parseText(s)).not.toThrow();
    let seed = 12345;
    const alphabet = [..."();:,=^|[]{}<>*+-/ \n\"'#@.$"].concat(["routine", "type", "in", "array", "of", "x", "1", "skip", "struct", "import", "MACH_MSG_TYPE_BYTE"]);
    for (let n = 0; n < 300; n++) {
      let s = "";
      for (let i = 0; i < 30; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        s += alphabet[seed % alphabet.length] + (seed & 1 ? " " : "");
      }
      expect(() => parseText(s)).not.toThrow();
    }
  });
});
