/**
 * The parser: tokens -> AST, with chevrotain's `EmbeddedActionsParser` so each grammar rule returns
 * its AST node directly and TypeScript checks that every rule builds the node type it promises.
 *
 * The grammar follows GNU MIG's (reference §2) plus Apple MIG's additions (§2.1); what GNU typed
 * messages cannot carry is the semantic phase's business, not ours.
 *
 * Error recovery is done here rather than by chevrotain: the top-level loop parses one statement at a
 * time; when a statement fails it reports one diagnostic (offending token, expected tokens) and skips
 * to the next `;` that ends a statement (parentheses and braces are counted, so a `;` between two
 * arguments of a routine does not count), or to the next keyword that can only begin a statement
 * (`routine`, `type`, ...), whichever comes first; then it goes on with the next statement. So every
 * statement's error is reported in one run, and a missing `;` or `)` costs one diagnostic, not a cascade.
 *
 * Building the parser (`performSelfAnalysis`) takes milliseconds, so there is one per process.
 */
import {
  EmbeddedActionsParser,
  EOF,
  isRecognitionException,
  tokenMatcher,
  type IParserErrorMessageProvider,
  type IRecognitionException,
  type IToken,
  type TokenType,
} from "chevrotain";
import { diagnostic, type Diagnostic, type DiagnosticCode, type SourceLocation, type SourceSpan } from "../diagnostics/index.js";
import type {
  ArgumentDeclaration,
  ArgumentDirection,
  ArrayBound,
  CStructTypeSpec,
  CTypeName,
  ErrorStatement,
  Identifier as IdentifierNode,
  ImportStatement,
  IntExpression,
  IntLiteral,
  IpcFlag,
  IpcFlagName,
  IpcPrimitive,
  OptionStatement,
  RcsIdStatement,
  RoutineDeclaration,
  SkipStatement,
  Statement,
  StringToken,
  SubsystemStatement,
  TransOption,
  TransSpec,
  TypeDeclaration,
  TypeSpec,
  EmptyStatement,
} from "./ast.js";
import type { TokenPayload } from "./lexer.js";
import * as T from "./tokens.js";

// ---- names of things, for the AST and for messages ------------------------------------------------

const FLAG_NAMES = new Map<TokenType, IpcFlagName>([
  [T.IsLong, "islong"],
  [T.IsNotLong, "isnotlong"],
  [T.Dealloc, "dealloc"],
  [T.NotDealloc, "notdealloc"],
  [T.ServerCopy, "servercopy"],
  [T.CountInOut, "countinout"],
  [T.RetCode, "retcode"],
  [T.SameCount, "samecount"],
  [T.PhysicalCopy, "physicalcopy"],
  [T.Overwrite, "overwrite"],
  [T.Auto, "auto"],
  [T.Const, "const"],
]);

const DIRECTION_NAMES = new Map<TokenType, ArgumentDirection>([
  [T.In, "in"],
  [T.Out, "out"],
  [T.InOut, "inout"],
  [T.RequestPort, "requestport"],
  [T.ReplyPort, "replyport"],
  [T.SReplyPort, "sreplyport"],
  [T.UReplyPort, "ureplyport"],
  [T.WaitTime, "waittime"],
  [T.MsgOption, "msgoption"],
  [T.MsgSeqno, "msgseqno"],
  [T.SecToken, "sectoken"],
  [T.ServerSecToken, "serversectoken"],
  [T.UserSecToken, "usersectoken"],
  [T.AuditToken, "audittoken"],
  [T.ServerAuditToken, "serveraudittoken"],
  [T.UserAuditToken, "useraudittoken"],
  [T.ServerContextToken, "servercontexttoken"],
  [T.SendTime, "sendtime"],
  [T.ServerImpl, "serverimpl"],
  [T.UserImpl, "userimpl"],
]);

const IMPORT_NAMES = new Map<TokenType, ImportStatement["which"]>([
  [T.Import, "import"],
  [T.UImport, "uimport"],
  [T.SImport, "simport"],
  [T.DImport, "dimport"],
  [T.IImport, "iimport"],
]);

/** Statement keywords of older MIGs, with what to write instead. */
const REMOVED_STATEMENTS: Record<string, string> = {
  procedure: "'procedure' was removed from MIG in 2016: declare a 'routine' instead (it returns a kern_return_t)",
  simpleprocedure: "'simpleprocedure' was removed from MIG in 2016: declare a 'simpleroutine' instead",
  function: "'function' was removed from MIG in 2016: declare a 'routine' with an 'out' argument for the result",
  simplefunction: "'simplefunction' is not part of MIG: declare a 'routine' with an 'out' argument for the result",
  camelotroutine: "'camelotroutine' (Camelot transactions) was never supported by GNU MIG: declare a 'routine'",
};

