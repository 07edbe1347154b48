#!/usr/bin/env node
// Load generator for the Engine.IO benchmarks.
//
// Speaks Engine.IO v4 framing directly (no client library), or no framing at
// all ("bare") against a plain WebSocket / HTTP echo, and prints one JSON
// object with the figures on stdout.
//
//   node loadgen.js --scenario ws_echo --port 5000 [--framing eio|bare] ...
//
// Scenarios:
//   ws_echo    --clients WebSockets, each keeping --window messages in flight;
//              counts echoes per second
//   poll_echo  --clients long-polling sessions (eio: one POST and one GET in
//              flight, at most --window messages unanswered; bare: one POST
//              echo in flight); counts echoed messages per second
//   rtt        one WebSocket, one message at a time; round trip percentiles
//   handshake  --clients loops of connect, (eio: wait for the OPEN packet),
//              close; counts completed handshakes per second
//   idle       opens WebSockets up to each of --counts (e.g. 1000,5000), prints
//              a line each time and waits for a line on stdin before going on
'use strict';

const net = require('net');
const WebSocket = require('ws');

const DEFAULTS = {
  scenario: 'ws_echo', host: '127.0.0.1', port: 0, framing: 'eio', path: '',
  clients: 50, window: 10, batch: 1, duration: 3, warmup: 1,
  payload: 'hello from the bench', counts: '1000,5000', connectConcurrency: 100,
};

function parseArgs(argv) {
  const opts = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in DEFAULTS)) throw new Error(`unknown option ${argv[i]}`);
    const value = argv[i + 1];
    opts[key] = typeof DEFAULTS[key] === 'number' ? Number(value) : value;
  }
  if (!opts.path) {
    const bareHttp = opts.framing === 'bare' && opts.scenario === 'poll_echo';
    opts.path = opts.framing === 'eio' ? '/engine.io/' : (bareHttp ? '/echo' : '/ws');
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const EIO = opts.framing === 'eio';
const MESSAGE = (EIO ? '4' : '') + opts.payload;
const CODE = { OPEN: 0x30, CLOSE: 0x31, PING: 0x32, MESSAGE: 0x34 };
const SEP = '\x1e';
const WS_OPTIONS = { perMessageDeflate: false, skipUTF8Validation: true };

// Bounded run time whatever happens to the server.
const hardLimit = (opts.warmup + opts.duration + 60) * 1000;
setTimeout(() => fail('generator time limit reached'), opts.scenario === 'idle' ? 600000 : hardLimit).unref();

function fail(reason) {
  process.stdout.write(JSON.stringify({ error: reason }) + '\n');
  process.exit(1);
}

function done(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function wsUrl() {
  const query = EIO ? '?EIO=4&transport=websocket' : '';
  return `ws://${opts.host}:${opts.port}${opts.path}${query}`;
}

// A WebSocket that resolves once usable: at 'open' (bare) or at the OPEN
// packet (eio). onMessage(buffer) receives echoes; PINGs are answered here.
function openSocket(onMessage) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(), WS_OPTIONS);
    let ready = false;
    ws.on('open', () => {
      if (!EIO) { ready = true; resolve(ws); }
    });
    ws.on('message', (data) => {
      if (!EIO) { onMessage(data); return; }
      const code = data[0];
      if (code === CODE.MESSAGE) onMessage(data);
      else if (code === CODE.PING) ws.send('3');
      else if (code === CODE.OPEN && !ready) { ready = true; resolve(ws); }
    });
    ws.on('error', (err) => { if (!ready) reject(err); });
    ws.on('close', () => { if (!ready) reject(new Error('closed before ready')); });
  });
}

// Share of one CPU core this process used since `since` (a cpuUsage()
// reading), over `seconds` of wall time.
function cpuShare(since, seconds) {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6 / seconds;
}

