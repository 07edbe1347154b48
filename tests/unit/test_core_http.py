"""CORS, cookie and compression decisions."""
import gzip
import zlib

from engineio._core import http

ENV = {'wsgi.url_scheme': 'https', 'HTTP_HOST': 'a.io',
       'HTTP_ORIGIN': 'https://a.io', 'REQUEST_METHOD': 'GET'}


def test_default_is_same_origin():
    assert http.allowed_origins(None, ENV) == ['https://a.io']
    assert http.origin_allowed(None, ENV)
    assert not http.origin_allowed(None, dict(ENV, HTTP_ORIGIN='http://a.io'))


def test_no_origin_header_is_always_allowed():
    env = dict(ENV)
    del env['HTTP_ORIGIN']
    assert http.origin_allowed('https://other.io', env)


def test_wildcards_strings_lists():
    assert http.allowed_origins('*', ENV) is None
    assert http.allowed_origins(['x', '*'], ENV) is None
    assert http.allowed_origins('https://b.io', ENV) == ['https://b.io']
    assert http.origin_allowed(['https://a.io', 'https://b.io'], ENV)


def test_callable_with_one_or_two_arguments():
    seen = []

    def two(origin, environ):
        seen.append(environ is ENV)
        return origin.endswith('a.io')

    assert http.origin_allowed(two, ENV) and seen == [True]
    assert not http.origin_allowed(lambda origin: False, ENV)


def test_cors_headers_echo_origin_with_vary():
    env = dict(ENV, REQUEST_METHOD='OPTIONS',
               HTTP_ACCESS_CONTROL_REQUEST_HEADERS='X-Token')
    headers = dict(http.cors_headers(None, True, env))
    assert headers == {
        'Access-Control-Allow-Origin': 'https://a.io', 'Vary': 'Origin',
        'Access-Control-Allow-Methods': 'OPTIONS, GET, POST',
        'Access-Control-Allow-Headers': 'X-Token',
        'Access-Control-Allow-Credentials': 'true'}
    assert http.cors_headers([], True, env) == []
    assert http.cors_headers(None, False, dict(ENV, HTTP_ORIGIN='http://x')) \
        == []


def test_cookie_string_and_dict():
    assert http.sid_cookie('io', 'SID') == 'io=SID; path=/; SameSite=Lax'
    assert http.sid_cookie(None, 'SID') is None
    value = http.sid_cookie({'name': 'x', 'Secure': True, 'Max-Age': '10',
                             'dyn': lambda: 'v', 'HttpOnly': True,
                             'Off': False}, 'SID')
    assert value == 'x=SID; Secure; Max-Age=10; dyn=v; HttpOnly'


def test_cookie_cannot_inject_headers():
    value = http.sid_cookie({'name': 'a\r\nSet-Cookie: b=c',
                             'path': '/;\r\nX: y'}, 'SID')
    assert '\r' not in value and '\n' not in value
    assert value.count(';') == 1


def test_pick_encoding_in_client_order():
    methods = ['gzip', 'deflate']
    assert http.pick_encoding('deflate;q=0.5, gzip', methods) == 'deflate'
    assert http.pick_encoding('br, GZIP', methods) == 'gzip'
    assert http.pick_encoding('br', methods) is None
    assert http.pick_encoding('', methods) is None


def test_compress():
    data = b'x' * 2000
    assert gzip.decompress(http.compress('gzip', data)) == data
    assert zlib.decompress(http.compress('deflate', data)) == data


def test_accepts_args_of_functions_methods_and_callables():
    class Handler:
        def method(self, sid):
            pass

        def __call__(self, sid, reason):
            pass

    def legacy(sid):
        pass

    handler = Handler()
    for _ in range(2):  # the second time from what was remembered
        assert http.accepts_args(legacy, 1)
        assert not http.accepts_args(legacy, 2)
        assert http.accepts_args(handler.method, 1)
        assert not http.accepts_args(handler.method, 2)
        assert http.accepts_args(Handler.method, 2)  # the same function
        assert http.accepts_args(handler, 2)
        assert not http.accepts_args(handler, 3)
        assert http.accepts_args(print, 2)  # no signature, no weak reference
        assert http.accepts_args(lambda *args: None, 5)