function tokenName(type: TokenType): string {
  return type.LABEL ?? type.name;
}

function describeToken(token: IToken): string {
  const type = token.tokenType;
  if (type === EOF) return "end of input";
  if (type === T.Identifier) return `identifier '${token.image}'`;
  if (type === T.NumberLiteral) return `number ${token.image}`;
  if (type === T.SymbolicType) return `'${token.image}'`;
  if (type === T.QuotedString || type === T.AngleFileName) return token.image;
  if (T.HARD_KEYWORD_SET.has(type)) return `keyword '${token.image}'`;
  return `'${token.image}'`;
}

// ---- error message provider -------------------------------------------------------------------

/** What the last syntax error expected, captured when chevrotain builds its exception. */
interface PendingError {
  expected: TokenType[];
  offending: IToken;
  previous: IToken;
}

let pending: PendingError | undefined;

/** For a set of lookahead paths, the tokens expected where the input stops matching the furthest. */
function divergence(paths: TokenType[][], actual: IToken[], previous: IToken): PendingError {
  let furthest = 0;
  let expected: TokenType[] = [];
  for (const path of paths) {
    let i = 0;
    while (i < path.length && i < actual.length && tokenMatcher(actual[i], path[i])) i++;
    if (i >= path.length) continue;
    if (i > furthest) {
      furthest = i;
      expected = [];
    }
    if (i === furthest && !expected.includes(path[i])) expected.push(path[i]);
  }
  return { expected, offending: actual[furthest] ?? actual[0], previous: furthest > 0 ? actual[furthest - 1] : previous };
}

const messageProvider: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, previous }) {
    pending = { expected: [expected], offending: actual, previous };
    return "syntax error";
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    pending = { expected: [], offending: firstRedundant, previous: firstRedundant };
    return "syntax error";
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, previous }) {
    pending = divergence(expectedPathsPerAlt.flat(), actual, previous);
    return "syntax error";
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, previous }) {
    pending = divergence(expectedIterationPaths, actual, previous);
    return "syntax error";
  },
};

// ---- the grammar ------------------------------------------------------------------------------

export interface ParseContext {
  tokens: IToken[];
  /** Offsets of characters the lexer could not match (already reported). */
  droppedCharacters: number[];
  locate: (offset: number) => SourceLocation;
  diagnostics: Diagnostic[];
}

class DefsParser extends EmbeddedActionsParser {
  private context: ParseContext = { tokens: [], droppedCharacters: [], locate: () => ({ file: "", line: 0, column: 0 }), diagnostics: [] };

  /** `validate` runs chevrotain's grammar checks (ambiguities, left recursion): the tests do; a compile need not. */
  constructor(validate: boolean) {
    super(T.ALL_TOKEN_TYPES, {
      maxLookahead: 2,
      recoveryEnabled: false,
      errorMessageProvider: messageProvider,
      skipValidations: !validate,
    });
    this.performSelfAnalysis();
  }

  parseFile(context: ParseContext): Statement[] {
    // chevrotain pads the array it parses with end-of-input sentinels: give it a copy.
    this.context = context;
    this.input = context.tokens.slice();
    const statements = this.file();
    this.context = { tokens: [], droppedCharacters: [], locate: context.locate, diagnostics: [] };
    this.input = [];
    return statements;
  }

  // -- helpers (used only inside ACTION, never while chevrotain records the grammar) --

  private at(offset: number): SourceLocation {
    return this.context.locate(offset);
  }

  private tokenSpan(first: IToken, last: IToken = first): SourceSpan {
    return { start: this.at(first.startOffset), end: this.endOf(last) };
  }

  /**
   * Where a token ends. Measured from its start rather than by locating the offset after it: the
   * preprocessor's `locate` knows where tokens start, and the offset after the last token of a line
   * may be whitespace it maps elsewhere.
   */
  private endOf(token: IToken): SourceLocation {
    if (token.image.includes("\n")) return this.at(token.startOffset + token.image.length);
    const start = this.at(token.startOffset);
    return { file: start.file, line: start.line, column: start.column + token.image.length };
  }

  /** From `first` to the last token consumed so far. */
  private spanFrom(first: IToken): SourceSpan {
    return this.tokenSpan(first, this.LA(0));
  }

  private ident(token: IToken): IdentifierNode {
    return { text: token.image, span: this.tokenSpan(token) };
  }

  private numberValue(token: IToken): number {
    const payload = token.payload as TokenPayload | undefined;
    return payload?.kind === "number" ? payload.value : Number(token.image);
  }

