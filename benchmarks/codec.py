"""Codec micro-benchmark: Engine.IO packet and payload encode/decode.

Runs under any interpreter that can import ``engineio`` (ours or the
reference) and prints one JSON object: operations per second for each
operation, the best of ``--repeat`` timed runs of about ``--time`` seconds.

    python benchmarks/codec.py [--time 0.2] [--repeat 3] [--only NAME,...]
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from typing import Callable, Dict

from engineio import packet, payload

TEXT = 'hello from the bench'
JSON_DATA = {'event': 'chat', 'room': 'lobby', 'id': 1234, 'args': [1, 2.5, True, None, 'hi']}
BINARY = bytes(range(64))
PAYLOAD_PACKETS = 10
TEXT_PAYLOAD = '\x1e'.join(['4' + TEXT] * PAYLOAD_PACKETS)
MIXED_PAYLOAD = '\x1e'.join(
    ['4' + TEXT, '4' + json.dumps(JSON_DATA, separators=(',', ':')), '2', '3',
     'b' + base64.b64encode(BINARY).decode()] * 2)


def operations() -> Dict[str, Callable[[], object]]:
    """Name -> callable doing one operation; new packets each time, so that
    no encoding cache is hit."""
    Packet, Payload, MESSAGE = packet.Packet, payload.Payload, packet.MESSAGE
    encoded_text = '4' + TEXT
    encoded_json = Packet(MESSAGE, JSON_DATA).encode()
    encoded_binary = Packet(MESSAGE, BINARY).encode(b64=True)
    return {
        'packet_encode_text': lambda: Packet(MESSAGE, TEXT).encode(),
        'packet_decode_text': lambda: Packet(encoded_packet=encoded_text),
        'packet_encode_json': lambda: Packet(MESSAGE, JSON_DATA).encode(),
        'packet_decode_json': lambda: Packet(encoded_packet=encoded_json),
        'packet_encode_binary_b64':
            lambda: Packet(MESSAGE, BINARY).encode(b64=True),
        'packet_decode_binary_b64':
            lambda: Packet(encoded_packet=encoded_binary),
        'payload_encode_10_text': lambda: Payload(
            [Packet(MESSAGE, TEXT) for _ in range(PAYLOAD_PACKETS)]).encode(),
        'payload_decode_10_text':
            lambda: Payload(encoded_payload=TEXT_PAYLOAD),
        'payload_decode_10_mixed':
            lambda: Payload(encoded_payload=MIXED_PAYLOAD),
    }


def ops_per_second(operation: Callable[[], object], seconds: float,
                   repeat: int) -> float:
    """Best rate over ``repeat`` runs of about ``seconds`` each."""
    count = 1
    while True:  # calibrate: grow the loop until it lasts 1/10 of a run
        start = time.perf_counter()
        for _ in range(count):
            operation()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds / 10 or count >= 1 << 24:
            break
        count *= 2
    count = max(1, int(count * seconds / max(elapsed, 1e-9)))
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(count):
            operation()
        best = max(best, count / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--time', type=float, default=0.2)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--only', default='')
    args = parser.parse_args()
    selected = operations()
    if args.only:
        selected = {name: selected[name] for name in args.only.split(',')}
    results = {name: ops_per_second(operation, args.time, args.repeat)
               for name, operation in selected.items()}
    json.dump(results, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
