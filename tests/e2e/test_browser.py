"""The latency demo in a real browser: headless Chromium (Debian's package,
installed by ``make system-deps``), driven by Playwright, opens the page
served by ``examples/server/wsgi/latency.py`` and must show that it
connected, upgraded to WebSocket and measured round trips over it.

A screenshot of the page is saved as ``test-artifacts/latency.png``.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import urllib.parse
from typing import Any, Dict, List

import pytest

from tests.e2e.test_examples import BUNDLE, REPO, SERVER_EXAMPLES, run_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
]
SCREENSHOT = os.path.join(REPO, 'test-artifacts', 'latency.png')
#: Milliseconds the page may take to reach each state (it pings once a second).
PAGE_TIMEOUT = 20000


def _text(page: Any, element_id: str) -> str:
    return page.text_content('#' + element_id).strip()


def _round_trips_over_websocket(count: int) -> str:
    """A JavaScript predicate: the page shows at least ``count`` round trips
    and the WebSocket transport."""
    return ("() => document.getElementById('transport').textContent === 'websocket' && "
            "Number(document.getElementById('count').textContent) >= {}".format(count))


def on_console(message: Any, problems: List[str]) -> None:
    """Record the console errors of the page, except the 404 of the favicon
    that Chromium asks for (the demo has none)."""
    url = message.location.get('url', '')
    if message.type == 'error' and not url.endswith('/favicon.ico'):
        problems.append('{} ({})'.format(message.text, url))


def test_latency_page_in_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip('Chromium is not installed ({}): run "make system-deps" as root, which '
                    'installs the Debian packages chromium and chromium-driver'.format(CHROMIUM))
    sync_api = pytest.importorskip(
        'playwright.sync_api', reason='playwright is not installed: it is in the test extra')
    if not os.path.isfile(BUNDLE):
        pytest.skip('{} is missing: run "make npm" first'.format(BUNDLE))
    os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
    problems: List[str] = []  # console errors and uncaught exceptions of the page
    websockets: List[Dict[str, Any]] = []

    def on_websocket(ws: Any) -> None:
        record: Dict[str, Any] = {'url': ws.url, 'received': 0}
        websockets.append(record)
        ws.on('framereceived', lambda frame: record.update(received=record['received'] + 1))

    with run_server(SERVER_EXAMPLES['wsgi-latency']) as server, \
            tempfile.TemporaryDirectory() as profile, sync_api.sync_playwright() as pw:
        # A fresh profile (--user-data-dir); Playwright never downloads a browser of its own.
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={'width': 800, 'height': 450})
        try:
            page = context.new_page()
            page.on('console', lambda msg: on_console(msg, problems))
            page.on('pageerror', lambda exc: problems.append(str(exc)))
            page.on('websocket', on_websocket)
            page.goto(server.url + '/')
            try:
                page.wait_for_function(_round_trips_over_websocket(3), timeout=PAGE_TIMEOUT)
                # two more round trips, all over the WebSocket
                seen = int(_text(page, 'count'))
                page.wait_for_function(_round_trips_over_websocket(seen + 2),
                                       timeout=PAGE_TIMEOUT)
            finally:
                page.screenshot(path=SCREENSHOT)
            assert _text(page, 'status') == 'connected'
            assert _text(page, 'transport') == 'websocket'
            assert re.fullmatch(r'\d+\.\d ms', _text(page, 'latency'))
            assert re.fullmatch(r'\d+\.\d ms', _text(page, 'average'))
        finally:
            context.close()
        assert problems == []
        # the upgrade happened on the wire: one WebSocket to Engine.IO, carrying
        # the probe answer and the echoes
        assert len(websockets) == 1, websockets
        url = urllib.parse.urlsplit(websockets[0]['url'])
        query = urllib.parse.parse_qs(url.query)
        assert url.path == '/engine.io/' and query['transport'] == ['websocket'], url
        assert query['sid'], url  # the upgrade of the polling session
        assert websockets[0]['received'] >= 3
        # the server saw the page connect, and the session end when the browser closed
        sid = server.process.wait_output(r'(\S+) connected', 5).group(1)
        server.process.wait_output(re.escape(sid) + ' disconnected: transport close', 10)
