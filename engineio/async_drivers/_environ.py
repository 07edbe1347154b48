"""What the asyncio drivers share: building a WSGI-like ``environ`` from a
framework's request, and reading a request body lazily."""
from __future__ import annotations

from typing import (Any, Awaitable, Callable, Dict, Iterable, Optional,
                    Tuple)

#: ``next_chunk(size_hint)`` returns the next piece of a request body (at most
#: ``size_hint`` bytes when that is positive and the framework can honour it),
#: or None once the body ended; it raises OSError when the client went away.
ChunkReader = Callable[[int], Awaitable[Optional[bytes]]]

_WEBSOCKET_SCHEMES = {'ws': 'http', 'wss': 'https'}


class BodyReader:
    """The ``wsgi.input`` of an asyncio driver: ``await read(length)``
    returns up to ``length`` bytes (all of the body when ``length`` is None),
    fetching no more chunks from the framework than needed.

    A body cut short (the client went away, or sent less than its
    ``Content-Length``) raises ValueError, like any body that cannot be
    decoded: it is never taken for a complete one.
    """

    def __init__(self, next_chunk: ChunkReader,
                 declared_length: Optional[int] = None) -> None:
        self._next_chunk = next_chunk
        self._declared_length = declared_length
        self._received = 0
        self._buffer = bytearray()
        self._ended = False

    async def read(self, length: Optional[int] = None) -> bytes:
        if length is not None and length < 0:
            length = None
        while not self._ended and (length is None or
                                   len(self._buffer) < length):
            hint = -1 if length is None else length - len(self._buffer)
            await self._fetch(hint)
        if length is None or length >= len(self._buffer):
            data = bytes(self._buffer)
            self._buffer.clear()
        else:
            data = bytes(self._buffer[:length])
            del self._buffer[:length]
        return data

    async def _fetch(self, size_hint: int) -> None:
        try:
            chunk = await self._next_chunk(size_hint)
        except OSError as exc:
            self._ended = True
            raise ValueError('request body incomplete: {}'.format(exc))
        if chunk is None:
            self._ended = True
            if self._declared_length is not None and \
                    self._received < self._declared_length:
                raise ValueError('request body shorter than its '
                                 'Content-Length')
        else:
            self._received += len(chunk)
            self._buffer += chunk


def _declared_length(value: Optional[str]) -> Optional[int]:
    try:
        return int(value) if value else None
    except ValueError:
        return None


#: environ keys of the header names seen so far (bounded: a client can send
#: any names, only the first ones are remembered)
_header_keys: Dict[str, str] = {}
_HEADER_KEYS_KEPT = 256


def _header_key(name: str) -> str:
    """The environ key of a header: ``HTTP_`` and the name in upper case
    with ``_`` for ``-`` (no prefix for Content-Type and -Length)."""
    key = name.upper().replace('-', '_')
    if key not in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
        key = 'HTTP_' + key
    if len(_header_keys) < _HEADER_KEYS_KEPT:
        _header_keys[name] = key
    return key


def make_environ(method: str, path: str, query_string: str,
                 raw_uri: str, headers: Iterable[Tuple[str, str]],
                 scheme: str, client: Optional[Tuple[Any, Any]],
                 server: Optional[Tuple[Any, Any]], http_version: str,
                 next_chunk: ChunkReader, extra: Dict[str, Any]
                 ) -> Dict[str, Any]:
    """A WSGI-like environ for Engine.IO.

    ``headers`` are (name, value) pairs, repeated names joined with ``,``;
    ``scheme`` is the real scheme of the connection (``ws``/``wss`` count as
    ``http``/``https``), replaced by the ``X-Forwarded-Proto`` header when
    there is one; ``client`` and ``server`` are (host, port) pairs or None
    when unknown; ``next_chunk`` reads the body for ``wsgi.input`` (see
    :class:`BodyReader`); ``extra`` holds the driver's own keys.
    """
    environ: Dict[str, Any] = {
        'REQUEST_METHOD': method,
        'PATH_INFO': path,
        'SCRIPT_NAME': '',
        'QUERY_STRING': query_string,
        'RAW_URI': raw_uri,
        'SERVER_PROTOCOL': 'HTTP/' + http_version,
        'REMOTE_ADDR': str(client[0]) if client else '',
        'REMOTE_PORT': str(client[1]) if client else '',
        'SERVER_NAME': str(server[0]) if server else '',
        'SERVER_PORT': str(server[1]) if server else '',
    }
    keys = _header_keys
    for name, value in headers:
        key = keys.get(name) or _header_key(name)
        if key in environ:
            environ[key] += ',' + value
        else:
            environ[key] = value
    forwarded = environ.get('HTTP_X_FORWARDED_PROTO')
    url_scheme = forwarded.split(',')[0].strip().lower() if forwarded \
        else ''
    if not url_scheme:
        scheme = scheme.lower()
        url_scheme = _WEBSOCKET_SCHEMES.get(scheme, scheme)
    environ['wsgi.url_scheme'] = url_scheme
    environ['wsgi.input'] = BodyReader(
        next_chunk, _declared_length(environ.get('CONTENT_LENGTH')))
    environ.update(extra)
    return environ
