"""A catalogue of hostile and broken requests, sent to real servers.

Each row of :data:`ROWS` is one attack or malformed request and the answer
the server must give: an HTTP status and body, or a WebSocket that is
refused or closed, plus the fate of the session the row used (ended with a
given disconnect reason, exactly once, or still working), and the messages
the application may have seen. After every row a healthy client opens a
session on the same server and round-trips a message, so a row that breaks
the server, or leaves it wedged, fails that check.

Rows run in groups on one server instance per (server, profile), in every
in-process e2e server of conftest.py and in the eventlet, gevent and uWSGI
process servers. A few answers come from the HTTP server in front of
Engine.IO, not from Engine.IO (an unparsable Content-Length, a request with both a length
and a chunked body, an unknown method); those rows say so in ``servers``.
In-process servers must log no traceback that runs through ``engineio``;
process servers must print none.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import socket
import struct
import time
import traceback
import urllib.parse
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional

import pytest
import websocket

from tests.e2e.conftest import SERVER_MODES
from tests.support import Background, procservers
from tests.support import rawclient as rc

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

LIMIT = 1000
PROCESS_SERVERS = ['eventlet', 'gevent', 'uwsgi']
#: servers whose application serves static files (WSGIApp or ASGIApp)
STATIC_SERVERS = {'threading', 'asgi', 'hypercorn', 'eventlet', 'gevent',
                  'uwsgi'}
VERSION_ERROR = ('The client is using an unsupported version of the Socket.IO '
                 'or Engine.IO protocols')
SECRET = 'TOP-SECRET-CONTENT'
#: a cookie option whose name and attributes try to add headers/attributes
HOSTILE_COOKIE = {'name': 'io\r\nX-Injected: 1',
                  'path': '/\r\nX-Injected: 2',
                  'SameSite': 'Lax; Domain=evil.example',
                  'Max-Age': '100, evil=1'}
GOOD_ORIGIN = 'https://good.example'
PROFILES: Dict[str, Dict[str, Any]] = {
    'main': {'max_http_buffer_size': LIMIT, 'cookie': HOSTILE_COOKIE},
    'cors': {'max_http_buffer_size': LIMIT,
             'cors_allowed_origins': [GOOD_ORIGIN],
             'cors_credentials': True},
}
WAIT = 5.0
WS_HANDSHAKE = {'Upgrade': 'websocket', 'Connection': 'Upgrade',
                'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
                'Sec-WebSocket-Version': '13'}

ALIVE = 'alive'          # the row's session must still work
NO_RESPONSE = 'no response'  # the server closes the connection unanswered


# -------------------------------------------------------------- the table
class Expect(NamedTuple):
    """What a row must produce.

    ``status``/``body``: the HTTP answer (``body`` a str is a JSON string
    message, bytes are exact, a callable checks it); ``status`` may be
    :data:`NO_RESPONSE`, or a tuple of the statuses a race allows. ``ws``: ``'refused'`` (handshake answered with
    ``status``/``body``), ``'closed'`` (the server ends the WebSocket after
    ``frames``) or ``'open'``. ``reason``: the disconnect reason of the
    row's session (exactly one event), :data:`ALIVE`, or None (no session).
    ``messages``: what the application received from the row's session.
    ``headers``: a function asserting on the response headers.
    """
    status: Any = None
    body: Any = None
    ws: Optional[str] = None
    frames: Optional[List[Any]] = None
    reason: Optional[str] = None
    messages: List[Any] = []
    headers: Optional[Callable[['Result', 'Ctx'], None]] = None


class Result(NamedTuple):
    resp: Optional[rc.Response] = None
    sid: Optional[str] = None
    ws: Optional[str] = None          # 'refused' | 'closed' | 'open'
    ws_status: Optional[int] = None
    ws_body: Optional[bytes] = None
    frames: List[Any] = []
    #: round-trips a message on the row's session (when it must be alive)
    alive: Optional[Callable[[], None]] = None


class Row(NamedTuple):
    id: str
    profile: str
    action: Callable[['Ctx'], Result]
    expect: Expect
    #: server name -> Expect, where that web server's answer differs
    servers: Dict[str, Expect] = {}
    only: Optional[frozenset] = None


class Ctx:
    """A running server for one group of rows."""

    def __init__(self, server_name: str, harness: Any) -> None:
        self.server_name = server_name
        self.h = harness
        self.url = harness.url
        self.netloc = urllib.parse.urlsplit(self.url).netloc
        self.origin = 'http://' + self.netloc
        self.counter = 0
        #: called once the row has been checked (close its WebSockets)
        self.closers: List[Callable[[], None]] = []
        #: (row id, sid, disconnect reasons, messages) checked once the
        #: group has run
        self.settled: List[Any] = []

    def tag(self, prefix: str) -> str:
        self.counter += 1
        return '{}-{}'.format(prefix, self.counter)


# ---------------------------------------------------------------- helpers
def raw_http(ctx: Ctx, data: bytes, half_close: bool = False,
             method: str = 'GET') -> rc.Response:
    """Send bytes as they are; the parsed answer, or a Response with status
    NO_RESPONSE when the server closes the connection without one."""
    host, port = ctx.netloc.split(':')
    sock = socket.create_connection((host, int(port)), timeout=WAIT)
    try:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        resp = http.client.HTTPResponse(sock, method=method)
        try:
            resp.begin()
            body = resp.read()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return rc.Response(NO_RESPONSE, '', http.client.HTTPMessage(), b'')
        return rc.Response(resp.status, resp.reason, resp.msg, body)
    finally:
        sock.close()


def session_target(sid: str, **extra: str) -> str:
    query = {'EIO': '4', 'transport': 'polling', 'sid': sid}
    query.update(extra)
    return rc.make_target(rc.DEFAULT_PATH, query)


def poll_until(url: str, sid: str, text: str) -> List[Any]:
    """Poll ``sid`` until message ``text`` arrived (PINGs are answered);
    every message received."""
    got: List[Any] = []
    deadline = time.monotonic() + WAIT
    while text not in got:
        assert time.monotonic() < deadline, 'no echo on {}: {}'.format(sid, got[-5:])
        resp = rc.get(url, sid, timeout=WAIT)
        assert resp.status == 200, (resp.status, resp.body)
        packets = rc.decode_payload(resp.body)
        if any(p.type == '2' for p in packets):
            rc.post(url, sid, '3', timeout=WAIT)
        got.extend(rc.messages(packets))
    return got


def polling_alive(ctx: Ctx, sid: str) -> Callable[[], None]:
    def check() -> None:
        text = ctx.tag('alive')
        resp = rc.post(ctx.url, sid, '4' + text, timeout=WAIT)
        assert (resp.status, resp.body) == (200, b'ok'), (resp.status, resp.body)
        assert poll_until(ctx.url, sid, text)[-1] == text
    return check


def websocket_alive(ctx: Ctx, ws: rc.RawWebSocket) -> Callable[[], None]:
    ctx.closers.append(ws.close)

    def check() -> None:
        text = ctx.tag('alive')
        ws.send('4' + text)
        frame = ws.recv(WAIT)
        while frame != '4' + text:  # earlier echoes, or a PING
            if frame == '2':
                ws.send('3')
            frame = ws.recv(WAIT)
    return check


class _Reader:
    """Lets http.client parse a response from a file that the caller goes
    on reading (WebSocket frames may follow the handshake at once)."""

    def __init__(self, file: Any) -> None:
        self.file = file

    def makefile(self, *args: Any, **kwargs: Any) -> Any:
        return self.file


def read_frames(file: Any) -> List[Any]:
    """The data frames a server sends on a WebSocket until it closes it."""
    def take(count: int) -> bytes:
        data = file.read(count)
        if len(data) < count:
            raise EOFError
        return data

    frames: List[Any] = []
    try:
        while True:
            head = take(2)
            opcode, length = head[0] & 0x0f, head[1] & 0x7f
            if length == 126:
                length = struct.unpack('!H', take(2))[0]
            elif length == 127:
                length = struct.unpack('!Q', take(8))[0]
            data = take(length)
            if opcode == 8:
                return frames
            if opcode in (1, 2):
                frames.append(data.decode('utf-8') if opcode == 1 else data)
    except (EOFError, ConnectionResetError):
        return frames


def ws_refusal(ctx: Ctx, sid: Optional[str] = None, alive=None,
               headers: Optional[Dict[str, str]] = None) -> Result:
    """Open a WebSocket the server must refuse: the HTTP answer to the
    handshake, or the frames sent before the server closed it."""
    query = {'EIO': '4', 'transport': 'websocket', 'sid': sid}
    lines = ''.join('{}: {}\r\n'.format(k, v) for k, v in
                    dict(WS_HANDSHAKE, **(headers or {})).items())
    data = 'GET {} HTTP/1.1\r\nHost: {}\r\n{}\r\n'.format(
        rc.make_target(rc.DEFAULT_PATH, query), ctx.netloc, lines).encode()
    host, port = ctx.netloc.split(':')
    sock = socket.create_connection((host, int(port)), timeout=WAIT)
    try:
        sock.sendall(data)
        file = sock.makefile('rb')
        resp = http.client.HTTPResponse(_Reader(file))
        resp.begin()
        if resp.status != 101:
            return Result(sid=sid, ws='refused', ws_status=resp.status,
                          ws_body=resp.read(), alive=alive)
        return Result(sid=sid, ws='closed', frames=read_frames(file),
                      alive=alive)
    finally:
        sock.close()


# --------------------------------------------------------- row actions
def req(method: str, query: Any, headers: Optional[Dict[str, str]] = None,
         body: Any = None, path: str = rc.DEFAULT_PATH) -> Callable[[Ctx], Result]:
    """A request outside any session."""
    def action(ctx: Ctx) -> Result:
        hdrs = {k: v.format(origin=ctx.origin, netloc=ctx.netloc)
                for k, v in (headers or {}).items()}
        return Result(resp=rc.request(ctx.url, method, query, headers=hdrs,
                                      body=body, path=path, timeout=WAIT))
    return action


def handshake_with(headers: Dict[str, str], **query: str) -> Callable[[Ctx], Result]:
    """A polling handshake (which may be refused); the session it opened,
    if any, must stay usable."""
    def action(ctx: Ctx) -> Result:
        hdrs = {k: v.format(origin=ctx.origin) for k, v in headers.items()}
        params = {'EIO': '4', 'transport': 'polling'}
        params.update(query)
        resp = rc.request(ctx.url, 'GET', params, headers=hdrs, timeout=WAIT)
        sid = None
        if resp.status == 200 and resp.body.startswith(b'0'):
            sid = json.loads(rc.decode_payload(resp.body)[0].data)['sid']
        return Result(resp=resp, sid=sid,
                      alive=polling_alive(ctx, sid) if sid else None)
    return action


def on_session(method: str = 'POST', body: Any = b'',
               headers: Optional[Dict[str, str]] = None,
               **query: str) -> Callable[[Ctx], Result]:
    """A request for a fresh polling session."""
    def action(ctx: Ctx) -> Result:
        sid = rc.handshake(ctx.url).sid
        params = {'EIO': '4', 'transport': 'polling', 'sid': sid}
        params.update(query)
        hdrs = {k: v.format(origin=ctx.origin)
                for k, v in (headers or {}).items()}
        resp = rc.request(ctx.url, method, params, headers=hdrs,
                          body=body, timeout=WAIT)
        return Result(resp=resp, sid=sid, alive=polling_alive(ctx, sid))
    return action


def raw_post(head: str, body: bytes = b'', half_close: bool = False
             ) -> Callable[[Ctx], Result]:
    """A POST written byte for byte for a fresh session: ``head`` holds the
    header lines after the request line (``{host}`` is filled in)."""
    def action(ctx: Ctx) -> Result:
        sid = rc.handshake(ctx.url).sid
        data = ('POST {} HTTP/1.1\r\nHost: {}\r\n{}\r\n'.format(
            session_target(sid), ctx.netloc, head)).encode() + body
        resp = raw_http(ctx, data, half_close=half_close, method='POST')
        return Result(resp=resp, sid=sid, alive=polling_alive(ctx, sid))
    return action


def raw_request(line: str, headers: str = '') -> Callable[[Ctx], Result]:
    """A request with a request line written as it is."""
    def action(ctx: Ctx) -> Result:
        data = '{} HTTP/1.1\r\nHost: {}\r\n{}\r\n'.format(
            line, ctx.netloc, headers).encode('latin-1')
        return Result(resp=raw_http(ctx, data, method=line.split(' ')[0]))
    return action


def ws_only(*frames: Any, opcode: Optional[int] = None) -> Callable[[Ctx], Result]:
    """A WebSocket-only session that sends ``frames``; the session either
    stays open (and must echo) or is closed by the server."""
    def action(ctx: Ctx) -> Result:
        ws, data = rc.websocket_open(ctx.url, timeout=WAIT)
        for frame in frames:
            if opcode is not None:
                ws.ws.send(frame, opcode=opcode)
            else:
                ws.send(frame)
        received = []
        try:
            while True:
                received.append(ws.recv(0.3))
        except rc.ClosedByServer:
            ws.close()
            return Result(sid=data['sid'], ws='closed', frames=received)
        except websocket.WebSocketTimeoutException:
            return Result(sid=data['sid'], ws='open', frames=received,
                          alive=websocket_alive(ctx, ws))
    return action


def upgrade_attempt(*frames: Any, expect_probe: bool = False
                    ) -> Callable[[Ctx], Result]:
    """Open the upgrade WebSocket of a polling session and send ``frames``
    (a '3probe' answer is read after a '2probe'); the server must close it
    and the session must go on over polling."""
    def action(ctx: Ctx) -> Result:
        sid = rc.handshake(ctx.url).sid
        ws = rc.RawWebSocket(ctx.url, sid=sid, timeout=WAIT)
        received = []
        try:
            for frame in frames:
                ws.send(frame)
                if frame == '2probe':
                    received.append(ws.recv(WAIT))
            received.extend(ws.drain_until_closed(WAIT))
        except rc.ClosedByServer:
            pass
        finally:
            ws.close()
        return Result(sid=sid, ws='closed', frames=received,
                      alive=polling_alive(ctx, sid))
    return action


def upgraded_session(ctx: Ctx):
    sid = rc.handshake(ctx.url).sid
    ws = rc.upgrade_probe(ctx.url, sid, timeout=WAIT)
    ws.send('5')
    deadline = time.monotonic() + WAIT
    while ctx.h.eio.transport(sid) != 'websocket':
        assert time.monotonic() < deadline, 'upgrade not completed'
        time.sleep(0.02)
    return sid, ws


def after_upgrade(what: str) -> Callable[[Ctx], Result]:
    """A polling GET/POST or a second WebSocket for an upgraded session."""
    def action(ctx: Ctx) -> Result:
        sid, ws = upgraded_session(ctx)
        alive = websocket_alive(ctx, ws)
        if what == 'websocket':
            return ws_refusal(ctx, sid, alive=alive)
        if what == 'GET':
            resp = rc.get(ctx.url, sid, timeout=WAIT)
        else:
            resp = rc.post(ctx.url, sid, '4sneaky', timeout=WAIT)
        return Result(resp=resp, sid=sid, alive=alive)
    return action


def second_websocket_while_probing(ctx: Ctx) -> Result:
    sid = rc.handshake(ctx.url).sid
    first = rc.RawWebSocket(ctx.url, sid=sid, timeout=WAIT)
    time.sleep(0.2)  # the server has taken the first one as the upgrade
    second = ws_refusal(ctx, sid)
    first.send('2probe')
    assert first.recv(WAIT) == '3probe'
    first.send('5')
    return second._replace(alive=websocket_alive(ctx, first))


def duplicate_get(ctx: Ctx) -> Result:
    sid = rc.handshake(ctx.url).sid
    first = Background(rc.get, ctx.url, sid, timeout=WAIT)
    time.sleep(0.3)
    resp = rc.get(ctx.url, sid, timeout=WAIT)
    waiting = first.result(WAIT)
    assert (waiting.status, waiting.body) == (200, b'1'), waiting
    return Result(resp=resp, sid=sid)


def concurrent_post(ctx: Ctx) -> Result:
    sid = rc.handshake(ctx.url).sid
    slow = rc.open_partial_post(ctx.url, sid, 20, b'4abc')
    try:
        time.sleep(0.3)
        resp = rc.post(ctx.url, sid, '4second', timeout=WAIT)
    finally:
        slow.close()
    return Result(resp=resp, sid=sid)


def post_after_close(ctx: Ctx) -> Result:
    sid = rc.handshake(ctx.url).sid
    assert rc.post(ctx.url, sid, '1', timeout=WAIT).body == b'ok'
    ctx.h.wait_disconnect(sid, WAIT)
    return Result(resp=rc.post(ctx.url, sid, '4late', timeout=WAIT), sid=sid)


def websocket_after_close(ctx: Ctx) -> Result:
    sid = rc.handshake(ctx.url).sid
    assert rc.post(ctx.url, sid, '1', timeout=WAIT).body == b'ok'
    ctx.h.wait_disconnect(sid, WAIT)
    return ws_refusal(ctx, sid)


def foreign_origin_websocket(origin: str) -> Callable[[Ctx], Result]:
    def action(ctx: Ctx) -> Result:
        return ws_refusal(ctx, headers={'Origin': origin})
    return action


def huge_content_length(ctx: Ctx) -> Result:
    """Announce a terabyte and send nothing: refused before reading."""
    sid = rc.handshake(ctx.url).sid
    host, port = ctx.netloc.split(':')
    sock = socket.create_connection((host, int(port)), timeout=WAIT)
    try:
        sock.sendall('POST {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n'
                     '\r\n4abc'.format(session_target(sid), ctx.netloc,
                                       10 ** 12).encode())
        resp = http.client.HTTPResponse(sock, method='POST')
        resp.begin()
        result = rc.Response(resp.status, resp.reason, resp.msg, resp.read())
    finally:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack('ii', 1, 0))
        sock.close()
    return Result(resp=result, sid=sid)


def static(path: str) -> Callable[[Ctx], Result]:
    return raw_request('GET ' + path)


# ----------------------------------------------------------- expectations
def error(message: str, status: int = 400, **kwargs: Any) -> Expect:
    return Expect(status=status, body=message, **kwargs)


def refused_ws(message: str, **kwargs: Any) -> Expect:
    return Expect(ws='refused', status=400, body=message, **kwargs)


def closes(reason: str, **kwargs: Any) -> Expect:
    return Expect(ws='closed', reason=reason, **kwargs)


BAD = error('Bad Request', reason='transport error')
TOO_LARGE = error('Payload Too Large', 413, reason='transport error')
#: an HTTP server that refuses the request itself (the session is untouched)
HTTP_SERVER_400 = Expect(status=400, body=lambda body: True, reason=ALIVE)
#: the HTTP server refuses the request while Engine.IO reads its body: the
#: session loses its POST
HTTP_SERVER_400_CLOSED = HTTP_SERVER_400._replace(reason='transport error')
#: tornado checks the Content-Length after it handed the request over: its
#: own 400 and Engine.IO's answer race; the session ends either way
TORNADO_RACE = Expect(status=(400, 413), body=lambda body: body in (
    b'', b'"Bad Request"', b'"Payload Too Large"'), reason='transport error')
#: the HTTP server drops a request whose body was cut short
DROPPED = Expect(status=NO_RESPONSE, body=b'', reason='transport error')
#: uWSGI gives the application no body still in chunks (without a
#: Content-Length): the gevent_uwsgi driver refuses it rather than take it as
#: empty
UWSGI_CHUNKED = {'uwsgi': BAD}
#: gevent-websocket completes every WebSocket handshake before the
#: application runs, so a refusal can only close the connection
GEVENT_WS_CLOSE = {'gevent': Expect(ws='closed', frames=[])}
STATIC = frozenset(STATIC_SERVERS)


def no_cors_headers(result: Result, ctx: Ctx) -> None:
    names = {k.lower() for k in result.resp.headers.keys()}
    assert not names & {'access-control-allow-origin',
                        'access-control-allow-credentials'}, names


def cors_for(origin: str) -> Callable[[Result, Ctx], None]:
    def check(result: Result, ctx: Ctx) -> None:
        wanted = ctx.origin if origin == 'self' else origin
        headers = result.resp.headers
        assert headers.get('Access-Control-Allow-Origin') == wanted, headers
        assert headers.get('Access-Control-Allow-Credentials') == 'true', headers
        assert 'Origin' in (headers.get('Vary') or ''), headers
    return check


def sanitised_cookie(result: Result, ctx: Ctx) -> None:
    cookies = result.resp.header_values('Set-Cookie')
    assert cookies == [
        'ioX-Injected: 1={}; path=/X-Injected: 2; SameSite=Lax Domain='
        'evil.example; Max-Age=100 evil=1'.format(result.sid)], cookies
    assert result.resp.header('X-Injected') is None


def text_plain(result: Result, ctx: Ctx) -> None:
    assert result.resp.header('Content-Type') == 'text/plain'


def jsonp_handshake(body: bytes) -> bool:
    return body.startswith(b'___eio[-1]("0{') and body.endswith(b'");')


def open_packet(body: bytes) -> bool:
    return body.startswith(b'0{"sid":')


def no_secret(status: int = 404) -> Expect:
    return Expect(status=status, body=lambda body: SECRET.encode() not in body
                  and b'root:' not in body)


P = 'main'
C = 'cors'
S = '/engine.io/?EIO=4&transport=polling'
ROWS: List[Row] = [
    # -- query string ---------------------------------------------------
    Row('query: none', P, req('GET', None), error('Invalid transport')),
    Row('query: no transport', P, req('GET', {'EIO': '4'}), error('Invalid transport')),
    Row('query: unknown transport', P, req('GET', {'EIO': '4', 'transport': 'foo'}),
        error('Invalid transport')),
    Row('query: transport in upper case', P,
        req('GET', {'EIO': '4', 'transport': 'POLLING'}), error('Invalid transport')),
    Row('query: transport with NUL', P, req('GET', 'EIO=4&transport=polling%00'),
        error('Invalid transport')),
    Row('query: no EIO', P, req('GET', {'transport': 'polling'}), error(VERSION_ERROR)),
    Row('query: EIO=3', P, req('GET', {'EIO': '3', 'transport': 'polling'}),
        error(VERSION_ERROR)),
    Row('query: EIO empty', P, req('GET', 'EIO=&transport=polling'), error(VERSION_ERROR)),
    Row('query: EIO=4.0', P, req('GET', {'EIO': '4.0', 'transport': 'polling'}),
        error(VERSION_ERROR)),
    Row('query: EIO twice', P, req('GET', 'EIO=4&EIO=4&transport=polling'),
        error(VERSION_ERROR)),
    Row('query: j not a number', P, req('GET', S[12:] + '&j=abc'),
        error('Invalid JSONP index number')),
    Row('query: j as a float', P, req('GET', S[12:] + '&j=1e3'),
        error('Invalid JSONP index number')),
    Row('query: j in hex', P, req('GET', S[12:] + '&j=0x1'),
        error('Invalid JSONP index number')),
    Row('query: j negative is still a number', P, req('GET', S[12:] + '&j=-1'),
        Expect(status=200, body=jsonp_handshake)),
    Row('query: b64 (EIO 3 only) is ignored', P, handshake_with({}, b64='1'),
        Expect(status=200, body=open_packet, reason=ALIVE)),
    Row('query: junk pairs are ignored', P, req('GET', '&&=&==x&' + S[12:]),
        Expect(status=200, body=open_packet)),
    Row('query: unknown sid', P, req('GET', S[12:] + '&sid=nope'),
        error('Invalid session nope')),
    Row('query: sid with markup and CRLF is only echoed in a JSON string', P,
        req('GET', S[12:] + '&sid=%3Cscript%3E%0D%0AX:1'),
        error('Invalid session <script>\r\nX:1', headers=text_plain)),
    Row('query: sid not valid UTF-8', P, req('GET', S[12:] + '&sid=%ff%fe'),
        error('Invalid session \ufffd\ufffd')),
    Row('query: 2000-character sid', P, raw_request('GET ' + S + '&sid=' + 'a' * 2000),
        error('Invalid session ' + 'a' * 2000),
        # uWSGI drops, unanswered, a request whose variables exceed its
        # --buffer-size (4 KB by default): this one has the query twice
        servers={'uwsgi': Expect(status=NO_RESPONSE, body=b'')}),
    Row('query: websocket transport without Upgrade', P,
        req('GET', {'EIO': '4', 'transport': 'websocket'}),
        error('Invalid websocket upgrade')),
    Row('query: OPTIONS without transport', P, req('OPTIONS', {'EIO': '4'}),
        error('Invalid transport')),
    Row('query: known sid, unknown transport', P, on_session('GET', None, transport='foo'),
        error('Invalid transport', reason=ALIVE)),
    Row('query: POST with transport=websocket', P,
        on_session('POST', '4x', transport='websocket'),
        error('Invalid transport', reason=ALIVE)),
    Row('query: POST without sid', P, req('POST', S[12:], body='4x'),
        error('Invalid session None')),
    # -- methods --------------------------------------------------------
    Row('method: PUT', P, req('PUT', S[12:]), error('Method Not Found')),
    Row('method: DELETE', P, req('DELETE', S[12:]), error('Method Not Found')),
    Row('method: PATCH on a session', P, on_session('PATCH', '4x'),
        error('Method Not Found', reason=ALIVE)),
    Row('method: HEAD', P, raw_request('HEAD ' + S), Expect(status=400, body=b'')),
    Row('method: unknown token', P, raw_request('FOO ' + S), error('Method Not Found'),
        servers={'asgi': HTTP_SERVER_400._replace(reason=None),
                 'aiohttp': HTTP_SERVER_400._replace(reason=None),
                 'tornado': Expect(status=405, body=lambda body: True),
                 'sanic': Expect(status=405, body=lambda body: True)}),
    # -- POST bodies ----------------------------------------------------
    Row('body: empty', P, on_session(body=b''), Expect(status=200, body=b'ok', reason=ALIVE)),
    Row('body: not a packet', P, on_session(body=b'abc'), BAD),
    Row('body: bad base64', P, on_session(body=b'b!!'), BAD),
    Row('body: base64 with bad padding', P, on_session(body=b'bAAA'), BAD),
    Row('body: invalid UTF-8', P, on_session(body=b'4\xff\xfe'), BAD),
    Row('body: overlong UTF-8', P, on_session(body=b'4\xc0\xaf'), BAD),
    Row('body: UTF-8 encoded surrogate', P, on_session(body=b'4\xed\xa0\x80'), BAD),
    Row('body: raw binary as octet-stream', P,
        on_session(body=b'\x00\x01\xff', headers={'Content-Type': 'application/octet-stream'}),
        BAD),
    Row('body: NUL characters are data', P, on_session(body=b'4\x00nul\x00'),
        Expect(status=200, body=b'ok', reason=ALIVE, messages=['\x00nul\x00'])),
    Row('body: packet type 7', P, on_session(body=b'7'), BAD),
    Row('body: packet type 8 with data', P, on_session(body=b'8x'), BAD),
    Row('body: packet type 9', P, on_session(body=b'9'), BAD),
    Row('body: OPEN from the client', P, on_session(body=b'0{}'), BAD),
    Row('body: PING from the client', P, on_session(body=b'2'), BAD),
    Row('body: probe over polling', P, on_session(body=b'2probe'), BAD),
    Row('body: UPGRADE over polling', P, on_session(body=b'5'), BAD),
    Row('body: NOOP from the client', P, on_session(body=b'6'), BAD),
    Row('body: empty packet between two', P, on_session(body=b'4a\x1e\x1e4b'), BAD),
    Row('body: separator only', P, on_session(body=b'\x1e'), BAD),
    Row('body: good packet then bad one delivers nothing', P,
        on_session(body=b'4first\x1e7bad\x1e4last'), BAD),
    Row('body: exactly the limit', P, on_session(body=b'4' + b'x' * (LIMIT - 1)),
        Expect(status=200, body=b'ok', reason=ALIVE, messages=['x' * (LIMIT - 1)])),
    Row('body: one byte over the limit', P, on_session(body=b'4' + b'x' * LIMIT), TOO_LARGE),
    Row('body: 500 empty messages within the limit', P,
        on_session(body=b'\x1e'.join([b'4'] * 500)),
        Expect(status=200, body=b'ok', reason=ALIVE, messages=[''] * 500)),
    Row('body: Content-Length of a terabyte, never sent', P, huge_content_length,
        TOO_LARGE, servers={'tornado': TORNADO_RACE}),
    Row('body: negative Content-Length', P, raw_post('Content-Length: -5\r\n', b'4abcd'),
        BAD, servers=dict({'tornado': TORNADO_RACE}, **{
            name: HTTP_SERVER_400 for name in
            ('asgi', 'hypercorn', 'aiohttp', 'sanic', 'eventlet', 'gevent')})),
    Row('body: Content-Length not a number', P, raw_post('Content-Length: abc\r\n', b'4abc'),
        BAD, servers=dict({'tornado': TORNADO_RACE}, **{
            name: HTTP_SERVER_400 for name in
            ('asgi', 'hypercorn', 'aiohttp', 'sanic', 'eventlet', 'gevent')})),
    Row('body: shorter than its Content-Length', P,
        raw_post('Content-Length: 20\r\n', b'4abc', half_close=True), BAD,
        servers={name: DROPPED for name in ('asgi', 'aiohttp', 'tornado', 'sanic',
                                            'uwsgi')}),
    Row('body: chunked, within the limit', P,
        raw_post('Transfer-Encoding: chunked\r\n', b'3\r\n4ab\r\n2\r\ncd\r\n0\r\n\r\n'),
        Expect(status=200, body=b'ok', reason=ALIVE, messages=['abcd']),
        servers=UWSGI_CHUNKED),
    Row('body: chunked, growing past the limit', P,
        raw_post('Transfer-Encoding: chunked\r\n',
                 b''.join(b'190\r\n' + b'4' * 400 + b'\r\n' for _ in range(3)) +
                 b'0\r\n\r\n'), TOO_LARGE, servers=UWSGI_CHUNKED),
    Row('body: chunked, bad chunk size', P,
        raw_post('Transfer-Encoding: chunked\r\n', b'zz\r\n4abc\r\n0\r\n\r\n'), BAD,
        servers=dict({'aiohttp': HTTP_SERVER_400}, **{
            name: HTTP_SERVER_400_CLOSED for name in ('asgi', 'hypercorn', 'tornado')})),
    Row('body: chunked, cut short', P,
        raw_post('Transfer-Encoding: chunked\r\n', b'5\r\n4ab', half_close=True), BAD,
        # uWSGI: the driver refuses the chunked body at once (UWSGI_CHUNKED),
        # unless the router has already dropped the request on the half close
        servers=dict({'uwsgi': Expect(status=(400, NO_RESPONSE), body=lambda body: body in (
            b'', b'"Bad Request"'), reason='transport error')}, **{
                name: DROPPED for name in ('asgi', 'aiohttp', 'tornado', 'sanic')})),
    Row('body: both Content-Length and chunked', P,
        raw_post('Content-Length: 3\r\nTransfer-Encoding: chunked\r\n',
                 b'5\r\n4abcd\r\n0\r\n\r\n'),
        # RFC 9112: the chunked coding wins, or the request is refused
        Expect(status=200, body=b'ok', reason=ALIVE, messages=['abcd']),
        # uWSGI passes the first 3 bytes on as the body, which Engine.IO refuses
        servers=dict({'tornado': HTTP_SERVER_400_CLOSED, 'uwsgi': BAD}, **{
            name: HTTP_SERVER_400 for name in ('asgi', 'aiohttp', 'sanic', 'eventlet')})),
    Row('body: JSONP form body', P, on_session(body=b'd=4hello'),
        Expect(status=200, body=b'ok', reason=ALIVE, messages=['hello'])),
    Row('body: JSONP form body not valid UTF-8', P, on_session(body=b'd=%ff'), BAD),
    Row('body: POST to a closed session', P, post_after_close,
        Expect(status=400, body=lambda body: body.startswith(b'"Invalid session '),
               reason='client disconnect')),
    Row('polling: a second GET while one waits', P, duplicate_get, BAD),
    Row('polling: a second POST while one is read', P, concurrent_post, BAD),
    # -- WebSocket-only sessions -------------------------------------------
    Row('ws: text frame over the limit', P, ws_only('4' + 'x' * LIMIT),
        closes('transport close')),
    Row('ws: binary frame over the limit', P, ws_only(b'x' * (LIMIT + 1)),
        closes('transport close')),
    Row('ws: frame of exactly the limit', P, ws_only('4' + 'x' * (LIMIT - 1)),
        Expect(ws='open', frames=['4' + 'x' * (LIMIT - 1)], reason=ALIVE,
               messages=['x' * (LIMIT - 1)])),
    Row('ws: not a packet', P, ws_only('abc'), closes('transport error')),
    Row('ws: empty text frame', P, ws_only(''), closes('transport error')),
    Row('ws: OPEN from the client', P, ws_only('0{}'), closes('transport error')),
    Row('ws: PING from the client', P, ws_only('2'), closes('transport error')),
    Row('ws: probe without an upgrade', P, ws_only('2probe'), closes('transport error')),
    Row('ws: UPGRADE without a probe', P, ws_only('5'), closes('transport error')),
    Row('ws: NOOP from the client', P, ws_only('6'), closes('transport error')),
    Row('ws: packet type 7', P, ws_only('7x'), closes('transport error')),
    Row('ws: text frame not valid UTF-8', P,
        ws_only(b'4\xff\xfe', opcode=websocket.ABNF.OPCODE_TEXT),
        closes('transport close'),
        # eventlet's WebSocket raises a decoding error; Sanic's logs it and
        # drops the frame, keeping the connection
        servers={'eventlet': closes('transport error'),
                 'sanic': Expect(ws='open', frames=[], reason=ALIVE)}),
    Row('ws: binary frame holding a text packet stays binary', P, ws_only(b'4hello'),
        Expect(ws='open', frames=[b'4hello'], reason=ALIVE, messages=[b'4hello'])),
    Row('ws: base64 text frame is a binary message', P, ws_only('bAQID'),
        Expect(ws='open', frames=[b'\x01\x02\x03'], reason=ALIVE,
               messages=[b'\x01\x02\x03'])),
    Row('ws: frames after a CLOSE are ignored', P, ws_only('1', '4after'),
        closes('client disconnect')),
    # -- upgrades ------------------------------------------------------------
    Row('upgrade: UPGRADE without a probe', P, upgrade_attempt('5'),
        Expect(ws='closed', frames=[], reason=ALIVE)),
    Row('upgrade: probe twice', P, upgrade_attempt('2probe', '2probe'),
        Expect(ws='closed', frames=['3probe'], reason=ALIVE)),
    Row('upgrade: wrong probe text', P, upgrade_attempt('2foo'),
        Expect(ws='closed', frames=[], reason=ALIVE)),
    Row('upgrade: probe as a binary frame', P, upgrade_attempt(b'2probe'),
        Expect(ws='closed', frames=[], reason=ALIVE)),
    Row('upgrade: a message instead of the probe', P, upgrade_attempt('4hi'),
        Expect(ws='closed', frames=[], reason=ALIVE)),
    Row('upgrade: frame over the limit after the probe', P,
        upgrade_attempt('2probe', '5' + 'x' * LIMIT),
        Expect(ws='closed', frames=['3probe'], reason=ALIVE)),
    Row('upgrade: second WebSocket while probing', P, second_websocket_while_probing,
        Expect(ws='closed', frames=[], reason=ALIVE)),
    Row('upgrade: second WebSocket after the upgrade', P, after_upgrade('websocket'),
        refused_ws('Unexpected HTTP request', reason=ALIVE),
        servers={'gevent': Expect(ws='closed', frames=[], reason=ALIVE)}),
    Row('upgrade: polling GET after the upgrade', P, after_upgrade('GET'),
        error('Unexpected HTTP request', reason=ALIVE)),
    Row('upgrade: polling POST after the upgrade', P, after_upgrade('POST'),
        error('Unexpected HTTP request', reason=ALIVE)),
    Row('upgrade: WebSocket for an unknown sid', P,
        lambda ctx: ws_refusal(ctx, 'nope'), refused_ws('Invalid session nope'),
        servers=GEVENT_WS_CLOSE),
    Row('upgrade: WebSocket for a closed session', P, websocket_after_close,
        Expect(ws='refused', status=400,
               body=lambda body: body.startswith(b'"Invalid session'),
               reason='client disconnect'),
        servers={'gevent': Expect(ws='closed', frames=[],
                                  reason='client disconnect')}),
    # -- origins and cookies -----------------------------------------------
    Row('origin: foreign, with credentials', P,
        req('GET', S[12:], {'Origin': 'http://evil.example', 'Cookie': 'io=1'}),
        error('Not an accepted origin.', headers=no_cors_headers)),
    Row('origin: foreign POST on a session, with credentials', P,
        on_session('POST', '4csrf', {'Origin': 'http://evil.example',
                                     'Cookie': 'io=1'}),
        error('Not an accepted origin.', reason=ALIVE, headers=no_cors_headers)),
    Row('origin: foreign preflight', P,
        req('OPTIONS', S[12:], {'Origin': 'http://evil.example',
                                 'Access-Control-Request-Method': 'POST'}),
        error('Not an accepted origin.', headers=no_cors_headers)),
    Row('origin: same host, other port', P,
        req('GET', S[12:], {'Origin': 'http://127.0.0.1:1'}),
        error('Not an accepted origin.')),
    Row('origin: same host, other scheme', P,
        req('GET', S[12:], {'Origin': 'https://{netloc}'}),
        error('Not an accepted origin.')),
    Row('origin: null', P, req('GET', S[12:], {'Origin': 'null'}),
        error('Not an accepted origin.')),
    Row('origin: own origin as a prefix', P,
        req('GET', S[12:], {'Origin': '{origin}.evil.example'}),
        error('Not an accepted origin.')),
    Row('origin: own origin as user info', P,
        req('GET', S[12:], {'Origin': 'http://{netloc}@evil.example'}),
        error('Not an accepted origin.')),
    Row('origin: foreign WebSocket', P, foreign_origin_websocket('http://evil.example'),
        refused_ws('Not an accepted origin.'), servers=GEVENT_WS_CLOSE),
    Row('origin: same origin, with credentials', P,
        handshake_with({'Origin': '{origin}', 'Cookie': 'io=1'}),
        Expect(status=200, body=open_packet, reason=ALIVE, headers=cors_for('self'))),
    Row('cookie: option values cannot add attributes or headers', P, handshake_with({}),
        Expect(status=200, body=open_packet, reason=ALIVE, headers=sanitised_cookie)),
    Row('cors: listed origin, with credentials', C,
        handshake_with({'Origin': GOOD_ORIGIN, 'Cookie': 'io=1'}),
        Expect(status=200, body=open_packet, reason=ALIVE, headers=cors_for(GOOD_ORIGIN))),
    Row('cors: unlisted origin, with credentials', C,
        req('GET', S[12:], {'Origin': 'https://evil.example', 'Cookie': 'io=1'}),
        error('Not an accepted origin.', headers=no_cors_headers)),
    Row('cors: listed origin as a prefix', C,
        req('GET', S[12:], {'Origin': GOOD_ORIGIN + '.evil.example'}),
        error('Not an accepted origin.')),
    Row('cors: listed host, other scheme', C,
        req('GET', S[12:], {'Origin': 'http://good.example'}),
        error('Not an accepted origin.')),
    Row("cors: the server's own origin is not listed", C,
        req('GET', S[12:], {'Origin': '{origin}'}), error('Not an accepted origin.')),
    Row('cors: unlisted preflight', C,
        req('OPTIONS', S[12:], {'Origin': 'https://evil.example',
                                 'Access-Control-Request-Method': 'POST'}),
        error('Not an accepted origin.', headers=no_cors_headers)),
    Row('cors: unlisted WebSocket', C, foreign_origin_websocket('https://evil.example'),
        refused_ws('Not an accepted origin.'), servers=GEVENT_WS_CLOSE),
    # -- static files --------------------------------------------------------
    Row('static: a file inside the folder is served', P, static('/static/hello.txt'),
        Expect(status=200, body=b'hello static'), only=STATIC),
] + [
    Row('static: traversal ' + path, P, static(path), no_secret(), only=STATIC)
    for path in [
        '/static/../secret.txt', '/static/%2e%2e/secret.txt', '/static/%2E%2E/secret.txt',
        '/static/.%2e/secret.txt', '/static/%252e%252e/secret.txt',
        '/static/..%2fsecret.txt', '/static/..%5csecret.txt', '/static/..\\secret.txt',
        '/static/%c0%ae%c0%ae/secret.txt', '/static/%ef%bc%8e%ef%bc%8e/secret.txt',
        '/static/....//secret.txt', '/static//../secret.txt', '/static/%2f..%2fsecret.txt',
        '/static/..%00/secret.txt', '/static/..%20/secret.txt', '/static/.%20./secret.txt',
        '/static//etc/passwd', '/static/%2fetc%2fpasswd', '/static/C:%5csecret.txt',
        '/static/%u002e%u002e/secret.txt',
    ]
]


# ------------------------------------------------------------- servers
@pytest.fixture(params=sorted(SERVER_MODES) + PROCESS_SERVERS)
def server_name(request: Any) -> str:
    return request.param


@pytest.fixture(scope='module')
def static_folder(tmp_path_factory: Any) -> str:
    root = tmp_path_factory.mktemp('hostile')
    (root / 'secret.txt').write_text(SECRET)
    public = root / 'public'
    public.mkdir()
    (public / 'hello.txt').write_text('hello static')
    return str(public)


class TracebackWatch(logging.Handler):
    """Records every logged traceback that runs through engineio code."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.found: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[2] is not None:
            text = ''.join(traceback.format_exception(*record.exc_info))
            if os.sep + 'engineio' + os.sep in text:
                self.found.append(record.getMessage() + '\n' + text)


