"""Web Push from the demo instance: which subscriptions a new notification goes to, the
payload Mastodon would send, and the sender thread that encrypts and POSTs it.

The sender follows Mastodon's ``Web::PushNotificationWorker``: a 4xx answer other than 408
or 429 deletes the subscription, any other failure is retried a few times. Unlike Mastodon
it delivers to loopback and private addresses: the demo runs next to its listener.
"""

from __future__ import annotations

import heapq
import html
import itertools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from tootbell.demo.world import DemoWorld, NoteRecord, Pose, PushSubscriptionRecord
from tootbell.mastodon.webpush import VapidSigner, encrypt, endpoint_origin, merge_headers

logger = logging.getLogger(__name__)

JSON = dict[str, Any]

SENDER_THREAD = "demo-push-sender"
PUSH_RETRIES = 5  # Sidekiq's retry count for the push worker
PUSH_RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0, 2.0, 2.0)  # capped: demo and tests
PUSH_TTL = 172800
PUSH_MAX_AGE_S = 48 * 3600  # 4.4+ skips notifications older than this
BODY_LIMIT = 140

# Mastodon's notification_mailer subjects (English), by notification type.
_TITLES: dict[str, str] = {
    "mention": "{name} mentioned you",
    "status": "{name} just posted",
    "reblog": "{name} boosted your post",
    "follow": "{name} is now following you",
    "follow_request": "Pending follower: {name}",
    "favourite": "{name} favorited your post",
    "poll": "A poll by {name} has ended",
    "update": "{name} edited a post",
    "quote": "{name} quoted your post",
    "quoted_update": "{name} edited a post you have quoted",
    "admin.sign_up": "{name} signed up",
    "admin.report": "{name} submitted a report",
    "severed_relationships": "Some of your connections were severed",
    "moderation_warning": "Your account has received a moderation warning",
}
_DEFAULT_TITLE = "New notification from {name}"


@dataclass(frozen=True)
class PushDelivery:
    """One delivery attempt the demo made (retries are attempts of their own)."""

    endpoint: str
    status: int | None  # the endpoint's HTTP status; None: connection error or timeout
    time: float  # time.time() when the attempt ended
    notification_id: str
    encoding: str  # "aes128gcm" or "aesgcm"
    attempt: int = 1  # 1 for the first try, 2.. for retries


@dataclass(frozen=True)
class _Job:
    subscription_id: int
    notification_id: str
    encoding: str
    payload: bytes
    urgency: bool  # Mastodon sends Urgency: normal; GoToSocial sends none
    attempt: int = 1


@dataclass(order=True)
class _Scheduled:
    due: float
    seq: int
    job: _Job = field(compare=False)


# --------------------------------------------------------------------------- rules


def pushable(record: NoteRecord, sub: PushSubscriptionRecord, pose: Pose, now: float) -> bool:
    """Whether ``sub`` receives ``record``: its alert is on, the policy lets the sender
    through, and the server would push it at all."""
    if record.policy_filtered:
        return False  # policy-filtered notifications are never pushed
    if record.hidden_by_filter and pose.hides_filtered_server_side:
        return False  # GoToSocial applies "hide" filters before pushing
    if pose.at_least(4, 4) and now - record.created.timestamp() > PUSH_MAX_AGE_S:
        return False
    if not sub.alerts.get(record.type, False):
        return False
    # The demo counts every sender as both followed and a follower, so only "none" blocks.
    return sub.policy in ("all", "followed", "follower")


def _plain(text_html: str) -> str:
    text = re.sub(r"<br\s*/?>", "\n", text_html)
    text = re.sub(r"</p>\s*<p>", "\n\n", text)
    return html.unescape(re.sub(r"<[^>]*>", "", text)).strip()


