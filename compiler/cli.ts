/**
 * The `mig-ts` command line. `main` returns the exit code: 0 success, 1 errors in the input,
 * 2 usage errors.
 */
import { VERSION } from "./version.js";

export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes("--version")) {
    process.stdout.write(`mig-ts ${VERSION}\n`);
    return 0;
  }
  process.stderr.write("mig-ts: usage: mig-ts [options] FILE.defs...\n");
  return 2;
}
