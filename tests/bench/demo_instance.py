"""The demo instance for the process benchmarks, in a process of its own, counting the wire.

Starts :class:`tootbell.demo.DemoServer` (Mastodon's default rate limit: 300 requests per
5 minutes per token) and wraps every accepted connection in a socket that counts the bytes
it receives and sends (HTTP requests and responses as they cross the TCP connection: request
lines, headers and bodies; not TCP/IP overhead). A connection is attributed to a *label*
(``tootbell``, ``naive`` …) by the first ``Authorization: Bearer`` token seen on it; tokens
are made and labelled with the ``token`` command. Response status codes are counted per
label as they are sent.

Protocol: the first line on standard output is ``{"base_url": …, "pid": …}``; then one JSON
command per line on standard input, one JSON answer per line on standard output::

    {"cmd": "token", "label": "tootbell", "user": "demo"} -> {"token": "…"}
    {"cmd": "seed", "count": 200}                 -> {"newest": "…"}  (read: marker moved)
    {"cmd": "backlog", "count": 10000}            -> {"newest": "…", "seconds": …, "listed": n}
    {"cmd": "burst", "count": 500, "seconds": 10} -> {"status_id": "…", "started": t}
    {"cmd": "burst_wait", "timeout": 30}          -> {"done": bool, "added": n, "last": t, …}
    {"cmd": "stats"}                              -> {"labels": {label: {...}}}
    {"cmd": "requests", "since": 0}               -> {"next": n, "items": [{m, p, q, t, label}]}
    {"cmd": "wait_request", "label": "tootbell", "path": "/api/v1/notifications",
     "after": t, "timeout": 30, "min_id": "…"}   -> {"t": t | null, "first": t | null, …}
    {"cmd": "wait_quiet", "label": "tootbell", "quiet": 2, "timeout": 30}
                                                  -> {"quiet": bool, "last": t | null}
    {"cmd": "push", "label": "tootbell"}          -> {"subscribed": bool, "delivered": n, …}
    {"cmd": "newest"}                             -> {"newest": "…", "count": n}
    {"cmd": "quit"}                               -> {"ok": true}

Times are ``time.time()``. Usage: ``python tests/bench/demo_instance.py``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from tootbell.demo import DemoServer, RequestLog
from tootbell.mastodon.entities import id_key

JSON = dict[str, Any]
_SCAN_LIMIT = 16384  # bytes of a connection searched for its token before giving up
_BEARER = b"authorization: bearer "

# The mix a person's notifications have: mostly mentions, favourites, boosts and follows.
_SENDERS = ("ana", "ben", "chloe", "newsbot", "yasmin")
_MENTIONS = (
    "Lunch at noon tomorrow? The place by the station has soup again.",
    "Did you see the new release notes? The changelog is long this time.",
    "Thanks for the review last week, it helped a lot.",
    "Are you coming to the meetup on Thursday? We need one more speaker.",
)


@dataclass
class ConnStats:
    """What one accepted connection carried."""

    label: str = ""
    bytes_in: int = 0
    bytes_out: int = 0
    scanned: bytearray = field(default_factory=bytearray)
    statuses: Counter[str] = field(default_factory=Counter)


class Meter:
    """Per-connection byte counts, attributed to labels by bearer token. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.conns: list[ConnStats] = []
        self.labels: dict[bytes, str] = {}  # token -> label

    def new_conn(self) -> ConnStats:
        stats = ConnStats()
        with self.lock:
            self.conns.append(stats)
        return stats

    def received(self, stats: ConnStats, data: bytes | memoryview) -> None:
        with self.lock:
            stats.bytes_in += len(data)
            if stats.label or len(stats.scanned) >= _SCAN_LIMIT:
                return
            stats.scanned += bytes(data[: _SCAN_LIMIT - len(stats.scanned)])
            low = bytes(stats.scanned).lower()
            at = low.find(_BEARER)
            if at < 0:
                return
            end = low.find(b"\r\n", at)
            if end < 0:
                return
            token = bytes(stats.scanned[at + len(_BEARER) : end]).strip()
            stats.label = self.labels.get(token, "other")
            stats.scanned = bytearray()

    def sent(self, stats: ConnStats, data: bytes | memoryview) -> None:
        with self.lock:
            stats.bytes_out += len(data)
            head = bytes(data[:12])
            if head.startswith(b"HTTP/1."):
                stats.statuses[head[9:12].decode("ascii", "replace")] += 1

    def snapshot(self) -> JSON:
        out: dict[str, JSON] = {}
        with self.lock:
            for c in self.conns:
                entry = out.setdefault(
                    c.label or "anonymous",
                    {"bytes_in": 0, "bytes_out": 0, "connections": 0, "statuses": {}},
                )
                entry["bytes_in"] += c.bytes_in
                entry["bytes_out"] += c.bytes_out
                entry["connections"] += 1
                for code, n in c.statuses.items():
                    entry["statuses"][code] = entry["statuses"].get(code, 0) + n
        return out


