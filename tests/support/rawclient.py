"""A deliberately small, raw Engine.IO v4 client for end-to-end tests.

HTTP goes through :mod:`http.client` (one connection per request) so tests
control the method, query string, headers and body byte for byte, including
chunked bodies.  WebSockets use the ``websocket-client`` package in
synchronous mode, with timeouts on every read.
"""
from __future__ import annotations

import base64
import http.client
import json
import socket
import urllib.parse
from typing import (Any, Dict, Iterable, List, Mapping, NamedTuple, Optional,
                    Sequence, Tuple, Union)

import websocket

DEFAULT_PATH = '/engine.io/'
RECORD_SEPARATOR = '\x1e'
#: Seconds any single network operation may take before the test fails.
DEFAULT_TIMEOUT = 10.0

Query = Union[None, str, Mapping[str, Any], Sequence[Tuple[str, Any]]]
Data = Union[str, bytes]


class Packet(NamedTuple):
    """A decoded packet: ``type`` is the packet id digit as a string
    (``'4'`` for a message), ``data`` is ``str`` or ``bytes`` (binary)."""
    type: str
    data: Data


class Response(NamedTuple):
    """What the server answered to one HTTP request."""
    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode('utf-8')

    def header(self, name: str) -> Optional[str]:
        """The value of header ``name`` (case-insensitive), or ``None``."""
        return self.headers.get(name)

    def header_values(self, name: str) -> List[str]:
        """All values of header ``name`` in the order received."""
        return self.headers.get_all(name) or []

    def json(self) -> Any:
        return json.loads(self.text)


class Handshake(NamedTuple):
    """A successful polling handshake."""
    sid: str
    open: Dict[str, Any]
    packets: List[Packet]
    response: Response


# ---------------------------------------------------------------- payloads
def decode_packet(text: str) -> Packet:
    """Decode one v4 packet as found in a polling payload or text frame."""
    if text.startswith('b'):
        return Packet('4', base64.b64decode(text[1:], validate=True))
    if not text:
        raise ValueError('empty packet')
    return Packet(text[0], text[1:])


def decode_payload(payload: Union[str, bytes]) -> List[Packet]:
    """Split a v4 polling payload into packets."""
    if isinstance(payload, bytes):
        payload = payload.decode('utf-8')
    return [decode_packet(part) for part in payload.split(RECORD_SEPARATOR)]


def encode_payload(packets: Iterable[Data]) -> str:
    """Join packets into a v4 polling payload.

    ``str`` items are already-encoded packets (``'4hello'``, ``'1'``);
    ``bytes`` items are binary messages, sent base64-encoded.
    """
    parts = []
    for item in packets:
        if isinstance(item, bytes):
            parts.append('b' + base64.b64encode(item).decode('ascii'))
        else:
            parts.append(item)
    return RECORD_SEPARATOR.join(parts)


def messages(packets: Iterable[Packet]) -> List[Data]:
    """The data of the message packets among ``packets``."""
    return [p.data for p in packets if p.type == '4']


# -------------------------------------------------------------------- HTTP
def make_target(path: str = DEFAULT_PATH, query: Query = None) -> str:
    """Request target for ``path`` and ``query`` (a raw string, a mapping or
    a list of pairs; ``None`` values are dropped)."""
    if query is None:
        return path
    if isinstance(query, str):
        qs = query
    else:
        pairs = query.items() if isinstance(query, Mapping) else query
        qs = urllib.parse.urlencode([(k, v) for k, v in pairs if v is not None])
    return path + '?' + qs if qs else path


def request(base_url: str, method: str = 'GET', query: Query = None,
            headers: Optional[Mapping[str, str]] = None,
            body: Union[None, bytes, str, Iterable[bytes]] = None,
            path: str = DEFAULT_PATH,
            timeout: float = DEFAULT_TIMEOUT) -> Response:
    """Send one HTTP request on a fresh connection and read the answer.

    ``body`` may be an iterable of ``bytes`` chunks, which is sent with
    ``Transfer-Encoding: chunked`` and no ``Content-Length``.  If the server
    closes the connection while the body is still being sent (as it may when
    it refuses a large body), its answer is still read.
    """
    url = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        if isinstance(body, str):
            body = body.encode('utf-8')
        try:
            conn.request(method, make_target(path, query), body=body,
                         headers=dict(headers or {}))
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.reason, resp.msg, data)
    finally:
        conn.close()


def handshake(base_url: str, headers: Optional[Mapping[str, str]] = None,
              path: str = DEFAULT_PATH, **query: Any) -> Handshake:
    """Open a polling session; extra keyword arguments go in the query
    string.  Fails the test unless the server answers 200 with an OPEN."""
    params = {'EIO': '4', 'transport': 'polling'}
    params.update(query)
    resp = request(base_url, 'GET', params, headers=headers, path=path)
    assert resp.status == 200, 'handshake failed: {} {!r}'.format(
        resp.status, resp.body)
    packets = decode_payload(resp.body)
    assert packets[0].type == '0', 'no OPEN packet: {!r}'.format(resp.body)
    data = json.loads(packets[0].data)
    return Handshake(data['sid'], data, packets[1:], resp)


