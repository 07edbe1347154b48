"""End-to-end tests of the server with a raw HTTP/WebSocket client.

Each test starts its own server on an ephemeral loopback port, once per
e2e server (threading, and every asyncio mode: see conftest.py), and checks
the behaviour described in notes/BEHAVIOUR.md, which is the same in every
mode.
"""
from __future__ import annotations

import gzip
import http.client
import json
import re
import time
import urllib.parse
import zlib
from typing import Any

import pytest
import websocket

from tests.support import Background
from tests.support import rawclient as rc

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(30)]

VERSION_ERROR = ('The client is using an unsupported version of the Socket.IO '
                 'or Engine.IO protocols')
POLLING = {'EIO': '4', 'transport': 'polling'}
#: Headers of a valid WebSocket handshake (ASGI servers refuse invalid ones
#: before the application sees them).
WEBSOCKET_HANDSHAKE = {'Upgrade': 'websocket', 'Connection': 'Upgrade',
                       'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
                       'Sec-WebSocket-Version': '13'}
#: How long a test lets a poll sit at the server before acting on it.
SETTLE = 0.3


def assert_error(resp: rc.Response, status: int, message: str) -> None:
    """The response is ``status`` with ``message`` as a JSON string body."""
    assert (resp.status, resp.body) == (status, json.dumps(message).encode()), \
        (resp.status, resp.body)


def assert_session_gone(url: str, sid: str) -> None:
    assert_error(rc.get(url, sid, timeout=5), 400, 'Invalid session ' + sid)


def assert_no_messages(harness: Any, sid: str) -> None:
    time.sleep(0.1)  # handlers may run in background threads
    assert harness.messages_of(sid) == []


# ------------------------------------------------------------ error table
@pytest.mark.parametrize('method, query, headers, message', [
    # 1. origin (checked before everything else)
    ('GET', POLLING, {'Origin': 'http://evil.example'}, 'Not an accepted origin.'),
    ('PUT', {}, {'Origin': 'http://evil.example'}, 'Not an accepted origin.'),
    # 2. method
    ('PUT', POLLING, {}, 'Method Not Found'),
    ('DELETE', POLLING, {}, 'Method Not Found'),
    ('PATCH', POLLING, {}, 'Method Not Found'),
    ('PUT', {}, {}, 'Method Not Found'),
    # 3. transport
    ('GET', {'EIO': '4'}, {}, 'Invalid transport'),
    ('GET', {'EIO': '4', 'transport': 'foo'}, {}, 'Invalid transport'),
    ('GET', {'EIO': '3', 'transport': 'foo'}, {}, 'Invalid transport'),
    ('OPTIONS', {'EIO': '4'}, {}, 'Invalid transport'),
    ('POST', {'EIO': '4', 'sid': 'abc'}, {}, 'Invalid transport'),
    # 4. protocol version
    ('GET', {'transport': 'polling'}, {}, VERSION_ERROR),
    ('GET', {'EIO': '3', 'transport': 'polling'}, {}, VERSION_ERROR),
    ('GET', {'EIO': '5', 'transport': 'polling'}, {}, VERSION_ERROR),
    ('GET', {'EIO': 'abc', 'transport': 'polling'}, {}, VERSION_ERROR),
    ('GET', 'EIO=4&EIO=4&transport=polling', {}, VERSION_ERROR),
    ('GET', {'EIO': '3', 'transport': 'polling', 'j': 'x'}, {}, VERSION_ERROR),
    # 5. JSONP index
    ('GET', {'EIO': '4', 'transport': 'polling', 'j': 'abc'}, {}, 'Invalid JSONP index number'),
    ('GET', {'EIO': '4', 'transport': 'websocket', 'j': '1x'}, {}, 'Invalid JSONP index number'),
    ('OPTIONS', {'EIO': '4', 'transport': 'polling', 'j': 'x'}, {}, 'Invalid JSONP index number'),
    # 7. websocket handshake without the Upgrade header
    ('GET', {'EIO': '4', 'transport': 'websocket'}, {}, 'Invalid websocket upgrade'),
    # 8. unknown session
    ('GET', {'EIO': '4', 'transport': 'polling', 'sid': 'nope'}, {}, 'Invalid session nope'),
    ('POST', {'EIO': '4', 'transport': 'polling', 'sid': 'nope'}, {}, 'Invalid session nope'),
])
def test_request_errors(eio_server, method, query, headers, message):
    h = eio_server()
    body = b'4hello' if method == 'POST' else None
    resp = rc.request(h.url, method, query, headers=headers, body=body)
    assert_error(resp, 400, message)
    assert h.connects.items == []


