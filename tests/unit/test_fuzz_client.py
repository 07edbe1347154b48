"""Property tests of the client session core: any handshake answer, any
packets from the server, any calls of the application and any clock ticks
keep the client's invariants.

:class:`ClientDriver` calls :class:`~engineio._core.client.ClientSession`
the way engineio/client.py does and checks after every step that

- a handshake answer either opens the session or raises the one documented
  error (``engineio.exceptions.ConnectionError``);
- the end of the connection is claimed exactly once (by the application, by
  the server's CLOSE, or by a lost or silent transport), and after it the
  application gets no message and nothing more is queued;
- the CLOSE packet is the last one written, and a polling batch fits the
  server's ``maxPayload`` (a single packet excepted);
- a connection whose server went silent is ended by the clock.
"""
from __future__ import annotations

import json
import random
from typing import Any, List, Sequence, Tuple

from hypothesis import given, settings, strategies as st

from engineio._core import client as core
from engineio.exceptions import ConnectionError
from engineio.packet import CLOSE, MESSAGE, NOOP, PING, PONG, Packet

Event = Tuple[Any, ...]
DATA = [None, '', 'probe', 'x', 'y' * 60, b'\x00\x01']
KINDS = [MESSAGE] * 4 + [PING] * 2 + [NOOP] + list(range(10))


def make_packet(kind: int, data: Any) -> Packet:
    if isinstance(data, bytes) and kind != MESSAGE:
        data = data.decode()
    return Packet(kind, data)


def open_body(interval: Any, timeout: Any, max_payload: Any,
              upgrades: Any, sid: Any = 'abc') -> str:
    return '0' + json.dumps({'sid': sid, 'upgrades': upgrades, 'pingInterval': interval,
                             'pingTimeout': timeout, 'maxPayload': max_payload})


class ClientDriver:
    """A client session and the shell's view of it."""

    def __init__(self, transport: str, answer: Any) -> None:
        self.c = core.ClientSession('http://x', 'engine.io', ['polling', 'websocket'])
        self.now = 0.0
        self.claims = 0
        self.messages: List[Any] = []
        self.written: List[int] = []
        try:
            if transport == 'polling':
                self.c.open_polling(answer, self.now)
            else:
                self.c.open_websocket(answer, self.now)
        except ConnectionError:
            assert self.c.state == core.DISCONNECTED
            self.opened = False
            return
        self.opened = True
        assert self.c.state == core.CONNECTED

    def run(self, events: Sequence[Event]) -> None:
        if not self.opened:
            return
        for event in events:
            getattr(self, 'ev_' + event[0])(*event[1:])
            self.check()
        self.vanish()

    @property
    def ended(self) -> bool:
        return self.claims > 0

    def ev_recv(self, pkt: Packet) -> None:
        event = self.c.receive(pkt, self.now)
        if self.ended:
            assert event is None, 'an event after the end'
            return
        if event is None:
            return
        if event.kind == core.MESSAGE_EVENT:
            self.messages.append(event.data)
        elif event.kind == core.DISCONNECT_EVENT:
            assert event.data == core.ClientReason.SERVER_DISCONNECT
            self.claims += 1
        else:
            assert event.kind == core.INVALID_EVENT

    def ev_send(self, data: Any) -> None:
        queued = self.c.send(Packet(MESSAGE, data))
        assert queued == (not self.ended), 'queued after the end'

    def ev_take(self) -> None:
        batch = self.c.take_batch()
        limit = self.c.max_payload
        if self.c.transport == core.POLLING and limit and len(batch) > 1:
            assert len(core.encode_payload(batch)) <= limit, 'POST over maxPayload'
        for pkt in batch:
            assert CLOSE not in self.written, 'packet written after CLOSE'
            self.written.append(pkt.packet_type)

    def ev_disconnect(self) -> None:
        if self.c.begin_disconnect():
            assert not self.ended
            self.claims += 1

    def ev_lose(self) -> None:
        if self.c.lose() is not None:
            assert not self.ended
            self.claims += 1

    def ev_tick(self, seconds: float) -> None:
        self.now += seconds
        if self.c.expired(self.now):
            assert self.c.lose() == core.ClientReason.TRANSPORT_ERROR
            self.claims += 1

    def ev_upgrade(self) -> None:
        if self.c.can_upgrade():
            assert self.c.probe_answered(Packet(PONG, 'probe').encode())
            self.c.upgraded()
            assert not self.c.can_upgrade()

    def ev_finish(self) -> None:
        if self.ended:
            self.c.finish()
            assert self.c.state == core.DISCONNECTED

    def check(self) -> None:
        assert self.claims <= 1, 'the end was claimed twice'
        if self.ended:
            assert not self.c.send(Packet(MESSAGE, 'late'))
        if self.c.state == core.DISCONNECTED:
            assert self.c.writer_done and not self.c.outbox

    def vanish(self) -> None:
        """The server goes silent: the clock ends the connection."""
        self.ev_tick(3600.0)
        assert self.claims == 1
        while self.c.outbox:
            self.ev_take()
        self.c.finish()
        assert self.c.writer_done


