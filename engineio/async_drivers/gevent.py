"""The ``gevent`` async mode: greenlets, with gevent-websocket's handler
when it is installed and simple-websocket otherwise."""
import socket

import gevent
import gevent.event
import gevent.queue
import gevent.selectors

from engineio.async_drivers._websocket_wsgi import (SimpleWebSocketWSGI,
                                                   abort_request, shutdown)

try:
    import geventwebsocket  # noqa: F401
except ImportError:  # pragma: no cover
    geventwebsocket = None


class Thread(gevent.Greenlet):
    """A greenlet with the constructor of a thread."""

    def __init__(self, target=None, args=(), kwargs=None):
        super().__init__(target, *args, **(kwargs or {}))

    def is_alive(self):
        """Started and not finished, as for a thread."""
        return bool(self)


class GeventSimpleWebSocket(SimpleWebSocketWSGI):
    """simple-websocket driven by greenlets."""

    def __init__(self, handler, server):
        super().__init__(handler, server, thread_class=Thread,
                         event_class=gevent.event.Event,
                         selector_class=gevent.selectors.DefaultSelector)


class GeventWebSocket:
    """A WebSocket served by gevent-websocket's ``WebSocketHandler``, or by
    simple-websocket when the server does not use that handler."""

    def __init__(self, handler, server):
        self.app = handler
        self.server = server
        self._ws = None

    def __call__(self, environ, start_response):
        if 'wsgi.websocket' not in environ:
            return GeventSimpleWebSocket(self.app, self.server)(
                environ, start_response)
        self._ws = environ['wsgi.websocket']
        return self.app(self)

    def close(self):
        return self._ws.close()

    def send(self, message):
        return self._ws.send(message, binary=isinstance(message, bytes))

    def wait(self):
        return self._ws.receive()

    def abort(self):
        """Drop the connection at once: a blocked send or read fails."""
        shutdown(self._ws.handler.socket)


def no_delay(environ):
    """Turn off Nagle's algorithm on the request's connection: pywsgi
    writes a response's headers and body separately, and the second write
    would otherwise wait for the client's delayed ACK (about 40 ms)."""
    wsgi_input = environ.get('wsgi.input')
    rfile = getattr(wsgi_input, 'rfile', None)
    sock = getattr(getattr(rfile, 'raw', None), '_sock', None)
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass


_async = {
    'thread': Thread,
    'queue': gevent.queue.JoinableQueue,
    'queue_empty': gevent.queue.Empty,
    'event': gevent.event.Event,
    'websocket': GeventWebSocket if geventwebsocket else GeventSimpleWebSocket,
    'abort_request': abort_request,
    'sleep': gevent.sleep,
    'prepare_request': no_delay,
    'current': gevent.getcurrent,
}