@contextlib.contextmanager
def watched_logs() -> Iterator[TracebackWatch]:
    watch = TracebackWatch()
    root = logging.getLogger()
    root.addHandler(watch)
    try:
        yield watch
    finally:
        root.removeHandler(watch)


@contextlib.contextmanager
def process_server(server_name: str, options: dict,
                   static_folder: str) -> Iterator[Any]:
    """tests/support/eio_app.py under ``server_name``, with static files."""
    why = procservers.unavailable(server_name)
    if why:
        pytest.skip(why)
    harness = procservers.start(server_name, echo=True, options=options,
                                static_files={'/static': static_folder})
    try:
        yield harness
    finally:
        harness.stop()


# ---------------------------------------------------------------- checks
def check_row(row: Row, expect: Expect, result: Result, ctx: Ctx) -> None:
    if expect.ws is not None:
        assert result.ws == expect.ws, 'WebSocket {} (status {}, frames {}), expected {}'.format(
            result.ws, result.ws_status, result.frames, expect.ws)
        if expect.ws == 'refused':
            check_body(expect, result.ws_status, result.ws_body)
        if expect.frames is not None:
            assert result.frames == expect.frames, result.frames
    elif expect.status is not None:
        assert result.resp is not None
        check_body(expect, result.resp.status, result.resp.body)
    if expect.headers is not None:
        expect.headers(result, ctx)
    if expect.reason is None:
        return
    assert result.sid is not None, 'the row made no session'
    if expect.reason == ALIVE:
        result.alive()
        assert ctx.h.disconnect_reasons(result.sid) == []
        wanted = []
        if ctx.closers:  # the session's WebSocket: closing it ends the session
            close_all(ctx)
            assert ctx.h.wait_disconnect(result.sid, WAIT) == 'transport close'
            wanted = ['transport close']
    else:
        assert ctx.h.wait_disconnect(result.sid, WAIT) == expect.reason
        wanted = [expect.reason]
    ctx.settled.append((row.id, result.sid, wanted, expect.messages))


