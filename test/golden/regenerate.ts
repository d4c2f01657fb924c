/**
 * Regenerates the golden files (`npm run goldens`). Goldens are our own output kept for review:
 * a change shows up as a diff, and tests compare against the committed files.
 */
import { writeFileSync } from "node:fs";
import { goldenIrCases, renderGoldenIr } from "./ir/golden-ir.js";

for (const c of goldenIrCases()) {
  writeFileSync(c.golden, renderGoldenIr(c));
  console.log(`wrote ${c.golden}`);
}
