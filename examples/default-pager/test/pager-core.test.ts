import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MEMORY_OBJECT_COPY_DELAY, ReturnCode, VM_PROT_READ, VM_PROT_WRITE } from "../constants.js";
import {
  DefaultPagerCore,
  type DataRequestReply,
  type PagerObject,
  type WriteErrorPolicy,
} from "../pager-core.js";
import { PagingStorage } from "../storage/paging-storage.js";
import { patternPage, sameBytes, tempDir } from "./helpers.js";

const P = 4096;
type Port = { readonly port: string };
const port = (name: string): Port => ({ port: name });

describe("DefaultPagerCore", () => {
  let dir: string;
  let cleanup: () => void;
  let storage: PagingStorage;
  let core: DefaultPagerCore<Port>;

  function setup(pages: number, policy?: WriteErrorPolicy): void {
    storage?.close();
    storage = new PagingStorage();
    const r = storage.addFile(path.join(dir, `swap-${pages}-${policy ?? "d"}`), {
      sizeBytes: pages * P,
    });
    if (!r.ok) throw new Error(r.error.message);
    core = new DefaultPagerCore<Port>(
      policy === undefined ? { storage } : { storage, writeErrorPolicy: policy },
    );
  }

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    setup(64);
  });
  afterEach(() => {
    storage.close();
    cleanup();
  });

  function internal(size = 16 * P): { obj: PagerObject<Port>; control: Port; name: Port } {
    const control = port("control");
    const name = port("name");
    const r = core.memoryObjectCreate(size, control, name, P);
    expect(r.code).toBe(ReturnCode.KERN_SUCCESS);
    return { obj: r.value!, control, name };
  }

  function external(size = 8 * P): PagerObject<Port> {
    const r = core.defaultPagerObjectCreate(size);
    expect(r.code).toBe(ReturnCode.KERN_SUCCESS);
    return r.value!;
  }

  it("internal miss: data_unavailable; stored page: data_supply with the same bytes", async () => {
    const { obj } = internal();
    expect(await core.dataRequest(obj, 0, 0, P, VM_PROT_READ)).toEqual({
      kind: "unavailable",
      offset: 0,
      size: P,
    });
    await core.dataReturn(obj, 1, 3 * P, patternPage(P, 1, 3), true, false);
    const r = await core.dataRequest(obj, 2, 3 * P, P, VM_PROT_READ | VM_PROT_WRITE);
    expect(r.kind).toBe("supply");
    if (r.kind === "supply") {
      expect(sameBytes(r.data, patternPage(P, 1, 3))).toBe("same");
      expect(r.precious).toBe(false);
      expect(r.lockValue).toBe(0);
    }
  });

  it("external: zero page when never written, data_error at or beyond its size", async () => {
    const obj = external(2 * P);
    const init = await core.init(obj, 0, port("c"), port("n"), P);
    expect(init).toEqual({
      kind: "ready",
      mayCache: false,
      copyStrategy: MEMORY_OBJECT_COPY_DELAY,
    });
    const zero = await core.dataRequest(obj, 1, P, P, VM_PROT_READ);
    expect(zero.kind === "supply" && zero.data.every((b) => b === 0)).toBe(true);
    const beyond = await core.dataRequest(obj, 2, 2 * P, P, VM_PROT_READ);
    expect(beyond.kind).toBe("error");
    const odd = await core.dataRequest(obj, 3, 100, P, VM_PROT_READ);
    expect(odd).toMatchObject({ kind: "error", error: ReturnCode.KERN_INVALID_ARGUMENT });
  });

  it("a data_request delivered before the data_return it follows still sees the returned bytes", async () => {
    const { obj } = internal();
    const request = core.dataRequest(obj, 1, 0, P, VM_PROT_READ); // seqno 1 arrives first
    await new Promise((r) => setImmediate(r));
    const write = core.dataReturn(obj, 0, 0, patternPage(P, 7, 0), true, false);
    const [reply] = await Promise.all([request, write]);
    expect(reply.kind === "supply" && sameBytes(reply.data, patternPage(P, 7, 0))).toBe("same");
  });

  it("data_initialize stores only absent pages; data_return always overwrites", async () => {
    const { obj } = internal();
    let s = 0;
    await core.dataReturn(obj, s++, 0, patternPage(P, 1, 0), true, false);
    const init1 = await core.dataInitialize(obj, s++, 0, patternPage(P, 2, 0));
    expect(init1).toMatchObject({ stored: 0, skipped: 1 });
    await core.dataInitialize(obj, s++, P, patternPage(P, 3, 1));
    await core.dataInitialize(obj, s++, P, patternPage(P, 4, 1));
    await core.dataReturn(obj, s++, 2 * P, patternPage(P, 5, 2), false, true);
    await core.dataReturn(obj, s++, 2 * P, patternPage(P, 6, 2), true, false);
    const expectPage = async (offset: number, tag: number, page: number): Promise<void> => {
      const r = await core.dataRequest(obj, s++, offset, P, VM_PROT_READ);
      expect(r.kind === "supply" && sameBytes(r.data, patternPage(P, tag, page))).toBe("same");
    };
    await expectPage(0, 1, 0);
    await expectPage(P, 3, 1);
    await expectPage(2 * P, 6, 2);
  });

  it("stores multi-page returns page by page", async () => {
    const { obj } = internal();
    const data = new Uint8Array(3 * P);
    for (let i = 0; i < 3; i++) data.set(patternPage(P, 9, i), i * P);
    expect(await core.dataReturn(obj, 0, 4 * P, data, true, false)).toMatchObject({
      stored: 3,
      failed: [],
    });
    expect(core.storedOffsets(obj)).toEqual([4 * P, 5 * P, 6 * P]);
  });

  it("accounts: info, objects and object_pages follow the storage; no-senders frees everything", async () => {
    const before = core.info();
    expect(before).toEqual({ totalSpace: 64 * P, freeSpace: 64 * P, pageSize: P });
    const { obj, name } = internal();
    const ext = external();
    for (let i = 0; i < 5; i++)
      await core.dataReturn(obj, i, i * 2 * P, patternPage(P, 1, i), true, false);
    expect(core.info().freeSpace).toBe(before.freeSpace - 5 * P);
    expect(core.objects()).toEqual([
      { object: obj.id, size: 5 * P, name, kind: "internal" },
      { object: ext.id, size: 0, name: null, kind: "external" },
    ]);
    expect(core.objectPages(name)).toEqual({ code: 0, value: [0, 2 * P, 4 * P, 6 * P, 8 * P] });
    expect(core.objectPages(port("other")).code).toBe(ReturnCode.KERN_INVALID_ARGUMENT);
    // no-senders while the kernel is still attached is refused and keeps the data
    expect((await core.noSenders(obj, 5)).code).toBe(ReturnCode.KERN_FAILURE);
    const released = await core.terminate(obj, 6);
    expect(released.name).toBe(name);
    expect(core.storedOffsets(obj)).toHaveLength(5); // terminate keeps the data
    expect(await core.noSenders(obj, 7)).toEqual({ code: 0, value: 5 });
    expect(core.info()).toEqual(before);
    expect(core.objects().map((o) => o.object)).toEqual([ext.id]);
    expect(storage.verify([])).toEqual([]);
  });

  it("external objects survive terminate and get a fresh init; a second init while attached is refused", async () => {
    const obj = external();
    const c1 = port("c1");
    await core.init(obj, 0, c1, port("n1"), P);
    expect((await core.init(obj, 1, port("c2"), port("n2"), P)).kind).toBe("protocol-error");
    await core.dataReturn(obj, 2, P, patternPage(P, 4, 1), true, false);
    expect((await core.terminate(obj, 3)).control).toBe(c1);
    expect((await core.init(obj, 4, port("c3"), port("n3"), P)).kind).toBe("ready");
    const r = await core.dataRequest(obj, 5, P, P, VM_PROT_READ);
    expect(r.kind === "supply" && sameBytes(r.data, patternPage(P, 4, 1))).toBe("same");
    expect((await core.init(obj, 6, port("c"), port("n"), 8192)).kind).toBe("protocol-error");
  });

  it("data_request in turn answers at once (no promise), its reply sent inside the turn; out of turn it waits", async () => {
    const { obj } = internal();
    const seen: string[] = [];
    const first = core.dataRequest(obj, 0, 0, P, VM_PROT_READ, (reply) => {
      seen.push(`0:${reply.kind}`);
    });
    expect(first).not.toBeInstanceOf(Promise);
    expect(first).toMatchObject({ kind: "unavailable", offset: 0 });
    // seqno 2 before 1: it waits for 1's turn, then runs
    const third = core.dataRequest(obj, 2, P, P, VM_PROT_READ, (reply) => {
      seen.push(`2:${reply.kind}`);
    });
    expect(third).toBeInstanceOf(Promise);
    // a reply that fails: the turn passes all the same, and the request rejects
    const second = core.dataRequest(obj, 1, 0, P, VM_PROT_READ, () => {
      throw new Error("reply not sent");
    });
    await expect(second).rejects.toThrow("reply not sent");
    expect(await third).toMatchObject({ kind: "unavailable", offset: P });
    // a reply sent asynchronously holds the turn until it settles
    let release!: () => void;
    const fourth = core.dataRequest(obj, 3, 0, P, VM_PROT_READ, async () => {
      await new Promise<void>((resolve) => (release = resolve));
      seen.push("3:sent");
    });
    const fifth = core.dataRequest(obj, 4, 0, P, VM_PROT_READ, () => {
      seen.push("4");
    });
    await Promise.resolve();
    expect(seen).toEqual(["0:unavailable", "2:unavailable"]);
    release();
    await fourth;
    await fifth;
    expect(seen).toEqual(["0:unavailable", "2:unavailable", "3:sent", "4"]);
  });

  it("unexpected messages take their turn", async () => {
    const { obj } = internal();
    const later = core.dataRequest(obj, 1, 0, P, VM_PROT_READ);
    expect((await core.unexpected(obj, 0, "data_unlock")).code).toBe(ReturnCode.KERN_FAILURE);
    expect((await later).kind).toBe("unavailable");
  });

  it("refuses a create with the wrong page size", () => {
    expect(core.memoryObjectCreate(P, port("c"), port("n"), 8192).code).toBe(
      ReturnCode.KERN_INVALID_ARGUMENT,
    );
    expect(core.defaultPagerObjectCreate(-1).code).toBe(ReturnCode.KERN_INVALID_ARGUMENT);
  });

  it("full storage, 'object' policy: the object is killed for reads, stored data stays intact", async () => {
    setup(4);
    const other = internal();
    await core.dataReturn(other.obj, 0, 0, patternPage(P, 2, 0), true, false);
    const { obj } = internal();
    let s = 0;
    for (let i = 0; i < 3; i++)
      await core.dataReturn(obj, s++, i * P, patternPage(P, 1, i), true, false);
    const outcome = await core.dataReturn(obj, s++, 3 * P, patternPage(P, 1, 3), true, false);
    expect(outcome.failed.map((f) => f.error.code)).toEqual(["STORAGE_FULL"]);
    expect((await core.dataRequest(obj, s++, 0, P, VM_PROT_READ)).kind).toBe("error");
    expect((await core.dataRequest(obj, s++, 3 * P, P, VM_PROT_READ)).kind).toBe("error");
    // the other object is untouched, and so are the bytes stored for the killed one
    const r = await core.dataRequest(other.obj, 1, 0, P, VM_PROT_READ);
    expect(r.kind === "supply" && sameBytes(r.data, patternPage(P, 2, 0))).toBe("same");
    for (let i = 0; i < 3; i++) {
      const buf = new Uint8Array(P);
      storage.readPage(obj.map, i, buf);
      expect(sameBytes(buf, patternPage(P, 1, i))).toBe("same");
    }
    expect(storage.verify([obj.map, other.obj.map])).toEqual([]);
  });

  it("full storage, 'page' policy: only the lost page errors, until it is written again", async () => {
    setup(2, "page");
    const { obj } = internal();
    let s = 0;
    await core.dataReturn(obj, s++, 0, patternPage(P, 1, 0), true, false);
    await core.dataReturn(obj, s++, P, patternPage(P, 1, 1), true, false);
    expect(
      (await core.dataReturn(obj, s++, 2 * P, patternPage(P, 1, 2), true, false)).failed,
    ).toHaveLength(1);
    expect((await core.dataRequest(obj, s++, 2 * P, P, VM_PROT_READ)).kind).toBe("error");
    const ok = await core.dataRequest(obj, s++, P, P, VM_PROT_READ);
    expect(ok.kind === "supply" && sameBytes(ok.data, patternPage(P, 1, 1))).toBe("same");
    expect((await core.dataRequest(obj, s++, 3 * P, P, VM_PROT_READ)).kind).toBe("unavailable");
    // room appears: the page can be stored again and reads work
    await core.pagingFile(path.join(dir, "more"), true, { sizeBytes: 4 * P });
    await core.dataReturn(obj, s++, 2 * P, patternPage(P, 2, 2), true, false);
    const again = await core.dataRequest(obj, s++, 2 * P, P, VM_PROT_READ);
    expect(again.kind === "supply" && sameBytes(again.data, patternPage(P, 2, 2))).toBe("same");
  });

  it("default_pager_paging_file adds and removes (moving pages); register_fileserver is kept", async () => {
    const { obj } = internal();
    for (let i = 0; i < 10; i++)
      await core.dataReturn(obj, i, i * P, patternPage(P, 3, i), true, false);
    const extra = path.join(dir, "extra");
    expect((await core.pagingFile(extra, true, { sizeBytes: 32 * P })).code).toBe(0);
    expect(core.info().totalSpace).toBe(96 * P);
    expect((await core.pagingFile(extra, true)).code).toBe(ReturnCode.KERN_INVALID_ARGUMENT);
    const first = storage.listFiles()[0]!.path;
    expect((await core.pagingFile(first, false)).code).toBe(0);
    expect(core.info()).toMatchObject({ totalSpace: 32 * P, freeSpace: 22 * P });
    for (let i = 0; i < 10; i++) {
      const r = await core.dataRequest(obj, 10 + i, i * P, P, VM_PROT_READ);
      expect(r.kind === "supply" && sameBytes(r.data, patternPage(P, 3, i))).toBe("same");
    }
    expect((await core.pagingFile(extra, false)).code).toBe(ReturnCode.KERN_FAILURE); // nowhere to go
    expect((await core.pagingFile(path.join(dir, "nope"), false)).code).toBe(
      ReturnCode.KERN_INVALID_ARGUMENT,
    );
    const fs = port("fileserver");
    expect(core.registerFileserver(fs).code).toBe(0);
    expect(core.registeredFileserver).toBe(fs);
  });
});

