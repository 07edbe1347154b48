"""The client-side protocol core, driven with a fake clock."""
import json

import pytest

from engineio._core import client as core
from engineio._core.client import ClientSession
from engineio.exceptions import ConnectionError
from engineio.packet import (CLOSE, MESSAGE, NOOP, OPEN, PING, PONG, UPGRADE,
                             Packet)
from engineio.payload import Payload

URL = 'http://example.com:8080/ignored/path?token=abc'
HANDSHAKE = {'sid': 'sid1', 'upgrades': ['websocket'], 'pingInterval': 25000,
             'pingTimeout': 20000, 'maxPayload': 1000000}


def open_body(data=None, *extra):
    pkts = [Packet(OPEN, data if data is not None else HANDSHAKE)]
    return Payload(packets=pkts + list(extra)).encode()


def connected(transport='polling', transports=None, now=100.0, **changes):
    s = ClientSession(URL, 'engine.io', transports or ['polling',
                                                       'websocket'])
    data = dict(HANDSHAKE, **changes)
    if transport == 'polling':
        assert s.open_polling(open_body(data), now) == []
    else:
        s.open_websocket(Packet(OPEN, data).encode(), now)
    return s


def types(pkts):
    return [p.packet_type for p in pkts]


# ------------------------------------------------------------------ URLs
@pytest.mark.parametrize('transports, expected', [
    (None, ['polling', 'websocket']),
    ('websocket', ['websocket']),
    (['websocket', 'polling'], ['websocket', 'polling']),
    (['foo', 'polling'], ['polling']),
])
def test_select_transports(transports, expected):
    assert core.select_transports(transports) == expected


@pytest.mark.parametrize('transports', [[], ['foo'], 'foo'])
def test_select_transports_refuses_none_valid(transports):
    with pytest.raises(ValueError, match='No valid transports provided'):
        core.select_transports(transports)


@pytest.mark.parametrize('url, path, transport, expected', [
    ('http://h:1', 'engine.io', 'polling',
     'http://h:1/engine.io/?transport=polling&EIO=4'),
    ('http://h:1/some/path', '/engine.io/', 'websocket',
     'ws://h:1/engine.io/?transport=websocket&EIO=4'),
    ('https://h/x?a=1&b=2', 'socket.io', 'polling',
     'https://h/socket.io/?a=1&b=2&transport=polling&EIO=4'),
    ('wss://h', 'engine.io', 'polling',
     'https://h/engine.io/?transport=polling&EIO=4'),
    ('ws://h', 'a/b/', 'websocket',
     'ws://h/a/b/?transport=websocket&EIO=4'),
    ('https://h', 'engine.io', 'websocket',
     'wss://h/engine.io/?transport=websocket&EIO=4'),
])
def test_endpoint_url(url, path, transport, expected):
    assert core.endpoint_url(url, path, transport) == expected


def test_request_urls_carry_sid_and_timestamp():
    s = ClientSession(URL, 'engine.io', ['polling'])
    assert s.url('polling', 12.5) == ('http://example.com:8080/engine.io/'
                                      '?token=abc&transport=polling&EIO=4'
                                      '&t=12.5')
    s.open_polling(open_body(), 0.0)
    assert s.url('polling') == ('http://example.com:8080/engine.io/'
                                '?token=abc&transport=polling&EIO=4&sid=sid1')
    assert s.url('websocket', 3.0).startswith('ws://example.com:8080/')
    assert s.url('websocket', 3.0).endswith('&sid=sid1&t=3.0')


# -------------------------------------------------------------- handshake
def test_polling_handshake():
    s = ClientSession(URL, 'engine.io', ['polling', 'websocket'])
    assert s.state == 'disconnected' and s.sid is None
    extra = s.open_polling(open_body(None, Packet(MESSAGE, 'hi')), 50.0)
    assert [(p.packet_type, p.data) for p in extra] == [(MESSAGE, 'hi')]
    assert (s.state, s.sid, s.transport) == ('connected', 'sid1', 'polling')
    assert s.upgrades == ['websocket']
    assert (s.ping_interval, s.ping_timeout) == (25.0, 20.0)
    assert s.max_payload == 1000000
    assert s.liveness_deadline == 50.0 + 45.0


