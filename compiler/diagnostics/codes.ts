/**
 * The diagnostic catalog: every code the compiler can report, with its default severity and a
 * one-line description (the README's diagnostics table is generated from this list).
 *
 * Codes are stable: never renumber or reuse one. Ranges by phase:
 *   MIG0xxx  command line and files
 *   MIG1xxx  preprocessor
 *   MIG2xxx  lexer and parser
 *   MIG3xxx  semantic checks (types, routines, arguments)
 *   MIG4xxx  message layout
 * Each phase owns its block below; add codes at the end of your block.
 */
import type { Severity } from "./diagnostic.js";

export interface DiagnosticInfo {
  severity: Severity;
  summary: string;
}

function entries<T extends Record<string, DiagnosticInfo>>(t: T): T {
  return t;
}

const cliCodes = entries({
  MIG0001: { severity: "error", summary: "An input file could not be read." },
  MIG0002: { severity: "error", summary: "An output file could not be written." },
});

const preprocessCodes = entries({
  MIG1001: { severity: "error", summary: "An #include (or -imacros) file was not found in the search path." },
  MIG1002: { severity: "error", summary: "#include nested too deeply (more than 200 levels; usually a recursive include)." },
  MIG1003: { severity: "error", summary: "#include or #include_next without a \"FILE\" or <FILE> name." },
  MIG1004: { severity: "error", summary: "A /* comment is not closed before the end of the file." },
  MIG1005: { severity: "error", summary: "An #if, #ifdef or #ifndef has no matching #endif in the same file." },
  MIG1006: { severity: "error", summary: "#elif, #else or #endif without a matching #if." },
  MIG1007: { severity: "error", summary: "#elif or #else after the #else of the same conditional." },
  MIG1008: { severity: "error", summary: "The expression of an #if or #elif is malformed." },
  MIG1009: { severity: "error", summary: "Division or remainder by zero in an #if or #elif expression." },
  MIG1010: { severity: "error", summary: "An #error directive was reached." },
  MIG1011: { severity: "warning", summary: "A #warning directive was reached." },
  MIG1012: { severity: "error", summary: "A #define is malformed (parameter list, '#' or '##' placement, or the name 'defined')." },
  MIG1013: { severity: "warning", summary: "A macro is redefined with a different replacement list." },
  MIG1014: { severity: "error", summary: "The argument list of a function-like macro is not closed before the end of the file or directive." },
  MIG1015: { severity: "error", summary: "A function-like macro is invoked with the wrong number of arguments." },
  MIG1016: { severity: "error", summary: "'##' pasted two tokens into something that is not one valid token." },
  MIG1017: { severity: "error", summary: "Unknown preprocessing directive." },
  MIG1018: { severity: "error", summary: "A #line directive is malformed (it needs a decimal line number and an optional \"file\")." },
  MIG1019: { severity: "error", summary: "A macro name is missing or is not an identifier (#define, #undef, #ifdef, defined, -D, -U)." },
  MIG1020: { severity: "warning", summary: "Extra tokens at the end of a directive are ignored." },
  MIG1021: { severity: "error", summary: "A string literal is not closed before the end of the line." },
  MIG1022: { severity: "warning", summary: "A character constant is not closed before the end of the line." },
  MIG1023: { severity: "error", summary: "Macro expansion exceeded the size limit (runaway or exponential expansion)." },
  MIG1024: { severity: "error", summary: "A directive other than a conditional or #define/#undef appears inside macro arguments." },
});

const syntaxCodes = entries({
  MIG2001: { severity: "error", summary: "A character that is not part of the MIG language (after preprocessing)." },
  MIG2002: { severity: "error", summary: "A comment in MIG's input: comments must be removed by the preprocessor." },
  MIG2003: { severity: "error", summary: "Syntax error: an unexpected token (the expected tokens are listed)." },
  MIG2004: { severity: "error", summary: "A hexadecimal number: MIG accepts decimal numbers only." },
  MIG2005: { severity: "error", summary: "A quoted string or <file name> is not closed on its line." },
  MIG2006: { severity: "error", summary: "A `#` line other than a line marker (e.g. `#pragma`) in MIG's input." },
  MIG2007: { severity: "error", summary: "A statement form removed from MIG (`procedure`, `simpleprocedure`, `function`) or never in GNU MIG." },
  MIG2008: { severity: "error", summary: "The input ends in the middle of a statement." },
  MIG2009: { severity: "error", summary: "A reserved keyword is used where a name is expected." },
  MIG2010: { severity: "error", summary: "A statement is not terminated by `;`." },
});

