/**
 * The name server example: the demo's client calls over the in-process kernel (register,
 * duplicate register, list, lookup, unregister, no-senders cleanup), the rights the server ends
 * up holding, and the checked-in stubs being current.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Kernel } from "../../runtime/kernel/kernel.js";
import { runDemo } from "./demo.js";
import { nameServerStubs } from "./generate.js";

describe("name server example", () => {
  it("registers, looks up, unregisters, and forgets a name on no-senders", async () => {
    const lines: string[] = [];
    const kernel = new Kernel("x86_64");
    const result = await runDemo({ kernel, log: (l) => lines.push(l) });
    expect(result).toEqual({
      listed: ["printer", "scanner"],
      lookedUp: true,
      afterUnregister: ["printer"],
      afterNoSenders: [],
      lookupAfterNoSenders: "KERN_INVALID_NAME",
    });
    expect(lines).toContain('registering "printer" twice: KERN_NAME_EXISTS');
    // Both entries are gone: the server task holds only its service port, its port set and the
    // send rights bob and alice were given nothing of (each registered service right released).
    const server = [...kernel.tasks].find((t) => t.label === "names")!;
    const { names } = server.mach_port_names();
    expect(names.length).toBe(2);
  });

  it("checked-in stubs match name_server.defs (npm run generate)", () => {
    const file = nameServerStubs();
    expect(readFileSync(new URL(`./generated/${file.name}`, import.meta.url), "utf8")).toBe(file.text);
  });
});