def close_all(ctx: Ctx) -> None:
    while ctx.closers:
        ctx.closers.pop()()


def check_settled(ctx: Ctx) -> List[str]:
    """Once the handlers of the group have run: each row's session saw
    exactly its expected disconnect (none if alive) and messages."""
    time.sleep(0.2)
    failures = []
    for row_id, sid, wanted, messages in ctx.settled:
        reasons = ctx.h.disconnect_reasons(sid)
        got = [m for m in ctx.h.messages_of(sid)
               if not (isinstance(m, str) and m.startswith('alive-'))]
        if reasons != wanted or got != messages:
            failures.append('{}: disconnects {}, messages {}'.format(
                row_id, reasons, got[:5]))
    return failures


def check_body(expect: Expect, status: Any, body: Optional[bytes]) -> None:
    statuses = expect.status if isinstance(expect.status, tuple) else (expect.status,)
    assert status in statuses, 'status {} {!r}'.format(status, (body or b'')[:200])
    wanted = expect.body
    if callable(wanted):
        assert wanted(body or b''), body
    elif isinstance(wanted, str):
        assert body == json.dumps(wanted).encode(), body
    elif wanted is not None:
        assert body == wanted, body


def healthy_round_trip(ctx: Ctx) -> None:
    hs = rc.handshake(ctx.url)
    text = ctx.tag('healthy')
    assert rc.post(ctx.url, hs.sid, '4' + text, timeout=WAIT).body == b'ok'
    assert poll_until(ctx.url, hs.sid, text) == [text]
    assert rc.post(ctx.url, hs.sid, '1', timeout=WAIT).body == b'ok'