const semanticCodes = entries({
  MIG3001: { severity: "error", summary: "A type name is not declared (neither built in nor by an earlier `type`)." },
  MIG3002: { severity: "error", summary: "A type is declared again with a different definition." },
  MIG3003: { severity: "error", summary: "A second `subsystem` statement." },
  MIG3004: { severity: "error", summary: "Routines are declared but the file has no `subsystem` statement." },
  MIG3005: { severity: "error", summary: "A short-form IPC type whose size is not implied (STRING, REAL, UNSTRUCTURED, POLYMORPHIC by name, a number) needs the long form `(name, size)`." },
  MIG3006: { severity: "error", summary: "A type's element size is 65536 bits or more: too big for a type descriptor." },
  MIG3007: { severity: "error", summary: "`IsNotLong` on a type that must use the long form (size >= 256 bits or number >= 4096)." },
  MIG3008: { severity: "error", summary: "A numeric msgt_name of 256 or more (the descriptor's name field has 8 bits)." },
  MIG3009: { severity: "warning", summary: "An IPC type declared with a size different from its name's natural size (\"strange size\")." },
  MIG3010: { severity: "warning", summary: "`IsLong`/`IsNotLong` that changes nothing." },
  MIG3011: { severity: "error", summary: "A variable-size inline array needs a named element type." },
  MIG3012: { severity: "error", summary: "An array element must be a fixed-size inline type." },
  MIG3013: { severity: "error", summary: "`^` (out of line) needs an inline type that is not a bounded variable array." },
  MIG3014: { severity: "error", summary: "A `struct { }` member must be a previously declared fixed-size inline data type." },
  MIG3015: { severity: "error", summary: "Variable-size arrays cannot have intran/outtran/destructor translations." },
  MIG3016: { severity: "warning", summary: "A translation or C-type option is given twice; the last one wins." },
  MIG3017: { severity: "error", summary: "An array, struct or c_string size must be at least 1." },
  MIG3018: { severity: "error", summary: "A routine name is declared twice." },
  MIG3019: { severity: "error", summary: "A routine has no request port (no unlabelled argument and no `requestport`)." },
  MIG3020: { severity: "error", summary: "A simpleroutine has an `out` or `inout` argument." },
  MIG3021: { severity: "error", summary: "The request port argument is not a single inline send, send-once or polymorphic port without dealloc." },
  MIG3022: { severity: "error", summary: "A reply port argument is not a single inline send, send-once or polymorphic port." },
  MIG3023: { severity: "error", summary: "A `waittime`, `msgoption` or `msgseqno` argument is not a 32-bit MACH_MSG_TYPE_INTEGER_32." },
  MIG3024: { severity: "error", summary: "An inline variable-size argument cannot be `inout`." },
  MIG3025: { severity: "warning", summary: "Several request ports, reply ports, wait times or message options in one routine; the last one wins." },
  MIG3026: { severity: "error", summary: "An Apple MIG argument kind (security/audit tokens, trailers, send time) that GNU typed messages cannot carry." },
  MIG3027: { severity: "warning", summary: "An Apple MIG statement with no meaning for GNU typed messages; ignored." },
  MIG3028: { severity: "error", summary: "An Apple MIG C type constructor (PointerTo, PointerToIfNot, ValueOf) is not supported." },
  MIG3029: { severity: "warning", summary: "An Apple MIG flag with no effect on GNU typed messages (PhysicalCopy, Auto, Const); ignored." },
  MIG3030: { severity: "error", summary: "An Apple MIG flag that GNU typed messages cannot honour (SameCount, Overwrite)." },
  MIG3031: { severity: "error", summary: "An IPC type name that GNU Mach's typed messages do not have (Apple's REAL_32/REAL_64, or an unknown name)." },
  MIG3032: { severity: "warning", summary: "A flag that has no effect on this argument (CountInOut outside an out variable array, ServerCopy outside an indefinite in array)." },
  MIG3033: { severity: "warning", summary: "Dealloc on inline data: the kernel rejects the message (MACH_SEND_INVALID_TYPE)." },
  MIG3034: { severity: "error", summary: "Contradictory flags (`Dealloc` with `NotDealloc`, `IsLong` with `IsNotLong`)." },
  MIG3035: { severity: "error", summary: "Only `Dealloc` may be written with `[]`." },
  MIG3036: { severity: "error", summary: "Two arguments of one routine have the same name." },
  MIG3037: { severity: "warning", summary: "C data size is not a multiple of 8 bits." },
  MIG3038: { severity: "error", summary: "An integer expression divides by zero, goes negative or exceeds 2^32-1." },
  MIG3039: { severity: "error", summary: "A message id (subsystem base + routine number, or its reply id) exceeds 2^31-1." },
  MIG3040: { severity: "warning", summary: "The `error` statement (GNU MIG 2022, Apple) has no effect; ignored." },
  MIG3041: { severity: "error", summary: "A port or polymorphic type used where plain data is required (struct member, waittime, msgoption, msgseqno)." },
  MIG3042: { severity: "error", summary: "An array's total element count exceeds 2^32-1." },
  MIG3043: { severity: "warning", summary: "`KernelUser` or `KernelServer` given twice in `subsystem`." },
  MIG3044: { severity: "error", summary: "`Dealloc[]` on inline data that can never travel out of line (only an invalid message could result)." },
  MIG3045: { severity: "warning", summary: "A translation's type does not match the type it translates from or to, and no function bridges them." },
  MIG3046: { severity: "warning", summary: "A types-only file (no subsystem, no routines) uses a type it does not declare: it is a fragment that relies on the file including it." },
});

const layoutCodes = entries({});

export const DIAGNOSTIC_CODES = {
  ...cliCodes,
  ...preprocessCodes,
  ...syntaxCodes,
  ...semanticCodes,
  ...layoutCodes,
};

export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;
