/**
 * The token vocabulary of `.defs` files.
 *
 * The chevrotain lexer only knows a handful of shapes (identifier, number, punctuation, strings,
 * the two context-dependent tokens of MIG's lexer modes). Keywords and the symbolic IPC type names
 * are recognised after lexing, by looking the identifier up in a table (`classifyWord`): one map
 * lookup per identifier instead of trying ~80 keyword patterns at every word.
 *
 * Keywords come in two kinds:
 *  - GNU MIG's keywords are reserved, case-insensitively, exactly as in GNU MIG's lexer: `type in = int;`
 *    is an error there, and here.
 *  - Apple MIG's additions (and the `error` statement GNU MIG dropped in 2023) are *soft*: they are
 *    keywords only where the grammar expects them and ordinary identifiers everywhere else (their token
 *    types belong to the Identifier category), so a GNU `.defs` that happens to name an argument
 *    `const` or `overwrite` still parses as it does with GNU MIG.
 */
import { createToken, Lexer, type TokenType } from "chevrotain";

// ---- categories -------------------------------------------------------------------------------

// The start characters are given so that building the lexer need not analyse the regular expressions.
export const LETTERS = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"];
export const DIGITS = [..."0123456789"];
export const Identifier = createToken({
  name: "Identifier",
  pattern: /[A-Za-z_][A-Za-z0-9_]*/,
  label: "identifier",
  start_chars_hint: LETTERS,
});
export const NumberLiteral = createToken({ name: "NumberLiteral", pattern: /[0-9]+/, label: "number", start_chars_hint: DIGITS });
/** Any IPC flag keyword (`dealloc`, `islong`, ..., and Apple's soft flags). */
export const IpcFlagToken = createToken({ name: "IpcFlag", pattern: Lexer.NA, label: "IPC flag" });
/** A reserved argument direction keyword (`in`, `out`, `waittime`, ...). */
export const DirectionToken = createToken({ name: "Direction", pattern: Lexer.NA, label: "argument kind" });
/** Apple's argument kinds (`sectoken`, ...): soft keywords, told apart from a name by the token after them. */
export const SoftDirectionToken = createToken({ name: "SoftDirection", pattern: Lexer.NA, label: "argument kind" });
/** `MACH_MSG_TYPE_*` (and Mach 2.5 `MSG_TYPE_*`): the canonical name is in the token's payload. */
export const SymbolicType = createToken({ name: "SymbolicType", pattern: Lexer.NA, label: "MACH_MSG_TYPE_* name" });

// ---- punctuation ------------------------------------------------------------------------------

function punct(name: string, char: string): TokenType {
  return createToken({ name, pattern: char, label: `'${char}'` });
}
export const Colon = punct("Colon", ":");
export const Semicolon = punct("Semicolon", ";");
export const Comma = punct("Comma", ",");
export const Plus = punct("Plus", "+");
export const Minus = punct("Minus", "-");
export const Star = punct("Star", "*");
export const Slash = punct("Slash", "/");
export const LParen = punct("LParen", "(");
export const RParen = punct("RParen", ")");
export const Equals = punct("Equals", "=");
export const Caret = punct("Caret", "^");
export const Tilde = punct("Tilde", "~");
export const Less = punct("Less", "<");
export const Greater = punct("Greater", ">");
export const LBracket = punct("LBracket", "[");
export const RBracket = punct("RBracket", "]");
export const LBrace = punct("LBrace", "{");
export const RBrace = punct("RBrace", "}");
export const Bar = punct("Bar", "|");

// ---- strings and the lexer modes ----------------------------------------------------------------

/** `"..."`: the file name of an import or the string of `rcsid` (GNU's FileName and QString modes). */
export const QuotedString = createToken({ name: "QuotedString", pattern: Lexer.NA, label: "quoted string" });
/** `<...>` after an import keyword (GNU's FileName mode). */
export const AngleFileName = createToken({ name: "AngleFileName", pattern: Lexer.NA, label: "<file name>" });
/** The word after a statement-level `waittime`/`msgoption` (GNU's String mode): `[-/._$A-Za-z0-9]+`. */
export const OptionString = createToken({ name: "OptionString", pattern: Lexer.NA, label: "option value" });

// ---- keywords ---------------------------------------------------------------------------------