def test_handshake_accepts_bytes_and_fractional_heartbeat():
    s = ClientSession(URL, 'engine.io', ['polling'])
    body = open_body(dict(HANDSHAKE, pingInterval=300, pingTimeout=200))
    s.open_polling(body.encode(), 0.0)
    assert (s.ping_interval, s.ping_timeout) == (0.3, 0.2)


def test_websocket_handshake():
    s = connected('websocket', ['websocket'], upgrades=[])
    assert (s.state, s.transport, s.upgrades) == ('connected', 'websocket',
                                                  [])
    assert not s.can_upgrade()


@pytest.mark.parametrize('body, message', [
    ('', 'OPEN packet not returned by server'),
    ('4hello', 'OPEN packet not returned by server'),
    ('x', 'Unexpected response from server'),
    (b'\xff\xfe', 'Unexpected response from server'),
    ('0', 'Unexpected response from server'),
    ('0[1,2]', 'Unexpected response from server'),
    ('0not json', 'Unexpected response from server'),
])
def test_bad_polling_handshake(body, message):
    s = ClientSession(URL, 'engine.io', ['polling'])
    with pytest.raises(ConnectionError) as info:
        s.open_polling(body, 0.0)
    assert info.value.args == (message,)
    assert (s.state, s.sid) == ('disconnected', None)


@pytest.mark.parametrize('change', [
    {'sid': None}, {'sid': ''}, {'sid': 5}, {'pingInterval': 'x'},
    {'pingTimeout': None}, {'pingInterval': -1}, {'pingTimeout': True},
    {'upgrades': 'websocket'}, {'maxPayload': 'big'},
])
def test_invalid_open_data(change):
    data = dict(HANDSHAKE, **change)
    s = ClientSession(URL, 'engine.io', ['polling'])
    with pytest.raises(ConnectionError, match='Unexpected response'):
        s.open_polling(open_body(data), 0.0)
    s = ClientSession(URL, 'engine.io', ['websocket'])
    with pytest.raises(ConnectionError, match='no OPEN packet'):
        s.open_websocket(Packet(OPEN, data).encode(), 0.0)


@pytest.mark.parametrize('frame', ['', '4hi', b'\x00\x01', 'z'])
def test_bad_websocket_handshake(frame):
    s = ClientSession(URL, 'engine.io', ['websocket'])
    with pytest.raises(ConnectionError) as info:
        s.open_websocket(frame, 0.0)
    assert info.value.args == ('no OPEN packet',)


def test_missing_optional_open_fields():
    data = {'sid': 'x', 'pingInterval': 1000, 'pingTimeout': 1000}
    s = ClientSession(URL, 'engine.io', ['polling'])
    s.open_polling(open_body(data), 0.0)
    assert (s.upgrades, s.max_payload) == ([], None)


@pytest.mark.parametrize('status, body, expected', [
    (401, b'{"message": "nope"}', {'message': 'nope'}),
    (401, b'"Unauthorized"', 'Unauthorized'),
    (400, '"Invalid transport"', 'Invalid transport'),
    (404, b'Not Found', None),
    (500, b'', None),
    (503, None, None),
    (403, b'\xff', None),
])
def test_handshake_status_errors(status, body, expected):
    with pytest.raises(ConnectionError) as info:
        core.check_handshake_status(status, body)
    assert info.value.args == (
        f'Unexpected status code {status} in server response', expected)


@pytest.mark.parametrize('status', [200, 204, 299])
def test_handshake_success_statuses(status):
    core.check_handshake_status(status, b'anything')
    assert core.is_success(status)


