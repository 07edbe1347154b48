"""Latency demo: a browser page measures Engine.IO round trips to a Flask app.

The page sends its clock reading once a second, the server echoes it back, and the page shows
the round-trip time and the transport in use ('polling' first, 'websocket' after the upgrade).

Run it with ``make demo`` from the repository root, or, after ``npm install`` in this folder,
with ``python latency.py``; then open http://127.0.0.1:5000.
"""
import os
import sys

from flask import Flask, render_template

import engineio

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(os.environ.get('PORT', '5000'))
CLIENT_DIST = os.path.join(HERE, 'node_modules', 'engine.io-client', 'dist')

eio = engineio.Server(async_mode='threading')
app = Flask(__name__)
# Engine.IO under /engine.io/, the browser client bundle under /vendor/, and
# everything else (the page, /static/) handled by Flask.
app.wsgi_app = engineio.WSGIApp(eio, app.wsgi_app, static_files={
    '/vendor': CLIENT_DIST,
})


@app.route('/')
def index() -> str:
    return render_template('latency.html')


@eio.on('connect')
def connect(sid: str, environ: dict) -> None:
    print(f'{sid} connected')


@eio.on('message')
def message(sid: str, data: str) -> None:
    eio.send(sid, data)


@eio.on('disconnect')
def disconnect(sid: str, reason: str) -> None:
    print(f'{sid} disconnected: {reason}')


if __name__ == '__main__':
    if not os.path.isdir(CLIENT_DIST):
        sys.exit(f'{CLIENT_DIST} is missing: run "npm install" in {HERE} '
                 '(or "make demo" from the repository root).')
    app.run(host='127.0.0.1', port=PORT, threaded=True)
