// Builds dist/ for the package (run by `prepare`, so `npm ci` and installs from git or a tarball
// get it):
//   dist/cli.js           the CLI as one bundled ES module: a cold `mig-ts` run loads one module
//                         instead of chevrotain's hundreds
//   dist/cli-script.js    the same CLI as a CommonJS function body (not a module: nothing imports
//                         it), which bin/mig-ts.js compiles with `vm.Script` so that V8's code
//                         cache can skip parsing and compiling it on later runs (Node 20 has no
//                         module compile cache). Dynamic imports become `require` calls there,
//                         since a script restored from a code cache cannot `import()`.
//   dist/<entry>.js       the library entries of package.json `exports`, bundled with code
//                         splitting, so the runtime they share is one module (one `Kernel` class)
//   dist/types/**.d.ts    declarations, from `tsc -p tsconfig.build.json`
// `node scripts/build.mjs --no-types` skips the declarations (tests that only need the JS).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { createRequire } from "node:module";
import { build } from "esbuild";

const withTypes = !process.argv.includes("--no-types");
const outdir = process.env.MIG_TS_BUILD_OUT ?? "dist";

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
  // Loaded on the paths that need them, from the user's node_modules: prettier by --format,
  // typescript by `mig-ts types`, esbuild by the build plugin; unplugin is a dependency.
  external: ["prettier", "typescript", "ts-morph", "esbuild", "unplugin", "vite", "rollup", "webpack"],
};

const [, , library] = await Promise.all([
  build({ ...common, entryPoints: { cli: "compiler/cli.ts" }, outdir }),
  build({
    ...common,
    entryPoints: { "cli-script": "compiler/cli.ts" },
    outdir,
    format: "cjs",
    supported: { "dynamic-import": false },
  }),
  build({
    ...common,
    entryPoints: {
      index: "compiler/api.ts",
      runtime: "runtime/index.ts",
      trace: "runtime/trace/index.ts",
      "trace-register": "runtime/trace/register.ts",
      "trace-command": "compiler/commands/trace.ts",
      "types-command": "compiler/commands/types.ts",
      vite: "compiler/plugin/vite.ts",
      rollup: "compiler/plugin/rollup.ts",
      esbuild: "compiler/plugin/esbuild.ts",
      webpack: "compiler/plugin/webpack.ts",
    },
    outdir,
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    metafile: true,
  }),
]);

// Chunks of earlier builds go once the new ones are written (never before: a program running
// from dist/ meanwhile keeps working).
const written = new Set(Object.keys(library.metafile.outputs).map((f) => resolve(f)));
const chunks = resolve(outdir, "chunks");
for (const name of existsSync(chunks) ? readdirSync(chunks) : []) {
  const file = join(chunks, name);
  if (!written.has(file) && !written.has(file.replace(/\.map$/, ""))) rmSync(file, { force: true });
}

if (withTypes) {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json", "--outDir", `${outdir}/types`], { stdio: "inherit" });
  // Type errors are `npm run typecheck`'s business; declarations are written regardless.
  if (r.status !== 0) console.warn("build: tsc reported type errors (declarations were still written)");
}
