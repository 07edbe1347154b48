#!/usr/bin/env python3
"""Profile our server under load with py-spy and print its hot spots.

    python benchmarks/hotspots.py --mode threading --scenario ws_echo

Starts our Engine.IO echo server for the mode (as run.py does), drives it with
loadgen.js and samples it with py-spy (from benchmarks/.venv-prof, created on
first use). Prints the functions and lines where the samples fall: self time
(the innermost frame) and total time (anywhere in the stack), as file:line.
The raw collapsed stacks are kept for flame graph tools.
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Tuple

import run

PY_SPY = 'py-spy==0.4.3'
FRAME = re.compile(r'^(?P<function>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$')


def ensure_py_spy(path: str, base_python: str) -> str:
    program = os.path.join(path, 'bin', 'py-spy')
    if not os.path.exists(program):
        run.log(f'installing {PY_SPY} in {path}')
        subprocess.run([base_python, '-m', 'venv', path], check=True)
        subprocess.run([os.path.join(path, 'bin', 'python'), '-m', 'pip',
                        'install', '--quiet', '--disable-pip-version-check',
                        PY_SPY], check=True, stdout=sys.stderr)
    return program


def short(path: str) -> str:
    """A file name relative to the repository or to site-packages."""
    if path.startswith(run.REPO + os.sep):
        return os.path.relpath(path, run.REPO)
    marker = 'site-packages' + os.sep
    if marker in path:
        return path.split(marker, 1)[1]
    return path


def parse_frame(frame: str) -> Tuple[str, str]:
    """('function (file)', 'file:line') of one py-spy frame."""
    match = FRAME.match(frame)
    if not match:
        return frame, frame
    where = short(match['file'])
    return (f'{match["function"]} ({where})',
            f'{where}:{match["line"]}' if match['line'] else where)


def hot_spots(raw: str) -> Dict[str, collections.Counter]:
    """Sample counts by function (self and total) and by line (self)."""
    tables = {name: collections.Counter() for name in
              ('self_function', 'total_function', 'self_line', 'total')}
    for entry in raw.splitlines():
        stack, _, count_text = entry.rpartition(' ')
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [parse_frame(frame) for frame in stack.split(';')]
        # the first frame names the process/thread when py-spy adds one
        frames = [f for f in frames if not f[0].startswith(('process ', 'thread '))]
        if not frames:
            continue
        tables['total']['samples'] += count
        tables['self_function'][frames[-1][0]] += count
        tables['self_line'][f'{frames[-1][1]} {frames[-1][0].split(" (")[0]}'] += count
        for function in {f[0] for f in frames}:
            tables['total_function'][function] += count
    return tables


def print_table(title: str, counter: collections.Counter, total: int,
                top: int) -> None:
    print(f'\n{title}')
    for name, count in counter.most_common(top):
        print(f'{100 * count / total:6.1f}%  {name}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--mode', default='threading', choices=run.MODES)
    parser.add_argument('--scenario', default='ws_echo',
                        choices=['ws_echo', 'poll_echo', 'rtt', 'handshake'])
    parser.add_argument('--python', default=run.default_python())
    parser.add_argument('--app', default='eio', choices=['eio', 'bare'])
    parser.add_argument('--duration', type=float, default=10.0)
    parser.add_argument('--rate', type=int, default=100,
                        help='py-spy samples per second')
    parser.add_argument('--clients', type=int, default=50)
    parser.add_argument('--window', type=int, default=10)
    parser.add_argument('--handshake-clients', type=int, default=8)
    parser.add_argument('--poll-batch', type=int, default=1)
    parser.add_argument('--top', type=int, default=25)
    parser.add_argument('--all-threads', action='store_true',
                        help='sample every running thread, not only the one '
                             'holding the GIL')
    parser.add_argument('--raw', default=None,
                        help='where to keep the collapsed stacks')
    args = parser.parse_args()
    args.python = os.path.abspath(args.python)
    args.warmup = 1.0
    py_spy = ensure_py_spy(os.path.join(run.HERE, '.venv-prof'), args.python)
    run.ensure_node_modules()
    logdir = tempfile.mkdtemp(prefix='engineio-profile-')
    raw_path = args.raw or os.path.join(logdir, 'stacks.txt')
    server = run.ServerProcess(args.python, args.mode, args.app, logdir,
                               f'{args.mode}-profile')
    try:
        load: Dict[str, dict] = {}
        load_args = argparse.Namespace(**{**vars(args), 'duration': args.duration + 1})
        thread = threading.Thread(target=lambda: load.update(result=run.run_loadgen(
            server.port, args.scenario, 'bare' if args.app == 'bare' else 'eio',
            load_args)))
        thread.start()
        time.sleep(args.warmup + 0.5)  # connected and warmed up
        subprocess.run([py_spy, 'record', '--pid', str(server.process.pid),
                        '--subprocesses', '--rate', str(args.rate),
                        '--duration', str(int(args.duration)), '--format', 'raw',
                        '--output', raw_path, '--nonblocking']
                       + ([] if args.all_threads else ['--gil']),
                       check=True, stdout=subprocess.DEVNULL, stderr=sys.stderr)
        thread.join()
    finally:
        server.stop()
    print(f'{args.mode} / {args.app} / {args.scenario}: load generator said '
          f'{load.get("result")}')
    with open(raw_path) as f:
        tables = hot_spots(f.read())
    total = tables['total']['samples'] or 1
    print(f'{total} samples (collapsed stacks in {raw_path})')
    print_table('Self time by function (innermost frame):',
                tables['self_function'], total, args.top)
    print_table('Self time by line:', tables['self_line'], total, args.top)
    print_table('Total time by function (anywhere in the stack):',
                tables['total_function'], total, args.top)


if __name__ == '__main__':
    main()
