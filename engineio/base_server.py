"""Configuration and behaviour shared by :class:`Server` and AsyncServer."""
from __future__ import annotations

import base64
import importlib
import logging
import secrets
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from . import json as default_json
from . import packet, payload
from ._core import http
from ._core.reasons import Reason
from .exceptions import ContentTooLongError
from .json import dumps as json_dumps

default_logger = logging.getLogger('engineio.server')

SYNC_MODES = ['eventlet', 'gevent_uwsgi', 'gevent', 'threading']
ASYNC_MODES = ['aiohttp', 'sanic', 'tornado', 'asgi']

_loggers_we_configured: set = set()


def configure_logger(logger: Any, default: logging.Logger) -> logging.Logger:
    """Resolve a ``logger`` option: a bool selects and configures ``default``.

    ``True`` logs at INFO and ``False`` at ERROR, with a stderr handler,
    unless the application configured the logger's level itself.
    """
    if not isinstance(logger, bool):
        return logger
    ours = default.name in _loggers_we_configured
    if default.level == logging.NOTSET or ours:
        default.setLevel(logging.INFO if logger else logging.ERROR)
        if not ours:
            default.addHandler(logging.StreamHandler())
            _loggers_we_configured.add(default.name)
    return default


def call_with_optional_args(handler: Callable[..., Any], *args: Any) -> Any:
    """Call ``handler`` with ``args``, or without the last one if it does
    not accept it (legacy ``disconnect(sid)`` handlers)."""
    if args and not http.accepts_args(handler, len(args)):
        return handler(*args[:-1])
    return handler(*args)


def register_handler(owner: Any, event: str,
                     handler: Optional[Callable[..., Any]]) -> Any:
    """``owner.on(event, handler)`` for servers and clients: store the
    handler, or without one return a decorator that does."""
    if event not in owner.event_names:
        raise ValueError('Invalid event')

    def set_handler(handler: Callable[..., Any]) -> Callable[..., Any]:
        owner.handlers[event] = handler
        return handler

    if handler is None:
        return set_handler
    set_handler(handler)
    return None


