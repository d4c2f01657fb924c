import { expect, it } from "vitest";
import { validateGrammar } from "../../../compiler/syntax/parser.js";
import { validateLexer } from "../../../compiler/syntax/lexer.js";

// The compiler builds the lexer and parser without chevrotain's validations (they cost start-up time);
// this test runs them, so an ambiguous or left-recursive rule cannot slip in.
it("the grammar passes chevrotain's validations", () => {
  expect(() => validateGrammar()).not.toThrow();
});

it("the token definitions pass chevrotain's validations", () => {
  expect(() => validateLexer()).not.toThrow();
});
