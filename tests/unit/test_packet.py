import base64
import contextlib
import dataclasses
import datetime
import enum
import json as stdlib_json
import math
import os
import reprlib
import subprocess
import sys
import types
import uuid
import weakref
from collections import OrderedDict

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


# The two codecs of the default json module: the stdlib one, and orjson with
# its stdlib fallbacks (skipped where orjson is not installed).
CODECS = {'stdlib': (packet._stdlib_dumps, packet._stdlib_loads)}
if packet.orjson is not None:
    CODECS['orjson'] = (packet._orjson_dumps, packet._orjson_loads)
both_codecs = pytest.mark.parametrize('codec', [
    'stdlib', pytest.param('orjson', marks=pytest.mark.skipif(
        packet.orjson is None, reason='orjson is not installed'))])
needs_orjson = pytest.mark.skipif(packet.orjson is None, reason='orjson is not installed')


@contextlib.contextmanager
def json_codec(name):
    """Make packets use one codec of the default json module."""
    dumps, loads = CODECS[name]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(packet, '_dumps_json', dumps)
        patch.setattr(packet, '_loads_json', loads)
        yield


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
    with json_codec('stdlib'):
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
@both_codecs
def test_decode_text(encoded, packet_type, data, codec):
    with json_codec(codec):
        pkt = Packet(encoded_packet=encoded)
    assert pkt.packet_type == packet_type
    assert canonical(pkt.data) == canonical(data)
    assert pkt.binary is False


@both_codecs
def test_decode_nan(codec):
    with json_codec(codec):
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


base64_texts = st.one_of(
    st.binary().map(lambda data: base64.b64encode(data).decode()),
    st.text('ABab01+/=-_ \n\xe9'),
    any_text,
)


@given(base64_texts)
def test_decode_base64_is_b64decode_with_validation(text):
    try:
        expected = base64.b64decode(text, validate=True)
    except ValueError:
        with pytest.raises(ValueError, match='^Invalid base64 data in binary packet$'):
            Packet(encoded_packet='b' + text)
    else:
        pkt = Packet(encoded_packet='b' + text)
        assert (pkt.packet_type, pkt.data, pkt.binary) == (MESSAGE, expected, True)


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


@both_codecs
def test_decode_too_deeply_nested_json(codec):
    with json_codec(codec), pytest.raises(ValueError, match='nested too deeply'):
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


def test_a_user_json_module_is_used_as_is(monkeypatch):
    # with or without orjson: the stdlib module escapes non-ASCII text and has
    # no guard against long integers
    monkeypatch.setattr(Packet, 'json', stdlib_json)
    assert Packet(MESSAGE, {'a': 'é'}).encode() == '4{"a":"\\u00e9"}'
    assert Packet(encoded_packet='4[' + '1' * 101 + ']').data == [int('1' * 101)]


def test_default_codec_is_orjson_when_installed():
    if packet.orjson is None:
        assert (packet._dumps_json, packet._loads_json) == CODECS['stdlib']
    else:
        assert (packet._dumps_json, packet._loads_json) == CODECS['orjson']


