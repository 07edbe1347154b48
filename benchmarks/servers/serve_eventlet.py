"""Benchmark server: eventlet.wsgi (async mode 'eventlet').

The bare application speaks WebSocket through eventlet.websocket. Both
applications run with eventlet's monkey patching, as deployments do.
"""
from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import _bench  # noqa: E402


def bare_app():
    from eventlet import websocket

    @websocket.WebSocketWSGI
    def websocket_echo(ws):
        while True:
            message = ws.wait()
            if message is None:
                break
            ws.send(message)

    return _bench.wsgi_bare_app(websocket_echo)


def build(app: str):
    return _bench.sync_eio_app('eventlet') if app == 'eio' else bare_app()


def main() -> None:
    args = _bench.parse_args(__doc__)
    if args.check:
        _bench.report_check(lambda: build(args.app))
        return
    _bench.raise_fd_limit()
    import eventlet.wsgi
    application = build(args.app)
    sock = eventlet.listen((_bench.HOST, args.port), backlog=1024)
    _bench.announce(sock.getsockname()[1], args.app)
    eventlet.wsgi.server(sock, application, log_output=False,
                         max_size=args.max_clients * 2 + 100)


if __name__ == '__main__':
    main()
