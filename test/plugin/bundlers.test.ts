/**
 * The build plugin under real bundlers: Vite, Rollup, esbuild and webpack each bundle a fixture
 * app that imports a `.defs` file (whose types come from an #include); the bundle then makes an
 * RPC over the in-process runtime. A `.defs` with a syntax error fails each build with its
 * file:line:column, and the included file is a watch dependency.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build as esbuildBuild } from "esbuild";
import { rollup } from "rollup";
import { build as viteBuild } from "vite";
import webpack from "webpack";
import migEsbuild from "../../compiler/plugin/esbuild.js";
import migRollup from "../../compiler/plugin/rollup.js";
import migVite from "../../compiler/plugin/vite.js";
import migWebpack from "../../compiler/plugin/webpack.js";
import { makeProject, type Project } from "./support.js";

interface RoundTrip {
  sum: number;
  notes: string[];
  subsystem: string;
  ids: number[];
}

const EXPECTED: RoundTrip = { sum: 5, notes: ["hello"], subsystem: "calc", ids: [7000, 7001] };
/** Where the syntax error in fixture/broken.defs is. */
const BROKEN_AT = /broken\.defs:5:50: error MIG2003/;

let project: Project;
beforeAll(async () => {
  project = await makeProject();
});
afterAll(() => project?.cleanup());

async function runEsm(file: string): Promise<RoundTrip> {
  const mod = (await import(`${pathToFileURL(file).href}?t=${Date.now()}`)) as { roundTrip(a: number, b: number): Promise<RoundTrip> };
  return mod.roundTrip(2, 3);
}

// ----- esbuild

