export { Kernel, KERNEL_CREATED, type MessageObserver, type ReceiveOutcome } from "./kernel.js";
export { Task, type MachMsgResult, type NameResult, type PortStatus } from "./task.js";
export { Port, PortSet, noRight, type CarriedRight, type Entry, type KMsg } from "./objects.js";
export { buildNotification, notificationDataOffset, type NotificationId } from "./notify.js";
export { parseBody, type BodyItem, type ParsedBody } from "./body.js";
