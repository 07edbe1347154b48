"""Benchmark server: werkzeug's threaded WSGI server (async mode 'threading').

The bare application speaks WebSocket through simple-websocket, the library
the threading mode is built on.
"""
from __future__ import annotations

import _bench


def bare_app():
    import simple_websocket

    def websocket_echo(environ, start_response):
        ws = simple_websocket.Server(environ)
        try:
            while True:
                ws.send(ws.receive())
        except simple_websocket.ConnectionClosed:
            pass
        # werkzeug ends a request quietly when the application raises this
        raise ConnectionError()

    return _bench.wsgi_bare_app(websocket_echo)


def build(app: str):
    return _bench.sync_eio_app('threading') if app == 'eio' else bare_app()


def main() -> None:
    args = _bench.parse_args(__doc__)
    if args.check:
        _bench.report_check(lambda: build(args.app))
        return
    _bench.raise_fd_limit()
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    server = make_server(_bench.HOST, args.port, build(args.app),
                         threaded=True, request_handler=QuietHandler)
    _bench.announce(server.server_port, args.app)
    server.serve_forever()


if __name__ == '__main__':
    main()