def test_post_without_sid_is_an_invalid_session(eio_server):
    h = eio_server()
    resp = rc.request(h.url, 'POST', POLLING, body=b'4hello')
    assert resp.status == 400
    assert resp.json().startswith('Invalid session')


def test_options_preflight_passes_checks(eio_server):
    h = eio_server()
    # OPTIONS is answered before the websocket-upgrade check (rule 6 < 7)
    resp = rc.request(h.url, 'OPTIONS', {'EIO': '4', 'transport': 'websocket'})
    assert (resp.status, resp.body) == (200, b'ok')
    assert h.connects.items == []


@pytest.mark.parametrize('transports, refused', [
    (['polling'], 'websocket'),
    (['websocket'], 'polling'),
])
def test_transport_not_enabled_on_server(eio_server, transports, refused):
    h = eio_server(transports=transports)
    headers = WEBSOCKET_HANDSHAKE if refused == 'websocket' else {}
    resp = rc.request(h.url, 'GET', {'EIO': '4', 'transport': refused}, headers=headers)
    assert_error(resp, 400, 'Invalid transport')


def test_sid_requests_do_not_check_eio(eio_server):
    h = eio_server()
    hs = rc.handshake(h.url)
    resp = rc.request(h.url, 'POST', {'transport': 'polling', 'sid': hs.sid}, body='4x')
    assert (resp.status, resp.body) == (200, b'ok')
    assert h.wait_messages(hs.sid, 1) == ['x']


def test_poll_with_websocket_transport_but_no_upgrade_header(eio_server):
    h = eio_server()
    hs = rc.handshake(h.url)
    resp = rc.get(h.url, hs.sid, transport='websocket')
    assert_error(resp, 400, 'Invalid transport')


# --------------------------------------------------------------- handshake
def test_handshake_format(eio_server):
    h = eio_server(ping_interval=0.3, ping_timeout=0.2)
    hs = rc.handshake(h.url)
    assert hs.response.header('Content-Type') == 'text/plain; charset=UTF-8'
    assert re.fullmatch(r'[A-Za-z0-9_-]{20}', hs.sid)
    expected = ('0{"sid":"%s","upgrades":["websocket"],"pingTimeout":200,'
                '"pingInterval":300,"maxPayload":1000000}' % hs.sid)
    assert hs.response.text == expected
    assert h.connects.wait()[0][0] == hs.sid
    assert rc.handshake(h.url).sid != hs.sid


@pytest.mark.parametrize('options, upgrades', [
    ({}, ['websocket']),
    ({'allow_upgrades': False}, []),
    ({'transports': ['polling']}, []),
    ({'transports': 'polling'}, []),
])
def test_handshake_upgrades(eio_server, options, upgrades):
    h = eio_server(**options)
    assert rc.handshake(h.url).open['upgrades'] == upgrades


@pytest.mark.parametrize('ping_interval, ping_timeout, interval_ms, timeout_ms', [
    (25, 20, 25000, 20000),
    (2.5, 1.25, 2500, 1250),
])
def test_handshake_heartbeat_in_ms(eio_server, ping_interval, ping_timeout,
                                   interval_ms, timeout_ms):
    h = eio_server(ping_interval=ping_interval, ping_timeout=ping_timeout)
    data = rc.handshake(h.url).open
    assert (data['pingInterval'], data['pingTimeout']) == (interval_ms, timeout_ms)


