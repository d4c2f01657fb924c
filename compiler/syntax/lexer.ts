/**
 * The lexer: preprocessed text -> tokens for the parser, plus lexical diagnostics.
 *
 * GNU MIG's lexer has three modes that its parser switches before reading a token. Chevrotain lexes
 * the whole input before parsing, so the modes are custom token patterns that look at the tokens
 * already produced:
 *  - String mode: after a statement-level `waittime`/`msgoption`, one word of `[-/._$A-Za-z0-9]+`.
 *    (`waittime` and `msgoption` are also argument kinds inside a routine's parentheses; there the
 *    next token is an ordinary name.)
 *  - FileName mode: after `import`/`uimport`/`simport`/`dimport`/`iimport`, `"..."` or `<...>`. A
 *    macro-expanded `<...>` may come back from the preprocessor with spaces between its pieces; those
 *    are dropped again.
 *  - QString mode: after `rcsid`, `"..."`. Quoted strings are lexed anywhere; the parser only accepts
 *    them where MIG does, which gives a syntax error instead of a lexical one elsewhere.
 *
 * Keywords and symbolic type names are assigned after lexing (see tokens.ts). Things MIG's lexer
 * rejects become diagnostics here: comments the preprocessor should have removed, `#` lines other
 * than line markers and `#define`/`#undef`, hexadecimal numbers, characters outside the language.
 */
import { createToken, Lexer, type CustomPatternMatcherReturn, type IToken, type TokenType } from "chevrotain";
import { diagnostic, type Diagnostic, type SourceLocation } from "../diagnostics/index.js";
import {
  AngleFileName,
  Identifier,
  Less,
  LBrace,
  LParen,
  NumberLiteral,
  OptionString,
  QuotedString,
  RBrace,
  RParen,
  Semicolon,
  STATEMENT_ONLY_KEYWORDS,
  SYMBOLIC_TYPE_NAMES,
  SymbolicType,
  classifyWord,
  Colon, Comma, Plus, Minus, Star, Slash, Equals, Caret, Tilde, Greater, LBracket, RBracket, Bar,
  Routine,
  SimpleRoutine,
  MsgOption,
  WaitTime,
  Import,
  UImport,
  SImport,
  DImport,
  IImport,
  isWord,
  LETTERS,
  DIGITS,
} from "./tokens.js";

/** Extra data the lexer attaches to some tokens (`IToken.payload`). */
export type TokenPayload =
  | { kind: "symbolic"; canonical: string }
  | { kind: "number"; value: number }
  /** A string or file name; `text` is what the AST records (for `<...>`, with spaces removed). */
  | { kind: "string"; text: string; unterminated: boolean };

function match(text: string, payload?: unknown): CustomPatternMatcherReturn {
  const result = [text] as CustomPatternMatcherReturn;
  if (payload !== undefined) result.payload = payload;
  return result;
}

/** `/* ... * /` or `// ...`, which the preprocessor should have removed. */
function matchComment(text: string, offset: number): CustomPatternMatcherReturn | null {
  if (text.charCodeAt(offset) !== 0x2f /* / */) return null;
  const next = text.charCodeAt(offset + 1);
  if (next === 0x2a /* * */) {
    const end = text.indexOf("*/", offset + 2);
    return match(end < 0 ? text.slice(offset) : text.slice(offset, end + 2), { unterminated: end < 0 });
  }
  if (next === 0x2f) {
    const end = text.indexOf("\n", offset);
    return match(end < 0 ? text.slice(offset) : text.slice(offset, end));
  }
  return null;
}

/** A `#` line: only when `#` is the first non-blank character of its line, as in GNU MIG. */
function matchDirective(text: string, offset: number): CustomPatternMatcherReturn | null {
  if (text.charCodeAt(offset) !== 0x23 /* # */) return null;
  for (let i = offset - 1; i >= 0; i--) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) break;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return null;
  }
  const end = text.indexOf("\n", offset);
  return match(end < 0 ? text.slice(offset) : text.slice(offset, end));
}

function previousWord(tokens: IToken[]): string | undefined {
  const last = tokens[tokens.length - 1];
  return last !== undefined && last.tokenType === Identifier ? last.image : undefined;
}

/**
 * Whether the token at `index` starts a statement (rather than an argument of a routine): it is the
 * first token, or it follows a `;` that is not inside parentheses or braces.
 */
