/**
 * A small TypeScript syntax tree for the code we generate, and its printing to documents that
 * lay out exactly as prettier lays out the same code (printWidth 100, prettier 3 defaults:
 * 2-space indent, double quotes, semicolons, trailing commas everywhere, bracket spacing).
 *
 * Only the constructs the emitters need are here, and each is printed the way prettier prints
 * it. Constructs whose prettier layout depends on heuristics we do not reproduce (member
 * chains, last-argument hugging of objects and functions, destructured parameters, parameter
 * properties) are deliberately absent: the emitters never need them.
 */
import {
  type Doc,
  fill,
  group,
  hardline,
  ifBreak,
  indent,
  join,
  line,
  printDoc,
  softline,
} from "./doc.js";

// ---------------------------------------------------------------------------------------------
// Types

export type TypeNode =
  | { t: "ref"; name: string; args?: TypeNode[] }
  | { t: "literal"; value: string | number | boolean }
  | { t: "union"; types: TypeNode[] }
  | { t: "array"; element: TypeNode; readonly?: boolean }
  | { t: "tuple"; elements: TypeNode[]; readonly?: boolean }
  | { t: "objectType"; members: PropertySignature[] };

export interface PropertySignature {
  name: string;
  type: TypeNode;
  optional?: boolean;
  readonly?: boolean;
  doc?: string;
}

export const tref = (name: string, args?: TypeNode[]): TypeNode => ({ t: "ref", name, args });
export const tlit = (value: string | number | boolean): TypeNode => ({ t: "literal", value });
export const tunion = (types: TypeNode[]): TypeNode => ({ t: "union", types });
export const tarray = (element: TypeNode): TypeNode => ({ t: "array", element });
export const ttuple = (elements: TypeNode[], readonly = false): TypeNode => ({ t: "tuple", elements, readonly });

// ---------------------------------------------------------------------------------------------
// Expressions

export type Expr =
  | { e: "id"; name: string }
  | { e: "string"; value: string }
  | { e: "number"; value: number }
  | { e: "bigint"; value: bigint }
  | { e: "raw"; text: string }
  | { e: "object"; props: Array<{ key: string; value: Expr }>; expanded?: boolean }
  | { e: "array"; elements: Expr[] }
  | { e: "call"; callee: Expr; args: Expr[]; typeArgs?: TypeNode[] }
  | { e: "new"; callee: Expr; args: Expr[]; typeArgs?: TypeNode[] }
  | { e: "member"; object: Expr; name: string }
  | { e: "index"; object: Expr; index: Expr }
  | { e: "await"; expr: Expr }
  | { e: "as"; expr: Expr; type: TypeNode }
  | { e: "binary"; op: string; left: Expr; right: Expr };

export const id = (name: string): Expr => ({ e: "id", name });
export const str = (value: string): Expr => ({ e: "string", value });
export const num = (value: number): Expr => ({ e: "number", value });
export const big = (value: bigint): Expr => ({ e: "bigint", value });
export const raw = (text: string): Expr => ({ e: "raw", text });
export const obj = (props: Array<{ key: string; value: Expr }>, expanded = false): Expr => ({
  e: "object",
  props,
  expanded,
});
export const arr = (elements: Expr[]): Expr => ({ e: "array", elements });
export const call = (callee: Expr, args: Expr[], typeArgs?: TypeNode[]): Expr => ({ e: "call", callee, args, typeArgs });
export const newExpr = (callee: Expr, args: Expr[], typeArgs?: TypeNode[]): Expr => ({ e: "new", callee, args, typeArgs });
export const member = (object: Expr, name: string): Expr => ({ e: "member", object, name });
export const index = (object: Expr, at: Expr): Expr => ({ e: "index", object, index: at });
export const awaitExpr = (expr: Expr): Expr => ({ e: "await", expr });
export const asExpr = (expr: Expr, type: TypeNode): Expr => ({ e: "as", expr, type });
export const binary = (op: string, left: Expr, right: Expr): Expr => ({ e: "binary", op, left, right });

