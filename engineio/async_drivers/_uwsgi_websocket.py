"""WebSocket through uWSGI's own WebSocket API (``gevent_uwsgi`` mode).

uWSGI completes the handshake and frames what the server sends, in C. What
the client sends is read here from the connection: uWSGI's receiving
functions return a message's bytes without its frame type, and Engine.IO
tells a text packet from binary data by that type alone.

uWSGI serves its API to the request's own greenlet (it finds the request
through an attribute of that greenlet); a send from another greenlet (a
message handler, the session's writer) lends it that attribute for the
call. One lock orders every write to the connection, so frames written by
uWSGI and by this module never interleave.
"""
from __future__ import annotations

import collections
import os
import socket
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple, Union

import gevent
import gevent.lock
import gevent.socket

from engineio.async_drivers._websocket_wsgi import backup_read_timeout

try:
    import uwsgi
except ImportError:  # outside uWSGI: only the frame parser is usable
    uwsgi = None

#: the attribute of a uWSGI request greenlet that names its request
REQUEST_ATTRIBUTE = 'uwsgi_wsgi_req'
#: the uWSGI functions the native WebSocket uses
NATIVE_FUNCTIONS = ('websocket_handshake', 'websocket_send',
                    'websocket_send_binary', 'connection_fd')
#: seconds to wait for the client's answer to our CLOSE frame, and for a
#: send stuck on a client that does not read when the request ends
CLOSE_GRACE = 1.0
_READ_SIZE = 65536

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
                          greenlet: Any = None, module: Any = None) -> bool:
    """Whether this request can use uWSGI's WebSocket API: the API is
    there, the request's greenlet names its uWSGI request (what lets other
    greenlets send), and no subprotocol was asked for (uWSGI would accept
    them all)."""
    greenlet = gevent.getcurrent() if greenlet is None else greenlet
    return native_api_available(module) and \
        hasattr(greenlet, REQUEST_ATTRIBUTE) and \
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


class NativeWebSocket:
    """Runs ``handler(ws)`` on a WebSocket spoken through uWSGI's API.

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
        self._lock = gevent.lock.Semaphore()
        self._fd = -1
        self._owner: Any = None
        self._request: Any = None
        self._readable: Any = None
        self._reader_waiting = False
        #: set once: we sent CLOSE / nothing more is read / the connection
        #: broke
        self._close_sent = False
        self._input_ended = False
        self._broken = False
        #: the request ended: uWSGI may give its connection to another
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
        self._owner = gevent.getcurrent()
        self._request = getattr(self._owner, REQUEST_ATTRIBUTE)
        self._readable = gevent.get_hub().loop.io(self._fd, 1)
        try:
            self.app(self)
        finally:
            self._finish()
        return []

    # -- the interface of engineio's socket ---------------------------------

    def send(self, message: Message) -> None:
        if not isinstance(message, (str, bytes)):
            message = bytes(message)
        with self._lock:
            if self._close_sent or self._broken or self._finished:
                raise IOError('WebSocket is closed')
            current = gevent.getcurrent()
            if current is self._owner:
                self._uwsgi_send(message)
                return
            previous = getattr(current, REQUEST_ATTRIBUTE, None)
            setattr(current, REQUEST_ATTRIBUTE, self._request)
            try:
                self._uwsgi_send(message)
            finally:
                if previous is None:
                    delattr(current, REQUEST_ATTRIBUTE)
                else:
                    setattr(current, REQUEST_ATTRIBUTE, previous)

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
        with self._lock:
            if self._close_sent or self._input_ended or self._broken or \
                    self._finished:
                return
            self._close_sent = True
            self._write(close_frame(CLOSE_NORMAL))
        self._close_deadline = time.monotonic() + CLOSE_GRACE
        if self._reader_waiting:
            gevent.socket.cancel_wait(self._readable, _Wakeup())

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

    def _uwsgi_send(self, message: Message) -> None:
        try:
            if isinstance(message, str):
                uwsgi.websocket_send(message)
            else:
                uwsgi.websocket_send_binary(message)
        except OSError:
            self._broken = True
            raise

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
                self._write_control(control_frame(OP_PONG, value))
            else:
                self._answer_close(value)

    def _answer_close(self, code: int) -> None:
        """The client closed, or must be closed: answer with a CLOSE frame
        unless we sent ours already."""
        self._input_ended = True
        with self._lock:
            if not self._close_sent and not self._broken:
                self._close_sent = True
                self._write(close_frame(code))

    def _write_control(self, frame: bytes) -> None:
        with self._lock:
            if not self._close_sent and not self._broken:
                self._write(frame)

    def _write(self, data: bytes) -> None:
        """Write a frame of our own (with the lock held); a client that
        does not take it within the grace breaks the connection."""
        deadline = time.monotonic() + CLOSE_GRACE
        view = memoryview(data)
        try:
            while view:
                try:
                    view = view[os.write(self._fd, view):]
                    continue
                except BlockingIOError:
                    pass
                gevent.socket.wait_write(
                    self._fd, max(0.0, deadline - time.monotonic()))
        except OSError:  # includes the wait's timeout
            self._broken = True

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
            if remaining <= 0:
                return None
            self._reader_waiting = True
            try:
                gevent.socket.wait(self._readable, remaining, _ReadTimeout)
            except _Wakeup:
                pass
            except _ReadTimeout:
                return None
            finally:
                self._reader_waiting = False

    def _finish(self) -> None:
        """End the WebSocket before uWSGI ends the request: close it (and
        give the client a moment to answer), then wait for a send in
        progress in another greenlet."""
        if not self._close_sent and not self._input_ended:
            self.close()
        deadline = time.monotonic() + CLOSE_GRACE
        while not (self._input_ended or self._broken):
            data = self._read(deadline)
            if data is None:
                break
            try:
                self._received(data)
            except Exception:
                break
        self._messages.clear()
        if not self._lock.acquire(timeout=CLOSE_GRACE):
            self.abort()  # a send stuck on a client that does not read
            self._lock.acquire()
        try:
            self._finished = True
        finally:
            self._lock.release()
        self._readable.close()
