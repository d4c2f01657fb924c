/**
 * Helpers for the ownership and fuzz tests: the generated interfaces of defs/ (IR + module), and
 * snapshots of IPC spaces and ports taken through the public Mach calls (mach_port_names,
 * mach_port_type, mach_port_get_refs) so two states can be compared, plus a transform that
 * applies Mach's rules for what a message carrying a right of a given disposition does.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { generate } from "../../../compiler/emit/generate.js";
import type { InterfaceIR } from "../../../compiler/layout/ir.js";
import {
  MACH_PORT_RIGHT_DEAD_NAME,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_PORT_RIGHT_SEND,
  MACH_PORT_RIGHT_SEND_ONCE,
  MACH_PORT_TYPE_DEAD_NAME,
  MACH_PORT_TYPE_RECEIVE,
  MACH_PORT_TYPE_SEND,
  MACH_PORT_TYPE_SEND_ONCE,
  type Task,
} from "../../../runtime/index.js";
import type { Port } from "../../../runtime/kernel/objects.js";

export const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

export const readFile = (p: string): string | undefined => {
  try {
    return readFileSync(p.startsWith("/") ? p : join(ROOT, p), "utf8");
  } catch {
    return undefined;
  }
};

export type Module = Record<string, unknown>;
export type Fn = (...args: unknown[]) => unknown;

export interface Variant {
  defs: string;
  seqnos: boolean;
  ir: InterfaceIR;
  /** generated/<name>.ts */
  file: string;
}

/** The interfaces of `defs/<name>.defs`, plain and (when the file has `#if SEQNOS`) seqnos. */
export function variants(names: readonly string[]): Variant[] {
  const out: Variant[] = [];
  for (const defs of names) {
    const text = readFile(`defs/${defs}.defs`)!;
    for (const seqnos of /^#if\s+SEQNOS\b/m.test(text) ? [false, true] : [false]) {
      const r = generate(`defs/${defs}.defs`, {
        includeDirs: [join(ROOT, "defs")],
        defines: seqnos ? ["SEQNOS"] : [],
        readFile,
      });
      out.push({ defs, seqnos, ir: r.ir!, file: join(ROOT, "generated", r.files[0].name) });
    }
  }
  return out;
}

export async function load(file: string): Promise<Module> {
  return (await import(pathToFileURL(file).href)) as Module;
}

// ---------------------------------------------------------------------------------------------
// Snapshots.

export interface NameState {
  type: number;
  send: number;
  sendOnce: number;
  receive: number;
  dead: number;
}

export interface PortState {
  dead: boolean;
  srights: number;
  sorights: number;
  mscount: number;
  msgcount: number;
}

/** Every name of `task`'s space with its type and user references, by the public calls. */
export function spaceOf(task: Task): Map<number, NameState> {
  const out = new Map<number, NameState>();
  const { names } = task.mach_port_names();
  for (const name of names) {
    const type = task.mach_port_type(name).type & 0x001f0000;
    const refs = (right: number) => {
      const r = task.mach_port_get_refs(name, right);
      return r.code === 0 ? r.refs : -1;
    };
    out.set(name, {
      type,
      send: refs(MACH_PORT_RIGHT_SEND),
      sendOnce: refs(MACH_PORT_RIGHT_SEND_ONCE),
      receive: refs(MACH_PORT_RIGHT_RECEIVE),
      dead: refs(MACH_PORT_RIGHT_DEAD_NAME),
    });
  }
  return out;
}

export function portState(p: Port): PortState {
  return {
    dead: p.dead,
    srights: p.dead ? 0 : p.srights,
    sorights: p.dead ? 0 : p.sorights,
    mscount: p.dead ? 0 : p.mscount,
    msgcount: p.dead ? 0 : p.msgcount,
  };
}

export interface Snapshot {
  spaces: Map<Task, Map<number, NameState>>;
  ports: Map<Port, PortState>;
}

