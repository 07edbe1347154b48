"""Engine.IO servers for the client tests, all driven the same way.

A peer server echoes every message, except the commands ``'burst'`` (it
sends ``'b0'`` .. ``'b99'``) and ``'close'`` (it closes the session). It
records what happens as events, dicts with an ``'event'`` key:
``connection`` (``sid``, ``transport``, ``query``, ``headers``),
``message`` (``sid``, ``data``; binary data as bytes) and ``close``
(``sid``, ``reason``); our server also records every HTTP ``request``
(``method``, ``query``, ``headers``).

:class:`InProcessServer` is ``engineio.Server`` in threading mode behind
``engineio.WSGIApp`` (see :mod:`tests.support.servers`).
:class:`ProcessServer` runs a server in a child process that prints its
events as JSON lines: the official JavaScript server (see
:mod:`tests.support.jsserver`) or ours (``python -m tests.support.peers``),
which a test can kill.

Options (a dict, the same for every server): ``ping_interval`` and
``ping_timeout`` (seconds), ``transports``, ``allow_upgrades``, and
``reject`` (refuse every connection with that JSON value as the body); our
server also takes ``cookie``.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import engineio  # noqa: E402

from tests.support import servers  # noqa: E402

BURST = 100
#: Seconds a child server gets to start listening or to exit.
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class Events:
    """A thread-safe list of event dicts that tests can wait on."""

    def __init__(self) -> None:
        self._items: List[Dict[str, Any]] = []
        self._cond = threading.Condition()

    def add(self, event: Dict[str, Any]) -> None:
        with self._cond:
            self._items.append(event)
            self._cond.notify_all()

    def all(self, name: Optional[str] = None, sid: Optional[str] = None
            ) -> List[Dict[str, Any]]:
        with self._cond:
            return [e for e in self._items
                    if (name is None or e['event'] == name) and
                    (sid is None or e.get('sid') == sid)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float,
                 what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError('timed out waiting for {}; events: {!r}'.format(
                        what, self._items[-20:]))
                self._cond.wait(remaining)


class PeerServer:
    """What the tests read from a running peer server."""

    #: 'python' or 'js'
    kind = ''

    def __init__(self) -> None:
        self.url = ''
        self.events = Events()

    def messages(self, sid: str) -> List[Any]:
        return [e['data'] for e in self.events.all('message', sid)]

    def wait_messages(self, sid: str, count: int, timeout: float = 5.0) -> List[Any]:
        self.events.wait_for(lambda: len(self.events.all('message', sid)) >= count,
                             timeout, '{} messages from {}'.format(count, sid))
        return self.messages(sid)

    def connection(self, sid: str, timeout: float = 5.0) -> Dict[str, Any]:
        self.events.wait_for(lambda: bool(self.events.all('connection', sid)),
                             timeout, 'connection of {}'.format(sid))
        return self.events.all('connection', sid)[0]

    def wait_close(self, sid: str, timeout: float = 5.0) -> str:
        """The reason the server gives for the end of ``sid``."""
        self.events.wait_for(lambda: bool(self.events.all('close', sid)),
                             timeout, 'close of {}'.format(sid))
        return self.events.all('close', sid)[0]['reason']

    def close_reasons(self, sid: str) -> List[str]:
        return [e['reason'] for e in self.events.all('close', sid)]


# -------------------------------------------------------------- our server
def _headers(environ: Dict[str, Any]) -> Dict[str, str]:
    return {key[5:].replace('_', '-').lower(): value
            for key, value in environ.items() if key.startswith('HTTP_')}


def _query(environ: Dict[str, Any]) -> Dict[str, str]:
    pairs = [p.partition('=') for p in environ.get('QUERY_STRING', '').split('&') if p]
    return {name: value for name, _, value in pairs}


def build_app(options: Dict[str, Any], emit: Callable[[Dict[str, Any]], None]
              ) -> Any:
    """Our peer server as a WSGI application (``app.eio`` is the server)."""
    server_options = {'async_mode': 'threading'}
    for name in ('ping_interval', 'ping_timeout', 'transports', 'allow_upgrades', 'cookie'):
        if name in options:
            server_options[name] = options[name]
    eio = engineio.Server(**server_options)
    reject = options.get('reject')

    @eio.on('connect')
    def connect(sid, environ):
        emit({'event': 'connection', 'sid': sid, 'query': _query(environ),
              'transport': _query(environ).get('transport'),
              'headers': _headers(environ)})
        return reject

    @eio.on('message')
    def message(sid, data):
        emit({'event': 'message', 'sid': sid, 'data': data})
        if data == 'burst':
            for i in range(BURST):
                eio.send(sid, 'b%d' % i)
        elif data == 'close':
            eio.disconnect(sid)
        else:
            eio.send(sid, data)

    @eio.on('disconnect')
    def disconnect(sid, reason):
        emit({'event': 'close', 'sid': sid, 'reason': reason})

    engineio_app = engineio.WSGIApp(eio)

    def app(environ, start_response):
        emit({'event': 'request', 'method': environ['REQUEST_METHOD'],
              'query': _query(environ), 'headers': _headers(environ)})
        return engineio_app(environ, start_response)

    app.eio = eio
    return app


def build_async_app(options: Dict[str, Any], emit: Callable[[Dict[str, Any]], None],
                    server_name: str) -> Any:
    """Our peer server as an ``engineio.AsyncServer`` in the application of
    an e2e server of tests/support/async_servers.py (``app.eio`` is the
    server)."""
    from tests.support import async_servers
    server_options = {'async_mode': async_servers.ASYNC_MODES[server_name]}
    for name in ('ping_interval', 'ping_timeout', 'transports', 'allow_upgrades', 'cookie'):
        if name in options:
            server_options[name] = options[name]
    eio = engineio.AsyncServer(**server_options)
    reject = options.get('reject')

    @eio.on('connect')
    def connect(sid, environ):
        emit({'event': 'connection', 'sid': sid, 'query': _query(environ),
              'transport': _query(environ).get('transport'),
              'headers': _headers(environ)})
        return reject

    @eio.on('message')
    async def message(sid, data):
        emit({'event': 'message', 'sid': sid, 'data': data})
        if data == 'burst':
            for i in range(BURST):
                await eio.send(sid, 'b%d' % i)
        elif data == 'close':
            await eio.disconnect(sid)
        else:
            await eio.send(sid, data)

    @eio.on('disconnect')
    def disconnect(sid, reason):
        emit({'event': 'close', 'sid': sid, 'reason': reason})

    app = async_servers.make_app(server_name, eio)
    return eio, app


class InProcessServer(PeerServer):
    """Our server in this process; see :func:`in_process`."""

    kind = 'python'

    def requests(self, sid: Optional[str] = None) -> List[Dict[str, Any]]:
        """The HTTP requests received (for ``sid`` only, if given)."""
        return [e for e in self.events.all('request')
                if sid is None or e['query'].get('sid') == sid]


@contextlib.contextmanager
def in_process(options: Optional[Dict[str, Any]] = None,
               mode: str = 'threading') -> Iterator[InProcessServer]:
    server = InProcessServer()
    app = build_app(options or {}, server.events.add)
    try:
        with servers.serve(mode, app.eio, app) as url:
            server.url = url
            yield server
    finally:
        app.eio.shutdown()


@contextlib.contextmanager
def in_process_async(server_name: str, options: Optional[Dict[str, Any]] = None
                     ) -> Iterator[PeerServer]:
    """Our asyncio server on the e2e server ``server_name`` (``asgi`` for
    uvicorn, ``aiohttp``, ``tornado``, ...)."""
    server = PeerServer()
    server.kind = 'python'
    eio, app = build_async_app(options or {}, server.events.add, server_name)
    with servers.serve(server_name, eio, app) as url:
        server.url = url
        yield server


# --------------------------------------------------------- child processes
class ProcessServer(PeerServer):
    """A peer server in a child process; use as a context manager."""

    def __init__(self, argv: List[str], kind: str, cwd: Optional[str] = None) -> None:
        super().__init__()
        self.kind = kind
        self._stderr = b''
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        self._err_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._err_reader.start()
        try:
            self.events.wait_for(lambda: bool(self.events.all('listening'))
                                 or self.proc.poll() is not None,
                                 START_TIMEOUT, 'the server to listen')
            listening = self.events.all('listening')
            if not listening:
                raise AssertionError('server exited: {!r}'.format(self._stderr[-2000:]))
        except BaseException:
            self.stop()
            raise
        self.url = '{}://127.0.0.1:{}'.format(listening[0].get('scheme', 'http'),
                                              listening[0]['port'])

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event = json.loads(line)
            if isinstance(event.get('data'), dict) and 'binary' in event['data']:
                event['data'] = bytes(event['data']['binary'])
            self.events.add(event)
        self.events.add({'event': 'exit'})

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self._stderr = self.proc.stderr.read()

    def kill(self) -> None:
        """Kill the server at once (SIGKILL): its connections just drop."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(STOP_TIMEOUT)

    def stop(self) -> None:
        """Ask the server to exit (closing its stdin), kill it if it does not."""
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(STOP_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        self._reader.join(STOP_TIMEOUT)
        self._err_reader.join(STOP_TIMEOUT)
        for stream in (self.proc.stdout, self.proc.stderr, self.proc.stdin):
            if stream is not None:
                stream.close()

    def __enter__(self) -> 'ProcessServer':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def python_process(options: Optional[Dict[str, Any]] = None) -> ProcessServer:
    """Our peer server in a child process."""
    return ProcessServer([sys.executable, '-m', 'tests.support.peers',
                          json.dumps(options or {})], 'python', cwd=REPO)


def _serve_forever(options: Dict[str, Any]) -> None:
    lock = threading.Lock()

    def emit(event: Dict[str, Any]) -> None:
        if event['event'] == 'request':
            return
        data = event.get('data')
        if isinstance(data, (bytes, bytearray)):
            event = dict(event, data={'binary': list(data)})
        with lock:
            sys.stdout.write(json.dumps(event) + '\n')
            sys.stdout.flush()

    app = build_app(options, emit)
    with servers.serve('threading', app.eio, app) as url:
        emit({'event': 'listening', 'port': int(url.rsplit(':', 1)[1])})
        sys.stdin.read()  # until the parent closes it


if __name__ == '__main__':
    _serve_forever(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
