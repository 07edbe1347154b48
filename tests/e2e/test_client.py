"""End-to-end tests of engineio.Client and engineio.AsyncClient, with one
body for both, against our server (threading mode) and the official
JavaScript engine.io server, over polling, WebSocket and the upgrade."""
from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import threading
import uuid
import time
from typing import Any, Callable, Dict, Iterator

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from engineio.exceptions import ConnectionError
from tests.support import jsserver, peers
from tests.support.clientdriver import make_driver

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(30)]

#: name -> (transports given to connect(), transport in use once connected)
MODES = {
    'polling': (['polling'], 'polling'),
    'websocket': (['websocket'], 'websocket'),
    'upgrade': (['polling', 'websocket'], 'websocket'),
}
#: The server's reason when the client disconnects. The JavaScript server
#: reports the end of the transport even though it got the CLOSE packet.
CLIENT_CLOSE_REASON = {'python': 'client disconnect', 'js': 'transport close'}
#: The server's own reason when it closes the session.
SERVER_CLOSE_REASON = {'python': 'server disconnect', 'js': 'forced close'}
BURST = peers.BURST


def server_close_seen_by_client(server_kind: str, mode: str) -> str:
    """The JavaScript server closes a WebSocket session by closing the
    WebSocket, without a CLOSE packet: the client sees a lost transport."""
    if server_kind == 'js' and MODES[mode][1] == 'websocket':
        return 'transport error'
    return 'server disconnect'


@pytest.fixture(scope='module')
def python_server() -> Iterator[peers.PeerServer]:
    with peers.in_process() as server:
        yield server


@pytest.fixture(scope='module')
def js_server() -> Iterator[peers.PeerServer]:
    with jsserver.start() as server:
        yield server


#: our asyncio server in each of its modes
ASYNC_PEERS = ['asgi', 'aiohttp', 'tornado', 'sanic']


@pytest.fixture(scope='module')
def async_servers() -> Iterator[Callable[[str], peers.PeerServer]]:
    """Our asyncio server in a given mode, started on first use."""
    started: Dict[str, peers.PeerServer] = {}
    with contextlib.ExitStack() as stack:
        def get(name: str) -> peers.PeerServer:
            if name not in started:
                started[name] = stack.enter_context(
                    peers.in_process_async(name))
            return started[name]
        yield get


@pytest.fixture(params=['python'] + ASYNC_PEERS + ['js'])
def server(request: Any) -> peers.PeerServer:
    """Our threading server, our asyncio server in every mode, and the
    official JavaScript server."""
    if request.param in ASYNC_PEERS:
        return request.getfixturevalue('async_servers')(request.param)
    return request.getfixturevalue(request.param + '_server')


@pytest.fixture(params=['sync', 'async'])
def kind(request: Any) -> str:
    return request.param


@pytest.fixture
def drivers(kind: str) -> Iterator[Any]:
    """Factory of client drivers of the test's kind, closed at the end."""
    made = []

    def factory(**options: Any) -> Any:
        driver = make_driver(kind, **options)
        made.append(driver)
        return driver

    yield factory
    for driver in made:
        driver.close()


def start_process_server(server_kind: str, options: Any = None) -> peers.ProcessServer:
    if server_kind == 'js':
        return jsserver.start(options)
    return peers.python_process(options)


def connect(driver: Any, server: peers.PeerServer, mode: str, **kwargs: Any) -> str:
    driver.connect(server.url, transports=MODES[mode][0], **kwargs)
    return driver.sid


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------ connect, close
@pytest.mark.parametrize('mode', sorted(MODES))
def test_connect_and_client_close(drivers, server, mode):
    c = drivers()
    sid = connect(c, server, mode, headers={'X-Custom': 'hello'})
    assert c.state == 'connected'
    assert c.transport() == MODES[mode][1]
    assert c.connects.items == ['connected']
    connection = server.connection(sid)
    assert connection['transport'] == MODES[mode][0][0]
    assert connection['headers']['x-custom'] == 'hello'
    time.sleep(0.2)  # a long poll (or a WebSocket read) is now in flight
    started = time.monotonic()
    c.disconnect()
    assert time.monotonic() - started < 2.0
    assert c.disconnects.items == [('client disconnect', 'disconnecting')]
    assert (c.state, c.sid) == ('disconnected', None)
    assert c.wait(1.0)
    # the CLOSE reached the server at once (no waiting for a ping timeout)
    assert server.wait_close(sid, timeout=2.0) == CLIENT_CLOSE_REASON[server.kind]
    c.disconnect()  # a second disconnect does nothing
    assert len(c.disconnects.items) == 1