  private literal(token: IToken): IntLiteral {
    return { kind: "literal", value: this.numberValue(token), span: this.tokenSpan(token) };
  }

  private stringText(token: IToken): string {
    const payload = token.payload as TokenPayload | undefined;
    return payload?.kind === "string" ? payload.text : token.image;
  }

  /** The next token, as an ACTION so that chevrotain's recording phase does not see it. */
  private next(): IToken {
    return this.ACTION(() => this.LA(1));
  }

  // -- file and statements --

  private readonly file = this.RULE("file", (): Statement[] =>
    this.ACTION(() => {
      const statements: Statement[] = [];
      while (this.LA(1).tokenType !== EOF) {
        const start = this.LA(1);
        try {
          statements.push(this.SUBRULE(this.statement));
        } catch (e) {
          if (!isRecognitionException(e as Error)) throw e;
          this.reportSyntaxError(e as IRecognitionException, start);
          this.resynchronize(start, (e as IRecognitionException).token);
        }
      }
      return statements;
    }),
  );

  private readonly statement = this.RULE("statement", (): Statement =>
    this.OR([
      { ALT: () => this.SUBRULE(this.subsystemStatement) },
      { ALT: () => this.SUBRULE(this.typeDeclaration) },
      { ALT: () => this.SUBRULE(this.routineDeclaration) },
      { ALT: () => this.SUBRULE(this.skipStatement) },
      { ALT: () => this.SUBRULE(this.importStatement) },
      { ALT: () => this.SUBRULE(this.rcsidStatement) },
      { ALT: () => this.SUBRULE(this.optionStatement) },
      { ALT: () => this.SUBRULE(this.errorStatement) },
      { ALT: () => this.SUBRULE(this.emptyStatement) },
    ]),
  );

  private readonly subsystemStatement = this.RULE("subsystemStatement", (): SubsystemStatement => {
    const keyword = this.CONSUME(T.Subsystem);
    const modifiers: IToken[] = [];
    this.MANY(() => {
      modifiers.push(this.OR([{ ALT: () => this.CONSUME(T.KernelUser) }, { ALT: () => this.CONSUME(T.KernelServer) }]));
    });
    const name = this.CONSUME(T.Identifier);
    const base = this.CONSUME(T.NumberLiteral);
    this.CONSUME(T.Semicolon);
    return this.ACTION(() => ({
      kind: "subsystem",
      modifiers: modifiers.map((m) => ({
        name: m.tokenType === T.KernelUser ? ("KernelUser" as const) : ("KernelServer" as const),
        span: this.tokenSpan(m),
      })),
      name: this.ident(name),
      base: this.literal(base),
      span: this.spanFrom(keyword),
    }));
  });

  private readonly typeDeclaration = this.RULE("typeDeclaration", (): TypeDeclaration => {
    const keyword = this.CONSUME(T.Type);
    const name = this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    const spec = this.SUBRULE(this.transSpec);
    this.CONSUME(T.Semicolon);
    return this.ACTION(() => ({ kind: "type", name: this.ident(name), spec, span: this.spanFrom(keyword) }));
  });

  private readonly routineDeclaration = this.RULE("routineDeclaration", (): RoutineDeclaration => {
    const keyword = this.OR([{ ALT: () => this.CONSUME(T.Routine) }, { ALT: () => this.CONSUME(T.SimpleRoutine) }]);
    const name = this.CONSUME(T.Identifier);
    this.CONSUME(T.LParen);
    const args: ArgumentDeclaration[] = [];
    this.OPTION(() => {
      args.push(this.SUBRULE(this.argument));
      this.MANY(() => {
        this.CONSUME(T.Semicolon);
        args.push(this.SUBRULE1(this.argument));
      });
    });
    this.CONSUME(T.RParen);
    this.CONSUME1(T.Semicolon);
    return this.ACTION(() => ({
      kind: keyword.tokenType === T.Routine ? ("routine" as const) : ("simpleroutine" as const),
      name: this.ident(name),
      args,
      span: this.spanFrom(keyword),
    }));
  });

  private readonly skipStatement = this.RULE("skipStatement", (): SkipStatement => {
    const keyword = this.CONSUME(T.Skip);
    const count = this.OPTION(() => this.CONSUME(T.NumberLiteral));
    this.CONSUME(T.Semicolon);
    return this.ACTION(() => ({ kind: "skip", count: count === undefined ? 1 : this.numberValue(count), span: this.spanFrom(keyword) }));
  });

