import math
import types
import weakref

import pytest
from hypothesis import given, strategies as st

from engineio import json as engineio_json
from engineio import packet
from engineio.packet import MESSAGE, Packet

JSON_START = '{["-tfnNI \t\r\n'
any_char = st.one_of(st.characters(), st.characters(categories=['Cs']))
any_text = st.text(any_char)
json_scalars = (st.none() | st.booleans() | st.floats()
                | st.integers(min_value=-10 ** 30, max_value=10 ** 30) | any_text)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(any_text, children, max_size=4),
    max_leaves=8)


def canonical(value):
    """Type and repr, so that nan, -0.0, 1 vs 1.0 vs True all compare exactly."""
    return type(value), repr(value)


def test_constants():
    assert (packet.OPEN, packet.CLOSE, packet.PING, packet.PONG, packet.MESSAGE,
            packet.UPGRADE, packet.NOOP) == (0, 1, 2, 3, 4, 5, 6)
    assert packet.packet_names == ['OPEN', 'CLOSE', 'PING', 'PONG', 'MESSAGE',
                                   'UPGRADE', 'NOOP']
    assert packet.binary_types == (bytes, bytearray)
    assert Packet.json is engineio_json


def test_defaults():
    pkt = Packet()
    assert (pkt.packet_type, pkt.data, pkt.binary, pkt.encode_cache) == (
        packet.NOOP, None, False, None)
    assert pkt.encode() == '6'


@pytest.mark.parametrize('packet_type, data, expected', [
    (packet.PING, None, '2'),
    (packet.PING, 'probe', '2probe'),
    (MESSAGE, 'hello', '4hello'),
    (MESSAGE, '', '4'),
    (MESSAGE, '123', '4123'),
    (MESSAGE, 'é€😀', '4é€😀'),
    (MESSAGE, {'a': 'é', 'b': [1, 2]}, '4{"a":"\\u00e9","b":[1,2]}'),
    (MESSAGE, [1, {'x': None}], '4[1,{"x":null}]'),
    (MESSAGE, 5, '45'),
    (MESSAGE, 1.5, '41.5'),
    (MESSAGE, True, '4True'),
    (MESSAGE, ('a', 1), "4('a', 1)"),
    (packet.OPEN, {'sid': 'abc', 'upgrades': []}, '0{"sid":"abc","upgrades":[]}'),
])
def test_encode_text(packet_type, data, expected):
    pkt = Packet(packet_type, data)
    assert pkt.binary is False
    assert pkt.encode() == expected
    assert pkt.encode(b64=True) == expected
    assert pkt.encode_cache == expected


@pytest.mark.parametrize('data, b64', [
    (b'\x01\x02\x03\x04', 'bAQIDBA=='),
    (b'', 'b'),
    (bytearray(b'ab'), 'bYWI='),
])
def test_encode_binary(data, b64):
    pkt = Packet(MESSAGE, data)
    assert pkt.binary is True
    assert pkt.encode() is data
    assert pkt.encode(b64=True) == b64


@pytest.mark.parametrize('data', [b'x', bytearray(b'x'), b''])
@pytest.mark.parametrize('packet_type', [packet.OPEN, packet.PING, packet.NOOP])
def test_binary_data_needs_message_type(packet_type, data):
    with pytest.raises(ValueError, match='^Binary packets can only be of type MESSAGE$'):
        Packet(packet_type, data)


def test_binary_type_is_checked_before_decoding():
    with pytest.raises(ValueError, match='only be of type MESSAGE'):
        Packet(packet.PING, b'x', encoded_packet='4a')


def test_encoding_is_cached_even_if_data_changes():
    pkt = Packet(MESSAGE, {'a': 1})
    assert pkt.encode() == '4{"a":1}'
    pkt.data = {'b': 2}
    assert pkt.encode() == '4{"a":1}'


def test_binary_cache_is_kept_per_b64_flag():
    pkt = Packet(MESSAGE, b'\x01\x02')
    assert pkt.encode() == b'\x01\x02'
    assert pkt.encode(b64=True) == 'bAQI='
    assert pkt.encode_cache == 'bAQI='
    assert pkt.encode() == b'\x01\x02'
    assert pkt.encode_cache == b'\x01\x02'

    pkt = Packet(MESSAGE, b'\x01\x02')
    assert pkt.encode(b64=True) == 'bAQI='
    assert pkt.encode() == b'\x01\x02'
    assert pkt.encode(b64=True) == 'bAQI='


