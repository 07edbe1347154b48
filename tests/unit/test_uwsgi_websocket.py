"""The gevent_uwsgi mode's WebSocket over uWSGI's own API, without uWSGI:
its frames, the choice between uWSGI's API and simple-websocket, and the
WebSocket itself over a socket pair, with a stand-in for the ``uwsgi``
module (which only exists inside uWSGI)."""
from __future__ import annotations

import importlib
import logging
import os
import socket
import struct
import sys
import types
from typing import Any, List, Optional

import pytest

gevent = pytest.importorskip('gevent')
import gevent.socket  # noqa: E402

from engineio.async_drivers import _uwsgi_websocket as native  # noqa: E402

pytestmark = pytest.mark.timeout(30)

MASK = b'\x01\x02\x03\x04'


def client_frame(payload: bytes, opcode: int = native.OP_TEXT,
                 final: bool = True, rsv: int = 0) -> bytes:
    """A masked frame as a client sends it."""
    first = (0x80 if final else 0) | rsv | opcode
    size = len(payload)
    if size < 126:
        header = bytes((first, 0x80 | size))
    elif size < 65536:
        header = bytes((first, 0x80 | 126)) + struct.pack('!H', size)
    else:
        header = bytes((first, 0x80 | 127)) + struct.pack('!Q', size)
    masked = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return header + MASK + masked


# -- the frame reader ---------------------------------------------------------

def test_unmask_round_trip():
    for size in (0, 1, 3, 4, 5, 126, 70000):
        payload = os.urandom(size)
        masked = native.unmask(payload, MASK)
        assert native.unmask(masked, MASK) == payload


def test_text_and_binary_frames_keep_their_type():
    reader = native.FrameReader(1000)
    data = client_frame(b'4hello') + \
        client_frame(b'4hello', native.OP_BINARY)
    assert reader.feed(data) == [('message', '4hello'),
                                 ('message', b'4hello')]


def test_frames_split_anywhere_are_joined():
    reader = native.FrameReader(100000)
    payloads = [b'4' + b'x' * 125, b'4' + b'y' * 70000, b'4z']
    data = b''.join(client_frame(p) for p in payloads)
    events: List[Any] = []
    for start in range(0, len(data), 7):
        events += reader.feed(data[start:start + 7])
    assert events == [('message', p.decode()) for p in payloads]


def test_fragmented_message_with_a_ping_between_fragments():
    reader = native.FrameReader(1000)
    data = client_frame(b'4ab', final=False) + \
        client_frame(b'hi', native.OP_PING) + \
        client_frame(b'cd', native.OP_CONTINUATION)
    assert reader.feed(data) == [('ping', b'hi'), ('message', '4abcd')]


def test_pong_is_ignored_and_close_gives_its_code():
    reader = native.FrameReader(1000)
    data = client_frame(b'', native.OP_PONG) + \
        client_frame(struct.pack('!H', 1001) + b'bye', native.OP_CLOSE) + \
        client_frame(b'4after')
    assert reader.feed(data) == [('close', 1001)]


def test_empty_close_is_a_normal_close():
    assert native.FrameReader(10).feed(client_frame(b'', native.OP_CLOSE)) \
        == [('close', native.CLOSE_NORMAL)]


@pytest.mark.parametrize('data, code', [
    (client_frame(b'x' * 11), native.CLOSE_TOO_BIG),
    (client_frame(b'x' * 6, final=False) +
     client_frame(b'x' * 6, native.OP_CONTINUATION), native.CLOSE_TOO_BIG),
    (client_frame(b'\xff\xfe'), native.CLOSE_INVALID_DATA),
    (bytes((0x81, 2)) + b'4x', native.CLOSE_PROTOCOL_ERROR),  # unmasked
    (client_frame(b'4x', rsv=0x40), native.CLOSE_PROTOCOL_ERROR),
    (client_frame(b'4x', opcode=3), native.CLOSE_PROTOCOL_ERROR),
    (client_frame(b'x', native.OP_CONTINUATION), native.CLOSE_PROTOCOL_ERROR),
    (client_frame(b'x', final=False) + client_frame(b'y'),
     native.CLOSE_PROTOCOL_ERROR),
    (client_frame(b'p' * 126, native.OP_PING), native.CLOSE_PROTOCOL_ERROR),
    (client_frame(b'p', native.OP_PING, final=False),
     native.CLOSE_PROTOCOL_ERROR),
    (client_frame(b'\x03', native.OP_CLOSE), native.CLOSE_PROTOCOL_ERROR),
    (client_frame(struct.pack('!H', 1005), native.OP_CLOSE),
     native.CLOSE_PROTOCOL_ERROR),
])
def test_protocol_errors(data, code):
    with pytest.raises(native.FrameError) as error:
        native.FrameReader(10).feed(data)
    assert error.value.code == code


