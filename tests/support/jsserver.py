"""Run the official engine.io server (tests/js/eio_server.js) under Node.

:func:`start` returns a running :class:`~tests.support.peers.ProcessServer`
(use it as a context manager: leaving it closes the server's stdin, and
kills it by PID if it does not exit in time). Options are those of
:mod:`tests.support.peers`, translated to the JavaScript server's names, and
``tls`` (``{'cert': path, 'key': path}``: serve HTTPS).
Node and ``tests/js/node_modules`` are required: a missing one is an error,
not a skip (``make test`` installs them).
"""
from __future__ import annotations

import json
import os
import shutil
from typing import Any, Dict, Optional

from tests.support.peers import ProcessServer

JS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'js')
SCRIPT = os.path.join(JS_DIR, 'eio_server.js')


def _node() -> str:
    node = shutil.which('node')
    if node is None:
        raise RuntimeError('node is not on PATH; the JavaScript e2e tests need Node.js')
    if not os.path.isdir(os.path.join(JS_DIR, 'node_modules', 'engine.io')):
        raise RuntimeError('{} has no node_modules/engine.io; run "npm ci" there '
                           '(make test does)'.format(JS_DIR))
    return node


def js_options(options: Dict[str, Any]) -> Dict[str, Any]:
    """The JavaScript server's names and units for peer server options."""
    out: Dict[str, Any] = {}
    if 'ping_interval' in options:
        out['pingInterval'] = int(options['ping_interval'] * 1000)
    if 'ping_timeout' in options:
        out['pingTimeout'] = int(options['ping_timeout'] * 1000)
    if 'transports' in options:
        out['transports'] = options['transports']
    if 'allow_upgrades' in options:
        out['allowUpgrades'] = options['allow_upgrades']
    for name in ('reject', 'tls'):
        if name in options:
            out[name] = options[name]
    return out


def start(options: Optional[Dict[str, Any]] = None) -> ProcessServer:
    """Start the JavaScript peer server; returns once it listens."""
    return ProcessServer([_node(), SCRIPT, json.dumps(js_options(options or {}))],
                         'js', cwd=JS_DIR)