class CountingSocket(socket.socket):
    """An accepted connection that reports what it receives and sends to a :class:`Meter`."""

    def __init__(self, accepted: socket.socket, meter: Meter) -> None:
        timeout = accepted.gettimeout()
        super().__init__(accepted.family, accepted.type, accepted.proto, fileno=accepted.detach())
        self.settimeout(timeout)
        self._meter = meter
        self._stats = meter.new_conn()

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data = super().recv(bufsize, flags)
        self._meter.received(self._stats, data)
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        n = super().recv_into(buffer, nbytes, flags)
        if n:
            self._meter.received(self._stats, memoryview(buffer)[:n])
        return n

    def send(self, data: Any, flags: int = 0) -> int:
        n = super().send(data, flags)
        self._meter.sent(self._stats, memoryview(data)[:n])
        return n

    def sendall(self, data: Any, flags: int = 0) -> None:
        super().sendall(data, flags)
        self._meter.sent(self._stats, memoryview(data))


def count_connections(server: DemoServer, meter: Meter) -> None:
    """Make the demo's HTTP server hand every accepted connection over as a CountingSocket."""
    httpd = getattr(server, "_httpd", None)
    if httpd is None or not callable(getattr(httpd, "get_request", None)):
        raise RuntimeError("DemoServer has no _httpd.get_request to count connections with")
    accept: Callable[[], tuple[socket.socket, Any]] = httpd.get_request

    def get_request() -> tuple[socket.socket, Any]:
        conn, address = accept()
        return CountingSocket(conn, meter), address

    httpd.get_request = get_request


