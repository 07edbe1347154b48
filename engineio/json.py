"""The stdlib ``json`` module with a guard against huge integer literals.

Everything the stdlib module exports is available here; only :func:`loads`
differs: unless the caller supplies ``parse_int``, integer literals longer than
100 characters are refused with ``ValueError('Integer is too large')``, which
keeps a peer from making the decoder spend quadratic time on giant numbers.
"""
from __future__ import annotations

from json import (  # noqa: F401 - re-exported
    JSONDecodeError, JSONDecoder, JSONEncoder, dump, dumps, load)
from json import loads as original_loads
from json.decoder import WHITESPACE  # type: ignore[attr-defined]
from typing import Any

__all__ = ['dump', 'dumps', 'load', 'loads', 'JSONDecoder', 'JSONDecodeError',
           'JSONEncoder', 'original_loads']

_MAX_INT_LENGTH = 100


def _bounded_int(literal: str) -> int:
    if len(literal) > _MAX_INT_LENGTH:
        raise ValueError('Integer is too large')
    return int(literal)


_decoder = JSONDecoder(parse_int=_bounded_int)
_scan_once = _decoder.scan_once  # type: ignore[attr-defined]
_skip_whitespace = WHITESPACE.match
_WHITESPACE_CHARS = frozenset(' \t\n\r')


def _decode(s: str) -> Any:
    """``_decoder.decode(s)``, same values and errors, without the Python
    layers around the C scanner."""
    start = _skip_whitespace(s).end() if s[:1] in _WHITESPACE_CHARS else 0
    try:
        value, end = _scan_once(s, start)
    except StopIteration as exc:
        raise JSONDecodeError('Expecting value', s, exc.value) from None
    if end != len(s):
        end = _skip_whitespace(s, end).end()
        if end != len(s):
            raise JSONDecodeError('Extra data', s, end)
    return value


def loads(s: str | bytes | bytearray, *args: Any, **kwargs: Any) -> Any:
    """Parse JSON like :func:`json.loads`, refusing huge integer literals."""
    if not args and not kwargs and type(s) is str:
        # the common call: one shared decoder instead of a new one per call
        if s.startswith('\ufeff'):
            raise JSONDecodeError('Unexpected UTF-8 BOM (decode using '
                                  'utf-8-sig)', s, 0)
        return _decode(s)
    kwargs.setdefault('parse_int', _bounded_int)
    return original_loads(s, *args, **kwargs)
