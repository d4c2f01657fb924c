/**
 * Ways to open a bridge: over a worker_threads MessagePort, or over a socket (a Unix domain
 * socket path, or TCP host and port). Connections authenticate nothing; what a peer can reach is
 * only what is handed to it (a bootstrap port, exported ports, rights in messages).
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { MessagePort } from "node:worker_threads";
import type { Kernel } from "../kernel/kernel.js";
import { Bridge, type BridgeOptions } from "./bridge.js";
import { MessagePortLink } from "./message-port-link.js";
import { SocketLink } from "./socket-link.js";

/** A Unix domain socket path, or a TCP address. */
export type SocketAddress = { path: string } | { host?: string; port: number };

/** A bridge over a MessagePort (one end of a MessageChannel, or a worker's `parentPort`). */
export function bridgeMessagePort(kernel: Kernel, port: MessagePort, options?: BridgeOptions): Bridge {
  return new Bridge(kernel, new MessagePortLink(port), options);
}

/** A bridge over a connected stream socket. */
export function bridgeSocket(kernel: Kernel, socket: Socket, options?: BridgeOptions): Bridge {
  return new Bridge(kernel, new SocketLink(socket), options);
}

/** Connects to a listening bridge. */
export function connect(kernel: Kernel, address: SocketAddress, options?: BridgeOptions): Promise<Bridge> {
  return new Promise((resolve, reject) => {
    const socket =
      "path" in address ? createConnection(address.path) : createConnection(address.port, address.host ?? "127.0.0.1");
    const failed = (e: Error) => reject(e);
    socket.once("error", failed);
    socket.once("connect", () => {
      socket.off("error", failed);
      resolve(bridgeSocket(kernel, socket, options));
    });
  });
}

/** Accepts bridges on a Unix domain socket path or a TCP port; resolves once listening. */
export function listen(
  kernel: Kernel,
  address: SocketAddress,
  onBridge: (bridge: Bridge) => void,
  options?: BridgeOptions,
): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => onBridge(bridgeSocket(kernel, socket, options)));
    server.once("error", reject);
    const ready = () => {
      server.off("error", reject);
      resolve(server);
    };
    if ("path" in address) server.listen(address.path, ready);
    else server.listen(address.port, address.host ?? "127.0.0.1", ready);
  });
}
