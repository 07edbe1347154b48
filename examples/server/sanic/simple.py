"""Minimal Engine.IO echo server on Sanic.

Every message a client sends comes back to it. Run ``python simple.py`` and open
http://127.0.0.1:5000, or connect any Engine.IO v4 client to http://127.0.0.1:5000/engine.io/.
"""
import os

from sanic import Sanic

import engineio

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(os.environ.get('PORT', '5000'))
PAGES = os.path.join(HERE, '..', 'wsgi')
CLIENT_DIST = os.path.join(PAGES, 'node_modules', 'engine.io-client', 'dist')

eio = engineio.AsyncServer(async_mode='sanic')
app = Sanic('engineio_simple')
eio.attach(app)
app.static('/', os.path.join(PAGES, 'static', 'simple.html'), name='page')
if os.path.isdir(CLIENT_DIST):
    app.static('/vendor', CLIENT_DIST, name='vendor')


@eio.on('message')
async def message(sid: str, data) -> None:
    await eio.send(sid, data)


if __name__ == '__main__':
    app.run(host='127.0.0.1', port=PORT, single_process=True, access_log=False)
