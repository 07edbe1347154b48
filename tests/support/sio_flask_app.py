"""A Flask-SocketIO 5.x test application on our Engine.IO package, in its
own process, in the ``threading``, ``eventlet`` or ``gevent`` mode.

``python -m tests.support.sio_flask_app '<json config>'`` with config keys
``mode`` and ``port`` (0 for any) serves the application with
``socketio.run()``, printing ``{"port": N}`` first; with
``"test_client": true`` it instead drives the application with
Flask-SocketIO's test client, prints what it observed as one JSON object
and exits.

The application: ``connect`` requires the auth payload ``{"token": TOKEN,
"user": name}`` (else ``ConnectionRefusedError('not authorized', {"token":
<the token given>})``) and keeps the user in the Flask session;
``whoami()`` acknowledges with it; ``echo(data)`` with ``data``;
``ask(data)`` calls the client and acknowledges with ``{"client_said":
<its answer>}``; ``join(room)`` with ``'joined'``; ``shout(room, data)``
emits ``news`` to the room and acknowledges with ``'sent'``;
``transport()`` with the caller's transport. Namespace
``/ctl`` answers ``events()`` with the ``connect`` and ``disconnect``
events recorded, as :mod:`tests.support.sio_server` does.
"""
import json
import os
import socket
import sys

CONFIG = json.loads(sys.argv[1]) if __name__ == '__main__' else {}

if CONFIG.get('mode') == 'eventlet':
    import eventlet  # noqa: F401  (before anything else imports sockets)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from flask import Flask, request, session  # noqa: E402
from flask_socketio import (ConnectionRefusedError, SocketIO,  # noqa: E402
                            emit, join_room)

TOKEN = 'letmein'
CALL_TIMEOUT = 5


def build(mode):
    """The Flask application and its ``SocketIO``."""
    app = Flask('sio_flask_test')
    app.config['SECRET_KEY'] = 'not a secret'
    socketio = SocketIO(app, async_mode=mode)
    events = []

    @socketio.on('connect')
    def connect(auth):
        events.append(['connect', '/', request.sid, auth])
        if not isinstance(auth, dict) or auth.get('token') != TOKEN:
            raise ConnectionRefusedError('not authorized', {
                'token': auth.get('token') if isinstance(auth, dict)
                else None})
        session['user'] = auth.get('user')

    @socketio.on('disconnect')
    def disconnect(reason):
        events.append(['disconnect', '/', request.sid, reason])

    @socketio.on('whoami')
    def whoami():
        return session.get('user')

    @socketio.on('echo')
    def echo(data):
        return data

    @socketio.on('ask')
    def ask(data):
        return {'client_said': socketio.call('question', data,
                                             to=request.sid,
                                             timeout=CALL_TIMEOUT)}

    @socketio.on('transport')
    def transport():
        return socketio.server.transport(request.sid, '/')

    @socketio.on('join')
    def join(room):
        join_room(room)
        return 'joined'

    @socketio.on('shout')
    def shout(room, data):
        emit('news', data, to=room)
        return 'sent'

    @socketio.on('events', namespace='/ctl')
    def ctl_events():
        return list(events)

    return app, socketio, events


def run_test_client(mode):
    """Drive the application with Flask-SocketIO's test client; return
    what happened."""
    app, socketio, events = build(mode)
    out = {'async_mode': socketio.server.eio.async_mode}
    refused = socketio.test_client(app, auth={'token': 'guess'})
    out['refused_connected'] = refused.is_connected()
    ada = socketio.test_client(app, auth={'token': TOKEN, 'user': 'ada'})
    bob = socketio.test_client(app, auth={'token': TOKEN, 'user': 'bob'})
    out['connected'] = [ada.is_connected(), bob.is_connected()]
    out['engineio_async_handlers'] = socketio.server.eio.async_handlers
    out['whoami'] = [ada.emit('whoami', callback=True),
                     bob.emit('whoami', callback=True)]
    echoed = ada.emit('echo', {'text': 'hi', 'bin': b'\x00\xff'},
                      callback=True)
    out['echo_binary_intact'] = echoed == {'text': 'hi', 'bin': b'\x00\xff'}
    out['join'] = ada.emit('join', 'room', callback=True)
    out['shout'] = bob.emit('shout', 'room', 'to the room', callback=True)
    out['ada_received'] = [(r['name'], r['args'])
                           for r in ada.get_received()]
    out['bob_received'] = [(r['name'], r['args'])
                           for r in bob.get_received()]
    ada.disconnect()
    out['events'] = [e[:2] + e[3:] for e in events]
    return out


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def main(config):
    mode = config['mode']
    if config.get('test_client'):
        print(json.dumps(run_test_client(mode)), flush=True)
        return
    app, socketio, _ = build(mode)
    port = config.get('port') or free_port()
    print(json.dumps({'port': port}), flush=True)
    socketio.run(app, host='127.0.0.1', port=port, log_output=False,
                 allow_unsafe_werkzeug=True)


if __name__ == '__main__':
    main(CONFIG)
