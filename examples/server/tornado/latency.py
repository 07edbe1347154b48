"""Latency demo on tornado: a browser page measures Engine.IO round trips.

The page sends its clock reading once a second, the server echoes it back, and the page shows
the round-trip time and the transport in use ('polling' first, 'websocket' after the upgrade).
The page and its scripts are those of the WSGI examples, served by tornado.

Run ``python latency.py`` and open http://127.0.0.1:5000.
"""
import asyncio
import os
import sys

import tornado.web

import engineio

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(os.environ.get('PORT', '5000'))
PAGES = os.path.join(HERE, '..', 'wsgi')
CLIENT_DIST = os.path.join(PAGES, 'node_modules', 'engine.io-client', 'dist')

eio = engineio.AsyncServer(async_mode='tornado')
app = tornado.web.Application([
    (r'/engine.io/', engineio.get_tornado_handler(eio)),
    (r'/()', tornado.web.StaticFileHandler,
     {'path': os.path.join(PAGES, 'templates'), 'default_filename': 'latency.html'}),
    (r'/static/(.*)', tornado.web.StaticFileHandler, {'path': os.path.join(PAGES, 'static')}),
    (r'/vendor/(.*)', tornado.web.StaticFileHandler, {'path': CLIENT_DIST}),
])


@eio.on('connect')
def connect(sid: str, environ: dict) -> None:
    print(f'{sid} connected from {environ["REMOTE_ADDR"]}')


@eio.on('message')
async def message(sid: str, data: str) -> None:
    await eio.send(sid, data)


@eio.on('disconnect')
def disconnect(sid: str, reason: str) -> None:
    print(f'{sid} disconnected: {reason}')


async def main() -> None:
    app.listen(PORT, '127.0.0.1')
    await asyncio.Event().wait()  # serve until interrupted


if __name__ == '__main__':
    if not os.path.isdir(CLIENT_DIST):
        sys.exit(f'{CLIENT_DIST} is missing: run "make npm" from the repository root '
                 '(or "npm install" in examples/server/wsgi).')
    asyncio.run(main())
