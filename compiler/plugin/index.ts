/**
 * The build plugin: `import { NameServerClient } from "./name_server.defs"` compiles the `.defs`
 * at build time into the generated stubs. One unplugin source, an entry per bundler
 * (`mig-ts/vite`, `mig-ts/rollup`, `mig-ts/esbuild`, `mig-ts/webpack`).
 *
 * - Every file the compile read (the `.defs`, its `#include`s) is a watch dependency, so editing
 *   any of them rebuilds the module (and hot-reloads under Vite's dev server).
 * - Diagnostics are build errors: `file:line:column: error MIGnnnn: message` with the code frame,
 *   also passed as the bundler's structured location where it has one.
 * - Warnings go through the bundler's warning channel.
 */
import { resolve } from "node:path";
import { createUnplugin, type UnpluginFactory } from "unplugin";
import type { Diagnostic } from "../diagnostics/index.js";
import { compileDefsModule, DEFAULT_FILTER, defsPath, formatDiagnostics, type MigPluginOptions, toJavaScript } from "./core.js";
import { writeDeclarations } from "./dts.js";

export type { MigPluginOptions } from "./core.js";

/**
 * What `this.error` / `this.warn` get: Rollup's shape, which unplugin maps for the others. The
 * message is the CLI's text, code frame included (webpack shows only the message), so no
 * separate `frame` (Rollup would print it twice).
 */
function problem(d: Diagnostic): { message: string; id?: string; loc?: { file: string; line: number; column: number } } {
  return {
    message: formatDiagnostics([d]),
    ...(d.location
      ? {
          id: d.location.file,
          // Rollup and esbuild count columns from 0.
          loc: { file: d.location.file, line: d.location.line, column: d.location.column - 1 },
        }
      : {}),
  };
}

export const unpluginFactory: UnpluginFactory<MigPluginOptions | undefined> = (rawOptions = {}) => {
  const options: MigPluginOptions = {
    ...rawOptions,
    includeDirs: (rawOptions.includeDirs ?? []).map((d) => resolve(d)),
  };
  const filter = options.filter ?? DEFAULT_FILTER;
  return {
    name: "mig-ts",
    enforce: "pre",
    loadInclude: (id) => filter.test(defsPath(id)),
    async load(id) {
      const file = defsPath(id);
      const compiled = compileDefsModule(file, options);
      for (const input of compiled.inputs) if (input !== file) this.addWatchFile(resolve(input));
      const errors = compiled.diagnostics.filter((d) => d.severity === "error");
      for (const d of compiled.diagnostics) if (d.severity !== "error") this.warn(problem(d));
      if (compiled.typescript === undefined) {
        // Rollup and Vite throw here; esbuild and webpack collect the errors and fail the build.
        for (const d of errors) this.error(problem(d));
        if (errors.length === 0) this.error(`mig-ts: ${file} produced no module`);
        return { code: "export {};\n", map: null };
      }
      if (options.dts) await writeDeclarations(file, options, compiled);
      return { code: await toJavaScript(compiled.typescript, file), map: null };
    },
    esbuild: {
      onLoadFilter: filter,
      loader: "js",
    },
  };
};

export const unplugin = /* #__PURE__ */ createUnplugin(unpluginFactory);
export default unplugin;
