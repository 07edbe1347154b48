import inspect

import pytest

import engineio
from engineio import middleware
from engineio.middleware import Middleware, WSGIApp


class FakeEngineIO:
    """Stands in for engineio.Server: records the requests it is given."""

    def __init__(self):
        self.calls = []

    def handle_request(self, environ, start_response):
        self.calls.append(environ)
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'engine.io']


class Recorder:
    """A WSGI start_response that remembers what it was called with."""

    def __init__(self):
        self.status = None
        self.headers = None

    def __call__(self, status, headers, exc_info=None):
        self.status = status
        self.headers = dict(headers)


def other_app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'other:' + environ['PATH_INFO'].encode()]


def call(app, path, method='GET', **extra):
    environ = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'QUERY_STRING': '',
               'SCRIPT_NAME': ''}
    environ.update(extra)
    start_response = Recorder()
    result = app(environ, start_response)
    body = b''.join(result)
    if hasattr(result, 'close'):
        result.close()
    return start_response.status, start_response.headers, body


@pytest.fixture
def public(tmp_path):
    folder = tmp_path / 'public'
    (folder / 'sub').mkdir(parents=True)
    (folder / 'empty').mkdir()
    (folder / 'index.html').write_bytes(b'<h1>home</h1>')
    (folder / 'style.CSS').write_bytes(b'p { color: red }')
    (folder / 'sub' / 'index.html').write_bytes(b'<h1>sub</h1>')
    (folder / 'big.bin').write_bytes(bytes(range(256)) * 1000)  # 256000 bytes
    (tmp_path / 'secret.txt').write_bytes(b'TOP SECRET')
    return folder


@pytest.fixture
def eio():
    return FakeEngineIO()


def test_defaults(eio):
    app = WSGIApp(eio)
    assert app.engineio_app is eio
    assert app.wsgi_app is None
    assert app.static_files == {}
    assert app.engineio_path == '/engine.io/'


@pytest.mark.parametrize('given, normalised', [
    ('engine.io', '/engine.io/'), ('/engine.io', '/engine.io/'), ('engine.io/', '/engine.io/'),
    ('/a/b/', '/a/b/'), ('', '/'), ('/', '/'),
])
def test_engineio_path_is_normalised(eio, given, normalised):
    assert WSGIApp(eio, engineio_path=given).engineio_path == normalised


def test_keyword_names_used_by_python_socketio(eio):
    class SocketIOApp(WSGIApp):
        def __init__(self, socketio_app, wsgi_app=None, static_files=None,
                     socketio_path='socket.io'):
            super().__init__(socketio_app, wsgi_app, static_files=static_files,
                             engineio_path=socketio_path)

    rules = {'/': 'index.html'}
    app = SocketIOApp(eio, other_app, static_files=rules)
    assert (app.wsgi_app, app.static_files, app.engineio_path) == \
        (other_app, rules, '/socket.io/')


def test_middleware_is_a_wsgi_app_without_static_files(eio):
    assert engineio.Middleware is Middleware and engineio.WSGIApp is WSGIApp
    assert list(inspect.signature(Middleware.__init__).parameters) == \
        ['self', 'engineio_app', 'wsgi_app', 'engineio_path']
    app = Middleware(eio, other_app, engineio_path='eio')
    assert isinstance(app, WSGIApp)
    assert (app.wsgi_app, app.static_files, app.engineio_path) == (other_app, {}, '/eio/')
    assert call(app, '/eio/')[2] == b'engine.io'
    assert call(app, '/x')[2] == b'other:/x'


@pytest.mark.parametrize('path', ['/engine.io/', '/engine.io', '/engine.io/anything'])
def test_engineio_paths_reach_the_server(eio, public, path):
    app = WSGIApp(eio, other_app, static_files={'/': str(public)})
    status, _, body = call(app, path, QUERY_STRING='EIO=4&transport=polling')
    assert (status, body) == ('200 OK', b'engine.io')
    assert eio.calls[0]['PATH_INFO'] == path


