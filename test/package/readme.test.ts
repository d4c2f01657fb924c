/**
 * The README's generated parts are current: the diagnostics table (scripts/diagnostics-table.ts)
 * and the CLI reference's switches (every option `mig-ts --help` lists appears in the README).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { main } from "../../compiler/cli.js";
import { TRACE_USAGE } from "../../compiler/commands/trace.js";
import { TYPES_USAGE } from "../../compiler/commands/types.js";
import { withCurrentTable } from "../../scripts/diagnostics-table.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** The switches a usage text documents (`-I`, `--emit`, `-imacros`, ...). */
function switches(usage: string): string[] {
  return [...new Set([...usage.matchAll(/^\s{2}(-{1,2}[a-zA-Z][\w-]*)/gm)].map((m) => m[1]))];
}

describe("README", () => {
  it("has the current diagnostics table (npx tsx scripts/diagnostics-table.ts --write)", () => {
    expect(readme).toBe(withCurrentTable(readme));
  });

  it("documents every command-line switch", async () => {
    let help = "";
    await main(["--help"], { stdout: (t) => (help += t), stderr: () => {} });
    const documented = [...switches(help), ...switches(TYPES_USAGE), ...switches(TRACE_USAGE)];
    expect(documented.length).toBeGreaterThan(15);
    for (const flag of documented) expect(readme, flag).toContain(`\`${flag}`);
  });
});