  private readonly importStatement = this.RULE("importStatement", (): ImportStatement => {
    const keyword = this.OR([
      { ALT: () => this.CONSUME(T.Import) },
      { ALT: () => this.CONSUME(T.UImport) },
      { ALT: () => this.CONSUME(T.SImport) },
      { ALT: () => this.CONSUME(T.DImport) },
      { ALT: () => this.CONSUME(T.IImport) },
    ]);
    const file = this.OR1([{ ALT: () => this.CONSUME(T.QuotedString) }, { ALT: () => this.CONSUME(T.AngleFileName) }]);
    this.CONSUME(T.Semicolon);
    return this.ACTION(() => ({
      kind: "import",
      which: IMPORT_NAMES.get(keyword.tokenType)!,
      file: this.stringText(file),
      span: this.spanFrom(keyword),
    }));
  });

  private readonly rcsidStatement = this.RULE("rcsidStatement", (): RcsIdStatement => {
    const keyword = this.CONSUME(T.RcsId);
    const value = this.CONSUME(T.QuotedString);
    this.CONSUME(T.Semicolon);
    return this.ACTION(() => ({ kind: "rcsid", value: this.stringText(value), span: this.spanFrom(keyword) }));
  });

  private readonly optionString = this.RULE("optionString", (): StringToken => {
    const token = this.CONSUME(T.OptionString);
    return this.ACTION(() => ({ text: this.stringText(token), span: this.tokenSpan(token) }));
  });

