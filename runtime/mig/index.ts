export { ReplyPortPool, mig_rpc, mig_send, type RpcOptions, type RpcResult } from "./client.js";
export { ReceivedMessage } from "./received.js";
export { checkReply, isErrorReply, mig_reply_setup, readRetCode, type ReplyShape } from "./reply.js";
export { handleRequest, serve, SeqnoOrder, type Demux, type DemuxResult, type Server, type ServeOptions } from "./serve.js";
