import { describe, expect, it } from "vitest";
import { I386, X86_64 } from "../../../runtime/abi.js";
import { layoutRoutine } from "../../../compiler/layout/message-layout.js";
import { MsgTypeName, type MigType, type Routine, type RoutineArgument } from "../../../compiler/semantics/model.js";

// Hand-made model objects: default_pager_object_create (mig-reference §6.4).
function scalar(inName: number, outName: number, size: number, cType: string, isPort = false): MigType {
  return {
    name: cType,
    inName,
    outName,
    size,
    number: 1,
    inline: true,
    longForm: false,
    dealloc: "no",
    isStruct: true,
    isString: false,
    varArray: false,
    indefinite: false,
    isPort,
    alignment: size / 8,
    cUserType: cType,
    cServerType: cType,
    cTransType: cType,
  };
}
function arg(name: string, kind: RoutineArgument["kind"], type: MigType, inRequest: boolean, inReply: boolean, implicit = false): RoutineArgument {
  return { name, kind, type, inRequest, inReply, userVisible: true, serverVisible: true, countInOut: false, serverCopy: false, dealloc: "no", implicit };
}
function objectCreate(portBits: number, sizeBits: number): Routine {
  return {
    name: "default_pager_object_create",
    kind: "routine",
    number: 0,
    requestId: 2275,
    replyId: 2375,
    userPrefix: "",
    serverPrefix: "",
    args: [
      arg("RetCode", "retcode", scalar(MsgTypeName.INTEGER_32, MsgTypeName.INTEGER_32, 32, "kern_return_t"), false, true, true),
      arg("Reply", "replyport", scalar(MsgTypeName.MAKE_SEND_ONCE, MsgTypeName.PORT_SEND_ONCE, portBits, "mach_port_t", true), false, false, true),
      arg("default_pager", "requestport", scalar(MsgTypeName.COPY_SEND, MsgTypeName.PORT_SEND, portBits, "mach_port_t", true), false, false),
      arg("memory_object", "out", scalar(MsgTypeName.MAKE_SEND, MsgTypeName.PORT_SEND, portBits, "memory_object_t", true), false, true),
      arg("object_size", "in", scalar(sizeBits === 64 ? MsgTypeName.INTEGER_64 : MsgTypeName.INTEGER_32, sizeBits === 64 ? 11 : 2, sizeBits, "vm_size_t"), true, false),
    ],
  };
}

describe("message layout", () => {
  it("lays out default_pager_object_create on x86_64: 48-byte request, 64-byte complex reply", () => {
    const layout = layoutRoutine(objectCreate(64, 64), X86_64);
    expect(layout.request).toMatchObject({ minSize: 48, maxSize: 48, fixed: true, complex: "no" });
    expect(layout.request.items[0]).toMatchObject({ arg: "object_size", offset: 32, dataOffset: 40, descriptor: "0b40002001000000", dataSize: 8 });
    expect(layout.request.remotePort).toMatchObject({ disposition: MsgTypeName.COPY_SEND, argIndex: 2 });
    expect(layout.request.localPort).toMatchObject({ disposition: MsgTypeName.MAKE_SEND_ONCE, argIndex: -1 });
    expect(layout.reply).toMatchObject({ minSize: 64, maxSize: 64, complex: "yes" });
    expect(layout.reply.items.map((i) => [i.arg, i.offset, i.descriptor])).toEqual([
      ["RetCode", 32, "0220002001000000"],
      ["memory_object", 48, "1440002001000000"],
    ]);
    expect(layout.errorReplySize).toBe(48);
  });

  it("lays out the same routine on i386: 32-byte request, 40-byte reply, 4-byte descriptors", () => {
    const layout = layoutRoutine(objectCreate(32, 32), I386);
    expect(layout.request).toMatchObject({ minSize: 32, maxSize: 32 });
    expect(layout.request.items[0].descriptor).toBe("02200110");
    expect(layout.reply).toMatchObject({ minSize: 40, maxSize: 40, complex: "yes" });
    expect(layout.reply.items[1].descriptor).toBe("14200110");
    expect(layout.errorReplySize).toBe(32);
  });
});
