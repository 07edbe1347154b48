"""The Engine.IO echo server that tests/stress/load_and_leak.py drives.

    python tests/stress/stress_server.py MODE [OPTIONS_JSON]

MODE is ``threading`` (werkzeug's threaded server), ``asgi`` (uvicorn),
``eventlet``, ``gevent`` (pywsgi with gevent-websocket), ``aiohttp``
(aiohttp.web), ``tornado``, ``sanic`` (one process, one worker) or
``uwsgi`` (the ``gevent_uwsgi`` async mode: this file, loaded as the
application of one uWSGI worker with gevent, behind uWSGI's HTTP router).
Every message is sent back to its sender. ``GET /_stats`` answers, after a
garbage collection, the process's resident memory and allocated Python
memory blocks, its threads, its asyncio tasks or live greenlets, and the
sessions the server still knows or holds in memory (for uWSGI, those of
the worker process, which holds the sessions).
Prints ``{"port": N}`` once listening on 127.0.0.1; serves until killed.
"""
import json
import os
import sys

#: set by the uWSGI launcher below: this file is then uWSGI's application
UWSGI_APP = __name__ != '__main__' and 'STRESS_UWSGI_OPTIONS' in os.environ
MODE = 'uwsgi-app' if UWSGI_APP else sys.argv[1]
OPTIONS = json.loads(os.environ['STRESS_UWSGI_OPTIONS'] if UWSGI_APP else
                     sys.argv[2] if len(sys.argv) > 2 else '{}')
if MODE == 'eventlet':
    import eventlet  # noqa: F401  (before anything else imports sockets)

import ctypes  # noqa: E402
import gc  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

import engineio  # noqa: E402
from engineio.base_socket import BaseSocket  # noqa: E402


def rss_kb() -> int:
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def release_free_memory() -> None:
    """Have the C allocator hand back the free memory it keeps, so that the
    resident size shows what is in use (glibc only)."""
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


def stats(eio, tasks) -> dict:
    gc.collect()
    release_free_memory()
    return {
        'rss_kb': rss_kb(),
        'blocks': sys.getallocatedblocks(),
        'threads': threading.active_count(),
        'tasks': tasks(),
        'sessions': len(eio.sockets),
        'socket_objects': sum(1 for o in gc.get_objects() if isinstance(o, BaseSocket)),
        'timers': len(eio._timers),
    }


def greenlets() -> int:
    import greenlet
    return sum(1 for o in gc.get_objects() if isinstance(o, greenlet.greenlet) and not o.dead)


def asyncio_tasks() -> int:
    import asyncio
    return len(asyncio.all_tasks())


def listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def announce(port: int) -> None:
    print(json.dumps({'port': port}), flush=True)


# -- WSGI servers -------------------------------------------------------------
def wsgi_app(async_mode: str):
    """The echo server and its ``/_stats`` endpoint as a WSGI application."""
    eio = engineio.Server(async_mode=async_mode, **OPTIONS)

    @eio.on('message')
    def message(sid, data):
        eio.send(sid, data)

    def stats_app(environ, start_response):
        if environ.get('PATH_INFO') != '/_stats':
            start_response('404 Not Found', [('Content-Type', 'text/plain')])
            return [b'Not Found']
        body = json.dumps(stats(eio, greenlets if async_mode != 'threading' else lambda: 0))
        start_response('200 OK', [('Content-Type', 'application/json')])
        return [body.encode()]

    return engineio.WSGIApp(eio, stats_app)


def serve_wsgi() -> None:
    app = wsgi_app(MODE)
    if MODE == 'threading':
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, *args, **kwargs):
                pass

        server = make_server('127.0.0.1', 0, app, threaded=True, request_handler=Quiet)
        server.request_queue_size = 1024
        announce(server.server_port)
        server.serve_forever()
    elif MODE == 'eventlet':
        import eventlet.wsgi
        sock = eventlet.listen(('127.0.0.1', 0), backlog=1024)
        announce(sock.getsockname()[1])
        eventlet.wsgi.server(sock, app, log_output=False, max_size=10000)
    else:
        from gevent import pywsgi
        from geventwebsocket.handler import WebSocketHandler
        server = pywsgi.WSGIServer(('127.0.0.1', 0), app, log=None,
                                   handler_class=WebSocketHandler, backlog=1024)
        server.start()
        announce(server.server_port)
        server.serve_forever()


