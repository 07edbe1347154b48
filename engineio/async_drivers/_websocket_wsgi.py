"""WebSocket for WSGI servers through the simple-websocket package."""
from __future__ import annotations

import socket
from typing import Any, Callable, Dict, Optional

import simple_websocket


#: seconds to wait for simple-websocket's reader to end after our close
_READER_GRACE = 1.0


def backup_read_timeout(server: Any) -> float:
    """How long a WebSocket read may wait: the heartbeat detects dead
    clients first, this only backs it up."""
    return 2 * (server.ping_interval + server.ping_timeout)


class _WebSocketServer(simple_websocket.Server):
    """simple-websocket's server, waking a blocked ``receive()`` for good
    when the connection ends (it can miss the wake-up when a message is
    too big, leaving the reader asleep until its timeout)."""

    def _handle_events(self) -> bool:
        keep_going = super()._handle_events()
        if not keep_going:
            self.connected = False
            self.event.set()
        return keep_going


class SimpleWebSocketWSGI:
    """A WSGI application that runs ``handler(ws)`` on a WebSocket.

    ``ws`` offers ``send(data)``, ``wait()`` (the next message, or None when
    the connection ended or stayed silent for two heartbeat periods),
    ``close()`` and ``abort()``.
    """

    def __init__(self, handler: Callable[[Any], Any], server: Any,
                 **kwargs: Any) -> None:
        self.app = handler
        self.server = server
        self.server_args = kwargs
        self.timeout = backup_read_timeout(server)
        self.ws: Optional[_WebSocketServer] = None
        self.mode = 'unknown'

    def __call__(self, environ: Dict[str, Any],
                 start_response: Callable[..., Any]) -> Any:
        if 'werkzeug.socket' in environ:
            return self._serve_when_iterated(environ, start_response)
        return self._serve(environ, start_response)

    def _serve_when_iterated(self, environ: Dict[str, Any],
                             start_response: Callable[..., Any]) -> Any:
        """werkzeug iterates the answer in the request's thread: serving
        the WebSocket from there, the frames of the application (and of
        any middleware) that led here are gone before the connection's
        long life starts. Its thread then keeps stacks as shallow as
        those of a plain WebSocket application."""
        try:
            yield from self._serve(environ, start_response)
        except ConnectionError:
            # werkzeug reads what is left of the request next: nothing
            if self.ws is not None:
                shutdown(self.ws.sock)
            raise

    def _serve(self, environ: Dict[str, Any],
               start_response: Callable[..., Any]) -> Any:
        try:
            self.ws = _WebSocketServer(
                environ, max_message_size=self.server.max_http_buffer_size,
                **self.server_args)
        except Exception as exc:
            self.server.logger.error('WebSocket handshake failed: %s', exc)
            start_response('400 BAD REQUEST',
                           [('Content-Type', 'text/plain')])
            return [b'"WebSocket handshake failed"']
        self.mode = self.ws.mode
        try:
            ret = self.app(self)
        finally:
            self._finish()
        if self.mode == 'werkzeug':
            # werkzeug drops the connection quietly on ConnectionError
            raise ConnectionError()
        if self.mode == 'gunicorn':
            raise StopIteration()
        return ret

    def _finish(self) -> None:
        """Close the WebSocket and wait for simple-websocket's reader to let
        go of the socket, so that the web server never touches it (or its
        TLS state) at the same time."""
        if self.ws.connected:
            try:
                self.ws.close()
            except Exception:
                pass
        reader = getattr(self.ws, 'thread', None)
        if reader is None:
            return
        reader.join(_READER_GRACE)  # the peer normally answers our close
        if reader.is_alive():
            try:
                self.ws.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            reader.join(_READER_GRACE)

    def close(self) -> None:
        if self.ws.connected:
            self.ws.close()

    def send(self, message: Any) -> None:
        try:
            self.ws.send(message)
        except simple_websocket.ConnectionClosed:
            raise IOError('WebSocket is closed')

    def wait(self) -> Any:
        try:
            return self.ws.receive(timeout=self.timeout)
        except simple_websocket.ConnectionClosed:
            return None

    def abort(self) -> None:
        """Drop the connection at once: a blocked send or read fails."""
        shutdown(self.ws.sock)


def abort_request(environ: Dict[str, Any]) -> None:
    """Cut the client connection of a WSGI request, where the server tells
    which it is (werkzeug, gunicorn, eventlet, gevent): a blocked read of
    its body fails."""
    sock = environ.get('werkzeug.socket') or environ.get('gunicorn.socket')
    if sock is None and 'eventlet.input' in environ:
        sock = environ['eventlet.input'].get_socket()
    if sock is None:  # gevent: the socket under the input's file
        rfile = getattr(environ.get('wsgi.input'), 'rfile', None)
        sock = getattr(getattr(rfile, 'raw', None), '_sock', None)
    if sock is not None:
        shutdown(sock)


def shutdown(sock: Any) -> None:
    """Shut a connection's socket down for both directions, if still open."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
