/**
 * The preprocessor proper: directives, the include stack, and macro expansion.
 *
 * Macro expansion uses a stack of token contexts, one per macro being rescanned, the way cpp
 * does. A macro is disabled while its context is on the stack; an identifier naming a disabled
 * macro is copied with `noExpand` set ("painted blue") and is never expanded again, which is what
 * stops self-referential macros from looping. Arguments are fully expanded on their own before
 * substitution (C11 6.10.3.1), except next to `#` or `##`.
 *
 * Locations: a token from a file keeps where it was written (adjusted by `#line`). A token that a
 * macro expansion produced from the replacement list gets the location of the macro's use (for
 * nested expansions, the outermost use); a token that came from a macro argument keeps its own
 * location, so an error in an argument points at the argument.
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { diagnostic, type Diagnostic, type SourceLocation } from "../diagnostics/index.js";
import { evaluateCondition } from "./expression.js";
import { lex, lexFragment } from "./lexer.js";
import { parseDefine, sameDefinition, type Macro } from "./macros.js";
import { Kind, makeTok, moveTok, wouldPaste, type Tok } from "./tokens.js";
import type { PPToken, PreprocessOptions, PreprocessResult } from "./types.js";

/** cpp's default limit; also what stops `#include` recursion. */
const MAX_INCLUDE_DEPTH = 200;
/**
 * Tokens all macro expansions of one run may produce (replacement lists plus pre-expanded
 * arguments) before we call it runaway; real .defs use a few hundred.
 */
const EXPANSION_BUDGET = 1_000_000;
/** Nesting of macro invocations inside macro arguments (each level is a recursive call). */
const MAX_ARGUMENT_NESTING = 500;

const BUILTIN_LOC: SourceLocation = { file: "<built-in>", line: 1, column: 1 };
const COMMAND_LINE_LOC: SourceLocation = { file: "<command-line>", line: 1, column: 1 };

interface Conditional {
  /** `if`, `ifdef` or `ifndef`, for the "unterminated" message. */
  directive: string;
  loc: SourceLocation;
  /** The enclosing group was already being skipped. */
  wasSkipping: boolean;
  /** Some group of this conditional has been taken (so later `#elif`/`#else` groups are skipped). */
  taken: boolean;
  sawElse: boolean;
}

interface LexedFile {
  tokens: Tok[];
  /** The `X` of an `#ifndef X ... #endif` that wraps the whole file, if it has one. */
  guard: string | undefined;
}

interface Frame {
  path: string;
  dir: string;
  tokens: Tok[];
  index: number;
  conditionals: Conditional[];
  skipping: boolean;
  /** Index in the -I list where the file was found (-1 otherwise), for `#include_next`. */
  foundIn: number;
  /** `#line` state: the presumed file name and line offset, active once `relocated`. */
  relocated: boolean;
  presumedFile: string;
  lineDelta: number;
  guard: string | undefined;
}

interface Context {
  tokens: Tok[];
  index: number;
  /** The macro whose expansion this is (re-enabled when the context is used up), or null. */
  macro: Macro | null;
}

/**
 * Lexed files shared by every run in this process, keyed by path and checked against the text
 * just read, so a changed file is lexed again. Headers such as std_types.defs are included by
 * almost every .defs; lexing them once makes later compiles in the same process cheaper.
 */
const lexCache = new Map<string, { text: string; lexed: LexedFile; diagnostics: Diagnostic[] }>();
const LEX_CACHE_LIMIT = 512;

function defaultReadFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function isPunct(t: Tok, text: string): boolean {
  return t.kind === Kind.Punct && t.text === text;
}

function quote(text: string): string {
  let out = '"';
  for (const ch of text) out += ch === '"' || ch === "\\" ? `\\${ch}` : ch;
  return `${out}"`;
}

export class Preprocessor {
  readonly diagnostics: Diagnostic[] = [];
  readonly files: string[] = [];
  private readonly macros = new Map<string, Macro>();
  private readonly cache = new Map<string, LexedFile | null>();
  private readonly onceOnly = new Set<string>();
  private readonly includeDirs: readonly string[];
  private readonly read: (path: string) => string | undefined;

  private readonly stack: Frame[] = [];
  private readonly contexts: Context[] = [];
  /** Contexts below this index belong to an outer expansion and are invisible (isolated mode). */
  private base = 0;
  /** Expanding an isolated token list (an argument, an `#if` line): its end is the end of input. */
  private isolated = false;
  private argumentNesting = 0;
  /** Expanding an `#if`/`#elif` line, where `defined` is an operator. */
  private inCondition = false;
  /** A `defined` operator on the current `#if` line was malformed. */
  private conditionFailed = false;
  /** Collecting macro arguments that may run across lines of a file. */
  private collectingArguments = 0;
  private budget = EXPANSION_BUDGET;
  private budgetReported = false;

