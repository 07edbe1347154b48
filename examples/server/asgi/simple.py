"""Minimal Engine.IO echo server on ASGI: ``engineio.ASGIApp`` served by uvicorn.

Every message a client sends comes back to it. Run ``python simple.py`` (or
``uvicorn simple:app --port 5000``) and open http://127.0.0.1:5000, or connect any Engine.IO
v4 client to http://127.0.0.1:5000/engine.io/.
"""
import os

import uvicorn

import engineio

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(os.environ.get('PORT', '5000'))
PAGES = os.path.join(HERE, '..', 'wsgi')

eio = engineio.AsyncServer(async_mode='asgi')
app = engineio.ASGIApp(eio, static_files={
    '/': os.path.join(PAGES, 'static', 'simple.html'),
    '/vendor': os.path.join(PAGES, 'node_modules', 'engine.io-client', 'dist'),
})


@eio.on('message')
async def message(sid: str, data) -> None:
    await eio.send(sid, data)


if __name__ == '__main__':
    uvicorn.run(app, host='127.0.0.1', port=PORT)
