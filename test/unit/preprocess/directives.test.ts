import { describe, expect, it } from "vitest";
import { codes, run, texts } from "./support.js";

describe("#include", () => {
  it('searches the including file\'s folder first for "..." and only -I for <...>', () => {
    const r = run(
      {
        "/src/main.defs": '#include "a.h"\n#include <a.h>\n#include "sub/b.h"\n',
        "/src/a.h": "src_a\n",
        "/inc/a.h": "inc_a\n",
        "/src/sub/b.h": '#include "c.h"\n',
        "/src/sub/c.h": "sub_c\n",
        "/src/c.h": "src_c\n",
      },
      { includeDirs: ["/inc"] },
    );
    expect(texts(r)).toBe("src_a inc_a sub_c");
    expect(r.diagnostics).toEqual([]);
    expect(r.files).toEqual([
      "/src/main.defs",
      "/src/a.h",
      "/inc/a.h",
      "/src/sub/b.h",
      "/src/sub/c.h",
    ]);
  });

  it("searches -I directories in order and falls back to them for quoted names", () => {
    const r = run(
      {
        "/src/main.defs": '#include "x.h"\n#include <y.h>\n',
        "/i1/y.h": "i1_y\n",
        "/i2/x.h": "i2_x\n",
        "/i2/y.h": "i2_y\n",
      },
      { includeDirs: ["/i1", "/i2"] },
    );
    expect(texts(r)).toBe("i2_x i1_y");
  });

  it("skips a guarded file while its guard is defined, and includes it again after #undef", () => {
    const files: Record<string, string> = {
      "/src/main.defs": "#include <g.h>\n#include <g.h>\nG\n#undef _G_H_\n#include <g.h>\n",
      "/inc/g.h": "#ifndef _G_H_\n#define _G_H_\nbody\n#define G 7\n#endif /* _G_H_ */\n",
    };
    const r = run(files, { includeDirs: ["/inc"] });
    expect(texts(r)).toBe("body 7 body");
    expect(r.files).toEqual(["/src/main.defs", "/inc/g.h"]);
  });

  it("honours #pragma once", () => {
    const r = run({
      "/src/main.defs": '#include "o.h"\n#include "o.h"\n',
      "/src/o.h": "#pragma once\nonce\n",
    });
    expect(texts(r)).toBe("once");
  });

  it("reports a missing file at the file name and carries on", () => {
    const r = run({ "/src/main.defs": 'a\n  #  include "missing.h"\nb\n' });
    expect(codes(r)).toEqual(["MIG1001 2:14"]);
    expect(r.diagnostics[0]!.location!.file).toBe("/src/main.defs");
    expect(texts(r)).toBe("a b");
  });

  it("stops recursive includes at depth 200 with one diagnostic", () => {
    const r = run({ "/src/main.defs": '#include "main.defs"\nx\n' });
    expect(codes(r)).toEqual(["MIG1002 1:2"]);
    expect(r.tokens.length).toBe(200);
  });

  it("expands a computed include and finds #include_next in the next directory", () => {
    const r = run(
      {
        "/src/main.defs": "#define H <n.h>\n#include H\n",
        "/i1/n.h": "one\n#include_next <n.h>\n",
        "/i2/n.h": "two\n",
      },
      { includeDirs: ["/i1", "/i2"] },
    );
    expect(texts(r)).toBe("one two");
  });

  it("warns about tokens after the file name", () => {
    const r = run({ "/src/main.defs": '#include "a.h" junk\n', "/src/a.h": "a\n" });
    expect(codes(r)).toEqual(["MIG1020 1:16"]);
    expect(texts(r)).toBe("a");
  });

  it("keeps conditionals per file: an #if left open in an include is reported there", () => {
    const r = run({ "/src/main.defs": '#include "a.h"\nafter\n', "/src/a.h": "#if 1\ninside\n" });
    expect(codes(r)).toEqual(["MIG1005 1:2"]);
    expect(r.diagnostics[0]!.location!.file).toBe("/src/a.h");
    expect(texts(r)).toBe("inside after");
  });

  it("reports a missing main file as MIG0001", () => {
    const r = run({});
    expect(r.diagnostics.map((d) => d.code)).toEqual(["MIG0001"]);
    expect(r.text).toBe("");
    expect(r.locate(0)).toEqual({ file: "/src/main.defs", line: 1, column: 1 });
  });
});

