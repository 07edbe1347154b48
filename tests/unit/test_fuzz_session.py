"""Property tests of the server session core: any sequence of client
events, application calls and clock ticks keeps the session's invariants.

:class:`ServerDriver` stands in for the I/O shell (engineio/socket.py): it
routes and performs each event the way the shell does, calling
:class:`~engineio._core.session.ServerSession` only, and checks after every
step that

- there is one writer: a polling GET only carries packets while the session
  is not upgraded (a NOOP otherwise), the WebSocket only once it is, and two
  GETs never wait at once;
- nothing follows the end: after a CLOSE went to the client nothing else
  does, a closed session queues nothing and gives the application no message;
- exactly one close is reported for an accepted session (none for a refused
  one), and it is one of the documented reasons;
- the queue of messages stays within its bound;
- every due deadline leads to an action (the heartbeat task cannot spin),
  and a session whose client vanished ends and can be forgotten.

tests/stress/fuzz_campaign.py runs the same driver on millions of inputs.
"""
from __future__ import annotations

import random
from typing import Any, List, Optional, Sequence, Tuple

from hypothesis import given, settings, strategies as st

from engineio._core.reasons import Reason
from engineio._core.session import (PROBED, UPGRADED, OutboxOverflow,
                                    ProtocolViolation, ServerSession)
from engineio.packet import (CLOSE, MESSAGE, NOOP, OPEN, PING, PONG, Packet)

INTERVAL, TIMEOUT = 1.0, 1.0
QUEUE_LIMIT = 300
POSTABLE = (MESSAGE, PONG, CLOSE)
REASONS = {Reason.SERVER_DISCONNECT, Reason.CLIENT_DISCONNECT,
           Reason.PING_TIMEOUT, Reason.TRANSPORT_CLOSE, Reason.TRANSPORT_ERROR}
DATA = [None, '', 'probe', 'x', 'hello', 'y' * 40, b'\x00\x01']

Event = Tuple[Any, ...]


def make_packet(kind: int, data: Any) -> Packet:
    if isinstance(data, bytes) and kind != MESSAGE:
        data = data.decode()
    return Packet(kind, data)


