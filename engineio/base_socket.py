"""What :class:`Socket` and AsyncSocket share.

Each ``_``-prefixed step below asks the protocol core one question under the
socket's lock and returns the answer; the sync and async shells perform the
I/O and call the application's handlers around these steps, without the
lock held.
"""
from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Tuple

from . import exceptions
from . import packet as packet_mod
from . import payload as payload_mod
from ._core.session import (OutboxOverflow, ProtocolViolation,
                            ServerSession, queue_limit)

#: packets a client may send in a POST body
_POSTABLE = (packet_mod.MESSAGE, packet_mod.PONG, packet_mod.CLOSE)


def is_chunked(environ: Dict[str, Any]) -> bool:
    """Whether the request body comes in HTTP chunks."""
    return 'chunked' in environ.get('HTTP_TRANSFER_ENCODING', '').lower()


class BaseSocket:
    """One client session of a server, as seen by the application."""

    upgrade_protocols = ['websocket']

    def __init__(self, server: Any, sid: str, transport: str = 'polling'
                 ) -> None:
        self.server = server
        self.sid = sid
        #: the application's per-session data (see ``Server.session``)
        self.session: Dict[str, Any] = {}
        self._proto = ServerSession(
            sid, transport, server.ping_interval, server.ping_timeout,
            queue_limit(server.max_http_buffer_size))
        self._lock: Any = contextlib.nullcontext()
        #: events for the dispatcher: (name, data, size in bytes); created
        #: when needed, dropped when the dispatcher is done
        self._inbox: Optional[Deque[Tuple[str, Any, int]]] = None
        self._inbox_bytes = 0
        self._dispatching = False

    @property
    def connected(self) -> bool:
        return self._proto.state != 'opening'

    @property
    def upgrading(self) -> bool:
        return self._proto.upgrading

    @property
    def upgraded(self) -> bool:
        return self._proto.upgraded

    @property
    def closing(self) -> bool:
        return self._proto.closed

    @property
    def closed(self) -> bool:
        return self._proto.closed

    # -- steps -----------------------------------------------------------------

    def _queue(self, pkt: packet_mod.Packet) -> Optional[OutboxOverflow]:
        """Queue a packet; SocketIsClosedError if the session is closed. An
        overflow (returned) means the client fell so far behind that the
        session was closed instead."""
        self._log_packet('Sending', pkt)
        with self._lock:
            try:
                queued = self._proto.send(pkt, time.monotonic())
            except OutboxOverflow as exc:
                overflow = exc
            else:
                if not queued:
                    raise exceptions.SocketIsClosedError()
                return None
        self.server._log_error_once(
            '%s: the client does not take the packets sent to it; closing '
            'the session' % self.sid, 'slow-client')
        return overflow

    def _queue_ping(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if not self._proto.ping_due(now):
                return False
            self._proto.ping_sent(now)
            self._proto.send(packet_mod.Packet(packet_mod.PING))
        return True

    def _begin_close(self, reason: Any, abort: bool) -> Optional[str]:
        with self._lock:
            return self._proto.close(
                reason or self.server.reason.SERVER_DISCONNECT,
                time.monotonic(), notify_peer=not abort)

    def _fail(self) -> Optional[str]:
        with self._lock:
            return self._proto.fail(time.monotonic())

    def _after_close(self) -> bool:
        """Drop or keep the closed socket, and schedule the end of its
        transport; True if the disconnect event must wait behind pending
        message events."""
        if not self._proto.awaits_final_poll:
            self.server._forget_socket(self)
        self.server._schedule(self)
        return self._dispatching or bool(self._inbox)

    def _receive_step(self, pkt: packet_mod.Packet) -> Tuple[
            Optional[packet_mod.Packet], Optional[str]]:
        """(message for the application, close reason); raises
        ProtocolViolation (carrying its close reason) for a bad packet."""
        self._log_packet('Received', pkt)
        with self._lock:
            was_closed = self._proto.closed
            message = self._proto.receive(pkt, time.monotonic())
            reason = self._proto.close_reason \
                if self._proto.closed and not was_closed else None
        return message, reason

    def _enqueue_event(self, event: Tuple[str, Any], size: int = 0) -> bool:
        """Add an event for the dispatcher; True if one must be started.

        ``size`` is the message's size: when the messages waiting for the
        handlers would outgrow the session's queue limit, they are dropped,
        the session is closed (``transport error``) and ProtocolViolation
        raised.
        """
        with self._lock:
            limit = self._proto.max_queued
            if not (size and limit is not None and self._inbox_bytes and
                    self._inbox_bytes + size > limit):
                if self._inbox is None:
                    self._inbox = deque()
                self._inbox.append((event[0], event[1], size))
                self._inbox_bytes += size
                if self._dispatching:
                    return False
                self._dispatching = True
                return True
        self.server._log_error_once(
            '%s: the client sends faster than its handlers take the '
            'messages; closing the session' % self.sid, 'fast-client')
        with self._lock:  # the session ends: its waiting messages with it
            self._inbox = None
            self._inbox_bytes = 0
        reason = self._begin_close(self.server.reason.TRANSPORT_ERROR,
                                   abort=True)
        raise ProtocolViolation('incoming queue over its limit', reason)

    def _next_event(self, stop_when_empty: bool = True
                    ) -> Optional[Tuple[str, Any, int]]:
        """The next event for the dispatcher, or None when there is none
        (then the dispatcher is done, unless ``stop_when_empty`` is
        false)."""
        with self._lock:
            if not self._inbox:
                if stop_when_empty:
                    self._dispatching = False
                    self._inbox = None
                return None
            event = self._inbox.popleft()
            self._inbox_bytes -= event[2]
            return event

    def _start_poll(self) -> Optional[ProtocolViolation]:
        """Register a GET; a violation if it was one GET too many."""
        with self._lock:
            try:
                self._proto.start_poll(time.monotonic())
            except ProtocolViolation as exc:
                return exc
        return None

    def _poll_step(self) -> Tuple[List[packet_mod.Packet], bool]:
        with self._lock:
            return self._proto.poll_take(), self._proto.closed

    def _end_poll(self) -> None:
        with self._lock:
            self._proto.end_poll()
        if self._proto.closed:
            self.server._forget_socket(self)

    def _poll_deadline(self) -> float:
        return time.monotonic() + self.server.ping_interval + \
            self.server.ping_timeout

    def _start_post(self) -> Optional[ProtocolViolation]:
        """Register a POST; a violation if another one is running."""
        with self._lock:
            try:
                self._proto.start_post(time.monotonic())
            except ProtocolViolation as exc:
                return exc
        return None

    def _end_post(self) -> None:
        with self._lock:
            self._proto.end_post()
        self.server._schedule(self)  # the POST's deadline is gone

    def _decode_post(self, body: bytes) -> List[packet_mod.Packet]:
        """The packets of a POST body; all must be packets a client may
        send, or none is delivered."""
        if len(body) > self.server.max_http_buffer_size:
            raise exceptions.ContentTooLongError()
        pkts = payload_mod.Payload(encoded_payload=body).packets
        for pkt in pkts:
            if pkt.packet_type not in _POSTABLE:
                raise ProtocolViolation('unexpected packet type %s in POST'
                                        % pkt.packet_type)
        return pkts

    def _read_limit(self, environ: Dict[str, Any]) -> Optional[int]:
        """The declared body length, refusing one over the limit (None for a
        chunked body, whose Content-Length, if any, does not count)."""
        length = environ.get('CONTENT_LENGTH')
        if length in (None, '') or is_chunked(environ):
            return None
        try:
            length = int(length)
        except ValueError:
            raise ValueError('invalid Content-Length')
        if length < 0:
            raise ValueError('invalid Content-Length')
        if length > self.server.max_http_buffer_size:
            raise exceptions.ContentTooLongError()
        return length

    def _timer_step(self, now: float) -> Tuple[str, Optional[str]]:
        """What the session's deadline means: ('forget' | 'ping' | 'close'
        | 'idle' | 'abort-post' | 'reschedule', close reason)."""
        with self._lock:
            proto = self._proto
            if proto.post_overdue(now):
                return 'abort-post', None
            if proto.drain_expired(now):
                return 'forget', None
            if proto.timed_out(now):
                if not self.server.start_service_task:
                    return 'idle', None  # not monitored: wait for the PONG
                return 'close', proto.close(
                    self.server.reason.PING_TIMEOUT, now)
            if proto.ping_due(now):
                return 'ping', None
        return 'reschedule', None

    def _websocket_opened(self) -> bool:
        with self._lock:
            return self._proto.websocket_opened()

    def _probe_step(self, data: Any) -> packet_mod.Packet:
        probe = self._decode_frame(data)
        with self._lock:
            answer = self._proto.probe_received(probe)
        if answer is None:
            raise ValueError('expected a probe')
        return answer

    def _upgrade_step(self, data: Any) -> None:
        upgrade = self._decode_frame(data)
        with self._lock:
            if not self._proto.upgrade_received(upgrade):
                raise ValueError('expected an upgrade packet')

    def _abandon_upgrade(self, exc: Exception) -> None:
        self.server.logger.info('%s: upgrade failed: %r', self.sid, exc)
        with self._lock:
            self._proto.abandon_upgrade()

    def _ws_step(self) -> Tuple[List[packet_mod.Packet], bool]:
        with self._lock:
            return self._proto.ws_take(), self._proto.closed

    def _websocket_ended(self) -> None:
        with self._lock:
            self._proto.websocket_ended()
        self.server._schedule(self)  # nothing left to abort

    def _frame_error_reason(self, exc: Exception) -> Optional[str]:
        """The close reason for an error while reading WebSocket frames."""
        if isinstance(exc, ProtocolViolation):
            return None  # already closed with its reason
        if isinstance(exc, exceptions.ContentTooLongError):
            self.server.logger.info('%s: WebSocket frame too large', self.sid)
            return self.server.reason.TRANSPORT_CLOSE
        if isinstance(exc, ValueError):
            self.server.logger.info('%s: bad WebSocket frame: %s', self.sid,
                                    exc)
            return self.server.reason.TRANSPORT_ERROR
        self.server.logger.info('%s: WebSocket ended: %r', self.sid, exc)
        return self.server.reason.TRANSPORT_CLOSE

    @staticmethod
    def _message_size(message: packet_mod.Packet) -> int:
        data = message.data
        if isinstance(data, (str, bytes, bytearray)):
            return len(data)
        return len(message.encode())

    def _decode_frame(self, data: Any) -> packet_mod.Packet:
        if data is None:
            raise ConnectionError('WebSocket closed')
        if len(data) > self.server.max_http_buffer_size:
            raise exceptions.ContentTooLongError()
        return packet_mod.Packet(encoded_packet=data)

    def _log_packet(self, action: str, pkt: packet_mod.Packet) -> None:
        logger = self.server.logger
        if logger.isEnabledFor(logging.INFO):
            kind = pkt.packet_type
            logger.info('%s: %s packet %s data %s', self.sid, action,
                        packet_mod.packet_names[kind]
                        if 0 <= kind < len(packet_mod.packet_names) else kind,
                        '<binary>' if pkt.binary else pkt.data)