def test_a_too_big_frame_is_refused_from_its_header():
    header = client_frame(b'x' * 70000)[:14]
    with pytest.raises(native.FrameError) as error:
        native.FrameReader(1000).feed(header)
    assert error.value.code == native.CLOSE_TOO_BIG


# -- choosing uWSGI's API or simple-websocket ----------------------------------

FULL_API = types.SimpleNamespace(**{
    name: lambda *args: None for name in native.NATIVE_FUNCTIONS})


def test_native_api_needs_every_function():
    assert native.native_api_available(FULL_API)
    partial = types.SimpleNamespace(**vars(FULL_API))
    del partial.websocket_handshake
    assert not native.native_api_available(partial)
    assert not native.native_api_available(types.SimpleNamespace())


def test_native_websocket_fits_a_plain_request():
    assert native.native_websocket_fits({}, FULL_API)


def test_native_websocket_does_not_fit():
    partial = types.SimpleNamespace(connection_fd=lambda: 3)
    assert not native.native_websocket_fits({}, partial)
    assert not native.native_websocket_fits(
        {'HTTP_SEC_WEBSOCKET_PROTOCOL': 'chat'}, FULL_API)


def test_handshake_errors():
    good = {'HTTP_SEC_WEBSOCKET_VERSION': '13',
            'HTTP_SEC_WEBSOCKET_KEY': 'dGhlIHNhbXBsZSBub25jZQ==',
            'HTTP_CONNECTION': 'keep-alive, Upgrade'}
    assert native.handshake_error(good) is None
    assert native.handshake_error(dict(good, HTTP_SEC_WEBSOCKET_VERSION='8'))
    assert native.handshake_error(dict(good, HTTP_SEC_WEBSOCKET_KEY=''))
    assert native.handshake_error(dict(good, HTTP_CONNECTION='close'))


@pytest.fixture
def driver(monkeypatch):
    """engineio.async_drivers.gevent_uwsgi imported with a stand-in for
    the ``uwsgi`` module (it only exists inside uWSGI)."""
    monkeypatch.setitem(sys.modules, 'uwsgi', types.ModuleType('uwsgi'))
    monkeypatch.delitem(sys.modules, 'engineio.async_drivers.gevent_uwsgi',
                        raising=False)
    module = importlib.import_module('engineio.async_drivers.gevent_uwsgi')
    yield module
    sys.modules.pop('engineio.async_drivers.gevent_uwsgi', None)


@pytest.mark.parametrize('fits, chosen', [(True, 'native'),
                                          (False, 'simple')])
def test_driver_uses_the_native_websocket_when_it_fits(driver, monkeypatch,
                                                      fits, chosen):
    used = []

    def stand_in(name):
        class WebSocket:
            def __init__(self, handler, server):
                pass

            def __call__(self, environ, start_response):
                used.append(name)
                return []
        return WebSocket

    monkeypatch.setattr(driver, 'native_websocket_fits', lambda env: fits)
    monkeypatch.setattr(driver, 'NativeWebSocket', stand_in('native'))
    monkeypatch.setattr(driver, 'SimpleUWSGIWebSocket', stand_in('simple'))
    driver._async['websocket'](None, None)({}, None)
    assert used == [chosen]


def test_driver_falls_back_without_uwsgi_websocket_api(driver):
    """uWSGI without the WebSocket functions (the stand-in module has
    none): the request is served by simple-websocket."""
    assert not driver.native_websocket_fits({})


# -- the WebSocket over a socket pair -----------------------------------------

class FakeUWSGI:
    """The functions of the ``uwsgi`` module the WebSocket uses."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.handshakes = 0

    def websocket_handshake(self) -> None:
        self.handshakes += 1

    def connection_fd(self) -> int:
        return self.fd


class Peer:
    """The client end: writes masked frames, reads the server's frames."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = gevent.socket.socket(fileno=sock.detach())
        self.sock.settimeout(5)
        self.buffer = b''

    def send(self, payload: bytes, opcode: int = native.OP_TEXT) -> None:
        self.sock.sendall(client_frame(payload, opcode))

    def _read(self, size: int) -> Optional[bytes]:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def frame(self) -> Optional[tuple]:
        """(opcode, payload) of the server's next frame; None at the end."""
        header = self._read(2)
        if header is None:
            return None
        size = header[1] & 0x7F
        if size == 126:
            size = struct.unpack('!H', self._read(2))[0]
        elif size == 127:
            size = struct.unpack('!Q', self._read(8))[0]
        return header[0] & 0x0F, self._read(size) if size else b''


class FakeServer:
    max_http_buffer_size = 1000
    ping_interval = 0.2
    ping_timeout = 0.2
    logger = logging.getLogger('test_uwsgi_websocket')


