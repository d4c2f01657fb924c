/**
 * The seams between the VM model and whatever carries its messages. Today the end-to-end test
 * wires them to the pager core with direct calls (../direct-wiring.ts); the IPC layer will implement
 * the same interfaces with the generated memory_object / memory_object_default user stubs, and call
 * VmKernel's control methods from the server side of the control ports.
 */
import type { MemoryControl, MemoryObjectName } from "./ports.js";

/**
 * A memory object port as the kernel sees it: an identity. External objects use whatever token the
 * mapper passed to vm_map (the IPC layer: the port); internal objects get a KernelObjectPort.
 */
export type MemoryObjectPort = object;

/** A reply port passed by the manager (lock_request, data_supply, change_attributes). */
export type ReplyPort = object;

/**
 * Kernel → memory manager messages (memory_object.defs, subsystem 2200). All are one-way.
 *
 * Contract: each call must take its place in the destination port's queue *before it returns*, so
 * that messages for one object are numbered in call order (the VM relies on this: a data_request
 * issued after a data_return must be served after it). The promise settles when the message is
 * queued; a rejection means the send failed (the VM treats the page or call as failed).
 * `data` buffers are handed over: the VM never touches them again.
 */
export interface MemoryManagerLink {
  init(
    object: MemoryObjectPort,
    control: MemoryControl,
    name: MemoryObjectName,
    pageSize: number,
  ): Promise<void>;
  dataRequest(
    object: MemoryObjectPort,
    control: MemoryControl,
    offset: number,
    length: number,
    desiredAccess: number,
  ): Promise<void>;
  dataUnlock(
    object: MemoryObjectPort,
    control: MemoryControl,
    offset: number,
    length: number,
    desiredAccess: number,
  ): Promise<void>;
  dataReturn(
    object: MemoryObjectPort,
    control: MemoryControl,
    offset: number,
    data: Uint8Array,
    dirty: boolean,
    kernelCopy: boolean,
  ): Promise<void>;
  /** Moves the kernel's send right and the control and name receive rights to the manager. */
  terminate(
    object: MemoryObjectPort,
    control: MemoryControl,
    name: MemoryObjectName,
  ): Promise<void>;
  lockCompleted(
    replyTo: ReplyPort,
    control: MemoryControl,
    offset: number,
    length: number,
  ): Promise<void>;
  supplyCompleted(
    replyTo: ReplyPort,
    control: MemoryControl,
    offset: number,
    length: number,
    result: number,
    errorOffset: number,
  ): Promise<void>;
  /** No control port: it is sent after the kernel may have let the object go. */
  changeCompleted(replyTo: ReplyPort, mayCache: boolean, copyStrategy: number): Promise<void>;
  /**
   * Optional: the faulting thread is about to block after its data_request. Lets the threads
   * its send woke run now, before it blocks (Mach's thread_block picking the pager thread the
   * send made runnable) instead of at some later turn. A manager that answers at once has then
   * supplied the page by the time this returns, and the fault completes without waiting. Must
   * do nothing when the carrier is not at rest (inside a kernel operation or a server).
   */
  runWoken?(): void;
}

/** Kernel → default pager (memory_object_default.defs, subsystem 2250). Same queueing contract. */
export interface DefaultPagerLink {
  /** Moves the receive right of `newObject` to the default pager; makes send rights for control and name. */
  memoryObjectCreate(
    newObject: MemoryObjectPort,
    size: number,
    control: MemoryControl,
    name: MemoryObjectName,
    pageSize: number,
  ): Promise<void>;
}
