"""Engine.IO packets and their encoding on the wire (protocol v4)."""
from __future__ import annotations

import base64
import binascii
import sys
from typing import Any, Callable, List

from . import json as _json

try:  # optional accelerator of the default JSON codec (pip install orjson)
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None  # type: ignore[assignment]

OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP = range(7)
packet_names = ['OPEN', 'CLOSE', 'PING', 'PONG', 'MESSAGE', 'UPGRADE', 'NOOP']
binary_types = (bytes, bytearray)

_TYPE_DIGITS = {str(digit): digit for digit in range(10)}
_TYPE_TEXT = tuple(str(digit) for digit in range(10))
# Characters a JSON text can start with, digits excepted (data that starts with
# a digit is kept as a string without trying JSON at all).
_JSON_START = frozenset('{["-tfnNI \t\r\n')
_b2a_base64 = binascii.b2a_base64
if sys.version_info >= (3, 11):
    # _a2b_base64(text, strict_mode=True) is base64.b64decode(text,
    # validate=True) without its Python wrapper
    _a2b_base64 = binascii.a2b_base64
else:  # pragma: no cover - older Pythons
    def _a2b_base64(text: str, strict_mode: bool = False) -> bytes:
        return base64.b64decode(text, validate=strict_mode)
_REPR_DATA_LIMIT = 60

# -- the default JSON codec (Packet.json left as engineio.json) ---------------

#: Compact JSON of dict/list data with the stdlib encoder.
_stdlib_dumps: Callable[[Any], str] = _json.JSONEncoder(
    separators=(',', ':')).encode
#: Parse JSON text with the stdlib decoder (guarded against huge integers).
_stdlib_loads: Callable[[str], Any] = _json.loads

# orjson refuses subclasses, dataclasses and datetimes with these options,
# which sends them to the stdlib encoder.
_ORJSON_OPTIONS = (orjson.OPT_PASSTHROUGH_SUBCLASS |
                   orjson.OPT_PASSTHROUGH_DATACLASS |
                   orjson.OPT_PASSTHROUGH_DATETIME) if orjson else 0
_SCALAR_TYPES = frozenset((str, int, bool, type(None)))
_CONTAINER_TYPES = frozenset((dict, list, tuple))
# Maps each UTF-8 byte to 0 if it is an ASCII digit, 1 otherwise: 19 zeros in
# a row reveal a number orjson could take out of the 64-bit integer range.
_DIGIT_BYTES = bytes(0 if 0x30 <= byte <= 0x39 else 1 for byte in range(256))
_LONG_NUMBER = bytes(19)


def _encodes_like_stdlib(data: dict | list) -> bool:
    """Whether ``data``, which orjson encoded, holds only values that orjson
    and the stdlib encode to the same JSON value: exact dict, list, tuple,
    str, int, bool and None, and finite floats (orjson writes NaN and infinity
    as null, and encodes enums and UUIDs that the stdlib refuses)."""
    pending: List[Any] = [data]  # orjson succeeded: no cycles, bounded depth
    while pending:
        items = pending.pop()
        if type(items) is dict:
            items = items.values()
        for item in items:
            kind = type(item)
            if kind in _SCALAR_TYPES:
                continue
            if kind is float:
                if item - item != 0.0:  # NaN or infinity
                    return False
            elif kind in _CONTAINER_TYPES:
                pending.append(item)
            else:
                return False
    return True


def _orjson_dumps(data: dict | list) -> str:
    """Compact JSON of ``data`` with orjson when it gives the same value as
    the stdlib encoder, else with the stdlib encoder."""
    try:
        encoded = orjson.dumps(data, option=_ORJSON_OPTIONS)
    except TypeError:  # what orjson cannot encode, the stdlib may
        return _stdlib_dumps(data)
    if _encodes_like_stdlib(data):
        return encoded.decode()
    return _stdlib_dumps(data)


