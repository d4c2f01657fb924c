/**
 * Declarations for editors: `foo.defs` -> `foo.defs.d.ts` beside it, so that
 * `import { NameServerClient } from "./foo.defs"` type-checks (TypeScript looks for
 * `foo.defs.d.ts` when resolving `./foo.defs` with `moduleResolution: "bundler"`).
 *
 * The generated code annotates every export (isolated-declarations style), so TypeScript's
 * single-file `transpileDeclaration` is enough: no program, no type-check. TypeScript is loaded
 * only here, from the user's node_modules.
 */
import { writeFileSync } from "node:fs";
import { compileDefsModule, type DefsModule, type MigPluginOptions } from "./core.js";

type TypeScriptModule = typeof import("typescript");

let typescript: Promise<TypeScriptModule> | undefined;
function loadTypeScript(): Promise<TypeScriptModule> {
  typescript ??= import("typescript").then(
    (m) => ((m as { default?: TypeScriptModule }).default ?? m) as TypeScriptModule,
    () => {
      throw new Error("declarations need the typescript package (>= 5.5): npm install --save-dev typescript");
    },
  );
  return typescript;
}

/** The declaration file of generated TypeScript. */
export async function declarationsOf(generated: string, file: string): Promise<string> {
  const ts = await loadTypeScript();
  const out = ts.transpileDeclaration(generated, {
    fileName: `${file}.ts`,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, strict: true },
    reportDiagnostics: false,
  });
  return out.outputText;
}

export interface TypesResult extends DefsModule {
  /** The `.d.ts` written, when the compile succeeded. */
  written?: string;
}

/** Compiles `file` and writes `file.d.ts` beside it (nothing when the `.defs` has errors). */
export async function writeDeclarations(file: string, options: MigPluginOptions = {}, compiled?: DefsModule): Promise<TypesResult> {
  const result = compiled ?? compileDefsModule(file, options);
  if (result.typescript === undefined) return result;
  const target = `${file}.d.ts`;
  writeFileSync(target, await declarationsOf(result.typescript, file));
  return { ...result, written: target };
}
