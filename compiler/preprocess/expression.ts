/**
 * Evaluates the controlling expression of `#if` / `#elif` (C11 6.10.1) once macros have been
 * expanded and `defined` has been replaced by 0 or 1.
 *
 * Arithmetic follows C on the preprocessor's types: every value is `intmax_t` or `uintmax_t`
 * (64 bits), with the usual arithmetic conversions, wrap-around, shifts that keep the type of
 * their left operand, and `&&`, `||`, `?:` that do not evaluate (and so do not report division
 * by zero in) the operand they skip. Identifiers left after expansion count as 0.
 */
import { diagnostic, type Diagnostic, type SourceLocation } from "../diagnostics/index.js";
import { Kind, type Tok } from "./tokens.js";

interface Value {
  v: bigint;
  unsigned: boolean;
}

class ExpressionError {
  constructor(
    readonly message: string,
    readonly loc: SourceLocation,
  ) {}
}

const ZERO: Value = { v: 0n, unsigned: false };
const ONE: Value = { v: 1n, unsigned: false };

function norm(v: bigint, unsigned: boolean): Value {
  return { v: unsigned ? BigInt.asUintN(64, v) : BigInt.asIntN(64, v), unsigned };
}

function truth(b: boolean): Value {
  return b ? ONE : ZERO;
}

/** Binary operators by precedence level, loosest first (`?:` and `,` are handled separately). */
const LEVELS: ReadonlyArray<readonly string[]> = [
  ["||"],
  ["&&"],
  ["|"],
  ["^"],
  ["&"],
  ["==", "!="],
  ["<", ">", "<=", ">="],
  ["<<", ">>"],
  ["+", "-"],
  ["*", "/", "%"],
];

const LEVEL_OF = new Map<string, number>();
LEVELS.forEach((ops, level) => ops.forEach((op) => LEVEL_OF.set(op, level)));

/** Nesting of parentheses and unary operators; deeper expressions are rejected, not recursed into. */
const MAX_NESTING = 256;

class Evaluator {
  private pos = 0;
  private nesting = 0;

  constructor(
    private readonly tokens: readonly Tok[],
    private readonly directive: Tok,
    private readonly diagnostics: Diagnostic[],
  ) {}

  run(): boolean {
    try {
      if (this.tokens.length === 0) {
        throw new ExpressionError(`#${this.directive.text} with no expression`, this.directive.loc);
      }
      const value = this.comma(true);
      const rest = this.tokens[this.pos];
      if (rest) {
        throw new ExpressionError(
          rest.text === ")"
            ? "missing '(' in expression"
            : `missing binary operator before token "${rest.text}"`,
          rest.loc,
        );
      }
      return value.v !== 0n;
    } catch (e) {
      if (!(e instanceof ExpressionError)) throw e;
      this.diagnostics.push(diagnostic("MIG1008", e.message, e.loc));
      return false;
    }
  }

  private peekText(): string | undefined {
    const t = this.tokens[this.pos];
    return t && t.kind === Kind.Punct ? t.text : undefined;
  }

  private endLoc(): SourceLocation {
    const last = this.tokens[this.tokens.length - 1];
    return last ? last.loc : this.directive.loc;
  }

  private comma(evaluate: boolean): Value {
    let value = this.conditional(evaluate);
    while (this.peekText() === ",") {
      this.pos++;
      value = this.conditional(evaluate);
    }
    return value;
  }

  private conditional(evaluate: boolean): Value {
    const cond = this.binary(0, evaluate);
    if (this.peekText() !== "?") return cond;
    this.pos++;
    const taken = cond.v !== 0n;
    const a = this.comma(evaluate && taken);
    if (this.peekText() !== ":") {
      throw new ExpressionError(
        "'?' without following ':'",
        this.tokens[this.pos]?.loc ?? this.endLoc(),
      );
    }
    this.pos++;
    const b = this.conditional(evaluate && !taken);
    const unsigned = a.unsigned || b.unsigned;
    return norm(taken ? a.v : b.v, unsigned);
  }

  private binary(level: number, evaluate: boolean): Value {
    if (level === LEVELS.length) return this.unary(evaluate);
    let left = this.binary(level + 1, evaluate);
    for (;;) {
      const op = this.peekText();
      if (op === undefined || LEVEL_OF.get(op) !== level) return left;
      const opTok = this.tokens[this.pos++]!;
      if (op === "&&" || op === "||") {
        const decided = op === "&&" ? left.v === 0n : left.v !== 0n;
        const right = this.binary(level + 1, evaluate && !decided);
        left = truth(decided ? op === "||" : right.v !== 0n);
        continue;
      }
      const right = this.binary(level + 1, evaluate);
      left = this.apply(op, left, right, opTok, evaluate);
    }
  }