def serve_uwsgi() -> None:
    """Run this file as the application of a uWSGI server (one process, one
    worker, gevent) on a free port; announce the port once the worker
    answers ``/_stats``, then wait for uWSGI to end."""
    import signal
    import subprocess
    import time
    import urllib.request

    def die_with_parent() -> None:
        """In the uWSGI master: be killed if this launcher dies (Linux)."""
        try:
            ctypes.CDLL('libc.so.6').prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    uwsgi = os.path.join(os.path.dirname(sys.executable), 'uwsgi')
    # --http-keepalive: without it the HTTP router closes every connection
    # after its response without saying so (no "Connection: close"), and
    # a client that reuses the connection for its next request fails
    command = [
        uwsgi if os.path.exists(uwsgi) else 'uwsgi',
        '--http', '127.0.0.1:{}'.format(port), '--http-websockets', '--http-keepalive',
        '--gevent', '2000', '--processes', '1', '--master', '--die-on-term',
        '--listen', '1024', '--disable-logging', '--need-app',
        '--wsgi-file', os.path.abspath(__file__)]
    env = dict(os.environ, STRESS_UWSGI_OPTIONS=json.dumps(OPTIONS))
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                            stdout=sys.stderr, preexec_fn=die_with_parent)
    signal.signal(signal.SIGTERM, lambda *args: proc.kill())
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen('http://127.0.0.1:{}/_stats'.format(port),
                                        timeout=5) as resp:
                if resp.status == 200:
                    announce(port)
                    break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
    sys.exit(proc.wait())


# -- asyncio servers ----------------------------------------------------------
def async_server(async_mode: str):
    eio = engineio.AsyncServer(async_mode=async_mode, **OPTIONS)

    @eio.on('message')
    async def message(sid, data):
        await eio.send(sid, data)

    return eio


def serve_asgi() -> None:
    import uvicorn

    eio = async_server('asgi')

    async def stats_app(scope, receive, send):
        if scope['type'] != 'http':
            return
        body = json.dumps(stats(eio, asyncio_tasks)).encode()
        await send({'type': 'http.response.start', 'status': 200,
                    'headers': [[b'content-type', b'application/json']]})
        await send({'type': 'http.response.body', 'body': body})

    sock = listening_socket()
    announce(sock.getsockname()[1])
    config = uvicorn.Config(engineio.ASGIApp(eio, stats_app), log_level='error',
                            backlog=1024, lifespan='off')
    uvicorn.Server(config).run(sockets=[sock])


async def aiohttp_main() -> None:
    import asyncio

    from aiohttp import web

    eio = async_server('aiohttp')
    app = web.Application()
    eio.attach(app)

    async def stats_handler(request):
        return web.json_response(stats(eio, asyncio_tasks))

    app.router.add_get('/_stats', stats_handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = listening_socket()
    await web.SockSite(runner, sock, backlog=1024).start()
    announce(sock.getsockname()[1])
    await asyncio.Event().wait()


async def tornado_main() -> None:
    import asyncio

    import tornado.httpserver
    import tornado.web

    eio = async_server('tornado')

    class Stats(tornado.web.RequestHandler):
        def get(self):
            self.set_header('Content-Type', 'application/json')
            self.write(json.dumps(stats(eio, asyncio_tasks)))

    app = tornado.web.Application(
        [(r'/engine.io/', engineio.get_tornado_handler(eio)), (r'/_stats', Stats)],
        log_function=lambda handler: None)
    sock = listening_socket()
    tornado.httpserver.HTTPServer(app).add_sockets([sock])
    announce(sock.getsockname()[1])
    await asyncio.Event().wait()


async def sanic_main() -> None:
    import asyncio

    from sanic import Sanic
    from sanic.response import json as json_response

    eio = async_server('sanic')
    app = Sanic('stress_server', configure_logging=False)
    eio.attach(app)

    @app.get('/_stats')
    async def stats_handler(request):
        return json_response(stats(eio, asyncio_tasks))

    sock = listening_socket()
    # one worker in this process: no Sanic manager, no worker processes
    server = await app.create_server(sock=sock, access_log=False,
                                     return_asyncio_server=True)
    await server.startup()
    await server.before_start()
    await server.start_serving()
    announce(sock.getsockname()[1])
    await asyncio.Event().wait()


if UWSGI_APP:
    application = wsgi_app('gevent_uwsgi')
elif __name__ == '__main__':
    if MODE in ('aiohttp', 'tornado', 'sanic'):
        import asyncio
        asyncio.run({'aiohttp': aiohttp_main, 'tornado': tornado_main,
                     'sanic': sanic_main}[MODE]())
    elif MODE == 'asgi':
        serve_asgi()
    elif MODE == 'uwsgi':
        serve_uwsgi()
    else:
        serve_wsgi()
