/**
 * The `--emit ts` target of the CLI: TypeScript stubs, one module per subsystem in --out-dir
 * (`<subsystem>.ts`, `<subsystem>-seqnos.ts` when built with -DSEQNOS).
 */
import type { EmitTarget } from "../cli.js";
import { defaultFileName, withLayouts } from "./generate.js";
import { emitSubsystem } from "./subsystem.js";

export const tsEmitTarget: EmitTarget = {
  description: "TypeScript stubs: types, client, server, message plans (<subsystem>.ts in --out-dir)",
  validate: (options) => (options.outDir === undefined ? "--emit ts needs --out-dir DIR" : undefined),
  emit: (ctx) => {
    if (ctx.ir.typesOnly) return;
    const ir = withLayouts(ctx.ir, ctx.result.model);
    const defines = ctx.options.compile.defines;
    const commandLine = defines.length > 0 ? defines.map((d) => `-D${d}`).join(" ") : undefined;
    ctx.writeOutput(defaultFileName(ir, { defines }), emitSubsystem(ir, { commandLine }));
  },
};
