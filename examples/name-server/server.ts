/**
 * The name server (name_server.defs): one task, one port set holding the service port and one
 * port per entry, served by the generated name_server server chained with the generated notify
 * server (no-senders), as Hurd servers chain `<demux>_routine` lookups on one port set.
 *
 * Rights and ownership (mig-reference §7.3):
 * - name_register keeps the `service` send right it received (success consumes the request) and
 *   answers with MAKE_SEND on a fresh entry port: each registration is a send right to that port.
 *   An error (a taken name) leaves the right in the request, and the receive loop releases it.
 * - name_lookup answers with COPY_SEND of the registered right; the server keeps its own.
 * - The entry goes away on name_unregister (sent to the entry right), or when the last send right
 *   to the entry port is gone: the server asks for no-senders with `sync` = the send rights it
 *   made (mach-ipc-reference §4.6) and drops the entry when a notification says no more exist.
 */
import {
  MACH_MSG_TYPE_MAKE_SEND_ONCE,
  MACH_NOTIFY_NO_SENDERS,
  MACH_PORT_RIGHT_PORT_SET,
  MACH_PORT_RIGHT_RECEIVE,
  MachError,
  ReturnCode,
} from "../../runtime/constants.js";
import type { Task } from "../../runtime/kernel/task.js";
import { serve, type Server } from "../../runtime/mig/serve.js";
import { migDemux } from "../../runtime/mig/stubs.js";
import { notify_server, type NotifyHandlers } from "../../generated/notify.js";
import {
  name_server_server,
  type NameServerHandlers,
  type mach_port_copy_send_t,
  type mach_port_make_send_t,
  type name_list_outs,
} from "./generated/name_server.js";

interface Entry {
  name: string;
  /** The registered send right (a name in the server's space). */
  service: number;
  /** The entry port (receive right, in the port set). */
  port: number;
  /** Send rights made from `port` so far (each name_register reply makes one). */
  made: number;
}

type Handlers = NameServerHandlers & NotifyHandlers;

const fail = (code: number): never => {
  throw new MachError(code);
};

export class NameServer {
  /** The service port (a receive right in the server task). */
  readonly port: number;
  private readonly set: number;
  private readonly byName = new Map<string, Entry>();
  private readonly byPort = new Map<number, Entry>();
  private server: Server | undefined;

  constructor(readonly task: Task) {
    const port = task.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE);
    const set = task.mach_port_allocate(MACH_PORT_RIGHT_PORT_SET);
    if (port.code || set.code) throw new MachError(port.code || set.code, "name server ports");
    this.port = port.name;
    this.set = set.name;
    task.mach_port_move_member(this.port, this.set);
  }

  /** Starts the receive loop. */
  start(): this {
    const handlers = this.handlers();
    this.server = serve(this.task, this.set, migDemux([name_server_server(handlers), notify_server(handlers)]));
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }

  /** Registered names (for tests). */
  get names(): string[] {
    return [...this.byName.keys()].sort();
  }

  private drop(entry: Entry): void {
    this.byName.delete(entry.name);
    this.byPort.delete(entry.port);
    // Destroying the entry port turns the remaining registrations into dead names; the
    // no-senders request's send-once right dies with it.
    this.task.mach_port_mod_refs(entry.port, MACH_PORT_RIGHT_RECEIVE, -1);
    this.task.mach_port_deallocate(entry.service);
  }

  /** Asks for no-senders on the entry port once the send rights made so far are all gone. */
  private requestNoSenders(entry: Entry): void {
    const r = this.task.mach_port_request_notification(entry.port, MACH_NOTIFY_NO_SENDERS, entry.made, entry.port, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    if (r.code) throw new MachError(r.code, "mach_port_request_notification");
  }

  private handlers(): Handlers {
    const task = this.task;
    return {
      name_register: (server, name, service) => {
        if (server !== this.port) fail(ReturnCode.KERN_INVALID_NAME);
        if (name === "" || this.byName.has(name)) fail(ReturnCode.KERN_NAME_EXISTS);
        const allocated = task.mach_port_allocate(MACH_PORT_RIGHT_RECEIVE);
        if (allocated.code) fail(allocated.code);
        const entry: Entry = { name, service, port: allocated.name, made: 1 };
        task.mach_port_move_member(entry.port, this.set);
        this.byName.set(name, entry);
        this.byPort.set(entry.port, entry);
        this.requestNoSenders(entry);
        // The reply's MAKE_SEND makes the registration's send right.
        return entry.port as mach_port_make_send_t;
      },
      name_lookup: (server, name) => {
        if (server !== this.port) fail(ReturnCode.KERN_INVALID_NAME);
        const entry = this.byName.get(name) ?? fail(ReturnCode.KERN_INVALID_NAME);
        return entry.service as mach_port_copy_send_t;
      },
      name_unregister: (port) => {
        const entry = this.byPort.get(port) ?? fail(ReturnCode.KERN_INVALID_NAME);
        this.drop(entry);
      },
      name_list: (server): name_list_outs => {
        if (server !== this.port) fail(ReturnCode.KERN_INVALID_NAME);
        return { names: this.names.join("\n"), count: this.byName.size };
      },
      do_mach_notify_no_senders: (port, mscount) => {
        const entry = this.byPort.get(port);
        if (!entry) return; // already unregistered
        if (mscount >= entry.made) this.drop(entry);
        else this.requestNoSenders(entry); // a right was made meanwhile: ask again
      },
      do_mach_notify_port_deleted: () => fail(ReturnCode.MIG_BAD_ID),
      do_mach_notify_msg_accepted: () => fail(ReturnCode.MIG_BAD_ID),
      do_mach_notify_port_destroyed: () => fail(ReturnCode.MIG_BAD_ID),
      do_mach_notify_send_once: () => undefined,
      do_mach_notify_dead_name: () => fail(ReturnCode.MIG_BAD_ID),
    };
  }
}
