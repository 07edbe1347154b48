"""One server-side Engine.IO session as a state machine, without I/O.

Theory of operation
-------------------
A session is created by a handshake in the OPENING state. The shell then
calls the application's ``connect`` handler and either :meth:`accept` s or
:meth:`discard` s the session. Only an accepted session is OPEN, has a
heartbeat and can be closed with a reason.

Outgoing packets wait in :attr:`outbox` until the transport takes them: a
polling GET takes all of them at once (:meth:`poll_take`), a WebSocket
writer takes them as they come (:meth:`ws_take`). Queued messages are
bounded (see :func:`queue_limit`): a peer that does not take what it is
sent costs its session, not the server's memory. Incoming packets are fed to
:meth:`receive`, which returns what the application must be told (messages)
and changes the state.

Time is always an argument (``now``, in seconds from any monotonic clock),
so the heartbeat can be tested without sleeping. :meth:`deadline` tells the
shell when :meth:`tick` must be called next.

Every method is quick and never blocks. The session does not lock itself:
a shell with threads serialises calls with its own lock.

Closing happens once: :meth:`close` returns the reason the first time and
``None`` afterwards, so exactly one ``disconnect`` event is reported.
"""
from __future__ import annotations

from typing import List, Optional

from .. import packet as packet_mod
from ..packet import CLOSE, MESSAGE, NOOP, PING, PONG, UPGRADE, Packet
from .reasons import Reason

OPENING = 'opening'
OPEN = 'open'
CLOSED = 'closed'

# upgrade states
NOT_UPGRADING = None
PROBING = 'probing'      # a WebSocket is open, waiting for "2probe"
PROBED = 'probed'        # "3probe" sent, waiting for "5"
UPGRADED = 'upgraded'

#: queued messages may take this many times ``max_http_buffer_size``, and
#: at least QUEUE_LIMIT_MIN bytes
QUEUE_LIMIT_FACTOR = 10
QUEUE_LIMIT_MIN = 1 << 20

_CLOSE_PACKET = Packet(CLOSE)
_NOOP_PACKET = Packet(NOOP)
_PROBE_ANSWER = Packet(PONG, 'probe')


class ProtocolViolation(ValueError):
    """The peer sent something the protocol does not allow.

    The session has been closed by the time this is raised; :attr:`reason`
    is the close reason to report (None if the session was closed before).
    The shell answers the request with 400.
    """

    def __init__(self, message: str, reason: Optional[str] = None) -> None:
        super().__init__(message)
        self.reason = reason


class PollOverlap(ProtocolViolation):
    """A second GET arrived while one was waiting on the same session."""


class OutboxOverflow(Exception):
    """The peer does not take its packets: the queue outgrew its limit.

    The session has been closed (without a CLOSE packet: the peer is not
    reading) and its queue dropped; :attr:`reason` is the close reason to
    report (None if there is none to report).
    """

    def __init__(self, reason: Optional[str]) -> None:
        super().__init__('outgoing queue over its limit')
        self.reason = reason


def queue_limit(max_http_buffer_size: Optional[int]) -> Optional[int]:
    """Bytes of messages a session may hold for its peer (None: no limit),
    from the server's ``max_http_buffer_size``."""
    if not max_http_buffer_size:
        return None
    return max(QUEUE_LIMIT_FACTOR * max_http_buffer_size, QUEUE_LIMIT_MIN)