export function snapshot(tasks: readonly Task[], ports: Iterable<Port>): Snapshot {
  const spaces = new Map<Task, Map<number, NameState>>();
  for (const t of tasks) spaces.set(t, spaceOf(t));
  const ps = new Map<Port, PortState>();
  for (const p of ports) ps.set(p, portState(p));
  return { spaces, ports: ps };
}

export function cloneSnapshot(s: Snapshot): Snapshot {
  const spaces = new Map<Task, Map<number, NameState>>();
  for (const [t, m] of s.spaces) spaces.set(t, new Map([...m].map(([n, e]) => [n, { ...e }])));
  return { spaces, ports: new Map([...s.ports].map(([p, e]) => [p, { ...e }])) };
}

/** The differences between two snapshots, as readable lines (empty when equal). */
export function diff(want: Snapshot, got: Snapshot): string[] {
  const out: string[] = [];
  for (const [t, w] of want.spaces) {
    const g = got.spaces.get(t) ?? new Map<number, NameState>();
    for (const [name, e] of w) {
      const h = g.get(name);
      if (!h) out.push(`${t.label}: name ${name.toString(16)} missing (want ${JSON.stringify(e)})`);
      else if (JSON.stringify(h) !== JSON.stringify(e))
        out.push(
          `${t.label}: name ${name.toString(16)} ${JSON.stringify(h)}, want ${JSON.stringify(e)}`,
        );
    }
    for (const [name, h] of g)
      if (!w.has(name))
        out.push(`${t.label}: extra name ${name.toString(16)} ${JSON.stringify(h)}`);
  }
  for (const [p, w] of want.ports) {
    const h = got.ports.get(p) ?? portState(p);
    if (JSON.stringify(h) !== JSON.stringify(w))
      out.push(
        `port ${p.id}${p.label ? ` (${p.label})` : ""}: ${JSON.stringify(h)}, want ${JSON.stringify(w)}`,
      );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Mach's effect of a message's rights, applied to a snapshot.

function typeOf(e: NameState): number {
  let t = 0;
  if (e.send > 0) t |= MACH_PORT_TYPE_SEND;
  if (e.receive > 0) t |= MACH_PORT_TYPE_RECEIVE;
  if (e.sendOnce > 0) t |= MACH_PORT_TYPE_SEND_ONCE;
  if (e.dead > 0) t |= MACH_PORT_TYPE_DEAD_NAME;
  return t;
}

function fix(space: Map<number, NameState>, name: number): void {
  const e = space.get(name)!;
  // mach_port_get_refs answers 0 for a right the name does not hold, -1 never here.
  e.type = typeOf(e);
  if (e.type === 0) space.delete(name);
}

/** The sender gave up one send uref under `name` (MOVE_SEND). */
export function dropSend(s: Snapshot, task: Task, name: number, port: Port): void {
  const space = s.spaces.get(task)!;
  space.get(name)!.send--;
  fix(space, name);
  s.ports.get(port)!.srights--;
}

/** The send-once right under `name` went away (moved or destroyed). */
export function dropSendOnce(s: Snapshot, task: Task, name: number, port: Port): void {
  const space = s.spaces.get(task)!;
  space.get(name)!.sendOnce--;
  fix(space, name);
  s.ports.get(port)!.sorights--;
}

/**
 * The receive right under `name` was moved away and then destroyed: the name loses the receive
 * right, send rights to the port in every space become dead names with the same urefs.
 */
export function portDied(
  s: Snapshot,
  port: Port,
  holders: ReadonlyArray<{ task: Task; name: number }>,
): void {
  for (const { task, name } of holders) {
    const space = s.spaces.get(task)!;
    const e = space.get(name);
    if (!e) continue;
    e.receive = 0;
    e.dead += e.send + e.sendOnce;
    e.send = 0;
    e.sendOnce = 0;
    fix(space, name);
  }
  s.ports.set(port, { dead: true, srights: 0, sorights: 0, mscount: 0, msgcount: 0 });
}