// Counts getCount() over --duration after --warmup; `perCount` names other
// counters (getters) reported per counted item over the same span.
async function measure(getCount, perCount = {}) {
  await sleep(opts.warmup * 1000);
  const start = getCount();
  const others = Object.entries(perCount).map(([name, get]) => [name, get, get()]);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await sleep(opts.duration * 1000);
  const count = getCount() - start;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const result = { count, seconds, rate: count / seconds, cpu: cpuShare(cpu0, seconds) };
  for (const [name, get, before] of others) result[name] = count ? (get() - before) / count : null;
  return result;
}

async function wsEcho() {
  let echoes = 0;
  let running = true;
  const sockets = await Promise.all(Array.from({ length: opts.clients }, () => {
    let ws = null;
    return openSocket(() => {
      echoes += 1;
      if (running) ws.send(MESSAGE);
    }).then((s) => { ws = s; return s; });
  }));
  for (const ws of sockets) for (let i = 0; i < opts.window; i++) ws.send(MESSAGE);
  const result = await measure(() => echoes);
  running = false;
  for (const ws of sockets) ws.terminate();
  return { ...result, clients: opts.clients, window: opts.window };
}

// A minimal HTTP/1.1 keep-alive connection, one request at a time. Node's
// http module costs about as much CPU per request as the fastest servers
// here, so it would measure itself; this parses just what the servers send
// (Content-Length, chunked or close-delimited bodies) and reconnects when
// the server closes the connection.
class HttpConnection {
  constructor() {
    this.sock = null;
    this.pending = null;
  }

  connect() {
    const sock = net.connect(opts.port, opts.host);
    sock.setNoDelay(true);
    this.sock = sock;
    this.buffer = Buffer.alloc(0);
    sock.on('data', (chunk) => this.onData(chunk));
    sock.on('error', () => {});
    sock.on('close', () => {
      if (this.sock === sock) this.sock = null;
      if (this.pending && this.pending.sock === sock) this.onClose();
    });
  }

