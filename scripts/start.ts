/**
 * `npm start`: the default pager demo (examples/default-pager/demo.ts). Options follow `--`,
 * e.g. `npm start -- --transport process --object-size 8M`; `npm start -- --help` lists them.
 */
import { main } from "../examples/default-pager/demo.js";

process.exitCode = await main(process.argv.slice(2));
