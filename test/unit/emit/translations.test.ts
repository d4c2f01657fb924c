/**
 * Translation functions (mig-reference.md §4.4) on a generated server: `intran`, `outtran` and
 * `destructor` become optional typed hooks of a `<Subsystem>Translations` object given to the demux
 * factory next to the handlers. Generated into a temp dir and run over the in-process kernel.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as prettier from "prettier";
import { afterAll, describe, expect, it } from "vitest";
import prettierConfig from "../../../.prettierrc.json" with { type: "json" };
import { generate } from "../../../compiler/emit/generate.js";
import {
  Kernel,
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_PORT_RIGHT_RECEIVE,
  MachError,
  ReturnCode,
  createCaller,
  migDemux,
  serve,
  type AnyMigDemux,
  type MigCaller,
} from "../../../runtime/index.js";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

const TRANS = `
subsystem trans 4200;
#include <mach/std_types.defs>
type temp_t = int
	intran: temp_ref_t temp_in(int)
	outtran: int temp_out(temp_ref_t)
	destructor: temp_free(temp_ref_t);
type obj_t = mach_port_t
	intran: obj_ref_t obj_in(mach_port_t)
	destructor: obj_done(obj_ref_t);
routine trans_double(server: obj_t; t: temp_t; out r: temp_t; n: int);
simpleroutine trans_note(server: mach_port_t; t: temp_t);
`;

type Module = Record<string, unknown>;
type Fn = (...args: unknown[]) => unknown;

function world(demux: AnyMigDemux) {
  const kernel = new Kernel("x86_64");
  const server = kernel.createTask("server");
  const client = kernel.createTask("client");
  const service = server.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const errors: unknown[] = [];
  serve(server, service, migDemux(demux, { onError: (e) => errors.push(e) }));
  const send = server.mach_port_extract_right(service, MACH_MSG_TYPE_MAKE_SEND, client).right;
  const Client = (mod.TransClient as new (c: MigCaller) => Record<string, Fn>);
  return { service, errors, client: new Client(createCaller(client, send)) };
}

let mod: Module;

describe("intran / outtran / destructor on a generated server", () => {
  const dir = mkdtempSync(join(tmpdir(), "mig-ts-translations-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let text = "";

  it("generates a module with the hooks interface, formatted as prettier formats it", async () => {
    const path = join(dir, "trans.defs");
    writeFileSync(path, TRANS);
    writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
    const r = generate(path, { includeDirs: [join(ROOT, "defs")] });
    expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    text = r.files[0].text;
    expect(text).toContain("export interface TransHandlers<obj_ref_t = obj_t, temp_ref_t = temp_t> {");
    expect(text).toContain("export interface TransTranslations<obj_ref_t = obj_t, temp_ref_t = temp_t> {");
    expect(text).toContain("temp_in?(value: temp_t): temp_ref_t;");
    expect(text).toContain("temp_out?(value: temp_ref_t): temp_t;");
    expect(text).toContain("temp_free?(value: temp_ref_t): void;");
    expect(text).not.toMatch(/\bany\b(?!")/);
    expect(await prettier.format(text, { ...prettierConfig, parser: "typescript" })).toBe(text);
    const out = join(dir, r.files[0].name);
    writeFileSync(out, text);
    mod = (await import(pathToFileURL(out).href)) as Module;
  });

  it("the handler gets translated values, the reply the out-translated value; destructors run once, also on a throw", async () => {
    class Ref {
      constructor(readonly v: number) {}
    }
    const freed: Ref[] = [];
    const done: string[] = [];
    let fail = false;
    const seen: unknown[][] = [];
    const translations = {
      prefix: "obj:",
      obj_in(this: { prefix: string }, p: number) {
        return `${this.prefix}${p}`;
      },
      obj_done: (s: string) => void done.push(s),
      temp_in: (x: number) => new Ref(x),
      temp_out: (r: Ref) => r.v + 1000,
      temp_free: (r: Ref) => void freed.push(r),
    };
    const handlers = {
      trans_double(server: string, t: Ref, n: number) {
        seen.push([server, t, n]);
        if (fail) throw new MachError(ReturnCode.KERN_INVALID_ARGUMENT);
        return new Ref(t.v * n);
      },
      trans_note(_server: number, t: Ref) {
        seen.push([t]);
      },
    };
    const w = world((mod.trans_server as Fn)(handlers, translations) as AnyMigDemux);

    await expect(w.client.trans_double(5, 3)).resolves.toBe(1015);
    expect(seen).toHaveLength(1);
    expect(seen[0][0]).toBe(`obj:${w.service}`);
    expect(seen[0][1]).toBeInstanceOf(Ref);
    expect((seen[0][1] as Ref).v).toBe(5);
    expect(seen[0][2]).toBe(3);
    expect(freed).toEqual([seen[0][1]]);
    expect(done).toEqual([`obj:${w.service}`]);

    fail = true;
    await expect(w.client.trans_double(7, 2)).rejects.toMatchObject({ code: ReturnCode.KERN_INVALID_ARGUMENT });
    expect(seen).toHaveLength(2);
    expect(freed).toHaveLength(2);
    expect(freed[1]).toBe(seen[1][1]);
    expect(done).toHaveLength(2);

    // A simpleroutine: the destructor runs too.
    await w.client.trans_note(9);
    for (let i = 0; i < 50 && seen.length < 3; i++) await new Promise((res) => setTimeout(res, 1));
    expect((seen[2][0] as Ref).v).toBe(9);
    for (let i = 0; i < 50 && freed.length < 3; i++) await new Promise((res) => setTimeout(res, 1));
    expect(freed).toHaveLength(3);
    expect(freed[2]).toBe(seen[2][0]);
  });

  it("without translations (or with some missing) values pass untranslated", async () => {
    const seen: unknown[][] = [];
    const handlers = {
      trans_double(server: number, t: number, n: number) {
        seen.push([server, t, n]);
        return t * n;
      },
      trans_note() {},
    };
    const w = world((mod.trans_server as Fn)(handlers) as AnyMigDemux);
    await expect(w.client.trans_double(5, 3)).resolves.toBe(15);
    expect(seen[0]).toEqual([w.service, 5, 3]);

    let freed = 0;
    const w2 = world((mod.trans_server as Fn)(handlers, { temp_free: () => void freed++ }) as AnyMigDemux);
    await expect(w2.client.trans_double(4, 4)).resolves.toBe(16);
    expect(seen[1]).toEqual([w2.service, 4, 4]);
    expect(freed).toBe(1);
  });
});
