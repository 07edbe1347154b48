"""HTTP decisions without I/O: CORS, the session cookie and compression."""
from __future__ import annotations

import gzip
import inspect
import weakref
import zlib
from typing import Any, Callable, Dict, List, Optional, Tuple

Headers = List[Tuple[str, str]]


#: what accepts_args found, by function (by the function of a bound method)
_accepted_counts: 'weakref.WeakKeyDictionary[Any, Dict[Any, bool]]' = \
    weakref.WeakKeyDictionary()


def accepts_args(func: Callable[..., Any], count: int) -> bool:
    """True if ``func`` can be called with ``count`` positional arguments
    (remembered for each function: inspecting a signature is slow)."""
    target = getattr(func, '__func__', func)
    key = (target is not func, count)  # a bound method takes one less
    try:
        answers = _accepted_counts.get(target)
        if answers is None:
            answers = _accepted_counts[target] = {}
    except TypeError:  # not weakly referenceable (builtins)
        return _accepts_args(func, count)
    accepted = answers.get(key)
    if accepted is None:
        accepted = answers[key] = _accepts_args(func, count)
    return accepted


def _accepts_args(func: Callable[..., Any], count: int) -> bool:
    try:
        inspect.signature(func).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # no signature available (some builtins)
        return True
    return True


def _first(value: str) -> str:
    return value.split(',')[0].strip()


def allowed_origins(option: Any, environ: Dict[str, Any]
                    ) -> Optional[List[str]]:
    """Origins this request may come from; ``None`` means any origin.

    ``option`` is the server's ``cors_allowed_origins``: ``None`` (same
    origin only), ``'*'``, a string, a list, or a callable.
    """
    if option is None:
        scheme = environ.get('wsgi.url_scheme', 'http')
        host = environ.get('HTTP_HOST', '')
        origins = [scheme + '://' + host]
        fwd_proto = environ.get('HTTP_X_FORWARDED_PROTO')
        fwd_host = environ.get('HTTP_X_FORWARDED_HOST')
        if fwd_proto or fwd_host:
            origins.append(
                (_first(fwd_proto) if fwd_proto else scheme) + '://' +
                (_first(fwd_host) if fwd_host else host))
        return origins
    if option == '*':
        return None
    if isinstance(option, str):
        return [option]
    if callable(option):
        origin = environ.get('HTTP_ORIGIN') or ''
        if accepts_args(option, 2):
            allowed = option(origin, environ)
        else:
            allowed = option(origin)
        return [origin] if allowed else []
    if '*' in option:
        return None
    return list(option)


def origin_allowed(option: Any, environ: Dict[str, Any]) -> bool:
    """Whether the request's Origin header (if any) is acceptable."""
    if option == []:
        return True
    origin = environ.get('HTTP_ORIGIN')
    if not origin:
        return True
    allowed = allowed_origins(option, environ)
    return allowed is None or origin in allowed


def cors_headers(option: Any, credentials: bool,
                 environ: Dict[str, Any]) -> Headers:
    """CORS response headers for an accepted request."""
    if option == []:
        return []
    headers: Headers = []
    origin = environ.get('HTTP_ORIGIN')
    if origin:
        allowed = allowed_origins(option, environ)
        if allowed is None or origin in allowed:
            headers.append(('Access-Control-Allow-Origin', origin))
            headers.append(('Vary', 'Origin'))
    if environ.get('REQUEST_METHOD') == 'OPTIONS':
        headers.append(('Access-Control-Allow-Methods', 'OPTIONS, GET, POST'))
    requested = environ.get('HTTP_ACCESS_CONTROL_REQUEST_HEADERS')
    if requested:
        headers.append(('Access-Control-Allow-Headers', requested))
    if credentials:
        headers.append(('Access-Control-Allow-Credentials', 'true'))
    return headers


_COOKIE_UNSAFE = {ord(c): None for c in ';,\r\n\0'}


def _cookie_safe(value: Any) -> str:
    """Drop characters that would end the cookie or the header line."""
    return str(value).translate(_COOKIE_UNSAFE)


def sid_cookie(option: Any, sid: str) -> Optional[str]:
    """The ``Set-Cookie`` value for a new session, or None for no cookie.

    ``option`` is the server's ``cookie``: a name, or a dict with ``name``
    and cookie attributes (values may be callables; ``True`` means a flag;
    ``False`` and ``None`` leave the attribute out).
    """
    if not option:
        return None
    if isinstance(option, str):
        attributes: Dict[str, Any] = {'name': option, 'path': '/',
                                      'SameSite': 'Lax'}
    else:
        attributes = dict(option)
    parts = [_cookie_safe(attributes.get('name', 'io')) + '=' + sid]
    for key, value in attributes.items():
        if key == 'name':
            continue
        if callable(value):
            value = value()
        if value is True:
            parts.append(_cookie_safe(key))
        elif value is not False and value is not None:
            parts.append(_cookie_safe(key) + '=' + _cookie_safe(value))
    return '; '.join(parts)


def pick_encoding(accept_encoding: str, methods: List[str]) -> Optional[str]:
    """The first encoding in the client's list that the server supports."""
    for token in accept_encoding.split(','):
        name = token.split(';')[0].strip().lower()
        if name in methods:
            return name
    return None


def compress(method: str, data: bytes) -> bytes:
    """Compress ``data`` with ``'gzip'`` or ``'deflate'`` (zlib format)."""
    if method == 'gzip':
        return gzip.compress(data, compresslevel=6)
    return zlib.compress(data)