@pytest.mark.parametrize('encoded, packet_type, data', [
    ('4hello', MESSAGE, 'hello'),
    ('4{"a":1}', MESSAGE, {'a': 1}),
    ('4[1,2]', MESSAGE, [1, 2]),
    ('4123', MESSAGE, '123'),
    ('41.5', MESSAGE, '1.5'),
    ('4', MESSAGE, ''),
    ('4true', MESSAGE, True),
    ('4false', MESSAGE, False),
    ('4null', MESSAGE, None),
    ('4"x"', MESSAGE, 'x'),
    ('4-1', MESSAGE, -1),
    ('4 5', MESSAGE, 5),
    ('4\n"a"', MESSAGE, 'a'),
    ('4Infinity', MESSAGE, math.inf),
    ('4-Infinity', MESSAGE, -math.inf),
    ('4 ', MESSAGE, ' '),
    ('4{bad', MESSAGE, '{bad'),
    ('4-', MESSAGE, '-'),
    ('4tru', MESSAGE, 'tru'),
    ('4true!', MESSAGE, 'true!'),
    ('4é', MESSAGE, 'é'),
    ('4"\\ud800"', MESSAGE, '\ud800'),
    ('4[' + '1' * 101 + ']', MESSAGE, '[' + '1' * 101 + ']'),
    ('0{"sid":"x"}', packet.OPEN, {'sid': 'x'}),
    ('1', packet.CLOSE, ''),
    ('2probe', packet.PING, 'probe'),
    ('3probe', packet.PONG, 'probe'),
    ('5', packet.UPGRADE, ''),
    ('6', packet.NOOP, ''),
    ('7x', 7, 'x'),
    ('8', 8, ''),
    ('9{}', 9, {}),
])
def test_decode_text(encoded, packet_type, data):
    pkt = Packet(encoded_packet=encoded)
    assert pkt.packet_type == packet_type
    assert canonical(pkt.data) == canonical(data)
    assert pkt.binary is False


def test_decode_nan():
    pkt = Packet(encoded_packet='4NaN')
    assert math.isnan(pkt.data)


def test_decode_bytes_keeps_the_object():
    data = b'\x00\xff'
    pkt = Packet(encoded_packet=data)
    assert (pkt.packet_type, pkt.binary) == (MESSAGE, True)
    assert pkt.data is data


def test_decode_bytearray_gives_bytes():
    pkt = Packet(encoded_packet=bytearray(b'ab'))
    assert type(pkt.data) is bytes
    assert (pkt.packet_type, pkt.data, pkt.binary) == (MESSAGE, b'ab', True)


@pytest.mark.parametrize('encoded, data', [
    ('bAQIDBA==', b'\x01\x02\x03\x04'),
    ('bAQI=', b'\x01\x02'),
    ('b', b''),
])
def test_decode_base64(encoded, data):
    pkt = Packet(encoded_packet=encoded)
    assert (pkt.packet_type, pkt.data, pkt.binary) == (MESSAGE, data, True)


@pytest.mark.parametrize('encoded', ['b!!!', 'bAQI', 'bA', 'bA===', 'b A Q I D B A = =',
                                     'bAQIDBA==\n', 'bé'])
def test_decode_invalid_base64(encoded):
    with pytest.raises(ValueError, match='^Invalid base64 data in binary packet$'):
        Packet(encoded_packet=encoded)


def test_decode_empty():
    with pytest.raises(ValueError, match='^Invalid empty packet received$'):
        Packet(encoded_packet='')


@pytest.mark.parametrize('encoded', ['abc', ' 4', 'x', '-1', '\u0664hello', '４hello'])
def test_decode_invalid_type(encoded):
    with pytest.raises(ValueError, match='^Invalid packet type'):
        Packet(encoded_packet=encoded)


@pytest.mark.parametrize('encoded', [42, ['4a'], memoryview(b'4a')])
def test_decode_unsupported_input_type(encoded):
    with pytest.raises(ValueError, match='^Cannot decode a packet from'):
        Packet(encoded_packet=encoded)


def test_decode_too_deeply_nested_json():
    with pytest.raises(ValueError, match='nested too deeply'):
        Packet(encoded_packet='4' + '[' * 100000)


def test_decode_replaces_the_cached_encoding():
    pkt = Packet(MESSAGE, b'\x01')
    assert pkt.encode(b64=True) == 'bAQ=='
    pkt.decode('4b')
    assert (pkt.encode(), pkt.encode(b64=True), pkt.binary) == ('4b', '4b', False)


def test_class_json_module_is_used(monkeypatch):
    calls = []

    def dumps(data, **kwargs):
        calls.append(('dumps', data, kwargs))
        return 'D'

    def loads(data):
        calls.append(('loads', data))
        return 'L'

    monkeypatch.setattr(Packet, 'json', types.SimpleNamespace(dumps=dumps, loads=loads))
    assert Packet(MESSAGE, {'a': 1}).encode() == '4D'
    assert Packet(encoded_packet='4[1]').data == 'L'
    assert calls == [('dumps', {'a': 1}, {'separators': (',', ':')}), ('loads', '[1]')]