# ---------------------------------------------------------------- inputs
durations = st.one_of(st.integers(-5, 100000), st.floats(allow_nan=True), st.none(),
                      st.booleans(), st.text(max_size=3))
good_answers = st.builds(open_body, st.integers(1, 60000), st.integers(1, 60000),
                         st.one_of(st.none(), st.integers(20, 400)),
                         st.sampled_from([['websocket'], [], ['websocket', 'x']]))
bad_answers = st.one_of(
    st.builds(open_body, durations, durations, durations,
              st.one_of(st.none(), st.lists(st.one_of(st.text(max_size=3), st.integers())),
                        st.text(max_size=3)),
              st.one_of(st.text(max_size=5), st.none(), st.integers())),
    st.text(max_size=30), st.binary(max_size=30),
    st.builds(lambda body: body + '\x1e4x', st.text(max_size=20)))
packets = st.builds(make_packet, st.sampled_from(KINDS), st.sampled_from(DATA))
events = st.one_of(
    st.tuples(st.just('recv'), packets),
    st.tuples(st.just('send'), st.sampled_from(DATA)),
    st.sampled_from([('take',), ('take',), ('disconnect',), ('lose',), ('upgrade',),
                     ('finish',)]),
    st.tuples(st.just('tick'), st.sampled_from([0.5, 5.0, 30.0, 90.0])))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(['polling', 'websocket']), st.one_of(good_answers, bad_answers),
       st.lists(events, max_size=40))
def test_client_session_invariants(transport: str, answer: Any,
                                   evs: List[Event]) -> None:
    ClientDriver(transport, answer).run(evs)


@given(st.one_of(st.text(), st.binary()))
def test_decode_payload_and_frame_raise_only_value_error(body: Any) -> None:
    for decode in (core.decode_payload, core.decode_frame):
        try:
            decode(body)
        except ValueError:
            pass


@given(st.integers(100, 599), st.one_of(st.none(), st.text(max_size=20), st.binary(max_size=20)))
def test_handshake_status_raises_only_connection_error(status: int, body: Any) -> None:
    try:
        core.check_handshake_status(status, body)
    except ConnectionError:
        assert not core.is_success(status)
    else:
        assert core.is_success(status)


def random_answer(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.7:
        return open_body(rng.randint(1, 60000), rng.randint(1, 60000),
                         rng.choice([None, rng.randint(20, 400)]),
                         rng.choice([['websocket'], []]))
    if roll < 0.85:
        pick = [-1, 0, 1.5, None, True, 'x', float('nan'), [], {}]
        return open_body(rng.choice(pick), rng.choice(pick), rng.choice(pick),
                         rng.choice([None, 'x', [1], ['websocket']]),
                         rng.choice(['abc', '', None, 5]))
    data = bytes(rng.randrange(256) for _ in range(rng.randrange(20)))
    return data if roll < 0.93 else data.decode('latin-1')


def random_event(rng: random.Random) -> Event:
    roll = rng.random()
    pkt = make_packet(rng.choice(KINDS), rng.choice(DATA))
    if roll < 0.35:
        return ('recv', pkt)
    if roll < 0.6:
        return ('send', rng.choice(DATA))
    if roll < 0.9:
        return rng.choice([('take',), ('take',), ('disconnect',), ('lose',), ('upgrade',),
                           ('finish',)])
    return ('tick', rng.choice([0.5, 5.0, 30.0, 90.0]))


def run_random(rng: random.Random) -> int:
    """One random connection, as the campaign runs it; the number of
    events."""
    evs = [random_event(rng) for _ in range(rng.randrange(41))]
    ClientDriver(rng.choice(['polling', 'websocket']), random_answer(rng)).run(evs)
    return len(evs)


def test_random_connections() -> None:
    rng = random.Random(11)
    for _ in range(2000):
        run_random(rng)

