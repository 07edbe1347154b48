"""End-to-end tests of the server, in every mode (see conftest.py), with the
official JavaScript engine.io-client (npm) running under Node as an
independent peer."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import SERVER_MODES
from tests.support import Background, procservers
from tests.support.jsclient import JsClient, run

pytestmark = [pytest.mark.e2e, pytest.mark.js, pytest.mark.timeout(30)]

#: name -> (client transports, upgrade, transport the session ends up on)
MODES = {
    'polling': (['polling'], False, 'polling'),
    'websocket': (['websocket'], False, 'websocket'),
    'upgrade': (['polling', 'websocket'], True, 'websocket'),
}
#: Server-side reason when the JS client calls close(): over polling the
#: client POSTs a CLOSE packet; over WebSocket engine.io-client just closes
#: the WebSocket without one, which the server can only see as a dropped
#: transport (the official engine.io server reports the same).
CLIENT_CLOSE_REASON = {'polling': 'client disconnect', 'websocket': 'transport close'}
BURST = 100


def config(harness, mode, script, timeout=15000):
    """Client config for ``mode``; the script starts once the socket is open
    (and, in upgrade mode, upgraded)."""
    transports, upgrade, _ = MODES[mode]
    start = [{'waitOpen': 5000}]
    if upgrade:
        start.append({'waitUpgrade': 5000})
    return {'url': harness.url, 'path': '/engine.io', 'transports': transports,
            'upgrade': upgrade, 'timeout': timeout, 'script': start + script}


def client_close_reason(mode):
    return CLIENT_CLOSE_REASON[MODES[mode][2]]


@pytest.fixture(params=sorted(SERVER_MODES) + sorted(procservers.SERVERS))
def server_name(request):
    """Every e2e server: the in-process ones of conftest.py, and eventlet,
    gevent, gunicorn and uWSGI in their own process."""
    return request.param


@pytest.mark.parametrize('mode', sorted(MODES))
def test_open_and_transport(eio_server, mode):
    h = eio_server()
    client = run(config(h, mode, [{'close': True}, {'waitClose': 5000}]))
    opened = client.named('open')
    assert len(opened) == 1
    assert opened[0]['transport'] == MODES[mode][0][0]
    assert h.connects.wait()[0][0] == opened[0]['sid']
    upgrades = client.named('upgrade')
    assert upgrades == ([{'event': 'upgrade', 'transport': 'websocket'}]
                        if mode == 'upgrade' else [])
    assert h.wait_disconnect(opened[0]['sid']) == client_close_reason(mode)


@pytest.mark.parametrize('mode', sorted(MODES))
def test_echo_text_and_binary(eio_server, mode):
    h = eio_server(echo=True, async_handlers=False)
    client = run(config(h, mode, [
        {'send': 'hello'}, {'sendBinary': [0, 1, 2, 255]}, {'send': 'é ✓'},
        {'expect': {'count': 3, 'timeout': 5000}},
        {'close': True}, {'waitClose': 5000}]))
    sid = client.named('open')[0]['sid']
    assert client.messages() == ['hello', b'\x00\x01\x02\xff', 'é ✓']
    assert h.messages_of(sid) == ['hello', b'\x00\x01\x02\xff', 'é ✓']
    final_transport = MODES[mode][2]
    assert [m.transport for m in h.messages.items] == [final_transport] * 3
    assert h.wait_disconnect(sid) == client_close_reason(mode)


@pytest.mark.parametrize('mode', sorted(MODES))
def test_bursts_both_ways(eio_server, mode):
    h = eio_server(async_handlers=False, burst='burst')
    client = run(config(h, mode, [
        {'sendBurst': {'count': BURST, 'prefix': 'm'}},
        {'send': 'burst'},
        {'expect': {'count': BURST, 'timeout': 5000}},
        {'close': True}, {'waitClose': 5000}]))
    sid = client.named('open')[0]['sid']
    assert client.messages() == ['b%d' % i for i in range(BURST)]
    assert h.wait_messages(sid, BURST + 1) == ['m%d' % i for i in range(BURST)] + ['burst']
    assert h.wait_disconnect(sid) == client_close_reason(mode)


@pytest.mark.parametrize('mode', sorted(MODES))
def test_server_disconnect(eio_server, mode):
    h = eio_server()
    with JsClient(config(h, mode, [{'waitClose': 10000}])) as client:
        if mode == 'upgrade':
            client.wait_event('upgrade')
        sid = client.wait_event('open')['sid']
        Background(h.eio.disconnect, sid).result(2)
        client.finish()
    closes = client.named('close')
    assert len(closes) == 1
    assert h.wait_disconnect(sid) == 'server disconnect'
    assert h.disconnect_reasons(sid) == ['server disconnect']


@pytest.mark.parametrize('mode', sorted(MODES))
def test_server_detects_ping_timeout(eio_server, mode):
    h = eio_server(ping_interval=0.2, ping_timeout=0.3)
    client = run(config(h, mode, [{'stopPong': True}, {'waitClose': 5000}]))
    sid = client.named('open')[0]['sid']
    assert h.wait_disconnect(sid) == 'ping timeout'
    assert len(client.named('close')) == 1


@pytest.mark.parametrize('mode', sorted(MODES))
def test_pings_keep_session_alive(eio_server, mode):
    h = eio_server(ping_interval=0.2, ping_timeout=0.3, echo=True)
    client = run(config(h, mode, [
        {'sleep': 1000}, {'send': 'still here'},
        {'expect': {'count': 1, 'timeout': 3000}},
        {'close': True}, {'waitClose': 5000}]))
    sid = client.named('open')[0]['sid']
    assert client.messages() == ['still here']
    assert h.wait_disconnect(sid) == client_close_reason(mode)


#: servers whose WebSocket handshake is done before the application runs
#: (gevent-websocket's handler): a refused WebSocket connect can then only
#: be a closed connection, not an HTTP 401
UPGRADE_BEFORE_APP = {'gevent', 'gunicorn-geventwebsocket'}


@pytest.mark.parametrize('mode', ['polling', 'websocket'])
def test_connect_rejected(eio_server, server_name, mode):
    h = eio_server(reject={'message': 'nope'})
    if mode == 'websocket' and server_name in UPGRADE_BEFORE_APP:
        client = run({'url': h.url, 'transports': ['websocket'],
                      'upgrade': False, 'timeout': 10000,
                      'script': [{'waitClose': 5000}]})
        assert client.named('open') == []
        assert h.connects.wait() and h.messages.items == []
        return
    client = run({'url': h.url, 'transports': MODES[mode][0], 'upgrade': False,
                  'timeout': 10000, 'script': [{'waitError': 5000}, {'waitClose': 5000}]})
    assert client.named('open') == []
    errors = client.named('error')
    assert len(errors) == 1
    if mode == 'polling':
        assert errors[0]['description'] == 401
    else:
        assert '401' in errors[0]['description']
    assert h.connects.wait()
    assert h.messages.items == []
