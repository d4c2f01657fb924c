/**
 * The compiler API: preprocess -> parse -> analyze -> IR, with every problem returned as a
 * diagnostic. Used by the CLI, the build plugin and the tests.
 */
import { type Diagnostic, hasErrors, sortDiagnostics } from "./diagnostics/index.js";
import { buildIR } from "./layout/build-ir.js";
import type { InterfaceIR } from "./layout/ir.js";
import { preprocess } from "./preprocess/index.js";
import type { Abi } from "./preprocess/types.js";
import { analyze } from "./semantics/analyze.js";
import type { InterfaceModel } from "./semantics/model.js";
import { parse } from "./syntax/index.js";

export type { Diagnostic } from "./diagnostics/index.js";
export type { InterfaceIR } from "./layout/ir.js";
export type { InterfaceModel } from "./semantics/model.js";
export type { Abi } from "./preprocess/types.js";

export interface CompileOptions {
  /** `-I` directories, in search order. */
  includeDirs?: readonly string[];
  /** `-D NAME[=VALUE]`: `[name, value]` pairs, or `NAME[=VALUE]` strings (a bare NAME means 1). */
  defines?: ReadonlyArray<readonly [string, string] | string>;
  /** `-U NAME`. */
  undefines?: readonly string[];
  /** `-imacros FILE`. */
  imacros?: readonly string[];
  /** Target ABI (default x86_64). */
  abi?: Abi;
  /** Virtual file system: returns a file's text, or undefined when it does not exist. */
  readFile?: (path: string) => string | undefined;
}

export interface CompileResult {
  /** Present when the input has no errors. */
  ir?: InterfaceIR;
  /** The semantic model the IR was built from (present when the input has no errors). */
  model?: InterfaceModel;
  /** Every problem found, sorted by position. */
  diagnostics: Diagnostic[];
  /** Every file that was read (the input, its includes, -imacros files): the watch list. */
  files: string[];
}

function normaliseDefines(defines: CompileOptions["defines"]): Array<readonly [string, string]> {
  return (defines ?? []).map((d) => {
    if (typeof d !== "string") return d;
    const eq = d.indexOf("=");
    return eq < 0 ? ([d, "1"] as const) : ([d.slice(0, eq), d.slice(eq + 1)] as const);
  });
}

/** Compiles one `.defs` file to the IR. Never throws on bad input. */
export function compileFile(path: string, options: CompileOptions = {}): CompileResult {
  const abi = options.abi ?? "x86_64";
  const pre = preprocess(path, {
    includeDirs: options.includeDirs ?? [],
    defines: normaliseDefines(options.defines),
    undefines: options.undefines ?? [],
    imacros: options.imacros ?? [],
    abi,
    ...(options.readFile ? { readFile: options.readFile } : {}),
  });
  const diagnostics: Diagnostic[] = [...pre.diagnostics];
  const result = (extra: Partial<CompileResult> = {}): CompileResult => ({
    ...extra,
    diagnostics: sortDiagnostics(diagnostics),
    files: pre.files,
  });
  // A file that could not be read, or a failed #include/#error, leaves nothing worth parsing.
  if (hasErrors(diagnostics)) return result();

  const parsed = parse(pre.text, pre.locate, { file: path });
  diagnostics.push(...parsed.diagnostics);
  if (hasErrors(parsed.diagnostics)) return result();

  const analysed = analyze(parsed.file, { abi, file: path });
  diagnostics.push(...analysed.diagnostics);
  if (!analysed.model || hasErrors(diagnostics)) return result();

  return result({ ir: buildIR(analysed.model), model: analysed.model });
}

/** Checks one `.defs` file: the same pipeline as `compileFile`, for its diagnostics. */
export function check(
  path: string,
  options: CompileOptions = {},
): Pick<CompileResult, "diagnostics" | "files"> & { ok: boolean } {
  const { diagnostics, files } = compileFile(path, options);
  return { ok: !hasErrors(diagnostics), diagnostics, files };
}
