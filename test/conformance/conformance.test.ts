import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { compileFile } from "../../compiler/index.js";
import { GNUMACH_INCLUDE, describeWithTools } from "../support/tools.js";
import { runConformance } from "./suite.js";

const vectors = join(import.meta.dirname, "../fixtures/conformance");

describeWithTools(["gnumachDefs"], "conformance with GNU MIG's golden vectors", () => {
  it("passes every vector on x86_64 and i386 (client encode, server decode, server encode, client decode, errors)", () => {
    const result = runConformance({ vectors, defsRoot: GNUMACH_INCLUDE });
    expect(result.failures.slice(0, 10)).toEqual([]);
    for (const abi of ["x86_64", "i386"]) {
      const r = result.abis[abi];
      expect(r.total).toBe(1117);
      expect(r.passed).toBe(r.total);
    }
  });

  it("gives IR request/reply min and max sizes that bound every vector's message (equal when fixed)", () => {
    const index = JSON.parse(readFileSync(join(vectors, "index.json"), "utf8")) as Record<string, Record<string, { file: string }>>;
    const problems: string[] = [];
    let checked = 0;
    for (const [abi, files] of Object.entries(index)) {
      for (const entry of Object.values(files)) {
        const file = JSON.parse(readFileSync(join(vectors, entry.file), "utf8"));
        const defines = (file.cppflags as string[]).map((f) => f.slice(2));
        if (abi === "x86_64") defines.push("__x86_64__");
        const { ir } = compileFile(join(GNUMACH_INCLUDE, file.defs), { abi: abi as "x86_64" | "i386", includeDirs: [GNUMACH_INCLUDE], defines });
        expect(ir, `${abi} ${file.defs}`).toBeDefined();
        const byName = new Map(ir!.routines.map((r) => [r.name, r]));
        for (const v of file.routines) {
          const routine = byName.get(v.name)!;
          const pairs: Array<[string, { size: number } | null, { minSize: number; maxSize: number; fixed: boolean } | undefined]> = [
            ["request", v.request, routine.request],
            ["reply", v.kind === "routine" ? v.reply : v.demux_reply_unsent, routine.reply],
          ];
          for (const [which, message, layout] of pairs) {
            if (!message || !layout) continue;
            checked++;
            const ok = layout.fixed
              ? message.size === layout.minSize && message.size === layout.maxSize
              : message.size >= layout.minSize && message.size <= layout.maxSize;
            if (!ok) problems.push(`${abi} ${v.name}/${v.case} ${which}: ${message.size} not in [${layout.minSize}, ${layout.maxSize}]`);
          }
        }
      }
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(checked).toBeGreaterThan(3000);
  });
});