class Instance:
    """The demo server, its meter, and the commands the benchmark sends."""

    def __init__(self) -> None:
        self.meter = Meter()
        self.server = DemoServer()
        count_connections(self.server, self.meter)
        self.tokens: dict[str, str] = {}  # label -> token
        self._burst: threading.Thread | None = None
        self._burst_times: list[float] = []

    # -- notifications ---------------------------------------------------------------------

    def _add_mix(self, count: int) -> str:
        """``count`` notifications: mentions, favourites and boosts of a few posts, follows."""
        newest = ""
        srv = self.server
        own: list[str] = []
        for i in range(count):
            kind = i % 4
            sender = _SENDERS[i % len(_SENDERS)]
            if kind == 0:
                note = srv.add_notification(
                    "mention", from_user=sender, status_text=_MENTIONS[i % len(_MENTIONS)]
                )
            elif kind in (1, 2):
                ntype = "favourite" if kind == 1 else "reblog"
                reuse = own[i % len(own)] if len(own) >= 3 else None
                note = srv.add_notification(
                    ntype,
                    from_user=f"fan{i % 97}@fans.example",
                    status_id=reuse,
                    status_text="Hot take: tray icons are underrated.",
                )
                if reuse is None:
                    own.append(str(note["status"]["id"]))
            else:
                note = srv.add_notification("follow", from_user=f"reader{i}@readers.example")
            newest = str(note["id"])
        return newest

    def seed(self, count: int) -> JSON:
        newest = self._add_mix(count)
        if newest:
            self.server.set_marker(newest)
        return {"newest": newest}

    def backlog(self, count: int) -> JSON:
        started = time.monotonic()
        newest = self._add_mix(count)
        listed = len(self.server.notifications_for())
        return {"newest": newest, "seconds": time.monotonic() - started, "listed": listed}

    def burst(self, count: int, seconds: float) -> JSON:
        if self._burst is not None and self._burst.is_alive():
            raise RuntimeError("a burst is already running")
        first = self.server.add_notification(
            "favourite", from_user="fan0@fans.example", status_text="My cat photo, finally."
        )
        status_id = str(first["status"]["id"])
        self._burst_times = [time.time()]
        gap = seconds / max(1, count - 1)

        def run() -> None:
            start = time.monotonic()
            for i in range(1, count):
                delay = start + i * gap - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self.server.add_notification(
                    "favourite", from_user=f"fan{i}@fans.example", status_id=status_id
                )
                self._burst_times.append(time.time())

        self._burst = threading.Thread(target=run, name="bench-burst", daemon=True)
        self._burst.start()
        return {"status_id": status_id, "started": self._burst_times[0]}

    def burst_wait(self, timeout: float) -> JSON:
        if self._burst is not None:
            self._burst.join(timeout)
        times = list(self._burst_times)
        done = self._burst is None or not self._burst.is_alive()
        return {
            "done": done,
            "added": len(times),
            "first": times[0] if times else None,
            "last": times[-1] if times else None,
        }

    # -- what the clients did --------------------------------------------------------------

    def requests(self, since: int) -> JSON:
        logged = self.server.requests[since:]
        items = [
            {"m": r.method, "p": r.path, "q": r.query, "t": r.time, "label": self._label_of(r)}
            for r in logged
        ]
        return {"next": since + len(logged), "items": items}

    def _label_of(self, entry: RequestLog) -> str:
        header = entry.header("Authorization") or ""
        for label, tok in self.tokens.items():
            if header == f"Bearer {tok}":
                return label
        return "anonymous"

    def wait_request(
        self, label: str, path: str, after: float, timeout: float, min_id: str | None
    ) -> JSON:
        """The first request by ``label`` to ``path`` (with ``min_id``) at or after ``after``;
        also the time of the first request of any kind by ``label`` since ``after``."""
        deadline = time.monotonic() + timeout
        first: float | None = None
        first_path: str | None = None
        seen = 0
        while True:
            logged = self.server.requests[seen:]
            seen += len(logged)
            for r in logged:
                if r.time < after or self._label_of(r) != label:
                    continue
                if first is None:
                    first, first_path = r.time, r.path
                if r.path == path and (min_id is None or r.query.get("min_id") == [min_id]):
                    return {"t": r.time, "first": first, "first_path": first_path}
            if time.monotonic() >= deadline:
                return {"t": None, "first": first, "first_path": first_path}
            time.sleep(0.005)

    def wait_quiet(self, label: str, quiet: float, timeout: float) -> JSON:
        """Wait until ``label`` has sent nothing for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            last = max(
                (r.time for r in self.server.requests if self._label_of(r) == label),
                default=None,
            )
            if last is None or time.time() - last >= quiet:
                return {"quiet": True, "last": last}
            if time.monotonic() >= deadline:
                return {"quiet": False, "last": last}
            time.sleep(0.05)

    def push(self, label: str) -> JSON:
        token = self.tokens.get(label)
        sub = self.server.push_subscription(token) if token else None
        pushes = list(self.server.pushes)
        statuses = Counter(str(p.status) for p in pushes)
        delivered = {p.notification_id for p in pushes if p.status is not None and p.status < 300}
        return {
            "subscribed": sub is not None,
            "attempts": len(pushes),
            "delivered": len(delivered),
            "statuses": dict(statuses),
            "last": max((p.time for p in pushes), default=None),
        }

    # -- the command loop ------------------------------------------------------------------

    def handle(self, command: JSON) -> JSON:
        cmd = command.get("cmd")
        if cmd == "token":
            label = str(command["label"])
            token = self.server.create_token(str(command.get("user", "demo")))
            self.tokens[label] = token
            with self.meter.lock:
                self.meter.labels[token.encode("ascii")] = label
            return {"token": token}
        if cmd == "seed":
            return self.seed(int(command["count"]))
        if cmd == "backlog":
            return self.backlog(int(command["count"]))
        if cmd == "burst":
            return self.burst(int(command["count"]), float(command["seconds"]))
        if cmd == "burst_wait":
            return self.burst_wait(float(command.get("timeout", 30.0)))
        if cmd == "stats":
            return {"labels": self.meter.snapshot(), "time": time.time()}
        if cmd == "requests":
            return self.requests(int(command.get("since", 0)))
        if cmd == "push":
            return self.push(str(command["label"]))
        if cmd == "wait_request":
            min_id = command.get("min_id")
            return self.wait_request(
                str(command["label"]),
                str(command["path"]),
                float(command["after"]),
                float(command.get("timeout", 30.0)),
                None if min_id is None else str(min_id),
            )
        if cmd == "wait_quiet":
            return self.wait_quiet(
                str(command["label"]),
                float(command.get("quiet", 2.0)),
                float(command.get("timeout", 30.0)),
            )
        if cmd == "newest":
            notes = self.server.notifications_for()
            ids = [str(n["id"]) for n in notes]
            return {"newest": max(ids, key=id_key) if ids else None, "count": len(ids)}
        raise ValueError(f"unknown command {cmd!r}")


def serve(stdin: TextIO, stdout: TextIO) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    instance = Instance()
    instance.server.start()
    print(json.dumps({"base_url": instance.server.base_url, "pid": os.getpid()}), file=stdout)
    stdout.flush()
    try:
        for line in stdin:
            if not line.strip():
                continue
            command: JSON = json.loads(line)
            if command.get("cmd") == "quit":
                print(json.dumps({"ok": True}), file=stdout, flush=True)
                break
            try:
                answer = instance.handle(command)
            except Exception as exc:
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(answer), file=stdout, flush=True)
    finally:
        instance.server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.stdin, sys.stdout))
