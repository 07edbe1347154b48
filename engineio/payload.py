"""Engine.IO HTTP long-polling payloads: several packets in one body."""
from __future__ import annotations

from typing import List
from urllib.parse import parse_qs

from .packet import Packet, binary_types

_SEPARATOR = '\x1e'

# JavaScript string literal escapes for the JSONP transport: backslash, double
# quote, C0 control characters and the two Unicode line terminators.
_JS_ESCAPES = {code: f'\\u{code:04x}' for code in range(0x20)}
_JS_ESCAPES.update({
    ord('\\'): '\\\\', ord('"'): '\\"', ord('\n'): '\\n', ord('\r'): '\\r',
    ord('\t'): '\\t', 0x2028: '\\u2028', 0x2029: '\\u2029',
})


class Payload:
    """A list of packets carried by one long-polling request or response.

    :param packets: the packets to send, as :class:`~engineio.packet.Packet`
        objects.
    :param encoded_payload: a received body (``str`` or ``bytes``) to decode
        into :attr:`packets` instead.
    """

    #: Maximum number of packets accepted by :meth:`decode`; ``None`` means
    #: no limit (the server bounds the body size instead).
    max_decode_packets: int | None = None

    def __init__(self, packets: List[Packet] | None = None,
                 encoded_payload: str | bytes | bytearray | None = None):
        self.packets: List[Packet] = packets or []
        if encoded_payload is not None:
            self.decode(encoded_payload)

    def encode(self, jsonp_index: int | str | None = None) -> str:
        """Return the payload body: packets joined by the record separator.

        Binary packets are base64 encoded. With ``jsonp_index`` the body is
        wrapped as the JSONP script ``___eio[<index>]("<body>");``.
        """
        encoded = _SEPARATOR.join(Packet._encode_all(self.packets))
        if jsonp_index is None:
            return encoded
        return f'___eio[{jsonp_index}]("{encoded.translate(_JS_ESCAPES)}");'

    def decode(self, encoded_payload: str | bytes | bytearray) -> None:
        """Replace the packets with those of a received body.

        The body is ``str`` or UTF-8 ``bytes``; a JSONP form body (``d=...``)
        is accepted too. Raise ``ValueError`` if it is invalid.
        """
        if isinstance(encoded_payload, binary_types):
            try:
                encoded_payload = encoded_payload.decode('utf-8')
            except UnicodeDecodeError as exc:
                raise ValueError('Payload is not valid UTF-8') from exc
        elif not isinstance(encoded_payload, str):
            kind = type(encoded_payload).__name__
            raise ValueError(f'Cannot decode a payload from {kind}')
        if encoded_payload.startswith('d='):
            encoded_payload = parse_qs(
                encoded_payload, keep_blank_values=True)['d'][0]
        if not encoded_payload:
            self.packets = []
            return
        limit = self.max_decode_packets
        if limit is not None and encoded_payload.count(_SEPARATOR) >= limit:
            raise ValueError('Too many packets in payload')
        self.packets = Packet._decode_all(encoded_payload.split(_SEPARATOR))