async function esbuildApp(entry: string, outfile: string) {
  return esbuildBuild({
    absWorkingDir: project.dir,
    entryPoints: [project.file(entry)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    logLevel: "silent",
    metafile: true,
    plugins: [migEsbuild()],
  });
}

describe("esbuild", () => {
  it("bundles an app importing a .defs and the bundle makes an RPC", async () => {
    const out = project.file("out-esbuild/bundle.mjs");
    const result = await esbuildApp("app.js", out);
    expect(result.errors).toEqual([]);
    expect(Object.keys(result.metafile!.inputs).some((i) => i.endsWith("calc.defs"))).toBe(true);
    expect(await runEsm(out)).toEqual(EXPECTED);
  });

  it("writes calc.defs.d.ts beside the .defs with dts: true", async () => {
    const result = await esbuildBuild({
      absWorkingDir: project.dir,
      entryPoints: [project.file("app.js")],
      outfile: project.file("out-esbuild-dts/bundle.mjs"),
      bundle: true,
      platform: "node",
      format: "esm",
      logLevel: "silent",
      plugins: [migEsbuild({ dts: true })],
    });
    expect(result.errors).toEqual([]);
    const dts = readFileSync(project.file("calc.defs.d.ts"), "utf8");
    expect(dts).toContain("export declare class CalcClient");
    expect(dts).toContain("calc_add(a: int, b: int, options?: CallOptions): Promise<int>;");
  });

  it("fails the build on a syntax error with file:line:column", async () => {
    const error = await esbuildApp("broken.js", project.file("out-esbuild/broken.mjs")).then(
      () => undefined,
      (e: { errors: Array<{ text: string; location: { file: string; line: number; column: number } | null }> }) => e,
    );
    expect(error).toBeDefined();
    const first = error!.errors[0];
    expect(first.text).toMatch(BROKEN_AT);
    expect(first.text).toContain("MIG2003");
    expect(first.location).toMatchObject({ line: 5, column: 49 });
  });
});

// ----- Rollup

describe("Rollup", () => {
  it("bundles an app importing a .defs, watches its #include, and the bundle makes an RPC", async () => {
    const bundle = await rollup({
      input: project.file("app.js"),
      external: ["mig-ts/runtime"],
      plugins: [migRollup()],
      onwarn: () => {},
    });
    expect(bundle.watchFiles.some((f) => f.endsWith("calc_types.defs"))).toBe(true);
    const out = project.file("out-rollup/bundle.mjs");
    await bundle.write({ file: out, format: "es" });
    await bundle.close();
    expect(await runEsm(out)).toEqual(EXPECTED);
  });

  it("passes compiler warnings to onwarn and still builds", async () => {
    const warnings: Array<{ message: string; plugin?: string }> = [];
    const bundle = await rollup({ input: project.file("warn.js"), plugins: [migRollup()], onwarn: (w) => warnings.push(w) });
    await bundle.close();
    expect(warnings).toHaveLength(1);
    expect(warnings[0].plugin).toBe("mig-ts");
    expect(warnings[0].message).toMatch(/warn\.defs:5:47: warning MIG3010: small_t: IsNotLong is redundant/);
  });

  it("fails the build on a syntax error with file:line:column and the code frame", async () => {
    const error = await rollup({ input: project.file("broken.js"), plugins: [migRollup()], onwarn: () => {} }).then(
      () => undefined,
      (e: Error & { loc?: { line: number; column: number } }) => e,
    );
    expect(error?.message).toMatch(BROKEN_AT);
    expect(error?.message).toContain("routine broken_add(server : mach_port_t; a : int b : int);");
    expect(error?.loc).toMatchObject({ line: 5, column: 49 });
  });
});

// ----- Vite

describe("Vite", () => {
  const viteConfig = (entry: string, outDir: string) => ({
    root: project.dir,
    configFile: false as const,
    logLevel: "silent" as const,
    plugins: [migVite()],
    build: {
      ssr: project.file(entry),
      outDir,
      emptyOutDir: true,
      rollupOptions: { output: { format: "es" as const, entryFileNames: "bundle.mjs" } },
    },
  });

  it("bundles an app importing a .defs (SSR build) and the bundle makes an RPC", async () => {
    const outDir = project.file("out-vite");
    await viteBuild(viteConfig("app.js", outDir));
    expect(await runEsm(join(outDir, "bundle.mjs"))).toEqual(EXPECTED);
  });

  it("fails the build on a syntax error with file:line:column", async () => {
    const error = await viteBuild(viteConfig("broken.js", project.file("out-vite-broken"))).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(BROKEN_AT);
  });
});

// ----- webpack

function webpackRun(entry: string, outDir: string): Promise<webpack.Stats> {
  const compiler = webpack({
    mode: "development",
    devtool: false,
    context: project.dir,
    target: "node",
    entry: project.file(entry),
    output: { path: outDir, filename: "bundle.cjs", library: { type: "commonjs2" } },
    infrastructureLogging: { level: "none" },
    plugins: [migWebpack()],
  });
  return new Promise((resolve, reject) => {
    compiler.run((error, stats) => {
      compiler.close(() => {});
      if (error || !stats) reject(error ?? new Error("no stats"));
      else resolve(stats);
    });
  });
}

describe("webpack", () => {
  it("bundles an app importing a .defs, watches its #include, and the bundle makes an RPC", async () => {
    const outDir = project.file("out-webpack");
    const stats = await webpackRun("app.js", outDir);
    expect(stats.hasErrors(), stats.toString({ all: false, errors: true })).toBe(false);
    expect([...stats.compilation.fileDependencies].some((f) => f.endsWith("calc_types.defs"))).toBe(true);
    const mod = createRequire(import.meta.url)(join(outDir, "bundle.cjs")) as { roundTrip(a: number, b: number): Promise<RoundTrip> };
    expect(await mod.roundTrip(2, 3)).toEqual(EXPECTED);
  });

  it("fails the build on a syntax error with file:line:column", async () => {
    const stats = await webpackRun("broken.js", project.file("out-webpack-broken"));
    expect(stats.hasErrors()).toBe(true);
    expect(stats.toString({ all: false, errors: true })).toMatch(BROKEN_AT);
  });
});
