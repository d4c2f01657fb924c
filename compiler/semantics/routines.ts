/**
 * Routine analysis (mig-reference §5): argument kinds, the request port rule, implicit arguments
 * in MIG's order (RetCode, the dummy reply port, then `x, xPoly, xCnt, xDealloc, xSCopy` per
 * argument), numbering, and GNU MIG's checks.
 */
import type { ArgumentDeclaration, ArgumentDirection, RoutineDeclaration } from "../syntax/ast.js";
import {
  type ArgumentKind,
  type DeallocMode,
  type MigType,
  MsgTypeName,
  type Routine,
  type RoutineArgument,
} from "./model.js";
import {
  chooseLongForm,
  cloneType,
  collectFlags,
  declareType,
  scalarType,
  type TypeEnvironment,
} from "./types.js";

export interface RoutineOptions {
  userPrefix: string;
  serverPrefix: string;
  waitTime?: string;
  msgOption?: string;
}

export interface RoutineContext {
  number: number;
  base: number;
  env: TypeEnvironment;
  options: RoutineOptions;
  kernelUser: boolean;
  kernelServer: boolean;
}

const APPLE_KINDS = new Set<ArgumentDirection>([
  "sectoken",
  "serversectoken",
  "usersectoken",
  "audittoken",
  "serveraudittoken",
  "useraudittoken",
  "servercontexttoken",
  "sendtime",
  "serverimpl",
  "userimpl",
]);

/** Rights a request or reply port may carry: a send or send-once right, or one chosen at run time. */
const SENDABLE_PORT_NAMES = new Set<number>([17, 18, 19, 20, 21, MsgTypeName.POLYMORPHIC]);

interface Visibility {
  inRequest: boolean;
  inReply: boolean;
  userVisible: boolean;
  serverVisible: boolean;
}

const VISIBILITY: Record<
  Exclude<ArgumentKind, "retcode" | "poly" | "count" | "dealloc" | "servercopy">,
  Visibility
> = {
  requestport: { inRequest: false, inReply: false, userVisible: true, serverVisible: true },
  replyport: { inRequest: false, inReply: false, userVisible: true, serverVisible: true },
  ureplyport: { inRequest: false, inReply: false, userVisible: true, serverVisible: false },
  sreplyport: { inRequest: false, inReply: false, userVisible: false, serverVisible: true },
  in: { inRequest: true, inReply: false, userVisible: true, serverVisible: true },
  out: { inRequest: false, inReply: true, userVisible: true, serverVisible: true },
  inout: { inRequest: true, inReply: true, userVisible: true, serverVisible: true },
  waittime: { inRequest: false, inReply: false, userVisible: true, serverVisible: false },
  msgoption: { inRequest: false, inReply: false, userVisible: true, serverVisible: false },
  msgseqno: { inRequest: false, inReply: false, userVisible: false, serverVisible: true },
};

/** Kinds whose value travels from the client to the server (the rest travel back, or both ways for inout). */
function sentByUser(kind: ArgumentKind): boolean {
  return (
    kind === "in" ||
    kind === "inout" ||
    kind === "requestport" ||
    kind === "replyport" ||
    kind === "ureplyport" ||
    kind === "sreplyport"
  );
}
function sentByServer(kind: ArgumentKind): boolean {
  return kind === "out" || kind === "inout";
}

