/** The compiler version, printed by `--version` and in every generated file's header (kept equal to package.json by a test). */
export const VERSION = "0.1.0";