def test_handshake_max_payload(eio_server):
    h = eio_server(max_http_buffer_size=12345)
    assert rc.handshake(h.url).open['maxPayload'] == 12345


def test_connect_handler_messages_in_handshake(eio_server):
    def greet(harness, sid, environ):
        harness.eio.send(sid, 'welcome')
        harness.eio.send(sid, b'\x01\x02')

    h = eio_server(on_connect=greet)
    hs = rc.handshake(h.url)
    assert hs.packets == [rc.Packet('4', 'welcome'), rc.Packet('4', b'\x01\x02')]
    assert hs.response.text.endswith('\x1e4welcome\x1ebAQI=')


@pytest.mark.parametrize('returned, body', [
    (False, 'Unauthorized'),
    ({'message': 'nope'}, {'message': 'nope'}),
    ('not you', 'not you'),
    ([1, 'two'], [1, 'two']),
])
def test_connect_rejected(eio_server, returned, body):
    h = eio_server(on_connect=lambda harness, sid, environ: returned)
    resp = rc.request(h.url, 'GET', POLLING)
    assert resp.status == 401
    assert resp.json() == body
    if returned is not False:
        assert resp.header('Content-Type') == 'application/json'
    sid = h.connects.wait()[0][0]
    assert_session_gone(h.url, sid)


def test_connect_rejected_on_websocket(eio_server):
    h = eio_server(on_connect=lambda harness, sid, environ: {'message': 'nope'})
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        rc.RawWebSocket(h.url)
    assert info.value.status_code == 401


def test_jsonp_handshake(eio_server):
    h = eio_server(on_connect=lambda harness, sid, environ: harness.eio.send(sid, 'say "hi"'))
    resp = rc.request(h.url, 'GET', dict(POLLING, j='7'))
    assert resp.status == 200
    match = re.fullmatch(r'___eio\[7\]\((".*")\);', resp.text, re.S)
    assert match, resp.text
    packets = rc.decode_payload(json.loads(match.group(1), strict=False))
    assert packets[0].type == '0'
    assert packets[1:] == [rc.Packet('4', 'say "hi"')]


# ------------------------------------------------------- polling traffic
def test_post_answers_ok_and_delivers_in_order(eio_server):
    h = eio_server(async_handlers=False)
    hs = rc.handshake(h.url)
    body = rc.encode_payload(['4hello', b'\x01\x02\x03\x04', '4second'])
    resp = rc.post(h.url, hs.sid, body)
    assert (resp.status, resp.body) == (200, b'ok')
    assert resp.header('Content-Type').startswith('text/plain')
    assert h.wait_messages(hs.sid, 3) == ['hello', b'\x01\x02\x03\x04', 'second']
    assert rc.post(h.url, hs.sid, '4third').body == b'ok'
    assert h.wait_messages(hs.sid, 4)[3] == 'third'


def test_server_messages_arrive_in_one_poll(eio_server):
    h = eio_server()
    hs = rc.handshake(h.url)
    h.eio.send(hs.sid, 'text')
    h.eio.send(hs.sid, b'\x00\xff')
    h.eio.send(hs.sid, {'a': [1, 2]})
    resp = rc.get(h.url, hs.sid)
    assert resp.status == 200
    assert resp.header('Content-Type') == 'text/plain; charset=UTF-8'
    assert resp.text == '4text\x1ebAP8=\x1e4{"a":[1,2]}'


def test_poll_waits_for_a_message(eio_server):
    h = eio_server()
    hs = rc.handshake(h.url)
    poll = Background(rc.get, h.url, hs.sid)
    time.sleep(SETTLE)
    h.eio.send(hs.sid, 'late')
    assert poll.result().text == '4late'


def test_duplicate_get_closes_session(eio_server):
    h = eio_server()
    hs = rc.handshake(h.url)
    first = Background(rc.get, h.url, hs.sid)
    time.sleep(SETTLE)
    assert_error(rc.get(h.url, hs.sid, timeout=5), 400, 'Bad Request')
    resp = first.result()
    assert (resp.status, resp.body) == (200, b'1')
    assert h.wait_disconnect(hs.sid) == 'transport error'
    assert_session_gone(h.url, hs.sid)


