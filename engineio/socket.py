"""The sync server's session: performs what the protocol core decides."""
from __future__ import annotations

import threading
import time
from typing import Any, Dict, List

from . import exceptions, packet
from ._core.session import ProtocolViolation
from .base_socket import BaseSocket, is_chunked

_READ_BLOCK = 65536
#: seconds a message dispatcher waits for the next event before it ends
DISPATCHER_LINGER = 2.0
#: seconds a WebSocket writer waits for more packets before it ends
WRITER_LINGER = 2.0


class Socket(BaseSocket):
    """A client session of a :class:`engineio.Server`."""

    def __init__(self, server: Any, sid: str, transport: str = 'polling'
                 ) -> None:
        super().__init__(server, sid, transport)
        self._lock = threading.Lock()
        #: what a waiting poll or writer waits on; made when first needed
        #: (a WebSocket session that nobody else sends to never needs one)
        self._wakeup: Any = None
        #: the WebSocket serving the session, while its handler runs
        self._websocket: Any = None
        #: the environ of the POST being read
        self._post_environ: Any = None
        self._events_ready: Any = None
        #: identifies the running thread (or green thread)
        self._current = server._async.get('current', threading.get_ident)
        #: the threads that read the WebSocket and run this session's
        #: handlers: they may write to the WebSocket themselves
        self._reader: Any = None
        self._dispatcher: Any = None
        #: whether a thread is writing to the WebSocket (one at a time)
        self._writing = False
        #: whether a writer thread runs: started when packets wait for the
        #: WebSocket, it ends once none came for WRITER_LINGER seconds
        self._writer_running = False

    # -- sending and closing ---------------------------------------------------

    def send(self, pkt: packet.Packet) -> None:
        """Queue a packet for the client."""
        overflow = self._queue(pkt)
        if overflow is not None:
            self._closed(overflow.reason)
            raise exceptions.SocketIsClosedError()
        ws = self._websocket
        if ws is not None and not self._writing:
            current = self._current()
            if (current == self._dispatcher or current == self._reader) \
                    and self._write_now(ws):
                return
        self._wake()

    def _waiter(self) -> Any:
        """The event a poll or the writer waits on (set by :meth:`_wake`)."""
        with self._lock:
            if self._wakeup is None:
                self._wakeup = self.server.create_event()
            return self._wakeup

    def _wake(self) -> None:
        """Something changed for the client: answer the waiting poll, or
        have the queued packets written to the WebSocket."""
        wakeup = self._wakeup
        if wakeup is not None:
            wakeup.set()
        ws = self._websocket
        if ws is None:
            return
        with self._lock:
            if self._writer_running or self._writing:
                return  # the writer, or the thread writing, takes them
            self._writer_running = True
        self.server.start_background_task(self._websocket_writer, ws)

    def _write_now(self, ws: Any) -> bool:
        """Write the queued packets from this thread: a reply from this
        session's own handler skips the hand-off to the writer (a client
        that does not read slows down only its own handlers). False if
        another thread is writing."""
        with self._lock:
            if self._writing:
                return False
            self._writing = True
            pkts = self._proto.ws_take()
        try:
            for pkt in pkts:
                ws.send(pkt.encode())
        except Exception:
            pass  # a broken connection: the reader sees it and closes
        finally:
            with self._lock:
                self._writing = False
                handover = self._proto.closed or bool(self._proto.outbox)
                # claimed together with the end of the write: a reader
                # waiting for the writers never finds both gone too early
                start_writer = handover and not self._writer_running
                if start_writer:
                    self._writer_running = True
        if start_writer:  # a writer thread takes it from here
            self.server.start_background_task(self._websocket_writer, ws)
        elif handover:
            self._wake()
        return True

    def _send_ping(self) -> None:
        if self._queue_ping():
            self._wake()

    def close(self, wait: bool = True, abort: bool = False,
              reason: Any = None) -> None:
        """Close the session; returns promptly (``wait`` is accepted for
        compatibility)."""
        self._closed(self._begin_close(reason, abort))

    def _closed(self, reason: Any) -> None:
        """Report a close that just happened and let waiters go."""
        self._wake()
        behind_messages = self._after_close()
        if reason is None:
            return
        if behind_messages:
            self._dispatch(('disconnect', reason))
        else:
            self.server._trigger_event('disconnect', self.sid, reason,
                                       run_async=False)

    # -- receiving -------------------------------------------------------------

    def receive(self, pkt: packet.Packet) -> None:
        """Handle one packet from the client."""
        try:
            message, reason = self._receive_step(pkt)
        except ProtocolViolation as exc:
            self._closed(exc.reason)
            raise
        if reason is not None:
            self._closed(reason)
        if message is None:
            if reason is None:
                self.server._schedule(self)
        elif self.server.async_handlers:
            try:
                self._dispatch(('message', message.data),
                               self._message_size(message))
            except ProtocolViolation as exc:  # too many waiting messages
                ws = self._websocket
                if ws is not None and self._writing:
                    ws.abort()  # a handler is stuck writing to this client
                self._closed(exc.reason)
                raise
        else:
            self.server._trigger_event('message', self.sid, message.data,
                                       run_async=False)

    def _dispatch(self, event: tuple, size: int = 0) -> None:
        """Run handlers in a background task, one at a time, in order."""
        if self._enqueue_event(event, size):
            if self._events_ready is None:
                self._events_ready = self.server.create_event()
            self.server.start_background_task(self._dispatch_events)
        elif self._events_ready is not None:
            self._events_ready.set()

    def _dispatch_events(self) -> None:
        """Call handlers until no event came for a while: a busy client
        keeps one dispatcher instead of starting one per message."""
        ready = self._events_ready
        self._dispatcher = self._current()
        try:
            while True:
                ready.clear()
                event = self._next_event(stop_when_empty=False)
                if event is None:
                    # a closed session gets no more messages: no lingering
                    if not self._proto.closed and \
                            ready.wait(DISPATCHER_LINGER):
                        continue
                    event = self._next_event()
                    if event is None:
                        return
                self.server._trigger_event(event[0], self.sid, event[1],
                                           run_async=False)
        finally:
            self._dispatcher = None

    # -- polling ---------------------------------------------------------------

    def handle_get_request(self, environ: Dict[str, Any],
                           start_response: Any) -> Any:
        """Answer a GET: wait for packets, or run the WebSocket upgrade."""
        if environ.get('HTTP_UPGRADE', '').lower() == 'websocket':
            return self._upgrade_websocket(environ, start_response)
        return self.poll()

    def poll(self) -> List[packet.Packet]:
        """Wait for packets to send in a polling answer."""
        deadline = self._poll_deadline()
        violation = self._start_poll()
        if violation is not None:
            self._closed(violation.reason)
            raise violation
        wakeup = self._waiter()
        try:
            while True:
                wakeup.clear()
                pkts, closed = self._poll_step()
                if pkts:
                    return pkts
                remaining = deadline - time.monotonic()
                if closed or remaining <= 0:
                    break
                wakeup.wait(remaining)
        finally:
            self._end_poll()
        self.close(abort=True, reason=self.server.reason.TRANSPORT_ERROR)
        raise exceptions.QueueEmpty()

    def handle_post_request(self, environ: Dict[str, Any]) -> None:
        """Receive the packets of a POST body."""
        violation = self._start_post()
        if violation is not None:
            self._closed(violation.reason)
            raise violation
        self._post_environ = environ
        try:
            for pkt in self._decode_post(self._read_body(environ)):
                self.receive(pkt)
        except Exception:
            self._closed(self._fail())
            raise
        finally:
            self._post_environ = None
            self._end_post()

    def _read_body(self, environ: Dict[str, Any]) -> bytes:
        length = self._read_limit(environ)
        stream = environ['wsgi.input']
        if length is not None:
            body = stream.read(length) if length else b''
            if len(body) != length:
                raise ValueError('body shorter than its Content-Length')
            return body
        if not environ.get('wsgi.input_terminated') and \
                not is_chunked(environ):
            return b''  # neither a length nor a chunked body: no body
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
        action, reason = self._timer_step(now)
        if action == 'forget':
            self.server._forget_socket(self)
            self._abort_websocket()
            return
        if action == 'close':
            self._closed(reason)
            return
        if action == 'ping':
            self._send_ping()
        elif action == 'abort-post':
            self._abort_post()
        if action != 'idle':
            self.server._schedule(self)

    def _abort_post(self) -> None:
        """Cut the connection of a POST whose body is late: its blocked read
        fails, and the session with it."""
        environ = self._post_environ
        if environ is not None:
            self.server.logger.info('%s: POST body too slow', self.sid)
            self.server._async['abort_request'](environ)

    # -- WebSocket -------------------------------------------------------------

    def _upgrade_websocket(self, environ: Dict[str, Any],
                           start_response: Any) -> Any:
        websocket = self.server._async['websocket']
        if websocket is None:
            return self.server._reject_no_websocket(environ, start_response)
        # a bound method call runs in the caller's C frame, where calling
        # the instance would nest one: the request thread's C stack, which
        # stays resident for as long as the connection lives, is smaller
        return websocket(self._websocket_handler, self.server).__call__(
            environ, start_response)

    def _websocket_handler(self, ws: Any) -> List[Any]:
        """Serve this session over the WebSocket ``ws`` until it ends."""
        if not self._proto.upgraded and not self._join_upgrade(ws):
            return []
        self._reader = self._current()
        self._websocket = ws
        if not self._write_now(ws):  # packets may be waiting already
            self._wake()
        reason = self.server.reason.TRANSPORT_CLOSE
        try:
            while True:
                data = ws.wait()
                if data is None:
                    break
                self.receive(self._decode_frame(data))
                if self._proto.closed:
                    break
        except Exception as exc:
            reason = self._frame_error_reason(exc)
        self._reader = None
        # with no writer running, this thread takes the writer's part
        # rather than start one only to close the WebSocket (unless a
        # writer closed it already)
        with self._lock:
            takes_writer = not self._writer_running and \
                self._websocket is not None
            if takes_writer:
                self._writer_running = True
        self.close(abort=True, reason=reason)
        if takes_writer:
            self._websocket_writer(ws)  # sends what is left, then closes
        self._wait_for_writer()  # one that runs, or a handler handed to
        self._websocket = None
        self._websocket_ended()
        return []

    def _wait_for_writer(self) -> None:
        """Return once no writer runs and no handler writes: the WebSocket
        must not end under a thread still sending (a stuck one is aborted
        after a grace)."""
        while True:
            with self._lock:
                if not self._writer_running and not self._writing:
                    return
            self.server.sleep(0.005)

    def _join_upgrade(self, ws: Any) -> bool:
        """The probe exchange of a polling -> WebSocket upgrade."""
        if not self._websocket_opened():
            self._close_ws(ws)
            return False
        try:
            ws.send(self._probe_step(ws.wait()).encode())
            self._wake()  # a waiting poll is answered with a NOOP
            self._upgrade_step(ws.wait())
        except Exception as exc:
            self._abandon_upgrade(exc)
            self._close_ws(ws)
            return False
        self._wake()
        return True

    def _abort_websocket(self) -> None:
        """Drop the WebSocket of a session that ended a grace period ago:
        its writer is stuck on a client that does not read."""
        ws = self._websocket
        if ws is not None:
            self.server.logger.info('%s: aborting the WebSocket', self.sid)
            ws.abort()

    def _websocket_writer(self, ws: Any) -> None:
        """Send the queued packets; end once none came for a while (or a
        handler writes: it starts another writer when done). Once the
        session is closed, close the WebSocket, which ends its reader."""
        idle_since = None
        closed = False
        wakeup = self._waiter()
        while not closed:
            wakeup.clear()
            with self._lock:
                if self._writing:
                    self._writer_running = False
                    return
                pkts, closed = self._proto.ws_take(), self._proto.closed
                if not pkts and not closed:
                    now = time.monotonic()
                    idle_since = idle_since or now
                    if now - idle_since >= WRITER_LINGER:
                        self._writer_running = False
                        return
                else:
                    idle_since = None
                    self._writing = True
            if idle_since is not None:
                wakeup.wait(WRITER_LINGER)
                continue
            try:
                for pkt in pkts:
                    ws.send(pkt.encode())
            except Exception:
                closed = True  # the connection broke
            finally:
                with self._lock:
                    self._writing = False
        with self._lock:
            self._writer_running = False
            self._websocket = None  # nothing more to write to it
        self._close_ws(ws)

    @staticmethod
    def _close_ws(ws: Any) -> None:
        try:
            ws.close()
        except Exception:
            pass
