export { analyze, builtinTypes, type AnalyzeOptions, type AnalyzeResult } from "./analyze.js";
export { printMigType } from "./print.js";
export { ABI_FACTS, type AbiFacts } from "./abi.js";
export * from "./model.js";
