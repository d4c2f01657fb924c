/**
 * The `mig-ts` command line. `main` returns the exit code: 0 success, 1 errors in the input,
 * 2 usage errors.
 *
 * Output targets live in `EMIT_TARGETS`: each takes a compiled file's IR and writes what it makes,
 * so code emission (TypeScript stubs) is one more entry there, not a change to the driver.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { cachingSourceReader, type Diagnostic, diagnostic, formatDiagnostic, hasErrors } from "./diagnostics/index.js";
import { type CompileOptions, compileFile, type CompileResult } from "./index.js";
import type { InterfaceIR } from "./layout/ir.js";
import type { Abi } from "./preprocess/types.js";
import { VERSION } from "./version.js";
import { tsEmitTarget } from "./emit/cli-emit.js";

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIO: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export interface CliOptions {
  files: string[];
  compile: CompileOptions & {
    includeDirs: string[];
    defines: string[];
    undefines: string[];
    imacros: string[];
    abi: Abi;
  };
  check: boolean;
  emit: string[];
  outDir?: string;
  /** `-n`: no default output files (explicit -user/-server/-header/-list still apply). */
  noDefaultOutputs: boolean;
  /** `-user FILE`, `-server FILE`, `-header FILE`: split TypeScript outputs (client, server, types). */
  userFile?: string;
  serverFile?: string;
  headerFile?: string;
  /** `-prefix P`: prepended to client and server function names and the demux. */
  prefix?: string;
  /** `-list FILE`: GNU MIG's routine list (`subsys base name index request_id reply_id`). */
  listFile?: string;
  /** `--seqnos`: seqnos server variants for any .defs. */
  seqnos: boolean;
  /** `--format`: run the user's prettier config over generated TypeScript. */
  format: boolean;
  /** `--watch`: recompile when an input or any included file changes. */
  watch: boolean;
  /** `--runtime-import MODULE`: where generated code imports the runtime from. */
  runtimeImport?: string;
}

/** What an emit target gets for one successfully compiled file. */
export interface EmitContext {
  file: string;
  ir: InterfaceIR;
  result: CompileResult;
  options: CliOptions;
  /** Several input files were given (targets that print to stdout need --out-dir then). */
  multiple: boolean;
  io: CliIO;
  /** Writes `name` (relative to --out-dir, or the working directory); reports MIG0002 on failure. */
  writeOutput(name: string, text: string): boolean;
}

export interface EmitTarget {
  description: string;
  /** Checked once before compiling anything; returns a usage error message, if any. */
  validate?(options: CliOptions): string | undefined;
  emit(context: EmitContext): void | Promise<void>;
}

/** The base name of a file's outputs: the subsystem name, or the file name for a types-only file. */
export function outputStem(file: string, ir: InterfaceIR): string {
  return ir.subsystem.name || basename(file).replace(/\.defs$/, "");
}

export const EMIT_TARGETS: Record<string, EmitTarget> = {
  ir: {
    description: "the JSON IR (stdout for one file; <subsystem>.ir.json in --out-dir)",
    validate: (options) =>
      options.files.length > 1 && options.outDir === undefined
        ? "--emit ir with several files needs --out-dir DIR"
        : undefined,
    emit: (ctx) => {
      const text = `${JSON.stringify(ctx.ir, null, 2)}\n`;
      if (ctx.options.outDir === undefined) ctx.io.stdout(text);
      else ctx.writeOutput(`${outputStem(ctx.file, ctx.ir)}.ir.json`, text);
    },
  },
  ts: tsEmitTarget,
};

function usage(): string {
  const targets = Object.entries(EMIT_TARGETS)
    .map(([name, t]) => `                      ${name}: ${t.description}`)
    .join("\n");
  return `usage: mig-ts [options] FILE.defs...
       mig-ts types [options] FILE.defs...       write FILE.defs.d.ts (see mig-ts types --help)
       mig-ts trace [options] [--] PROGRAM...    run PROGRAM with message tracing (mig-ts trace --help)

Compiles Mach Interface Generator definitions for GNU Mach's typed messages.

options:
  -I DIR, -IDIR       add DIR to the #include search path
  -D NAME[=VALUE]     define a preprocessor macro (also -DNAME[=VALUE])
  -U NAME             undefine a preprocessor macro (also -UNAME)
  -imacros FILE       take the macro definitions of FILE, discard its output
  --abi ABI           x86_64 (default) or i386
  --check             report diagnostics only; write nothing
  --emit TARGET       produce TARGET (may be repeated; default: ts); targets:
${targets}
  --out-dir DIR       write outputs into DIR (default: the working directory)
  --seqnos            also give every routine's server function a seqno (seqnos_ prefix,
                      seqnos_<subsystem>_server demux), for any .defs
  --format            format generated TypeScript with your prettier config
  --runtime-import M  module generated code imports the runtime from (default: mig-ts/runtime)
  --watch             recompile when an input or any file it includes changes
MIG's switches:
  -user FILE          write the client stubs to FILE (with -server/-header: split output)
  -server FILE        write the server stubs to FILE
  -header FILE        write the types to FILE (default <subsystem>-types.ts when splitting)
  -prefix P           prepend P to client and server function names and the demux
  -list FILE          write GNU MIG's routine list: subsys base name index request_id reply_id
  -n                  write no default output files
  --version           print the version
  --help              print this help
`;
}

