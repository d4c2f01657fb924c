/**
 * Diagnostics are values, never exceptions: every compiler phase returns the problems it found
 * alongside its result, and the CLI (or the build plugin) decides how to show them.
 */
import { DIAGNOSTIC_CODES, type DiagnosticCode } from "./codes.js";

/** A position in an original source file (1-based line and column, as editors count). */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

/** A half-open range in one original file. */
export interface SourceSpan {
  start: SourceLocation;
  end: SourceLocation;
}

export type Severity = "error" | "warning" | "note";

export interface RelatedInformation {
  message: string;
  location?: SourceLocation;
}

export interface Diagnostic {
  code: DiagnosticCode;
  severity: Severity;
  message: string;
  /** Where the problem is, mapped back through #include and macro expansion to the original file. */
  location?: SourceLocation;
  /** For syntax errors: the tokens the parser would have accepted here. */
  expected?: string[];
  /** Extra places worth showing (a previous definition, the macro that expanded here, ...). */
  related?: RelatedInformation[];
}

/** Builds a diagnostic whose severity comes from the catalog. */
export function diagnostic(
  code: DiagnosticCode,
  message: string,
  location?: SourceLocation,
  extra: Partial<Pick<Diagnostic, "expected" | "related" | "severity">> = {},
): Diagnostic {
  return { code, severity: extra.severity ?? DIAGNOSTIC_CODES[code].severity, message, location, ...extra };
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}

/** Sorts by file, line, column, then code, so output is deterministic whatever order phases found them in. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort((a, b) => {
    const la = a.location;
    const lb = b.location;
    if (la && lb) {
      if (la.file !== lb.file) return la.file < lb.file ? -1 : 1;
      if (la.line !== lb.line) return la.line - lb.line;
      if (la.column !== lb.column) return la.column - lb.column;
    } else if (la || lb) {
      return la ? 1 : -1;
    }
    return a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
  });
}
