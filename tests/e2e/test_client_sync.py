"""End-to-end tests of what only engineio.Client has: requests sessions,
websocket-client options and the process-wide SIGINT handler. The behaviour
it shares with AsyncClient is tested in test_client.py."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any, Iterator

import pytest
import requests

import engineio
from tests.support import peers
from tests.support.clientdriver import SyncDriver

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(30)]


@pytest.fixture(scope='module')
def server() -> Iterator[peers.InProcessServer]:
    with peers.in_process({'cookie': 'io'}) as server:
        yield server


@pytest.fixture
def driver() -> Iterator[SyncDriver]:
    d = SyncDriver()
    yield d
    d.close()


class CountingSession(requests.Session):
    """A requests session that counts how often it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = 0

    def close(self) -> None:
        self.closed += 1
        super().close()


def websocket_request(server: peers.InProcessServer, sid: str) -> Any:
    return [r for r in server.requests(sid) if r['query']['transport'] == 'websocket'][0]


def test_http_session_object_is_used_and_kept(server):
    session = CountingSession()
    session.headers['X-From-Session'] = 'yes'
    session.auth = ('user', 'secret')
    d = SyncDriver(http_session=session)
    d.connect(server.url, headers={'Cookie': 'app=1'})
    sid = d.sid
    assert d.client.http is session
    assert d.transport() == 'websocket'
    handshake = server.connection(sid)
    assert handshake['headers']['x-from-session'] == 'yes'
    assert handshake['headers']['authorization'].startswith('Basic ')
    # the session's cookies (the server's sid cookie), its basic
    # authentication and connect()'s Cookie header reach the WebSocket
    ws = websocket_request(server, sid)
    assert set(ws['headers']['cookie'].split('; ')) == {'app=1', 'io=' + sid}
    assert ws['headers']['authorization'] == handshake['headers']['authorization']
    d.client.disconnect()
    assert d.client.http is session and session.closed == 0
    d.connect(server.url)
    sid2 = d.sid
    assert sid2 != sid and d.client.http is session
    d.client.disconnect()
    assert session.closed == 0


def test_http_session_factory_is_called_per_connection(server):
    made = []

    def factory() -> CountingSession:
        made.append(CountingSession())
        return made[-1]

    d = SyncDriver(http_session=factory)
    assert made == [] and d.client.http is None
    d.connect(server.url, transports=['polling'])
    assert len(made) == 1 and d.client.http is made[0]
    d.send('hi')
    assert d.wait_messages(1) == ['hi']
    d.disconnect()
    assert made[0].closed == 1 and d.client.http is None
    d.connect(server.url, transports=['polling'])
    assert len(made) == 2
    d.disconnect()
    assert made[1].closed == 1


@pytest.mark.parametrize('extra', [{'header': {'X-Extra': 'ws'}},
                                   {'header': ['X-Extra: ws']}])
def test_websocket_extra_options_are_used_and_not_changed(server, extra):
    original = {key: (value.copy() if hasattr(value, 'copy') else value)
                for key, value in extra.items()}
    d = SyncDriver(websocket_extra_options=extra)
    for _ in range(2):  # the options survive a reconnection
        d.connect(server.url, headers={'X-Custom': 'all'})
        sid = d.sid
        ws = websocket_request(server, sid)
        assert ws['headers']['x-extra'] == 'ws'
        assert ws['headers']['x-custom'] == 'all'
        d.disconnect()
    assert extra == original


def test_disconnect_abort(driver, server):
    driver.connect(server.url, transports=['websocket'])
    sid = driver.sid
    driver.disconnect(abort=True)
    assert driver.disconnects.items == [('client disconnect', 'disconnecting')]
    assert driver.state == 'disconnected'
    assert server.wait_close(sid) in ('client disconnect', 'transport close')


def test_background_tasks_and_primitives():
    c = engineio.Client(handle_sigint=False)
    results = []
    th = c.start_background_task(results.append, 42)
    th.join(5)
    assert results == [42] and th.daemon
    q = c.create_queue()
    with pytest.raises(c.get_queue_empty_exception()):
        q.get(timeout=0.01)
    event = c.create_event()
    assert not event.is_set()
    c.sleep(0)
    assert c.transport() is None and c.sid is None and c.state == 'disconnected'
    c.wait()  # returns at once without a connection


CHILD = textwrap.dedent('''
    import sys
    import engineio

    client = engineio.Client()
    client.on('disconnect', lambda reason: print('disconnect', reason, flush=True))
    client.connect(sys.argv[1], transports=[sys.argv[2]])
    print('connected', client.sid, flush=True)
    try:
        client.wait()
        print('wait returned', client.state, flush=True)
    except KeyboardInterrupt:
        print('interrupted', client.state, flush=True)
''')


@pytest.mark.parametrize('transport', ['polling', 'websocket'])
def test_sigint_disconnects_cleanly(server, transport):
    env = dict(os.environ, PYTHONPATH=peers.REPO)
    proc = subprocess.Popen([sys.executable, '-c', CHILD, server.url, transport],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)
    try:
        first = proc.stdout.readline().split()
        assert first[0] == 'connected', proc.stderr.read()
        sid = first[1]
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert out.splitlines() == ['disconnect client disconnect', 'interrupted disconnected'], err
    assert proc.returncode == 0, err
    assert server.wait_close(sid) == 'client disconnect'