function startsStatement(tokens: IToken[], index: number): boolean {
  if (index === 0) return true;
  if (tokens[index - 1].tokenType !== Semicolon) return false;
  let depth = 0;
  for (let i = index - 2; i >= 0; i--) {
    const t = tokens[i];
    const type = t.tokenType;
    if (type === RParen || type === RBrace) depth++;
    else if (type === LParen || type === LBrace) {
      if (depth === 0) return false;
      depth--;
    } else if (depth === 0 && type === Identifier) {
      const kw = classifyWord(t.image);
      if (kw !== undefined && (STATEMENT_ONLY_KEYWORDS.has(kw) || kw === Routine || kw === SimpleRoutine)) return true;
    }
  }
  return true;
}

const OPTION_STRING = /[-/._$A-Za-z0-9]+/y;

/** GNU's String mode: the value after a statement-level `waittime` or `msgoption`. */
function matchOptionString(text: string, offset: number, tokens: IToken[]): CustomPatternMatcherReturn | null {
  const word = previousWord(tokens);
  if (word === undefined || (word.length !== 8 && word.length !== 9) || !isWord(word, WaitTime, MsgOption)) return null;
  if (!startsStatement(tokens, tokens.length - 1)) return null;
  OPTION_STRING.lastIndex = offset;
  const m = OPTION_STRING.exec(text);
  return m === null ? null : match(m[0], { kind: "string", text: m[0], unterminated: false } satisfies TokenPayload);
}

/** The rest of the line from `offset`, without a trailing `;` (so an unterminated name leaves the `;` to the parser). */
function restOfLine(text: string, offset: number): string {
  const nl = text.indexOf("\n", offset);
  let s = nl < 0 ? text.slice(offset) : text.slice(offset, nl);
  s = s.replace(/\s*;?\s*$/, "");
  return s.length === 0 ? text.charAt(offset) : s;
}

/** GNU's FileName mode for `<...>`. */
function matchAngleFileName(text: string, offset: number, tokens: IToken[]): CustomPatternMatcherReturn | null {
  if (text.charCodeAt(offset) !== 0x3c /* < */) return null;
  const word = previousWord(tokens);
  if (word === undefined || !isWord(word, Import, UImport, SImport, DImport, IImport)) return null;
  const nl = text.indexOf("\n", offset);
  const close = text.indexOf(">", offset);
  if (close >= 0 && (nl < 0 || close < nl)) {
    const raw = text.slice(offset, close + 1);
    return match(raw, { kind: "string", text: raw.replace(/\s+/g, ""), unterminated: false } satisfies TokenPayload);
  }
  const raw = restOfLine(text, offset);
  return match(raw, { kind: "string", text: raw.replace(/\s+/g, ""), unterminated: true } satisfies TokenPayload);
}

/** `"..."` on one line (GNU's FileName and QString modes). */
function matchQuoted(text: string, offset: number): CustomPatternMatcherReturn | null {
  if (text.charCodeAt(offset) !== 0x22 /* " */) return null;
  for (let i = offset + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const raw = text.slice(offset, i + 1);
      return match(raw, { kind: "string", text: raw, unterminated: false } satisfies TokenPayload);
    }
    if (c === 0x0a) break;
  }
  const raw = restOfLine(text, offset);
  return match(raw, { kind: "string", text: raw, unterminated: true } satisfies TokenPayload);
}

const WhiteSpace = createToken({
  name: "WhiteSpace",
  pattern: /[ \t\r\n\f\v]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
  start_chars_hint: [" ", "\t", "\r", "\n", "\f", "\v"],
});
const Comment = createToken({
  name: "Comment",
  pattern: { exec: matchComment },
  group: "comments",
  line_breaks: true,
  start_chars_hint: ["/"],
});
const Directive = createToken({ name: "Directive", pattern: { exec: matchDirective }, group: "directives", start_chars_hint: ["#"] });
const RawOptionString = createToken({
  name: "RawOptionString",
  pattern: { exec: matchOptionString },
  start_chars_hint: [..."-/.$", ...LETTERS, ...DIGITS],
});
const RawAngleFileName = createToken({ name: "RawAngleFileName", pattern: { exec: matchAngleFileName }, start_chars_hint: ["<"] });
const RawQuoted = createToken({ name: "RawQuoted", pattern: { exec: matchQuoted }, start_chars_hint: ['"'] });
const HexNumber = createToken({ name: "HexNumber", pattern: /0[xX][0-9A-Fa-f]*/, start_chars_hint: ["0"] });

const LEXER_TOKENS: TokenType[] = [
  WhiteSpace, Comment, Directive, RawOptionString, RawAngleFileName, RawQuoted, HexNumber, NumberLiteral,
  Identifier, Colon, Semicolon, Comma, Plus, Minus, Star, Slash, LParen, RParen, Equals, Caret, Tilde, Less,
  Greater, LBracket, RBracket, LBrace, RBrace, Bar,
];