@pytest.fixture
def pair(monkeypatch):
    """Runs ``NativeWebSocket`` for ``handler`` in a greenlet that stands
    for uWSGI's request; returns (start, peer, fake uwsgi)."""
    server_sock, client_sock = socket.socketpair()
    server_sock.setblocking(False)
    fake = FakeUWSGI(server_sock.fileno())
    monkeypatch.setattr(native, 'uwsgi', fake)
    peer = Peer(client_sock)
    environ = {'HTTP_SEC_WEBSOCKET_VERSION': '13',
               'HTTP_SEC_WEBSOCKET_KEY': 'dGhlIHNhbXBsZSBub25jZQ==',
               'HTTP_CONNECTION': 'Upgrade'}

    def request(handler):
        return native.NativeWebSocket(handler, FakeServer())(environ, None)

    def start(handler):
        return gevent.spawn(request, handler)

    yield start, peer, fake
    peer.sock.close()
    server_sock.close()


def test_echo_keeps_text_and_binary_apart(pair):
    start, peer, fake = pair

    def echo(ws):
        while True:
            message = ws.wait()
            if message is None:
                return
            ws.send(message)

    request = start(echo)
    peer.send(b'4text')
    peer.send(b'4binary', native.OP_BINARY)
    peer.send(b'4' + b'x' * 900)
    assert peer.frame() == (native.OP_TEXT, b'4text')
    assert peer.frame() == (native.OP_BINARY, b'4binary')
    assert peer.frame() == (native.OP_TEXT, b'4' + b'x' * 900)
    peer.send(struct.pack('!H', 1000), native.OP_CLOSE)
    assert peer.frame() == (native.OP_CLOSE, struct.pack('!H', 1000))
    assert request.get(timeout=5) == []
    assert fake.handshakes == 1


def test_ping_is_answered_with_a_pong(pair):
    start, peer, fake = pair
    received = []
    request = start(lambda ws: received.append(ws.wait()))
    peer.send(b'are you there', native.OP_PING)
    assert peer.frame() == (native.OP_PONG, b'are you there')
    peer.send(b'4hi')
    request.join(5)
    assert received == ['4hi']


def test_frames_sent_together_leave_in_one_write(pair, monkeypatch):
    start, peer, fake = pair
    writes = []

    def write(fd, data):
        writes.append(data)
        return os.write(fd, data)

    monkeypatch.setattr(native, 'write_fd', write)

    def handler(ws):
        def burst():
            for i in range(3):
                ws.send('4m{}'.format(i))
            ws.send(b'\x01')
        gevent.spawn(burst).join(5)  # from a greenlet other than the reader
        ws.wait()

    request = start(handler)
    assert [peer.frame() for _ in range(4)] == [
        (native.OP_TEXT, b'4m0'), (native.OP_TEXT, b'4m1'),
        (native.OP_TEXT, b'4m2'), (native.OP_BINARY, b'\x01')]
    assert len(writes) == 1
    peer.send(b'', native.OP_CLOSE)
    request.join(5)


def test_a_sender_waits_while_the_client_is_far_behind(pair, monkeypatch):
    """Past HIGH_WATER queued bytes a send waits for the client to read;
    what the kernel does not take is written once it can."""
    monkeypatch.setattr(native, 'HIGH_WATER', 1000)
    start, peer, fake = pair
    big = 'x' * 60000
    progress = []

    def handler(ws):
        for i in range(40):  # far more than the socket pair buffers
            ws.send(big)
            progress.append(i)
        ws.wait()

    request = start(handler)
    gevent.sleep(0.2)
    assert len(progress) < 40  # waiting for the client
    for _ in range(40):
        assert peer.frame() == (native.OP_TEXT, big.encode())
    assert len(progress) == 40
    peer.send(b'', native.OP_CLOSE)
    request.join(5)
    assert request.ready()


def test_abort_releases_a_waiting_sender(pair, monkeypatch):
    monkeypatch.setattr(native, 'HIGH_WATER', 1000)
    start, peer, fake = pair
    errors = []

    def handler(ws):
        def flood():
            try:
                while True:
                    ws.send('x' * 60000)
            except IOError as exc:
                errors.append(exc)
        sender = gevent.spawn(flood)
        gevent.sleep(0.1)
        ws.abort()
        sender.join(5)
        ws.wait()

    request = start(handler)
    request.join(5)
    assert request.ready()
    assert len(errors) == 1


def test_close_from_another_greenlet_ends_the_reader(pair):
    """The session's writer closes the WebSocket while the reader waits:
    the reader ends once the client answers the CLOSE frame."""
    start, peer, fake = pair
    results = []

    def handler(ws):
        gevent.spawn_later(0.05, ws.close)
        results.append(ws.wait())

    request = start(handler)
    assert peer.frame() == (native.OP_CLOSE,
                            struct.pack('!H', native.CLOSE_NORMAL))
    peer.send(struct.pack('!H', native.CLOSE_NORMAL), native.OP_CLOSE)
    request.join(5)
    assert results == [None]
    assert request.ready()


