export { Bridge, type BridgeOptions, type BridgeStats, type ImportResult } from "./bridge.js";
export { bridgeMessagePort, bridgeSocket, connect, listen, type SocketAddress } from "./connect.js";
export { FrameReader, FrameWriter, type Link } from "./link.js";
export { MessagePortLink } from "./message-port-link.js";
export { SocketLink } from "./socket-link.js";
