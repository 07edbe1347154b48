"""The Engine.IO server for WSGI (threads, eventlet or gevent)."""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional

from . import base_server, exceptions, packet
from ._core import routing
from ._core.session import ProtocolViolation
from ._core.timers import TimerQueue
from .socket import Socket


class Server(base_server.BaseServer):
    """An Engine.IO server for WSGI applications.

    :param async_mode: ``'threading'``, ``'eventlet'``, ``'gevent'`` or
        ``'gevent_uwsgi'``; ``None`` picks the first one installed, in that
        order (eventlet, gevent_uwsgi, gevent, threading).
    :param ping_interval: seconds between the server's PINGs, or a tuple
        ``(interval, grace)`` whose grace is added to the interval advertised
        to clients.
    :param ping_timeout: seconds a client has to answer a PING.
    :param max_http_buffer_size: largest accepted POST body or WebSocket
        message, in bytes.
    :param allow_upgrades: whether polling clients may upgrade to WebSocket.
    :param http_compression: compress polling answers with gzip or deflate.
    :param compression_threshold: compress only bodies of at least this size.
    :param cookie: name of a cookie holding the sid (a dict gives the name
        under ``'name'`` and cookie attributes), or ``None`` for no cookie.
    :param cors_allowed_origins: origins allowed to connect: ``None`` for the
        server's own origin, ``'*'`` for any, a string, a list, a callable
        ``(origin, environ)``, or ``[]`` to turn CORS handling off.
    :param cors_credentials: allow credentials (cookies) in CORS requests.
    :param logger: ``True`` to log at INFO, ``False`` for errors only, or a
        logger object.
    :param json: a module with ``dumps`` and ``loads`` to encode messages
        (process-wide).
    :param async_handlers: run ``message`` handlers in a background task
        (in order, one at a time per client).
    :param monitor_clients: close sessions whose client stops answering
        PINGs (default ``True``).
    :param transports: allowed transports, among ``'polling'`` and
        ``'websocket'`` (default both).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timers = TimerQueue()
        self._timers_lock = threading.Lock()
        self._service_lock = threading.Lock()
        self._service_wake: Any = None

    # -- public API ----------------------------------------------------------

    def send(self, sid: str, data: Any) -> None:
        """Send a message (str, bytes, dict or list) to a client."""
        self.send_packet(sid, packet.Packet(packet.MESSAGE, data=data))

    def send_packet(self, sid: str, pkt: packet.Packet) -> None:
        """Send a raw Engine.IO packet to a client."""
        try:
            socket = self._get_socket(sid)
            socket.send(pkt)
        except (KeyError, exceptions.SocketIsClosedError):
            self.logger.warning('Cannot send to sid %s', sid)

    def get_session(self, sid: str) -> Dict[str, Any]:
        """The application's session dict of a client."""
        return self._get_socket(sid).session

    def save_session(self, sid: str, session: Dict[str, Any]) -> None:
        """Replace the application's session dict of a client."""
        self._get_socket(sid).session = session

    @contextlib.contextmanager
    def session(self, sid: str) -> Iterator[Dict[str, Any]]:
        """``with eio.session(sid) as session:`` reads and saves a session."""
        session = self.get_session(sid)
        try:
            yield session
        finally:
            self.save_session(sid, session)

    def disconnect(self, sid: Optional[str] = None) -> None:
        """Close one client's session, or every session when ``sid`` is
        None. Returns without waiting for the client."""
        if sid is not None:
            socket = self.sockets.get(sid)
            if socket is not None:
                socket.close(reason=self.reason.SERVER_DISCONNECT)
            return
        for socket in list(self.sockets.values()):
            socket.close(reason=self.reason.SERVER_DISCONNECT)

    def handle_request(self, environ: Dict[str, Any],
                       start_response: Callable[..., Any]) -> Any:
        """Handle an HTTP request to the Engine.IO endpoint (WSGI)."""
        prepare = self._async.get('prepare_request')
        if prepare is not None:
            prepare(environ)
        decision = routing.route(environ, self, self._find_socket)
        if isinstance(decision, routing.Reject):
            r = self._reject_response(decision, environ)
        elif decision.kind == routing.HANDSHAKE:
            return self._handle_connect(environ, start_response,
                                        decision.transport,
                                        decision.jsonp_index)
        elif decision.kind == routing.WEBSOCKET:
            return decision.session.handle_get_request(environ,
                                                       start_response)
        elif decision.kind == routing.POLL:
            r = self._finish_response(self._poll(decision), environ)
        elif decision.kind == routing.POST:
            r = self._finish_response(self._post(decision, environ), environ)
        else:
            r = self._finish_response(self._ok(), environ)
        return self._respond(r, start_response)

    def shutdown(self) -> None:
        """Stop the background task. Connected clients are not closed."""
        self.logger.info('Socket.IO is shutting down')
        with self._service_lock:
            handle = self.service_task_handle
            if handle is None:
                return
            self.service_task_event.set()
            self._service_wake.set()
            self.service_task_handle = None
        handle.join()

    def start_background_task(self, target: Callable[..., Any], *args: Any,
                              **kwargs: Any) -> Any:
        """Run ``target(*args, **kwargs)`` in a thread or greenlet of the
        async mode; returns an object with a ``join()`` method."""
        th = self._async['thread'](target=target, args=args, kwargs=kwargs)
        th.start()
        return th

    def sleep(self, seconds: float = 0) -> None:
        """Sleep in the way of the async mode."""
        return self._async['sleep'](seconds)

    def create_queue(self, *args: Any, **kwargs: Any) -> Any:
        """A queue of the async mode."""
        return self._async['queue'](*args, **kwargs)

    def get_queue_empty_exception(self) -> Any:
        """The exception the async mode's queue raises when empty."""
        return self._async['queue_empty']

    def create_event(self, *args: Any, **kwargs: Any) -> Any:
        """An event object of the async mode."""
        return self._async['event'](*args, **kwargs)

    # -- requests ----------------------------------------------------------------

    def _handle_connect(self, environ: Dict[str, Any],
                        start_response: Callable[..., Any], transport: str,
                        jsonp_index: Optional[int] = None) -> Any:
        socket = self._open_session(Socket, transport)
        r, closed = self._settle_connect(socket, self._trigger_event(
            'connect', socket.sid, environ, run_async=False), environ)
        if closed is not None:
            socket._closed(closed)
        if r is None:
            if transport == 'websocket':
                return socket.handle_get_request(environ, start_response)
            try:
                r = self._ok(socket.poll(),
                             headers=self._handshake_headers(socket.sid),
                             jsonp_index=jsonp_index)
            except exceptions.QueueEmpty:
                r = self._bad_request()
            r = self._finish_response(r, environ)
        return self._respond(r, start_response)

    def _poll(self, route: routing.Route) -> Dict[str, Any]:
        try:
            packets = route.session.poll()
        except (ProtocolViolation, exceptions.QueueEmpty) as exc:
            return self._poll_error(route.sid, exc)
        return self._ok(packets, jsonp_index=route.jsonp_index)

    def _post(self, route: routing.Route,
              environ: Dict[str, Any]) -> Dict[str, Any]:
        try:
            route.session.handle_post_request(environ)
        except Exception as exc:
            return self._post_error(route.sid, exc)
        return self._ok()

    def _reject_no_websocket(self, environ: Dict[str, Any],
                             start_response: Callable[..., Any]) -> Any:
        r = self._no_websocket_response(environ)
        return self._respond(r, start_response)

    @staticmethod
    def _respond(r: Dict[str, Any], start_response: Callable[..., Any]
                 ) -> List[bytes]:
        """Send a response dict; with its length, so that servers write
        the headers and the body at once."""
        body = r['response']
        start_response(r['status'], r['headers'] + [
            ('Content-Length', str(len(body)))])
        return [body]

    # -- events ------------------------------------------------------------------

    def _trigger_event(self, event: str, *args: Any,
                       run_async: bool = False) -> Any:
        handler = self.handlers.get(event)
        if handler is None:
            return None
        if run_async:
            return self.start_background_task(self._run_handler, event,
                                              handler, args)
        return self._run_handler(event, handler, args)

    def _run_handler(self, event: str, handler: Callable[..., Any],
                     args: tuple) -> Any:
        try:
            if event == 'disconnect':
                return base_server.call_with_optional_args(handler, *args)
            return handler(*args)
        except Exception:
            self.logger.exception('%s handler error', event)
            if event == 'connect':
                return False

    # -- heartbeat ---------------------------------------------------------------

    def _ensure_service_task(self) -> None:
        with self._service_lock:
            if self.service_task_handle is not None:
                return
            self.service_task_event = self.create_event()
            self._service_wake = self.create_event()
            self.service_task_handle = self.start_background_task(
                self._service_task)

    def _schedule(self, socket: Socket) -> None:
        """Register the socket's next deadline with the service task."""
        with self._timers_lock:
            earliest = self._timers.schedule(socket, socket._proto.deadline())
        if earliest and self._service_wake is not None:
            self._service_wake.set()

    def _service_task(self) -> None:
        """Send PINGs, close silent sessions and expire closed ones."""
        stop, wake = self.service_task_event, self._service_wake
        while not stop.is_set():
            wake.clear()
            now = time.monotonic()
            with self._timers_lock:
                due: List[Socket] = self._timers.pop_due(now)
            for socket in due:
                try:
                    socket._on_timer(now)
                except Exception:  # pragma: no cover
                    self.logger.exception('service task error')
            with self._timers_lock:
                next_time = self._timers.next_time()
            wake.wait(None if next_time is None
                      else max(0.0, next_time - time.monotonic()))
