/**
 * The preprocessor's diagnostic catalog: one bad-input fixture per code in
 * test/fixtures/preprocess/diagnostics/<CODE>.defs, whose first line lists every diagnostic the
 * file must produce, in order, as `CODE line:column`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DIAGNOSTIC_CODES } from "../../../compiler/diagnostics/index.js";
import { preprocess } from "../../../compiler/preprocess/index.js";

const dir = fileURLToPath(new URL("../../fixtures/preprocess/diagnostics/", import.meta.url));
const fixtures = readdirSync(dir)
  .filter((name) => name.endsWith(".defs"))
  .sort();
const preprocessorCodes = Object.keys(DIAGNOSTIC_CODES).filter((code) => code.startsWith("MIG1"));

describe("preprocessor diagnostics", () => {
  it("has a fixture for every MIG1xxx code", () => {
    expect(fixtures.map((name) => name.replace(".defs", ""))).toEqual(preprocessorCodes.sort());
  });

  for (const name of fixtures) {
    it(`${name} reports what its first line expects`, () => {
      const file = dir + name;
      const header = readFileSync(file, "utf8").split("\n", 1)[0]!;
      const expected = header.replace(/^\/\/ expect /, "").split(", ");
      const result = preprocess(file, {});
      expect(
        result.diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`),
      ).toEqual(expected);
      for (const d of result.diagnostics) {
        expect(d.location?.file).toBe(file);
        expect(d.severity).toBe(DIAGNOSTIC_CODES[d.code].severity);
        expect(d.message.length).toBeGreaterThan(0);
      }
      expect(result.diagnostics.some((d) => d.code === name.replace(".defs", ""))).toBe(true);
    });
  }
});
