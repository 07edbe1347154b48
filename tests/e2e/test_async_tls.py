"""The asyncio modes over TLS: the real scheme reaches the environ, so a page
served over HTTPS is of the same origin as the server without any proxy
header (python-engineio's drivers said ``http`` and refused it)."""
from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import urllib.parse
from typing import Any, Tuple

import pytest
import websocket

import engineio
from tests.support import async_servers, servers

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(30)]


@pytest.fixture(scope='module')
def certificate(tmp_path_factory: Any) -> Tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (made with openssl)."""
    folder = tmp_path_factory.mktemp('tls')
    cert, key = str(folder / 'cert.pem'), str(folder / 'key.pem')
    subprocess.run(
        ['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
         'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
         '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
         '-keyout', key, '-out', cert],
        check=True, capture_output=True, timeout=30)
    return cert, key


@pytest.mark.parametrize('server_name', sorted(async_servers.ASYNC_MODES))
def test_same_origin_over_tls(server_name, certificate):
    eio = engineio.AsyncServer(
        async_mode=async_servers.ASYNC_MODES[server_name])
    environs = []
    eio.on('connect', lambda sid, environ: environs.append(environ))
    app = async_servers.make_app(server_name, eio)
    context = ssl.create_default_context(cafile=certificate[0])
    starter = servers.STARTERS[server_name]
    with starter(eio, app, tls=certificate) as url:
        parts = urllib.parse.urlsplit(url)
        assert parts.scheme == 'https'
        conn = http.client.HTTPSConnection(parts.hostname, parts.port,
                                           context=context, timeout=10)
        try:
            conn.request('GET', '/engine.io/?EIO=4&transport=polling',
                         headers={'Origin': url})
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        assert response.status == 200, body
        assert response.getheader('Access-Control-Allow-Origin') == url
        assert environs[0]['wsgi.url_scheme'] == 'https'
        assert json.loads(body[1:])['sid']

        ws = websocket.create_connection(
            'wss://{}/engine.io/?EIO=4&transport=websocket'.format(
                parts.netloc),
            sslopt={'ca_certs': certificate[0]}, timeout=10,
            header=['Origin: ' + url], suppress_origin=True)
        try:
            assert ws.recv().startswith('0{')
        finally:
            ws.close()
        assert environs[1]['wsgi.url_scheme'] == 'https'