function keyword(spelling: string, categories: TokenType[] = []): TokenType {
  return createToken({ name: `Kw_${spelling}`, pattern: Lexer.NA, label: `'${spelling}'`, categories });
}
function softKeyword(spelling: string, categories: TokenType[] = []): TokenType {
  return createToken({ name: `Soft_${spelling}`, pattern: Lexer.NA, label: `'${spelling}'`, categories: [Identifier, ...categories] });
}

// GNU MIG (reserved, case-insensitive).
export const Routine = keyword("routine");
export const SimpleRoutine = keyword("simpleroutine");
export const Subsystem = keyword("subsystem");
export const MsgOption = keyword("msgoption", [DirectionToken]);
export const MsgSeqno = keyword("msgseqno", [DirectionToken]);
export const WaitTime = keyword("waittime", [DirectionToken]);
export const NoWaitTime = keyword("nowaittime");
export const In = keyword("in", [DirectionToken]);
export const Out = keyword("out", [DirectionToken]);
export const InOut = keyword("inout", [DirectionToken]);
export const RequestPort = keyword("requestport", [DirectionToken]);
export const ReplyPort = keyword("replyport", [DirectionToken]);
export const UReplyPort = keyword("ureplyport", [DirectionToken]);
export const SReplyPort = keyword("sreplyport", [DirectionToken]);
export const ArrayKw = keyword("array");
export const Of = keyword("of");
export const ServerPrefix = keyword("serverprefix");
export const UserPrefix = keyword("userprefix");
export const ServerDemux = keyword("serverdemux");
export const RcsId = keyword("rcsid");
export const Import = keyword("import");
export const UImport = keyword("uimport");
export const SImport = keyword("simport");
export const Type = keyword("type");
export const KernelServer = keyword("kernelserver");
export const KernelUser = keyword("kerneluser");
export const Skip = keyword("skip");
export const Struct = keyword("struct");
export const InTran = keyword("intran");
export const InTranPayload = keyword("intranpayload");
export const OutTran = keyword("outtran");
export const Destructor = keyword("destructor");
export const CType = keyword("ctype");
export const CUserType = keyword("cusertype");
export const CServerType = keyword("cservertype");
export const CString = keyword("c_string");
export const Polymorphic = keyword("polymorphic");
export const IsLong = keyword("islong", [IpcFlagToken]);
export const IsNotLong = keyword("isnotlong", [IpcFlagToken]);
export const Dealloc = keyword("dealloc", [IpcFlagToken]);
export const NotDealloc = keyword("notdealloc", [IpcFlagToken]);
export const ServerCopy = keyword("servercopy", [IpcFlagToken]);
export const CountInOut = keyword("countinout", [IpcFlagToken]);
export const RetCode = keyword("retcode", [IpcFlagToken]);

// Soft: the 2022 GNU `error` statement, and Apple MIG.
export const ErrorKw = softKeyword("error");
export const UseSpecialReplyPort = softKeyword("UseSpecialReplyPort");
export const ConsumeOnSendError = softKeyword("ConsumeOnSendError");
export const UserTypeLimit = softKeyword("UserTypeLimit");
export const OnStackLimit = softKeyword("OnStackLimit");
export const SendTime = softKeyword("SendTime", [SoftDirectionToken]);
export const NoSendTime = softKeyword("NoSendTime");
export const DImport = softKeyword("dimport");
export const IImport = softKeyword("iimport");
export const SecToken = softKeyword("sectoken", [SoftDirectionToken]);
export const ServerSecToken = softKeyword("serversectoken", [SoftDirectionToken]);
export const UserSecToken = softKeyword("usersectoken", [SoftDirectionToken]);
export const AuditToken = softKeyword("audittoken", [SoftDirectionToken]);
export const ServerAuditToken = softKeyword("serveraudittoken", [SoftDirectionToken]);
export const UserAuditToken = softKeyword("useraudittoken", [SoftDirectionToken]);
export const ServerContextToken = softKeyword("servercontexttoken", [SoftDirectionToken]);
export const ServerImpl = softKeyword("serverimpl", [SoftDirectionToken]);
export const UserImpl = softKeyword("userimpl", [SoftDirectionToken]);
export const PointerTo = softKeyword("PointerTo");
export const PointerToIfNot = softKeyword("PointerToIfNot");
export const ValueOf = softKeyword("ValueOf");
export const SameCount = softKeyword("SameCount", [IpcFlagToken]);
export const PhysicalCopy = softKeyword("PhysicalCopy", [IpcFlagToken]);
export const Overwrite = softKeyword("Overwrite", [IpcFlagToken]);
export const Auto = softKeyword("Auto", [IpcFlagToken]);
export const Const = softKeyword("Const", [IpcFlagToken]);

