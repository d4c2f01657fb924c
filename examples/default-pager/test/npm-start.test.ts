/**
 * `npm start` (scripts/start.ts → demo.ts) as a user runs it: exits 0 and prints the tables, with
 * the pager in this process, in a worker thread and in another process.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

function runStart(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts", ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

describe("npm start", () => {
  for (const transport of ["in-process", "worker", "process"]) {
    it(`runs the demo with the pager ${transport === "in-process" ? "in process" : `in a ${transport === "worker" ? "worker thread" : "child process"}`}`, async () => {
      const { code, out } = await runStart(["--object-size", "512K", "--transport", transport]);
      expect(out).toContain(`pager: ${transport}`);
      expect(out).toContain("default_pager_info (before)");
      expect(out).toContain("default_pager_objects");
      expect(out).toMatch(/default_pager_object_pages \(object 1\): 128 pages/);
      expect(out).toContain("default_pager_info (object released)");
      expect(out).toMatch(/released: \d+ pages freed, 0 objects left/);
      expect(out).toMatch(/OK: every byte verified/);
      expect(code, out).toBe(0);
    });
  }

  it("rejects a bad option with a usage message and exit code 2", async () => {
    const { code, out } = await runStart(["--transport", "carrier-pigeon"]);
    expect(code).toBe(2);
    expect(out).toContain("usage: npm start");
  });
});
