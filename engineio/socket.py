"""The sync server's session: performs what the protocol core decides."""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Dict, List

from . import exceptions, packet
from ._core.session import ProtocolViolation
from .base_socket import BaseSocket

_READ_BLOCK = 65536


class Socket(BaseSocket):
    """A client session of a :class:`engineio.Server`.

    Calls into the protocol core happen under the socket's lock; application
    handlers are always called without it.
    """

    def __init__(self, server: Any, sid: str, transport: str = 'polling'
                 ) -> None:
        super().__init__(server, sid, transport)
        self._lock = threading.Lock()
        self._wakeup = server.create_event()
        self._inbox: deque = deque()
        self._dispatching = False

    # -- sending -------------------------------------------------------------

    def send(self, pkt: packet.Packet) -> None:
        """Queue a packet for the client."""
        with self._lock:
            queued = self._proto.send(pkt)
        if not queued:
            raise exceptions.SocketIsClosedError()
        self._wakeup.set()

    def _send_ping(self) -> None:
        with self._lock:
            if not self._proto.ping_due(time.monotonic()):
                return
            self._proto.ping_sent(time.monotonic())
            self._proto.send(packet.Packet(packet.PING))
        self._wakeup.set()

    # -- closing -------------------------------------------------------------

    def close(self, wait: bool = True, abort: bool = False,
              reason: Any = None) -> None:
        """Close the session (returns promptly; ``wait`` is accepted for
        compatibility)."""
        with self._lock:
            reason = self._proto.close(
                reason or self.server.reason.SERVER_DISCONNECT,
                time.monotonic(), notify_peer=not abort)
        self._closed(reason)

    def _closed(self, reason: Any) -> None:
        """Report a close that just happened and let waiters go."""
        self._wakeup.set()
        if not self._proto.awaits_final_poll:
            self.server._forget_socket(self)
        else:
            self.server._schedule(self)
        if reason is not None:
            if self._dispatching or self._inbox:
                self._dispatch(('disconnect', reason))
            else:
                self.server._trigger_event('disconnect', self.sid, reason,
                                           run_async=False)

    # -- receiving -----------------------------------------------------------

    def receive(self, pkt: packet.Packet) -> None:
        """Handle one packet from the client."""
        self.server.logger.info(
            '%s: Received packet %s data %s', self.sid,
            packet.packet_names[pkt.packet_type]
            if 0 <= pkt.packet_type < 7 else pkt.packet_type,
            '<binary>' if pkt.binary else pkt.data)
        with self._lock:
            was_closed = self._proto.closed
            try:
                message = self._proto.receive(pkt, time.monotonic())
                violation = None
            except ProtocolViolation as exc:
                message, violation = None, exc
            reason = self._proto.close_reason \
                if self._proto.closed and not was_closed else None
        if reason is not None:
            self._closed(reason)
        if violation is not None:
            raise violation
        if reason is not None:
            return
        if message is None:
            self.server._schedule(self)
        elif self.server.async_handlers:
            self._dispatch(('message', message.data))
        else:
            self.server._trigger_event('message', self.sid, message.data,
                                       run_async=False)

    def _dispatch(self, event: tuple) -> None:
        """Run handlers in a background task, one at a time, in order."""
        with self._lock:
            self._inbox.append(event)
            if self._dispatching:
                return
            self._dispatching = True
        self.server.start_background_task(self._dispatch_inbox)

    def _dispatch_inbox(self) -> None:
        while True:
            with self._lock:
                if not self._inbox:
                    self._dispatching = False
                    return
                name, data = self._inbox.popleft()
            self.server._trigger_event(name, self.sid, data, run_async=False)

    # -- polling -------------------------------------------------------------

    def handle_get_request(self, environ: Dict[str, Any],
                           start_response: Any) -> Any:
        """Answer a GET: wait for packets, or run the WebSocket upgrade."""
        if environ.get('HTTP_UPGRADE', '').lower() == 'websocket':
            return self._upgrade_websocket(environ, start_response)
        return self.poll()

    def poll(self) -> List[packet.Packet]:
        """Wait for packets to send in a polling answer."""
        server = self.server
        deadline = time.monotonic() + server.ping_interval + \
            server.ping_timeout
        try:
            with self._lock:
                self._proto.start_poll(time.monotonic())
        except ProtocolViolation:
            self._closed(self._proto.close_reason)
            raise
        try:
            while True:
                self._wakeup.clear()
                with self._lock:
                    pkts = self._proto.poll_take()
                    closed = self._proto.closed
                if pkts:
                    return pkts
                remaining = deadline - time.monotonic()
                if closed or remaining <= 0:
                    break
                self._wakeup.wait(remaining)
        finally:
            with self._lock:
                self._proto.end_poll()
            if self._proto.closed:
                server._forget_socket(self)
        self.close(abort=True, reason=server.reason.TRANSPORT_ERROR)
        raise exceptions.QueueEmpty()

    def handle_post_request(self, environ: Dict[str, Any]) -> None:
        """Receive the packets of a POST body."""
        try:
            with self._lock:
                self._proto.start_post(time.monotonic())
        except ProtocolViolation:
            self._closed(self._proto.close_reason)
            raise
        try:
            pkts = self._decode_post(self._read_body(environ))
            for pkt in pkts:
                if pkt.packet_type not in (packet.MESSAGE, packet.PONG,
                                           packet.CLOSE):
                    raise ProtocolViolation('unexpected packet type')
            for pkt in pkts:
                self.receive(pkt)
        except (ValueError, exceptions.ContentTooLongError):
            with self._lock:
                reason = self._proto.fail(time.monotonic())
            self._closed(reason)
            raise
        finally:
            with self._lock:
                self._proto.end_post()

    def _read_body(self, environ: Dict[str, Any]) -> bytes:
        length = self._read_limit(environ)
        stream = environ['wsgi.input']
        if length is not None:
            return stream.read(length) if length else b''
        if not environ.get('wsgi.input_terminated'):
            return b''
        limit = self.server.max_http_buffer_size
        chunks = []
        size = 0
        while True:
            chunk = stream.read(_READ_BLOCK)
            if not chunk:
                return b''.join(chunks)
            size += len(chunk)
            if size > limit:
                raise exceptions.ContentTooLongError()
            chunks.append(chunk)

    # -- heartbeat -------------------------------------------------------------

    def _on_timer(self, now: float) -> None:
        """The session's deadline came: ping, time out or expire."""
        reason = None
        ping = False
        with self._lock:
            proto = self._proto
            if proto.drain_expired(now):
                self.server._forget_socket(self)
                return
            if proto.timed_out(now):
                if not self.server.start_service_task:
                    return  # not monitored: wait for the PONG
                reason = proto.close(self.server.reason.PING_TIMEOUT, now)
            else:
                ping = proto.ping_due(now)
        if ping:
            self._send_ping()
        if reason is not None:
            self._closed(reason)
        else:
            self.server._schedule(self)

    # -- WebSocket -------------------------------------------------------------

    def _upgrade_websocket(self, environ: Dict[str, Any],
                           start_response: Any) -> Any:
        websocket = self.server._async['websocket']
        if websocket is None:
            return self.server._reject_no_websocket(environ, start_response)
        return websocket(self._websocket_handler, self.server)(
            environ, start_response)

    def _websocket_handler(self, ws: Any) -> List[Any]:
        """Serve this session over the WebSocket ``ws`` until it ends."""
        if not self._proto.upgraded and not self._join_upgrade(ws):
            return []
        writer = self.server.start_background_task(self._websocket_writer,
                                                    ws)
        reason = self.server.reason.TRANSPORT_CLOSE
        try:
            while True:
                data = ws.wait()
                if data is None:
                    break
                self.receive(self._decode_frame(data))
                if self._proto.closed:
                    break
        except ProtocolViolation:
            reason = None  # already closed with its reason
        except exceptions.ContentTooLongError:
            self.server.logger.info('%s: WebSocket frame too large', self.sid)
        except ValueError as exc:
            self.server.logger.info('%s: bad WebSocket frame: %s', self.sid,
                                    exc)
            reason = self.server.reason.TRANSPORT_ERROR
        except Exception as exc:
            self.server.logger.info('%s: WebSocket ended: %r', self.sid, exc)
        self.close(abort=True, reason=reason)
        writer.join()
        return []

    def _join_upgrade(self, ws: Any) -> bool:
        """The probe exchange of a polling -> WebSocket upgrade."""
        with self._lock:
            accepted = self._proto.websocket_opened()
        if not accepted:
            self._close_ws(ws)
            return False
        try:
            probe = self._decode_frame(ws.wait())
            with self._lock:
                answer = self._proto.probe_received(probe)
            if answer is None:
                raise ValueError('expected a probe')
            ws.send(answer.encode())
            self._wakeup.set()  # a waiting poll is answered with a NOOP
            upgrade = self._decode_frame(ws.wait())
            with self._lock:
                upgraded = self._proto.upgrade_received(upgrade)
            if not upgraded:
                raise ValueError('expected an upgrade packet')
        except Exception as exc:
            self.server.logger.info('%s: upgrade failed: %r', self.sid, exc)
            with self._lock:
                self._proto.abandon_upgrade()
            self._close_ws(ws)
            return False
        self._wakeup.set()
        return True

    def _websocket_writer(self, ws: Any) -> None:
        while True:
            self._wakeup.clear()
            with self._lock:
                pkts = self._proto.ws_take()
                closed = self._proto.closed
            try:
                for pkt in pkts:
                    ws.send(pkt.encode())
            except Exception:
                break
            if closed:
                break
            self._wakeup.wait()
        self._close_ws(ws)

    @staticmethod
    def _close_ws(ws: Any) -> None:
        try:
            ws.close()
        except Exception:
            pass
