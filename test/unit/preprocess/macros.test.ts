import { describe, expect, it } from "vitest";
import { codes, run, texts } from "./support.js";

const pp = (body: string): string => texts(run({ "/src/main.defs": body }));

describe("object-like macros", () => {
  it("expands values, chains and empty macros", () => {
    expect(pp("#define N 32\n#define M (N * 2)\n#define E\nstruct[N] of char; E x E M\n")).toBe(
      "struct [ 32 ] of char ; x ( 32 * 2 )",
    );
  });

  it("uses the definition in force at the point of use", () => {
    expect(pp("#define A B\n#define B 1\nA\n#undef B\nA\n#define B 2\nA\n")).toBe("1 B 2");
  });

  it("#undef of an unknown macro is fine", () => {
    expect(codes(run({ "/src/main.defs": "#undef NOPE\n" }))).toEqual([]);
  });

  it("warns on a different redefinition only, pointing at the previous one", () => {
    const r = run({ "/src/main.defs": "#define A 1 + 2\n#define A 1  +  2\n#define A 1+2\n" });
    expect(codes(r)).toEqual(["MIG1013 3:9"]);
    expect(r.diagnostics[0]!.related?.[0]?.location).toEqual({
      file: "/src/main.defs",
      line: 2,
      column: 9,
    });
  });

  it("warns when redefining a predefined macro", () => {
    expect(codes(run({ "/src/main.defs": "#define __GNU__ 2\n" }))).toEqual(["MIG1013 1:9"]);
  });
});

describe("function-like macros", () => {
  it("substitutes fully expanded arguments", () => {
    expect(pp("#define N 4\n#define SQ(x) ((x) * (x))\nSQ(N) SQ(SQ(2))\n")).toBe(
      "( ( 4 ) * ( 4 ) ) ( ( ( ( 2 ) * ( 2 ) ) ) * ( ( ( 2 ) * ( 2 ) ) ) )",
    );
  });

  it("splits arguments at top-level commas only and allows empty ones", () => {
    expect(pp("#define P(a, b) <a|b>\nP((1, 2), [3]) P(,) P( , x)\n")).toBe(
      "< ( 1 , 2 ) | [ 3 ] > < | > < | x >",
    );
  });

  it("leaves the name alone when no ( follows, even across lines", () => {
    expect(pp("#define F(x) [x]\nF;\nF\n(1)\n")).toBe("F ; [ 1 ]");
  });

  it("gathers arguments across lines", () => {
    const r = run({ "/src/main.defs": "#define F(a, b) a+b\nF(1,\n  2)\n" });
    expect(texts(r)).toBe("1 + 2");
    expect(r.tokens.map((t) => t.location.line)).toEqual([2, 2, 3]);
  });

  it("processes conditionals and #define inside arguments", () => {
    expect(pp("#define F(x) [x]\nF(1\n#ifdef NOPE\n2\n#else\n3\n#endif\n)\n")).toBe("[ 1 3 ]");
  });

  it("rejects other directives inside arguments", () => {
    const r = run({ "/src/main.defs": "#define F(x) x\nF(1\n#error no\n)\n" });
    expect(codes(r)).toEqual(["MIG1024 3:2"]);
    expect(texts(r)).toBe("1");
  });

  it("reports an argument list left open at the end of the file (and of an include)", () => {
    const r = run({ "/src/main.defs": '#define F(x) x\n#include "a.h"\n)\n', "/src/a.h": "F(1\n" });
    expect(codes(r)).toEqual(["MIG1014 1:1"]);
    expect(r.diagnostics[0]!.location!.file).toBe("/src/a.h");
  });

  it("reports wrong argument counts at the macro name", () => {
    expect(codes(run({ "/src/main.defs": "#define F(a, b) a\n  F(1)\n" }))).toEqual([
      "MIG1015 2:3",
    ]);
  });

  it("reports an argument list left open in #if", () => {
    const r = run({ "/src/main.defs": "#define F(x) x\n#if F(1\n#endif\n" });
    expect(codes(r)).toEqual(["MIG1014 2:5"]);
  });
});

describe("# and ##", () => {
  it("stringizes with escapes and collapsed whitespace", () => {
    expect(pp("#define S(x) #x\nS(  a   \"b\\n\"  'c' ) S() S(\\)\n")).toBe(
      '"a \\"b\\\\n\\" \'c\'" "" "\\"',
    );
  });

  it("pastes tokens, with placemarkers for empty arguments", () => {
    expect(pp("#define C(a, b) a ## b\nC(x, y) C(x, ) C(, y) C(, ) C(1, 2) C(<, <)\n")).toBe(
      "xy x y 1 2 <<".replace("1 2", "12"),
    );
  });

  it("rescans pasted names but never the arguments next to ## before pasting", () => {
    expect(pp("#define xy done\n#define A x\n#define C(a, b) a ## b\nC(x, y) C(A, y)\n")).toBe(
      "done Ay",
    );
  });

  it("reports an invalid paste and keeps both tokens", () => {
    const r = run({ "/src/main.defs": "#define C(a, b) a ## b\n  C(., +)\n" });
    expect(codes(r)).toEqual(["MIG1016 2:3"]);
    expect(texts(r)).toBe(". +");
  });

  it("supports __VA_ARGS__, named variadics and the GNU comma paste", () => {
    expect(
      pp(
        "#define V(f, ...) f(__VA_ARGS__)\n#define G(f, a...) f(0 , ## a)\nV(g) V(g, 1, 2) G(h) G(h, 1)\n",
      ),
    ).toBe("g ( ) g ( 1 , 2 ) h ( 0 ) h ( 0 , 1 )");
  });
});

describe("self-reference (painted blue)", () => {
  it("does not expand a macro inside its own expansion", () => {
    expect(pp("#define foo foo + 1\nfoo\n")).toBe("foo + 1");
    expect(pp("#define a b\n#define b a\na b\n")).toBe("a b");
    expect(pp("#define f(x) f(x)\nf(f(1))\n")).toBe("f ( f ( 1 ) )");
  });

  it("keeps a painted name unexpanded when it later reaches a context where the macro is enabled", () => {
    // `g` returns `f` painted inside f's expansion; it must stay unexpanded afterwards.
    expect(pp("#define f(x) g(f)\n#define g(y) y(1)\nf(0)\n")).toBe("f ( 1 )");
  });

  it("stops runaway expansion with MIG1023 instead of hanging", () => {
    const body = "#define A(x) x x x x x x x x\n#define B(x) A(A(A(A(x))))\nB(B(1))\n";
    const r = run({ "/src/main.defs": body });
    expect(r.diagnostics.map((d) => [d.code, d.location?.line])).toEqual([["MIG1023", 3]]);
  });
});

describe("built-in macros", () => {
  it("__FILE__ and __LINE__ give the place of use", () => {
    expect(pp("#define HERE __FILE__ : __LINE__\nx\nHERE\n")).toBe('x "/src/main.defs" : 3');
  });
});

describe("#define syntax errors", () => {
  it("reports each malformed definition and keeps going", () => {
    const r = run({
      "/src/main.defs": "#define F(x) #\n#define G(x,) x\n#define H(x\n#define 1\nok\n",
    });
    expect(codes(r)).toEqual(["MIG1012 1:14", "MIG1012 2:13", "MIG1012 3:10", "MIG1019 4:9"]);
    expect(texts(r)).toBe("ok");
  });
});
