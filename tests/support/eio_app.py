"""An Engine.IO test application for servers that run in their own process
(eventlet, gevent, gunicorn, uWSGI).

The configuration comes as JSON in the ``EIO_TEST_CONFIG`` environment
variable: ``{"mode": <async_mode>, "options": {<Server options>},
"echo": bool, "reject": <connect handler return value or null>,
"burst": <message that makes the server send 'b0' .. 'b99'>,
"sid_prefix": <string every session id starts with>,
"static_files": <the static_files option of WSGIApp, or null>,
"disconnect_on_request": bool (the connect handler disconnects its own
session when the query string has ``disconnect=me``)}``.

Besides Engine.IO on ``/engine.io/`` the application answers control
requests that let a test in another process drive and observe it:

- ``GET /_ctl/events``: every event so far, as a JSON list of
  ``["connect", sid]``, ``["message", sid, data, transport]`` (bytes as
  ``{"binary": [...]}``) and ``["disconnect", sid, reason]``;
- ``GET /_ctl/disconnect?sid=S`` (without ``sid``: every session),
  ``GET /_ctl/shutdown``, ``GET /_ctl/send?sid=S&data=D``,
  ``GET /_ctl/transport?sid=S``; ``GET /_ctl/pid`` (the worker's pid).

Run directly (``python eio_app.py SERVER``) it serves itself on a free
loopback port with ``SERVER`` = ``eventlet``, ``gevent`` (with
gevent-websocket's handler) or ``gevent-simple`` (pywsgi alone), and prints
``{"port": N}`` once listening.
"""
import json
import os
import sys
import threading
from urllib.parse import parse_qs

CONFIG = json.loads(os.environ.get('EIO_TEST_CONFIG', '{}'))

if __name__ == '__main__' and sys.argv[1:2] == ['eventlet']:
    import eventlet  # noqa: F401  (before anything else imports sockets)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

import engineio  # noqa: E402

_events = []
_lock = threading.Lock()


def _record(*event):
    with _lock:
        _events.append(event)


def _jsonable(data):
    if isinstance(data, (bytes, bytearray)):
        return {'binary': list(data)}
    return data


class TaggedServer(engineio.Server):
    """Session ids start with this worker's tag, so that a load balancer
    can send every request of a session to the worker that created it."""

    def generate_id(self):
        return CONFIG.get('sid_prefix', '') + super().generate_id()


def build_server():
    eio = TaggedServer(async_mode=CONFIG.get('mode'),
                       **CONFIG.get('options', {}))

    @eio.on('connect')
    def connect(sid, environ):
        _record('connect', sid)
        if CONFIG.get('disconnect_on_request') and \
                'disconnect=me' in environ.get('QUERY_STRING', ''):
            eio.disconnect(sid)
        return CONFIG.get('reject')

    @eio.on('message')
    def message(sid, data):
        try:
            transport = eio.transport(sid)
        except KeyError:
            transport = None
        _record('message', sid, _jsonable(data), transport)
        if CONFIG.get('burst') is not None and data == CONFIG['burst']:
            for i in range(100):
                eio.send(sid, 'b{}'.format(i))
        elif CONFIG.get('echo'):
            eio.send(sid, data)

    @eio.on('disconnect')
    def disconnect(sid, reason):
        _record('disconnect', sid, reason)

    return eio


eio = build_server()


def control(environ, start_response):
    """The ``/_ctl/`` endpoints; anything else is 404."""
    path = environ.get('PATH_INFO', '')
    query = {k: v[0] for k, v in parse_qs(
        environ.get('QUERY_STRING', '')).items()}
    body = None
    if path == '/_ctl/events':
        with _lock:
            body = list(_events)
    elif path == '/_ctl/disconnect':
        eio.disconnect(query.get('sid'))
        body = 'ok'
    elif path == '/_ctl/shutdown':
        eio.shutdown()
        body = 'ok'
    elif path == '/_ctl/send':
        eio.send(query['sid'], query['data'])
        body = 'ok'
    elif path == '/_ctl/transport':
        try:
            body = eio.transport(query['sid'])
        except KeyError:
            body = None
    elif path == '/_ctl/pid':
        body = os.getpid()
    if body is None and path != '/_ctl/transport':
        start_response('404 Not Found', [('Content-Type', 'text/plain')])
        return [b'Not Found']
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [json.dumps(body).encode()]


application = engineio.WSGIApp(eio, control,
                              static_files=CONFIG.get('static_files'))


def _serve(server_name):
    if server_name == 'eventlet':
        import eventlet.wsgi
        sock = eventlet.listen(('127.0.0.1', 0))
        print(json.dumps({'port': sock.getsockname()[1]}), flush=True)
        eventlet.wsgi.server(sock, application, log_output=False)
    else:
        from gevent import pywsgi
        kwargs = {}
        if server_name == 'gevent':
            from geventwebsocket.handler import WebSocketHandler
            kwargs['handler_class'] = WebSocketHandler
        server = pywsgi.WSGIServer(('127.0.0.1', 0), application, log=None,
                                   **kwargs)
        server.start()
        print(json.dumps({'port': server.server_port}), flush=True)
        server.serve_forever()


if __name__ == '__main__':
    _serve(sys.argv[1])