class UsageError extends Error {}

export function parseArguments(argv: readonly string[]): CliOptions {
  const options: CliOptions = {
    files: [],
    compile: { includeDirs: [], defines: [], undefines: [], imacros: [], abi: "x86_64" },
    check: false,
    emit: [],
    noDefaultOutputs: false,
    seqnos: false,
    format: false,
    watch: false,
  };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const long = /^(--[a-z-]+)=(.*)$/s.exec(arg);
    const [flag, inline] = long ? [long[1]!, long[2]!] : [arg, undefined];
    const take = () => {
      if (inline !== undefined) return inline;
      const v = value(i, flag);
      i += 1;
      return v;
    };
    if (flag === "-I" || flag === "-D" || flag === "-U" || flag === "-imacros") {
      const v = take();
      if (flag === "-I") options.compile.includeDirs.push(v);
      else if (flag === "-D") options.compile.defines.push(v);
      else if (flag === "-U") options.compile.undefines.push(v);
      else options.compile.imacros.push(v);
    } else if (/^-[IDU]./s.test(arg)) {
      const v = arg.slice(2);
      if (arg[1] === "I") options.compile.includeDirs.push(v);
      else if (arg[1] === "D") options.compile.defines.push(v);
      else options.compile.undefines.push(v);
    } else if (flag === "--abi") {
      const abi = take();
      if (abi !== "x86_64" && abi !== "i386")
        throw new UsageError(`unknown ABI '${abi}' (expected x86_64 or i386)`);
      options.compile.abi = abi;
    } else if (flag === "--check") {
      options.check = true;
    } else if (flag === "--emit") {
      const target = take();
      if (!EMIT_TARGETS[target])
        throw new UsageError(
          `unknown --emit target '${target}' (expected ${Object.keys(EMIT_TARGETS).join(", ")})`,
        );
      if (!options.emit.includes(target)) options.emit.push(target);
    } else if (flag === "--out-dir") {
      options.outDir = take();
    } else if (flag === "-user") {
      options.userFile = take();
    } else if (flag === "-server") {
      options.serverFile = take();
    } else if (flag === "-header") {
      options.headerFile = take();
    } else if (flag === "-prefix") {
      options.prefix = take();
    } else if (flag === "-list") {
      options.listFile = take();
    } else if (flag === "--runtime-import") {
      options.runtimeImport = take();
    } else if (flag === "-n") {
      options.noDefaultOutputs = true;
    } else if (flag === "--seqnos") {
      options.seqnos = true;
    } else if (flag === "--format") {
      options.format = true;
    } else if (flag === "--watch") {
      options.watch = true;
    } else if (arg === "-" || !arg.startsWith("-")) {
      options.files.push(arg);
    } else {
      throw new UsageError(`unknown option '${arg}'`);
    }
  }
  if (options.files.length === 0) throw new UsageError("no input files");
  const writes =
    options.emit.length > 0 ||
    options.userFile !== undefined ||
    options.serverFile !== undefined ||
    options.headerFile !== undefined ||
    options.listFile !== undefined;
  if (options.check && writes)
    throw new UsageError("--check writes nothing; it cannot be combined with --emit, -user, -server, -header or -list");
  // Like GNU MIG, a plain `mig-ts foo.defs` writes the stubs; `-n` turns the default outputs off.
  const splitOutputs = options.userFile !== undefined || options.serverFile !== undefined || options.headerFile !== undefined;
  if (!options.check && options.emit.length === 0 && (splitOutputs || !options.noDefaultOutputs)) {
    options.emit.push("ts");
  }
  for (const name of options.emit) {
    const problem = EMIT_TARGETS[name]!.validate?.(options);
    if (problem) throw new UsageError(problem);
  }
  return options;
}

