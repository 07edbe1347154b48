"""Request classification: every rejection of the error table, in order."""
import types
from urllib.parse import parse_qs

import pytest
from hypothesis import given, settings, strategies as st

from engineio._core import routing

CONFIG = types.SimpleNamespace(cors_allowed_origins=None,
                               transports=['polling', 'websocket'])


class FakeSession:
    def __init__(self, connected=True, upgraded=False, closed=False):
        self.connected, self.upgraded, self.closed = \
            connected, upgraded, closed


def env(query='', method='GET', **headers):
    e = {'REQUEST_METHOD': method, 'QUERY_STRING': query,
         'wsgi.url_scheme': 'http', 'HTTP_HOST': 'example.com'}
    e.update(('HTTP_' + k.upper(), v) for k, v in headers.items())
    return e


def route(environ, sessions=None, config=CONFIG):
    return routing.route(environ, config, (sessions or {}).get)


def rejected(result, message):
    assert isinstance(result, routing.Reject), result
    assert result.status == '400 BAD REQUEST'
    assert result.message == message


@pytest.mark.parametrize('origin', ['http://evil.com', 'https://example.com',
                                    'http://example.com:81'])
def test_foreign_origin(origin):
    rejected(route(env('EIO=4&transport=polling', origin=origin)),
             'Not an accepted origin.')


def test_same_origin_and_forwarded_origin_accepted():
    assert route(env('EIO=4&transport=polling',
                     origin='http://example.com')).kind == routing.HANDSHAKE
    e = env('EIO=4&transport=polling', origin='https://front.io',
            x_forwarded_proto='https, http', x_forwarded_host='front.io')
    assert route(e).kind == routing.HANDSHAKE


def test_origin_check_disabled_with_empty_list():
    config = types.SimpleNamespace(cors_allowed_origins=[],
                                   transports=['polling'])
    assert route(env('EIO=4&transport=polling', origin='http://x'),
                 config=config).kind == routing.HANDSHAKE


@pytest.mark.parametrize('method', ['PUT', 'DELETE', 'PATCH', 'HEAD'])
def test_other_methods(method):
    rejected(route(env('EIO=4&transport=polling', method)),
             'Method Not Found')


@pytest.mark.parametrize('query', ['EIO=4', 'EIO=4&transport=',
                                   'EIO=4&transport=flashsocket'])
def test_bad_transport(query):
    rejected(route(env(query)), 'Invalid transport')


def test_transport_not_enabled():
    config = types.SimpleNamespace(cors_allowed_origins=None,
                                   transports=['polling'])
    rejected(route(env('EIO=4&transport=websocket', upgrade='websocket'),
                   config=config), 'Invalid transport')


@pytest.mark.parametrize('query', ['transport=polling', 'EIO=3&transport=polling',
                                   'EIO=abc&transport=polling',
                                   'EIO=4&EIO=4&transport=polling'])
def test_bad_version(query):
    rejected(route(env(query)), routing.UNSUPPORTED_VERSION)


def test_version_not_checked_with_sid():
    r = route(env('transport=polling&sid=s'), {'s': FakeSession()})
    assert r.kind == routing.POLL


def test_bad_jsonp_index():
    rejected(route(env('EIO=4&transport=polling&j=x')),
             'Invalid JSONP index number')
    assert route(env('EIO=4&transport=polling&j=3')).jsonp_index == 3


def test_preflight():
    assert route(env('EIO=4&transport=polling', 'OPTIONS')).kind == \
        routing.PREFLIGHT


def test_websocket_handshake_needs_upgrade_header():
    rejected(route(env('EIO=4&transport=websocket')),
             'Invalid websocket upgrade')
    r = route(env('EIO=4&transport=websocket', upgrade='WebSocket'))
    assert (r.kind, r.transport) == (routing.HANDSHAKE, 'websocket')


def test_unknown_sid():
    rejected(route(env('EIO=4&transport=polling&sid=nope')),
             'Invalid session nope')
    rejected(route(env('EIO=4&transport=polling', 'POST')),
             'Invalid session None')


def test_upgraded_session_refuses_http():
    sessions = {'s': FakeSession(upgraded=True)}
    for method in ('GET', 'POST'):
        rejected(route(env('transport=polling&sid=s', method), sessions),
                 'Unexpected HTTP request')
    rejected(route(env('transport=websocket&sid=s', upgrade='websocket'),
                   sessions), 'Unexpected HTTP request')


def test_not_connected():
    rejected(route(env('transport=polling&sid=s'),
                   {'s': FakeSession(connected=False)}), 'Not connected')


def test_transport_mismatch():
    sessions = {'s': FakeSession()}
    rejected(route(env('transport=websocket&sid=s'), sessions),
             'Invalid transport')
    rejected(route(env('transport=websocket&sid=s', 'POST'), sessions),
             'Invalid transport')


def test_routes_for_a_session():
    s = FakeSession()
    sessions = {'s': s}
    assert route(env('transport=polling&sid=s'), sessions).session is s
    assert route(env('transport=polling&sid=s', 'POST'),
                 sessions).kind == routing.POST
    assert route(env('transport=websocket&sid=s', upgrade='websocket'),
                 sessions).kind == routing.WEBSOCKET


def test_closed_session_gets_its_last_poll_but_no_post():
    sessions = {'s': FakeSession(closed=True)}
    assert route(env('transport=polling&sid=s'), sessions).kind == \
        routing.POLL
    rejected(route(env('transport=polling&sid=s', 'POST'), sessions),
             'Invalid session s')


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text('ab=%+&; 2', max_size=4),
                          st.sampled_from(['', '=']),
                          st.text('ab=%+&;2', max_size=4)), max_size=6))
def test_parse_query_is_parse_qs(fields):
    query = '&'.join(name + eq + value for name, eq, value in fields)
    assert routing.parse_query(query) == parse_qs(query)


@pytest.mark.parametrize('query', [
    '', '&', 'EIO=4&transport=polling&sid=abc', 'a=1&a=2&b=', 'a&b=&=c',
    'x=a%20b&y=c+d', 'j=1=2', 'sid=%E2%82%AC'])
def test_parse_query_examples(query):
    assert routing.parse_query(query) == parse_qs(query)
