/**
 * `npm start`: the default pager at work, through the generated stubs on both sides.
 *
 * Starts the kernel model and the default pager (with a paging file in a temporary folder),
 * creates an object with default_pager_object_create, maps it into two tasks, writes every page
 * through one and reads every page back through the other while the kernel keeps far fewer pages
 * resident than the object has (so pages go out to the paging file and come back), verifies every
 * byte, prints default_pager_info, default_pager_objects and default_pager_object_pages as tables,
 * releases the object and shows the space freed. Exits 0 only if everything checked out.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { memory_object_name_t } from "../../generated/default_pager.js";
import { startSystem, TRANSPORTS, type PagerSystem, type Transport } from "./ipc/system.js";
import { formatBytes, formatTable, pageRuns, parseSize } from "./tables.js";

const USAGE = `usage: npm start -- [options]

  --object-size SIZE       size of the object (default 4M; suffixes K, M, G)
  --resident PAGES         pages the kernel model keeps resident (default 16)
  --paging-file PATH       paging file (default: pager.swap in a new temporary folder, removed after)
  --paging-file-size SIZE  its size (default: twice the object size)
  --transport KIND         where the pager runs: in-process (default), worker, process
  --passes N               write/read passes over the object (default 2)
  --seed N                 seed for the page contents (default 1)
  -h, --help`;

interface DemoOptions {
  objectSize: number;
  resident: number;
  pagingFile: string | null;
  pagingFileSize: number | null;
  transport: Transport;
  passes: number;
  seed: number;
}

function parseOptions(argv: string[]): DemoOptions | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      "object-size": { type: "string", default: "4M" },
      resident: { type: "string", default: "16" },
      "paging-file": { type: "string" },
      "paging-file-size": { type: "string" },
      transport: { type: "string", default: "in-process" },
      passes: { type: "string", default: "2" },
      seed: { type: "string", default: "1" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help === true) return null;
  const transport = values.transport as Transport;
  if (!TRANSPORTS.includes(transport))
    throw new Error(`--transport must be one of ${TRANSPORTS.join(", ")}`);
  const positive = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
    return n;
  };
  return {
    objectSize: parseSize(values["object-size"]!),
    resident: positive("resident", values.resident!),
    pagingFile: values["paging-file"] ?? null,
    pagingFileSize:
      values["paging-file-size"] === undefined ? null : parseSize(values["paging-file-size"]),
    transport,
    passes: positive("passes", values.passes!),
    seed: positive("seed", values.seed!),
  };
}

/** The bytes page `page` holds after pass `pass`: every 4 bytes name (seed, pass, page, word). */
function pageContents(pageSize: number, seed: number, pass: number, page: number): Uint8Array {
  const out = new Uint8Array(pageSize);
  const view = new DataView(out.buffer);
  let x = (seed * 0x9e3779b1 + pass * 0x85ebca6b + page * 0xc2b2ae35) >>> 0;
  for (let i = 0; i < pageSize; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    view.setUint32(i, x >>> 0, true);
  }
  return out;
}

class Progress {
  private last = 0;
  private readonly tty = process.stdout.isTTY === true;
  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}
  update(done: number): void {
    const pct = Math.floor((done * 100) / this.total);
    if (this.tty) {
      if (pct !== this.last)
        process.stdout.write(`\r  ${this.label}: ${done}/${this.total} pages (${pct}%)`);
    } else if (Math.floor(pct / 25) !== Math.floor(this.last / 25) || done === this.total) {
      console.log(`  ${this.label}: ${done}/${this.total} pages (${pct}%)`);
    }
    this.last = pct;
    if (this.tty && done === this.total) process.stdout.write("\n");
  }
}