  private readonly endOfInput: Tok = makeTok(Kind.EndOfInput, "", BUILTIN_LOC, false);

  // Output, built in arrays.
  private readonly parts: string[] = [];
  private readonly outTokens: PPToken[] = [];
  private offset = 0;
  private previous: Tok | undefined;

  constructor(private readonly options: PreprocessOptions) {
    this.includeDirs = options.includeDirs ?? [];
    this.read = options.readFile ?? defaultReadFile;
  }

  run(file: string): PreprocessResult {
    this.predefine();
    this.commandLine();
    for (const imacros of this.options.imacros ?? []) {
      const found = this.findCommandLineFile(imacros);
      if (!found) {
        this.diagnostics.push(
          diagnostic(
            "MIG1001",
            `${imacros}: No such file or directory (-imacros)`,
            COMMAND_LINE_LOC,
          ),
        );
        continue;
      }
      this.pushFile(found.path, found.foundIn, found.lexed);
      this.drain(false);
    }
    const main = this.load(file);
    if (!main) {
      this.diagnostics.push(diagnostic("MIG0001", `${file}: No such file or directory`));
    } else {
      this.pushFile(file, -1, main);
      this.drain(true);
    }
    return this.result(file);
  }

  // ---------------------------------------------------------------------------------------------
  // Setup: predefined and command-line macros.

  private predefine(): void {
    const abi = this.options.abi ?? "x86_64";
    const names = abi === "i386" ? ["__i386__"] : ["__x86_64__", "__LP64__"];
    names.push("__GNU__", "__gnu_hurd__", "__MACH__");
    for (const name of names) {
      const one = makeTok(Kind.Number, "1", BUILTIN_LOC, false);
      this.macros.set(name, {
        name,
        functionLike: false,
        params: [],
        variadic: false,
        body: [one],
        bodyParam: [-1],
        loc: BUILTIN_LOC,
        disabled: false,
      });
    }
    for (const builtin of ["file", "line"] as const) {
      const name = builtin === "file" ? "__FILE__" : "__LINE__";
      this.macros.set(name, {
        name,
        functionLike: false,
        params: [],
        variadic: false,
        body: [],
        bodyParam: [],
        loc: BUILTIN_LOC,
        disabled: false,
        builtin,
      });
    }
  }

