"""The ``eventlet`` async mode: green threads and eventlet's WebSocket."""
from eventlet import getcurrent, sleep, spawn
from eventlet.green.threading import Event
from eventlet.queue import Empty, Queue
from eventlet.websocket import WebSocketWSGI as _EventletWebSocketWSGI

from engineio.async_drivers._websocket_wsgi import (abort_request,
                                                   backup_read_timeout,
                                                   shutdown)


class EventletThread:
    """A green thread with the start/join interface of a thread."""

    def __init__(self, target, args=(), kwargs=None):
        self.target = target
        self.args = args
        self.kwargs = kwargs or {}
        self.green_thread = None

    def start(self):
        self.green_thread = spawn(self.target, *self.args, **self.kwargs)

    def join(self, timeout=None):
        if self.green_thread is not None:
            return self.green_thread.wait()


class _WebSocket:
    """eventlet's WebSocket, with ``abort()``."""

    def __init__(self, ws):
        self.ws = ws

    def send(self, message):
        return self.ws.send(message)

    def wait(self):
        return self.ws.wait()

    def close(self):
        return self.ws.close()

    def abort(self):
        """Drop the connection at once: a blocked send or read fails."""
        shutdown(self.ws.socket)


class WebSocketWSGI(_EventletWebSocketWSGI):
    """eventlet's WebSocket application, limited to the server's maximum
    message size, with a read timeout backing up the heartbeat."""

    def __init__(self, handler, server):
        self.engineio_server = server

        def run(ws):
            sock = getattr(ws, 'socket', None)
            if sock is not None:
                sock.settimeout(backup_read_timeout(server))
            return handler(_WebSocket(ws))

        try:
            super().__init__(run,
                             max_frame_length=server.max_http_buffer_size)
        except TypeError:  # eventlet before 0.30
            super().__init__(run)

    def __call__(self, environ, start_response):
        if 'eventlet.input' not in environ:
            raise RuntimeError('You need to use the eventlet server. See the '
                               'Deployment section of the documentation for '
                               'more information.')
        if 'gunicorn.socket' in environ:  # gunicorn looks at the answer
            return super().__call__(environ, start_response)
        return self._serve_when_iterated(environ, start_response)

    def _serve_when_iterated(self, environ, start_response):
        """eventlet.wsgi iterates the answer in the request's green
        thread, and only then looks whether the WebSocket took over the
        connection: serving it from there, the frames of the application
        (and of any middleware) that led here are gone before the
        connection's long life starts, and the idle green thread keeps
        less."""
        yield from super().__call__(environ, start_response)


_async = {
    'thread': EventletThread,
    'queue': Queue,
    'queue_empty': Empty,
    'event': Event,
    'websocket': WebSocketWSGI,
    'abort_request': abort_request,
    'sleep': sleep,
    'current': getcurrent,
}