@pytest.mark.parametrize('status', [101, 199, 300, 302, 400, 500])
def test_failure_statuses(status):
    assert not core.is_success(status)


# -------------------------------------------------------------- receiving
def test_message_events():
    s = connected()
    for data in ['text', b'\x00bin', {'a': 1}, [1, 2], '']:
        assert s.receive(Packet(MESSAGE, data), 1.0) == (
            core.MESSAGE_EVENT, data)


def test_ping_queues_pong_and_pushes_liveness():
    s = connected(now=0.0)
    assert s.liveness_deadline == 45.0
    assert s.receive(Packet(PING), 30.0) is None
    assert s.receive(Packet(PING, 'data'), 31.0) is None
    assert [(p.packet_type, p.data) for p in s.take_batch()] == [
        (PONG, None), (PONG, 'data')]
    assert s.liveness_deadline == 31.0 + 45.0
    assert not s.expired(75.9)
    assert s.expired(76.0)


def test_other_packets_do_not_push_liveness():
    s = connected(now=0.0)
    s.receive(Packet(MESSAGE, 'x'), 40.0)
    s.receive(Packet(NOOP), 41.0)
    assert s.expired(45.0)
    assert s.read_timeout(44.0) == 1.0
    assert s.read_timeout(50.0) == 0.0


def test_noop_is_ignored():
    s = connected()
    assert s.receive(Packet(NOOP), 1.0) is None
    assert s.state == 'connected' and not s.outbox


@pytest.mark.parametrize('kind', [OPEN, PONG, UPGRADE, 7, 9])
def test_packets_a_server_may_not_send_are_reported(kind):
    s = connected()
    event = s.receive(Packet(kind), 1.0)
    assert event.kind == core.INVALID_EVENT
    assert s.state == 'connected' and not s.ending


def test_server_close():
    s = connected()
    s.send(Packet(MESSAGE, 'pending'))
    assert s.receive(Packet(CLOSE), 1.0) == (core.DISCONNECT_EVENT,
                                             'server disconnect')
    assert (s.state, s.ending) == ('disconnecting', True)
    assert s.writer_done and not s.take_batch()
    assert s.receive(Packet(MESSAGE, 'late'), 2.0) is None
    assert s.receive(Packet(CLOSE), 2.0) is None
    assert s.lose() is None
    assert not s.begin_disconnect()
    s.finish()
    assert (s.state, s.sid) == ('disconnected', None)


def test_messages_before_close_in_one_payload_are_delivered():
    s = connected()
    pkts = core.decode_payload('4bye\x1e1\x1e4after')
    events = [s.receive(p, 1.0) for p in pkts]
    assert events == [(core.MESSAGE_EVENT, 'bye'),
                      (core.DISCONNECT_EVENT, 'server disconnect'), None]


# ---------------------------------------------------------------- sending
def test_send_only_while_connected():
    s = ClientSession(URL, 'engine.io', ['polling'])
    assert not s.send(Packet(MESSAGE, 'early'))
    s.open_polling(open_body(), 0.0)
    assert s.send(Packet(MESSAGE, 'a'))
    assert types(s.take_batch()) == [MESSAGE]
    assert s.take_batch() == []
    assert not s.writer_done


def test_polling_batches_respect_max_payload():
    s = connected(maxPayload=10)
    for data in ['aaaa', 'bbbb', 'c', b'\x01\x02\x03\x04\x05\x06\x07\x08']:
        s.send(Packet(MESSAGE, data))
    # "4aaaa" (5) + sep + "4bbbb" (5) = 11 > 10
    assert [p.data for p in s.take_batch()] == ['aaaa']
    assert [p.data for p in s.take_batch()] == ['bbbb', 'c']
    # a single packet larger than the limit still goes out alone
    assert [p.data for p in s.take_batch()] == [
        b'\x01\x02\x03\x04\x05\x06\x07\x08']
    assert s.take_batch() == []


