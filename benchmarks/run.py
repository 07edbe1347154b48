#!/usr/bin/env python3
"""Run the Engine.IO benchmarks: ours, the reference and the bare transport
side by side, interleaved in short rounds, and write RESULTS.md.

    python benchmarks/run.py [--modes threading,eventlet] \\
        [--scenarios ws_echo,codec] [--duration 2] [--rounds 3]

Ours runs under --python (default: the project's .venv, else this
interpreter); the reference python-engineio 4.15.1 runs in a separate venv
(benchmarks/.venv-ref, created on first use with the server stacks of
requirements.txt); the bare echo servers run under --python too. The load
comes from loadgen.js (Node, ws), whose own ceiling is measured against
echo_node.js. See README.md for what each scenario measures.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SERVERS = os.path.join(HERE, 'servers')
LOADGEN = os.path.join(HERE, 'loadgen.js')
REQUIREMENTS = os.path.join(HERE, 'requirements.txt')
REFERENCE = 'python-engineio==4.15.1'

MODES = ['threading', 'eventlet', 'gevent', 'gevent_uwsgi',
         'asgi', 'aiohttp', 'tornado', 'sanic']
LOAD_SCENARIOS = ['ws_echo', 'poll_echo', 'rtt', 'handshake']
SCENARIOS = LOAD_SCENARIOS + ['memory', 'codec']
VARIANTS = ['ours', 'ref', 'bare']
VARIANT_TITLES = {'ours': 'ours', 'ref': 'reference', 'bare': 'bare'}

START_TIMEOUT = 60.0
BUSY_GENERATOR = 0.85  # share of a core past which the generator may limit
STOP_TIMEOUT = 5.0
SETTLE_SECONDS = 1.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- environment --------------------------------------------------------------

def default_python() -> str:
    project = os.path.join(REPO, '.venv', 'bin', 'python')
    return os.environ.get('BENCH_PYTHON') or (
        project if os.path.exists(project) else sys.executable)


def ensure_node_modules() -> None:
    if not os.path.exists(os.path.join(HERE, 'node_modules', 'ws')):
        log('installing the load generator\'s npm packages (npm ci)')
        subprocess.run(['npm', 'ci', '--no-audit', '--no-fund'], cwd=HERE,
                       check=True, stdout=sys.stderr)


def ensure_ref_venv(path: str, base_python: str) -> str:
    """The reference venv's interpreter, creating or updating the venv when
    requirements.txt changed since it was made."""
    with open(REQUIREMENTS, 'rb') as f:
        wanted = hashlib.sha256(f.read() + REFERENCE.encode()).hexdigest()
    python = os.path.join(path, 'bin', 'python')
    stamp = os.path.join(path, '.bench-installed')
    if os.path.exists(stamp) and open(stamp).read().strip() == wanted:
        return python
    log(f'creating the reference venv {path} ({REFERENCE} and the servers)')
    if not os.path.exists(python):
        subprocess.run([base_python, '-m', 'venv', path], check=True)
    subprocess.run([python, '-m', 'pip', 'install', '--quiet',
                    '--disable-pip-version-check', REFERENCE,
                    '-r', REQUIREMENTS], check=True, stdout=sys.stderr)
    with open(stamp, 'w') as f:
        f.write(wanted + '\n')
    return python


def raise_fd_limit() -> None:
    """Run in children (node) so that thousands of sockets can be open."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def machine_facts(pythons: Dict[str, str]) -> Dict[str, Any]:
    model = ''
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    facts: Dict[str, Any] = {
        'nproc': os.cpu_count(), 'cpu': model,
        'kernel': platform.release(), 'loadavg_start': os.getloadavg(),
        'node': subprocess.run(['node', '--version'], capture_output=True,
                               text=True).stdout.strip(),
    }
    try:
        with open(os.path.join(HERE, 'node_modules', 'ws', 'package.json')) as f:
            facts['ws'] = json.load(f)['version']
    except OSError:
        facts['ws'] = '?'
    probe = ('import sys, json\nfrom importlib import metadata\n'
             'names = [line.split("==")[0] for line in open(sys.argv[1]) '
             'if "==" in line and not line.startswith("#")]\n'
             'versions = {}\n'
             'for name in names + ["python-engineio"]:\n'
             '    try: versions[name] = metadata.version(name)\n'
             '    except Exception: versions[name] = None\n'
             'print(json.dumps({"python": sys.version.split()[0], '
             '"executable": sys.executable, "packages": versions}))\n')
    for variant, python in pythons.items():
        out = subprocess.run([python, '-c', probe, REQUIREMENTS],
                             capture_output=True, text=True, cwd=tempfile.gettempdir())
        facts[variant] = json.loads(out.stdout) if out.returncode == 0 else {
            'error': out.stderr.strip()[-300:]}
    return facts


