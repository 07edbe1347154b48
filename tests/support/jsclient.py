"""Run the official engine.io-client (tests/js/eio_client.js) under Node.

The script prints one JSON event per line; :class:`JsClient` collects them
from a reader thread so a test can wait for an event while the client is
still running (for example to act on the server side after "open").
Node and ``tests/js/node_modules`` are required: a missing one is an error,
not a skip (``make test`` installs them).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from typing import Any, Dict, List, Optional

JS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'js')
SCRIPT = os.path.join(JS_DIR, 'eio_client.js')


def _node() -> str:
    node = shutil.which('node')
    if node is None:
        raise RuntimeError('node is not on PATH; the JavaScript e2e tests need Node.js')
    if not os.path.isdir(os.path.join(JS_DIR, 'node_modules', 'engine.io-client')):
        raise RuntimeError('{} has no node_modules/engine.io-client; run '
                           '"npm ci" there (make test does)'.format(JS_DIR))
    return node


class JsClient:
    """A running eio_client.js process; use as a context manager so the
    child is always killed."""

    def __init__(self, config: Dict[str, Any]) -> None:
        self.config = dict(config)
        self.config.setdefault('timeout', 20000)
        self.events: List[Dict[str, Any]] = []
        self.returncode: Optional[int] = None
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            [_node(), SCRIPT, json.dumps(self.config)], cwd=JS_DIR,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self._stderr = b''
        self._err_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._err_reader.start()
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                event = {'event': 'garbage', 'line': line.decode('utf-8', 'replace')}
            with self._cond:
                self.events.append(event)
                self._cond.notify_all()
        with self._cond:
            self.returncode = self.proc.wait()
            self._cond.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self._stderr = self.proc.stderr.read()

    def wait_event(self, name: str, timeout: float = 10.0) -> Dict[str, Any]:
        """Block until an event called ``name`` was printed; return it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events:
                    if event.get('event') == name:
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.returncode is not None:
                    raise AssertionError('JS client printed no {!r} event: {}'.format(
                        name, self.describe()))
                self._cond.wait(remaining)

    def finish(self, timeout: Optional[float] = None) -> List[Dict[str, Any]]:
        """Wait for the script to end and return all events.  Fails the test
        (after killing the child) unless it ended with a "done" event."""
        if timeout is None:
            timeout = self.config['timeout'] / 1000.0 + 5.0
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.returncode is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
        if self.returncode is None:
            self.kill()
            raise AssertionError('JS client did not exit in {} s: {}'.format(
                timeout, self.describe()))
        self._err_reader.join(1.0)
        assert self.returncode == 0, 'JS client failed (exit {}): {}'.format(
            self.returncode, self.describe())
        return list(self.events)

    def named(self, name: str) -> List[Dict[str, Any]]:
        """The events called ``name`` received so far."""
        with self._cond:
            return [e for e in self.events if e.get('event') == name]

    def messages(self) -> List[Any]:
        """Data of the messages received so far (binary as ``bytes``)."""
        out = []
        for event in self.named('message'):
            data = event['data']
            out.append(bytes(data['binary']) if isinstance(data, dict) else data)
        return out

    def describe(self) -> str:
        with self._cond:
            events = list(self.events)
        return 'events={!r} stderr={!r}'.format(
            events, self._stderr.decode('utf-8', 'replace')[-2000:])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)

    def __enter__(self) -> 'JsClient':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.kill()
        self._reader.join(5)
        self._err_reader.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def run(config: Dict[str, Any], timeout: Optional[float] = None) -> JsClient:
    """Run a script to completion; returns the finished client (events in
    ``.events``).  Fails the test if the script fails or times out."""
    with JsClient(config) as client:
        client.finish(timeout)
    return client
