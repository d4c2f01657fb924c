import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // In-repo self-references (`mig-ts/runtime` in generated code) load the sources, as the
    // package.json "mig-ts-source" export condition does for tsc; installed packages use dist/.
    alias: [
      { find: /^mig-ts$/, replacement: source("./compiler/api.ts") },
      { find: /^mig-ts\/runtime$/, replacement: source("./runtime/index.ts") },
      { find: /^mig-ts\/trace$/, replacement: source("./runtime/trace/index.ts") },
      { find: /^mig-ts\/(vite|rollup|esbuild|webpack)$/, replacement: source("./compiler/plugin/$1.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts", "compiler/**/*.test.ts", "runtime/**/*.test.ts", "examples/**/*.test.ts"],
    // Property, fuzz and end-to-end tests are CPU-bound; two workers fit the 2-core machines.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