@pytest.mark.parametrize('mode', sorted(MODES))
def test_server_close(drivers, server, mode):
    c = drivers()
    sid = connect(c, server, mode)
    c.send('close')
    assert c.wait(5.0)
    reason = server_close_seen_by_client(server.kind, mode)
    # python-socketio reconnects only when the state is still 'connected'
    expected_state = 'connected' if reason == 'transport error' else 'disconnecting'
    assert c.disconnects.items == [(reason, expected_state)]
    assert (c.state, c.sid) == ('disconnected', None)
    assert server.wait_close(sid) == SERVER_CLOSE_REASON[server.kind]
    # the client can connect again
    sid2 = connect(c, server, mode)
    assert sid2 != sid and c.state == 'connected'
    c.disconnect()


def test_connect_twice_and_bad_arguments(drivers, python_server):
    c = drivers()
    with pytest.raises(ValueError, match='No valid transports provided'):
        c.connect(python_server.url, transports=['carrier-pigeon'])
    assert c.state == 'disconnected'
    c.connect(python_server.url)
    with pytest.raises(ValueError, match='Client is not in a disconnected state'):
        c.connect(python_server.url)
    c.disconnect()


# ----------------------------------------------------------------- messages
@pytest.mark.parametrize('mode', sorted(MODES))
def test_messages_both_ways(drivers, server, mode):
    c = drivers()
    sid = connect(c, server, mode)
    sent = ['hello', 'é ✓', b'\x00\x01\x02\xff', {'a': [1, 'b']}, [1, 2, {'c': None}], '']
    for data in sent:
        c.send(data)
    assert c.wait_messages(len(sent)) == sent
    received = server.wait_messages(sid, len(sent))
    if server.kind == 'python':
        assert received == sent
    else:  # engine.io keeps text as text: dicts and lists arrive as JSON
        assert received[:3] == sent[:3]
        assert received[3:] == ['{"a":[1,"b"]}', '[1,2,{"c":null}]', None]
    c.disconnect()


@pytest.mark.parametrize('mode', sorted(MODES))
def test_bursts_in_order(drivers, server, mode):
    c = drivers()
    sid = connect(c, server, mode)
    for i in range(BURST):
        c.send('m%d' % i)
    assert server.wait_messages(sid, BURST) == ['m%d' % i for i in range(BURST)]
    c.send('burst')
    expected = ['m%d' % i for i in range(BURST)] + ['b%d' % i for i in range(BURST)]
    assert c.wait_messages(2 * BURST) == expected
    c.disconnect()


def test_send_is_dropped_unless_connected(drivers, python_server):
    c = drivers()
    c.send('nobody is listening')
    sid = connect(c, python_server, 'polling')
    c.disconnect()
    c.send('too late')
    time.sleep(0.2)
    assert python_server.messages(sid) == []


# ------------------------------------------------------------ handlers
def test_slow_handler_waiting_for_a_later_message(drivers, python_server):
    """A handler that waits for a later message (python-socketio's call()
    from an event handler does) is not a deadlock; handlers start in order."""
    c = drivers()
    second = threading.Event()
    started = []

    async def wait_async() -> None:
        for _ in range(500):
            if second.is_set():
                return
            await asyncio.sleep(0.01)

    def on_message(data):
        started.append(data)
        if data != 'first':
            second.set()
        elif c.kind == 'async':
            return wait_async()
        else:
            second.wait(5.0)

    c.on_message = on_message
    connect(c, python_server, 'websocket')
    c.send('first')
    c.send('second')
    assert c.wait_messages(2) == ['first', 'second']
    assert second.wait(5.0)
    assert started == ['first', 'second']
    c.disconnect()


def test_disconnect_from_a_message_handler(drivers, python_server):
    c = drivers()
    c.on_message = lambda data: c.client.disconnect()  # a coroutine if async
    sid = connect(c, python_server, 'upgrade')
    c.send('bye')
    assert c.wait(5.0)
    assert c.disconnects.items == [('client disconnect', 'disconnecting')]
    assert python_server.wait_close(sid) == 'client disconnect'


