#!/usr/bin/env node
// The published CLI is one bundled file (dist/cli.js, built by `npm run build`, which `prepare`
// runs on `npm ci`): loading chevrotain's ~640 modules unbundled would triple cold start.
import { main } from "../dist/cli.js";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`mig-ts: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 3;
  },
);
