"""Benchmark server: uWSGI with its gevent loop (async mode 'gevent_uwsgi').

Run by Python, this script starts uWSGI (the ``uwsgi`` program next to the
interpreter, with that interpreter's virtualenv) on a free port and loads
itself into it as the WSGI file; uWSGI's HTTP router, master and worker are
children of the launcher. The bare application speaks WebSocket through
uWSGI's own WebSocket API.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import _bench

START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0


def bare_app():
    import uwsgi

    def websocket_echo(environ, start_response):
        uwsgi.websocket_handshake()
        try:
            while True:
                uwsgi.websocket_send(uwsgi.websocket_recv())
        except OSError:
            pass
        return []

    return _bench.wsgi_bare_app(websocket_echo)


def uwsgi_program() -> str:
    program = os.path.join(os.path.dirname(sys.executable), 'uwsgi')
    if not os.access(program, os.X_OK):
        raise RuntimeError(f'{program} not found')
    return program


def check(app: str) -> None:
    import importlib.util
    uwsgi_program()
    import gevent  # noqa: F401
    if app == 'eio':
        import engineio  # noqa: F401
        if importlib.util.find_spec(
                'engineio.async_drivers.gevent_uwsgi') is None:
            raise RuntimeError('engineio has no gevent_uwsgi driver')


def wait_listening(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f'uwsgi exited with {process.returncode}')
        try:
            socket.create_connection((_bench.HOST, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError('uwsgi did not start listening')


def main() -> None:
    args = _bench.parse_args(__doc__)
    if args.check:
        _bench.report_check(lambda: check(args.app))
        return
    _bench.raise_fd_limit()
    port = args.port or _bench.free_port()
    command = [
        uwsgi_program(), '--http', f'{_bench.HOST}:{port}',
        '--gevent', str(args.max_clients), '--http-websockets',
        '--http-keepalive', '--master',
        '--die-on-term', '--wsgi-file', os.path.abspath(__file__),
        '--virtualenv', sys.prefix,
        '--pythonpath', os.path.dirname(os.path.abspath(__file__)),
        '--env', f'BENCH_APP={args.app}', '--need-app', '--disable-logging',
        '--listen', '1024',
    ]
    process = subprocess.Popen(command, stdout=sys.stderr)

    def stop(signum, frame):
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        wait_listening(port, process)
    except RuntimeError:
        stop(None, None)
        raise
    _bench.announce(port, args.app, uwsgi=True)
    process.wait()


if __name__ == '__main__':
    main()
elif os.environ.get('BENCH_APP') == 'eio':
    application = _bench.sync_eio_app('gevent_uwsgi')
elif os.environ.get('BENCH_APP') == 'bare':
    application = bare_app()
