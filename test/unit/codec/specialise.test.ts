/**
 * The codec's two paths, specialised code (runtime/codec/specialise.ts) and the interpreter
 * (runtime/codec/engine.ts), must agree byte for byte and value for value, so that the fallback
 * (no eval allowed, or MIG_TS_CODEC=interpret) cannot rot. Both are checked against GNU MIG's
 * golden vectors by the conformance suite; here they are also compared with each other on inputs
 * the vectors do not have: every delivered message with words mutated, cut short, or resized, and
 * encodes from missing, mistyped and oversized values.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { compileFile } from "../../../compiler/index.js";
import type { IrRoutine } from "../../../compiler/layout/ir.js";
import { routinePlanFromIR } from "../../../compiler/layout/plan.js";
import {
  type CodecMode,
  codecMode,
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
  setCodecMode,
} from "../../../runtime/codec/engine.js";
import type { RoutinePlan } from "../../../runtime/codec/plan.js";
import type { MachMessage } from "../../../runtime/message.js";
import {
  argIndex,
  loadJson,
  runConformance,
  toValue,
  type VFile,
  vectorMessage,
} from "../../conformance/suite.js";
import { GNUMACH_INCLUDE, describeWithTools } from "../../support/tools.js";

const vectors = join(import.meta.dirname, "../../fixtures/conformance");
const initialMode = codecMode();
afterAll(() => {
  setCodecMode(initialMode);
});

/** A comparable rendering of a value slot or an encode result (typed arrays by type and bytes). */
function show(v: unknown): unknown {
  if (typeof v === "bigint") return `${v}n`;
  if (ArrayBuffer.isView(v))
    return `${v.constructor.name}:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex")}`;
  if (Array.isArray(v)) return v.map(show);
  if (v !== null && typeof v === "object" && "bytes" in v) {
    const m = v as MachMessage;
    return { bytes: show(m.bytes), ool: m.ool.map(show) };
  }
  return v;
}

/** Runs `f` under each mode and returns both results rendered. */
function both(f: () => unknown): [unknown, unknown] {
  setCodecMode("specialise");
  const s = show(f());
  setCodecMode("interpret");
  const i = show(f());
  setCodecMode(initialMode);
  return [s, i];
}

function decodeBoth(
  decode: (plan: RoutinePlan, m: MachMessage, out: unknown[]) => number,
  plan: RoutinePlan,
  m: MachMessage,
): [unknown, unknown] {
  return both(() => {
    const out = new Array<unknown>(plan.args.length);
    const code = decode(plan, m, out);
    return [code, ...out];
  });
}

/** Variants of a received message that exercise every check of a decoder. */
function* mutations(m: MachMessage): Generator<MachMessage> {
  const words = m.bytes.length >>> 2;
  const xors = [1, 0xff, 0x100, 0x8000, 0x10000, 0x10000000, 0x20000000, 0x40000000, 0x80000000];
  // Every word of the first 160 bytes (header and the fixed prefix of the body), and every 32nd
  // word beyond (array data rarely matters, a descriptor after a variable item may).
  for (let w = 0; w < words; w++) {
    if (w >= 40 && w % 32 !== 0) continue;
    for (const x of [...xors, -1]) {
      const bytes = m.bytes.slice();
      const view = new DataView(bytes.buffer);
      view.setUint32(w * 4, x === -1 ? 0 : (view.getUint32(w * 4, true) ^ x) >>> 0, true);
      yield { bytes, ool: m.ool };
    }
  }
  // Cut short, with msgh_size left as it was and with msgh_size following the cut.
  for (const cut of [
    0,
    4,
    8,
    20,
    24,
    28,
    32,
    36,
    40,
    44,
    48,
    m.bytes.length - 4,
    m.bytes.length - 1,
  ]) {
    if (cut < 0 || cut >= m.bytes.length) continue;
    const bytes = m.bytes.slice(0, cut);
    yield { bytes, ool: m.ool };
    if (cut >= 8) {
      const resized = bytes.slice();
      new DataView(resized.buffer).setUint32(4, cut, true);
      yield { bytes: resized, ool: m.ool };
    }
  }
  // Out-of-line regions missing or short.
  if (m.ool.length > 0) {
    yield { bytes: m.bytes, ool: [] };
    yield { bytes: m.bytes, ool: m.ool.map((r) => r.subarray(0, r.length >> 1)) };
  }
}

