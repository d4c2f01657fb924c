/**
 * Renders diagnostics the way compilers users know do it:
 *   file:line:col: error MIG2001: message
 *      12 | routine foo(bar : int)
 *         |                      ^
 */
import { readFileSync } from "node:fs";
import type { Diagnostic } from "./diagnostic.js";

export interface FormatOptions {
  /** Returns the text of an original source file, or undefined when it cannot be read. */
  readSource?: (file: string) => string | undefined;
  /** Lines of context shown before the offending line. */
  contextLines?: number;
}

export function formatDiagnostic(d: Diagnostic, options: FormatOptions = {}): string {
  const where = d.location ? `${d.location.file}:${d.location.line}:${d.location.column}: ` : "mig-ts: ";
  let out = `${where}${d.severity} ${d.code}: ${d.message}`;
  if (d.expected && d.expected.length > 0) {
    out += `\n  expected one of: ${d.expected.join(", ")}`;
  }
  if (d.location && options.readSource) {
    const frame = codeFrame(options.readSource(d.location.file), d.location.line, d.location.column, options.contextLines ?? 1);
    if (frame) out += `\n${frame}`;
  }
  for (const r of d.related ?? []) {
    const at = r.location ? `${r.location.file}:${r.location.line}:${r.location.column}: ` : "";
    out += `\n  ${at}note: ${r.message}`;
  }
  return out;
}

/** A few lines of source with a caret under the column; empty when the source is unavailable. */
export function codeFrame(source: string | undefined, line: number, column: number, contextLines = 1): string {
  if (source === undefined) return "";
  const lines = source.split(/\r?\n/);
  if (line < 1 || line > lines.length) return "";
  const first = Math.max(1, line - contextLines);
  const width = String(line).length;
  const rows: string[] = [];
  for (let n = first; n <= line; n++) {
    rows.push(`${String(n).padStart(width + 2)} | ${lines[n - 1]}`);
  }
  const text = lines[line - 1] ?? "";
  // Keep tabs so the caret lines up in terminals that expand them.
  const pad = text.slice(0, Math.max(0, column - 1)).replace(/[^\t]/g, " ");
  rows.push(`${" ".repeat(width + 2)} | ${pad}^`);
  return rows.join("\n");
}

/**
 * A `readSource` for code frames that reads each original file at most once (a file with many
 * diagnostics is not read again per diagnostic); undefined for files that cannot be read.
 */
export function cachingSourceReader(): (file: string) => string | undefined {
  const sources = new Map<string, string | undefined>();
  return (file) => {
    if (!sources.has(file)) {
      try {
        sources.set(file, readFileSync(file, "utf8"));
      } catch {
        sources.set(file, undefined);
      }
    }
    return sources.get(file);
  };
}