const HARD_KEYWORDS: TokenType[] = [
  Routine, SimpleRoutine, Subsystem, MsgOption, MsgSeqno, WaitTime, NoWaitTime, In, Out, InOut,
  RequestPort, ReplyPort, UReplyPort, SReplyPort, ArrayKw, Of, ServerPrefix, UserPrefix, ServerDemux,
  RcsId, Import, UImport, SImport, Type, KernelServer, KernelUser, Skip, Struct, InTran, InTranPayload,
  OutTran, Destructor, CType, CUserType, CServerType, CString, Polymorphic, IsLong, IsNotLong, Dealloc,
  NotDealloc, ServerCopy, CountInOut, RetCode,
];

const SOFT_KEYWORDS: TokenType[] = [
  ErrorKw, UseSpecialReplyPort, ConsumeOnSendError, UserTypeLimit, OnStackLimit, SendTime, NoSendTime,
  DImport, IImport, SecToken, ServerSecToken, UserSecToken, AuditToken, ServerAuditToken, UserAuditToken,
  ServerContextToken, ServerImpl, UserImpl, PointerTo, PointerToIfNot, ValueOf, SameCount, PhysicalCopy,
  Overwrite, Auto, Const,
];

/** Lower-cased spelling -> keyword token type. */
const KEYWORDS = new Map<string, TokenType>();
for (const t of [...HARD_KEYWORDS, ...SOFT_KEYWORDS]) {
  KEYWORDS.set(t.name.slice(t.name.indexOf("_") + 1).toLowerCase(), t);
}

/** Statement keywords that can appear nowhere inside a statement: error recovery stops in front of them. */
export const STATEMENT_ONLY_KEYWORDS: ReadonlySet<TokenType> = new Set([
  Routine, SimpleRoutine, Subsystem, NoWaitTime, ServerPrefix, UserPrefix, ServerDemux, RcsId, Import,
  UImport, SImport, Type, Skip,
]);

/** Reserved (GNU) keywords: the ones that cannot be used as names. */
export const HARD_KEYWORD_SET: ReadonlySet<TokenType> = new Set(HARD_KEYWORDS);

// ---- symbolic IPC type names ----------------------------------------------------------------------

export type SymbolicOrigin = "gnu" | "apple" | "mach25";

export interface SymbolicTypeName {
  /** The name the semantic phase should interpret (GNU's spelling where one exists). */
  canonical: string;
  /** Where the spelling comes from: GNU MIG, Apple MIG only, or Mach 2.5 MIG. */
  origin: SymbolicOrigin;
}

const GNU_TYPE_NAMES = [
  "UNSTRUCTURED", "BIT", "BOOLEAN", "INTEGER_8", "INTEGER_16", "INTEGER_32", "INTEGER_64", "CHAR", "BYTE",
  "REAL", "STRING", "STRING_C", "MOVE_RECEIVE", "COPY_SEND", "MAKE_SEND", "MOVE_SEND", "MAKE_SEND_ONCE",
  "MOVE_SEND_ONCE", "PORT_NAME", "PORT_RECEIVE", "PORT_SEND", "PORT_SEND_ONCE", "POLYMORPHIC",
];

/** Apple MIG's extra names; they keep their own canonical name for the semantic phase to reject. */
const APPLE_TYPE_NAMES = ["REAL_32", "REAL_64"];

/**
 * Mach 2.5 `MSG_TYPE_*` spellings (the CMU paper's). Data types map one to one. For rights, a Mach 2.5
 * `MSG_TYPE_PORT` gave the receiver a send right and left the sender's in place (Mach 3's COPY_SEND),
 * and `MSG_TYPE_PORT_ALL` handed over all rights to the port (Mach 3's MOVE_RECEIVE). Ownership-only and
 * receive-only rights and `MSG_TYPE_INTERNAL_MEMORY` have no Mach 3 equivalent: they keep their own
 * name, and the semantic phase reports them.
 */