def test_client_close_while_get_waits(eio_server):
    h = eio_server()
    hs = rc.handshake(h.url)
    poll = Background(rc.get, h.url, hs.sid)
    time.sleep(SETTLE)
    resp = rc.post(h.url, hs.sid, '1', timeout=5)
    assert (resp.status, resp.body) == (200, b'ok')
    resp = poll.result()
    assert (resp.status, resp.body) == (200, b'6')
    assert h.wait_disconnect(hs.sid) == 'client disconnect'
    assert_session_gone(h.url, hs.sid)


def test_server_disconnect_while_get_waits(eio_server):
    h = eio_server()
    hs = rc.handshake(h.url)
    poll = Background(rc.get, h.url, hs.sid)
    time.sleep(SETTLE)
    started = time.monotonic()
    Background(h.eio.disconnect, hs.sid).result(2)
    resp = poll.result(2)
    assert (resp.status, resp.body) == (200, b'1')
    assert time.monotonic() - started < 2
    assert h.wait_disconnect(hs.sid) == 'server disconnect'
    assert h.disconnect_reasons(hs.sid) == ['server disconnect']


def test_server_disconnect_without_waiting_get(eio_server):
    h = eio_server()
    hs = rc.handshake(h.url)
    Background(h.eio.disconnect, hs.sid).result(2)
    assert h.wait_disconnect(hs.sid) == 'server disconnect'
    resp = rc.get(h.url, hs.sid, timeout=5)
    assert (resp.status, resp.body) in [
        (200, b'1'), (400, json.dumps('Invalid session ' + hs.sid).encode())]


# ----------------------------------------------------------- bad POSTs
@pytest.mark.parametrize('size, delivered', [(100, True), (101, False)])
def test_post_size_limit(eio_server, size, delivered):
    h = eio_server(max_http_buffer_size=100)
    hs = rc.handshake(h.url)
    resp = rc.post(h.url, hs.sid, '4' + 'x' * (size - 1), timeout=5)
    if delivered:
        assert (resp.status, resp.body) == (200, b'ok')
        assert h.wait_messages(hs.sid, 1) == ['x' * 99]
    else:
        assert_error(resp, 413, 'Payload Too Large')
        assert h.wait_disconnect(hs.sid) == 'transport error'
        assert_no_messages(h, hs.sid)
        assert_session_gone(h.url, hs.sid)


def test_chunked_post_over_limit(eio_server):
    h = eio_server(max_http_buffer_size=100)
    hs = rc.handshake(h.url)
    chunks = (c for c in [b'4' + b'x' * 49] + [b'x' * 50] * 5)
    resp = rc.post(h.url, hs.sid, chunks, timeout=5)
    assert_error(resp, 413, 'Payload Too Large')
    assert h.wait_disconnect(hs.sid) == 'transport error'
    assert_no_messages(h, hs.sid)
    assert_session_gone(h.url, hs.sid)


def test_chunked_post_under_limit(eio_server):
    h = eio_server(max_http_buffer_size=100)
    hs = rc.handshake(h.url)
    resp = rc.post(h.url, hs.sid, (c for c in [b'4ab', b'cd', b'\x1e4e']), timeout=5)
    assert (resp.status, resp.body) == (200, b'ok')
    assert sorted(h.wait_messages(hs.sid, 2)) == ['abcd', 'e']


@pytest.mark.parametrize('bad', [
    b'abc', b'b!!', b'4\xff\xfeabc', b'0{}', b'2', b'2probe', b'6', b'7', b'8x', b'9',
], ids=lambda b: repr(b))
def test_malformed_post_closes_session(eio_server, bad):
    h = eio_server()
    hs = rc.handshake(h.url)
    resp = rc.post(h.url, hs.sid, b'4first\x1e' + bad + b'\x1e4last', timeout=5)
    assert_error(resp, 400, 'Bad Request')
    assert h.wait_disconnect(hs.sid) == 'transport error'
    assert_no_messages(h, hs.sid)
    assert_session_gone(h.url, hs.sid)


