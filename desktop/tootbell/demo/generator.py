"""A varied, reproducible stream of notifications for ``tootbell --demo``.

Mostly mentions, favourites, follows and boosts; now and then every other type, a direct
message, a filtered post, and a burst of 5–15 favourites on one post within a few seconds.
The sequence of events depends only on the seed; only their timing depends on the clock.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any

from tootbell.demo import data
from tootbell.demo.world import DemoWorld

logger = logging.getLogger(__name__)

JSON = dict[str, Any]
Sleep = Callable[[float], bool]  # waits; True when asked to stop

# (event, weight)
_EVENTS: tuple[tuple[str, int], ...] = (
    ("mention", 26),
    ("favourite", 20),
    ("follow", 12),
    ("reblog", 12),
    ("burst", 4),
    ("direct", 4),
    ("status", 4),
    ("follow_request", 3),
    ("filtered_warn", 2),
    ("filtered_hide", 1),
    ("policy_filtered", 1),
    ("poll", 2),
    ("update", 2),
    ("quote", 2),
    ("admin.sign_up", 2),
    ("admin.report", 1),
    ("severed_relationships", 1),
    ("moderation_warning", 1),
    ("unknown", 1),
)


class NotificationStream:
    """Chooses and creates the next demo notification(s) from a seeded random source."""

    def __init__(self, world: DemoWorld, *, seed: int = 1, username: str = data.LOCAL_USER):
        self._world = world
        self._rng = random.Random(seed)
        self._username = username
        self._own_posts: list[str] = []  # ids of the user's posts others react to
        self._lock = threading.Lock()  # the timer thread and generate() share the rng

    def _own_post_id(self) -> str | None:
        rng = self._rng
        if self._own_posts and rng.random() < 0.7:
            return rng.choice(self._own_posts)
        return None

    def _remember(self, note: JSON) -> None:
        st = note.get("status")
        if isinstance(st, dict) and st.get("id") not in self._own_posts:
            self._own_posts.append(str(st["id"]))
            del self._own_posts[:-5]

    def step(self, sleep: Sleep | None = None) -> list[JSON]:
        """Create the next event; a burst waits between its favourites via ``sleep``."""
        with self._lock:
            return self._step(sleep)

    def _step(self, sleep: Sleep | None) -> list[JSON]:
        rng = self._rng
        events, weights = zip(*_EVENTS, strict=True)
        event = rng.choices(events, weights)[0]
        add = self._world.add_notification
        user = self._username
        sender = rng.choice(data.SENDERS)
        out: list[JSON] = []
        if event in ("favourite", "reblog"):
            sid = self._own_post_id()
            note = add(
                event,
                from_user=sender,
                status_id=sid,
                status_text=rng.choice(data.OWN_POSTS),
                username=user,
            )
            self._remember(note)
            out.append(note)
        elif event == "burst":
            sid = self._own_post_id()
            text = rng.choice(data.OWN_POSTS)
            fans = rng.sample(data.FAN_NAMES, rng.randint(5, 15))
            gaps = [rng.uniform(0.05, 0.4) for _ in fans]
            for fan, gap in zip(fans, gaps, strict=True):
                note = add(
                    "favourite", from_user=fan, status_id=sid, status_text=text, username=user
                )
                if sid is None:
                    sid = str(note["status"]["id"])
                    self._remember(note)
                out.append(note)
                if sleep is not None and sleep(gap):
                    break
        elif event == "mention":
            extra: JSON = {}
            if rng.random() < 0.15:
                extra["spoiler_text"] = "Long thread, sorry"
            if rng.random() < 0.15:
                extra["media"] = rng.randint(1, 3)
            out.append(
                add(
                    "mention",
                    from_user=sender,
                    status_text=rng.choice(data.MENTIONS),
                    username=user,
                    **extra,
                )
            )
        elif event == "direct":
            text = rng.choice(data.DIRECT_MESSAGES)
            out.append(
                add(
                    "mention",
                    from_user=sender,
                    visibility="direct",
                    status_text=text,
                    username=user,
                )
            )
        elif event in ("filtered_warn", "filtered_hide"):
            text, keyword = rng.choice(data.FILTERED_TEXTS)
            out.append(
                add(
                    "mention",
                    from_user=sender,
                    status_text=text,
                    filtered_action="warn" if event == "filtered_warn" else "hide",
                    filter_title="Spoilers" if keyword == "finale" else "Scams",
                    filter_keywords=[keyword],
                    username=user,
                )
            )
        elif event == "policy_filtered":
            out.append(
                add(
                    "mention",
                    from_user=rng.choice(data.FAN_NAMES),
                    policy_filtered=True,
                    status_text="Hi! We have not met, but…",
                    username=user,
                )
            )
        elif event in ("status", "update", "quote"):
            out.append(
                add(event, from_user=sender, status_text=rng.choice(data.STATUSES), username=user)
            )
        elif event == "poll":
            out.append(add("poll", username=user))
        elif event in ("follow", "follow_request", "admin.sign_up"):
            who = (
                rng.choice(data.FAN_NAMES)
                if event != "follow"
                else rng.choice(data.SENDERS + data.FAN_NAMES)
            )
            out.append(add(event, from_user=who, username=user))
        elif event == "admin.report":
            out.append(
                add(
                    event,
                    from_user=sender,
                    status_text=rng.choice(data.REPORT_COMMENTS),
                    username=user,
                )
            )
        elif event in ("severed_relationships", "moderation_warning"):
            out.append(add(event, username=user))
        else:
            out.append(add(rng.choice(data.UNKNOWN_TYPES), from_user=sender, username=user))
        return out


class AutoGenerator:
    """Runs a :class:`NotificationStream` on a timer in a named daemon thread."""

    def __init__(self, stream: NotificationStream, interval: float, *, seed: int = 1) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._stream = stream
        self._interval = interval
        self._rng = random.Random(seed ^ 0x5EED)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name="tootbell-demo-generator", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval * self._rng.uniform(0.5, 1.5)):
            try:
                notes = self._stream.step(self._stop.wait)
            except Exception:  # keep the demo alive whatever one event does
                logger.exception("demo generator failed")
                continue
            logger.debug("generated %d notification(s)", len(notes))