export function analyzeRoutine(decl: RoutineDeclaration, ctx: RoutineContext): Routine | undefined {
  const { env } = ctx;
  const simple = decl.kind === "simpleroutine";
  const routineName = decl.name.text;
  let failed = false;
  const fail = (...args: Parameters<TypeEnvironment["report"]>) => {
    env.report(...args);
    failed = true;
  };

  const explicit: RoutineArgument[] = [];
  const argNames = new Map<string, ArgumentDeclaration>();
  let sawRequestPort = false;
  for (const arg of decl.args) {
    const direction = arg.direction?.name;
    if (direction && APPLE_KINDS.has(direction)) {
      fail(
        "MIG3026",
        `${arg.name.text}: Apple MIG argument kind ${direction} cannot be carried by GNU typed messages`,
        arg.direction!.span,
      );
      continue;
    }
    let kind: ArgumentKind;
    if (direction === undefined) {
      // The first argument without a direction keyword is the request port (GNU and CMU MIG).
      kind = sawRequestPort ? "in" : "requestport";
      sawRequestPort = true;
    } else {
      kind = direction as ArgumentKind;
    }
    const previous = argNames.get(arg.name.text);
    if (previous) {
      fail("MIG3036", `${routineName}: argument ${arg.name.text} is declared twice`, arg.name.span);
      continue;
    }
    argNames.set(arg.name.text, arg);

    let type: MigType | undefined;
    if (arg.spec) {
      type = declareType(arg.typeName.text, arg.spec, env);
    } else {
      const found = env.lookup(arg.typeName.text);
      if (!found)
        env.report("MIG3001", `type '${arg.typeName.text}' not defined`, arg.typeName.span);
      type = found ? cloneType(found) : undefined;
    }
    if (!type) {
      failed = true;
      continue;
    }
    const flags = collectFlags(arg.flags, env);
    if (flags.isLong || flags.isNotLong) chooseLongForm(type, flags, arg.name.text, env, arg.span);

    let dealloc: DeallocMode = type.dealloc;
    if (flags.dealloc) {
      dealloc = flags.dealloc.mode;
      const compatible = (ctx.kernelUser && kind === "in") || (ctx.kernelServer && kind === "out");
      if (dealloc === "maybe" && type.inline && !type.indefinite) {
        fail(
          "MIG3044",
          `${arg.name.text}: Dealloc[] on inline data can only produce an invalid message`,
          flags.dealloc.flag.span,
        );
      } else if (dealloc === "yes" && type.inline && !type.indefinite && !compatible) {
        env.report(
          "MIG3033",
          `${arg.name.text}: Dealloc will cause an IPC error`,
          flags.dealloc.flag.span,
        );
      }
    }
    let countInOut = false;
    if (flags.countInOut) {
      if (kind === "out" && type.varArray && !type.isString) countInOut = true;
      else
        env.report(
          "MIG3032",
          `${arg.name.text}: CountInOut on argument is meaningless`,
          flags.countInOut.span,
        );
    }
    let serverCopy = false;
    if (flags.serverCopy) {
      if (kind === "in" && type.indefinite) serverCopy = true;
      else
        env.report(
          "MIG3032",
          `${arg.name.text}: ServerCopy on argument is meaningless`,
          flags.serverCopy.span,
        );
    }
    if (type.isPort) applyKernelPortTypes(type, ctx);

    const visibility = VISIBILITY[kind as keyof typeof VISIBILITY];
    explicit.push({
      name: arg.name.text,
      kind,
      type,
      ...visibility,
      countInOut,
      serverCopy,
      dealloc,
      span: arg.span,
    });
  }

  // GNU MIG's checks (mig-reference §5.2 "Errors checked").
  const byKind = (kind: ArgumentKind) => explicit.filter((a) => a.kind === kind);
  const requestPorts = byKind("requestport");
  if (requestPorts.length === 0 && !failed) {
    fail("MIG3019", `${routineName} doesn't have a server port argument`, decl.name.span);
  }
  for (const kind of ["requestport", "replyport", "waittime", "msgoption"] as const) {
    const all = byKind(kind);
    if (all.length > 1) {
      env.report(
        "MIG3025",
        `${routineName} has ${all.length} ${kind} arguments; the last one (${all[all.length - 1]!.name}) is used`,
        all[1]!.span,
      );
    }
  }
  for (const a of explicit) {
    if (simple && (a.kind === "out" || a.kind === "inout")) {
      fail(
        "MIG3020",
        `SimpleRoutine ${routineName} has ${a.kind === "out" ? "OUT" : "INOUT"} argument ${a.name}`,
        a.span,
      );
    }
    if (a.kind === "requestport" && !isSendablePort(a.type, a.dealloc)) {
      fail(
        "MIG3021",
        `argument ${a.name} isn't a proper request port (${describe(a.type)})`,
        a.span,
      );
    }
    if (
      (a.kind === "replyport" || a.kind === "ureplyport" || a.kind === "sreplyport") &&
      !isSendablePort(a.type, "no")
    ) {
      fail("MIG3022", `argument ${a.name} isn't a proper reply port (${describe(a.type)})`, a.span);
    }
    if (a.kind === "waittime" || a.kind === "msgoption" || a.kind === "msgseqno") {
      if (a.type.isPort) {
        fail(
          "MIG3041",
          `argument ${a.name} (${a.kind}) must be a MACH_MSG_TYPE_INTEGER_32, not a port`,
          a.span,
        );
      } else if (
        a.type.inName !== MsgTypeName.INTEGER_32 ||
        a.type.size !== 32 ||
        a.type.number !== 1 ||
        !a.type.inline ||
        a.type.element
      ) {
        fail("MIG3023", `argument ${a.name} should have been a MACH_MSG_TYPE_INTEGER_32`, a.span);
      }
    }
    if (a.kind === "inout" && a.type.inline && a.type.varArray) {
      fail("MIG3024", `${a.name}: Inline variable-sized arguments can't be InOut`, a.span);
    }
  }
  if (failed) return undefined;

  // Implicit arguments.
  const args: RoutineArgument[] = [];
  const retCode = scalarType("MACH_MSG_TYPE_INTEGER_32", "kern_return_t", env.abi);
  args.push(
    implicitArg("RetCode", "retcode", retCode, {
      inRequest: false,
      inReply: true,
      userVisible: false,
      serverVisible: false,
    }),
  );
  const hasReplyPort = explicit.some((a) => a.kind === "replyport" || a.kind === "ureplyport");
  if (!simple && !hasReplyPort) {
    // The client stub's own reply port (mig_get_reply_port()), a send-once right made from it.
    const reply = scalarType("MACH_MSG_TYPE_MAKE_SEND_ONCE", "mach_port_t", env.abi);
    args.push(
      implicitArg("Reply", "replyport", reply, {
        inRequest: false,
        inReply: false,
        userVisible: false,
        serverVisible: false,
      }),
    );
  }
  for (const a of explicit) {
    args.push(a);
    const t = a.type;
    // xPoly: a disposition chosen at run time, by whichever side sends.
    if (t.inName === MsgTypeName.POLYMORPHIC || t.outName === MsgTypeName.POLYMORPHIC) {
      const userSees =
        (sentByUser(a.kind) && t.inName === MsgTypeName.POLYMORPHIC) ||
        (sentByServer(a.kind) && t.outName === MsgTypeName.POLYMORPHIC);
      const serverSees =
        (sentByUser(a.kind) && t.outName === MsgTypeName.POLYMORPHIC) ||
        (sentByServer(a.kind) && t.inName === MsgTypeName.POLYMORPHIC);
      if ((userSees && a.userVisible) || (serverSees && a.serverVisible)) {
        args.push(
          implicitArg(
            `${a.name}Poly`,
            "poly",
            scalarType("MACH_MSG_TYPE_INTEGER_32", "mach_msg_type_name_t", env.abi),
            {
              inRequest: false,
              inReply: false,
              userVisible: userSees && a.userVisible,
              serverVisible: serverSees && a.serverVisible,
            },
            a.name,
          ),
        );
      }
    }
    // xCnt: the element count of a variable array travels in its descriptor (msgt_number);
    // with CountInOut the client also sends its buffer capacity in the request.
    if (t.varArray && !t.isString && (a.kind === "in" || a.kind === "out" || a.kind === "inout")) {
      const count = implicitArg(
        `${a.name}Cnt`,
        "count",
        scalarType("MACH_MSG_TYPE_INTEGER_32", "mach_msg_type_number_t", env.abi),
        {
          inRequest: a.countInOut,
          inReply: false,
          userVisible: true,
          serverVisible: true,
        },
        a.name,
      );
      count.countInOut = a.countInOut;
      args.push(count);
    }
    if (a.dealloc === "maybe") {
      args.push(
        implicitArg(
          `${a.name}Dealloc`,
          "dealloc",
          scalarType("MACH_MSG_TYPE_BOOLEAN", "boolean_t", env.abi),
          {
            inRequest: false,
            inReply: false,
            userVisible: sentByUser(a.kind) && a.userVisible,
            serverVisible: sentByServer(a.kind) && a.serverVisible,
          },
          a.name,
        ),
      );
    }
    if (a.serverCopy) {
      args.push(
        implicitArg(
          `${a.name}SCopy`,
          "servercopy",
          scalarType("MACH_MSG_TYPE_BOOLEAN", "boolean_t", env.abi),
          {
            inRequest: false,
            inReply: false,
            userVisible: false,
            serverVisible: true,
          },
          a.name,
        ),
      );
    }
  }

  const requestId = ctx.base + ctx.number;
  const routine: Routine = {
    name: routineName,
    kind: decl.kind,
    number: ctx.number,
    requestId,
    replyId: simple ? null : requestId + 100,
    args,
    userPrefix: ctx.options.userPrefix,
    serverPrefix: ctx.options.serverPrefix,
    span: decl.span,
  };
  if (ctx.options.waitTime !== undefined) routine.waitTime = ctx.options.waitTime;
  if (ctx.options.msgOption !== undefined) routine.msgOption = ctx.options.msgOption;
  return routine;
}

