"""WSGIApp behind a real threaded werkzeug server: static files, routing, traversal attempts."""
import http.client
import threading

import pytest
import requests
from werkzeug.serving import make_server

from engineio import WSGIApp

SECRET = b'TOP-SECRET-CONTENT'


class FakeEngineIO:
    """Stands in for engineio.Server (written elsewhere): answers every request the same way."""

    def __init__(self):
        self.paths = []

    def handle_request(self, environ, start_response):
        self.paths.append(environ['PATH_INFO'])
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'fake engine.io']


def wrapped_app(environ, start_response):
    if not environ['PATH_INFO'].startswith('/app'):
        start_response('404 Not Found', [('Content-Type', 'text/plain')])
        return [b'wrapped app: nothing here']
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'wrapped app ' + environ['PATH_INFO'].encode('latin-1')]


@pytest.fixture
def public(tmp_path):
    folder = tmp_path / 'site' / 'public'
    (folder / 'docs').mkdir(parents=True)
    (folder / 'index.html').write_bytes(b'<h1>index</h1>')
    (folder / 'app.js').write_bytes(b'console.log(1);')
    (folder / 'docs' / 'index.html').write_bytes(b'<h1>docs</h1>')
    (folder / 'big.bin').write_bytes(bytes(range(256)) * 2000)
    (tmp_path / 'site' / 'secret').write_bytes(SECRET)
    (tmp_path / 'site' / 'secret.txt').write_bytes(SECRET)
    return folder


@pytest.fixture
def serve():
    """Start WSGI apps on real threaded werkzeug servers; return their base URLs."""
    servers = []

    def start(app):
        server = make_server('127.0.0.1', 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,),
                                  daemon=True)
        thread.start()
        servers.append((server, thread))
        return server.server_port

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def eio():
    return FakeEngineIO()


@pytest.fixture
def port(serve, eio, public):
    return serve(WSGIApp(eio, wrapped_app, static_files={'/static': str(public)}))


def raw_get(port, path, method='GET'):
    """Send ``path`` exactly as given (requests would normalise dot segments)."""
    connection = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_static_file(port):
    response = requests.get(f'http://127.0.0.1:{port}/static/app.js', timeout=5)
    assert response.status_code == 200
    assert response.headers['Content-Type'] == 'application/javascript'
    assert response.headers['Content-Length'] == '15'
    assert response.content == b'console.log(1);'


def test_big_file(port):
    response = requests.get(f'http://127.0.0.1:{port}/static/big.bin', timeout=5)
    assert response.headers['Content-Length'] == '512000'
    assert response.content == bytes(range(256)) * 2000


def test_head(port):
    status, headers, body = raw_get(port, '/static/index.html', method='HEAD')
    assert (status, headers['Content-Type'], headers['Content-Length'], body) == \
        (200, 'text/html', '14', b'')


def test_index_html(port):
    for path, body in (('/static/', b'<h1>index</h1>'), ('/static/docs/', b'<h1>docs</h1>')):
        response = requests.get(f'http://127.0.0.1:{port}{path}', timeout=5)
        assert (response.status_code, response.headers['Content-Type'], response.content) == \
            (200, 'text/html', body)


def test_folder_is_redirected_to_its_trailing_slash(port):
    response = requests.get(f'http://127.0.0.1:{port}/static/docs?x=1', timeout=5,
                            allow_redirects=False)
    assert response.status_code == 301
    assert response.headers['Location'].endswith('/static/docs/?x=1')
    followed = requests.get(f'http://127.0.0.1:{port}/static/docs', timeout=5)
    assert followed.content == b'<h1>docs</h1>'
    assert followed.url == f'http://127.0.0.1:{port}/static/docs/'


@pytest.mark.parametrize('path', [
    '/static/../secret', '/static/../secret.txt', '/static/..', '/static/../',
    '/static/docs/../../secret', '/static/%2e%2e/secret', '/static/%2E%2e/secret',
    '/static/.%2e/secret', '/static/..%2fsecret', '/static/%2e%2e%2fsecret',
    '/static/..%5csecret', '/static/..\\secret', '/static/%5c..%5csecret',
    '/static/%252e%252e/secret', '/static/secret%00', '/static/%2f..%2fsecret',
    '/static/..%2f..%2fsite%2fsecret', '/static/C:%5csecret', '/static//../secret',
])
def test_traversal_never_returns_the_secret(port, path):
    status, _, body = raw_get(port, path)
    assert SECRET not in body
    assert status in (400, 404)


def test_wrapped_app_answers_other_paths(port):
    response = requests.get(f'http://127.0.0.1:{port}/app/page', timeout=5)
    assert (response.status_code, response.content) == (200, b'wrapped app /app/page')
    response = requests.get(f'http://127.0.0.1:{port}/static/missing.css', timeout=5)
    assert response.content == b'wrapped app: nothing here'


def test_not_found_without_wrapped_app(serve, eio, public):
    port = serve(WSGIApp(eio, static_files={'/static': str(public)}))
    response = requests.get(f'http://127.0.0.1:{port}/app/page', timeout=5)
    assert (response.status_code, response.headers['Content-Type'], response.content) == \
        (404, 'text/plain', b'Not Found')
    status, _, body = raw_get(port, '/static/../secret')
    assert (status, body) == (404, b'Not Found')


@pytest.mark.parametrize('path', ['/engine.io', '/engine.io/',
                                  '/engine.io/?EIO=4&transport=polling'])
def test_engineio_paths_reach_the_engineio_app(port, eio, path):
    response = requests.get(f'http://127.0.0.1:{port}{path}', timeout=5)
    assert (response.status_code, response.content) == (200, b'fake engine.io')
    assert eio.paths == [path.split('?')[0]]


def test_concurrent_requests(port):
    results = []

    def fetch():
        results.append(requests.get(f'http://127.0.0.1:{port}/static/big.bin', timeout=5).content)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [bytes(range(256)) * 2000] * 4