describeWithTools(["gnumachDefs"], "codec: specialised code and interpreter", () => {
  it("both pass every conformance vector on x86_64 and i386", () => {
    for (const mode of ["specialise", "interpret"] as CodecMode[]) {
      expect(setCodecMode(mode)).toBe(mode);
      const result = runConformance({ vectors, defsRoot: GNUMACH_INCLUDE });
      expect(result.failures.slice(0, 5), mode).toEqual([]);
      for (const abi of ["x86_64", "i386"])
        expect(result.abis[abi].passed, `${mode} ${abi}`).toBe(1117);
    }
    setCodecMode(initialMode);
  });

  // One test per ABI: each compares a few hundred thousand results (seconds on a loaded machine).
  for (const only of ["x86_64", "i386"]) {
    it(`give identical bytes, values and return codes on every ${only} vector, mutated, and on odd values`, () => {
      const index = loadJson<Record<string, Record<string, { file: string }>>>(
        join(vectors, "index.json"),
      );
      let compared = 0;
      const differences: string[] = [];
      const same = (label: string, [s, i]: [unknown, unknown]) => {
        compared++;
        try {
          expect(s).toEqual(i);
        } catch {
          if (differences.length < 10)
            differences.push(
              `${label}: specialised ${JSON.stringify(s)?.slice(0, 300)} interpreted ${JSON.stringify(i)?.slice(0, 300)}`,
            );
        }
      };
      for (const [abi, files] of Object.entries(index)) {
        if (abi !== only) continue;
        for (const entry of Object.values(files)) {
          const file = loadJson<VFile>(join(vectors, entry.file));
          const defines = file.cppflags.filter((f) => f.startsWith("-D")).map((f) => f.slice(2));
          if (abi === "x86_64") defines.push("__x86_64__");
          const { ir } = compileFile(join(GNUMACH_INCLUDE, file.defs), {
            abi: file.abi,
            includeDirs: [GNUMACH_INCLUDE],
            defines,
          });
          const routines = new Map<string, IrRoutine>(ir!.routines.map((r) => [r.name, r]));
          const plans = new Map<string, RoutinePlan>(
            ir!.routines.map((r) => [r.name, routinePlanFromIR(r, file.abi)]),
          );
          for (const v of file.routines) {
            const plan = plans.get(v.name)!;
            const routine = routines.get(v.name)!;
            const label = `${abi} ${v.name}/${v.case}`;
            const values = new Array<unknown>(routine.args.length);
            for (const a of v.args) {
              const i = argIndex(routine, a.name);
              if (i >= 0 && a.value !== undefined) values[i] = toValue(routine.args[i], a);
            }
            same(
              `${label} encodeRequest`,
              both(() => encodeRequest(plan, values, 0x50)),
            );
            same(
              `${label} encodeRequest (no values)`,
              both(() => encodeRequest(plan, [], 0x50)),
            );
            // Mistyped values: numbers for bigints and the reverse, arrays doubled (over a bound,
            // or inline -> out of line), strings for numbers.
            const odd = values.map((x) => {
              if (typeof x === "bigint") return Number(BigInt.asIntN(52, x));
              if (typeof x === "number") return BigInt(x);
              if (typeof x === "boolean") return x ? 1 : 0;
              if (x instanceof Uint8Array) return new Uint8Array(x.length * 2 + 8).fill(0x5a);
              if (x instanceof Uint32Array) return Uint32Array.from([...x, ...x, 7]);
              if (typeof x === "string") return x + "\u00e9x".repeat(40);
              return x;
            });
            same(
              `${label} encodeRequest (odd values)`,
              both(() => encodeRequest(plan, odd, 0x50)),
            );
            // Other views of byte arrays (the specialised encoder reads a Uint8Array's size
            // itself): a DataView, and a Uint8Array at an odd offset whose length is not a whole
            // number of elements.
            for (const [what, view] of [
              ["DataView", (x: Uint8Array) => new DataView(x.buffer, x.byteOffset, x.byteLength)],
              ["odd Uint8Array", (x: Uint8Array) => new Uint8Array([9, ...x, 1, 2, 3]).subarray(1)],
            ] as const) {
              const viewed = values.map((x) => (x instanceof Uint8Array ? view(x) : x));
              same(
                `${label} encodeRequest (${what} values)`,
                both(() => encodeRequest(plan, viewed, 0x50)),
              );
            }
            if (!v.request_delivered) continue;
            const request = vectorMessage(v.request_delivered);
            same(`${label} decodeRequest`, decodeBoth(decodeRequest, plan, request));
            // The message at byte offsets 1 and 4 of its buffer: decoded arrays are views when
            // aligned, copies otherwise (the specialised decoder checks the alignment itself).
            for (const shift of [1, 4]) {
              const moved = new Uint8Array(request.bytes.length + shift).subarray(shift);
              moved.set(request.bytes);
              same(
                `${label} decodeRequest (at offset ${shift})`,
                decodeBoth(decodeRequest, plan, { bytes: moved, ool: request.ool }),
              );
            }
            // Mutations of a few cases per routine (the largest and smallest arrays, and random
            // values) cover every check; all cases would triple the time for little more.
            const mutate = v.case === "random" || v.case === "max" || v.case === "min";
            let k = 0;
            if (mutate)
              for (const m of mutations(request))
                same(`${label} decodeRequest mutation ${k++}`, decodeBoth(decodeRequest, plan, m));
            const outs = new Array<unknown>(routine.args.length);
            decodeRequest(plan, request, outs);
            for (const [name, value] of Object.entries(v.server.outs ?? {})) {
              const i = argIndex(routine, name);
              if (i >= 0 && value !== null && typeof value !== "object")
                outs[i] =
                  typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
            }
            same(
              `${label} encodeReply`,
              both(() => encodeReply(plan, request, outs)),
            );
            same(
              `${label} encodeReply (odd values)`,
              both(() => encodeReply(plan, request, odd)),
            );
            if (!v.reply_delivered) continue;
            const reply = vectorMessage(v.reply_delivered);
            same(`${label} decodeReply`, decodeBoth(decodeReply, plan, reply));
            const movedReply = new Uint8Array(reply.bytes.length + 2).subarray(2);
            movedReply.set(reply.bytes);
            same(
              `${label} decodeReply (at offset 2)`,
              decodeBoth(decodeReply, plan, { bytes: movedReply, ool: reply.ool }),
            );
            k = 0;
            if (mutate)
              for (const m of mutations(reply))
                same(`${label} decodeReply mutation ${k++}`, decodeBoth(decodeReply, plan, m));
          }
        }
      }
      expect(differences).toEqual([]);
      expect(compared).toBeGreaterThan(100_000);
    });
  }
});

