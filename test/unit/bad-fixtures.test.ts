/**
 * Bad-input fixtures: every `test/fixtures/bad/*.defs` goes through the whole pipeline (the CLI's
 * `--check`, in-process) and must produce exactly the diagnostics its first line announces,
 * `/* expect: MIG3004 5:9, MIG2001 7:1 *\/` (code and line:column, in any order), exit with 1,
 * and not crash.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runCli } from "./cli/run-main.js";

const dir = resolve(dirname(fileURLToPath(import.meta.url)), "../fixtures/bad");
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith(".defs"))
  .sort();

function expected(text: string, file: string): string[] {
  const m = /^\/\* expect: (.*?) \*\//.exec(text);
  if (!m) throw new Error(`${file}: the first line must be /* expect: CODE LINE:COL, ... */`);
  return m[1]!
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .sort();
}

/** `file:line:col: severity CODE: message` lines (or `mig-ts: severity CODE:` without a position). */
function reported(stderr: string): string[] {
  const out: string[] = [];
  for (const line of stderr.split("\n")) {
    const at = /^.*?:(\d+):(\d+): (?:error|warning|note) (MIG\d{4}):/.exec(line);
    if (at) {
      out.push(`${at[3]} ${at[1]}:${at[2]}`);
      continue;
    }
    const bare = /^mig-ts: (?:error|warning|note) (MIG\d{4}):/.exec(line);
    if (bare) out.push(bare[1]!);
  }
  return out.sort();
}

describe("bad-input fixtures", () => {
  it("has at least 40 fixtures", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(40);
  });
  it.each(fixtures)("%s", async (name) => {
    const file = join(dir, name);
    const want = expected(readFileSync(file, "utf8"), name);
    const run = await runCli(["--check", file]);
    expect(reported(run.stderr), run.stderr).toEqual(want);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
  });
});
