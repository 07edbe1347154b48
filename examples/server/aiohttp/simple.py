"""Minimal Engine.IO echo server on aiohttp.

Every message a client sends comes back to it. Run ``python simple.py`` and open
http://127.0.0.1:5000, or connect any Engine.IO v4 client to http://127.0.0.1:5000/engine.io/.
"""
import os

from aiohttp import web

import engineio

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(os.environ.get('PORT', '5000'))
PAGES = os.path.join(HERE, '..', 'wsgi')
CLIENT_DIST = os.path.join(PAGES, 'node_modules', 'engine.io-client', 'dist')

eio = engineio.AsyncServer(async_mode='aiohttp')
app = web.Application()
eio.attach(app)


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(os.path.join(PAGES, 'static', 'simple.html'))

app.router.add_get('/', index)
if os.path.isdir(CLIENT_DIST):
    app.router.add_static('/vendor', CLIENT_DIST)


@eio.on('message')
async def message(sid: str, data) -> None:
    await eio.send(sid, data)


if __name__ == '__main__':
    web.run_app(app, host='127.0.0.1', port=PORT)
