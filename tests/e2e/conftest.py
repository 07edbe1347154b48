"""Fixtures for end-to-end tests: a real Engine.IO server on 127.0.0.1 with
handlers that record every event for the test to inspect."""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Any, Callable, Iterator, List, NamedTuple, Optional

import pytest

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

import engineio  # noqa: E402

from tests.support import servers  # noqa: E402


class Recorder:
    """A thread-safe list that tests can wait on."""

    def __init__(self) -> None:
        self._items: List[Any] = []
        self._cond = threading.Condition()

    def add(self, item: Any) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    @property
    def items(self) -> List[Any]:
        with self._cond:
            return list(self._items)

    def wait_for(self, predicate: Callable[[List[Any]], bool],
                 timeout: float = 5.0, what: str = 'condition') -> List[Any]:
        """Block until ``predicate(items)`` holds; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self._items):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError('timed out waiting for {}; got {!r}'.format(
                        what, self._items))
                self._cond.wait(remaining)
            return list(self._items)

    def wait(self, count: int = 1, timeout: float = 5.0) -> List[Any]:
        """Block until at least ``count`` items were recorded."""
        return self.wait_for(lambda items: len(items) >= count, timeout,
                             '{} item(s)'.format(count))


class Message(NamedTuple):
    sid: str
    data: Any
    transport: Optional[str]


class Harness:
    """A running server: ``eio`` (the engineio server), ``url`` (base URL),
    and recorders ``connects`` (sid, environ), ``messages`` (:class:`Message`)
    and ``disconnects`` (sid, reason)."""

    def __init__(self, eio: Any) -> None:
        self.eio = eio
        self.url = ''
        self.connects = Recorder()
        self.messages = Recorder()
        self.disconnects = Recorder()

    def messages_of(self, sid: str) -> List[Any]:
        return [m.data for m in self.messages.items if m.sid == sid]

    def wait_messages(self, sid: str, count: int, timeout: float = 5.0) -> List[Any]:
        """Block until ``count`` messages from ``sid`` arrived; return them."""
        self.messages.wait_for(
            lambda items: len([m for m in items if m.sid == sid]) >= count,
            timeout, '{} messages from {}'.format(count, sid))
        return self.messages_of(sid)

    def wait_disconnect(self, sid: str, timeout: float = 5.0) -> str:
        """Block until ``sid`` disconnected; return the reason."""
        items = self.disconnects.wait_for(
            lambda items: any(s == sid for s, _ in items), timeout,
            'disconnect of {}'.format(sid))
        return [reason for s, reason in items if s == sid][0]

    def disconnect_reasons(self, sid: str) -> List[str]:
        return [reason for s, reason in self.disconnects.items if s == sid]


@pytest.fixture
def eio_server() -> Iterator[Callable[..., Harness]]:
    """Factory: ``eio_server(echo=False, on_connect=None, on_message=None,
    app_kwargs=None, **server_options)`` starts an ``engineio.Server`` in
    threading mode behind ``engineio.WSGIApp`` on a real server and returns
    a :class:`Harness`.  ``echo`` sends every message back;
    ``on_connect(harness, sid, environ)`` supplies the connect handler's return value;
    ``on_message(harness, sid, data)`` runs after a message is recorded."""
    stack = contextlib.ExitStack()

    def factory(echo: bool = False,
                on_connect: Optional[Callable[[Harness, str, dict], Any]] = None,
                on_message: Optional[Callable[[Harness, str, Any], None]] = None,
                app_kwargs: Optional[dict] = None,
                **options: Any) -> Harness:
        options.setdefault('async_mode', 'threading')
        eio = engineio.Server(**options)
        harness = Harness(eio)

        @eio.on('connect')
        def connect(sid, environ):
            harness.connects.add((sid, environ))
            return on_connect(harness, sid, environ) if on_connect else None

        @eio.on('message')
        def message(sid, data):
            try:
                transport = eio.transport(sid)
            except KeyError:
                transport = None
            harness.messages.add(Message(sid, data, transport))
            if echo:
                eio.send(sid, data)
            if on_message:
                on_message(harness, sid, data)

        @eio.on('disconnect')
        def disconnect(sid, reason):
            harness.disconnects.add((sid, reason))

        app = engineio.WSGIApp(eio, **(app_kwargs or {}))
        harness.url = stack.enter_context(
            servers.serve(options['async_mode'], eio, app))
        stack.callback(eio.shutdown)
        return harness

    with stack:
        yield factory
