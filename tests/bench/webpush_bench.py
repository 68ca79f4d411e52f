"""Web Push benchmarks: push-to-toast latency against its floor, and junk rejection.

Both drive the real path in this process: ``requests`` POSTs an aes128gcm push signed with
VAPID over loopback to a :class:`PushListener`; its ``on_push`` does what the app does once
the notification is fetched (parse the API JSON, ``Inbox.accept`` + ``finish_batch``) and
hands the toast to :class:`FreedesktopNotifier`, whose thread calls ``Notify`` on the session's
dunst. The network fetch of the notification is replaced by a canned API response.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import secrets
import selectors
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from common import BenchConfig, Row, ms, percentile, ratio
from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import open_dbus_connection
from jeepney.low_level import MessageType
from PySide6.QtCore import QCoreApplication

from tootbell.config import AccountState, Settings
from tootbell.delivery.listener import PATH_PREFIX, PushListener, PushRoute
from tootbell.inbox import Inbox, Toast
from tootbell.mastodon.entities import Notification
from tootbell.mastodon.webpush import (
    PushKeys,
    PushPayload,
    VapidSigner,
    decrypt,
    encrypt,
    generate_keys,
)
from tootbell.ui.toasts import FreedesktopNotifier, app_icon_path

HERE = Path(__file__).resolve().parent
ACCOUNT = "me@example.social"
_FIRST_ID = 113_000_000_000_000_000
_WAIT_S = 5.0  # longest wait for one reply or one toast before the run is declared broken

DEFINITIONS = """\
**Push → toast** (per push): t0 = `time.perf_counter()` in the sender thread just before
`requests.Session.post()` of an already encrypted and signed push (aes128gcm, VAPID
`vapid t=…, k=…`, fresh ephemeral key per push, ~400-byte Mastodon-shaped payload) to
`http://127.0.0.1:<port>/push/<token>`; t1 = `time.perf_counter()` in the notifier's own
thread right after `FreedesktopNotifier._notify()` returns, i.e. after dunst answered `Notify`
(a bench-only subclass wraps `_notify`; the package is unchanged). In between, the real path:
`PushListener` (4 workers, 16 pending) checks path, VAPID and decrypts → `on_push` parses a
canned ~3 KB `GET /api/v1/notifications/:id` response with `Notification.from_json` (the
network fetch is skipped), runs `Inbox.accept` + `finish_batch` → `FreedesktopNotifier.show()`
→ `Notify` over the session bus to dunst. Not included: the app's Qt queued-signal hops between
listener, GUI and account-worker threads, saving the account state, avatar download. One push
at a time: the next is sent after the previous toast's `Notify` was answered.

**Floor** (per message, same run, same dunst): `webpush.decrypt()` of a push made the same
way, `json.loads` of the plaintext, then a bare `Notify` (same app icon, title, body and
actions) on a blocking jeepney connection opened once, waiting for the reply; timed from
before decrypt to the reply. No HTTP.

**Minimal HTTP receiver** (a second floor, same run): the same kind of push POSTed by the same
`requests.Session` to a stdlib `ThreadingHTTPServer` whose handler reads the body, decrypts,
`json.loads` and sends the bare `Notify` above (its own jeepney connection); t0 as for
Tootbell, t1 right after the Notify reply, in the handler. No path, VAPID or token checks.

