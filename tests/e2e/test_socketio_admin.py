"""python-socketio's admin UI instrumentation on our Engine.IO server.

``sio.instrument()`` replaces the server's ``_ok`` and patches
``Socket.handle_post_request``, ``Socket._websocket_handler`` and
``Socket._send_ping`` (``AsyncSocket`` for the asyncio modes) to count
packets and bytes and to report sockets with every ping. The official
socket.io-client, connected to ``/admin`` as the admin UI would be, must
see the clients, their transports and their traffic.
"""
from __future__ import annotations

import pytest

from tests.support import sio_clients, sio_procs
from tests.support.sio_server import MODES, TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.js, pytest.mark.timeout(60)]

#: characters each user sends in one message (and gets back in the ack)
BIG = 200000


@pytest.fixture(params=MODES)
def server(request):
    srv = sio_procs.SioServer(request.param, admin=True, ping_interval=0.5,
                              ping_timeout=5)
    yield srv
    srv.stop()


@pytest.fixture
def users():
    peer = sio_clients.make_peer('sync')
    yield peer
    peer.close()


@pytest.fixture
def admin():
    peer = sio_clients.make_peer('js')
    yield peer
    peer.close()


def admin_events(admin, name):
    return [e['args'] for e in admin.events.select(ev='event', ns='/admin',
                                                   name=name)]


def wait_admin_event(admin, name, predicate=lambda args: True,
                     what=''):
    """Wait for events ``name`` whose arguments satisfy ``predicate``;
    return the arguments of those events."""
    admin.events.wait_until(lambda: any(
        predicate(args) for args in admin_events(admin, name)),
        what or name)
    return [args for args in admin_events(admin, name) if predicate(args)]


def traffic(admin):
    """Totals of the aggregated events of every ``server_stats``."""
    totals = {}
    for (stats,) in admin_events(admin, 'server_stats'):
        for event in stats['aggregatedEvents']:
            totals[event['type']] = totals.get(event['type'], 0) + \
                event['count']
    return totals


def test_admin_namespace_reports_clients_transports_and_bytes(
        server, users, admin):
    auth = {'token': TOKEN}
    users.connect('ws', server.url, auth=auth, transports=['websocket'])
    users.connect('poll', server.url, ['/chat'], auth=auth,
                  transports=['polling'])
    ws_sid = users.wait_connected('ws')['/']['sid']
    poll_sid = users.wait_connected('poll', ['/chat'])['/chat']['sid']

    admin.connect('admin', server.url, ['/admin'])
    admin.wait_connected('admin', ['/admin'])
    (config,), = wait_admin_event(admin, 'config')
    assert 'ALL_EVENTS' in config['supportedFeatures']
    (sockets,), = wait_admin_event(admin, 'all_sockets')
    listed = {s['id']: s for s in sockets}
    assert (listed[ws_sid]['nsp'], listed[ws_sid]['transport']) == \
        ('/', 'websocket')
    assert (listed[poll_sid]['nsp'], listed[poll_sid]['transport']) == \
        ('/chat', 'polling')
    assert listed[ws_sid]['handshake']['address'] == '127.0.0.1'
    assert listed[ws_sid]['handshake']['query']['transport'] == 'websocket'

    # a new client is announced
    users.connect('late', server.url, auth=auth)
    late_sid = users.wait_connected('late')['/']['sid']
    wait_admin_event(admin, 'socket_connected',
                     lambda args: args[0]['id'] == late_sid)

    # with every ping (Socket._send_ping), connected sockets are reported
    admin.events.wait_until(lambda: len([
        args for args in admin_events(admin, 'socket_connected')
        if args[0]['id'] == ws_sid]) >= 2,
        'socket_connected of a client at two pings')

    # traffic over each transport is counted: polling through _ok and
    # handle_post_request, WebSocket through _websocket_handler
    assert users.call('ws', 'echo', 'w' * BIG) == 'w' * BIG
    assert users.call('poll', 'echo', 'p' * BIG, ns='/chat') == 'p' * BIG
    admin.events.wait_until(lambda: all(
        traffic(admin).get(kind, 0) > 2 * BIG
        for kind in ('bytesIn', 'bytesOut')), 'the bytes of both users')
    totals = traffic(admin)
    assert totals['rawConnection'] >= 1  # at least the late client
    assert totals['packetsIn'] > 0 and totals['packetsOut'] > 0
    wait_admin_event(admin, 'event_received', lambda args: args[:3] == [
        '/chat', poll_sid, ['echo', 'p' * BIG]])

    # server_stats counts the Engine.IO clients and the polling ones
    stats = wait_admin_event(
        admin, 'server_stats', lambda args: (
            args[0]['clientsCount'], args[0]['pollingClientsCount']) ==
        (4, 1), 'server_stats with 4 clients, 1 of them polling')[-1][0]
    namespaces = {n['name']: n['socketsCount'] for n in stats['namespaces']}
    assert (namespaces['/'], namespaces['/chat']) == (2, 1)

    # and a client leaving is announced with its reason
    users.disconnect('late')
    wait_admin_event(admin, 'socket_disconnected', lambda args: args[:3] == [
        '/', late_sid, 'client disconnect'])
