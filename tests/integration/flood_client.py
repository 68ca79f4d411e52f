"""A junk flood's client, run as its own process so its work does not share the listener's GIL.

Reads one JSON object on standard input::

    {"host": "127.0.0.1", "port": 8765, "count": 50000, "threads": 2, "seconds": 60,
     "slow": true, "requests": [{"data": "<base64 of raw bytes>", "mode": "send"}, ...]}

Loopback only. The ``threads`` send ``count`` requests in all, taking the ``requests`` in
turn, one connection each, and stop early when ``seconds`` have passed. Modes: ``send`` sends
the bytes, half-closes and reads the answer to the end; ``abandon`` sends them and closes at
once without reading (a client that gives up mid-request). With ``slow`` one more thread,
while the others run, holds one connection at a time open: alternately it trickles a request
one byte every 50 ms (slow-loris) and sends half a request and waits (never finished); those
are not part of ``count``.

Prints one JSON line when done: ``{"sent": n, "elapsed_s": s, "statuses": {"<index>":
{"404": k, ...}}, "slow": {"408": k, ...}, "errors": {"ConnectionResetError": k}}``, where a
status is the code of the answer's status line, ``"none"`` when the connection closed with no
status line, and ``"abandoned"`` for requests given up on purpose.
"""

from __future__ import annotations

import base64
import itertools
import json
import socket
import sys
import threading
import time
from collections import Counter
from typing import Any

READ_TIMEOUT_S = 10.0  # longer than the listener's own read timeout: it answers first
TRICKLE_INTERVAL_S = 0.05
SLOW_REQUEST = b"POST /push/slow HTTP/1.1\r\nHost: relay.example\r\n" + b"X-Pad: y\r\n" * 200


def status_of(answer: bytes) -> str:
    head = answer.split(b"\r\n", 1)[0].split(b" ", 2)
    if len(head) >= 2 and head[0].startswith(b"HTTP/") and head[1].isdigit():
        return head[1].decode("ascii")
    return "none"


def read_answer(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def exchange(host: str, port: int, data: bytes, mode: str) -> str:
    with socket.create_connection((host, port), timeout=READ_TIMEOUT_S) as sock:
        if mode == "abandon":
            sock.sendall(data)
            return "abandoned"
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # answered and closed before everything was sent: read the answer
            pass
        return status_of(read_answer(sock))


def slow_exchange(host: str, port: int, trickle: bool) -> str:
    """One slow connection: trickled a byte at a time, or half a request and then silence."""
    with socket.create_connection((host, port), timeout=READ_TIMEOUT_S) as sock:
        if not trickle:
            sock.sendall(SLOW_REQUEST[:40])
            return status_of(read_answer(sock))
        answer = b""
        give_up = time.monotonic() + READ_TIMEOUT_S
        for octet in SLOW_REQUEST:
            if time.monotonic() > give_up:
                break
            try:
                sock.sendall(bytes([octet]))
            except OSError:  # cut off
                break
            sock.settimeout(TRICKLE_INTERVAL_S)
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            break  # the answer, or the close
        sock.settimeout(READ_TIMEOUT_S)
        return status_of(answer + read_answer(sock))


class Flood:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.host = str(spec["host"])
        self.port = int(spec["port"])
        self.count = int(spec["count"])
        self.deadline = time.monotonic() + float(spec["seconds"])
        self.requests = [(base64.b64decode(r["data"]), str(r["mode"])) for r in spec["requests"]]
        self.numbers = itertools.count()
        self.lock = threading.Lock()
        self.statuses: dict[int, Counter[str]] = {i: Counter() for i in range(len(self.requests))}
        self.slow: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.sent = 0
        self.done = threading.Event()

    def fast(self) -> None:
        mine: dict[int, Counter[str]] = {i: Counter() for i in range(len(self.requests))}
        errors: Counter[str] = Counter()
        sent = 0
        while time.monotonic() < self.deadline:
            n = next(self.numbers)
            if n >= self.count:
                break
            index = n % len(self.requests)
            data, mode = self.requests[index]
            try:
                mine[index][exchange(self.host, self.port, data, mode)] += 1
            except OSError as exc:
                errors[type(exc).__name__] += 1
            sent += 1
        with self.lock:
            for index, counter in mine.items():
                self.statuses[index].update(counter)
            self.errors.update(errors)
            self.sent += sent

    def slow_loop(self) -> None:
        trickle = True
        while not self.done.is_set() and time.monotonic() < self.deadline:
            try:
                self.slow[slow_exchange(self.host, self.port, trickle)] += 1
            except OSError as exc:
                with self.lock:
                    self.errors[type(exc).__name__] += 1
            trickle = not trickle


def main() -> int:
    spec: dict[str, Any] = json.loads(sys.stdin.read())
    if spec["host"] not in ("127.0.0.1", "::1", "localhost"):
        raise SystemExit("the flood client only talks to loopback")
    flood = Flood(spec)
    started = time.monotonic()
    workers = [
        threading.Thread(target=flood.fast, name=f"junk-{i}")
        for i in range(max(1, min(int(spec["threads"]), 8)))
    ]
    slow = threading.Thread(target=flood.slow_loop, name="junk-slow")
    if spec.get("slow"):
        slow.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    flood.done.set()
    if slow.is_alive():
        slow.join()
    result = {
        "sent": flood.sent,
        "elapsed_s": time.monotonic() - started,
        "statuses": {str(i): dict(c) for i, c in flood.statuses.items()},
        "slow": dict(flood.slow),
        "errors": dict(flood.errors),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
