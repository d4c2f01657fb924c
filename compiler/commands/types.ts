/**
 * `mig-ts types [options] FILE.defs...`: writes `FILE.defs.d.ts` beside each file, so editors
 * type-check `import { ... } from "./FILE.defs"` in projects that build with the plugin.
 */
import type { CliIO } from "../cli.js";
import { formatDiagnostics } from "../plugin/core.js";
import { writeDeclarations } from "../plugin/dts.js";
import { type CompileSwitches, takeCompileSwitch, UsageError } from "./args.js";

export const TYPES_USAGE = `usage: mig-ts types [options] FILE.defs...

Writes FILE.defs.d.ts beside each .defs file: the declarations of the module the build plugin
makes of it (import { ... } from "./FILE.defs").

options:
  -I DIR, -D NAME[=VALUE], -U NAME, --abi ABI   as for mig-ts
  --seqnos            declare the seqnos server variants
  --help              print this help
`;

export async function typesMain(argv: readonly string[], io: CliIO): Promise<number> {
  const switches: CompileSwitches = { includeDirs: [], defines: [], undefines: [], abi: "x86_64" };
  const files: string[] = [];
  let seqnos = false;
  try {
    for (let i = 0; i < argv.length; ) {
      const arg = argv[i];
      if (arg === "--help" || arg === "-h") {
        io.stdout(TYPES_USAGE);
        return 0;
      }
      const used = takeCompileSwitch(argv, i, switches);
      if (used > 0) i += used;
      else if (arg === "--seqnos") (seqnos = true), i++;
      else if (!arg.startsWith("-")) files.push(arg), i++;
      else throw new UsageError(`unknown option '${arg}'`);
    }
    if (files.length === 0) throw new UsageError("no input files");
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`mig-ts types: ${error.message}\nTry 'mig-ts types --help' for more information.\n`);
    return 2;
  }
  let failed = false;
  for (const file of files) {
    let result: Awaited<ReturnType<typeof writeDeclarations>>;
    try {
      result = await writeDeclarations(file, { ...switches, seqnos });
    } catch (error) {
      io.stderr(`mig-ts types: ${(error as Error).message}\n`);
      return 1;
    }
    if (result.diagnostics.length > 0) io.stderr(`${formatDiagnostics(result.diagnostics)}\n`);
    if (result.written) io.stdout(`${result.written}\n`);
    else failed = true;
  }
  return failed ? 1 : 0;
}