class ServerDriver:
    """A session and the shell's view of it, checked after every event."""

    def __init__(self, transport: str, decision: str) -> None:
        self.s = ServerSession('sid', transport, INTERVAL, TIMEOUT, QUEUE_LIMIT)
        self.now = 0.0
        self.reported: List[str] = []
        self.delivered: List[Tuple[str, int]] = []
        self.messages: List[Any] = []
        self.reachable = True
        self.post_open = False
        self.probing_ws = False
        self.ws_alive = transport == 'websocket'
        self.s.send(Packet(OPEN, {'sid': 'sid'}))
        self.accepted = decision != 'refuse'
        if not self.accepted:
            self.s.discard()
            self.reachable = False
        else:
            if decision == 'close-in-connect':
                self.report(self.s.close(Reason.SERVER_DISCONNECT, self.now))
            self.report(self.s.accept(self.now))
        self.check()

    # -- helpers -------------------------------------------------------------
    def report(self, reason: Optional[str]) -> None:
        if reason is not None:
            assert reason in REASONS, reason
            self.reported.append(reason)

    def deliver(self, channel: str, pkts: Sequence[Packet]) -> None:
        upgrade = self.s.upgrade_state
        for pkt in pkts:
            if channel == 'ws':
                assert upgrade == UPGRADED, 'WebSocket wrote before the upgrade'
            elif upgrade in (PROBED, UPGRADED) and not self.s.closed:
                assert pkt.packet_type == NOOP, 'poll carried packets while upgrading'
            assert CLOSE not in [kind for _, kind in self.delivered], 'packet after CLOSE'
            self.delivered.append((channel, pkt.packet_type))

    def receive(self, pkt: Packet) -> bool:
        """Feed a packet as the shell's receive() does; False once the
        session refused it."""
        was_open = self.s.is_open
        was_closed = self.s.closed
        try:
            message = self.s.receive(pkt, self.now)
        except ProtocolViolation as exc:
            self.report(exc.reason)
            return False
        if message is not None:
            assert was_open, 'message delivered by a session that is not open'
            self.messages.append(message.data)
        if self.s.closed and not was_closed:
            self.report(self.s.close_reason)
        return True

    def routable(self, websocket: bool = False) -> bool:
        """Whether the routing lets a request with the sid through."""
        s = self.s
        if not self.reachable or s.upgraded or s.state == 'opening':
            return False
        return not (websocket and s.closed)

    # -- events --------------------------------------------------------------
    def run(self, events: Sequence[Event]) -> None:
        for event in events:
            getattr(self, 'ev_' + event[0])(*event[1:])
            self.check()
        self.vanish()

    def ev_send(self, size: int, binary: bool = False) -> None:
        was_closed = self.s.closed
        before = len(self.s.outbox)
        data = b'b' * size if binary else 'm' * size
        try:
            queued = self.s.send(Packet(MESSAGE, data), self.now)
        except OutboxOverflow as exc:
            assert not was_closed
            self.report(exc.reason)
            return
        if was_closed:
            assert not queued and len(self.s.outbox) == before, 'queued after close'

    def ev_close(self, notify: bool) -> None:
        self.report(self.s.close(Reason.SERVER_DISCONNECT, self.now, notify_peer=notify))

    def ev_get(self) -> None:
        if not self.routable():
            return
        try:
            self.s.start_poll(self.now)
        except ProtocolViolation as exc:
            self.report(exc.reason)
            return
        self.ev_wake()

    def ev_wake(self) -> None:
        if not self.s.poll_waiting:
            return
        pkts = self.s.poll_take()
        if pkts:
            self.deliver('poll', pkts)
            self.s.end_poll()
        elif self.s.closed:  # nothing to send and nothing will come
            self.s.end_poll()
            self.report(self.s.close(Reason.TRANSPORT_ERROR, self.now, notify_peer=False))

    def ev_poll_timeout(self) -> None:
        if self.s.poll_waiting:
            self.s.end_poll()
            self.report(self.s.close(Reason.TRANSPORT_ERROR, self.now, notify_peer=False))

    def ev_post(self, pkts: Sequence[Packet]) -> None:
        self.ev_post_begin()
        self.ev_post_end(pkts)

    def ev_post_begin(self) -> None:
        if self.post_open or not self.routable() or self.s.closed:
            return
        try:
            self.s.start_post(self.now)
        except ProtocolViolation as exc:
            self.report(exc.reason)
            return
        self.post_open = True

    def ev_post_end(self, pkts: Sequence[Packet]) -> None:
        if not self.post_open:
            return
        self.post_open = False
        if any(p.packet_type not in POSTABLE for p in pkts):
            self.report(self.s.fail(self.now))
        else:
            for pkt in pkts:
                if not self.receive(pkt):
                    break
        self.s.end_post()

    def ev_ws_open(self) -> None:
        if self.routable(websocket=True) and self.s.websocket_opened():
            self.probing_ws = True

    def ev_ws_frame(self, pkt: Packet) -> None:
        s = self.s
        if self.ws_alive:
            if not self.receive(pkt) or s.closed:
                self.ev_ws_end()
        elif self.probing_ws:
            if s.upgrade_state == PROBED:
                if s.upgrade_received(pkt):
                    self.ws_alive = True
                self.probing_ws = False
            elif s.probe_received(pkt) is None:
                self.probing_ws = False

    def ev_upgrade(self) -> None:
        """What a client does to upgrade: open, probe, let its poll go,
        confirm."""
        self.ev_ws_open()
        self.ev_ws_frame(Packet(PING, 'probe'))
        self.ev_wake()
        self.ev_ws_frame(Packet(5))

    def ev_ws_end(self) -> None:
        if self.ws_alive:
            self.ws_alive = False
            self.report(self.s.close(Reason.TRANSPORT_CLOSE, self.now, notify_peer=False))
            self.s.websocket_ended()
        elif self.probing_ws:
            self.probing_ws = False
            self.s.abandon_upgrade()

    def ev_ws_take(self) -> None:
        if self.ws_alive:
            self.deliver('ws', self.s.ws_take())

    def ev_tick(self, seconds: float) -> None:
        self.now += seconds
        s = self.s
        for _ in range(10):
            due = s.deadline()
            if due is None or due > self.now:
                return
            if s.post_overdue(self.now):
                if self.post_open:  # the shell drops the request
                    self.post_open = False
                    self.report(s.fail(self.now))
                    s.end_post()
            elif s.drain_expired(self.now):
                self.reachable = False
            elif s.timed_out(self.now):
                self.report(s.close(Reason.PING_TIMEOUT, self.now))
            elif s.ping_due(self.now):
                s.ping_sent(self.now)
                s.send(Packet(PING))
            else:
                raise AssertionError('deadline {} due at {} but nothing to do'.format(
                    due, self.now))
        raise AssertionError('deadlines keep coming due')

    # -- invariants ----------------------------------------------------------
    def check(self) -> None:
        s = self.s
        assert len(self.reported) <= (1 if self.accepted else 0), self.reported
        if s.closed and not s.awaits_final_poll:
            self.reachable = False
        if s.is_open:
            assert s.deadline() is not None, 'an open session without heartbeat'
        queued = [len(p.encode()) for p in s.outbox if p.packet_type == MESSAGE]
        assert s.queued_bytes == sum(queued)
        assert sum(queued) <= QUEUE_LIMIT or len(queued) == 1, 'queue over its limit'

    def vanish(self) -> None:
        """The client goes away for good: the session must end and become
        forgettable within a few heartbeats."""
        self.ev_poll_timeout()
        self.ev_ws_end()
        for _ in range(20):
            self.ev_tick(INTERVAL)
            if self.s.closed and self.s.deadline() is None:
                break
        assert self.s.closed, 'the session outlived its client'
        assert self.s.deadline() is None
        assert not self.s.awaits_final_poll
        assert len(self.reported) == (1 if self.accepted else 0), self.reported


