"""Polling core: page ``/api/v1/notifications`` with ``min_id`` until empty, back off on errors.

Qt-free. One ``AccountPoller`` per account, driven by that account's worker thread.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import NamedTuple

from tootbell.config import AccountState, Settings, StorageError
from tootbell.inbox import Inbox, Toast
from tootbell.mastodon.client import (
    ApiError,
    AuthError,
    MastodonClient,
    NetworkError,
    RateLimited,
)
from tootbell.mastodon.entities import Capabilities, id_key

log = logging.getLogger(__name__)

MAX_PAGES_PER_POLL = 400  # 32,000 notifications; a guard against a server that never ends
MARKER_REFRESH_S = 300.0


class Health(Enum):
    OK = "ok"
    STARTING = "starting"
    RETRYING = "retrying"  # transient errors, backing off
    RATE_LIMITED = "rate_limited"
    AUTH_FAILED = "auth_failed"  # needs signing in again; polling stopped


class Backoff:
    """Exponential backoff with full jitter, capped (default 15 min)."""

    def __init__(
        self,
        base_s: float = 15.0,
        cap_s: float = 900.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.failures = 0
        self._rng = rng

    def next_delay(self) -> float:
        self.failures += 1
        ceiling: float = min(self.cap_s, self.base_s * 2.0 ** min(self.failures - 1, 30))
        # Keep at least half the ceiling so retries do spread out, jitter the rest.
        return float(ceiling / 2 + (ceiling / 2) * self._rng())

    def reset(self) -> None:
        self.failures = 0


class Fresh(NamedTuple):
    """What is kept of a notification this poll saw first (a long catch-up keeps thousands:
    not the whole entity)."""

    id: str
    type: str
    filtered: bool


@dataclass
class PollOutcome:
    toasts: list[Toast] = field(default_factory=list)
    new_count: int = 0  # notifications received in this poll (before filtering)
    requests: int = 0
    health: Health = Health.OK
    error: str = ""  # words for the person when health is not OK
    next_delay_s: float = 60.0
    storage_error: str = ""
    fresh: list[Fresh] = field(default_factory=list)  # not seen before this poll
    read_keys: list[str] = field(default_factory=list)  # toasts read elsewhere: withdraw them
    server_unread: int | None = None  # the server's own unread count, where it has one


class AccountPoller:
    """Fetches what is new for one account and hands it to that account's inbox."""

    def __init__(
        self,
        account_key: str,
        client: MastodonClient,
        inbox: Inbox,
        state: AccountState,
        save_state: Callable[[], None],
        *,
        capabilities: Capabilities | None = None,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
    ) -> None:
        self.account_key = account_key
        self.client = client
        self.inbox = inbox
        self.state = state
        self._save_state = save_state
        self.capabilities = capabilities
        self._clock = clock
        self.backoff = backoff or Backoff()
        self.health = Health.STARTING
        self._last_marker_check = 0.0
        # The last save failed (disk full, directory not writable): the state in memory is
        # ahead of the file, so the next poll saves again even if nothing new arrives.
        self.unsaved = False

    # -- the one public step -------------------------------------------------------------

    def poll(self, settings: Settings) -> PollOutcome:
        out = PollOutcome(next_delay_s=float(settings.poll_interval_s))
        if self.unsaved:
            self._save(out)
        if self.health is Health.AUTH_FAILED:
            out.health = Health.AUTH_FAILED
            out.error = "Sign in again: the server no longer accepts Tootbell's access."
            return out
        toasts: list[Toast] = []
        staged: list[str] = []  # keys this poll put in state.pending so far
        try:
            if self.capabilities is None:
                self.capabilities = self.client.capabilities()
                out.requests += 1
            if self.state.cursor is None:
                self._start_cursor(out)
            out.read_keys = self._refresh_marker(out, force=False)
            limit = self.capabilities.max_notification_limit if self.capabilities else 80
            for _ in range(MAX_PAGES_PER_POLL):
                page = self.client.notifications(min_id=self.state.cursor, limit=limit)
                out.requests += 1
                ids = [n.id for n in page.items]
                newest = page.prev_min_id or (max(ids, key=id_key) if ids else None)
                if not page.items and newest is None:
                    break
                out.new_count += len(page.items)
                out.fresh.extend(
                    Fresh(n.id, n.type, n.filtered)
                    for n in page.items
                    if not self.state.has_seen(n.id)
                )
                toasts.extend(self.inbox.accept(page.items, settings))
                merged = self.inbox.finish_batch(toasts, settings)
                if len(merged) == 1 and merged[0].kind == "away":
                    # One away toast counts everything so far: keep it, not every toast.
                    toasts = merged
                staged = self._stage(merged, staged)
                if newest is not None and (
                    self.state.cursor is None or id_key(newest) > id_key(self.state.cursor)
                ):
                    self.state.cursor = newest
                self.state.last_poll = self._clock()
                # One write records the page as decided and its toasts as still to be shown.
                self._save(out)
                if not page.items:
                    break
            toasts.extend(self.inbox.tick(settings))
            if self.capabilities is not None and self.capabilities.has_unread_count:
                out.server_unread = self.client.unread_count()
                out.requests += 1
        except AuthError as e:
            log.warning("%s: authentication failed: %s", self.account_key, e.message)
            self.health = Health.AUTH_FAILED
            out.health = Health.AUTH_FAILED
            out.error = "Sign in again: the server no longer accepts Tootbell's access."
        except RateLimited as e:
            self.health = Health.RATE_LIMITED
            out.health = Health.RATE_LIMITED
            wait = self._until(e.reset_at)
            out.next_delay_s = wait if wait is not None else self.backoff.next_delay()
            out.error = (
                f"The server asked Tootbell to slow down; next check in {_human(out.next_delay_s)}."
            )
            log.info("%s: rate limited, waiting %.0f s", self.account_key, out.next_delay_s)
        except ApiError as e:
            self.health = Health.RETRYING
            out.health = Health.RETRYING
            out.next_delay_s = self.backoff.next_delay()
            what = e.message if isinstance(e, NetworkError) else f"Server error: {e.message}"
            out.error = f"{what} Retrying in {_human(out.next_delay_s)}."
            log.info("%s: %s (retry in %.0f s)", self.account_key, e.message, out.next_delay_s)
        else:
            self.health = Health.OK
            self.backoff.reset()
        out.toasts = self.inbox.finish_batch(toasts, settings)
        if self.inbox.keep_pending(out.toasts, replacing=staged):
            self._save(out)  # the end-of-pause summary, or an away toast merged differently
        return out

    def _stage(self, batch: list[Toast], staged: list[str]) -> list[str]:
        """Put this poll's toasts so far in the state as pending, replacing what the poll
        staged before (the whole poll merged: an away toast grows page by page)."""
        self.inbox.keep_pending(batch, replacing=staged)
        return [t.key for t in batch]

    def check_marker(self) -> list[str]:
        """Re-read the server's read marker now; returns toast keys that became read."""
        out = PollOutcome()
        return self._refresh_marker(out, force=True)

    # -- helpers -------------------------------------------------------------------------

    def _start_cursor(self, out: PollOutcome) -> None:
        """First run: start from the read marker, else the newest notification, not history."""
        marker = self.client.notifications_marker()
        out.requests += 1
        if marker is not None:
            self.state.cursor = marker.last_read_id
            self.state.marker = marker.last_read_id
        else:
            page = self.client.notifications(limit=1)
            out.requests += 1
            self.state.cursor = page.items[0].id if page.items else "0"
        log.info("%s: first run, starting after %s", self.account_key, self.state.cursor)
        self._save(out)

    def _refresh_marker(self, out: PollOutcome, *, force: bool) -> list[str]:
        now = self._clock()
        if not force and now - self._last_marker_check < MARKER_REFRESH_S:
            return []
        self._last_marker_check = now
        marker = self.client.notifications_marker()
        out.requests += 1
        if marker is None:
            return []
        return self.inbox.mark_read_up_to(marker.last_read_id)

    def save(self) -> str:
        """Write the state now. Returns words for the person when it could not be written
        ("" when it was); a failed save is tried again at the next poll."""
        try:
            self._save_state()
        except StorageError as e:
            self.unsaved = True
            log.warning("%s", e.message)
            return e.message
        self.unsaved = False
        return ""

    def _save(self, out: PollOutcome) -> None:
        error = self.save()
        if error:
            out.storage_error = error

    def _until(self, when: datetime | None) -> float | None:
        if when is None:
            return None
        return max(1.0, (when - datetime.fromtimestamp(self._clock(), UTC)).total_seconds() + 1)


def _human(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{round(s / 60)} min"
    return f"{s / 3600:.1f} h"
