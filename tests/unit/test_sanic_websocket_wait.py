"""The Sanic driver's WebSocket reads: messages, the end of the connection,
and the silence bound, against a stand-in for Sanic's WebSocket object."""
from __future__ import annotations

import asyncio
import time
from typing import Any, List, Optional

import pytest

pytest.importorskip('sanic')

from engineio.async_drivers import sanic as sanic_driver  # noqa: E402


class FakeAssembler:
    """Hands out queued messages like Sanic's frame assembler."""

    def __init__(self) -> None:
        self.messages: 'asyncio.Queue[Any]' = asyncio.Queue()
        self.timeouts: List[Optional[float]] = []

    async def get(self, timeout: Optional[float] = None) -> Any:
        self.timeouts.append(timeout)
        return await self.messages.get()


class FakeSanicWebSocket:
    def __init__(self) -> None:
        self.assembler = FakeAssembler()
        self.lost = asyncio.get_running_loop().create_future()
        self.closed = 0

    async def wait_for_connection_lost(self) -> None:
        await self.lost

    async def close(self) -> None:
        self.closed += 1


class FakeServer:
    ping_interval = 0.05
    ping_timeout = 0.05
    max_http_buffer_size = 1000


def make_ws() -> Any:
    ws = sanic_driver.WebSocket(lambda ws: None, FakeServer())
    ws._ws = FakeSanicWebSocket()
    return ws


def test_messages_are_read_in_order_without_a_timeout_per_read() -> None:
    async def scenario() -> None:
        ws = make_ws()
        for data in ('4one', b'4two', '4three'):
            ws._ws.assembler.messages.put_nowait(data)
        assert [await ws.wait() for _ in range(3)] == \
            ['4one', b'4two', '4three']
        # Sanic would run a read with a timeout in one more task
        assert ws._ws.assembler.timeouts == [None, None, None]
        assert ws._ws.closed == 0
        await ws.close()

    asyncio.run(scenario())


def test_a_silent_connection_ends_after_the_timeout() -> None:
    async def scenario() -> None:
        ws = make_ws()
        assert ws.timeout == pytest.approx(0.2)
        started = time.monotonic()
        assert await asyncio.wait_for(ws.wait(), 5) is None
        assert 0.15 <= time.monotonic() - started < 3
        assert ws._ws.closed == 1

    asyncio.run(scenario())


def test_a_lost_connection_ends_the_reads() -> None:
    async def scenario() -> None:
        ws = make_ws()
        ws.timeout = 60  # the end is noticed, not waited out
        ws._ws.lost.set_result(None)
        assert await asyncio.wait_for(ws.wait(), 5) is None
        await ws.close()

    asyncio.run(scenario())
