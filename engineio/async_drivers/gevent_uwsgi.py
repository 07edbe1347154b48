"""The ``gevent_uwsgi`` async mode: greenlets inside a uWSGI server.

WebSocket connections use uWSGI's own WebSocket API where the running uWSGI
offers it: uWSGI answers the handshake, ``_uwsgi_websocket`` frames and
reads the messages. Elsewhere, and for a request that asks for a
subprotocol, the connection's socket is wrapped in a cooperative gevent
socket and spoken to with simple-websocket.

uWSGI gives the application a body still in chunks (no Content-Length) as
an empty ``wsgi.input``: such a POST is refused rather than taken as empty.
A front end such as nginx passes a chunked body de-chunked, with a length.
"""
import os
import socket

import gevent.socket
import uwsgi

from engineio.async_drivers._uwsgi_websocket import (HandshakeFailed,
                                                     NativeWebSocket,
                                                     native_websocket_fits)
from engineio.async_drivers._websocket_wsgi import shutdown
from engineio.async_drivers.gevent import GeventSimpleWebSocket, _async as \
    _gevent_async
from engineio.base_socket import is_chunked

#: environ key of the request's connection file descriptor
_FD = 'engineio.uwsgi_fd'


class UWSGIWebSocket:
    """A WebSocket through uWSGI's API when it fits the request, else
    through simple-websocket."""

    #: False once uWSGI failed a handshake that simple-websocket then
    #: completed on the same connection: this uWSGI cannot do it (built
    #: without OpenSSL), so later connections go to simple-websocket
    native_handshake_works = True

    def __init__(self, handler, server):
        self.app = handler
        self.server = server

    def __call__(self, environ, start_response):
        if not (UWSGIWebSocket.native_handshake_works and
                native_websocket_fits(environ)):
            return self._simple(environ, start_response)
        try:
            return NativeWebSocket(self.app, self.server)(environ,
                                                          start_response)
        except HandshakeFailed as exc:
            self.server.logger.info('uWSGI WebSocket handshake failed (%s): '
                                    'using simple-websocket', exc)
        fallback = SimpleUWSGIWebSocket(self.app, self.server)
        result = fallback(environ, start_response)
        if fallback.ws is not None:
            UWSGIWebSocket.native_handshake_works = False
        return result

    def _simple(self, environ, start_response):
        return SimpleUWSGIWebSocket(self.app, self.server)(environ,
                                                           start_response)


class SimpleUWSGIWebSocket(GeventSimpleWebSocket):
    """simple-websocket over the connection uWSGI hands to the request."""

    def __call__(self, environ, start_response):
        sock = gevent.socket.socket(fileno=os.dup(uwsgi.connection_fd()))
        environ = dict(environ, **{'werkzeug.socket': sock})
        try:
            self._serve(environ, start_response)  # at once, not when iterated
        except ConnectionError:
            pass  # the request ends here; uWSGI must not answer it
        finally:
            sock.close()
        uwsgi.disconnect()
        return []


class ChunkedBody:
    """``wsgi.input`` of a request whose body is still in chunks."""

    def read(self, size=-1):
        raise OSError('a chunked body without a Content-Length does not '
                      'reach the application under uWSGI')


def prepare_request(environ):
    """Note the request's connection (``abort_request`` runs in another
    greenlet, where uWSGI's current request is another one) and refuse a
    body uWSGI would hide."""
    environ[_FD] = uwsgi.connection_fd()
    if is_chunked(environ) and not environ.get('CONTENT_LENGTH'):
        environ['wsgi.input'] = ChunkedBody()


def abort_request(environ):
    """Cut the connection of a request whose body is late: its blocked
    read fails."""
    fd = environ.get(_FD)
    if fd is None:
        return
    sock = socket.socket(fileno=os.dup(fd))
    try:
        shutdown(sock)
    finally:
        sock.close()


_async = dict(_gevent_async, websocket=UWSGIWebSocket,
              prepare_request=prepare_request, abort_request=abort_request)
