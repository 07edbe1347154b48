"""ASGIApp behind real ASGI servers (uvicorn and hypercorn): routing to the
Engine.IO server, static files, the other application, 404, WebSockets
nothing serves, and the lifespan hooks; plus ASGI events a server may send
that the application must survive, called directly."""
from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import threading
import urllib.parse
from typing import Any, Dict, Iterator, List

import pytest
import requests
import websocket

import engineio
from tests.support import async_servers, servers  # noqa: F401 (registers the starters)
from tests.support import rawclient as rc

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(30)]

SECRET = b'TOP-SECRET-CONTENT'


async def other_app(scope: Dict[str, Any], receive: Any, send: Any) -> None:
    """The application ASGIApp wraps: answers paths below /app, 404 for the
    rest, and echoes one WebSocket message."""
    if scope['type'] == 'http':
        if scope['path'].startswith('/app'):
            status, body = 200, b'other app ' + scope['path'].encode()
        else:
            status, body = 404, b'other app: nothing here'
        await send({'type': 'http.response.start', 'status': status,
                    'headers': [[b'content-type', b'text/plain']]})
        await send({'type': 'http.response.body', 'body': body})
    elif scope['type'] == 'websocket':
        await receive()
        await send({'type': 'websocket.accept'})
        message = await receive()
        await send({'type': 'websocket.send',
                    'text': 'other app: ' + message.get('text', '')})
        await send({'type': 'websocket.close'})


class LifespanApp:
    """An application that records the lifespan events it is given."""

    def __init__(self) -> None:
        self.events: List[str] = []

    async def __call__(self, scope: Dict[str, Any], receive: Any,
                       send: Any) -> None:
        if scope['type'] != 'lifespan':
            await other_app(scope, receive, send)
            return
        while True:
            event = await receive()
            self.events.append(event['type'])
            await send({'type': event['type'] + '.complete'})
            if event['type'] == 'lifespan.shutdown':
                return


@pytest.fixture
def public(tmp_path: Any) -> Any:
    folder = tmp_path / 'site' / 'public'
    (folder / 'docs').mkdir(parents=True)
    (folder / 'index.html').write_bytes(b'<h1>index</h1>')
    (folder / 'app.js').write_bytes(b'console.log(1);')
    (folder / 'docs' / 'index.html').write_bytes(b'<h1>docs</h1>')
    (folder / 'big.bin').write_bytes(bytes(range(256)) * 2000)
    (tmp_path / 'site' / 'secret').write_bytes(SECRET)
    (tmp_path / 'site' / 'secret.txt').write_bytes(SECRET)
    return folder


@pytest.fixture(params=['asgi', 'hypercorn'])
def serve(request: Any) -> Iterator[Any]:
    """``serve(**asgi_app_options)``: an ``engineio.AsyncServer`` in an
    ``ASGIApp`` on uvicorn, then hypercorn; returns the base URL.
    ``serve.stop()`` shuts the servers down before the test ends."""
    stack = contextlib.ExitStack()

    def start(**options: Any) -> str:
        eio = engineio.AsyncServer(async_mode='asgi')
        app = engineio.ASGIApp(eio, **options)
        return stack.enter_context(servers.serve(request.param, eio, app))

    start.stop = stack.close  # type: ignore[attr-defined]
    with stack:
        yield start


@pytest.fixture
def url(serve: Any, public: Any) -> str:
    return serve(other_asgi_app=other_app,
                 static_files={'/static': str(public)})


