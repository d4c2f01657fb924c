#!/usr/bin/env node
// The published CLI is one bundled file (built by `npm run build`, which `prepare` runs on
// `npm ci`): loading chevrotain's ~640 modules unbundled would triple cold start.
// `mig-ts types` and `mig-ts trace` are separate bundles, loaded only when asked for.
//
// The compiler itself runs from dist/cli-script.js, compiled with `vm.Script` and V8's code cache:
// parsing and compiling the ~0.6 MB bundle (and the functions a compile runs) is a large part of a
// cold run, and Node 20 has no module compile cache. The cache lives in a per-user cache directory
// ($MIG_TS_CACHE_DIR, else $XDG_CACHE_HOME/mig-ts or ~/.cache/mig-ts), one file per bundle (path,
// size and mtime) and Node version, written once after a run that had none. Any problem with it
// (unwritable directory, a cache V8 rejects) only costs that speed-up; MIG_TS_CODE_CACHE=0 turns it
// off. Without dist/cli-script.js the ES module bundle dist/cli.js is imported as before.
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";

const argv = process.argv.slice(2);
const io = { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) };

/** How many code caches of other installs (or Node versions) a cache directory keeps. */
const KEEP_OTHER_CACHES = 8;

function cacheDir() {
  if (process.env.MIG_TS_CACHE_DIR) return process.env.MIG_TS_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || (process.platform === "win32" ? process.env.LOCALAPPDATA : undefined);
  return join(base || join(homedir(), ".cache"), "mig-ts");
}

/** A short, stable hash of a string (FNV-1a), to tell installs apart in one cache directory. */
function fnv(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/**
 * Compiles dist/cli-script.js (with the code cache when there is a usable one) and returns its
 * exports, and a function that writes the cache when this run should; undefined when there is no
 * script bundle.
 */
function loadScript() {
  const file = fileURLToPath(new URL("../dist/cli-script.js", import.meta.url));
  let source, stat;
  try {
    const fd = openSync(file, "r");
    try {
      stat = fstatSync(fd);
      source = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const useCache = process.env.MIG_TS_CODE_CACHE !== "0";
  // A --version or --help run compiles little of the bundle: its cache would serve later compiles
  // poorly, so it reads a cache but writes none.
  const mayWrite = !argv.includes("--version") && !argv.includes("--help") && !argv.includes("-h");
  const dir = useCache ? cacheDir() : "";
  const prefix = `cli-${fnv(file)}-`;
  const suffix = `-${process.version}-${process.arch}.v8cache`;
  const cacheFile = join(dir, `${prefix}${stat.size}-${Math.trunc(stat.mtimeMs)}${suffix}`);
  let cachedData;
  if (useCache) {
    try {
      cachedData = readFileSync(cacheFile);
    } catch {
      // none yet
    }
  }
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    cachedData,
  });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
  const saveCache =
    useCache && mayWrite && (cachedData === undefined || script.cachedDataRejected)
      ? () => {
          try {
            const data = script.createCachedData();
            // Two levels at most (~/.cache/mig-ts), not `recursive: true`, which can spin on odd
            // file systems (Node 20 loops on /proc).
            for (const d of [dirname(dir), dir]) {
              try {
                mkdirSync(d);
              } catch {
                // exists, or the write below fails
              }
            }
            // Caches of earlier builds of this install go, and beyond the newest few of other
            // installs (temporary ones leave theirs behind); the new one appears whole (rename).
            const others = [];
            for (const name of readdirSync(dir)) {
              if (!name.startsWith("cli-") || !name.endsWith(".v8cache")) continue;
              const path = join(dir, name);
              if (name.startsWith(prefix) && name.endsWith(suffix)) rmSync(path, { force: true });
              else others.push({ path, mtime: statSync(path).mtimeMs });
            }
            others.sort((a, b) => b.mtime - a.mtime);
            for (const { path } of others.slice(KEEP_OTHER_CACHES)) rmSync(path, { force: true });
            const temp = `${cacheFile}.${process.pid}.tmp`;
            writeFileSync(temp, data);
            renameSync(temp, cacheFile);
          } catch {
            // A cache is only a speed-up.
          }
        }
      : undefined;
  return { exports: module.exports, saveCache };
}

async function run() {
  if (argv[0] === "types") return (await import("../dist/types-command.js")).typesMain(argv.slice(1), io);
  if (argv[0] === "trace") return (await import("../dist/trace-command.js")).traceMain(argv.slice(1), io);
  const loaded = loadScript();
  if (!loaded) return (await import("../dist/cli.js")).main(argv);
  try {
    return await loaded.exports.main(argv);
  } finally {
    // After the run, so the cache also holds the functions it compiled.
    loaded.saveCache?.();
  }
}

run().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`mig-ts: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 3;
  },
);
