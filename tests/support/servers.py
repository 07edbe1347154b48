"""Run an Engine.IO application on a real server bound to 127.0.0.1.

Each async mode has a *starter*: a context manager that takes the Engine.IO
server object and the application wrapping it, serves the application on an
ephemeral loopback port and yields the base URL (``http://127.0.0.1:<port>``).
Leaving the context stops the server in bounded time.  New modes are added by
registering another starter in :data:`STARTERS`.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, ContextManager, Dict, Iterator

from werkzeug.serving import WSGIRequestHandler, make_server

#: Seconds allowed for a server thread to stop after shutdown was requested.
STOP_TIMEOUT = 5.0


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug request handler that does not log every request."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextlib.contextmanager
def _serve_threading(eio_server: Any, app: Any) -> Iterator[str]:
    """Serve a WSGI ``app`` with werkzeug's threaded server."""
    httpd = make_server('127.0.0.1', 0, app, threaded=True,
                        request_handler=_QuietRequestHandler)
    thread = threading.Thread(target=httpd.serve_forever,
                              kwargs={'poll_interval': 0.05},
                              name='e2e-werkzeug', daemon=True)
    thread.start()
    try:
        yield 'http://127.0.0.1:{}'.format(httpd.server_port)
    finally:
        httpd.shutdown()
        thread.join(STOP_TIMEOUT)
        httpd.server_close()


#: Starter context managers keyed by async mode name.
STARTERS: Dict[str, Callable[[Any, Any], ContextManager[str]]] = {
    'threading': _serve_threading,
}


def serve(mode: str, eio_server: Any, app: Any) -> ContextManager[str]:
    """Serve ``app`` (the WSGI/ASGI application around ``eio_server``) for
    the given async ``mode``; use as ``with serve(...) as base_url:``."""
    try:
        starter = STARTERS[mode]
    except KeyError:
        raise ValueError('no e2e server starter for async mode {!r}'.format(mode))
    return starter(eio_server, app)
