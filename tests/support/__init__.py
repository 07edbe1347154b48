"""Helpers shared by the end-to-end tests: real servers, raw and JavaScript clients."""
from __future__ import annotations

import threading
from typing import Any, Callable


class Background:
    """Run ``fn(*args, **kwargs)`` in a daemon thread, so a call that might
    block (a long poll, a server call under test) cannot hang the test;
    :meth:`result` waits a bounded time for it."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._value: Any = None
        self._error: Any = None
        self._thread = threading.Thread(target=self._run, args=(fn, args, kwargs),
                                        daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        try:
            self._value = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the test thread
            self._error = exc

    def result(self, timeout: float = 5.0) -> Any:
        """The return value (or exception) of the call; fails the test if the
        call is still running after ``timeout`` seconds."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), 'still blocked after {} s'.format(timeout)
        if self._error is not None:
            raise self._error
        return self._value