def test_without_orjson_the_stdlib_codec_is_used():
    script = (
        'import sys\n'
        'sys.modules["orjson"] = None  # makes "import orjson" fail\n'
        'from engineio import packet\n'
        'assert packet.orjson is None\n'
        'assert packet._dumps_json is packet._stdlib_dumps\n'
        'assert packet._loads_json is packet._stdlib_loads\n'
        'print(packet.Packet(4, {"a": "\\u00e9"}).encode(), '
        'packet.Packet(encoded_packet="4[1]").data)\n')
    project = os.path.dirname(os.path.dirname(os.path.abspath(packet.__file__)))
    result = subprocess.run([sys.executable, '-c', script], capture_output=True,
                            text=True, timeout=60, cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == '4{"a":"\\u00e9"} [1]\n'



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


@both_codecs
@pytest.mark.parametrize('tail', JSON_TAILS)
def test_decode_matches_always_trying_json_for_every_first_char(tail, codec):
    for first in FIRST_CHARS:
        encoded = '4' + first + tail
        with json_codec(codec):
            data = Packet(encoded_packet=encoded).data
        assert canonical(data) == canonical(always_try_decode(encoded)[1]), encoded


@both_codecs
@given(st.sampled_from('0123456789'), packet_rests)
def test_decode_matches_always_trying_json(codec, type_digit, rest):
    encoded = type_digit + rest
    with json_codec(codec):
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


@both_codecs
@given(st.dictionaries(any_text, json_values, max_size=5))
def test_json_round_trip(codec, data):
    with json_codec(codec):
        pkt = Packet(encoded_packet=Packet(MESSAGE, data).encode())
    assert canonical(pkt.data) == canonical(data)


def test_instances_take_extra_attributes_and_weak_references():
    pkt = Packet(MESSAGE, 'x')
    pkt.extra = 1
    pkt.json = types.SimpleNamespace(dumps=None, loads=lambda data: 'own json')
    pkt.decode('4[]')
    assert (pkt.extra, pkt.data) == (1, 'own json')
    assert weakref.ref(pkt)() is pkt


# -- the orjson accelerator gives the stdlib codec's results -----------------

class Colour(enum.Enum):
    RED = 1


class Number(enum.IntEnum):
    ONE = 1


class Text(str):
    pass


class Integer(int):
    pass


class Real(float):
    pass


@dataclasses.dataclass
class Point:
    x: int = 0


def outcome(function, *args):
    """What a codec function gives: its value or its exception."""
    try:
        return 'value', canonical(function(*args))
    except (ValueError, TypeError, RecursionError) as exc:
        return type(exc), str(exc)


def encoded_value(dumps, data):
    """The value a JSON encoding parses back to (with the stdlib), or the
    encoder's exception."""
    try:
        encoded = dumps(data)
    except (ValueError, TypeError, RecursionError) as exc:
        return type(exc), str(exc)
    assert type(encoded) is str
    return 'value', canonical(stdlib_json.loads(encoded))


def nested(depth):
    data = []
    for _ in range(depth):
        data = [data]
    return data


def circular():
    data = [1]
    data.append(data)
    return data


@needs_orjson
def test_orjson_encodes_plain_data():
    data = {'a': 'é\u2028', 'b': [1, -2.5, None, True, False, (3, 'x')], 'c': {}}
    # orjson writes non-ASCII text as is, where the stdlib escapes it
    assert packet._orjson_dumps(data) == \
        '{"a":"é\u2028","b":[1,-2.5,null,true,false,[3,"x"]],"c":{}}'
    with json_codec('orjson'):
        assert Packet(MESSAGE, data).encode() == '4' + packet._orjson_dumps(data)


@needs_orjson
@pytest.mark.parametrize('data', [
    [math.nan], {'a': [1, math.inf]}, [-math.inf], [Real('nan')],
    {1: 'a'}, {None: 1}, {True: 1}, {2.5: 1}, {Number.ONE: 1},
    [2 ** 64], [-2 ** 63 - 1], [10 ** 30],
    ['\ud800'], {'\udc00': 1},
    [Colour.RED], [uuid.UUID(int=1)], [Point()], [datetime.date(2020, 1, 1)],
    [Number.ONE], [Text('t')], [Integer(5)], [Real(0.5)], OrderedDict(a=1),
    {'a': OrderedDict(b=[1])}, [{1, 2}], [b'x'],
    nested(300), nested(5000), circular(),
], ids=reprlib.repr)
def test_orjson_encoding_falls_back_to_the_stdlib(data):
    # where orjson would differ or fail, the output is the stdlib's own
    assert outcome(packet._orjson_dumps, data) == outcome(packet._stdlib_dumps, data)


@needs_orjson
def test_orjson_decodes_plain_text_by_itself(monkeypatch):
    def no_stdlib(text):
        raise AssertionError('the stdlib decoder was used')

    monkeypatch.setattr(packet, '_stdlib_loads', no_stdlib)
    text = '{"a":[1,-2.5e3,null,true,"\\u00e9\\ud83d\\ude00"],"b":-123456789012345678}'
    assert packet._orjson_loads(text) == {
        'a': [1, -2500.0, None, True, 'é😀'], 'b': -123456789012345678}


@needs_orjson
@pytest.mark.parametrize('text', [
    'NaN', '[Infinity]', '-Infinity', '1e400', '[-1e400]', '1.7976931348623159e308',
    '[' + '1' * 19 + ']', '-' + '9' * 19, '18446744073709551615', '18446744073709551616',
    '-9223372036854775808', '-9223372036854775809', '1' * 25, '[' + '9' * 100 + ']',
    '1' * 150 + '.5', '"' + '1' * 30 + '"',
    '"\\ud800"', '{"\\udc00":1}', '"\\ud800\\u0041"', '"\ud800"', '["é\udfff"]',
    '\ufeff[1]', '[1,]', '{"a":1,}', '01', '[1] x', '\x0b1', '"\x00"', '{"a":1,"a":2}',
    '[' * 2000, '[' * 2000 + ']' * 2000, '-0', '-0.0', '4.9e-324', '2.4703282292062328e-324',
], ids=reprlib.repr)
def test_orjson_decoding_falls_back_to_the_stdlib(text):
    assert outcome(packet._orjson_loads, text) == outcome(packet._stdlib_loads, text)


number_literals = st.builds(
    lambda sign, digits, fraction, exponent: sign + digits + fraction + exponent,
    st.sampled_from(['', '-']),
    st.one_of(st.just('0'), st.from_regex('[1-9][0-9]{0,40}', fullmatch=True)),
    st.one_of(st.just(''), st.from_regex(r'\.[0-9]{1,30}', fullmatch=True)),
    st.one_of(st.just(''), st.from_regex('[eE][-+]?[0-9]{1,3}', fullmatch=True)))
json_like_texts = st.one_of(
    packet_rests,
    number_literals,
    number_literals.map(lambda number: '[' + number + ',' + number + ']'),
    st.floats().map(repr),
    st.integers().map(str),
    st.lists(st.sampled_from(['"\\ud800"', '"\\udfff"', '"\\ud83d\\ude00"', '"\ud800"', '1',
                              '"é"', '"\\u0000"', 'NaN', '[]', '{}', '"a"', ' ']),
             max_size=4).map(lambda items: '[' + ','.join(items) + ']'),
)


@needs_orjson
@given(json_like_texts)
def test_orjson_decoding_matches_the_stdlib(text):
    assert outcome(packet._orjson_loads, text) == outcome(packet._stdlib_loads, text)


odd_scalars = st.one_of(
    json_scalars,
    st.integers(min_value=-2 ** 70, max_value=2 ** 70),
    st.sampled_from([2 ** 63, 2 ** 64, -2 ** 63 - 1, Colour.RED, Number.ONE, uuid.UUID(int=1),
                     datetime.date(2020, 1, 1), Point(), Text('t'), Integer(5), Real(0.5),
                     Real('nan'), b'x']))
odd_keys = st.one_of(any_text, st.integers(), st.floats(), st.booleans(), st.none(),
                     st.just(Text('k')))
odd_values = st.recursive(
    odd_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.lists(children, max_size=3).map(tuple)
    | st.dictionaries(odd_keys, children, max_size=4)
    | st.dictionaries(any_text, children, max_size=2).map(OrderedDict),
    max_leaves=10)


@needs_orjson
@given(st.one_of(st.lists(odd_values, max_size=4),
                 st.dictionaries(odd_keys, odd_values, max_size=4)))
def test_orjson_encoding_matches_the_stdlib(data):
    assert encoded_value(packet._orjson_dumps, data) == \
        encoded_value(packet._stdlib_dumps, data)


def test_str_subclass_data_is_encoded_as_its_text():
    class Shouting(str):
        def __str__(self):
            return self.upper()

    pkt = Packet(MESSAGE, Shouting('hi'))
    assert pkt.binary is False
    assert pkt.encode() == '4hi'
