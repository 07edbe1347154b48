"""Load and leak test of the Engine.IO server in one async mode.

    python tests/stress/load_and_leak.py --mode threading

1. Load: ``--clients`` concurrent clients (half long-polling, a fifth of
   those upgrading to WebSocket at a random moment, the other half
   WebSocket-only) each send a numbered message every ``--interval``
   seconds for ``--duration`` seconds to the echo server of
   tests/stress/stress_server.py, then wait for the last echoes. Every
   connection must get back exactly what it sent, in order: no message
   lost, duplicated or reordered.
2. Leaks: ``--cycles`` connect/disconnect cycles (polling, WebSocket and
   upgrading connections, ``--concurrency`` at a time). Once the server has
   settled, its memory, threads, tasks or greenlets and sessions must be back
   at the level measured before the cycles.

Prints the figures and exits with status 1 if a check failed. The clients
speak Engine.IO v4 themselves over aiohttp.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

import aiohttp

HERE = os.path.dirname(os.path.abspath(__file__))
SEP = '\x1e'
#: the server's heartbeat: frequent enough that the load phase sees PINGs,
#: short enough that closed sessions are dropped soon after the cycles
SERVER_OPTIONS = {'ping_interval': 10, 'ping_timeout': 5}
#: seconds after the cycles for the server to drop what closed sessions
#: still hold (their grace period is ping_timeout)
SETTLE = 8.0
#: Sanic holds a closed WebSocket connection (its request, buffers and
#: transport) in two timers it leaves scheduled: the next timeout check, up
#: to 30 s later (half its 60 s timeouts), and a transport abort 10 s later
SETTLE_BY_MODE = {'sanic': 35.0}
#: growth accepted after the cycles: resident memory (the allocator keeps
#: some of what the busiest moment took) and live Python memory blocks
RSS_SLACK_KB = 16 * 1024
BLOCKS_SLACK = 10000


class Failure(Exception):
    pass


class Client:
    """One Engine.IO client that sends numbered messages and checks that
    their echoes come back complete and in order."""

    def __init__(self, base: str, http: aiohttp.ClientSession, cid: int, kind: str,
                 upgrade_at: Optional[float] = None) -> None:
        self.base = base
        self.http = http
        self.cid = cid
        self.kind = kind
        self.upgrade_at = upgrade_at
        self.sid: Optional[str] = None
        self.sent = 0
        self.received = 0
        self.errors: List[str] = []
        self.ws: Optional[aiohttp.ClientWebSocketResponse] = None
        self.outbox: List[str] = []
        self.wakeup = asyncio.Event()
        self.polling_paused = False
        self.closed = False
        self.upgraded = False
        self.posting = False
        self.ws_reader: Optional[asyncio.Task] = None

    def url(self, transport: str) -> str:
        url = '{}/engine.io/?EIO=4&transport={}'.format(self.base, transport)
        if self.sid:
            url += '&sid=' + self.sid
        return url

    # -- receiving ---------------------------------------------------------------
    def handle(self, packet: str) -> None:
        kind = packet[:1]
        if kind == '4':
            expected = '{}:{}'.format(self.cid, self.received)
            if packet[1:] != expected:
                self.errors.append('got {!r}, expected {!r}'.format(packet[1:], expected))
            self.received += 1
        elif kind == '2':
            self.queue('3')
        elif kind == '1':
            self.closed = True
            self.errors.append('closed by the server')
        elif kind not in ('6', '3'):
            self.errors.append('unexpected packet {!r}'.format(packet[:20]))

    def queue(self, packet: str) -> None:
        self.outbox.append(packet)
        self.wakeup.set()

    # -- transports -----------------------------------------------------------
    async def open(self) -> None:
        if self.kind == 'websocket':
            self.ws = await self.http.ws_connect(self.url('websocket'))
            first = await self.ws.receive_str()
            self.sid = json.loads(first[1:])['sid']
        else:
            async with self.http.get(self.url('polling')) as resp:
                body = await resp.text()
            self.sid = json.loads(body.split(SEP)[0][1:])['sid']

    async def poll_loop(self) -> None:
        while not self.closed and not self.upgraded:
            async with self.http.get(self.url('polling')) as resp:
                body = await resp.text()
                if resp.status != 200:
                    raise Failure('poll answered {} {}'.format(resp.status, body))
            for packet in body.split(SEP):
                self.handle(packet)
            if self.polling_paused:
                return  # upgrading: the WebSocket takes over

    async def ws_loop(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.handle(msg.data)
            else:
                break
        if not self.closed:
            self.closed = True

    async def write_loop(self) -> None:
        while not self.closed:
            await self.wakeup.wait()
            self.wakeup.clear()
            if self.polling_paused and not self.upgraded:
                continue
            batch, self.outbox = self.outbox, []
            if not batch:
                continue
            if self.ws is not None and (self.upgraded or self.kind == 'websocket'):
                for packet in batch:
                    await self.ws.send_str(packet)
            else:
                self.posting = True
                try:
                    async with self.http.post(self.url('polling'),
                                              data=SEP.join(batch)) as resp:
                        if resp.status != 200:
                            raise Failure('POST answered {}'.format(resp.status))
                        await resp.read()
                finally:
                    self.posting = False
            if batch[-1] == '1':
                self.closed = True

    async def upgrade(self, poller: asyncio.Task) -> None:
        """Switch to WebSocket the way engine.io-client does: probe, stop
        polling and posting, confirm, then send what waited."""
        ws = await self.http.ws_connect(self.url('websocket'))
        await ws.send_str('2probe')
        answer = await ws.receive_str()
        if answer != '3probe':
            raise Failure('probe answered {!r}'.format(answer))
        self.polling_paused = True  # no new poll or POST from now on
        while self.posting:         # the POST in flight is answered first
            await asyncio.sleep(0.005)
        await poller                 # the waiting poll got its NOOP
        await ws.send_str('5')
        self.ws = ws
        self.upgraded = True
        self.ws_reader = asyncio.ensure_future(self.ws_loop())
        self.wakeup.set()

    # -- the whole life ------------------------------------------------------
    async def run(self, stop_at: float, interval: float) -> None:
        await self.open()
        reader = asyncio.ensure_future(
            self.ws_loop() if self.kind == 'websocket' else self.poll_loop())
        writer = asyncio.ensure_future(self.write_loop())
        upgrading = None
        await asyncio.sleep(random.random() * interval)
        while time.monotonic() < stop_at and not self.closed:
            self.queue('4{}:{}'.format(self.cid, self.sent))
            self.sent += 1
            if self.upgrade_at and upgrading is None and time.monotonic() >= self.upgrade_at:
                upgrading = asyncio.ensure_future(self.upgrade(reader))
            await asyncio.sleep(interval * (0.5 + random.random()))
        if upgrading is not None:
            await upgrading
            reader = self.ws_reader
        deadline = time.monotonic() + 20
        while self.received < self.sent and not self.closed and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.queue('1')
        await asyncio.wait_for(writer, 10)
        if self.ws is not None:
            await self.ws.close()
        reader.cancel()



async def load_phase(base: str, clients: int, duration: float, interval: float) -> Dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        started = time.monotonic()
        stop_at = started + duration
        population = []
        for cid in range(clients):
            if cid % 2:
                population.append(Client(base, http, cid, 'websocket'))
            else:
                upgrade_at = started + random.uniform(2, duration * 0.8) if cid % 10 == 0 else None
                population.append(Client(base, http, cid, 'polling', upgrade_at))
        results = await asyncio.gather(*[c.run(stop_at, interval) for c in population],
                                       return_exceptions=True)
        elapsed = time.monotonic() - started
    crashed = [repr(r) for r in results if isinstance(r, BaseException)]
    sent = sum(c.sent for c in population)
    received = sum(c.received for c in population)
    bad = [(c.cid, c.kind, c.sent, c.received, c.errors[:3]) for c in population
           if c.errors or c.received != c.sent]
    return {
        'clients': clients, 'polling': sum(c.kind == 'polling' for c in population),
        'websocket': sum(c.kind == 'websocket' for c in population),
        'upgraded': sum(c.upgraded for c in population),
        'seconds': round(elapsed, 1), 'sent': sent, 'echoed': received,
        'lost': sent - received, 'bad_connections': len(bad), 'crashed': len(crashed),
        'examples': (bad[:5], crashed[:5]),
    }


async def one_cycle(base: str, http: aiohttp.ClientSession, index: int) -> None:
    """Connect, exchange one message, disconnect: polling, WebSocket or an
    upgrade, in turn."""
    client = Client(base, http, index, 'websocket' if index % 3 == 1 else 'polling')
    await client.open()
    if client.kind == 'websocket':
        await client.ws.send_str('4{}:0'.format(index))
        reply = await client.ws.receive_str()
        while reply in ('2', '6'):
            reply = await client.ws.receive_str()
        await client.ws.send_str('1')
        await client.ws.close()
    elif index % 3 == 2:
        ws = await http.ws_connect(client.url('websocket'))
        await ws.send_str('2probe')
        await ws.receive_str()
        await ws.send_str('5')
        await ws.send_str('4{}:0'.format(index))
        reply = await ws.receive_str()
        while reply in ('2', '6'):
            reply = await ws.receive_str()
        await ws.send_str('1')
        await ws.close()
    else:
        async with http.post(client.url('polling'), data='4{}:0'.format(index)) as resp:
            await resp.read()
        async with http.get(client.url('polling')) as resp:
            await resp.read()
        async with http.post(client.url('polling'), data='1') as resp:
            await resp.read()


async def cycles_phase(base: str, cycles: int, concurrency: int) -> Dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        counter = iter(range(cycles))
        failures: List[str] = []
        started = time.monotonic()

        async def worker() -> None:
            for index in counter:
                try:
                    await asyncio.wait_for(one_cycle(base, http, index), 30)
                except Exception as exc:
                    failures.append('{}: {!r}'.format(index, exc))

        await asyncio.gather(*[worker() for _ in range(concurrency)])
        return {'cycles': cycles, 'seconds': round(time.monotonic() - started, 1),
                'failures': len(failures), 'examples': failures[:5]}


async def server_stats(base: str) -> Dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.get(base + '/_stats') as resp:
            return await resp.json()


def start_server(mode: str) -> tuple:
    """The server process (leader of its own process group: uWSGI's are
    its children) and its URL. What it prints besides the port goes to a
    file, so that a full pipe never blocks it."""
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, 'stress_server.py'), mode,
         json.dumps(SERVER_OPTIONS)], stdout=subprocess.PIPE, stderr=log,
        start_new_session=True)
    line = proc.stdout.readline()
    if not line:
        stop_server(proc)
        log.seek(0)
        raise Failure('the {} server did not start: {}'.format(
            mode, log.read().decode(errors='replace')[-2000:]))
    return proc, 'http://127.0.0.1:{}'.format(json.loads(line)['port'])


def stop_server(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


async def run(args: argparse.Namespace, base: str) -> Dict[str, Any]:
    report: Dict[str, Any] = {'mode': args.mode, 'idle': await server_stats(base)}
    if args.clients:
        report['load'] = await load_phase(base, args.clients, args.duration, args.interval)
        report['after_load'] = await server_stats(base)
    if args.cycles:
        settle = SETTLE_BY_MODE.get(args.mode, SETTLE)
        await cycles_phase(base, args.warmup_cycles, args.concurrency)
        await asyncio.sleep(settle)
        report['before_cycles'] = await server_stats(base)
        report['cycles'] = await cycles_phase(base, args.cycles, args.concurrency)
        report['end_of_cycles'] = await server_stats(base)
        await asyncio.sleep(settle)
        report['after_cycles'] = await server_stats(base)
    return report


def verdict(report: Dict[str, Any]) -> List[str]:
    problems = []
    load = report.get('load')
    if load and (load['lost'] or load['bad_connections'] or load['crashed']):
        problems.append('load: {} lost, {} bad connections, {} crashed: {}'.format(
            load['lost'], load['bad_connections'], load['crashed'], load['examples']))
    if 'cycles' in report:
        before, after = report['before_cycles'], report['after_cycles']
        if report['cycles']['failures']:
            problems.append('cycles failed: {}'.format(report['cycles']['examples']))
        for key in ('threads', 'tasks', 'sessions', 'socket_objects', 'timers'):
            if after[key] > before[key]:
                problems.append('{} grew from {} to {}'.format(key, before[key], after[key]))
        if after['rss_kb'] > before['rss_kb'] + RSS_SLACK_KB:
            problems.append('memory grew from {} to {} KiB'.format(
                before['rss_kb'], after['rss_kb']))
        if after['blocks'] > before['blocks'] + BLOCKS_SLACK:
            problems.append('Python memory blocks grew from {} to {}'.format(
                before['blocks'], after['blocks']))
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--mode', default='threading',
                        choices=['threading', 'asgi', 'eventlet', 'gevent', 'aiohttp',
                                 'tornado', 'sanic', 'uwsgi'])
    parser.add_argument('--clients', type=int, default=500)
    parser.add_argument('--duration', type=float, default=60.0)
    parser.add_argument('--interval', type=float, default=1.0,
                        help='mean seconds between two messages of a client')
    parser.add_argument('--cycles', type=int, default=10000)
    parser.add_argument('--warmup-cycles', type=int, default=300,
                        help='cycles before the "before" measure; as many as '
                        '--cycles measures the steady state of a server that '
                        'frees closed connections late (Sanic)')
    parser.add_argument('--concurrency', type=int, default=20)
    parser.add_argument('--json', action='store_true', help='print the report as JSON')
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    proc, base = start_server(args.mode)
    try:
        report = asyncio.run(run(args, base))
    finally:
        stop_server(proc)
    problems = verdict(report)
    report['verdict'] = problems or 'ok'
    print(json.dumps(report, indent=None if args.json else 2))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
