/**
 * The semantic phase: walks the statements of a parsed `.defs` file in order, keeping MIG's
 * positional state (subsystem, prefixes, wait time, message options, routine numbers), declares
 * types, analyses routines, and produces the interface model for one ABI.
 */
import {
  type Diagnostic,
  type DiagnosticCode,
  diagnostic,
  hasErrors,
  type SourceSpan,
} from "../diagnostics/index.js";
import type { Abi } from "../preprocess/types.js";
import type { DefsFile, RoutineDeclaration, SubsystemStatement } from "../syntax/ast.js";
import { ABI_FACTS, type AbiFacts } from "./abi.js";
import type { InterfaceModel, MigType, Routine, RoutineSlot } from "./model.js";
import { analyzeRoutine, type RoutineOptions } from "./routines.js";
import { declareType, sameType, scalarType, type TypeEnvironment } from "./types.js";

export interface AnalyzeOptions {
  abi: Abi;
  /** The top-level `.defs` file (recorded in the model). */
  file: string;
}

export interface AnalyzeResult {
  /** Absent when the file has errors. */
  model: InterfaceModel | undefined;
  diagnostics: Diagnostic[];
}

/** MIG's built-in types (mig-reference §2): they exist before any statement. */
export function builtinTypes(abi: AbiFacts): MigType[] {
  const make = (ipc: string, name: string, size?: number) => {
    const t = scalarType(ipc, name, abi, size);
    t.builtin = true;
    return t;
  };
  const pointer = abi.pointerBits === 64 ? "MACH_MSG_TYPE_INTEGER_64" : "MACH_MSG_TYPE_INTEGER_32";
  return [
    make("MACH_MSG_TYPE_CHAR", "char"),
    make("MACH_MSG_TYPE_INTEGER_16", "short"),
    make("MACH_MSG_TYPE_INTEGER_32", "int"),
    make("MACH_MSG_TYPE_INTEGER_64", "int64"),
    make(pointer, "uintptr_t"),
    make(pointer, "intptr_t"),
  ];
}

const APPLE_STATEMENTS = new Set([
  "usespecialreplyport",
  "consumeonsenderror",
  "usertypelimit",
  "onstacklimit",
  "sendtime",
  "nosendtime",
]);

