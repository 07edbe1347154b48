"""WebSocket for the ``gevent_uwsgi`` mode: uWSGI answers the handshake (its
own WebSocket API, in C), this module frames and reads the messages.

uWSGI's receiving functions return a message's bytes without its frame
type, and Engine.IO tells a text packet from binary data by that type
alone, so the client's frames are parsed here. uWSGI's sending functions
write each frame at once, one system call per message; here the frames a
session sends go to a queue that the event loop writes once the greenlets
that filled it yield, so the replies to a burst of messages leave in one
write (and every writer, the reader answering a PING included, goes through
that one queue, in order).
"""
from __future__ import annotations

import collections
import os
import socket
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple, Union

import gevent
import gevent.event
import gevent.socket

from engineio.async_drivers._websocket_wsgi import backup_read_timeout

try:
    import uwsgi
except ImportError:  # outside uWSGI: only the frames part is usable
    uwsgi = None

#: the uWSGI functions the native WebSocket uses
NATIVE_FUNCTIONS = ('websocket_handshake', 'connection_fd')
#: seconds to wait for the client's answer to our CLOSE frame, and for the
#: last frames to go out when the request ends
CLOSE_GRACE = 1.0
#: bytes queued for a client past which a sender waits until they left
HIGH_WATER = 256 * 1024
_READ_SIZE = 65536
#: how queued frames are written (a name tests can watch)
write_fd = os.write

OP_CONTINUATION, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR = 1000, 1002
CLOSE_INVALID_DATA, CLOSE_TOO_BIG = 1007, 1009

Message = Union[str, bytes]


class FrameError(Exception):
    """The client broke the WebSocket protocol: close with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def unmask(payload: bytes, mask: bytes) -> bytes:
    """XOR a client frame's payload with its 4-byte mask."""
    size = len(payload)
    if not size:
        return b''
    key = (mask * ((size >> 2) + 1))[:size]
    return (int.from_bytes(payload, 'little') ^
            int.from_bytes(key, 'little')).to_bytes(size, 'little')


def server_frame(message: Message) -> bytes:
    """An unmasked frame for a message: text for ``str``, else binary."""
    if isinstance(message, str):
        first, payload = 0x80 | OP_TEXT, message.encode()
    else:
        first, payload = 0x80 | OP_BINARY, bytes(message)
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return bytes((first, 126)) + size.to_bytes(2, 'big') + payload
    return bytes((first, 127)) + size.to_bytes(8, 'big') + payload


def close_frame(code: int) -> bytes:
    """An unmasked CLOSE frame with a status code and no reason."""
    return bytes((0x80 | OP_CLOSE, 2)) + code.to_bytes(2, 'big')


def control_frame(opcode: int, payload: bytes) -> bytes:
    """An unmasked control frame (payload of at most 125 bytes)."""
    return bytes((0x80 | opcode, len(payload))) + payload


