/**
 * Property test of the front end: random mutations of real `.defs` files (token deletions,
 * duplications and insertions, truncations, random bytes) go through preprocess -> parse ->
 * analyze -> buildIR. Every run must end in an IR or in diagnostics, never an exception, and no
 * single run may take a second.
 *
 * The seeds are GNU Mach's interfaces, preprocessed once and trimmed to the types their routines
 * use (so one run costs a few milliseconds and 10,000 runs fit in the test budget).
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { expect, it } from "vitest";
import { hasErrors } from "../../compiler/diagnostics/index.js";
import { buildIR } from "../../compiler/layout/build-ir.js";
import { preprocess } from "../../compiler/preprocess/index.js";
import { analyze } from "../../compiler/semantics/analyze.js";
import { parse } from "../../compiler/syntax/index.js";
import { describeWithTools, GNUMACH_INCLUDE, tools } from "../support/tools.js";

const RUNS = 10_000;

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

/** Splits preprocessed text into statements (a `;` inside `struct { }` does not end one). */
function statements(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{") depth++;
    else if (c === "}") depth = Math.max(0, depth - 1);
    else if (c === ";" && depth === 0) {
      out.push(text.slice(start, i + 1).trim());
      start = i + 1;
    }
  }
  return out.filter((s) => s !== ";" && s.length > 0);
}

/** A self-contained seed: the file preprocessed, keeping only the types its routines need. */
function seed(file: string): string {
  const pre = preprocess(file, { includeDirs: [GNUMACH_INCLUDE] });
  const all = statements(pre.text);
  const typeName = (s: string) => /^type\s+(\w+)\s*=/.exec(s)?.[1];
  const needed = new Set<string>();
  const kept = new Set<string>(all.filter((s) => typeName(s) === undefined));
  const words = (s: string) => s.match(/[A-Za-z_]\w*/g) ?? [];
  let changed = true;
  while (changed) {
    changed = false;
    for (const s of kept) for (const w of words(s)) needed.add(w);
    for (const s of all) {
      const name = typeName(s);
      if (name !== undefined && needed.has(name) && !kept.has(s)) {
        kept.add(s);
        changed = true;
      }
    }
  }
  return all.filter((s) => kept.has(s)).join("\n") + "\n";
}

const TOKENS = [
  "routine",
  "simpleroutine",
  "type",
  "subsystem",
  "skip",
  "in",
  "out",
  "inout",
  "requestport",
  "replyport",
  "array",
  "[",
  "]",
  "*",
  ":",
  "of",
  "struct",
  "{",
  "}",
  "^",
  "c_string",
  "(",
  ")",
  ",",
  ";",
  "=",
  "|",
  "MACH_MSG_TYPE_COPY_SEND",
  "MACH_MSG_TYPE_INTEGER_32",
  "MACH_MSG_TYPE_STRING_C",
  "polymorphic",
  "dealloc[]",
  "IsLong",
  "CountInOut",
  "ServerCopy",
  "ctype:",
  "intran:",
  "65536",
  "4096",
  "0",
  "4294967296",
  "int",
  "char",
  "mach_port_t",
  "#define X",
  "#if 1",
  "#endif",
  "#include <x.defs>",
  "\n",
  "/*",
  '"',
  "'",
];

type Mutation =
  | { kind: "delete"; at: number; length: number }
  | { kind: "insert"; at: number; token: string }
  | { kind: "duplicate"; at: number; length: number }
  | { kind: "truncate"; at: number }
  | { kind: "bytes"; at: number; bytes: number[] };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 40 }),
  }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    token: fc.constantFrom(...TOKENS),
  }),
  fc.record({
    kind: fc.constant("duplicate" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 80 }),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("bytes" as const),
    at: fc.nat(),
    bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }),
  }),
);

/** Applies a mutation at a token boundary (for token edits) or anywhere (for bytes). */
function apply(text: string, m: Mutation): string {
  const at = text.length === 0 ? 0 : m.at % text.length;
  switch (m.kind) {
    case "delete":
      return text.slice(0, at) + text.slice(at + m.length);
    case "insert":
      return `${text.slice(0, at)} ${m.token} ${text.slice(at)}`;
    case "duplicate":
      return (
        text.slice(0, at + m.length) + text.slice(at, at + m.length) + text.slice(at + m.length)
      );
    case "truncate":
      return text.slice(0, at);
    case "bytes":
      return text.slice(0, at) + String.fromCharCode(...m.bytes) + text.slice(at);
  }
}

function frontEnd(text: string, abi: "x86_64" | "i386"): "ir" | "diagnostics" {
  const file = "/fuzz/input.defs";
  const pre = preprocess(file, { abi, readFile: (p) => (p === file ? text : undefined) });
  if (hasErrors(pre.diagnostics)) return "diagnostics";
  const parsed = parse(pre.text, pre.locate);
  if (hasErrors(parsed.diagnostics)) return "diagnostics";
  const analysed = analyze(parsed.file, { abi, file });
  if (!analysed.model) {
    expect(hasErrors(analysed.diagnostics)).toBe(true);
    return "diagnostics";
  }
  const ir = buildIR(analysed.model);
  JSON.stringify(ir);
  return "ir";
}

const seeds = tools.gnumachDefs()
  ? corpus()
      .map(seed)
      .filter((s) => s.length > 0)
  : [];

describeWithTools(["gnumachDefs"], "front end under random mutations", () => {
  it("every seed compiles cleanly before mutation", () => {
    expect(seeds.length).toBe(25);
    for (const s of seeds) {
      expect(frontEnd(s, "x86_64")).toBe("ir");
      expect(frontEnd(s, "i386")).toBe("ir");
    }
  });
  it(`${RUNS} mutated inputs end in an IR or diagnostics, each within 1 s`, () => {
    let slowest = 0;
    const outcomes = { ir: 0, diagnostics: 0 };
    fc.assert(
      fc.property(
        fc.nat({ max: seeds.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.constantFrom("x86_64" as const, "i386" as const),
        (which, mutations, abi) => {
          const text = mutations.reduce(apply, seeds[which]!);
          const start = performance.now();
          outcomes[frontEnd(text, abi)]++;
          const took = performance.now() - start;
          slowest = Math.max(slowest, took);
          expect(took).toBeLessThan(1000);
        },
      ),
      { numRuns: RUNS, seed: 0x6d6967, endOnFailure: true },
    );
    expect(outcomes.ir + outcomes.diagnostics).toBe(RUNS);
    console.log(
      `fuzz: ${outcomes.ir} compiled, ${outcomes.diagnostics} rejected with diagnostics; slowest ${slowest.toFixed(1)} ms`,
    );
  });
});
