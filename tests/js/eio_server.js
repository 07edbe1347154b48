#!/usr/bin/env node
// Run the official engine.io server, as a peer for the Python client's tests.
//
// Usage: node eio_server.js '<json options>'
// Options: {pingInterval, pingTimeout, transports, allowUpgrades,
//           maxHttpBufferSize (passed to the engine.io Server),
//           reject: message  (refuse every connection with a 403 whose JSON
//                             body is {"code": 4, "message": message}),
//           tls: {cert, key}  (paths of PEM files: serve HTTPS)}
// Listens on 127.0.0.1, a free port, path /engine.io; other paths get 404.
// Every message is echoed, except the commands:
//   "burst" -> the server sends "b0" .. "b99"
//   "close" -> the server closes the socket
// Output: one JSON object per line on stdout: {"event": "listening", port,
// scheme},
// then {"event": "connection", sid, transport, query, headers},
// {"event": "upgrade", sid, transport}, {"event": "message", sid, data}
// (binary data as {"binary": [bytes]}, an empty message as null),
// {"event": "close", sid, reason}.
// The server exits when its standard input closes.
"use strict";

const fs = require("fs");
const http = require("http");
const https = require("https");
const { Server } = require("engine.io");

const options = JSON.parse(process.argv[2] || "{}");
const BURST = 100;

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// engine.io decodes an empty message ("4") as undefined
function normalise(data) {
  if (data === undefined) return null;
  return typeof data === "string" ? data : { binary: Array.from(data) };
}

const serverOptions = { path: "/engine.io" };
for (const name of ["pingInterval", "pingTimeout", "transports",
                    "allowUpgrades", "maxHttpBufferSize"]) {
  if (options[name] !== undefined) serverOptions[name] = options[name];
}
if (options.reject !== undefined) {
  serverOptions.allowRequest = (req, callback) => callback(options.reject, false);
}

function notFound(req, res) {
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("Not Found");
}
const httpServer = options.tls
  ? https.createServer({
      cert: fs.readFileSync(options.tls.cert),
      key: fs.readFileSync(options.tls.key),
    }, notFound)
  : http.createServer(notFound);
const engine = new Server(serverOptions);
engine.attach(httpServer, serverOptions);

engine.on("connection", (socket) => {
  const sid = socket.id;
  const url = new URL(socket.request.url, "http://localhost");
  emit({
    event: "connection",
    sid,
    transport: socket.transport.name,
    query: Object.fromEntries(url.searchParams),
    headers: socket.request.headers,
  });
  socket.on("upgrade", (transport) => {
    emit({ event: "upgrade", sid, transport: transport.name });
  });
  socket.on("message", (data) => {
    emit({ event: "message", sid, data: normalise(data) });
    if (data === "burst") {
      for (let i = 0; i < BURST; i++) socket.send("b" + i);
    } else if (data === "close") {
      socket.close();
    } else {
      socket.send(data);
    }
  });
  socket.on("close", (reason) => {
    emit({ event: "close", sid, reason });
  });
});

httpServer.listen(0, "127.0.0.1", () => {
  emit({ event: "listening", port: httpServer.address().port,
         scheme: options.tls ? "https" : "http" });
});

process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