# ------------------------------------------------------------ inputs
#: packet types, weighted towards those a client sends
KINDS = [MESSAGE] * 16 + [PONG] * 4 + list(range(10))
TICKS = [0.1, 0.5, 0.99, 1.0, 1.5, 3.0]
#: events without arguments, weighted; the upgrade steps come often enough
#: for upgrades to complete
SIMPLE = [('get',)] * 3 + [('wake',)] * 2 + [('ws_take',)] * 2 + [
    ('poll_timeout',), ('post_begin',), ('ws_end',), ('ws_open',),
    ('ws_frame', Packet(PING, 'probe')), ('ws_frame', Packet(5)), ('upgrade',)]

packets = st.builds(make_packet, st.sampled_from(KINDS), st.sampled_from(DATA))
events = st.one_of(
    st.sampled_from(SIMPLE),
    st.tuples(st.just('send'), st.integers(1, 200), st.booleans()),
    st.tuples(st.just('post'), st.lists(packets, max_size=3)),
    st.tuples(st.just('ws_frame'), packets),
    st.tuples(st.just('tick'), st.sampled_from(TICKS)),
    st.tuples(st.just('post_end'), st.lists(packets, max_size=3)),
    st.tuples(st.just('close'), st.booleans()),
)
sessions = st.tuples(st.sampled_from(['polling', 'websocket']),
                     st.sampled_from(['accept', 'accept', 'refuse', 'close-in-connect']),
                     st.lists(events, max_size=40))


@settings(max_examples=300, deadline=None)
@given(sessions)
def test_server_session_invariants(session: Tuple[str, str, List[Event]]) -> None:
    transport, decision, evs = session
    ServerDriver(transport, decision).run(evs)


def outcome(transport: str, decision: str, evs: List[Event]) -> Tuple[List[str], List[Any]]:
    driver = ServerDriver(transport, decision)
    driver.run(evs)
    return driver.reported, [kind for _, kind in driver.delivered]


def test_overflow_ends_the_session_once() -> None:
    # the client took nothing, not even its OPEN packet: all is dropped
    assert outcome('websocket', 'accept', [('send', 200, False)] * 3 + [('ws_take',)]) == (
        ['transport error'], [])


def test_disconnect_in_connect_handler_is_reported_after_it() -> None:
    assert outcome('polling', 'close-in-connect', [('get',)]) == (
        ['server disconnect'], [OPEN, CLOSE])


def test_trickled_post_is_dropped_at_its_deadline() -> None:
    # the POST's deadline (ping interval + timeout after it began) comes
    # after the ping timeout: the session ends with that, the POST after
    reported, _ = outcome('polling', 'accept', [('get',), ('tick', 0.5), ('post_begin',),
                                                ('tick', 0.5), ('tick', 1.0), ('tick', 1.0)])
    assert reported == ['ping timeout']


def test_upgraded_session_writes_only_on_the_websocket() -> None:
    assert outcome('polling', 'accept', [
        ('get',), ('upgrade',), ('send', 5, False), ('get',), ('ws_take',),
        ('close', True), ('ws_take',)]) == (
        ['server disconnect'], [OPEN, MESSAGE, CLOSE])


def random_packet(rng: random.Random) -> Packet:
    return make_packet(rng.choice(KINDS), rng.choice(DATA))


def random_event(rng: random.Random) -> Event:
    """One random event (the same mix as the strategies)."""
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(SIMPLE)
    if roll < 0.6:
        return ('send', rng.randint(1, 200), rng.random() < 0.3)
    if roll < 0.75:
        return ('post', [random_packet(rng) for _ in range(rng.randrange(4))])
    if roll < 0.85:
        return ('ws_frame', random_packet(rng))
    if roll < 0.95:
        return ('tick', rng.choice(TICKS))
    if roll < 0.98:
        return ('post_end', [random_packet(rng) for _ in range(rng.randrange(4))])
    return ('close', rng.random() < 0.5)


def run_random(rng: random.Random) -> int:
    """One random session, as the campaign runs it; the number of events."""
    evs = [random_event(rng) for _ in range(rng.randrange(41))]
    ServerDriver(rng.choice(['polling', 'websocket']),
                 rng.choice(['accept', 'accept', 'refuse', 'close-in-connect'])).run(evs)
    return len(evs)


def test_random_sessions() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        run_random(rng)
