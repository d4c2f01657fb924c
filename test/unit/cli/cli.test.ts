/** The command line: options, exit codes, diagnostics format and IR output. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseArguments } from "../../../compiler/cli.js";
import { VERSION } from "../../../compiler/version.js";
import { runCli } from "./run-main.js";

const dir = mkdtempSync(join(tmpdir(), "mig-ts-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const good = write(
  "good.defs",
  `#include "types.defs"
subsystem good 100;
routine ping(p : port_t; out n : int);
`,
);
write("types.defs", "type port_t = MACH_MSG_TYPE_COPY_SEND;\n");
const other = write(
  "other.defs",
  "#ifdef WITH_PORT\ntype port_t = MACH_MSG_TYPE_COPY_SEND;\n#endif\nsubsystem other 200;\nsimpleroutine poke(p : port_t);\n",
);
const bad = write("bad.defs", "subsystem bad 100;\nroutine r(out x : int);\n");

describe("mig-ts command line", () => {
  it("prints the version and help", async () => {
    expect((await runCli(["--version"])).stdout).toBe(`mig-ts ${VERSION}\n`);
    const help = await runCli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--emit TARGET/);
  });
  it("exits 2 on usage errors", async () => {
    for (const argv of [
      [],
      ["--bogus", good],
      ["--abi", "arm", good],
      ["--emit", "c", good],
      ["-I"],
      ["--emit", "ir", good, other],
    ]) {
      const run = await runCli(argv);
      expect(run.code, argv.join(" ")).toBe(2);
      expect(run.stderr).toMatch(/^mig-ts: /);
    }
  });
  it("parses -I/-D/-U in both spellings", () => {
    const o = parseArguments([
      "-I",
      "a",
      "-Ib",
      "-D",
      "X=1",
      "-DY",
      "-U",
      "Z",
      "-UW",
      "-imacros",
      "m.h",
      "--abi=i386",
      "f.defs",
    ]);
    expect(o.compile).toMatchObject({
      includeDirs: ["a", "b"],
      defines: ["X=1", "Y"],
      undefines: ["Z", "W"],
      imacros: ["m.h"],
      abi: "i386",
    });
    expect(o.files).toEqual(["f.defs"]);
  });
  it("checks a good file quietly and exits 0", async () => {
    const run = await runCli(["--check", good]);
    expect(run).toEqual({ code: 0, stdout: "", stderr: "" });
  });
  it("prints file:line:col, severity, code and a code frame; exits 1", async () => {
    const run = await runCli(["--check", bad]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `${bad}:2:9: error MIG3019: r doesn't have a server port argument`,
    );
    expect(run.stderr).toContain("  2 | routine r(out x : int);\n    |         ^");
  });
  it("reports a missing input file", async () => {
    const run = await runCli(["--check", join(dir, "missing.defs")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/error MIG\d{4}/);
  });
  it("passes -D to the preprocessor", async () => {
    expect((await runCli(["--check", other])).code).toBe(1);
    expect((await runCli(["--check", "-DWITH_PORT", other])).code).toBe(0);
  });
  it("emits the IR of one file to stdout", async () => {
    const run = await runCli(["--emit", "ir", "--abi", "i386", good]);
    expect(run.code).toBe(0);
    const ir = JSON.parse(run.stdout);
    expect(ir).toMatchObject({
      abi: "i386",
      subsystem: { name: "good", base: 100 },
      serverDemux: "good_server",
    });
    expect(ir.routines[0]).toMatchObject({ name: "ping", number: 0, requestId: 100, replyId: 200 });
  });
  it("writes <subsystem>.ir.json for several files with --out-dir", async () => {
    const out = join(dir, "out");
    const run = await runCli(["--emit", "ir", "--out-dir", out, "-DWITH_PORT", good, other]);
    expect(run.code, run.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["good.ir.json", "other.ir.json"]);
    expect(
      JSON.parse(readFileSync(join(out, "other.ir.json"), "utf8")).routines[0].replyId,
    ).toBeNull();
  });
});