def test_concurrent_post_closes_session(eio_server):
    h = eio_server()
    hs = rc.handshake(h.url)
    slow = rc.open_partial_post(h.url, hs.sid, 20, b'4abc')
    try:
        time.sleep(SETTLE)
        resp = rc.post(h.url, hs.sid, '4second', timeout=5)
        assert_error(resp, 400, 'Bad Request')
    finally:
        slow.close()
    h.wait_disconnect(hs.sid)
    assert 'second' not in h.messages_of(hs.sid)
    assert_session_gone(h.url, hs.sid)


# ---------------------------------------------------------- heartbeat
def test_ping_pong_keeps_session(eio_server):
    h = eio_server(ping_interval=0.2, ping_timeout=0.4)
    hs = rc.handshake(h.url)
    for _ in range(3):
        started = time.monotonic()
        resp = rc.get(h.url, hs.sid, timeout=5)
        assert resp.body == b'2'
        assert 0.1 <= time.monotonic() - started < 1.5
        assert rc.post(h.url, hs.sid, '3').body == b'ok'
    assert h.disconnects.items == []
    h.eio.send(hs.sid, 'alive')
    assert rc.messages(rc.decode_payload(rc.get(h.url, hs.sid, timeout=5).body)) == ['alive']


@pytest.mark.parametrize('polls', [False, True], ids=['silent', 'no-pong'])
def test_ping_timeout(eio_server, polls):
    h = eio_server(ping_interval=0.2, ping_timeout=0.3)
    hs = rc.handshake(h.url)
    if polls:
        assert rc.get(h.url, hs.sid, timeout=5).body == b'2'
        resp = rc.get(h.url, hs.sid, timeout=5)
        assert (resp.status, resp.body) == (200, b'1')
    assert h.wait_disconnect(hs.sid, timeout=3) == 'ping timeout'


# ------------------------------------------------------------- upgrade
def test_upgrade_sequence(eio_server):
    h = eio_server(async_handlers=False)
    hs = rc.handshake(h.url)
    h.eio.send(hs.sid, 's1')
    assert rc.messages(rc.decode_payload(rc.get(h.url, hs.sid).body)) == ['s1']
    assert rc.post(h.url, hs.sid, rc.encode_payload(['4p1', '4p2'])).body == b'ok'
    poll = Background(rc.get, h.url, hs.sid)
    time.sleep(SETTLE)
    ws = rc.upgrade_probe(h.url, hs.sid)
    try:
        resp = poll.result()
        assert (resp.status, resp.body) == (200, b'6')
        h.eio.send(hs.sid, 's2')
        ws.send('5')
        h.eio.send(hs.sid, 's3')
        assert [ws.recv(), ws.recv()] == ['4s2', '4s3']
        assert h.eio.transport(hs.sid) == 'websocket'
        ws.send('4w1')
        ws.send(b'\x07\x08')
        assert h.wait_messages(hs.sid, 4) == ['p1', 'p2', 'w1', b'\x07\x08']
        assert h.messages.items[-1].transport == 'websocket'
        assert_error(rc.get(h.url, hs.sid), 400, 'Unexpected HTTP request')
        assert_error(rc.post(h.url, hs.sid, '4x'), 400, 'Unexpected HTTP request')
        assert_second_websocket_refused(h.url, hs.sid)
        h.eio.send(hs.sid, b'\x01')
        assert ws.recv() == b'\x01'
        ws.send('4still')
        assert h.wait_messages(hs.sid, 5)[-1] == 'still'
        assert h.disconnects.items == []
        ws.send('1')
        assert h.wait_disconnect(hs.sid) == 'client disconnect'
    finally:
        ws.close()


def assert_second_websocket_refused(url: str, sid: str) -> None:
    try:
        second = rc.RawWebSocket(url, sid=sid, timeout=5)
    except websocket.WebSocketBadStatusException as exc:
        assert exc.status_code == 400
        return
    try:
        second.send('2probe')
        assert '3probe' not in second.drain_until_closed(5)
    finally:
        second.close()


