"""Minimal Engine.IO echo server: no framework, just WSGIApp and Werkzeug's threaded server.

Every message a client sends comes back to it. Run ``python simple.py`` and open
http://127.0.0.1:5000 (the page needs ``npm install`` in this folder first), or connect any
Engine.IO v4 client to http://127.0.0.1:5000/engine.io/.
"""
import os

from werkzeug.serving import run_simple

import engineio

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(os.environ.get('PORT', '5000'))

eio = engineio.Server(async_mode='threading')
app = engineio.WSGIApp(eio, static_files={
    '/': os.path.join(HERE, 'static', 'simple.html'),
    '/vendor': os.path.join(HERE, 'node_modules', 'engine.io-client', 'dist'),
})


@eio.on('connect')
def connect(sid: str, environ: dict) -> None:
    print(f'{sid} connected')


@eio.on('message')
def message(sid: str, data) -> None:
    eio.send(sid, data)


@eio.on('disconnect')
def disconnect(sid: str, reason: str) -> None:
    print(f'{sid} disconnected: {reason}')


if __name__ == '__main__':
    # The threaded Werkzeug server serves long-polling and the WebSocket upgrade; wsgiref
    # could only do polling.
    run_simple('127.0.0.1', PORT, app, threaded=True)
