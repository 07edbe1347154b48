"""The Engine.IO client for threads (requests and websocket-client)."""
from __future__ import annotations

import concurrent.futures
import queue
import socket
import ssl
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from . import base_client, exceptions, packet
from .base_server import call_with_optional_args
from ._core import client as core

try:
    import requests
except ImportError:  # pragma: no cover - depends on the installation
    requests = None
try:
    import websocket
except ImportError:  # pragma: no cover - depends on the installation
    websocket = None

#: A message handler running longer than this (seconds) no longer holds back
#: the handlers of later messages, which then start in another thread.
HANDLER_HANDOFF = 0.5

# Marks the threads that run the handlers of a connection.
_handler_thread = threading.local()


class _Connection:
    """The threads and primitives of one connection."""

    def __init__(self, session: core.ClientSession) -> None:
        self.session = session
        #: set when the writer has something to do
        self.wakeup = threading.Event()
        #: (event, future) pairs for the dispatcher, None to stop it
        self.events: queue.Queue = queue.Queue()
        #: set when the connection is over
        self.done = threading.Event()
        #: the disconnect handler has run: no handler runs after it
        self.reported = False
        self.ws: Any = None
        self.reader: Optional[threading.Thread] = None
        self.writer: Optional[threading.Thread] = None


class Client(base_client.BaseClient):
    """An Engine.IO client for threaded applications.

    :param logger: ``True`` to log at INFO, ``False`` for errors only, or a
        logger object.
    :param json: a module with ``dumps`` and ``loads`` to encode messages
        (process-wide).
    :param request_timeout: seconds allowed for the handshake, for each POST
        and for opening a WebSocket.
    :param http_session: a ``requests.Session`` to use (never closed by the
        client), or a callable returning one (called when a connection
        needs it; that session is closed when the connection ends).
    :param ssl_verify: ``False`` skips the verification of the server's TLS
        certificate.
    :param handle_sigint: disconnect every client when the process gets
        SIGINT (Ctrl+C), then run the previous SIGINT handler.
    :param websocket_extra_options: keyword arguments added to those given
        to ``websocket.create_connection()``; its ``header`` entry is added
        to the connection's headers. The dict is not modified.
    :param timestamp_requests: add a ``t=<time>`` cache buster to GET
        requests and WebSocket handshakes.
    """

    # -- public API -----------------------------------------------------------

    def connect(self, url: str, headers: Optional[Dict[str, str]] = None,
                transports: Any = None,
                engineio_path: str = 'engine.io') -> None:
        """Connect to an Engine.IO server; returns once connected.

        :param url: the server's URL (``http``, ``https``, ``ws`` or ``wss``);
            its query string is kept, its path is not used.
        :param headers: HTTP headers sent with every request and with the
            WebSocket handshake.
        :param transports: ``'polling'``, ``'websocket'`` or a list of both;
            the first one is used to connect, polling upgrades to WebSocket
            when both are allowed. Default: both.
        :param engineio_path: the endpoint's path on the server.

        Raises :class:`engineio.exceptions.ConnectionError` when the
        connection cannot be established.
        """
        session = self._new_session(url, headers, transports, engineio_path)
        first = session.transports[0]
        if first == core.POLLING and requests is None:
            self.logger.error('requests package is not installed -- cannot '
                              'send HTTP requests!')
            return
        if first == core.WEBSOCKET and websocket is None:
            self.logger.error('websocket-client package not installed, only '
                              'polling transport is available')
            return
        conn = _Connection(session)
        try:
            if first == core.POLLING:
                pkts = self._open_polling(conn)
            else:
                self._open_websocket(conn)
                pkts = []
        except exceptions.ConnectionError:
            self._drop_http()
            raise
        self.base_url = session.url(session.transport)
        self._conn = conn
        self._connected()
        if session.can_upgrade():
            self._upgrade(conn)
        self._start_loops(conn)
        connected = concurrent.futures.Future()
        conn.events.put((('connect',), connected))
        self._process(conn, pkts)
        try:
            connected.result()
        except exceptions.ConnectionError:
            self._close(conn, report=False)
            raise

    def wait(self) -> None:
        """Block until the connection ends (at once if there is none)."""
        conn = self._conn
        if conn is not None:
            conn.done.wait()

    def send(self, data: Any) -> None:
        """Send a message: ``str``, ``bytes``, or a ``dict``/``list`` (sent
        as JSON). Dropped unless connected."""
        self._send_packet(packet.Packet(packet.MESSAGE, data=data))

    def disconnect(self, abort: bool = False, reason: Optional[str] = None
                   ) -> None:
        """Close the connection.

        The ``disconnect`` handler is called with ``reason`` (default
        ``'client disconnect'``) before this returns. Unless ``abort`` is
        true, the CLOSE packet is delivered to the server first.
        """
        conn = self._conn
        if conn is None or not self._close(conn, reason, abort):
            if self.state == core.DISCONNECTED:
                self._drop_http()

    def start_background_task(self, target: Callable[..., Any], *args: Any,
                              **kwargs: Any) -> threading.Thread:
        """Run ``target(*args, **kwargs)`` in a daemon thread (started and
        returned)."""
        th = threading.Thread(target=target, args=args, kwargs=kwargs,
                              daemon=True)
        th.start()
        return th

    def sleep(self, seconds: float = 0) -> None:
        """Sleep for ``seconds``."""
        time.sleep(seconds)

    def create_queue(self, *args: Any, **kwargs: Any) -> queue.Queue:
        """A ``queue.Queue``."""
        return queue.Queue(*args, **kwargs)

    def get_queue_empty_exception(self) -> type:
        """``queue.Empty``."""
        return queue.Empty

    def create_event(self, *args: Any, **kwargs: Any) -> threading.Event:
        """A ``threading.Event``."""
        return threading.Event(*args, **kwargs)

    # -- connecting -----------------------------------------------------------

    def _open_polling(self, conn: _Connection) -> List[packet.Packet]:
        session = conn.session
        url = session.url(core.POLLING, self._timestamp(time.time()))
        self.logger.info('Attempting polling connection to %s', url)
        try:
            status, body = self._request('GET', url, self.request_timeout)
        except requests.RequestException as exc:
            self.logger.info('Polling connection failed: %s', exc)
            raise exceptions.ConnectionError(str(exc)) from exc
        core.check_handshake_status(status, body)
        with self._lock:
            pkts = session.open_polling(body, time.monotonic())
        self.logger.info('Polling connection accepted with sid %s',
                         session.sid)
        return pkts

    def _open_websocket(self, conn: _Connection) -> None:
        session = conn.session
        url = session.url(core.WEBSOCKET, self._timestamp(time.time()))
        self.logger.info('Attempting WebSocket connection to %s', url)
        ws = self._websocket_connect(url)
        try:
            frame = self._websocket_recv(ws, self.request_timeout)
        except Exception as exc:
            self._shutdown_websocket(ws)
            raise exceptions.ConnectionError(
                f'Unexpected recv exception: {exc}') from exc
        try:
            with self._lock:
                session.open_websocket(frame, time.monotonic())
        except exceptions.ConnectionError:
            self._shutdown_websocket(ws)
            raise
        conn.ws = self.ws = ws
        self.logger.info('WebSocket connection accepted with sid %s',
                         session.sid)

    def _upgrade(self, conn: _Connection) -> None:
        """Try to move a polling connection to a WebSocket."""
        if websocket is None:
            self.logger.warning('websocket-client package not installed, '
                                'staying on polling')
            return
        session = conn.session
        url = session.url(core.WEBSOCKET, self._timestamp(time.time()))
        self.logger.info('Attempting WebSocket upgrade to %s', url)
        ws = None
        try:
            ws = self._websocket_connect(url)
            ws.send(session.probe_packet().encode())
            if not session.probe_answered(
                    self._websocket_recv(ws, self.request_timeout)):
                raise ValueError('the server did not answer the probe')
            ws.send(session.upgrade_packet().encode())
        except Exception as exc:
            self.logger.warning('WebSocket upgrade failed: %s', exc)
            if ws is not None:
                self._shutdown_websocket(ws)
            return
        with self._lock:
            session.upgraded()
        conn.ws = self.ws = ws
        self.logger.info('WebSocket upgrade was successful')

    def _start_loops(self, conn: _Connection) -> None:
        threading.Thread(target=self._dispatch_loop, args=(conn,),
                         daemon=True).start()
        read_loop = self._read_loop_websocket if conn.ws is not None \
            else self._read_loop_polling
        conn.writer = self.write_loop_task = self.start_background_task(
            self._write_loop, conn)
        conn.reader = self.read_loop_task = self.start_background_task(
            read_loop, conn)

    # -- reading --------------------------------------------------------------

    def _read_loop_polling(self, conn: _Connection) -> None:
        session = conn.session
        while True:
            with self._lock:
                if session.ending:
                    break
                timeout = session.read_timeout(time.monotonic())
                url = session.url(core.POLLING, self._timestamp(time.time()))
            if not timeout:
                self._lost(conn, 'no PING from the server in time')
                break
            try:
                status, body = self._request('GET', url, timeout)
            except requests.RequestException as exc:
                self._lost(conn, f'polling request failed: {exc}')
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

    def _read_loop_websocket(self, conn: _Connection) -> None:
        session = conn.session
        while True:
            with self._lock:
                if session.ending:
                    break
                timeout = session.read_timeout(time.monotonic())
            if not timeout:
                self._lost(conn, 'no PING from the server in time')
                break
            try:
                frame = self._websocket_recv(conn.ws, timeout)
            except websocket.WebSocketTimeoutException:
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
            with self._lock:
                event = session.receive(pkt, time.monotonic())
            if event is None:
                continue
            if event.kind == core.MESSAGE_EVENT:
                conn.events.put((('message', event.data), None))
            elif event.kind == core.DISCONNECT_EVENT:
                self.logger.info('Server closed the connection')
                conn.events.put((('disconnect', event.data, True), None))
            else:
                self.logger.error('Ignoring %s', event.data)
        conn.wakeup.set()

    def _lost(self, conn: _Connection, why: str) -> None:
        """The transport failed: report a transport error (once)."""
        with self._lock:
            reason = conn.session.lose()
        if reason is not None:
            self.logger.warning('Connection lost: %s', why)
            conn.events.put((('disconnect', reason, True), None))
        conn.wakeup.set()

    # -- writing --------------------------------------------------------------

    def _send_packet(self, pkt: packet.Packet) -> None:
        conn = self._conn
        with self._lock:
            queued = conn is not None and conn.session.send(pkt)
        if queued:
            self._log_packet('Sending', pkt)
            conn.wakeup.set()

    def _write_loop(self, conn: _Connection) -> None:
        session = conn.session
        while True:
            with self._lock:
                batch = session.take_batch()
                done = session.writer_done
                transport = session.transport
            if not batch:
                if done:
                    break
                conn.wakeup.wait()
                conn.wakeup.clear()
                continue
            try:
                if transport == core.POLLING:
                    self._post(session, batch)
                else:
                    for pkt in batch:
                        self._websocket_send(conn.ws, pkt)
            except Exception as exc:
                self._lost(conn, f'sending failed: {exc!r}')
                break
        self.logger.info('Exiting write loop task')

    def _post(self, session: core.ClientSession,
              batch: List[packet.Packet]) -> None:
        with self._lock:
            url = session.url(core.POLLING)
        status, _ = self._request('POST', url, self.request_timeout,
                                  core.encode_payload(batch))
        if not core.is_success(status):
            raise exceptions.ConnectionError(f'POST answered {status}')

    # -- handlers -------------------------------------------------------------

    def _dispatch_loop(self, conn: _Connection) -> None:
        """Run the handlers of a connection in order.

        Each handler runs in a worker thread; the next one starts when it
        returns, or after :data:`HANDLER_HANDOFF` seconds in a new worker
        (so a handler waiting for a later message cannot block it).
        """
        jobs: Optional[queue.Queue] = None
        while True:
            item = conn.events.get()
            if item is None:
                break
            if jobs is None:
                jobs = queue.Queue()
                self.start_background_task(self._handler_worker, conn, jobs)
            finished = threading.Event()
            jobs.put(item + (finished,))
            if not finished.wait(HANDLER_HANDOFF):
                jobs.put(None)
                jobs = None
            if item[0][0] == 'disconnect':
                break
        if jobs is not None:
            jobs.put(None)

    def _handler_worker(self, conn: _Connection, jobs: queue.Queue) -> None:
        _handler_thread.conn = conn
        while True:
            job = jobs.get()
            if job is None:
                return
            event, future, finished = job
            try:
                result = self._run_event(conn, event)
            except Exception as exc:
                if future is None:
                    self.logger.exception('handler error')
                else:
                    future.set_exception(exc)
            else:
                if future is not None:
                    future.set_result(result)
            finally:
                finished.set()

    def _run_event(self, conn: _Connection, event: Tuple[Any, ...]) -> None:
        if conn.reported:
            return
        kind = event[0]
        if kind == 'connect':
            handler = self.handlers.get('connect')
            if handler is not None:
                try:
                    handler()
                except Exception as exc:
                    self.logger.exception('connect handler error')
                    raise exceptions.ConnectionError(
                        f'Connect handler failed: {exc}') from exc
        elif kind == 'message':
            handler = self.handlers.get('message')
            if handler is not None:
                try:
                    handler(event[1])
                except Exception:
                    self.logger.exception('message handler error')
        else:
            conn.reported = True
            handler = self.handlers.get('disconnect')
            if handler is not None:
                try:
                    call_with_optional_args(handler, event[1])
                except Exception:
                    self.logger.exception('disconnect handler error')
            if event[2]:
                self._teardown(conn)

    def _report_disconnect(self, conn: _Connection, reason: str) -> None:
        """Run the disconnect handler after the pending ones, or now when
        called from a handler of this connection."""
        event = ('disconnect', reason, False)
        if getattr(_handler_thread, 'conn', None) is conn:
            self._run_event(conn, event)
            return
        reported = concurrent.futures.Future()
        conn.events.put((event, reported))
        reported.result()

    # -- ending ---------------------------------------------------------------

    def _close(self, conn: _Connection, reason: Optional[str] = None,
               abort: bool = False, report: bool = True) -> bool:
        """End the connection from this side; False if it was not open."""
        with self._lock:
            started = conn.session.begin_disconnect()
        if not started:
            return False
        conn.wakeup.set()
        if report:
            self._report_disconnect(
                conn, reason or self.reason.CLIENT_DISCONNECT)
        else:
            conn.reported = True
        if not abort and conn.writer is not None:
            conn.writer.join(self.request_timeout)
        if conn.ws is not None:
            try:
                conn.ws.send_close()
            except Exception:
                pass
        if not abort and conn.reader is not None:
            conn.reader.join(self.request_timeout)
        self._teardown(conn)
        return True

    def _teardown(self, conn: _Connection) -> None:
        """Release the connection's resources, then let a new connection
        start and :meth:`wait` return."""
        if conn.ws is not None:
            self._shutdown_websocket(conn.ws)
        self._drop_http()
        with self._lock:
            conn.session.finish()
        self._disconnected()
        conn.wakeup.set()
        conn.events.put(None)  # the dispatcher stops
        conn.done.set()

    # -- HTTP -----------------------------------------------------------------

    def _http_session(self) -> Any:
        if self.http is None:
            self.http = self.http_factory() if self.http_factory \
                else requests.Session()
        return self.http

    def _drop_http(self) -> None:
        """Close a session the client created (not one it was given)."""
        if self.external_http or self.http is None:
            return
        http, self.http = self.http, None
        http.close()

    def _request(self, method: str, url: str, timeout: Optional[float],
                 body: Optional[bytes] = None) -> Tuple[int, bytes]:
        headers = dict(self._headers)
        kwargs: Dict[str, Any] = {}
        if body is not None:
            headers.setdefault('Content-Type', 'text/plain;charset=UTF-8')
            kwargs['data'] = body
        if not self.ssl_verify:
            kwargs['verify'] = False
        r = self._http_session().request(method, url, headers=headers,
                                         timeout=timeout, **kwargs)
        return r.status_code, r.content

    # -- WebSocket ------------------------------------------------------------

    def _websocket_connect(self, url: str) -> Any:
        try:
            return websocket.create_connection(
                url, **self._websocket_options(url))
        except websocket.WebSocketBadStatusException as exc:
            raise exceptions.ConnectionError(
                f'Unexpected status code {exc.status_code} in server '
                'response', core.decode_json(getattr(exc, 'resp_body', None))
            ) from exc
        except Exception as exc:
            self.logger.info('WebSocket connection failed: %r', exc)
            raise exceptions.ConnectionError('Connection error') from exc

    def _websocket_options(self, url: str) -> Dict[str, Any]:
        """Options of ``websocket.create_connection()``: headers, cookies,
        authentication, certificates and proxy of the HTTP session, then
        ``websocket_extra_options``."""
        extra = dict(self.websocket_extra_options)
        headers = self._merged_headers(extra.pop('header', None))
        http = self._http_session()
        http_url = 'http' + url[2:]  # ws:// -> http://, wss:// -> https://
        auth = http.auth
        if auth is not None and not isinstance(auth, tuple) and \
                not isinstance(auth, requests.auth.HTTPBasicAuth):
            raise ValueError('Only basic authentication is supported')
        prepared = http.prepare_request(requests.Request('GET', http_url))
        headers = requests.structures.CaseInsensitiveDict(headers)
        cookies = [c for c in (headers.get('Cookie'),
                               prepared.headers.get('Cookie')) if c]
        if cookies:
            headers['Cookie'] = '; '.join(cookies)
        if 'Authorization' in prepared.headers:
            headers.setdefault('Authorization',
                               prepared.headers['Authorization'])
        sslopt: Dict[str, Any] = {}
        verify = http.verify
        if not self.ssl_verify or verify is False:
            sslopt.update(cert_reqs=ssl.CERT_NONE, check_hostname=False)
        elif isinstance(verify, str):
            sslopt['ca_certs'] = verify
        if http.cert:
            cert = http.cert
            if isinstance(cert, str):
                sslopt['certfile'] = cert
            else:
                sslopt['certfile'], sslopt['keyfile'] = cert
        options: Dict[str, Any] = {
            'header': [f'{name}: {value}' for name, value in headers.items()],
            'timeout': self.request_timeout,
            'enable_multithread': True,
            'sslopt': sslopt,
        }
        proxy = (http.proxies or {}).get(
            'https' if url.startswith('wss') else 'http')
        if proxy:
            parts = urlsplit(proxy)
            options['http_proxy_host'] = parts.hostname
            options['http_proxy_port'] = parts.port
            options['proxy_type'] = 'http'
            if parts.username:
                options['http_proxy_auth'] = (parts.username,
                                              parts.password or '')
        options.update(extra)
        return options

    @staticmethod
    def _websocket_recv(ws: Any, timeout: Optional[float]) -> Any:
        """The next text (``str``) or binary (``bytes``) message."""
        ws.settimeout(timeout)
        opcode, data = ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_TEXT:
            return data.decode('utf-8') if isinstance(data, bytes) else data
        if opcode == websocket.ABNF.OPCODE_BINARY:
            return data
        raise websocket.WebSocketConnectionClosedException(
            'the server closed the WebSocket')

    @staticmethod
    def _websocket_send(ws: Any, pkt: packet.Packet) -> None:
        encoded = pkt.encode()
        if pkt.binary:
            ws.send_binary(encoded)
        else:
            ws.send(encoded)

    @staticmethod
    def _shutdown_websocket(ws: Any) -> None:
        """Close the socket at once, waking a thread blocked reading it."""
        sock = getattr(ws, 'sock', None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        try:
            ws.shutdown()
        except Exception:
            pass
