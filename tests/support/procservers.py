"""Engine.IO servers in their own process: eventlet, gevent, gunicorn, uWSGI.

:func:`start` launches ``tests/support/eio_app.py`` under the chosen server
on a loopback port and returns a :class:`RemoteHarness`, which offers the
interface of the in-process harness of ``tests/e2e/conftest.py`` (``url``,
``eio.disconnect/shutdown/transport/send``, ``wait_messages``, ``wait_disconnect``
...) through the application's ``/_ctl/`` endpoints.
"""
from __future__ import annotations

import fcntl
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional
from urllib.parse import urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
APP = os.path.join(HERE, 'eio_app.py')
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _bin(name: str) -> str:
    path = os.path.join(os.path.dirname(sys.executable), name)
    return path if os.path.exists(path) else (shutil.which(name) or name)


def _gunicorn(worker: str, port: int, *extra: str) -> List[str]:
    return [sys.executable, '-m', 'gunicorn', '-k', worker, '-w', '1',
            '-b', '127.0.0.1:{}'.format(port), '--log-level', 'warning',
            *extra, 'tests.support.eio_app:application']


#: server name -> (async_mode, command builder taking a port or None)
SERVERS: Dict[str, Any] = {
    'eventlet': ('eventlet', lambda port: [sys.executable, APP,
                                           'eventlet']),
    'gevent': ('gevent', lambda port: [sys.executable, APP, 'gevent']),
    'gevent-simple': ('gevent', lambda port: [sys.executable, APP,
                                              'gevent-simple']),
    'gunicorn-eventlet': ('eventlet', lambda port: _gunicorn(
        'eventlet', port)),
    'gunicorn-gevent': ('gevent', lambda port: _gunicorn('gevent', port)),
    'gunicorn-geventwebsocket': ('gevent', lambda port: _gunicorn(
        'geventwebsocket.gunicorn.workers.GeventWebSocketWorker', port)),
    'gunicorn-threads': ('threading', lambda port: _gunicorn(
        'gthread', port, '--threads', '100')),
    'uwsgi': ('gevent_uwsgi', lambda port: [
        _bin('uwsgi'), '--http', '127.0.0.1:{}'.format(port),
        '--gevent', '1000', '--http-websockets', '--master',
        '--die-on-term', '--disable-logging', '--need-app',
        '--wsgi-file', APP]),
}


def unavailable(server: str) -> Optional[str]:
    """Why ``server`` cannot run on this machine, or None."""
    modules = {'eventlet': 'eventlet', 'gevent': 'geventwebsocket',
               'gevent-simple': 'gevent', 'gunicorn-eventlet': 'eventlet',
               'gunicorn-gevent': 'gevent',
               'gunicorn-geventwebsocket': 'geventwebsocket',
               'gunicorn-threads': 'gunicorn', 'uwsgi': 'gevent'}
    import importlib.util
    for name in {modules[server], 'gunicorn'} if server.startswith(
            'gunicorn') else {modules[server]}:
        if importlib.util.find_spec(name) is None:
            return '{} is not installed'.format(name)
    if server == 'uwsgi' and not os.path.exists(_bin('uwsgi')) and \
            shutil.which('uwsgi') is None:
        return 'uwsgi is not installed'
    return None


class Message(NamedTuple):
    sid: str
    data: Any
    transport: Optional[str]


class RemoteRecorder:
    """Events of one kind, read from the server process on demand."""

    def __init__(self, harness: 'RemoteHarness', kind: str) -> None:
        self._harness = harness
        self._kind = kind

    @property
    def items(self) -> List[Any]:
        events = [e[1:] for e in self._harness.events() if e[0] == self._kind]
        if self._kind == 'message':
            return [Message(sid, _decode(data), transport)
                    for sid, data, transport in events]
        return [tuple(e) for e in events]

    def wait_for(self, predicate: Callable[[List[Any]], bool],
                 timeout: float = 5.0, what: str = 'condition') -> List[Any]:
        deadline = time.monotonic() + timeout
        while True:
            items = self.items
            if predicate(items):
                return items
            if time.monotonic() > deadline:
                raise AssertionError('timed out waiting for {}; got {!r}'
                                     .format(what, items))
            time.sleep(0.03)

    def wait(self, count: int = 1, timeout: float = 5.0) -> List[Any]:
        return self.wait_for(lambda items: len(items) >= count, timeout,
                             '{} item(s)'.format(count))