@pytest.mark.parametrize('pkt, expected', [
    (Packet(MESSAGE, 'hello'), "<Packet MESSAGE data='hello'>"),
    (Packet(packet.PING), '<Packet PING data=None>'),
    (Packet(MESSAGE, b'\x01'), "<Packet MESSAGE data=b'\\x01'>"),
    (Packet(encoded_packet='7x'), "<Packet 7 data='x'>"),
    (Packet(MESSAGE, 'x' * 61), "<Packet MESSAGE data='" + 'x' * 60 + "'...(len 61)>"),
])
def test_repr(pkt, expected):
    assert repr(pkt) == expected


def always_try_decode(encoded):
    """The reference decoding of a text packet: always attempt JSON."""
    packet_type = int(encoded[0])
    rest = encoded[1:]
    if rest[:1].isdigit():
        return packet_type, rest
    try:
        return packet_type, engineio_json.loads(rest)
    except ValueError:
        return packet_type, rest


json_texts = st.one_of(
    st.one_of(json_scalars, json_values).map(engineio_json.dumps),
    st.sampled_from(['NaN', 'Infinity', '-Infinity', '-0', '-1.5e3', 'null', 'true',
                     'false', '""', '{}', '[]', ' 1', '\t1', '\r1', '\n1']),
)
packet_rests = st.one_of(
    any_text,
    json_texts,
    st.tuples(st.sampled_from(['', ' ', '\t', '\r\n', '\x0b', '\ufeff', 'x', '-', '+', '0']),
              json_texts,
              st.sampled_from(['', ' ', '\n', 'x', ']', ','])).map(''.join),
    st.text('{}[]",:-+.0123456789eEtrufalsnNIiy \t\r\n\x0b\x0c\ufeff\u0663\\'),
    st.text('0123456789', min_size=98, max_size=102).map(lambda digits: '[-' + digits + ']'),
)


# Every ASCII character plus Unicode digits, spaces and line breaks that a
# sloppy parser could take for JSON whitespace or numbers.
FIRST_CHARS = [chr(code) for code in range(128)] + list(
    '\x85\xa0\xb2\u0663\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000'
    '\ufeff\uff14\ud800')
# Tails completing a valid JSON text after each possible first character.
JSON_TAILS = ['', '1', 'aN', 'nfinity', 'ull', 'rue', 'alse', '"', ']', '}', ' 1',
              'Infinity', '1.5e3']


@pytest.mark.parametrize('tail', JSON_TAILS)
def test_decode_matches_always_trying_json_for_every_first_char(tail):
    for first in FIRST_CHARS:
        encoded = '4' + first + tail
        data = Packet(encoded_packet=encoded).data
        assert canonical(data) == canonical(always_try_decode(encoded)[1]), encoded


@given(st.sampled_from('0123456789'), packet_rests)
def test_decode_matches_always_trying_json(type_digit, rest):
    encoded = type_digit + rest
    pkt = Packet(encoded_packet=encoded)
    packet_type, data = always_try_decode(encoded)
    assert pkt.packet_type == packet_type
    assert canonical(pkt.data) == canonical(data)
    assert pkt.binary is False


@given(st.one_of(any_text, st.sampled_from('0123456789b').flatmap(
    lambda first: packet_rests.map(lambda rest: first + rest))))
def test_decode_any_text_succeeds_or_raises_value_error(encoded):
    try:
        pkt = Packet(encoded_packet=encoded)
    except ValueError:
        return
    assert pkt.packet_type in range(10)


@given(st.binary())
def test_decode_any_bytes_is_a_binary_message(encoded):
    pkt = Packet(encoded_packet=encoded)
    assert (pkt.packet_type, pkt.data, pkt.binary) == (MESSAGE, encoded, True)


@given(st.sampled_from(range(10)),
       any_text.filter(lambda text: not text or text[0] not in JSON_START))
def test_text_round_trip(packet_type, text):
    pkt = Packet(encoded_packet=Packet(packet_type, text).encode())
    assert (pkt.packet_type, pkt.data, pkt.binary) == (packet_type, text, False)


@given(st.binary(), st.booleans())
def test_binary_round_trip(data, b64):
    pkt = Packet(encoded_packet=Packet(MESSAGE, data).encode(b64=b64))
    assert (pkt.packet_type, pkt.data, pkt.binary) == (MESSAGE, data, True)


@given(st.dictionaries(any_text, json_values, max_size=5))
def test_json_round_trip(data):
    pkt = Packet(encoded_packet=Packet(MESSAGE, data).encode())
    assert canonical(pkt.data) == canonical(data)


def test_instances_take_extra_attributes_and_weak_references():
    pkt = Packet(MESSAGE, 'x')
    pkt.extra = 1
    pkt.json = types.SimpleNamespace(dumps=None, loads=lambda data: 'own json')
    pkt.decode('4[]')
    assert (pkt.extra, pkt.data) == (1, 'own json')
    assert weakref.ref(pkt)() is pkt
