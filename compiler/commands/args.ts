/** The compile switches the subcommands share with the main CLI (-I, -D, -U, --abi). */
import type { Abi } from "../preprocess/types.js";

export class UsageError extends Error {}

export interface CompileSwitches {
  includeDirs: string[];
  defines: string[];
  undefines: string[];
  abi: Abi;
}

/**
 * Consumes the compile switch at `argv[i]` into `into`; returns how many arguments it used
 * (0 when `argv[i]` is not one of them).
 */
export function takeCompileSwitch(argv: readonly string[], i: number, into: CompileSwitches): number {
  const arg = argv[i];
  const next = (): string => {
    const v = argv[i + 1];
    if (v === undefined) throw new UsageError(`${arg} needs a value`);
    return v;
  };
  if (arg === "-I" || arg === "-D" || arg === "-U") {
    const v = next();
    (arg === "-I" ? into.includeDirs : arg === "-D" ? into.defines : into.undefines).push(v);
    return 2;
  }
  if (/^-[IDU]./s.test(arg)) {
    (arg[1] === "I" ? into.includeDirs : arg[1] === "D" ? into.defines : into.undefines).push(arg.slice(2));
    return 1;
  }
  if (arg === "--abi" || arg.startsWith("--abi=")) {
    const v = arg === "--abi" ? next() : arg.slice(6);
    if (v !== "x86_64" && v !== "i386") throw new UsageError(`unknown ABI '${v}' (expected x86_64 or i386)`);
    into.abi = v;
    return arg === "--abi" ? 2 : 1;
  }
  return 0;
}
