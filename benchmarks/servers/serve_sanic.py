"""Benchmark server: sanic in a single process (async mode 'sanic').

The Engine.IO server is attached with ``eio.attach(app)``; the bare
application has a websocket route and a plain POST route.
"""
from __future__ import annotations

import _bench


def build(app: str):
    from sanic import Sanic, response
    application = Sanic('bench_' + app)
    if app == 'eio':
        _bench.async_eio_server('sanic').attach(application)
        return application

    @application.websocket(_bench.WS_PATH)
    async def websocket_echo(request, ws):
        async for message in ws:
            await ws.send(message)

    @application.post(_bench.HTTP_PATH)
    async def http_echo(request):
        return response.raw(request.body,
                            content_type='text/plain; charset=UTF-8')

    return application


def main() -> None:
    args = _bench.parse_args(__doc__)
    if args.check:
        _bench.report_check(lambda: build(args.app))
        return
    _bench.raise_fd_limit()
    application = build(args.app)
    sock = _bench.listen(args.port)
    _bench.announce(sock.getsockname()[1], args.app)
    application.run(sock=sock, single_process=True, access_log=False,
                    motd=False, backlog=1024)


if __name__ == '__main__':
    main()
