"""The junk flood's client: a separate process, so its work does not share the listener's GIL.

Reads one JSON object on standard input::

    {"host": "127.0.0.1", "port": 8765, "seconds": 5.0, "threads": 4,
     "requests": ["<base64 of a whole raw HTTP request>", ...]}

prints ``ready`` once its threads are about to start, then, when done, one JSON line:
``{"elapsed_s": …, "statuses": {"404": n, …}, "errors": {"ConnectionResetError": n, …}}``.
Each thread sends the requests in turn, one connection each (the listener closes every
connection after its reply), and reads the reply to the end. Loopback only.
"""

from __future__ import annotations

import base64
import json
import socket
import sys
import threading
import time
from collections import Counter
from typing import Any

_READ_TIMEOUT_S = 5.0


def _exchange(host: str, port: int, request: bytes) -> str:
    """Send one request, read the reply until the server closes; its status code."""
    with socket.create_connection((host, port), timeout=_READ_TIMEOUT_S) as sock:
        sock.sendall(request)
        chunks: list[bytes] = []
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    head = b"".join(chunks).split(b"\r\n", 1)[0].split()
    return head[1].decode("ascii", "replace") if len(head) >= 2 else "none"


def _client(
    host: str,
    port: int,
    requests: list[bytes],
    offset: int,
    deadline: float,
    statuses: Counter[str],
    errors: Counter[str],
    lock: threading.Lock,
) -> None:
    mine_status: Counter[str] = Counter()
    mine_errors: Counter[str] = Counter()
    n = offset
    while time.monotonic() < deadline:
        try:
            mine_status[_exchange(host, port, requests[n % len(requests)])] += 1
        except OSError as exc:
            mine_errors[type(exc).__name__] += 1
        n += 1
    with lock:
        statuses.update(mine_status)
        errors.update(mine_errors)


def main() -> int:
    spec: dict[str, Any] = json.loads(sys.stdin.read())
    host = str(spec["host"])
    port = int(spec["port"])
    seconds = float(spec["seconds"])
    threads = max(1, min(int(spec["threads"]), 16))
    requests = [base64.b64decode(r) for r in spec["requests"]]
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    lock = threading.Lock()
    print("ready", flush=True)
    started = time.monotonic()
    deadline = started + seconds
    workers = [
        threading.Thread(
            target=_client,
            args=(host, port, requests, i, deadline, statuses, errors, lock),
            name=f"junk-{i}",
        )
        for i in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    print(json.dumps({"elapsed_s": elapsed, "statuses": statuses, "errors": errors}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
