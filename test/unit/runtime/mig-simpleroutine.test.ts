/**
 * The one-way path of the MIG glue (runtime/mig/stubs.ts), with the generated memory_object
 * stubs: a simpleroutine's send completes inside the call (the message is queued before the
 * returned promise is awaited), a failed send rejects the promise rather than throwing, and the
 * server side builds no RetCode reply for a simpleroutine that came without a reply port (there
 * is nowhere to send it) but does for one with a reply port (mig-reference §7.2).
 */
import { describe, expect, it } from "vitest";
import { MemoryObjectClient, memory_object_server, type MemoryObjectHandlers } from "../../../generated/memory_object.js";
import {
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_PORT_NULL,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_RCV_MSG,
  MACH_RCV_TIMEOUT,
  MachError,
  ReturnCode as R,
} from "../../../runtime/constants.js";
import { Kernel } from "../../../runtime/kernel/index.js";
import { createCaller, migDemux, ReceivedMessage, serve } from "../../../runtime/mig/index.js";
import { audit } from "./support.js";

const RCV = MACH_RCV_MSG | MACH_RCV_TIMEOUT;

function world() {
  const kernel = new Kernel("x86_64");
  const client = kernel.createTask("kernel");
  const pager = kernel.createTask("pager");
  const object = pager.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const toObject = pager.mach_port_extract_right(object, MACH_MSG_TYPE_MAKE_SEND, client).right;
  const control = client.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  return { kernel, client, pager, object, toObject, control };
}

/** Handlers where only data_request is expected; it records its offsets. */
function recording(seen: bigint[]): MemoryObjectHandlers {
  return new Proxy({} as MemoryObjectHandlers, {
    get(_t, name) {
      if (name === "memory_object_data_request") {
        return (_obj: number, control: number, offset: bigint, _length: bigint, _access: number, request: { releaseName(n: number): void }) => {
          request.releaseName(control);
          seen.push(offset);
        };
      }
      return () => {
        throw new MachError(R.MIG_BAD_ID);
      };
    },
  });
}

describe("simpleroutine (client)", () => {
  it("is queued before the returned promise is awaited, and resolves to undefined", async () => {
    const { kernel, client, pager, object, toObject, control } = world();
    const stub = new MemoryObjectClient(createCaller(client, toObject));
    const sent = stub.memory_object_data_request(control as never, 4096n, 4096n, 1);
    // Already queued: a receive that does not wait finds it.
    const r = await pager.mach_msg(null, RCV, 0, 4096, object, 0);
    expect(r.code).toBe(R.KERN_SUCCESS);
    expect(await sent).toBeUndefined();
    pager.mach_msg_destroy(r.msg!);
    expect(audit(kernel)).toEqual([]);
  });

  it("a failed send rejects (MachError with the send's code), it does not throw", async () => {
    const { client, pager, object, toObject, control } = world();
    const stub = new MemoryObjectClient(createCaller(client, toObject));
    pager.mach_port_mod_refs(object, MACH_PORT_RIGHT_RECEIVE, -1); // the destination dies
    client.mach_port_deallocate(toObject); // now a dead name; drop it: an unknown name
    let sent: Promise<void> | undefined;
    expect(() => {
      sent = stub.memory_object_data_request(control as never, 0n, 4096n, 1);
    }).not.toThrow();
    await expect(sent).rejects.toMatchObject({ code: R.MACH_SEND_INVALID_DEST });
  });
});

describe("simpleroutine (server)", () => {
  it("without a reply port the demux builds no reply (KERN_SUCCESS: consumed, nothing to send)", async () => {
    const { kernel, client, pager, object, toObject, control } = world();
    const seen: bigint[] = [];
    const demux = migDemux(memory_object_server(recording(seen)));
    await new MemoryObjectClient(createCaller(client, toObject)).memory_object_data_request(control as never, 8192n, 4096n, 1);
    const r = await pager.mach_msg(null, RCV, 0, 4096, object, 0);
    const result = await demux(new ReceivedMessage(pager, r.msg!), 0);
    expect(result).toBe(R.KERN_SUCCESS);
    expect(seen).toEqual([8192n]);
    expect(audit(kernel)).toEqual([]);
  });

  it("with a reply port (CallOptions.replyPort) the RetCode reply is built and the serve loop sends it", async () => {
    const { kernel, client, pager, object, toObject, control } = world();
    const seen: bigint[] = [];
    const replyTo = client.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
    const caller = createCaller(client, toObject, { defaults: { replyPort: replyTo } });
    // The demux alone: a reply message addressed to the reply right.
    const demux = migDemux(memory_object_server(recording(seen)));
    await new MemoryObjectClient(caller).memory_object_data_request(control as never, 0n, 4096n, 1);
    const r = await pager.mach_msg(null, RCV, 0, 4096, object, 0);
    const request = new ReceivedMessage(pager, r.msg!);
    expect(request.replyPort).not.toBe(MACH_PORT_NULL);
    const result = await demux(request, 0);
    expect(typeof result).toBe("object");
    pager.mach_msg_destroy(result as never);
    // Through serve: the reply arrives on the caller's port.
    const srv = serve(pager, object, demux);
    await new MemoryObjectClient(caller).memory_object_data_request(control as never, 4096n, 4096n, 1);
    const reply = await client.mach_msg(null, MACH_RCV_MSG, 0, 4096, replyTo, 0);
    expect(reply.code).toBe(R.KERN_SUCCESS);
    client.mach_msg_destroy(reply.msg!);
    expect(seen).toEqual([0n, 4096n]);
    await srv.stop();
    client.mach_port_mod_refs(replyTo, MACH_PORT_RIGHT_RECEIVE, -1);
    expect(audit(kernel)).toEqual([]);
  });
});
