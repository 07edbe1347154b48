#!/usr/bin/env node
// Drive the official socket.io-client for end-to-end tests, one command at a
// time.
//
// Usage: node sio_client.js
// Commands arrive on stdin, one JSON object per line:
//   {"cmd": "connect", "client": id, "url": u, "namespaces": [ns, ...],
//    "auth": {...}, "transports": [...], "reconnection": bool,
//    "extraHeaders": {...}}
//       one Manager (one Engine.IO connection) per client id, with a socket
//       per namespace, all sending the same auth payload
//   {"cmd": "emit", "client": id, "ns": ns, "event": e, "args": [...],
//    "ack": req}   emit; with "ack", wait for the acknowledgement and print
//                  {"ev": "ack", "req": req, "data": ...}
//   {"cmd": "disconnect", "client": id}   disconnect every namespace
//   {"cmd": "exit"}                       exit at once (no goodbye packets)
// Output on stdout, one JSON object per line: {"ev": "ready"} first, then
//   connect {client, ns, sid, transport}, connect_error {client, ns,
//   message, data}, disconnect {client, ns, reason}, event {client, ns,
//   name, args}, reconnect {client, attempt}, ack {req, data} or
//   ack_error {req, message}, and error {message} for a bad command.
// Every event the server sends that asks for an acknowledgement is answered
// with {"answer": [its arguments]}.
// Binary values travel in JSON as {"_b64": "<base64>"} both ways.
"use strict";

const readline = require("readline");
const { Manager } = require("socket.io-client");

const ACK_TIMEOUT = 10000;
const clients = new Map(); // id -> {manager, sockets: Map(ns -> socket)}

function print(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function toJson(value) {
  if (Buffer.isBuffer(value)) return { _b64: value.toString("base64") };
  if (value instanceof ArrayBuffer) return { _b64: Buffer.from(value).toString("base64") };
  if (ArrayBuffer.isView(value)) {
    return { _b64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  }
  if (Array.isArray(value)) return value.map(toJson);
  if (value && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value)) out[key] = toJson(value[key]);
    return out;
  }
  return value;
}

function fromJson(value) {
  if (Array.isArray(value)) return value.map(fromJson);
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "_b64") return Buffer.from(value._b64, "base64");
    const out = {};
    for (const key of keys) out[key] = fromJson(value[key]);
    return out;
  }
  return value;
}

function connect(cmd) {
  const manager = new Manager(cmd.url, {
    path: cmd.path || "/socket.io",
    transports: cmd.transports || ["polling", "websocket"],
    reconnection: cmd.reconnection !== undefined ? cmd.reconnection : true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 300,
    randomizationFactor: 0,
    timeout: 5000,
    extraHeaders: cmd.extraHeaders,
  });
  const client = { manager: manager, sockets: new Map() };
  clients.set(cmd.client, client);
  manager.on("reconnect", (attempt) => print({ ev: "reconnect", client: cmd.client, attempt: attempt }));
  for (const ns of cmd.namespaces || ["/"]) {
    const socket = manager.socket(ns, { auth: cmd.auth || {} });
    client.sockets.set(ns, socket);
    const base = { client: cmd.client, ns: ns };
    socket.on("connect", () => {
      print(Object.assign({ ev: "connect", sid: socket.id, transport: manager.engine.transport.name }, base));
    });
    socket.on("connect_error", (err) => {
      print(Object.assign({ ev: "connect_error", message: err.message, data: toJson(err.data) }, base));
    });
    socket.on("disconnect", (reason) => print(Object.assign({ ev: "disconnect", reason: reason }, base)));
    socket.onAny((name, ...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      print(Object.assign({ ev: "event", name: name, args: toJson(args) }, base));
      if (ack) ack({ answer: args });
    });
  }
}

function socketOf(cmd) {
  const client = clients.get(cmd.client);
  const socket = client && client.sockets.get(cmd.ns || "/");
  if (!socket) throw new Error("no socket " + cmd.client + " " + cmd.ns);
  return socket;
}

function emit(cmd) {
  const socket = socketOf(cmd);
  const args = fromJson(cmd.args || []);
  if (cmd.ack === undefined) {
    socket.emit(cmd.event, ...args);
    return;
  }
  socket.timeout(ACK_TIMEOUT).emitWithAck(cmd.event, ...args).then(
    (data) => print({ ev: "ack", req: cmd.ack, data: toJson(data) }),
    (err) => print({ ev: "ack_error", req: cmd.ack, message: err.message })
  );
}

function run(cmd) {
  if (cmd.cmd === "connect") connect(cmd);
  else if (cmd.cmd === "emit") emit(cmd);
  else if (cmd.cmd === "disconnect") {
    for (const socket of clients.get(cmd.client).sockets.values()) socket.disconnect();
  } else if (cmd.cmd === "exit") process.exit(0);
  else throw new Error("unknown command " + cmd.cmd);
}

const input = readline.createInterface({ input: process.stdin });
input.on("line", (line) => {
  if (!line.trim()) return;
  try {
    run(JSON.parse(line));
  } catch (err) {
    print({ ev: "error", message: String(err && err.message) });
  }
});
// the test runner went away: do not outlive it
input.on("close", () => process.exit(0));
print({ ev: "ready" });