# -- processes ----------------------------------------------------------------

def process_tree(pid: int) -> List[int]:
    """``pid`` and all its descendants."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants, in KiB."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f'/proc/{member}/status') as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


class ServerProcess:
    """A launcher from servers/ running one application on a loopback port."""

    def __init__(self, python: str, mode: str, app: str, logdir: str,
                 label: str, max_clients: int = 1000):
        self.label = label
        self.logfile = os.path.join(logdir, f'{label}.log')
        self.outfile = os.path.join(logdir, f'{label}.out')
        command = [python, os.path.join(SERVERS, f'serve_{mode}.py'),
                   '--app', app, '--max-clients', str(max_clients)]
        with open(self.outfile, 'w') as out, open(self.logfile, 'a') as err:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                cwd=tempfile.gettempdir(), start_new_session=True)
        self.info = self._wait_announce()
        self.port: int = self.info['port']
        self._wait_ready(app)

    def _wait_announce(self) -> Dict[str, Any]:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with open(self.outfile) as f:
                line = f.readline()
            if line.endswith('\n'):
                return json.loads(line)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f'{self.label} did not start; see {self.logfile}')

    def _wait_ready(self, app: str) -> None:
        """Wait until the application answers an HTTP request."""
        base = f'http://127.0.0.1:{self.port}'
        request = urllib.request.Request(
            base + '/engine.io/?EIO=4&transport=polling') if app == 'eio' \
            else urllib.request.Request(base + '/echo', data=b'ready')
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    response.read()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f'{self.label} does not answer; see {self.logfile}')

    def rss_kib(self) -> int:
        return rss_kib(self.process.pid)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL whatever of its process tree is left."""
        if self.process.poll() is None:
            tree = process_tree(self.process.pid)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            for pid in tree:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log(f'warning: {self.label} (pid {self.process.pid}) '
                    'did not exit')