describe("conditionals", () => {
  const cond = (body: string, options = {}): string =>
    texts(run({ "/src/main.defs": body }, options));

  it("#ifdef, #ifndef, #else", () => {
    expect(cond("#define A\n#ifdef A\nyes\n#else\nno\n#endif\n")).toBe("yes");
    expect(cond("#ifdef A\nyes\n#else\nno\n#endif\n")).toBe("no");
    expect(cond("#ifndef A\nyes\n#endif\n")).toBe("yes");
  });

  it("#if / #elif chains take the first true group only", () => {
    const src = "#if X == 1\none\n#elif X == 2\ntwo\n#elif X >= 2\nmore\n#else\nother\n#endif\n";
    expect(cond(src, { defines: [["X", "1"]] })).toBe("one");
    expect(cond(src, { defines: [["X", "2"]] })).toBe("two");
    expect(cond(src, { defines: [["X", "3"]] })).toBe("more");
    expect(cond(src)).toBe("other");
  });

  it("does not evaluate or check anything inside skipped groups", () => {
    const r = run({
      "/src/main.defs":
        "#if 0\n#if 1/0\n#error no\n#endif\n#bogus\n#include <none>\n'x\n#else\nok\n#endif\n",
    });
    expect(r.diagnostics).toEqual([]);
    expect(texts(r)).toBe("ok");
  });

  it("does not evaluate #elif after a taken group", () => {
    const r = run({ "/src/main.defs": "#if 1\nok\n#elif 1/0\n#endif\n" });
    expect(r.diagnostics).toEqual([]);
  });

  it("accepts defined X and defined(X), and treats unknown identifiers as 0", () => {
    expect(
      cond("#define A\n#if defined A && defined(A) && !defined B && B == 0 && !B\nyes\n#endif\n"),
    ).toBe("yes");
  });

  it("uses the ABI's target macros", () => {
    const src =
      "#if __x86_64__ && __LP64__\nx86_64\n#endif\n#ifdef __i386__\ni386\n#endif\n#if __GNU__ && __gnu_hurd__ && __MACH__\nhurd\n#endif\n";
    expect(cond(src)).toBe("x86_64 hurd");
    expect(cond(src, { abi: "x86_64" })).toBe("x86_64 hurd");
    expect(cond(src, { abi: "i386" })).toBe("i386 hurd");
  });

  it("reports stray and misplaced #else/#elif/#endif", () => {
    const r = run({ "/src/main.defs": "#endif\n#if 1\n#else\n#else\n#elif 1\n#endif\n#elif 0\n" });
    expect(codes(r)).toEqual(["MIG1006 1:2", "MIG1007 4:2", "MIG1007 5:2", "MIG1006 7:2"]);
  });
});

