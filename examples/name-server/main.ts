/**
 * `npm run example:name-server`: runs the name server demo (./demo.ts). With `--trace`, every
 * message is printed by the message tracer, decoded through the generated descriptors.
 */
import { Kernel } from "../../runtime/kernel/kernel.js";
import { traceKernel } from "../../runtime/trace/index.js";
import { notify_subsystem } from "../../generated/notify.js";
import { name_server_subsystem, runDemo } from "./demo.js";

const kernel = new Kernel("x86_64");
if (process.argv.includes("--trace")) traceKernel(kernel, { subsystems: [name_server_subsystem, notify_subsystem] });
await runDemo({ kernel });
