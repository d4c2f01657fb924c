/**
 * generated/ is what `npm run generate` produces now (a stale file fails), and every generated
 * file is already formatted: prettier with the project's config leaves it unchanged.
 */
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as prettier from "prettier";
import { describe, expect, it } from "vitest";
import { expectedGeneratedFiles } from "../../../scripts/generate.js";
import prettierConfig from "../../../.prettierrc.json" with { type: "json" };

const GENERATED = fileURLToPath(new URL("../../../generated/", import.meta.url));

describe("generated/", () => {
  const expected = expectedGeneratedFiles();

  it("is up to date (run `npm run generate`)", () => {
    const onDisk = readdirSync(GENERATED).filter((f) => f.endsWith(".ts")).sort();
    expect(onDisk).toEqual(expected.map((f) => f.name).sort());
    for (const file of expected) {
      expect(readFileSync(GENERATED + file.name, "utf8"), `generated/${file.name} is stale`).toBe(file.text);
    }
  });

  it("is deterministic", () => {
    const again = expectedGeneratedFiles();
    expect(again).toEqual(expected);
  });

  for (const file of expected) {
    it(`${file.name} is formatted as prettier formats it`, async () => {
      expect(await prettier.format(file.text, { ...prettierConfig, parser: "typescript" })).toBe(file.text);
    });
  }

  it("has no `any`", () => {
    for (const file of expected) expect(file.text).not.toMatch(/\bany\b(?!")/);
  });
});
