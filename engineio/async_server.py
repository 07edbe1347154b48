"""The Engine.IO server for asyncio (ASGI, aiohttp, tornado, sanic)."""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from typing import (Any, AsyncIterator, Awaitable, Callable, Dict, List,
                    Optional)

from . import base_server, exceptions, packet
from ._core import routing
from ._core.session import ProtocolViolation
from ._core.timers import TimerQueue
from .async_socket import AsyncSocket


if hasattr(asyncio, 'timeout'):  # Python 3.11+: a timer, no extra task
    async def _within(awaitable: Awaitable[Any],
                      seconds: Optional[float]) -> Any:
        async with asyncio.timeout(seconds):
            return await awaitable
else:  # pragma: no cover - older Pythons
    async def _within(awaitable: Awaitable[Any],
                      seconds: Optional[float]) -> Any:
        return await asyncio.wait_for(awaitable, seconds)


class AsyncServer(base_server.BaseServer):
    """An Engine.IO server for asyncio applications.

    Takes the options of :class:`engineio.Server`; ``async_mode`` is
    ``'aiohttp'``, ``'sanic'``, ``'tornado'`` or ``'asgi'`` (``None`` picks
    the first one installed, in that order: pass ``'asgi'`` explicitly for
    an ASGI deployment). Handlers may be coroutine functions or plain
    functions.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timers = TimerQueue()
        self._service_wake: Optional[asyncio.Event] = None

    def is_asyncio_based(self) -> bool:
        """True: this server runs on an asyncio event loop."""
        return True

    def async_modes(self) -> List[str]:
        """The async modes of this class, in the order ``async_mode=None``
        tries them."""
        return list(base_server.ASYNC_MODES)

    def attach(self, app: Any, engineio_path: str = 'engine.io') -> None:
        """Add the Engine.IO routes to an aiohttp or sanic application."""
        engineio_path = engineio_path.strip('/')
        self._async['create_route'](app, self, '/{}/'.format(engineio_path))

    # -- public API ----------------------------------------------------------

    async def send(self, sid: str, data: Any) -> None:
        """Send a message (str, bytes, dict or list) to a client."""
        await self.send_packet(sid, packet.Packet(packet.MESSAGE, data=data))

    async def send_packet(self, sid: str, pkt: packet.Packet) -> None:
        """Send a raw Engine.IO packet to a client."""
        try:
            socket = self._get_socket(sid)
            await socket.send(pkt)
        except (KeyError, exceptions.SocketIsClosedError):
            self.logger.warning('Cannot send to sid %s', sid)

    async def get_session(self, sid: str) -> Dict[str, Any]:
        """The application's session dict of a client."""
        return self._get_socket(sid).session

    async def save_session(self, sid: str, session: Dict[str, Any]) -> None:
        """Replace the application's session dict of a client."""
        self._get_socket(sid).session = session

    def session(self, sid: str):
        """``async with eio.session(sid) as session:`` reads and saves a
        session."""
        @contextlib.asynccontextmanager
        async def session_context() -> AsyncIterator[Dict[str, Any]]:
            session = await self.get_session(sid)
            try:
                yield session
            finally:
                await self.save_session(sid, session)

        return session_context()

    async def disconnect(self, sid: Optional[str] = None) -> None:
        """Close one client's session, or every session when ``sid`` is
        None. Returns without waiting for the client."""
        if sid is not None:
            socket = self.sockets.get(sid)
            if socket is not None:
                await socket.close(reason=self.reason.SERVER_DISCONNECT)
            return
        for socket in list(self.sockets.values()):
            await socket.close(reason=self.reason.SERVER_DISCONNECT)

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        """Handle an HTTP request; the arguments are those of the async
        mode's framework (e.g. ``scope, receive, send`` for ASGI)."""
        environ = self._async['translate_request'](*args, **kwargs)
        if inspect.iscoroutine(environ):
            environ = await environ
        decision = routing.route(environ, self, self._find_socket)
        if isinstance(decision, routing.Reject):
            r = self._reject_response(decision, environ)
        elif decision.kind == routing.POLL:
            r = self._finish_response(await self._poll(decision), environ)
        elif decision.kind == routing.POST:
            r = self._finish_response(await self._post(decision, environ),
                                      environ)
        elif decision.kind == routing.HANDSHAKE:
            connect = self._handle_connect(environ, decision.transport,
                                           decision.jsonp_index)
            del environ  # a WebSocket's frames keep no environ alive
            return await connect
        elif decision.kind == routing.WEBSOCKET:
            upgrade = decision.session.handle_get_request(environ)
            del environ
            return await upgrade
        else:
            r = self._finish_response(self._ok(), environ)
        response = self._send_response(r, environ)
        return await response if inspect.iscoroutine(response) else response

    async def shutdown(self) -> None:
        """Stop the background task. Connected clients are not closed."""
        self.logger.info('Socket.IO is shutting down')
        handle = self.service_task_handle
        if handle is None:
            return
        self.service_task_handle = None
        self.service_task_event.set()
        self._service_wake.set()
        await handle

    def start_background_task(self, target: Callable[..., Any], *args: Any,
                              **kwargs: Any) -> asyncio.Task:
        """Run the coroutine function ``target(*args, **kwargs)`` as a
        task."""
        return asyncio.ensure_future(target(*args, **kwargs))

    async def sleep(self, seconds: float = 0) -> None:
        """Sleep without blocking the event loop."""
        return await asyncio.sleep(seconds)

    def create_queue(self, *args: Any, **kwargs: Any) -> asyncio.Queue:
        """An :class:`asyncio.Queue`."""
        return asyncio.Queue(*args, **kwargs)

    def get_queue_empty_exception(self) -> Any:
        """:class:`asyncio.QueueEmpty`."""
        return asyncio.QueueEmpty

    def create_event(self, *args: Any, **kwargs: Any) -> asyncio.Event:
        """An :class:`asyncio.Event`."""
        return asyncio.Event(*args, **kwargs)

    # -- requests ----------------------------------------------------------------

    def _send_response(self, response_dict: Dict[str, Any],
                       environ: Dict[str, Any]) -> Any:
        """The driver's answer: the framework's response object, or a
        coroutine that sends the response."""
        return self._async['make_response'](
            response_dict['status'], response_dict['headers'],
            response_dict['response'], environ)

    async def _make_response(self, response_dict: Dict[str, Any],
                             environ: Dict[str, Any]) -> Any:
        response = self._send_response(response_dict, environ)
        return await response if inspect.iscoroutine(response) else response

    async def _handle_connect(self, environ: Dict[str, Any], transport: str,
                              jsonp_index: Optional[int] = None) -> Any:
        socket = self._open_session(AsyncSocket, transport)
        r, closed = self._settle_connect(socket, await self._trigger_event(
            'connect', socket.sid, environ, run_async=False), environ)
        if closed is not None:
            await socket._closed(closed)
        if r is None:
            if transport == 'websocket':
                websocket = socket.handle_get_request(environ)
                del environ  # a WebSocket's frames keep no environ alive
                return await websocket
            try:
                r = self._ok(await socket.poll(),
                             headers=self._handshake_headers(socket.sid),
                             jsonp_index=jsonp_index)
            except exceptions.QueueEmpty:
                r = self._bad_request()
            r = self._finish_response(r, environ)
        return await self._make_response(r, environ)

    async def _poll(self, route: routing.Route) -> Dict[str, Any]:
        try:
            packets = await route.session.poll()
        except (ProtocolViolation, exceptions.QueueEmpty) as exc:
            return self._poll_error(route.sid, exc)
        return self._ok(packets, jsonp_index=route.jsonp_index)

    async def _post(self, route: routing.Route,
                    environ: Dict[str, Any]) -> Dict[str, Any]:
        try:
            await route.session.handle_post_request(environ)
        except Exception as exc:
            return self._post_error(route.sid, exc)
        return self._ok()

    async def _reject_no_websocket(self, environ: Dict[str, Any]) -> Any:
        return await self._make_response(
            self._no_websocket_response(environ), environ)

    # -- events ------------------------------------------------------------------

    async def _trigger_event(self, event: str, *args: Any,
                             run_async: bool = False) -> Any:
        handler = self.handlers.get(event)
        if handler is None:
            return None
        if run_async:
            return self.start_background_task(self._run_handler, event,
                                              handler, args)
        return await self._run_handler(event, handler, args)

    async def _run_handler(self, event: str, handler: Callable[..., Any],
                           args: tuple) -> Any:
        try:
            if event == 'disconnect':
                ret = base_server.call_with_optional_args(handler, *args)
            else:
                ret = handler(*args)
            if inspect.isawaitable(ret):
                ret = await ret
            return ret
        except asyncio.CancelledError:
            return False if event == 'connect' else None
        except Exception:
            self.logger.exception('%s async handler error', event)
            if event == 'connect':
                return False

    # -- heartbeat ---------------------------------------------------------------

    def _ensure_service_task(self) -> None:
        if self.service_task_handle is not None:
            return
        self.service_task_event = asyncio.Event()
        self._service_wake = asyncio.Event()
        self.service_task_handle = self.start_background_task(
            self._service_task)

    def _schedule(self, socket: AsyncSocket) -> None:
        """Register the socket's next deadline with the service task."""
        if self._timers.schedule(socket, socket._proto.deadline()) and \
                self._service_wake is not None:
            self._service_wake.set()

    async def _service_task(self) -> None:
        """Send PINGs, close silent sessions and expire closed ones."""
        stop, wake = self.service_task_event, self._service_wake
        while not stop.is_set():
            wake.clear()
            now = time.monotonic()
            for socket in self._timers.pop_due(now):
                try:
                    await socket._on_timer(now)
                except Exception:  # pragma: no cover
                    self.logger.exception('service task error')
            next_time = self._timers.next_time()
            try:
                await _within(
                    wake.wait(), None if next_time is None
                    else max(0.0, next_time - time.monotonic()))
            except asyncio.TimeoutError:
                pass
