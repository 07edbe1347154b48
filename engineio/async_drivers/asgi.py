"""The ``asgi`` async mode, and :class:`ASGIApp`, the ASGI application that
puts an :class:`engineio.AsyncServer` in front of static files and another
ASGI application. Works with any ASGI server (uvicorn, hypercorn, daphne);
none is needed to import this module."""
from __future__ import annotations

import asyncio
import inspect
import os
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple
from urllib.parse import quote

from engineio import exceptions
from engineio.async_drivers._environ import ChunkReader, make_environ
from engineio.async_drivers._read_deadline import ReadDeadline
from engineio.static_files import get_static_file

Scope = Dict[str, Any]
Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]

#: Size of the blocks a static file is sent in.
BLOCK_SIZE = 64 * 1024
#: Longest reason a WebSocket close frame can carry, in bytes.
_MAX_CLOSE_REASON = 123


def _latin1(value: bytes) -> str:
    return value.decode('latin-1')


def _http_body(receive: Receive) -> ChunkReader:
    """Read an HTTP body from ``http.request`` events."""
    more = True

    async def next_chunk(size_hint: int) -> Optional[bytes]:
        nonlocal more
        while more:
            event = await receive()
            if event['type'] != 'http.request':
                more = False
                raise ConnectionError('the client disconnected')
            more = event.get('more_body', False)
            if event.get('body'):
                return event['body']
        return None

    return next_chunk


async def _no_body(size_hint: int) -> None:
    return None


async def translate_request(scope: Scope, receive: Receive,
                            send: Send) -> Dict[str, Any]:
    """The environ of an ASGI ``http`` or ``websocket`` connection.

    For a WebSocket the ``websocket.connect`` event is received here; an
    HTTP body is only received when the server reads ``wsgi.input``.
    """
    if scope['type'] == 'websocket':
        await receive()  # websocket.connect (or a disconnect seen later)
        next_chunk = _no_body
        method = 'GET'
    else:
        next_chunk = _http_body(receive)
        method = scope['method']
    query = scope.get('query_string', b'').decode('latin-1')
    raw_path = scope.get('raw_path')
    raw_uri = raw_path.decode('latin-1') if raw_path \
        else quote(scope['path'])
    if query:
        raw_uri += '?' + query
    headers = [(name.decode('latin-1'), value.decode('latin-1'))
               for name, value in scope.get('headers', ())]
    return make_environ(
        method, scope['path'], query, raw_uri, headers,
        scope.get('scheme', 'http'), scope.get('client'),
        scope.get('server'), scope.get('http_version', '1.1'), next_chunk,
        {'asgi.scope': scope, 'asgi.receive': receive, 'asgi.send': send})


def _encode_headers(headers: List[Tuple[str, str]]) -> List[List[bytes]]:
    return [[name.encode('latin-1'), value.encode('latin-1')]
            for name, value in headers]


async def make_response(status: str, headers: List[Tuple[str, str]],
                        payload: bytes, environ: Dict[str, Any]) -> None:
    """Send an HTTP answer. On a WebSocket connection, which is answered
    here only when it is refused, it is sent as a denial response where the
    ASGI server supports that, else the connection is closed."""
    scope = environ['asgi.scope']
    send = environ['asgi.send']
    status_code = int(status.split(' ', 1)[0])
    if scope['type'] == 'websocket':
        if 'websocket.http.response' in scope.get('extensions', {}):
            await send({'type': 'websocket.http.response.start',
                        'status': status_code,
                        'headers': _encode_headers(headers)})
            await send({'type': 'websocket.http.response.body',
                        'body': payload})
        else:
            reason = payload.decode('utf-8', 'replace')
            await send({'type': 'websocket.close', 'code': 1008,
                        'reason': reason.encode()[:_MAX_CLOSE_REASON].decode(
                            'utf-8', 'ignore')})
        return
    # with its length, the body is not sent in chunks
    encoded = _encode_headers(headers)
    encoded.append([b'content-length', b'%d' % len(payload)])
    await send({'type': 'http.response.start', 'status': status_code,
                'headers': encoded})
    await send({'type': 'http.response.body', 'body': payload})