class ServerSession:
    """Protocol state of one server-side session."""

    def __init__(self, sid: str, transport: str, ping_interval: float,
                 ping_timeout: float,
                 max_queued: Optional[int] = None) -> None:
        self.sid = sid
        #: 'polling' or 'websocket'
        self.transport = transport
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.state = OPENING
        self.upgrade_state: Optional[str] = (
            UPGRADED if transport == 'websocket' else NOT_UPGRADING)
        self.outbox: List[Packet] = []  # a list: taken whole, kept small
        #: size of the messages in :attr:`outbox`, and its bound (None: none)
        self.queued_bytes = 0
        self.max_queued = max_queued
        #: why the session closed, once closed
        self.close_reason: Optional[str] = None
        self.poll_waiting = False
        self.post_active = False
        #: the body of the POST being read must have arrived by then
        self.post_deadline: Optional[float] = None
        self.next_ping_at: Optional[float] = None
        self.pong_deadline: Optional[float] = None
        #: a closed session's transport has until then to deliver its last
        #: packets (a polling session waits for its last GET; a WebSocket
        #: is aborted by the shell if it has not ended by then)
        self.drain_deadline: Optional[float] = None

    # -- lifecycle ---------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.state == OPEN

    @property
    def closed(self) -> bool:
        return self.state == CLOSED

    @property
    def upgraded(self) -> bool:
        return self.upgrade_state == UPGRADED

    @property
    def upgrading(self) -> bool:
        return self.upgrade_state in (PROBING, PROBED)

    def accept(self, now: float) -> Optional[str]:
        """The application accepted the connection: start the heartbeat.

        Returns the close reason to report when the session was closed while
        the application was deciding (its ``connect`` handler disconnected
        it), None otherwise.
        """
        if self.state == OPENING:
            self.state = OPEN
            self.next_ping_at = now + self.ping_interval
            return None
        return self.close_reason

    def discard(self) -> None:
        """The application refused the connection; no event is reported."""
        self.state = CLOSED
        self._drop_queue()

    def close(self, reason: str, now: float = 0.0,
              notify_peer: bool = True) -> Optional[str]:
        """Close the session.

        Queues a CLOSE packet for the peer when ``notify_peer`` is true (or a
        NOOP that releases a waiting poll when it is false). Returns
        ``reason`` the first time, ``None`` when already closed.
        """
        if self.state == CLOSED:
            return None
        was_open = self.state == OPEN
        self.state = CLOSED
        self.close_reason = reason
        self.next_ping_at = self.pong_deadline = None
        if notify_peer:
            self.outbox.append(_CLOSE_PACKET)
        elif self.poll_waiting:
            self.outbox.append(_NOOP_PACKET)
        if self.transport == 'websocket' or (
                self.outbox and not self.poll_waiting):
            # keep a polling session reachable so the next GET gets the
            # CLOSE; give a WebSocket as long to flush and end
            self.drain_deadline = now + self.ping_timeout
        return reason if was_open else None

    def fail(self, now: float) -> Optional[str]:
        """Close after a protocol violation (reason ``transport error``).

        Only a GET already waiting is told, with a CLOSE packet; later
        requests for the session are refused as for an unknown session.
        """
        return self.close(Reason.TRANSPORT_ERROR, now,
                          notify_peer=self.poll_waiting)

    @property
    def awaits_final_poll(self) -> bool:
        """A closed polling session still holding packets for its next GET.

        The shell keeps such a session reachable by its sid until a GET takes
        the packets or :attr:`drain_deadline` passes.
        """
        return (self.state == CLOSED and self.transport == 'polling' and
                not self.poll_waiting and bool(self.outbox) and
                self.drain_deadline is not None)

    # -- sending -----------------------------------------------------------

    def send(self, pkt: Packet, now: float = 0.0) -> bool:
        """Queue a packet for the peer. False if the session is closed.

        A message that would take the queued messages over
        :attr:`max_queued` bytes (one message alone always fits) closes the
        session with ``transport error`` and raises :class:`OutboxOverflow`.
        """
        if self.state == CLOSED:
            return False
        if pkt.packet_type == MESSAGE and self.max_queued is not None:
            size = len(pkt.encode())
            if self.queued_bytes and \
                    self.queued_bytes + size > self.max_queued:
                self._drop_queue()
                raise OutboxOverflow(self.close(Reason.TRANSPORT_ERROR, now,
                                                notify_peer=False))
            self.queued_bytes += size
        self.outbox.append(pkt)
        return True

    def _take_queue(self) -> List[Packet]:
        pkts = self.outbox
        self._drop_queue()
        return pkts

    def _drop_queue(self) -> None:
        self.outbox = []
        self.queued_bytes = 0

    def poll_take(self) -> List[Packet]:
        """Packets for a polling GET answer (may be empty: keep waiting).

        While an upgrade is being confirmed, or after it, a poll only gets a
        NOOP: the queued packets wait for the WebSocket.
        """
        if self.upgrade_state == UPGRADED or (
                self.upgrade_state == PROBED and self.state != CLOSED):
            return [_NOOP_PACKET]
        pkts = self._take_queue()
        if self.state == CLOSED:
            self.drain_deadline = None
        return pkts

    def ws_take(self) -> List[Packet]:
        """Packets for the WebSocket writer (only once upgraded)."""
        if self.upgrade_state != UPGRADED:
            return []
        return self._take_queue()

    # -- heartbeat ---------------------------------------------------------

    def deadline(self) -> Optional[float]:
        """When the shell must look at the session next (None: never)."""
        if self.state == CLOSED:
            due = self.drain_deadline
        elif self.pong_deadline is not None:
            due = self.pong_deadline
        else:
            due = self.next_ping_at
        if self.post_deadline is not None and (
                due is None or self.post_deadline < due):
            return self.post_deadline
        return due

    def ping_due(self, now: float) -> bool:
        return (self.state == OPEN and self.pong_deadline is None and
                self.next_ping_at is not None and now >= self.next_ping_at)

    def timed_out(self, now: float) -> bool:
        return (self.state == OPEN and self.pong_deadline is not None and
                now >= self.pong_deadline)

    def ping_sent(self, now: float) -> None:
        """Record that a PING went out; the PONG is due by the timeout."""
        self.next_ping_at = None
        self.pong_deadline = now + self.ping_timeout

    def websocket_ended(self) -> None:
        """The WebSocket of the closed session has ended: its grace period
        (:attr:`drain_deadline`) is over early."""
        if self.state == CLOSED and self.transport == 'websocket':
            self.drain_deadline = None

    def drain_expired(self, now: float) -> bool:
        if self.state == CLOSED and self.drain_deadline is not None and \
                now >= self.drain_deadline:
            self.drain_deadline = None
            self._drop_queue()
            return True
        return False

    # -- polling -------------------------------------------------------------

    def start_poll(self, now: float) -> None:
        """A GET arrived. Raises :class:`PollOverlap` for a second one."""
        if self.poll_waiting:
            raise PollOverlap('overlapping GET requests', self.fail(now))
        self.poll_waiting = True

    def end_poll(self) -> None:
        self.poll_waiting = False

    def start_post(self, now: float) -> None:
        """A POST arrived. Raises :class:`ProtocolViolation` for a second."""
        if self.post_active:
            raise ProtocolViolation('overlapping POST requests',
                                    self.fail(now))
        self.post_active = True
        # a client sends its body at once: one heartbeat period is plenty
        self.post_deadline = now + self.ping_interval + self.ping_timeout

    def end_post(self) -> None:
        self.post_active = False
        self.post_deadline = None

    def post_overdue(self, now: float) -> bool:
        """The body of the POST being read is late: the shell drops the
        request (a client trickling its body must not hold it for ever).
        True once per POST."""
        if self.post_deadline is not None and now >= self.post_deadline:
            self.post_deadline = None
            return True
        return False

    # -- receiving -----------------------------------------------------------

    def receive(self, pkt: Packet, now: float) -> Optional[Packet]:
        """Handle one packet from the peer.

        Returns the packet when it is a MESSAGE for the application, None
        otherwise. A client CLOSE closes the session (check :attr:`closed`
        and :attr:`close_reason`). A packet the client may not send closes
        the session and raises :class:`ProtocolViolation`.
        """
        kind = pkt.packet_type
        if kind == MESSAGE:
            return pkt if self.state == OPEN else None
        if kind == PONG:
            if self.pong_deadline is not None and self.state == OPEN:
                self.pong_deadline = None
                self.next_ping_at = now + self.ping_interval
            return None
        if kind == CLOSE:
            self.close(Reason.CLIENT_DISCONNECT, now, notify_peer=False)
            return None
        if kind == UPGRADE and self.upgrade_state == PROBED:
            return None  # handled by upgrade_received; harmless repeat
        name = packet_mod.packet_names[kind] if 0 <= kind < len(
            packet_mod.packet_names) else str(kind)
        raise ProtocolViolation('unexpected packet type ' + name,
                                self.fail(now))

    # -- upgrade to WebSocket ------------------------------------------------

    def websocket_opened(self) -> bool:
        """A WebSocket asks to join this session. False: refuse it."""
        if self.state != OPEN or self.upgrade_state is not NOT_UPGRADING:
            return False
        self.upgrade_state = PROBING
        return True

    def probe_received(self, pkt: Packet) -> Optional[Packet]:
        """First frame of an upgrading WebSocket.

        Returns the answer to send on that WebSocket ("3probe"), or None
        when the frame is not a probe (the upgrade is abandoned).
        """
        if self.upgrade_state != PROBING or pkt.packet_type != PING or \
                pkt.data != 'probe' or self.state != OPEN:
            self.abandon_upgrade()
            return None
        self.upgrade_state = PROBED
        return _PROBE_ANSWER

    def upgrade_received(self, pkt: Packet) -> bool:
        """Second frame of an upgrading WebSocket: must be UPGRADE."""
        if self.upgrade_state != PROBED or pkt.packet_type != UPGRADE or \
                self.state != OPEN:
            self.abandon_upgrade()
            return False
        self.upgrade_state = UPGRADED
        self.transport = 'websocket'
        self.drain_deadline = None
        return True

    def abandon_upgrade(self) -> None:
        """The upgrading WebSocket failed; the session stays on polling."""
        if self.upgrading:
            self.upgrade_state = NOT_UPGRADING
