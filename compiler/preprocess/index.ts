/**
 * The built-in C preprocessor subset: `#include` with -I search, `#define`/`#undef` (object-like
 * and function-like, `#`, `##`, `__VA_ARGS__`), conditionals with C integer expressions, `#line`,
 * `#error`/`#warning`, `-D`/`-U`/`-imacros`, and the target macros of the chosen ABI.
 */
import { Preprocessor } from "./preprocessor.js";
import type { PreprocessOptions, PreprocessResult } from "./types.js";

export type { Abi, PPToken, PreprocessOptions, PreprocessResult } from "./types.js";

/** Preprocesses `file`; never throws on bad input (problems are in `diagnostics`). */
export function preprocess(file: string, options: PreprocessOptions = {}): PreprocessResult {
  return new Preprocessor(options).run(file);
}
