import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../../compiler/cli.js";

const root = new URL("../../../", import.meta.url).pathname;
const defs = join(root, "defs");
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "mig-ts-cli-"));
  dirs.push(d);
  return d;
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe("MIG's output switches", () => {
  it("writes <subsystem>.ts by default, like GNU MIG writes its stubs without being asked", async () => {
    const out = tempDir();
    const r = await run(["-I", defs, "--out-dir", out, join(defs, "default_pager.defs")]);
    expect(r.code).toBe(0);
    const text = readFileSync(join(out, "default_pager.ts"), "utf8");
    expect(text).toContain("default_pager_object_create");
    expect(text).toContain("export function default_pager_server(");
  });

  it("-n -list writes only GNU MIG's list format", async () => {
    const out = tempDir();
    const list = join(out, "list.txt");
    const r = await run(["-n", "-list", list, "-I", defs, "--out-dir", out, join(defs, "memory_object_default.defs")]);
    expect(r.code).toBe(0);
    expect(readFileSync(list, "utf8")).toBe(
      "memory_object_default 2250 memory_object_create 0 2250 0\n" +
        "memory_object_default 2250 memory_object_data_initialize 1 2251 0\n",
    );
    expect(existsSync(join(out, "memory_object_default.ts"))).toBe(false);
  });

  it("-user/-server/-header split the client, the server and the types", async () => {
    const out = tempDir();
    const r = await run([
      "-I",
      defs,
      "--out-dir",
      out,
      "-user",
      "notifyUser.ts",
      "-server",
      "notifyServer.ts",
      "-header",
      "notify.h.ts",
      join(defs, "notify.defs"),
    ]);
    expect(r.code).toBe(0);
    const user = readFileSync(join(out, "notifyUser.ts"), "utf8");
    const server = readFileSync(join(out, "notifyServer.ts"), "utf8");
    const header = readFileSync(join(out, "notify.h.ts"), "utf8");
    expect(user).toContain('from "./notify.h.js"');
    expect(server).toContain('from "./notify.h.js"');
    expect(server).toContain("export function notify_server(");
    expect(user).not.toContain("export function notify_server(");
    expect(header).not.toContain("export function notify_server(");
  });

  it("--seqnos and -prefix rename the server functions and the demux as MIG does", async () => {
    const out = tempDir();
    const r = await run(["--seqnos", "-prefix", "my_", "-I", defs, "--out-dir", out, join(defs, "notify.defs")]);
    expect(r.code).toBe(0);
    const text = readFileSync(join(out, "notify-seqnos.ts"), "utf8");
    expect(text).toContain("my_seqnos_notify_server");
    expect(text).toMatch(/my_seqnos_do_mach_notify_no_senders|my_seqnos_mach_notify_no_senders/);
    expect(text).toContain("seqno");
  });

  it("rejects --check together with an output switch as a usage error", async () => {
    const r = await run(["--check", "-user", "x.ts", join(defs, "notify.defs")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--check writes nothing");
  });
});

describe("--watch", () => {
  it("recompiles when an included file changes", async () => {
    const work = tempDir();
    cpSync(defs, join(work, "defs"), { recursive: true });
    const out = join(work, "out");
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(root, "scripts/mig.ts"), "--watch", "-I", join(work, "defs"), "--out-dir", out, join(work, "defs/notify.defs")],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    const compiled = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no compile #${n}; stderr: ${stderr}`)), 45_000);
        const check = () => {
          if ((stderr.match(/watching/g) ?? []).length >= n) {
            clearTimeout(timer);
            resolve();
          } else setTimeout(check, 20);
        };
        check();
      });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    try {
      await compiled(1);
      const before = readFileSync(join(out, "notify.ts"), "utf8");
      // Change a type in an included file: the generated comment for it must follow.
      const types = join(work, "defs/mach/std_types.defs");
      writeFileSync(types, `${readFileSync(types, "utf8")}\ntype mig_ts_watch_probe_t = int;\n`);
      await compiled(2);
      const after = readFileSync(join(out, "notify.ts"), "utf8");
      expect(after).not.toBe(before);
      expect(after).toContain("mig_ts_watch_probe_t");
    } finally {
      child.kill("SIGTERM");
    }
  });
});

describe("--format", () => {
  it("applies the user's prettier config found beside the output", async () => {
    const out = tempDir();
    writeFileSync(join(out, ".prettierrc.json"), JSON.stringify({ useTabs: true, singleQuote: true }));
    const r = await run(["--format", "-I", defs, "--out-dir", out, join(defs, "notify.defs")]);
    expect(r.code).toBe(0);
    const text = readFileSync(join(out, "notify.ts"), "utf8");
    expect(text).toMatch(/^\t/m);
    expect(text).toContain("from 'mig-ts/runtime'");
  });
});
