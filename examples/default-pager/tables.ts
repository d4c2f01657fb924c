/** Plain-text tables for the demo and the benchmark. */

export type Align = "left" | "right";

/** A table with a title, a header row and right-aligned numbers (left-aligned text). */
export function formatTable(
  title: string,
  headers: readonly string[],
  rows: readonly (readonly (string | number | bigint)[])[],
  align?: readonly Align[],
): string {
  const cells = rows.map((row) =>
    row.map((c) => (typeof c === "string" ? c : c.toLocaleString("en-US"))),
  );
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)),
  );
  const alignOf = (i: number): Align =>
    align?.[i] ?? (rows.length > 0 && typeof rows[0]![i] !== "string" ? "right" : "left");
  const pad = (text: string, i: number): string =>
    alignOf(i) === "right" ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const line = (parts: readonly string[]): string => `| ${parts.map(pad).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (alignOf(i) === "right" ? `${"-".repeat(w + 1)}:` : `:${"-".repeat(w + 1)}`)).join("|")}|`;
  const out = [title, "", line(headers), rule, ...cells.map(line)];
  if (rows.length === 0) out.push(line(headers.map(() => "")));
  return out.join("\n");
}

/** Bytes as KiB/MiB/GiB with the exact byte count when it is not a whole unit. */
export function formatBytes(bytes: number | bigint): string {
  const n = Number(bytes);
  for (const [unit, size] of [
    ["GiB", 2 ** 30],
    ["MiB", 2 ** 20],
    ["KiB", 2 ** 10],
  ] as const) {
    if (n >= size) {
      const v = n / size;
      return `${Number.isInteger(v) ? v : v.toFixed(2)} ${unit}`;
    }
  }
  return `${n} B`;
}

/** Sorted page offsets as contiguous runs [first, last] (in bytes, `pageSize` apart). */
export function pageRuns(offsets: readonly number[], pageSize: number): [number, number][] {
  const runs: [number, number][] = [];
  for (const offset of [...offsets].sort((a, b) => a - b)) {
    const last = runs[runs.length - 1];
    if (last !== undefined && offset === last[1] + pageSize) last[1] = offset;
    else runs.push([offset, offset]);
  }
  return runs;
}

/** Parses sizes like 4096, 64K, 4M, 1G (powers of 1024). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgKMG]?)(?:i?[bB])?$/.exec(text.trim());
  if (m === null) throw new Error(`not a size: ${text}`);
  const scale = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[
    m[2]!.toLowerCase() as "" | "k" | "m" | "g"
  ];
  const value = Number(m[1]) * scale;
  if (!Number.isSafeInteger(value)) throw new Error(`not a whole number of bytes: ${text}`);
  return value;
}