  private commandLine(): void {
    const ordered = this.options.commandLineMacros ?? [
      ...(this.options.defines ?? []).map(([name, value]) => ({
        kind: "define" as const,
        name,
        value,
      })),
      ...(this.options.undefines ?? []).map((name) => ({ kind: "undefine" as const, name })),
    ];
    for (const op of ordered) {
      if (op.kind === "define") {
        this.defineText(op.name, op.value, COMMAND_LINE_LOC);
      } else if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(op.name)) {
        this.diagnostics.push(
          diagnostic(
            "MIG1019",
            `macro names must be identifiers: "-U ${op.name}"`,
            COMMAND_LINE_LOC,
          ),
        );
      } else {
        this.macros.delete(op.name);
      }
    }
  }

  private defineText(name: string, value: string, loc: SourceLocation): void {
    const tokens = lexFragment(`${name} ${value}`, loc);
    const macro = parseDefine(
      tokens,
      makeTok(Kind.Identifier, "define", loc, false),
      this.diagnostics,
    );
    if (macro) this.define(macro);
  }

  private define(macro: Macro): void {
    const old = this.macros.get(macro.name);
    if (old && (old.builtin || !sameDefinition(old, macro))) {
      this.diagnostics.push(
        diagnostic("MIG1013", `"${macro.name}" redefined`, macro.loc, {
          related: [
            { message: "this is the location of the previous definition", location: old.loc },
          ],
        }),
      );
    }
    this.macros.set(macro.name, macro);
  }

  private findCommandLineFile(
    name: string,
  ): { path: string; foundIn: number; lexed: LexedFile } | undefined {
    const direct = this.load(name);
    if (direct) return { path: name, foundIn: -1, lexed: direct };
    if (isAbsolute(name)) return undefined;
    return this.search(name, 0);
  }

  // ---------------------------------------------------------------------------------------------
  // Files.

  private load(path: string): LexedFile | undefined {
    const cached = this.cache.get(path);
    if (cached !== undefined) return cached ?? undefined;
    const text = this.read(path);
    if (text === undefined) {
      this.cache.set(path, null);
      return undefined;
    }
    this.files.push(path);
    let shared = lexCache.get(path);
    if (!shared || shared.text !== text) {
      const diagnostics: Diagnostic[] = [];
      const tokens = lex(text, path, { diagnostics });
      shared = { text, lexed: { tokens, guard: findIncludeGuard(tokens) }, diagnostics };
      if (lexCache.size >= LEX_CACHE_LIMIT) lexCache.clear();
      lexCache.set(path, shared);
    }
    this.diagnostics.push(...shared.diagnostics);
    this.cache.set(path, shared.lexed);
    return shared.lexed;
  }

  private search(
    name: string,
    from: number,
  ): { path: string; foundIn: number; lexed: LexedFile } | undefined {
    for (let i = from; i < this.includeDirs.length; i++) {
      const path = join(this.includeDirs[i]!, name);
      const lexed = this.load(path);
      if (lexed) return { path, foundIn: i, lexed };
    }
    return undefined;
  }

  private pushFile(path: string, foundIn: number, lexed: LexedFile): void {
    this.stack.push({
      path,
      dir: dirname(path),
      tokens: lexed.tokens,
      index: 0,
      conditionals: [],
      skipping: false,
      foundIn,
      relocated: false,
      presumedFile: path,
      lineDelta: 0,
      guard: lexed.guard,
    });
  }

  private endFile(frame: Frame): void {
    for (const c of frame.conditionals) {
      this.diagnostics.push(diagnostic("MIG1005", `unterminated #${c.directive}`, c.loc));
    }
    this.stack.pop();
  }

  private relocate(frame: Frame, t: Tok): Tok {
    const loc = {
      file: frame.presumedFile,
      line: t.loc.line + frame.lineDelta,
      column: t.loc.column,
    };
    return {
      kind: t.kind,
      text: t.text,
      loc,
      space: t.space,
      bol: t.bol,
      noExpand: t.noExpand,
      unterminated: t.unterminated,
    };
  }

  /** The next token of the current file that is not part of a directive or a skipped group. */
  private readSourceToken(): Tok {
    for (;;) {
      const frame = this.stack[this.stack.length - 1];
      if (!frame) return this.endOfInput;
      const tokens = frame.tokens;
      if (frame.index >= tokens.length) {
        const last = tokens[tokens.length - 1];
        const eof = makeTok(
          Kind.EndOfInput,
          "",
          last
            ? frame.relocated
              ? this.relocate(frame, last).loc
              : last.loc
            : { file: frame.presumedFile, line: 1, column: 1 },
          false,
        );
        this.endFile(frame);
        return eof;
      }
      const t = tokens[frame.index]!;
      if (t.bol && t.kind === Kind.Punct && t.text === "#") {
        this.directive(frame);
        continue;
      }
      frame.index++;
      if (frame.skipping) continue;
      const out = frame.relocated ? this.relocate(frame, t) : t;
      if (t.unterminated) {
        this.diagnostics.push(
          t.kind === Kind.String
            ? diagnostic("MIG1021", `missing terminating " character`, out.loc)
            : diagnostic("MIG1022", `missing terminating ' character`, out.loc),
        );
      }
      return out;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Directives.

  private directive(frame: Frame): void {
    const tokens = frame.tokens;
    let end = frame.index + 1;
    while (tokens[end]!.kind !== Kind.EndOfDirective) end++;
    const eodLine = tokens[end]!.loc.line;
    let line = tokens.slice(frame.index + 1, end);
    frame.index = end + 1;
    if (frame.relocated) line = line.map((t) => this.relocate(frame, t));
    const name = line[0];
    if (!name) return; // the null directive
    const args = line.slice(1);

    if (name.kind === Kind.Identifier) {
      switch (name.text) {
        case "if":
        case "ifdef":
        case "ifndef":
          return this.openConditional(frame, name, args);
        case "elif":
          return this.elif(frame, name, args);
        case "else":
        case "endif":
          return this.elseOrEndif(frame, name, args);
      }
    }
    if (frame.skipping) return;
    if (
      this.collectingArguments > 0 &&
      !(name.kind === Kind.Identifier && ["define", "undef", "pragma"].includes(name.text))
    ) {
      this.diagnostics.push(
        diagnostic(
          "MIG1024",
          `#${name.text} is not allowed inside the arguments of a macro; it is ignored`,
          name.loc,
        ),
      );
      return;
    }
    if (name.kind === Kind.Number) return this.lineDirective(frame, name, args, eodLine, true);
    if (name.kind !== Kind.Identifier) {
      this.diagnostics.push(
        diagnostic("MIG1017", `invalid preprocessing directive "#${name.text}"`, name.loc),
      );
      return;
    }
    switch (name.text) {
      case "define": {
        const macro = parseDefine(args, name, this.diagnostics);
        if (macro) this.define(macro);
        return;
      }
      case "undef":
        if (this.macroName(name, args)) this.macros.delete(args[0]!.text);
        return;
      case "include":
      case "include_next":
        return this.include(frame, name, args);
      case "line":
        return this.lineDirective(frame, name, args, eodLine, false);
      case "error":
      case "warning":
        this.diagnostics.push(
          diagnostic(
            name.text === "error" ? "MIG1010" : "MIG1011",
            `#${name.text}${args.length ? " " : ""}${spell(args)}`,
            name.loc,
          ),
        );
        return;
      case "pragma":
        if (args.length === 1 && args[0]!.text === "once") this.onceOnly.add(frame.path);
        return; // every other pragma is ignored
      case "ident":
      case "sccs":
        return; // version strings for object files: nothing for MIG
      default:
        this.diagnostics.push(
          diagnostic("MIG1017", `invalid preprocessing directive #${name.text}`, name.loc),
        );
    }
  }

  /** Checks the operand of `#ifdef`, `#ifndef` and `#undef`: one identifier. */
  private macroName(directive: Tok, args: Tok[]): boolean {
    const t = args[0];
    if (!t || t.kind !== Kind.Identifier) {
      this.diagnostics.push(
        diagnostic(
          "MIG1019",
          t
            ? `macro names must be identifiers, not "${t.text}"`
            : `no macro name given in #${directive.text} directive`,
          t?.loc ?? directive.loc,
        ),
      );
      return false;
    }
    this.extraTokens(directive, args, 1);
    return true;
  }

  private extraTokens(directive: Tok, args: Tok[], used: number): void {
    const extra = args[used];
    if (extra)
      this.diagnostics.push(
        diagnostic("MIG1020", `extra tokens at end of #${directive.text} directive`, extra.loc),
      );
  }

  private openConditional(frame: Frame, directive: Tok, args: Tok[]): void {
    const wasSkipping = frame.skipping;
    let taken = false;
    if (!wasSkipping) {
      if (directive.text === "if") {
        taken = this.condition(directive, args);
      } else if (this.macroName(directive, args)) {
        taken = this.macros.has(args[0]!.text) === (directive.text === "ifdef");
      }
    }
    frame.conditionals.push({
      directive: directive.text,
      loc: directive.loc,
      wasSkipping,
      taken: taken || wasSkipping,
      sawElse: false,
    });
    frame.skipping = wasSkipping || !taken;
  }

  private elif(frame: Frame, directive: Tok, args: Tok[]): void {
    const c = frame.conditionals[frame.conditionals.length - 1];
    if (!c) {
      if (!frame.skipping)
        this.diagnostics.push(diagnostic("MIG1006", "#elif without #if", directive.loc));
      return;
    }
    if (c.sawElse) {
      if (!c.wasSkipping)
        this.diagnostics.push(diagnostic("MIG1007", "#elif after #else", directive.loc));
      frame.skipping = true;
      return;
    }
    if (c.taken) {
      frame.skipping = true;
      return;
    }
    const taken = this.condition(directive, args);
    c.taken = taken;
    frame.skipping = !taken;
  }

  private elseOrEndif(frame: Frame, directive: Tok, args: Tok[]): void {
    const c = frame.conditionals[frame.conditionals.length - 1];
    if (!c) {
      this.diagnostics.push(diagnostic("MIG1006", `#${directive.text} without #if`, directive.loc));
      return;
    }
    if (!c.wasSkipping) this.extraTokens(directive, args, 0);
    if (directive.text === "endif") {
      frame.conditionals.pop();
      frame.skipping = c.wasSkipping;
      return;
    }
    if (c.sawElse) {
      if (!c.wasSkipping)
        this.diagnostics.push(diagnostic("MIG1007", "#else after #else", directive.loc));
      frame.skipping = true;
      return;
    }
    c.sawElse = true;
    frame.skipping = c.taken;
    c.taken = true;
  }

  private condition(directive: Tok, args: Tok[]): boolean {
    this.inCondition = true;
    this.conditionFailed = false;
    const expanded = this.expandIsolated(args);
    this.inCondition = false;
    // A malformed `defined` has been reported already; one error per line is enough.
    return !this.conditionFailed && evaluateCondition(expanded, directive, this.diagnostics);
  }

  private include(frame: Frame, directive: Tok, args: Tok[]): void {
    let name: string | undefined;
    let angled = false;
    let rest: Tok[] = [];
    const first = args[0];
    if (first && first.kind === Kind.HeaderName) {
      name = first.text.slice(1, -1);
      angled = true;
      rest = args.slice(1);
    } else if (
      first &&
      first.kind === Kind.String &&
      first.text[0] === '"' &&
      !first.unterminated
    ) {
      name = first.text.slice(1, -1);
      rest = args.slice(1);
    } else if (first) {
      // A computed include: the line is macro-expanded, then read as "..." or <...>.
      const expanded = this.expandIsolated(args);
      const head = expanded[0];
      if (head && head.kind === Kind.String && head.text[0] === '"') {
        name = head.text.slice(1, -1);
        rest = expanded.slice(1);
      } else if (head && isPunct(head, "<")) {
        const close = expanded.findIndex((t) => isPunct(t, ">"));
        if (close > 0) {
          name = spell(expanded.slice(1, close));
          angled = true;
          rest = expanded.slice(close + 1);
        }
      }
    }
    if (name === undefined || name.length === 0) {
      this.diagnostics.push(
        diagnostic(
          "MIG1003",
          `#${directive.text} expects "FILENAME" or <FILENAME>`,
          first?.loc ?? directive.loc,
        ),
      );
      return;
    }
    if (rest.length > 0)
      this.diagnostics.push(
        diagnostic("MIG1020", `extra tokens at end of #${directive.text} directive`, rest[0]!.loc),
      );
    if (this.stack.length >= MAX_INCLUDE_DEPTH) {
      this.diagnostics.push(
        diagnostic(
          "MIG1002",
          `#include nested depth ${this.stack.length} exceeds maximum of ${MAX_INCLUDE_DEPTH} (is "${name}" including itself?)`,
          directive.loc,
        ),
      );
      return;
    }
    let found: { path: string; foundIn: number; lexed: LexedFile } | undefined;
    if (isAbsolute(name)) {
      const lexed = this.load(name);
      if (lexed) found = { path: name, foundIn: -1, lexed };
    } else if (directive.text === "include_next") {
      found = this.search(name, frame.foundIn + 1);
    } else {
      if (!angled) {
        const path = join(frame.dir, name);
        const lexed = this.load(path);
        if (lexed) found = { path, foundIn: -1, lexed };
      }
      found ??= this.search(name, 0);
    }
    if (!found) {
      this.diagnostics.push(
        diagnostic("MIG1001", `${name}: No such file or directory`, first!.loc),
      );
      return;
    }
    if (this.onceOnly.has(found.path)) return;
    if (found.lexed.guard !== undefined && this.macros.has(found.lexed.guard)) return;
    this.pushFile(found.path, found.foundIn, found.lexed);
  }

  private lineDirective(
    frame: Frame,
    directive: Tok,
    args: Tok[],
    eodLine: number,
    linemarker: boolean,
  ): void {
    const tokens = linemarker ? [directive, ...args] : this.expandIsolated(args);
    const number = tokens[0];
    if (!number || number.kind !== Kind.Number || !/^[0-9]+$/.test(number.text)) {
      const what = number
        ? `"${number.text}" after #line is not a positive integer`
        : "#line directive requires a line number";
      this.diagnostics.push(diagnostic("MIG1018", what, number?.loc ?? directive.loc));
      return;
    }
    const value = Number(number.text);
    if (value > 2147483647) {
      this.diagnostics.push(diagnostic("MIG1018", "line number out of range", number.loc));
      return;
    }
    const fileTok = tokens[1];
    let presumed = frame.presumedFile;
    if (fileTok) {
      if (fileTok.kind !== Kind.String || fileTok.text[0] !== '"' || fileTok.unterminated) {
        this.diagnostics.push(
          diagnostic("MIG1018", `invalid filename ${fileTok.text} in #line`, fileTok.loc),
        );
        return;
      }
      presumed = fileTok.text.slice(1, -1).replace(/\\(.)/g, "$1");
      // A linemarker (`# 12 "file" 1 3`) may carry flags; #line may not.
      if (!linemarker) this.extraTokens(directive, tokens, 2);
    }
    frame.presumedFile = presumed;
    frame.lineDelta = value - (eodLine + 1);
    frame.relocated = true;
  }

  // ---------------------------------------------------------------------------------------------
  // Macro expansion.

  private pushBack(t: Tok): void {
    this.contexts.push({ tokens: [t], index: 0, macro: null });
  }

  /** The next token, unexpanded: from the innermost macro context, else from the file. */
  private nextRaw(): Tok {
    for (;;) {
      const n = this.contexts.length;
      if (n > this.base) {
        const c = this.contexts[n - 1]!;
        if (c.index < c.tokens.length) return c.tokens[c.index++]!;
        this.contexts.pop();
        if (c.macro) c.macro.disabled = false;
        continue;
      }
      return this.isolated ? this.endOfInput : this.readSourceToken();
    }
  }

  /** The next fully macro-expanded token. */
  private nextExpanded(): Tok {
    for (;;) {
      const t = this.nextRaw();
      if (t.kind !== Kind.Identifier || t.noExpand) return t;
      if (this.inCondition && t.text === "defined") return this.definedOperator(t);
      const macro = this.macros.get(t.text);
      if (!macro) return t;
      if (macro.disabled) {
        const painted = moveTok(t, t.loc, t.space);
        painted.noExpand = true;
        return painted;
      }
      if (macro.builtin) {
        return macro.builtin === "file"
          ? makeTok(Kind.String, quote(t.loc.file), t.loc, t.space)
          : makeTok(Kind.Number, String(t.loc.line), t.loc, t.space);
      }
      if (!this.enterMacro(macro, t)) return t;
    }
  }

  /** `defined X` or `defined ( X )` inside `#if`: 1 or 0. */
  private definedOperator(t: Tok): Tok {
    let operand = this.nextRaw();
    const paren = isPunct(operand, "(");
    if (paren) operand = this.nextRaw();
    if (operand.kind !== Kind.Identifier) {
      this.diagnostics.push(
        diagnostic(
          "MIG1019",
          'operator "defined" requires an identifier',
          operand.kind === Kind.EndOfInput ? t.loc : operand.loc,
        ),
      );
      if (operand.kind === Kind.EndOfInput) this.pushBack(operand);
      this.conditionFailed = true;
      return makeTok(Kind.Number, "0", t.loc, t.space);
    }
    if (paren) {
      const close = this.nextRaw();
      if (!isPunct(close, ")")) {
        this.diagnostics.push(
          diagnostic(
            "MIG1008",
            `missing ')' after "defined"`,
            close.kind === Kind.EndOfInput ? operand.loc : close.loc,
          ),
        );
        this.pushBack(close);
        this.conditionFailed = true;
      }
    }
    return makeTok(Kind.Number, this.macros.has(operand.text) ? "1" : "0", t.loc, t.space);
  }

  /** Starts expanding `macro` used at `name`; false when it is not invoked after all. */
  private enterMacro(macro: Macro, name: Tok): boolean {
    if (this.budget < 0) return false;
    let args: Tok[][] | undefined;
    if (macro.functionLike) {
      const next = this.nextRaw();
      if (!isPunct(next, "(")) {
        this.pushBack(next);
        return false;
      }
      args = this.collectArguments(macro, name);
      if (!args) return false;
    }
    if (macro.body.length === 0) return true;
    const expansion = args ? this.substitute(macro, args, name) : this.copyBody(macro, name);
    this.budget -= expansion.length;
    if (this.budget < 0) {
      this.budget = -1;
      if (!this.budgetReported) {
        this.diagnostics.push(
          diagnostic(
            "MIG1023",
            `macro expansion produced more than ${EXPANSION_BUDGET} tokens; "${macro.name}" and later macros are not expanded`,
            name.loc,
          ),
        );
        this.budgetReported = true;
      }
      return false;
    }
    this.contexts.push({ tokens: expansion, index: 0, macro });
    macro.disabled = true;
    return true;
  }

  private copyBody(macro: Macro, name: Tok): Tok[] {
    const body = macro.body;
    const out: Tok[] = new Array<Tok>(body.length);
    for (let i = 0; i < body.length; i++)
      out[i] = moveTok(body[i]!, name.loc, i === 0 ? name.space : body[i]!.space);
    // An object-like macro may still use `##`.
    return out.some((t) => t.kind === Kind.Paste) ? this.substitute(macro, [], name) : out;
  }

  /** Reads the arguments after `(`; undefined (with a diagnostic) when they are malformed. */
  private collectArguments(macro: Macro, name: Tok): Tok[][] | undefined {
    const args: Tok[][] = [];
    let current: Tok[] = [];
    let depth = 0;
    const lastParam = macro.params.length - 1;
    this.collectingArguments++;
    try {
      for (;;) {
        const t = this.nextRaw();
        if (t.kind === Kind.EndOfInput) {
          this.diagnostics.push(
            diagnostic(
              "MIG1014",
              `unterminated argument list invoking macro "${macro.name}"`,
              name.loc,
            ),
          );
          this.pushBack(t);
          return undefined;
        }
        if (t.kind === Kind.Punct) {
          if (t.text === "(") {
            depth++;
          } else if (t.text === ")") {
            if (depth === 0) break;
            depth--;
          } else if (
            t.text === "," &&
            depth === 0 &&
            !(macro.variadic && args.length === lastParam)
          ) {
            args.push(current);
            current = [];
            continue;
          }
        }
        current.push(t);
      }
    } finally {
      this.collectingArguments--;
    }
    args.push(current);
    const expected = macro.params.length;
    if (expected === 0) {
      if (args.length === 1 && args[0]!.length === 0) return [];
    } else if (args.length === expected) {
      return args;
    } else if (macro.variadic && args.length === expected - 1) {
      args.push([]);
      return args;
    }
    const given = expected === 0 ? args.length : args.length;
    this.diagnostics.push(
      diagnostic(
        "MIG1015",
        given < expected
          ? `macro "${macro.name}" requires ${expected} arguments, but only ${given} given`
          : `macro "${macro.name}" passed ${given} arguments, but takes just ${expected}`,
        name.loc,
      ),
    );
    return undefined;
  }

  /** Expands a token list on its own (an argument, an `#if` line); outer macros stay disabled. */
  private expandIsolated(tokens: Tok[]): Tok[] {
    if (this.argumentNesting >= MAX_ARGUMENT_NESTING) {
      if (!this.budgetReported) {
        this.diagnostics.push(
          diagnostic(
            "MIG1023",
            `macro invocations nested more than ${MAX_ARGUMENT_NESTING} deep in arguments`,
            tokens[0]?.loc,
          ),
        );
        this.budgetReported = true;
      }
      return tokens;
    }
    const savedBase = this.base;
    const savedIsolated = this.isolated;
    this.argumentNesting++;
    this.base = this.contexts.length;
    this.isolated = true;
    this.contexts.push({ tokens, index: 0, macro: null });
    const out: Tok[] = [];
    for (;;) {
      const t = this.nextExpanded();
      if (t.kind === Kind.EndOfInput) break;
      out.push(t);
    }
    this.budget -= out.length;
    while (this.contexts.length > this.base) {
      const c = this.contexts.pop()!;
      if (c.macro) c.macro.disabled = false;
    }
    this.base = savedBase;
    this.isolated = savedIsolated;
    this.argumentNesting--;
    return out;
  }

  /** The replacement list with arguments substituted, `#` and `##` applied (C11 6.10.3.1-3). */
  private substitute(macro: Macro, args: Tok[][], name: Tok): Tok[] {
    const body = macro.body;
    const bodyParam = macro.bodyParam;
    const loc = name.loc;
    const expandedArgs: Array<Tok[] | undefined> = [];
    const out: Tok[] = [];
    let placemarkers = false;
    const vaIndex = macro.variadic ? macro.params.length - 1 : -2;

    const pushArg = (arg: Tok[], space: boolean): void => {
      if (arg.length === 0) return;
      out.push(moveTok(arg[0]!, arg[0]!.loc, space));
      for (let k = 1; k < arg.length; k++) out.push(arg[k]!);
    };

    for (let i = 0; i < body.length; i++) {
      const t = body[i]!;
      const space = i === 0 ? name.space : t.space;
      const p = bodyParam[i]!;
      if (macro.functionLike && t.kind === Kind.Punct && t.text === "#") {
        out.push(this.stringize(args[bodyParam[i + 1]!]!, loc, space));
        i++;
        continue;
      }
      if (t.kind === Kind.Paste) {
        const next = body[i + 1]!;
        const nextParam = bodyParam[i + 1]!;
        let rhs: Tok[];
        if (macro.functionLike && next.kind === Kind.Punct && next.text === "#") {
          rhs = [this.stringize(args[bodyParam[i + 2]!]!, loc, next.space)];
          i += 2;
        } else if (nextParam >= 0) {
          rhs = args[nextParam]!;
          i++;
          const lhs = out[out.length - 1];
          if (nextParam === vaIndex && lhs && isPunct(lhs, ",")) {
            // GNU: `, ## __VA_ARGS__` drops the comma when there are no variable arguments.
            if (rhs.length === 0) out.pop();
            else pushArg(rhs, next.space);
            continue;
          }
        } else {
          rhs = [moveTok(next, loc, next.space)];
          i++;
        }
        const lhs = out.pop()!;
        if (lhs.kind === Kind.Placemarker) {
          if (rhs.length === 0) out.push(lhs);
          else pushArg(rhs, lhs.space);
        } else if (rhs.length === 0) {
          out.push(lhs);
        } else {
          this.paste(lhs, rhs[0]!, loc, out);
          for (let k = 1; k < rhs.length; k++) out.push(rhs[k]!);
        }
        continue;
      }
      if (p >= 0) {
        const arg = args[p]!;
        if (body[i + 1]?.kind === Kind.Paste) {
          if (arg.length === 0) {
            out.push(makeTok(Kind.Placemarker, "", loc, space));
            placemarkers = true;
          } else {
            pushArg(arg, space);
          }
        } else {
          const expanded = (expandedArgs[p] ??= this.expandIsolated(arg));
          pushArg(expanded, space);
        }
        continue;
      }
      out.push(moveTok(t, loc, space));
    }
    return placemarkers ? out.filter((t) => t.kind !== Kind.Placemarker) : out;
  }

  private stringize(arg: Tok[], loc: SourceLocation, space: boolean): Tok {
    let text = '"';
    for (let k = 0; k < arg.length; k++) {
      const t = arg[k]!;
      if (k > 0 && (t.space || t.bol)) text += " ";
      if (t.kind === Kind.String || t.kind === Kind.Char) {
        for (const ch of t.text) text += ch === '"' || ch === "\\" ? `\\${ch}` : ch;
      } else {
        text += t.text;
      }
    }
    return makeTok(Kind.String, `${text}"`, loc, space);
  }

  /** Pastes `lhs ## rhs` onto `out`; if the result is not one token, reports it and keeps both. */
  private paste(lhs: Tok, rhs: Tok, loc: SourceLocation, out: Tok[]): void {
    const text = lhs.text + rhs.text;
    const lexed = lexFragment(text, loc);
    const only = lexed[0];
    if (lexed.length === 1 && only!.text === text && !only!.unterminated) {
      only!.space = lhs.space;
      out.push(only!);
      return;
    }
    this.diagnostics.push(
      diagnostic(
        "MIG1016",
        `pasting "${lhs.text}" and "${rhs.text}" does not give a valid preprocessing token`,
        loc,
      ),
    );
    out.push(lhs, moveTok(rhs, rhs.loc, false));
  }

  // ---------------------------------------------------------------------------------------------
  // Output.

  private drain(emit: boolean): void {
    for (;;) {
      const t = this.nextExpanded();
      if (t.kind === Kind.EndOfInput) {
        if (this.stack.length === 0 && this.contexts.length === 0) return;
        continue;
      }
      if (emit) this.emit(t);
    }
  }

  private emit(t: Tok): void {
    const prev = this.previous;
    if (prev) {
      const a = prev.loc;
      const b = t.loc;
      const sep =
        a.line !== b.line || a.file !== b.file ? "\n" : t.space || wouldPaste(prev, t) ? " " : "";
      if (sep) {
        this.parts.push(sep);
        this.offset++;
      }
    }
    this.outTokens.push({ text: t.text, location: t.loc, offset: this.offset });
    this.parts.push(t.text);
    this.offset += t.text.length;
    this.previous = t;
  }

  private result(file: string): PreprocessResult {
    const tokens = this.outTokens;
    if (tokens.length > 0) this.parts.push("\n");
    const fallback: SourceLocation = { file, line: 1, column: 1 };
    return {
      text: this.parts.join(""),
      tokens,
      diagnostics: this.diagnostics,
      files: this.files,
      locate(offset: number): SourceLocation {
        if (tokens.length === 0) return fallback;
        let lo = 0;
        let hi = tokens.length - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (tokens[mid]!.offset <= offset) lo = mid;
          else hi = mid - 1;
        }
        return tokens[lo]!.location;
      },
    };
  }
}

