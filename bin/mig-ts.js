#!/usr/bin/env node
// The published CLI is one bundled file (dist/cli.js, built by `npm run build`, which `prepare`
// runs on `npm ci`): loading chevrotain's ~640 modules unbundled would triple cold start.
// `mig-ts types` and `mig-ts trace` are separate bundles, loaded only when asked for.
const argv = process.argv.slice(2);
const io = { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) };

async function run() {
  if (argv[0] === "types") return (await import("../dist/types-command.js")).typesMain(argv.slice(1), io);
  if (argv[0] === "trace") return (await import("../dist/trace-command.js")).traceMain(argv.slice(1), io);
  return (await import("../dist/cli.js")).main(argv);
}

run().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`mig-ts: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 3;
  },
);
