/**
 * Splits one file into preprocessing tokens (C11 translation phases 1-3): backslash-newline
 * continuations are spliced, comments become whitespace, and each token records its original
 * line and column, whether whitespace came before it, and whether it starts a logical line.
 * A directive line (one whose first token is `#`) ends with an `EndOfDirective` token, so the
 * preprocessor can find where a directive stops without tracking newlines itself.
 *
 * The scanner walks character codes with no regular expressions, so its cost is linear in the
 * size of the file.
 */
import { diagnostic, type Diagnostic, type SourceLocation } from "../diagnostics/index.js";
import { Kind, PUNCT_BY_FIRST, isDigit, isIdentStart, type Tok } from "./tokens.js";

export interface LexOptions {
  /** Report unterminated comments here (literals are flagged on the token instead). */
  diagnostics?: Diagnostic[];
  /** Line number of the first line (for text that comes from elsewhere, e.g. a `-D` value). */
  firstLine?: number;
}

const NEWLINE = 10;

// Sticky patterns that scan one run each (no backtracking): native scanning is much faster than
// a character loop while the code is still cold, which is the common case for a CLI run.
const BLANKS = /[ \t\r\f\v]*/y;
const IDENT_REST = /[A-Za-z0-9_$\u0080-\uffff]*/y;
const NUMBER_REST = /(?:[eEpP][+-]|[A-Za-z0-9_$.\u0080-\uffff])*/y;
const BACKSLASH = 92;

/**
 * Removes backslash-newline pairs. Returns the spliced text and, for each removed pair, the
 * offset in the spliced text where the next physical line starts.
 */
function splice(text: string): { text: string; splices: number[] } {
  const pieces: string[] = [];
  const splices: number[] = [];
  let from = 0;
  let length = 0;
  let at = text.indexOf("\\", 0);
  while (at >= 0) {
    let next = at + 1;
    if (text.charCodeAt(next) === 13) next++;
    if (text.charCodeAt(next) === NEWLINE) {
      pieces.push(text.slice(from, at));
      length += at - from;
      splices.push(length);
      from = next + 1;
      at = text.indexOf("\\", from);
    } else {
      at = text.indexOf("\\", at + 1);
    }
  }
  if (splices.length === 0) return { text, splices };
  pieces.push(text.slice(from));
  return { text: pieces.join(""), splices };
}