export function analyze(file: DefsFile, options: AnalyzeOptions): AnalyzeResult {
  const abi = ABI_FACTS[options.abi];
  const diagnostics: Diagnostic[] = [];
  const report = (
    code: DiagnosticCode,
    message: string,
    span: SourceSpan | undefined,
    related?: Diagnostic["related"],
  ) => {
    diagnostics.push(diagnostic(code, message, span?.start, related ? { related } : {}));
  };

  const symbols = new Map<string, MigType>();
  const types: MigType[] = [];
  for (const t of builtinTypes(abi)) {
    symbols.set(t.name, t);
    types.push(t);
  }
  const env: TypeEnvironment = { abi, lookup: (name) => symbols.get(name), report };

  let subsystem: InterfaceModel["subsystem"] | undefined;
  let serverDemux: string | undefined;
  const positional: RoutineOptions = { userPrefix: "", serverPrefix: "" };
  const slots: RoutineSlot[] = [];
  const routines: Routine[] = [];
  const routineNames = new Map<string, SourceSpan>();
  const imports: InterfaceModel["imports"] = [];
  let rcsId: string | undefined;
  let number = 0;
  let missingSubsystemReported = false;

  for (const statement of file.statements) {
    switch (statement.kind) {
      case "subsystem":
        if (subsystem) {
          report(
            "MIG3003",
            `a second subsystem statement (${statement.name.text}); the subsystem is already ${subsystem.name}`,
            statement.span,
            [{ message: "the first subsystem statement is here", location: subsystem.span?.start }],
          );
          break;
        }
        subsystem = declareSubsystem(statement, report);
        break;
      case "type": {
        const name = statement.name.text;
        const t = declareType(name, statement.spec, env);
        if (!t) break;
        t.span = statement.span;
        const previous = symbols.get(name);
        if (previous) {
          // Apple's and CMU's std_types.defs restate the built-ins; that is harmless when identical.
          if (previous.builtin && sameType({ ...t, builtin: true }, previous)) break;
          report(
            "MIG3002",
            previous.builtin
              ? `overriding the built-in type ${name} with a different definition`
              : `overriding previous definition of type ${name}`,
            statement.name.span,
            previous.span
              ? [{ message: `${name} was declared here`, location: previous.span.start }]
              : undefined,
          );
          break;
        }
        symbols.set(name, t);
        types.push(t);
        break;
      }
      case "routine":
      case "simpleroutine": {
        if (!subsystem && !missingSubsystemReported) {
          missingSubsystemReported = true;
          report(
            "MIG3004",
            `routine ${statement.name.text} is declared before any subsystem statement`,
            statement.span,
          );
        }
        const routine = analyzeRoutineStatement(statement, number, subsystem?.base ?? 0, {
          env,
          positional,
          kernelUser: subsystem?.kernelUser ?? false,
          kernelServer: subsystem?.kernelServer ?? false,
        });
        const previous = routineNames.get(statement.name.text);
        if (previous) {
          report(
            "MIG3018",
            `routine ${statement.name.text} is declared twice`,
            statement.name.span,
            [{ message: "first declared here", location: previous.start }],
          );
        } else {
          routineNames.set(statement.name.text, statement.name.span);
        }
        if (routine) {
          routines.push(routine);
          slots.push({ kind: "routine", routine });
        }
        number += 1;
        break;
      }
      case "skip":
        for (let i = 0; i < statement.count; i++) slots.push({ kind: "skip", number: number + i });
        number += statement.count;
        break;
      case "import":
        imports.push({ which: statement.which, file: statement.file });
        break;
      case "rcsid":
        rcsId = statement.value;
        break;
      case "error":
        report(
          "MIG3040",
          `the error statement (${statement.value.text}) has no effect; ignored`,
          statement.span,
        );
        break;
      case "empty":
        break;
      case "waittime":
        positional.waitTime = statement.value.text;
        break;
      case "nowaittime":
        delete positional.waitTime;
        break;
      case "msgoption":
        if (statement.value.text === "MACH_MSG_OPTION_NONE") delete positional.msgOption;
        else positional.msgOption = statement.value.text;
        break;
      case "serverprefix":
        positional.serverPrefix = statement.value.text;
        break;
      case "userprefix":
        positional.userPrefix = statement.value.text;
        break;
      case "serverdemux":
        serverDemux = statement.value.text;
        break;
      default:
        if (APPLE_STATEMENTS.has(statement.kind)) {
          report(
            "MIG3027",
            `Apple MIG statement ${statement.kind} has no meaning for GNU typed messages; ignored`,
            statement.span,
          );
        }
        break;
    }
  }

  if (subsystem) {
    for (const routine of routines) {
      const high = routine.replyId ?? routine.requestId;
      if (
        subsystem.base + routine.number + (routine.replyId === null ? 0 : 100) > 0x7fffffff ||
        high > 0x7fffffff
      ) {
        report(
          "MIG3039",
          `message id of ${routine.name} (${subsystem.base} + ${routine.number}) exceeds 2^31-1`,
          routine.span,
        );
      }
    }
  }

  if (!subsystem && routines.length === 0 && slots.length === 0) {
    // A types-only fragment (machine_types.defs, default_pager_types.defs) is meant to be
    // included after the files that declare what it uses, so an unknown name is not fatal here.
    for (let i = 0; i < diagnostics.length; i++) {
      const d = diagnostics[i]!;
      if (d.code === "MIG3001") {
        diagnostics[i] = diagnostic(
          "MIG3046",
          `${d.message} in this types-only file; it must be declared by the file that includes it`,
          d.location,
        );
      }
    }
  }

  if (hasErrors(diagnostics)) return { model: undefined, diagnostics };
  const model: InterfaceModel = {
    abi: options.abi,
    file: options.file,
    subsystem: subsystem ?? { name: "", base: 0, kernelUser: false, kernelServer: false },
    serverDemux: serverDemux ?? (subsystem ? `${subsystem.name}_server` : ""),
    slots,
    routines,
    types,
    imports,
  };
  if (rcsId !== undefined) model.rcsId = rcsId;
  if (!subsystem) model.typesOnly = true;
  return { model, diagnostics };
}

function declareSubsystem(
  statement: SubsystemStatement,
  report: (code: DiagnosticCode, message: string, span: SourceSpan | undefined) => void,
): InterfaceModel["subsystem"] {
  let kernelUser = false;
  let kernelServer = false;
  for (const m of statement.modifiers) {
    if ((m.name === "KernelUser" && kernelUser) || (m.name === "KernelServer" && kernelServer)) {
      report("MIG3043", `${m.name} is given twice`, m.span);
    }
    if (m.name === "KernelUser") kernelUser = true;
    else kernelServer = true;
  }
  return {
    name: statement.name.text,
    base: statement.base.value,
    kernelUser,
    kernelServer,
    span: statement.span,
  };
}

function analyzeRoutineStatement(
  statement: RoutineDeclaration,
  number: number,
  base: number,
  context: {
    env: TypeEnvironment;
    positional: RoutineOptions;
    kernelUser: boolean;
    kernelServer: boolean;
  },
): Routine | undefined {
  return analyzeRoutine(statement, {
    number,
    base,
    env: context.env,
    options: { ...context.positional },
    kernelUser: context.kernelUser,
    kernelServer: context.kernelServer,
  });
}
