"""Real servers for the asyncio modes, registered in :data:`servers.STARTERS`.

Each starter serves its application on a listening socket bound to
127.0.0.1:0 by an event loop running in a daemon thread (uvicorn and hypercorn
for ``asgi``, aiohttp's web runner, tornado's HTTP server and Sanic's server).
When the test is done the Engine.IO sessions are closed, the server's
background task stopped and the server shut down, all in bounded time.

:func:`make_app` builds the application of a mode around an
``engineio.AsyncServer``; :func:`loop_of` gives the event loop serving it,
for test code that calls the server from its own thread.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import ssl
import threading
from typing import (Any, Awaitable, Callable, Dict, Iterator, Optional,
                    Tuple)

import engineio

from tests.support import servers

#: Seconds allowed for each step of starting or stopping a server.
STEP_TIMEOUT = 5.0
#: Seconds a server waits for open connections when it shuts down.
GRACE = 0.5

#: e2e server name -> async mode of the engineio.AsyncServer it serves
ASYNC_MODES = {
    'asgi': 'asgi',
    'hypercorn': 'asgi',
    'aiohttp': 'aiohttp',
    'tornado': 'tornado',
    'sanic': 'sanic',
}

_LOOPS: Dict[int, asyncio.AbstractEventLoop] = {}
_app_names = itertools.count()


def loop_of(eio_server: Any) -> asyncio.AbstractEventLoop:
    """The event loop that serves ``eio_server`` (while it is served)."""
    return _LOOPS[id(eio_server)]


def make_app(server_name: str, eio_server: Any, **app_kwargs: Any) -> Any:
    """The application serving ``eio_server`` for an e2e server name;
    ``app_kwargs`` go to :class:`engineio.ASGIApp` for the ASGI servers."""
    mode = ASYNC_MODES[server_name]
    if mode == 'asgi':
        return engineio.ASGIApp(eio_server, **app_kwargs)
    assert not app_kwargs, 'app options are for ASGIApp only'
    if mode == 'aiohttp':
        from aiohttp import web
        app = web.Application()
        eio_server.attach(app)
        return app
    if mode == 'tornado':
        import tornado.web
        return tornado.web.Application(
            [(r'/engine.io/', engineio.get_tornado_handler(eio_server))])
    from sanic import Sanic
    app = Sanic('e2e_{}'.format(next(_app_names)), configure_logging=False)
    # Sanic's start-up code rewriting works once per process only
    app.config.TOUCHUP = False
    eio_server.attach(app)
    return app


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(('127.0.0.1', 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class _LoopThread:
    """An asyncio event loop running in a daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever,
                                       name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Awaitable[Any]) -> Any:
        """Run ``coro`` in the loop; its result, within STEP_TIMEOUT."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(
            STEP_TIMEOUT)

    def close(self) -> None:
        async def cancel_tasks() -> None:
            tasks = [t for t in asyncio.all_tasks()
                     if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=STEP_TIMEOUT)

        try:
            self.run(cancel_tasks())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(STEP_TIMEOUT)
            if not self.thread.is_alive():
                self.loop.close()


#: (certificate file, private key file) for a server speaking TLS
TLS = Optional[Tuple[str, str]]
#: ``await start(app, sock, tls)`` serves ``app`` on ``sock`` and returns a
#: coroutine function that stops the server; both run in the server's loop.
Stop = Callable[[], Awaitable[Any]]
Starter = Callable[[Any, socket.socket, TLS], Awaitable[Stop]]


def _starter(start: Starter, name: str) -> Callable[[Any, Any], Any]:
    """A starter context manager running ``start`` in its own loop; with
    ``tls`` it serves HTTPS and yields an ``https://`` URL."""

    @contextlib.contextmanager
    def serve(eio_server: Any, app: Any, tls: TLS = None) -> Iterator[str]:
        sock = _listening_socket()
        runner = _LoopThread('e2e-' + name)
        try:
            stop = runner.run(start(app, sock, tls))
            _LOOPS[id(eio_server)] = runner.loop
            try:
                yield '{}://127.0.0.1:{}'.format(
                    'https' if tls else 'http', sock.getsockname()[1])
            finally:
                del _LOOPS[id(eio_server)]
                try:
                    runner.run(_close_sessions(eio_server))
                finally:
                    runner.run(stop())
        finally:
            runner.close()
            sock.close()

    return serve


async def _close_sessions(eio_server: Any) -> None:
    """Answer waiting polls and close WebSockets, so that the server can
    stop at once; then stop the Engine.IO background task."""
    if eio_server.sockets:
        await eio_server.disconnect()
    await eio_server.shutdown()


