"""Benchmark server: aiohttp's web server (async mode 'aiohttp').

The Engine.IO server is attached to the ``web.Application`` with
``eio.attach(app)``; the bare application uses ``web.WebSocketResponse`` and
a plain POST handler.
"""
from __future__ import annotations

import _bench


def bare_app():
    from aiohttp import WSMsgType, web

    async def websocket_echo(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await ws.send_str(message.data)
                elif message.type == WSMsgType.BINARY:
                    await ws.send_bytes(message.data)
        except ConnectionResetError:  # the client went away mid-echo
            pass
        return ws

    async def http_echo(request):
        return web.Response(body=await request.read(),
                            content_type='text/plain', charset='utf-8')

    app = web.Application()
    app.router.add_get(_bench.WS_PATH, websocket_echo)
    app.router.add_post(_bench.HTTP_PATH, http_echo)
    return app


def build(app: str):
    if app == 'bare':
        return bare_app()
    from aiohttp import web
    application = web.Application()
    _bench.async_eio_server('aiohttp').attach(application)
    return application


def main() -> None:
    args = _bench.parse_args(__doc__)
    if args.check:
        _bench.report_check(lambda: build(args.app))
        return
    _bench.raise_fd_limit()
    from aiohttp import web
    application = build(args.app)
    sock = _bench.listen(args.port)
    _bench.announce(sock.getsockname()[1], args.app)
    web.run_app(application, sock=sock, access_log=None, print=None)


if __name__ == '__main__':
    main()
