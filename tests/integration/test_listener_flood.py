"""The running app's push listener under 100,000 junk requests from other processes.

A TootbellApp with a Web Push account on the demo instance (offscreen, RecordingNotifier) is
flooded over loopback by two client processes (tests/integration/flood_client.py): unknown
paths and methods, missing and bad VAPID (garbage, another key, a forged signature, expired,
another audience), bodies that are garbage, short, oversized or of the wrong encoding, bad
lengths, replays of a real push (exact, with a broken signature, with a flipped body byte),
over-long request lines and headers, requests never finished or abandoned, TLS and random
bytes, plus slow-loris and half-sent connections held open. The process keeps serving, its
RSS after a warm-up grows by less than a few MiB, its thread count stays flat, no junk
becomes a toast, and real pushes sent before, during and after the flood are each toasted
exactly once.
"""

from __future__ import annotations

import base64
import gc
import json
import logging
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from recording_notifier import RecordingNotifier

from tootbell.app import TootbellApp
from tootbell.config import AccountConfig, Paths, Settings, StateStore, load_config, save_config
from tootbell.demo import DemoServer
from tootbell.mastodon.webpush import PushKeys, VapidSigner, encrypt
from tootbell.secrets import SecretStore

CLIENT = Path(__file__).resolve().parent / "flood_client.py"
WARM_UP = 5_000  # junk requests before the baseline is taken
FLOOD = 100_000  # junk requests measured
PROCESSES = 2
THREADS = 2  # connections at a time per process
FLOOD_LIMIT_S = 75.0  # each client gives up after this; the test fails if it had to
# Each real toast changes the badge count, and a newly drawn tray icon costs about 1 MiB (two
# are drawn while measuring); junk itself must cost nothing that stays.
RSS_GROWTH_LIMIT_KIB = 4 * 1024
KIB_PER_MIB = 1024


@dataclass(frozen=True)
class Junk:
    """One kind of junk: the raw bytes, how the client sends them, what may come back."""

    name: str
    data: bytes
    answers: frozenset[str]  # besides "503" (every worker busy), always allowed
    mode: str = "send"


