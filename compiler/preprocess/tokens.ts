/**
 * Preprocessing tokens as the preprocessor sees them internally.
 *
 * One object shape for every token (kept monomorphic for speed). Tokens lexed from a file are
 * cached and shared between inclusions of that file, so they are never mutated: whenever a flag
 * or a location has to change (macro expansion, `#line`), the token is copied.
 */
import type { SourceLocation } from "../diagnostics/index.js";

export const enum Kind {
  Identifier,
  Number,
  String,
  Char,
  /** `<...>` after `#include`; only produced by the lexer inside an include directive. */
  HeaderName,
  Punct,
  /** A character that starts no token (`@`, a stray backslash, ...): passed through as is. */
  Other,
  /** The end of a directive line (only directive lines get one). */
  EndOfDirective,
  /** The end of one file (and, inside the expander, the end of an isolated token list). */
  EndOfInput,
  /** Stands for an empty macro argument next to `##` (C11 6.10.3.3); never leaves the expander. */
  Placemarker,
  /** A `##` operator of a replacement list (as opposed to a `##` token that came from an argument). */
  Paste,
}

export interface Tok {
  kind: Kind;
  text: string;
  /** Where the token was written; for macro-expansion output, where the outermost macro was used. */
  loc: SourceLocation;
  /** Whitespace (or a comment) separates this token from the previous one on the same line. */
  space: boolean;
  /** First token of a logical line. */
  bol: boolean;
  /** Painted blue (C11 6.10.3.4p2): an identifier that must never be expanded again. */
  noExpand: boolean;
  /** String or character literal without its closing quote (reported only where not skipped). */
  unterminated: boolean;
}

export function makeTok(kind: Kind, text: string, loc: SourceLocation, space: boolean): Tok {
  return { kind, text, loc, space, bol: false, noExpand: false, unterminated: false };
}

/** A copy with a new location and spacing (a token moved by macro expansion). */
export function moveTok(t: Tok, loc: SourceLocation, space: boolean): Tok {
  return {
    kind: t.kind,
    text: t.text,
    loc,
    space,
    bol: false,
    noExpand: t.noExpand,
    unterminated: t.unterminated,
  };
}

/** Punctuators of C, longest first within each leading character (the lexer tries them in order). */
const PUNCTUATORS = [
  "...",
  "<<=",
  ">>=",
  "->",
  "++",
  "--",
  "<<",
  ">>",
  "<=",
  ">=",
  "==",
  "!=",
  "&&",
  "||",
  "*=",
  "/=",
  "%=",
  "+=",
  "-=",
  "&=",
  "^=",
  "|=",
  "##",
  "[",
  "]",
  "(",
  ")",
  "{",
  "}",
  ".",
  "&",
  "*",
  "+",
  "-",
  "~",
  "!",
  "/",
  "%",
  "<",
  ">",
  "^",
  "|",
  "?",
  ":",
  ";",
  "=",
  ",",
  "#",
];

/** For each first character code, the punctuators starting with it, longest first. */
export const PUNCT_BY_FIRST: ReadonlyArray<readonly string[] | undefined> = (() => {
  const table: string[][] = [];
  for (const p of PUNCTUATORS) {
    const c = p.charCodeAt(0);
    (table[c] ??= []).push(p);
  }
  for (const list of table) list?.sort((a, b) => b.length - a.length);
  return table;
})();

const MULTI_CHAR_PUNCT = new Set(PUNCTUATORS.filter((p) => p.length > 1));

export function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 36 || c >= 128;
}

export function isIdentChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) ||
    (c >= 65 && c <= 90) ||
    (c >= 48 && c <= 57) ||
    c === 95 ||
    c === 36 ||
    c >= 128
  );
}

export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Would printing `b` right after `a` with no space in between lex as something else? The output
 * is re-lexed by the MIG lexer, so tokens that macro expansion put side by side must stay apart.
 */
export function wouldPaste(a: Tok, b: Tok): boolean {
  const x = a.text.charCodeAt(a.text.length - 1);
  const y = b.text.charCodeAt(0);
  switch (a.kind) {
    case Kind.Identifier:
      return isIdentChar(y) || b.kind === Kind.String || b.kind === Kind.Char;
    case Kind.Number:
      return (
        isIdentChar(y) ||
        y === 46 /* . */ ||
        ((y === 43 || y === 45) && (x === 101 || x === 69 || x === 112 || x === 80))
      );
    case Kind.Punct:
    case Kind.Other: {
      if (b.kind !== Kind.Punct && b.kind !== Kind.Other) {
        // `.` then a digit is a number; a lone `\` or `@` is harmless.
        return x === 46 && isDigit(y);
      }
      if (x === 47 && (y === 47 || y === 42)) return true; // `/` `/` or `/` `*` would start a comment
      if (x === 46 && y === 46) return true; // two dots might become `...` with a third
      if (MULTI_CHAR_PUNCT.has(a.text + b.text[0]!)) return true;
      // `.` `.` `.` and `<<` `=` style triples.
      return b.text.length > 1 ? MULTI_CHAR_PUNCT.has(a.text + b.text.slice(0, 2)) : false;
    }
    default:
      return false;
  }
}