def _watch_startup(app: Any) -> Tuple[Any, 'asyncio.Future[Dict[str, Any]]']:
    """``app`` wrapped to report, in the returned future, the message with
    which it ends the ASGI lifespan start-up (or ``lifespan.unsupported``
    when it returns without one)."""
    started: asyncio.Future = asyncio.get_running_loop().create_future()

    async def wrapped(scope: Dict[str, Any], receive: Any, send: Any) -> Any:
        if scope['type'] != 'lifespan':
            return await app(scope, receive, send)

        async def watched_send(message: Dict[str, Any]) -> None:
            if message['type'].startswith('lifespan.startup.') and \
                    not started.done():
                started.set_result(message)
            await send(message)

        try:
            return await app(scope, receive, watched_send)
        finally:
            if not started.done():  # the application ignores the lifespan
                started.set_result({'type': 'lifespan.unsupported'})

    return wrapped, started


async def _until_started(task: 'asyncio.Future[Any]',
                         started: 'asyncio.Future[Dict[str, Any]]') -> None:
    """Wait for the application's start-up; raise if it failed or the
    server stopped first."""
    await asyncio.wait([task, started], timeout=STEP_TIMEOUT,
                       return_when=asyncio.FIRST_COMPLETED)
    if started.done() and started.result()['type'] in (
            'lifespan.startup.complete', 'lifespan.unsupported'):
        return
    if task.done():
        task.result()
    raise RuntimeError('the ASGI server did not start: {!r}'.format(
        started.result() if started.done() else 'timeout'))


def _ssl_context(tls: TLS) -> Optional[ssl.SSLContext]:
    if tls is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls)
    return context


async def _start_uvicorn(app: Any, sock: socket.socket, tls: TLS) -> Stop:
    import uvicorn
    app, started = _watch_startup(app)
    server = uvicorn.Server(uvicorn.Config(
        app, log_level='warning', lifespan='on',
        timeout_graceful_shutdown=GRACE,
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None))

    async def serve() -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit as exc:  # how uvicorn reports a failed start-up
            raise RuntimeError('uvicorn exited ({})'.format(exc.code))

    task = asyncio.ensure_future(serve())
    await _until_started(task, started)
    while not server.started and not task.done():  # the sockets are served
        await asyncio.sleep(0.01)

    async def stop() -> None:
        server.should_exit = True
        await task

    return stop


async def _start_hypercorn(app: Any, sock: socket.socket, tls: TLS) -> Stop:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config
    app, started = _watch_startup(app)
    config = Config()
    # hypercorn takes over (and closes) the file descriptor it is given
    config.bind = ['fd://{}'.format(sock.dup().detach())]
    config.graceful_timeout = GRACE
    config.loglevel = 'WARNING'
    if tls:
        config.certfile, config.keyfile = tls
    stopping = asyncio.Event()
    task = asyncio.ensure_future(serve(app, config,
                                       shutdown_trigger=stopping.wait))
    await _until_started(task, started)

    async def stop() -> None:
        stopping.set()
        await task

    return stop


async def _start_aiohttp(app: Any, sock: socket.socket, tls: TLS) -> Stop:
    from aiohttp import web
    runner = web.AppRunner(app, shutdown_timeout=GRACE)
    await runner.setup()
    await web.SockSite(runner, sock, ssl_context=_ssl_context(tls)).start()
    return runner.cleanup


async def _start_tornado(app: Any, sock: socket.socket, tls: TLS) -> Stop:
    from tornado.httpserver import HTTPServer
    server = HTTPServer(app, ssl_options=_ssl_context(tls))
    server.add_sockets([sock])

    async def stop() -> None:
        server.stop()
        await asyncio.wait_for(server.close_all_connections(), GRACE)

    return stop


async def _start_sanic(app: Any, sock: socket.socket, tls: TLS) -> Stop:
    server = await app.create_server(sock=sock, access_log=False,
                                     ssl=_ssl_context(tls))
    await server.startup()
    await server.before_start()
    await server.start_serving()

    async def stop() -> None:
        await server.before_stop()
        server.close()
        for connection in list(server.connections):
            connection.close_if_idle()
        await asyncio.wait_for(server.wait_closed(), GRACE)
        await server.after_stop()

    return stop


servers.STARTERS.update({
    'asgi': _starter(_start_uvicorn, 'uvicorn'),
    'hypercorn': _starter(_start_hypercorn, 'hypercorn'),
    'aiohttp': _starter(_start_aiohttp, 'aiohttp'),
    'tornado': _starter(_start_tornado, 'tornado'),
    'sanic': _starter(_start_sanic, 'sanic'),
})