export function lex(source: string, file: string, options: LexOptions = {}): Tok[] {
  const { text: s, splices } = splice(source);
  const n = s.length;
  const tokens: Tok[] = [];
  let pos = 0;
  let line = options.firstLine ?? 1;
  let lineStart = 0;
  let spliceIndex = 0;
  let bol = true;
  let space = false;
  let inDirective = false;
  /** Tokens seen so far on the current directive line (0 = the `#`). */
  let directiveTokens = 0;
  let includeNext = false;

  const locate = (offset: number): SourceLocation => {
    while (spliceIndex < splices.length && splices[spliceIndex]! <= offset) {
      line++;
      if (splices[spliceIndex]! > lineStart) lineStart = splices[spliceIndex]!;
      spliceIndex++;
    }
    return { file, line, column: offset - lineStart + 1 };
  };

  const push = (
    kind: Kind,
    start: number,
    end: number,
    loc: SourceLocation,
    unterminated = false,
  ): void => {
    tokens.push({
      kind,
      text: s.slice(start, end),
      loc,
      space,
      bol,
      noExpand: false,
      unterminated,
    });
    if (bol && kind === Kind.Punct && end - start === 1 && s.charCodeAt(start) === 35 /* # */) {
      inDirective = true;
      directiveTokens = 0;
    }
    if (inDirective) {
      includeNext =
        directiveTokens === 1 &&
        kind === Kind.Identifier &&
        (tokens[tokens.length - 1]!.text === "include" ||
          tokens[tokens.length - 1]!.text === "include_next");
      directiveTokens++;
    }
    bol = false;
    space = false;
  };

  /** Scans a string or character literal from its opening quote; returns the end offset. */
  const scanQuoted = (from: number, quote: number): { end: number; closed: boolean } => {
    let i = from + 1;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === quote) return { end: i + 1, closed: true };
      if (c === NEWLINE) return { end: i, closed: false };
      i += c === BACKSLASH && s.charCodeAt(i + 1) !== NEWLINE ? 2 : 1;
    }
    return { end: n, closed: false };
  };

  while (pos < n) {
    const c = s.charCodeAt(pos);
    if (c === NEWLINE) {
      if (inDirective) {
        tokens.push({
          kind: Kind.EndOfDirective,
          text: "",
          loc: locate(pos),
          space: false,
          bol: false,
          noExpand: false,
          unterminated: false,
        });
        inDirective = false;
        includeNext = false;
      }
      line++;
      lineStart = pos + 1;
      pos++;
      bol = true;
      space = false;
      continue;
    }
    if (c === 32 || c === 9 || c === 13 || c === 12 || c === 11) {
      BLANKS.lastIndex = pos + 1;
      BLANKS.test(s);
      pos = BLANKS.lastIndex;
      space = true;
      continue;
    }
    if (c === 47 /* / */) {
      const d = s.charCodeAt(pos + 1);
      if (d === 42 /* * */) {
        const close = s.indexOf("*/", pos + 2);
        const end = close < 0 ? n : close + 2;
        if (close < 0 && options.diagnostics) {
          options.diagnostics.push(diagnostic("MIG1004", "unterminated comment", locate(pos)));
        }
        // Count the newlines inside the comment so later columns stay right.
        let nl = s.indexOf("\n", pos + 2);
        while (nl >= 0 && nl < end) {
          line++;
          lineStart = nl + 1;
          nl = s.indexOf("\n", nl + 1);
        }
        pos = end;
        space = true;
        continue;
      }
      if (d === 47) {
        const nl = s.indexOf("\n", pos + 2);
        pos = nl < 0 ? n : nl;
        space = true;
        continue;
      }
    }

    const start = pos;
    const loc = locate(start);
    if (isIdentStart(c)) {
      IDENT_REST.lastIndex = pos + 1;
      IDENT_REST.test(s);
      const i = IDENT_REST.lastIndex;
      const q = s.charCodeAt(i);
      if ((q === 34 || q === 39) && isEncodingPrefix(s, start, i)) {
        const { end, closed } = scanQuoted(i, q);
        push(q === 34 ? Kind.String : Kind.Char, start, end, loc, !closed);
        pos = end;
      } else {
        push(Kind.Identifier, start, i, loc);
        pos = i;
      }
      continue;
    }
    if (isDigit(c) || (c === 46 && isDigit(s.charCodeAt(pos + 1)))) {
      NUMBER_REST.lastIndex = pos + 1;
      NUMBER_REST.test(s);
      const i = NUMBER_REST.lastIndex;
      push(Kind.Number, start, i, loc);
      pos = i;
      continue;
    }
    if (c === 34 || c === 39) {
      const { end, closed } = scanQuoted(pos, c);
      push(c === 34 ? Kind.String : Kind.Char, start, end, loc, !closed);
      pos = end;
      continue;
    }
    if (c === 60 /* < */ && includeNext) {
      let i = pos + 1;
      while (i < n && s.charCodeAt(i) !== 62 && s.charCodeAt(i) !== NEWLINE) i++;
      if (s.charCodeAt(i) === 62) {
        push(Kind.HeaderName, start, i + 1, loc);
        pos = i + 1;
        continue;
      }
    }
    const candidates = PUNCT_BY_FIRST[c];
    if (candidates) {
      for (const p of candidates) {
        if (p.length === 1 || s.startsWith(p, pos)) {
          push(Kind.Punct, start, pos + p.length, loc);
          pos += p.length;
          break;
        }
      }
      continue;
    }
    push(Kind.Other, start, pos + 1, loc);
    pos++;
  }
  if (inDirective) {
    tokens.push({
      kind: Kind.EndOfDirective,
      text: "",
      loc: locate(n),
      space: false,
      bol: false,
      noExpand: false,
      unterminated: false,
    });
  }
  return tokens;
}

/** `L`, `u`, `U` or `u8` right before a quote makes one string or character literal. */
function isEncodingPrefix(s: string, start: number, end: number): boolean {
  const len = end - start;
  if (len === 1) {
    const c = s.charCodeAt(start);
    return c === 76 || c === 117 || c === 85;
  }
  return len === 2 && s.charCodeAt(start) === 117 && s.charCodeAt(start + 1) === 56;
}

/** Lexes a short piece of text that is not a file (a pasted token, a `-D` value). */
export function lexFragment(text: string, loc: SourceLocation): Tok[] {
  const tokens = lex(text, loc.file).filter((t) => t.kind !== Kind.EndOfDirective);
  for (const t of tokens) {
    t.loc = loc;
    t.bol = false;
  }
  return tokens;
}
