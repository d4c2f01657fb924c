/**
 * The memory of a message MIG code built and sent itself: a routine's request (stubs.ts) and a
 * reply `migDemux` made for the loop (serve.ts, `loopOwnsReply`). Neither is ever handed out, so
 * once the kernel has taken it the message is dead, as GNU MIG's stub buffers are once mach_msg
 * has copied them in. Two ways to use that:
 *  - donate: a message the codec will never write again (memory.ts mayRelease is false) may become
 *    the kernel's own copy (Task#sendMessage's `donate`);
 *  - release: one the codec could still give back is copied by the kernel first thing, and after a
 *    successful send its memory goes back to the codec (memory.ts releaseMessage) for the next
 *    message.
 * After a failed send nothing is released: the caller may still destroy the message's rights.
 * Nothing is released while message observers are attached either: the tracer
 * (runtime/trace/tracer.ts) only reads a message during its send, but an observer may keep what it
 * is given.
 */
import { mayRelease, releaseMessage } from "../codec/engine.js";
import type { Task } from "../kernel/task.js";
import type { MachMessage } from "../message.js";

/** Whether the kernel may keep `message`'s bytes instead of copying them. */
export function mayDonate(message: MachMessage): boolean {
  return !mayRelease(message);
}

/** `message` was sent successfully (or destroyed unsent): its memory goes back to the codec. */
export function releaseSent(task: Task, message: MachMessage): void {
  if (!task.kernel.observing) releaseMessage(message);
}