describe("#error, #warning, #line, #pragma and others", () => {
  it("#error is an error and #warning a warning, both with the message", () => {
    const r = run({ "/src/main.defs": '#warning careful: "x"\n#error stop here\nafter\n' });
    expect(
      r.diagnostics.map((d) => [
        d.code,
        d.severity,
        d.message,
        d.location?.line,
        d.location?.column,
      ]),
    ).toEqual([
      ["MIG1011", "warning", '#warning careful: "x"', 1, 2],
      ["MIG1010", "error", "#error stop here", 2, 2],
    ]);
    expect(texts(r)).toBe("after");
  });

  it("#line changes the line and file of later tokens and diagnostics", () => {
    const r = run({
      "/src/main.defs":
        'a\n#line 40\nb\n#line 7 "other.defs"\nc\n\nd __LINE__ __FILE__\n#error here\n',
    });
    expect(r.tokens.map((t) => `${t.text}@${t.location.file}:${t.location.line}`)).toEqual([
      "a@/src/main.defs:1",
      "b@/src/main.defs:40",
      "c@other.defs:7",
      "d@other.defs:9",
      "9@other.defs:9",
      '"other.defs"@other.defs:9',
    ]);
    expect(codes(r)).toEqual(["MIG1010 10:2"]);
    expect(r.diagnostics[0]!.location!.file).toBe("other.defs");
  });

  it('accepts the linemarker form `# N "file" flags`', () => {
    const r = run({ "/src/main.defs": '# 100 "gen.defs" 1 3\nx\n' });
    expect(r.tokens[0]!.location).toEqual({ file: "gen.defs", line: 100, column: 1 });
    expect(r.diagnostics).toEqual([]);
  });

  it("counts lines continued with backslash-newline before #line takes effect", () => {
    const r = run({ "/src/main.defs": '#line 10 \\\n  "f.defs"\nx\n' });
    expect(r.tokens[0]!.location).toEqual({ file: "f.defs", line: 10, column: 1 });
  });

  it("ignores unknown pragmas, #ident and the null directive", () => {
    const r = run({
      "/src/main.defs":
        '#\n# /* nothing */\n#pragma weak foo\n#pragma GCC system_header\n#ident "v1"\nx\n',
    });
    expect(r.diagnostics).toEqual([]);
    expect(texts(r)).toBe("x");
  });

  it("reports unknown directives", () => {
    expect(codes(run({ "/src/main.defs": "#assert machine(x86)\n#!\n" }))).toEqual([
      "MIG1017 1:2",
      "MIG1017 2:2",
    ]);
  });
});

describe("command line", () => {
  it("applies -D then -U (the separate lists), -D without a value being 1", () => {
    const r = run(
      { "/src/main.defs": "A B C\n" },
      {
        defines: [
          ["A", "1"],
          ["B", "two words"],
          ["C", "3"],
        ],
        undefines: ["C"],
      },
    );
    expect(texts(r)).toBe("1 two words C");
  });

  it("applies -D and -U interleaved in command-line order", () => {
    const r = run(
      { "/src/main.defs": "X Y\n" },
      {
        commandLineMacros: [
          { kind: "define", name: "X", value: "1" },
          { kind: "undefine", name: "X" },
          { kind: "undefine", name: "Y" },
          { kind: "define", name: "Y", value: "2" },
        ],
      },
    );
    expect(texts(r)).toBe("X 2");
  });

  it("-U removes a predefined target macro", () => {
    expect(texts(run({ "/src/main.defs": "__GNU__ __MACH__\n" }, { undefines: ["__GNU__"] }))).toBe(
      "__GNU__ 1",
    );
  });

  it("-D defines function-like macros with NAME(args)=body", () => {
    expect(texts(run({ "/src/main.defs": "F(3)\n" }, { defines: [["F(x)", "[x]"]] }))).toBe(
      "[ 3 ]",
    );
  });

  it("reports bad macro names on the command line at <command-line>", () => {
    const r = run({ "/src/main.defs": "x\n" }, { defines: [["3x", "1"]], undefines: ["-y"] });
    expect(r.diagnostics.map((d) => [d.code, d.location?.file])).toEqual([
      ["MIG1019", "<command-line>"],
      ["MIG1019", "<command-line>"],
    ]);
  });

  it("-imacros keeps definitions, discards output, runs after -D/-U and before the file", () => {
    const r = run(
      {
        "/src/main.defs": "M N D\n",
        "/src/m.h": "discarded text\n#define M from_imacros\n#define D D_seen_as_##D\n",
      },
      {
        imacros: ["/src/m.h"],
        defines: [
          ["D", "cmd"],
          ["N", "n"],
        ],
      },
    );
    expect(texts(r)).toBe("from_imacros n D_seen_as_D");
    expect(codes(r)).toEqual(["MIG1013 3:9"]);
    expect(r.files).toEqual(["/src/m.h", "/src/main.defs"]);
  });

  it("searches -imacros files in -I directories too, and reports missing ones", () => {
    const r = run(
      { "/src/main.defs": "M\n", "/inc/m.h": "#define M 1\n" },
      { imacros: ["m.h", "nope.h"], includeDirs: ["/inc"] },
    );
    expect(texts(r)).toBe("1");
    expect(r.diagnostics.map((d) => [d.code, d.location?.file])).toEqual([
      ["MIG1001", "<command-line>"],
    ]);
  });
});
