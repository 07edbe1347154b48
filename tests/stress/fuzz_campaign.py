"""A long fuzz campaign over the protocol cores and the codecs.

Runs the drivers of tests/unit/test_fuzz_session.py and test_fuzz_client.py
on random inputs (a server session: up to 40 client events, application
calls and clock ticks; a client connection: a handshake answer, then up to 40
server packets, application calls and ticks), and feeds random text and
bytes to the packet and payload decoders, which must either succeed or raise ValueError. Work is
split in chunks with their own seeds, so a failure names the chunk seed and
input number that reproduce it.

    python tests/stress/fuzz_campaign.py --sessions 1000000 \\
        --connections 1000000 --codec 1000000 --workers 2
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import time
import traceback
from typing import Any, Dict, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

from engineio.packet import Packet  # noqa: E402
from engineio.payload import Payload  # noqa: E402
from tests.unit import test_fuzz_client, test_fuzz_session  # noqa: E402

CHUNK = 20000
ALPHABET = '0123456789b\x1e{}[]":,.-+eEtrufalsn \\d=%' + 'aZ\u00e9\u2028\ud800'


def random_text(rng: random.Random) -> str:
    return ''.join(rng.choice(ALPHABET) for _ in range(rng.randrange(24)))


def decode_anything(rng: random.Random) -> int:
    """Random input to both decoders: success or ValueError, nothing else."""
    data: Any = random_text(rng)
    if rng.random() < 0.3:
        data = data.encode('utf-8', 'surrogatepass')
    for decode in (lambda d: Packet(encoded_packet=d), lambda d: Payload(encoded_payload=d)):
        try:
            decode(data)
        except ValueError:
            pass
    return 2


RUNNERS = {
    'sessions': test_fuzz_session.run_random,
    'connections': test_fuzz_client.run_random,
    'codec': decode_anything,
}


def run_chunk(job: Tuple[str, int, int]) -> Dict[str, Any]:
    kind, seed, count = job
    runner = RUNNERS[kind]
    steps = 0
    for index in range(count):
        rng = random.Random('{}-{}-{}'.format(kind, seed, index))
        try:
            steps += runner(rng)
        except Exception:
            return {'kind': kind, 'count': index, 'steps': steps, 'failure': (
                'seed {} input {}: {}'.format(seed, index, traceback.format_exc()))}
    return {'kind': kind, 'count': count, 'steps': steps, 'failure': None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    for kind in RUNNERS:
        parser.add_argument('--' + kind, type=int, default=100000)
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    jobs = []
    for kind in RUNNERS:
        total = getattr(args, kind)
        for chunk, start in enumerate(range(0, total, CHUNK)):
            jobs.append((kind, args.seed * 100000 + chunk, min(CHUNK, total - start)))
    started = time.monotonic()
    done = {kind: 0 for kind in RUNNERS}
    steps = {kind: 0 for kind in RUNNERS}
    failures = []
    with multiprocessing.Pool(args.workers) as pool:
        for result in pool.imap_unordered(run_chunk, jobs):
            done[result['kind']] += result['count']
            steps[result['kind']] += result['steps']
            if result['failure']:
                failures.append(result['failure'])
    elapsed = time.monotonic() - started
    for kind, count in done.items():
        print('{:12} {:>10,} inputs ({:,} {})'.format(
            kind, count, steps[kind], 'decodes' if kind == 'codec' else 'events'))
    print('{:12} {:>10,} inputs in {:.0f} s, {} failure(s)'.format(
        'total', sum(done.values()), elapsed, len(failures)))
    for failure in failures:
        print(failure)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
