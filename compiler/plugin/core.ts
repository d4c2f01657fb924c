/**
 * The bundler-independent half of the build plugin: a `.defs` file -> a JavaScript module (the
 * generated stubs with their types stripped), the files it depends on, and its diagnostics
 * formatted the way the CLI prints them. `./index.ts` adapts this to every bundler through
 * unplugin; `mig-ts types` (./types-command.ts) uses the same compile for `.d.ts` files.
 */
import type { Diagnostic } from "../diagnostics/index.js";
import { cachingSourceReader, formatDiagnostic, hasErrors } from "../diagnostics/index.js";
import { generate } from "../emit/generate.js";
import type { Abi } from "../preprocess/types.js";

export interface MigPluginOptions {
  /** `-I` directories searched by `#include` (relative ones are resolved against the cwd). */
  includeDirs?: string[];
  /** `-D NAME[=VALUE]` macros. */
  defines?: string[];
  /** `-U NAME`. */
  undefines?: string[];
  /** Target ABI (default x86_64). */
  abi?: Abi;
  /** Emit seqnos server variants (a `msgseqno` argument for every server function). */
  seqnos?: boolean;
  /** `-prefix` for client and server function names. */
  prefix?: string;
  /** The module the generated code imports the runtime from (default `mig-ts/runtime`). */
  runtimeImport?: string;
  /** Which imported files the plugin compiles (default: names ending in `.defs`). */
  filter?: RegExp;
  /** Also write `foo.defs.d.ts` beside every `.defs` the build imports, for editors. */
  dts?: boolean;
}

export interface DefsModule {
  /** The generated TypeScript (present when there are no errors). */
  typescript?: string;
  /** Every diagnostic, errors and warnings. */
  diagnostics: Diagnostic[];
  /** Every file the compile read (the `.defs` and its includes): watch them all. */
  inputs: string[];
}

export const DEFAULT_FILTER = /\.defs$/;

/** The file behind a bundler module id (query and hash suffixes removed). */
export function defsPath(id: string): string {
  return id.replace(/[?#].*$/s, "");
}

/** Compiles one `.defs` file into the single generated module. Never throws on bad input. */
export function compileDefsModule(file: string, options: MigPluginOptions = {}): DefsModule {
  const result = generate(file, {
    includeDirs: options.includeDirs ?? [],
    defines: options.defines ?? [],
    undefines: options.undefines ?? [],
    abi: options.abi ?? "x86_64",
    ...(options.seqnos ? { seqnos: true } : {}),
    ...(options.prefix ? { prefix: options.prefix } : {}),
    ...(options.runtimeImport ? { runtimeImport: options.runtimeImport } : {}),
  });
  const inputs = [...new Set([file, ...result.inputs])];
  if (hasErrors(result.diagnostics)) return { diagnostics: result.diagnostics, inputs };
  // A types-only file generates no module of its own; it still is a valid (empty) import.
  const typescript = result.files.map((f) => f.text).join("\n") || "export {};\n";
  return { typescript, diagnostics: result.diagnostics, inputs };
}

/** Diagnostics as the CLI prints them: `file:line:column: error MIGnnnn: message` and a code frame. */
export function formatDiagnostics(diagnostics: readonly Diagnostic[]): string {
  const readSource = cachingSourceReader();
  return diagnostics.map((d) => formatDiagnostic(d, { readSource })).join("\n");
}

/** Strips the TypeScript types from generated code (esbuild, loaded only when a `.defs` is built). */
export async function toJavaScript(typescript: string, file: string): Promise<string> {
  const { transform } = await import("esbuild");
  const out = await transform(typescript, { loader: "ts", format: "esm", target: "es2022", sourcefile: `${file}.ts` });
  return out.code;
}
