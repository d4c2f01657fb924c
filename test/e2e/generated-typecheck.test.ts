/**
 * The generated stubs type-check: TypeScript for all 25 GNU Mach `.defs` (and the `-DSEQNOS`
 * variants of the files that have them), plus the committed generated/ modules, compiled by the
 * TypeScript compiler API in one program with `strict: true` and `noUnusedLocals`: no
 * diagnostics, and no `any` in the generated code (neither written nor inferred).
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterAll, expect, it } from "vitest";
import { generate } from "../../compiler/emit/generate.js";
import { describeWithTools, GNUMACH_INCLUDE, tools } from "../support/tools.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SEQNOS_FILES = ["mach/memory_object.defs", "mach/memory_object_default.defs", "device/device_reply.defs"];

/** Every .defs under mach/, device/ and mach_debug/, without the mach/machine symlink's duplicates. */
function corpus(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (path === join(GNUMACH_INCLUDE, "mach/machine")) continue;
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".defs")) out.push(path);
    }
  };
  for (const top of ["mach", "device", "mach_debug"]) walk(join(GNUMACH_INCLUDE, top));
  return out;
}

/** `any` written in the code (a keyword) or inferred for a declaration or expression. */
function anyProblems(sf: ts.SourceFile, checker: ts.TypeChecker): string[] {
  const problems: string[] = [];
  const where = (node: ts.Node) => {
    const { line, character } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
    return `${sf.fileName}:${line + 1}:${character + 1}`;
  };
  const visit = (node: ts.Node): void => {
    if (node.kind === ts.SyntaxKind.AnyKeyword) problems.push(`${where(node)}: any written`);
    else if (
      ts.isIdentifier(node) ||
      ts.isCallExpression(node) ||
      ts.isElementAccessExpression(node) ||
      ts.isPropertyAccessExpression(node) ||
      ts.isAwaitExpression(node)
    ) {
      if (!ts.isTypeReferenceNode(node.parent) && !ts.isImportSpecifier(node.parent)) {
        const type = checker.getTypeAtLocation(node);
        if (type.flags & ts.TypeFlags.Any) problems.push(`${where(node)}: ${node.getText(sf)} is any`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return problems;
}

describeWithTools(["gnumachDefs"], "generated TypeScript type-checks (strict, no any)", () => {
  const dir = mkdtempSync(join(tmpdir(), "mig-ts-typecheck-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("for all 25 GNU Mach .defs (and their SEQNOS variants) and generated/", () => {
    const files = tools.gnumachDefs() ? corpus() : [];
    expect(files).toHaveLength(25);
    // ES modules, as in a package with "type": "module".
    writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
    const written: string[] = [];
    const problems: string[] = [];
    for (const file of files) {
      const rel = relative(GNUMACH_INCLUDE, file);
      const variants: Array<{ defines: string[]; suffix: string }> = [{ defines: [], suffix: "" }];
      if (SEQNOS_FILES.includes(rel)) variants.push({ defines: ["SEQNOS"], suffix: "-seqnos" });
      for (const v of variants) {
        const result = generate(file, { includeDirs: [GNUMACH_INCLUDE], defines: v.defines });
        const errors = result.diagnostics.filter((d) => d.severity === "error");
        if (errors.length > 0) problems.push(`${rel}: ${errors.map((d) => d.message).join("; ")}`);
        for (const out of result.files) {
          const path = join(dir, `${rel.replace(/\.defs$/, "").replace(/\//g, "__")}${v.suffix}.ts`);
          writeFileSync(path, out.text);
          written.push(path);
        }
      }
    }
    expect(problems).toEqual([]);
    // Interfaces with routines (the type-only ones, std_types and friends, produce no module).
    expect(written.length).toBeGreaterThanOrEqual(20);
    const committed = readdirSync(join(ROOT, "generated"))
      .filter((f) => f.endsWith(".ts"))
      .map((f) => join(ROOT, "generated", f));
    const options: ts.CompilerOptions = {
      strict: true,
      // A user's project may forbid unused locals: generated code must not trip it.
      noUnusedLocals: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ["lib.es2022.d.ts"],
      types: ["node"],
      noEmit: true,
      skipLibCheck: true,
      isolatedModules: true,
      verbatimModuleSyntax: true,
      noImplicitOverride: true,
      noFallthroughCasesInSwitch: true,
      customConditions: ["mig-ts-source"],
      // The temp dir is outside the package: point its `mig-ts/runtime` at the sources.
      paths: { "mig-ts/runtime": [join(ROOT, "runtime/index.ts")] },
      typeRoots: [join(ROOT, "node_modules/@types")],
    };
    const program = ts.createProgram({ rootNames: [...written, ...committed], options });
    const diagnostics = ts.getPreEmitDiagnostics(program);
    const text = diagnostics.slice(0, 10).map((d) => ts.formatDiagnostic(d, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => "\n" }));
    expect(text).toEqual([]);
    const checker = program.getTypeChecker();
    const anys: string[] = [];
    for (const path of [...written, ...committed]) {
      const sf = program.getSourceFile(path);
      expect(sf, path).toBeDefined();
      anys.push(...anyProblems(sf!, checker));
    }
    expect(anys.slice(0, 10)).toEqual([]);
  });
});
