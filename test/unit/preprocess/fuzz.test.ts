/** Random directive soup: the preprocessor must never throw and its output must stay consistent. */
import fc from "fast-check";
import { expect, it } from "vitest";
import { run } from "./support.js";

const pieces = [
  "#define ",
  "#undef ",
  "#if ",
  "#ifdef ",
  "#ifndef ",
  "#elif ",
  "#else",
  "#endif",
  "#include ",
  "#line ",
  "#error ",
  "#pragma ",
  "#",
  "##",
  "F",
  "G",
  "X",
  "(",
  ")",
  ",",
  "...",
  "__VA_ARGS__",
  "defined",
  "1",
  "0x1f",
  "'a'",
  '"s"',
  "<a.h>",
  '"a.h"',
  "+",
  "-",
  "/",
  "%",
  "?",
  ":",
  "<<",
  "&&",
  "\n",
  " ",
  "\\\n",
  "/*",
  "*/",
  "//",
];

it("never throws and keeps tokens at their offsets", () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 60 }), (parts) => {
      const source = parts.join("");
      const r = run({ "/src/main.defs": source, "/src/a.h": source.slice(0, 40) });
      for (const t of r.tokens) {
        expect(r.text.slice(t.offset, t.offset + t.text.length)).toBe(t.text);
        expect(t.location.line).toBeGreaterThanOrEqual(1);
      }
      for (const d of r.diagnostics) expect(d.code).toMatch(/^MIG[01]\d{3}$/);
    }),
    { numRuns: 1500, seed: 42 },
  );
});
