/**
 * The interfaces we ship must use GNU Mach's message ids: GNU MIG's `-list` output for each of
 * our `.defs` equals its output for GNU Mach's own file (for mach_pager_calls.defs, the lines
 * of mach.defs for the routines we declare), with and without SEQNOS.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { describeWithTools, GNUMACH_INCLUDE } from "../../support/tools.js";

const DEFS = fileURLToPath(new URL("../../../defs", import.meta.url));

function migList(includeDir: string, file: string, seqnos: boolean): string[] {
  const dir = mkdtempSync(join(tmpdir(), "mig-ts-list-"));
  try {
    const list = join(dir, "list");
    const args = ["-n", "-D__x86_64__", `-I${includeDir}`, "-list", list];
    if (seqnos) args.push("-DSEQNOS");
    args.push(file);
    execFileSync("x86_64-gnu-mig", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    return readFileSync(list, "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SHIPPED: Array<{ ours: string; gnumach: string; filter?: (line: string) => boolean }> = [
  { ours: "default_pager.defs", gnumach: "mach/default_pager.defs" },
  { ours: "memory_object.defs", gnumach: "mach/memory_object.defs" },
  { ours: "memory_object_default.defs", gnumach: "mach/memory_object_default.defs" },
  { ours: "notify.defs", gnumach: "mach/notify.defs" },
  {
    ours: "mach_pager_calls.defs",
    gnumach: "mach/mach.defs",
    filter: (line) => /^mach 2000 (memory_object_|vm_set_default_memory_manager )/.test(line),
  },
];

describeWithTools(["gnuMig", "gnumachDefs"], "defs/ message ids equal GNU Mach's", () => {
  for (const { ours, gnumach, filter } of SHIPPED) {
    for (const seqnos of [false, true]) {
      it(`${ours}${seqnos ? " (SEQNOS)" : ""}`, () => {
        const mine = migList(DEFS, `${DEFS}/${ours}`, seqnos);
        let theirs = migList(GNUMACH_INCLUDE, `${GNUMACH_INCLUDE}/${gnumach}`, seqnos);
        if (filter) theirs = theirs.filter(filter);
        expect(mine.length).toBeGreaterThan(0);
        expect(mine).toEqual(theirs);
      });
    }
  }

  it("mach_pager_calls.defs declares exactly the pager's kernel calls at GNU Mach's ids", () => {
    const ids = migList(DEFS, `${DEFS}/mach_pager_calls.defs`, false).map((line) => {
      const [, , name, , id] = line.split(" ");
      return `${name} ${id}`;
    });
    expect(ids).toEqual([
      "memory_object_data_unavailable 2039",
      "memory_object_get_attributes 2040",
      "vm_set_default_memory_manager 2041",
      "memory_object_lock_request 2044",
      "memory_object_data_error 2090",
      "memory_object_destroy 2092",
      "memory_object_data_supply 2093",
      "memory_object_ready 2094",
      "memory_object_change_attributes 2095",
    ]);
  });
});