def get(base_url: str, sid: str, headers: Optional[Mapping[str, str]] = None,
        timeout: float = DEFAULT_TIMEOUT, **query: Any) -> Response:
    """A polling GET for session ``sid``."""
    params = {'EIO': '4', 'transport': 'polling', 'sid': sid}
    params.update(query)
    return request(base_url, 'GET', params, headers=headers, timeout=timeout)


def post(base_url: str, sid: Optional[str],
         body: Union[bytes, str, Iterable[bytes]],
         headers: Optional[Mapping[str, str]] = None,
         timeout: float = DEFAULT_TIMEOUT, **query: Any) -> Response:
    """A polling POST of ``body`` (an encoded payload) for session ``sid``."""
    params = {'EIO': '4', 'transport': 'polling', 'sid': sid}
    params.update(query)
    return request(base_url, 'POST', params, headers=headers, body=body,
                   timeout=timeout)


def open_partial_post(base_url: str, sid: str, content_length: int,
                      first_bytes: bytes) -> socket.socket:
    """Start a POST announcing ``content_length`` bytes but send only
    ``first_bytes`` of the body; returns the socket (the caller closes it)."""
    url = urllib.parse.urlsplit(base_url)
    sock = socket.create_connection((url.hostname, url.port),
                                    timeout=DEFAULT_TIMEOUT)
    target = make_target(DEFAULT_PATH, {'EIO': '4', 'transport': 'polling',
                                        'sid': sid})
    head = ('POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain\r\n'
            'Content-Length: {}\r\n\r\n').format(target, url.netloc,
                                                 content_length)
    sock.sendall(head.encode('ascii') + first_bytes)
    return sock


# --------------------------------------------------------------- WebSocket
class ClosedByServer(Exception):
    """The server ended the WebSocket connection."""


class RawWebSocket:
    """A synchronous WebSocket to an Engine.IO endpoint.

    Text frames are returned as ``str``, binary frames as ``bytes``.
    """

    def __init__(self, base_url: str, sid: Optional[str] = None,
                 headers: Optional[Mapping[str, str]] = None,
                 path: str = DEFAULT_PATH, timeout: float = DEFAULT_TIMEOUT,
                 **query: Any) -> None:
        params = {'EIO': '4', 'transport': 'websocket', 'sid': sid}
        params.update(query)
        url = 'ws' + base_url[len('http'):] + make_target(path, params)
        extra = ['{}: {}'.format(k, v) for k, v in (headers or {}).items()]
        # Raises websocket.WebSocketBadStatusException (with .status_code)
        # when the server refuses the WebSocket handshake.
        self.ws = websocket.create_connection(
            url, timeout=timeout, header=extra, suppress_origin=True)

    def send(self, data: Data) -> None:
        """Send a text frame (``str``) or a binary frame (``bytes``)."""
        if isinstance(data, bytes):
            self.ws.send_binary(data)
        else:
            self.ws.send(data)

    def recv(self, timeout: float = DEFAULT_TIMEOUT) -> Data:
        """The next data frame.  Raises :class:`ClosedByServer` when the
        connection ends and ``websocket.WebSocketTimeoutException`` when
        nothing arrives within ``timeout`` seconds."""
        self.ws.settimeout(timeout)
        try:
            opcode, data = self.ws.recv_data()
        except websocket.WebSocketConnectionClosedException as exc:
            raise ClosedByServer(str(exc))
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise ClosedByServer(str(exc))
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise ClosedByServer('close frame')
        if opcode == websocket.ABNF.OPCODE_TEXT:
            return data.decode('utf-8')
        return bytes(data)

    def recv_packet(self, timeout: float = DEFAULT_TIMEOUT) -> Packet:
        """The next frame as an Engine.IO packet (binary frame = message)."""
        data = self.recv(timeout)
        if isinstance(data, bytes):
            return Packet('4', data)
        return decode_packet(data)

    def drain_until_closed(self, timeout: float = DEFAULT_TIMEOUT) -> List[Data]:
        """Read frames until the server ends the connection and return them.
        Fails (raises the timeout exception) if it stays open."""
        frames: List[Data] = []
        while True:
            try:
                frames.append(self.recv(timeout))
            except ClosedByServer:
                return frames

    def close(self) -> None:
        self.ws.close(timeout=1)


def websocket_open(base_url: str, **kwargs: Any) -> Tuple[RawWebSocket, Dict[str, Any]]:
    """Open a WebSocket-only session; returns the socket and the OPEN data."""
    ws = RawWebSocket(base_url, **kwargs)
    first = ws.recv_packet()
    assert first.type == '0', 'first frame is not OPEN: {!r}'.format(first)
    return ws, json.loads(first.data)


def upgrade_probe(base_url: str, sid: str, **kwargs: Any) -> RawWebSocket:
    """Open the upgrade WebSocket for polling session ``sid`` and complete
    the probe ('2probe' -> '3probe').  The caller sends '5' when ready."""
    ws = RawWebSocket(base_url, sid=sid, **kwargs)
    ws.send('2probe')
    answer = ws.recv()
    assert answer == '3probe', 'probe answered {!r}'.format(answer)
    return ws
