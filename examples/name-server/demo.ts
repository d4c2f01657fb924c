/**
 * The name server at work, in one kernel: a server task and two clients.
 *
 *   1. alice registers her printer port as "printer" and her scanner as "scanner";
 *   2. bob lists the names and looks "printer" up: he gets a send right to alice's port;
 *   3. alice unregisters "scanner" through its registration right;
 *   4. alice drops her "printer" registration right: no senders remain on the entry port, the
 *      server hears no-senders and forgets the name; bob's next lookup fails.
 */
import { MACH_MSG_TYPE_MAKE_SEND, MACH_PORT_RIGHT_RECEIVE, MACH_PORT_TYPE_SEND, MachError, returnCodeName } from "../../runtime/constants.js";
import { Kernel } from "../../runtime/kernel/kernel.js";
import type { Task } from "../../runtime/kernel/task.js";
import { NameServerClient, name_server_subsystem, type mach_port_copy_send_t } from "./generated/name_server.js";
import { createCaller } from "../../runtime/mig/stubs.js";
import { NameServer } from "./server.js";

export interface DemoOptions {
  log?: (line: string) => void;
  kernel?: Kernel;
}

export interface DemoResult {
  listed: string[];
  lookedUp: boolean;
  afterUnregister: string[];
  afterNoSenders: string[];
  lookupAfterNoSenders: string;
}

/** Gives `client` a send right to the server's service port. */
function connect(server: NameServer, client: Task): NameServerClient {
  const r = server.task.mach_port_extract_right(server.port, MACH_MSG_TYPE_MAKE_SEND, client);
  if (r.code) throw new MachError(r.code, "extract_right");
  return new NameServerClient(createCaller(client, r.right));
}

/** Waits until the kernel's queued work (notifications, the serve loop) has run. */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const kernel = options.kernel ?? new Kernel("x86_64");
  const server = new NameServer(kernel.createTask("names")).start();
  const alice = kernel.createTask("alice");
  const bob = kernel.createTask("bob");
  const aliceNames = connect(server, alice);
  const bobNames = connect(server, bob);

  const printer = alice.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  const scanner = alice.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE).name;
  alice.mach_port_insert_right(printer, printer, MACH_MSG_TYPE_MAKE_SEND);
  alice.mach_port_insert_right(scanner, scanner, MACH_MSG_TYPE_MAKE_SEND);

  const printerEntry = await aliceNames.name_register("printer", printer as mach_port_copy_send_t);
  const scannerEntry = await aliceNames.name_register("scanner", scanner as mach_port_copy_send_t);
  log(`alice registered "printer" (entry 0x${printerEntry.toString(16)}) and "scanner" (entry 0x${scannerEntry.toString(16)})`);
  try {
    await aliceNames.name_register("printer", printer as mach_port_copy_send_t);
  } catch (error) {
    log(`registering "printer" twice: ${(error as MachError).codeName}`);
  }

  const { names, count } = await bobNames.name_list();
  const listed = names === "" ? [] : names.split("\n");
  log(`bob lists ${count} names: ${listed.join(", ")}`);
  const service = await bobNames.name_lookup("printer");
  const type = bob.mach_port_type(service).type;
  const lookedUp = (type & MACH_PORT_TYPE_SEND) !== 0;
  log(`bob looked up "printer": send right 0x${service.toString(16)} (${lookedUp ? "a send right" : "no send right"})`);

  // name_unregister goes to the registration right itself.
  await new NameServerClient(createCaller(alice, scannerEntry)).name_unregister();
  const afterUnregister = (await bobNames.name_list()).names.split("\n").filter((n) => n !== "");
  log(`alice unregistered "scanner"; names now: ${afterUnregister.join(", ")}`);

  // Dropping the last send right to the entry: no-senders, and the server forgets the name.
  alice.mach_port_deallocate(printerEntry);
  await settle();
  await settle();
  const afterNoSenders = (await bobNames.name_list()).names.split("\n").filter((n) => n !== "");
  log(`alice dropped her "printer" registration; names now: ${afterNoSenders.length ? afterNoSenders.join(", ") : "(none)"}`);
  let lookupAfterNoSenders = "KERN_SUCCESS";
  try {
    await bobNames.name_lookup("printer");
  } catch (error) {
    lookupAfterNoSenders = error instanceof MachError ? error.codeName : returnCodeName(-1);
  }
  log(`bob looks "printer" up again: ${lookupAfterNoSenders}`);

  await server.stop();
  return { listed, lookedUp, afterUnregister, afterNoSenders, lookupAfterNoSenders };
}

export { name_server_subsystem };