  private apply(op: string, a: Value, b: Value, opTok: Tok, evaluate: boolean): Value {
    if (op === "<<" || op === ">>") return shift(op === "<<", a, b);
    const unsigned = a.unsigned || b.unsigned;
    const x = unsigned ? BigInt.asUintN(64, a.v) : a.v;
    const y = unsigned ? BigInt.asUintN(64, b.v) : b.v;
    switch (op) {
      case "*":
        return norm(x * y, unsigned);
      case "/":
      case "%":
        if (y === 0n) {
          if (evaluate)
            this.diagnostics.push(diagnostic("MIG1009", "division by zero in #if", opTok.loc));
          return { v: 0n, unsigned };
        }
        return norm(op === "/" ? x / y : x % y, unsigned);
      case "+":
        return norm(x + y, unsigned);
      case "-":
        return norm(x - y, unsigned);
      case "<":
        return truth(x < y);
      case ">":
        return truth(x > y);
      case "<=":
        return truth(x <= y);
      case ">=":
        return truth(x >= y);
      case "==":
        return truth(x === y);
      case "!=":
        return truth(x !== y);
      case "&":
        return norm(x & y, unsigned);
      case "^":
        return norm(x ^ y, unsigned);
      default: // "|"
        return norm(x | y, unsigned);
    }
  }

  private unary(evaluate: boolean): Value {
    const t = this.tokens[this.pos];
    if (!t)
      throw new ExpressionError(
        "#if expression ends too early (an operand is missing)",
        this.endLoc(),
      );
    this.pos++;
    if (t.kind === Kind.Punct) {
      if (++this.nesting > MAX_NESTING) {
        throw new ExpressionError(
          `#if expression nested more than ${MAX_NESTING} levels deep`,
          t.loc,
        );
      }
      try {
        return this.operator(t, evaluate);
      } finally {
        this.nesting--;
      }
    }
    switch (t.kind) {
      case Kind.Number:
        return parseInteger(t);
      case Kind.Char:
        return parseChar(t);
      case Kind.Identifier:
        return ZERO;
    }
    throw new ExpressionError(`token "${t.text}" is not valid in preprocessor expressions`, t.loc);
  }

  /** A parenthesised expression or a unary operator and its operand. */
  private operator(t: Tok, evaluate: boolean): Value {
    switch (t.text) {
      case "(": {
        const inner = this.comma(evaluate);
        if (this.peekText() !== ")") {
          throw new ExpressionError(
            "missing ')' in expression",
            this.tokens[this.pos]?.loc ?? t.loc,
          );
        }
        this.pos++;
        return inner;
      }
      case "+":
        return this.unary(evaluate);
      case "-": {
        const v = this.unary(evaluate);
        return norm(-v.v, v.unsigned);
      }
      case "~": {
        const v = this.unary(evaluate);
        return norm(~v.v, v.unsigned);
      }
      case "!":
        return truth(this.unary(evaluate).v === 0n);
    }
    throw new ExpressionError(`token "${t.text}" is not valid in preprocessor expressions`, t.loc);
  }
}

function shift(left: boolean, a: Value, b: Value): Value {
  let n = b.unsigned ? BigInt.asUintN(64, b.v) : b.v;
  if (n < 0n) {
    left = !left;
    n = -n;
  }
  if (left) return n >= 64n ? { v: 0n, unsigned: a.unsigned } : norm(a.v << n, a.unsigned);
  if (a.unsigned)
    return n >= 64n
      ? { v: 0n, unsigned: true }
      : { v: BigInt.asUintN(64, a.v) >> n, unsigned: true };
  return { v: a.v >> (n >= 64n ? 63n : n), unsigned: false };
}

const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;
const VALID_SUFFIXES = new Set(["", "u", "l", "ll", "ul", "lu", "ull", "llu"]);

