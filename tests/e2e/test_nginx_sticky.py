"""Scale-out recipe: nginx in front of three server processes, with session
affinity by session id (each worker tags the sids it creates) or by client
address (``ip_hash``, clients connecting from distinct loopback addresses).

The nginx configuration is the one shipped in ``examples/deploy/nginx/``.
"""
import contextlib
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from tests.support import procservers, rawclient
from tests.support.jsclient import JsClient

pytestmark = [pytest.mark.e2e, pytest.mark.js, pytest.mark.timeout(120)]

REPO = procservers.REPO
CONF_DIR = os.path.join(REPO, 'examples', 'deploy', 'nginx')
NGINX = shutil.which('nginx') or '/usr/sbin/nginx'
WORKERS = 3
CLIENTS = 30
MESSAGES = 5


def nginx_missing():
    return None if os.path.exists(NGINX) else \
        'nginx is not installed (make test installs it when run as root)'


if nginx_missing():
    print('SKIP test_nginx_sticky: ' + nginx_missing())
    pytestmark.append(pytest.mark.skip(reason=nginx_missing()))


def render(template, **values):
    with open(os.path.join(CONF_DIR, template)) as f:
        text = f.read()
    for key, value in values.items():
        text = text.replace('{{' + key + '}}', str(value))
    return text


@contextlib.contextmanager
def nginx(conf_text):
    """Run nginx in the foreground with a configuration in a temp dir."""
    with tempfile.TemporaryDirectory() as tmp:
        body = conf_text.replace('{{TMP}}', tmp)
        conf = os.path.join(tmp, 'nginx.conf')
        with open(conf, 'w') as f:
            f.write(body)
        proc = subprocess.Popen([NGINX, '-c', conf, '-p', tmp],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@contextlib.contextmanager
def backends():
    started = []
    try:
        for n in range(1, WORKERS + 1):
            started.append(procservers.start(
                'gevent', echo=True, sid_prefix='w{}-'.format(n),
                options={'ping_interval': 5, 'ping_timeout': 5,
                         'cookie': 'io'}))
        yield started
    finally:
        for harness in started:
            harness.stop()


def run_clients(url, local_addresses=None):
    clients = []
    try:
        for i in range(CLIENTS):
            config = {'url': url, 'path': '/engine.io',
                      'transports': ['polling', 'websocket'], 'timeout': 30000,
                      'script': [{'waitUpgrade': 10000}] +
                      [{'send': 'c{}-m{}'.format(i, j)}
                       for j in range(MESSAGES)] +
                      [{'expect': {'count': MESSAGES, 'timeout': 10000}},
                       {'close': True}]}
            if local_addresses:
                config['localAddress'] = local_addresses[i]
            clients.append(JsClient(config))
        results = []
        for i, client in enumerate(clients):
            events = client.finish()
            assert client.messages() == ['c{}-m{}'.format(i, j)
                                         for j in range(MESSAGES)]
            assert [e['transport'] for e in events
                    if e['event'] == 'upgrade'] == ['websocket']
            results.append([e['sid'] for e in events
                            if e['event'] == 'open'][0])
        return results
    finally:
        for client in clients:
            client.kill()


def assert_sessions_stayed_home(workers, sids):
    for n, worker in enumerate(workers, start=1):
        output = worker.output()
        assert 'Invalid session' not in output, output
        for sid, in worker.connects.items:
            if sid not in sids:
                continue
            received = worker.messages_of(sid)
            client = received[0].split('-')[0]
            assert received == ['{}-m{}'.format(client, j)
                                for j in range(MESSAGES)]


def test_affinity_by_session_id():
    with backends() as workers:
        port = procservers.free_port()
        conf = render('sticky-sid.conf', PORT=port, **{
            'W{}'.format(n): w.url[len('http://'):]
            for n, w in enumerate(workers, start=1)})
        with nginx(conf):
            url = 'http://127.0.0.1:{}'.format(port)
            wait_listening(url)
            sids = run_clients(url)
        tags = {sid.split('-')[0] for sid in sids}
        assert tags == {'w1', 'w2', 'w3'}  # nginx spread the handshakes
        assert_sessions_stayed_home(workers, sids)


def test_affinity_by_client_address():
    addresses = ['127.0.0.{}'.format(10 + i) for i in range(CLIENTS)]
    with backends() as workers:
        port = procservers.free_port()
        conf = render('sticky-ip.conf', PORT=port, **{
            'W{}'.format(n): w.url[len('http://'):]
            for n, w in enumerate(workers, start=1)})
        with nginx(conf):
            url = 'http://127.0.0.1:{}'.format(port)
            wait_listening(url)
            sids = run_clients(url, addresses)
        owners = {}
        for n, worker in enumerate(workers, start=1):
            for sid, in worker.connects.items:
                owners[sid] = n
        assert set(sids) <= set(owners)
        assert len(set(owners[s] for s in sids)) > 1
        assert_sessions_stayed_home(workers, sids)


def test_unknown_session_names_sticky_sessions():
    with backends() as workers:
        first, second = workers[0], workers[1]
        sid = rawclient.handshake(first.url).sid
        resp = rawclient.get(second.url, sid)
        assert resp.status == 400
        assert resp.json() == 'Invalid session ' + sid
        deadline = time.monotonic() + 5
        while 'sticky sessions' not in second.output() and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        assert 'sticky sessions' in second.output()


def wait_listening(url):
    deadline = time.monotonic() + 10
    while True:
        try:
            rawclient.request(url, 'GET', {'EIO': '4', 'transport': 'polling'})
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