def http_bytes(
    path: str,
    headers: dict[str, str],
    body: bytes,
    *,
    method: str = "POST",
    length: str | None = None,
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def push_bytes(
    path: str,
    keys: PushKeys,
    signer: VapidSigner,
    audience: str,
    payload: dict[str, Any] | bytes,
) -> tuple[dict[str, str], bytes]:
    """A push as the server would send it: encrypted to ``keys``, signed by ``signer``."""
    plain = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    body, headers = encrypt(plain, public_b64=keys.public_b64, auth_b64=keys.auth_b64)
    headers.update(signer.headers(audience, encoding="aes128gcm"))
    headers["TTL"] = "60"
    return headers, body


def junk_kinds(
    path: str, keys: PushKeys, server: VapidSigner, audience: str, token: str, real_id: str
) -> list[Junk]:
    def answer(*codes: int) -> frozenset[str]:
        return frozenset(str(c) for c in codes)

    def payload(nid: str, access_token: str = token) -> dict[str, Any]:
        return {
            "notification_id": nid,
            "notification_type": "mention",
            "access_token": access_token,
            "title": "Junk",
            "body": "junk",
            "icon": "",
            "preferred_locale": "en",
        }

    stranger = VapidSigner.generate()
    valid, body = push_bytes(path, keys, server, audience, payload("9" * 18))
    vapid = {k: v for k, v in valid.items() if k == "Authorization"}
    enc = {"Content-Encoding": "aes128gcm"}
    replay_headers, replay_body = push_bytes(path, keys, server, audience, payload(real_id))
    jwt = replay_headers["Authorization"].split("t=", 1)[1].split(",", 1)[0]
    forged_jwt = jwt[:-4] + ("AAAA" if not jwt.endswith("AAAA") else "BBBB")
    forged = replay_headers["Authorization"].replace(jwt, forged_jwt)
    flipped = bytearray(replay_body)
    flipped[40] ^= 0x01
    foreign_k = stranger.headers(audience, encoding="aes128gcm")["Authorization"]
    foreign_k = foreign_k.split(", k=")[0] + ", k=" + server.public_b64
    expired = server.headers(audience, encoding="aes128gcm", now=time.time() - 2 * 86400)
    noise = random.Random(6).randbytes(300)
    tls_hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + random.Random(7).randbytes(64)
    not_json_headers, not_json = push_bytes(path, keys, server, audience, b"\x00not json")
    stranger_token_headers, stranger_token = push_bytes(
        path, keys, server, audience, payload("8" * 18, access_token="someone-else")
    )
    return [
        # paths and methods
        Junk("root", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", answer(404)),
        Junk("unknown path", http_bytes("/push/" + "A" * 43, valid, body), answer(404)),
        Junk("empty token", http_bytes("/push/", valid, body), answer(404)),
        Junk("GET the real path", http_bytes(path, {}, b"", method="GET"), answer(405)),
        Junk("BREW the real path", http_bytes(path, {}, b"", method="BREW"), answer(405)),
        # VAPID
        Junk("no VAPID", http_bytes(path, enc, body), answer(401)),
        Junk(
            "garbage VAPID",
            http_bytes(path, {**enc, "Authorization": "vapid t=abc.def.ghi, k=xyz"}, body),
            answer(403),
        ),
        Junk(
            "a stranger's VAPID",
            http_bytes(path, {**enc, **stranger.headers(audience, encoding="aes128gcm")}, body),
            answer(403),
        ),
        Junk(
            "a stranger's JWT with the server's key",
            http_bytes(path, {**enc, "Authorization": foreign_k}, body),
            answer(403),
        ),
        Junk("expired VAPID", http_bytes(path, {**enc, **expired}, body), answer(403)),
        Junk(
            "another audience",
            http_bytes(
                path,
                {**enc, **server.headers("https://elsewhere.example", encoding="aes128gcm")},
                body,
            ),
            answer(403),
        ),
        # bodies and lengths, with valid VAPID
        Junk("garbage body", http_bytes(path, {**enc, **vapid}, noise[:200]), answer(400)),
        Junk("gzip", http_bytes(path, {**valid, "Content-Encoding": "gzip"}, body), answer(415)),
        Junk(
            "no length",
            http_bytes(path, valid, body).replace(f"Content-Length: {len(body)}\r\n".encode(), b""),
            answer(411),
        ),
        Junk(
            "chunked",
            http_bytes(path, {**valid, "Transfer-Encoding": "chunked"}, b"0\r\n\r\n"),
            answer(411),
        ),
        Junk("bad length", http_bytes(path, valid, body, length="12abc"), answer(400)),
        Junk("short body", http_bytes(path, valid, body[:50], length=str(len(body))), answer(400)),
        Junk("not JSON inside", http_bytes(path, not_json_headers, not_json), answer(400)),
        Junk(
            "someone else's token inside",
            http_bytes(path, stranger_token_headers, stranger_token),
            answer(403),
        ),
        # oversized
        Junk(
            "huge length",
            http_bytes(path, valid, noise * 7, length="99999999"),
            answer(413),
        ),
        Junk("body over the limit", http_bytes(path, valid, b"z" * 5000), answer(413)),
        Junk(
            "headers over the limit",
            http_bytes(path, {**valid, **{f"X-Pad-{i}": "p" * 120 for i in range(110)}}, body),
            answer(431),
        ),
        # replays of a real push
        Junk("exact replay", http_bytes(path, replay_headers, replay_body), answer(201)),
        Junk(
            "replay with a forged signature",
            http_bytes(path, {**replay_headers, "Authorization": forged}, replay_body),
            answer(403),
        ),
        Junk(
            "replay with a flipped byte",
            http_bytes(path, replay_headers, bytes(flipped)),
            answer(400),
        ),
        # request lines
        Junk("over-long request line", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", answer(414)),
        Junk(
            "over-long query on the real path",
            http_bytes(path + "?" + "q" * 9000, valid, body),
            answer(414),
        ),
        Junk("unknown version", b"GET / HTTP/9.9\r\n\r\n", answer(505)),
        Junk("blank request line", b"\r\n", answer(400)),
        # never finished
        Junk("half a request line", ("POST " + path[:10]).encode(), answer(400)),
        Junk(
            "headers never ended",
            http_bytes(path, valid, b"").removesuffix(b"\r\n"),
            answer(400),
        ),
        Junk(
            "abandoned",
            f"POST {path} HTTP/1.1\r\nContent-Length: 100\r\n".encode(),
            frozenset({"abandoned"}),
            mode="abandon",
        ),
        Junk("nothing sent", b"", frozenset({"none"})),
        # not HTTP at all
        Junk("TLS", tls_hello, answer(400)),
        Junk("random bytes", noise, answer(400)),
    ]


def proc_status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


class Sampler:
    """The highest thread count and RSS of this process while it runs, every 50 ms."""

    def __init__(self) -> None:
        self.max_threads = 0
        self.max_rss_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flood-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.max_threads = max(self.max_threads, proc_status("Threads"))
            self.max_rss_kib = max(self.max_rss_kib, proc_status("VmRSS"))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


class Complaints(logging.Handler):
    """Keeps the app's log records at WARNING and above (tracebacks included)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < 100:
            self.records.append(record)


@pytest.fixture
def complaints() -> Iterator[Complaints]:
    handler = Complaints()
    logger = logging.getLogger("tootbell")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def start_clients(
    port: int, kinds: list[Junk], count: int, *, slow: bool
) -> list[subprocess.Popen[str]]:
    requests = [{"data": base64.b64encode(k.data).decode("ascii"), "mode": k.mode} for k in kinds]
    clients = []
    for n in range(PROCESSES):
        spec = {
            "host": "127.0.0.1",
            "port": port,
            "count": count // PROCESSES,
            "threads": THREADS,
            "seconds": FLOOD_LIMIT_S,
            "slow": slow and n == 0,
            "requests": requests[n:] + requests[:n],  # the two do not move in step
        }
        clients.append(start_client(spec))
    return clients


def start_client(spec: dict[str, Any]) -> subprocess.Popen[str]:
    client = subprocess.Popen(
        [sys.executable, str(CLIENT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert client.stdin is not None
    client.stdin.write(json.dumps(spec))
    client.stdin.close()
    return client


def results_of(
    qtbot: QtBot, clients: list[subprocess.Popen[str]], timeout_s: float
) -> list[dict[str, Any]]:
    """Wait (spinning Qt's loop) for the clients to finish; what each printed."""
    texts: list[str] = []
    try:
        qtbot.waitUntil(
            lambda: all(c.poll() is not None for c in clients), timeout=int(timeout_s * 1000)
        )
        texts = [c.stdout.read() if c.stdout is not None else "" for c in clients]
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
                c.wait(10)
            if c.stdout is not None:
                c.stdout.close()
    assert [c.returncode for c in clients] == [0] * len(clients)
    return [json.loads(t) for t in texts]


def test_a_junk_flood_leaves_the_app_serving_and_pushes_toasted_once(
    qapp: QApplication,
    qtbot: QtBot,
    server: DemoServer,
    home: Paths,
    secrets: SecretStore,
    complaints: Complaints,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    audience = f"http://127.0.0.1:{port}"
    acc = AccountConfig(
        key=f"demo@{server.base_url.split('//', 1)[1]}",
        base_url=server.base_url,
        delivery="push",
        push_public_url=audience,
    )
    token = server.create_token("demo")
    secrets.set_token(acc.key, token)
    settings = Settings(poll_interval_s=3600, push_listen=f"127.0.0.1:{port}", push_catchup_s=3600)
    save_config(home, replace(load_config(home), settings=settings, accounts=(acc,)))
    notifier = RecordingNotifier()
    app = TootbellApp(qapp, paths=home, secrets=secrets, notifier=notifier, use_tray=False)
    app.start()
    clients: list[subprocess.Popen[str]] = []
    try:
        qtbot.waitUntil(
            lambda: acc.key in app.statuses and app.statuses[acc.key].text.endswith("push"),
            timeout=15_000,
        )
        listener = app.listener
        assert listener is not None

        def toasted(nid: str) -> bool:
            return nid in notifier.ids()

        before = server.add_notification("mention", status_text="Before the flood")
        qtbot.waitUntil(lambda: toasted(before["id"]), timeout=10_000)

        stored = json.loads(secrets.get_push_key(acc.key) or "{}")
        keys = PushKeys(stored["private"], stored["public"], stored["auth"])
        path = "/push/" + StateStore(home).load(acc.key).push_path_token
        kinds = junk_kinds(path, keys, server.vapid, audience, token, before["id"])

        def answered() -> int:
            st = listener.stats
            return sum(st.rejected_by_reason.values()) + st.queue_full + st.replayed

        def listener_threads() -> list[str]:
            return sorted(t.name for t in threading.enumerate() if t.name.startswith("push-"))

        # Warm-up: the same junk, so buffers and caches reach their working size first.
        clients = start_clients(port, kinds, WARM_UP, slow=False)
        results_of(qtbot, clients, FLOOD_LIMIT_S)
        gc.collect()
        sampler = Sampler()
        threads_before = proc_status("Threads")
        serving = listener_threads()
        rss_before = proc_status("VmRSS")
        answered_before = answered()
        replayed_before = listener.stats.replayed

        started = time.monotonic()
        clients = start_clients(port, kinds, FLOOD, slow=True)
        qtbot.waitUntil(lambda: answered() - answered_before >= FLOOD // 3, timeout=60_000)
        during = server.add_notification("mention", status_text="During the flood")
        qtbot.waitUntil(lambda: toasted(during["id"]), timeout=15_000)
        assert all(c.poll() is None for c in clients)  # it really was during the flood
        results = results_of(qtbot, clients, FLOOD_LIMIT_S + 15)
        flood_s = time.monotonic() - started

        after = server.add_notification("mention", status_text="After the flood")
        qtbot.waitUntil(lambda: toasted(after["id"]), timeout=10_000)
        qtbot.wait(500)  # time for a second toast of anything, were there one
        gc.collect()
        rss_after = proc_status("VmRSS")
        threads_after = proc_status("Threads")
        sampler.stop()

        sent = sum(r["sent"] for r in results)
        by_kind: dict[str, Counter[str]] = {k.name: Counter() for k in kinds}
        for n, r in enumerate(results):
            for index, counts in r["statuses"].items():
                by_kind[kinds[(int(index) + n) % len(kinds)].name].update(counts)
        slow: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        for r in results:
            slow.update(r["slow"])
            errors.update(r["errors"])
        busy = sum(c["503"] for c in by_kind.values())
        stats = listener.stats
        print(
            f"\nflood: {sent} junk requests in {flood_s:.1f} s ({sent / flood_s:.0f}/s), "
            f"503s {busy}, slow {dict(slow)}, client errors {dict(errors)}; "
            f"RSS {rss_before / KIB_PER_MIB:.1f} -> {rss_after / KIB_PER_MIB:.1f} MiB "
            f"(peak {sampler.max_rss_kib / KIB_PER_MIB:.1f}), threads {threads_before} -> "
            f"{threads_after} (peak {sampler.max_threads}); "
            f"listener {dict(sorted(stats.rejected_by_reason.items()))}"
        )

        # Every junk request was sent and got the answer its kind deserves.
        assert sent == FLOOD
        assert errors == Counter()
        for kind in kinds:
            got = by_kind[kind.name]
            assert set(got) <= kind.answers | {"503"}, (kind.name, dict(got))
            assert sum(got[a] for a in kind.answers) > 0, (kind.name, dict(got))
        assert busy < FLOOD // 20  # the handlers did the work, not the busy answer
        assert set(slow) <= {"408", "503"} and slow["408"] >= 2, dict(slow)
        # Nothing above debug in the app's log: no traceback, no warning per junk request.
        assert [r.getMessage() for r in complaints.records] == []

        # No junk became a toast; every real push was toasted once, in order. Replays of a
        # delivered push were answered 201 (so a server would not retry) and dropped.
        assert notifier.ids() == [before["id"], during["id"], after["id"]]
        assert stats.accepted == 3
        assert stats.replayed - replayed_before == by_kind["exact replay"]["201"] > 0
        # Still serving, with the same threads, in bounded memory.
        assert listener.running and app.listener is listener
        assert (
            listener_threads()
            == serving
            == ["push-listener"]
            + [f"push-listener-worker-{n}" for n in range(listener.max_workers)]
        )
        assert threads_after == threads_before
        assert sampler.max_threads <= threads_before + 2  # the demo's short request threads
        assert rss_after - rss_before < RSS_GROWTH_LIMIT_KIB
    finally:
        for c in clients:  # after a failure: stop the flood before the listener goes
            if c.poll() is None:
                c.kill()
                c.wait(10)
            if c.stdout is not None:
                c.stdout.close()
        app.shutdown()


def test_junk_kinds_are_answered_as_listed(qtbot: QtBot, server: DemoServer) -> None:
    """Each kind of junk, sent once on its own to an idle listener, gets exactly the answer
    listed for it, so the flood's per-kind check means what it says."""
    from tootbell.delivery.listener import PushListener, PushRoute
    from tootbell.mastodon.webpush import generate_keys

    keys = generate_keys()
    route = PushRoute(
        account_key="demo@127.0.0.1",
        path_token=base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode(),
        keys=keys,
        server_key=server.vapid.public_b64,
        audience="http://127.0.0.1:1",
        access_token="the-token",
    )
    calls: list[object] = []
    listener = PushListener(on_push=lambda *args: calls.append(args), read_timeout=2.0)
    listener.set_routes([route])
    listener.start()
    try:
        path = listener.path_for(route)
        kinds = junk_kinds(path, keys, server.vapid, route.audience, "the-token", "1")
        spec = {
            "host": "127.0.0.1",
            "port": listener.address[1],
            "count": len(kinds),
            "threads": 1,
            "seconds": 30,
            "slow": False,
            "requests": [
                {"data": base64.b64encode(k.data).decode("ascii"), "mode": k.mode} for k in kinds
            ],
        }
        [result] = results_of(qtbot, [start_client(spec)], 30)
    finally:
        listener.stop()
    got = {k.name: result["statuses"][str(i)] for i, k in enumerate(kinds)}
    assert {name: set(g) for name, g in got.items()} == {k.name: set(k.answers) for k in kinds}
    assert len(calls) == 1  # the "exact replay" was new here: delivered once
