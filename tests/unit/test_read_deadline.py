"""ReadDeadline: one timer per connection bounds every read."""
import asyncio

import pytest

from engineio.async_drivers._read_deadline import ReadDeadline


def run(coro):
    return asyncio.new_event_loop().run_until_complete(coro)


def test_a_read_that_completes_in_time_returns_its_value():
    async def main():
        deadline = ReadDeadline(0.2)
        queue = asyncio.Queue()
        values = []
        for i in range(5):
            asyncio.get_running_loop().call_later(0.05, queue.put_nowait, i)
            values.append(await deadline.read(queue.get()))
        deadline.stop()
        return values

    # five reads of 50 ms each: 250 ms in all, longer than the timeout,
    # but each one alone is in time
    assert run(main()) == [0, 1, 2, 3, 4]


def test_a_read_that_waits_too_long_times_out_and_the_next_works():
    async def main():
        deadline = ReadDeadline(0.05)
        queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(asyncio.TimeoutError):
            await deadline.read(queue.get())
        waited = loop.time() - start
        queue.put_nowait('late')
        value = await deadline.read(queue.get())
        task = asyncio.current_task()
        deadline.stop()
        return waited, value, getattr(task, 'cancelling', lambda: 0)()

    waited, value, cancelling = run(main())
    assert 0.05 <= waited < 1.0
    assert value == 'late'
    assert cancelling == 0  # our own cancel was taken back


def test_a_cancel_from_elsewhere_is_not_mistaken_for_a_timeout():
    async def main():
        deadline = ReadDeadline(10)
        reader = asyncio.ensure_future(deadline.read(asyncio.Queue().get()))
        await asyncio.sleep(0.01)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        deadline.stop()

    run(main())


def test_time_between_reads_does_not_count():
    async def main():
        deadline = ReadDeadline(0.05)
        queue = asyncio.Queue()
        queue.put_nowait(1)
        assert await deadline.read(queue.get()) == 1
        await asyncio.sleep(0.12)  # no read waits: nothing to time out
        asyncio.get_running_loop().call_later(0.02, queue.put_nowait, 2)
        value = await deadline.read(queue.get())
        deadline.stop()
        return value

    assert run(main()) == 2
