"""Benchmark server: uvicorn (async mode 'asgi').

The Engine.IO server is an ``engineio.AsyncServer`` wrapped in
``engineio.ASGIApp``; the bare application is a tiny ASGI echo. uvicorn picks
its defaults (uvloop, httptools and websockets when installed).
"""
from __future__ import annotations

import _bench


async def bare_app(scope, receive, send):
    if scope['type'] == 'lifespan':
        while True:
            event = await receive()
            if event['type'] == 'lifespan.startup':
                await send({'type': 'lifespan.startup.complete'})
            elif event['type'] == 'lifespan.shutdown':
                await send({'type': 'lifespan.shutdown.complete'})
                return
    elif scope['type'] == 'websocket' and scope['path'] == _bench.WS_PATH:
        await receive()  # websocket.connect
        await send({'type': 'websocket.accept'})
        while True:
            event = await receive()
            if event['type'] != 'websocket.receive':
                return
            if event.get('text') is not None:
                await send({'type': 'websocket.send', 'text': event['text']})
            else:
                await send({'type': 'websocket.send',
                            'bytes': event['bytes']})
    elif scope['type'] == 'http' and scope['path'] == _bench.HTTP_PATH:
        body = b''
        more = True
        while more:
            event = await receive()
            body += event.get('body', b'')
            more = event.get('more_body', False)
        await send({'type': 'http.response.start', 'status': 200, 'headers': [
            (b'content-type', b'text/plain; charset=UTF-8'),
            (b'content-length', str(len(body)).encode())]})
        await send({'type': 'http.response.body', 'body': body})
    elif scope['type'] == 'http':
        await send({'type': 'http.response.start', 'status': 404,
                    'headers': [(b'content-length', b'0')]})
        await send({'type': 'http.response.body', 'body': b''})


def build(app: str):
    import uvicorn  # noqa: F401 - the server must be installed
    if app == 'bare':
        return bare_app
    import engineio
    return engineio.ASGIApp(_bench.async_eio_server('asgi'))


def main() -> None:
    args = _bench.parse_args(__doc__)
    if args.check:
        _bench.report_check(lambda: build(args.app))
        return
    _bench.raise_fd_limit()
    import uvicorn
    application = build(args.app)
    sock = _bench.listen(args.port)
    config = uvicorn.Config(application, log_level='warning',
                            access_log=False, backlog=1024)
    _bench.announce(sock.getsockname()[1], args.app)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == '__main__':
    main()