@pytest.mark.parametrize('mode', ['polling', 'websocket'])
def test_connect_handler_failure(drivers, python_server, mode):
    c = drivers()

    def fail():
        raise RuntimeError('no thanks')

    c.client.on('connect', fail)
    with pytest.raises(ConnectionError) as info:
        c.connect(python_server.url, transports=[mode])
    assert info.value.args == ('Connect handler failed: no thanks',)
    assert c.state == 'disconnected'
    assert c.disconnects.items == []
    sid = python_server.events.all('connection')[-1]['sid']
    assert python_server.wait_close(sid) == 'client disconnect'


# ------------------------------------------------------------ lost servers
@pytest.mark.parametrize('mode', sorted(MODES))
@pytest.mark.parametrize('server_kind', ['python', 'js'])
def test_server_killed(drivers, server_kind, mode):
    with start_process_server(server_kind) as server:
        c = drivers()
        connect(c, server, mode)
        c.send('ping me')
        assert c.wait_messages(1) == ['ping me']
        server.kill()
        assert c.wait(5.0)
    assert c.disconnects.items == [('transport error', 'connected')]
    assert (c.state, c.sid) == ('disconnected', None)
    time.sleep(0.2)
    assert len(c.disconnects.items) == 1


@pytest.mark.parametrize('mode', ['polling', 'websocket'])
def test_silent_server_is_noticed(drivers, server_kind_js_or_python, mode):
    """No PING within pingInterval + pingTimeout ends the session."""
    server_kind = server_kind_js_or_python
    options = {'ping_interval': 0.4, 'ping_timeout': 0.4}
    with start_process_server(server_kind, options) as server:
        c = drivers()
        connect(c, server, mode)
        time.sleep(0.6)  # a few pings went by
        assert c.state == 'connected'
        server.proc.send_signal(signal.SIGSTOP)  # the server goes silent
        try:
            started = time.monotonic()
            assert c.wait(5.0)
            elapsed = time.monotonic() - started
        finally:
            server.proc.send_signal(signal.SIGCONT)  # so that it can exit
    assert c.disconnects.items == [('transport error', 'connected')]
    assert elapsed < 2.0


@pytest.fixture(params=['python', 'js'])
def server_kind_js_or_python(request: Any) -> str:
    return request.param


# ------------------------------------------------------------ failures
@pytest.mark.parametrize('transports', [['polling'], ['websocket']])
def test_connection_refused(drivers, transports):
    c = drivers()
    with pytest.raises(ConnectionError) as info:
        c.connect('http://127.0.0.1:%d' % free_port(), transports=transports)
    assert info.value.args[0]
    assert c.state == 'disconnected' and c.sid is None
    assert c.connects.items == [] and c.disconnects.items == []


@pytest.mark.parametrize('server_kind', ['python', 'js'])
def test_rejected_with_json_body(drivers, server_kind):
    with start_process_server(server_kind, {'reject': {'why': 'nope'} if server_kind == 'python'
                                            else 'nope'}) as server:
        c = drivers()
        with pytest.raises(ConnectionError) as info:
            c.connect(server.url)
        if server_kind == 'python':
            assert info.value.args == ('Unexpected status code 401 in server response',
                                       {'why': 'nope'})
        else:
            assert info.value.args == ('Unexpected status code 403 in server response',
                                       {'code': 4, 'message': 'nope'})
        assert c.state == 'disconnected'
        with pytest.raises(ConnectionError) as info:
            c.connect(server.url, transports=['websocket'])
        assert info.value.args[0].startswith('Unexpected status code 4')
        assert c.connects.items == []


def test_unexpected_status(drivers, server):
    c = drivers()
    with pytest.raises(ConnectionError) as info:
        c.connect(server.url, engineio_path='not-engine-io')
    assert info.value.args == ('Unexpected status code 404 in server response', None)
    assert c.state == 'disconnected'


def test_error_status_with_a_json_string_body(drivers):
    with peers.in_process({'transports': ['websocket']}) as server:
        c = drivers()
        with pytest.raises(ConnectionError) as info:
            c.connect(server.url, transports=['polling'])
    assert info.value.args == ('Unexpected status code 400 in server response',
                               'Invalid transport')


def test_upgrade_refused_stays_on_polling(drivers):
    with peers.in_process({'allow_upgrades': False}) as server:
        c = drivers()
        sid = connect(c, server, 'upgrade')
        assert c.transport() == 'polling'
        c.send('still here')
        assert c.wait_messages(1) == ['still here']
        c.disconnect()
        assert server.wait_close(sid) == 'client disconnect'


# ------------------------------------------------------------ requests
def tagged_requests(server: peers.InProcessServer, tag: str) -> Any:
    """The requests that carried the header ``X-Tag: <tag>``."""
    return [r for r in server.events.all('request') if r['headers'].get('x-tag') == tag]


