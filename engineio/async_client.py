"""The Engine.IO client for asyncio (aiohttp)."""
from __future__ import annotations

import asyncio
import inspect
import signal
import threading
import time
import weakref
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from . import base_client, exceptions, packet
from ._core import client as core
from .base_server import call_with_optional_args

try:
    import aiohttp
except ImportError:  # pragma: no cover - depends on the installation
    aiohttp = None

#: A message handler running longer than this (seconds) no longer holds back
#: the handlers of later messages, which then start in another task.
HANDLER_HANDOFF = 0.5

# The event loops that have the SIGINT handler of the asyncio clients.
_signal_loops: weakref.WeakSet = weakref.WeakSet()
# Tasks started by the SIGINT handler (the loop keeps only weak references).
_signal_tasks: Set[asyncio.Task] = set()


def async_signal_handler() -> None:
    """SIGINT handler of the asyncio clients: disconnect them all, then
    cancel the other tasks of the loop."""
    task = asyncio.ensure_future(_disconnect_all())
    _signal_tasks.add(task)
    task.add_done_callback(_signal_tasks.discard)


async def _disconnect_all() -> None:
    for client in base_client.connected_clients[:]:
        if client.is_asyncio_based():
            await client.disconnect()
    await asyncio.sleep(0)  # let tasks waiting for the clients resume
    current = asyncio.current_task()
    for task in asyncio.all_tasks():
        if task is not current:
            task.cancel()


def _install_signal_handler() -> None:
    loop = asyncio.get_running_loop()
    if loop in _signal_loops or \
            threading.current_thread() is not threading.main_thread():
        return
    try:
        loop.add_signal_handler(signal.SIGINT, async_signal_handler)
    except (NotImplementedError, RuntimeError, ValueError):
        return  # no signal support in this loop or thread
    _signal_loops.add(loop)


class _Connection:
    """The tasks and primitives of one connection."""

    def __init__(self, session: core.ClientSession) -> None:
        self.session = session
        #: set when the writer has something to do
        self.wakeup = asyncio.Event()
        #: (event, future) pairs for the dispatcher, None to stop it
        self.events: asyncio.Queue = asyncio.Queue()
        #: set when the connection is over
        self.done = asyncio.Event()
        #: the disconnect handler has run: no handler runs after it
        self.reported = False
        #: tasks running handlers of this connection
        self.handler_tasks: Set[asyncio.Task] = set()
        self.ws: Any = None
        self.dispatcher: Optional[asyncio.Task] = None
        self.reader: Optional[asyncio.Task] = None
        self.writer: Optional[asyncio.Task] = None


