/**
 * The bad-input fixtures in test/fixtures/bad (shared with the whole-pipeline runner) whose
 * expectations are all syntax codes (MIG2xxx), run through `parse` directly. The expectation comment
 * on the first line is blanked out with spaces, as the preprocessor would remove it, so every other
 * position stays where it is in the file.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseText } from "./helpers.js";

const BAD = fileURLToPath(new URL("../../fixtures/bad", import.meta.url));

function fixtures(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...fixtures(path));
    else if (name.endsWith(".defs")) out.push(path);
  }
  return out;
}

interface Fixture {
  path: string;
  text: string;
  expected: string[];
}

function load(path: string): Fixture | undefined {
  const content = readFileSync(path, "utf8");
  const newline = content.indexOf("\n");
  const first = newline < 0 ? content : content.slice(0, newline);
  const m = /^\/\*\s*expect:\s*(.*?)\s*\*\/\s*$/.exec(first);
  if (!m) throw new Error(`${path}: the first line must be /* expect: CODE line:col, ... */`);
  const expected = m[1]!
    .split(",")
    .map((e) => e.trim().replace(/\s+/g, " "))
    .filter((e) => e.length > 0);
  if (!expected.every((e) => /^MIG2\d{3} \d+:\d+$/.test(e))) return undefined; // another phase's fixture
  return { path, text: " ".repeat(first.length) + content.slice(first.length), expected };
}

const all = fixtures(BAD)
  .map(load)
  .filter((f): f is Fixture => f !== undefined);

describe("syntax fixtures in test/fixtures/bad", () => {
  it("there are at least 15 of them", () => {
    expect(all.length).toBeGreaterThanOrEqual(15);
  });

  it("every syntax code has a fixture", async () => {
    const { DIAGNOSTIC_CODES } = await import("../../../compiler/diagnostics/index.js");
    const covered = new Set(all.flatMap((f) => f.expected.map((e) => e.split(" ")[0])));
    const syntaxCodes = Object.keys(DIAGNOSTIC_CODES).filter((c) => c.startsWith("MIG2"));
    expect(syntaxCodes.filter((c) => !covered.has(c))).toEqual([]);
  });

  for (const fixture of all) {
    it(relative(BAD, fixture.path), () => {
      const result = parseText(fixture.text, fixture.path);
      const got = result.diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`);
      expect(got).toEqual(fixture.expected);
      for (const d of result.diagnostics) expect(d.location?.file).toBe(fixture.path);
    });
  }
});
