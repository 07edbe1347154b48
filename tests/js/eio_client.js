#!/usr/bin/env node
// Drive the official engine.io-client against a server, for end-to-end tests.
//
// Usage: node eio_client.js '<json config>'
// Config: {url, path = "/engine.io", transports = ["polling", "websocket"],
//          upgrade = true, timeout = 20000 (ms, whole run), script: [step...]}
// Steps (run in order, starting right after the socket is created):
//   {"waitOpen": ms}                      wait for the "open" event
//   {"send": text}                        send a text message
//   {"sendBinary": [byte, ...]}           send a binary message
//   {"sendBurst": {"count": n, "prefix": p}}  send p0 .. p(n-1)
//   {"expect": {"count": n, "timeout": ms}}   wait until n messages arrived in total
//   {"waitUpgrade": ms}                   wait for the "upgrade" event
//   {"stopPong": true}                    stop answering server pings (and stop
//                                         the client's own heartbeat timer)
//   {"close": true}                       close the socket
//   {"waitClose": ms}                     wait for the "close" event
//   {"waitError": ms}                     wait for an "error" event
//   {"sleep": ms}
// Output: one JSON object per line on stdout, {"event": name, ...}: open,
// upgrade, message, close, error, then "done" (success, exit 0) or "fail"
// (exit 1 for a failed step, 2 for the overall timeout).
"use strict";

const { Socket } = require("engine.io-client");

const config = JSON.parse(process.argv[2] || "{}");
const state = {
  opened: false,
  upgraded: false,
  closed: false,
  errored: false,
  messages: 0,
  waiters: [],
};

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// Failures exit at once.  On success the process exits when its last
// request is done (so a final close packet still reaches the server), but
// after FINISH_GRACE ms at the latest.
const FINISH_GRACE = 2000;

function finish(code, extra) {
  emit(Object.assign({ event: code === 0 ? "done" : "fail" }, extra || {}));
  if (code !== 0) process.exit(code);
  setTimeout(() => process.exit(0), FINISH_GRACE).unref();
}

function describe(value) {
  if (value === undefined || value === null) return null;
  if (typeof value === "string" || typeof value === "number") return value;
  if (typeof value.message === "string") return value.message;
  try {
    return JSON.parse(JSON.stringify(value));
  } catch (e) {
    return String(value);
  }
}

function normalise(data) {
  if (typeof data === "string") return data;
  if (Buffer.isBuffer(data)) return { binary: Array.from(data) };
  if (data instanceof ArrayBuffer) return { binary: Array.from(new Uint8Array(data)) };
  if (ArrayBuffer.isView(data)) {
    return { binary: Array.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)) };
  }
  return { unknown: String(data) };
}

// Re-check pending waits whenever something happens.
function notify() {
  state.waiters = state.waiters.filter((w) => !w());
}

// Resolve when predicate() holds; reject after ms milliseconds.
function waitFor(predicate, ms, what) {
  return new Promise((resolve, reject) => {
    if (predicate()) return resolve();
    const timer = setTimeout(() => {
      state.waiters = state.waiters.filter((w) => w !== check);
      reject(new Error("timed out after " + ms + " ms waiting for " + what));
    }, ms);
    const check = () => {
      if (!predicate()) return false;
      clearTimeout(timer);
      resolve();
      return true;
    };
    state.waiters.push(check);
  });
}

const options = {
  path: config.path || "/engine.io",
  transports: config.transports || ["polling", "websocket"],
  upgrade: config.upgrade !== undefined ? config.upgrade : true,
};
if (config.localAddress) {
  // connect from a given loopback address (for load balancing by address)
  options.agent = new (require("http").Agent)({ localAddress: config.localAddress });
}
const socket = new Socket(config.url, options);

socket.on("open", () => {
  state.opened = true;
  emit({ event: "open", sid: socket.id, transport: socket.transport.name });
  notify();
});
socket.on("upgrade", (transport) => {
  state.upgraded = true;
  emit({ event: "upgrade", transport: transport.name });
  notify();
});
socket.on("message", (data) => {
  state.messages += 1;
  emit({ event: "message", data: normalise(data) });
  notify();
});
socket.on("error", (err) => {
  state.errored = true;
  const out = { event: "error", message: describe(err) };
  if (err && err.description !== undefined) out.description = describe(err.description);
  if (err && err.context && typeof err.context.responseText === "string") {
    out.body = err.context.responseText;
  }
  emit(out);
  notify();
});
socket.on("close", (reason, description) => {
  state.closed = true;
  emit({ event: "close", reason: reason, description: describe(description) });
  notify();
});

// Make the socket ignore server pings: drop outgoing pongs and disable the
// client-side heartbeat timeout, so that only the server can end the session.
function stopPong() {
  const sendPacket = socket._sendPacket.bind(socket);
  socket._sendPacket = (type, ...rest) => {
    if (type === "pong") return;
    sendPacket(type, ...rest);
  };
  socket._resetPingTimeout = () => {
    socket.clearTimeoutFn(socket._pingTimeoutTimer);
    socket._pingTimeoutTime = Infinity;
  };
  socket._resetPingTimeout();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function runStep(step) {
  if ("waitOpen" in step) {
    await waitFor(() => state.opened, step.waitOpen, "open");
  } else if ("send" in step) {
    socket.send(step.send);
  } else if ("sendBinary" in step) {
    socket.send(Buffer.from(step.sendBinary));
  } else if ("sendBurst" in step) {
    for (let i = 0; i < step.sendBurst.count; i++) {
      socket.send((step.sendBurst.prefix || "") + i);
    }
  } else if ("expect" in step) {
    const n = step.expect.count;
    await waitFor(() => state.messages >= n, step.expect.timeout || 5000, n + " messages");
  } else if ("waitUpgrade" in step) {
    await waitFor(() => state.upgraded, step.waitUpgrade, "upgrade");
  } else if ("stopPong" in step) {
    stopPong();
  } else if ("close" in step) {
    socket.close();
  } else if ("waitClose" in step) {
    await waitFor(() => state.closed, step.waitClose, "close");
  } else if ("waitError" in step) {
    await waitFor(() => state.errored, step.waitError, "error");
  } else if ("sleep" in step) {
    await sleep(step.sleep);
  } else {
    throw new Error("unknown step " + JSON.stringify(step));
  }
}

const overall = setTimeout(() => {
  finish(2, { reason: "overall timeout of " + (config.timeout || 20000) + " ms" });
}, config.timeout || 20000);

(async () => {
  const script = config.script || [];
  for (let i = 0; i < script.length; i++) {
    try {
      await runStep(script[i]);
    } catch (err) {
      finish(1, { step: i, reason: describe(err) });
    }
  }
  clearTimeout(overall);
  finish(0);
})();