/** A plain JSON-like value as an expression (objects printed flat when they fit). */
export function literal(value: unknown): Expr {
  if (value === null) return raw("null");
  if (value === undefined) return raw("undefined");
  if (typeof value === "string") return str(value);
  if (typeof value === "number") return num(value);
  if (typeof value === "bigint") return big(value);
  if (typeof value === "boolean") return raw(String(value));
  if (Array.isArray(value)) return arr(value.map(literal));
  if (typeof value === "object") {
    return obj(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .map(([key, v]) => ({ key, value: literal(v) })),
    );
  }
  throw new Error(`cannot print ${typeof value} as a literal`);
}

// ---------------------------------------------------------------------------------------------
// Statements and declarations

export type Stmt =
  | { s: "const"; name: string; type?: TypeNode; init: Expr; exported?: boolean; let?: boolean }
  | { s: "return"; expr?: Expr }
  | { s: "expr"; expr: Expr }
  | { s: "if"; test: Expr; then: Stmt[]; else?: Stmt[] }
  | { s: "throw"; expr: Expr }
  | { s: "switch"; discriminant: Expr; cases: Array<{ test: Expr | null; body: Stmt[] }> }
  | { s: "for"; head: string; body: Stmt[] }
  | { s: "try"; body: Stmt[]; finally: Stmt[] }
  /** A statement printed as written: only for short single-line statements prettier leaves alone. */
  | { s: "raw"; text: string }
  | { s: "comment"; text: string }
  | { s: "blank" };

export interface Param {
  name: string;
  type: TypeNode;
  optional?: boolean;
}

export type Decl =
  | { d: "import"; names: Array<{ name: string; alias?: string; typeOnly?: boolean }>; from: string; typeOnly?: boolean }
  | { d: "stmt"; stmt: Stmt }
  | {
      d: "function";
      name: string;
      params: Param[];
      returns?: TypeNode;
      body: Stmt[];
      exported?: boolean;
      async?: boolean;
      typeParams?: string[];
    }
  | {
      d: "interface";
      name: string;
      members: Array<PropertySignature | MethodSignature>;
      exported?: boolean;
      typeParams?: string[];
    }
  | { d: "typeAlias"; name: string; type: TypeNode; exported?: boolean; typeParams?: string[] }
  | { d: "class"; name: string; members: ClassMember[]; exported?: boolean; extends?: Expr }
  | { d: "comment"; text: string }
  | { d: "blank" };

export interface MethodSignature {
  method: true;
  name: string;
  params: Param[];
  returns: TypeNode;
  optional?: boolean;
  doc?: string;
}

export type ClassMember =
  | { m: "field"; name: string; type?: TypeNode; init?: Expr; readonly?: boolean; private?: boolean; static?: boolean }
  | {
      m: "method";
      name: string;
      params: Param[];
      returns?: TypeNode;
      body: Stmt[];
      async?: boolean;
      doc?: string;
      static?: boolean;
    }
  | { m: "constructor"; params: Param[]; body: Stmt[] }
  | { m: "blank" };

// ---------------------------------------------------------------------------------------------
// Printing

