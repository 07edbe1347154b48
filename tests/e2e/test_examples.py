"""Every example runs as its README says.

Each server example is started as a subprocess on a free loopback port (the
``PORT`` environment variable, or the server's own option for the gunicorn,
uvicorn and hypercorn commands of the READMEs); the test checks that it
serves its page and scripts, answers an Engine.IO handshake and echoes text
and binary messages over long-polling and over WebSocket. Each client example
runs against the latency demo server, and must show echoes over WebSocket and
disconnect cleanly on Ctrl+C.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import IO, Iterator, List, NamedTuple

import pytest
import requests

from tests.support import rawclient as rc

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, 'examples')
BUNDLE = os.path.join(EXAMPLES, 'server', 'wsgi', 'node_modules', 'engine.io-client', 'dist',
                      'engine.io.min.js')
START_TIMEOUT = 30.0  # sanic and gunicorn take a few seconds to boot on a busy machine
STOP_TIMEOUT = 10.0
PY = sys.executable


class ServerExample(NamedTuple):
    folder: str       # below examples/server/
    page: str         # 'simple' or 'latency': what '/' serves
    command: List[str]  # run in the folder; '{port}' is replaced by the port


def _script(folder: str, page: str) -> ServerExample:
    return ServerExample(folder, page, [PY, page + '.py'])


def _gunicorn(folder: str, page: str, worker: str, *extra: str) -> ServerExample:
    return ServerExample(folder, page, [PY, '-m', 'gunicorn', '-k', worker, '-w', '1',
                                        '-b', '127.0.0.1:{port}', *extra, page + ':app'])


SERVER_EXAMPLES = {
    'wsgi-simple': _script('wsgi', 'simple'),
    'wsgi-latency': _script('wsgi', 'latency'),
    'wsgi-latency-gunicorn': _gunicorn('wsgi', 'latency', 'gthread', '--threads', '100'),
    'eventlet-simple': _script('eventlet', 'simple'),
    'eventlet-latency': _script('eventlet', 'latency'),
    'eventlet-latency-gunicorn': _gunicorn('eventlet', 'latency', 'eventlet'),
    'gevent-simple': _script('gevent', 'simple'),
    'gevent-latency': _script('gevent', 'latency'),
    'gevent-simple-gunicorn': _gunicorn('gevent', 'simple', 'gevent'),
    'gevent-latency-gunicorn': _gunicorn(
        'gevent', 'latency', 'geventwebsocket.gunicorn.workers.GeventWebSocketWorker'),
    'asgi-simple': _script('asgi', 'simple'),
    'asgi-latency': _script('asgi', 'latency'),
    'asgi-latency-uvicorn': ServerExample('asgi', 'latency', [
        PY, '-m', 'uvicorn', 'latency:app', '--port', '{port}']),
    'asgi-latency-hypercorn': ServerExample('asgi', 'latency', [
        PY, '-m', 'hypercorn', 'latency:app', '--bind', '127.0.0.1:{port}']),
    'aiohttp-simple': _script('aiohttp', 'simple'),
    'aiohttp-latency': _script('aiohttp', 'latency'),
    'tornado-simple': _script('tornado', 'simple'),
    'tornado-latency': _script('tornado', 'latency'),
    'sanic-simple': _script('sanic', 'simple'),
    'sanic-latency': _script('sanic', 'latency'),
}

TITLES = {'simple': 'Engine.IO echo', 'latency': 'Engine.IO latency'}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Process:
    """A subprocess whose output goes to a temporary file; used as a context
    manager, it is stopped on exit with Ctrl+C (SIGINT to its PID), as the
    READMEs say."""

    def __init__(self, command: List[str], cwd: str, env: dict) -> None:
        self._log: IO[bytes] = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def __enter__(self) -> 'Process':
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self._log.close()

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode('utf-8', 'replace')

    def wait_output(self, pattern: str, timeout: float) -> 're.Match[str]':
        """Wait until the output matches ``pattern``; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.output())
            if match:
                return match
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError('no {!r} in the output of {} (exit code {}):\n{}'.format(
                    pattern, self.proc.args, self.proc.poll(), self.output()))
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Send ``sig`` unless the process has ended, kill it if it has not
        ended in time, and return its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        return self.proc.returncode


class Server(NamedTuple):
    url: str
    process: Process


