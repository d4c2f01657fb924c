import { describe, expect, it } from "vitest";
import { parseText, statements } from "./helpers.js";

describe("routines", () => {
  it("routine and simpleroutine, with no arguments", () => {
    expect(statements("routine r(); simpleroutine s();")).toEqual([
      { kind: "routine", name: { text: "r" }, args: [] },
      { kind: "simpleroutine", name: { text: "s" }, args: [] },
    ]);
  });

  it("every GNU argument kind, and an unlabelled argument", () => {
    const kinds = ["in", "out", "inout", "requestport", "replyport", "sreplyport", "ureplyport", "waittime", "msgoption", "msgseqno"];
    const [r] = statements(`routine r(server : mach_port_t; ${kinds.map((k, i) => `${k} a${i} : t${i}`).join("; ")});`);
    expect(r).toEqual({
      kind: "routine",
      name: { text: "r" },
      args: [
        { name: { text: "server" }, typeName: { text: "mach_port_t" }, flags: [] },
        ...kinds.map((k, i) => ({ direction: { name: k }, name: { text: `a${i}` }, typeName: { text: `t${i}` }, flags: [] })),
      ],
    });
  });

  it("every Apple argument kind", () => {
    const kinds = [
      "sectoken", "serversectoken", "usersectoken", "audittoken", "serveraudittoken", "useraudittoken",
      "servercontexttoken", "sendtime", "serverimpl", "userimpl",
    ];
    const [r] = statements(`routine r(${kinds.map((k, i) => `${k} a${i} : t${i}`).join("; ")});`);
    expect(r).toMatchObject({ args: kinds.map((k, i) => ({ direction: { name: k }, name: { text: `a${i}` } })) });
  });

  it("Apple's words are soft: arguments may be called sectoken or const", () => {
    expect(statements("routine r(sectoken : int; in const : int, const; audittoken audittoken : int);")).toMatchObject([
      {
        args: [
          { name: { text: "sectoken" }, typeName: { text: "int" } },
          { direction: { name: "in" }, name: { text: "const" }, flags: [{ name: "const" }] },
          { direction: { name: "audittoken" }, name: { text: "audittoken" } },
        ],
      },
    ]);
  });

  it("`name : T = spec` with translations and flags", () => {
    expect(statements("routine r(memory_object : memory_object_t = MACH_MSG_TYPE_MOVE_SEND ctype: mach_port_t; out data : pointer_t, dealloc[], servercopy);")).toEqual([
      {
        kind: "routine",
        name: { text: "r" },
        args: [
          {
            name: { text: "memory_object" },
            typeName: { text: "memory_object_t" },
            spec: {
              type: { kind: "ipc", inName: { kind: "symbolic", name: "MACH_MSG_TYPE_MOVE_SEND", spelled: "MACH_MSG_TYPE_MOVE_SEND" } },
              options: [{ kind: "ctype", cType: { kind: "name", name: { text: "mach_port_t" } } }],
            },
            flags: [],
          },
          {
            direction: { name: "out" },
            name: { text: "data" },
            typeName: { text: "pointer_t" },
            flags: [
              { name: "dealloc", dynamic: true },
              { name: "servercopy", dynamic: false },
            ],
          },
        ],
      },
    ]);
  });

  it("every flag on an argument", () => {
    const flags = ["islong", "isnotlong", "dealloc", "notdealloc", "servercopy", "countinout", "retcode", "samecount", "physicalcopy", "overwrite", "auto", "const"];
    const [r] = statements(`routine r(a : t, ${flags.join(", ")});`);
    expect(r).toMatchObject({ args: [{ flags: flags.map((name) => ({ name, dynamic: false })) }] });
  });

  it("waittime and msgoption as argument kinds do not switch the lexer to its String mode", () => {
    expect(statements("routine r(p : mach_port_t; waittime timeout : natural_t; msgoption option : int);")).toMatchObject([
      { args: [{}, { direction: { name: "waittime" }, name: { text: "timeout" } }, { direction: { name: "msgoption" }, name: { text: "option" } }] },
    ]);
  });
});

describe("Apple statements", () => {
  it("are parsed into the AST", () => {
    expect(
      statements("UseSpecialReplyPort 1; ConsumeOnSendError Timeout; UserTypeLimit 512; OnStackLimit 1024; SendTime; SendTime foo; NoSendTime;"),
    ).toEqual([
      { kind: "usespecialreplyport", value: { kind: "literal", value: 1 } },
      { kind: "consumeonsenderror", value: { text: "Timeout" } },
      { kind: "usertypelimit", value: { kind: "literal", value: 512 } },
      { kind: "onstacklimit", value: { kind: "literal", value: 1024 } },
      { kind: "sendtime" },
      { kind: "sendtime", value: { text: "foo" } },
      { kind: "nosendtime" },
    ]);
  });

  it("their keywords are case-insensitive", () => {
    expect(statements("usespecialreplyport 0; CONSUMEONSENDERROR Any;")).toMatchObject([{ kind: "usespecialreplyport" }, { kind: "consumeonsenderror" }]);
  });

  it("their words remain usable as names elsewhere", () => {
    expect(parseText("type SendTime = int; type error = int; routine dimport(overwrite : error);").diagnostics).toEqual([]);
  });
});
