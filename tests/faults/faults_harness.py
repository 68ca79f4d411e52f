"""Helpers for the fault suite: accounts, the expected multiset of toasts, the running app.

Every case asserts the exact multiset of toasted notifications, keyed by (account, id):
nothing lost, nothing twice. Notifications are mentions, which are never coalesced, and the
away summary is out of reach (``away_threshold``), so each toast carries one id.

Faults that take minutes at real speed (the 15 s first retry, the 20 s read timeout, the
15 s clock-jump check) run here with shorter timings, passed in through the app's own
injection point ``TootbellApp(worker_timing=WorkerTiming(...))``.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot

from tootbell.app import TootbellApp
from tootbell.config import AccountConfig, Paths, Settings, load_config, save_config
from tootbell.demo import DemoServer
from tootbell.secrets import SecretStore
from tootbell.ui.workers import AccountStatus, WorkerTiming

# The recording notifier is shared with the integration tests.
_INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
if str(_INTEGRATION) not in sys.path:
    sys.path.insert(0, str(_INTEGRATION))

from recording_notifier import RecordingNotifier  # noqa: E402

PAGES = "/api/v1/notifications"  # the poll's page requests (exactly this path)

# Polls happen only at start, on retries, on Check now and after a clock jump: the interval is
# the longest there is, so a test sees only the polls it caused.
SETTINGS = Settings(poll_interval_s=3600, away_threshold=10_000, coalesce_window_s=0)

FAST = WorkerTiming(client_timeout=(2.0, 2.0), backoff_base_s=0.1, backoff_cap_s=1.6)

Key = tuple[str, str]  # (account key, notification id)


def add_account(
    server: DemoServer, secrets: SecretStore, home: Paths, user: str = "demo"
) -> AccountConfig:
    """Sign ``user`` of ``server`` in, as a pasted token would: keyring and config."""
    host = server.base_url.split("//", 1)[1]
    acc = AccountConfig(key=f"{user}@{host}", base_url=server.base_url)
    secrets.set_token(acc.key, server.create_token(user))
    save_config(home, load_config(home).with_account(acc))
    return acc


def once_each(acc: AccountConfig, notes: Iterable[dict[str, Any]]) -> Counter[Key]:
    """The multiset a test expects: every one of ``notes`` toasted exactly once."""
    return Counter((acc.key, str(n["id"])) for n in notes)


def page_requests(server: DemoServer, since: float = 0.0) -> list[float]:
    """When the server received each page request of the poll (not unread_count and co)."""
    return [r.time for r in server.requests_to(PAGES) if r.path == PAGES and r.time >= since]


def difference(got: Counter[Key], expected: Counter[Key]) -> str:
    """What is missing and what came too often, for an assertion message."""
    missing = sorted((expected - got).elements())
    extra = sorted((got - expected).elements())
    return f"missing {missing[:10]} ({len(missing)}), extra {extra[:10]} ({len(extra)})"


@dataclass
class Running:
    """A started app with a recording notifier."""

    app: TootbellApp
    notifier: RecordingNotifier
    qtbot: QtBot

    def status(self, key: str) -> AccountStatus | None:
        return self.app.statuses.get(key)

    def wait_health(self, key: str, health: str, timeout: int = 10_000) -> AccountStatus:
        def reached() -> bool:
            s = self.status(key)
            return s is not None and s.health == health

        self.qtbot.waitUntil(reached, timeout=timeout)
        status = self.status(key)
        assert status is not None
        return status

    def toasted(self) -> Counter[Key]:
        return Counter(
            (t.account_key, i) for t, _ in self.notifier.shown for i in t.notification_ids
        )

    def wait_toasted(self, expected: Counter[Key], timeout: int = 15_000) -> None:
        """Until everything expected was toasted; then it must be exactly that."""
        self.qtbot.waitUntil(lambda: set(self.toasted()) >= set(expected), timeout=timeout)
        got = self.toasted()
        assert got == expected, difference(got, expected)

    def settle(self, key: str, timeout: int = 10_000) -> None:
        """One more complete check of ``key``: whatever it would still toast has been."""
        before = self.status(key)
        last = before.last_check if before is not None else None
        self.app.check_now()

        def checked() -> bool:
            s = self.status(key)
            return s is not None and s.last_check is not None and s.last_check != last

        self.qtbot.waitUntil(checked, timeout=timeout)


Launch = Callable[..., Running]


class JumpingClock:
    """A wall clock that can jump forward as after a sleep; counts how often it was read."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return time.time() + self.offset
