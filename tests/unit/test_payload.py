import re
import types
import weakref

import pytest
from hypothesis import assume, given, strategies as st

from engineio import json
from engineio import packet
from engineio.packet import MESSAGE, Packet
from engineio.payload import Payload

any_char = st.one_of(st.characters(), st.characters(categories=['Cs']))
any_text = st.text(any_char)
JSON_START = '{["-tfnNI \t\r\n'
# Text that decodes back to itself inside a payload: no separator, no JSON start.
plain_text = st.text(any_char.filter(lambda c: c != '\x1e')).filter(
    lambda text: not text or text[0] not in JSON_START)
packets = st.lists(st.one_of(
    st.builds(Packet, st.sampled_from(range(7)), plain_text),
    st.builds(Packet, st.just(MESSAGE), st.binary()),
), max_size=6)
JSONP = re.compile(r'___eio\[(\d+)\]\("(.*)"\);', re.DOTALL)


def summary(payload):
    return [(pkt.packet_type, pkt.data, pkt.binary) for pkt in payload.packets]


def test_defaults():
    assert Payload.max_decode_packets is None
    payload = Payload()
    assert payload.packets == []
    assert payload.encode() == ''


def test_packets_list_is_kept():
    pkts = [Packet(packet.PING)]
    assert Payload(packets=pkts).packets is pkts


def test_encode():
    payload = Payload([Packet(MESSAGE, 'hello'), Packet(MESSAGE, b'\x01\x02\x03\x04'),
                       Packet(packet.PING)])
    assert payload.encode() == '4hello\x1ebAQIDBA==\x1e2'


def test_encode_uses_base64_after_a_raw_encoding():
    pkt = Packet(MESSAGE, b'\x01\x02')
    assert pkt.encode() == b'\x01\x02'
    assert Payload([pkt]).encode() == 'bAQI='


@pytest.mark.parametrize('body', ['4hello\x1ebAQIDBA==\x1e2', b'4hello\x1ebAQIDBA==\x1e2',
                                  bytearray(b'4hello\x1ebAQIDBA==\x1e2')])
def test_decode(body):
    assert summary(Payload(encoded_payload=body)) == [
        (MESSAGE, 'hello', False), (MESSAGE, b'\x01\x02\x03\x04', True),
        (packet.PING, '', False)]


@pytest.mark.parametrize('body', ['', b'', bytearray(), 'd='])
def test_decode_empty(body):
    assert Payload(encoded_payload=body).packets == []


def test_decode_replaces_packets():
    payload = Payload([Packet(MESSAGE, 'old')])
    payload.decode('4new')
    assert summary(payload) == [(MESSAGE, 'new', False)]


def test_decode_utf8_bytes():
    body = '4hé\x1e4{"k":"€"}'.encode()
    assert summary(Payload(encoded_payload=body)) == [
        (MESSAGE, 'hé', False), (MESSAGE, {'k': '€'}, False)]


@pytest.mark.parametrize('body', [b'4\xff', b'4\xc3', bytearray(b'\xed\xa0\x80')])
def test_decode_invalid_utf8(body):
    with pytest.raises(ValueError, match='^Payload is not valid UTF-8$'):
        Payload(encoded_payload=body)


@pytest.mark.parametrize('count', [17, 100])
def test_decode_many_packets(count):
    payload = Payload(encoded_payload='\x1e'.join(['4x'] * count))
    assert len(payload.packets) == count


def test_decode_packet_limit(monkeypatch):
    monkeypatch.setattr(Payload, 'max_decode_packets', 16)
    assert len(Payload(encoded_payload='\x1e'.join(['2'] * 16)).packets) == 16
    with pytest.raises(ValueError, match='^Too many packets in payload$'):
        Payload(encoded_payload='\x1e'.join(['2'] * 17))


@pytest.mark.parametrize('body, expected', [
    ('d=4hello%1E4x', [(MESSAGE, 'hello', False), (MESSAGE, 'x', False)]),
    ('d=4a+b', [(MESSAGE, 'a b', False)]),
    ('d=4%7B%22a%22%3A1%7D', [(MESSAGE, {'a': 1}, False)]),
    ('d=bAQIDBA%3D%3D', [(MESSAGE, b'\x01\x02\x03\x04', True)]),
    ('d=4a&d=4b', [(MESSAGE, 'a', False)]),
    ('d=4', [(MESSAGE, '', False)]),
    (b'd=4h%C3%A9', [(MESSAGE, 'hé', False)]),
])
def test_decode_jsonp_form_body(body, expected):
    assert summary(Payload(encoded_payload=body)) == expected


