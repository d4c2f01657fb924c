/**
 * External tools some tests compare against (Debian's GNU MIG, gnumach-dev's .defs, gcc).
 * On a user's machine a missing tool skips those tests with a clear reason; in CI
 * (MIG_TS_REQUIRE_TOOLS=1, set by .ci/run) a missing tool is a failure, so CI never skips.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, it } from "vitest";

export const GNUMACH_INCLUDE = "/usr/include/x86_64-linux-gnu";

function commandExists(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export const tools = {
  gnuMig: () => commandExists("x86_64-gnu-mig"),
  gcc: () => commandExists("gcc"),
  gnumachDefs: () => existsSync(`${GNUMACH_INCLUDE}/mach/default_pager.defs`),
} as const;

export type ToolName = keyof typeof tools;

const requireTools = process.env.MIG_TS_REQUIRE_TOOLS === "1";

/**
 * `describe` when every tool is present; otherwise a skipped suite whose name says what is
 * missing, or (in CI) a failing test.
 */
export function describeWithTools(needed: ToolName[], name: string, body: () => void): void {
  const missing = needed.filter((t) => !tools[t]());
  if (missing.length === 0) {
    describe(name, body);
  } else if (requireTools) {
    describe(name, () => {
      it(`requires ${missing.join(", ")}`, () => {
        throw new Error(
          `MIG_TS_REQUIRE_TOOLS=1 but ${missing.join(", ")} is missing: install mig-x86-64-gnu gnumach-dev gcc`,
        );
      });
    });
  } else {
    describe.skip(`${name} [skipped: ${missing.join(", ")} not installed]`, body);
  }
}
