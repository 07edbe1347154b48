"""The gevent_uwsgi mode under a real uWSGI: WebSocket connections go
through uWSGI's own WebSocket API, and through simple-websocket for a
request that asks for a subprotocol.

Which one answered shows in the handshake: uWSGI's answers with its own
reason phrase and a ``Sec-WebSocket-Origin`` header, simple-websocket's
with ``Switching Protocols`` and neither header.
"""
from __future__ import annotations

import struct
from typing import Any, Iterator

import pytest
import websocket

from tests.support import procservers
from tests.support import rawclient as rc

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


@pytest.fixture(scope='module')
def uwsgi_server() -> Iterator[Any]:
    why = procservers.unavailable('uwsgi')
    if why:
        pytest.skip(why)
    harness = procservers.start('uwsgi', echo=True)
    try:
        yield harness
    finally:
        harness.stop()


def answered_by_uwsgi(ws: rc.RawWebSocket) -> bool:
    return 'sec-websocket-origin' in ws.ws.getheaders()


def echo_round(harness: Any, ws: rc.RawWebSocket, sid: str) -> None:
    """Text and binary messages both ways, each keeping its type (a binary
    frame that looks like a text packet too)."""
    ws.send('4hello')
    assert ws.recv() == '4hello'
    ws.send(b'4hello')
    assert ws.recv() == b'4hello'
    ws.send(b'\x00\xff')
    assert ws.recv() == b'\x00\xff'
    assert harness.wait_messages(sid, 3) == ['hello', b'4hello', b'\x00\xff']


def test_websocket_goes_through_uwsgi_api(uwsgi_server):
    ws, data = rc.websocket_open(uwsgi_server.url)
    try:
        assert answered_by_uwsgi(ws)
        echo_round(uwsgi_server, ws, data['sid'])
        uwsgi_server.eio.send(data['sid'], 'from the server')
        assert ws.recv() == '4from the server'
    finally:
        ws.close()
    assert uwsgi_server.wait_disconnect(data['sid']) == 'transport close'


def test_subprotocol_request_falls_back_to_simple_websocket(uwsgi_server):
    ws, data = rc.websocket_open(uwsgi_server.url,
                                 headers={'Sec-WebSocket-Protocol': 'chat'})
    try:
        assert not answered_by_uwsgi(ws)
        assert 'sec-websocket-protocol' not in ws.ws.getheaders()
        echo_round(uwsgi_server, ws, data['sid'])
    finally:
        ws.close()
    assert uwsgi_server.wait_disconnect(data['sid']) == 'transport close'


def test_client_ping_is_answered(uwsgi_server):
    ws, data = rc.websocket_open(uwsgi_server.url)
    try:
        ws.ws.ping(b'anyone')
        opcode, payload = ws.ws.recv_data(control_frame=True)
        assert (opcode, payload) == (websocket.ABNF.OPCODE_PONG, b'anyone')
        ws.send('4still here')
        assert ws.recv() == '4still here'
    finally:
        ws.close()


def test_upgrade_from_polling_goes_through_uwsgi_api(uwsgi_server):
    sid = rc.handshake(uwsgi_server.url).sid
    ws = rc.upgrade_probe(uwsgi_server.url, sid)
    try:
        assert answered_by_uwsgi(ws)
        ws.send('5')
        echo_round(uwsgi_server, ws, sid)
    finally:
        ws.close()


def test_server_disconnect_closes_with_a_close_frame(uwsgi_server):
    ws, data = rc.websocket_open(uwsgi_server.url)
    uwsgi_server.eio.disconnect(data['sid'])
    assert ws.recv() == '1'
    ws.ws.settimeout(5)
    frame = ws.ws.recv_frame()
    assert frame.opcode == websocket.ABNF.OPCODE_CLOSE
    assert struct.unpack('!H', frame.data[:2])[0] == 1000
    ws.ws.send_close()
    assert uwsgi_server.wait_disconnect(data['sid']) == 'server disconnect'


def test_message_over_the_limit_is_refused_with_1009(uwsgi_server):
    ws, data = rc.websocket_open(uwsgi_server.url)
    ws.send('4' + 'x' * 1_000_000)
    ws.ws.settimeout(5)
    frame = ws.ws.recv_frame()
    assert frame.opcode == websocket.ABNF.OPCODE_CLOSE
    assert struct.unpack('!H', frame.data[:2])[0] == 1009
    assert uwsgi_server.wait_disconnect(data['sid']) == 'transport close'
