import json as stdlib_json

import pytest

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
