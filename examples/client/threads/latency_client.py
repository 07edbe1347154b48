"""Latency client: measures Engine.IO round trips to the demo server.

It sends its clock reading once a second; the server echoes it, and the
client prints the round-trip time and the transport in use (``polling`` is
replaced by ``websocket`` as soon as the upgrade succeeds).

Start the demo server first (``make demo`` from the repository root), then
run ``python latency_client.py [URL]`` (default http://127.0.0.1:5000).
Ctrl+C disconnects and stops the client.
"""
import sys
import time

import engineio

eio = engineio.Client()


@eio.on('connect')
def connect() -> None:
    print(f'connected with sid {eio.sid}')


@eio.on('message')
def message(data: str) -> None:
    latency = (time.perf_counter() - float(data)) * 1000
    print(f'latency: {latency:.2f} ms ({eio.transport()})')


@eio.on('disconnect')
def disconnect(reason: str) -> None:
    print(f'disconnected: {reason}')


def main(url: str) -> None:
    eio.connect(url)
    while eio.state == 'connected':
        eio.send(repr(time.perf_counter()))
        eio.sleep(1)


if __name__ == '__main__':
    try:
        main(sys.argv[1] if len(sys.argv) > 1 else 'http://127.0.0.1:5000')
    except KeyboardInterrupt:  # the client has already disconnected
        pass
