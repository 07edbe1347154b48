"""Drive ``engineio.Client`` and ``engineio.AsyncClient`` from the same test.

:func:`make_driver` returns a :class:`SyncDriver` or an :class:`AsyncDriver`
with the same blocking methods; the async one runs the client on an event
loop in a background thread. Both register handlers that record every
event, with the client's ``state`` at the time (python-socketio decides on
reconnection from it).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import Any, Callable, List, Optional

import engineio

#: Seconds any single client call may take in a test.
CALL_TIMEOUT = 15.0


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

    def wait(self, count: int = 1, timeout: float = 5.0) -> List[Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._items) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError('timed out waiting for {} item(s); got {!r}'.format(
                        count, self._items[-10:]))
                self._cond.wait(remaining)
            return list(self._items)


class Driver:
    """Common part: the client, its recorders and handlers."""

    kind = ''

    def __init__(self, client: Any) -> None:
        self.client = client
        self.connects = Recorder()
        #: (reason, state when the handler ran)
        self.disconnects = Recorder()
        self.messages = Recorder()
        #: called with each message after it was recorded
        self.on_message: Optional[Callable[[Any], Any]] = None

    @property
    def sid(self) -> Optional[str]:
        return self.client.sid

    @property
    def state(self) -> str:
        return self.client.state

    def transport(self) -> Optional[str]:
        return self.client.transport()

    def wait_messages(self, count: int, timeout: float = 5.0) -> List[Any]:
        return self.messages.wait(count, timeout)

    def wait_disconnect(self, timeout: float = 5.0) -> Any:
        """(reason, state) of the first disconnect event."""
        return self.disconnects.wait(1, timeout)[0]


class SyncDriver(Driver):
    kind = 'sync'

    def __init__(self, **options: Any) -> None:
        options.setdefault('handle_sigint', False)
        super().__init__(engineio.Client(**options))
        c = self.client
        c.on('connect', lambda: self.connects.add(c.state))
        c.on('disconnect', lambda reason: self.disconnects.add((reason, c.state)))

        @c.on('message')
        def message(data):
            self.messages.add(data)
            if self.on_message is not None:
                self.on_message(data)

    def connect(self, url: str, **kwargs: Any) -> None:
        self.client.connect(url, **kwargs)

    def send(self, data: Any) -> None:
        self.client.send(data)

    def disconnect(self, **kwargs: Any) -> None:
        self.client.disconnect(**kwargs)

    def wait(self, timeout: float = 5.0) -> bool:
        """Whether ``wait()`` returned within ``timeout`` seconds."""
        th = threading.Thread(target=self.client.wait, daemon=True)
        th.start()
        th.join(timeout)
        return not th.is_alive()

    def close(self) -> None:
        self.client.disconnect()


class AsyncDriver(Driver):
    kind = 'async'

    def __init__(self, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        options.setdefault('handle_sigint', False)
        super().__init__(self.run(self._create(options)))
        c = self.client
        c.on('connect', lambda: self.connects.add(c.state))

        @c.on('disconnect')
        async def disconnect(reason):
            self.disconnects.add((reason, c.state))

        @c.on('message')
        async def message(data):
            self.messages.add(data)
            if self.on_message is not None:
                result = self.on_message(data)
                if asyncio.iscoroutine(result):
                    await result

    @staticmethod
    async def _create(options: dict) -> Any:
        factory = options.get('http_session')
        if isinstance(factory, _InLoop):
            options['http_session'] = factory.make()
        return engineio.AsyncClient(**options)

    def run(self, coro: Any, timeout: float = CALL_TIMEOUT) -> Any:
        """Run a coroutine on the client's loop and return its result."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def connect(self, url: str, **kwargs: Any) -> None:
        self.run(self.client.connect(url, **kwargs))

    def send(self, data: Any) -> None:
        self.run(self.client.send(data))

    def disconnect(self, **kwargs: Any) -> None:
        self.run(self.client.disconnect(**kwargs))

    def wait(self, timeout: float = 5.0) -> bool:
        try:
            self.run(self.client.wait(), timeout)
        except concurrent.futures.TimeoutError:
            return False
        return True

    def close(self) -> None:
        try:
            self.run(self.client.disconnect())
            self.run(_drain())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
            if not self.loop.is_running():
                self.loop.close()


async def _drain() -> None:
    """Let tasks that are finishing (closing sessions) run."""
    for _ in range(5):
        await asyncio.sleep(0.01)


class _InLoop:
    """An object that must be created on the client's event loop (such as
    an ``aiohttp.ClientSession``): ``make()`` creates it there."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def in_loop(make: Callable[[], Any]) -> _InLoop:
    """Wrap the ``http_session`` option of an :class:`AsyncDriver` so that
    it is created on the driver's loop."""
    return _InLoop(make)


def make_driver(kind: str, **options: Any) -> Driver:
    """A driver for the ``'sync'`` or ``'async'`` client."""
    return SyncDriver(**options) if kind == 'sync' else AsyncDriver(**options)