async function run(options: DemoOptions): Promise<boolean> {
  const pageSize = 4096;
  const pages = Math.ceil(options.objectSize / pageSize);
  const objectSize = pages * pageSize;
  const tempDir =
    options.pagingFile === null ? fs.mkdtempSync(path.join(os.tmpdir(), "mig-ts-pager-")) : null;
  const pagingFile = options.pagingFile ?? path.join(tempDir!, "pager.swap");
  const pagingFileSize = options.pagingFileSize ?? Math.max(2 * objectSize, 64 * pageSize);
  const problems: string[] = [];
  const check = (ok: boolean, what: string): void => {
    if (!ok) problems.push(what);
  };

  console.log("mig-ts default pager demo");
  console.log(
    `  object: ${formatBytes(objectSize)} (${pages} pages), kernel keeps ${options.resident} pages resident`,
  );
  console.log(`  paging file: ${pagingFile} (${formatBytes(pagingFileSize)})`);
  console.log(`  pager: ${options.transport}`);
  const t0 = performance.now();
  let system: PagerSystem | null = null;
  try {
    system = await startSystem({
      transport: options.transport,
      residentPages: options.resident,
      pager: { pageSize, pagingFiles: [{ path: pagingFile, sizeBytes: pagingFileSize }] },
    });
    const { pager, user, kernelServer } = system;
    const vm = kernelServer.vm;
    const before = await pager.default_pager_info();
    console.log(`\nstarted in ${Math.round(performance.now() - t0)} ms`);
    console.log("\n" + infoTable("default_pager_info (before)", before));

    // The object, shared by two tasks.
    const object = await pager.default_pager_object_create(BigInt(objectSize));
    const writer = vm.createTask();
    const reader = vm.createTask();
    const wAddr = await kernelServer.vmMap(writer, user, object, { size: objectSize });
    const rAddr = await kernelServer.vmMap(reader, user, object, { size: objectSize });
    console.log(
      `\ndefault_pager_object_create -> port ${hex(object)}; mapped at 0x${wAddr.toString(16)} (task ${writer.id}) and 0x${rAddr.toString(16)} (task ${reader.id})`,
    );

    const stats0 = { ...vm.stats };
    const tRun = performance.now();
    let mismatches = 0;
    for (let pass = 1; pass <= options.passes; pass++) {
      // Pass 1 writes in order; later passes write in a scrambled order, reading through the other task.
      const order = Array.from({ length: pages }, (_, i) =>
        pass === 1 ? i : (i * 7919 + pass) % pages,
      );
      const [from, fromAddr, to, toAddr] =
        pass % 2 === 1 ? [writer, wAddr, reader, rAddr] : [reader, rAddr, writer, wAddr];
      const write = new Progress(`pass ${pass}: write through task ${from.id}`, pages);
      for (let i = 0; i < pages; i++) {
        const page = order[i]!;
        await vm.write(
          from,
          fromAddr + page * pageSize,
          pageContents(pageSize, options.seed, pass, page),
        );
        write.update(i + 1);
      }
      const read = new Progress(`pass ${pass}: read through task ${to.id}`, pages);
      for (let page = 0; page < pages; page++) {
        const got = await vm.read(to, toAddr + page * pageSize, pageSize);
        if (!Buffer.from(got).equals(pageContents(pageSize, options.seed, pass, page)))
          mismatches++;
        read.update(page + 1);
      }
    }
    const seconds = (performance.now() - tRun) / 1000;
    const pageouts = vm.stats.pageouts - stats0.pageouts;
    const pageins = vm.stats.pageins - stats0.pageins;
    console.log(
      `\n${options.passes} passes in ${seconds.toFixed(2)} s: ${pageouts} page-outs (data_return), ${pageins} page-ins (data_supply), ${mismatches} pages differing`,
    );
    check(mismatches === 0, `${mismatches} pages read back wrong`);
    check(
      pageouts >= pages - options.resident,
      `only ${pageouts} page-outs: the pages did not go to the paging file`,
    );
    check(pageins >= pages - options.resident, `only ${pageins} page-ins`);
    check(
      vm.residentCount <= options.resident,
      `resident pages ${vm.residentCount} above the bound`,
    );

    // What the pager reports, checked against itself.
    await kernelServer.vm.quiesce();
    const during = await pager.default_pager_info();
    console.log("\n" + infoTable("default_pager_info (object mapped)", during));
    const listed = await pager.default_pager_objects();
    console.log(
      "\n" +
        formatTable(
          "default_pager_objects",
          ["object", "size", "pages", "name port"],
          listed.objects.map((o, i) => [
            String(o.dpo_object),
            formatBytes(o.dpo_size),
            Number(o.dpo_size) / pageSize,
            listed.ports[i] === 0 ? "-" : hex(listed.ports[i]!),
          ]),
          ["right", "right", "right", "right"],
        ),
    );
    const allocated = listed.objects.reduce((sum, o) => sum + o.dpo_size, 0n);
    check(listed.objects.length === 1, `${listed.objects.length} objects listed, expected 1`);
    check(
      allocated === during.dpi_total_space - during.dpi_free_space,
      "objects' sizes do not add up to the space in use",
    );
    check(allocated <= BigInt(objectSize), "more space allocated than the object has");
    for (let i = 0; i < listed.objects.length; i++) {
      const name = listed.ports[i]!;
      if (name === 0) {
        problems.push(`object ${listed.objects[i]!.dpo_object} has no name port`);
        continue;
      }
      const stored = (await pager.default_pager_object_pages(name as memory_object_name_t)).map(
        (p) => Number(p.dpp_offset),
      );
      const runs = pageRuns(stored, pageSize);
      console.log(
        "\n" +
          formatTable(
            `default_pager_object_pages (object ${listed.objects[i]!.dpo_object}): ${stored.length} pages in ${runs.length} run(s)`,
            ["first offset", "last offset", "pages"],
            runRows(runs, pageSize),
            ["right", "right", "right"],
          ),
      );
      check(
        BigInt(stored.length * pageSize) === listed.objects[i]!.dpo_size,
        "object_pages disagrees with the object's size",
      );
      check(
        stored.every((o) => o % pageSize === 0 && o < objectSize),
        "object_pages lists an offset outside the object",
      );
      user.mach_port_deallocate(name);
    }

    // Release: both mappings, then the send right; no-senders frees the pages.
    await vm.vmDeallocate(writer, wAddr, objectSize);
    await vm.vmDeallocate(reader, rAddr, objectSize);
    user.mach_port_deallocate(object);
    let after = await pager.default_pager_info();
    const deadline = performance.now() + 10_000;
    while (after.dpi_free_space !== before.dpi_free_space && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      after = await pager.default_pager_info();
    }
    const remaining = await pager.default_pager_objects();
    console.log("\n" + infoTable("default_pager_info (object released)", after));
    const freed = Number(after.dpi_free_space - during.dpi_free_space) / pageSize;
    console.log(`\nreleased: ${freed} pages freed, ${remaining.objects.length} objects left`);
    check(after.dpi_free_space === before.dpi_free_space, "the object's pages were not all freed");
    check(remaining.objects.length === 0, "the object is still listed after release");
    for (const p of remaining.ports) if (p !== 0) user.mach_port_deallocate(p);
    const errors = [...kernelServer.errors, ...(system.local?.server.stats.errors ?? [])];
    check(errors.length === 0, `errors: ${errors.join("; ")}`);
    check(vm.sendFailures.length === 0, `${vm.sendFailures.length} kernel sends failed`);
  } catch (e) {
    problems.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
  } finally {
    await system?.close();
    if (tempDir !== null) fs.rmSync(tempDir, { recursive: true, force: true });
  }
  if (problems.length === 0) {
    console.log(`\nOK: every byte verified (${Math.round(performance.now() - t0)} ms in all)`);
    return true;
  }
  console.log("\nFAILED:");
  for (const p of problems) console.log(`  - ${p}`);
  return false;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Runs of stored offsets as rows; past the first 16, one row sums up the rest. */
function runRows(runs: readonly [number, number][], pageSize: number): [string, string, number][] {
  const rows = runs.map(([a, b]): [string, string, number] => [
    hex(a),
    hex(b),
    (b - a) / pageSize + 1,
  ]);
  if (rows.length <= 16) return rows;
  const rest = rows.slice(16).reduce((n, r) => n + r[2], 0);
  return [...rows.slice(0, 16), ["…", `${rows.length - 16} more runs`, rest]];
}

function infoTable(
  title: string,
  info: { dpi_total_space: bigint; dpi_free_space: bigint; dpi_page_size: bigint },
): string {
  const page = Number(info.dpi_page_size);
  const used = info.dpi_total_space - info.dpi_free_space;
  return formatTable(
    title,
    ["", "bytes", "pages", ""],
    [
      [
        "total space",
        info.dpi_total_space,
        Number(info.dpi_total_space) / page,
        formatBytes(info.dpi_total_space),
      ],
      [
        "free space",
        info.dpi_free_space,
        Number(info.dpi_free_space) / page,
        formatBytes(info.dpi_free_space),
      ],
      ["in use", used, Number(used) / page, formatBytes(used)],
      ["page size", info.dpi_page_size, 1, formatBytes(info.dpi_page_size)],
    ],
    ["left", "right", "right", "right"],
  );
}

export async function main(argv: string[]): Promise<number> {
  let options: DemoOptions | null;
  try {
    options = parseOptions(argv);
  } catch (e) {
    console.error(`${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
    return 2;
  }
  if (options === null) {
    console.log(USAGE);
    return 0;
  }
  return (await run(options)) ? 0 : 1;
}
