import { parse, locateInText, type ParseResult } from "../../../compiler/syntax/index.js";
import type { Statement, TypeSpec } from "../../../compiler/syntax/ast.js";

export function parseText(text: string, file = "test.defs"): ParseResult {
  return parse(text, locateInText(text, file), { file });
}

/** A deep copy without `span` fields, to compare tree shapes. */
export function withoutSpans<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (key, v: unknown) => (key === "span" ? undefined : v))) as T;
}

/** Parses text that must be error-free and returns its statements without spans. */
export function statements(text: string): Statement[] {
  const r = parseText(text);
  if (r.diagnostics.length > 0) {
    throw new Error(`unexpected diagnostics:\n${r.diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column} ${d.message}`).join("\n")}`);
  }
  return withoutSpans(r.file.statements);
}

/** The type spec of `type t = <spec>;`, without spans. */
export function typeSpecOf(spec: string): TypeSpec {
  const [s] = statements(`type t = ${spec};`);
  if (s?.kind !== "type") throw new Error("not a type declaration");
  return s.spec.type;
}

/** `code line:column` for each diagnostic, in order. */
export function codes(text: string): string[] {
  return parseText(text).diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`);
}
