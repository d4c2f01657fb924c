// Runs the CLI from source (no build step): `npx tsx scripts/mig.ts ARGS`.
import { main } from "../compiler/cli.js";

process.exitCode = await main(process.argv.slice(2));
