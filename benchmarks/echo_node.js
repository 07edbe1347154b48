#!/usr/bin/env node
// A trivial Node echo server for measuring the load generator's own ceiling.
//
// Serves a bare WebSocket echo on /ws, a bare HTTP echo (POST) on /echo, and
// on /engine.io/ just enough Engine.IO v4 to satisfy loadgen.js: the OPEN
// packet, WebSocket echo of every frame, and long-polling sessions whose POSTed
// MESSAGE packets come back on the next GET. Prints {"port": N} on stdout.
'use strict';

const http = require('http');
const WebSocket = require('ws');

const SEP = '\x1e';
const sessions = new Map();
let nextSid = 0;

function openPacket(sid) {
  return '0' + JSON.stringify({ sid, upgrades: [], pingInterval: 25000, pingTimeout: 20000, maxPayload: 1000000 });
}

function reply(res, body) {
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req, callback) {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => callback(Buffer.concat(chunks).toString()));
}

function polling(req, res, url) {
  const sid = url.searchParams.get('sid');
  if (!sid) {
    const id = String(nextSid++);
    sessions.set(id, { queue: [], waiting: null });
    reply(res, openPacket(id));
    return;
  }
  const session = sessions.get(sid);
  if (!session) { res.writeHead(400); res.end(); return; }
  if (req.method === 'POST') {
    readBody(req, (body) => {
      for (const pkt of body.split(SEP)) if (pkt[0] === '4') session.queue.push(pkt);
      reply(res, 'ok');
      if (session.waiting && session.queue.length) {
        reply(session.waiting, session.queue.join(SEP));
        session.waiting = null;
        session.queue = [];
      }
    });
  } else if (session.queue.length) {
    reply(res, session.queue.join(SEP));
    session.queue = [];
  } else {
    session.waiting = res;
  }
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/echo') readBody(req, (body) => reply(res, body));
  else if (url.pathname === '/engine.io/') polling(req, res, url);
  else { res.writeHead(404); res.end(); }
});

const wss = new WebSocket.Server({ noServer: true, perMessageDeflate: false });
server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://localhost');
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (url.pathname === '/engine.io/') ws.send(openPacket(String(nextSid++)));
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
});

server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port, pid: process.pid }) + '\n');
});
