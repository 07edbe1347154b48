"""WSGI application that puts an Engine.IO server in front of static files and another app."""
from __future__ import annotations

import os
from typing import Any, BinaryIO, Callable, Dict, Iterable, Iterator, List, Optional
from urllib.parse import quote

from .static_files import get_static_file

Environ = Dict[str, Any]
StartResponse = Callable[..., Any]
WSGICallable = Callable[[Environ, StartResponse], Iterable[bytes]]

#: Size of the blocks a static file is sent in when the server has no ``wsgi.file_wrapper``.
BLOCK_SIZE = 64 * 1024


class _SocketInput:
    """Exposes gunicorn's client socket the way eventlet does (``environ['eventlet.input']``),
    which is where the WebSocket code looks for it."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket

    def get_socket(self) -> Any:
        return self.socket


class _FileBlocks:
    """Response body reading an open file in blocks; the server's call to ``close()`` closes
    the file, whether or not the body was read."""

    def __init__(self, file: BinaryIO, block_size: int = BLOCK_SIZE) -> None:
        self._file = file
        self._block_size = block_size

    def __iter__(self) -> Iterator[bytes]:
        return iter(lambda: self._file.read(self._block_size), b'')

    def close(self) -> None:
        self._file.close()


def _text_path(path: str) -> str:
    """Turn a PEP 3333 ``PATH_INFO`` (UTF-8 bytes decoded as latin-1) into the text the
    client meant, so that file names with non-ASCII characters can be found."""
    try:
        return path.encode('latin-1').decode('utf-8')
    except UnicodeError:
        return path


def _with_trailing_slash(environ: Environ) -> str:
    """Return the request URL (path with ``SCRIPT_NAME``, and query string) with a ``/``
    appended to its path, for a redirect ``Location``."""
    path = environ.get('SCRIPT_NAME', '') + environ.get('PATH_INFO', '') + '/'
    try:
        raw_path = path.encode('latin-1')  # PEP 3333 "bytes as latin-1" strings
    except UnicodeEncodeError:
        raw_path = path.encode('utf-8')
    url = quote(raw_path, safe="/:@!$&'()*+,;=~")
    query = environ.get('QUERY_STRING', '')
    return url + '?' + query if query else url


class WSGIApp:
    """WSGI application serving an Engine.IO server, static files and another WSGI app.

    Requests whose path starts with ``engineio_path`` (or equals it without the trailing
    slash) go to ``engineio_app.handle_request``; otherwise a matching and existing static
    file is served; otherwise the request goes to ``wsgi_app``, or is answered with 404.

    :param engineio_app: the Engine.IO server (an ``engineio.Server``).
    :param wsgi_app: optional WSGI application receiving all other requests.
    :param static_files: optional static-file rules, see :mod:`engineio.static_files`. Meant
                         for development: files are sent without caching headers.
    :param engineio_path: URL path of the Engine.IO endpoint.
    """

    def __init__(self, engineio_app: Any, wsgi_app: Optional[WSGICallable] = None,
                 static_files: Optional[Dict[str, Any]] = None,
                 engineio_path: str = 'engine.io') -> None:
        self.engineio_app = engineio_app
        self.wsgi_app = wsgi_app
        if not engineio_path.startswith('/'):
            engineio_path = '/' + engineio_path
        if not engineio_path.endswith('/'):
            engineio_path += '/'
        self.engineio_path = engineio_path
        self.static_files = {} if static_files is None else static_files

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI entry point: route the request as described above."""
        if 'gunicorn.socket' in environ:
            environ['eventlet.input'] = _SocketInput(environ['gunicorn.socket'])
        path = environ.get('PATH_INFO', '')
        if path.startswith(self.engineio_path) or path == self.engineio_path[:-1]:
            return self.engineio_app.handle_request(environ, start_response)
        static_file = get_static_file(_text_path(path), self.static_files)
        if static_file is not None:
            response = self._serve_static_file(static_file, environ, start_response)
            if response is not None:
                return response
        if self.wsgi_app is not None:
            return self.wsgi_app(environ, start_response)
        return self.not_found(start_response)

    def not_found(self, start_response: StartResponse) -> List[bytes]:
        """Answer ``404 Not Found``."""
        start_response('404 Not Found', [('Content-Type', 'text/plain')])
        return [b'Not Found']

    def _serve_static_file(self, static_file: Dict[str, str], environ: Environ,
                           start_response: StartResponse) -> Optional[Iterable[bytes]]:
        """Answer with the resolved file, or redirect a folder to its path with a trailing
        slash. Return ``None`` (nothing sent) when there is no regular file to serve."""
        filename = static_file['filename']
        if os.path.isdir(filename):
            if environ.get('PATH_INFO', '').endswith('/'):
                return None
            start_response('301 Moved Permanently',
                           [('Location', _with_trailing_slash(environ)),
                            ('Content-Length', '0')])
            return []
        if not os.path.isfile(filename):
            return None
        try:
            file = open(filename, 'rb')
        except OSError:
            return None
        headers = [('Content-Type', static_file['content_type']),
                   ('Content-Length', str(os.fstat(file.fileno()).st_size))]
        start_response('200 OK', headers)
        if environ.get('REQUEST_METHOD') == 'HEAD':
            file.close()
            return []
        file_wrapper = environ.get('wsgi.file_wrapper')
        if file_wrapper is not None:
            return file_wrapper(file, BLOCK_SIZE)
        return _FileBlocks(file)


class Middleware(WSGIApp):
    """Older name of :class:`WSGIApp`, without static files; prefer :class:`WSGIApp`."""

    def __init__(self, engineio_app: Any, wsgi_app: Optional[WSGICallable] = None,
                 engineio_path: str = 'engine.io') -> None:
        super().__init__(engineio_app, wsgi_app, engineio_path=engineio_path)
