"""The asyncio examples of examples/server/ run: each serves its page and
echoes Engine.IO messages, on the server its README names."""
from __future__ import annotations

import importlib.util
import os

import pytest
import requests

from tests.support import async_servers, servers  # noqa: F401 (registers the starters)
from tests.support import rawclient as rc

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(30)]

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'examples', 'server')


@pytest.mark.parametrize('server_name', ['asgi', 'aiohttp', 'tornado',
                                         'sanic'])
@pytest.mark.parametrize('example, title', [('simple', 'Engine.IO echo'),
                                            ('latency', 'Engine.IO latency')])
def test_example(server_name, example, title):
    path = os.path.join(EXAMPLES, server_name, example + '.py')
    spec = importlib.util.spec_from_file_location(
        'example_{}_{}'.format(server_name, example), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if server_name == 'sanic':
        module.app.config.TOUCHUP = False  # see tests/support/async_servers
    with servers.serve(server_name, module.eio, module.app) as url:
        page = requests.get(url + '/', timeout=5)
        assert page.status_code == 200
        assert '<title>{}</title>'.format(title) in page.text
        hs = rc.handshake(url)
        assert rc.post(url, hs.sid, rc.encode_payload(['4ping', b'\x01'])
                       ).body == b'ok'
        echoed = []
        while len(echoed) < 2:
            echoed += rc.messages(rc.decode_payload(rc.get(url, hs.sid).body))
        assert echoed == ['ping', b'\x01']
