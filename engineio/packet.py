"""Engine.IO packets and their encoding on the wire (protocol v4)."""
from __future__ import annotations

import base64
from typing import Any

from . import json as _json

OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP = range(7)
packet_names = ['OPEN', 'CLOSE', 'PING', 'PONG', 'MESSAGE', 'UPGRADE', 'NOOP']
binary_types = (bytes, bytearray)

_TYPE_DIGITS = {str(digit): digit for digit in range(10)}
_TYPE_TEXT = tuple(str(digit) for digit in range(10))
# the default JSON encoding of dict/list data, made by one shared encoder
_compact_json = _json.JSONEncoder(separators=(',', ':')).encode
# Characters a JSON text can start with, digits excepted (data that starts with
# a digit is kept as a string without trying JSON at all).
_JSON_START = frozenset('{["-tfnNI \t\r\n')
_REPR_DATA_LIMIT = 60


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
        binary = isinstance(data, binary_types)
        if binary and packet_type != MESSAGE:
            raise ValueError('Binary packets can only be of type MESSAGE')
        if encoded_packet is not None:
            self.decode(encoded_packet)
            return
        self.packet_type = packet_type
        self.data = data
        self.binary = binary
        # A text packet has one encoding, cached in encode_cache; a binary
        # packet has two, each cached on first use.
        self.encode_cache: str | bytes | bytearray | None = None
        if binary:
            self._encoded_raw: bytes | bytearray | None = None
            self._encoded_b64: str | None = None

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
                data = self.data
                kind = self.packet_type
                prefix = _TYPE_TEXT[kind] if type(kind) is int and \
                    0 <= kind < 10 else str(kind)
                if type(data) is str:
                    encoded = prefix + data
                elif data is None:
                    encoded = prefix
                elif isinstance(data, (dict, list)):
                    if self.json is _json:
                        encoded = prefix + _compact_json(data)
                    else:
                        encoded = prefix + self.json.dumps(
                            data, separators=(',', ':'))
                elif isinstance(data, str):
                    encoded = prefix + data
                else:
                    encoded = prefix + str(data)
                self.encode_cache = encoded
            return encoded
        if b64:
            encoded = self._encoded_b64
            if encoded is None:
                encoded = self._encoded_b64 = (
                    'b' + base64.b64encode(self.data).decode('ascii'))
        else:
            encoded = self._encoded_raw
            if encoded is None:
                encoded = self._encoded_raw = self.data
        self.encode_cache = encoded
        return encoded

    def decode(self, encoded_packet: str | bytes | bytearray) -> None:
        """Load the packet from its wire form; ``ValueError`` if invalid."""
        if isinstance(encoded_packet, binary_types):
            data = (encoded_packet if type(encoded_packet) is bytes
                    else bytes(encoded_packet))
        elif not isinstance(encoded_packet, str):
            raise ValueError(
                f'Cannot decode a packet from {type(encoded_packet).__name__}')
        elif not encoded_packet:
            raise ValueError('Invalid empty packet received')
        elif encoded_packet[0] == 'b':
            try:
                data = base64.b64decode(encoded_packet[1:], validate=True)
            except ValueError as exc:  # binascii.Error or non-ASCII text
                raise ValueError(
                    'Invalid base64 data in binary packet') from exc
        else:
            packet_type = _TYPE_DIGITS.get(encoded_packet[0])
            if packet_type is None:
                raise ValueError(
                    f'Invalid packet type {encoded_packet[0]!r}')
            text = encoded_packet[1:]
            if text and text[0] in _JSON_START:
                try:
                    text = self.json.loads(text)
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
        self.packet_type = MESSAGE
        self.data = data
        self.binary = True
        self.encode_cache = None
        self._encoded_raw = None
        self._encoded_b64 = None
