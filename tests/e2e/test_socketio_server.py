"""python-socketio 5.18.1, unchanged, on our Engine.IO server in every async
mode, with three kinds of Socket.IO clients: the official JavaScript
socket.io-client 4.8, python-socketio's ``Client`` and its
``AsyncClient``.

Each server runs in its own process (tests/support/sio_server.py), shared
by the tests of a module for one async mode; each test gets a fresh peer
of one client kind (tests/support/sio_clients.py).
"""
from __future__ import annotations

import time

import pytest

from tests.support import sio_clients, sio_procs
from tests.support.sio_server import MODES, TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

KINDS = [pytest.param('js', marks=pytest.mark.js), 'sync', 'async']
BOTH = ['/', '/chat']


@pytest.fixture(scope='module', params=MODES)
def server(request):
    # frequent pings: heartbeats run during every test
    srv = sio_procs.SioServer(request.param, ping_interval=0.5,
                              ping_timeout=10)
    yield srv
    srv.stop()


@pytest.fixture(params=KINDS)
def peer(request, server):
    p = sio_clients.make_peer(request.param)
    yield p
    p.close()


def auth(user):
    return {'token': TOKEN, 'user': user}


def connects_of(server, sid):
    """The connect events the server recorded for ``sid`` (the server runs
    its connect handler before it lets the client know)."""
    return [e for e in server.events() if e[0] == 'connect' and e[2] == sid]


