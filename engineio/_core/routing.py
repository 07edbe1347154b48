"""Decide what one HTTP request to the Engine.IO endpoint is, without I/O.

:func:`route` looks at the request's method, query string and headers (a
WSGI ``environ``) and answers either a :class:`Reject` (status, message and
the key under which the error is logged) or a :class:`Route` telling the
shell what to do: answer a CORS preflight, open a session, wait for packets,
receive packets, or switch to WebSocket.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, NamedTuple, Optional, Union
from urllib.parse import parse_qs

from . import http

BAD_REQUEST = '400 BAD REQUEST'

PREFLIGHT = 'preflight'
HANDSHAKE = 'handshake'
POLL = 'poll'
POST = 'post'
WEBSOCKET = 'websocket'

UNSUPPORTED_VERSION = ('The client is using an unsupported version of the '
                       'Socket.IO or Engine.IO protocols')


class Reject(NamedTuple):
    """Refuse the request with ``status`` and a JSON string ``message``."""
    status: str
    message: str
    log_key: Optional[str]
    log_message: str


class Route(NamedTuple):
    """An acceptable request and what it asks for."""
    kind: str
    transport: str
    sid: Optional[str]
    jsonp_index: Optional[int]
    session: Any


def _reject(message: str, key: Optional[str],
            log_message: Optional[str] = None) -> Reject:
    return Reject(BAD_REQUEST, message, key, log_message or message)


def parse_query(query_string: str) -> Dict[str, List[str]]:
    """``urllib.parse.parse_qs(query_string)``, quicker for the usual
    query strings, which need no unquoting."""
    if '%' in query_string or '+' in query_string:
        return parse_qs(query_string)
    query: Dict[str, List[str]] = {}
    for field in query_string.split('&'):
        name, _, value = field.partition('=')
        if value:  # like parse_qs, fields without a value are left out
            values = query.get(name)
            if values is None:
                query[name] = [value]
            else:
                values.append(value)
    return query


def wants_websocket(environ: Dict[str, Any]) -> bool:
    return environ.get('HTTP_UPGRADE', '').lower() == 'websocket'


def route(environ: Dict[str, Any], config: Any,
          find_session: Callable[[str], Any]) -> Union[Reject, Route]:
    """Classify a request.

    ``config`` is the server (its ``cors_allowed_origins`` and
    ``transports``); ``find_session(sid)`` returns the shell's socket for a
    sid or None. The socket must have ``closed``, ``connected`` and
    ``upgraded`` attributes.
    """
    if not http.origin_allowed(config.cors_allowed_origins, environ):
        return _reject('Not an accepted origin.', 'bad-origin',
                       'Origin %r is not accepted' %
                       environ.get('HTTP_ORIGIN'))
    method = environ.get('REQUEST_METHOD', '')
    if method not in ('GET', 'POST', 'OPTIONS'):
        return _reject('Method Not Found', 'bad-method',
                       'Method %r is not supported' % method[:20])
    query = parse_query(environ.get('QUERY_STRING', ''))
    transport = query.get('transport', [''])[0]
    if transport not in config.transports:
        return _reject('Invalid transport', 'bad-transport',
                       'Invalid transport %r' % transport[:20])
    sid = query.get('sid', [None])[0]
    if sid is None and query.get('EIO') != ['4']:
        return _reject(UNSUPPORTED_VERSION, 'bad-version')
    jsonp_index = None
    if 'j' in query:
        try:
            jsonp_index = int(query['j'][0])
        except ValueError:
            return _reject('Invalid JSONP index number', 'bad-jsonp-index')
    if method == 'OPTIONS':
        return Route(PREFLIGHT, transport, sid, jsonp_index, None)
    if sid is None and method == 'GET':
        if transport == 'websocket' and not wants_websocket(environ):
            return _reject('Invalid websocket upgrade', 'bad-upgrade')
        return Route(HANDSHAKE, transport, None, jsonp_index, None)
    session = find_session(sid) if sid is not None else None
    if session is None:
        return _reject(
            'Invalid session ' + str(sid), 'bad-sid',
            'Invalid session %s (if the server runs several processes, the '
            'session may live in another one: the load balancer must use '
            'sticky sessions)' % str(sid)[:40])
    if session.upgraded:
        return _reject('Unexpected HTTP request', 'unexpected-http',
                       'Unexpected HTTP request for upgraded session ' +
                       str(sid))
    if not session.connected and not session.closed:
        return _reject('Not connected', 'not-connected')
    if method == 'POST':
        if transport != 'polling':
            return _reject('Invalid transport', 'bad-transport')
        if session.closed:
            return _reject('Invalid session ' + str(sid), 'bad-sid')
        return Route(POST, transport, sid, jsonp_index, session)
    if transport == 'polling':
        return Route(POLL, transport, sid, jsonp_index, session)
    if not wants_websocket(environ) or session.closed:
        return _reject('Invalid transport', 'bad-transport')
    return Route(WEBSOCKET, transport, sid, None, session)
