"""Benchmark server: tornado (async mode 'tornado').

The Engine.IO server is served by ``engineio.get_tornado_handler(eio)``; the
bare application uses a ``WebSocketHandler`` and a plain POST handler.
"""
from __future__ import annotations

import asyncio

import _bench


def bare_app():
    import tornado.web
    import tornado.websocket

    class WebSocketEcho(tornado.websocket.WebSocketHandler):
        def on_message(self, message):
            return self.write_message(message,
                                      binary=isinstance(message, bytes))

    class HTTPEcho(tornado.web.RequestHandler):
        def post(self):
            self.set_header('Content-Type', 'text/plain; charset=UTF-8')
            self.write(self.request.body)

    return tornado.web.Application([(_bench.WS_PATH, WebSocketEcho),
                                    (_bench.HTTP_PATH, HTTPEcho)])


def build(app: str):
    if app == 'bare':
        return bare_app()
    import engineio
    import tornado.web
    handler = engineio.get_tornado_handler(_bench.async_eio_server('tornado'))
    return tornado.web.Application([(_bench.EIO_PATH, handler)])


async def serve(application, sock) -> None:
    import tornado.httpserver
    server = tornado.httpserver.HTTPServer(application)
    server.add_sockets([sock])
    await asyncio.Event().wait()


def main() -> None:
    args = _bench.parse_args(__doc__)
    if args.check:
        _bench.report_check(lambda: build(args.app))
        return
    _bench.raise_fd_limit()
    sock = _bench.listen(args.port)
    sock.setblocking(False)
    _bench.announce(sock.getsockname()[1], args.app)
    asyncio.run(serve(build(args.app), sock))


if __name__ == '__main__':
    main()