/** Characters that `quote` may escape, or that decide its quote character. */
const NEEDS_ESCAPE = /["'\\\u0000-\u001f\u2028\u2029]/;

/** Prettier's choice of quotes: double, unless that needs more escapes than single. */
export function quote(value: string): string {
  // Most strings (names, file names) need no escape at all.
  if (!NEEDS_ESCAPE.test(value)) return '"' + value + '"';
  const doubles = (value.match(/"/g) ?? []).length;
  const singles = (value.match(/'/g) ?? []).length;
  const q = doubles > singles ? "'" : '"';
  let out = "";
  for (const ch of value) {
    if (ch === "\\") out += "\\\\";
    else if (ch === q) out += "\\" + q;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch < " " || ch === "\u2028" || ch === "\u2029") {
      out += "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0");
    } else out += ch;
  }
  return q + out + q;
}

function printTypeArgs(args: TypeNode[] | undefined): Doc {
  if (!args || args.length === 0) return "";
  return ["<", join(", ", args.map(printType)), ">"];
}

export function printType(type: TypeNode): Doc {
  switch (type.t) {
    case "ref":
      return [type.name, printTypeArgs(type.args)];
    case "literal":
      return typeof type.value === "string" ? quote(type.value) : String(type.value);
    case "union": {
      const parts = type.types.map(printType);
      // Prettier puts each member on its own line, led by "| ", when the union does not fit.
      return group(indent([ifBreak([softline, "| "]), join([line, "| "], parts)]));
    }
    case "array": {
      const inner = type.element.t === "union" ? ["(", printType(type.element), ")"] : printType(type.element);
      return [type.readonly ? "readonly " : "", inner, "[]"];
    }
    case "tuple":
      if (type.elements.length === 0) return type.readonly ? "readonly []" : "[]";
      return group([
        type.readonly ? "readonly " : "",
        "[",
        indent([softline, join([",", line], type.elements.map(printType))]),
        ifBreak(","),
        softline,
        "]",
      ]);
    case "objectType":
      if (type.members.length === 0) return "{}";
      return group([
        "{",
        indent([line, join([";", line], type.members.map(printPropertySignature))]),
        ifBreak(";"),
        line,
        "}",
      ]);
  }
}

function printPropertySignature(p: PropertySignature): Doc {
  return [p.readonly ? "readonly " : "", p.name, p.optional ? "?" : "", ": ", printType(p.type)];
}

function printArgs(args: Expr[]): Doc {
  if (args.length === 0) return "()";
  return group(["(", indent([softline, join([",", line], args.map(printExpr))]), ifBreak(","), softline, ")"]);
}

/**
 * Prettier packs an array onto as few lines as fit only when every element is a number literal,
 * optionally signed; a bigint literal is not a number literal to it, so any bigint breaks the
 * array one element per line.
 */
function isConciseArray(elements: Expr[]): boolean {
  return elements.length > 1 && elements.every((el) => el.e === "number" || (el.e === "raw" && /^-?\d+$/.test(el.text)));
}

export function printExpr(expr: Expr): Doc {
  switch (expr.e) {
    case "id":
      return expr.name;
    case "string":
      return quote(expr.value);
    case "number":
      return expr.value < 0 ? `-${-expr.value}` : String(expr.value);
    case "bigint":
      return `${expr.value}n`;
    case "raw":
      return expr.text;
    case "object": {
      if (expr.props.length === 0) return "{}";
      const props = expr.props.map((p) => [p.key, ": ", printExpr(p.value)]);
      return group(["{", indent([line, join([",", line], props)]), ifBreak(","), line, "}"], {
        shouldBreak: expr.expanded ?? false,
      });
    }
    case "array": {
      const elements = expr.elements;
      if (elements.length === 0) return "[]";
      if (isConciseArray(elements)) {
        // Numbers are packed as many to a line as fit.
        const groupId = Symbol("array");
        const parts: Doc[] = [];
        elements.forEach((el, i) => {
          const last = i === elements.length - 1;
          parts.push([printExpr(el), last ? ifBreak(",", "", groupId) : ","]);
          if (!last) parts.push(line);
        });
        return group(["[", indent([softline, fill(parts)]), softline, "]"], { id: groupId });
      }
      // Several objects (or arrays) of more than one entry each always go one per line.
      const shouldBreak =
        elements.length > 1 &&
        (elements.every((el) => el.e === "object" && el.props.length > 1) ||
          elements.every((el) => el.e === "array" && el.elements.length > 1));
      return group(["[", indent([softline, join([",", line], elements.map(printExpr)), ifBreak(",")]), softline, "]"], {
        shouldBreak,
      });
    }
    case "call":
      return [printExpr(expr.callee), printTypeArgs(expr.typeArgs), printArgs(expr.args)];
    case "new":
      return ["new ", printExpr(expr.callee), printTypeArgs(expr.typeArgs), printArgs(expr.args)];
    case "member":
      return [printExpr(expr.object), ".", expr.name];
    case "index":
      return [printExpr(expr.object), "[", printExpr(expr.index), "]"];
    case "await":
      return ["await ", printExpr(expr.expr)];
    case "as":
      return [printExpr(expr.expr), " as ", printType(expr.type)];
    case "binary":
      return [printExpr(expr.left), " ", expr.op, " ", printExpr(expr.right)];
  }
}

/** The right-hand side of `=`, with prettier's assignment layouts for what we emit. */
function printAssignment(left: Doc, init: Expr): Doc {
  const rhs = printExpr(init);
  if (init.e === "number" || init.e === "bigint" || (init.e === "raw" && /^(true|false|-?\d+)$/.test(init.text))) {
    return group([group(left), " = ", rhs]);
  }
  if (init.e === "string" || (init.e === "member" && init.object.e === "member")) {
    return group([group(left), " =", group(indent([line, rhs]))]);
  }
  const groupId = Symbol("assignment");
  return group([group(left), " =", group(indent(line), { id: groupId }), ifBreak(indent(rhs), rhs, groupId)]);
}

function printBlock(body: Stmt[]): Doc {
  if (body.length === 0) return "{}";
  return ["{", indent([hardline, printStatements(body)]), hardline, "}"];
}

function printStatements(body: Stmt[]): Doc {
  const out: Doc[] = [];
  body.forEach((stmt, i) => {
    if (stmt.s === "blank") {
      if (i > 0 && i < body.length - 1 && body[i - 1].s !== "blank") out.push(hardline);
      return;
    }
    if (out.length > 0) out.push(hardline);
    out.push(printStmt(stmt));
  });
  return out;
}

function printComment(text: string): Doc {
  const lines = text.split("\n");
  if (lines.length === 1) return `/** ${text} */`;
  return join(hardline, ["/**", ...lines.map((l) => (l === "" ? " *" : ` * ${l}`)), " */"]);
}

export function printStmt(stmt: Stmt): Doc {
  switch (stmt.s) {
    case "const": {
      const left: Doc = [
        stmt.exported ? "export " : "",
        stmt.let ? "let " : "const ",
        stmt.name,
        stmt.type ? [": ", printType(stmt.type)] : "",
      ];
      return [printAssignment(left, stmt.init), ";"];
    }
    case "return":
      return stmt.expr ? ["return ", printExpr(stmt.expr), ";"] : "return;";
    case "expr":
      return [printExpr(stmt.expr), ";"];
    case "throw":
      return ["throw ", printExpr(stmt.expr), ";"];
    case "if": {
      const head = ["if (", group([indent([softline, printExpr(stmt.test)]), softline]), ") "];
      const then = printBlock(stmt.then);
      if (!stmt.else) return [head, then];
      return [head, then, " else ", printBlock(stmt.else)];
    }
    case "switch": {
      const cases = stmt.cases.map((c) => {
        const label: Doc = c.test ? ["case ", printExpr(c.test), ":"] : "default:";
        if (c.body.length === 0) return label;
        return [label, indent([hardline, printStatements(c.body)])];
      });
      return ["switch (", printExpr(stmt.discriminant), ") {", indent([hardline, join(hardline, cases)]), hardline, "}"];
    }
    case "for":
      return ["for (", stmt.head, ") ", printBlock(stmt.body)];
    case "try":
      return ["try ", printBlock(stmt.body), " finally ", printBlock(stmt.finally)];
    case "raw":
      return stmt.text;
    case "comment":
      return printComment(stmt.text);
    case "blank":
      return "";
  }
}

function printParams(params: Param[]): Doc {
  if (params.length === 0) return "()";
  const printed = params.map((p) => [p.name, p.optional ? "?" : "", ": ", printType(p.type)]);
  return ["(", indent([softline, join([",", line], printed), ifBreak(",")]), softline, ")"];
}

function printSignature(params: Param[], returns: TypeNode | undefined, typeParams?: string[]): Doc {
  return group([
    typeParams && typeParams.length > 0 ? ["<", join(", ", typeParams), ">"] : "",
    printParams(params),
    returns ? [": ", printType(returns)] : "",
  ]);
}

function printClassMember(member: ClassMember): Doc {
  switch (member.m) {
    case "field": {
      const left: Doc = [
        member.static ? "static " : "",
        member.private ? "private " : "",
        member.readonly ? "readonly " : "",
        member.name,
        member.type ? [": ", printType(member.type)] : "",
      ];
      if (!member.init) return [left, ";"];
      return [printAssignment(left, member.init), ";"];
    }
    case "method":
      return [
        member.doc ? [printComment(member.doc), hardline] : "",
        member.static ? "static " : "",
        member.async ? "async " : "",
        member.name,
        printSignature(member.params, member.returns),
        " ",
        printBlock(member.body),
      ];
    case "constructor":
      return ["constructor", printSignature(member.params, undefined), " ", printBlock(member.body)];
    case "blank":
      return "";
  }
}

export function printDecl(decl: Decl): Doc {
  switch (decl.d) {
    case "import": {
      const specs = decl.names.map((n) => [n.typeOnly ? "type " : "", n.name, n.alias ? ` as ${n.alias}` : ""]);
      const head = decl.typeOnly ? "import type " : "import ";
      const tail = ` from ${quote(decl.from)};`;
      if (specs.length === 1) return [head, "{ ", specs[0], " }", tail];
      return [head, group(["{", indent([line, join([",", line], specs)]), ifBreak(","), line, "}"]), tail];
    }
    case "stmt":
      return printStmt(decl.stmt);
    case "function":
      return [
        decl.exported ? "export " : "",
        decl.async ? "async " : "",
        "function ",
        decl.name,
        printSignature(decl.params, decl.returns, decl.typeParams),
        " ",
        printBlock(decl.body),
      ];
    case "interface": {
      const head = [
        decl.exported ? "export " : "",
        "interface ",
        decl.name,
        decl.typeParams && decl.typeParams.length > 0
          ? group(["<", indent([softline, join([",", line], decl.typeParams)]), ifBreak(","), softline, ">"])
          : "",
        " ",
      ];
      if (decl.members.length === 0) return [head, "{}"];
      const members = decl.members.map((m) => {
        const docComment: Doc = m.doc ? [printComment(m.doc), hardline] : "";
        if ("method" in m) {
          return [docComment, m.name, m.optional ? "?" : "", printSignature(m.params, m.returns), ";"];
        }
        return [docComment, printPropertySignature(m), ";"];
      });
      return [head, "{", indent([hardline, join(hardline, members)]), hardline, "}"];
    }
    case "typeAlias": {
      const left: Doc = [
        decl.exported ? "export " : "",
        "type ",
        decl.name,
        decl.typeParams && decl.typeParams.length > 0 ? ["<", join(", ", decl.typeParams), ">"] : "",
      ];
      if (decl.type.t === "union" && decl.type.types.length > 1) {
        // A union that does not fit goes on the next line; if it still does not fit, one member
        // per line, each led by "| ".
        const members = decl.type.types.map(printType);
        return group([left, " =", group(indent([line, group([ifBreak("| "), join([line, "| "], members)])])), ";"]);
      }
      return [left, " = ", printType(decl.type), ";"];
    }
    case "class": {
      const head = [
        decl.exported ? "export " : "",
        "class ",
        decl.name,
        decl.extends ? [" extends ", printExpr(decl.extends)] : "",
        " ",
      ];
      const members = decl.members;
      if (members.length === 0) return [head, "{}"];
      const out: Doc[] = [];
      members.forEach((m, i) => {
        if (m.m === "blank") {
          if (i > 0 && i < members.length - 1) out.push(hardline);
          return;
        }
        if (out.length > 0) out.push(hardline);
        out.push(printClassMember(m));
      });
      return [head, "{", indent([hardline, out]), hardline, "}"];
    }
    case "comment":
      return printComment(decl.text);
    case "blank":
      return "";
  }
}

/** The whole module: declarations one per line, a blank line where a `blank` is. */
export function printModule(decls: Decl[], options = { printWidth: 100, tabWidth: 2 }): string {
  const out: Doc[] = [];
  decls.forEach((decl, i) => {
    if (decl.d === "blank") {
      if (i > 0 && i < decls.length - 1 && decls[i - 1].d !== "blank") out.push(hardline);
      return;
    }
    if (out.length > 0) out.push(hardline);
    out.push(printDecl(decl));
  });
  out.push(hardline);
  return printDoc(out, options);
}