export async function main(argv: readonly string[], io: CliIO = processIO): Promise<number> {
  if (argv.includes("--version")) {
    io.stdout(`mig-ts ${VERSION}\n`);
    return 0;
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    io.stdout(usage());
    return 0;
  }
  let options: CliOptions;
  try {
    options = parseArguments(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`mig-ts: ${error.message}\nTry 'mig-ts --help' for more information.\n`);
    return 2;
  }

  const readSource = cachingSourceReader();
  const print = (diagnostics: readonly Diagnostic[]) => {
    for (const d of diagnostics) io.stderr(`${formatDiagnostic(d, { readSource })}\n`);
  };

  const run = () => compileAll(options, io, print);
  if (!options.watch) return run();
  return watch(options, io, run);
}

/** Compiles every input once; returns the exit code and the files each compile read. */
async function compileAll(
  options: CliOptions,
  io: CliIO,
  print: (diagnostics: readonly Diagnostic[]) => void,
): Promise<number> {
  watchedFiles.clear();
  let failed = false;
  const listLines: string[] = [];
  if (options.outDir !== undefined && options.emit.length > 0) {
    try {
      mkdirSync(options.outDir, { recursive: true });
    } catch (error) {
      print([
        diagnostic(
          "MIG0002",
          `cannot create output directory ${options.outDir}: ${(error as Error).message}`,
        ),
      ]);
      return 1;
    }
  }
  for (const file of options.files) {
    const result = compileFile(file, options.compile);
    watchedFiles.add(resolve(file));
    for (const f of result.files) watchedFiles.add(resolve(f));
    print(result.diagnostics);
    if (hasErrors(result.diagnostics) || !result.ir) {
      failed = true;
      continue;
    }
    const ir = result.ir;
    listLines.push(...migListLines(ir));
    for (const name of options.emit) {
      await EMIT_TARGETS[name]!.emit({
        file,
        ir,
        result,
        options,
        multiple: options.files.length > 1,
        io,
        writeOutput: (outName, text) => {
          const path = resolve(options.outDir ?? ".", outName);
          try {
            mkdirSync(dirname(path), { recursive: true });
            writeFileSync(path, text);
            return true;
          } catch (error) {
            print([diagnostic("MIG0002", `cannot write ${path}: ${(error as Error).message}`)]);
            failed = true;
            return false;
          }
        },
      });
    }
  }
  if (options.listFile !== undefined && !failed) {
    try {
      writeFileSync(options.listFile, listLines.join(""));
    } catch (error) {
      print([diagnostic("MIG0002", `cannot write ${options.listFile}: ${(error as Error).message}`)]);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

/** GNU MIG's `-list` lines: `subsys base name index request_id reply_id` (reply 0 for a simpleroutine). */
export function migListLines(ir: InterfaceIR): string[] {
  const { name, base } = ir.subsystem;
  return ir.routines.map((r) => `${name} ${base} ${r.name} ${r.number} ${r.requestId} ${r.replyId ?? 0}\n`);
}

/** Every file the last compile read: the inputs and everything they included. */
const watchedFiles = new Set<string>();

/**
 * `--watch`: compiles, then recompiles whenever an input or an included file changes (the set is
 * refreshed after each compile, so a newly included file is watched too). Runs until interrupted.
 */
async function watch(options: CliOptions, io: CliIO, run: () => Promise<number>): Promise<number> {
  const { watch: watchFile } = await import("node:fs");
  const watchers = new Map<string, { close(): void }>();
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();
  const compile = () => {
    running = running.then(async () => {
      const code = await run();
      for (const [file, w] of watchers) {
        if (!watchedFiles.has(file)) {
          w.close();
          watchers.delete(file);
        }
      }
      for (const file of watchedFiles) {
        if (watchers.has(file)) continue;
        try {
          watchers.set(
            file,
            watchFile(file, () => {
              clearTimeout(timer);
              timer = setTimeout(compile, 30);
            }),
          );
        } catch {
          // A file that vanished is picked up again when a later compile reads it.
        }
      }
      // Said only once the watchers are in place, so a change made after this line is seen.
      io.stderr(`mig-ts: ${code === 0 ? "compiled" : "errors"}; watching ${watchedFiles.size} files\n`);
    });
  };
  compile();
  await new Promise<void>((resolveStop) => {
    process.once("SIGINT", () => resolveStop());
    process.once("SIGTERM", () => resolveStop());
  });
  for (const w of watchers.values()) w.close();
  return 0;
}
