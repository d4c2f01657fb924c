/** The IR of a few small interfaces, against the reviewed goldens (`npm run goldens` rewrites them). */
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { goldenIrCases, renderGoldenIr } from "./golden-ir.js";

it.each(goldenIrCases().map((c) => [`${c.name} (${c.abi})`, c] as const))(
  "IR golden %s",
  (_label, c) => {
    expect(renderGoldenIr(c)).toBe(readFileSync(c.golden, "utf8"));
  },
);