def _truncate(text: str, limit: int = BODY_LIMIT) -> str:
    """Rails' ``truncate``: at most ``limit`` characters, "..." included."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def payload_for(record: NoteRecord, sub: PushSubscriptionRecord, pose: Pose) -> JSON:
    """The decrypted push message, shaped like Mastodon's ``Web::NotificationSerializer``
    (``notification_id`` a JSON number there, a string on GoToSocial)."""
    note = record.data
    account: JSON = note["account"] if isinstance(note.get("account"), dict) else {}
    name = str(account.get("display_name") or account.get("username") or "someone")
    status: JSON | None = note["status"] if isinstance(note.get("status"), dict) else None
    if status is not None:
        source = str(status.get("spoiler_text") or "") or _plain(str(status.get("content") or ""))
    else:
        source = _plain(str(account.get("note") or ""))
    nid: int | str = record.id
    if pose.software != "gotosocial" and record.id.isdigit():
        nid = int(record.id)
    return {
        "access_token": sub.token,
        "preferred_locale": "en",
        "notification_id": nid,
        "notification_type": record.type,
        "icon": str(account.get("avatar_static") or account.get("avatar") or ""),
        "title": _TITLES.get(record.type, _DEFAULT_TITLE).format(name=name),
        "body": _truncate(source),
    }


# --------------------------------------------------------------------------- the sender


class PushSender:
    """Encrypts and POSTs pushes in the daemon thread ``demo-push-sender``.

    ``on_notification`` is the world's notification hook: it decides at creation time which
    subscriptions get the notification and queues one job each. ``enabled = False`` drops
    jobs silently (queued and retried ones too), like a relay that loses messages.
    """

    def __init__(
        self,
        world: DemoWorld,
        signer: VapidSigner,
        *,
        retry_delays: Sequence[float] = PUSH_RETRY_DELAYS,
        verify: bool | str = True,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._world = world
        self.signer = signer
        self.retry_delays = tuple(retry_delays)
        self.verify = verify
        self.timeout = timeout
        self.enabled = True
        self.pushes: list[PushDelivery] = []
        self._clock = clock
        self._cond = threading.Condition()
        self._heap: list[_Scheduled] = []
        self._seq = itertools.count()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._done = threading.Condition()

    @property
    def retry_delays(self) -> tuple[float, ...]:
        """Seconds before retry 1, 2, …; the last value repeats up to ``PUSH_RETRIES``."""
        return self._retry_delays

    @retry_delays.setter
    def retry_delays(self, delays: Sequence[float]) -> None:
        values = tuple(float(d) for d in delays)
        if not values or any(d < 0 for d in values):
            raise ValueError("retry_delays needs at least one delay, none negative")
        self._retry_delays = values

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        with self._cond:
            if self._thread is not None or self._stopping:
                return
            self._thread = threading.Thread(target=self._run, name=SENDER_THREAD, daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Drop what is queued, let a request in flight end, join. Idempotent."""
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(self.timeout + 1.0 if timeout is None else timeout)

    # ------------------------------------------------------------------ queueing

    def on_notification(self, username: str, record: NoteRecord) -> None:
        """Queue one job per subscription of ``username`` that receives ``record``."""
        world = self._world
        with world.lock:
            pose = world.pose
            subs = world.push_subscriptions_for(username)
        now = self._clock()
        for sub in subs:
            if not pushable(record, sub, pose, now):
                continue
            gts = pose.software == "gotosocial"
            payload = payload_for(record, sub, pose)
            job = _Job(
                subscription_id=sub.id,
                notification_id=record.id,
                encoding="aes128gcm" if sub.standard or gts else "aesgcm",
                payload=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                urgency=not gts,
            )
            self._schedule(job, 0.0)

    def _schedule(self, job: _Job, delay: float) -> None:
        if not self.enabled:
            logger.debug("push of %s dropped: delivery is off", job.notification_id)
            return
        with self._cond:
            if self._stopping:
                return
            item = _Scheduled(time.monotonic() + delay, next(self._seq), job)
            heapq.heappush(self._heap, item)
            self._cond.notify_all()

    # ------------------------------------------------------------------ results

    def wait_for(self, count: int, timeout: float) -> list[PushDelivery]:
        """A copy of ``pushes`` once it holds at least ``count`` attempts; TimeoutError if
        that takes longer than ``timeout`` seconds."""
        with self._done:
            if not self._done.wait_for(lambda: len(self.pushes) >= count, timeout):
                raise TimeoutError(
                    f"{len(self.pushes)} push attempt(s) after {timeout} s, expected {count}"
                )
            return list(self.pushes)

    def _record(self, delivery: PushDelivery) -> None:
        with self._done:
            self.pushes.append(delivery)
            self._done.notify_all()

    # ------------------------------------------------------------------ the thread

    def _next_job(self) -> _Job | None:
        with self._cond:
            while not self._stopping:
                if self._heap:
                    wait = self._heap[0].due - time.monotonic()
                    if wait <= 0:
                        return heapq.heappop(self._heap).job
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            return None

    def _run(self) -> None:
        with requests.Session() as session:
            session.trust_env = False  # no proxy or netrc from the environment
            while True:
                job = self._next_job()
                if job is None:
                    return
                try:
                    self._attempt(session, job)
                except Exception:  # keep the sender alive whatever one push does
                    logger.exception("demo push of %s failed", job.notification_id)

    def _attempt(self, session: requests.Session, job: _Job) -> None:
        if not self.enabled:
            logger.debug("push of %s dropped: delivery is off", job.notification_id)
            return
        sub = self._world.push_subscription_by_id(job.subscription_id)
        if sub is None:
            return  # deleted or replaced since: Mastodon's worker finds no record
        body, enc_headers = encrypt(
            job.payload, public_b64=sub.p256dh, auth_b64=sub.auth, encoding=job.encoding
        )
        vapid = self.signer.headers(endpoint_origin(sub.endpoint), encoding=job.encoding)
        fixed = {"TTL": str(PUSH_TTL), "Content-Type": "application/octet-stream"}
        if job.urgency:
            fixed["Urgency"] = "normal"
        headers = merge_headers(fixed, enc_headers, vapid)
        status: int | None = None
        try:
            with session.post(
                sub.endpoint,
                data=body,
                headers=headers,
                timeout=self.timeout,
                verify=self.verify,
                allow_redirects=False,
            ) as resp:
                status = resp.status_code
        except requests.RequestException as exc:
            logger.info("push to %s failed: %s", sub.endpoint, type(exc).__name__)
        if status is not None and 400 <= status < 500 and status not in (408, 429):
            self._world.drop_push_subscription(sub.id)
            logger.info("push endpoint answered %d: subscription %d deleted", status, sub.id)
        elif (status is None or not 200 <= status < 300) and job.attempt <= PUSH_RETRIES:
            delays = self.retry_delays
            delay = delays[min(job.attempt - 1, len(delays) - 1)]
            self._schedule(
                _Job(
                    job.subscription_id,
                    job.notification_id,
                    job.encoding,
                    job.payload,
                    job.urgency,
                    job.attempt + 1,
                ),
                delay,
            )
        self._record(
            PushDelivery(
                endpoint=sub.endpoint,
                status=status,
                time=self._clock(),
                notification_id=job.notification_id,
                encoding=job.encoding,
                attempt=job.attempt,
            )
        )
