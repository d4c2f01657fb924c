/**
 * The package entry (`import { compile } from "mig-ts"`): the compiler as a library.
 *
 *   compile(source, options)      .defs text -> generated TypeScript files + diagnostics
 *   generate(file, options)       the same for a file on disk
 *   compileFile(file, options)    .defs file -> the IR (no code), for tools
 *   formatDiagnostic(d, options)  a diagnostic as the CLI prints it (with a code frame)
 *
 * Nothing here throws on bad input: problems come back as diagnostics.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { generate, type GenerateOptions, type GenerateResult } from "./emit/generate.js";

export { check, compileFile, type CompileOptions, type CompileResult } from "./index.js";
export type { Abi, Diagnostic, InterfaceIR, InterfaceModel } from "./index.js";
export { DIAGNOSTIC_CODES, formatDiagnostic, hasErrors, type DiagnosticCode, type Severity, type SourceLocation } from "./diagnostics/index.js";
export { generate, type GeneratedFile, type GenerateOptions, type GenerateResult } from "./emit/generate.js";
export { VERSION } from "./version.js";

export interface CompileSourceOptions extends GenerateOptions {
  /** The name the source is reported under and `#include "..."` resolves against (default `input.defs`). */
  fileName?: string;
  /** Extra in-memory files (`#include` targets), by path; anything else is read from disk. */
  files?: Readonly<Record<string, string>>;
}

/**
 * Compiles `.defs` source text to TypeScript: `{ files: [{ name, text }], diagnostics, ir, inputs }`.
 * `files` is empty when there are errors (and for a types-only file).
 */
export function compile(source: string, options: CompileSourceOptions = {}): GenerateResult {
  const fileName = options.fileName ?? "input.defs";
  const memory = new Map<string, string>([[resolve(fileName), source]]);
  for (const [path, text] of Object.entries(options.files ?? {})) memory.set(resolve(path), text);
  const readFile =
    options.readFile ??
    ((path: string): string | undefined => {
      const inMemory = memory.get(resolve(path));
      if (inMemory !== undefined) return inMemory;
      try {
        return readFileSync(path, "utf8");
      } catch {
        return undefined;
      }
    });
  const { fileName: _name, files: _files, ...rest } = options;
  return generate(fileName, { ...rest, readFile });
}
