"""The client side of one Engine.IO connection as a state machine, without I/O.

Theory of operation
-------------------
A :class:`ClientSession` lives for one connection attempt. The shell asks it
for the handshake URL (:meth:`ClientSession.url`), performs the request and
hands the answer to :meth:`ClientSession.open_polling` or
:meth:`ClientSession.open_websocket`, which validate it (raising
:class:`~engineio.exceptions.ConnectionError` with the message the
application sees) and make the session ``'connected'``.

A polling session may then upgrade: :meth:`can_upgrade` says whether to try,
the shell opens a WebSocket, sends :meth:`probe_packet`, checks the answer
with :meth:`probe_answered`, sends :meth:`upgrade_packet` and reports
:meth:`upgraded`. Nothing is polled meanwhile, so no packet can be lost.

Every packet received is fed to :meth:`receive`. A PING queues the PONG and
pushes the liveness deadline back; what the application must be told comes
back as an :class:`Event`. Outgoing packets wait in :attr:`outbox` until the
shell's writer takes them with :meth:`take_batch`; a polling batch never
exceeds the server's ``maxPayload``. The writer stops when
:attr:`writer_done` is true.

A connection ends exactly once, in one of three ways:

* the application disconnects: :meth:`begin_disconnect` queues a CLOSE
  packet and moves to ``'disconnecting'``;
* the server sends CLOSE: :meth:`receive` moves to ``'disconnecting'`` and
  returns a ``disconnect`` event with ``'server disconnect'``;
* the transport fails, or no PING arrives within ``pingInterval +
  pingTimeout`` (:meth:`expired`): :meth:`lose` returns ``'transport
  error'`` and the state stays ``'connected'`` while the application is told,
  which is how python-socketio knows it should reconnect.

The shell reports the disconnect to the application and then calls
:meth:`finish` (``'disconnected'``). Time is always an argument (``now``, in
seconds of a monotonic clock). The session does not lock itself; a shell
with threads serialises calls with its own lock.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Deque, List, NamedTuple, Optional, Union
from urllib.parse import urlsplit

from .. import json as _json
from ..exceptions import ConnectionError
from ..packet import (CLOSE, MESSAGE, NOOP, OPEN, PING, PONG, UPGRADE, Packet,
                      packet_names)
from ..payload import Payload
from .reasons import ClientReason

DISCONNECTED = 'disconnected'
CONNECTED = 'connected'
DISCONNECTING = 'disconnecting'

POLLING = 'polling'
WEBSOCKET = 'websocket'
VALID_TRANSPORTS = [POLLING, WEBSOCKET]

#: event kinds returned by :meth:`ClientSession.receive`
MESSAGE_EVENT = 'message'
DISCONNECT_EVENT = 'disconnect'
INVALID_EVENT = 'invalid'

_SEPARATOR_SIZE = 1  # the record separator between packets of a payload

Body = Union[str, bytes, bytearray]


class Event(NamedTuple):
    """Something the application must be told (or the shell must log)."""
    kind: str
    data: Any


def select_transports(transports: Union[None, str, List[str]]) -> List[str]:
    """The valid transports among those requested, in the requested order.

    ``None`` means both. Raises ``ValueError`` when none is valid.
    """
    if transports is None:
        return list(VALID_TRANSPORTS)
    if isinstance(transports, str):
        transports = [transports]
    selected = [t for t in transports if t in VALID_TRANSPORTS]
    if not selected:
        raise ValueError('No valid transports provided')
    return selected


def endpoint_url(url: str, engineio_path: str, transport: str) -> str:
    """The URL of the Engine.IO endpoint for a transport, without a sid.

    Scheme and host come from ``url`` (``https``/``wss`` mean TLS), the path
    from ``engineio_path``; the query of ``url`` is kept, then ``transport``
    and ``EIO=4`` are added. The path of ``url`` is ignored.
    """
    parts = urlsplit(url)
    secure = parts.scheme in ('https', 'wss')
    if transport == POLLING:
        scheme = 'https' if secure else 'http'
    else:
        scheme = 'wss' if secure else 'ws'
    path = '/' + engineio_path.strip('/') + '/'
    query = parts.query + '&' if parts.query else ''
    return (f'{scheme}://{parts.netloc}{path}?{query}'
            f'transport={transport}&EIO=4')


def is_success(status: int) -> bool:
    """Whether an HTTP status code means success (2xx)."""
    return 200 <= status < 300


def check_handshake_status(status: int, body: Optional[Body]) -> None:
    """Raise the ``ConnectionError`` for a handshake answered with an error.

    Its second argument is the body decoded as JSON (for example what a
    server's ``connect`` handler returned to refuse the connection), or
    ``None`` when the body is not JSON.
    """
    if is_success(status):
        return
    raise ConnectionError(
        f'Unexpected status code {status} in server response',
        decode_json(body))


def decode_json(body: Optional[Body]) -> Any:
    """``body`` decoded as JSON, or None if it is empty or not JSON."""
    if not body:
        return None
    try:
        return _json.loads(body)
    except (ValueError, RecursionError):
        return None


def decode_payload(body: Body) -> List[Packet]:
    """The packets of a polling answer; ``ValueError`` if it is invalid."""
    return Payload(encoded_payload=body).packets


def decode_frame(frame: Body) -> Packet:
    """The packet of a WebSocket frame; ``ValueError`` if it is invalid."""
    return Packet(encoded_packet=frame)


def encode_payload(packets: List[Packet]) -> bytes:
    """The body of a polling POST carrying ``packets``."""
    return Payload(packets=packets).encode().encode('utf-8')


def packet_name(pkt: Packet) -> str:
    kind = pkt.packet_type
    if isinstance(kind, int) and 0 <= kind < len(packet_names):
        return packet_names[kind]
    return str(kind)


class ClientSession:
    """Protocol state of one client connection."""

    def __init__(self, url: str, engineio_path: str,
                 transports: List[str]) -> None:
        self.server_url = url
        self.engineio_path = engineio_path
        #: the transports the application allows, first one used first
        self.transports = transports
        self.state = DISCONNECTED
        #: 'polling' or 'websocket' once connecting started
        self.transport: Optional[str] = None
        self.sid: Optional[str] = None
        self.upgrades: List[str] = []
        #: seconds, from the server's handshake
        self.ping_interval: Optional[float] = None
        self.ping_timeout: Optional[float] = None
        #: largest POST body the server accepts, in bytes (None: no limit)
        self.max_payload: Optional[int] = None
        self.outbox: Deque[Packet] = deque()
        #: no PING by then means the server is gone
        self.liveness_deadline: Optional[float] = None
        #: the end of the connection has been claimed by one of the three ways
        self.ending = False

    # -- URLs -----------------------------------------------------------------

    def url(self, transport: str, timestamp: Optional[float] = None) -> str:
        """The URL of a request over ``transport``.

        It carries the sid once known and ``t=<timestamp>`` when given (a
        cache buster for GET requests and WebSocket handshakes).
        """
        url = endpoint_url(self.server_url, self.engineio_path, transport)
        if self.sid is not None:
            url += '&sid=' + self.sid
        if timestamp is not None:
            url += '&t=' + str(timestamp)
        return url

    # -- handshake ------------------------------------------------------------

    def open_polling(self, body: Body, now: float) -> List[Packet]:
        """Accept the answer to a polling handshake.

        Returns the packets that followed the OPEN packet in the body; the
        shell handles them with :meth:`receive` once the application knows
        of the connection.
        """
        try:
            pkts = decode_payload(body)
        except ValueError:
            raise ConnectionError('Unexpected response from server') from None
        if not pkts or pkts[0].packet_type != OPEN:
            raise ConnectionError('OPEN packet not returned by server')
        self._open(pkts[0], POLLING, now, 'Unexpected response from server')
        return pkts[1:]

    def open_websocket(self, frame: Body, now: float) -> None:
        """Accept the first frame of a WebSocket-only connection."""
        try:
            pkt = decode_frame(frame)
        except ValueError:
            raise ConnectionError('no OPEN packet') from None
        if pkt.packet_type != OPEN:
            raise ConnectionError('no OPEN packet')
        self._open(pkt, WEBSOCKET, now, 'no OPEN packet')

    def _open(self, pkt: Packet, transport: str, now: float,
              error: str) -> None:
        data = pkt.data
        if not isinstance(data, dict):
            raise ConnectionError(error)
        sid = data.get('sid')
        upgrades = data.get('upgrades', [])
        ping_interval: Any = data.get('pingInterval')
        ping_timeout: Any = data.get('pingTimeout')
        max_payload = data.get('maxPayload')
        if not isinstance(sid, str) or not sid or \
                not isinstance(upgrades, list) or \
                not _is_duration(ping_interval) or \
                not _is_duration(ping_timeout) or \
                (max_payload is not None and not _is_duration(max_payload)):
            raise ConnectionError(error)
        self.sid = sid
        self.upgrades = [u for u in upgrades if isinstance(u, str)]
        self.ping_interval = ping_interval / 1000.0
        self.ping_timeout = ping_timeout / 1000.0
        self.max_payload = int(max_payload) if max_payload else None
        self.transport = transport
        self.state = CONNECTED
        self._push_liveness(now)

    # -- upgrade --------------------------------------------------------------

    def can_upgrade(self) -> bool:
        """Whether to try the upgrade of a polling session to WebSocket."""
        return (self.state == CONNECTED and not self.ending and
                self.transport == POLLING and WEBSOCKET in self.upgrades and
                WEBSOCKET in self.transports)

    @staticmethod
    def probe_packet() -> Packet:
        """The first packet on the upgrading WebSocket."""
        return Packet(PING, 'probe')

    @staticmethod
    def probe_answered(frame: Body) -> bool:
        """Whether the server's first frame answers the probe."""
        try:
            pkt = decode_frame(frame)
        except ValueError:
            return False
        return pkt.packet_type == PONG and pkt.data == 'probe'

    @staticmethod
    def upgrade_packet() -> Packet:
        """The packet that switches the session to the WebSocket."""
        return Packet(UPGRADE)

    def upgraded(self) -> None:
        """The UPGRADE packet went out: the WebSocket carries everything."""
        self.transport = WEBSOCKET

    # -- sending --------------------------------------------------------------

    def send(self, pkt: Packet) -> bool:
        """Queue a packet for the server; False (dropped) unless connected."""
        if self.state != CONNECTED or self.ending:
            return False
        self.outbox.append(pkt)
        return True

    def take_batch(self) -> List[Packet]:
        """The packets to write now.

        Over WebSocket that is everything queued (one frame each). Over
        polling it is what fits in one POST of at most ``maxPayload`` bytes
        (at least one packet); the rest waits for the next POST.
        """
        outbox = self.outbox
        batch: List[Packet] = []
        if self.transport != POLLING or self.max_payload is None:
            batch.extend(outbox)
            outbox.clear()
            return batch
        size = -_SEPARATOR_SIZE
        while outbox:
            encoded = str(outbox[0].encode(b64=True))  # text when b64
            size += _SEPARATOR_SIZE + len(encoded.encode('utf-8'))
            if batch and size > self.max_payload:
                break
            batch.append(outbox.popleft())
        return batch

    @property
    def writer_done(self) -> bool:
        """Nothing more will be written on this connection."""
        return (self.state != CONNECTED or self.ending) and not self.outbox

    # -- receiving ------------------------------------------------------------

    def receive(self, pkt: Packet, now: float) -> Optional[Event]:
        """Handle one packet from the server.

        Returns a ``message`` event (data for the application), a
        ``disconnect`` event (the server closed the session), an ``invalid``
        event (a packet the server may not send, to be logged and ignored)
        or None. Packets arriving after the end was claimed are dropped.
        """
        if self.state != CONNECTED or self.ending:
            return None
        kind = pkt.packet_type
        if kind == MESSAGE:
            return Event(MESSAGE_EVENT, pkt.data)
        if kind == PING:
            self.outbox.append(Packet(PONG, pkt.data))
            self._push_liveness(now)
            return None
        if kind == CLOSE:
            self.ending = True
            self.state = DISCONNECTING
            self.outbox.clear()
            return Event(DISCONNECT_EVENT, ClientReason.SERVER_DISCONNECT)
        if kind == NOOP:
            return None
        return Event(INVALID_EVENT, 'unexpected packet ' + packet_name(pkt))

    # -- liveness -------------------------------------------------------------

    def _push_liveness(self, now: float) -> None:
        assert self.ping_interval is not None and \
            self.ping_timeout is not None  # connected
        self.liveness_deadline = now + self.ping_interval + self.ping_timeout

    def read_timeout(self, now: float) -> Optional[float]:
        """How long a read may wait before the server counts as gone."""
        if self.liveness_deadline is None:
            return None
        return max(0.0, self.liveness_deadline - now)

    def expired(self, now: float) -> bool:
        """No PING arrived within ``pingInterval + pingTimeout``."""
        return (self.state == CONNECTED and not self.ending and
                self.liveness_deadline is not None and
                now >= self.liveness_deadline)

    # -- ending ---------------------------------------------------------------

    def begin_disconnect(self) -> bool:
        """The application disconnects: queue CLOSE, go ``'disconnecting'``.

        False when the connection is not open or already ending.
        """
        if self.state != CONNECTED or self.ending:
            return False
        self.ending = True
        self.state = DISCONNECTING
        self.outbox.append(Packet(CLOSE))
        return True

    def lose(self) -> Optional[str]:
        """The transport failed or the server went silent.

        Returns ``'transport error'`` the first time, None when the end was
        already claimed. The state stays ``'connected'`` until :meth:`finish`.
        """
        if self.state != CONNECTED or self.ending:
            return None
        self.ending = True
        self.outbox.clear()
        return ClientReason.TRANSPORT_ERROR

    def finish(self) -> None:
        """The application has been told: the connection is over."""
        self.ending = True
        self.state = DISCONNECTED
        self.sid = None
        self.outbox.clear()
        self.liveness_deadline = None


def _is_duration(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and value >= 0
