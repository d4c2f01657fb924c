/**
 * The semantic model's argument lists against GNU MIG's, for every routine of every conformance
 * vector file (both ABIs): the client stub's C parameters (`args`) and the server function's
 * (`server.params`) in order, with MIG's own description of each type (`mig_type`, as `mig -v`
 * prints it). This pins names, implicit arguments (Poly, Cnt, Dealloc, SCopy) and their order,
 * argument kinds, msgt names, sizes, numbers, inline/long-form choices and struct flattening.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { compileFile } from "../../../compiler/index.js";
import type {
  InterfaceModel,
  MigType,
  RoutineArgument,
} from "../../../compiler/semantics/model.js";
import { printMigType } from "../../../compiler/semantics/print.js";
import { describeWithTools, GNUMACH_INCLUDE } from "../../support/tools.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const VECTOR_DIRS = [
  join(repo, "test/fixtures/conformance"),
  resolve(repo, "../shared/conformance"),
];
const vectorRoot = VECTOR_DIRS.find((d) => existsSync(join(d, "x86_64")));

interface VectorArg {
  name: string;
  ctype: string;
  dir: string;
  shape: string;
  mig_type?: string;
  of?: string;
}
interface VectorRoutine {
  name: string;
  kind: string;
  id: number;
  case: string;
  args: VectorArg[];
  server: { function: string; params: VectorArg[] };
}
interface VectorFile {
  abi: "x86_64" | "i386";
  defs: string;
  cppflags: string[];
  subsystem: string;
  base: number;
  demux: string;
  routines: VectorRoutine[];
}

/** Every type with a given name in the model (declared, or one-off argument types). */
function typesByName(model: InterfaceModel): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  const add = (t: MigType) => {
    if (!map.has(t.name)) map.set(t.name, new Set());
    map.get(t.name)!.add(printMigType(t));
  };
  model.types.forEach(add);
  for (const r of model.routines) for (const a of r.args) add(a.type);
  return map;
}

const USER_DIRS: Record<string, string[]> = {
  requestport: ["requestport"],
  replyport: ["replyport", "ureplyport", "sreplyport"],
  in: ["in"],
  out: ["out"],
  inout: ["inout"],
  waittime: ["waittime"],
  msgoption: ["msgoption"],
  msgseqno: ["msgseqno"],
};

function compareArgs(
  side: string,
  model: InterfaceModel,
  ours: RoutineArgument[],
  theirs: VectorArg[],
): void {
  const byName = typesByName(model);
  expect(
    ours.map((a) => a.name),
    `${side} parameter names`,
  ).toEqual(theirs.map((a) => a.name));
  ours.forEach((a, i) => {
    const v = theirs[i]!;
    if (a.implicit) {
      expect(a.parent, `${side} ${a.name}: parent`).toBe(v.of);
      const shapeToKind: Record<string, string> = {
        count: "count",
        disposition: "poly",
        dealloc: "dealloc",
        servercopy: "servercopy",
      };
      expect(a.kind, `${side} ${a.name}: kind`).toBe(shapeToKind[v.shape]);
      return;
    }
    expect(USER_DIRS[v.dir] ?? [v.dir], `${side} ${a.name}: kind`).toContain(a.kind);
    if (v.mig_type !== undefined) {
      const printed = printMigType(a.type);
      // The vectors name a one-off argument type (`x : T = spec`) by T, so several one-offs
      // called T share one description there; accept any type of that name.
      if (printed !== v.mig_type) {
        expect(
          [...(byName.get(a.type.name) ?? [])],
          `${side} ${a.name}: mig_type (ours ${printed})`,
        ).toContain(v.mig_type);
      }
    }
  });
}

const files = vectorRoot
  ? (["x86_64", "i386"] as const).flatMap((abi) =>
      readdirSync(join(vectorRoot, abi))
        .filter((f) => f.endsWith(".json"))
        .sort()
        .map((f) => ({ abi, path: join(vectorRoot, abi, f), label: `${abi}/${f}` })),
    )
  : [];

describeWithTools(["gnumachDefs"], "semantic model vs GNU MIG conformance vectors", () => {
  it("finds the vector files", () => {
    expect(files.length).toBeGreaterThanOrEqual(38);
  });
  it.each(files.map((f) => [f.label, f] as const))("%s", (_label, f) => {
    const vectors = JSON.parse(readFileSync(f.path, "utf8")) as VectorFile;
    const result = compileFile(join(GNUMACH_INCLUDE, vectors.defs), {
      abi: f.abi,
      includeDirs: [GNUMACH_INCLUDE],
      defines: vectors.cppflags.filter((x) => x.startsWith("-D")).map((x) => x.slice(2)),
    });
    expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const model = result.model!;
    expect(model.subsystem.name).toBe(vectors.subsystem);
    expect(model.subsystem.base).toBe(vectors.base);
    expect(model.serverDemux).toBe(vectors.demux);
    const seen = new Set<string>();
    for (const v of vectors.routines) {
      if (seen.has(v.name)) continue;
      seen.add(v.name);
      const r = model.routines.find((x) => x.name === v.name);
      expect(r, `routine ${v.name}`).toBeDefined();
      expect(r!.kind).toBe(v.kind);
      expect(r!.requestId).toBe(v.id);
      expect(r!.serverPrefix + r!.name).toBe(v.server.function);
      compareArgs(
        `${v.name} user`,
        model,
        r!.args.filter((a) => a.userVisible),
        v.args,
      );
      compareArgs(
        `${v.name} server`,
        model,
        r!.args.filter((a) => a.serverVisible),
        v.server.params,
      );
    }
    expect(model.routines.map((r) => r.name).sort()).toEqual([...seen].sort());
  });
});
