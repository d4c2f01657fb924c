export { ReplyPortPool, mig_rpc, mig_send, type RpcOptions, type RpcResult } from "./client.js";
export { ReceivedMessage } from "./received.js";
export { checkReply, isErrorReply, mig_reply_setup, readRetCode, type ReplyShape } from "./reply.js";
export { handleRequest, serve, SeqnoOrder, type Demux, type DemuxResult, type Server, type ServeOptions } from "./serve.js";
export {
  createCaller,
  migDemux,
  type AnyMigDemux,
  type CallerOptions,
  type CallOptions,
  type MigCaller,
  type MigDemux,
  type MigDemuxOptions,
  type MigRequest,
  type MigServerRoutine,
  type MigValue,
} from "./stubs.js";
