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

const preprocessCodes = entries({});

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
