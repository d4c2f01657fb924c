/**
 * Ports the kernel creates for the memory-object protocol. Without IPC they are plain identities;
 * the IPC layer binds each to a real port (for instance in a WeakMap) when it first sends one.
 */
import type { VmObject } from "./vm-object.js";

let nextPortId = 1;

/** The control port ([KP] memory cache control): the manager calls the kernel on it. */
export class MemoryControl {
  readonly id = nextPortId++;
  /** The VM object while the kernel holds the receive right; null after terminate or destroy. */
  object: VmObject | null;
  /**
   * The IPC layer's own state for this control (the KernelServer keeps the names and the client
   * its data_requests use here: no table lookup per page-in). The VM never reads it.
   */
  link: unknown = null;
  constructor(object: VmObject) {
    this.object = object;
  }
}

/** The name port: identifies the object in vm_region and default_pager_objects. */
export class MemoryObjectName {
  readonly id = nextPortId++;
}

/** A memory object port the kernel made for an internal object at its first page-out. */
export class KernelObjectPort {
  readonly id = nextPortId++;
}