class WebSocket:
    """A WebSocket over ASGI ``websocket`` messages, for the server's
    WebSocket handler: ``await ws(environ)`` accepts the connection and runs
    ``await handler(ws)``."""

    def __init__(self, handler: Callable[[Any], Awaitable[Any]],
                 server: Any) -> None:
        self.handler = handler
        self.server = server
        #: the heartbeat detects dead clients; this only backs it up
        self.timeout = 2 * (server.ping_interval + server.ping_timeout)
        self._read_deadline = ReadDeadline(self.timeout)
        self._receive: Optional[Receive] = None
        self._send: Optional[Send] = None
        self._closed = False

    async def __call__(self, environ: Dict[str, Any]) -> None:
        self._receive = environ['asgi.receive']
        self._send = environ['asgi.send']
        del environ  # not kept for as long as the connection lives
        try:
            await self._send({'type': 'websocket.accept'})
        except Exception:
            self._closed = True  # the client is gone: the handler sees that
        try:
            await self.handler(self)
        finally:
            self._read_deadline.stop()
        await self.close()

    async def send(self, data: Any) -> None:
        if self._closed:
            raise exceptions.EngineIOError('WebSocket is closed')
        key = 'text' if isinstance(data, str) else 'bytes'
        try:
            await self._send({'type': 'websocket.send', key: data})
        except Exception as exc:
            self._closed = True
            raise exceptions.EngineIOError('WebSocket send failed: %r' % exc)

    async def wait(self) -> Any:
        """The next message (str or bytes), or None once the connection
        ended or stayed silent too long. Raises ContentTooLongError (after
        closing) for a message over the server's size limit."""
        if self._closed:
            return None
        try:
            event = await self._read_deadline.read(self._receive())
        except asyncio.TimeoutError:
            await self.close()
            return None
        if event['type'] != 'websocket.receive':
            self._closed = True
            return None
        data = event.get('bytes')
        if data is None:
            data = event.get('text')
        if data is not None and \
                len(data) > self.server.max_http_buffer_size:
            await self.close(1009)
            raise exceptions.ContentTooLongError()
        return data

    async def close(self, code: int = 1000) -> None:
        """Close the WebSocket; given up on after the read timeout when the
        ASGI server cannot send (a client that does not read)."""
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.wait_for(
                self._send({'type': 'websocket.close', 'code': code}),
                self.timeout)
        except Exception:
            pass  # already closed by the client, or not reading


async def _call_hook(hook: Callable[[], Any]) -> None:
    result = hook()
    if inspect.isawaitable(result):
        await result


def _redirect_target(scope: Scope) -> bytes:
    """The request URL with a ``/`` appended to its path."""
    target = quote(scope['path'] + '/', safe="/:@!$&'()*+,;=~")
    query = scope.get('query_string', b'')
    if query:
        target += '?' + _latin1(query)
    return target.encode('latin-1')


