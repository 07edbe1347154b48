"""The ``sanic`` async mode: serve Engine.IO from a Sanic application
(``eio.attach(app)``). Sanic can also run ASGI applications, so the
``asgi`` mode with :class:`engineio.ASGIApp` is an alternative."""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

import sanic
from sanic.compat import Header
from sanic.response import HTTPResponse

from engineio import exceptions
from engineio.async_drivers._environ import make_environ

try:
    from sanic.server.protocols.websocket_protocol import WebSocketProtocol
except ImportError:  # a Sanic without WebSocket support
    WebSocketProtocol = None


_METHODS = ['GET', 'POST', 'OPTIONS', 'HEAD', 'PUT', 'PATCH', 'DELETE']


def create_route(app: sanic.Sanic, engineio_server: Any,
                 engineio_endpoint: str) -> None:
    """Route the requests of ``engineio_endpoint`` to the Engine.IO server
    (all methods, so that each gets the server's answer), with request
    bodies streamed (read only as far as needed) and WebSocket support
    enabled."""
    async def engineio_handler(request: Any) -> Any:
        return await engineio_server.handle_request(request)

    # after a WebSocket, the handler has no HTTP response to return
    engineio_handler.is_websocket = True  # type: ignore[attr-defined]
    app.add_route(engineio_handler, engineio_endpoint,
                  methods=_METHODS, stream=True,
                  name='engineio_' + str(id(engineio_server)))
    app.enable_websocket()


def translate_request(request: Any) -> Dict[str, Any]:
    """The environ of a Sanic request."""
    preloaded = request.body or b''

    async def next_chunk(size_hint: int) -> Optional[bytes]:
        nonlocal preloaded
        if preloaded:
            chunk, preloaded = preloaded, b''
            return chunk
        if request.stream is None:
            return None
        return await request.stream.read()

    raw_uri = request.path
    if request.query_string:
        raw_uri += '?' + request.query_string
    return make_environ(
        request.method, request.path, request.query_string, raw_uri,
        request.headers.items(), request.scheme,
        (request.ip, request.port) if request.ip else None,
        (request.server_name, request.server_port), request.version,
        next_chunk, {'sanic.request': request})


async def make_response(status: str, headers: List[Tuple[str, str]],
                        payload: bytes, environ: Dict[str, Any]
                        ) -> HTTPResponse:
    """A Sanic response."""
    code = int(status.split(' ', 1)[0])
    request = environ['sanic.request']
    if 200 <= code < 300 and request.stream is not None:
        # the server read the whole body; let Sanic see its end too
        await request.receive_body()
    content_type = None
    others = []
    for name, value in headers:
        if name.lower() == 'content-type':
            content_type = value
        else:
            others.append((name, value))
    return HTTPResponse(body=payload, status=code,
                        headers=Header(others), content_type=content_type)


class WebSocket:
    """A Sanic WebSocket for the server's WebSocket handler:
    ``await ws(environ)`` runs the handshake, then ``await handler(ws)``."""

    #: seconds the frames that arrived before the connection ended get to
    #: reach Sanic's frame assembler (they are handed over by tasks that
    #: need a few turns of the event loop, no I/O)
    handover_grace = 0.25

    def __init__(self, handler: Callable[[Any], Awaitable[Any]],
                 server: Any) -> None:
        self.handler = handler
        self.server = server
        #: the heartbeat detects dead clients; this only backs it up
        self.timeout = 2 * (server.ping_interval + server.ping_timeout)
        self._ws: Any = None
        self._message: Optional[asyncio.Future] = None
        self._lost: Optional[asyncio.Future] = None

    async def __call__(self, environ: Dict[str, Any]) -> None:
        request = environ['sanic.request']
        del environ  # not kept for as long as the connection lives
        protocol = request.transport.get_protocol()
        protocol.websocket_max_size = self.server.max_http_buffer_size
        self._ws = await protocol.websocket_handshake(request)
        del request, protocol
        # Sanic cancels the request's task as soon as the connection is
        # lost; the session must still take the messages that arrived and
        # close normally, so it runs in a task of its own.
        await asyncio.shield(asyncio.ensure_future(self._serve()))

    async def _serve(self) -> None:
        await self.handler(self)
        await self.close()

    async def send(self, data: Any) -> None:
        try:
            await self._ws.send(data)
        except Exception as exc:
            raise exceptions.EngineIOError('WebSocket send failed: %r' % exc)

    async def wait(self) -> Any:
        """The next message (str or bytes), or None once the connection
        ended or stayed silent too long."""
        # Sanic's recv() loses a message followed at once by a close frame,
        # and misses a close frame that arrives while no recv() waits; so
        # messages are taken from its frame assembler, and the end of the
        # connection is watched for separately. A read from the assembler
        # is never abandoned: cancelling one breaks the assembler for good.
        if self._message is None:
            # no timeout of its own: Sanic would run each read in one more
            # task (asyncio.wait_for); the wait below bounds the silence
            self._message = asyncio.ensure_future(self._ws.assembler.get())
        if self._lost is None:
            self._lost = asyncio.ensure_future(
                self._ws.wait_for_connection_lost())
        done, _ = await asyncio.wait([self._message, self._lost],
                                     timeout=self.timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if not done:  # silent for too long
            await self.close()
            return None
        if not self._message.done():
            # the connection ended: take the messages still on their way
            await asyncio.wait([self._message], timeout=self.handover_grace)
            if not self._message.done():
                return None
        message, self._message = self._message, None
        if message.cancelled() or message.exception() is not None:
            return None
        data = message.result()
        if data is None:  # the assembler has no message to give
            await self.close()
        return data

    async def close(self) -> None:
        for task in (self._message, self._lost):
            if task is not None:
                task.cancel()
        try:
            # bounded: Sanic cannot send the close frame to a client that
            # does not read
            await asyncio.wait_for(self._ws.close(), self.timeout)
        except Exception:
            pass  # already closed, or not reading


_async = {
    'asyncio': True,
    'create_route': create_route,
    'translate_request': translate_request,
    'make_response': make_response,
    'websocket': WebSocket if WebSocketProtocol is not None else None,
}
