"""Faults: clients that die, stall or trickle, and a server that disconnects
or shuts down with clients in every state.

Every scenario must end in a defined state within a bounded time, with
exactly one disconnect event per session, while a healthy client on the
same server keeps working. The servers use short heartbeats (0.5 s + 0.5 s)
so that the bounds are short too. Where the server runs in this process,
its WebSocket and request threads or tasks must also be gone once the
sessions have ended, even while the stalled clients are still connected.
"""
from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import time
from typing import Any, Callable, Dict, List, Optional

import pytest

from tests.e2e.conftest import SERVER_MODES
from tests.support import Background, async_servers, procservers
from tests.support import rawclient as rc

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

PROCESS_SERVERS = ['eventlet', 'gevent', 'uwsgi']
HEARTBEAT = {'ping_interval': 0.5, 'ping_timeout': 0.5}
#: a session whose client went silent ends within ping_interval +
#: ping_timeout; this leaves room for a loaded machine
BOUND = 4.0


@pytest.fixture(params=sorted(SERVER_MODES) + PROCESS_SERVERS)
def server_name(request: Any) -> str:
    return request.param


# ------------------------------------------------------------- clients
def reset(sock: socket.socket) -> None:
    """Kill a connection the way a crashed client does: a TCP reset."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    sock.close()


def connect(url: str, rcvbuf: Optional[int] = None) -> socket.socket:
    host, port = url[len('http://'):].split(':')
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(rc.DEFAULT_TIMEOUT)
    sock.connect((host, int(port)))
    return sock


def send_request(url: str, method: str, sid: Optional[str], transport: str = 'polling',
                 headers: str = '', body: bytes = b'',
                 rcvbuf: Optional[int] = None) -> socket.socket:
    """Write a request and return its connection, without reading."""
    query = {'EIO': '4', 'transport': transport, 'sid': sid}
    sock = connect(url, rcvbuf)
    sock.sendall('{} {} HTTP/1.1\r\nHost: x\r\n{}\r\n'.format(
        method, rc.make_target(rc.DEFAULT_PATH, query), headers).encode() + body)
    return sock


def read_status(sock: socket.socket, timeout: float = BOUND) -> Optional[int]:
    """The status of the answer on ``sock``, or None if the server closed
    the connection without one."""
    sock.settimeout(timeout)
    data = b''
    try:
        while b'\r\n' not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return None
            data += chunk
    except ConnectionResetError:
        return None
    return int(data.split(b' ', 2)[1])


class FrameSocket:
    """A WebSocket client on a raw socket, for clients that must not read
    (a small receive buffer fills up at once)."""

    def __init__(self, url: str, sid: Optional[str] = None,
                 rcvbuf: Optional[int] = None) -> None:
        self.sock = send_request(url, 'GET', sid, 'websocket', headers=(
            'Upgrade: websocket\r\nConnection: Upgrade\r\n'
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
            'Sec-WebSocket-Version: 13\r\n'), rcvbuf=rcvbuf)
        head = b''
        while not head.endswith(b'\r\n\r\n'):
            byte = self.sock.recv(1)
            assert byte, 'handshake refused: {!r}'.format(head)
            head += byte
        assert head.startswith(b'HTTP/1.1 101'), head

    def send(self, text: str) -> None:
        data = text.encode()
        if len(data) < 126:
            head = struct.pack('!BB', 0x81, 0x80 | len(data))
        elif len(data) < 65536:
            head = struct.pack('!BBH', 0x81, 0x80 | 126, len(data))
        else:
            head = struct.pack('!BBQ', 0x81, 0x80 | 127, len(data))
        self.sock.sendall(head + b'\0\0\0\0' + data)  # mask key 0

    def recv(self) -> Any:
        """The next data frame, or None once the connection ended."""
        try:
            while True:
                head = self._take(2)
                opcode, length = head[0] & 0x0f, head[1] & 0x7f
                if length == 126:
                    length = struct.unpack('!H', self._take(2))[0]
                elif length == 127:
                    length = struct.unpack('!Q', self._take(8))[0]
                data = self._take(length)
                if opcode == 8:
                    return None
                if opcode in (1, 2):
                    return data.decode() if opcode == 1 else data
        except (EOFError, ConnectionResetError):
            return None

    def _take(self, count: int) -> bytes:
        data = b''
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def drain(self, timeout: float) -> List[Any]:
        """Read everything until the server ends the connection."""
        self.sock.settimeout(timeout)
        frames = []
        deadline = time.monotonic() + timeout
        while True:
            assert time.monotonic() < deadline, 'the server kept the connection'
            frame = self.recv()
            if frame is None:
                return frames
            frames.append(frame)

    def close(self) -> None:
        self.sock.close()


def open_websocket(url: str, rcvbuf: Optional[int] = None) -> tuple:
    ws = FrameSocket(url, rcvbuf=rcvbuf)
    first = ws.recv()
    assert first.startswith('0'), first
    return ws, json.loads(first[1:])['sid']


def healthy_round_trip(h: Any, text: str, limit: float = 2.0) -> None:
    """A new polling client sends a message and gets its echo quickly."""
    started = time.monotonic()
    hs = rc.handshake(h.url)
    assert rc.post(h.url, hs.sid, '4' + text).body == b'ok'
    got: List[Any] = []
    while text not in got:
        packets = rc.decode_payload(rc.get(h.url, hs.sid).body)
        if any(p.type == '2' for p in packets):
            rc.post(h.url, hs.sid, '3')
        got.extend(rc.messages(packets))
    assert rc.post(h.url, hs.sid, '1').body == b'ok'
    assert time.monotonic() - started < limit, 'the healthy client was slowed down'


def polling_round_trip(h: Any, sid: str, text: str) -> None:
    """The polling session ``sid`` still works: a message echoes back."""
    assert rc.post(h.url, sid, '4' + text).body == b'ok'
    deadline = time.monotonic() + BOUND
    got: List[Any] = []
    while text not in got:
        assert time.monotonic() < deadline, got
        packets = rc.decode_payload(rc.get(h.url, sid).body)
        if any(p.type == '2' for p in packets):
            assert rc.post(h.url, sid, '3').body == b'ok'
        got.extend(rc.messages(packets))


def exactly_one(h: Any, expected: Dict[str, str], settle: float = 0.3) -> None:
    """Each session ended with its reason, once (checked after a pause so
    that a second event would have shown up)."""
    for sid, reason in expected.items():
        assert h.wait_disconnect(sid, BOUND) == reason, sid
    time.sleep(settle)
    assert {sid: h.disconnect_reasons(sid) for sid in expected} == {
        sid: [reason] for sid, reason in expected.items()}


# ------------------------------------------------------ server resources
def engine_workers(h: Any, server_name: str) -> List[str]:
    """The threads or tasks of an in-process server that serve requests or
    WebSockets (the heartbeat task excepted)."""
    if server_name == 'threading':
        return [t.name for t in threading.enumerate()
                if any(k in t.name for k in ('_websocket_writer', 'simple_websocket',
                                             'process_request_thread'))]
    loop = async_servers.loop_of(h.eio._eio)
    return asyncio.run_coroutine_threadsafe(_engine_tasks(), loop).result(5)


async def _engine_tasks() -> List[str]:
    found = []
    for task in asyncio.all_tasks():
        names = []
        coro = task.get_coro()
        while coro is not None:
            frame = getattr(coro, 'cr_frame', None)
            if frame is not None:
                names.append(frame.f_code.co_name)
                if frame.f_code.co_name == '_service_task':
                    break
            coro = getattr(coro, 'cr_await', None)
        if any(n in ('_websocket_handler', '_websocket_writer', 'handle_request')
               for n in names):
            found.append('/'.join(names))
    return found


def assert_released(h: Any, server_name: str, timeout: float = 2 * BOUND) -> None:
    """No thread or task of the server is left serving a connection."""
    if server_name in procservers.SERVERS:
        return
    deadline = time.monotonic() + timeout
    while True:
        left = engine_workers(h, server_name)
        if not left:
            return
        assert time.monotonic() < deadline, 'still serving: {}'.format(left)
        time.sleep(0.1)


# ------------------------------------------------------------------ tests
def test_clients_killed(eio_server: Any, server_name: str) -> None:
    """TCP resets during a long poll, during the upgrade probe and in the
    middle of a WebSocket session (plain and upgraded)."""
    h = eio_server(echo=True, **HEARTBEAT)
    polling = rc.handshake(h.url).sid
    get = send_request(h.url, 'GET', polling)

    probing = rc.handshake(h.url).sid
    probe = rc.RawWebSocket(h.url, sid=probing)
    probe.send('2probe')
    assert probe.recv() == '3probe'

    ws, websocket_sid = open_websocket(h.url)
    upgraded = rc.handshake(h.url).sid
    up = rc.upgrade_probe(h.url, upgraded)
    up.send('5')
    time.sleep(0.2)  # the long poll waits, the upgrade is done
    started = time.monotonic()
    for sock in (get, probe.ws.sock, ws.sock, up.ws.sock):
        reset(sock)

    # the probing session goes on over polling, at once
    polling_round_trip(h, probing, 'after-probe')
    assert h.eio.transport(probing) == 'polling'
    assert rc.post(h.url, probing, '1').body == b'ok'
    exactly_one(h, {polling: 'ping timeout', probing: 'client disconnect',
                    websocket_sid: 'transport close', upgraded: 'transport close'})
    assert time.monotonic() - started < BOUND
    healthy_round_trip(h, 'healthy')
    assert_released(h, server_name)


def test_slow_clients(eio_server: Any, server_name: str) -> None:
    """Clients that never read: the server's memory for each stays bounded
    (its queue is capped), its session ends, other clients do not notice,
    and its connection is let go."""
    size = 100000  # queue limit: 1 MB
    h = eio_server(echo=True, max_http_buffer_size=size, **HEARTBEAT)
    # a WebSocket client that never reads nor writes: no PONG
    silent, silent_sid = open_websocket(h.url, rcvbuf=4096)
    # a WebSocket client that has its messages echoed and answers PINGs
    # blindly, but never reads: its queue overflows
    flooded, flooded_sid = open_websocket(h.url, rcvbuf=4096)
    message = '4' + 'x' * (size - 1)
    flooded.sock.settimeout(0.2)
    sent = flood(h, flooded_sid, lambda: flooded.send(message) or flooded.send('3'))
    # a polling client that posts and never polls: its queue overflows
    poller = rc.handshake(h.url).sid
    sent += flood(h, poller, lambda: rc.post(h.url, poller, message[:-2] + '\x1e3'))
    # uWSGI's HTTP router stops reading from a client it cannot write to:
    # the server gets no more messages (nor PONGs) from the flooded client,
    # whose echoes wait in the router, and the session times out instead
    # (its queue overflows only if enough messages were already on the way)
    flooded_reason = h.wait_disconnect(flooded_sid, BOUND)
    assert flooded_reason in (('transport error', 'ping timeout') if server_name == 'uwsgi'
                              else ('transport error',))
    exactly_one(h, {flooded_sid: flooded_reason, silent_sid: 'ping timeout',
                    poller: 'transport error'})
    # what the server could not deliver was dropped, not kept
    assert sent * size < 64 * 1024 * 1024
    healthy_round_trip(h, 'healthy-after')
    assert_released(h, server_name)
    for client in (flooded, silent):
        client.drain(BOUND)
        client.close()


def flood(h: Any, sid: str, send: Callable[[], Any]) -> int:
    """Call ``send`` until the session ``sid`` ends; a healthy client keeps
    its quick round trips meanwhile. The number of sends."""
    started = time.monotonic()
    sent = 0
    while not h.disconnect_reasons(sid):
        assert time.monotonic() - started < 2 * BOUND, 'no queue limit'
        try:
            send()
        except OSError:
            pass  # the server stopped reading: the session is over
        sent += 1
        if sent % 20 == 0:
            healthy_round_trip(h, 'healthy-{}-{}'.format(sid, sent))
    return sent


def test_trickled_post(eio_server: Any, server_name: str) -> None:
    """A POST body sent one byte a second cannot hold the request: the
    session times out and the request is answered or cut within a bound."""
    h = eio_server(echo=True, **HEARTBEAT)
    sid = rc.handshake(h.url).sid
    time.sleep(0.2)
    sock = send_request(h.url, 'POST', sid, headers='Content-Length: 20\r\n')
    started = time.monotonic()
    sock.settimeout(0.05)
    status = None
    try:
        while time.monotonic() - started < BOUND:
            sock.send(b'4')
            try:
                data = sock.recv(100)
            except socket.timeout:
                time.sleep(0.95)
                continue
            status = int(data.split(b' ', 2)[1]) if data else None
            break
        else:
            pytest.fail('the trickled POST is still being read')
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        sock.close()
    assert status in (None, 400)
    exactly_one(h, {sid: 'ping timeout'})
    assert h.messages_of(sid) == []
    healthy_round_trip(h, 'healthy')
    assert_released(h, server_name)


# -------------------------------------------- server-side ends, every state
class States:
    """One client in each state a session can be in, on one server."""

    def __init__(self, h: Any, opening: bool) -> None:
        self.h = h
        url = h.url
        self.idle = rc.handshake(url).sid
        self.polling = rc.handshake(url).sid
        self.poll = Background(rc.get, url, self.polling)
        self.posting = rc.handshake(url).sid
        self.post = send_request(url, 'POST', self.posting,
                                 headers='Content-Length: 10\r\n', body=b'4abc')
        self.probing = rc.handshake(url).sid
        self.probing_ws = rc.RawWebSocket(url, sid=self.probing)
        self.probed = rc.handshake(url).sid
        self.probed_ws = rc.upgrade_probe(url, self.probed)
        self.upgraded = rc.handshake(url).sid
        self.upgraded_ws = rc.upgrade_probe(url, self.upgraded)
        self.upgraded_ws.send('5')
        self.websocket_ws, data = rc.websocket_open(url)
        self.websocket = data['sid']
        self.closed = rc.handshake(url).sid
        assert rc.post(url, self.closed, '1').body == b'ok'
        h.wait_disconnect(self.closed)
        self.opening = None
        if opening:
            # the connect handler disconnects its own client
            resp = rc.request(url, 'GET', {'EIO': '4', 'transport': 'polling',
                                           'disconnect': 'me'})
            packets = rc.decode_payload(resp.body)
            assert [p.type for p in packets] == ['0', '1'], packets
            self.opening = json.loads(packets[0].data)['sid']
        time.sleep(0.3)  # every request has reached the server

    @property
    def sids(self) -> List[str]:
        return [self.idle, self.polling, self.posting, self.probing, self.probed,
                self.upgraded, self.websocket]

    def check_ended(self) -> None:
        """What each client sees once the server closed its session."""
        url = self.h.url
        assert rc.get(url, self.idle).body == b'1'
        assert self.poll.result(BOUND).body == b'1'
        self.post.sendall(b'defghi')  # the rest of the body
        assert read_status(self.post) == 200  # its message is dropped
        self.post.close()
        assert rc.get(url, self.posting).body == b'1'
        self.probing_ws.send('2probe')
        assert self.probing_ws.drain_until_closed(BOUND) == []
        self.probed_ws.send('5')
        assert self.probed_ws.drain_until_closed(BOUND) == []
        assert rc.get(url, self.probed).body in (b'1', json.dumps(
            'Invalid session ' + self.probed).encode())
        for ws in (self.upgraded_ws, self.websocket_ws):
            frames = ws.drain_until_closed(BOUND)
            assert frames[-1:] == ['1'], frames
        expected = {sid: 'server disconnect' for sid in self.sids}
        if self.opening:
            expected[self.opening] = 'server disconnect'
        exactly_one(self.h, expected)
        assert self.h.disconnect_reasons(self.closed) == ['client disconnect']
        assert self.h.messages_of(self.posting) == []

    def close(self) -> None:
        for ws in (self.probing_ws, self.probed_ws, self.upgraded_ws, self.websocket_ws):
            ws.close()
        self.post.close()


def test_disconnect_each_state(eio_server: Any, server_name: str) -> None:
    h = eio_server(echo=True, disconnect_on_request=True, ping_interval=5,
                   ping_timeout=5)
    states = States(h, opening=True)
    try:
        started = time.monotonic()
        for sid in states.sids + [states.closed]:
            Background(h.eio.disconnect, sid).result(2)
        assert time.monotonic() - started < 2
        states.check_ended()
        healthy_round_trip(h, 'healthy')
    finally:
        states.close()


def test_disconnect_all(eio_server: Any, server_name: str) -> None:
    h = eio_server(echo=True, disconnect_on_request=True, ping_interval=5,
                   ping_timeout=5)
    states = States(h, opening=True)
    try:
        Background(h.eio.disconnect).result(2)
        states.check_ended()
        healthy_round_trip(h, 'healthy')
    finally:
        states.close()


def test_shutdown_in_every_state(eio_server: Any, server_name: str) -> None:
    """shutdown() stops the heartbeat at once and closes nobody: sessions
    keep working and can still be disconnected, each exactly once."""
    h = eio_server(echo=True, disconnect_on_request=True, ping_interval=2,
                   ping_timeout=2)
    states = States(h, opening=True)
    try:
        Background(h.eio.shutdown).result(2)
        time.sleep(2.5)  # no heartbeat: no PING for the waiting poll
        assert states.poll._thread.is_alive()
        assert h.disconnects.items == [(states.closed, 'client disconnect'),
                                       (states.opening, 'server disconnect')]
        polling_round_trip(h, states.idle, 'still')
        states.websocket_ws.send('4ws')
        while states.websocket_ws.recv() != '4ws':
            pass
        Background(h.eio.disconnect).result(2)
        states.check_ended()
    finally:
        states.close()