  private readonly optionStatement = this.RULE("optionStatement", (): OptionStatement => {
    const keyword = this.next();
    const option = this.OR([
      {
        ALT: () => {
          this.CONSUME(T.WaitTime);
          const value = this.SUBRULE(this.optionString);
          return this.ACTION(() => ({ kind: "waittime" as const, value }));
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.MsgOption);
          const value = this.SUBRULE1(this.optionString);
          return this.ACTION(() => ({ kind: "msgoption" as const, value }));
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.NoWaitTime);
          return { kind: "nowaittime" as const };
        },
      },
      {
        ALT: () => {
          const kw = this.OR1([
            { ALT: () => this.CONSUME(T.ServerPrefix) },
            { ALT: () => this.CONSUME(T.UserPrefix) },
            { ALT: () => this.CONSUME(T.ServerDemux) },
          ]);
          const value = this.CONSUME(T.Identifier);
          return this.ACTION(() => ({
            kind:
              kw.tokenType === T.ServerPrefix
                ? ("serverprefix" as const)
                : kw.tokenType === T.UserPrefix
                  ? ("userprefix" as const)
                  : ("serverdemux" as const),
            value: this.ident(value),
          }));
        },
      },
      {
        ALT: () => {
          const kw = this.OR2([
            { ALT: () => this.CONSUME(T.UseSpecialReplyPort) },
            { ALT: () => this.CONSUME(T.UserTypeLimit) },
            { ALT: () => this.CONSUME(T.OnStackLimit) },
          ]);
          const value = this.CONSUME1(T.NumberLiteral);
          return this.ACTION(() => ({
            kind:
              kw.tokenType === T.UseSpecialReplyPort
                ? ("usespecialreplyport" as const)
                : kw.tokenType === T.UserTypeLimit
                  ? ("usertypelimit" as const)
                  : ("onstacklimit" as const),
            value: this.literal(value),
          }));
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.ConsumeOnSendError);
          const value = this.CONSUME1(T.Identifier);
          return this.ACTION(() => ({ kind: "consumeonsenderror" as const, value: this.ident(value) }));
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.SendTime);
          const value = this.OPTION(() => this.CONSUME2(T.Identifier));
          return this.ACTION(() => (value === undefined ? { kind: "sendtime" as const } : { kind: "sendtime" as const, value: this.ident(value) }));
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.NoSendTime);
          return { kind: "nosendtime" as const };
        },
      },
    ]);
    this.CONSUME(T.Semicolon);
    return this.ACTION(() => ({ ...option, span: this.spanFrom(keyword) }));
  });

  private readonly errorStatement = this.RULE("errorStatement", (): ErrorStatement => {
    const keyword = this.CONSUME(T.ErrorKw);
    const value = this.CONSUME(T.Identifier);
    this.CONSUME(T.Semicolon);
    return this.ACTION(() => ({ kind: "error", value: this.ident(value), span: this.spanFrom(keyword) }));
  });

  private readonly emptyStatement = this.RULE("emptyStatement", (): EmptyStatement => {
    const semicolon = this.CONSUME(T.Semicolon);
    return this.ACTION(() => ({ kind: "empty", span: this.tokenSpan(semicolon) }));
  });

  // -- types --

  private readonly transSpec = this.RULE("transSpec", (): TransSpec => {
    const first = this.next();
    const type = this.SUBRULE(this.typeSpec);
    const options: TransOption[] = [];
    this.MANY(() => {
      options.push(this.SUBRULE(this.transOption));
    });
    return this.ACTION(() => ({ type, options, span: this.spanFrom(first) }));
  });

  private readonly transOption = this.RULE("transOption", (): TransOption => {
    const first = this.next();
    const option = this.OR([
      {
        ALT: () => {
          this.CONSUME(T.InTran);
          this.CONSUME(T.Colon);
          const transType = this.SUBRULE(this.cTypeName);
          const fn = this.CONSUME(T.Identifier);
          this.CONSUME(T.LParen);
          const serverType = this.SUBRULE1(this.cTypeName);
          this.CONSUME(T.RParen);
          return this.ACTION(() => ({ kind: "intran" as const, transType, function: this.ident(fn), serverType }));
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.InTranPayload);
          this.CONSUME1(T.Colon);
          const transType = this.SUBRULE2(this.cTypeName);
          const fn = this.CONSUME1(T.Identifier);
          return this.ACTION(() => ({ kind: "intranpayload" as const, transType, function: this.ident(fn) }));
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.OutTran);
          this.CONSUME2(T.Colon);
          const serverType = this.SUBRULE3(this.cTypeName);
          const fn = this.CONSUME2(T.Identifier);
          this.CONSUME1(T.LParen);
          const transType = this.SUBRULE4(this.cTypeName);
          this.CONSUME1(T.RParen);
          return this.ACTION(() => ({ kind: "outtran" as const, serverType, function: this.ident(fn), transType }));
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.Destructor);
          this.CONSUME3(T.Colon);
          const fn = this.CONSUME3(T.Identifier);
          this.CONSUME2(T.LParen);
          const transType = this.SUBRULE5(this.cTypeName);
          this.CONSUME2(T.RParen);
          return this.ACTION(() => ({ kind: "destructor" as const, function: this.ident(fn), transType }));
        },
      },
      {
        ALT: () => {
          const kw = this.OR1([
            { ALT: () => this.CONSUME(T.CType) },
            { ALT: () => this.CONSUME(T.CUserType) },
            { ALT: () => this.CONSUME(T.CServerType) },
          ]);
          this.CONSUME4(T.Colon);
          const cType = this.SUBRULE6(this.cTypeName);
          return this.ACTION(() => ({
            kind: kw.tokenType === T.CType ? ("ctype" as const) : kw.tokenType === T.CUserType ? ("cusertype" as const) : ("cservertype" as const),
            cType,
          }));
        },
      },
    ]);
    return this.ACTION(() => ({ ...option, span: this.spanFrom(first) }));
  });

  private readonly cTypeName = this.RULE("cTypeName", (): CTypeName => {
    const first = this.next();
    const name = this.OR([
      {
        ALT: () => {
          this.CONSUME(T.PointerToIfNot);
          this.CONSUME(T.LParen);
          const target = this.CONSUME(T.Identifier);
          this.CONSUME(T.Comma);
          const bad = this.CONSUME1(T.Identifier);
          this.CONSUME(T.RParen);
          return this.ACTION(() => ({ kind: "PointerToIfNot" as const, target: this.ident(target), bad: this.ident(bad) }));
        },
      },
      {
        ALT: () => {
          const kw = this.OR1([{ ALT: () => this.CONSUME(T.PointerTo) }, { ALT: () => this.CONSUME(T.ValueOf) }]);
          this.CONSUME1(T.LParen);
          const target = this.CONSUME2(T.Identifier);
          this.CONSUME1(T.RParen);
          return this.ACTION(() => ({
            kind: kw.tokenType === T.PointerTo ? ("PointerTo" as const) : ("ValueOf" as const),
            target: this.ident(target),
          }));
        },
      },
      {
        ALT: () => {
          const name = this.CONSUME3(T.Identifier);
          return this.ACTION(() => ({ kind: "name" as const, name: this.ident(name) }));
        },
      },
    ]);
    return this.ACTION(() => ({ ...name, span: this.spanFrom(first) }));
  });

  private readonly typeSpec = this.RULE("typeSpec", (): TypeSpec =>
    this.OR([
      { ALT: () => this.SUBRULE(this.ipcTypeSpec) },
      { ALT: () => this.SUBRULE(this.longIpcTypeSpec) },
      {
        ALT: () => {
          const name = this.CONSUME(T.Identifier);
          return this.ACTION(() => ({ kind: "named" as const, name: this.ident(name), span: this.tokenSpan(name) }));
        },
      },
      { ALT: () => this.SUBRULE(this.arrayTypeSpec) },
      { ALT: () => this.SUBRULE(this.structTypeSpec) },
      {
        ALT: () => {
          const caret = this.CONSUME(T.Caret);
          const target = this.SUBRULE(this.typeSpec);
          return this.ACTION(() => ({ kind: "pointer" as const, target, span: this.spanFrom(caret) }));
        },
      },
      { ALT: () => this.SUBRULE(this.cStringTypeSpec) },
    ]),
  );

  private readonly ipcPrimitive = this.RULE("ipcPrimitive", (): IpcPrimitive =>
    this.OR([
      {
        ALT: () => {
          const token = this.CONSUME(T.NumberLiteral);
          return this.ACTION(() => ({ kind: "number" as const, value: this.numberValue(token), span: this.tokenSpan(token) }));
        },
      },
      {
        ALT: () => {
          const token = this.CONSUME(T.SymbolicType);
          return this.ACTION(() => ({
            kind: "symbolic" as const,
            name: (token.payload as TokenPayload & { kind: "symbolic" }).canonical,
            spelled: token.image,
            span: this.tokenSpan(token),
          }));
        },
      },
      {
        ALT: () => {
          const token = this.CONSUME(T.Polymorphic);
          return this.ACTION(() => ({ kind: "polymorphic" as const, span: this.tokenSpan(token) }));
        },
      },
    ]),
  );

  /** `A` or `A|B`. */
  private readonly ipcNames = this.RULE("ipcNames", (): { inName: IpcPrimitive; outName?: IpcPrimitive } => {
    const inName = this.SUBRULE(this.ipcPrimitive);
    const outName = this.OPTION(() => {
      this.CONSUME(T.Bar);
      return this.SUBRULE1(this.ipcPrimitive);
    });
    return this.ACTION(() => (outName === undefined ? { inName } : { inName, outName }));
  });

  private readonly ipcTypeSpec = this.RULE("ipcTypeSpec", (): TypeSpec => {
    const first = this.next();
    const names = this.SUBRULE(this.ipcNames);
    return this.ACTION(() => ({ kind: "ipc" as const, ...names, span: this.spanFrom(first) }));
  });

  private readonly longIpcTypeSpec = this.RULE("longIpcTypeSpec", (): TypeSpec => {
    const open = this.CONSUME(T.LParen);
    const names = this.SUBRULE(this.ipcNames);
    this.CONSUME(T.Comma);
    const size = this.SUBRULE(this.intExpression);
    const flags: IpcFlag[] = [];
    this.MANY(() => {
      this.CONSUME1(T.Comma);
      flags.push(this.SUBRULE(this.ipcFlag));
    });
    this.CONSUME(T.RParen);
    return this.ACTION(() => ({ kind: "long" as const, ...names, size, flags, span: this.spanFrom(open) }));
  });

  private readonly arrayTypeSpec = this.RULE("arrayTypeSpec", (): TypeSpec => {
    const keyword = this.CONSUME(T.ArrayKw);
    const open = this.CONSUME(T.LBracket);
    const bound = this.OPTION(() =>
      this.OR([
        {
          ALT: () => {
            const star = this.CONSUME(T.Star);
            const max = this.OPTION1(() => {
              this.CONSUME(T.Colon);
              return this.SUBRULE(this.intExpression);
            });
            return this.ACTION((): ArrayBound => {
              const span = this.spanFrom(star);
              return max === undefined ? { kind: "indefinite", span } : { kind: "bounded", max, span };
            });
          },
        },
        {
          ALT: () => {
            const size = this.SUBRULE1(this.intExpression);
            return this.ACTION((): ArrayBound => ({ kind: "fixed", size, span: size.span }));
          },
        },
      ]),
    );
    const close = this.CONSUME(T.RBracket);
    this.CONSUME(T.Of);
    const element = this.SUBRULE(this.typeSpec);
    return this.ACTION(() => ({
      kind: "array" as const,
      bound: bound ?? { kind: "indefinite" as const, span: this.tokenSpan(open, close) },
      element,
      span: this.spanFrom(keyword),
    }));
  });

  private readonly structTypeSpec = this.RULE("structTypeSpec", (): TypeSpec => {
    const keyword = this.CONSUME(T.Struct);
    return this.OR([
      {
        ALT: () => {
          this.CONSUME(T.LBracket);
          const size = this.SUBRULE(this.intExpression);
          this.CONSUME(T.RBracket);
          this.CONSUME(T.Of);
          const element = this.SUBRULE(this.typeSpec);
          return this.ACTION(() => ({ kind: "structarray" as const, size, element, span: this.spanFrom(keyword) }));
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.LBrace);
          const fields: CStructTypeSpec["fields"] = [];
          this.AT_LEAST_ONE(() => {
            const type = this.CONSUME(T.Identifier);
            const name = this.CONSUME1(T.Identifier);
            this.CONSUME(T.Semicolon);
            this.ACTION(() => fields.push({ type: this.ident(type), name: this.ident(name), span: this.spanFrom(type) }));
          });
          this.CONSUME(T.RBrace);
          return this.ACTION(() => ({ kind: "cstruct" as const, fields, span: this.spanFrom(keyword) }));
        },
      },
    ]);
  });

  private readonly cStringTypeSpec = this.RULE("cStringTypeSpec", (): TypeSpec => {
    const keyword = this.CONSUME(T.CString);
    this.CONSUME(T.LBracket);
    const variable = this.OPTION(() => {
      this.CONSUME(T.Star);
      this.CONSUME(T.Colon);
      return true;
    });
    const size = this.SUBRULE(this.intExpression);
    this.CONSUME(T.RBracket);
    return this.ACTION(() => ({ kind: "cstring" as const, variable: variable === true, size, span: this.spanFrom(keyword) }));
  });

  private readonly ipcFlag = this.RULE("ipcFlag", (): IpcFlag => {
    const flag = this.CONSUME(T.IpcFlagToken);
    const dynamic = this.OPTION(() => {
      this.CONSUME(T.LBracket);
      this.CONSUME(T.RBracket);
      return true;
    });
    return this.ACTION(() => ({ name: FLAG_NAMES.get(flag.tokenType)!, dynamic: dynamic === true, span: this.spanFrom(flag) }));
  });

  // -- integer expressions: `+ -` below `* /`, both left-associative --

  private readonly intExpression = this.RULE("intExpression", (): IntExpression => {
    let left = this.SUBRULE(this.intTerm);
    this.MANY(() => {
      const op = this.OR([{ ALT: () => this.CONSUME(T.Plus) }, { ALT: () => this.CONSUME(T.Minus) }]);
      const right = this.SUBRULE1(this.intTerm);
      left = this.ACTION(() => this.binary(op, left, right));
    });
    return left;
  });

  private readonly intTerm = this.RULE("intTerm", (): IntExpression => {
    let left = this.SUBRULE(this.intFactor);
    this.MANY(() => {
      const op = this.OR([{ ALT: () => this.CONSUME(T.Star) }, { ALT: () => this.CONSUME(T.Slash) }]);
      const right = this.SUBRULE1(this.intFactor);
      left = this.ACTION(() => this.binary(op, left, right));
    });
    return left;
  });

  private readonly intFactor = this.RULE("intFactor", (): IntExpression =>
    this.OR([
      {
        ALT: () => {
          const token = this.CONSUME(T.NumberLiteral);
          return this.ACTION(() => this.literal(token));
        },
      },
      {
        ALT: () => {
          const open = this.CONSUME(T.LParen);
          const inner = this.SUBRULE(this.intExpression);
          this.CONSUME(T.RParen);
          // The parentheses belong to the expression's span, so a diagnostic can underline them too.
          return this.ACTION(() => ({ ...inner, span: this.spanFrom(open) }));
        },
      },
    ]),
  );

  private binary(op: IToken, left: IntExpression, right: IntExpression): IntExpression {
    return {
      kind: "binary",
      operator: op.image as "+" | "-" | "*" | "/",
      left,
      right,
      span: { start: left.span.start, end: right.span.end },
    };
  }

  // -- routine arguments --

  private readonly argument = this.RULE("argument", (): ArgumentDeclaration => {
    const first = this.next();
    const direction = this.OPTION({
      // Apple's argument kinds are soft keywords: `sectoken : T` is an argument named sectoken.
      GATE: () => this.LA(2).tokenType !== T.Colon,
      DEF: () => this.OR([{ ALT: () => this.CONSUME(T.DirectionToken) }, { ALT: () => this.CONSUME(T.SoftDirectionToken) }]),
    });
    const name = this.CONSUME(T.Identifier);
    this.CONSUME(T.Colon);
    const typeName = this.CONSUME1(T.Identifier);
    const spec = this.OPTION1(() => {
      this.CONSUME(T.Equals);
      return this.SUBRULE(this.transSpec);
    });
    const flags: IpcFlag[] = [];
    this.MANY(() => {
      this.CONSUME(T.Comma);
      flags.push(this.SUBRULE(this.ipcFlag));
    });
    return this.ACTION(() => {
      const arg: ArgumentDeclaration = { name: this.ident(name), typeName: this.ident(typeName), flags, span: this.spanFrom(first) };
      if (direction !== undefined) arg.direction = { name: DIRECTION_NAMES.get(direction.tokenType)!, span: this.tokenSpan(direction) };
      if (spec !== undefined) arg.spec = spec;
      return arg;
    });
  });

  // -- errors --

  private tokenIndex(token: IToken): number {
    const tokens = this.context.tokens;
    if (token.tokenType === EOF) return tokens.length;
    let lo = 0;
    let hi = tokens.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (tokens[mid].startOffset < token.startOffset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private reportSyntaxError(error: IRecognitionException, statementStart: IToken): void {
    const info = pending ?? { expected: [], offending: error.token, previous: error.token };
    pending = undefined;
    const token = info.offending;
    const expected = info.expected.map(tokenName);
    const expectedText =
      expected.length === 0 ? "" : expected.length === 1 ? `expected ${expected[0]}` : `expected one of ${expected.join(", ")}`;
    const previous = info.previous;
    const havePrevious = previous !== undefined && previous.tokenType !== EOF && Number.isFinite(previous.startOffset);

    let code: DiagnosticCode = "MIG2003";
    let message: string;
    let where: SourceLocation;
    if (token.tokenType === EOF) {
      code = "MIG2008";
      message = `unexpected end of input${expectedText ? `: ${expectedText}` : ""}`;
      const last = this.context.tokens[this.context.tokens.length - 1];
      where = last === undefined ? this.at(0) : this.endOf(last);
    } else {
      where = this.at(token.startOffset);
      const removed = REMOVED_STATEMENTS[token.image.toLowerCase()];
      if (token === statementStart && token.tokenType === T.Identifier && removed !== undefined) {
        code = "MIG2007";
        message = removed;
      } else if (
        (info.expected.includes(T.Identifier) || this.context.tokens[this.tokenIndex(token) + 1]?.tokenType === T.Colon) &&
        T.HARD_KEYWORD_SET.has(token.tokenType) &&
        // A statement keyword on a new line more likely starts the next statement after an unfinished one.
        !(T.STATEMENT_ONLY_KEYWORDS.has(token.tokenType) && havePrevious && this.at(previous.startOffset).line < where.line)
      ) {
        code = "MIG2009";
        message = `'${token.image}' is a reserved keyword and cannot be used as a name${expected.length > 1 ? ` (${expectedText})` : ""}`;
      } else if (
        info.expected.includes(T.Semicolon) &&
        havePrevious &&
        (T.STATEMENT_ONLY_KEYWORDS.has(token.tokenType) || this.at(previous.startOffset).line < where.line)
      ) {
        code = "MIG2010";
        message = `missing ';' after ${describeToken(previous)} (found ${describeToken(token)})`;
      } else {
        message = `${expectedText || "syntax error"}, found ${describeToken(token)}`;
      }
    }
    // A character the lexer dropped already explains a syntax error in the same statement.
    const end = token.tokenType === EOF ? Infinity : token.startOffset + token.image.length;
    if (this.context.droppedCharacters.some((offset) => offset >= statementStart.startOffset && offset <= end)) return;
    this.context.diagnostics.push(diagnostic(code, message, where, { expected }));
  }

  /** Skips to just after the `;` that ends the failed statement, or to the next statement keyword. */
  private resynchronize(statementStart: IToken, errorToken: IToken): void {
    const tokens = this.context.tokens;
    const start = this.tokenIndex(statementStart);
    let i = Math.max(this.tokenIndex(errorToken), start);
    let depth = 0;
    for (let j = start; j < i; j++) depth += nesting(tokens[j].tokenType);
    if (i === start) {
      depth += nesting(tokens[i]?.tokenType);
      i++;
    }
    let target = tokens.length;
    for (; i < tokens.length; i++) {
      const type = tokens[i].tokenType;
      if (type === T.Semicolon && depth <= 0) {
        target = i + 1;
        break;
      }
      if (T.STATEMENT_ONLY_KEYWORDS.has(type)) {
        target = i;
        break;
      }
      depth += nesting(type);
    }
    const stop = tokens[target];
    while (this.LA(1) !== stop && this.LA(1).tokenType !== EOF) this.SKIP_TOKEN();
  }
}

function nesting(type: TokenType | undefined): number {
  if (type === T.LParen || type === T.LBrace) return 1;
  if (type === T.RParen || type === T.RBrace) return -1;
  return 0;
}

let parser: DefsParser | undefined;

/** Parses a token stream; the parser is built on first use and reused. */
export function parseTokens(context: ParseContext): Statement[] {
  parser ??= new DefsParser(false);
  return parser.parseFile(context);
}

/** Builds a parser with chevrotain's grammar validations on; throws if the grammar has a defect. For tests. */
export function validateGrammar(): void {
  new DefsParser(true);
}
