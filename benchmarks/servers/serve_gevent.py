"""Benchmark server: gevent.pywsgi with gevent-websocket's handler (async
mode 'gevent').

The bare application speaks WebSocket through gevent-websocket, and its server
sets TCP_NODELAY on every connection (see NoDelayServer). Both applications
run with gevent's monkey patching, as deployments do.
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import socket  # noqa: E402

import _bench  # noqa: E402


def bare_app():
    def websocket_echo(environ, start_response):
        ws = environ['wsgi.websocket']
        while True:
            message = ws.receive()
            if message is None:
                break
            ws.send(message)
        return []

    return _bench.wsgi_bare_app(websocket_echo)


def build(app: str):
    if app == 'eio':
        return _bench.sync_eio_app('gevent')
    import geventwebsocket  # noqa: F401 - the bare echo needs it
    return bare_app()


def main() -> None:
    args = _bench.parse_args(__doc__)
    if args.check:
        _bench.report_check(lambda: build(args.app))
        return
    _bench.raise_fd_limit()
    from gevent.pywsgi import WSGIServer
    from geventwebsocket.handler import WebSocketHandler

    class NoDelayServer(WSGIServer):
        """pywsgi sends a response's headers and body in two writes, which
        meet Nagle's algorithm and the client's delayed ACK (about 40 ms per
        response) unless TCP_NODELAY is set: the ceiling sets it."""

        def handle(self, sock, address):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle(sock, address)

    server_class = WSGIServer if args.app == 'eio' else NoDelayServer
    server = server_class(_bench.listen(args.port), build(args.app),
                          handler_class=WebSocketHandler, log=None)
    server.start()
    _bench.announce(server.server_port, args.app)
    server.serve_forever()


if __name__ == '__main__':
    main()
