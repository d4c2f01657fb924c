/**
 * The abstract syntax tree of a `.defs` file: what the parser recognised, before any meaning is
 * given to it. Every node carries the span of source it came from (already mapped back to the
 * original file through the preprocessor), so the semantic phase can point at it.
 *
 * The tree covers GNU MIG's grammar, Apple MIG's additions and Mach 2.5's `MSG_TYPE_*` names.
 * Whether the GNU typed-message ABI can carry a construct is a semantic question, not a syntactic
 * one: the parser accepts Apple's forms and the semantic phase reports what it cannot compile.
 */
import type { SourceSpan } from "../diagnostics/index.js";

export interface Node {
  span: SourceSpan;
}

export interface Identifier extends Node {
  text: string;
}

export interface DefsFile {
  statements: Statement[];
  /** The main input file's name, when the caller gave one to `parse`. */
  file?: string;
}

export type Statement =
  | SubsystemStatement
  | TypeDeclaration
  | RoutineDeclaration
  | SkipStatement
  | ImportStatement
  | RcsIdStatement
  | OptionStatement
  | ErrorStatement
  | EmptyStatement;

export interface SubsystemStatement extends Node {
  kind: "subsystem";
  /** `KernelUser` / `KernelServer`, in source order. */
  modifiers: Array<{ name: "KernelUser" | "KernelServer"; span: SourceSpan }>;
  name: Identifier;
  base: IntLiteral;
}

/**
 * Positional options: each affects the routines that follow it.
 * `waittime`/`msgoption` take the raw string token of MIG's String lexer mode.
 */
export type OptionStatement =
  | (Node & { kind: "waittime"; value: StringToken })
  | (Node & { kind: "nowaittime" })
  | (Node & { kind: "msgoption"; value: StringToken })
  | (Node & { kind: "serverprefix"; value: Identifier })
  | (Node & { kind: "userprefix"; value: Identifier })
  | (Node & { kind: "serverdemux"; value: Identifier })
  // Apple MIG statements: parsed so they can be reported as unsupported by the GNU ABI, or ignored.
  | (Node & { kind: "usespecialreplyport"; value: IntLiteral })
  | (Node & { kind: "consumeonsenderror"; value: Identifier })
  | (Node & { kind: "usertypelimit"; value: IntLiteral })
  | (Node & { kind: "onstacklimit"; value: IntLiteral })
  | (Node & { kind: "sendtime"; value?: Identifier })
  | (Node & { kind: "nosendtime" });

export interface StringToken extends Node {
  text: string;
}

export interface ErrorStatement extends Node {
  /** The 2022 GNU MIG `error IDENT;` statement (and Apple's): accepted, has no effect on code. */
  kind: "error";
  value: Identifier;
}

export interface EmptyStatement extends Node {
  kind: "empty";
}

export interface SkipStatement extends Node {
  kind: "skip";
  /** `skip;` is `skip 1;`. */
  count: number;
}

export interface ImportStatement extends Node {
  kind: "import";
  which: "import" | "uimport" | "simport" | "dimport" | "iimport";
  /** The file name with its delimiters, exactly as written: `"foo.h"` or `<mach/foo.h>`. */
  file: string;
}

export interface RcsIdStatement extends Node {
  kind: "rcsid";
  /** The quoted string with its quotes. */
  value: string;
}

export interface TypeDeclaration extends Node {
  kind: "type";
  name: Identifier;
  spec: TransSpec;
}

/** A type specification followed by its translation options (`ctype:`, `intran:`, ...). */
export interface TransSpec extends Node {
  type: TypeSpec;
  options: TransOption[];
}

export type TransOption =
  | (Node & { kind: "intran"; transType: CTypeName; function: Identifier; serverType: CTypeName })
  | (Node & { kind: "intranpayload"; transType: CTypeName; function: Identifier })
  | (Node & { kind: "outtran"; serverType: CTypeName; function: Identifier; transType: CTypeName })
  | (Node & { kind: "destructor"; function: Identifier; transType: CTypeName })
  | (Node & { kind: "ctype" | "cusertype" | "cservertype"; cType: CTypeName });

/**
 * A C type name as written after `ctype:` and friends. GNU MIG takes one identifier; Apple MIG
 * also has `PointerTo(T)`, `PointerToIfNot(T, bad)` and `ValueOf(T)`.
 */
export type CTypeName =
  | (Node & { kind: "name"; name: Identifier })
  | (Node & { kind: "PointerTo" | "ValueOf"; target: Identifier })
  | (Node & { kind: "PointerToIfNot"; target: Identifier; bad: Identifier });