describe("DefaultPagerCore gathering page-ins (gatherReads)", () => {
  let dir: string;
  let cleanup: () => void;
  let storage: PagingStorage;
  let core: DefaultPagerCore<Port>;
  let replies: string[];
  let replyErrors: unknown[];

  function setup(options: { gatherLimit?: number } = {}): void {
    storage = new PagingStorage();
    const r = storage.addFile(path.join(dir, "swap"), { sizeBytes: 64 * P });
    if (!r.ok) throw new Error(r.error.message);
    replyErrors = [];
    core = new DefaultPagerCore<Port>({
      storage,
      gatherReads: true,
      onGatheredReplyError: (e) => replyErrors.push(e),
      ...options,
    });
  }

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    replies = [];
    setup();
  });
  afterEach(() => {
    storage.close();
    cleanup();
  });

  function object(): PagerObject<Port> {
    const r = core.memoryObjectCreate(16 * P, port("control"), port("name"), P);
    expect(r.code).toBe(ReturnCode.KERN_SUCCESS);
    return r.value!;
  }

  /** A `then` that records each answer: "<tag>:<kind>@<page>" plus the pattern a supply carries. */
  function record(tag: string) {
    return (reply: DataRequestReply): void => {
      const page = reply.offset / P;
      let what = `${tag}:${reply.kind}@${page}`;
      if (reply.kind === "supply") {
        for (const gen of [1, 2, 3])
          if (sameBytes(reply.data, patternPage(P, gen, page)) === "same") what += `#${gen}`;
      }
      replies.push(what);
    };
  }

  it("a request in its turn is queued (null); the flush reads and answers in turn order", () => {
    const obj = object();
    let s = 0;
    for (let page = 0; page < 3; page++)
      core.dataReturn(obj, s++, page * P, patternPage(P, 1, page), true, false);
    expect(core.dataRequest(obj, s++, 2 * P, P, VM_PROT_READ, record("a"))).toBeNull();
    expect(core.dataRequest(obj, s++, 0, P, VM_PROT_READ, record("b"))).toBeNull();
    expect(core.dataRequest(obj, s++, 9 * P, P, VM_PROT_READ, record("c"))).toBeNull();
    expect(core.gatheredReads).toBe(3);
    expect(replies).toEqual([]);
    core.flushReads();
    expect(replies).toEqual(["a:supply@2#1", "b:supply@0#1", "c:unavailable@9"]);
    expect(core.gatherStats).toEqual({ bursts: 1, pages: 3, largest: 3 });
    // Without `then` the answer must come back at once: nothing is gathered.
    const direct = core.dataRequest(obj, s++, 0, P, VM_PROT_READ);
    expect(direct).toMatchObject({ kind: "supply", offset: 0 });
    expect(core.gatheredReads).toBe(0);
  });

  it("a later data_return, terminate or no-senders flushes first: a gathered read never sees what came after it", () => {
    const a = object();
    const b = object();
    let sa = 0;
    let sb = 0;
    core.dataReturn(a, sa++, P, patternPage(P, 1, 1), true, false);
    core.dataReturn(b, sb++, P, patternPage(P, 1, 1), true, false);
    expect(core.dataRequest(a, sa++, P, P, VM_PROT_READ, record("a1"))).toBeNull();
    expect(core.dataRequest(b, sb++, P, P, VM_PROT_READ, record("b1"))).toBeNull();
    // b's page is overwritten by the message after the request: the request still reads gen 1,
    // and a's gathered request (another object) is answered before the write too.
    const outcome = core.dataReturn(b, sb++, P, patternPage(P, 2, 1), true, false);
    expect(outcome).toMatchObject({ stored: 1 });
    expect(replies).toEqual(["a1:supply@1#1", "b1:supply@1#1"]);
    expect(core.dataRequest(b, sb++, P, P, VM_PROT_READ, record("b2"))).toBeNull();
    const released = core.terminate(b, sb++);
    expect(replies.at(-1)).toBe("b2:supply@1#2");
    expect(released).toMatchObject({ control: { port: "control" } });
    // no-senders frees the pages: a request gathered before it is answered from them first.
    expect(core.dataRequest(b, sb++, P, P, VM_PROT_READ, record("b3"))).toBeNull();
    expect(core.noSenders(b, sb++)).toMatchObject({ code: ReturnCode.KERN_SUCCESS, value: 1 });
    expect(replies.at(-1)).toBe("b3:supply@1#2");
  });

  it("a request that is not its turn, or an answer given at once, flushes the queued ones first", async () => {
    const obj = object();
    core.dataReturn(obj, 0, 0, patternPage(P, 1, 0), true, false);
    expect(core.dataRequest(obj, 1, 0, P, VM_PROT_READ, record("x"))).toBeNull();
    // seqno 3 before 2: it waits; 2 is a bad request (answered at once, after x's supply)
    const later = core.dataRequest(obj, 3, 0, P, VM_PROT_READ, record("z"));
    expect(later).toBeInstanceOf(Promise);
    core.dataRequest(obj, 2, P, 3, VM_PROT_READ, record("y"));
    await later;
    expect(replies).toEqual(["x:supply@0#1", "y:error@1", "z:supply@0#1"]);
  });

  it("with burstPending, a lone request is answered at once and a burst is queued", () => {
    storage.close();
    let more = false;
    storage = new PagingStorage();
    const r = storage.addFile(path.join(dir, "swap2"), { sizeBytes: 16 * P });
    if (!r.ok) throw new Error(r.error.message);
    core = new DefaultPagerCore<Port>({ storage, gatherReads: true, burstPending: () => more });
    const obj = object();
    core.dataReturn(obj, 0, 0, patternPage(P, 1, 0), true, false);
    expect(core.dataRequest(obj, 1, 0, P, VM_PROT_READ, record("alone"))).toMatchObject({
      kind: "supply",
    });
    expect(replies).toEqual(["alone:supply@0#1"]);
    more = true;
    expect(core.dataRequest(obj, 2, 0, P, VM_PROT_READ, record("first"))).toBeNull();
    // The last of a burst has nothing behind it, but joins the queued ones.
    more = false;
    expect(core.dataRequest(obj, 3, 0, P, VM_PROT_READ, record("last"))).toBeNull();
    core.flushReads();
    expect(replies).toEqual(["alone:supply@0#1", "first:supply@0#1", "last:supply@0#1"]);
  });

  it("flushes by itself once the current burst is over, and at the gather limit", async () => {
    const obj = object();
    core.dataReturn(obj, 0, 0, patternPage(P, 1, 0), true, false);
    expect(core.dataRequest(obj, 1, 0, P, VM_PROT_READ, record("m"))).toBeNull();
    await Promise.resolve();
    expect(replies).toEqual(["m:supply@0#1"]);
    storage.close();
    setup({ gatherLimit: 2 });
    const o2 = object();
    core.dataReturn(o2, 0, 0, patternPage(P, 1, 0), true, false);
    expect(core.dataRequest(o2, 1, 0, P, VM_PROT_READ, record("p"))).toBeNull();
    expect(core.dataRequest(o2, 2, 0, P, VM_PROT_READ, record("q"))).toBeNull();
    expect(replies.slice(1)).toEqual(["p:supply@0#1", "q:supply@0#1"]);
  });

  it("a paging file removed under gathered reads: they read the pages where they moved", async () => {
    const obj = object();
    for (let page = 0; page < 4; page++)
      core.dataReturn(obj, page, page * P, patternPage(P, 3, page), true, false);
    expect(
      (await core.pagingFile(path.join(dir, "second"), true, { sizeBytes: 16 * P })).code,
    ).toBe(0);
    for (let page = 0; page < 4; page++)
      expect(core.dataRequest(obj, 4 + page, page * P, P, VM_PROT_READ, record("r"))).toBeNull();
    expect((await core.pagingFile(path.join(dir, "swap"), false)).code).toBe(0);
    expect(replies).toEqual(["r:supply@0#3", "r:supply@1#3", "r:supply@2#3", "r:supply@3#3"]);
  });

  it("a storage that throws mid-flush: every queued request is answered (data_error), the gate moves on", async () => {
    setup({ gatherLimit: 2 });
    const obj = object();
    core.dataReturn(obj, 0, 0, patternPage(P, 1, 0), true, false);
    const readPages = storage.readPages.bind(storage);
    storage.readPages = () => {
      throw new Error("paging file 9 is gone but still mapped");
    };
    expect(core.dataRequest(obj, 1, 0, P, VM_PROT_READ, record("a"))).toBeNull();
    // the second reaches the limit: its flush throws inside, after the turn has passed
    expect(core.dataRequest(obj, 2, 5 * P, P, VM_PROT_READ, record("b"))).toBeNull();
    expect(replies).toEqual(["a:error@0", "b:error@5"]);
    storage.readPages = readPages;
    // seqno 3 finds its turn: nothing was skipped or stalled
    expect(core.dataRequest(obj, 3, 0, P, VM_PROT_READ)).toMatchObject({ kind: "supply" });
  });

  it("an answer whose send throws or rejects is reported; the others still go", async () => {
    const obj = object();
    core.dataReturn(obj, 0, 0, patternPage(P, 1, 0), true, false);
    core.dataRequest(obj, 1, 0, P, VM_PROT_READ, () => {
      throw new Error("control port gone");
    });
    core.dataRequest(obj, 2, 0, P, VM_PROT_READ, () => Promise.reject(new Error("send failed")));
    core.dataRequest(obj, 3, 0, P, VM_PROT_READ, record("ok"));
    core.flushReads();
    await Promise.resolve();
    expect(replies).toEqual(["ok:supply@0#1"]);
    expect(replyErrors.map((e) => (e as Error).message)).toEqual([
      "control port gone",
      "send failed",
    ]);
  });
});
