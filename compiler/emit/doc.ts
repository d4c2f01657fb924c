/**
 * A Wadler-style document printer that makes prettier's line-breaking decisions.
 *
 * Generated code must be byte-identical to what prettier prints, without running prettier
 * (DESIGN.md §5). Prettier itself builds a document of the same primitives (text, line,
 * softline, hardline, group, indent, ifBreak, fill) and lays it out with a greedy "does the
 * rest of this group fit on the line" rule. If our emitters build the same documents prettier
 * builds for the constructs they print, this layout algorithm gives the same bytes.
 *
 * The algorithm here is written from the published description of prettier's printer
 * (a group is printed flat when its contents, plus whatever follows up to the next possible
 * line break, fit in the remaining width; a hard line breaks every enclosing group; fill packs
 * as many items per line as fit).
 */

export type Doc = string | readonly Doc[] | DocCommand;

export type DocCommand = Group | Indent | Line | IfBreak | Fill | BreakParent;

export interface Group {
  readonly kind: "group";
  readonly contents: Doc;
  /** Set when the group must break (explicitly, or because it contains a hard line). */
  shouldBreak: boolean;
  readonly id?: symbol;
}

export interface Indent {
  readonly kind: "indent";
  readonly contents: Doc;
}

export interface Line {
  readonly kind: "line";
  /** A soft line prints nothing when flat; a plain line prints a space. */
  readonly soft: boolean;
  /** A hard line always breaks. */
  readonly hard: boolean;
}

export interface IfBreak {
  readonly kind: "ifBreak";
  readonly breakContents: Doc;
  readonly flatContents: Doc;
  /** Decide by this group's mode instead of the enclosing one. */
  readonly groupId?: symbol;
}

export interface Fill {
  readonly kind: "fill";
  /** Alternating content and separator (a line). */
  readonly parts: readonly Doc[];
}

export interface BreakParent {
  readonly kind: "breakParent";
}

// ---------------------------------------------------------------------------------------------
// Builders

export const line: Line = { kind: "line", soft: false, hard: false };
export const softline: Line = { kind: "line", soft: true, hard: false };
const hardlineWithoutBreakParent: Line = { kind: "line", soft: false, hard: true };
export const breakParent: BreakParent = { kind: "breakParent" };
/** A line break that also breaks every group around it. */
export const hardline: Doc = [hardlineWithoutBreakParent, breakParent];

export function group(contents: Doc, options: { shouldBreak?: boolean; id?: symbol } = {}): Group {
  return { kind: "group", contents, shouldBreak: options.shouldBreak ?? false, id: options.id };
}

export function indent(contents: Doc): Indent {
  return { kind: "indent", contents };
}

export function ifBreak(breakContents: Doc, flatContents: Doc = "", groupId?: symbol): IfBreak {
  return { kind: "ifBreak", breakContents, flatContents, groupId };
}

export function fill(parts: readonly Doc[]): Fill {
  return { kind: "fill", parts };
}

