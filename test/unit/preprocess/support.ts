/**
 * Helpers for the preprocessor tests: running gcc's preprocessor as the oracle, and splitting
 * any preprocessed text into tokens so two outputs can be compared regardless of whitespace.
 */
import { execFile, execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { preprocess, type PreprocessOptions } from "../../../compiler/preprocess/index.js";

/**
 * Splits preprocessed text into C tokens (whitespace dropped). Deliberately independent of the
 * preprocessor's own lexer, so it can judge that lexer's output.
 */
export function splitTokens(text: string): string[] {
  const pattern =
    /\s+|[A-Za-z_$][\w$]*|\.?\d(?:[eEpP][+-]|[\w.])*|"(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?|\.\.\.|<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||[*/%+\-&^|]=|##|\S/gy;
  const out: string[] = [];
  for (const m of text.matchAll(pattern)) {
    const t = m[0];
    if (!/^\s/.test(t)) out.push(t);
  }
  return out;
}

/** The target macros our preprocessor predefines, as gcc flags (gcc runs with -undef). */
export function targetFlags(abi: "x86_64" | "i386" = "x86_64"): string[] {
  const target = abi === "i386" ? ["-D__i386__=1"] : ["-D__x86_64__=1", "-D__LP64__=1"];
  return [...target, "-D__GNU__=1", "-D__gnu_hurd__=1", "-D__MACH__=1"];
}

/** gcc's flags for the same options we pass to `preprocess`. */
export function gccFlags(options: PreprocessOptions): string[] {
  const flags = targetFlags(options.abi);
  for (const op of options.commandLineMacros ?? []) {
    flags.push(op.kind === "define" ? `-D${op.name}=${op.value}` : `-U${op.name}`);
  }
  for (const [name, value] of options.defines ?? []) flags.push(`-D${name}=${value}`);
  for (const name of options.undefines ?? []) flags.push(`-U${name}`);
  for (const file of options.imacros ?? []) flags.push("-imacros", file);
  for (const dir of options.includeDirs ?? []) flags.push("-I", dir);
  return flags;
}

/**
 * `gcc -E -P -x c -nostdinc -undef` over `file`. Lines gcc passes through but our
 * preprocessor consumes (`#pragma`, `#ident`) are dropped: MIG's lexer rejects `#` lines.
 */
export function gccPreprocess(file: string, options: PreprocessOptions): string {
  const out = execFileSync(
    "gcc",
    ["-E", "-P", "-x", "c", "-nostdinc", "-undef", ...gccFlags(options), file],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  return dropPassThroughLines(out);
}

/** `gccPreprocess` without blocking, so several gcc runs can overlap. */
export function gccPreprocessAsync(file: string, options: PreprocessOptions): Promise<string> {
  const args = ["-E", "-P", "-x", "c", "-nostdinc", "-undef", ...gccFlags(options), file];
  return new Promise((resolve, reject) => {
    execFile("gcc", args, { encoding: "utf8", maxBuffer: 64 << 20 }, (error, stdout) => {
      if (error) reject(error);
      else resolve(dropPassThroughLines(stdout));
    });
  });
}

function dropPassThroughLines(out: string): string {
  return out
    .split("\n")
    .filter((line) => !/^\s*#\s*(pragma|ident)\b/.test(line))
    .join("\n");
}

/**
 * The GNU Mach `.defs` installed under `include`: `mach/`, `device/`, `mach_debug/` and
 * `mach/x86_64/` (`mach/machine` is a symlink to `x86_64`, so it is not listed twice).
 */
export function gnumachDefs(include: string): string[] {
  const dirs = ["mach", "device", "mach_debug", "mach/x86_64"];
  return dirs
    .flatMap((dir) => {
      try {
        return readdirSync(join(include, dir))
          .filter((name) => name.endsWith(".defs"))
          .map((name) => join(include, dir, name));
      } catch {
        return [];
      }
    })
    .sort();
}

/** Preprocesses `/src/main.defs` from in-memory files (paths are absolute, under /src or /inc). */
export function run(
  files: Record<string, string>,
  options: PreprocessOptions = {},
  main = "/src/main.defs",
): ReturnType<typeof preprocess> {
  return preprocess(main, { ...options, readFile: (path) => files[path] });
}

/** The output tokens' texts, for compact assertions. */
export function texts(result: ReturnType<typeof preprocess>): string {
  return result.tokens.map((t) => t.text).join(" ");
}

/** `CODE line:column` for each diagnostic. */
export function codes(result: ReturnType<typeof preprocess>): string[] {
  return result.diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`);
}