#: (method, transport) of the requests a session makes in each mode
REQUEST_KINDS = {
    'polling': {('GET', 'polling'), ('POST', 'polling')},
    'websocket': {('GET', 'websocket')},
    'upgrade': {('GET', 'polling'), ('GET', 'websocket')},
}


@pytest.mark.parametrize('mode', sorted(MODES))
def test_headers_on_every_request(drivers, python_server, mode):
    tag = uuid.uuid4().hex
    c = drivers()
    sid = connect(c, python_server, mode, headers={'X-Tag': tag})
    c.send('ping me')
    assert c.wait_messages(1) == ['ping me']
    c.disconnect()
    python_server.wait_close(sid)
    tagged = tagged_requests(python_server, tag)
    assert {(r['method'], r['query']['transport']) for r in tagged} == REQUEST_KINDS[mode]
    assert all(r in tagged for r in python_server.requests(sid))


@pytest.mark.parametrize('timestamps', [True, False])
@pytest.mark.parametrize('mode', sorted(MODES))
def test_timestamp_requests(drivers, python_server, timestamps, mode):
    tag = uuid.uuid4().hex
    c = drivers(timestamp_requests=timestamps)
    sid = connect(c, python_server, mode, headers={'X-Tag': tag})
    c.send('x')
    assert c.wait_messages(1) == ['x']
    c.disconnect()
    python_server.wait_close(sid)
    tagged = tagged_requests(python_server, tag)
    assert {(r['method'], r['query']['transport']) for r in tagged} == REQUEST_KINDS[mode]
    for r in tagged:
        if r['method'] == 'GET' and timestamps:
            assert float(r['query']['t']) > 1e9
        else:
            assert 't' not in r['query']


# ------------------------------------------------------------ TLS
@pytest.fixture(scope='module')
def certificate(tmp_path_factory: Any) -> Any:
    """A self-signed certificate for 127.0.0.1: (certfile, keyfile)."""
    folder = tmp_path_factory.mktemp('tls')
    cert, key = str(folder / 'cert.pem'), str(folder / 'key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
                    '-days', '1', '-subj', '/CN=127.0.0.1',
                    '-addext', 'subjectAltName=IP:127.0.0.1'],
                   check=True, capture_output=True, timeout=30)
    return cert, key


@pytest.fixture(scope='module')
def tls_js_server(certificate: Any) -> Iterator[peers.PeerServer]:
    cert, key = certificate
    with jsserver.start({'tls': {'cert': cert, 'key': key}}) as server:
        yield server


@pytest.fixture(scope='module')
def tls_python_server(certificate: Any) -> Iterator[peers.PeerServer]:
    """Our peer server behind werkzeug with TLS, for polling only: with a
    WebSocket, werkzeug's connection thread and simple-websocket's reader
    can both read the TLS socket when the WebSocket ends, which may crash
    the process."""
    server = peers.PeerServer()
    server.kind = 'python'
    app = peers.build_app({'transports': ['polling']}, server.events.add)
    httpd = make_server('127.0.0.1', 0, app, threaded=True, ssl_context=certificate,
                        request_handler=_QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.05},
                              daemon=True)
    thread.start()
    server.url = 'https://127.0.0.1:%d' % httpd.server_port
    try:
        yield server
    finally:
        httpd.shutdown()
        thread.join(5)
        httpd.server_close()
        app.eio.shutdown()


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.mark.filterwarnings('ignore:Unverified HTTPS request')
@pytest.mark.parametrize('server_kind, mode', [
    ('js', 'polling'), ('js', 'websocket'), ('js', 'upgrade'), ('python', 'polling')])
def test_tls_without_verification(request, drivers, server_kind, mode):
    server = request.getfixturevalue('tls_%s_server' % server_kind)
    c = drivers(ssl_verify=False)
    sid = connect(c, server, mode)
    assert c.transport() == MODES[mode][1]
    c.send('secret')
    assert c.wait_messages(1) == ['secret']
    c.disconnect()
    assert server.wait_close(sid) == CLIENT_CLOSE_REASON[server_kind]


@pytest.mark.parametrize('transports', [['polling'], ['websocket']])
def test_tls_verification_fails_on_a_self_signed_certificate(drivers, tls_js_server,
                                                            transports):
    c = drivers()
    with pytest.raises(ConnectionError):
        c.connect(tls_js_server.url, transports=transports)
    assert c.state == 'disconnected'