  request(method, path, body) {
    if (!this.sock) this.connect();
    const length = body === undefined ? 0 : Buffer.byteLength(body);
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${opts.host}:${opts.port}\r\n`;
    if (body !== undefined) head += `Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ${length}\r\n`;
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, sock: this.sock, head: null };
      this.sock.write(body === undefined ? head + '\r\n' : head + '\r\n' + body);
    });
  }

  onData(chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const p = this.pending;
    if (!p) return;
    if (!p.head) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const text = this.buffer.toString('latin1', 0, end).toLowerCase();
      const length = /\r\ncontent-length: *(\d+)/.exec(text);
      p.head = {
        status: Number(text.slice(9, 12)),
        length: length ? Number(length[1]) : -1,
        chunked: /\r\ntransfer-encoding: *chunked/.test(text),
        close: /\r\nconnection: *close/.test(text) || text.startsWith('http/1.0'),
      };
      this.buffer = this.buffer.subarray(end + 4);
    }
    if (p.head.chunked) this.readChunked(p);
    else if (p.head.length >= 0 && this.buffer.length >= p.head.length) {
      const body = this.buffer.subarray(0, p.head.length);
      this.buffer = this.buffer.subarray(p.head.length);
      this.complete(p, body);
    }
  }

  readChunked(p) {
    const parts = [];
    let offset = 0;
    for (;;) {
      const eol = this.buffer.indexOf('\r\n', offset);
      if (eol < 0) return;
      const size = parseInt(this.buffer.toString('latin1', offset, eol), 16);
      if (this.buffer.length < eol + 2 + size + 2) return;
      if (size === 0) {
        this.buffer = this.buffer.subarray(eol + 4);
        this.complete(p, Buffer.concat(parts));
        return;
      }
      parts.push(this.buffer.subarray(eol + 2, eol + 2 + size));
      offset = eol + 2 + size + 2;
    }
  }

  onClose() {
    const p = this.pending;
    if (p.head && p.head.length < 0 && !p.head.chunked) this.complete(p, this.buffer);
    else { this.pending = null; p.reject(new Error('connection closed')); }
  }

  complete(p, body) {
    this.pending = null;
    if (p.head.close || (p.head.length < 0 && !p.head.chunked)) {
      if (this.sock === p.sock) this.sock = null;
      p.sock.destroy();
    }
    const text = body.toString();
    if (p.head.status !== 200) p.reject(new Error(`HTTP ${p.head.status}: ${text.slice(0, 100)}`));
    else p.resolve(text);
  }
}

// One Engine.IO long-polling session echoing messages.
class PollingClient {
  constructor(counter) {
    this.counter = counter;
    this.running = true;
    this.unanswered = 0;
    this.pongs = 0;
    this.posting = false;
    this.getConnection = new HttpConnection();
    this.postConnection = new HttpConnection();
  }

  async start() {
    const body = await this.getConnection.request('GET', `${opts.path}?EIO=4&transport=polling`);
    if (body.charCodeAt(0) !== CODE.OPEN) throw new Error(`bad handshake: ${body.slice(0, 100)}`);
    this.query = `${opts.path}?EIO=4&transport=polling&sid=${JSON.parse(body.slice(1)).sid}`;
    this.pollLoop().catch((err) => this.stop(err));
    this.post();
  }

  stop(err) {
    if (this.running && err) this.counter.errors += 1;
    this.running = false;
  }

  async pollLoop() {
    while (this.running) {
      const body = await this.getConnection.request('GET', this.query);
      this.counter.gets += 1;
      for (const pkt of body.split(SEP)) {
        const code = pkt.charCodeAt(0);
        if (code === CODE.MESSAGE) { this.counter.echoes += 1; this.unanswered -= 1; }
        else if (code === CODE.PING) this.pongs += 1;
        else if (code === CODE.CLOSE) { this.stop(new Error('closed by server')); return; }
      }
      this.post();
    }
  }

  post() {
    if (this.posting || !this.running) return;
    const packets = [];
    for (; this.pongs > 0; this.pongs--) packets.push('3');
    for (let i = 0; i < opts.batch && this.unanswered < opts.window; i++) {
      packets.push(MESSAGE);
      this.unanswered += 1;
    }
    if (!packets.length) return;
    this.posting = true;
    this.postConnection.request('POST', this.query, packets.join(SEP)).then(() => {
      this.counter.posts += 1;
      this.posting = false;
      this.post();
    }, (err) => this.stop(err));
  }
}

async function pollEcho() {
  const counter = { echoes: 0, errors: 0, gets: 0, posts: 0 };
  let running = true;
  if (EIO) {
    const clients = Array.from({ length: opts.clients }, () => new PollingClient(counter));
    await Promise.all(clients.map((c) => c.start()));
    // requests per echoed message: how many messages each poll carries
    const result = await measure(() => counter.echoes, {
      getsPerMessage: () => counter.gets, postsPerMessage: () => counter.posts,
    });
    running = false;
    for (const c of clients) c.stop();
    return { ...result, errors: counter.errors, clients: opts.clients, window: opts.window };
  }
  const body = Array(opts.batch).fill(MESSAGE).join(SEP);
  const loop = async () => {
    const connection = new HttpConnection();
    while (running) {
      try {
        await connection.request('POST', opts.path, body);
        counter.echoes += opts.batch;
      } catch (err) {
        counter.errors += 1;
        await sleep(10);
      }
    }
  };
  for (let i = 0; i < opts.clients; i++) loop();
  const result = await measure(() => counter.echoes);
  running = false;
  return { ...result, errors: counter.errors, clients: opts.clients };
}

async function rtt() {
  const samples = [];
  let sentAt = 0n;
  let measuring = false;
  let ws = null;
  ws = await openSocket(() => {
    const now = process.hrtime.bigint();
    if (measuring) samples.push(Number(now - sentAt) / 1000);
    sentAt = process.hrtime.bigint();
    ws.send(MESSAGE);
  });
  sentAt = process.hrtime.bigint();
  ws.send(MESSAGE);
  await sleep(opts.warmup * 1000);
  measuring = true;
  const cpu0 = process.cpuUsage();
  await sleep(opts.duration * 1000);
  measuring = false;
  const cpu = cpuShare(cpu0, opts.duration);
  ws.terminate();
  samples.sort((a, b) => a - b);
  const pick = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  return {
    count: samples.length, p50_us: pick(0.5), p99_us: pick(0.99),
    mean_us: samples.reduce((a, b) => a + b, 0) / samples.length, cpu,
  };
}

// The handshake scenario speaks WebSocket over a raw TCP socket: the `ws`
// client costs more CPU per connection than most servers here, so it would
// measure itself. A fixed key is fine: the answer's accept value is not
// checked, only its status line.
const UPGRADE_REQUEST = Buffer.from(
  `GET ${opts.path}${EIO ? '?EIO=4&transport=websocket' : ''} HTTP/1.1\r\n` +
  `Host: ${opts.host}:${opts.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
// A masked CLOSE frame with status 1000 (mask 0: payload bytes unchanged).
const CLOSE_FRAME = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
const HEADER_END = Buffer.from('\r\n\r\n');

// Connect, wait until usable (101 answer; eio: and the OPEN packet), send a
// CLOSE frame and wait for the server to close the connection.
function handshakeOnce() {
  return new Promise((resolve, reject) => {
    const sock = net.connect(opts.port, opts.host);
    sock.setNoDelay(true);
    let received = Buffer.alloc(0);
    let ready = false;
    const timer = setTimeout(() => { sock.destroy(); finish(new Error('timeout')); }, 5000);
    function finish(err) {
      clearTimeout(timer);
      if (ready) resolve(); else reject(err || new Error('closed before ready'));
    }
    sock.on('connect', () => sock.write(UPGRADE_REQUEST));
    sock.on('data', (chunk) => {
      if (ready) return;
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf(HEADER_END);
      if (end < 0) return;
      if (received.toString('latin1', 9, 12) !== '101') { sock.destroy(); finish(new Error('not upgraded')); return; }
      // eio: the first frame must be a text frame holding the OPEN packet
      // (2-byte header for the short payloads servers send here).
      const frame = end + 4;
      if (EIO && received.length < frame + 3) return;
      if (EIO && received[frame + 2] !== CODE.OPEN) { sock.destroy(); finish(new Error('no OPEN packet')); return; }
      ready = true;
      sock.end(CLOSE_FRAME);
    });
    sock.on('error', () => {});
    sock.on('close', () => finish());
  });
}

async function handshake() {
  const counter = { done: 0, errors: 0 };
  let running = true;
  const loop = async () => {
    while (running) {
      try {
        await handshakeOnce();
        counter.done += 1;
      } catch (err) {
        counter.errors += 1;
        await sleep(10);
      }
    }
  };
  const loops = Array.from({ length: opts.clients }, loop);
  const result = await measure(() => counter.done);
  running = false;
  await Promise.all(loops);
  return { ...result, errors: counter.errors, clients: opts.clients };
}

async function idle() {
  const counts = opts.counts.split(',').map(Number);
  const sockets = [];
  let failed = 0;
  const lines = [];
  let wake = null;
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    lines.push(...chunk.split('\n').filter(Boolean));
    if (wake) wake();
  });
  const nextLine = () => new Promise((resolve) => {
    if (lines.length) resolve(lines.shift());
    else wake = () => { wake = null; resolve(lines.shift()); };
  });
  for (const target of counts) {
    const t0 = process.hrtime.bigint();
    while (sockets.length < target && failed < target) {
      const batch = Math.min(opts.connectConcurrency, target - sockets.length);
      const results = await Promise.allSettled(Array.from({ length: batch }, () => openSocket(() => {})));
      for (const r of results) {
        if (r.status === 'fulfilled') sockets.push(r.value);
        else failed += 1;
      }
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    process.stdout.write(JSON.stringify({ open: sockets.length, failed, seconds }) + '\n');
    await nextLine();
  }
  for (const ws of sockets) ws.terminate();
  return { open: 0, failed };
}

const SCENARIOS = { ws_echo: wsEcho, poll_echo: pollEcho, rtt, handshake, idle };

if (!SCENARIOS[opts.scenario]) fail(`unknown scenario ${opts.scenario}`);
SCENARIOS[opts.scenario]().then(done, (err) => fail(String(err && err.message || err)));