it("falls back to the interpreter where code generation from strings is forbidden", () => {
  const child = join(import.meta.dirname, "fixtures/no-eval-child.ts");
  const output = execFileSync(
    process.execPath,
    ["--disallow-code-generation-from-strings", "--import", "tsx", child],
    { encoding: "utf8" },
  );
  expect(JSON.parse(output.trim().split("\n").pop()!)).toEqual({
    before: "interpret",
    asked: "interpret",
    code: 0,
    size: String(0x1234_5678_9abcn),
  });
});

it("selects the interpreter with MIG_TS_CODEC=interpret, and specialised code otherwise", () => {
  const child = join(import.meta.dirname, "fixtures/no-eval-child.ts");
  const run = (env: Record<string, string>) =>
    JSON.parse(
      execFileSync(process.execPath, ["--import", "tsx", child], {
        encoding: "utf8",
        env: { ...process.env, ...env },
      })
        .trim()
        .split("\n")
        .pop()!,
    );
  expect(run({ MIG_TS_CODEC: "interpret" })).toMatchObject({
    before: "interpret",
    asked: "specialise",
    code: 0,
  });
  expect(run({ MIG_TS_CODEC: "" })).toMatchObject({
    before: "specialise",
    asked: "specialise",
    code: 0,
  });
});