def test_upgrade_with_pending_server_messages(eio_server):
    h = eio_server(async_handlers=False)
    hs = rc.handshake(h.url)
    ws = rc.upgrade_probe(h.url, hs.sid)
    try:
        for i in range(5):
            h.eio.send(hs.sid, 'q%d' % i)
        # packets queued during the upgrade may still be polled, never lost
        polled = rc.messages(rc.decode_payload(rc.get(h.url, hs.sid).body))
        ws.send('5')
        framed = []
        while len(polled) + len(framed) < 5:
            framed.extend(rc.messages([ws.recv_packet()]))
        assert polled + framed == ['q%d' % i for i in range(5)]
    finally:
        ws.close()


# ----------------------------------------------------------- websocket
@pytest.mark.parametrize('ending, reason', [
    ('close packet', 'client disconnect'),
    ('socket close', 'transport close'),
])
def test_websocket_only_session(eio_server, ending, reason):
    h = eio_server(async_handlers=False, ping_interval=20, ping_timeout=10)
    ws, data = rc.websocket_open(h.url)
    try:
        assert set(data) == {'sid', 'upgrades', 'pingTimeout', 'pingInterval', 'maxPayload'}
        assert (data['upgrades'], data['pingInterval'], data['pingTimeout']) == ([], 20000, 10000)
        sid = data['sid']
        assert h.connects.wait()[0][0] == sid
        assert h.eio.transport(sid) == 'websocket'
        ws.send('4hello')
        ws.send(b'\x01\x02\x03')
        assert h.wait_messages(sid, 2) == ['hello', b'\x01\x02\x03']
        h.eio.send(sid, 'hi')
        h.eio.send(sid, b'\x00\xff')
        h.eio.send(sid, {'a': 1})
        assert [ws.recv(), ws.recv(), ws.recv()] == ['4hi', b'\x00\xff', '4{"a":1}']
        if ending == 'close packet':
            ws.send('1')
        else:
            ws.close()
        assert h.wait_disconnect(sid) == reason
    finally:
        ws.close()


def test_websocket_message_then_close(eio_server):
    h = eio_server()
    ws, data = rc.websocket_open(h.url)
    try:
        ws.send('4last words')  # the close frame follows at once
    finally:
        ws.close()
    assert h.wait_messages(data['sid'], 1) == ['last words']
    assert h.wait_disconnect(data['sid']) == 'transport close'


def test_websocket_connect_handler_messages_follow_open(eio_server):
    h = eio_server(on_connect=lambda harness, sid, environ: harness.eio.send(sid, 'welcome'))
    ws, data = rc.websocket_open(h.url)
    try:
        assert ws.recv() == '4welcome'
    finally:
        ws.close()


def test_websocket_ping_pong_and_timeout(eio_server):
    h = eio_server(ping_interval=0.2, ping_timeout=0.3)
    ws, data = rc.websocket_open(h.url)
    try:
        for _ in range(3):
            assert ws.recv(3) == '2'
            ws.send('3')
        assert h.disconnects.items == []
        assert ws.recv(3) == '2'
        ws.drain_until_closed(5)
        assert h.wait_disconnect(data['sid'], 3) == 'ping timeout'
    finally:
        ws.close()


@pytest.mark.parametrize('size, delivered', [(1000, True), (2000, False)])
def test_websocket_frame_size_limit(eio_server, size, delivered):
    h = eio_server(max_http_buffer_size=1000)
    ws, data = rc.websocket_open(h.url)
    sid = data['sid']
    try:
        ws.send('4' + 'x' * (size - 1))
        if delivered:
            assert h.wait_messages(sid, 1) == ['x' * (size - 1)]
        else:
            ws.drain_until_closed(5)
            assert h.wait_disconnect(sid) == 'transport close'
            assert_no_messages(h, sid)
    finally:
        ws.close()


# -------------------------------------------------------------- environ
#: a key only the environ of each e2e server's framework has
FRAMEWORK_KEYS = {'threading': 'wsgi.errors', 'asgi': 'asgi.scope',
                  'hypercorn': 'asgi.scope', 'aiohttp': 'aiohttp.request',
                  'tornado': 'tornado.handler', 'sanic': 'sanic.request'}


