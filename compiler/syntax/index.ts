/**
 * The syntax phase: preprocessed `.defs` text -> AST (see ast.ts), with every problem reported as a
 * diagnostic (codes MIG2xxx). Never throws on user input.
 */
import { sortDiagnostics, type Diagnostic, type SourceLocation } from "../diagnostics/index.js";
import type { DefsFile } from "./ast.js";
import { lex } from "./lexer.js";
import { parseTokens } from "./parser.js";

export type * from "./ast.js";
export { locateInText } from "./locate.js";
export { SYMBOLIC_TYPE_NAMES, type SymbolicTypeName, type SymbolicOrigin } from "./tokens.js";

export interface ParseOptions {
  /** The name of the main input file, recorded in the result. */
  file?: string;
}

export interface ParseResult {
  file: DefsFile;
  diagnostics: Diagnostic[];
}

/**
 * Parses preprocessed text. `locate` maps an offset in `text` to its original position (the
 * preprocessor's `PreprocessResult.locate`, or `locateInText` for text that was not preprocessed).
 */
export function parse(text: string, locate: (offset: number) => SourceLocation, options: ParseOptions = {}): ParseResult {
  const lexed = lex(text, locate);
  const diagnostics = lexed.diagnostics;
  const statements = parseTokens({ tokens: lexed.tokens, droppedCharacters: lexed.droppedCharacters, locate, diagnostics });
  const file: DefsFile = { statements };
  if (options.file !== undefined) file.file = options.file;
  return { file, diagnostics: sortDiagnostics(diagnostics) };
}
