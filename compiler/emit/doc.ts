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

interface Command {
  indentation: number;
  mode: Mode;
  doc: Doc;
}

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

/**
 * Whether `next` fits in `width` columns, followed by the commands still waiting (`rest`, read
 * from its end) up to their first line break. With `mustBeFlat`, a group that must break
 * makes it not fit.
 */
function fits(
  next: Command,
  rest: readonly Command[],
  width: number,
  groupModes: Map<symbol, Mode>,
  mustBeFlat: boolean,
): boolean {
  let restIndex = rest.length;
  const stack: Array<{ mode: Mode; doc: Doc }> = [{ mode: next.mode, doc: next.doc }];
  while (width >= 0) {
    if (stack.length === 0) {
      if (restIndex === 0) return true;
      const r = rest[--restIndex];
      stack.push({ mode: r.mode, doc: r.doc });
      continue;
    }
    const { mode, doc } = stack.pop()!;
    if (typeof doc === "string") {
      width -= doc.length;
      continue;
    }
    if (Array.isArray(doc)) {
      const parts = doc as readonly Doc[];
      for (let i = parts.length - 1; i >= 0; i--) stack.push({ mode, doc: parts[i] });
      continue;
    }
    const command = doc as DocCommand;
    switch (command.kind) {
      case "indent":
        stack.push({ mode, doc: command.contents });
        break;
      case "fill":
        for (let i = command.parts.length - 1; i >= 0; i--) stack.push({ mode, doc: command.parts[i] });
        break;
      case "group": {
        if (mustBeFlat && command.shouldBreak) return false;
        const groupMode = command.shouldBreak ? Mode.Break : mode;
        stack.push({ mode: groupMode, doc: command.contents });
        break;
      }
      case "ifBreak": {
        const groupMode = command.groupId ? (groupModes.get(command.groupId) ?? Mode.Flat) : mode;
        const contents = groupMode === Mode.Break ? command.breakContents : command.flatContents;
        if (contents !== "") stack.push({ mode, doc: contents });
        break;
      }
      case "line":
        if (mode === Mode.Break || command.hard) return true;
        if (!command.soft) width -= 1;
        break;
      case "breakParent":
        break;
    }
  }
  return false;
}

/** Lays out `doc` and returns the text. */
export function printDoc(doc: Doc, options: PrintOptions): string {
  propagateBreaks(doc);
  const width = options.printWidth;
  const groupModes = new Map<symbol, Mode>();
  const out: string[] = [];
  let position = 0;
  let shouldRemeasure = false;
  const commands: Command[] = [{ indentation: 0, mode: Mode.Break, doc }];

  const trimTrailingSpaces = (): void => {
    while (out.length > 0) {
      const last = out[out.length - 1];
      const trimmed = last.replace(/[ \t]+$/, "");
      if (trimmed.length === last.length) return;
      position -= last.length - trimmed.length;
      if (trimmed === "") out.pop();
      else {
        out[out.length - 1] = trimmed;
        return;
      }
    }
  };

  while (commands.length > 0) {
    const { indentation, mode, doc: current } = commands.pop()!;
    if (typeof current === "string") {
      out.push(current);
      position += current.length;
      continue;
    }
    if (Array.isArray(current)) {
      const parts = current as readonly Doc[];
      for (let i = parts.length - 1; i >= 0; i--) commands.push({ indentation, mode, doc: parts[i] });
      continue;
    }
    const command = current as DocCommand;
    switch (command.kind) {
      case "indent":
        commands.push({ indentation: indentation + options.tabWidth, mode, doc: command.contents });
        break;
      case "group": {
        let chosen: Mode;
        if (mode === Mode.Flat && !shouldRemeasure) {
          chosen = command.shouldBreak ? Mode.Break : Mode.Flat;
        } else {
          shouldRemeasure = false;
          const flat: Command = { indentation, mode: Mode.Flat, doc: command.contents };
          chosen =
            !command.shouldBreak && fits(flat, commands, width - position, groupModes, false)
              ? Mode.Flat
              : Mode.Break;
        }
        commands.push({ indentation, mode: chosen, doc: command.contents });
        if (command.id) groupModes.set(command.id, chosen);
        break;
      }
      case "ifBreak": {
        const groupMode = command.groupId ? (groupModes.get(command.groupId) ?? Mode.Flat) : mode;
        const contents = groupMode === Mode.Break ? command.breakContents : command.flatContents;
        if (contents !== "") commands.push({ indentation, mode, doc: contents });
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
        out.push("\n" + " ".repeat(indentation));
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
    const contentFlat: Command = { indentation, mode: Mode.Flat, doc: content };
    const contentBreak: Command = { indentation, mode: Mode.Break, doc: content };
    const contentFits = fits(contentFlat, [], remaining, groupModes, true);
    if (parts.length === 1) {
      commands.push(contentFits ? contentFlat : contentBreak);
      return;
    }
    const separator = parts[1];
    const separatorFlat: Command = { indentation, mode: Mode.Flat, doc: separator };
    const separatorBreak: Command = { indentation, mode: Mode.Break, doc: separator };
    if (parts.length === 2) {
      if (contentFits) commands.push(separatorFlat, contentFlat);
      else commands.push(separatorBreak, contentBreak);
      return;
    }
    const rest: Command = { indentation, mode, doc: fill(parts.slice(2)) };
    const pair: Command = { indentation, mode: Mode.Flat, doc: [content, separator, parts[2]] };
    if (fits(pair, [], remaining, groupModes, true)) commands.push(rest, separatorFlat, contentFlat);
    else if (contentFits) commands.push(rest, separatorBreak, contentFlat);
    else commands.push(rest, separatorBreak, contentBreak);
  }

  trimTrailingSpaces();
  return out.join("");
}
