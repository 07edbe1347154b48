"""Flask-SocketIO 5.x, unchanged, on our Engine.IO server in the threading,
eventlet and gevent modes: its test client, and real Socket.IO clients
(the official socket.io-client and python-socketio's ``Client``) against
the application served by ``socketio.run()`` in its own process
(tests/support/sio_flask_app.py).
"""
from __future__ import annotations

import pytest

from tests.support import sio_clients, sio_procs
from tests.support.sio_flask_app import TOKEN
from tests.support.sio_server import SYNC_MODES

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

#: the async modes of Flask-SocketIO
MODES = SYNC_MODES
KINDS = [pytest.param('js', marks=pytest.mark.js), 'sync']


@pytest.mark.parametrize('mode', MODES)
def test_test_client(mode):
    seen = sio_procs.flask_test_client(mode)
    assert seen['async_mode'] == mode
    assert seen['refused_connected'] is False
    assert seen['connected'] == [True, True]
    # the test client makes Engine.IO run handlers inline
    assert seen['engineio_async_handlers'] is False
    assert seen['whoami'] == ['ada', 'bob']
    assert seen['echo_binary_intact'] is True
    assert (seen['join'], seen['shout']) == ('joined', 'sent')
    assert seen['ada_received'] == [['news', ['to the room']]]
    assert seen['bob_received'] == []
    assert seen['events'] == [
        ['connect', '/', {'token': 'guess'}],
        ['connect', '/', {'token': TOKEN, 'user': 'ada'}],
        ['connect', '/', {'token': TOKEN, 'user': 'bob'}],
        ['disconnect', '/', 'client disconnect']]


@pytest.fixture(scope='module', params=MODES)
def server(request):
    srv = sio_procs.FlaskServer(request.param)
    yield srv
    srv.stop()


@pytest.fixture(params=KINDS)
def peer(request, server):
    p = sio_clients.make_peer(request.param)
    yield p
    p.close()


def auth(user):
    return {'token': TOKEN, 'user': user}


def test_real_client(server, peer):
    peer.connect('bad', server.url, auth={'token': 'guess'})
    error, = peer.events.wait(ev='connect_error', client='bad')
    assert (error['message'], error['data']) == ('not authorized',
                                                 {'token': 'guess'})

    peer.connect('ada', server.url, auth=auth('ada'))
    sid = peer.wait_connected('ada')['/']['sid']
    assert peer.call('ada', 'whoami') == 'ada'  # the Flask session
    data = {'text': 'h\u00e9', 'bin': b'\x00\xff' * 1000}
    assert peer.call('ada', 'echo', data) == data
    assert peer.call('ada', 'ask', [b'\x01', 2]) == {
        'client_said': {'answer': [[b'\x01', 2]]}}

    for i, transports in enumerate([['polling'], ['websocket'], None]):
        peer.connect('c{}'.format(i), server.url, auth=auth('c'),
                     transports=transports)
        peer.wait_connected('c{}'.format(i))
    assert peer.call('c0', 'transport') == 'polling'
    assert peer.call('c1', 'transport') == 'websocket'
    assert peer.call('c0', 'join', 'room') == 'joined'
    assert peer.call('c1', 'join', 'room') == 'joined'
    assert peer.call('c2', 'shout', 'room', b'\x02news') == 'sent'
    for member in ('c0', 'c1'):
        news, = peer.events.wait(ev='event', client=member, name='news')
        assert news['args'] == [b'\x02news']
    assert not peer.events.select(ev='event', client='c2', name='news')

    peer.disconnect('ada')
    event, = peer.events.wait(ev='disconnect', client='ada')
    assert event['reason'] == peer.reasons['client']
    assert server.disconnect_reason('/', sid) == 'client disconnect'