function implicitArg(
  name: string,
  kind: ArgumentKind,
  type: MigType,
  visibility: Visibility,
  parent?: string,
): RoutineArgument {
  const arg: RoutineArgument = {
    name,
    kind,
    type,
    ...visibility,
    countInOut: false,
    serverCopy: false,
    dealloc: "no",
    implicit: true,
  };
  if (parent !== undefined) arg.parent = parent;
  return arg;
}

function isSendablePort(t: MigType, dealloc: DeallocMode): boolean {
  return (
    SENDABLE_PORT_NAMES.has(t.inName) &&
    t.number === 1 &&
    t.inline &&
    !t.element &&
    dealloc === "no"
  );
}

function describe(t: MigType): string {
  return t.name ? `type ${t.name}` : "an anonymous type";
}

/**
 * KernelUser/KernelServer stubs see ports as `ipc_port_t` where the C type is `mach_port_t`
 * (mig-reference §4.4).
 */
function applyKernelPortTypes(t: MigType, ctx: RoutineContext): void {
  if (ctx.kernelUser && t.cUserType === "mach_port_t") t.cUserType = "ipc_port_t";
  if (ctx.kernelServer && t.cServerType === "mach_port_t") {
    if (t.cTransType === t.cServerType) t.cTransType = "ipc_port_t";
    t.cServerType = "ipc_port_t";
  }
}
