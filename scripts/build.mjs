// Bundles the CLI (and the compiler API it carries) into single ESM files, so that a cold
// `mig-ts` run loads one module instead of chevrotain's hundreds.
import { build } from "esbuild";


await build({
  entryPoints: { cli: "compiler/cli.ts" },
  outdir: "dist",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
  // prettier is loaded only by --format, from the user's node_modules.
  external: ["prettier", "typescript", "ts-morph"],
});
