"""Minimal Engine.IO echo server on tornado.

Every message a client sends comes back to it. Run ``python simple.py`` and open
http://127.0.0.1:5000, or connect any Engine.IO v4 client to http://127.0.0.1:5000/engine.io/.
"""
import asyncio
import os

import tornado.web

import engineio

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(os.environ.get('PORT', '5000'))
PAGES = os.path.join(HERE, '..', 'wsgi')

eio = engineio.AsyncServer(async_mode='tornado')
app = tornado.web.Application([
    (r'/engine.io/', engineio.get_tornado_handler(eio)),
    (r'/()', tornado.web.StaticFileHandler,
     {'path': os.path.join(PAGES, 'static'), 'default_filename': 'simple.html'}),
    (r'/vendor/(.*)', tornado.web.StaticFileHandler,
     {'path': os.path.join(PAGES, 'node_modules', 'engine.io-client', 'dist')}),
])


@eio.on('message')
async def message(sid: str, data) -> None:
    await eio.send(sid, data)


async def main() -> None:
    app.listen(PORT, '127.0.0.1')
    await asyncio.Event().wait()  # serve until interrupted


if __name__ == '__main__':
    asyncio.run(main())