let lexer: Lexer | undefined;

/** `validate` runs chevrotain's checks of the token definitions; the tests do, a compile need not. */
function buildLexer(validate: boolean): Lexer {
  return new Lexer(LEXER_TOKENS, { positionTracking: "onlyOffset", ensureOptimizations: true, skipValidations: !validate });
}

function getLexer(): Lexer {
  lexer ??= buildLexer(false);
  return lexer;
}

/** Builds the lexer with chevrotain's validations on; throws if a token definition is defective. For tests. */
export function validateLexer(): void {
  buildLexer(true);
}

export interface LexResult {
  tokens: IToken[];
  diagnostics: Diagnostic[];
  /** Offsets of characters that match no token (reported as MIG2001 and dropped). */
  droppedCharacters: number[];
}

function retype(token: IToken, type: TokenType): void {
  token.tokenType = type;
  token.tokenTypeIdx = type.tokenTypeIdx!;
}

function describeChars(s: string): string {
  return s.length === 1 ? `character ${JSON.stringify(s)}` : `characters ${JSON.stringify(s)}`;
}

export function lex(text: string, locate: (offset: number) => SourceLocation): LexResult {
  const result = getLexer().tokenize(text);
  const diagnostics: Diagnostic[] = [];
  const tokens = result.tokens;

  for (const token of tokens) {
    const type = token.tokenType;
    if (type === Identifier) {
      const kw = classifyWord(token.image);
      if (kw !== undefined) {
        retype(token, kw);
        if (kw === SymbolicType) {
          token.payload = { kind: "symbolic", canonical: SYMBOLIC_TYPE_NAMES.get(token.image)!.canonical } satisfies TokenPayload;
        }
      }
    } else if (type === RawQuoted || type === RawAngleFileName || type === RawOptionString) {
      retype(token, type === RawQuoted ? QuotedString : type === RawAngleFileName ? AngleFileName : OptionString);
      const payload = token.payload as TokenPayload;
      if (payload.kind === "string" && payload.unterminated) {
        const closing = type === RawAngleFileName ? "'>'" : "'\"'";
        diagnostics.push(
          diagnostic("MIG2005", `unterminated ${type === RawQuoted ? "string" : "file name"} ${token.image}: missing closing ${closing} on this line`, locate(token.startOffset)),
        );
      }
    } else if (type === HexNumber) {
      const digits = token.image.slice(2);
      const value = digits.length > 0 ? parseInt(digits, 16) : 0;
      diagnostics.push(
        diagnostic(
          "MIG2004",
          digits.length > 0
            ? `hexadecimal number ${token.image}: MIG accepts decimal numbers only (write ${value})`
            : `malformed number ${token.image}: MIG accepts decimal numbers only`,
          locate(token.startOffset),
        ),
      );
      retype(token, NumberLiteral);
      token.payload = { kind: "number", value } satisfies TokenPayload;
    }
  }

  for (const comment of result.groups.comments ?? []) {
    const unterminated = (comment.payload as { unterminated?: boolean } | undefined)?.unterminated === true;
    diagnostics.push(
      diagnostic(
        "MIG2002",
        unterminated
          ? "unterminated comment in MIG input: comments must be removed by the preprocessor"
          : "comment in MIG input: comments must be removed by the preprocessor before MIG reads the file",
        locate(comment.startOffset),
      ),
    );
  }

  for (const directive of result.groups.directives ?? []) {
    const body = directive.image.slice(1).trimStart();
    // Line markers (`# 12 "file"`, `#line 12`) and the `#define`s that `cpp -dD` leaves are skipped, as GNU MIG does.
    if (/^(?:\d|line\b|define\b|undef\b)/.test(body) || body.length === 0) continue;
    const name = /^[A-Za-z_]\w*/.exec(body)?.[0] ?? body.slice(0, 1);
    diagnostics.push(
      diagnostic(
        "MIG2006",
        `illegal # directive '#${name}': MIG reads preprocessed text, where only line markers may start with '#'`,
        locate(directive.startOffset),
      ),
    );
  }

  for (const error of result.errors) {
    const chars = text.slice(error.offset, error.offset + error.length);
    diagnostics.push(diagnostic("MIG2001", `unexpected ${describeChars(chars)} in MIG input`, locate(error.offset)));
  }

  return { tokens, diagnostics, droppedCharacters: result.errors.map((e) => e.offset) };
}