@pytest.mark.parametrize('body', ['4a\x1e', '\x1e4a', '4a\x1e\x1e4b', '\x1e', 'd=4a%1E'])
def test_decode_empty_packet(body):
    with pytest.raises(ValueError, match='^Invalid empty packet received$'):
        Payload(encoded_payload=body)


@pytest.mark.parametrize('body', ['abc', '4a\x1eabc', 'b!!!', '4a\x1ebAQI', 'd=x'])
def test_decode_invalid_packet(body):
    with pytest.raises(ValueError):
        Payload(encoded_payload=body)


@pytest.mark.parametrize('body', [42, ['4a'], memoryview(b'4a')])
def test_decode_unsupported_input_type(body):
    with pytest.raises(ValueError, match='^Cannot decode a payload from'):
        Payload(encoded_payload=body)


@pytest.mark.parametrize('pkts, index, expected', [
    # Outputs of the reference implementation for payloads it escapes correctly.
    ([Packet(MESSAGE, 'hello')], 3, '___eio[3]("4hello");'),
    ([Packet(MESSAGE, 'say "hi"')], '12', '___eio[12]("4say \\"hi\\"");'),
    ([Packet(MESSAGE, 'é')], 0, '___eio[0]("4é");'),
    ([], 0, '___eio[0]("");'),
    # Characters the reference left unescaped.
    ([Packet(MESSAGE, {'k': 'v "q"'})], 1, '___eio[1]("4{\\"k\\":\\"v \\\\\\"q\\\\\\"\\"}");'),
    ([Packet(MESSAGE, 'a\\b\nc\rd\te\x00')], 1, '___eio[1]("4a\\\\b\\nc\\rd\\te\\u0000");'),
    ([Packet(MESSAGE, '\u2028\u2029\x7f'), Packet(packet.PING)], 2,
     '___eio[2]("4\\u2028\\u2029\x7f\\u001e2");'),
])
def test_encode_jsonp(pkts, index, expected):
    assert Payload(pkts).encode(jsonp_index=index) == expected


@given(packets, st.integers(min_value=0, max_value=10 ** 6))
def test_jsonp_is_a_string_literal_holding_the_payload(pkts, index):
    payload = Payload(pkts)
    match = JSONP.fullmatch(payload.encode(jsonp_index=index))
    assert match is not None and match.group(1) == str(index)
    literal = match.group(2)
    assert not re.search('[\x00-\x1f\u2028\u2029]', literal)
    # The escapes used are a subset of both JSON's and JavaScript's.
    assert json.loads('"' + literal + '"') == payload.encode()


@given(packets, st.booleans())
def test_round_trip(pkts, as_bytes):
    body = Payload(pkts).encode()
    if as_bytes:
        assume(not re.search('[\ud800-\udfff]', body))  # not encodable in UTF-8
        body = body.encode()
    assert summary(Payload(encoded_payload=body)) == summary(Payload(pkts))


pieces = st.one_of(any_text, st.sampled_from(['4hello', 'bAQI=', 'b!', '2', '', 'x', '4{"a"']))
bodies = st.one_of(
    any_text,
    st.lists(pieces, min_size=1, max_size=5).map('\x1e'.join),
    st.lists(pieces, min_size=1, max_size=5).map(lambda ps: 'd=' + '%1E'.join(ps)),
    st.text(st.sampled_from('d=%1E+&4b"x')),
)


@given(bodies)
def test_decode_any_text_succeeds_or_raises_value_error(body):
    try:
        payload = Payload(encoded_payload=body)
    except ValueError:
        return
    assert all(isinstance(pkt, Packet) for pkt in payload.packets)


@given(st.one_of(st.binary(), bodies.map(lambda body: body.encode('utf-8', 'surrogatepass'))))
def test_decode_any_bytes_succeeds_or_raises_value_error(body):
    try:
        payload = Payload(encoded_payload=body)
    except ValueError:
        return
    assert all(isinstance(pkt, Packet) for pkt in payload.packets)


@given(st.builds(Packet, st.sampled_from(range(7)),
                 st.text(st.characters(exclude_characters='\\\u2028\u2029',
                                       exclude_categories=['Cc']))),
       st.integers(min_value=0, max_value=99))
def test_jsonp_matches_the_reference_when_only_quotes_need_escaping(pkt, index):
    body = pkt.encode(b64=True)
    reference = '___eio[' + str(index) + ']("' + body.replace('"', '\\"') + '");'
    assert Payload([pkt]).encode(jsonp_index=index) == reference


def outcome(decode):
    """The packets a decoding gives (type, data and binary flag), or its
    ValueError message."""
    try:
        pkts = decode()
    except ValueError as exc:
        return str(exc)
    return [(type(pkt), pkt.packet_type, type(pkt.data), repr(pkt.data), pkt.binary)
            for pkt in pkts]