def test_connect_environ(eio_server, server_name):
    h = eio_server()
    url = urllib.parse.urlsplit(h.url)
    target = '/engine.io/?EIO=4&transport=polling&q=a%20b'
    conn = http.client.HTTPConnection(url.hostname, url.port,
                                      timeout=rc.DEFAULT_TIMEOUT)
    try:
        conn.connect()
        client_port = conn.sock.getsockname()[1]
        conn.putrequest('GET', target)
        conn.putheader('X-Custom', 'hello')
        conn.putheader('X-Twice', 'one')
        conn.putheader('X-Twice', 'two')
        conn.endheaders()
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    environ = h.connects.wait()[0][1]
    assert environ['REQUEST_METHOD'] == 'GET'
    assert environ['PATH_INFO'] == '/engine.io/'
    assert environ['QUERY_STRING'] == 'EIO=4&transport=polling&q=a%20b'
    assert environ['RAW_URI'] == target
    assert environ['SERVER_PROTOCOL'] == 'HTTP/1.1'
    assert environ['wsgi.url_scheme'] == 'http'
    # the real client address, not a placeholder
    assert (environ['REMOTE_ADDR'], str(environ['REMOTE_PORT'])) == (
        '127.0.0.1', str(client_port))
    assert str(environ['SERVER_PORT']) == str(url.port)
    assert environ['HTTP_HOST'] == url.netloc
    assert environ['HTTP_X_CUSTOM'] == 'hello'
    assert [v.strip() for v in environ['HTTP_X_TWICE'].split(',')] == ['one', 'two']
    assert FRAMEWORK_KEYS[server_name] in environ


def test_forwarded_proto_makes_https_origin_same_origin(eio_server, server_name):
    h = eio_server()
    origin = 'https://' + urllib.parse.urlsplit(h.url).netloc
    resp = rc.request(h.url, 'GET', POLLING,
                      headers={'Origin': origin, 'X-Forwarded-Proto': 'https'})
    assert resp.status == 200
    assert resp.header('Access-Control-Allow-Origin') == origin
    if server_name != 'threading':  # werkzeug's environ keeps its own scheme
        assert h.connects.wait()[0][1]['wsgi.url_scheme'] == 'https'


def test_websocket_environ_and_same_origin(eio_server):
    h = eio_server()
    ws, data = rc.websocket_open(h.url, headers={'Origin': h.url})
    ws.close()
    environ = h.connects.wait()[0][1]
    assert environ['REQUEST_METHOD'] == 'GET'
    assert environ['HTTP_UPGRADE'].lower() == 'websocket'
    assert environ['wsgi.url_scheme'] == 'http'
    assert environ['REMOTE_ADDR'] == '127.0.0.1'


def test_websocket_from_other_origin_refused(eio_server):
    h = eio_server()
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        rc.RawWebSocket(h.url, headers={'Origin': 'http://evil.example'})
    assert info.value.status_code == 400
    assert h.connects.items == []


# ----------------------------------------------------------------- CORS
def test_cors_same_origin_allowed(eio_server):
    h = eio_server()
    hs = rc.handshake(h.url, headers={'Origin': h.url})
    resp = hs.response
    assert resp.header('Access-Control-Allow-Origin') == h.url
    assert resp.header('Access-Control-Allow-Credentials') == 'true'
    assert 'Origin' in [v.strip() for v in ','.join(resp.header_values('Vary')).split(',')]


def test_cors_without_origin_has_no_allow_origin(eio_server):
    h = eio_server()
    assert rc.handshake(h.url).response.header('Access-Control-Allow-Origin') is None


