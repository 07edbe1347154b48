"""Fixtures for end-to-end tests: a real Engine.IO server on 127.0.0.1 with
handlers that record every event for the test to inspect.

Tests that use :func:`eio_server` run once per e2e server (see
:data:`SERVER_MODES`); select some with ``-k``, e.g. ``-k "asgi or tornado"``.
"""
from __future__ import annotations

import asyncio
import contextlib
import inspect
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

from tests.support import async_servers, procservers, servers  # noqa: E402

#: Seconds a call to an asyncio server from a test may take.
CALL_TIMEOUT = 10.0


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
    """A running server: ``eio`` (the engineio server, called with plain
    calls in every mode, see :class:`LoopBoundServer`), ``url`` (base URL),
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


class LoopBoundServer:
    """An ``engineio.AsyncServer`` as the tests see it: its coroutine
    methods become plain calls that run in the server's event loop.

    Called from the loop itself (inside an event handler), such a call is
    deferred: the handler of the conftest awaits it, in order, before it
    returns (see :meth:`flush`).
    """

    def __init__(self, eio: Any) -> None:
        self._eio = eio
        self._deferred: List[Any] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._eio, name)
        if not inspect.ismethod(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            if not inspect.iscoroutine(result):
                return result
            loop = async_servers.loop_of(self._eio)
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                self._deferred.append(result)
                return None
            return asyncio.run_coroutine_threadsafe(result, loop).result(
                CALL_TIMEOUT)

        return call

    async def flush(self) -> None:
        """Await the calls deferred by event handlers."""
        while self._deferred:
            await self._deferred.pop(0)


#: e2e server name -> async mode; the asyncio ones are served by the
#: starters of tests/support/async_servers.py (uvicorn serves 'asgi').
SERVER_MODES = dict({'threading': 'threading'}, **async_servers.ASYNC_MODES)


@pytest.fixture(params=sorted(SERVER_MODES))
def server_name(request: Any) -> str:
    """Each e2e server in turn: ``threading`` (werkzeug), ``asgi``
    (uvicorn), ``hypercorn`` (asgi), ``aiohttp``, ``tornado``, ``sanic``."""
    return request.param


@pytest.fixture
def eio_server(server_name: str) -> Iterator[Callable[..., Harness]]:
    """Factory: ``eio_server(echo=False, on_connect=None, on_message=None,
    app_kwargs=None, **server_options)`` starts an Engine.IO server on a
    real server on 127.0.0.1 and returns a :class:`Harness`: an
    ``engineio.Server`` behind ``engineio.WSGIApp`` for ``threading``, else
    an ``engineio.AsyncServer`` in the application of its async mode
    (``app_kwargs`` go to ``WSGIApp``/``ASGIApp``).  ``echo`` sends every
    message back; ``on_connect(harness, sid, environ)`` supplies the
    connect handler's return value; ``on_message(harness, sid, data)`` runs
    after a message is recorded.  Both run in the server's handlers and
    call the server through ``harness.eio``, as plain calls in every
    mode.  ``disconnect_on_request=True`` makes the connect handler
    disconnect its own session when the query string has
    ``disconnect=me`` (process servers take only such declared options:
    ``echo``, ``burst``, ``reject``, ``disconnect_on_request``)."""
    stack = contextlib.ExitStack()
    mode = SERVER_MODES.get(server_name)

    def factory(echo: bool = False,
                on_connect: Optional[Callable[[Harness, str, dict], Any]] = None,
                on_message: Optional[Callable[[Harness, str, Any], None]] = None,
                app_kwargs: Optional[dict] = None,
                burst: Optional[str] = None, reject: Any = None,
                disconnect_on_request: bool = False,
                **options: Any) -> Harness:
        if server_name in procservers.SERVERS:
            return _start_process(stack, server_name, echo, on_connect,
                                  on_message, app_kwargs, burst, reject,
                                  disconnect_on_request, options)
        on_connect, on_message = _declared_handlers(
            on_connect, on_message, burst, reject, disconnect_on_request)
        if mode == 'threading':
            return _start_threading(stack, echo, on_connect, on_message,
                                    app_kwargs, options)
        return _start_async(stack, server_name, echo, on_connect,
                            on_message, app_kwargs, options)

    with stack:
        yield factory


def _declared_handlers(on_connect: Any, on_message: Any,
                       burst: Optional[str], reject: Any,
                       disconnect_on_request: bool = False) -> tuple:
    """Handlers for the declarative options every e2e server supports:
    ``burst`` (a message that makes the server send ``'b0'`` ..
    ``'b99'``), ``reject`` (the connect handler's refusal value) and
    ``disconnect_on_request`` (the connect handler disconnects its own
    session when the query string has ``disconnect=me``)."""
    if reject is not None:
        def on_connect(harness, sid, environ):
            return reject
    if disconnect_on_request:
        connect_inner = on_connect

        def on_connect(harness, sid, environ):
            if 'disconnect=me' in environ.get('QUERY_STRING', ''):
                harness.eio.disconnect(sid)
            return connect_inner(harness, sid, environ) if connect_inner \
                else None
    if burst is not None:
        inner = on_message

        def on_message(harness, sid, data):
            if data == burst:
                for i in range(100):
                    harness.eio.send(sid, 'b%d' % i)
            if inner:
                inner(harness, sid, data)
    return on_connect, on_message


def _start_process(stack: contextlib.ExitStack, server_name: str,
                   echo: bool, on_connect: Any, on_message: Any,
                   app_kwargs: Any, burst: Optional[str], reject: Any,
                   disconnect_on_request: bool, options: dict) -> Any:
    """A server in its own process (see tests/support/procservers.py);
    handlers can only be declared (``echo``, ``burst``, ``reject``,
    ``disconnect_on_request``)."""
    if on_connect or on_message or app_kwargs:
        raise ValueError('process servers take declared handlers only')
    why = procservers.unavailable(server_name)
    if why:
        print('SKIP {}: {}'.format(server_name, why))
        pytest.skip('{}: {}'.format(server_name, why))
    harness = procservers.start(server_name, echo=echo, burst=burst,
                                reject=reject,
                                disconnect_on_request=disconnect_on_request,
                                options=options)
    stack.callback(harness.stop)
    return harness


def _transport(eio: Any, sid: str) -> Optional[str]:
    try:
        return eio.transport(sid)
    except KeyError:
        return None


def _start_threading(stack: contextlib.ExitStack, echo: bool,
                     on_connect: Any, on_message: Any,
                     app_kwargs: Optional[dict], options: dict) -> Harness:
    eio = engineio.Server(async_mode='threading', **options)
    harness = Harness(eio)

    @eio.on('connect')
    def connect(sid, environ):
        harness.connects.add((sid, environ))
        return on_connect(harness, sid, environ) if on_connect else None

    @eio.on('message')
    def message(sid, data):
        harness.messages.add(Message(sid, data, _transport(eio, sid)))
        if echo:
            eio.send(sid, data)
        if on_message:
            on_message(harness, sid, data)

    @eio.on('disconnect')
    def disconnect(sid, reason):
        harness.disconnects.add((sid, reason))

    app = engineio.WSGIApp(eio, **(app_kwargs or {}))
    harness.url = stack.enter_context(servers.serve('threading', eio, app))
    stack.callback(eio.shutdown)
    return harness


def _start_async(stack: contextlib.ExitStack, server_name: str, echo: bool,
                 on_connect: Any, on_message: Any,
                 app_kwargs: Optional[dict], options: dict) -> Harness:
    eio = engineio.AsyncServer(async_mode=SERVER_MODES[server_name],
                               **options)
    proxy = LoopBoundServer(eio)
    harness = Harness(proxy)

    @eio.on('connect')
    async def connect(sid, environ):
        harness.connects.add((sid, environ))
        ret = on_connect(harness, sid, environ) if on_connect else None
        await proxy.flush()
        return ret

    @eio.on('message')
    async def message(sid, data):
        harness.messages.add(Message(sid, data, _transport(eio, sid)))
        if echo:
            await eio.send(sid, data)
        if on_message:
            on_message(harness, sid, data)
            await proxy.flush()

    @eio.on('disconnect')
    def disconnect(sid, reason):
        harness.disconnects.add((sid, reason))

    app = async_servers.make_app(server_name, eio, **(app_kwargs or {}))
    # the starter closes the sessions and stops the server's background task
    harness.url = stack.enter_context(servers.serve(server_name, eio, app))
    return harness
