/**
 * Identifier escaping and lazy imports for generated modules.
 *
 * An import is declared only when printed code asks for the symbol (`use`), and a symbol whose
 * name is already taken in the module (a `.defs` type or routine with the same name) is
 * imported under another name (`as <name>_`), so user names never have to change.
 */
import type { Decl } from "./ts.js";

const RESERVED = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends false " +
    "finally for function if import in instanceof new null return super switch this throw true try " +
    "typeof var void while with implements interface let package private protected public static " +
    "yield await arguments eval undefined NaN Infinity any unknown never object symbol bigint number " +
    "string boolean type as async from of declare namespace module keyof readonly infer is asserts"
  ).split(" "),
);

/** A name usable as a TypeScript binding: reserved words get a trailing underscore. */
export function safeName(name: string): string {
  const cleaned = /^[A-Za-z_$][\w$]*$/.test(name) ? name : name.replace(/[^\w$]/g, "_").replace(/^(\d)/, "_$1");
  return RESERVED.has(cleaned) ? `${cleaned}_` : cleaned;
}

interface Wanted {
  module: string;
  name: string;
  local: string;
  typeOnly: boolean;
}

export class ImportTracker {
  private readonly taken = new Set<string>();
  private readonly wanted = new Map<string, Wanted>();

  /** Declares names the module itself defines, so imports never shadow them. */
  reserve(...names: string[]): void {
    for (const n of names) this.taken.add(n);
  }

  /** The local name for `name` from `module`; records the import. */
  use(module: string, name: string, options: { typeOnly?: boolean } = {}): string {
    const key = `${module}\0${name}`;
    const existing = this.wanted.get(key);
    if (existing) {
      if (!options.typeOnly) existing.typeOnly = false;
      return existing.local;
    }
    let local = name;
    while (this.taken.has(local)) local = `${local}_`;
    this.taken.add(local);
    this.wanted.set(key, { module, name, local, typeOnly: options.typeOnly ?? false });
    return local;
  }

  /** A type-only use. */
  type(module: string, name: string): string {
    return this.use(module, name, { typeOnly: true });
  }

  /** Import declarations, sorted by module then name, deterministic. */
  declarations(): Decl[] {
    const byModule = new Map<string, Wanted[]>();
    for (const w of this.wanted.values()) {
      const list = byModule.get(w.module) ?? [];
      list.push(w);
      byModule.set(w.module, list);
    }
    const out: Decl[] = [];
    for (const module of [...byModule.keys()].sort()) {
      const list = byModule.get(module)!.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const allTypes = list.every((w) => w.typeOnly);
      out.push({
        d: "import",
        from: module,
        typeOnly: allTypes,
        names: list.map((w) => ({
          name: w.name,
          alias: w.local !== w.name ? w.local : undefined,
          typeOnly: !allTypes && w.typeOnly,
        })),
      });
    }
    return out;
  }
}
