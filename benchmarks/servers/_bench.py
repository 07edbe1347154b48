"""Shared parts of the benchmark server launchers.

Every launcher serves one of two applications on 127.0.0.1:

* ``eio``: an Engine.IO server (``engineio`` as found by the interpreter that
  runs the launcher: ours or the reference) whose ``message`` handler sends
  the data back, mounted at ``/engine.io/``;
* ``bare``: the same web server stack with no Engine.IO: a WebSocket echo at
  ``/ws`` and an HTTP echo (POST body sent back) at ``/echo``.

Once it accepts connections, a launcher prints one JSON line on stdout (port,
pid, which ``engineio`` it loaded) and serves until SIGTERM or SIGINT.
With ``--check`` it only builds the application and prints whether it can.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import sys
from typing import Any, Callable, Dict, Optional

HOST = '127.0.0.1'
EIO_PATH = '/engine.io/'
WS_PATH = '/ws'
HTTP_PATH = '/echo'


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--app', choices=('eio', 'bare'), default='eio')
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--max-clients', type=int, default=1000,
                        help='connections the server must hold at once '
                             '(sizes uWSGI\'s gevent pool)')
    parser.add_argument('--check', action='store_true',
                        help='build the application, print whether it can '
                             'be served, and exit')
    return parser.parse_args()


def raise_fd_limit() -> None:
    """Allow as many open files as the hard limit does."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def listen(port: int = 0) -> socket.socket:
    """A listening TCP socket on the loopback interface."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(1024)
    return sock


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def engineio_info() -> Optional[Dict[str, str]]:
    """Where the ``engineio`` package this interpreter imports comes from."""
    try:
        import engineio
    except ImportError:
        return None
    try:
        from importlib.metadata import version
        dist_version = version('python-engineio')
    except Exception:  # pragma: no cover - metadata missing
        dist_version = 'unknown'
    return {'file': engineio.__file__, 'version': dist_version}


def announce(port: int, app: str, **extra: Any) -> None:
    """Tell the runner where the server listens (one JSON line)."""
    info = {'port': port, 'pid': os.getpid(), 'app': app,
            'python': sys.version.split()[0],
            'engineio': engineio_info() if app == 'eio' else None}
    info.update(extra)
    sys.stdout.write(json.dumps(info) + '\n')
    sys.stdout.flush()


def report_check(build: Callable[[], Any]) -> None:
    """For ``--check``: build the application and say whether it works."""
    try:
        build()
    except Exception as exc:  # any failure means the mode cannot run
        sys.stdout.write(json.dumps(
            {'ok': False, 'reason': f'{type(exc).__name__}: {exc}'}) + '\n')
        sys.exit(1)
    sys.stdout.write(json.dumps({'ok': True, 'engineio': engineio_info()}) +
                     '\n')


def sync_eio_app(async_mode: str) -> Any:
    """A WSGI Engine.IO echo application."""
    import engineio
    eio = engineio.Server(async_mode=async_mode)

    @eio.on('message')
    def message(sid: str, data: Any) -> None:
        eio.send(sid, data)

    return engineio.WSGIApp(eio)


def async_eio_server(async_mode: str) -> Any:
    """An asyncio Engine.IO server with an echo ``message`` coroutine."""
    import engineio
    eio = engineio.AsyncServer(async_mode=async_mode)

    @eio.on('message')
    async def message(sid: str, data: Any) -> None:
        await eio.send(sid, data)

    return eio


def wsgi_bare_app(websocket_app: Callable[..., Any]) -> Callable[..., Any]:
    """A WSGI application: ``websocket_app`` at /ws, HTTP echo at /echo."""
    def app(environ: Dict[str, Any], start_response: Callable[..., Any]):
        path = environ.get('PATH_INFO', '')
        if path == WS_PATH:
            return websocket_app(environ, start_response)
        if path == HTTP_PATH and environ['REQUEST_METHOD'] == 'POST':
            length = int(environ.get('CONTENT_LENGTH') or 0)
            body = environ['wsgi.input'].read(length)
            start_response('200 OK', [
                ('Content-Type', 'text/plain; charset=UTF-8'),
                ('Content-Length', str(len(body)))])
            return [body]
        start_response('404 Not Found', [('Content-Length', '0')])
        return [b'']
    return app
