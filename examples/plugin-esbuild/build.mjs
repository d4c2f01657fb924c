// Builds the example app with esbuild and the mig-ts plugin: src/main.ts imports
// src/greeter.defs, which the plugin compiles (with -I for the interfaces mig-ts ships in defs/).
//   node examples/plugin-esbuild/build.mjs && node examples/plugin-esbuild/out/main.js
import { build } from "esbuild";
import migTs from "mig-ts/esbuild";
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

export function buildExample(extra = {}) {
  return build({
    entryPoints: [here("./src/main.ts")],
    outdir: here("./out"),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    plugins: [migTs({ includeDirs: [here("../../defs")] })],
    ...extra,
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildExample();