class FrameReader:
    """Turns the bytes a client sends into messages and control frames.

    :meth:`feed` returns events: ``('message', str or bytes)``,
    ``('ping', payload)`` and ``('close', code)``; it raises
    :class:`FrameError` on a protocol error or a message over ``max_size``
    bytes.
    """

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._pending = b''
        #: opcode and parts of a fragmented message being received
        self._opcode: Optional[int] = None
        self._parts: List[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> List[Tuple[str, Any]]:
        if self._pending:
            data = self._pending + data
        events: List[Tuple[str, Any]] = []
        pos, end = 0, len(data)
        while end - pos >= 2:
            first, second = data[pos], data[pos + 1]
            length = second & 0x7F
            header = 6
            if length == 126:
                header = 8
                if end - pos < 4:
                    break
                length = int.from_bytes(data[pos + 2:pos + 4], 'big')
            elif length == 127:
                header = 14
                if end - pos < 10:
                    break
                length = int.from_bytes(data[pos + 2:pos + 10], 'big')
            if not second & 0x80:
                raise FrameError(CLOSE_PROTOCOL_ERROR, 'unmasked frame')
            self._check_size(first, length)
            if end - pos < header + length:
                break
            start = pos + header
            payload = unmask(data[start:start + length],
                             data[start - 4:start])
            pos = start + length
            event = self._frame(first, payload)
            if event is not None:
                events.append(event)
                if event[0] == 'close':
                    break
        self._pending = data[pos:]
        return events

    def _check_size(self, first: int, length: int) -> None:
        """Refuse a frame whose message would be too big, before buffering
        its payload."""
        if first & 0x08:  # a control frame
            if length > 125:
                raise FrameError(CLOSE_PROTOCOL_ERROR, 'control frame too big')
        elif self._size + length > self.max_size:
            raise FrameError(CLOSE_TOO_BIG, 'message too big')

    def _frame(self, first: int, payload: bytes) -> Optional[Tuple[str, Any]]:
        if first & 0x70:
            raise FrameError(CLOSE_PROTOCOL_ERROR, 'reserved bits set')
        opcode = first & 0x0F
        final = first & 0x80
        if opcode >= OP_CLOSE:
            return self._control(opcode, final, payload)
        if opcode == OP_CONTINUATION:
            if self._opcode is None:
                raise FrameError(CLOSE_PROTOCOL_ERROR,
                                 'continuation of no message')
            opcode = self._opcode
        elif opcode not in (OP_TEXT, OP_BINARY):
            raise FrameError(CLOSE_PROTOCOL_ERROR, 'unknown opcode')
        elif self._opcode is not None:
            raise FrameError(CLOSE_PROTOCOL_ERROR,
                             'new message inside a fragmented one')
        if not final:
            self._opcode = opcode
            self._parts.append(payload)
            self._size += len(payload)
            return None
        if self._parts:
            self._parts.append(payload)
            payload = b''.join(self._parts)
            self._opcode, self._parts, self._size = None, [], 0
        if opcode == OP_BINARY:
            return 'message', payload
        try:
            return 'message', payload.decode('utf-8')
        except UnicodeDecodeError:
            raise FrameError(CLOSE_INVALID_DATA, 'text is not UTF-8')

    @staticmethod
    def _control(opcode: int, final: int, payload: bytes
                 ) -> Optional[Tuple[str, Any]]:
        if not final:
            raise FrameError(CLOSE_PROTOCOL_ERROR, 'fragmented control frame')
        if opcode == OP_PING:
            return 'ping', payload
        if opcode == OP_PONG:
            return None
        if opcode != OP_CLOSE:
            raise FrameError(CLOSE_PROTOCOL_ERROR, 'unknown opcode')
        if not payload:
            return 'close', CLOSE_NORMAL
        code = int.from_bytes(payload[:2], 'big')
        if len(payload) < 2 or not (1000 <= code < 5000) or \
                code in (1004, 1005, 1006, 1015):
            raise FrameError(CLOSE_PROTOCOL_ERROR, 'bad close code')
        return 'close', code


# -- choosing the implementation --------------------------------------------

def native_api_available(module: Any = None) -> bool:
    """Whether the running uWSGI offers the WebSocket API used here."""
    module = uwsgi if module is None else module
    return module is not None and all(
        hasattr(module, name) for name in NATIVE_FUNCTIONS)


def native_websocket_fits(environ: Dict[str, Any],
                          module: Any = None) -> bool:
    """Whether this request can use uWSGI's WebSocket API: the API is there
    and no subprotocol was asked for (uWSGI would accept them all)."""
    return native_api_available(module) and \
        not environ.get('HTTP_SEC_WEBSOCKET_PROTOCOL')


def handshake_error(environ: Dict[str, Any]) -> Optional[str]:
    """What makes this upgrade request invalid, or None."""
    if environ.get('HTTP_SEC_WEBSOCKET_VERSION', '').strip() != '13':
        return 'unsupported WebSocket version'
    if not environ.get('HTTP_SEC_WEBSOCKET_KEY', '').strip():
        return 'no Sec-WebSocket-Key'
    tokens = {token.strip().lower() for token in
              environ.get('HTTP_CONNECTION', '').split(',')}
    if 'upgrade' not in tokens:
        return 'no "Connection: Upgrade"'
    return None


class HandshakeFailed(Exception):
    """uWSGI could not answer the handshake (a uWSGI built without OpenSSL
    never can); nothing was written to the connection."""


class _Wakeup(Exception):
    """Thrown into the reader's wait when its deadline changes."""


class _ReadTimeout(Exception):
    """The connection stayed silent until the reader's deadline."""


class Output:
    """The frames queued for a client, written by the event loop.

    :meth:`put` only queues; the loop writes everything queued in one go
    once the greenlets yield, and keeps writing (without blocking) while
    the connection takes it. ``on_error`` is called once if a write fails.
    """

    def __init__(self, fd: int, on_error: Callable[[], None]) -> None:
        self._fd = fd
        self._on_error = on_error
        self._loop = gevent.get_hub().loop
        self._chunks: List[bytes] = []
        self.size = 0
        self.failed = False
        self._closed = False
        self._scheduled: Any = None
        self._writable: Any = None  # made for a client that reads slowly
        self._drained: Any = None  # made when a sender waits

    def put(self, frame: bytes) -> None:
        self._chunks.append(frame)
        self.size += len(frame)
        if self._scheduled is None and not self._waiting_writable():
            self._scheduled = self._loop.run_callback(self._write)

    def wait_drained(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything queued was written (or failed)."""
        if self._scheduled is not None:  # write now what the socket takes
            self._scheduled.stop()
            self._write()
        if self.size and not self.failed and not self._closed:
            if self._drained is None:
                self._drained = gevent.event.Event()
            self._drained.clear()
            self._drained.wait(timeout)
        return not self.size

    def close(self) -> None:
        """Write nothing more (the request ends: uWSGI will close the
        connection and may reuse its descriptor)."""
        self._closed = True
        if self._scheduled is not None:
            self._scheduled.stop()
            self._scheduled = None
        if self._writable is not None:
            self._writable.close()
        self._release()

    def _waiting_writable(self) -> bool:
        return self._writable is not None and self._writable.active

    def _write(self) -> None:
        """Runs in the event loop: write what is queued, as far as the
        connection takes it without blocking."""
        self._scheduled = None
        if self._closed or self.failed or not self._chunks:
            return
        data = self._chunks[0] if len(self._chunks) == 1 else \
            b''.join(self._chunks)
        try:
            written = write_fd(self._fd, data)
        except BlockingIOError:
            written = 0
        except OSError:
            self._fail()
            return
        if written == len(data):
            self._chunks = []
            self.size = 0
            if self._writable is not None:
                self._writable.stop()
            self._release()
            return
        rest = data[written:]
        self._chunks = [rest]
        self.size = len(rest)
        if self._writable is None:
            self._writable = self._loop.io(self._fd, 2)
        if not self._writable.active:
            self._writable.start(self._write)

    def _fail(self) -> None:
        self.failed = True
        self._chunks = []
        self.size = 0
        if self._writable is not None:
            self._writable.stop()
        self._release()
        self._on_error()

    def _release(self) -> None:
        if self._drained is not None:
            self._drained.set()


class NativeWebSocket:
    """Runs ``handler(ws)`` on a WebSocket whose handshake uWSGI answered.

    ``ws`` offers ``send(data)``, ``wait()`` (the next message, or None when
    the connection ended or stayed silent for two heartbeat periods),
    ``close()`` and ``abort()``: the interface of the other sync drivers.
    ``wait()`` runs in the request's greenlet; the rest in any greenlet.
    """

    def __init__(self, handler: Callable[[Any], Any], server: Any) -> None:
        self.app = handler
        self.server = server
        self.timeout = backup_read_timeout(server)
        self._reader = FrameReader(server.max_http_buffer_size)
        self._messages: Deque[Message] = collections.deque()
        self._fd = -1
        self._output: Any = None
        self._readable: Any = None
        self._reader_waiting = False
        #: one timer per connection ends a read at its deadline: it is
        #: moved only when it would fire too late, and when it fires early
        #: it checks and waits again (a timer per read costs more)
        self._timer: Any = None
        self._timer_due: Optional[float] = None
        self._read_deadline = 0.0
        #: set once: we sent CLOSE / no more messages are taken / the
        #: client's CLOSE came / the connection broke / the request ended
        #: (uWSGI may then reuse its descriptor)
        self._close_sent = False
        self._input_ended = False
        self._client_closed = False
        self._broken = False
        self._finished = False
        self._close_deadline: Optional[float] = None

    def __call__(self, environ: Dict[str, Any],
                 start_response: Callable[..., Any]) -> Any:
        error = handshake_error(environ)
        if error is not None:
            self.server.logger.error('WebSocket handshake failed: %s', error)
            start_response('400 BAD REQUEST',
                           [('Content-Type', 'text/plain')])
            return [b'"WebSocket handshake failed"']
        try:
            uwsgi.websocket_handshake()
        except OSError as exc:
            raise HandshakeFailed(str(exc))
        self._fd = uwsgi.connection_fd()
        self._output = Output(self._fd, self._write_failed)
        self._readable = gevent.get_hub().loop.io(self._fd, 1)
        try:
            self.app(self)
        finally:
            self._finish()
        return []

    # -- the interface of engineio's socket ---------------------------------

    def send(self, message: Message) -> None:
        """Queue a message; wait while the client is far behind."""
        if self._close_sent or self._broken or self._finished:
            raise IOError('WebSocket is closed')
        output = self._output
        output.put(server_frame(message))
        if output.size > HIGH_WATER:
            output.wait_drained()
            if output.failed or self._finished:
                raise IOError('WebSocket is closed')

    def wait(self) -> Optional[Message]:
        deadline = time.monotonic() + self.timeout
        while not self._messages:
            if self._input_ended or self._broken or self._finished:
                return None
            data = self._read(deadline)
            if data is None:
                return None
            self._received(data)
        return self._messages.popleft()

    def close(self) -> None:
        """Send a CLOSE frame; the reader then waits for the client's
        answer for a short while only."""
        if self._close_sent or self._input_ended or self._broken or \
                self._finished:
            return
        self._close_sent = True
        self._output.put(close_frame(CLOSE_NORMAL))
        self._close_deadline = time.monotonic() + CLOSE_GRACE
        self._wake_reader()

    def abort(self) -> None:
        """Drop the connection at once: a blocked send or read fails."""
        if self._finished or self._fd < 0:
            return
        self._broken = True
        sock = socket.socket(fileno=os.dup(self._fd))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        finally:
            sock.close()

    # -- internals ------------------------------------------------------------

    def _received(self, data: bytes) -> None:
        """Handle bytes from the client: queue its messages, answer its
        PINGs and its CLOSE."""
        try:
            events = self._reader.feed(data)
        except FrameError as exc:  # the session ends as if closed
            self.server.logger.info('WebSocket closed: %s', exc)
            self._answer_close(exc.code)
            return
        for kind, value in events:
            if kind == 'message':
                self._messages.append(value)
            elif kind == 'ping':
                if not self._close_sent and not self._broken:
                    self._output.put(control_frame(OP_PONG, value))
            else:
                self._client_closed = True
                self._answer_close(value)

    def _answer_close(self, code: int) -> None:
        """The client closed, or must be closed: answer with a CLOSE frame
        unless we sent ours already."""
        self._input_ended = True
        if not self._close_sent and not self._broken:
            self._close_sent = True
            self._output.put(close_frame(code))

    def _write_failed(self) -> None:
        self._broken = True
        self._wake_reader()

    def _wake_reader(self) -> None:
        if self._reader_waiting:
            gevent.socket.cancel_wait(self._readable, _Wakeup())

    def _read(self, deadline: float) -> Optional[bytes]:
        """The next bytes from the client; None at the end of the
        connection or once ``deadline`` (or the close grace) passed."""
        while True:
            try:
                data = os.read(self._fd, _READ_SIZE)
            except BlockingIOError:
                pass
            except OSError:
                self._broken = True
                return None
            else:
                if not data:
                    self._broken = True
                    return None
                return data
            if self._close_deadline is not None:
                deadline = min(deadline, self._close_deadline)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._broken:
                return None
            self._read_deadline = deadline
            self._arm_timer(deadline)
            self._reader_waiting = True
            try:
                gevent.get_hub().wait(self._readable)
            except _Wakeup:
                pass
            except _ReadTimeout:
                return None
            finally:
                self._reader_waiting = False

    def _arm_timer(self, deadline: float) -> None:
        """Have the read timer fire by ``deadline``."""
        if self._timer_due is not None and self._timer_due <= deadline:
            return
        if self._timer is not None:
            self._timer.close()
        delay = max(0.0, deadline - time.monotonic())
        self._timer = gevent.get_hub().loop.timer(delay)
        self._timer.start(self._timer_fired)
        self._timer_due = deadline

    def _timer_fired(self) -> None:
        """Runs in the event loop: end the read whose deadline passed, or
        wait for the new one."""
        self._timer_due = None
        if not self._reader_waiting:
            return  # the next read arms the timer again
        if time.monotonic() >= self._read_deadline:
            gevent.socket.cancel_wait(self._readable, _ReadTimeout())
        else:
            self._arm_timer(self._read_deadline)

    def _finish(self) -> None:
        """End the WebSocket before uWSGI ends the request: close it, give
        the client a moment to answer (reading what it still sends), and
        let the last frames go out."""
        if not self._close_sent and not self._input_ended:
            self.close()
        deadline = time.monotonic() + CLOSE_GRACE
        while not (self._client_closed or self._broken):
            data = self._read(deadline)
            if data is None:
                break
            if not self._input_ended:
                self._received(data)
            # else the frames are broken: read them only so that they do
            # not reset the connection and the CLOSE frame with it
        self._messages.clear()
        if not self._broken:
            self._output.wait_drained(max(0.0, deadline - time.monotonic()))
        self._finished = True
        self._output.close()
        self._readable.close()
        if self._timer is not None:
            self._timer.close()
