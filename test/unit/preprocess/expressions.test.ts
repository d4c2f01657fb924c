import { describe, expect, it } from "vitest";
import { codes, run, texts } from "./support.js";

/** Whether `#if expr` is taken. */
function taken(expr: string, defines: Array<[string, string]> = []): boolean {
  return texts(run({ "/src/main.defs": `#if ${expr}\nyes\n#endif\n` }, { defines })) === "yes";
}

describe("#if arithmetic", () => {
  it.each([
    ["1 + 2 * 3 == 7", true],
    ["(1 + 2) * 3 == 9", true],
    ["7 / 2 == 3 && -7 / 2 == -3 && -7 % 2 == -1", true],
    ["-1 < 0", true],
    ["-1 < 0u", false],
    ["-1 == 18446744073709551615u", true],
    ["0x7fffffffffffffff + 1 < 0", true], // signed wrap-around
    ["18446744073709551615 == -1", true], // too large for intmax_t: unsigned
    ["(1 << 62) > 0 && (1 << 63) < 0 && (1u << 63) > 0", true],
    ["(-8 >> 1) == -4 && (-8u >> 1) > 0", true],
    ["(1 << 64) == 0 && (5 >> -1) == 10", true],
    ["~0 == -1 && (0xf0 | 0x0f) == 0xff && (0xff & 0x0f) == 0xf && (5 ^ 1) == 4", true],
    ["!0 && !!7 == 1 && -(-1) == 1 && +1 == 1", true],
    ["1 ? 2 : 3", true],
    ["0 ? 2 : 0", false],
    ["(0 ? 1 : -1) < 0 && (0 ? 1u : -1) > 0", true],
    ["1 || 1 / 0", true],
    ["0 && 1 / 0", false],
    ["(1, 0)", false],
    ["010 == 8 && 0x1F == 31 && 0b11 == 3 && 0 == 0", true],
    ["10u + 10U + 10l + 10L + 10ul + 10LU + 10ll + 10ULL == 80", true],
    [
      "'a' == 97 && '\\n' == 10 && '\\x7f' == 127 && '\\101' == 65 && '\\377' == -1 && 'ab' == 24930",
      true,
    ],
    ["L'a' == 97 && u'\\xffff' == 65535", true],
    ["2 > 1 > 0", true],
    ["3 > 2 > 1", false],
    ["1 < 2 == 1 && 2 <= 2 && 3 >= 2 && 1 != 2", true],
  ])("%s is %s", (expr, expected) => {
    expect(taken(expr)).toBe(expected);
  });

  it("expands macros, then counts remaining identifiers as 0", () => {
    expect(taken("N * 2 == 8", [["N", "4"]])).toBe(true);
    expect(taken("UNKNOWN + 1 == 1 && !UNKNOWN")).toBe(true);
    expect(taken("F(3) == 3", [["F(x)", "x"]])).toBe(true);
    expect(taken("true")).toBe(false); // C, not C++
  });

  it("handles defined before and after macro expansion", () => {
    expect(taken("defined(A) && defined A", [["A", ""]])).toBe(true);
    expect(taken("D", [["D", "defined(D)"]])).toBe(true);
  });
});

describe("#if errors", () => {
  const diag = (line: string): string[] => codes(run({ "/src/main.defs": `${line}\n#endif\n` }));

  it.each([
    ["#if", "MIG1008 1:2"],
    ["#if 1 +", "MIG1008 1:7"],
    ["#if (1", "MIG1008 1:5"],
    ["#if 1)", "MIG1008 1:6"],
    ["#if 1 2", "MIG1008 1:7"],
    ["#if 1 ? 2", "MIG1008 1:9"],
    ["#if 1 = 1", "MIG1008 1:7"],
    ["#if 1.0", "MIG1008 1:5"],
    ["#if 1e3", "MIG1008 1:5"],
    ["#if 0x", "MIG1008 1:5"],
    ["#if 09", "MIG1008 1:5"],
    ["#if 12abc", "MIG1008 1:5"],
    ["#if 123456789012345678901234567890", "MIG1008 1:5"],
    ['#if "s"', "MIG1008 1:5"],
    ["#if ''", "MIG1008 1:5"],
    ["#if 1 / 0", "MIG1009 1:7"],
    ["#if 1 % 0", "MIG1009 1:7"],
    ["#if defined", "MIG1019 1:5"],
    ["#if defined(", "MIG1019 1:5"],
    ["#if defined(X", "MIG1008 1:13"],
    ["#elif", "MIG1006 1:2"],
  ])("%s -> %s", (line, expected) => {
    expect(diag(line)).toEqual(line === "#elif" ? [expected, "MIG1006 2:2"] : [expected]);
  });

  it("treats a malformed condition as false and keeps going", () => {
    const r = run({ "/src/main.defs": "#if 1 +\nno\n#else\nyes\n#endif\n" });
    expect(texts(r)).toBe("yes");
  });

  it("survives deeply nested parentheses", () => {
    const depth = 5000;
    const r = run({
      "/src/main.defs": `#if ${"(".repeat(depth)}1${")".repeat(depth)}\nyes\n#endif\n`,
    });
    expect(r.diagnostics.length).toBeLessThanOrEqual(1);
  });
});