class _RemoteServer:
    """Stands in for the engineio server object of the harness."""

    def __init__(self, harness: 'RemoteHarness') -> None:
        self._harness = harness

    def disconnect(self, sid: Optional[str] = None) -> None:
        """Disconnect ``sid``, or every session if ``sid`` is None."""
        if sid is None:
            self._harness.ctl('disconnect')
        else:
            self._harness.ctl('disconnect', sid=sid)

    def shutdown(self) -> None:
        self._harness.ctl('shutdown')

    def send(self, sid: str, data: str) -> None:
        self._harness.ctl('send', sid=sid, data=data)

    def transport(self, sid: str) -> str:
        transport = self._harness.ctl('transport', sid=sid)
        if transport is None:
            raise KeyError('Session not found')
        return transport


def _decode(data: Any) -> Any:
    if isinstance(data, dict) and set(data) == {'binary'}:
        return bytes(data['binary'])
    return data


class RemoteHarness:
    """A server process and the events its application recorded."""

    def __init__(self, server: str, config: Dict[str, Any]) -> None:
        mode, command = SERVERS[server]
        self.server = server
        config = dict(config, mode=mode)
        env = dict(os.environ, EIO_TEST_CONFIG=json.dumps(config),
                   PYTHONPATH=REPO + os.pathsep + os.environ.get(
                       'PYTHONPATH', ''))
        port = None if server in ('eventlet', 'gevent', 'gevent-simple') \
            else free_port()
        self._log = tempfile.TemporaryFile()
        # the child shares the file offset: append-only writes keep our
        # reads (which move the offset) from making it overwrite its output
        fcntl.fcntl(self._log.fileno(), fcntl.F_SETFL, fcntl.fcntl(
            self._log.fileno(), fcntl.F_GETFL) | os.O_APPEND)
        # a process group of its own: gunicorn and uWSGI fork workers, which
        # must end with the server even when the master is killed
        self.proc = subprocess.Popen(
            command(port), cwd=REPO, env=env, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            self.url = 'http://127.0.0.1:{}'.format(
                port or self._announced_port())
            self._wait_ready()
        except Exception:
            self.stop()
            raise
        self.eio = _RemoteServer(self)
        self.connects = RemoteRecorder(self, 'connect')
        self.messages = RemoteRecorder(self, 'message')
        self.disconnects = RemoteRecorder(self, 'disconnect')

    def _announced_port(self) -> int:
        """The port the process printed as ``{"port": N}``."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self.proc.poll() is None:
            self._log.seek(0)
            for line in self._log.read().splitlines():
                if line.startswith(b'{"port"'):
                    return json.loads(line)['port']
            time.sleep(0.05)
        raise RuntimeError('{} did not start: {}'.format(self.server,
                                                         self.output()))

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.ctl('pid')
                return
            except OSError:
                if self.proc.poll() is not None or \
                        time.monotonic() > deadline:
                    raise RuntimeError('{} did not start: {}'.format(
                        self.server, self.output()))
                time.sleep(0.1)

    def ctl(self, command: str, **query: str) -> Any:
        host, port = self.url[len('http://'):].split(':')
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            conn.request('GET', '/_ctl/{}?{}'.format(command,
                                                     urlencode(query)))
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def events(self) -> List[list]:
        return self.ctl('events')

    def messages_of(self, sid: str) -> List[Any]:
        return [_decode(e[2]) for e in self.events()
                if e[0] == 'message' and e[1] == sid]

    def wait_messages(self, sid: str, count: int, timeout: float = 5.0
                      ) -> List[Any]:
        self.messages.wait_for(
            lambda items: len([m for m in items if m.sid == sid]) >= count,
            timeout, '{} messages from {}'.format(count, sid))
        return self.messages_of(sid)

    def wait_disconnect(self, sid: str, timeout: float = 5.0) -> str:
        items = self.disconnects.wait_for(
            lambda items: any(s == sid for s, _ in items), timeout,
            'disconnect of {}'.format(sid))
        return [reason for s, reason in items if s == sid][0]

    def disconnect_reasons(self, sid: str) -> List[str]:
        return [reason for s, reason in self.disconnects.items if s == sid]

    def output(self) -> str:
        """What the process printed (its last 3000 characters)."""
        self._log.seek(0)
        return self._log.read().decode('utf-8', 'replace')[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # a quick stop everywhere
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        try:  # workers that outlived their master (the group is ours)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.flush()


def start(server: str, **config: Any) -> RemoteHarness:
    """Start ``server`` (a key of :data:`SERVERS`) with the test app."""
    return RemoteHarness(server, config)
