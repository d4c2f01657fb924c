/** The IR golden cases: each `.defs` here compiled for each ABI to `<name>.<abi>.ir.json`. */
import { readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compileFile } from "../../../compiler/index.js";
import type { Abi } from "../../../compiler/preprocess/types.js";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../../..");

export interface GoldenIrCase {
  name: string;
  abi: Abi;
  source: string;
  golden: string;
}

export function goldenIrCases(): GoldenIrCase[] {
  return readdirSync(here)
    .filter((f) => f.endsWith(".defs"))
    .sort()
    .flatMap((f) =>
      (["x86_64", "i386"] as const).map((abi) => ({
        name: f.replace(/\.defs$/, ""),
        abi,
        source: join(here, f),
        golden: join(here, `${f.replace(/\.defs$/, "")}.${abi}.ir.json`),
      })),
    );
}

/** The IR as JSON, with paths relative to the repository so the files do not depend on the checkout. */
export function renderGoldenIr(c: GoldenIrCase): string {
  const result = compileFile(c.source, { abi: c.abi });
  const problems = result.diagnostics.map((d) => `${d.severity} ${d.code}: ${d.message}`);
  if (!result.ir) throw new Error(`${c.source} does not compile:\n${problems.join("\n")}`);
  const rel = (p: string) => relative(repo, p);
  return `${JSON.stringify(result.ir, (key, value) => (key === "file" && typeof value === "string" ? rel(value) : value), 2)}\n`;
}
