/**
 * The diagnostic catalog: every code the compiler can report, with its default severity and a
 * one-line description (the README's diagnostics table is generated from this list).
 *
 * Codes are stable: never renumber or reuse one. Ranges by phase:
 *   MIG0xxx  command line and files
 *   MIG1xxx  preprocessor
 *   MIG2xxx  lexer and parser
 *   MIG3xxx  semantic checks (types, routines, arguments)
 *   MIG4xxx  message layout
 * Each phase owns its block below; add codes at the end of your block.
 */
import type { Severity } from "./diagnostic.js";

export interface DiagnosticInfo {
  severity: Severity;
  summary: string;
}

function entries<T extends Record<string, DiagnosticInfo>>(t: T): T {
  return t;
}

const cliCodes = entries({
  MIG0001: { severity: "error", summary: "An input file could not be read." },
  MIG0002: { severity: "error", summary: "An output file could not be written." },
});

const preprocessCodes = entries({
  MIG1001: { severity: "error", summary: "An #include (or -imacros) file was not found in the search path." },
  MIG1002: { severity: "error", summary: "#include nested too deeply (more than 200 levels; usually a recursive include)." },
  MIG1003: { severity: "error", summary: "#include or #include_next without a \"FILE\" or <FILE> name." },
  MIG1004: { severity: "error", summary: "A /* comment is not closed before the end of the file." },
  MIG1005: { severity: "error", summary: "An #if, #ifdef or #ifndef has no matching #endif in the same file." },
  MIG1006: { severity: "error", summary: "#elif, #else or #endif without a matching #if." },
  MIG1007: { severity: "error", summary: "#elif or #else after the #else of the same conditional." },
  MIG1008: { severity: "error", summary: "The expression of an #if or #elif is malformed." },
  MIG1009: { severity: "error", summary: "Division or remainder by zero in an #if or #elif expression." },
  MIG1010: { severity: "error", summary: "An #error directive was reached." },
  MIG1011: { severity: "warning", summary: "A #warning directive was reached." },
  MIG1012: { severity: "error", summary: "A #define is malformed (parameter list, '#' or '##' placement, or the name 'defined')." },
  MIG1013: { severity: "warning", summary: "A macro is redefined with a different replacement list." },
  MIG1014: { severity: "error", summary: "The argument list of a function-like macro is not closed before the end of the file or directive." },
  MIG1015: { severity: "error", summary: "A function-like macro is invoked with the wrong number of arguments." },
  MIG1016: { severity: "error", summary: "'##' pasted two tokens into something that is not one valid token." },
  MIG1017: { severity: "error", summary: "Unknown preprocessing directive." },
  MIG1018: { severity: "error", summary: "A #line directive is malformed (it needs a decimal line number and an optional \"file\")." },
  MIG1019: { severity: "error", summary: "A macro name is missing or is not an identifier (#define, #undef, #ifdef, defined, -D, -U)." },
  MIG1020: { severity: "warning", summary: "Extra tokens at the end of a directive are ignored." },
  MIG1021: { severity: "error", summary: "A string literal is not closed before the end of the line." },
  MIG1022: { severity: "warning", summary: "A character constant is not closed before the end of the line." },
  MIG1023: { severity: "error", summary: "Macro expansion exceeded the size limit (runaway or exponential expansion)." },
  MIG1024: { severity: "error", summary: "A directive other than a conditional or #define/#undef appears inside macro arguments." },
});

const syntaxCodes = entries({});

const semanticCodes = entries({});

const layoutCodes = entries({});

export const DIAGNOSTIC_CODES = {
  ...cliCodes,
  ...preprocessCodes,
  ...syntaxCodes,
  ...semanticCodes,
  ...layoutCodes,
};

export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;