class BaseServer:
    """Options, handler registry and response building for both servers."""

    compression_methods = ['gzip', 'deflate']
    event_names = ['connect', 'disconnect', 'message']
    valid_transports = ['polling', 'websocket']
    _default_monitor_clients = True
    sequence_number = 0
    reason = Reason

    def __init__(self, async_mode: Optional[str] = None,
                 ping_interval: Union[float, tuple] = 25,
                 ping_timeout: float = 20,
                 max_http_buffer_size: int = 1000000,
                 allow_upgrades: bool = True, http_compression: bool = True,
                 compression_threshold: int = 1024,
                 cookie: Union[None, str, Dict[str, Any]] = None,
                 cors_allowed_origins: Any = None,
                 cors_credentials: bool = True, logger: Any = False,
                 json: Any = None, async_handlers: bool = True,
                 monitor_clients: Optional[bool] = None,
                 transports: Union[None, str, List[str]] = None,
                 **kwargs: Any) -> None:
        self.ping_timeout = ping_timeout
        if isinstance(ping_interval, tuple):
            self.ping_interval = ping_interval[0]
            self.ping_interval_grace_period = ping_interval[1]
        else:
            self.ping_interval = ping_interval
            self.ping_interval_grace_period = 0
        self.max_http_buffer_size = max_http_buffer_size
        self.allow_upgrades = allow_upgrades
        self.http_compression = http_compression
        self.compression_threshold = compression_threshold
        self.cookie = cookie
        self.cors_allowed_origins = cors_allowed_origins
        self.cors_credentials = cors_credentials
        self.async_handlers = async_handlers
        self.sockets: Dict[str, Any] = {}
        self.handlers: Dict[str, Callable[..., Any]] = {}
        self.log_message_keys: set = set()
        #: encoded OPEN packets after their sid (see _open_tail)
        self._open_tails: Dict[tuple, str] = {}
        self.start_service_task = (self._default_monitor_clients
                                   if monitor_clients is None
                                   else monitor_clients)
        self.service_task_handle: Any = None
        self.service_task_event: Any = None
        if json is not None:
            packet.Packet.json = json
        self.logger = configure_logger(logger, default_logger)
        if transports is None:
            transports = self.valid_transports
        elif isinstance(transports, str):
            transports = [transports]
        self.transports = [t for t in transports
                           if t in self.valid_transports]
        if not self.transports:
            raise ValueError('No valid transports provided')
        self.async_mode, self._async = self._select_async_mode(async_mode)
        self.logger.info('Server initialized for %s.', self.async_mode)

    # -- async mode --------------------------------------------------------

    def is_asyncio_based(self) -> bool:
        """False: this server is called by a WSGI server."""
        return False

    def async_modes(self) -> List[str]:
        """The async modes of this class, in the order ``async_mode=None``
        tries them."""
        return list(SYNC_MODES)

    def _select_async_mode(self, async_mode: Optional[str]):
        candidates = self.async_modes() if async_mode is None \
            else [async_mode]
        for mode in candidates:
            if mode not in SYNC_MODES + ASYNC_MODES:
                break
            try:
                driver = importlib.import_module(
                    'engineio.async_drivers.' + mode)
            except ImportError:
                continue
            if driver._async.get('asyncio', False) == \
                    self.is_asyncio_based():
                return mode, driver._async
        raise ValueError('Invalid async_mode specified')

    # -- events ----------------------------------------------------------------

    def on(self, event: str, handler: Optional[Callable[..., Any]] = None):
        """Register an event handler, directly or as a decorator.

        ``event`` is ``'connect'`` (called with ``sid, environ``; return
        ``False`` or a value to reject the connection), ``'message'`` (called
        with ``sid, data``) or ``'disconnect'`` (called with ``sid, reason``).
        """
        return register_handler(self, event, handler)

    def transport(self, sid: str) -> str:
        """The transport of a session: ``'polling'`` or ``'websocket'``."""
        return 'websocket' if self._get_socket(sid).upgraded else 'polling'

    def _get_socket(self, sid: str):
        try:
            socket = self.sockets[sid]
        except KeyError:
            raise KeyError('Session not found')
        if socket.closed:
            self.sockets.pop(sid, None)
            raise KeyError('Session is disconnected')
        return socket

    def _find_socket(self, sid: str):
        return self.sockets.get(sid)

    def _forget_socket(self, socket: Any) -> None:
        if self.sockets.get(socket.sid) is socket:
            del self.sockets[socket.sid]

    # -- ids ---------------------------------------------------------------

    def generate_id(self) -> str:
        """A new random session id (20 URL-safe characters)."""
        counter = self.sequence_number
        self.sequence_number = (counter + 1) & 0xffffff
        raw = secrets.token_bytes(12) + counter.to_bytes(3, 'big')
        return base64.b64encode(raw).decode().replace(
            '/', '_').replace('+', '-')

    # -- handshake ---------------------------------------------------------------

    def _upgrades(self, sid: str, transport: str) -> List[str]:
        """Transports a session may upgrade to."""
        if not self.allow_upgrades or transport == 'websocket' or \
                'websocket' not in self.transports:
            return []
        if self._async.get('websocket') is None:
            self._log_error_once(
                'The WebSocket transport is not available, you must install '
                'a WebSocket server that is compatible with your async mode '
                'to enable it. See the documentation for details.',
                'no-websocket')
            return []
        return ['websocket']

    def _open_packet(self, sid: str, transport: str) -> packet.Packet:
        data = {
            'sid': sid,
            'upgrades': self._upgrades(sid, transport),
            'pingTimeout': int(round(self.ping_timeout * 1000)),
            'pingInterval': int(round(
                (self.ping_interval + self.ping_interval_grace_period) *
                1000)),
            'maxPayload': self.max_http_buffer_size,
        }
        pkt = packet.Packet(packet.OPEN, data)
        if packet.Packet.json is default_json and sid.isascii() and \
                sid.isprintable() and '"' not in sid and '\\' not in sid:
            # the JSON text of the sid is the sid in quotes: the rest of the
            # packet's encoding is the same for every session
            pkt.encode_cache = '0{"sid":"' + sid + '"' + self._open_tail(data)
        return pkt

    def _open_tail(self, data: Dict[str, Any]) -> str:
        """The encoded OPEN packet after its sid, computed once for each
        set of values."""
        key = (tuple(data['upgrades']), data['pingTimeout'],
               data['pingInterval'], data['maxPayload'])
        tail = self._open_tails.get(key)
        if tail is None:
            encoded = str(  # a text packet: a str already
                packet.Packet(packet.OPEN, dict(data, sid='')).encode())
            tail = encoded[len('0{"sid":""'):]
            if len(self._open_tails) > 16:  # options changed many times
                self._open_tails.clear()
            self._open_tails[key] = tail
        return tail

    # -- responses -------------------------------------------------------------

    def _ok(self, packets: Optional[List[packet.Packet]] = None,
            headers: Optional[List[tuple]] = None,
            jsonp_index: Optional[int] = None) -> Dict[str, Any]:
        """A 200 answer, with a payload when ``packets`` is given."""
        if packets is not None:
            if headers is None:
                headers = []
            headers = headers + [(
                'Content-Type', 'text/plain; charset=UTF-8'
                if jsonp_index is None else
                'text/javascript; charset=UTF-8')]
            body = payload.Payload(packets=packets).encode(
                jsonp_index=jsonp_index).encode('utf-8')
            return {'status': '200 OK', 'headers': headers,
                    'response': body}
        return {'status': '200 OK',
                'headers': [('Content-Type', 'text/plain')],
                'response': b'ok'}

    def _bad_request(self, message: Optional[str] = None,
                     status: str = '400 BAD REQUEST') -> Dict[str, Any]:
        return {'status': status,
                'headers': [('Content-Type', 'text/plain')],
                'response': json_dumps(message or 'Bad Request').encode()}

    def _method_not_found(self) -> Dict[str, Any]:
        return self._bad_request('Method Not Found')

    def _unauthorized(self, message: Any = None) -> Dict[str, Any]:
        return {'status': '401 UNAUTHORIZED',
                'headers': [('Content-Type', 'application/json')],
                'response': json_dumps(message or 'Unauthorized').encode()}

    def _cors_allowed_origins(self, environ: Dict[str, Any]):
        return http.allowed_origins(self.cors_allowed_origins, environ)

    def _cors_headers(self, environ: Dict[str, Any]) -> List[tuple]:
        return http.cors_headers(self.cors_allowed_origins,
                                 self.cors_credentials, environ)

    def _generate_sid_cookie(self, sid: str, attributes: Any) -> str:
        return http.sid_cookie(attributes, sid) or ''

    def _gzip(self, response: bytes) -> bytes:
        return http.compress('gzip', response)

    def _deflate(self, response: bytes) -> bytes:
        return http.compress('deflate', response)

    def _finish_response(self, r: Dict[str, Any], environ: Dict[str, Any],
                         cors: bool = True) -> Dict[str, Any]:
        """Add CORS headers and compress the body when worthwhile."""
        headers = list(r['headers'])
        body = r['response']
        if self.http_compression and \
                len(body) >= self.compression_threshold:
            method = http.pick_encoding(
                environ.get('HTTP_ACCEPT_ENCODING', ''),
                self.compression_methods)
            if method:
                body = getattr(self, '_' + method)(body)
                headers.append(('Content-Encoding', method))
        if cors:
            headers += self._cors_headers(environ)
        return {'status': r['status'], 'headers': headers, 'response': body}

    def _reject_response(self, rejection: Any, environ: Dict[str, Any]
                         ) -> Dict[str, Any]:
        self._log_error_once(rejection.log_message, rejection.log_key)
        return self._finish_response(
            self._bad_request(rejection.message, rejection.status), environ,
            cors=rejection.log_key != 'bad-origin')

    def _poll_error(self, sid: str, exc: Exception) -> Dict[str, Any]:
        self.logger.info('%s: poll failed: %s', sid, exc.__class__.__name__)
        return self._bad_request()

    def _post_error(self, sid: str, exc: Exception) -> Dict[str, Any]:
        """The answer to a POST that failed with ``exc``."""
        if isinstance(exc, ContentTooLongError):
            self._log_error_once('%s: POST body too large' % sid,
                                 'too-large')
            return self._bad_request('Payload Too Large',
                                     '413 PAYLOAD TOO LARGE')
        self._log_error_once('%s: bad POST: %r' % (sid, exc), 'bad-post')
        return self._bad_request()

    def _no_websocket_response(self, environ: Dict[str, Any]
                               ) -> Dict[str, Any]:
        self._log_error_once('The WebSocket transport is not available',
                             'no-websocket')
        return self._finish_response(self._bad_request(), environ)

    # -- logging -----------------------------------------------------------------

    def _log_error_once(self, message: str, message_key: Optional[str]
                        ) -> None:
        if message_key is None or message_key not in self.log_message_keys:
            suffix = '' if message_key is None else (
                ' (further occurrences of this error will be logged with '
                'level INFO)')
            self.logger.error(message + suffix)
            if message_key is not None:
                self.log_message_keys.add(message_key)
        else:
            self.logger.info(message)

    def _open_session(self, socket_class: Any, transport: str) -> Any:
        """Create and register a session with its OPEN packet queued."""
        self._ensure_service_task()
        sid = self.generate_id()
        socket = socket_class(self, sid, transport)
        self.sockets[sid] = socket
        socket._queue(self._open_packet(sid, transport))
        return socket

    def _settle_connect(self, socket: Any, ret: Any,
                        environ: Dict[str, Any]
                        ) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
        """Act on the connect handler's return value: accept the session or
        drop it and answer 401 with the returned value. Returns (the 401
        answer or None, the close reason to report when the handler accepted
        the session but also disconnected it)."""
        if ret is None or ret is True:
            closed = socket._proto.accept(time.monotonic())
            self._schedule(socket)
            return None, closed
        socket._proto.discard()
        self._forget_socket(socket)
        return self._finish_response(self._unauthorized(ret or None),
                                     environ), None

    def _handshake_headers(self, sid: str) -> List[tuple]:
        cookie = http.sid_cookie(self.cookie, sid)
        return [('Set-Cookie', cookie)] if cookie else []