/** Parses an integer constant (decimal, octal, hex, or GNU binary, with C suffixes). */
function parseInteger(t: Tok): Value {
  const text = t.text;
  let body = text;
  let radix = 10;
  let prefix = "";
  if (/^0[xX]/.test(text)) {
    radix = 16;
    prefix = "0x";
    body = text.slice(2);
  } else if (/^0[bB]/.test(text)) {
    radix = 2;
    prefix = "0b";
    body = text.slice(2);
  } else if (text.length > 1 && text[0] === "0") {
    radix = 8;
    prefix = "0o";
    body = text.slice(1);
  }
  let digitsEnd = 0;
  while (digitsEnd < body.length && isRadixDigit(body.charCodeAt(digitsEnd), radix)) digitsEnd++;
  const digits = body.slice(0, digitsEnd);
  const suffix = body.slice(digitsEnd);
  const isFloat = radix === 16 ? /[.pP]/.test(body) : radix !== 2 && /[.eE]/.test(body);
  if (isFloat) {
    throw new ExpressionError(`floating constant "${text}" in preprocessor expression`, t.loc);
  }
  if (radix === 8 && /^[89]/.test(suffix)) {
    throw new ExpressionError(`invalid digit in octal constant "${text}"`, t.loc);
  }
  const lower = suffix.toLowerCase();
  const mixedLl = suffix.includes("lL") || suffix.includes("Ll");
  if ((digits.length === 0 && radix !== 8) || !VALID_SUFFIXES.has(lower) || mixedLl) {
    throw new ExpressionError(`invalid integer constant "${text}" in #if`, t.loc);
  }
  const value = BigInt(prefix + (digits.length === 0 ? "0" : digits));
  if (value > UINT64_MAX) {
    throw new ExpressionError(`integer constant "${text}" is too large for its type`, t.loc);
  }
  return { v: value, unsigned: lower.includes("u") || value > INT64_MAX };
}

function isRadixDigit(c: number, radix: number): boolean {
  if (radix === 16) return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
  if (radix === 2) return c === 48 || c === 49;
  if (radix === 8) return c >= 48 && c <= 55;
  return c >= 48 && c <= 57;
}

const SIMPLE_ESCAPES: Record<string, number> = {
  n: 10,
  t: 9,
  r: 13,
  a: 7,
  b: 8,
  f: 12,
  v: 11,
  e: 27,
  "\\": 92,
  "'": 39,
  '"': 34,
  "?": 63,
};

/** The value of a character constant: `char` is signed (as on x86), multi-character ones are `int`. */
function parseChar(t: Tok): Value {
  const text = t.text;
  const open = text.indexOf("'");
  const prefix = text.slice(0, open);
  if (t.unterminated || text.length - open < 3) {
    throw new ExpressionError(`invalid character constant ${text} in #if`, t.loc);
  }
  const chars: number[] = [];
  let i = open + 1;
  const end = text.length - 1;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c !== 92) {
      const cp = text.codePointAt(i)!;
      chars.push(cp);
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = text[i + 1] ?? "";
    if (e >= "0" && e <= "7") {
      let j = i + 1;
      let v = 0;
      while (j < end && j < i + 4 && text[j]! >= "0" && text[j]! <= "7")
        v = v * 8 + (text.charCodeAt(j++) - 48);
      chars.push(v);
      i = j;
    } else if (e === "x") {
      let j = i + 2;
      let v = 0;
      while (j < end && isRadixDigit(text.charCodeAt(j), 16)) v = v * 16 + parseInt(text[j++]!, 16);
      chars.push(v);
      i = j;
    } else {
      chars.push(SIMPLE_ESCAPES[e] ?? e.charCodeAt(0));
      i += 2;
    }
  }
  if (prefix === "") {
    if (chars.length === 1) return { v: BigInt.asIntN(8, BigInt(chars[0]!)), unsigned: false };
    let v = 0n;
    for (const c of chars) v = (v << 8n) | BigInt(c & 0xff);
    return { v: BigInt.asIntN(32, v), unsigned: false };
  }
  const last = BigInt(chars[chars.length - 1]!);
  // wchar_t is a signed 32-bit int on GNU; char16_t and char32_t are unsigned.
  return prefix === "L"
    ? { v: BigInt.asIntN(32, last), unsigned: false }
    : { v: last, unsigned: true };
}

/**
 * Evaluates a fully expanded `#if`/`#elif` expression. Problems are reported to `diagnostics`
 * and make the condition false.
 */
export function evaluateCondition(
  tokens: readonly Tok[],
  directive: Tok,
  diagnostics: Diagnostic[],
): boolean {
  return new Evaluator(tokens, directive, diagnostics).run();
}
