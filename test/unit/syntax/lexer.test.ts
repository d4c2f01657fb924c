import { describe, expect, it } from "vitest";
import { codes, parseText, statements } from "./helpers.js";

describe("String mode (after a statement-level waittime/msgoption)", () => {
  it("takes one word of [-/._$A-Za-z0-9]", () => {
    expect(statements("waittime a-b/c.d_$9;")).toEqual([{ kind: "waittime", value: { text: "a-b/c.d_$9" } }]);
    expect(statements("MsgOption MACH_SEND_INTERRUPT;")).toEqual([{ kind: "msgoption", value: { text: "MACH_SEND_INTERRUPT" } }]);
  });

  it("works after another statement and after a routine", () => {
    expect(statements("routine r(a : int); waittime 10; type t = int; msgoption 1.5;")).toMatchObject([
      { kind: "routine" },
      { kind: "waittime", value: { text: "10" } },
      { kind: "type" },
      { kind: "msgoption", value: { text: "1.5" } },
    ]);
  });

  it("so MsgOption A|B cannot be written, as in GNU MIG", () => {
    expect(codes("msgoption A|B;")).toEqual(["MIG2003 1:12"]);
  });
});

describe("FileName mode", () => {
  it("accepts <...> and \"...\"", () => {
    expect(statements('import <mach/foo.h>; import "bar.h";')).toEqual([
      { kind: "import", which: "import", file: "<mach/foo.h>" },
      { kind: "import", which: "import", file: '"bar.h"' },
    ]);
  });

  it("rebuilds a <...> name that a macro expansion spaced out", () => {
    expect(statements("import < mach / foo . h >;\nsimport <sys/types.h >;")).toEqual([
      { kind: "import", which: "import", file: "<mach/foo.h>" },
      { kind: "import", which: "simport", file: "<sys/types.h>" },
    ]);
  });

  it("< and > are ordinary punctuation elsewhere", () => {
    expect(codes("type t = <foo>;")).toEqual(["MIG2003 1:10"]);
  });

  it("reports an unterminated name and keeps the ;", () => {
    const r = parseText('import "foo.h;\nimport <bar.h;\ntype t = int;');
    expect(r.diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`)).toEqual(["MIG2005 1:8", "MIG2005 2:8"]);
    expect(r.file.statements.map((s) => s.kind)).toEqual(["import", "import", "type"]);
  });
});

describe("QString mode", () => {
  it("rcsid takes a quoted string", () => {
    expect(statements('rcsid "abc";')).toEqual([{ kind: "rcsid", value: '"abc"' }]);
  });

  it("an unquoted rcsid is a syntax error", () => {
    expect(codes("rcsid abc;")).toEqual(["MIG2003 1:7"]);
  });
});

describe("numbers", () => {
  it("are decimal", () => {
    expect(statements("skip 010;")).toEqual([{ kind: "skip", count: 10 }]);
  });

  it("hexadecimal is an error that says what to write", () => {
    const r = parseText("type t = array[0x10] of char;");
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ code: "MIG2004", location: { line: 1, column: 16 } });
    expect(r.diagnostics[0]!.message).toContain("write 16");
  });
});

describe("what MIG's lexer rejects", () => {
  it("comments left by the preprocessor", () => {
    expect(codes("/* a comment */ skip;\n// another\nskip;")).toEqual(["MIG2002 1:1", "MIG2002 2:1"]);
    expect(codes("skip; /* unterminated")).toEqual(["MIG2002 1:7"]);
  });

  it("# lines other than line markers and #define/#undef", () => {
    expect(codes('# 1 "foo.defs"\n#line 3\n#define X 1\n#undef X\nskip;\n#pragma once\n  #ident "x"\nskip;')).toEqual(["MIG2006 6:1", "MIG2006 7:3"]);
  });

  it("a # in the middle of a line is an unexpected character", () => {
    expect(codes("skip # 1;")).toEqual(["MIG2001 1:6"]);
  });

  it("characters outside the language, once per run of them", () => {
    expect(codes("skip;\n  @@ skip;\nskip $;")).toEqual(["MIG2001 2:3", "MIG2001 3:6"]);
  });
});

describe("keywords", () => {
  it("reserved GNU keywords cannot be names", () => {
    expect(parseText("type in = int;").diagnostics).toMatchObject([{ code: "MIG2009", location: { line: 1, column: 6 }, expected: ["identifier"] }]);
    expect(codes("routine r(array : int);")).toEqual(["MIG2009 1:11"]);
  });
});
