/**
 * `.defs` file -> generated TypeScript files: the compile pipeline plus the emitters, as the CLI,
 * `npm run generate` and the tests use it.
 */
import { type CompileOptions, compileFile } from "../index.js";
import type { Diagnostic } from "../diagnostics/index.js";
import type { InterfaceIR } from "../layout/ir.js";
import { type EmitOptions, emitSubsystem } from "./subsystem.js";

export interface GeneratedFile {
  /** File name relative to the output directory. */
  name: string;
  text: string;
}

export interface GenerateResult {
  ir?: InterfaceIR;
  files: GeneratedFile[];
  diagnostics: Diagnostic[];
  /** Every file read (for --watch). */
  inputs: string[];
}

export interface GenerateOptions extends CompileOptions, EmitOptions {
  /** Split output: client, server and types in separate files with these names. */
  userFile?: string;
  serverFile?: string;
  headerFile?: string;
}

/** The default output file name of a subsystem (MIG names outputs after the subsystem). */
export function defaultFileName(ir: InterfaceIR, options: { seqnos?: boolean; defines?: CompileOptions["defines"] }): string {
  const seqnos = options.seqnos || (options.defines ?? []).some((d) => (typeof d === "string" ? d : d[0]).split("=")[0] === "SEQNOS");
  return `${ir.subsystem.name}${seqnos ? "-seqnos" : ""}.ts`;
}

export function generate(file: string, options: GenerateOptions = {}): GenerateResult {
  const compiled = compileFile(file, options);
  if (!compiled.ir) return { files: [], diagnostics: compiled.diagnostics, inputs: compiled.files };
  const ir = compiled.ir;
  const files: GeneratedFile[] = [];
  if (!ir.typesOnly) {
    if (options.userFile || options.serverFile || options.headerFile) {
      const header = options.headerFile ?? `${ir.subsystem.name}-types.ts`;
      const typesImport = `./${header.replace(/^.*\//, "").replace(/\.ts$/, ".js")}`;
      files.push({ name: header, text: emitSubsystem(ir, { ...options, parts: { types: true, client: false, server: false } }) });
      if (options.userFile) {
        files.push({
          name: options.userFile,
          text: emitSubsystem(ir, { ...options, typesImport, parts: { types: false, client: true, server: false } }),
        });
      }
      if (options.serverFile) {
        files.push({
          name: options.serverFile,
          text: emitSubsystem(ir, { ...options, typesImport, parts: { types: false, client: false, server: true } }),
        });
      }
    } else {
      files.push({ name: defaultFileName(ir, options), text: emitSubsystem(ir, options) });
    }
  }
  return { ir, files, diagnostics: compiled.diagnostics, inputs: compiled.files };
}