def run_rows(ctx: Ctx, rows: List[Row], output: Callable[[], str]) -> List[str]:
    failures = []
    for row in rows:
        expect = row.servers.get(ctx.server_name, row.expect)
        try:
            check_row(row, expect, row.action(ctx), ctx)
        except Exception as exc:
            failures.append('{}: {}: {}'.format(row.id, type(exc).__name__, exc))
        close_all(ctx)
        try:
            healthy_round_trip(ctx)
        except Exception as exc:
            failures.append('{}: healthy client failed afterwards: {!r}'.format(row.id, exc))
        text = output()
        if 'Traceback' in text and 'engineio' in text:
            failures.append('{}: traceback through engineio:\n{}'.format(row.id, text))
    return failures + check_settled(ctx)


# ----------------------------------------------------------------- tests
def test_catalogue_size() -> None:
    assert len(ROWS) >= 60
    assert len({row.id for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize('profile', sorted(PROFILES))
def test_hostile_requests(eio_server: Any, server_name: str, profile: str,
                          static_folder: str) -> None:
    rows = [row for row in ROWS if row.profile == profile and
            (row.only is None or server_name in row.only)]
    options = PROFILES[profile]
    with contextlib.ExitStack() as stack:
        watch = stack.enter_context(watched_logs())
        if server_name in procservers.SERVERS:
            h = stack.enter_context(process_server(
                server_name, options, static_folder))
            reported = []

            def output() -> str:
                text = h.output()
                if reported or 'Traceback' not in text:
                    return ''
                reported.append(text)
                return text
        else:
            app_kwargs = ({'static_files': {'/static': static_folder}}
                          if server_name in STATIC_SERVERS else None)
            h = eio_server(echo=True, app_kwargs=app_kwargs, **options)

            def output() -> str:
                found = '\n'.join(watch.found)
                watch.found.clear()
                return found
        failures = run_rows(Ctx(server_name, h), rows, output)
    assert not failures, '{} of {} rows failed on {}:\n'.format(
        len(failures), len(rows), server_name) + '\n'.join(failures)
