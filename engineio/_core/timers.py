"""Deadlines of many sessions in one heap, without I/O.

One background task per server serves every session's heartbeat: it sleeps
until :meth:`TimerQueue.next_time`, then handles :meth:`TimerQueue.pop_due`.
Each key has at most one live deadline; rescheduling leaves the old heap
entry behind, and it is skipped when it comes up. When stale entries
outnumber the live ones the heap is rebuilt, and when no deadline is left it
is emptied, so that the keys of sessions that ended are not kept alive until
their old deadlines.
"""
from __future__ import annotations

import heapq
import itertools
from typing import Any, Dict, Hashable, List, Optional, Tuple


class TimerQueue:
    """A min-heap of (deadline, key) with one live deadline per key."""

    def __init__(self) -> None:
        self._heap: List[Tuple[float, int, Any]] = []
        self._when: Dict[Hashable, float] = {}
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._when)

    def schedule(self, key: Hashable, when: Optional[float]) -> bool:
        """Set (or with None, cancel) the deadline of ``key``.

        Returns True when this deadline became the earliest one, so that a
        sleeping timer task must be woken to sleep less.
        """
        if when is None:
            if self._when.pop(key, None) is not None:
                self._compact()
            return False
        if self._when.get(key) == when:
            return False
        self._when[key] = when
        heapq.heappush(self._heap, (when, next(self._order), key))
        self._compact()
        return self._heap[0][0] == when

    def _compact(self) -> None:
        """Rebuild the heap from the live deadlines once stale entries are
        the majority (amortised constant time per call)."""
        if not self._when:
            self._heap.clear()
        elif len(self._heap) > 2 * len(self._when) + 64:
            self._heap = [(when, next(self._order), key)
                          for key, when in self._when.items()]
            heapq.heapify(self._heap)

    def pop_due(self, now: float) -> List[Any]:
        """Remove and return the keys whose deadline is ``now`` or earlier."""
        due = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, _, key = heapq.heappop(heap)
            if self._when.get(key) == when:
                del self._when[key]
                due.append(key)
        if not self._when:
            heap.clear()  # only stale entries may be left
        return due

    def next_time(self) -> Optional[float]:
        """The earliest live deadline, or None when nothing is scheduled."""
        heap = self._heap
        while heap and self._when.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None
