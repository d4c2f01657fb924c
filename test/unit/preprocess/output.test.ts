import { describe, expect, it } from "vitest";
import { run, splitTokens } from "./support.js";

describe("output text", () => {
  it("keeps a line's spacing (one space for any run) and breaks where the source line changes", () => {
    const r = run({
      "/src/main.defs":
        'import <mach/foo.h>;\nuimport "bar baz.h";\n\n\troutine   foo(in x\t: int);  /* c */\n',
    });
    expect(r.text).toBe('import <mach/foo.h>;\nuimport "bar baz.h";\nroutine foo(in x : int);\n');
  });

  it("keeps import file names intact when they come from a macro", () => {
    const r = run(
      { "/src/main.defs": "#ifdef MEMORY_OBJECT_IMPORTS\nMEMORY_OBJECT_IMPORTS\n#endif\n" },
      {
        defines: [["MEMORY_OBJECT_IMPORTS", 'import <mach/mo.h>; simport "s.h";']],
      },
    );
    expect(r.text).toBe('import <mach/mo.h>; simport "s.h";\n');
  });

  it("separates tokens that macro expansion put side by side if they would lex as one", () => {
    const r = run({
      "/src/main.defs":
        "#define M -\n#define P +\n#define E\n#define ID(x) x\n#define DOT .\n-M P+ a/E*b ID(x)ID(y) 1 DOT 5 x E(y) <M ID(<)<\n",
    });
    const words = r.tokens.map((t) => t.text);
    expect(splitTokens(r.text)).toEqual(words);
    expect(words).toEqual([
      "-",
      "-",
      "+",
      "+",
      "a",
      "/",
      "*",
      "b",
      "x",
      "y",
      "1",
      ".",
      "5",
      "x",
      "(",
      "y",
      ")",
      "<",
      "-",
      "<",
      "<",
    ]);
  });

  it("places every token at its offset", () => {
    const r = run({ "/src/main.defs": "#define F(a, b) a + b\nx F(1,\n 2) y\n  \"s\" 'c'\n" });
    let last = -1;
    for (const t of r.tokens) {
      expect(r.text.slice(t.offset, t.offset + t.text.length)).toBe(t.text);
      expect(t.offset).toBeGreaterThan(last);
      last = t.offset;
    }
  });

  it("is empty, not a lone newline, when nothing is output", () => {
    expect(run({ "/src/main.defs": "/* only a comment */\n#define X\n" }).text).toBe("");
  });
});

describe("locations", () => {
  it("gives file, line and column of source tokens, counting tabs as one column", () => {
    const r = run({ "/src/main.defs": "a\n\tb  c\n" });
    expect(r.tokens.map((t) => [t.text, t.location.line, t.location.column])).toEqual([
      ["a", 1, 1],
      ["b", 2, 2],
      ["c", 2, 5],
    ]);
  });

  it("counts continued lines and multi-line comments", () => {
    const r = run({ "/src/main.defs": "a \\\n  b /* x\n y */ c\r\nd\\\r\ne\n" });
    expect(r.tokens.map((t) => `${t.text}@${t.location.line}:${t.location.column}`)).toEqual([
      "a@1:1",
      "b@2:3",
      "c@3:7",
      "de@4:1",
    ]);
  });

  it("maps tokens of included files to those files", () => {
    const r = run({ "/src/main.defs": 'x\n#include "a.h"\ny\n', "/src/a.h": "\n  inner\n" });
    expect(
      r.tokens.map((t) => `${t.text}@${t.location.file}:${t.location.line}:${t.location.column}`),
    ).toEqual(["x@/src/main.defs:1:1", "inner@/src/a.h:2:3", "y@/src/main.defs:3:1"]);
  });

  it("gives replacement-list tokens the place of the (outermost) macro use and argument tokens their own place", () => {
    const r = run({
      "/src/main.defs": "#define INNER [i]\n#define F(x) { x INNER }\n  F( arg )\n",
    });
    expect(r.tokens.map((t) => `${t.text}@${t.location.line}:${t.location.column}`)).toEqual([
      "{@3:3",
      "arg@3:6",
      "[@3:3",
      "i@3:3",
      "]@3:3",
      "}@3:3",
    ]);
  });

  it("locate() maps any offset of the text back to the token at or before it", () => {
    const r = run({ "/src/main.defs": "alpha beta\n  gamma\n" });
    expect(r.text).toBe("alpha beta\ngamma\n");
    expect(r.locate(0)).toEqual({ file: "/src/main.defs", line: 1, column: 1 });
    expect(r.locate(3)).toEqual({ file: "/src/main.defs", line: 1, column: 1 });
    expect(r.locate(5)).toEqual({ file: "/src/main.defs", line: 1, column: 1 });
    expect(r.locate(6)).toEqual({ file: "/src/main.defs", line: 1, column: 7 });
    expect(r.locate(11)).toEqual({ file: "/src/main.defs", line: 2, column: 3 });
    expect(r.locate(r.text.length)).toEqual({ file: "/src/main.defs", line: 2, column: 3 });
    expect(r.locate(-5)).toEqual({ file: "/src/main.defs", line: 1, column: 1 });
  });

  it("lists every file read, in the order first read", () => {
    const r = run(
      {
        "/src/main.defs": '#include "a.h"\n#include <b.h>\n#include "a.h"\n',
        "/src/a.h": "",
        "/inc/b.h": "",
      },
      { includeDirs: ["/inc"] },
    );
    expect(r.files).toEqual(["/src/main.defs", "/src/a.h", "/inc/b.h"]);
  });
});

describe("lexical problems", () => {
  it("reports unterminated literals and comments with their positions", () => {
    const r = run({ "/src/main.defs": "x \"abc\ny 'd\nz /* open\n" });
    expect(r.diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`)).toEqual(
      ["MIG1004 3:3", "MIG1021 1:3", "MIG1022 2:3"],
    );
    expect(r.tokens.map((t) => t.text)).toEqual(["x", '"abc', "y", "'d", "z"]);
  });

  it("does not throw on arbitrary bytes", () => {
    const nasty =
      "#define F(x) #x ## \n#if ((\n#elif\n\u0000 @ ` \\ \n#include <\nF(\n#define G(\n#line\n##\n";
    for (let cut = 0; cut <= nasty.length; cut++) {
      expect(() => run({ "/src/main.defs": nasty.slice(0, cut) })).not.toThrow();
    }
  });
});
