/**
 * `npm start`: the project's main job. Until the default pager demo lands it compiles every
 * interface in defs/ with the CLI and reports the result.
 */
import { readdirSync } from "node:fs";
import { main } from "../compiler/cli.js";

const defs = readdirSync(new URL("../defs/", import.meta.url))
  .filter((f) => f.endsWith(".defs"))
  .map((f) => `defs/${f}`);
if (defs.length === 0) {
  console.log("npm start: no interfaces in defs/ yet");
  process.exit(0);
}
process.exitCode = await main(["--check", "-I", "defs", ...defs]);
