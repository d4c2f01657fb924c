/**
 * One benchmark figure, as every bench prints it in its last JSON line (DESIGN.md §1): the value,
 * the baseline measured in the same run, their ratio and the goal the ratio is held to.
 */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline: number;
  ratio: number;
  goal: number;
  goalOp: "<=" | ">=";
}
