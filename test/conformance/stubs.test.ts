/**
 * GNU MIG's golden vectors through the GENERATED stubs (./stubs-suite.ts): client class encode and
 * decode, server decode and encode through the generated demux under migDemux, on both ABIs.
 * (`npm run conformance` drives the codec engine directly, see ./suite.ts.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { GNUMACH_INCLUDE, describeWithTools } from "../support/tools.js";
import { runStubConformance } from "./stubs-suite.js";

const vectors = join(import.meta.dirname, "../fixtures/conformance");

describeWithTools(["gnumachDefs"], "conformance through the generated stubs", () => {
  const outDir = mkdtempSync(join(tmpdir(), "mig-ts-conformance-"));
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it("passes every vector on x86_64 and i386 through the generated client class and demux", async () => {
    const result = await runStubConformance({ vectors, defsRoot: GNUMACH_INCLUDE, outDir });
    expect(result.failures.slice(0, 10)).toEqual([]);
    for (const abi of ["x86_64", "i386"]) {
      const r = result.abis[abi];
      expect(r.total).toBe(1117);
      expect(r.passed).toBe(r.total);
      for (const check of Object.values(r.checks)) expect(check.passed).toBe(check.total);
    }
  });
});