def test_close_without_an_answer_ends_after_the_grace(pair, monkeypatch):
    monkeypatch.setattr(native, 'CLOSE_GRACE', 0.1)
    start, peer, fake = pair
    results = []

    def handler(ws):
        gevent.spawn_later(0.05, ws.close)
        results.append(ws.wait())

    request = start(handler)
    request.join(2)
    assert results == [None]
    assert request.ready()


def test_a_silent_client_times_out(pair):
    start, peer, fake = pair
    results = []
    request = start(lambda ws: results.append(ws.wait()))
    request.join(5)  # FakeServer: two heartbeats are 0.8 s
    assert results == [None]


def test_sends_after_the_close_fail(pair):
    start, peer, fake = pair
    errors = []

    def handler(ws):
        ws.close()
        try:
            ws.send('4late')
        except IOError as exc:
            errors.append(exc)

    request = start(handler)
    peer.send(b'', native.OP_CLOSE)
    request.join(5)
    assert len(errors) == 1
    assert peer.frame()[0] == native.OP_CLOSE


def test_message_too_big_closes_with_1009(pair):
    start, peer, fake = pair
    results = []
    request = start(lambda ws: results.append(ws.wait()))
    peer.send(b'4' + b'x' * 1000)
    assert peer.frame() == (native.OP_CLOSE,
                            struct.pack('!H', native.CLOSE_TOO_BIG))
    request.join(5)
    assert results == [None]


def test_abort_fails_a_blocked_read(pair):
    start, peer, fake = pair
    results = []

    def handler(ws):
        gevent.spawn_later(0.05, ws.abort)
        results.append(ws.wait())

    request = start(handler)
    request.join(5)
    assert results == [None]
    assert request.ready()


def test_client_gone_ends_the_reader_and_fails_sends(pair):
    start, peer, fake = pair
    results = []

    def handler(ws):
        results.append(ws.wait())
        try:
            ws.send('4gone')
        except IOError:
            results.append('send failed')

    request = start(handler)
    peer.sock.close()
    request.join(5)
    assert results == [None, 'send failed']


def test_bad_handshake_is_refused(pair):
    start, peer, fake = pair
    statuses = []
    websocket = native.NativeWebSocket(lambda ws: None, FakeServer())

    def request():
        return websocket({'HTTP_SEC_WEBSOCKET_VERSION': '13'},
                         lambda status, headers: statuses.append(status))

    assert gevent.spawn(request).get(timeout=5) == [
        b'"WebSocket handshake failed"']
    assert statuses == ['400 BAD REQUEST']
    assert fake.handshakes == 0


class FailingHandshake:
    """uWSGI's WebSocket as built without OpenSSL: no handshake, ever."""

    def __init__(self, handler, server):
        pass

    def __call__(self, environ, start_response):
        raise native.HandshakeFailed('unable to complete websocket handshake')


def simple_stand_in(used, handshake_ok):
    class SimpleWebSocket:
        def __init__(self, handler, server):
            self.ws = None

        def __call__(self, environ, start_response):
            used.append('simple')
            if handshake_ok:
                self.ws = object()
            return []
    return SimpleWebSocket


@pytest.mark.parametrize('fallback_ok', [True, False])
def test_failed_uwsgi_handshake_falls_back_to_simple_websocket(
        driver, monkeypatch, fallback_ok):
    """A uWSGI that cannot complete a handshake the request is fine for:
    simple-websocket serves the connection, and the ones after it when it
    could (a connection that failed both ways says nothing of uWSGI)."""
    used = []
    monkeypatch.setattr(driver, 'native_websocket_fits', lambda env: True)
    monkeypatch.setattr(driver, 'NativeWebSocket', FailingHandshake)
    monkeypatch.setattr(driver, 'SimpleUWSGIWebSocket',
                        simple_stand_in(used, fallback_ok))
    server = types.SimpleNamespace(logger=logging.getLogger('test'))
    websocket = driver._async['websocket']
    assert websocket(None, server)({}, None) == []
    assert used == ['simple']
    assert websocket.native_handshake_works is not fallback_ok


def test_each_message_restarts_the_silence_timeout(pair):
    """Messages 0.3 s apart keep a reader whose silence limit is 0.8 s (two
    heartbeats of FakeServer) going; the silence after them ends it."""
    start, peer, fake = pair
    received = []

    def handler(ws):
        while True:
            message = ws.wait()
            received.append(message)
            if message is None:
                return

    request = start(handler)
    for i in range(5):
        peer.send('4m{}'.format(i).encode())
        gevent.sleep(0.3)
    assert received == ['4m{}'.format(i) for i in range(5)]
    request.join(5)
    assert received[-1] is None
