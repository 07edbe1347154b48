"""The asyncio server's session: performs what the protocol core decides.

It mirrors :mod:`engineio.socket` step for step; the two differ only in
awaiting I/O and handlers (asyncio needs no lock: the steps never await).
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Dict, List, Optional

from . import exceptions, packet
from ._core.session import ProtocolViolation
from .async_drivers._read_deadline import undo_own_cancel
from .base_socket import BaseSocket


def _answer(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


class AsyncSocket(BaseSocket):
    """A client session of an :class:`engineio.AsyncServer`."""

    def __init__(self, server: Any, sid: str, transport: str = 'polling'
                 ) -> None:
        super().__init__(server, sid, transport)
        #: what the waiting long poll, if any, waits for
        self._poll_waiter: Optional[asyncio.Future] = None
        #: the open WebSocket, once upgraded, until its writer closed it
        self._ws: Any = None
        #: the writer task, started when packets wait for the WebSocket;
        #: it ends once it sent them all
        self._writer: Optional[asyncio.Task] = None
        #: the task that reads the WebSocket and the one that runs this
        #: session's handlers: they may write to the WebSocket themselves
        self._reader: Optional[asyncio.Task] = None
        self._dispatcher: Optional[asyncio.Task] = None
        #: the task writing to the WebSocket now, if any (one at a time)
        self._writing: Optional[asyncio.Task] = None
        self._write_aborted = False
        #: the task reading a POST body, which the session's timer cancels
        #: when the body is late
        self._post_reader: Optional[asyncio.Task] = None
        self._post_aborted = False

    # -- sending and closing ---------------------------------------------------

    async def send(self, pkt: packet.Packet) -> None:
        """Queue a packet for the client."""
        overflow = self._queue(pkt)
        if overflow is not None:
            await self._closed(overflow.reason)
            raise exceptions.SocketIsClosedError()
        if self._writing is None and self._ws is not None:
            task = asyncio.current_task()
            if task is self._dispatcher or task is self._reader:
                # a reply from this session's own handler: written at once,
                # saving the hand-off to a writer task (a client that does
                # not read slows down only its own handlers)
                await self._write_now(task)
                return
        self._wake()

    def _wake(self) -> None:
        """Something changed for the client: answer the waiting poll, or
        have the queued packets written to the WebSocket."""
        waiter = self._poll_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._writer is None and self._writing is None and \
                self._ws is not None:
            self._writer = self.server.start_background_task(
                self._websocket_writer, self._ws)

    async def _write_now(self, task: asyncio.Task) -> None:
        ws = self._ws
        self._writing = task
        try:
            for pkt in self._ws_step()[0]:
                await ws.send(pkt.encode())
        except asyncio.CancelledError:
            if not self._write_aborted:
                raise
            self._write_aborted = False
            undo_own_cancel(task)
        except Exception:
            pass  # a broken connection: the reader sees it and closes
        finally:
            self._writing = None
        if self._proto.closed or self._proto.outbox:
            self._wake()  # a writer task takes it from here

    async def _send_ping(self) -> None:
        if self._queue_ping():
            self._wake()

    async def close(self, wait: bool = True, abort: bool = False,
                    reason: Any = None) -> None:
        """Close the session; returns promptly (``wait`` is accepted for
        compatibility)."""
        await self._closed(self._begin_close(reason, abort))

    async def _closed(self, reason: Any) -> None:
        """Report a close that just happened and let waiters go."""
        self._wake()
        behind_messages = self._after_close()
        if reason is None:
            return
        if behind_messages:
            self._dispatch(('disconnect', reason))
        else:
            await self.server._trigger_event('disconnect', self.sid, reason,
                                             run_async=False)

    # -- receiving -------------------------------------------------------------

    async def receive(self, pkt: packet.Packet) -> None:
        """Handle one packet from the client."""
        try:
            message, reason = self._receive_step(pkt)
        except ProtocolViolation as exc:
            await self._closed(exc.reason)
            raise
        if reason is not None:
            await self._closed(reason)
        if message is None:
            if reason is None:
                self.server._schedule(self)
        elif self.server.async_handlers:
            try:
                self._dispatch(('message', message.data),
                               self._message_size(message))
            except ProtocolViolation as exc:  # too many waiting messages
                self._stop_writing()
                await self._closed(exc.reason)
                raise
        else:
            await self.server._trigger_event('message', self.sid,
                                             message.data, run_async=False)

    def _dispatch(self, event: tuple, size: int = 0) -> None:
        """Run handlers in a background task, one at a time, in order."""
        if self._enqueue_event(event, size):
            self.server.start_background_task(self._dispatch_events)

    async def _dispatch_events(self) -> None:
        self._dispatcher = asyncio.current_task()
        try:
            event = self._next_event()
            while event is not None:
                await self.server._trigger_event(event[0], self.sid, event[1],
                                                 run_async=False)
                event = self._next_event()
        finally:
            self._dispatcher = None

    # -- polling ---------------------------------------------------------------

    def handle_get_request(self, environ: Dict[str, Any]) -> Awaitable[Any]:
        """Answer a GET: wait for packets, or run the WebSocket upgrade
        (returns the awaitable that does it)."""
        # not a coroutine function: the frame of a coroutine would keep the
        # environ for as long as the WebSocket lives
        if environ.get('HTTP_UPGRADE', '').lower() == 'websocket':
            return self._upgrade_websocket(environ)
        return self.poll()

    async def poll(self) -> List[packet.Packet]:
        """Wait for packets to send in a polling answer."""
        deadline = self._poll_deadline()
        violation = self._start_poll()
        if violation is not None:
            await self._closed(violation.reason)
            raise violation
        try:
            while True:
                pkts, closed = self._poll_step()
                if pkts:
                    return pkts
                remaining = deadline - time.monotonic()
                if closed or remaining <= 0:
                    break
                loop = asyncio.get_running_loop()
                waiter = self._poll_waiter = loop.create_future()
                # a plain timer that answers the waiter: cheaper than a
                # timeout context, which would cancel this task
                timer = loop.call_later(remaining, _answer, waiter)
                try:
                    await waiter
                finally:
                    timer.cancel()
        finally:
            self._poll_waiter = None
            self._end_poll()
        await self.close(abort=True,
                         reason=self.server.reason.TRANSPORT_ERROR)
        raise exceptions.QueueEmpty()

    async def handle_post_request(self, environ: Dict[str, Any]) -> None:
        """Receive the packets of a POST body."""
        violation = self._start_post()
        if violation is not None:
            await self._closed(violation.reason)
            raise violation
        try:
            body = await self._read_post_body(environ)
            for pkt in self._decode_post(body):
                await self.receive(pkt)
        except (Exception, asyncio.CancelledError):
            # a cancelled POST lost its client (Sanic cancels the request)
            await self._closed(self._fail())
            raise
        finally:
            self._end_post()

    async def _read_post_body(self, environ: Dict[str, Any]) -> bytes:
        """The body of the POST; the session's timer cuts a body that comes
        too slowly (see :meth:`_abort_post`): no timer per request."""
        task = self._post_reader = asyncio.current_task()
        try:
            return await self._read_body(environ)
        except asyncio.CancelledError:
            if not self._post_aborted:
                raise
            self._post_aborted = False
            undo_own_cancel(task)
            raise ValueError('POST body too slow') from None
        finally:
            self._post_reader = None

    def _abort_post(self) -> None:
        """Cancel the read of a POST whose body is late: the POST fails, and
        the session with it."""
        reader = self._post_reader
        if reader is not None and not self._post_aborted:
            self.server.logger.info('%s: POST body too slow', self.sid)
            self._post_aborted = True
            reader.cancel()

    async def _read_body(self, environ: Dict[str, Any]) -> bytes:
        length = self._read_limit(environ)
        limit = self.server.max_http_buffer_size
        body = await environ['wsgi.input'].read(
            length if length is not None else limit + 1)
        if len(body) > limit:
            raise exceptions.ContentTooLongError()
        if length is not None and len(body) != length:
            raise ValueError('body shorter than its Content-Length')
        return body

    # -- heartbeat -------------------------------------------------------------

    async def _on_timer(self, now: float) -> None:
        """The session's deadline came: ping, time out or expire."""
        action, reason = self._timer_step(now)
        if action == 'forget':
            self.server._forget_socket(self)
            self._abort_websocket()
            self._abort_post()  # no timer looks at this session any more
            return
        if action == 'close':
            await self._closed(reason)
            return
        if action == 'ping':
            await self._send_ping()
        elif action == 'abort-post':
            self._abort_post()
        if action != 'idle':
            self.server._schedule(self)

    # -- WebSocket -------------------------------------------------------------

    def _upgrade_websocket(self, environ: Dict[str, Any]) -> Awaitable[Any]:
        websocket = self.server._async['websocket']
        if websocket is None:
            return self.server._reject_no_websocket(environ)
        return websocket(self._websocket_handler, self.server)(environ)

    async def _websocket_handler(self, ws: Any) -> None:
        """Serve this session over the WebSocket ``ws`` until it ends."""
        if not self._proto.upgraded and not await self._join_upgrade(ws):
            return
        self._ws, self._reader = ws, asyncio.current_task()
        await self._write_now(self._reader)  # packets may be waiting already
        reason = self.server.reason.TRANSPORT_CLOSE
        try:
            while True:
                data = await ws.wait()
                if data is None:
                    break
                await self.receive(self._decode_frame(data))
                if self._proto.closed:
                    break
        except asyncio.CancelledError:
            await self.close(abort=True, reason=reason)
            raise
        except Exception as exc:
            reason = self._frame_error_reason(exc)
        self._reader = None
        idle_ws = None
        if self._writer is None and self._writing is None:
            # nothing is being written: this task closes the WebSocket,
            # no writer task is started for it
            idle_ws, self._ws = self._ws, None
        await self.close(abort=True, reason=reason)
        writer = self._writer
        if writer is not None:  # let it finish before the WebSocket ends
            try:
                await writer
            except asyncio.CancelledError:
                if not writer.cancelled():
                    raise  # this task was cancelled, not the writer
        if idle_ws is not None:
            await self._close_ws(idle_ws)
        self._ws = None
        self._websocket_ended()

    async def _join_upgrade(self, ws: Any) -> bool:
        """The probe exchange of a polling -> WebSocket upgrade."""
        if not self._websocket_opened():
            await self._close_ws(ws)
            return False
        try:
            await ws.send(self._probe_step(await ws.wait()).encode())
            self._wake()  # a waiting poll is answered with a NOOP
            self._upgrade_step(await ws.wait())
        except Exception as exc:
            self._abandon_upgrade(exc)
            await self._close_ws(ws)
            return False
        self._wake()
        return True

    def _abort_websocket(self) -> None:
        """Stop the WebSocket writer of a session that ended a grace period
        ago: it is stuck on a client that does not read."""
        writer = self._writer
        if writer is not None and not writer.done():
            self.server.logger.info('%s: aborting the WebSocket', self.sid)
            writer.cancel()
        self._stop_writing()

    def _stop_writing(self) -> None:
        """Free a handler stuck writing to a client that does not read."""
        writing = self._writing
        if writing is not None and writing is not self._writer:
            self._write_aborted = True
            writing.cancel()

    async def _websocket_writer(self, ws: Any) -> None:
        """Send the queued packets until none is left; once the session is
        closed, close the WebSocket (which ends its reader)."""
        task = self._writer
        closed = False
        try:
            while not closed and self._writing is None:
                pkts, closed = self._ws_step()
                if not pkts and not closed:
                    return
                self._writing = task
                try:
                    for pkt in pkts:
                        await ws.send(pkt.encode())
                except Exception:
                    closed = True  # the connection broke
                finally:
                    self._writing = None
        finally:
            self._writer = None
        if closed:
            self._ws = None  # nothing more to write to it
            await self._close_ws(ws)

    @staticmethod
    async def _close_ws(ws: Any) -> None:
        try:
            await ws.close()
        except Exception:
            pass