The three arms take turns message by message (the order rotates every round) after 10
unmeasured warm-up messages each. After every message of any arm, outside the timed span:
dunst's close-all (the `org.dunstproject.cmd0.NotificationCloseAll` call that `dunstctl
close-all` makes, sent with jeepney to spare a fork + exec), a 10 ms pause, Qt events
processed; so each toast lands on an empty dunst (dunst answers `Notify` more slowly the
more toasts it shows). p50/p99 over `--pushes` (default 300) per arm, linear interpolation
between ranks.

**Junk flood**: a separate process (so its Python work does not share the listener's GIL)
runs `--flood-threads` (default 4) client threads for `--flood-seconds` (default 5). Each
opens a connection per request over loopback, sends the whole raw request and reads the
reply to the end, cycling three kinds: wrong path (404), valid path with a VAPID JWT signed
by another key but naming the right key (403 after the ECDSA check), valid path and valid
VAPID with an aes128gcm header followed by random ciphertext (400 after ECDH, HKDF and the
failed GCM tag). Rejected per second = rise of the listener's own rejection counters during
the flood / the client's elapsed time. Meanwhile the bench process sends valid pushes one at
a time (timed and closed as above); "idle" = the same number of valid pushes, the same way,
right after the flood, same run.
"""


class BenchError(RuntimeError):
    """The benchmark could not measure what it claims to (a push lost, an error reply …)."""


class TimedNotifier(FreedesktopNotifier):
    """The real notifier; notes the moment each ``Notify`` call has returned."""

    def __init__(self) -> None:
        super().__init__()
        self.done: queue.SimpleQueue[tuple[tuple[str, ...], float]] = queue.SimpleQueue()

    def _notify(self, toast: Toast, icon_path: str | None, sel: selectors.BaseSelector) -> None:
        super()._notify(toast, icon_path, sel)
        self.done.put((toast.notification_ids, time.perf_counter()))


# ------------------------------------------------------------------------ what a server sends


def _account() -> dict[str, Any]:
    return {
        "id": "109372845237419823",
        "username": "ana",
        "acct": "ana@example.social",
        "display_name": "Ana Example",
        "locked": False,
        "bot": False,
        "discoverable": True,
        "group": False,
        "created_at": "2022-11-15T00:00:00.000Z",
        "note": "<p>Writes about trains, tea and the occasional compiler bug.</p>",
        "url": "https://example.social/@ana",
        "uri": "https://example.social/users/ana",
        "avatar": "https://files.example.social/accounts/avatars/109/372/original/ana.png",
        "avatar_static": "https://files.example.social/accounts/avatars/109/372/original/ana.png",
        "header": "https://files.example.social/accounts/headers/109/372/original/ana.jpg",
        "header_static": "https://files.example.social/accounts/headers/109/372/original/ana.jpg",
        "followers_count": 1234,
        "following_count": 321,
        "statuses_count": 4567,
        "last_status_at": "2026-03-02",
        "emojis": [],
        "fields": [
            {"name": "Web", "value": '<a href="https://ana.example">ana.example</a>'},
        ],
    }


def api_response(nid: str) -> bytes:
    """What ``GET /api/v1/notifications/:id`` answers for a mention (~3 KB, like Mastodon)."""
    account = _account()
    content = (
        '<p><span class="h-card"><a href="https://example.social/@me" class="u-url mention">'
        "@<span>me</span></a></span> Lunch at noon tomorrow? The place by the station has "
        "soup again, and I owe you one for the review last week.</p>"
    )
    status = {
        "id": f"1{nid}",
        "created_at": "2026-03-02T11:59:58.000Z",
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"https://example.social/users/ana/statuses/1{nid}",
        "url": f"https://example.social/@ana/1{nid}",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "edited_at": None,
        "content": content,
        "reblog": None,
        "application": {"name": "Web", "website": None},
        "account": account,
        "media_attachments": [],
        "mentions": [
            {
                "id": "109000000000000001",
                "username": "me",
                "url": "https://example.social/@me",
                "acct": "me",
            }
        ],
        "tags": [],
        "emojis": [],
        "card": None,
        "poll": None,
        "filtered": [],
    }
    return json.dumps(
        {
            "id": nid,
            "type": "mention",
            "created_at": "2026-03-02T12:00:00.000Z",
            "group_key": f"ungrouped-{nid}",
            "account": account,
            "status": status,
        }
    ).encode("utf-8")


@dataclass(frozen=True)
class Push:
    nid: str
    body: bytes
    headers: dict[str, str]
    response: bytes  # the canned API response the app would have fetched


@dataclass(frozen=True)
class Timing:
    t0: float  # just before the POST
    t_listener: float  # on_push called (after VAPID check and decrypt)
    t1: float  # Notify answered

    @property
    def total(self) -> float:
        return self.t1 - self.t0


# ------------------------------------------------------------------------ Tootbell's path


class PushPipeline:
    """A listener with one route, the app's push handling, and a sender (requests)."""

    def __init__(self, notifier: TimedNotifier) -> None:
        self.notifier = notifier
        self.keys: PushKeys = generate_keys()
        self.signer = VapidSigner.generate()
        self.access_token = secrets.token_urlsafe(32)
        self.inbox = Inbox(ACCOUNT, AccountState())
        self.settings = Settings()
        self.listener = PushListener("127.0.0.1", 0, on_push=self._on_push)
        self.session = requests.Session()
        self._lock = threading.Lock()  # the app handles one account's pushes one at a time
        self._responses: dict[str, bytes] = {}
        self._on_push_at: dict[str, float] = {}
        self._next_id = _FIRST_ID
        self.audience = ""
        self.path = ""
        self.url = ""

    def start(self) -> None:
        self.listener.start()
        host, port = self.listener.address
        self.audience = f"http://{host}:{port}"
        route = PushRoute(
            account_key=ACCOUNT,
            path_token=secrets.token_urlsafe(32),
            keys=self.keys,
            server_key=self.signer.public_b64,
            audience=self.audience,
            access_token=self.access_token,
        )
        self.listener.set_routes([route])
        self.path = self.listener.path_for(route)
        self.url = self.audience + self.path

    def stop(self) -> None:
        self.session.close()
        self.listener.stop()

    def _on_push(self, account_key: str, payload: PushPayload) -> None:
        """What the account worker does with a push once the notification is fetched."""
        arrived = time.perf_counter()
        with self._lock:
            self._on_push_at[payload.notification_id] = arrived
            response = self._responses.pop(payload.notification_id)
            n = Notification.from_json(json.loads(response))
            toasts = self.inbox.finish_batch(self.inbox.accept([n], self.settings), self.settings)
        for toast in toasts:
            self.notifier.show(toast, None)

    def make_push(self) -> Push:
        """A push as Mastodon sends it: encrypted for the route's keys, signed with VAPID."""
        self._next_id += 1
        nid = str(self._next_id)
        payload = {
            "access_token": self.access_token,
            "preferred_locale": "en",
            "notification_id": int(nid),
            "notification_type": "mention",
            "icon": _account()["avatar_static"],
            "title": "Ana Example mentioned you",
            "body": "@me Lunch at noon tomorrow? The place by the station has soup again, and "
            "I owe you one for the review last week.",
        }
        body, headers = encrypt(
            json.dumps(payload).encode("utf-8"),
            public_b64=self.keys.public_b64,
            auth_b64=self.keys.auth_b64,
        )
        headers = {
            **headers,
            **self.signer.headers(self.audience, encoding="aes128gcm"),
            "Content-Type": "application/octet-stream",
            "TTL": "172800",
            "Urgency": "normal",
        }
        return Push(nid, body, headers, api_response(nid))

    def send(self, push: Push) -> Timing:
        """POST one push and wait until its toast's Notify call has been answered."""
        self._responses[push.nid] = push.response
        t0 = time.perf_counter()
        reply = self.session.post(self.url, data=push.body, headers=push.headers, timeout=_WAIT_S)
        if reply.status_code != 201:
            raise BenchError(f"push {push.nid} answered {reply.status_code}")
        try:
            ids, t1 = self.notifier.done.get(timeout=_WAIT_S)
        except queue.Empty:
            raise BenchError(f"no Notify answered for push {push.nid}") from None
        if push.nid not in ids:
            raise BenchError(f"Notify for {ids}, expected {push.nid}")
        with self._lock:
            t_listener = self._on_push_at.pop(push.nid)
        return Timing(t0, t_listener, t1)

    def junk_requests(self) -> list[bytes]:
        """Raw requests the listener must reject: wrong path, forged VAPID, garbage body."""
        host, port = self.listener.address
        good = self.make_push()

        def raw(path: str, headers: dict[str, str], body: bytes) -> bytes:
            lines = [
                f"POST {path} HTTP/1.1",
                f"Host: {host}:{port}",
                *(f"{name}: {value}" for name, value in headers.items()),
                f"Content-Length: {len(body)}",
                "Connection: close",
                "",
                "",
            ]
            return "\r\n".join(lines).encode("latin-1") + body

        wrong_path = raw(PATH_PREFIX + secrets.token_urlsafe(32), good.headers, good.body)
        other = VapidSigner.generate()
        forged = {
            **good.headers,
            "Authorization": f"vapid t={other.token(self.audience)}, k={self.signer.public_b64}",
        }
        bad_signature = raw(self.path, forged, good.body)
        header_len = 16 + 4 + 1 + good.body[20]  # salt, record size, key id length, key id
        garbage_body = good.body[:header_len] + os.urandom(len(good.body) - header_len)
        garbage = raw(self.path, good.headers, garbage_body)
        return [wrong_path, bad_signature, garbage]


# ------------------------------------------------------------------------ the floor


class BareNotify:
    """decrypt + json.loads + one Notify on a blocking jeepney connection."""

    def __init__(self) -> None:
        self.conn = open_dbus_connection("SESSION")
        self.address = DBusAddress(
            "/org/freedesktop/Notifications",
            bus_name="org.freedesktop.Notifications",
            interface="org.freedesktop.Notifications",
        )
        self.icon = app_icon_path()

    def close(self) -> None:
        self.conn.close()

    def notify(self, message: dict[str, Any]) -> None:
        """One Notify with the push's title and body, the app icon and the same actions."""
        call = new_method_call(
            self.address,
            "Notify",
            "susssasa{sv}i",
            (
                "Floor",
                0,
                self.icon,
                str(message["title"]),
                str(message["body"]),
                ["default", "Open", "open", "Open", "dismiss", "Dismiss"],
                {"urgency": ("y", 1)},
                -1,
            ),
        )
        reply = self.conn.send_and_get_reply(call, timeout=_WAIT_S)
        if reply.header.message_type is MessageType.error:
            raise BenchError(f"bare Notify failed: {reply.body}")

    def once(self, push: Push, keys: PushKeys) -> tuple[float, float]:
        """(decrypt + parse seconds, Notify round-trip seconds) for one message."""
        t0 = time.perf_counter()
        message = json.loads(decrypt(push.body, push.headers, keys))
        t_mid = time.perf_counter()
        self.notify(message)
        return t_mid - t0, time.perf_counter() - t_mid


class MinimalReceiver:
    """The least an HTTP push receiver does: stdlib ``ThreadingHTTPServer``, read the body,
    decrypt, ``json.loads``, one bare Notify, answer 201. No path, VAPID or token checks."""

    def __init__(self, keys: PushKeys) -> None:
        self.keys = keys
        self.bare = BareNotify()
        self.done: queue.SimpleQueue[tuple[float, float] | str] = queue.SimpleQueue()
        self.session = requests.Session()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self) -> None:
                try:
                    body = self.rfile.read(int(self.headers["Content-Length"]))
                    headers = {name: str(value) for name, value in self.headers.items()}
                    message = json.loads(decrypt(body, headers, receiver.keys))
                    decrypted = time.perf_counter()
                    receiver.bare.notify(message)
                    receiver.done.put((decrypted, time.perf_counter()))
                except Exception as exc:
                    receiver.done.put(f"{type(exc).__name__}: {exc}")
                    self.send_response_only(500)
                else:
                    self.send_response_only(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        host, port = self.server.server_address[:2]
        self.url = f"http://{host!s}:{port}/push/minimal"
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="bench-minimal-receiver", daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.session.close()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        self.bare.close()

    def send(self, push: Push) -> Timing:
        t0 = time.perf_counter()
        reply = self.session.post(self.url, data=push.body, headers=push.headers, timeout=_WAIT_S)
        try:
            got = self.done.get(timeout=_WAIT_S)
        except queue.Empty:
            raise BenchError("the minimal receiver did not answer") from None
        if isinstance(got, str) or reply.status_code != 201:
            raise BenchError(f"the minimal receiver failed: {got}, {reply.status_code}")
        return Timing(t0, got[0], got[1])


# ------------------------------------------------------------------------ helpers


class DunstCloser:
    """Closes every toast with the D-Bus call ``dunstctl close-all`` makes (no fork + exec)."""

    def __init__(self) -> None:
        self.conn = open_dbus_connection("SESSION")
        self.address = DBusAddress(
            "/org/freedesktop/Notifications",
            bus_name="org.freedesktop.Notifications",
            interface="org.dunstproject.cmd0",
        )

    def close_all(self) -> None:
        reply = self.conn.send_and_get_reply(
            new_method_call(self.address, "NotificationCloseAll"), timeout=_WAIT_S
        )
        if reply.header.message_type is MessageType.error:
            raise BenchError(f"dunst close-all failed: {reply.body}")

    def settle(self, gap_s: float) -> None:
        """Close every toast, pause, and run queued Qt events (the notifier's closed signals)."""
        self.close_all()
        time.sleep(gap_s)
        app = QCoreApplication.instance()
        if app is not None:
            app.processEvents()

    def close(self) -> None:
        self.conn.close()


def _check_notifier(notifier: TimedNotifier, expected: int) -> None:
    stats = notifier.stats()
    if stats.failures or stats.notify_calls != expected:
        raise BenchError(
            f"notifier: {stats.notify_calls} Notify answered, {stats.failures} failed, "
            f"{expected} expected"
        )


def _started_notifier() -> TimedNotifier:
    notifier = TimedNotifier()
    if not notifier.capabilities(wait=_WAIT_S):
        notifier.stop()
        raise BenchError("no notification server answered on the session bus")
    return notifier


def _p(values: list[float], q: float) -> float:
    return percentile(values, q)


# ------------------------------------------------------------------------ benchmarks


def bench_push_latency(cfg: BenchConfig) -> list[Row]:
    notifier = _started_notifier()
    pipeline = PushPipeline(notifier)
    pipeline.start()
    bare = BareNotify()
    minimal = MinimalReceiver(pipeline.keys)
    closer = DunstCloser()
    tootbell: list[Timing] = []
    floor: list[tuple[float, float]] = []
    receiver: list[Timing] = []
    arms = ["tootbell", "floor", "receiver"]
    try:
        for i in range(cfg.warmup + cfg.pushes):
            measured = i >= cfg.warmup
            # One message of each arm per round; the order rotates from round to round.
            for arm in arms[i % 3 :] + arms[: i % 3]:
                push = pipeline.make_push()
                if arm == "tootbell":
                    timing = pipeline.send(push)
                    if measured:
                        tootbell.append(timing)
                elif arm == "floor":
                    split = bare.once(push, pipeline.keys)
                    if measured:
                        floor.append(split)
                else:
                    timing = minimal.send(push)
                    if measured:
                        receiver.append(timing)
                closer.settle(cfg.gap_s)
        _check_notifier(notifier, cfg.warmup + cfg.pushes)
        # The notifier keeps the last 256 round trips: all from measured pushes.
        rtts = list(notifier.stats().recent_rtts_s)[-cfg.pushes :]
    finally:
        minimal.close()
        bare.close()
        pipeline.stop()
        notifier.stop()
        closer.settle(cfg.gap_s)
        closer.close()

    total = [t.total for t in tootbell]
    to_listener = [t.t_listener - t.t0 for t in tootbell]
    after_listener = [t.t1 - t.t_listener for t in tootbell]
    floor_total = [a + b for a, b in floor]
    floor_notify = [b for _, b in floor]
    recv_total = [t.total for t in receiver]
    recv_decrypted = [t.t_listener - t.t0 for t in receiver]

    def pair(figure: str, mine: list[float], base: list[float], q: float, notes: str) -> Row:
        return Row(figure, ms(_p(mine, q)), ms(_p(base, q)), ratio(_p(mine, q), _p(base, q)), notes)

    return [
        pair(
            "Push → toast (POST sent → Notify answered), p50",
            total,
            floor_total,
            50,
            f"{len(total)} pushes over loopback, one at a time; notification fetch replaced by "
            "a canned API response; floor = decrypt + json.loads + bare Notify (no HTTP)",
        ),
        pair(
            "Push → toast, p99",
            total,
            floor_total,
            99,
            f"max {ms(max(total))}, floor max {ms(max(floor_total))}",
        ),
        pair(
            "Push → toast vs a minimal HTTP receiver, p50",
            total,
            recv_total,
            50,
            "floor = same POST (requests) to a stdlib ThreadingHTTPServer that decrypts, "
            "json.loads and Notifies; no path/VAPID/token checks",
        ),
        pair(
            "Push → toast vs a minimal HTTP receiver, p99",
            total,
            recv_total,
            99,
            f"minimal receiver max {ms(max(recv_total))}",
        ),
        pair(
            "… POST sent → on_push (HTTP, VAPID, decrypt), p50",
            to_listener,
            recv_decrypted,
            50,
            "floor = minimal receiver, POST sent → decrypted and parsed; "
            f"p99 {ms(_p(to_listener, 99))} vs {ms(_p(recv_decrypted, 99))}",
        ),
        pair(
            "… on_push → Notify answered, p50",
            after_listener,
            floor_notify,
            50,
            "API JSON parse + Inbox + hand-off to the toast thread + Notify; floor = bare "
            f"Notify; p99 {ms(_p(after_listener, 99))} vs {ms(_p(floor_notify, 99))}",
        ),
        pair(
            "… Notify round trip on the notifier's connection, p50",
            rtts,
            floor_notify,
            50,
            f"FreedesktopNotifier.stats().recent_rtts_s (last {len(rtts)}); floor = bare "
            f"Notify; p99 {ms(_p(rtts, 99))} vs {ms(_p(floor_notify, 99))}",
        ),
    ]


def _run_flood(
    pipeline: PushPipeline, closer: DunstCloser, cfg: BenchConfig
) -> tuple[list[Timing], dict[str, Any], Counter[str], int]:
    """Valid pushes while the junk flood runs; (timings, client result, rejections, 503s)."""
    spec = {
        "host": pipeline.listener.address[0],
        "port": pipeline.listener.address[1],
        "seconds": cfg.flood_s,
        "threads": cfg.flood_threads,
        "requests": [base64.b64encode(r).decode("ascii") for r in pipeline.junk_requests()],
    }
    before = pipeline.listener.stats
    child = subprocess.Popen(
        [sys.executable, str(HERE / "junk_flood.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    timings: list[Timing] = []
    try:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(spec))
        child.stdin.close()
        if child.stdout.readline().strip() != "ready":
            raise BenchError("the junk flood did not start")
        end = time.monotonic() + cfg.flood_s
        while time.monotonic() < end and child.poll() is None:
            timings.append(pipeline.send(pipeline.make_push()))
            closer.settle(cfg.gap_s)
        out = child.stdout.read()
        child.wait(timeout=cfg.flood_s + 30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    if child.returncode != 0:
        raise BenchError(f"the junk flood exited with {child.returncode}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    after = pipeline.listener.stats
    rejected: Counter[str] = Counter(after.rejected_by_reason)
    rejected.subtract(before.rejected_by_reason)
    return timings, result, +rejected, after.queue_full - before.queue_full


def bench_junk_flood(cfg: BenchConfig) -> list[Row]:
    notifier = _started_notifier()
    pipeline = PushPipeline(notifier)
    pipeline.start()
    closer = DunstCloser()
    try:
        for _ in range(cfg.warmup):
            pipeline.send(pipeline.make_push())
            closer.settle(cfg.gap_s)
        flood, result, rejected, busy = _run_flood(pipeline, closer, cfg)
        idle: list[Timing] = []
        for _ in range(len(flood)):
            idle.append(pipeline.send(pipeline.make_push()))
            closer.settle(cfg.gap_s)
        _check_notifier(notifier, cfg.warmup + len(flood) + len(idle))
    finally:
        pipeline.stop()
        notifier.stop()
        closer.settle(cfg.gap_s)
        closer.close()

    elapsed = float(result["elapsed_s"])
    total_rejected = sum(rejected.values())
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(result["statuses"].items()))
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(result["errors"].items())) or "none"
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(rejected.items()))
    f_total = [t.total for t in flood]
    i_total = [t.total for t in idle]
    note = (
        f"{len(flood)} valid pushes, one at a time, during the flood, all 201 + toast; floor "
        "column = the same count idle, right after, same run"
    )
    return [
        Row(
            "Junk rejected per second (flood)",
            f"{total_rejected / elapsed:,.0f}/s",
            "—",
            "—",
            f"{total_rejected} in {elapsed:.1f} s, {cfg.flood_threads} client thread(s) in "
            f"another process; by reason: {reasons}; 503 busy: {busy}; "
            f"client saw {statuses}; client errors: {errors}",
        ),
        Row(
            "Valid push → toast during flood, p50",
            ms(_p(f_total, 50)),
            ms(_p(i_total, 50)) + " idle",
            ratio(_p(f_total, 50), _p(i_total, 50)),
            note,
        ),
        Row(
            "Valid push → toast during flood, p99",
            ms(_p(f_total, 99)),
            ms(_p(i_total, 99)) + " idle",
            ratio(_p(f_total, 99), _p(i_total, 99)),
            f"max {ms(max(f_total))} vs idle {ms(max(i_total))}",
        ),
    ]