class AsyncClient(base_client.BaseClient):
    """An Engine.IO client for asyncio applications.

    The options are those of :class:`engineio.Client`, except that
    ``http_session`` is an ``aiohttp.ClientSession`` (or a callable returning
    one, or an awaitable of one), ``websocket_extra_options`` are passed to
    ``aiohttp.ClientSession.ws_connect()`` (its ``headers`` entry is added to
    the connection's headers), and the SIGINT handler is installed on the
    event loop by the first :meth:`connect`. Handlers may be coroutine
    functions or plain functions.
    """

    def is_asyncio_based(self) -> bool:
        """True: this client runs on an asyncio event loop."""
        return True

    # -- public API -----------------------------------------------------------

    async def connect(self, url: str,
                      headers: Optional[Dict[str, str]] = None,
                      transports: Any = None,
                      engineio_path: str = 'engine.io') -> None:
        """Connect to an Engine.IO server; returns once connected.

        The arguments are those of :meth:`engineio.Client.connect`. Raises
        :class:`engineio.exceptions.ConnectionError` when the connection
        cannot be established.
        """
        session = self._new_session(url, headers, transports, engineio_path)
        if self.handle_sigint:
            _install_signal_handler()
        if aiohttp is None:
            self.logger.error('aiohttp package not installed')
            return
        conn = _Connection(session)
        try:
            if session.transports[0] == core.POLLING:
                pkts = await self._open_polling(conn)
            else:
                await self._open_websocket(conn)
                pkts = []
        except exceptions.ConnectionError:
            await self._drop_http()
            raise
        self.base_url = session.url(session.transport)
        self._conn = conn
        self._connected()
        if session.can_upgrade():
            await self._upgrade(conn)
        self._start_loops(conn)
        connected = asyncio.get_running_loop().create_future()
        conn.events.put_nowait((('connect',), connected))
        self._process(conn, pkts)
        try:
            await connected
        except exceptions.ConnectionError:
            await self._close(conn, report=False)
            raise

    async def wait(self) -> None:
        """Wait until the connection ends (at once if there is none)."""
        conn = self._conn
        if conn is not None:
            await conn.done.wait()

    async def send(self, data: Any) -> None:
        """Send a message: ``str``, ``bytes``, or a ``dict``/``list`` (sent
        as JSON). Dropped unless connected."""
        self._send_packet(packet.Packet(packet.MESSAGE, data=data))

    async def disconnect(self, abort: bool = False,
                         reason: Optional[str] = None) -> None:
        """Close the connection.

        The ``disconnect`` handler is called with ``reason`` (default
        ``'client disconnect'``) before this returns. Unless ``abort`` is
        true, the CLOSE packet is delivered to the server first.
        """
        conn = self._conn
        if conn is None or not await self._close(conn, reason, abort):
            if self.state == core.DISCONNECTED:
                await self._drop_http()

    def start_background_task(self, target: Callable[..., Any], *args: Any,
                              **kwargs: Any) -> asyncio.Task:
        """Run the coroutine ``target(*args, **kwargs)`` in a task."""
        return asyncio.ensure_future(target(*args, **kwargs))

    async def sleep(self, seconds: float = 0) -> None:
        """Sleep for ``seconds``."""
        await asyncio.sleep(seconds)

    def create_queue(self, *args: Any, **kwargs: Any) -> asyncio.Queue:
        """An ``asyncio.Queue``."""
        return asyncio.Queue(*args, **kwargs)

    def get_queue_empty_exception(self) -> type:
        """``asyncio.QueueEmpty``."""
        return asyncio.QueueEmpty

    def create_event(self) -> asyncio.Event:
        """An ``asyncio.Event``."""
        return asyncio.Event()

    # -- connecting -----------------------------------------------------------

    async def _open_polling(self, conn: _Connection) -> List[packet.Packet]:
        session = conn.session
        url = session.url(core.POLLING, self._timestamp(time.time()))
        self.logger.info('Attempting polling connection to %s', url)
        try:
            status, body = await self._request('GET', url,
                                               self.request_timeout)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            self.logger.info('Polling connection failed: %r', exc)
            raise exceptions.ConnectionError(
                str(exc) or 'Connection refused by the server') from exc
        core.check_handshake_status(status, body)
        pkts = session.open_polling(body, time.monotonic())
        self.logger.info('Polling connection accepted with sid %s',
                         session.sid)
        return pkts

    async def _open_websocket(self, conn: _Connection) -> None:
        session = conn.session
        url = session.url(core.WEBSOCKET, self._timestamp(time.time()))
        self.logger.info('Attempting WebSocket connection to %s', url)
        ws = await self._websocket_connect(url)
        try:
            frame = await self._websocket_recv(ws, self.request_timeout)
        except Exception as exc:
            await self._close_websocket(ws)
            raise exceptions.ConnectionError(
                f'Unexpected recv exception: {exc}') from exc
        try:
            session.open_websocket(frame, time.monotonic())
        except exceptions.ConnectionError:
            await self._close_websocket(ws)
            raise
        conn.ws = self.ws = ws
        self.logger.info('WebSocket connection accepted with sid %s',
                         session.sid)

    async def _upgrade(self, conn: _Connection) -> None:
        """Try to move a polling connection to a WebSocket."""
        session = conn.session
        url = session.url(core.WEBSOCKET, self._timestamp(time.time()))
        self.logger.info('Attempting WebSocket upgrade to %s', url)
        ws = None
        try:
            ws = await self._websocket_connect(url)
            await ws.send_str(session.probe_packet().encode())
            if not session.probe_answered(
                    await self._websocket_recv(ws, self.request_timeout)):
                raise ValueError('the server did not answer the probe')
            await ws.send_str(session.upgrade_packet().encode())
        except Exception as exc:
            self.logger.warning('WebSocket upgrade failed: %s', exc)
            if ws is not None:
                await self._close_websocket(ws)
            return
        session.upgraded()
        conn.ws = self.ws = ws
        self.logger.info('WebSocket upgrade was successful')

    def _start_loops(self, conn: _Connection) -> None:
        conn.dispatcher = asyncio.ensure_future(self._dispatch_loop(conn))
        read_loop = self._read_loop_websocket if conn.ws is not None \
            else self._read_loop_polling
        conn.writer = self.write_loop_task = self.start_background_task(
            self._write_loop, conn)
        conn.reader = self.read_loop_task = self.start_background_task(
            read_loop, conn)

    # -- reading --------------------------------------------------------------

    async def _read_loop_polling(self, conn: _Connection) -> None:
        session = conn.session
        while not session.ending:
            timeout = session.read_timeout(time.monotonic())
            if not timeout:
                self._lost(conn, 'no PING from the server in time')
                break
            url = session.url(core.POLLING, self._timestamp(time.time()))
            try:
                status, body = await self._request('GET', url, timeout)
            except (aiohttp.ClientError, asyncio.TimeoutError,
                    OSError) as exc:
                self._lost(conn, f'polling request failed: {exc!r}')
                break
            if not core.is_success(status):
                self._lost(conn, f'polling request answered {status}')
                break
            try:
                pkts = core.decode_payload(body)
            except ValueError as exc:
                self._lost(conn, f'bad payload from the server: {exc}')
                break
            self._process(conn, pkts)
        self.logger.info('Exiting read loop task')

    async def _read_loop_websocket(self, conn: _Connection) -> None:
        session = conn.session
        while not session.ending:
            timeout = session.read_timeout(time.monotonic())
            if not timeout:
                self._lost(conn, 'no PING from the server in time')
                break
            try:
                frame = await self._websocket_recv(conn.ws, timeout)
            except asyncio.TimeoutError:
                continue
            except Exception as exc:
                self._lost(conn, f'WebSocket closed: {exc!r}')
                break
            try:
                pkt = core.decode_frame(frame)
            except ValueError as exc:
                self._lost(conn, f'bad frame from the server: {exc}')
                break
            self._process(conn, [pkt])
        self.logger.info('Exiting read loop task')

    def _process(self, conn: _Connection, pkts: List[packet.Packet]) -> None:
        """Handle received packets: queue handlers, wake the writer."""
        session = conn.session
        for pkt in pkts:
            self._log_packet('Received', pkt)
            event = session.receive(pkt, time.monotonic())
            if event is None:
                continue
            if event.kind == core.MESSAGE_EVENT:
                conn.events.put_nowait((('message', event.data), None))
            elif event.kind == core.DISCONNECT_EVENT:
                self.logger.info('Server closed the connection')
                conn.events.put_nowait((('disconnect', event.data, True),
                                        None))
            else:
                self.logger.error('Ignoring %s', event.data)
        conn.wakeup.set()

    def _lost(self, conn: _Connection, why: str) -> None:
        """The transport failed: report a transport error (once)."""
        reason = conn.session.lose()
        if reason is not None:
            self.logger.warning('Connection lost: %s', why)
            conn.events.put_nowait((('disconnect', reason, True), None))
        conn.wakeup.set()

    # -- writing --------------------------------------------------------------

    def _send_packet(self, pkt: packet.Packet) -> None:
        conn = self._conn
        if conn is not None and conn.session.send(pkt):
            self._log_packet('Sending', pkt)
            conn.wakeup.set()

    async def _write_loop(self, conn: _Connection) -> None:
        session = conn.session
        while True:
            batch = session.take_batch()
            if not batch:
                if session.writer_done:
                    break
                await conn.wakeup.wait()
                conn.wakeup.clear()
                continue
            try:
                if session.transport == core.POLLING:
                    await self._post(session, batch)
                else:
                    for pkt in batch:
                        await self._websocket_send(conn.ws, pkt)
            except Exception as exc:
                self._lost(conn, f'sending failed: {exc!r}')
                break
        self.logger.info('Exiting write loop task')

    async def _post(self, session: core.ClientSession,
                    batch: List[packet.Packet]) -> None:
        status, _ = await self._request('POST', session.url(core.POLLING),
                                        self.request_timeout,
                                        core.encode_payload(batch))
        if not core.is_success(status):
            raise exceptions.ConnectionError(f'POST answered {status}')

    # -- handlers -------------------------------------------------------------

    async def _dispatch_loop(self, conn: _Connection) -> None:
        """Run the handlers of a connection in order.

        Each handler runs in a task of its own; the next one starts when it
        returns, or after :data:`HANDLER_HANDOFF` seconds (so a handler
        waiting for a later message cannot block it).
        """
        while True:
            item = await conn.events.get()
            if item is None:
                break
            event, future = item
            task = asyncio.ensure_future(self._handler_job(conn, event,
                                                           future))
            conn.handler_tasks.add(task)
            task.add_done_callback(conn.handler_tasks.discard)
            await asyncio.wait({task}, timeout=HANDLER_HANDOFF)
            if event[0] == 'disconnect':
                break

    async def _handler_job(self, conn: _Connection, event: Tuple[Any, ...],
                           future: Optional[asyncio.Future]) -> None:
        try:
            result = await self._run_event(conn, event)
        except asyncio.CancelledError:
            if future is not None and not future.done():
                future.cancel()
            raise
        except Exception as exc:
            if future is None:
                self.logger.exception('handler error')
            elif not future.done():
                future.set_exception(exc)
        else:
            if future is not None and not future.done():
                future.set_result(result)

    async def _run_event(self, conn: _Connection,
                         event: Tuple[Any, ...]) -> None:
        if conn.reported:
            return
        kind = event[0]
        if kind == 'connect':
            handler = self.handlers.get('connect')
            if handler is not None:
                try:
                    await _call(handler)
                except Exception as exc:
                    self.logger.exception('connect handler error')
                    raise exceptions.ConnectionError(
                        f'Connect handler failed: {exc}') from exc
        elif kind == 'message':
            handler = self.handlers.get('message')
            if handler is not None:
                try:
                    await _call(handler, event[1])
                except Exception:
                    self.logger.exception('message handler error')
        else:
            conn.reported = True
            handler = self.handlers.get('disconnect')
            if handler is not None:
                try:
                    await _call(handler, event[1], optional_last=True)
                except Exception:
                    self.logger.exception('disconnect handler error')
            if event[2]:
                await self._teardown(conn)

    async def _report_disconnect(self, conn: _Connection,
                                 reason: str) -> None:
        """Run the disconnect handler after the pending ones, or now when
        called from a handler of this connection."""
        event = ('disconnect', reason, False)
        if asyncio.current_task() in conn.handler_tasks:
            await self._run_event(conn, event)
            return
        reported = asyncio.get_running_loop().create_future()
        conn.events.put_nowait((event, reported))
        await reported

    # -- ending ---------------------------------------------------------------

    async def _close(self, conn: _Connection, reason: Optional[str] = None,
                     abort: bool = False, report: bool = True) -> bool:
        """End the connection from this side; False if it was not open."""
        if not conn.session.begin_disconnect():
            return False
        conn.wakeup.set()
        if report:
            await self._report_disconnect(
                conn, reason or self.reason.CLIENT_DISCONNECT)
        else:
            conn.reported = True
        if not abort and conn.writer is not None:
            await asyncio.wait({conn.writer}, timeout=self.request_timeout)
        if conn.ws is not None:
            await self._close_websocket(conn.ws)
        if not abort and conn.reader is not None:
            await asyncio.wait({conn.reader}, timeout=self.request_timeout)
        await self._teardown(conn)
        return True

    async def _teardown(self, conn: _Connection) -> None:
        """Release the connection's resources, then let a new connection
        start and :meth:`wait` return."""
        current = asyncio.current_task()
        for task in (conn.reader, conn.writer):
            if task is not None and task is not current:
                task.cancel()
        if conn.ws is not None:
            await self._close_websocket(conn.ws)
        await self._drop_http()
        conn.session.finish()
        self._disconnected()
        conn.wakeup.set()
        conn.events.put_nowait(None)  # the dispatcher stops
        conn.done.set()

    # -- HTTP -----------------------------------------------------------------

    async def _http_session(self) -> Any:
        if self.http is None:
            if self.http_factory:
                http = self.http_factory()
                if inspect.isawaitable(http):
                    http = await http
            else:
                http = aiohttp.ClientSession()
            self.http = http
        return self.http

    async def _drop_http(self) -> None:
        """Close a session the client created (not one it was given)."""
        if self.external_http or self.http is None:
            return
        http, self.http = self.http, None
        await http.close()

    async def _request(self, method: str, url: str, timeout: Optional[float],
                       body: Optional[bytes] = None) -> Tuple[int, bytes]:
        headers = dict(self._headers)
        kwargs: Dict[str, Any] = {}
        if body is not None:
            headers.setdefault('Content-Type', 'text/plain;charset=UTF-8')
            kwargs['data'] = body
        if not self.ssl_verify:
            kwargs['ssl'] = False
        http = await self._http_session()
        async with http.request(
                method, url, headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                **kwargs) as r:
            return r.status, await r.read()

    # -- WebSocket ------------------------------------------------------------

    async def _websocket_connect(self, url: str) -> Any:
        extra = dict(self.websocket_extra_options)
        kwargs: Dict[str, Any] = {
            'headers': self._merged_headers(extra.pop('headers', None))}
        if not self.ssl_verify:
            kwargs['ssl'] = False
        kwargs.update(extra)
        http = await self._http_session()
        try:
            return await asyncio.wait_for(http.ws_connect(url, **kwargs),
                                          self.request_timeout)
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status != 101:
                raise exceptions.ConnectionError(
                    f'Unexpected status code {exc.status} in server '
                    'response', None) from exc
            raise exceptions.ConnectionError('Connection error') from exc
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            self.logger.info('WebSocket connection failed: %r', exc)
            raise exceptions.ConnectionError('Connection error') from exc

    @staticmethod
    async def _websocket_recv(ws: Any, timeout: Optional[float]) -> Any:
        """The next text (``str``) or binary (``bytes``) message."""
        msg = await ws.receive(timeout=timeout)
        if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            return msg.data
        raise exceptions.ConnectionError('the server closed the WebSocket')

    @staticmethod
    async def _websocket_send(ws: Any, pkt: packet.Packet) -> None:
        encoded = pkt.encode()
        if pkt.binary:
            await ws.send_bytes(encoded)
        else:
            await ws.send_str(encoded)

    async def _close_websocket(self, ws: Any) -> None:
        """Close the WebSocket, waiting at most ``request_timeout``."""
        try:
            await asyncio.wait_for(ws.close(), self.request_timeout)
        except Exception:
            pass


async def _call(handler: Callable[..., Any], *args: Any,
                optional_last: bool = False) -> Any:
    """Call a plain or coroutine handler; with ``optional_last`` the last
    argument is left out for handlers that do not take it."""
    if optional_last:
        result = call_with_optional_args(handler, *args)
    else:
        result = handler(*args)
    if inspect.isawaitable(result):
        result = await result
    return result