@pytest.mark.parametrize('path', ['/engine.iox', '/engine', '/x/engine.io/', '/'])
def test_other_paths_do_not_reach_the_server(eio, path):
    status, _, body = call(WSGIApp(eio, other_app), path)
    assert body == b'other:' + path.encode()
    assert eio.calls == []


def test_custom_engineio_path(eio):
    app = WSGIApp(eio, engineio_path='/rt/eio')
    assert call(app, '/rt/eio')[2] == b'engine.io'
    assert call(app, '/rt/eio/')[2] == b'engine.io'
    assert call(app, '/engine.io/')[0] == '404 Not Found'


def test_gunicorn_socket_is_exposed_as_eventlet_input(eio):
    sock = object()
    call(WSGIApp(eio), '/engine.io/', **{'gunicorn.socket': sock})
    assert eio.calls[0]['eventlet.input'].get_socket() is sock
    call(WSGIApp(eio), '/engine.io/')
    assert 'eventlet.input' not in eio.calls[1]


def test_not_found(eio):
    start_response = Recorder()
    assert WSGIApp(eio).not_found(start_response) == [b'Not Found']
    assert start_response.status == '404 Not Found'
    assert start_response.headers == {'Content-Type': 'text/plain'}
    assert call(WSGIApp(eio), '/nothing') == ('404 Not Found', {'Content-Type': 'text/plain'},
                                              b'Not Found')


def test_static_file(eio, public):
    app = WSGIApp(eio, other_app, static_files={'/static': str(public)})
    status, headers, body = call(app, '/static/style.CSS')
    assert status == '200 OK'
    assert headers == {'Content-Type': 'text/css', 'Content-Length': '16'}
    assert body == b'p { color: red }'


def test_static_file_with_dict_rule(eio, public):
    rules = {'/': {'filename': str(public / 'index.html'), 'content_type': 'text/plain'}}
    status, headers, body = call(WSGIApp(eio, static_files=rules), '/')
    assert headers == {'Content-Type': 'text/plain', 'Content-Length': '13'}
    assert body == b'<h1>home</h1>'


