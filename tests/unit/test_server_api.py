"""The public surface of Server that needs no network."""
import logging
import re

import pytest

import engineio
from engineio import base_server, packet


def make(**kwargs):
    return engineio.Server(async_mode='threading', **kwargs)


def test_invalid_async_modes():
    for mode in ('foo', 'aiohttp', 'asgi', 'engineio.async_drivers.x'):
        with pytest.raises(ValueError, match='Invalid async_mode specified'):
            engineio.Server(async_mode=mode)


def test_default_async_mode_is_first_importable():
    eio = engineio.Server()
    assert eio.async_mode in eio.async_modes()
    assert eio.async_modes() == ['eventlet', 'gevent_uwsgi', 'gevent',
                                 'threading']
    assert not eio.is_asyncio_based()


def test_transports_option():
    assert make().transports == ['polling', 'websocket']
    assert make(transports='websocket').transports == ['websocket']
    assert make(transports=['polling', 'foo']).transports == ['polling']
    with pytest.raises(ValueError, match='No valid transports provided'):
        make(transports=['foo'])


def test_ping_interval_tuple_and_exact_milliseconds():
    eio = make(ping_interval=(0.3, 0.2), ping_timeout=2.5)
    assert (eio.ping_interval, eio.ping_interval_grace_period) == (0.3, 0.2)
    data = eio._open_packet('sid', 'polling').data
    assert data == {'sid': 'sid', 'upgrades': ['websocket'],
                    'pingTimeout': 2500, 'pingInterval': 500,
                    'maxPayload': 1000000}


@pytest.mark.parametrize('options', [
    {}, {'ping_interval': (0.3, 0.2), 'ping_timeout': 2.5},
    {'max_http_buffer_size': None}, {'allow_upgrades': False}])
@pytest.mark.parametrize('sid', ['aB3_-xYz', 'x"y', 'a\\b', '\u00e9', 'a\nb', ''])
def test_open_packet_encoding_is_the_packets_own(options, sid):
    eio = make(**options)
    for transport in ('polling', 'websocket', 'polling'):
        pkt = eio._open_packet(sid, transport)
        assert pkt.encode() == packet.Packet(packet.OPEN, pkt.data).encode()
    eio.ping_timeout = 7  # options changed after the first handshakes
    pkt = eio._open_packet(sid, 'polling')
    assert pkt.data['pingTimeout'] == 7000
    assert pkt.encode() == packet.Packet(packet.OPEN, pkt.data).encode()


def test_upgrades_follow_options():
    assert make(allow_upgrades=False)._upgrades('s', 'polling') == []
    assert make(transports=['polling'])._upgrades('s', 'polling') == []
    assert make()._upgrades('s', 'websocket') == []


def test_on_registers_and_validates():
    eio = make()

    @eio.on('connect')
    def connect(sid, environ):
        pass

    assert eio.handlers['connect'] is connect
    eio.on('message', print)
    assert eio.handlers['message'] is print
    with pytest.raises(ValueError, match='Invalid event'):
        eio.on('foo', print)


def test_generate_id_format_and_sequence():
    eio = make()
    ids = [eio.generate_id() for _ in range(3)]
    assert all(re.fullmatch(r'[A-Za-z0-9_-]{20}', i) for i in ids)
    assert [i[-4:] for i in ids] == ['AAAA', 'AAAB', 'AAAC']
    assert len(set(ids)) == 3


def test_reason_constants():
    r = engineio.Server.reason
    assert (r.SERVER_DISCONNECT, r.CLIENT_DISCONNECT, r.PING_TIMEOUT,
            r.TRANSPORT_CLOSE, r.TRANSPORT_ERROR) == (
        'server disconnect', 'client disconnect', 'ping timeout',
        'transport close', 'transport error')


def test_response_builders():
    eio = make()
    assert eio._ok() == {'status': '200 OK', 'response': b'ok',
                         'headers': [('Content-Type', 'text/plain')]}
    r = eio._ok([packet.Packet(packet.MESSAGE, 'a"b')], jsonp_index=2)
    assert r['response'] == b'___eio[2]("4a\\"b");'
    assert r['headers'] == [('Content-Type',
                             'text/javascript; charset=UTF-8')]
    assert eio._bad_request('x')['response'] == b'"x"'
    assert eio._unauthorized()['response'] == b'"Unauthorized"'
    assert eio._unauthorized({'a': 1})['response'] == b'{"a": 1}'
    assert eio._unauthorized()['status'] == '401 UNAUTHORIZED'


def test_unknown_sessions():
    eio = make()
    with pytest.raises(KeyError, match='Session not found'):
        eio.get_session('nope')
    with pytest.raises(KeyError):
        eio.transport('nope')
    eio.disconnect('nope')  # quietly ignored
    eio.disconnect()


def test_send_to_unknown_sid_logs_warning(caplog):
    eio = make(logger=logging.getLogger('test-eio'))
    with caplog.at_level(logging.WARNING, logger='test-eio'):
        eio.send('nope', 'data')
    assert 'Cannot send to sid nope' in caplog.text


def test_legacy_disconnect_handler_called_once():
    calls = []

    def modern(sid, reason):
        calls.append(('modern', sid, reason))

    def legacy(sid):
        calls.append(('legacy', sid))

    def broken(sid, reason):
        calls.append('broken')
        raise TypeError('inside the handler')

    base_server.call_with_optional_args(modern, 's', 'r')
    base_server.call_with_optional_args(legacy, 's', 'r')
    with pytest.raises(TypeError):
        base_server.call_with_optional_args(broken, 's', 'r')
    assert calls == [('modern', 's', 'r'), ('legacy', 's'), 'broken']


def test_logger_true_after_false_takes_effect():
    logger = logging.getLogger('engineio-test-logger')
    assert base_server.configure_logger(False, logger).level == logging.ERROR
    assert base_server.configure_logger(True, logger).level == logging.INFO
    assert len(logger.handlers) == 1
    custom = logging.getLogger('custom')
    assert base_server.configure_logger(custom, logger) is custom


def test_json_option_is_process_wide():
    class FakeJson:
        @staticmethod
        def dumps(*args, **kwargs):
            return '"fake"'

    original = packet.Packet.json
    try:
        make(json=FakeJson)
        assert packet.Packet(packet.MESSAGE, {'a': 1}).encode() == '4"fake"'
    finally:
        packet.Packet.json = original


def test_background_task_sleep_queue_event():
    eio = make()
    results = []
    t = eio.start_background_task(results.append, 1)
    t.join()
    assert results == [1]
    q = eio.create_queue()
    with pytest.raises(eio.get_queue_empty_exception()):
        q.get(block=False)
    ev = eio.create_event()
    assert not ev.is_set()
    eio.sleep(0)


def test_public_names():
    for name in ('Server', 'WSGIApp', 'Middleware'):
        assert name in engineio.__all__
    assert issubclass(engineio.Middleware, engineio.WSGIApp)
