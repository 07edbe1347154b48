"""End-to-end tests of what only engineio.AsyncClient has: aiohttp sessions
and options, and the SIGINT handler on the event loop. The behaviour it
shares with Client is tested in test_client.py."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any, Iterator

import aiohttp
import pytest

import engineio
from tests.support import peers
from tests.support.clientdriver import AsyncDriver, in_loop

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(30)]


@pytest.fixture(scope='module')
def server() -> Iterator[peers.InProcessServer]:
    with peers.in_process({'cookie': 'io'}) as server:
        yield server


@pytest.fixture
def drivers() -> Iterator[Any]:
    made = []

    def factory(**options: Any) -> AsyncDriver:
        made.append(AsyncDriver(**options))
        return made[-1]

    yield factory
    for driver in made:
        driver.close()


def websocket_request(server: peers.InProcessServer, sid: str) -> Any:
    return [r for r in server.requests(sid) if r['query']['transport'] == 'websocket'][0]


def test_http_session_object_is_used_and_kept(drivers, server):
    def make() -> aiohttp.ClientSession:
        # unsafe: the jar keeps cookies of IP addresses such as 127.0.0.1
        return aiohttp.ClientSession(headers={'X-From-Session': 'yes'},
                                     cookie_jar=aiohttp.CookieJar(unsafe=True))

    d = drivers(http_session=in_loop(make))
    session = d.client.http
    d.connect(server.url, headers={'Cookie': 'app=1'})
    sid = d.sid
    assert d.transport() == 'websocket'
    assert server.connection(sid)['headers']['x-from-session'] == 'yes'
    # the session's cookie jar (the server's sid cookie) and connect()'s
    # Cookie header reach the WebSocket
    cookies = set(websocket_request(server, sid)['headers']['cookie'].split('; '))
    assert cookies == {'app=1', 'io=' + sid}
    d.disconnect()
    assert d.client.http is session and not session.closed
    d.connect(server.url)
    assert d.client.http is session
    d.disconnect()
    assert not session.closed
    d.run(session.close())


@pytest.mark.parametrize('awaitable', [False, True])
def test_http_session_factory_is_called_per_connection(drivers, server, awaitable):
    made = []

    def factory() -> Any:
        made.append(aiohttp.ClientSession())
        if not awaitable:
            return made[-1]
        future = asyncio.get_running_loop().create_future()
        future.set_result(made[-1])
        return future

    d = drivers(http_session=factory)
    assert made == [] and d.client.http is None
    d.connect(server.url, transports=['polling'])
    assert len(made) == 1 and d.client.http is made[0]
    d.send('hi')
    assert d.wait_messages(1) == ['hi']
    d.disconnect()
    assert made[0].closed and d.client.http is None
    d.connect(server.url, transports=['polling'])
    assert len(made) == 2
    d.disconnect()
    assert made[1].closed


def test_websocket_extra_options_are_used_and_not_changed(drivers, server):
    extra = {'headers': {'X-Extra': 'ws'}, 'heartbeat': 30.0}
    d = drivers(websocket_extra_options=extra)
    for _ in range(2):  # the options survive a reconnection
        d.connect(server.url, headers={'X-Custom': 'all'})
        ws = websocket_request(server, d.sid)
        assert ws['headers']['x-extra'] == 'ws'
        assert ws['headers']['x-custom'] == 'all'
        d.disconnect()
    assert extra == {'headers': {'X-Extra': 'ws'}, 'heartbeat': 30.0}


def test_background_tasks_and_primitives():
    async def main() -> None:
        c = engineio.AsyncClient(handle_sigint=False)
        results = []

        async def task(value: int) -> None:
            results.append(value)

        await c.start_background_task(task, 42)
        assert results == [42]
        q = c.create_queue()
        with pytest.raises(c.get_queue_empty_exception()):
            q.get_nowait()
        assert isinstance(c.create_event(), asyncio.Event)
        await c.sleep(0)
        assert c.is_asyncio_based()
        assert c.transport() is None and c.sid is None and c.state == 'disconnected'
        await c.wait()  # returns at once without a connection
        await c.disconnect()

    asyncio.run(main())


CHILD = textwrap.dedent('''
    import asyncio
    import sys
    import engineio

    async def main():
        client = engineio.AsyncClient()
        client.on('disconnect', lambda reason: print('disconnect', reason, flush=True))
        await client.connect(sys.argv[1], transports=[sys.argv[2]])
        print('connected', client.sid, flush=True)
        await client.wait()
        print('wait returned', client.state, flush=True)
        await asyncio.sleep(10)
        print('not cancelled', flush=True)

    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        print('cancelled', flush=True)
''')


@pytest.mark.parametrize('transport', ['polling', 'websocket'])
def test_sigint_disconnects_cleanly(server, transport):
    env = dict(os.environ, PYTHONPATH=peers.REPO)
    proc = subprocess.Popen([sys.executable, '-c', CHILD, server.url, transport],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)
    try:
        first = proc.stdout.readline().split()
        assert first[:1] == ['connected'], proc.stderr.read()
        sid = first[1]
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert out.splitlines() == ['disconnect client disconnect',
                                'wait returned disconnected', 'cancelled'], err
    assert server.wait_close(sid) == 'client disconnect'