class ASGIApp:
    """ASGI application serving an Engine.IO server, static files and
    another ASGI application.

    Requests whose path starts with ``engineio_path`` (with or without its
    trailing slash) go to ``engineio_server.handle_request``; otherwise a
    matching and existing static file is served; otherwise the request goes
    to ``other_asgi_app``, or is answered with 404 (a WebSocket is closed).

    :param engineio_server: the :class:`engineio.AsyncServer`, created with
        ``async_mode='asgi'``.
    :param other_asgi_app: optional ASGI application receiving all other
        requests (and the lifespan events when there is no hook).
    :param static_files: optional static-file rules, see
        :mod:`engineio.static_files`. Meant for development.
    :param engineio_path: URL path of the Engine.IO endpoint; ``None`` sends
        every HTTP and WebSocket request to Engine.IO.
    :param on_startup: optional function (or coroutine function) run when
        the ASGI server starts.
    :param on_shutdown: optional function (or coroutine function) run when
        the ASGI server stops.
    """

    def __init__(self, engineio_server: Any, other_asgi_app: Any = None,
                 static_files: Optional[Dict[str, Any]] = None,
                 engineio_path: Optional[str] = 'engine.io',
                 on_startup: Optional[Callable[[], Any]] = None,
                 on_shutdown: Optional[Callable[[], Any]] = None) -> None:
        self.engineio_server = engineio_server
        self.other_asgi_app = other_asgi_app
        if engineio_path is not None:
            if not engineio_path.startswith('/'):
                engineio_path = '/' + engineio_path
            engineio_path = self._ensure_trailing_slash(engineio_path)
        self.engineio_path = engineio_path
        self.static_files = static_files or {}
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown

    async def __call__(self, scope: Scope, receive: Receive,
                       send: Send) -> None:
        """The ASGI entry point: route the connection as described above,
        and run the lifespan hooks."""
        kind = scope['type']
        if kind == 'lifespan':
            await self.lifespan(scope, receive, send)
            return
        if kind in ('http', 'websocket') and (
                self.engineio_path is None or self._ensure_trailing_slash(
                    scope['path']).startswith(self.engineio_path)):
            await self.engineio_server.handle_request(scope, receive, send)
            return
        if kind == 'http':
            static_file = get_static_file(scope['path'], self.static_files)
            if static_file is not None and await self._serve_static_file(
                    static_file, scope, send):
                return
        if self.other_asgi_app is not None:
            await self.other_asgi_app(scope, receive, send)
        elif kind == 'http':
            await self.not_found(receive, send)
        elif kind == 'websocket':
            await self._refuse_websocket(receive, send)

    async def serve_static_file(self, static_file: Dict[str, str],
                                receive: Receive, send: Send) -> None:
        """Send a resolved static file, or 404 when it cannot be read."""
        if not await self._send_file(static_file, False, send):
            await self.not_found(receive, send)

    async def _serve_static_file(self, static_file: Dict[str, str],
                                 scope: Scope, send: Send) -> bool:
        """Answer with the file, or redirect a folder to its path with a
        trailing slash; False (nothing sent) when there is no such file."""
        if os.path.isdir(static_file['filename']):
            if scope['path'].endswith('/'):
                return False
            await send({'type': 'http.response.start', 'status': 301,
                        'headers': [[b'location', _redirect_target(scope)],
                                    [b'content-length', b'0']]})
            await send({'type': 'http.response.body', 'body': b''})
            return True
        return await self._send_file(static_file, scope['method'] == 'HEAD',
                                     send)

    @staticmethod
    async def _send_file(static_file: Dict[str, str], head: bool,
                         send: Send) -> bool:
        """Send a regular file (only its headers when ``head``); False
        (nothing sent) when it cannot be opened."""
        if not os.path.isfile(static_file['filename']):
            return False
        try:
            file = open(static_file['filename'], 'rb')
        except OSError:
            return False
        with file:
            size = os.fstat(file.fileno()).st_size
            await send({'type': 'http.response.start', 'status': 200,
                        'headers': [
                            [b'content-type',
                             static_file['content_type'].encode('latin-1')],
                            [b'content-length', str(size).encode()]]})
            more = not head
            while more:
                block = file.read(BLOCK_SIZE)
                more = len(block) == BLOCK_SIZE
                await send({'type': 'http.response.body', 'body': block,
                            'more_body': more})
            if head:
                await send({'type': 'http.response.body', 'body': b''})
        return True

    async def lifespan(self, scope: Scope, receive: Receive,
                       send: Send) -> None:
        """Run the startup and shutdown hooks; without hooks, hand the
        lifespan to the other application when there is one."""
        if self.other_asgi_app is not None and self.on_startup is None and \
                self.on_shutdown is None:
            await self.other_asgi_app(scope, receive, send)
            return
        while True:
            event = await receive()
            if event['type'] == 'lifespan.startup':
                step, hook = 'lifespan.startup', self.on_startup
            elif event['type'] == 'lifespan.shutdown':
                step, hook = 'lifespan.shutdown', self.on_shutdown
            else:
                continue
            try:
                if hook is not None:
                    await _call_hook(hook)
            except Exception as exc:
                await send({'type': step + '.failed', 'message': str(exc)})
                return
            await send({'type': step + '.complete'})
            if step == 'lifespan.shutdown':
                return

    async def not_found(self, receive: Receive, send: Send) -> None:
        """Answer ``404 Not Found``."""
        await send({'type': 'http.response.start', 'status': 404,
                    'headers': [[b'content-type', b'text/plain']]})
        await send({'type': 'http.response.body', 'body': b'Not Found'})

    async def _refuse_websocket(self, receive: Receive, send: Send) -> None:
        """Close a WebSocket connection that nothing here serves."""
        event = await receive()
        if event['type'] == 'websocket.connect':
            await send({'type': 'websocket.close', 'code': 1000})

    @staticmethod
    def _ensure_trailing_slash(path: str) -> str:
        return path if path.endswith('/') else path + '/'


_async = {
    'asyncio': True,
    'translate_request': translate_request,
    'make_response': make_response,
    'websocket': WebSocket,
}
