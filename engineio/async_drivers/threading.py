"""The ``threading`` async mode: OS threads and simple-websocket."""
import queue
import threading
import time

from engineio.async_drivers._websocket_wsgi import (SimpleWebSocketWSGI,
                                                   abort_request)


class DaemonThread(threading.Thread):
    """A thread that does not keep the process alive."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs, daemon=True)


_async = {
    'thread': DaemonThread,
    'queue': queue.Queue,
    'queue_empty': queue.Empty,
    'event': threading.Event,
    'websocket': SimpleWebSocketWSGI,
    'abort_request': abort_request,
    'sleep': time.sleep,
    'current': threading.get_ident,
}