@pytest.mark.parametrize('allowed, origin, ok', [
    ('http://a.example', 'http://a.example', True),
    ('http://a.example', 'http://b.example', False),
    (['http://a.example', 'http://b.example'], 'http://b.example', True),
    ('*', 'http://any.example', True),
    (lambda origin: origin.endswith('.good'), 'http://x.good', True),
    (lambda origin: origin.endswith('.good'), 'http://x.bad', False),
])
def test_cors_allowed_origins(eio_server, allowed, origin, ok):
    h = eio_server(cors_allowed_origins=allowed)
    resp = rc.request(h.url, 'GET', POLLING, headers={'Origin': origin})
    if ok:
        assert resp.status == 200
        assert resp.header('Access-Control-Allow-Origin') == origin
    else:
        assert_error(resp, 400, 'Not an accepted origin.')


def test_cors_disabled_with_empty_list(eio_server):
    h = eio_server(cors_allowed_origins=[])
    resp = rc.request(h.url, 'GET', POLLING, headers={'Origin': 'http://evil.example'})
    assert resp.status == 200
    assert resp.header('Access-Control-Allow-Origin') is None


def test_cors_without_credentials(eio_server):
    h = eio_server(cors_credentials=False)
    resp = rc.handshake(h.url, headers={'Origin': h.url}).response
    assert resp.header('Access-Control-Allow-Origin') == h.url
    assert resp.header('Access-Control-Allow-Credentials') is None


def test_cors_preflight(eio_server):
    h = eio_server(cors_allowed_origins='http://a.example')
    resp = rc.request(h.url, 'OPTIONS', POLLING, headers={
        'Origin': 'http://a.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,x-custom'})
    assert (resp.status, resp.body) == (200, b'ok')
    methods = {m.strip() for m in resp.header('Access-Control-Allow-Methods').split(',')}
    assert methods == {'OPTIONS', 'GET', 'POST'}
    assert resp.header('Access-Control-Allow-Headers') == 'content-type,x-custom'
    assert resp.header('Access-Control-Allow-Origin') == 'http://a.example'
    assert resp.header('Access-Control-Allow-Credentials') == 'true'
    assert h.connects.items == []


# --------------------------------------------------------------- cookie
def test_cookie_option(eio_server):
    h = eio_server(cookie='io')
    hs = rc.handshake(h.url)
    assert hs.response.header_values('Set-Cookie') == [
        'io={}; path=/; SameSite=Lax'.format(hs.sid)]
    h.eio.send(hs.sid, 'x')
    assert rc.get(h.url, hs.sid).header('Set-Cookie') is None


def test_no_cookie_by_default(eio_server):
    h = eio_server()
    assert rc.handshake(h.url).response.header('Set-Cookie') is None


# ---------------------------------------------------------- compression
@pytest.mark.parametrize('accept, encoding', [
    ('gzip', 'gzip'),
    ('deflate', 'deflate'),
    ('deflate, gzip', 'deflate'),
    ('gzip;q=1.0, deflate', 'gzip'),
    ('br, gzip', 'gzip'),
    ('br', None),
    (None, None),
])
def test_compression_above_threshold(eio_server, accept, encoding):
    h = eio_server()
    hs = rc.handshake(h.url)
    h.eio.send(hs.sid, 'x' * 2000)
    resp = rc.get(h.url, hs.sid, headers={'Accept-Encoding': accept} if accept else {})
    assert resp.status == 200
    assert resp.header('Content-Encoding') == encoding
    body = {'gzip': gzip.decompress, 'deflate': zlib.decompress,
            None: bytes}[encoding](resp.body)
    assert body == b'4' + b'x' * 2000


@pytest.mark.parametrize('options, size, compressed', [
    ({}, 500, False),
    ({'compression_threshold': 100}, 150, True),
    ({'http_compression': False}, 2000, False),
])
def test_compression_threshold(eio_server, options, size, compressed):
    h = eio_server(**options)
    hs = rc.handshake(h.url)
    h.eio.send(hs.sid, 'y' * size)
    resp = rc.get(h.url, hs.sid, headers={'Accept-Encoding': 'gzip'})
    assert resp.header('Content-Encoding') == ('gzip' if compressed else None)
    body = gzip.decompress(resp.body) if compressed else resp.body
    assert body == b'4' + b'y' * size