packet_texts = st.one_of(
    st.text(any_char.filter(lambda c: c != '\x1e')),
    st.sampled_from(['4hello', '4', '2', '3probe', '6', '9x', '4 ', '4-', '4-1', '4{"a":[1]}',
                     '4{bad', '4[1,2]', '4true', '4NaN', '4"\\ud800"', '4123', 'bAQI=',
                     'b', 'b!', 'x', '', '\ufeff4', '４x']),
    st.tuples(st.sampled_from('0123456789b'), st.text(any_char.filter(
        lambda c: c != '\x1e'))).map(''.join),
)


@given(st.lists(packet_texts, min_size=1, max_size=6))
def test_decode_is_decoding_each_packet(texts):
    body = '\x1e'.join(texts)
    assume(body and not body.startswith('d='))
    assert outcome(lambda: Payload(encoded_payload=body).packets) == \
        outcome(lambda: [Packet(encoded_packet=text) for text in texts])


def test_decoded_packets_are_complete_packets():
    pkts = Payload(encoded_payload='4hello\x1e2\x1e4{"a":1}\x1ebAQI=\x1e6').packets
    assert [type(pkt) for pkt in pkts] == [Packet] * 5
    assert [pkt.encode_cache for pkt in pkts] == [None] * 5
    assert repr(pkts[0]) == "<Packet MESSAGE data='hello'>"
    assert [pkt.encode(b64=True) for pkt in pkts] == ['4hello', '2', '4{"a":1}', 'bAQI=', '6']
    assert pkts[3].encode() == b'\x01\x02'
    pkts[0].extra = 'x'
    assert pkts[0].extra == 'x' and weakref.ref(pkts[0])() is pkts[0]
    pkts[0].decode(b'\x03')
    assert (pkts[0].packet_type, pkts[0].data, pkts[0].binary) == (MESSAGE, b'\x03', True)


def test_decode_uses_the_class_json_module(monkeypatch):
    def loads(text):
        if text.startswith('{'):
            raise ValueError('not for me')
        return ('parsed', text)

    monkeypatch.setattr(Packet, 'json', types.SimpleNamespace(dumps=None, loads=loads))
    assert summary(Payload(encoded_payload='4[1]\x1e4{x}\x1e2 \x1e4y')) == [
        (MESSAGE, ('parsed', '[1]'), False), (MESSAGE, '{x}', False),
        (packet.PING, ('parsed', ' '), False), (MESSAGE, 'y', False)]


@pytest.mark.parametrize('codec', ['stdlib', 'orjson'])
def test_decode_json_with_each_codec(monkeypatch, codec):
    if codec == 'orjson' and packet.orjson is None:
        pytest.skip('orjson is not installed')
    loads = packet._stdlib_loads if codec == 'stdlib' else packet._orjson_loads
    monkeypatch.setattr(packet, '_loads_json', loads)
    body = '4{"a":[1,2.5,null]}\x1e4[' + '1' * 30 + ']\x1e4NaN\x1e4{bad\x1e4[' + '1' * 101 + ']'
    pkts = Payload(encoded_payload=body).packets
    assert [pkt.data for pkt in pkts[:2]] == [{'a': [1, 2.5, None]}, [int('1' * 30)]]
    assert pkts[2].data != pkts[2].data  # NaN
    assert [pkt.data for pkt in pkts[3:]] == ['{bad', '[' + '1' * 101 + ']']
    with pytest.raises(ValueError, match='^Packet data is nested too deeply$'):
        Payload(encoded_payload='4x\x1e4' + '[' * 100000)


def test_decode_invalid_base64_packet():
    with pytest.raises(ValueError, match='^Invalid base64 data in binary packet$'):
        Payload(encoded_payload='4x\x1ebAQI=\x1ebAQI')


def test_encode_matches_each_packet_encoding():
    class Upper(Packet):
        def encode(self, b64=False):
            return super().encode(b64=b64).upper()

    raw_first = Packet(MESSAGE, b'\x01\x02')
    raw_first.encode()
    pkts = [Packet(MESSAGE, 'x'), Packet(MESSAGE, {'a': 1}), Packet(10, 'y'), Packet(True, 'z'),
            raw_first, Packet(MESSAGE, bytearray(b'\x03')), Upper(MESSAGE, 'up'), Packet(packet.PING)]
    assert Payload(pkts).encode() == '\x1e'.join(
        ['4x', '4{"a":1}', '10y', 'Truez', 'bAQI=', 'bAw==', '4UP', '2'])
    assert [pkt.encode_cache for pkt in pkts[:4]] == ['4x', '4{"a":1}', '10y', 'Truez']
    pkts[0].data = 'changed'
    assert Payload(pkts[:1]).encode() == '4x'  # the cached encoding is kept
