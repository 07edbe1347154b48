"""Minimal Engine.IO echo server on eventlet's WSGI server.

Every message a client sends comes back to it. Run ``python simple.py`` and open
http://127.0.0.1:5000, or connect any Engine.IO v4 client to http://127.0.0.1:5000/engine.io/.
The page and the browser bundle are those of the WSGI examples (``../wsgi``).
"""
import os

import eventlet
import eventlet.wsgi

import engineio

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(os.environ.get('PORT', '5000'))
PAGES = os.path.join(HERE, '..', 'wsgi')

eio = engineio.Server(async_mode='eventlet')
app = engineio.WSGIApp(eio, static_files={
    '/': os.path.join(PAGES, 'static', 'simple.html'),
    '/vendor': os.path.join(PAGES, 'node_modules', 'engine.io-client', 'dist'),
})


@eio.on('message')
def message(sid: str, data) -> None:
    eio.send(sid, data)


if __name__ == '__main__':
    eventlet.wsgi.server(eventlet.listen(('127.0.0.1', PORT)), app, log_output=False)
