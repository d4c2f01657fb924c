/**
 * The message tracer (runtime/trace): the name server example traced through its generated
 * descriptors (requests with arguments and rights, seqnos, replies with return codes by name,
 * out values and times, no-senders notifications), the hex-dump fallback for unknown ids, and
 * `mig-ts trace` running a program with tracing on.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { notify_subsystem } from "../../../generated/notify.js";
import { traceMain } from "../../../compiler/commands/trace.js";
import { name_server_subsystem, runDemo } from "../../../examples/name-server/demo.js";
import { MACH_MSG_TYPE_MAKE_SEND, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_RIGHT_RECEIVE, MACH_SEND_MSG } from "../../../runtime/constants.js";
import { Kernel } from "../../../runtime/kernel/kernel.js";
import { newHeader, writeHeader } from "../../../runtime/codec/header.js";
import { Tracer, traceKernel } from "../../../runtime/trace/index.js";

function tracedDemo() {
  const lines: string[] = [];
  let clock = 0;
  const kernel = new Kernel("x86_64");
  const tracer = traceKernel(kernel, {
    subsystems: [name_server_subsystem, notify_subsystem],
    write: (line) => lines.push(line),
    now: () => (clock += 0.25),
  });
  return { kernel, tracer, lines };
}

describe("Tracer", () => {
  it("decodes the name server's requests, replies and notifications", async () => {
    const { kernel, lines } = tracedDemo();
    await runDemo({ kernel, log: () => {} });
    const text = lines.join("\n");
    // The client's request: routine, arguments with the sender's names and dispositions, reply port.
    expect(text).toMatch(/^alice +> name_register\(server=0x[0-9a-f]+ copy-send, name="printer", service=0x[0-9a-f]+ copy-send\) reply-to 0x[0-9a-f]+$/m);
    // The server's view: the rights it received, and the seqno.
    expect(text).toMatch(/^names +< name_register\(server=0x[0-9a-f]+, name="printer", service=0x[0-9a-f]+ send\) seqno 0$/m);
    // Replies: return code by name, out values with rights, handling time and round trip.
    expect(text).toMatch(/^names +> name_register = KERN_SUCCESS \(entry=0x[0-9a-f]+ make-send\) in \d+\.\d\d ms$/m);
    expect(text).toMatch(/^alice +< name_register = KERN_SUCCESS \(entry=0x[0-9a-f]+ send\) round trip \d+\.\d\d ms$/m);
    expect(text).toMatch(/^alice +< name_register = KERN_NAME_EXISTS round trip/m);
    expect(text).toMatch(/^bob +< name_list = KERN_SUCCESS \(names="printer\\nscanner", count=2\)/m);
    expect(text).toMatch(/^bob +< name_lookup = KERN_INVALID_NAME round trip/m);
    // The no-senders notification, decoded through notify.defs's descriptor.
    expect(text).toMatch(/^names +< mach_notify_no_senders\(notify=0x[0-9a-f]+, mscount=1\) seqno 0$/m);
    // Every message was decoded: no hex dumps.
    expect(text).not.toContain("no descriptor for this id");
  });

  it("falls back to a hex dump for ids it has no descriptor for", async () => {
    const lines: string[] = [];
    const kernel = new Kernel("x86_64");
    new Tracer({ write: (l) => lines.push(l) }).attach(kernel);
    const a = kernel.createTask("a");
    const port = a.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    a.mach_port_insert_right(port, port, MACH_MSG_TYPE_MAKE_SEND);
    const bytes = new Uint8Array(40);
    const view = new DataView(bytes.buffer);
    writeHeader(view, kernel.abi, { ...newHeader(), bits: MACH_MSG_TYPE_COPY_SEND, size: 40, remotePort: port, id: 4242 });
    view.setUint32(32, 0xdeadbeef, true);
    expect((await a.mach_msg({ bytes, ool: [] }, MACH_SEND_MSG, 40)).code).toBe(0);
    expect(lines[0].split("\n")[0]).toBe(`a        > msg 4242 to 0x${port.toString(16)} copy-send (40 bytes, no descriptor for this id)`);
    expect(lines[0]).toContain("0000  13 00 00 00 28 00 00 00");
    expect(lines[0]).toContain("0020  ef be ad de 00 00 00 00");
  });

  it("mig-ts trace runs a program with every kernel traced", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mig-ts-trace-test-"));
    try {
      const output = join(dir, "trace.txt");
      const err: string[] = [];
      const code = await traceMain(
        ["-I", "defs", "--defs", "examples/name-server/name_server.defs", "--defs", "defs/notify.defs", "-o", output, "examples/name-server/main.ts"],
        { stdout: () => {}, stderr: (t) => err.push(t) },
      );
      expect(err.join("")).toBe("");
      expect(code).toBe(0);
      const trace = readFileSync(output, "utf8");
      expect(trace).toMatch(/^alice +> name_register\(server=0x[0-9a-f]+ copy-send, name="printer"/m);
      expect(trace).toMatch(/^names +< mach_notify_no_senders\(notify=0x[0-9a-f]+, mscount=1\)/m);
      expect(trace).toMatch(/^bob +< name_lookup = KERN_INVALID_NAME round trip/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("mig-ts trace on the default pager demo", () => {
  it("decodes default_pager_object_create and its reply from npm start", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mig-ts-trace-pager-"));
    try {
      const output = join(dir, "trace.txt");
      const code = await traceMain(["-o", output, "--", "npm", "start", "--silent", "--", "--object-size", "64K", "--resident", "4"], {
        stdout: () => {},
        stderr: () => {},
      });
      expect(code).toBe(0);
      const trace = readFileSync(output, "utf8");
      expect(trace).toMatch(/^user +> default_pager_object_create\(default_pager=0x[0-9a-f]+ copy-send, object_size=65536\) reply-to 0x[0-9a-f]+$/m);
      expect(trace).toMatch(/^default-pager < default_pager_object_create\(default_pager=0x[0-9a-f]+, object_size=65536\) seqno \d+$/m);
      expect(trace).toMatch(/^default-pager > default_pager_object_create = KERN_SUCCESS \(memory_object=0x[0-9a-f]+ make-send\) in \d+\.\d\d ms$/m);
      expect(trace).toMatch(/^user +< default_pager_object_create = KERN_SUCCESS \(memory_object=0x[0-9a-f]+ send\) round trip \d+\.\d\d ms$/m);
      expect(trace).toMatch(/^default-pager < memory_object_data_request\(/m);
      expect(trace).not.toContain("no descriptor for this id");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
