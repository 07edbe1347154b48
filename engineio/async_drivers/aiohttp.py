"""The ``aiohttp`` async mode: serve Engine.IO from an aiohttp web
application (``eio.attach(app)``)."""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from engineio import exceptions
from engineio.async_drivers._environ import make_environ
from engineio.async_drivers._read_deadline import ReadDeadline

#: aiohttp's close code for a message over ``max_msg_size``
_MESSAGE_TOO_BIG = 1009


def create_route(app: web.Application, engineio_server: Any,
                 engineio_endpoint: str) -> None:
    """Route the requests of ``engineio_endpoint`` to the Engine.IO server
    (all methods, so that each gets the server's answer)."""
    app.router.add_route('*', engineio_endpoint,
                         engineio_server.handle_request)


def _peer(request: web.BaseRequest) -> Optional[Tuple[Any, Any]]:
    transport = request.transport
    peer = transport.get_extra_info('peername') if transport else None
    port = peer[1] if isinstance(peer, tuple) and len(peer) > 1 else ''
    return (request.remote, port) if request.remote else None


def _local(request: web.BaseRequest) -> Optional[Tuple[Any, Any]]:
    transport = request.transport
    local = transport.get_extra_info('sockname') if transport else None
    if isinstance(local, tuple) and len(local) > 1:
        return local[0], local[1]
    return None


def translate_request(request: web.BaseRequest) -> Dict[str, Any]:
    """The environ of an aiohttp request."""
    content = request.content

    async def next_chunk(size_hint: int) -> Optional[bytes]:
        chunk = await content.read(size_hint if size_hint > 0 else 65536)
        return chunk or None

    return make_environ(
        request.method, request.path, request.rel_url.raw_query_string,
        request.raw_path, request.headers.items(), request.scheme,
        _peer(request), _local(request),
        '%d.%d' % tuple(request.version), next_chunk,
        {'aiohttp.request': request})


def make_response(status: str, headers: List[Tuple[str, str]],
                  payload: bytes, environ: Dict[str, Any]) -> web.Response:
    """An aiohttp response."""
    code, _, reason = status.partition(' ')
    return web.Response(body=payload, status=int(code),
                        reason=reason or None, headers=CIMultiDict(headers))


class WebSocket:
    """An aiohttp WebSocket for the server's WebSocket handler:
    ``await ws(environ)`` runs ``await handler(ws)`` and returns the
    ``WebSocketResponse`` for aiohttp."""

    def __init__(self, handler: Callable[[Any], Awaitable[Any]],
                 server: Any) -> None:
        self.handler = handler
        self.server = server
        #: the heartbeat detects dead clients; this only backs it up
        self.timeout = 2 * (server.ping_interval + server.ping_timeout)
        #: one timer for the connection, not one per read (aiohttp's own
        #: ``receive(timeout)`` arms a timeout context for every message)
        self._read_deadline = ReadDeadline(self.timeout)
        self._ws: Optional[web.WebSocketResponse] = None

    async def __call__(self, environ: Dict[str, Any]
                       ) -> web.WebSocketResponse:
        self._ws = web.WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size + 1)
        request = environ['aiohttp.request']
        del environ  # not kept for as long as the connection lives
        await self._ws.prepare(request)
        del request
        try:
            await self.handler(self)
        finally:
            self._read_deadline.stop()
        await self.close()
        return self._ws

    async def send(self, data: Any) -> None:
        if self._ws.closed:
            raise exceptions.EngineIOError('WebSocket is closed')
        if isinstance(data, str):
            await self._ws.send_str(data)
        else:
            await self._ws.send_bytes(data)

    async def wait(self) -> Any:
        """The next message (str or bytes), or None once the connection
        ended or stayed silent too long. Raises ContentTooLongError for a
        message over the server's size limit (aiohttp closes the
        connection)."""
        try:
            msg = await self._read_deadline.read(self._ws.receive())
        except Exception:  # a timeout, or the connection broke
            await self.close()
            return None
        if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            return msg.data
        if msg.type == WSMsgType.ERROR and \
                getattr(msg.data, 'code', None) == _MESSAGE_TOO_BIG:
            raise exceptions.ContentTooLongError()
        return None

    async def close(self) -> None:
        if not self._ws.closed:
            await self._ws.close()


_async = {
    'asyncio': True,
    'create_route': create_route,
    'translate_request': translate_request,
    'make_response': make_response,
    'websocket': WebSocket,
}
