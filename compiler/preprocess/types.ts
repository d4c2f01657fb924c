/**
 * The contract between the preprocessor and the parser.
 *
 * The preprocessor turns a `.defs` file (and everything it includes) into one string of
 * preprocessed text for the lexer, plus a map from offsets in that string back to where each
 * token came from in the original files, so diagnostics of later phases point at what the user
 * wrote rather than at the preprocessed output.
 */
import type { Diagnostic, SourceLocation } from "../diagnostics/index.js";

export type Abi = "x86_64" | "i386";

export interface PreprocessOptions {
  /** `-I` directories, searched in order (for `"..."` includes, after the including file's folder). */
  includeDirs?: readonly string[];
  /** `-D NAME[=VALUE]` in command-line order; a bare `-D NAME` has the value "1". */
  defines?: ReadonlyArray<readonly [name: string, value: string]>;
  /** `-U NAME`, applied after the predefined macros and `-D`s, as cpp does. */
  undefines?: readonly string[];
  /**
   * `-D` and `-U` interleaved in command-line order (cpp applies them in that order, so
   * `-DX -UX` leaves X undefined and `-UX -DX` defines it). When given, it replaces `defines`
   * and `undefines`.
   */
  commandLineMacros?: ReadonlyArray<
    { kind: "define"; name: string; value: string } | { kind: "undefine"; name: string }
  >;
  /** `-imacros FILE`: its macro definitions are kept, its output is discarded. */
  imacros?: readonly string[];
  /** Selects the predefined target macros (default `x86_64`). */
  abi?: Abi;
  /**
   * Reads a file; returns undefined when it does not exist. Defaults to the real file system.
   * The build plugin and the tests pass in-memory files through this.
   */
  readFile?: (path: string) => string | undefined;
}

/** One preprocessed token and where it came from. */
export interface PPToken {
  text: string;
  /** The original position of the token (for a token produced by a macro: where the macro was used). */
  location: SourceLocation;
  /** Offset of this token in `PreprocessResult.text`. */
  offset: number;
}

export interface PreprocessResult {
  /**
   * Preprocessed text: the tokens, separated by single spaces or newlines. A newline comes
   * wherever the original line (or file) changes; on one line, tokens that were adjacent in the
   * source stay adjacent (so `import <mach/foo.h>;` comes out as written) and a space separates
   * tokens that had whitespace between them or would otherwise lex as one. The text ends with a
   * newline unless it is empty.
   */
  text: string;
  tokens: PPToken[];
  /** Maps an offset in `text` back to the original file:line:column. */
  locate(offset: number): SourceLocation;
  diagnostics: Diagnostic[];
  /** Every file that was read (the input, its includes, -imacros files): the watch list. */
  files: string[];
}
