"""Configuration and behaviour shared by :class:`Client` and AsyncClient."""
from __future__ import annotations

import logging
import signal
import threading
from typing import Any, Callable, Dict, List, Optional

from . import packet
from ._core import client as core
from ._core.reasons import ClientReason
from .base_server import configure_logger, register_handler

default_logger = logging.getLogger('engineio.client')

#: clients with an open connection, disconnected by the SIGINT handler
connected_clients: List['BaseClient'] = []
#: the SIGINT handler that was installed before the sync client's one
original_signal_handler: Any = None


def signal_handler(sig: int, frame: Any) -> Any:
    """SIGINT handler of the sync clients: disconnect them all, then hand
    the signal to the handler that was installed before."""
    for client in connected_clients[:]:
        if not client.is_asyncio_based():
            client.disconnect()
    if original_signal_handler == signal.SIG_IGN:
        return None
    if callable(original_signal_handler):
        return original_signal_handler(sig, frame)
    return signal.default_int_handler(sig, frame)


def _install_signal_handler() -> None:
    global original_signal_handler
    if original_signal_handler is not None or \
            threading.current_thread() is not threading.main_thread():
        return
    try:
        original_signal_handler = signal.signal(signal.SIGINT, signal_handler)
    except ValueError:  # not the main interpreter
        pass


class BaseClient:
    """Options, handler registry and packet handling for both clients."""

    event_names = ['connect', 'disconnect', 'message']
    valid_transports = list(core.VALID_TRANSPORTS)
    reason = ClientReason

    def __init__(self, logger: Any = False, json: Any = None,
                 request_timeout: float = 5, http_session: Any = None,
                 ssl_verify: bool = True, handle_sigint: bool = True,
                 websocket_extra_options: Optional[Dict[str, Any]] = None,
                 timestamp_requests: bool = True) -> None:
        self.handlers: Dict[str, Callable[..., Any]] = {}
        self.base_url: Optional[str] = None
        self.transports: Optional[List[str]] = None
        self.http: Any = None
        self.external_http = http_session is not None and \
            not callable(http_session)
        self.http_factory: Optional[Callable[[], Any]] = \
            http_session if callable(http_session) else None
        if self.external_http:
            self.http = http_session
        self.handle_sigint = handle_sigint
        self.ws: Any = None
        self.read_loop_task: Any = None
        self.write_loop_task: Any = None
        self.ssl_verify = ssl_verify
        self.websocket_extra_options = websocket_extra_options or {}
        self.timestamp_requests = timestamp_requests
        self.request_timeout = request_timeout
        if json is not None:
            packet.Packet.json = json
        self.logger = configure_logger(logger, default_logger)
        self._core = core.ClientSession('', '', self.valid_transports)
        self._headers: Dict[str, str] = {}
        #: the shell's current connection (its threads or tasks)
        self._conn: Any = None
        #: serialises the calls of the sync client's threads into the core
        #: (re-entrant: the SIGINT handler may interrupt a holder)
        self._lock = threading.RLock()
        if handle_sigint and not self.is_asyncio_based():
            _install_signal_handler()

    # -- state read by applications and python-socketio ----------------------

    @property
    def state(self) -> str:
        """``'disconnected'``, ``'connected'`` or ``'disconnecting'``."""
        return self._core.state

    @property
    def sid(self) -> Optional[str]:
        """The session id given by the server, None when disconnected."""
        return self._core.sid

    @property
    def current_transport(self) -> Optional[str]:
        """``'polling'`` or ``'websocket'``; the last one used once
        disconnected, None before the first connection."""
        return self._core.transport

    @property
    def upgrades(self) -> List[str]:
        """The transports the server offered to upgrade to in its handshake."""
        return self._core.upgrades

    @property
    def ping_interval(self) -> Optional[float]:
        """The server's ``pingInterval``, in seconds (None before a handshake)."""
        return self._core.ping_interval

    @property
    def ping_timeout(self) -> Optional[float]:
        """The server's ``pingTimeout``, in seconds (None before a handshake)."""
        return self._core.ping_timeout

    def is_asyncio_based(self) -> bool:
        """False: this client uses threads."""
        return False

    def on(self, event: str, handler: Optional[Callable[..., Any]] = None):
        """Register an event handler, directly or as a decorator.

        ``event`` is ``'connect'`` (called without arguments once the
        connection is up), ``'message'`` (called with the data) or
        ``'disconnect'`` (called with the reason, one of
        :attr:`reason`'s constants).
        """
        return register_handler(self, event, handler)

    def transport(self) -> Optional[str]:
        """The transport in use: ``'polling'``, ``'websocket'`` or None."""
        return self._core.transport

    # -- helpers for the shells ---------------------------------------------

    def _new_session(self, url: str, headers: Optional[Dict[str, str]],
                     transports: Any, engineio_path: str
                     ) -> core.ClientSession:
        """Validate ``connect()``'s arguments and start a new session."""
        if self.state != core.DISCONNECTED:
            raise ValueError('Client is not in a disconnected state')
        self.transports = core.select_transports(transports)
        self._headers = dict(headers or {})
        session = core.ClientSession(url, engineio_path, self.transports)
        self._core = session
        return session

    def _timestamp(self, now: float) -> Optional[float]:
        return now if self.timestamp_requests else None

    def _log_packet(self, action: str, pkt: packet.Packet) -> None:
        if self.logger.isEnabledFor(logging.INFO):
            self.logger.info('%s packet %s data %s', action,
                             core.packet_name(pkt),
                             '<binary>' if pkt.binary else pkt.data)

    def _merged_headers(self, extra: Any) -> Dict[str, str]:
        """``connect()``'s headers, overridden by extra WebSocket ones."""
        headers = dict(self._headers)
        if isinstance(extra, dict):
            headers.update(extra)
        elif extra:
            for line in extra:
                name, _, value = str(line).partition(':')
                headers[name.strip()] = value.strip()
        return headers

    def _connected(self) -> None:
        if self not in connected_clients:
            connected_clients.append(self)

    def _disconnected(self) -> None:
        if self in connected_clients:
            connected_clients.remove(self)
