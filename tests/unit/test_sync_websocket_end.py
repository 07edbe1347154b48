"""How the sync server's WebSocket reader ends a session: it closes the
WebSocket itself when no writer runs, and never under a thread still
writing to it."""
from __future__ import annotations

import queue
import threading
import time
from typing import Any, List

import engineio
from engineio.socket import Socket

BOUND = 5.0


class FakeWebSocket:
    """Frames from the client come from a queue (None: it closed); what the
    server does to the WebSocket is logged in order."""

    def __init__(self, block_sends: bool = False) -> None:
        self.incoming: queue.Queue = queue.Queue()
        self.log: List[Any] = []
        self.sending = threading.Event()
        self.release = threading.Event()
        self.block_sends = block_sends

    def wait(self) -> Any:
        return self.incoming.get(timeout=BOUND)

    def send(self, data: Any) -> None:
        if self.block_sends:
            self.sending.set()
            self.release.wait(BOUND)
        self.log.append(('send', data))

    def close(self) -> None:
        self.log.append('close')

    def abort(self) -> None:
        self.log.append('abort')


def open_session(**options: Any) -> tuple:
    eio = engineio.Server(async_mode='threading', **options)
    reasons: List[str] = []
    eio.on('disconnect', lambda sid, reason: reasons.append(reason))
    socket = eio._open_session(Socket, 'websocket')
    eio._settle_connect(socket, None, {})
    return eio, socket, reasons


def serve(socket: Socket, ws: FakeWebSocket) -> threading.Thread:
    reader = threading.Thread(target=socket._websocket_handler, args=(ws,))
    reader.start()
    return reader


def test_a_client_close_ends_the_session_without_a_writer_thread():
    eio, socket, reasons = open_session()
    writers = []
    start = eio.start_background_task
    eio.start_background_task = lambda target, *args: (
        writers.append(target.__name__), start(target, *args))[1]
    ws = FakeWebSocket()
    reader = serve(socket, ws)
    ws.incoming.put(None)  # the client closed the connection
    reader.join(BOUND)
    assert not reader.is_alive()
    assert '_websocket_writer' not in writers
    assert ws.log[0][0] == 'send' and ws.log[0][1].startswith('0')  # OPEN
    assert ws.log[1:] == ['close']
    assert reasons == ['transport close']
    eio.shutdown()


def test_a_server_close_still_sends_its_close_packet_first():
    eio, socket, reasons = open_session()
    ws = FakeWebSocket()
    reader = serve(socket, ws)
    deadline = time.monotonic() + BOUND
    while not ws.log and time.monotonic() < deadline:
        time.sleep(0.01)
    socket.close()
    ws.incoming.put(None)  # the client goes once it got the CLOSE packet
    reader.join(BOUND)
    assert not reader.is_alive()
    assert ws.log[1:] == [('send', '1'), 'close']
    assert reasons == ['server disconnect']
    eio.shutdown()


def test_the_reader_waits_for_a_handler_still_writing():
    """A handler thread writing its reply when the client closes: the
    reader returns (and the WebSocket ends) only after that write."""
    eio, socket, reasons = open_session()
    ws = FakeWebSocket()
    reader = serve(socket, ws)
    deadline = time.monotonic() + BOUND
    while not ws.log and time.monotonic() < deadline:
        time.sleep(0.01)
    ws.block_sends = True
    socket._queue(engineio.packet.Packet(engineio.packet.MESSAGE, 'reply'))
    handler = threading.Thread(target=socket._write_now, args=(ws,))
    handler.start()
    assert ws.sending.wait(BOUND)
    ws.incoming.put(None)  # the client closes during the write
    reader.join(0.3)
    assert reader.is_alive()  # waits for the handler's write
    ws.release.set()
    handler.join(BOUND)
    reader.join(BOUND)
    assert not reader.is_alive()
    assert ws.log[1:] == [('send', '4reply'), 'close']
    assert reasons == ['transport close']
    eio.shutdown()
