/**
 * Prints a type the way `mig -v` does (`array [] of (MACH_MSG_TYPE_INTEGER_64, 64, IsLong)`), so
 * models can be compared with GNU MIG's own description of its types (the conformance vectors'
 * `mig_type`) and diagnostics can show what a type resolved to.
 */
import { ipcNameText } from "./abi.js";
import type { MigType } from "./model.js";

export function printMigType(t: MigType): string {
  const descriptor = printDescriptor(t);
  if (!t.element) return t.inline ? descriptor : `^ ${descriptor}`;
  let shape: string;
  if (t.varArray) shape = t.indefinite || !t.inline ? "array []" : `array [*:${t.number}]`;
  else shape = `${t.isStruct ? "struct" : "array"} [${t.number}]`;
  return `${t.inline ? "" : "^ "}${shape} of ${descriptor}`;
}

function printDescriptor(t: MigType): string {
  const inText = t.inNameText ?? ipcNameText(t.inName, false);
  const outText = t.outNameText ?? ipcNameText(t.outName, true);
  const flags: string[] = [];
  if (t.longForm) flags.push("IsLong");
  if (t.dealloc === "yes") flags.push("Dealloc");
  if (t.dealloc === "maybe") flags.push("Dealloc[]");
  const tail = flags.map((f) => `, ${f}`).join("");
  return inText === outText
    ? `(${inText}, ${t.size}${tail})`
    : `(${inText}|${outText} ${t.size}${tail})`;
}