export type TypeSpec =
  | IpcTypeSpec
  | LongIpcTypeSpec
  | NamedTypeSpec
  | ArrayTypeSpec
  | StructArrayTypeSpec
  | CStructTypeSpec
  | PointerTypeSpec
  | CStringTypeSpec;

/** Short form: `MACH_MSG_TYPE_INTEGER_32`, `polymorphic`, `MACH_MSG_TYPE_COPY_SEND|MACH_MSG_TYPE_PORT_SEND`. */
export interface IpcTypeSpec extends Node {
  kind: "ipc";
  inName: IpcPrimitive;
  /** The name after `|`, when given (the received type name). */
  outName?: IpcPrimitive;
}

/** Long form: `(MACH_MSG_TYPE_STRING_C, 8*256, dealloc)`. */
export interface LongIpcTypeSpec extends Node {
  kind: "long";
  inName: IpcPrimitive;
  outName?: IpcPrimitive;
  size: IntExpression;
  flags: IpcFlag[];
}

export type IpcPrimitive =
  | (Node & { kind: "number"; value: number })
  /**
   * `name` is the canonical GNU spelling (`MACH_MSG_TYPE_INTEGER_32`); `spelled` is what the source
   * said (it differs for Mach 2.5's `MSG_TYPE_INTEGER_32` and Apple-only names such as
   * `MACH_MSG_TYPE_REAL_32`, which keep their own canonical name for the semantic phase to judge).
   */
  | (Node & { kind: "symbolic"; name: string; spelled: string })
  | (Node & { kind: "polymorphic" });

export interface NamedTypeSpec extends Node {
  kind: "named";
  name: Identifier;
}

export type ArrayBound =
  | (Node & { kind: "fixed"; size: IntExpression })
  | (Node & { kind: "bounded"; max: IntExpression })
  /** `[]` or `[*]`. */
  | (Node & { kind: "indefinite" });

export interface ArrayTypeSpec extends Node {
  kind: "array";
  bound: ArrayBound;
  element: TypeSpec;
}

/** `struct[N] of T`. */
export interface StructArrayTypeSpec extends Node {
  kind: "structarray";
  size: IntExpression;
  element: TypeSpec;
}

/** `struct { T1 f1; T2 f2; }` (GNU MIG since 2022-11). */
export interface CStructTypeSpec extends Node {
  kind: "cstruct";
  fields: Array<Node & { type: Identifier; name: Identifier }>;
}

/** `^T`: out of line. */
export interface PointerTypeSpec extends Node {
  kind: "pointer";
  target: TypeSpec;
}

/** `c_string[N]` or `c_string[*:N]`. */
export interface CStringTypeSpec extends Node {
  kind: "cstring";
  variable: boolean;
  size: IntExpression;
}

export type IpcFlagName =
  // GNU MIG
  | "islong"
  | "isnotlong"
  | "dealloc"
  | "notdealloc"
  | "servercopy"
  | "countinout"
  | "retcode"
  // Apple MIG only
  | "samecount"
  | "physicalcopy"
  | "overwrite"
  | "auto"
  | "const";

export interface IpcFlag extends Node {
  name: IpcFlagName;
  /** `dealloc[]`: decided at run time by an extra argument. */
  dynamic: boolean;
}

export type IntExpression =
  | IntLiteral
  | (Node & {
      kind: "binary";
      operator: "+" | "-" | "*" | "/";
      left: IntExpression;
      right: IntExpression;
    });

export interface IntLiteral extends Node {
  kind: "literal";
  value: number;
}

export interface RoutineDeclaration extends Node {
  kind: "routine" | "simpleroutine";
  name: Identifier;
  args: ArgumentDeclaration[];
}

export type ArgumentDirection =
  | "in"
  | "out"
  | "inout"
  | "requestport"
  | "replyport"
  | "sreplyport"
  | "ureplyport"
  | "waittime"
  | "msgoption"
  | "msgseqno"
  // Apple MIG argument kinds: parsed, then rejected by the semantic phase as not carried by GNU typed messages.
  | "sectoken"
  | "serversectoken"
  | "usersectoken"
  | "audittoken"
  | "serveraudittoken"
  | "useraudittoken"
  | "servercontexttoken"
  | "sendtime"
  | "serverimpl"
  | "userimpl";

export interface ArgumentDeclaration extends Node {
  /** Absent when no direction keyword was written (the first such argument is the request port). */
  direction?: { name: ArgumentDirection; span: SourceSpan };
  name: Identifier;
  /** The type name after `:`. */
  typeName: Identifier;
  /** `name : T = spec`: a one-off type named T. */
  spec?: TransSpec;
  flags: IpcFlag[];
}