def wait_transport(peer, client, expected, timeout=5.0):
    """Wait until the server reports ``expected`` as the transport of
    ``client`` (an upgrade completes in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        transport = peer.call(client, 'transport')
        if transport == expected or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert transport == expected


def test_connect_with_auth_and_refusals(server, peer):
    peer.connect('good', server.url, BOTH, auth=auth('ada'))
    connected = peer.wait_connected('good', BOTH)
    for ns in BOTH:
        (_, ns_seen, _, auth_seen, transport), = connects_of(
            server, connected[ns]['sid'])
        assert (ns_seen, auth_seen) == (ns, auth('ada'))
        assert transport in ('polling', 'websocket')

    # refused by the Socket.IO connect handler: the client gets its data
    peer.connect('bad', server.url, BOTH, auth={'token': 'guess'})
    for ns in BOTH:
        error, = peer.events.wait(ev='connect_error', client='bad', ns=ns)
        assert error['message'] == 'not authorized'
        assert error['data'] == {'token': 'guess'}
    assert not peer.events.select(ev='connect', client='bad')

    # refused by Engine.IO (foreign origin): the client gets an error too
    peer.connect('foreign', server.url, auth=auth('eve'),
                 headers={'Origin': 'http://evil.example'})
    error, = peer.events.wait(ev='connect_error', client='foreign')
    if peer.kind == 'js':
        assert error['message'] == 'xhr poll error'
    else:
        assert error['data'] is None
        assert error['message'] == 'Not an accepted origin.'
    assert not peer.events.select(ev='connect', client='foreign')


@pytest.mark.parametrize('transports', [['polling'], ['websocket'], None],
                         ids=['polling', 'websocket', 'upgrade'])
def test_acks_both_ways_binary_and_namespaces(server, peer, transports):
    peer.connect('c', server.url, BOTH, auth=auth('bob'),
                 transports=transports)
    peer.wait_connected('c', BOTH)
    wait_transport(peer, 'c', transports[0] if transports else 'websocket')
    blob = bytes(range(256)) * 400  # 100 KiB
    data = {'text': 'h\u00e9llo \u2603', 'n': [1, 2.5, None, True],
            'blob': b'\x00\x01\xff', 'nested': [{'more': b'\xfe'}]}
    assert peer.call('c', 'echo', data) == data
    assert peer.call('c', 'echo', blob, ns='/chat') == blob
    assert peer.call('c', 'echo', 'plain', ns='/chat') == 'plain'

    # server -> client call inside a client -> server call
    question = {'q': 'who?', 'bin': b'\x02\x03'}
    assert peer.call('c', 'ask', question, ns='/chat') == {
        'client_said': {'answer': [question]}}
    asked, = peer.events.select(ev='event', client='c', name='question')
    assert (asked['ns'], asked['args']) == ('/chat', [question])


def test_rooms_and_broadcast_to_20_clients(server, peer):
    names = ['c{}'.format(i) for i in range(20)]
    for i, name in enumerate(names):
        peer.connect(name, server.url, auth=auth(name),
                     transports=['polling'] if i % 2 else ['websocket'])
    for name in names:
        peer.wait_connected(name)
    evens = names[::2]
    for name in evens:
        assert peer.call(name, 'join', 'evens') == 'joined'
    to_room = {'room': 'evens', 'bin': b'\x00room'}
    to_all = {'room': None, 'bin': b'\x00all'}
    assert peer.call(names[1], 'shout', 'evens', to_room) == 'sent'
    assert peer.call(names[1], 'shout', None, to_all) == 'sent'
    for name in names:
        # per client, "news" arrives in the order it was sent
        peer.events.wait(2 if name in evens else 1, ev='event',
                         client=name, name='news')
        news = [e['args'] for e in peer.events.select(
            ev='event', client=name, name='news')]
        assert news == ([[to_room], [to_all]] if name in evens
                        else [[to_all]])


def test_disconnect_reasons(server, peer):
    reasons = peer.reasons
    # the client disconnects
    peer.connect('a', server.url, BOTH, auth=auth('a'))
    sids = {ns: e['sid'] for ns, e in peer.wait_connected('a', BOTH).items()}
    peer.disconnect('a')
    for ns in BOTH:
        event, = peer.events.wait(ev='disconnect', client='a', ns=ns)
        assert event['reason'] == reasons['client']
        assert server.disconnect_reason(ns, sids[ns]) == 'client disconnect'

    # the server disconnects the client from one namespace, then the other
    peer.connect('b', server.url, BOTH, auth=auth('b'))
    sids = {ns: e['sid'] for ns, e in peer.wait_connected('b', BOTH).items()}
    peer.emit('b', 'kick', ns='/chat')
    event, = peer.events.wait(ev='disconnect', client='b', ns='/chat')
    assert event['reason'] == reasons['server']
    assert server.disconnect_reason('/chat', sids['/chat']) == \
        'server disconnect'
    assert peer.call('b', 'echo', 'still here') == 'still here'
    peer.emit('b', 'kick')
    event, = peer.events.wait(ev='disconnect', client='b', ns='/')
    assert event['reason'] == reasons['server']
    assert server.disconnect_reason('/', sids['/']) == 'server disconnect'

    if peer.kind == 'js':
        # the client process dies: its WebSocket closes without a word
        peer.connect('c', server.url, BOTH, auth=auth('c'),
                     transports=['websocket'])
        sids = {ns: e['sid']
                for ns, e in peer.wait_connected('c', BOTH).items()}
        peer.kill()
        for ns in BOTH:
            assert server.disconnect_reason(ns, sids[ns]) == \
                'transport close'


def test_many_clients_leaving_at_once(server, peer):
    # each client sends its goodbyes and closes its connection at once:
    # no message may be lost on the way
    names = ['c{}'.format(i) for i in range(10)]
    for name in names:
        peer.connect(name, server.url, BOTH, auth=auth(name),
                     transports=['websocket'])
    sids = [e['sid'] for name in names
            for e in peer.wait_connected(name, BOTH).values()]
    for name in names:
        peer.disconnect(name)
    events = server.wait_events(lambda events: all(
        any(e[0] == 'disconnect' and e[2] == sid for e in events)
        for sid in sids), 'the disconnect of every client')
    reasons = {e[2]: e[3] for e in events if e[0] == 'disconnect'}
    assert [reasons[sid] for sid in sids] == ['client disconnect'] * 20


def test_reconnects_after_server_restart(server, peer):
    peer.connect('r', server.url, BOTH, auth=auth('r'), reconnection=True)
    first = peer.wait_connected('r', BOTH)
    server.kill()
    for ns in BOTH:
        event, = peer.events.wait(ev='disconnect', client='r', ns=ns)
        assert event['reason'] in peer.reasons['lost']
    server.start()
    second = peer.wait_connected('r', BOTH, count=2, timeout=15)
    for ns in BOTH:
        assert second[ns]['sid'] != first[ns]['sid']
        assert connects_of(server, second[ns]['sid'])[0][3] == auth('r')
    assert peer.call('r', 'echo', b'\x01again', ns='/chat') == b'\x01again'
