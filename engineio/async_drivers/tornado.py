"""The ``tornado`` async mode: serve Engine.IO from a tornado application
with the request handler class from :func:`get_tornado_handler`."""
from __future__ import annotations

import asyncio
from collections import deque
from typing import (Any, Awaitable, Callable, Deque, Dict, List, Optional,
                    Tuple)
from urllib.parse import unquote_to_bytes

import tornado.web
import tornado.websocket

from engineio import exceptions
from engineio._core import http
from engineio.async_drivers._environ import make_environ
from engineio.async_drivers._read_deadline import ReadDeadline


def get_tornado_handler(engineio_server: Any) -> type:
    """A tornado request handler class serving ``engineio_server``; route
    the Engine.IO path to it, e.g. ``(r'/engine.io/', handler)``.

    Every request reaches the server as soon as its headers arrived; a
    request body is handed to the server as it streams in, and no more of
    it than the server's ``max_http_buffer_size`` is kept. WebSocket
    handshakes the server accepts are completed by tornado, whose origin
    check follows the server's ``cors_allowed_origins``.
    """

    @tornado.web.stream_request_body
    class Handler(tornado.websocket.WebSocketHandler):
        def initialize(self) -> None:
            # body chunks, then None (the end) or an error (not for a GET)
            self.eio_body: Optional[asyncio.Queue] = None
            self.eio_body_room = engineio_server.max_http_buffer_size + 1
            self.eio_request: Optional[asyncio.Future] = None
            # a WebSocket's messages, and its opening (see WebSocket)
            self.eio_messages: Optional[_Messages] = None
            self.eio_opened: Optional[asyncio.Future] = None
            # set once the server is done with the WebSocket: tornado goes
            # on reading until the closing handshake ends
            self.eio_done = False

        def prepare(self) -> None:
            if self.request.method != 'GET':
                self.eio_body = asyncio.Queue()
                self.eio_request = asyncio.ensure_future(
                    engineio_server.handle_request(self))

        def data_received(self, chunk: bytes) -> None:
            if self.eio_body is not None and self.eio_body_room > 0:
                self.eio_body.put_nowait(chunk[:self.eio_body_room])
                self.eio_body_room -= len(chunk)

        async def get(self, *args: Any, **kwargs: Any) -> None:
            await engineio_server.handle_request(self)

        async def body_received(self, *args: Any, **kwargs: Any) -> None:
            self.eio_body.put_nowait(None)
            await self.eio_request

        post = put = patch = delete = head = options = body_received

        def on_connection_close(self) -> None:
            if self.eio_body is not None:
                self.eio_body.put_nowait(
                    ConnectionError('the client went away'))
            super().on_connection_close()
            tornado.web.RequestHandler.on_connection_close(self)

        def open(self, *args: Any, **kwargs: Any) -> None:
            _settle(self.eio_opened)

        def on_message(self, message: Any) -> None:
            if not self.eio_done:
                self.eio_messages.put_nowait(message)

        def on_close(self) -> None:
            if self.eio_messages is not None:
                self.eio_messages.put_nowait(None)
            _settle(self.eio_opened)

        def check_origin(self, origin: str) -> bool:
            return http.origin_allowed(engineio_server.cors_allowed_origins,
                                       translate_request(self))

        def get_compression_options(self) -> Dict[str, Any]:
            return {}  # permessage-deflate with default settings

        @property
        def max_message_size(self) -> int:
            return engineio_server.max_http_buffer_size

        def compute_etag(self) -> None:
            return None  # long-polling answers must never be a 304

    return Handler


def translate_request(handler: Any) -> Dict[str, Any]:
    """The environ of a tornado request (``handler`` is the request
    handler from :func:`get_tornado_handler`)."""
    request = handler.request
    queue = getattr(handler, 'eio_body', None)
    body = request.body

    async def next_chunk(size_hint: int) -> Optional[bytes]:
        nonlocal body
        if queue is not None:
            chunk = await queue.get()
            if isinstance(chunk, Exception):
                raise chunk
            return chunk
        chunk, body = body, b''
        return chunk or None

    context = getattr(request.connection, 'context', None)
    address = getattr(context, 'address', None)
    port = address[1] if isinstance(address, tuple) and \
        len(address) > 1 else ''
    host, _, server_port = request.host.rpartition(':')
    if not host or not server_port.isdigit():
        host, server_port = request.host, \
            '443' if request.protocol == 'https' else '80'
    return make_environ(
        request.method,
        unquote_to_bytes(request.path).decode('latin-1'), request.query,
        request.uri, request.headers.get_all(), request.protocol,
        (request.remote_ip, port) if request.remote_ip else None,
        (host, server_port), request.version.partition('/')[2] or '1.1',
        next_chunk, {'tornado.handler': handler})


