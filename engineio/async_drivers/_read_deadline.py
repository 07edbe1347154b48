"""A read timeout for a WebSocket that costs one timer per connection.

``asyncio.wait_for`` runs every read in a task of its own and arms a timer
per call; for a busy connection that is most of the cost of a message. A
:class:`ReadDeadline` keeps one timer per connection instead: each read only
moves the deadline, and the timer, when it fires, cancels the read that has
waited too long (or re-arms itself for the current deadline).
"""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Optional, TypeVar

T = TypeVar('T')


def undo_own_cancel(task: Optional['asyncio.Task[Any]']) -> None:
    """Forget a cancel this code made itself and has handled (Python
    3.11+ counts cancels; an outer timeout would otherwise take it for
    its own)."""
    uncancel = getattr(task, 'uncancel', None)
    if uncancel is not None:
        uncancel()


class ReadDeadline:
    """Bounds each read of one connection to ``timeout`` seconds."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._reader: Optional['asyncio.Task[Any]'] = None
        self._deadline = 0.0
        self._timer: Optional[asyncio.TimerHandle] = None
        self._expired = False

    async def read(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` (a read that is safe to cancel); raise
        ``asyncio.TimeoutError`` if it takes longer than the timeout."""
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + self.timeout
        if self._timer is None:
            self._timer = loop.call_at(self._deadline, self._check)
        reader = self._reader = asyncio.current_task()
        try:
            return await awaitable
        except asyncio.CancelledError:
            if not self._expired:
                raise
            self._expired = False
            undo_own_cancel(reader)
            raise asyncio.TimeoutError() from None
        finally:
            self._reader = None

    def stop(self) -> None:
        """Disarm the timer (the connection ended)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        reader = self._reader
        if reader is None:
            return  # no read waits; the next one re-arms the timer
        loop = asyncio.get_running_loop()
        if loop.time() >= self._deadline:
            self._expired = True
            reader.cancel()
        else:
            self._timer = loop.call_at(self._deadline, self._check)
