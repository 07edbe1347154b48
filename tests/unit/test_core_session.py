"""The server session state machine, driven with a fake clock."""
import pytest

from engineio.packet import (CLOSE, MESSAGE, NOOP, OPEN, PING, PONG, UPGRADE,
                             Packet)
from engineio._core.session import (PollOverlap, ProtocolViolation,
                                    ServerSession)

INTERVAL, TIMEOUT = 25.0, 20.0


def open_session(transport='polling', now=100.0):
    s = ServerSession('sid1', transport, INTERVAL, TIMEOUT)
    s.send(Packet(OPEN, {'sid': 'sid1'}))
    s.accept(now)
    return s


def types(pkts):
    return [p.packet_type for p in pkts]


def test_new_session_is_opening_without_heartbeat():
    s = ServerSession('a', 'polling', INTERVAL, TIMEOUT)
    assert s.state == 'opening'
    assert s.deadline() is None
    assert not s.ping_due(1e9)


def test_discarded_session_reports_no_close():
    s = ServerSession('a', 'polling', INTERVAL, TIMEOUT)
    s.send(Packet(OPEN))
    s.discard()
    assert s.closed and not s.outbox
    assert s.close('server disconnect') is None


def test_accept_schedules_first_ping():
    s = open_session(now=100.0)
    assert s.deadline() == 100.0 + INTERVAL
    assert not s.ping_due(100.0 + INTERVAL - 0.001)
    assert s.ping_due(100.0 + INTERVAL)


def test_ping_pong_cycle():
    s = open_session(now=0.0)
    s.ping_sent(25.0)
    assert s.deadline() == 25.0 + TIMEOUT
    assert not s.ping_due(30.0)
    assert not s.timed_out(44.9)
    assert s.receive(Packet(PONG), 30.0) is None
    assert s.deadline() == 30.0 + INTERVAL
    assert not s.timed_out(1000.0) or s.pong_deadline is None


def test_missing_pong_times_out():
    s = open_session(now=0.0)
    s.ping_sent(25.0)
    assert s.timed_out(45.0)
    assert s.close('ping timeout', 45.0) == 'ping timeout'
    assert types(s.poll_take()) == [OPEN, CLOSE]


def test_stray_pong_is_ignored():
    s = open_session(now=0.0)
    s.receive(Packet(PONG), 5.0)
    assert s.deadline() == INTERVAL  # unchanged: no second ping schedule


def test_close_is_reported_once():
    s = open_session()
    assert s.close('server disconnect') == 'server disconnect'
    assert s.close('ping timeout') is None
    assert s.close_reason == 'server disconnect'
    assert not s.send(Packet(MESSAGE, 'late'))


def test_message_delivered_only_when_open():
    s = open_session()
    pkt = Packet(MESSAGE, 'hi')
    assert s.receive(pkt, 1.0) is pkt
    s.close('server disconnect')
    assert s.receive(Packet(MESSAGE, 'x'), 2.0) is None


@pytest.mark.parametrize('kind', [OPEN, PING, NOOP, UPGRADE, 7, 9])
def test_packets_the_client_may_not_send(kind):
    s = open_session()
    with pytest.raises(ProtocolViolation):
        s.receive(Packet(kind), 1.0)
    assert s.closed and s.close_reason == 'transport error'


def test_client_close_with_waiting_poll_releases_it_with_noop():
    s = open_session()
    s.poll_take()
    s.start_poll(1.0)
    s.receive(Packet(CLOSE), 1.0)
    assert s.closed and s.close_reason == 'client disconnect'
    assert types(s.poll_take()) == [NOOP]


def test_client_close_without_poll_queues_nothing():
    s = open_session()
    s.poll_take()
    s.receive(Packet(CLOSE), 1.0)
    assert not s.outbox and not s.awaits_final_poll


def test_server_close_keeps_session_for_final_poll_until_deadline():
    s = open_session(now=0.0)
    s.poll_take()
    s.close('server disconnect', now=10.0)
    assert s.awaits_final_poll
    assert s.deadline() == 10.0 + TIMEOUT
    assert not s.drain_expired(10.0 + TIMEOUT - 1)
    assert s.drain_expired(10.0 + TIMEOUT)
    assert not s.awaits_final_poll


def test_final_poll_takes_close_packet():
    s = open_session()
    s.poll_take()
    s.close('server disconnect', 1.0)
    s.start_poll(2.0)
    assert types(s.poll_take()) == [CLOSE]
    assert not s.awaits_final_poll


def test_second_poll_closes_session_and_first_gets_close():
    s = open_session()
    s.poll_take()
    s.start_poll(1.0)
    with pytest.raises(PollOverlap):
        s.start_poll(1.5)
    assert s.close_reason == 'transport error'
    assert types(s.poll_take()) == [CLOSE]


def test_second_post_closes_session():
    s = open_session()
    s.start_post(1.0)
    with pytest.raises(ProtocolViolation):
        s.start_post(1.0)
    assert s.closed
    s.end_post()
    s.start_post(2.0)  # no error once the first ended (session is closed)


def test_poll_takes_all_queued_packets_in_order():
    s = open_session()
    for i in range(5):
        s.send(Packet(MESSAGE, str(i)))
    pkts = s.poll_take()
    assert [p.data for p in pkts[1:]] == ['0', '1', '2', '3', '4']
    assert s.poll_take() == []


def test_upgrade_sequence():
    s = open_session()
    s.poll_take()
    s.start_poll(1.0)
    assert s.websocket_opened()
    assert s.upgrading
    s.send(Packet(MESSAGE, 'during'))
    answer = s.probe_received(Packet(PING, 'probe'))
    assert answer.encode() == '3probe'
    # the waiting poll is released with a NOOP, the message stays queued
    assert types(s.poll_take()) == [NOOP]
    s.end_poll()
    assert s.ws_take() == []
    assert s.upgrade_received(Packet(UPGRADE))
    assert s.upgraded and s.transport == 'websocket'
    assert [p.data for p in s.ws_take()] == ['during']
    assert types(s.poll_take()) == [NOOP]


def test_second_websocket_is_refused():
    s = open_session()
    assert s.websocket_opened()
    assert not s.websocket_opened()


def test_bad_probe_abandons_upgrade():
    s = open_session()
    s.websocket_opened()
    assert s.probe_received(Packet(MESSAGE, 'probe')) is None
    assert not s.upgrading and s.transport == 'polling'
    assert s.websocket_opened()  # a new attempt is allowed


def test_missing_upgrade_packet_abandons_upgrade():
    s = open_session()
    s.websocket_opened()
    s.probe_received(Packet(PING, 'probe'))
    assert not s.upgrade_received(Packet(MESSAGE, 'x'))
    assert not s.upgrading and not s.upgraded


def test_websocket_session_is_upgraded_from_start():
    s = open_session('websocket')
    assert s.upgraded
    assert types(s.ws_take()) == [OPEN]
    assert not s.websocket_opened()


def test_close_during_probe_goes_to_the_poll():
    s = open_session()
    s.poll_take()
    s.start_poll(1.0)
    s.websocket_opened()
    s.probe_received(Packet(PING, 'probe'))
    s.close('server disconnect', 2.0)
    assert types(s.poll_take()) == [CLOSE]
    assert not s.upgrade_received(Packet(UPGRADE))
