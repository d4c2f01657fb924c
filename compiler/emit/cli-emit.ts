/**
 * The `ts` target of the CLI (the default): TypeScript stubs, one module per subsystem
 * (`<subsystem>.ts`, `<subsystem>-seqnos.ts` when built with -DSEQNOS or --seqnos), or split
 * into client, server and types files with MIG's `-user`, `-server` and `-header`.
 */
import type { EmitContext, EmitTarget } from "../cli.js";
import { defaultFileName } from "./generate.js";
import { type EmitOptions, emitSubsystem } from "./subsystem.js";

export const tsEmitTarget: EmitTarget = {
  description: "TypeScript stubs: types, client, server, message plans (<subsystem>.ts)",
  emit: async (ctx) => {
    const { ir, options } = ctx;
    if (ir.typesOnly) return;
    const flags = [
      ...options.compile.defines.map((d) => `-D${d}`),
      ...(options.seqnos ? ["--seqnos"] : []),
      ...(options.prefix !== undefined ? [`-prefix ${options.prefix}`] : []),
    ];
    const base: EmitOptions = {
      commandLine: flags.length > 0 ? flags.join(" ") : undefined,
      seqnos: options.seqnos,
      prefix: options.prefix,
      runtimeImport: options.runtimeImport,
    };
    const outputs: Array<{ name: string; text: string }> = [];
    if (options.userFile !== undefined || options.serverFile !== undefined || options.headerFile !== undefined) {
      const header = options.headerFile ?? `${ir.subsystem.name}-types.ts`;
      const typesImport = `./${header.replace(/^.*\//, "").replace(/\.ts$/, ".js")}`;
      outputs.push({ name: header, text: emitSubsystem(ir, { ...base, parts: { types: true, client: false, server: false } }) });
      if (options.userFile !== undefined) {
        outputs.push({
          name: options.userFile,
          text: emitSubsystem(ir, { ...base, typesImport, parts: { types: false, client: true, server: false } }),
        });
      }
      if (options.serverFile !== undefined) {
        outputs.push({
          name: options.serverFile,
          text: emitSubsystem(ir, { ...base, typesImport, parts: { types: false, client: false, server: true } }),
        });
      }
    } else if (!options.noDefaultOutputs) {
      outputs.push({
        name: defaultFileName(ir, { seqnos: options.seqnos, defines: options.compile.defines }),
        text: emitSubsystem(ir, base),
      });
    }
    for (const output of outputs) {
      ctx.writeOutput(output.name, options.format ? await formatWithUserConfig(ctx, output.name, output.text) : output.text);
    }
  },
};

/**
 * `--format`: the user's own prettier config applied to our output. prettier is loaded only
 * here, from the user's node_modules, so the default path never pays for it.
 */
async function formatWithUserConfig(ctx: EmitContext, name: string, text: string): Promise<string> {
  const { resolve } = await import("node:path");
  const filepath = resolve(ctx.options.outDir ?? ".", name);
  try {
    const prettier = await import("prettier");
    const config = (await prettier.resolveConfig(filepath)) ?? {};
    return await prettier.format(text, { ...config, filepath });
  } catch (error) {
    ctx.io.stderr(`mig-ts: --format: prettier failed on ${name}: ${(error as Error).message}\n`);
    return text;
  }
}
