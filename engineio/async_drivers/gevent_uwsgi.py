"""The ``gevent_uwsgi`` async mode: greenlets inside a uWSGI server.

WebSocket connections are taken over from uWSGI right after its request
parsing: the connection's socket is wrapped in a cooperative gevent socket
and spoken to with simple-websocket, which (unlike uWSGI's own WebSocket
API) keeps text and binary frames apart.
"""
import os

import gevent.socket
import uwsgi

from engineio.async_drivers.gevent import GeventSimpleWebSocket, _async as \
    _gevent_async


class UWSGIWebSocket(GeventSimpleWebSocket):
    """simple-websocket over the connection uWSGI hands to the request."""

    def __call__(self, environ, start_response):
        sock = gevent.socket.socket(fileno=os.dup(uwsgi.connection_fd()))
        environ = dict(environ, **{'werkzeug.socket': sock})
        try:
            super().__call__(environ, start_response)
        except ConnectionError:
            pass  # the request ends here; uWSGI must not answer it
        finally:
            sock.close()
        uwsgi.disconnect()
        return []


_async = dict(_gevent_async, websocket=UWSGIWebSocket)