def test_max_payload_counts_utf8_bytes():
    s = connected(maxPayload=8)
    s.send(Packet(MESSAGE, 'ééé'))  # 1 + 6 bytes
    s.send(Packet(MESSAGE, 'x'))
    assert [p.data for p in s.take_batch()] == ['ééé']


def test_websocket_batches_take_everything():
    s = connected('websocket', ['websocket'], maxPayload=1)
    for i in range(5):
        s.send(Packet(MESSAGE, 'long message %d' % i))
    assert len(s.take_batch()) == 5


def test_polling_payload_round_trip():
    body = core.encode_payload([Packet(MESSAGE, 'a'), Packet(MESSAGE, b'\x01'),
                                Packet(PONG)])
    assert body == b'4a\x1ebAQ==\x1e3'
    assert types(core.decode_payload(body)) == [MESSAGE, MESSAGE, PONG]


# ----------------------------------------------------------------- upgrade
def test_upgrade_sequence():
    s = connected()
    assert s.can_upgrade()
    assert s.probe_packet().encode() == '2probe'
    assert s.probe_answered('3probe')
    for wrong in ['3', '3probes', '2probe', '4probe', '', b'3probe', 'x']:
        assert not s.probe_answered(wrong)
    assert s.upgrade_packet().encode() == '5'
    s.upgraded()
    assert s.transport == 'websocket'
    assert not s.can_upgrade()


@pytest.mark.parametrize('transports, upgrades', [
    (['polling'], ['websocket']),
    (['polling', 'websocket'], []),
])
def test_no_upgrade_unless_both_sides_want_it(transports, upgrades):
    s = connected(transports=transports, upgrades=upgrades)
    assert not s.can_upgrade()


def test_no_upgrade_once_ending():
    s = connected()
    s.lose()
    assert not s.can_upgrade()


# ------------------------------------------------------------------ ending
def test_client_disconnect_queues_close():
    s = connected()
    s.send(Packet(MESSAGE, 'last words'))
    assert s.begin_disconnect()
    assert (s.state, s.ending) == ('disconnecting', True)
    assert not s.send(Packet(MESSAGE, 'dropped'))
    assert not s.writer_done
    assert types(s.take_batch()) == [MESSAGE, CLOSE]
    assert s.writer_done
    assert not s.begin_disconnect()
    assert s.lose() is None
    assert s.receive(Packet(CLOSE), 1.0) is None
    s.finish()
    assert s.state == 'disconnected'


def test_transport_loss_keeps_state_connected_until_finish():
    s = connected()
    s.send(Packet(MESSAGE, 'unsent'))
    assert s.lose() == 'transport error'
    assert (s.state, s.ending) == ('connected', True)
    assert s.writer_done and s.take_batch() == []
    assert s.lose() is None
    assert not s.begin_disconnect()
    assert s.receive(Packet(MESSAGE, 'x'), 1.0) is None
    assert not s.expired(1e9)
    s.finish()
    assert (s.state, s.sid, s.liveness_deadline) == ('disconnected', None,
                                                     None)


def test_dead_server_is_detected_from_the_clock():
    s = connected(now=10.0, pingInterval=300, pingTimeout=200)
    assert s.read_timeout(10.0) == pytest.approx(0.5)
    assert not s.expired(10.49)
    assert s.expired(10.5)
    assert s.lose() == 'transport error'


def test_not_connected_session_has_no_deadline():
    s = ClientSession(URL, 'engine.io', ['polling'])
    assert s.read_timeout(0.0) is None
    assert not s.expired(1e9)
    assert not s.begin_disconnect()
    assert s.lose() is None
    assert s.receive(Packet(MESSAGE, 'x'), 0.0) is None


def test_decode_json_tolerates_anything():
    assert core.decode_json(json.dumps({'a': [1]}).encode()) == {'a': [1]}
    assert core.decode_json('[' * 100000) is None
    assert core.decode_json('1' * 200) is None
    assert core.decode_json(None) is None