def check_launcher(python: str, mode: str, app: str) -> Optional[str]:
    """None when the launcher can serve ``app`` under ``python``, else why
    not."""
    if not os.path.exists(python):
        return f'{python} does not exist'
    try:
        out = subprocess.run(
            [python, os.path.join(SERVERS, f'serve_{mode}.py'), '--app', app,
             '--check'], capture_output=True, text=True, timeout=120,
            cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        return 'the --check run timed out'
    lines = out.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        return (out.stderr.strip().splitlines() or ['no output'])[-1]
    return None if result.get('ok') else result.get('reason', 'unknown')


def run_loadgen(port: int, scenario: str, framing: str, args: argparse.Namespace,
                **extra: Any) -> Dict[str, Any]:
    options = {'scenario': scenario, 'port': port, 'framing': framing,
               'duration': args.duration, 'warmup': args.warmup}
    if scenario in ('ws_echo', 'poll_echo'):
        options.update(clients=args.clients, window=args.window)
    if scenario == 'poll_echo':
        options.update(batch=args.poll_batch)
    elif scenario == 'handshake':
        options.update(clients=args.handshake_clients)
    options.update(extra)
    command = ['node', LOADGEN]
    for key, value in options.items():
        command += ['--' + key.replace('_', '-'), str(value)]
    try:
        out = subprocess.run(command, capture_output=True, text=True,
                             timeout=args.warmup + args.duration + 90,
                             preexec_fn=raise_fd_limit)
    except subprocess.TimeoutExpired:
        return {'error': 'load generator timed out'}
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {'error': (out.stderr.strip().splitlines() or ['no output'])[-1]}


# -- scenarios ----------------------------------------------------------------

def metrics_of(scenario: str, result: Dict[str, Any]) -> Dict[str, float]:
    """The figures kept from one load generator run."""
    if 'error' in result:
        return {}
    if scenario == 'rtt':
        metrics = {'p50_us': result['p50_us'], 'p99_us': result['p99_us']}
    else:
        metrics = {'rate': result['rate']}
    if result.get('getsPerMessage') is not None:
        # how many echoes a long poll carries (bare HTTP echo: no GETs)
        metrics['gets_per_message'] = result['getsPerMessage']
    if result.get('errors'):
        metrics['errors'] = result['errors']
    if 'cpu' in result:
        metrics['cpu'] = result['cpu']
    return metrics


def record(store: Dict[str, Any], keys: List[str], metrics: Dict[str, float]) -> None:
    for key in keys:
        store = store.setdefault(key, {})
    for name, value in metrics.items():
        store.setdefault(name, []).append(value)


def framing_of(variant: str) -> str:
    return 'bare' if variant == 'bare' else 'eio'


def measure_generator(args: argparse.Namespace, scenarios: List[str],
                      logdir: str, results: Dict[str, Any]) -> None:
    """The load generator against a trivial Node echo server."""
    with open(os.path.join(logdir, 'echo_node.out'), 'w') as out:
        server = subprocess.Popen(['node', os.path.join(HERE, 'echo_node.js')],
                                  stdout=subprocess.PIPE, stderr=out,
                                  text=True, preexec_fn=raise_fd_limit)
    try:
        port = json.loads(server.stdout.readline())['port']
        for round_index in range(args.generator_rounds):
            for scenario in scenarios:
                for framing in ('eio', 'bare'):
                    result = run_loadgen(port, scenario, framing, args)
                    if 'error' in result:
                        log(f'  generator {scenario}/{framing}: {result["error"]}')
                    record(results, ['generator', framing, scenario],
                           metrics_of(scenario, result))
            log(f'  generator ceiling: round {round_index + 1} done')
    finally:
        server.kill()
        server.wait()


def start_servers(mode: str, variants: Dict[str, str], logdir: str,
                  tag: str, max_clients: int = 1000) -> Dict[str, ServerProcess]:
    servers: Dict[str, ServerProcess] = {}
    try:
        for variant, python in variants.items():
            app = 'bare' if variant == 'bare' else 'eio'
            servers[variant] = ServerProcess(
                python, mode, app, logdir, f'{mode}-{variant}-{tag}',
                max_clients=max_clients)
    except RuntimeError:
        for server in servers.values():
            server.stop()
        raise
    return servers


def measure_load(mode: str, variants: Dict[str, str], scenarios: List[str],
                 args: argparse.Namespace, logdir: str,
                 results: Dict[str, Any]) -> None:
    """Throughput and latency: one server per variant, the variants taking
    turns on every scenario of every round, in a rotating order."""
    servers = start_servers(mode, variants, logdir, 'load')
    try:
        for variant, server in servers.items():
            results.setdefault('servers', {}).setdefault(mode, {})[variant] = \
                server.info
        order = list(servers)
        for round_index in range(args.rounds):
            for scenario in scenarios:
                for variant in order:
                    result = run_loadgen(servers[variant].port, scenario,
                                         framing_of(variant), args)
                    if 'error' in result:
                        log(f'  {mode}/{variant}/{scenario}: {result["error"]}')
                    record(results, ['modes', mode, variant, scenario],
                           metrics_of(scenario, result))
            order = order[1:] + order[:1]
            log(f'  {mode}: round {round_index + 1}/{args.rounds} done')
    finally:
        for server in servers.values():
            server.stop()


def measure_memory(mode: str, variants: Dict[str, str],
                   args: argparse.Namespace, logdir: str,
                   results: Dict[str, Any]) -> None:
    """RSS growth per idle WebSocket connection, each variant on a fresh
    server."""
    counts = [int(n) for n in args.memory_counts.split(',')]
    order = list(variants)
    for round_index in range(args.memory_rounds):
        for variant in order:
            app = 'bare' if variant == 'bare' else 'eio'
            server = ServerProcess(variants[variant], mode, app, logdir,
                                   f'{mode}-{variant}-memory{round_index}',
                                   max_clients=max(counts) + 200)
            try:
                time.sleep(SETTLE_SECONDS)
                base = server.rss_kib()
                figures = memory_steps(server, counts, framing_of(variant))
            finally:
                server.stop()
            for count, (rss, failed) in figures.items():
                metrics = {f'kib_per_conn_{count}': (rss - base) / count}
                if failed:
                    metrics[f'failed_{count}'] = failed
                record(results, ['modes', mode, variant, 'memory'], metrics)
        order = order[1:] + order[:1]
    log(f'  {mode}: memory done')


def memory_steps(server: ServerProcess, counts: List[int],
                 framing: str) -> Dict[int, Any]:
    """Open idle WebSockets up to each count; the server's RSS at each."""
    command = ['node', LOADGEN, '--scenario', 'idle', '--port',
               str(server.port), '--framing', framing,
               '--counts', ','.join(map(str, counts))]
    generator = subprocess.Popen(command, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True,
                                 preexec_fn=raise_fd_limit)
    figures: Dict[int, Any] = {}
    try:
        for count in counts:
            line = generator.stdout.readline()
            if not line:
                break
            status = json.loads(line)
            if 'error' in status:
                log(f'  {server.label}: {status["error"]}')
                break
            time.sleep(SETTLE_SECONDS)
            figures[count] = (server.rss_kib(), count - status['open'])
            generator.stdin.write('next\n')
            generator.stdin.flush()
        generator.wait(60)
    finally:
        if generator.poll() is None:
            generator.kill()
            generator.wait()
    return figures


def measure_codec(variants: Dict[str, str], args: argparse.Namespace,
                  results: Dict[str, Any]) -> None:
    order = [v for v in ('ours', 'ref') if v in variants]
    for _ in range(args.rounds):
        for variant in order:
            out = subprocess.run(
                [variants[variant], os.path.join(HERE, 'codec.py'),
                 '--time', str(args.codec_time),
                 '--repeat', str(args.codec_repeat)],
                capture_output=True, text=True, cwd=tempfile.gettempdir(),
                timeout=600)
            if out.returncode:
                log(f'  codec/{variant}: {out.stderr.strip()[-300:]}')
                continue
            record(results, ['codec', variant], json.loads(out.stdout))
        order.reverse()
    log('  codec done')


# -- report -------------------------------------------------------------------

def median(values: Optional[List[float]]) -> Optional[float]:
    return statistics.median(values) if values else None


def best(values: Optional[List[float]]) -> Optional[float]:
    return max(values) if values else None


def fmt(value: Optional[float], unit: str = '') -> str:
    if value is None:
        return 'n/a'
    if unit == 'KiB':
        return f'{value:.1f}'
    if abs(value) >= 10000:
        return f'{value / 1000:.1f}k'
    if abs(value) >= 100:
        return f'{value:.0f}'
    if abs(value) < 10:
        return f'{value:.2f}'
    return f'{value:.1f}'


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b else None


def fmt_ratio(value: Optional[float]) -> str:
    return 'n/a' if value is None else f'{value:.2f}'


ROWS = [
    # scenario, metric, label, higher is better
    ('ws_echo', 'rate', 'WebSocket echo, {clients} clients (msg/s)', True),
    ('poll_echo', 'rate', 'Polling echo, {clients} clients (msg/s)', True),
    ('poll_echo', 'gets_per_message', 'Polling echo: GET requests per echoed message', False),
    ('rtt', 'p50_us', 'Round trip p50, 1 client (µs)', False),
    ('rtt', 'p99_us', 'Round trip p99, 1 client (µs)', False),
    ('handshake', 'rate', 'Handshakes/s, {handshake_clients} loops', True),
]


def target_note(scenario: str, metric: str, ours: Dict[str, Optional[float]]) -> str:
    """Whether the issue's target for this figure is met (ratio to bare)."""
    goals = {('ws_echo', 'rate'): 0.7, ('poll_echo', 'rate'): 0.8,
             ('handshake', 'rate'): 0.8}
    goal = goals.get((scenario, metric))
    value = ratio(ours['ours'], ours['bare'])
    if goal is None or value is None:
        return ''
    return f'≥ {goal} × bare: ' + ('met' if value >= goal else 'missed')


def mode_table(mode: str, data: Dict[str, Any], args: argparse.Namespace) -> List[str]:
    lines = ['| scenario | ours | reference | bare | ours / bare | ours / ref | target |',
             '|---|---:|---:|---:|---:|---:|---|']
    for scenario, metric, label, _ in ROWS:
        values = {v: median(data.get(v, {}).get(scenario, {}).get(metric))
                  for v in VARIANTS}
        if all(value is None for value in values.values()):
            continue
        errors = sum(sum(data.get(v, {}).get(scenario, {}).get('errors', []))
                     for v in VARIANTS)
        busiest = max((max(data.get(v, {}).get(scenario, {}).get('cpu', [0]))
                       for v in VARIANTS), default=0)
        note = target_note(scenario, metric, values)
        if errors:
            note += f' ({errors} client errors)'
        if busiest > BUSY_GENERATOR and metric != 'p99_us':
            note += f' (generator at {busiest:.2f} core)'
        lines.append('| {} | {} | {} | {} | {} | {} | {} |'.format(
            label.format(**vars(args)), fmt(values['ours']), fmt(values['ref']),
            fmt(values['bare']), fmt_ratio(ratio(values['ours'], values['bare'])),
            fmt_ratio(ratio(values['ours'], values['ref'])), note))
    for count in args.memory_counts.split(','):
        metric = f'kib_per_conn_{count}'
        values = {v: median(data.get(v, {}).get('memory', {}).get(metric))
                  for v in VARIANTS}
        if all(value is None for value in values.values()):
            continue
        failed = sum(sum(data.get(v, {}).get('memory', {}).get(f'failed_{count}', []))
                     for v in VARIANTS)
        note = ''
        if values['ours'] is not None and values['bare'] is not None:
            extra = values['ours'] - values['bare']
            note = f'ours − bare = {extra:+.1f} KiB (≤ +5: ' + (
                'met)' if extra <= 5 else 'missed)')
        if failed:
            note += f' ({failed} connections failed)'
        lines.append('| Memory per idle WebSocket, {} clients (KiB) | {} | {} | {} | {} | {} | {} |'.format(
            count, fmt(values['ours'], 'KiB'), fmt(values['ref'], 'KiB'),
            fmt(values['bare'], 'KiB'),
            fmt_ratio(ratio(values['ours'], values['bare'])),
            fmt_ratio(ratio(values['ours'], values['ref'])), note))
    return lines


CODEC_GOALS = {'payload_decode_10_text': 10, 'payload_decode_10_mixed': 10,
               'packet_encode_text': 2, 'packet_decode_text': 2,
               'packet_encode_json': 2, 'packet_decode_json': 2,
               'packet_encode_binary_b64': 2, 'packet_decode_binary_b64': 2}


def codec_table(codec: Dict[str, Any]) -> List[str]:
    lines = ['| operation | ours (ops/s) | reference (ops/s) | ours / ref | target |',
             '|---|---:|---:|---:|---|']
    names = list(codec.get('ours', {}) or codec.get('ref', {}))
    for name in names:
        # the best round: on a shared machine noise only ever slows a
        # micro-benchmark down, so the fastest figure is the truest
        ours = best(codec.get('ours', {}).get(name))
        ref = best(codec.get('ref', {}).get(name))
        value = ratio(ours, ref)
        goal = CODEC_GOALS.get(name)
        note = '' if goal is None or value is None else (
            f'≥ {goal} × ref: ' + ('met' if value >= goal else 'missed'))
        lines.append(f'| {name} | {fmt(ours)} | {fmt(ref)} | {fmt_ratio(value)} | {note} |')
    return lines


def generator_table(generator: Dict[str, Any], args: argparse.Namespace) -> List[str]:
    lines = ['| scenario | framing | against echo_node.js | generator CPU (cores) '
             '| generator capacity (per CPU second) |', '|---|---|---:|---:|---:|']
    for scenario, metric, label, _ in ROWS:
        for framing in ('eio', 'bare'):
            figures = generator.get(framing, {}).get(scenario, {})
            value, cpu = median(figures.get(metric)), median(figures.get('cpu'))
            if value is None:
                continue
            capacity = fmt(value / cpu) if metric == 'rate' and cpu else ''
            lines.append(f'| {label.format(**vars(args))} | {framing} | {fmt(value)} '
                         f'| {fmt_ratio(cpu)} | {capacity} |')
    return lines


def summary_table(results: Dict[str, Any], modes: List[str]) -> List[str]:
    lines = ['| mode | WS echo ours/bare | polling ours/bare | handshakes ours/bare '
             '| memory ours − bare (KiB, largest count) | WS echo ours/ref |',
             '|---|---:|---:|---:|---:|---:|']
    for mode in modes:
        data = results.get('modes', {}).get(mode)
        if not data:
            continue

        def med(variant: str, scenario: str, metric: str) -> Optional[float]:
            return median(data.get(variant, {}).get(scenario, {}).get(metric))

        memory_keys = sorted(
            (k for k in data.get('ours', {}).get('memory', {})
             if k.startswith('kib_per_conn_')),
            key=lambda k: int(k.rsplit('_', 1)[1]))
        extra = None
        if memory_keys:
            ours_kib = med('ours', 'memory', memory_keys[-1])
            bare_kib = med('bare', 'memory', memory_keys[-1])
            if ours_kib is not None and bare_kib is not None:
                extra = ours_kib - bare_kib
        lines.append('| {} | {} | {} | {} | {} | {} |'.format(
            mode,
            fmt_ratio(ratio(med('ours', 'ws_echo', 'rate'), med('bare', 'ws_echo', 'rate'))),
            fmt_ratio(ratio(med('ours', 'poll_echo', 'rate'), med('bare', 'poll_echo', 'rate'))),
            fmt_ratio(ratio(med('ours', 'handshake', 'rate'), med('bare', 'handshake', 'rate'))),
            'n/a' if extra is None else f'{extra:+.1f}',
            fmt_ratio(ratio(med('ours', 'ws_echo', 'rate'), med('ref', 'ws_echo', 'rate')))))
    return lines


def write_report(path: str, results: Dict[str, Any], args: argparse.Namespace,
                 modes: List[str], command: str) -> None:
    facts = results['facts']
    ours, ref = facts.get('ours', {}), facts.get('ref', {})
    ref_packages = ref.get('packages', {})
    packages = ', '.join(
        f'{name} {version}' + (
            '' if ref_packages.get(name) == version
            else f' (reference: {ref_packages.get(name)})')
        for name, version in sorted(ours.get('packages', {}).items())
        if version and name != 'python-engineio')
    lines = [
        '# Benchmark results', '',
        'Produced by:', '', '```', command, '```', '',
        f'- Date: {results["date"]}; wall time {results["wall_seconds"] / 60:.1f} min.',
        f'- Machine: {facts["nproc"]} CPUs ({facts["cpu"]}), Linux {facts["kernel"]}; '
        f'load average {facts["loadavg_start"][0]:.2f} at the start, '
        f'{facts["loadavg_end"][0]:.2f} at the end.',
        f'- Ours: Python {ours.get("python")} at `{ours.get("executable")}`, '
        f'engineio {ours.get("packages", {}).get("python-engineio")}. '
        f'Reference: Python {ref.get("python")} at `{ref.get("executable")}`, '
        f'python-engineio {ref.get("packages", {}).get("python-engineio")}.',
        f'- Server stacks: {packages}.',
        f'- Load generator: Node {facts["node"]}, ws {facts["ws"]}. '
        f'{args.rounds} interleaved rounds of {args.warmup} s warm-up + '
        f'{args.duration} s per figure, memory over {args.memory_rounds} '
        f'round(s); every figure is the median over the rounds.',
        '',
        'Ratios compare figures of the same run. For rates, higher is better; '
        'for round trips and memory, lower is better. See README.md.', '',
    ]
    if results.get('modes'):
        lines += ['## Summary', ''] + summary_table(results, modes) + ['']
    if results.get('generator'):
        lines += ['## Load generator ceiling', '',
                  'loadgen.js against echo_node.js (a trivial Node echo server) '
                  'on the same machine. Both share the 2 cores, so the rates '
                  'are a floor of what the generator can drive; its capacity '
                  'is the rate divided by the CPU share the generator itself '
                  'used. Server tables flag any figure taken while the '
                  f'generator used more than {BUSY_GENERATOR} of a core.', ''] + generator_table(results['generator'], args) + ['']
    for mode in modes:
        data = results.get('modes', {}).get(mode)
        if not data:
            continue
        lines += [f'## {mode}', ''] + mode_table(mode, data, args) + ['']
    if results.get('codec'):
        lines += ['## Codec', '',
                  'codec.py under each interpreter: packets and payloads built '
                  'from data and encoded, or decoded from their wire form '
                  '(10-packet payloads); each figure is the best of '
                  f'{args.rounds} rounds x {args.codec_repeat} timed runs of '
                  f'{args.codec_time} s (noise only slows a micro-benchmark).', ''] + codec_table(results['codec']) + ['']
    if results.get('skipped'):
        lines += ['## Skipped', ''] + [f'- {item}' for item in results['skipped']] + ['']
    with open(path, 'w') as f:
        f.write('\n'.join(lines))


# -- main ---------------------------------------------------------------------

def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark ours vs python-engineio 4.15.1 vs the bare '
                    'transport, side by side.')
    parser.add_argument('--modes', default=','.join(MODES),
                        help='comma-separated async modes (default: all)')
    parser.add_argument('--scenarios', default=','.join(SCENARIOS),
                        help='comma-separated, among ' + ','.join(SCENARIOS))
    parser.add_argument('--python', default=default_python(),
                        help='interpreter that imports our engineio '
                             '(default: $BENCH_PYTHON, else .venv/bin/python, '
                             'else this one)')
    parser.add_argument('--ref-python', default=None,
                        help='interpreter with python-engineio 4.15.1 '
                             '(default: benchmarks/.venv-ref, created as needed)')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--duration', type=float, default=2.0,
                        help='seconds measured per figure and round')
    parser.add_argument('--warmup', type=float, default=0.5)
    parser.add_argument('--clients', type=int, default=50)
    parser.add_argument('--window', type=int, default=10,
                        help='messages in flight per client in the echo '
                             'scenarios')
    parser.add_argument('--poll-batch', type=int, default=1,
                        help='messages per POST in the polling echo')
    parser.add_argument('--handshake-clients', type=int, default=8,
                        help='concurrent connect/close loops')
    parser.add_argument('--memory-counts', default='1000,5000')
    parser.add_argument('--memory-rounds', type=int, default=1)
    parser.add_argument('--codec-time', type=float, default=0.05,
                        help='seconds per timed codec run')
    parser.add_argument('--codec-repeat', type=int, default=20,
                        help='timed runs per codec operation (the best counts)')
    parser.add_argument('--partial', action='store_true',
                        help='measure the reference and bare servers of a mode '
                             'even when ours cannot run it')
    parser.add_argument('--generator-rounds', type=int, default=1,
                        help='rounds for the load generator\'s ceiling '
                             '(0 skips it)')
    parser.add_argument('--output', default=os.path.join(HERE, 'RESULTS.md'))
    parser.add_argument('--json', default=os.path.join(HERE, 'RESULTS.json'),
                        help='raw per-round figures')
    args = parser.parse_args(argv)
    for name, allowed in (('modes', MODES), ('scenarios', SCENARIOS)):
        chosen = [item for item in getattr(args, name).split(',') if item]
        unknown = set(chosen) - set(allowed)
        if unknown:
            parser.error(f'unknown {name}: {", ".join(sorted(unknown))}')
        setattr(args, name, chosen)
    # Servers run from another directory: keep the paths, not the symlinks
    # (a venv's python must stay the venv's).
    args.python = os.path.abspath(args.python)
    if args.ref_python:
        args.ref_python = os.path.abspath(args.ref_python)
    return args


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    started = time.monotonic()
    command = 'python benchmarks/run.py ' + ' '.join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    ensure_node_modules()
    ref_python = args.ref_python or ensure_ref_venv(
        os.path.join(HERE, '.venv-ref'), args.python)
    pythons = {'ours': args.python, 'ref': ref_python}
    logdir = tempfile.mkdtemp(prefix='engineio-bench-')
    log(f'server logs in {logdir}')
    results: Dict[str, Any] = {
        'date': time.strftime('%Y-%m-%d %H:%M %Z'), 'command': command,
        'facts': machine_facts(pythons), 'skipped': []}
    load_scenarios = [s for s in LOAD_SCENARIOS if s in args.scenarios]
    if load_scenarios and args.generator_rounds:
        log('load generator ceiling')
        measure_generator(args, load_scenarios, logdir, results)
    measured_modes = []
    if load_scenarios or 'memory' in args.scenarios:
        for mode in args.modes:
            variants = {'ours': args.python, 'ref': ref_python, 'bare': args.python}
            reasons = {v: check_launcher(python, mode, 'bare' if v == 'bare' else 'eio')
                       for v, python in variants.items()}
            for variant, reason in reasons.items():
                if reason:
                    note = f'{mode} ({VARIANT_TITLES[variant]}): {reason}'
                    results['skipped'].append(note)
                    log(f'skipping {note}')
            if reasons['ours'] and not args.partial:
                continue
            variants = {v: p for v, p in variants.items() if not reasons[v]}
            if not variants:
                continue
            log(f'mode {mode}: {", ".join(variants)}')
            try:
                if load_scenarios:
                    measure_load(mode, variants, load_scenarios, args, logdir, results)
                if 'memory' in args.scenarios:
                    measure_memory(mode, variants, args, logdir, results)
                measured_modes.append(mode)
            except RuntimeError as exc:
                results['skipped'].append(f'{mode}: {exc}')
                log(f'mode {mode} failed: {exc}')
                if results.get('modes', {}).get(mode):
                    measured_modes.append(mode)
    if 'codec' in args.scenarios:
        log('codec')
        measure_codec(pythons, args, results)
    results['facts']['loadavg_end'] = os.getloadavg()
    results['wall_seconds'] = time.monotonic() - started
    write_report(args.output, results, args, measured_modes, command)
    with open(args.json, 'w') as f:
        json.dump(results, f, indent=1, sort_keys=True)
        f.write('\n')
    with open(args.output) as f:
        print(f.read())
    log(f'wrote {args.output} and {args.json} in '
        f'{results["wall_seconds"] / 60:.1f} min')


if __name__ == '__main__':
    main()
