/**
 * `mig-ts trace [options] [--] PROGRAM [ARGS...]`: runs a program with message tracing on
 * (runtime/trace), like the Hurd's rpctrace. The `.defs` files given are compiled to their
 * reflection descriptors and handed to the program through `$MIG_TS_TRACE`; an `--import` hook
 * in NODE_OPTIONS attaches a tracer to every kernel the program (and any Node process it starts)
 * creates.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { SubsystemPlan } from "../../runtime/codec/plan.js";
import { TRACE_ENV, type TraceConfig } from "../../runtime/trace/config.js";
import type { CliIO } from "../cli.js";
import { hasErrors } from "../diagnostics/index.js";
import { formatDiagnostics } from "../plugin/core.js";
import { type CompileSwitches, takeCompileSwitch, UsageError } from "./args.js";
import { subsystemPlans } from "./descriptors.js";

export const TRACE_USAGE = `usage: mig-ts trace [options] [--] PROGRAM [ARGS...]

Runs PROGRAM with every Mach message its tasks send and receive printed, decoded through the
reflection descriptors of the given .defs files (routine, arguments, rights, seqno, return code,
round-trip time; a hex dump for ids none of them knows).

PROGRAM is a script (.js, .mjs, .cjs; .ts, .mts through tsx) run with node, or any command
(e.g. npm start): the trace hook reaches every Node process it starts.

options:
  --defs FILE         decode the messages of FILE's subsystem (repeatable;
                      default: every .defs file in ./defs)
  -I DIR, -D NAME[=VALUE], -U NAME              as for mig-ts, to compile those files
  -o FILE, --output FILE                        write the trace to FILE (default: stderr)
  --help              print this help
`;

/** The hook to preload, and whether it needs tsx (running from the sources). */
function hook(): { url: string; needsTsx: boolean } {
  const here = import.meta.url;
  if (here.endsWith(".ts")) {
    return { url: new URL("../../runtime/trace/register.ts", here).href, needsTsx: true };
  }
  return { url: new URL("./trace-register.js", here).href, needsTsx: false };
}

export async function traceMain(argv: readonly string[], io: CliIO): Promise<number> {
  const switches: CompileSwitches = { includeDirs: [], defines: [], undefines: [], abi: "x86_64" };
  const defs: string[] = [];
  let output: string | undefined;
  let program: string[] = [];
  try {
    let i = 0;
    for (; i < argv.length; ) {
      const arg = argv[i];
      if (arg === "--help" || arg === "-h") {
        io.stdout(TRACE_USAGE);
        return 0;
      }
      if (arg === "--") {
        i++;
        break;
      }
      const used = takeCompileSwitch(argv, i, switches);
      if (used > 0) {
        i += used;
      } else if (arg === "--defs" || arg === "-o" || arg === "--output") {
        const v = argv[i + 1];
        if (v === undefined) throw new UsageError(`${arg} needs a value`);
        if (arg === "--defs") defs.push(v);
        else output = resolve(v);
        i += 2;
      } else if (arg.startsWith("--defs=")) {
        defs.push(arg.slice(7)), i++;
      } else if (arg.startsWith("--output=")) {
        output = resolve(arg.slice(9)), i++;
      } else if (arg.startsWith("-")) {
        throw new UsageError(`unknown option '${arg}'`);
      } else break;
    }
    program = argv.slice(i);
    if (program.length === 0) throw new UsageError("no program to run");
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`mig-ts trace: ${error.message}\nTry 'mig-ts trace --help' for more information.\n`);
    return 2;
  }

  if (defs.length === 0 && existsSync("defs")) {
    for (const f of readdirSync("defs").sort()) if (f.endsWith(".defs")) defs.push(join("defs", f));
    if (switches.includeDirs.length === 0) switches.includeDirs.push("defs");
  }
  const subsystems: SubsystemPlan[] = [];
  for (const file of defs) {
    const { plans, diagnostics } = subsystemPlans(file, switches);
    if (diagnostics.length > 0) io.stderr(`${formatDiagnostics(diagnostics)}\n`);
    if (hasErrors(diagnostics)) return 1;
    subsystems.push(...plans);
  }

  const dir = mkdtempSync(join(tmpdir(), "mig-ts-trace-"));
  try {
    const configPath = join(dir, "trace.json");
    const config: TraceConfig = { subsystems, ...(output ? { output } : {}) };
    writeFileSync(configPath, JSON.stringify(config));
    const { url, needsTsx } = hook();
    const imports = [...(needsTsx ? ["--import=tsx"] : []), `--import=${url}`];
    const script = program[0];
    const isScript = /\.[cm]?[jt]s$/.test(script) && existsSync(script);
    const tsScript = /\.[cm]?ts$/.test(script);
    const [command, args] = isScript
      ? [process.execPath, [...(tsScript && !needsTsx ? ["--import=tsx"] : []), ...program]]
      : [program[0], program.slice(1)];
    const env = {
      ...process.env,
      [TRACE_ENV]: configPath,
      NODE_OPTIONS: [process.env.NODE_OPTIONS ?? "", ...imports].join(" ").trim(),
    };
    return await new Promise<number>((done) => {
      const child = spawn(command, args, { stdio: "inherit", env, shell: !isScript && process.platform === "win32" });
      child.on("error", (error) => {
        io.stderr(`mig-ts trace: cannot run ${command}: ${error.message}\n`);
        done(127);
      });
      child.on("exit", (code, signal) => done(code ?? (signal ? 128 : 1)));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** For tests: the hook file (source or dist). */
export function traceHookPath(): string {
  return fileURLToPath(hook().url);
}
