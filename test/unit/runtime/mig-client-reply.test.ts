/**
 * The client side of a routine whose reply comes later (the server answers after the client
 * blocked in its receive): the reply is checked and decoded in one continuation, a reply too large
 * for the first receive buffer is received again and then judged by the decoder, and a failed
 * call never leaves the reply port in the pool.
 */
import { describe, expect, it } from "vitest";
import { DefaultPagerClient, type vm_size_t } from "../../../generated/default_pager.js";
import { wr32 } from "../../../runtime/bytes.js";
import {
  MACH_MSG_TYPE_MAKE_SEND,
  MACH_MSG_TYPE_MOVE_SEND_ONCE,
  MACH_PORT_RIGHT_RECEIVE,
  MACH_RCV_MSG,
  MACH_SEND_MSG,
  MachError,
  ReturnCode as R,
} from "../../../runtime/constants.js";
import { Kernel } from "../../../runtime/kernel/index.js";
import { createCaller, ReplyPortPool } from "../../../runtime/mig/index.js";
import { rd32 } from "../../../runtime/bytes.js";
import { audit } from "./support.js";

function world() {
  const kernel = new Kernel("x86_64");
  const client = kernel.createTask("client");
  const server = kernel.createTask("server");
  const service = server.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const toService = server.mach_port_extract_right(service, MACH_MSG_TYPE_MAKE_SEND, client).right;
  const pool = new ReplyPortPool(client, 4);
  const stub = new DefaultPagerClient(createCaller(client, toService, { pool }));
  return { kernel, client, server, service, pool, stub };
}

/** Receives one request on `service` (the server's own mach_msg, after the client blocked). */
async function takeRequest(server: ReturnType<typeof world>["server"], service: number) {
  const r = await server.mach_msg(null, MACH_RCV_MSG, 0, 4096, service, 0);
  expect(r.code).toBe(R.KERN_SUCCESS);
  const b = r.msg!.bytes;
  return { replyPort: rd32(b, 8), id: rd32(b, 28) | 0 };
}

/** A reply of `size` bytes (x86_64 header, zero body) to the request's reply right. */
function reply(replyPort: number, id: number, size: number, retCode = 0): Uint8Array {
  const b = new Uint8Array(size);
  wr32(b, 0, MACH_MSG_TYPE_MOVE_SEND_ONCE);
  wr32(b, 4, size);
  wr32(b, 8, replyPort);
  wr32(b, 28, id + 100);
  if (size >= 48) {
    // RetCode item: x86_64 type descriptor (name INTEGER_32, 32 bits, inline; number 1), value.
    wr32(b, 32, 2 | (32 << 8) | (1 << 29));
    wr32(b, 36, 1);
    wr32(b, 40, retCode);
  }
  return b;
}

describe("routine client, reply later", () => {
  it("an error reply that comes later rejects with its code; the reply port goes back to the pool", async () => {
    const { kernel, server, service, pool, stub } = world();
    const call = stub.default_pager_object_create(4096n as vm_size_t);
    const { replyPort, id } = await takeRequest(server, service);
    expect(id).toBe(2275);
    expect(pool.size).toBe(0);
    const r = await server.mach_msg({ bytes: reply(replyPort, id, 48, R.KERN_RESOURCE_SHORTAGE), ool: [] }, MACH_SEND_MSG, 48);
    expect(r.code).toBe(R.KERN_SUCCESS);
    await expect(call).rejects.toMatchObject({ code: R.KERN_RESOURCE_SHORTAGE });
    expect(pool.size).toBe(1);
    expect(audit(kernel)).toEqual([]);
  });

  it("a reply too large for the receive buffer is received whole, then refused by the decoder", async () => {
    const { kernel, server, service, pool, stub } = world();
    const call = stub.default_pager_object_create(4096n as vm_size_t);
    const { replyPort, id } = await takeRequest(server, service);
    const big = reply(replyPort, id, 512);
    expect((await server.mach_msg({ bytes: big, ool: [] }, MACH_SEND_MSG, big.length)).code).toBe(R.KERN_SUCCESS);
    const error = await call.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MachError);
    expect((error as MachError).code).toBe(R.MIG_TYPE_ERROR);
    // The reply port is not put back dirty: the pool holds it clean or not at all.
    expect(pool.size).toBeLessThanOrEqual(1);
    expect(audit(kernel)).toEqual([]);
  });

  it("a call whose send waits for room on a full queue goes on to receive its reply", async () => {
    const { kernel, client, server, service, pool, stub } = world();
    expect(server.mach_port_set_qlimit(service, 1)).toBe(R.KERN_SUCCESS);
    // One request fills the queue; the second call's send blocks until the server takes one.
    const first = stub.default_pager_object_create(4096n as vm_size_t);
    const second = stub.default_pager_object_create(8192n as vm_size_t);
    for (let i = 0; i < 2; i++) {
      const { replyPort, id } = await takeRequest(server, service);
      const r = await server.mach_msg({ bytes: reply(replyPort, id, 48, R.KERN_INVALID_ARGUMENT), ool: [] }, MACH_SEND_MSG, 48);
      expect(r.code).toBe(R.KERN_SUCCESS);
    }
    await expect(first).rejects.toMatchObject({ code: R.KERN_INVALID_ARGUMENT });
    await expect(second).rejects.toMatchObject({ code: R.KERN_INVALID_ARGUMENT });
    expect(pool.size).toBe(2);
    void client;
    expect(audit(kernel)).toEqual([]);
  });
});
