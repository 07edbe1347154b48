"""A python-socketio 5.x test server on our Engine.IO package, in its own
process, for every async mode.

Run as ``python -m tests.support.sio_server '<json config>'`` from the
repository; config keys: ``mode`` (an async mode), ``port`` (0 for any),
``admin`` (instrument the server for the Socket.IO admin UI),
``ping_interval`` and ``ping_timeout`` (seconds). The process prints
``{"port": N}`` once it listens on 127.0.0.1:N, and runs until killed.

The application, in namespaces ``/`` and ``/chat``:

- ``connect`` accepts an auth payload ``{"token": TOKEN, ...}`` and refuses
  any other with ``ConnectionRefusedError('not authorized', {"token": <the
  token given>})``;
- ``echo(data)`` acknowledges with ``data``;
- ``ask(data)`` calls the client (``sio.call('question', data)``) and
  acknowledges with ``{"client_said": <the client's acknowledgement>}``;
- ``join(room)`` enters the room, acknowledging with ``'joined'``;
- ``shout(room, data)`` emits ``news`` with ``data`` to the room (to the
  whole namespace when ``room`` is None), acknowledging with ``'sent'``;
- ``kick()`` disconnects the caller from the namespace;
- ``transport()`` acknowledges with the caller's transport.

Namespace ``/ctl`` serves the test: ``events()`` acknowledges with the
events recorded so far, ``["connect", ns, sid, auth, transport]`` and
``["disconnect", ns, sid, reason]``.

Handlers are written once, as coroutine functions that ``await`` whatever
the server returns through :func:`result`; the sync server runs them with
:func:`run_sync` (with a sync server nothing is awaited, so they finish
without suspending).
"""
import inspect
import json
import os
import socket
import sys

CONFIG = json.loads(sys.argv[1]) if __name__ == '__main__' else {}

if CONFIG.get('mode') == 'eventlet':
    import eventlet  # noqa: F401  (before anything else imports sockets)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import socketio  # noqa: E402
from socketio.exceptions import ConnectionRefusedError  # noqa: E402

SYNC_MODES = ('threading', 'eventlet', 'gevent')
#: every async mode, the sync ones first
MODES = SYNC_MODES + ('asgi', 'aiohttp', 'tornado', 'sanic')
NAMESPACES = ('/', '/chat')
TOKEN = 'letmein'
#: seconds a server-to-client call waits for the client's answer
CALL_TIMEOUT = 5


async def result(value):
    """``value``, awaited if python-socketio returned an awaitable."""
    if inspect.isawaitable(value):
        return await value
    return value


def run_sync(coro):
    """Run a handler coroutine that never suspends; return its result."""
    try:
        coro.send(None)
    except StopIteration as exc:
        return exc.value
    coro.close()
    raise RuntimeError('a handler of the sync server suspended')


def build(mode, admin=False, **options):
    """The python-socketio server of the test application."""
    sync = mode in SYNC_MODES
    cls = socketio.Server if sync else socketio.AsyncServer
    sio = cls(async_mode=mode, **options)
    events = []

    def on(event, namespace, handler):
        sio.on(event, namespace=namespace, handler=(
            (lambda *args: run_sync(handler(*args))) if sync else handler))

    def add_handlers(ns):
        async def connect(sid, environ, auth):
            events.append(['connect', ns, sid, auth, sio.transport(sid, ns)])
            if not isinstance(auth, dict) or auth.get('token') != TOKEN:
                raise ConnectionRefusedError('not authorized', {
                    'token': auth.get('token')
                    if isinstance(auth, dict) else None})

        async def disconnect(sid, reason):
            events.append(['disconnect', ns, sid, reason])

        async def echo(sid, data):
            return data

        async def ask(sid, data):
            answer = await result(sio.call('question', data, to=sid,
                                           namespace=ns,
                                           timeout=CALL_TIMEOUT))
            return {'client_said': answer}

        async def join(sid, room):
            await result(sio.enter_room(sid, room, namespace=ns))
            return 'joined'

        async def shout(sid, room, data):
            await result(sio.emit('news', data, to=room, namespace=ns))
            return 'sent'

        async def kick(sid):
            await result(sio.disconnect(sid, namespace=ns))

        async def transport(sid):
            return sio.transport(sid, ns)

        for handler in (connect, disconnect, echo, ask, join, shout, kick,
                        transport):
            on(handler.__name__, ns, handler)

    for ns in NAMESPACES:
        add_handlers(ns)

    async def ctl_events(sid):
        return list(events)

    on('events', '/ctl', ctl_events)
    if admin:
        sio.instrument(auth=False, mode='development',
                       server_stats_interval=0.5)
    return sio


def make_app(mode, sio):
    """The web application of ``mode`` serving ``sio`` on /socket.io/."""
    if mode in SYNC_MODES:
        return socketio.WSGIApp(sio)
    if mode == 'asgi':
        return socketio.ASGIApp(sio)
    if mode == 'aiohttp':
        from aiohttp import web
        app = web.Application()
        sio.attach(app)
        return app
    if mode == 'tornado':
        import tornado.web
        return tornado.web.Application(
            [(r'/socket.io/', socketio.get_tornado_handler(sio))])
    if mode == 'sanic':
        from sanic import Sanic
        app = Sanic('sio_test', configure_logging=False)
        app.config.TOUCHUP = False
        sio.attach(app)
        return app
    raise ValueError('unknown async mode ' + mode)


def listening_socket(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(('127.0.0.1', port))
    sock.listen(128)
    return sock


def announce(sock):
    print(json.dumps({'port': sock.getsockname()[1]}), flush=True)


def serve_sync(mode, app, port):
    """Serve a WSGI app with the server of a sync mode, forever."""
    if mode == 'eventlet':
        import eventlet.wsgi
        sock = eventlet.listen(('127.0.0.1', port))
        announce(sock)
        eventlet.wsgi.server(sock, app, log_output=False)
    elif mode == 'gevent':
        from gevent import pywsgi
        from geventwebsocket.handler import WebSocketHandler
        server = pywsgi.WSGIServer(('127.0.0.1', port), app, log=None,
                                   handler_class=WebSocketHandler)
        server.start()
        announce(server.socket)
        server.serve_forever()
    else:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, *args, **kwargs):
                pass

        httpd = make_server('127.0.0.1', port, app, threaded=True,
                            request_handler=QuietHandler)
        announce(httpd.socket)
        httpd.serve_forever()


async def serve_async(mode, app, port):
    """Serve an asyncio application with the server of its mode, forever
    (the starters of :mod:`tests.support.async_servers`)."""
    import asyncio
    from tests.support import async_servers
    start = {'asgi': async_servers._start_uvicorn,
             'aiohttp': async_servers._start_aiohttp,
             'tornado': async_servers._start_tornado,
             'sanic': async_servers._start_sanic}[mode]
    sock = listening_socket(port)
    sock.setblocking(False)
    await start(app, sock, None)
    announce(sock)
    await asyncio.Event().wait()


def main(config):
    mode = config['mode']
    options = {key: config[key] for key in ('ping_interval', 'ping_timeout')
               if key in config}
    sio = build(mode, admin=config.get('admin', False), **options)
    app = make_app(mode, sio)
    if mode in SYNC_MODES:
        serve_sync(mode, app, config.get('port', 0))
    else:
        import asyncio
        asyncio.run(serve_async(mode, app, config.get('port', 0)))


if __name__ == '__main__':
    main(CONFIG)
