import type { SourceLocation } from "../diagnostics/index.js";

/**
 * Maps offsets in `text` to 1-based line and column in `file`, for text that did not go through
 * the preprocessor (tests, tools that feed the parser directly). Columns count UTF-16 code units,
 * and a tab counts as one column, as GNU tools report them.
 */
export function locateInText(text: string, file: string): (offset: number) => SourceLocation {
  const lineStarts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) lineStarts.push(i + 1);
  return (offset: number): SourceLocation => {
    const at = Math.max(0, Math.min(Number.isFinite(offset) ? offset : text.length, text.length));
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= at) lo = mid;
      else hi = mid - 1;
    }
    return { file, line: lo + 1, column: at - lineStarts[lo] + 1 };
  };
}
