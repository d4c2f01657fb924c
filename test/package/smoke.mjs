// Runs inside a fresh project that installed the mig-ts tarball: the compiler API, the runtime
// and the esbuild plugin entry, all resolved through the package's `exports`.
import { writeFileSync } from "node:fs";
import { build } from "esbuild";
import { compile, formatDiagnostic, VERSION } from "mig-ts";
import { Kernel, MACH_MSG_TYPE_MAKE_SEND, MACH_PORT_RIGHT_RECEIVE, createCaller, migDemux, serve } from "mig-ts/runtime";
import migTs from "mig-ts/esbuild";

const defs = `subsystem echo 9000;
type int = MACH_MSG_TYPE_INTEGER_32;
type mach_port_t = MACH_MSG_TYPE_COPY_SEND;
routine echo_twice(server : mach_port_t; x : int; out y : int);
`;

// 1. The compiler API: source text in, TypeScript files and diagnostics out.
const result = compile(defs, { fileName: "echo.defs" });
if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map((d) => formatDiagnostic(d)).join("\n"));
const bad = compile("subsystem echo 9000;\nroutine r(a : int b : int);\n", { fileName: "bad.defs" });

// 2. A generated-stub round trip, the stubs bundled from a .defs by the plugin entry.
writeFileSync("echo.defs", defs);
writeFileSync(
  "app.mjs",
  `import { EchoClient, echo_server } from "./echo.defs";
export { EchoClient, echo_server };
`,
);
await build({ entryPoints: ["app.mjs"], bundle: true, format: "esm", platform: "node", outfile: "out/app.mjs", plugins: [migTs()], logLevel: "silent" });
const { EchoClient, echo_server } = await import(new URL("./out/app.mjs", import.meta.url).href);

const kernel = new Kernel("x86_64");
const serverTask = kernel.createTask("server");
const clientTask = kernel.createTask("client");
const port = serverTask.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
const server = serve(serverTask, port, migDemux(echo_server({ echo_twice: (_port, x) => 2 * x })));
const send = serverTask.mach_port_extract_right(port, MACH_MSG_TYPE_MAKE_SEND, clientTask).right;
const y = await new EchoClient(createCaller(clientTask, send)).echo_twice(21);
await server.stop();

console.log(JSON.stringify({ version: VERSION, files: result.files.map((f) => f.name), badCode: bad.diagnostics[0]?.code, y }));
