"""Socket.IO clients for end-to-end tests, all driven the same way.

:func:`make_peer` returns a peer of one kind: ``'js'`` (the official
socket.io-client under Node, tests/js/sio_client.js), ``'sync'``
(python-socketio's ``Client``) or ``'async'`` (its ``AsyncClient``, on an
event loop in a background thread). A peer holds any number of clients,
each one Engine.IO connection named by the test, joined to one or more
namespaces with the same auth payload.

Every peer records what its clients see as event dicts: ``connect``
(``client``, ``ns``, ``sid``, ``transport``), ``connect_error``
(``client``, ``ns``, ``message``, ``data``), ``disconnect`` (``client``,
``ns``, ``reason``) and ``event`` (``client``, ``ns``, ``name``, ``args``).
Every event the server sends with an acknowledgement request is answered
with ``{"answer": [its arguments]}``. Binary data is ``bytes`` everywhere.
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional

import socketio

JS_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'js')
#: seconds a single client operation may take
CALL_TIMEOUT = 10.0

#: what each kind reports as the disconnect reason when the client itself
#: disconnected, when the server disconnected it, and when the server went
#: away
REASONS = {
    'js': {'client': 'io client disconnect', 'server': 'io server disconnect',
           'lost': ('transport close', 'transport error')},
    'sync': {'client': 'client disconnect', 'server': 'server disconnect',
             'lost': ('transport error',)},
}
REASONS['async'] = REASONS['sync']


class Events:
    """A thread-safe list of event dicts that tests can wait on."""

    def __init__(self) -> None:
        self._items: List[Dict[str, Any]] = []
        self._cond = threading.Condition()

    def add(self, event: Dict[str, Any]) -> None:
        with self._cond:
            self._items.append(event)
            self._cond.notify_all()

    def select(self, **match: Any) -> List[Dict[str, Any]]:
        """The events whose keys have the given values."""
        with self._cond:
            return [e for e in self._items
                    if all(e.get(k) == v for k, v in match.items())]

    def wait_until(self, predicate: Callable[[], bool], what: str,
                   timeout: float = CALL_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError('timed out waiting for {}; last '
                                         'events: {!r}'.format(
                                             what, self._items[-10:]))
                self._cond.wait(remaining)

    def wait(self, count: int = 1, timeout: float = CALL_TIMEOUT,
             **match: Any) -> List[Dict[str, Any]]:
        """Block until ``count`` events match; return the matches."""
        self.wait_until(lambda: len(self.select(**match)) >= count,
                        '{} event(s) {!r}'.format(count, match), timeout)
        return self.select(**match)


def _connect_error(client: str, ns: str, data: Any) -> Dict[str, Any]:
    """python-socketio passes ``{message, data}`` for a refusal by the
    Socket.IO server, and a string (or None) for an Engine.IO failure."""
    if isinstance(data, dict) and 'message' in data:
        message, data = data['message'], data.get('data')
    else:
        message, data = data, None
    return {'ev': 'connect_error', 'client': client, 'ns': ns,
            'message': message, 'data': data}


class Peer:
    """Clients of one kind and what they saw."""

    kind = ''

    def __init__(self) -> None:
        self.events = Events()
        self.reasons = REASONS[self.kind]

    def connect(self, client: str, url: str,
                namespaces: Iterable[str] = ('/',), auth: Any = None,
                transports: Optional[List[str]] = None,
                reconnection: bool = False,
                headers: Optional[Dict[str, str]] = None) -> None:
        """Start connecting ``client``; wait with :meth:`wait_connected`."""
        raise NotImplementedError

    def emit(self, client: str, event: str, *args: Any, ns: str = '/'
             ) -> None:
        raise NotImplementedError

    def call(self, client: str, event: str, *args: Any, ns: str = '/'
             ) -> Any:
        """Emit and return the server's acknowledgement."""
        raise NotImplementedError

    def disconnect(self, client: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Disconnect every client and release the peer."""
        raise NotImplementedError

    def wait_connected(self, client: str, namespaces: Iterable[str] = ('/',),
                       count: int = 1, timeout: float = CALL_TIMEOUT
                       ) -> Dict[str, Dict[str, Any]]:
        """Wait for ``count`` connects of ``client`` to each namespace;
        return the last connect event of each namespace."""
        return {ns: self.events.wait(count, timeout, ev='connect',
                                     client=client, ns=ns)[-1]
                for ns in namespaces}

    def _record(self, ev: str, client: str, ns: str, **data: Any) -> None:
        self.events.add(dict(data, ev=ev, client=client, ns=ns))


# -- python-socketio ---------------------------------------------------------


def _attach_handlers(peer: Peer, sio: Any, client: str) -> None:
    """Register recording handlers on a python-socketio client (plain
    functions: the AsyncClient accepts them too)."""
    sio.on('connect', namespace='*', handler=lambda ns: peer._record(
        'connect', client, ns, sid=sio.get_sid(ns),
        transport=sio.transport()))
    sio.on('connect_error', namespace='*', handler=lambda ns, data: (
        peer.events.add(_connect_error(client, ns, data))))
    sio.on('disconnect', namespace='*', handler=lambda ns, reason: (
        peer._record('disconnect', client, ns, reason=reason)))

    def any_event(name: str, ns: str, *args: Any) -> Dict[str, Any]:
        peer._record('event', client, ns, name=name, args=list(args))
        return {'answer': list(args)}

    sio.on('*', namespace='*', handler=any_event)


def _client_options(reconnection: bool) -> Dict[str, Any]:
    return {'reconnection': reconnection, 'reconnection_delay': 0.1,
            'reconnection_delay_max': 0.3, 'randomization_factor': 0,
            'handle_sigint': False}


class SyncPeer(Peer):
    """``socketio.Client`` instances, connected from the calling thread."""

    kind = 'sync'

    def __init__(self) -> None:
        super().__init__()
        self.clients: Dict[str, socketio.Client] = {}

    def connect(self, client, url, namespaces=('/',), auth=None,
                transports=None, reconnection=False, headers=None):
        sio = socketio.Client(**_client_options(reconnection))
        _attach_handlers(self, sio, client)
        self.clients[client] = sio
        try:
            sio.connect(url, namespaces=list(namespaces), auth=auth,
                        transports=transports, headers=headers or {},
                        wait_timeout=CALL_TIMEOUT)
        except socketio.exceptions.ConnectionError:
            pass  # the connect_error events tell why

    def emit(self, client, event, *args, ns='/'):
        self.clients[client].emit(event, args, namespace=ns)

    def call(self, client, event, *args, ns='/'):
        return self.clients[client].call(event, args, namespace=ns,
                                         timeout=CALL_TIMEOUT)

    def disconnect(self, client):
        self.clients[client].disconnect()

    def close(self):
        for sio in self.clients.values():
            sio.shutdown()  # disconnects, or stops reconnecting


class AsyncPeer(Peer):
    """``socketio.AsyncClient`` instances on a loop in a daemon thread."""

    kind = 'async'

    def __init__(self) -> None:
        super().__init__()
        self.clients: Dict[str, socketio.AsyncClient] = {}
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever,
                                        name='sio-async-peer', daemon=True)
        self._thread.start()

    def _run(self, coro: Any, timeout: float = CALL_TIMEOUT) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(
            timeout)

    def connect(self, client, url, namespaces=('/',), auth=None,
                transports=None, reconnection=False, headers=None):
        async def connect():
            sio = socketio.AsyncClient(**_client_options(reconnection))
            _attach_handlers(self, sio, client)
            self.clients[client] = sio
            try:
                await sio.connect(url, namespaces=list(namespaces),
                                  auth=auth, transports=transports,
                                  headers=headers or {},
                                  wait_timeout=CALL_TIMEOUT)
            except socketio.exceptions.ConnectionError:
                pass  # the connect_error events tell why

        self._run(connect(), CALL_TIMEOUT + 5)

    def emit(self, client, event, *args, ns='/'):
        self._run(self.clients[client].emit(event, args, namespace=ns))

    def call(self, client, event, *args, ns='/'):
        return self._run(self.clients[client].call(
            event, args, namespace=ns, timeout=CALL_TIMEOUT),
            CALL_TIMEOUT + 5)

    def disconnect(self, client):
        self._run(self.clients[client].disconnect())

    def close(self):
        async def close():
            for sio in self.clients.values():
                await sio.shutdown()  # disconnects, or stops reconnecting
            tasks = [t for t in asyncio.all_tasks()
                     if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=CALL_TIMEOUT)

        try:
            self._run(close(), CALL_TIMEOUT + 5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(CALL_TIMEOUT)
            if not self._thread.is_alive():
                self.loop.close()


# -- socket.io-client under Node ---------------------------------------------


def _to_js(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return {'_b64': base64.b64encode(value).decode()}
    if isinstance(value, (list, tuple)):
        return [_to_js(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_js(v) for k, v in value.items()}
    return value


def _from_js(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_js(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {'_b64'}:
            return base64.b64decode(value['_b64'])
        return {k: _from_js(v) for k, v in value.items()}
    return value


def _node() -> str:
    node = shutil.which('node')
    if node is None:
        raise RuntimeError('node is not on PATH; the socket.io-client tests '
                           'need Node.js')
    if not os.path.isdir(os.path.join(JS_DIR, 'node_modules',
                                      'socket.io-client')):
        raise RuntimeError('{} has no node_modules/socket.io-client; run '
                           '"npm ci" there (make test does)'.format(JS_DIR))
    return node


class JsPeer(Peer):
    """One Node process running tests/js/sio_client.js."""

    kind = 'js'

    def __init__(self) -> None:
        super().__init__()
        self._acks = Events()
        self._requests = itertools.count()
        self._stderr = b''
        self.proc = subprocess.Popen(
            [_node(), os.path.join(JS_DIR, 'sio_client.js')], cwd=JS_DIR,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True)]
        for reader in self._readers:
            reader.start()
        self.events.wait(ev='ready')

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = _from_js(json.loads(line))
            except ValueError:
                event = {'ev': 'garbage', 'line': line.decode(
                    'utf-8', 'replace')}
            if event['ev'] in ('ack', 'ack_error'):
                self._acks.add(event)
            else:
                self.events.add(event)
        self.events.add({'ev': 'exit'})

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self._stderr = self.proc.stderr.read()

    def _command(self, **command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(_to_js(command)).encode() + b'\n')
        self.proc.stdin.flush()

    def connect(self, client, url, namespaces=('/',), auth=None,
                transports=None, reconnection=False, headers=None):
        self._command(cmd='connect', client=client, url=url,
                      namespaces=list(namespaces), auth=auth,
                      transports=transports, reconnection=reconnection,
                      extraHeaders=headers)

    def emit(self, client, event, *args, ns='/'):
        self._command(cmd='emit', client=client, ns=ns, event=event,
                      args=list(args))

    def call(self, client, event, *args, ns='/'):
        req = next(self._requests)
        self._command(cmd='emit', client=client, ns=ns, event=event,
                      args=list(args), ack=req)
        answer = self._acks.wait(req=req)[0]
        if answer['ev'] == 'ack_error':
            raise TimeoutError(answer['message'])
        return answer['data']

    def disconnect(self, client):
        self._command(cmd='disconnect', client=client)

    def kill(self) -> None:
        """End the process at once: its connections drop without a word."""
        self._command(cmd='exit')
        self.proc.wait(CALL_TIMEOUT)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(CALL_TIMEOUT)
        for reader in self._readers:
            reader.join(CALL_TIMEOUT)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def describe(self) -> str:
        return 'stderr={!r}'.format(self._stderr.decode('utf-8',
                                                        'replace')[-2000:])


PEERS = {'js': JsPeer, 'sync': SyncPeer, 'async': AsyncPeer}


def make_peer(kind: str) -> Peer:
    """A new peer of ``kind`` (``'js'``, ``'sync'`` or ``'async'``)."""
    return PEERS[kind]()
