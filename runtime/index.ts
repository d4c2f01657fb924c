/**
 * mig-ts runtime: the message ABI, Mach/MIG codes, the in-process kernel (tasks, ports,
 * mach_msg, notifications) and the MIG call/serve helpers that generated stubs use.
 */
export * from "./abi.js";
export * from "./constants.js";
export type { MachMessage } from "./message.js";
export * from "./codec/header.js";
export * from "./codec/descriptor.js";
export { codecMode, setCodecMode, type CodecMode } from "./codec/engine.js";
export * from "./kernel/index.js";
export * from "./mig/index.js";
export type { RoutinePlan, SubsystemPlan, MessagePlan, ItemPlan, HeaderPortPlan } from "./codec/plan.js";
