/**
 * The package as users get it: `npm pack` (which runs `prepare`: the build), installed from the
 * tarball into an empty folder, then `npx mig-ts --version`, a compile with the CLI, `mig-ts
 * types`, a generated-stub round trip through the `mig-ts`, `mig-ts/runtime` and `mig-ts/esbuild`
 * entries (./smoke.mjs), and `mig-ts trace` on it.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string; devDependencies: Record<string, string> };
const version = manifest.version;
const typescriptVersion = manifest.devDependencies.typescript;

let dir: string;
let app: string;

const run = (command: string, args: string[], cwd = app): string =>
  execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_update_notifier: "false" } });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "mig-ts-package-"));
  // Pack a copy of the package's inputs, so that `prepare` builds a dist/ of its own instead of
  // rewriting the checkout's while other tests may be running its CLI.
  const source = join(dir, "source");
  for (const path of ["package.json", "README.md", "tsconfig.json", "tsconfig.build.json", "bin", "scripts/build.mjs", "compiler", "runtime"]) {
    cpSync(join(root, path), join(source, path), { recursive: true });
  }
  symlinkSync(join(root, "node_modules"), join(source, "node_modules"), "dir");
  run("npm", ["pack", "--silent", "--pack-destination", dir], source);
  const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error("npm pack made no tarball");
  app = join(dir, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  // typescript: the optional peer `mig-ts types` loads (the version this repository uses).
  run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(dir, tarball), `typescript@${typescriptVersion}`]);
}, 240_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("installed from the tarball", () => {
  it("ships the built entries and declarations, not the sources", () => {
    const pkg = join(app, "node_modules", "mig-ts");
    for (const f of ["bin/mig-ts.js", "dist/cli.js", "dist/index.js", "dist/runtime.js", "dist/vite.js", "dist/types/runtime/index.d.ts", "dist/types/compiler/api.d.ts"]) {
      expect(existsSync(join(pkg, f)), f).toBe(true);
    }
    expect(existsSync(join(pkg, "compiler"))).toBe(false);
    expect(existsSync(join(pkg, "runtime"))).toBe(false);
  });

  it("npx mig-ts --version", () => {
    expect(run("npx", ["--no-install", "mig-ts", "--version"]).trim()).toBe(`mig-ts ${version}`);
  });

  it("compiles a .defs with the CLI, and writes its declarations with mig-ts types", () => {
    copyFileSync(join(root, "examples/name-server/name_server.defs"), join(app, "name_server.defs"));
    mkdirSync(join(app, "mach"), { recursive: true });
    for (const f of ["std_types.defs", "machine_types.defs"]) copyFileSync(join(root, "defs/mach", f), join(app, "mach", f));
    run("npx", ["--no-install", "mig-ts", "-I", ".", "--emit", "ts", "--out-dir", "gen", "name_server.defs"]);
    expect(readFileSync(join(app, "gen", "name_server.ts"), "utf8")).toContain("export class NameServerClient");
    run("npx", ["--no-install", "mig-ts", "types", "-I", ".", "name_server.defs"]);
    expect(readFileSync(join(app, "name_server.defs.d.ts"), "utf8")).toContain("export declare class NameServerClient");
  });

  it("makes a generated-stub round trip through the package entries", () => {
    copyFileSync(fileURLToPath(new URL("./smoke.mjs", import.meta.url)), join(app, "smoke.mjs"));
    const out = JSON.parse(run(process.execPath, ["smoke.mjs"]).trim().split("\n").pop()!) as Record<string, unknown>;
    expect(out).toEqual({ version, files: ["echo.ts"], badCode: "MIG2003", y: 42 });
  });

  it("mig-ts trace decodes the round trip's messages", () => {
    // echo.defs was written by the round trip above.
    run("npx", ["--no-install", "mig-ts", "trace", "--defs", "echo.defs", "-o", "trace.txt", "smoke.mjs"]);
    const trace = readFileSync(join(app, "trace.txt"), "utf8");
    expect(trace).toMatch(/^client +> echo_twice\(server=0x[0-9a-f]+ copy-send, x=21\) reply-to 0x[0-9a-f]+$/m);
    expect(trace).toMatch(/^server +< echo_twice\(server=0x[0-9a-f]+, x=21\) seqno 0$/m);
    expect(trace).toMatch(/^client +< echo_twice = KERN_SUCCESS \(y=42\) round trip \d+\.\d\d ms$/m);
  });
});
