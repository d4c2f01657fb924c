import { describe, expect, it } from "vitest";
import { parse, locateInText } from "../../../compiler/syntax/index.js";
import type { SourceSpan } from "../../../compiler/diagnostics/index.js";
import { parseText } from "./helpers.js";

const at = (span: SourceSpan) => `${span.start.line}:${span.start.column}-${span.end.line}:${span.end.column}`;

describe("spans", () => {
  const text = ["subsystem KernelUser s 100;", "type t = array[*:4] of char", "    ctype: foo_t;", "routine r(in a : t, dealloc);"].join("\n");
  const r = parseText(text, "spans.defs");

  it("statements run from their first token to their ;", () => {
    expect(r.diagnostics).toEqual([]);
    expect(r.file.statements.map((s) => at(s.span))).toEqual(["1:1-1:28", "2:1-3:18", "4:1-4:30"]);
    expect(r.file.statements[0]!.span.start.file).toBe("spans.defs");
    expect(r.file.file).toBe("spans.defs");
  });

  it("inner nodes have their own spans", () => {
    const [sub, type, routine] = r.file.statements;
    if (sub?.kind !== "subsystem" || type?.kind !== "type" || routine?.kind !== "routine") throw new Error("shape");
    expect(at(sub.modifiers[0]!.span)).toBe("1:11-1:21");
    expect(at(sub.name.span)).toBe("1:22-1:23");
    expect(at(sub.base.span)).toBe("1:24-1:27");
    expect(at(type.name.span)).toBe("2:6-2:7");
    expect(at(type.spec.span)).toBe("2:10-3:17");
    expect(at(type.spec.type.span)).toBe("2:10-2:28");
    expect(at(type.spec.options[0]!.span)).toBe("3:5-3:17");
    if (type.spec.type.kind !== "array") throw new Error("shape");
    expect(at(type.spec.type.bound.span)).toBe("2:16-2:19");
    expect(at(type.spec.type.element.span)).toBe("2:24-2:28");
    const arg = routine.args[0]!;
    expect(at(arg.span)).toBe("4:11-4:28");
    expect(at(arg.direction!.span)).toBe("4:11-4:13");
    expect(at(arg.name.span)).toBe("4:14-4:15");
    expect(at(arg.typeName.span)).toBe("4:18-4:19");
    expect(at(arg.flags[0]!.span)).toBe("4:21-4:28");
  });

  it("go through the locate function, so they point into original files", () => {
    const t = "skip;\nskip 2;";
    const res = parse(t, (offset) => ({ file: offset < 6 ? "a.defs" : "b.defs", line: 10 + offset, column: 1 }));
    expect(res.file.statements.map((s) => `${s.span.start.file}:${s.span.start.line}`)).toEqual(["a.defs:10", "b.defs:16"]);
  });

  it("locateInText counts lines and columns from 1", () => {
    const locate = locateInText("ab\ncd\n", "f");
    expect(locate(0)).toEqual({ file: "f", line: 1, column: 1 });
    expect(locate(2)).toEqual({ file: "f", line: 1, column: 3 });
    expect(locate(3)).toEqual({ file: "f", line: 2, column: 1 });
    expect(locate(6)).toEqual({ file: "f", line: 3, column: 1 });
  });
});