def raw_get(url: str, path: str, method: str = 'GET') -> Any:
    """Send ``path`` exactly as given (requests would normalise dot
    segments)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port,
                                            timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def is_engineio_answer(status: int, body: bytes) -> bool:
    """An answer of the Engine.IO server to a request without a query."""
    return (status, body) == (400, json.dumps('Invalid transport').encode())


# ---------------------------------------------------------------- routing
@pytest.mark.parametrize('path', ['/engine.io', '/engine.io/',
                                  '/engine.io/x'])
def test_engineio_paths_reach_the_engineio_server(url, path):
    status, _, body = raw_get(url, path)
    assert is_engineio_answer(status, body), (status, body)


def test_engineio_session_and_websocket(url):
    hs = rc.handshake(url)
    ws = rc.upgrade_probe(url, hs.sid)
    try:
        ws.send('5')
        ws.send('1')
        assert ws.drain_until_closed(5) == []
    finally:
        ws.close()


@pytest.mark.parametrize('engineio_path', ['custom', '/custom', '/custom/'])
def test_custom_engineio_path(serve, engineio_path):
    url = serve(engineio_path=engineio_path, other_asgi_app=other_app)
    assert rc.handshake(url, path='/custom/').sid
    status, _, body = raw_get(url, '/engine.io/')
    assert (status, body) == (404, b'other app: nothing here')


def test_engineio_path_none_takes_everything(serve, public):
    url = serve(engineio_path=None, other_asgi_app=other_app,
                static_files={'/static': str(public)})
    assert rc.handshake(url, path='/anything/').sid
    for path in ('/static/app.js', '/app/page'):
        status, _, body = raw_get(url, path)
        assert is_engineio_answer(status, body), (path, status, body)


def test_other_app_answers_other_paths(url):
    response = requests.get(url + '/app/page', timeout=5)
    assert (response.status_code, response.content) == (
        200, b'other app /app/page')
    response = requests.get(url + '/static/missing.css', timeout=5)
    assert response.content == b'other app: nothing here'


def test_other_app_gets_other_websockets(url):
    ws = websocket.create_connection('ws' + url[4:] + '/app/ws', timeout=5)
    try:
        ws.send('hi')
        assert ws.recv() == 'other app: hi'
    finally:
        ws.close()


def test_not_found_without_other_app(serve, public):
    url = serve(static_files={'/static': str(public)})
    response = requests.get(url + '/app/page', timeout=5)
    assert (response.status_code, response.headers['Content-Type'],
            response.content) == (404, 'text/plain', b'Not Found')
    status, _, body = raw_get(url, '/static/../secret')
    assert (status, body) == (404, b'Not Found')


def test_unmatched_websocket_is_closed(serve):
    url = serve()
    # closed before it was accepted: ASGI servers refuse the handshake
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection('ws' + url[4:] + '/app/ws', timeout=5)
    assert info.value.status_code == 403


# ------------------------------------------------------------ static files
def test_static_file(url):
    response = requests.get(url + '/static/app.js', timeout=5)
    assert response.status_code == 200
    assert response.headers['Content-Type'] == 'application/javascript'
    assert response.headers['Content-Length'] == '15'
    assert response.content == b'console.log(1);'


def test_big_file(url):
    response = requests.get(url + '/static/big.bin', timeout=5)
    assert response.headers['Content-Length'] == '512000'
    assert response.content == bytes(range(256)) * 2000


def test_head(url):
    status, headers, body = raw_get(url, '/static/index.html', method='HEAD')
    assert (status, headers['content-type'], headers['content-length'],
            body) == (200, 'text/html', '14', b'')


def test_index_html(url):
    for path, body in (('/static/', b'<h1>index</h1>'),
                       ('/static/docs/', b'<h1>docs</h1>')):
        response = requests.get(url + path, timeout=5)
        assert (response.status_code, response.headers['Content-Type'],
                response.content) == (200, 'text/html', body)


def test_folder_is_redirected_to_its_trailing_slash(url):
    response = requests.get(url + '/static/docs?x=1', timeout=5,
                            allow_redirects=False)
    assert response.status_code == 301
    assert response.headers['Location'] == '/static/docs/?x=1'
    followed = requests.get(url + '/static/docs', timeout=5)
    assert followed.content == b'<h1>docs</h1>'
    assert followed.url == url + '/static/docs/'


@pytest.mark.parametrize('path', [
    '/static/../secret', '/static/../secret.txt', '/static/..',
    '/static/../', '/static/docs/../../secret', '/static/%2e%2e/secret',
    '/static/%2E%2e/secret', '/static/.%2e/secret', '/static/..%2fsecret',
    '/static/%2e%2e%2fsecret', '/static/..%5csecret', '/static/..\\secret',
    '/static/%5c..%5csecret', '/static/%252e%252e/secret',
    '/static/secret%00', '/static/%2f..%2fsecret',
    '/static/..%2f..%2fsite%2fsecret', '/static/C:%5csecret',
    '/static//../secret',
])
def test_traversal_never_returns_the_secret(url, path):
    status, _, body = raw_get(url, path)
    assert SECRET not in body
    assert status in (400, 404)


def test_concurrent_static_requests(url):
    results = []

    def fetch() -> None:
        results.append(requests.get(url + '/static/big.bin',
                                    timeout=5).content)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [bytes(range(256)) * 2000] * 4


# ---------------------------------------------------------------- lifespan
def test_lifespan_hooks(serve):
    calls = []

    async def on_shutdown() -> None:
        await asyncio.sleep(0)
        calls.append('shutdown')

    lifespan_app = LifespanApp()
    url = serve(other_asgi_app=lifespan_app,
                on_startup=lambda: calls.append('startup'),
                on_shutdown=on_shutdown)
    assert calls == ['startup']
    assert rc.handshake(url).sid
    serve.stop()
    assert calls == ['startup', 'shutdown']
    assert lifespan_app.events == []  # the hooks replace its lifespan


def test_lifespan_goes_to_other_app_without_hooks(serve):
    lifespan_app = LifespanApp()
    serve(other_asgi_app=lifespan_app)
    assert lifespan_app.events == ['lifespan.startup']
    serve.stop()
    assert lifespan_app.events == ['lifespan.startup', 'lifespan.shutdown']


def test_failing_startup_hook_stops_the_server(serve):
    def on_startup() -> None:
        raise RuntimeError('no database')

    with pytest.raises(RuntimeError):
        serve(on_startup=on_startup)


# -------------------------------------------- ASGI events, called directly
class Channel:
    """``receive`` gives the events given, then waits for ever; ``send``
    records what the application sends."""

    def __init__(self, *events: Dict[str, Any]) -> None:
        self.events = list(events)
        self.sent: List[Dict[str, Any]] = []

    async def receive(self) -> Dict[str, Any]:
        if self.events:
            return self.events.pop(0)
        await asyncio.Event().wait()
        raise AssertionError('unreachable')

    async def send(self, message: Dict[str, Any]) -> None:
        self.sent.append(message)


def run_app(app: Any, scope: Dict[str, Any], channel: Channel) -> None:
    """Run one ASGI call of ``app`` (an ASGIApp) in a new event loop."""
    async def main() -> None:
        await asyncio.wait_for(app(scope, channel.receive, channel.send), 5)
        await app.engineio_server.shutdown()

    asyncio.run(main())


def http_scope(path: str, method: str = 'GET', query: bytes = b'',
               headers: Any = ()) -> Dict[str, Any]:
    return {'type': 'http', 'method': method, 'path': path,
            'query_string': query, 'headers': list(headers),
            'scheme': 'https', 'client': ('10.1.2.3', 40000),
            'server': ('example.com', 443), 'http_version': '1.1'}


@pytest.mark.parametrize('headers', [[(b'content-length', b'6')], []],
                         ids=['content-length', 'chunked'])
def test_disconnect_during_a_post(headers):
    eio = engineio.AsyncServer(async_mode='asgi')
    app = engineio.ASGIApp(eio)
    disconnects = []
    eio.on('disconnect', lambda sid, reason: disconnects.append(reason))

    async def main() -> Channel:
        handshake = Channel({'type': 'http.request', 'body': b''})
        await app(http_scope('/engine.io/', query=b'EIO=4&transport=polling'),
                  handshake.receive, handshake.send)
        sid = json.loads(handshake.sent[1]['body'][1:])['sid']
        post = Channel({'type': 'http.disconnect'})
        query = 'EIO=4&transport=polling&sid={}'.format(sid).encode()
        await asyncio.wait_for(app(
            http_scope('/engine.io/', 'POST', query, headers),
            post.receive, post.send), 5)
        await eio.shutdown()
        return post

    post = asyncio.run(main())
    assert post.sent[0]['status'] == 400  # never taken for an empty body
    assert disconnects == ['transport error']


def test_disconnect_as_first_event_on_a_static_file(public):
    channel = Channel({'type': 'http.disconnect'})
    app = engineio.ASGIApp(engineio.AsyncServer(async_mode='asgi'),
                           static_files={'/static': str(public)})
    run_app(app, http_scope('/static/app.js'), channel)
    assert channel.sent[0]['status'] == 200
    assert b''.join(m.get('body', b'') for m in channel.sent[1:]) == \
        b'console.log(1);'


def test_websocket_gone_before_connect_is_left_alone():
    channel = Channel({'type': 'websocket.disconnect', 'code': 1006})
    app = engineio.ASGIApp(engineio.AsyncServer(async_mode='asgi'))
    run_app(app, {'type': 'websocket', 'path': '/app/ws'}, channel)
    assert channel.sent == []


def test_environ_has_the_real_scheme_and_client():
    eio = engineio.AsyncServer(async_mode='asgi')
    environs = []
    eio.on('connect', lambda sid, environ: environs.append(environ))
    channel = Channel({'type': 'http.request', 'body': b''})
    run_app(engineio.ASGIApp(eio), http_scope(
        '/engine.io/', query=b'EIO=4&transport=polling',
        headers=[(b'host', b'example.com'),
                 (b'origin', b'https://example.com')]), channel)
    assert channel.sent[0]['status'] == 200  # same origin over TLS
    environ = environs[0]
    assert environ['wsgi.url_scheme'] == 'https'
    assert (environ['REMOTE_ADDR'], environ['REMOTE_PORT']) == (
        '10.1.2.3', '40000')
    assert (environ['SERVER_NAME'], environ['SERVER_PORT']) == (
        'example.com', '443')


def test_lifespan_startup_failure_is_reported():
    def on_startup() -> None:
        raise RuntimeError('no database')

    channel = Channel({'type': 'lifespan.startup'})
    app = engineio.ASGIApp(engineio.AsyncServer(async_mode='asgi'),
                           on_startup=on_startup)
    run_app(app, {'type': 'lifespan'}, channel)
    assert channel.sent == [{'type': 'lifespan.startup.failed',
                             'message': 'no database'}]
