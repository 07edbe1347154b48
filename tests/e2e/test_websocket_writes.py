"""WebSocket writes from handlers, on real servers in every in-process mode.

A session's own handler writes its replies to the WebSocket itself, while
the writer task sends what other threads or tasks queue for the session:
both together must keep every message, in order. And a client that sends
faster than its handler takes the messages is stopped once the messages
waiting for the handler pass the session's queue limit.
"""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable, List

import pytest
import websocket

import engineio
from tests.e2e.conftest import SERVER_MODES
from tests.support import async_servers, servers

COUNT = 300
BOUND = 10.0


@pytest.fixture(params=sorted(SERVER_MODES))
def mode(request: Any) -> str:
    return request.param


def start(stack: Any, mode: str, on_message: Callable[..., Any],
          **options: Any) -> tuple:
    """An Engine.IO server whose message handler is ``on_message(eio, sid,
    data)`` (a coroutine function for the asyncio servers); returns
    (server, base URL, disconnect reasons by sid)."""
    reasons: dict = {}
    if mode == 'threading':
        eio = engineio.Server(async_mode='threading', **options)
        eio.on('message', lambda sid, data: on_message(eio, sid, data))
        eio.on('disconnect', lambda sid, reason: reasons.setdefault(
            sid, []).append(reason))
        url = stack.enter_context(servers.serve(
            'threading', eio, engineio.WSGIApp(eio)))
        return eio, url, reasons
    eio = engineio.AsyncServer(async_mode=SERVER_MODES[mode], **options)

    async def message(sid, data):
        await on_message(eio, sid, data)

    async def disconnect(sid, reason):
        reasons.setdefault(sid, []).append(reason)

    eio.on('message', message)
    eio.on('disconnect', disconnect)
    app = async_servers.make_app(mode, eio)
    url = stack.enter_context(servers.serve(mode, eio, app))
    return eio, url, reasons


def open_ws(url: str) -> tuple:
    ws = websocket.create_connection(
        url.replace('http', 'ws', 1) + '/engine.io/?EIO=4&transport=websocket',
        timeout=BOUND)
    opening = ws.recv()
    assert opening.startswith('0{')
    sid = opening.split('"sid":"')[1].split('"')[0]
    return ws, sid


def receive_messages(ws: Any, count: int) -> List[str]:
    got: List[str] = []
    deadline = time.monotonic() + BOUND
    while len(got) < count and time.monotonic() < deadline:
        frame = ws.recv()
        if frame == '2':
            ws.send('3')
        elif frame.startswith('4'):
            got.append(frame[1:])
    return got


def test_replies_and_pushes_keep_their_order(mode: str, stack: Any) -> None:
    """The handler replies COUNT times while another thread or task pushes
    COUNT messages to the same client: all arrive, each series in order."""
    def push_from_elsewhere(eio: Any, sid: str) -> None:
        if mode == 'threading':
            def push() -> None:
                for i in range(COUNT):
                    eio.send(sid, 'push%d' % i)
            threading.Thread(target=push, daemon=True).start()
        else:
            async def push() -> None:
                for i in range(COUNT):
                    await eio.send(sid, 'push%d' % i)
                    if i % 10 == 0:
                        await asyncio.sleep(0)
            eio.start_background_task(push)

    if mode == 'threading':
        def on_message(eio, sid, data):
            push_from_elsewhere(eio, sid)
            for i in range(COUNT):
                eio.send(sid, 'reply%d' % i)
    else:
        async def on_message(eio, sid, data):
            push_from_elsewhere(eio, sid)
            for i in range(COUNT):
                await eio.send(sid, 'reply%d' % i)
                if i % 10 == 0:
                    await asyncio.sleep(0)

    _, url, _ = start(stack, mode, on_message)
    ws, _ = open_ws(url)
    try:
        ws.send('4go')
        got = receive_messages(ws, 2 * COUNT)
    finally:
        ws.close()
    assert [m for m in got if m.startswith('reply')] == \
        ['reply%d' % i for i in range(COUNT)]
    assert [m for m in got if m.startswith('push')] == \
        ['push%d' % i for i in range(COUNT)]


def test_a_client_faster_than_its_handler_is_stopped(mode: str,
                                                     stack: Any) -> None:
    """Messages pile up behind a handler that takes a second each: past the
    session's queue limit (1 MiB here) the session ends with ``transport
    error``, and a second client is served meanwhile."""
    if mode == 'threading':
        def on_message(eio, sid, data):
            if data == 'ping':
                eio.send(sid, 'pong')
            else:
                time.sleep(1)
    else:
        async def on_message(eio, sid, data):
            if data == 'ping':
                await eio.send(sid, 'pong')
            else:
                await asyncio.sleep(1)

    _, url, reasons = start(stack, mode, on_message,
                            max_http_buffer_size=100000)
    flooder, flooder_sid = open_ws(url)
    other, _ = open_ws(url)
    try:
        chunk = '4' + 'x' * 90000
        try:
            for _ in range(30):  # 2.7 MB: well past the limit
                flooder.send(chunk)
        except OSError:
            pass  # the server closed the connection: the session is over
        deadline = time.monotonic() + BOUND
        while flooder_sid not in reasons and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reasons.get(flooder_sid) == ['transport error']
        other.send('4ping')
        assert receive_messages(other, 1) == ['pong']
    finally:
        flooder.close()
        other.close()


@pytest.fixture
def stack() -> Any:
    import contextlib
    with contextlib.ExitStack() as exit_stack:
        yield exit_stack