def _orjson_loads(text: str) -> Any:
    """Parse JSON text with orjson when it gives the value the stdlib decoder
    gives, else with the stdlib decoder (its value or its ``ValueError``)."""
    try:
        digits = text.encode().translate(_DIGIT_BYTES)
    except UnicodeEncodeError:  # lone surrogates: orjson refuses the text
        return _stdlib_loads(text)
    # orjson turns huge integers into floats (find() is quicker than "in")
    if digits.find(_LONG_NUMBER) < 0:
        try:
            return orjson.loads(text)
        except Exception:  # invalid for orjson, e.g. NaN, lone \ud800 escape
            pass
    return _stdlib_loads(text)


#: The JSON codec of packets whose ``json`` is engineio.json: orjson when
#: installed, always with the same results as the stdlib codec.
_dumps_json = _orjson_dumps if orjson else _stdlib_dumps
_loads_json = _orjson_loads if orjson else _stdlib_loads


class Packet:
    """One Engine.IO packet.

    Build it from ``packet_type`` and ``data`` to send it, or from
    ``encoded_packet`` (a ``str`` text packet or a ``bytes`` binary message)
    to decode one received from the wire.
    """

    # Slots make the hot attributes quick; __dict__ and __weakref__ keep
    # instances as open to extra attributes and weak references as usual.
    __slots__ = ('packet_type', 'data', 'binary', 'encode_cache',
                 '_encoded_raw', '_encoded_b64', '__dict__', '__weakref__')

    #: JSON module used to encode dict/list data and to decode text data.
    json: Any = _json

    def __init__(self, packet_type: int = NOOP, data: Any = None,
                 encoded_packet: str | bytes | bytearray | None = None):
        if encoded_packet is None:
            self.packet_type = packet_type
            self.data = data
            # A text packet has one encoding, cached in encode_cache; a
            # binary packet has two, each cached on first use.
            self.encode_cache: str | bytes | bytearray | None = None
            if type(data) is str or data is None or \
                    not isinstance(data, binary_types):
                self.binary = False
            elif packet_type == MESSAGE:
                self.binary = True
                self._encoded_raw: bytes | bytearray | None = None
                self._encoded_b64: str | None = None
            else:
                raise ValueError('Binary packets can only be of type MESSAGE')
            return
        if data is not None and isinstance(data, binary_types) and \
                packet_type != MESSAGE:
            raise ValueError('Binary packets can only be of type MESSAGE')
        self.decode(encoded_packet)

    @classmethod
    def _decode_all(cls, encoded_packets: List[str]) -> List[Packet]:
        """Decode the text packets of a payload body: ``[Packet(encoded_packet=
        text) for text in encoded_packets]``, with the common text, JSON and
        base64 packets decoded in place (``ValueError`` if any is invalid)."""
        new, digits, json_start = object.__new__, _TYPE_DIGITS, _JSON_START
        loads = _loads_json if cls.json is _json else cls.json.loads
        packets = []
        for encoded in encoded_packets:
            pkt = new(cls)
            first = encoded[:1]
            packet_type = digits.get(first)
            if packet_type is not None:  # a type digit then text or JSON
                text = encoded[1:]
                if text and text[0] in json_start:
                    try:
                        text = loads(text)
                    except ValueError:
                        pass
                    except RecursionError:
                        raise ValueError(
                            'Packet data is nested too deeply') from None
                pkt.packet_type = packet_type
                pkt.data = text
                pkt.binary = False
                pkt.encode_cache = None
            elif first == 'b':
                try:
                    pkt.data = _a2b_base64(encoded[1:], strict_mode=True)
                except ValueError as exc:  # binascii.Error or non-ASCII text
                    raise ValueError(
                        'Invalid base64 data in binary packet') from exc
                pkt.packet_type = MESSAGE
                pkt.binary = True
                pkt.encode_cache = pkt._encoded_raw = pkt._encoded_b64 = None
            else:
                pkt.decode(encoded)  # empty or invalid: raises
            packets.append(pkt)
        return packets

    @staticmethod
    def _encode_all(packets: List[Packet]) -> List[str]:
        """The payload forms of packets: ``[pkt.encode(b64=True) for pkt in
        packets]``, with plain text packets encoded in place."""
        encoded_packets = []
        for pkt in packets:
            if type(pkt) is not Packet:  # a subclass may encode its own way
                encoded = pkt.encode(b64=True)
            else:
                encoded = pkt.encode_cache
                if type(encoded) is not str:  # not encoded yet, or raw binary
                    kind, data = pkt.packet_type, pkt.data
                    if type(data) is str and type(kind) is int and \
                            0 <= kind < 10 and not pkt.binary:
                        encoded = pkt.encode_cache = _TYPE_TEXT[kind] + data
                    else:
                        encoded = pkt.encode(True)
            encoded_packets.append(encoded)
        return encoded_packets

    def __repr__(self) -> str:
        packet_type = self.packet_type
        if isinstance(packet_type, int) and \
                0 <= packet_type < len(packet_names):
            name = packet_names[packet_type]
        else:
            name = repr(packet_type)
        data = self.data
        if isinstance(data, (str, bytes, bytearray)) and \
                len(data) > _REPR_DATA_LIMIT:
            shown = f'{data[:_REPR_DATA_LIMIT]!r}...(len {len(data)})'
        else:
            shown = repr(data)
        return f'<Packet {name} data={shown}>'

    def encode(self, b64: bool = False) -> str | bytes | bytearray:
        """Return the packet as sent on the wire.

        Text packets give ``str(packet_type)`` followed by the data (dict and
        list data as compact JSON). Binary packets give the raw bytes, or
        with ``b64=True`` (for polling payloads) ``'b'`` plus their base64.
        The result is computed once per ``b64`` value and then reused.
        """
        if not self.binary:
            encoded = self.encode_cache
            if encoded is None:
                kind = self.packet_type
                if type(kind) is int and 0 <= kind < 10:
                    prefix = _TYPE_TEXT[kind]
                else:
                    prefix = str(kind)
                data = self.data
                if type(data) is str:
                    encoded = prefix + data
                elif data is None:
                    encoded = prefix
                elif isinstance(data, (dict, list)):
                    json = self.json
                    encoded = prefix + (
                        _dumps_json(data) if json is _json
                        else json.dumps(data, separators=(',', ':')))
                elif isinstance(data, str):  # its text, not its __str__()
                    encoded = prefix + data
                else:
                    encoded = prefix + str(data)
                self.encode_cache = encoded
            return encoded
        if b64:
            encoded = self._encoded_b64
            if encoded is None:
                encoded = self._encoded_b64 = 'b' + _b2a_base64(
                    self.data, newline=False).decode()
        else:
            encoded = self._encoded_raw
            if encoded is None:
                encoded = self._encoded_raw = self.data
        self.encode_cache = encoded
        return encoded

    def decode(self, encoded_packet: str | bytes | bytearray) -> None:
        """Load the packet from its wire form; ``ValueError`` if invalid."""
        if isinstance(encoded_packet, str):
            try:
                first = encoded_packet[0]
            except IndexError:
                raise ValueError('Invalid empty packet received') from None
            packet_type = _TYPE_DIGITS.get(first)
            if packet_type is not None:
                text = encoded_packet[1:]
                if text and text[0] in _JSON_START:  # maybe JSON: try it
                    json = self.json
                    try:
                        text = _loads_json(text) if json is _json \
                            else json.loads(text)
                    except ValueError:
                        pass
                    except RecursionError:
                        raise ValueError(
                            'Packet data is nested too deeply') from None
                self.packet_type = packet_type
                self.data = text
                self.binary = False
                self.encode_cache = None
                return
            if first != 'b':
                raise ValueError(f'Invalid packet type {first!r}')
            try:
                data = _a2b_base64(encoded_packet[1:], strict_mode=True)
            except ValueError as exc:  # binascii.Error or non-ASCII text
                raise ValueError(
                    'Invalid base64 data in binary packet') from exc
        elif isinstance(encoded_packet, binary_types):
            data = (encoded_packet if type(encoded_packet) is bytes
                    else bytes(encoded_packet))
        else:
            raise ValueError(
                f'Cannot decode a packet from {type(encoded_packet).__name__}')
        self.packet_type = MESSAGE
        self.data = data
        self.binary = True
        self.encode_cache = self._encoded_raw = self._encoded_b64 = None