def _env(**extra: str) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED='1', **extra)
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    return env


@contextlib.contextmanager
def run_server(example: ServerExample) -> Iterator[Server]:
    """Start ``example`` on a free port and wait until it accepts connections."""
    port = free_port()
    command = [arg.replace('{port}', str(port)) for arg in example.command]
    with Process(command, os.path.join(EXAMPLES, 'server', example.folder),
                 _env(PORT=str(port))) as process:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                socket.create_connection(('127.0.0.1', port), timeout=1).close()
                break
            except OSError:
                if process.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError('{} did not start (exit code {}):\n{}'.format(
                        command, process.proc.poll(), process.output()))
                time.sleep(0.1)
        yield Server('http://127.0.0.1:{}'.format(port), process)


@pytest.fixture(scope='module', autouse=True)
def client_bundle() -> None:
    """The pages need the engine.io-client bundle, which ``make npm`` installs."""
    if not os.path.isfile(BUNDLE):
        pytest.skip('{} is missing: run "make npm" first'.format(BUNDLE))


def _check_page(url: str, page: str) -> None:
    response = requests.get(url + '/', timeout=10)
    assert response.status_code == 200
    assert '<title>{}</title>'.format(TITLES[page]) in response.text
    scripts = ['/vendor/engine.io.min.js']
    if page == 'latency':
        scripts.append('/static/latency.js')
    for script in scripts:
        assert requests.get(url + script, timeout=10).status_code == 200, script


def _echo_polling(url: str, sid: str) -> None:
    assert rc.post(url, sid, rc.encode_payload(['4hello', b'\x01\x02'])).body == b'ok'
    echoed: list = []
    for _ in range(5):
        echoed += rc.messages(rc.decode_payload(rc.get(url, sid).body))
        if len(echoed) >= 2:
            break
    assert echoed == ['hello', b'\x01\x02']


def _echo_websocket(url: str, sid: str) -> None:
    ws = rc.upgrade_probe(url, sid)
    try:
        ws.send('5')
        ws.send('4over websocket')
        ws.send(b'\x03')
        received: list = []
        for _ in range(5):
            packet = ws.recv_packet()
            if packet.type == '4':
                received.append(packet.data)
            if len(received) == 2:
                break
        assert received == ['over websocket', b'\x03']
    finally:
        ws.close()


@pytest.mark.parametrize('name', sorted(SERVER_EXAMPLES))
def test_server_example(name: str) -> None:
    example = SERVER_EXAMPLES[name]
    with run_server(example) as server:
        try:
            _check_page(server.url, example.page)
            hs = rc.handshake(server.url)
            assert hs.open['upgrades'] == ['websocket']
            _echo_polling(server.url, hs.sid)
            _echo_websocket(server.url, hs.sid)
        except BaseException:
            print(server.process.output())
            raise


#: name -> (folder below examples/client/, script, a line showing an echo over WebSocket)
CLIENT_EXAMPLES = {
    'threads-simple': ('threads', 'simple_client',
                       r"received 'hello #\d+' \(transport: websocket\)"),
    'threads-latency': ('threads', 'latency_client', r'latency: [\d.]+ ms \(websocket\)'),
    'asyncio-simple': ('asyncio', 'simple_client',
                       r"received 'hello #\d+' \(transport: websocket\)"),
    'asyncio-latency': ('asyncio', 'latency_client', r'latency: [\d.]+ ms \(websocket\)'),
}


@pytest.fixture(scope='module')
def demo_server() -> Iterator[Server]:
    """The latency demo server that the client READMEs point to."""
    with run_server(SERVER_EXAMPLES['wsgi-latency']) as server:
        yield server


@pytest.mark.parametrize('name', sorted(CLIENT_EXAMPLES))
def test_client_example(name: str, demo_server: Server) -> None:
    folder, script, echo_line = CLIENT_EXAMPLES[name]
    with Process([PY, script + '.py', demo_server.url],
                 os.path.join(EXAMPLES, 'client', folder), _env()) as client:
        sid = client.wait_output(r'connected with sid (\S+)', 10).group(1)
        client.wait_output(echo_line, 10)
        assert client.stop() == 0, client.output()
        assert 'disconnected: client disconnect' in client.output()
    demo_server.process.wait_output(re.escape(sid) + ' disconnected: client disconnect', 5)