const MACH25_TYPE_NAMES: Record<string, string> = {
  MSG_TYPE_UNSTRUCTURED: "MACH_MSG_TYPE_UNSTRUCTURED",
  MSG_TYPE_BIT: "MACH_MSG_TYPE_BIT",
  MSG_TYPE_BOOLEAN: "MACH_MSG_TYPE_BOOLEAN",
  MSG_TYPE_INTEGER_8: "MACH_MSG_TYPE_INTEGER_8",
  MSG_TYPE_INTEGER_16: "MACH_MSG_TYPE_INTEGER_16",
  MSG_TYPE_INTEGER_32: "MACH_MSG_TYPE_INTEGER_32",
  MSG_TYPE_INTEGER_64: "MACH_MSG_TYPE_INTEGER_64",
  MSG_TYPE_CHAR: "MACH_MSG_TYPE_CHAR",
  MSG_TYPE_BYTE: "MACH_MSG_TYPE_BYTE",
  MSG_TYPE_REAL: "MACH_MSG_TYPE_REAL",
  MSG_TYPE_STRING: "MACH_MSG_TYPE_STRING",
  MSG_TYPE_STRING_C: "MACH_MSG_TYPE_STRING_C",
  MSG_TYPE_PORT: "MACH_MSG_TYPE_COPY_SEND",
  MSG_TYPE_PORT_ALL: "MACH_MSG_TYPE_MOVE_RECEIVE",
  MSG_TYPE_PORT_NAME: "MACH_MSG_TYPE_PORT_NAME",
  MSG_TYPE_POLYMORPHIC: "MACH_MSG_TYPE_POLYMORPHIC",
  MSG_TYPE_PORT_OWNERSHIP: "MSG_TYPE_PORT_OWNERSHIP",
  MSG_TYPE_PORT_RECEIVE: "MSG_TYPE_PORT_RECEIVE",
  MSG_TYPE_INTERNAL_MEMORY: "MSG_TYPE_INTERNAL_MEMORY",
};

/** Every symbolic IPC type spelling the lexer recognises (case-sensitive, exact). */
export const SYMBOLIC_TYPE_NAMES: ReadonlyMap<string, SymbolicTypeName> = (() => {
  const m = new Map<string, SymbolicTypeName>();
  for (const n of GNU_TYPE_NAMES) m.set(`MACH_MSG_TYPE_${n}`, { canonical: `MACH_MSG_TYPE_${n}`, origin: "gnu" });
  for (const n of APPLE_TYPE_NAMES) m.set(`MACH_MSG_TYPE_${n}`, { canonical: `MACH_MSG_TYPE_${n}`, origin: "apple" });
  for (const [spelled, canonical] of Object.entries(MACH25_TYPE_NAMES)) m.set(spelled, { canonical, origin: "mach25" });
  return m;
})();

/** Classifies a lexed word: a symbolic type name (exact case), a keyword (any case), or undefined (identifier). */
export function classifyWord(word: string): TokenType | undefined {
  // Every symbolic name starts with M (MACH_MSG_TYPE_*, MSG_TYPE_*).
  if (word.charCodeAt(0) === 0x4d && SYMBOLIC_TYPE_NAMES.has(word)) return SymbolicType;
  return KEYWORDS.get(word.toLowerCase());
}

/** True when `word` is (case-insensitively) one of the given keyword types. */
export function isWord(word: string, ...types: TokenType[]): boolean {
  const t = KEYWORDS.get(word.toLowerCase());
  return t !== undefined && types.includes(t);
}

export const ALL_TOKEN_TYPES: TokenType[] = [
  Identifier, NumberLiteral, IpcFlagToken, DirectionToken, SoftDirectionToken, SymbolicType,
  Colon, Semicolon, Comma, Plus, Minus, Star, Slash, LParen, RParen, Equals, Caret, Tilde, Less, Greater,
  LBracket, RBracket, LBrace, RBrace, Bar, QuotedString, AngleFileName, OptionString,
  ...HARD_KEYWORDS, ...SOFT_KEYWORDS,
];