def make_response(status: str, headers: List[Tuple[str, str]],
                  payload: bytes, environ: Dict[str, Any]) -> None:
    """Send the answer through the tornado handler."""
    handler = environ['tornado.handler']
    code, _, reason = status.partition(' ')
    handler.set_status(int(code), reason or None)
    handler.clear_header('Content-Type')
    for name, value in headers:
        handler.add_header(name, value)
    handler.finish(payload)


class WebSocket:
    """A tornado WebSocket for the server's WebSocket handler:
    ``await ws(environ)`` runs the handshake, then ``await handler(ws)``."""

    def __init__(self, handler: Callable[[Any], Awaitable[Any]],
                 server: Any) -> None:
        self.handler = handler
        self.server = server
        #: the heartbeat detects dead clients; this only backs it up
        self.timeout = 2 * (server.ping_interval + server.ping_timeout)
        self.tornado_handler: Any = None
        self._read_deadline = ReadDeadline(self.timeout)

    async def __call__(self, environ: Dict[str, Any]) -> None:
        handler = self.tornado_handler = environ['tornado.handler']
        del environ  # not kept for as long as the connection lives
        handler.eio_messages = _Messages()
        opened = handler.eio_opened = \
            asyncio.get_running_loop().create_future()
        # the handshake; then tornado reads frames until the connection
        # ends, passing them to the handler's on_message()
        connection = asyncio.ensure_future(
            tornado.websocket.WebSocketHandler.get(handler))
        await asyncio.wait([connection, opened],
                           return_when=asyncio.FIRST_COMPLETED)
        if not opened.done():  # the handshake failed
            opened.cancel()
            handler.eio_messages.put_nowait(None)
        try:
            await self.handler(self)
        finally:
            self._read_deadline.stop()
        await self.close()
        await connection

    async def send(self, data: Any) -> None:
        try:
            write = self.tornado_handler.write_message(
                data, binary=not isinstance(data, str))
            if write.done():  # written at once: the usual case
                write.result()
                return
            # a writer stopped in the middle (its client does not read) must
            # not cancel tornado's own write, which would log an error
            write.add_done_callback(_seen)
            await asyncio.shield(write)
        except Exception as exc:
            raise exceptions.EngineIOError('WebSocket send failed: %r' % exc)

    async def wait(self) -> Any:
        """The next message (str or bytes), or None once the connection
        ended or stayed silent too long."""
        messages = self.tornado_handler.eio_messages
        if messages:  # one is there already: no need to wait or time out
            return messages.get_nowait()
        try:
            return await self._read_deadline.read(messages.get())
        except asyncio.TimeoutError:
            await self.close()
            return None

    async def close(self) -> None:
        self.tornado_handler.eio_done = True
        self.tornado_handler.close()


class _Messages:
    """The messages tornado hands to ``on_message()``, for one reader: a
    queue lighter than :class:`asyncio.Queue` (a connection keeps one). Its
    deque exists only while messages wait: an idle connection has none."""

    def __init__(self) -> None:
        self._items: Optional[Deque[Any]] = None
        self._waiter: Optional[asyncio.Future] = None

    def __len__(self) -> int:
        return len(self._items) if self._items is not None else 0

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        _settle(self._waiter)

    def get_nowait(self) -> Any:
        """The next item (there must be one)."""
        items = self._items
        item = items.popleft()
        if not items:
            self._items = None
        return item

    async def get(self) -> Any:
        """The next item; safe to cancel (nothing is lost)."""
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.get_nowait()


def _settle(future: Optional['asyncio.Future[Any]']) -> None:
    """Resolve a future someone may wait on, if not done yet."""
    if future is not None and not future.done():
        future.set_result(None)


def _seen(future: 'asyncio.Future[Any]') -> None:
    """Take a finished future's outcome, so that none is logged as lost."""
    if not future.cancelled():
        future.exception()


_async = {
    'asyncio': True,
    'translate_request': translate_request,
    'make_response': make_response,
    'websocket': WebSocket,
}