/** Tokens spelled back as text, with one space wherever the source had whitespace. */
function spell(tokens: readonly Tok[]): string {
  let out = "";
  for (let i = 0; i < tokens.length; i++) {
    if (i > 0 && tokens[i]!.space) out += " ";
    out += tokens[i]!.text;
  }
  return out;
}

/**
 * The guard macro of a file shaped `#ifndef X` ... `#endif` with nothing outside, so later
 * inclusions can be skipped without rescanning (cpp's multiple-include optimisation).
 */
function findIncludeGuard(tokens: Tok[]): string | undefined {
  const [hash, ifndef, name, eod] = tokens;
  if (
    !hash ||
    !isPunct(hash, "#") ||
    !hash.bol ||
    ifndef?.text !== "ifndef" ||
    name?.kind !== Kind.Identifier ||
    eod?.kind !== Kind.EndOfDirective
  ) {
    return undefined;
  }
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!(t.bol && isPunct(t, "#"))) continue;
    const d = tokens[i + 1]!;
    if (d.kind !== Kind.Identifier) continue;
    if (d.text === "if" || d.text === "ifdef" || d.text === "ifndef") {
      depth++;
    } else if (d.text === "endif") {
      depth--;
      if (depth === 0) {
        let end = i + 1;
        while (tokens[end]!.kind !== Kind.EndOfDirective) end++;
        return end === tokens.length - 1 ? name.text : undefined;
      }
    } else if (depth === 1 && (d.text === "else" || d.text === "elif")) {
      return undefined;
    }
  }
  return undefined;
}
