"""The Engine.IO echo server that tests/stress/load_and_leak.py drives.

    python tests/stress/stress_server.py MODE [OPTIONS_JSON]

MODE is ``threading`` (werkzeug's threaded server), ``asgi`` (uvicorn),
``eventlet`` or ``gevent`` (pywsgi with gevent-websocket). Every message is
sent back to its sender. ``GET /_stats`` answers, after a garbage
collection, the process's resident memory and allocated Python memory
blocks, its threads, its asyncio tasks or greenlets, and the sessions the
server still knows or holds in memory.
Prints ``{"port": N}`` once listening on 127.0.0.1; serves until killed.
"""
import json
import os
import sys

MODE = sys.argv[1]
OPTIONS = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
if MODE == 'eventlet':
    import eventlet  # noqa: F401  (before anything else imports sockets)

import ctypes  # noqa: E402
import gc  # noqa: E402
import threading  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

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


def serve_wsgi() -> None:
    eio = engineio.Server(async_mode=MODE, **OPTIONS)

    @eio.on('message')
    def message(sid, data):
        eio.send(sid, data)

    def stats_app(environ, start_response):
        if environ.get('PATH_INFO') != '/_stats':
            start_response('404 Not Found', [('Content-Type', 'text/plain')])
            return [b'Not Found']
        body = json.dumps(stats(eio, greenlets if MODE != 'threading' else lambda: 0))
        start_response('200 OK', [('Content-Type', 'application/json')])
        return [body.encode()]

    app = engineio.WSGIApp(eio, stats_app)
    if MODE == 'threading':
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, *args, **kwargs):
                pass

        server = make_server('127.0.0.1', 0, app, threaded=True, request_handler=Quiet)
        server.request_queue_size = 1024
        print(json.dumps({'port': server.server_port}), flush=True)
        server.serve_forever()
    elif MODE == 'eventlet':
        import eventlet.wsgi
        sock = eventlet.listen(('127.0.0.1', 0), backlog=1024)
        print(json.dumps({'port': sock.getsockname()[1]}), flush=True)
        eventlet.wsgi.server(sock, app, log_output=False, max_size=10000)
    else:
        from gevent import pywsgi
        from geventwebsocket.handler import WebSocketHandler
        server = pywsgi.WSGIServer(('127.0.0.1', 0), app, log=None,
                                   handler_class=WebSocketHandler, backlog=1024)
        server.start()
        print(json.dumps({'port': server.server_port}), flush=True)
        server.serve_forever()


def serve_asgi() -> None:
    import asyncio
    import socket

    import uvicorn

    eio = engineio.AsyncServer(async_mode='asgi', **OPTIONS)

    @eio.on('message')
    async def message(sid, data):
        await eio.send(sid, data)

    async def stats_app(scope, receive, send):
        if scope['type'] != 'http':
            return
        body = json.dumps(stats(eio, lambda: len(asyncio.all_tasks()))).encode()
        await send({'type': 'http.response.start', 'status': 200,
                    'headers': [[b'content-type', b'application/json']]})
        await send({'type': 'http.response.body', 'body': body})

    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(1024)
    print(json.dumps({'port': sock.getsockname()[1]}), flush=True)
    config = uvicorn.Config(engineio.ASGIApp(eio, stats_app), log_level='error',
                            backlog=1024, lifespan='off')
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == '__main__':
    serve_asgi() if MODE == 'asgi' else serve_wsgi()