export function join(separator: Doc, docs: readonly Doc[]): Doc[] {
  const out: Doc[] = [];
  docs.forEach((doc, i) => {
    if (i > 0) out.push(separator);
    out.push(doc);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Layout

/** How a group is laid out: broken over lines, or flat on one. */
type Mode = 0 | 1;
const Mode = { Break: 0, Flat: 1 } as const;

export interface PrintOptions {
  printWidth: number;
  /** Spaces per indentation level. */
  tabWidth: number;
}

/** Marks every group that contains a hard line (directly or in a nested group) as broken. */
function propagateBreaks(doc: Doc): boolean {
  if (typeof doc === "string") return false;
  if (Array.isArray(doc)) {
    let found = false;
    for (const part of doc as readonly Doc[]) if (propagateBreaks(part)) found = true;
    return found;
  }
  const command = doc as DocCommand;
  switch (command.kind) {
    case "breakParent":
      return true;
    case "line":
      return false;
    case "indent":
      return propagateBreaks(command.contents);
    case "group": {
      const inner = propagateBreaks(command.contents);
      if (inner) command.shouldBreak = true;
      return command.shouldBreak;
    }
    case "ifBreak": {
      const a = propagateBreaks(command.breakContents);
      const b = propagateBreaks(command.flatContents);
      return a || b;
    }
    case "fill": {
      let found = false;
      for (const part of command.parts) if (propagateBreaks(part)) found = true;
      return found;
    }
  }
}

// The layout keeps its work stacks as parallel arrays (indentation, mode, doc) instead of one
// object per entry: printing a generated module pushes hundreds of thousands of entries, and the
// allocations were most of the printer's time (mostly in the garbage collector).

/** Scratch stacks of `fits`, reused across calls (it never nests). */
const fitsModes: Mode[] = [];
const fitsDocs: Doc[] = [];

/**
 * Whether `doc` (in `mode`) fits in `width` columns, followed by the first `restLength` entries of
 * the waiting stack (`restModes`/`restDocs`, read from the top) up to their first line break.
 * With `mustBeFlat`, a group that must break makes it not fit.
 */
function fits(
  mode: Mode,
  doc: Doc,
  restModes: readonly Mode[],
  restDocs: readonly Doc[],
  restLength: number,
  width: number,
  groupModes: Map<symbol, Mode> | undefined,
  mustBeFlat: boolean,
): boolean {
  let restIndex = restLength;
  const modes = fitsModes;
  const docs = fitsDocs;
  let top = 0;
  modes[top] = mode;
  docs[top++] = doc;
  while (width >= 0) {
    if (top === 0) {
      if (restIndex === 0) return true;
      restIndex--;
      modes[top] = restModes[restIndex];
      docs[top++] = restDocs[restIndex];
      continue;
    }
    top--;
    const m = modes[top];
    const d = docs[top];
    if (typeof d === "string") {
      width -= d.length;
      continue;
    }
    if (Array.isArray(d)) {
      const parts = d as readonly Doc[];
      for (let i = parts.length - 1; i >= 0; i--) {
        modes[top] = m;
        docs[top++] = parts[i];
      }
      continue;
    }
    const command = d as DocCommand;
    switch (command.kind) {
      case "indent":
        modes[top] = m;
        docs[top++] = command.contents;
        break;
      case "fill":
        for (let i = command.parts.length - 1; i >= 0; i--) {
          modes[top] = m;
          docs[top++] = command.parts[i];
        }
        break;
      case "group": {
        if (mustBeFlat && command.shouldBreak) return false;
        modes[top] = command.shouldBreak ? Mode.Break : m;
        docs[top++] = command.contents;
        break;
      }
      case "ifBreak": {
        const groupMode = command.groupId ? (groupModes?.get(command.groupId) ?? Mode.Flat) : m;
        const contents = groupMode === Mode.Break ? command.breakContents : command.flatContents;
        if (contents !== "") {
          modes[top] = m;
          docs[top++] = contents;
        }
        break;
      }
      case "line":
        if (m === Mode.Break || command.hard) return true;
        if (!command.soft) width -= 1;
        break;
      case "breakParent":
        break;
    }
  }
  return false;
}

const NO_MODES: readonly Mode[] = [];
const NO_DOCS: readonly Doc[] = [];

/** "\\n" and `n` spaces, for the indentations seen so far. */
const newlines: string[] = [];
function newline(indentation: number): string {
  return (newlines[indentation] ??= "\n" + " ".repeat(indentation));
}

/** Lays out `doc` and returns the text. */
export function printDoc(doc: Doc, options: PrintOptions): string {
  propagateBreaks(doc);
  const width = options.printWidth;
  const tabWidth = options.tabWidth;
  let groupModes: Map<symbol, Mode> | undefined;
  const out: string[] = [];
  let position = 0;
  let shouldRemeasure = false;
  // The stack of commands waiting to be printed.
  const indents: number[] = [0];
  const modes: Mode[] = [Mode.Break];
  const docs: Doc[] = [doc];
  let top = 1;
  const push = (indentation: number, mode: Mode, d: Doc): void => {
    indents[top] = indentation;
    modes[top] = mode;
    docs[top++] = d;
  };

  const trimTrailingSpaces = (): void => {
    while (out.length > 0) {
      const last = out[out.length - 1];
      let end = last.length;
      while (end > 0) {
        const c = last.charCodeAt(end - 1);
        if (c !== 32 && c !== 9) break;
        end--;
      }
      if (end === last.length) return;
      position -= last.length - end;
      if (end === 0) out.pop();
      else {
        out[out.length - 1] = last.slice(0, end);
        return;
      }
    }
  };

  while (top > 0) {
    top--;
    const indentation = indents[top];
    const mode = modes[top];
    const current = docs[top];
    docs[top] = ""; // let the printed part go
    if (typeof current === "string") {
      out.push(current);
      position += current.length;
      continue;
    }
    if (Array.isArray(current)) {
      const parts = current as readonly Doc[];
      for (let i = parts.length - 1; i >= 0; i--) push(indentation, mode, parts[i]);
      continue;
    }
    const command = current as DocCommand;
    switch (command.kind) {
      case "indent":
        push(indentation + tabWidth, mode, command.contents);
        break;
      case "group": {
        let chosen: Mode;
        if (mode === Mode.Flat && !shouldRemeasure) {
          chosen = command.shouldBreak ? Mode.Break : Mode.Flat;
        } else {
          shouldRemeasure = false;
          chosen =
            !command.shouldBreak && fits(Mode.Flat, command.contents, modes, docs, top, width - position, groupModes, false)
              ? Mode.Flat
              : Mode.Break;
        }
        push(indentation, chosen, command.contents);
        if (command.id) (groupModes ??= new Map()).set(command.id, chosen);
        break;
      }
      case "ifBreak": {
        const groupMode = command.groupId ? (groupModes?.get(command.groupId) ?? Mode.Flat) : mode;
        const contents = groupMode === Mode.Break ? command.breakContents : command.flatContents;
        if (contents !== "") push(indentation, mode, contents);
        break;
      }
      case "fill":
        printFill(command, indentation, mode);
        break;
      case "line":
        if (mode === Mode.Flat && !command.hard) {
          if (!command.soft) {
            out.push(" ");
            position += 1;
          }
          break;
        }
        if (mode === Mode.Flat) shouldRemeasure = true;
        trimTrailingSpaces();
        out.push(newline(indentation));
        position = indentation;
        break;
      case "breakParent":
        break;
    }
  }

  function printFill(command: Fill, indentation: number, mode: Mode): void {
    const parts = command.parts;
    if (parts.length === 0) return;
    const remaining = width - position;
    const content = parts[0];
    const contentFits = fits(Mode.Flat, content, NO_MODES, NO_DOCS, 0, remaining, groupModes, true);
    if (parts.length === 1) {
      push(indentation, contentFits ? Mode.Flat : Mode.Break, content);
      return;
    }
    const separator = parts[1];
    if (parts.length === 2) {
      const m = contentFits ? Mode.Flat : Mode.Break;
      push(indentation, m, separator);
      push(indentation, m, content);
      return;
    }
    const pairFits = fits(Mode.Flat, [content, separator, parts[2]], NO_MODES, NO_DOCS, 0, remaining, groupModes, true);
    push(indentation, mode, fill(parts.slice(2)));
    push(indentation, pairFits ? Mode.Flat : Mode.Break, separator);
    push(indentation, pairFits || contentFits ? Mode.Flat : Mode.Break, content);
  }

  trimTrailingSpaces();
  return out.join("");
}
