import json as stdlib_json

import pytest
from hypothesis import given, strategies as st

from engineio import json


@pytest.mark.parametrize('name', [name for name in stdlib_json.__all__
                                  if name != 'loads'])
def test_stdlib_names_are_reexported(name):
    assert getattr(json, name) is getattr(stdlib_json, name)


def test_original_loads_is_the_stdlib_one():
    assert json.original_loads is stdlib_json.loads
    assert json.loads is not stdlib_json.loads


def test_dumps_and_loads_round_trip():
    data = {'a': [1, 2.5, None, True], 'b': 'é'}
    assert json.loads(json.dumps(data)) == data


def test_decode_error_is_a_value_error():
    with pytest.raises(json.JSONDecodeError):
        json.loads('{bad')
    assert issubclass(json.JSONDecodeError, ValueError)


@pytest.mark.parametrize('literal', ['1' * 100, '-' + '1' * 99, '[' + '9' * 100 + ']'])
def test_integers_up_to_100_characters_are_accepted(literal):
    assert json.loads(literal) == stdlib_json.loads(literal)


@pytest.mark.parametrize('literal', ['1' * 101, '-' + '1' * 100, '{"a":[' + '9' * 5000 + ']}'])
def test_longer_integers_are_refused(literal):
    with pytest.raises(ValueError, match='^Integer is too large$'):
        json.loads(literal)


def test_long_floats_are_not_affected():
    assert json.loads('1' * 150 + '.5') == float('1' * 150 + '.5')


def test_caller_parse_int_wins():
    assert json.loads('[' + '1' * 101 + ']', parse_int=len) == [101]


def test_other_arguments_are_passed_through():
    assert json.loads(b'{"a": 1}', object_hook=sorted) == ['a']


def decoding(function, text):
    try:
        return 'value', repr(function(text))
    except ValueError as exc:
        return type(exc), str(exc), getattr(exc, 'pos', None)


json_pieces = st.sampled_from(['', ' ', '\t', '\r\n', '\x0b', '\ufeff', 'x', '1', '-', '"a"', '[',
                               ']', '{}', 'null', 'NaN', '1e5', ',', ':', '"\\ud800"', '\ud800'])


@given(st.one_of(st.text(), st.lists(json_pieces, max_size=6).map(''.join),
                 st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
                              lambda children: st.lists(children, max_size=3)
                              | st.dictionaries(st.text(), children, max_size=3),
                              max_leaves=6).map(stdlib_json.dumps)
                 .flatmap(lambda text: st.sampled_from(['', ' ', '\t', '\n', '\r', 'x']).map(
                     lambda pad: pad + text + pad))))
def test_loads_is_the_guarded_stdlib_decoder(text):
    def reference(text):
        return stdlib_json.loads(text, parse_int=json._bounded_int)

    assert decoding(json.loads, text) == decoding(reference, text)