@pytest.mark.parametrize('method', ['GET', 'POST'])
def test_big_file_is_sent_in_blocks_and_closed(eio, public, monkeypatch, method):
    opened = []

    def recording_open(*args, **kwargs):
        opened.append(open(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(middleware, 'open', recording_open, raising=False)
    app = WSGIApp(eio, static_files={'/static': str(public)})
    environ = {'REQUEST_METHOD': method, 'PATH_INFO': '/static/big.bin'}
    start_response = Recorder()
    result = app(environ, start_response)
    assert start_response.headers['Content-Length'] == '256000'
    assert start_response.headers['Content-Type'] == 'application/octet-stream'
    blocks = list(result)
    assert [len(block) for block in blocks] == [65536, 65536, 65536, 59392]
    assert b''.join(blocks) == bytes(range(256)) * 1000
    assert not opened[0].closed
    result.close()
    assert opened[0].closed


def test_unread_body_closes_the_file(eio, public, monkeypatch):
    opened = []
    monkeypatch.setattr(middleware, 'open',
                        lambda *a: opened.append(open(*a)) or opened[-1], raising=False)
    app = WSGIApp(eio, static_files={'/static': str(public)})
    app({'PATH_INFO': '/static/big.bin'}, Recorder()).close()
    assert opened[0].closed


def test_server_file_wrapper_is_used(eio, public):
    wrapped = []

    def file_wrapper(file, block_size):
        wrapped.append((file, block_size))
        return iter([file.read()])

    app = WSGIApp(eio, static_files={'/static': str(public)})
    status, headers, body = call(app, '/static/index.html',
                                 **{'wsgi.file_wrapper': file_wrapper})
    assert (status, body) == ('200 OK', b'<h1>home</h1>')
    assert wrapped[0][0].name == str(public / 'index.html')
    assert wrapped[0][1] == 65536
    wrapped[0][0].close()


def test_head_sends_headers_only(eio, public, monkeypatch):
    opened = []
    monkeypatch.setattr(middleware, 'open',
                        lambda *a: opened.append(open(*a)) or opened[-1], raising=False)
    app = WSGIApp(eio, static_files={'/static': str(public)})
    status, headers, body = call(app, '/static/index.html', method='HEAD')
    assert status == '200 OK'
    assert headers == {'Content-Type': 'text/html', 'Content-Length': '13'}
    assert body == b''
    assert opened[0].closed


def test_directory_index(eio, public):
    app = WSGIApp(eio, static_files={'/static': str(public)})
    assert call(app, '/static/')[2] == b'<h1>home</h1>'
    assert call(app, '/static/sub/')[2] == b'<h1>sub</h1>'
    assert call(app, '/static/empty/')[0] == '404 Not Found'


def test_root_mapping(eio, public):
    app = WSGIApp(eio, other_app, static_files={'/': str(public)})
    assert call(app, '/')[2] == b'<h1>home</h1>'
    assert call(app, '/sub/index.html')[2] == b'<h1>sub</h1>'
    assert call(app, '/missing.js')[2] == b'other:/missing.js'


@pytest.mark.parametrize('path, extra, location', [
    ('/static', {}, '/static/'),
    ('/static/sub', {}, '/static/sub/'),
    ('/static/sub', {'QUERY_STRING': 'a=1&b=%20'}, '/static/sub/?a=1&b=%20'),
    ('/static/sub', {'SCRIPT_NAME': '/mounted'}, '/mounted/static/sub/'),
])
def test_folder_without_trailing_slash_is_redirected(eio, public, path, extra, location):
    app = WSGIApp(eio, other_app, static_files={'/static': str(public)})
    status, headers, body = call(app, path, **extra)
    assert status == '301 Moved Permanently'
    assert headers == {'Location': location, 'Content-Length': '0'}
    assert body == b''


def test_redirect_location_is_url_encoded(eio, public):
    (public / 'caf\u00e9 d').mkdir()
    app = WSGIApp(eio, static_files={'/static': str(public)})
    # PEP 3333: PATH_INFO holds the UTF-8 bytes decoded as latin-1
    path = '/static/caf\u00e9 d'.encode('utf-8').decode('latin-1')
    assert call(app, path)[1]['Location'] == '/static/caf%C3%A9%20d/'


def test_missing_file_falls_through(eio, public):
    rules = {'/static': str(public), '/gone.txt': str(public / 'gone.txt')}
    with_app = WSGIApp(eio, other_app, static_files=rules)
    assert call(with_app, '/static/nothing.css')[2] == b'other:/static/nothing.css'
    assert call(with_app, '/gone.txt')[2] == b'other:/gone.txt'
    assert call(WSGIApp(eio, static_files=rules), '/static/nothing.css')[0] == '404 Not Found'


def test_unreadable_file_falls_through(eio, public, monkeypatch):
    def failing_open(*args, **kwargs):
        raise PermissionError(13, 'Permission denied')

    monkeypatch.setattr(middleware, 'open', failing_open, raising=False)
    app = WSGIApp(eio, static_files={'/static': str(public)})
    assert call(app, '/static/index.html')[0] == '404 Not Found'


@pytest.mark.parametrize('path', ['/static/../secret.txt', '/static/..', '/static/sub/../..',
                                  '/static/%2e%2e/secret.txt', '/static/..%2fsecret.txt',
                                  '/static/..\\secret.txt'])
def test_traversal_is_not_served(eio, public, path):
    status, _, body = call(WSGIApp(eio, static_files={'/static': str(public)}), path)
    assert (status, body) == ('404 Not Found', b'Not Found')


def test_static_files_before_wrapped_app(eio, public):
    app = WSGIApp(eio, other_app, static_files={'/index.html': str(public / 'index.html')})
    assert call(app, '/index.html')[2] == b'<h1>home</h1>'
    assert call(app, '/other')[2] == b'other:/other'


def test_non_ascii_file_names(eio, public):
    (public / 'caf\u00e9.txt').write_bytes(b'coffee')
    app = WSGIApp(eio, static_files={'/static': str(public)})
    path = '/static/caf\u00e9.txt'.encode('utf-8').decode('latin-1')
    assert call(app, path)[2] == b'coffee'
    assert call(app, '/static/\xff\xfe.txt')[0] == '404 Not Found'  # not valid UTF-8
