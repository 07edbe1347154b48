"""Socket.IO servers in their own process, seen from the test.

:class:`SioServer` runs :mod:`tests.support.sio_server` (python-socketio
on our Engine.IO) and :class:`FlaskServer` runs
:mod:`tests.support.sio_flask_app` (Flask-SocketIO), each in any of their
async modes. Both can be killed and started again on the same port, which
is how the reconnection tests restart a server.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional

import socketio

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
#: seconds a query to the server's control namespace may take
CTL_TIMEOUT = 5.0


class ServerProcess:
    """A server process started with ``python -m <module> <json config>``
    that listens on 127.0.0.1 and serves Socket.IO on /socket.io/."""

    module = ''

    def __init__(self, config: Dict[str, Any]) -> None:
        self.config = dict(config)
        self.port: Optional[int] = None
        self.proc: Optional[subprocess.Popen] = None
        #: what the processes print, appended through handles of their own
        self._log = tempfile.NamedTemporaryFile(prefix='sio-server-',
                                                suffix='.log')
        self.start()

    @property
    def url(self) -> str:
        return 'http://127.0.0.1:{}'.format(self.port)

    def start(self) -> None:
        """Start the process (on the port of the previous one, if any)."""
        config = dict(self.config, port=self.port or 0)
        env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get(
            'PYTHONPATH', ''))
        with open(self._log.name, 'ab') as out:
            self.proc = proc = subprocess.Popen(
                [sys.executable, '-m', self.module, json.dumps(config)],
                cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT)
        try:
            self._wait_ready(proc)
        except Exception:
            self.kill()
            raise

    def _wait_ready(self, proc: subprocess.Popen) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.port is None:
                self.port = self._announced_port()
            if self.port is not None and self._answers():
                return
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('{} did not start: {}'.format(
                    self.config, self.output()))
            time.sleep(0.05)

    def _announced_port(self) -> Optional[int]:
        """The port printed as ``{"port": N}``, if printed yet."""
        self._log.seek(0)
        for line in self._log.read().splitlines():
            if line.startswith(b'{"port"'):
                return json.loads(line)['port']
        return None

    def _answers(self) -> bool:
        """Whether Engine.IO answers (a poll for an unknown session, which
        opens none, gets 400)."""
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=2)
        try:
            conn.request('GET', '/socket.io/?EIO=4&transport=polling&sid=-')
            return conn.getresponse().status == 400
        except OSError:
            return False
        finally:
            conn.close()

    def output(self) -> str:
        """What the process printed (the last 3000 characters)."""
        self._log.seek(0)
        return self._log.read().decode('utf-8', 'replace')[-3000:]

    def kill(self) -> None:
        """Kill the process at once, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT)

    def stop(self) -> None:
        self.kill()
        self._log.close()


class SioServer(ServerProcess):
    """The python-socketio test server in async ``mode``; the events it
    recorded are read through its ``/ctl`` namespace."""

    module = 'tests.support.sio_server'

    def __init__(self, mode: str, **config: Any) -> None:
        self._ctl: Optional[socketio.Client] = None
        super().__init__(dict(config, mode=mode))

    def events(self) -> List[list]:
        """The ``connect`` and ``disconnect`` events the server recorded."""
        if self._ctl is None:
            ctl = socketio.Client(reconnection=False, handle_sigint=False)
            ctl.connect(self.url, namespaces=['/ctl'],
                        transports=['websocket'], wait_timeout=CTL_TIMEOUT)
            self._ctl = ctl
        return self._ctl.call('events', namespace='/ctl',
                              timeout=CTL_TIMEOUT)

    def wait_events(self, predicate: Callable[[List[list]], bool],
                    what: str, timeout: float = 10.0) -> List[list]:
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            if predicate(events):
                return events
            if time.monotonic() > deadline:
                raise AssertionError('timed out waiting for {}; server '
                                     'events: {!r}'.format(what, events))
            time.sleep(0.05)

    def disconnect_reason(self, ns: str, sid: str,
                          timeout: float = 10.0) -> str:
        """Wait until the server reported the disconnect of ``sid``."""
        events = self.wait_events(
            lambda events: any(e[:3] == ['disconnect', ns, sid]
                               for e in events),
            'the disconnect of {} from {}'.format(sid, ns), timeout)
        return [e[3] for e in events if e[:3] == ['disconnect', ns, sid]][0]

    def _close_ctl(self) -> None:
        if self._ctl is not None:
            self._ctl.disconnect()
            self._ctl = None

    def kill(self) -> None:
        self._close_ctl()
        super().kill()


class FlaskServer(SioServer):
    """The Flask-SocketIO test application, served by ``socketio.run()``."""

    module = 'tests.support.sio_flask_app'


def flask_test_client(mode: str) -> Dict[str, Any]:
    """Run the Flask-SocketIO test client scenario of
    :mod:`tests.support.sio_flask_app` in its own process; what it saw."""
    proc = subprocess.run(
        [sys.executable, '-m', FlaskServer.module,
         json.dumps({'mode': mode, 'test_client': True})],
        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, timeout=START_TIMEOUT)
    assert proc.returncode == 0, proc.stderr.decode('utf-8', 'replace')
    return json.loads(proc.stdout.splitlines()[-1])
