/**
 * GNU Mach's own interface files: all 25 `.defs` pass `mig-ts --check` (plain, with SEQNOS,
 * KERNEL_USER and KERNEL_SERVER), and the routine table in `--emit ir` equals what GNU MIG's
 * `-list` prints for the same file.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { InterfaceIR } from "../../../compiler/layout/ir.js";
import { describeWithTools, GNUMACH_INCLUDE, tools } from "../../support/tools.js";
import { runCli } from "./run-main.js";

/** Every .defs under mach/, device/ and mach_debug/, without the mach/machine symlink's duplicates. */
function corpus(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (path === join(GNUMACH_INCLUDE, "mach/machine")) continue;
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else if (name.endsWith(".defs")) out.push(path);
    }
  };
  for (const top of ["mach", "device", "mach_debug"]) walk(join(GNUMACH_INCLUDE, top));
  return out;
}

const files = tools.gnumachDefs() ? corpus() : [];
const SEQNOS_FILES = [
  "mach/memory_object.defs",
  "mach/memory_object_default.defs",
  "device/device_reply.defs",
];
const include = ["-I", GNUMACH_INCLUDE];

describeWithTools(["gnumachDefs"], "GNU Mach .defs corpus passes --check", () => {
  it("has the 25 files", () => {
    expect(files).toHaveLength(25);
  });
  for (const [label, extra] of [
    ["plain", []],
    ["-DKERNEL_USER", ["-DKERNEL_USER"]],
    ["-DKERNEL_SERVER", ["-DKERNEL_SERVER"]],
  ] as const) {
    it(`all files, ${label}`, async () => {
      for (const file of files) {
        const run = await runCli(["--check", ...include, ...extra, file]);
        expect(run.stderr, file).not.toMatch(/ error MIG/);
        expect(run.code, `${file}\n${run.stderr}`).toBe(0);
      }
    });
  }
  it.each(SEQNOS_FILES)("%s with -DSEQNOS", async (rel) => {
    const run = await runCli(["--check", ...include, "-DSEQNOS", join(GNUMACH_INCLUDE, rel)]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
  });
  it("checks all 25 in one run", async () => {
    const run = await runCli(["--check", ...include, ...files]);
    expect(run.code, run.stderr).toBe(0);
  });
});

/** `subsys base name index request_id reply_id` lines, as GNU MIG's -list writes them. */
function listOf(ir: InterfaceIR): string[] {
  return ir.routines.map(
    (r) =>
      `${ir.subsystem.name} ${ir.subsystem.base} ${r.name} ${r.number} ${r.requestId} ${r.replyId ?? 0}`,
  );
}

function gnuMigList(file: string, defines: string[]): string[] {
  // Node's stdout pipes are sockets, which GNU MIG cannot fopen as /dev/stdout: use a file.
  const dir = mkdtempSync(join(tmpdir(), "mig-list-"));
  const list = join(dir, "list");
  try {
    execFileSync(
      "x86_64-gnu-mig",
      ["-n", "-list", list, "-D__x86_64__", ...defines, `-I${GNUMACH_INCLUDE}`, file],
      {
        stdio: "ignore",
        cwd: dir,
      },
    );
  } catch {
    // Types-only files make GNU MIG fail ("Basic types not initialized"): they list no routines.
  }
  const text = existsSync(list) ? readFileSync(list, "utf8") : "";
  rmSync(dir, { recursive: true, force: true });
  return text.split("\n").filter((l) => /^\S+ \d+ \S+ \d+ \d+ \d+$/.test(l));
}

describeWithTools(["gnuMig", "gnumachDefs"], "routine table equals GNU MIG -list", () => {
  describe.each([
    ["plain", [] as string[]],
    ["-DSEQNOS", ["-DSEQNOS"]],
  ])("%s", (_label, defines) => {
    it.each(files.map((f) => [f.slice(GNUMACH_INCLUDE.length + 1), f]))(
      "%s",
      async (_rel, file) => {
        const run = await runCli(["--emit", "ir", ...include, ...defines, file]);
        expect(run.code, run.stderr).toBe(0);
        const ir = JSON.parse(run.stdout) as InterfaceIR;
        expect(listOf(ir)).toEqual(gnuMigList(file, defines));
      },
    );
  });
});
