export {
  VmKernel,
  Task,
  KernError,
  MemoryFault,
  type VmKernelOptions,
  type VmMapOptions,
  type MapEntry,
  type VmStatistics,
} from "./vm-kernel.js";
export { VmObject, ResidentPage, Placeholder, Wakeup, type PageSlot } from "./vm-object.js";
export { MemoryControl, MemoryObjectName, KernelObjectPort } from "./ports.js";
export type { MemoryManagerLink, DefaultPagerLink, MemoryObjectPort, ReplyPort } from "./links.js";
