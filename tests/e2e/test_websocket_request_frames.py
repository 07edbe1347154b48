"""A WebSocket served by werkzeug or eventlet.wsgi runs from the response
iterable, not from inside the application call: the frames of the request
that led to it (WSGIApp, the server's request handling) are gone while the
connection lives, which keeps each idle connection's stacks small.

The message handler runs in the WebSocket's reader (``async_handlers`` off)
and answers with the names of the functions on its stack.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from typing import Any, List

import websocket

import engineio
from tests.support import servers

BOUND = 10.0
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def stack_names(eio: Any) -> None:
    """Register the handler answering a message with its stack's names."""
    def message(sid: str, data: Any) -> None:
        frame = sys._getframe()
        names: List[str] = []
        while frame is not None:
            code = frame.f_code
            names.append('%s:%s' % (os.path.basename(code.co_filename),
                                    code.co_name))
            frame = frame.f_back
        eio.send(sid, json.dumps(names))
    eio.on('message', message)


def names_seen(url: str) -> List[str]:
    ws = websocket.create_connection(
        url.replace('http', 'ws', 1) + '/engine.io/?EIO=4&transport=websocket',
        timeout=BOUND)
    try:
        assert ws.recv().startswith('0{')
        ws.send('4hello')
        while True:
            frame = ws.recv()
            if frame.startswith('4'):
                return json.loads(frame[1:])
    finally:
        ws.close()


def assert_no_request_frames(names: List[str]) -> None:
    assert 'socket.py:_websocket_handler' in names
    assert 'server.py:handle_request' not in names, names
    assert 'middleware.py:__call__' not in names, names


def test_werkzeug_request_frames_are_gone() -> None:
    eio = engineio.Server(async_mode='threading', async_handlers=False)
    stack_names(eio)
    with servers.serve('threading', eio, engineio.WSGIApp(eio)) as url:
        assert_no_request_frames(names_seen(url))


EVENTLET_SERVER = textwrap.dedent('''
    import json, sys
    import eventlet
    eventlet.monkey_patch()
    import eventlet.wsgi
    sys.path.insert(0, sys.argv[1])
    import engineio
    from tests.e2e.test_websocket_request_frames import stack_names
    eio = engineio.Server(async_mode='eventlet', async_handlers=False)
    stack_names(eio)
    sock = eventlet.listen(('127.0.0.1', 0))
    print(sock.getsockname()[1], flush=True)
    eventlet.wsgi.server(sock, engineio.WSGIApp(eio), log_output=False)
''')


def test_eventlet_request_frames_are_gone() -> None:
    server = subprocess.Popen(
        [sys.executable, '-W', 'ignore', '-c', EVENTLET_SERVER, ROOT],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        port = int(server.stdout.readline())
        url = 'http://127.0.0.1:%d' % port
        deadline = time.monotonic() + BOUND
        while True:
            try:
                names = names_seen(url)
                break
            except ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert_no_request_frames(names)
    finally:
        server.terminate()
        server.wait(BOUND)
