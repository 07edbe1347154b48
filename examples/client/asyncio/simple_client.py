"""Simple asyncio Engine.IO client: sends a greeting every second and prints
what the server sends back.

Start the demo server first (``make demo`` from the repository root), then
run ``python simple_client.py [URL]`` (default http://127.0.0.1:5000).
Ctrl+C disconnects and stops the client.
"""
import asyncio
import sys

import engineio

eio = engineio.AsyncClient()


@eio.on('connect')
def connect() -> None:
    print(f'connected with sid {eio.sid} over {eio.transport()}')


@eio.on('message')
async def message(data: str) -> None:
    print(f'received {data!r} (transport: {eio.transport()})')


@eio.on('disconnect')
def disconnect(reason: str) -> None:
    print(f'disconnected: {reason}')


async def main(url: str) -> None:
    await eio.connect(url)
    count = 0
    while eio.state == 'connected':
        count += 1
        await eio.send(f'hello #{count}')
        await eio.sleep(1)


if __name__ == '__main__':
    try:
        asyncio.run(main(sys.argv[1] if len(sys.argv) > 1
                         else 'http://127.0.0.1:5000'))
    except asyncio.CancelledError:  # Ctrl+C: disconnected, tasks cancelled
        pass
