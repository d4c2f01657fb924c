/** Memory-object constants (GNU Mach `mach/memory_object.h`, `mach/vm_prot.h`; mig-reference §9.2). */
export { ReturnCode } from "../../runtime/constants.js";

export const VM_PROT_NONE = 0;
export const VM_PROT_READ = 1;
export const VM_PROT_WRITE = 2;
export const VM_PROT_EXECUTE = 4;
export const VM_PROT_ALL = 7;
export const VM_PROT_NO_CHANGE = 8;

export const MEMORY_OBJECT_COPY_NONE = 0;
export const MEMORY_OBJECT_COPY_CALL = 1;
export const MEMORY_OBJECT_COPY_DELAY = 2;
export const MEMORY_OBJECT_COPY_TEMPORARY = 3;

export const MEMORY_OBJECT_RETURN_NONE = 0;
export const MEMORY_OBJECT_RETURN_DIRTY = 1;
export const MEMORY_OBJECT_RETURN_ALL = 2;
