/**
 * An app that imports a `.defs` file: the esbuild plugin compiles it into the generated stubs at
 * build time (`npm run example:plugin-esbuild`). `npx mig-ts types -I ../../defs src/greeter.defs`
 * writes `src/greeter.defs.d.ts`, the declarations editors use for the import below.
 */
import { Kernel, MACH_MSG_TYPE_MAKE_SEND, MACH_PORT_RIGHT_RECEIVE, createCaller, migDemux, serve } from "mig-ts/runtime";
import { GreeterClient, greeter_server } from "./greeter.defs";

export async function main(log: (line: string) => void = console.log): Promise<string[]> {
  const kernel = new Kernel();
  const serverTask = kernel.createTask("greeter");
  const clientTask = kernel.createTask("client");

  // The server: one receive right, served by the generated demux.
  const port = serverTask.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  let greeted = 0;
  const server = serve(
    serverTask,
    port,
    migDemux(greeter_server({ greeter_hello: (_server, name) => ({ greeting: `Hello, ${name}!`, count: ++greeted }) })),
  );

  // The client: a send right to the server's port, and the generated client class.
  const send = serverTask.mach_port_extract_right(port, MACH_MSG_TYPE_MAKE_SEND, clientTask).right;
  const greeter = new GreeterClient(createCaller(clientTask, send));
  const lines: string[] = [];
  for (const name of ["Mach", "Hurd"]) {
    const { greeting, count } = await greeter.greeter_hello(name);
    lines.push(`${greeting} (greeting #${count})`);
    log(lines[lines.length - 1]);
  }
  await server.stop();
  return lines;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ""))) await main();
