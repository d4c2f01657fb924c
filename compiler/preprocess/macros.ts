/**
 * Macro definitions: parsing `#define` lines (and `-D` options) into a `Macro`, and deciding
 * whether a redefinition is the same definition (C11 6.10.3p2, which allows identical ones).
 */
import { diagnostic, type Diagnostic, type SourceLocation } from "../diagnostics/index.js";
import { Kind, type Tok } from "./tokens.js";

export interface Macro {
  name: string;
  functionLike: boolean;
  /** Parameter names; for a variadic macro the last one is `__VA_ARGS__` (or the GNU `name...`). */
  params: string[];
  variadic: boolean;
  /** The replacement list; `##` operators have kind `Paste`. */
  body: Tok[];
  /** For each body token, the index of the parameter it names, or -1. */
  bodyParam: number[];
  /** Where the macro was defined (for the "redefined" note). */
  loc: SourceLocation;
  /** Set while the macro's own expansion is being rescanned (the "painted blue" rule). */
  disabled: boolean;
  /** `__FILE__` and `__LINE__`, computed at each use. */
  builtin?: "file" | "line";
}

/**
 * Parses the tokens after `#define` (up to, not including, the end of the line). `directive` is
 * the `define` token, used for locations when the name is missing. Returns undefined (with a
 * diagnostic) when the definition is malformed.
 */
export function parseDefine(
  tokens: readonly Tok[],
  directive: Tok,
  diagnostics: Diagnostic[],
): Macro | undefined {
  const nameTok = tokens[0];
  if (!nameTok || nameTok.kind !== Kind.Identifier) {
    diagnostics.push(
      diagnostic(
        "MIG1019",
        nameTok
          ? `macro names must be identifiers, not "${nameTok.text}"`
          : "no macro name given in #define directive",
        nameTok?.loc ?? directive.loc,
      ),
    );
    return undefined;
  }
  if (nameTok.text === "defined") {
    diagnostics.push(
      diagnostic("MIG1012", '"defined" cannot be used as a macro name', nameTok.loc),
    );
    return undefined;
  }
  const params: string[] = [];
  let variadic = false;
  let functionLike = false;
  let i = 1;
  const open = tokens[1];
  if (open && open.text === "(" && open.kind === Kind.Punct && !open.space) {
    functionLike = true;
    i = 2;
    let expectParam = true;
    for (;;) {
      const t = tokens[i++];
      if (!t) {
        diagnostics.push(
          diagnostic(
            "MIG1012",
            `missing ')' in the parameter list of macro "${nameTok.text}"`,
            open.loc,
          ),
        );
        return undefined;
      }
      if (expectParam) {
        if (t.text === ")" && params.length === 0) break;
        if (t.kind === Kind.Identifier) {
          if (t.text === "__VA_ARGS__") {
            diagnostics.push(
              diagnostic(
                "MIG1012",
                "__VA_ARGS__ can only appear in the expansion of a variadic macro",
                t.loc,
              ),
            );
            return undefined;
          }
          if (params.includes(t.text)) {
            diagnostics.push(diagnostic("MIG1012", `duplicate macro parameter "${t.text}"`, t.loc));
            return undefined;
          }
          params.push(t.text);
          expectParam = false;
          if (tokens[i]?.text === "...") {
            // GNU named variadic parameter: `args...`
            variadic = true;
            if (!closesList(tokens[i + 1], nameTok.text, open, diagnostics)) return undefined;
            i += 2;
            break;
          }
          continue;
        }
        if (t.text === "...") {
          variadic = true;
          params.push("__VA_ARGS__");
          if (!closesList(tokens[i], nameTok.text, open, diagnostics)) return undefined;
          i++;
          break;
        }
      } else if (t.text === ",") {
        expectParam = true;
        continue;
      } else if (t.text === ")") {
        break;
      }
      diagnostics.push(
        diagnostic(
          "MIG1012",
          `expected a parameter name, "," or ")" in the parameter list of macro "${nameTok.text}", found "${t.text}"`,
          t.loc,
        ),
      );
      return undefined;
    }
  }

  const body: Tok[] = [];
  const bodyParam: number[] = [];
  for (let j = i; j < tokens.length; j++) {
    const t = tokens[j]!;
    const copy: Tok = {
      kind: t.kind === Kind.Punct && t.text === "##" ? Kind.Paste : t.kind,
      text: t.text,
      loc: t.loc,
      space: j === i ? false : t.space,
      bol: false,
      noExpand: false,
      unterminated: t.unterminated,
    };
    body.push(copy);
    bodyParam.push(t.kind === Kind.Identifier && functionLike ? params.indexOf(t.text) : -1);
  }

  if (
    body.length > 0 &&
    (body[0]!.kind === Kind.Paste || body[body.length - 1]!.kind === Kind.Paste)
  ) {
    const at = body[0]!.kind === Kind.Paste ? body[0]! : body[body.length - 1]!;
    diagnostics.push(
      diagnostic("MIG1012", "'##' cannot appear at either end of a macro expansion", at.loc),
    );
    return undefined;
  }
  if (functionLike) {
    for (let j = 0; j < body.length; j++) {
      const t = body[j]!;
      if (t.kind === Kind.Punct && t.text === "#" && !((bodyParam[j + 1] ?? -1) >= 0)) {
        diagnostics.push(diagnostic("MIG1012", "'#' is not followed by a macro parameter", t.loc));
        return undefined;
      }
    }
  }
  return {
    name: nameTok.text,
    functionLike,
    params,
    variadic,
    body,
    bodyParam,
    loc: nameTok.loc,
    disabled: false,
  };
}

function closesList(
  t: Tok | undefined,
  name: string,
  open: Tok,
  diagnostics: Diagnostic[],
): boolean {
  if (t && t.text === ")") return true;
  diagnostics.push(
    diagnostic(
      "MIG1012",
      `missing ')' after "..." in the parameter list of macro "${name}"`,
      t?.loc ?? open.loc,
    ),
  );
  return false;
}

/** Two definitions are the same when parameters, tokens and the presence of whitespace agree. */
export function sameDefinition(a: Macro, b: Macro): boolean {
  if (
    a.functionLike !== b.functionLike ||
    a.variadic !== b.variadic ||
    a.body.length !== b.body.length
  )
    return false;
  if (a.params.length !== b.params.length || a.params.some((p, i) => p !== b.params[i]))
    return false;
  for (let i = 0; i < a.body.length; i++) {
    const x = a.body[i]!;
    const y = b.body[i]!;
    if (x.text !== y.text || (i > 0 && x.space !== y.space)) return false;
  }
  return true;
}
