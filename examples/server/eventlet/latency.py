"""Latency demo on eventlet: a browser page measures Engine.IO round trips.

The page sends its clock reading once a second, the server echoes it back, and the page shows
the round-trip time and the transport in use ('polling' first, 'websocket' after the upgrade).
The page and its scripts are those of the WSGI examples, served by ``engineio.WSGIApp`` as
static files on eventlet's WSGI server, which carries long-polling and WebSocket alike.

Run ``python latency.py`` and open http://127.0.0.1:5000.
"""
import os
import sys

import eventlet
import eventlet.wsgi

import engineio

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(os.environ.get('PORT', '5000'))
PAGES = os.path.join(HERE, '..', 'wsgi')
CLIENT_DIST = os.path.join(PAGES, 'node_modules', 'engine.io-client', 'dist')

eio = engineio.Server(async_mode='eventlet')
app = engineio.WSGIApp(eio, static_files={
    '/': os.path.join(PAGES, 'templates', 'latency.html'),
    '/static': os.path.join(PAGES, 'static'),
    '/vendor': CLIENT_DIST,
})


@eio.on('connect')
def connect(sid: str, environ: dict) -> None:
    print(f'{sid} connected from {environ["REMOTE_ADDR"]}')


@eio.on('message')
def message(sid: str, data: str) -> None:
    eio.send(sid, data)


@eio.on('disconnect')
def disconnect(sid: str, reason: str) -> None:
    print(f'{sid} disconnected: {reason}')


if __name__ == '__main__':
    if not os.path.isdir(CLIENT_DIST):
        sys.exit(f'{CLIENT_DIST} is missing: run "make npm" from the repository root '
                 '(or "npm install" in examples/server/wsgi).')
    eventlet.wsgi.server(eventlet.listen(('127.0.0.1', PORT)), app, log_output=False)
