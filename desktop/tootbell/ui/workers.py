"""One worker QObject per account, living in its own QThread, doing that account's I/O serially.

The GUI thread talks to a worker only through queued signals; results come back the same way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from tootbell.config import AccountConfig, Paths, Settings, StateStore
from tootbell.inbox import COALESCING_TYPES, Toast

if TYPE_CHECKING:
    from tootbell.delivery.poller import AccountPoller, Fresh
    from tootbell.delivery.push import KeywordFilters
    from tootbell.mastodon.webpush import PushPayload
    from tootbell.secrets import SecretStore

log = logging.getLogger(__name__)

CLOCK_JUMP_CHECK_MS = 15_000
CLOCK_JUMP_S = 45.0
KEYRING_RETRY_S = 30.0
RESTORE_WAIT_S = 5.0  # at start, the first poll waits this long at most for toasts from before
MARKER_SYNC_S = 180.0  # how often the read marker is re-read (other clients read too)
PUSH_BROKEN_AFTER = 2  # catch-up polls in a row that found what push missed
# After a push the server's unread count is read once things settle, not once per push.
COUNT_DEBOUNCE_MS = 2000
# A pushed favourite, boost or follow whose fetch failed waits for a check this soon (or the
# rate limit's reset) instead of a toast of its own: the check coalesces a burst into one.
PUSH_CATCHUP_SOON_S = 10.0
FILTERS_REFRESH_S = 900.0  # keyword filters re-read this often (other clients change them too)


@dataclass(frozen=True)
class AccountStatus:
    """What the tray shows for one account."""

    key: str
    health: str  # "starting", "ok", "retrying", "rate_limited", "auth_failed", "keyring", "error"
    text: str  # one line for people
    unread: int = 0
    last_check: float | None = None
    server: str = ""

    @property
    def needs_attention(self) -> bool:
        return self.health in ("auth_failed", "keyring", "error", "push_error", "push_broken")


@dataclass(frozen=True)
class WorkerTiming:
    """How long a worker waits for what. The defaults are the product's; tests shrink them
    (faults that would take minutes at real speed) through ``TootbellApp(worker_timing=…)``."""

    client_timeout: tuple[float, float] = (5.0, 20.0)  # (connect, read) seconds per request
    backoff_base_s: float = 15.0  # first retry after a transient error, then doubling …
    backoff_cap_s: float = 900.0  # … up to this
    clock_jump_check_ms: int = CLOCK_JUMP_CHECK_MS
    # Compared with time.monotonic() to notice a sleep or a clock change.
    wall_clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class ToastReady:
    toast: Toast
    icon_path: str | None


class AccountWorker(QObject):
    """Owns one account's client, inbox and poller; polls on a timer in its own thread."""

    toastsReady = Signal(list)  # list[ToastReady]
    statusChanged = Signal(object)  # AccountStatus
    readToasts = Signal(list)  # toast keys whose notifications were read elsewhere
    dismissFailed = Signal(str, str)  # toast key, message
    pushRoute = Signal(str, object)  # account key, PushRoute (None: no route for this account)
    finished = Signal()

    # Requests from the GUI thread (queued into this thread).
    _checkNow = Signal()
    _settings = Signal(object)
    _dismiss = Signal(str, list)
    _stop = Signal()
    _multi = Signal(bool)
    _jumpCheck = Signal()  # lets tests run the clock-jump check in the worker thread
    _push = Signal(object)  # a PushPayload from the listener thread
    _markAllRead = Signal()
    _readConversation = Signal(str, list)  # toast key, notification ids
    _checkMarker = Signal()
    _filtersChanged = Signal()
    _gone = Signal(object)  # list[str] | None: dismissed ids, or None when all were cleared
    _postRead = Signal(str)  # a conversation's newest post, the conversation marked read
    _handedOver = Signal(list)  # list[Toast] the notifier has now
    actionFailed = Signal(str)  # words for the person: a mark-read or similar failed

    def __init__(
        self,
        account: AccountConfig,
        settings: Settings,
        paths: Paths,
        secrets: SecretStore,
        *,
        multi_account: bool = False,
        timing: WorkerTiming | None = None,
    ) -> None:
        super().__init__()
        self._timing = timing or WorkerTiming()
        self._multi_account = multi_account
        self.account = account
        self._settings_value = settings
        self._paths = paths
        self._secrets = secrets
        self._store = StateStore(paths)
        self._poller: AccountPoller | None = None
        self._timer: QTimer | None = None
        self._jump_timer: QTimer | None = None
        self._wall = self._timing.wall_clock()
        self._mono = time.monotonic()
        self._stopping = threading.Event()
        self._unread = 0
        self._server_count: int | None = None  # the server's last unread count, where it has one
        self._last_check: float | None = None
        self._checkNow.connect(self._on_check_now)
        self._settings.connect(self._on_settings)
        self._dismiss.connect(self._on_dismiss)
        self._stop.connect(self._on_stop)
        self._multi.connect(self._on_multi)
        self._jumpCheck.connect(self._detect_clock_jump)
        self._push.connect(self._on_push)
        self._markAllRead.connect(self._on_mark_all_read)
        self._readConversation.connect(self._on_read_conversation)
        self._checkMarker.connect(self._on_check_marker)
        self._filtersChanged.connect(self._on_filters_changed)
        self._gone.connect(self._on_gone)
        self._postRead.connect(self._on_post_read)
        self._handedOver.connect(self._on_handed_over)
        self._marker_timer: QTimer | None = None
        self._count_timer: QTimer | None = None
        self._save_timer: QTimer | None = None  # one save for a run of hand-overs
        self._restoring_until: float | None = None  # toasts from before are being shown
        self._token = ""
        self._push_ready = False  # subscription verified and route handed to the listener
        self._push_error = ""
        self._push_misses = 0  # catch-up polls in a row that found what push did not bring
        self._pushed_ids: set[str] = set()
        self._filters: KeywordFilters | None = None
        self._filters_at: float | None = None  # time.monotonic() of the last filters read
        self._status = ("starting", "Connecting…")  # the last status sent, to re-send the badge

    # -- API for the GUI thread (thread-safe: they only emit queued signals) --------------

    def check_now(self) -> None:
        self._checkNow.emit()

    def update_settings(self, settings: Settings) -> None:
        self._settings.emit(settings)

    def dismiss(self, toast_key: str, notification_ids: list[str]) -> None:
        self._dismiss.emit(toast_key, notification_ids)

    def mark_all_read(self) -> None:
        self._markAllRead.emit()

    def mark_conversation_read(self, toast_key: str, notification_ids: list[str]) -> None:
        self._readConversation.emit(toast_key, notification_ids)

    def check_marker(self) -> None:
        self._checkMarker.emit()

    def notifications_gone(self, ids: list[str] | None) -> None:
        """Notifications were dismissed (or all cleared, None) on the server by Tootbell."""
        self._gone.emit(None if ids is None else list(ids))

    def post_read(self, status_id: str) -> None:
        """A conversation whose newest post is ``status_id`` was marked read by Tootbell."""
        self._postRead.emit(status_id)

    def filters_changed(self) -> None:
        """The person changed the keyword filters (any thread): use them at once."""
        self._filtersChanged.emit()

    def toasts_handed_over(self, toasts: list[Toast]) -> None:
        """The GUI thread gave these toasts (from toastsReady) to the notifier."""
        self._handedOver.emit(list(toasts))

    def push_received(self, payload: PushPayload) -> None:
        self._push.emit(payload)

    def set_multi_account(self, multi: bool) -> None:
        self._multi.emit(multi)

    def request_stop(self) -> None:
        self._stopping.set()
        self._stop.emit()

    # -- in the worker thread ---------------------------------------------------------------

    @Slot()
    def start(self) -> None:
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._poll)
        self._jump_timer = QTimer(self)
        self._jump_timer.setInterval(self._timing.clock_jump_check_ms)
        self._jump_timer.timeout.connect(self._detect_clock_jump)
        self._jump_timer.start()
        self._marker_timer = QTimer(self)
        self._marker_timer.setInterval(int(MARKER_SYNC_S * 1000))
        self._marker_timer.timeout.connect(self._on_check_marker)
        self._marker_timer.start()
        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(COUNT_DEBOUNCE_MS)
        self._count_timer.timeout.connect(self._on_count_due)
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.timeout.connect(self._save_handed_over)
        self._emit_status("starting", "Connecting…")
        self._timer.start(0)

    def _ensure_poller(self) -> AccountPoller | None:
        if self._poller is not None:
            return self._poller
        from tootbell.delivery.poller import AccountPoller, Backoff
        from tootbell.inbox import Inbox
        from tootbell.mastodon.client import MastodonClient
        from tootbell.secrets import SecretStoreError

        try:
            token = self._secrets.get_token(self.account.key)
        except SecretStoreError as e:
            self._emit_status("keyring", f"{e.title}: {e.message}")
            self._schedule(KEYRING_RETRY_S)
            return None
        if not token:
            self._emit_status("auth_failed", "No access token in the keyring: sign in again.")
            return None
        from tootbell.logs import register_secret

        register_secret(token)
        self._token = token
        state = self._store.load(self.account.key)
        timing = self._timing
        client = MastodonClient(self.account.base_url, token, timeout=timing.client_timeout)
        inbox = Inbox(self.account.key, state, multi_account=self._multi_account)
        self._poller = AccountPoller(
            self.account.key,
            client,
            inbox,
            state,
            lambda: self._store.save(self.account.key, state),
            backoff=Backoff(base_s=timing.backoff_base_s, cap_s=timing.backoff_cap_s),
        )
        pending = inbox.restore_pending(self._settings_value)
        if pending:
            # Decided before the last run ended, never handed to the notifier: show them now,
            # and poll once they are handed over (and that is saved), so that a crash during
            # the poll does not show them yet again.
            log.info("%s: %d toasts still to show from before", self.account.key, len(pending))
            self._restoring_until = time.monotonic() + RESTORE_WAIT_S
            self.toastsReady.emit([self._with_icon(t) for t in pending])
            self._schedule(RESTORE_WAIT_S)
        return self._poller

    @Slot()
    def _poll(self) -> None:
        if self._stopping.is_set():
            return
        poller = self._ensure_poller()
        if poller is None:
            return
        if self._restoring_until is not None:
            left = self._restoring_until - time.monotonic()
            if left > 0:
                self._schedule(left)  # unless their hand-over starts the poll before
                return
            self._restoring_until = None
        settings = self._settings_value
        if self.account.delivery == "push":
            # Every catch-up check verifies the subscription (GET) and re-creates it when the
            # server dropped it; the keyword filters for payload-only toasts are refreshed too.
            self._setup_push(poller)
        elif self.account.delivery != "push" and poller.state.push_endpoint:
            self._teardown_push(poller)
        outcome = poller.poll(settings)
        self._last_check = time.time()
        if outcome.server_unread is not None:
            self._server_count = outcome.server_unread
        if self._filters_due(poller):
            self._apply_filters(poller)
        self._unread = poller.inbox.badge(self._server_count)
        if outcome.read_keys:
            self.readToasts.emit(outcome.read_keys)
        if outcome.toasts:
            self.toastsReady.emit([self._with_icon(t) for t in outcome.toasts])
        if outcome.health.value == "ok":
            self._note_push_misses(outcome.fresh)
            if outcome.storage_error:
                self._emit_status("error", outcome.storage_error)
            elif self.account.delivery == "push" and self._push_error:
                self._emit_status("push_error", self._push_error)
            elif self._push_ready and self._push_misses >= PUSH_BROKEN_AFTER:
                self._emit_status(
                    "push_broken",
                    "Push route looks broken: notifications arrive only by the catch-up "
                    "check. Run Test route in Settings.",
                )
            else:
                self._emit_status("ok", "Up to date" + (" · push" if self._push_ready else ""))
        else:
            self._emit_status(outcome.health.value, outcome.error)
        if outcome.health.value != "auth_failed" and not self._stopping.is_set():
            delay = outcome.next_delay_s
            if self._push_ready and outcome.health.value == "ok":
                delay = float(settings.push_catchup_s)
            self._schedule(delay)

    # -- read state ----------------------------------------------------------------------

    @Slot()
    def _on_check_marker(self) -> None:
        """Another client may have read past what Tootbell shows: withdraw those toasts."""
        from tootbell.mastodon.client import ApiError

        poller = self._poller
        if poller is None or self._stopping.is_set() or poller.health.value == "auth_failed":
            return
        try:
            keys = poller.check_marker()
            server = (
                poller.client.unread_count()
                if poller.capabilities is not None and poller.capabilities.has_unread_count
                else None
            )
        except ApiError as e:
            log.info("%s: marker not read: %s", self.account.key, e.message)
            return
        self._save_state(poller)
        self._after_read(keys, server)

    @Slot()
    def _on_mark_all_read(self) -> None:
        from tootbell.mastodon.actions import mark_read
        from tootbell.mastodon.client import ApiError

        poller = self._ensure_poller()
        if poller is None:
            return
        newest = poller.state.cursor
        if not newest or newest == "0":
            return
        try:
            marker = mark_read(poller.client, newest)
        except ApiError as e:
            self.actionFailed.emit(f"Could not mark {self.account.key} as read: {e.message}")
            return
        keys = poller.inbox.mark_read_up_to(marker.last_read_id if marker else newest)
        self._save_state(poller)
        self._after_read(keys, 0)

    @Slot(str, list)
    def _on_read_conversation(self, toast_key: str, ids: list[str]) -> None:
        """The toast's "Mark conversation read": the conversation, and that notification."""
        from tootbell.mastodon.actions import conversation_for_status, mark_conversation_read
        from tootbell.mastodon.client import ApiError

        poller = self._ensure_poller()
        if poller is None:
            return
        try:
            for nid in ids:
                n = poller.client.notification(nid)
                if n.status is None:
                    continue
                conv = conversation_for_status(poller.client, n.status.id)
                if conv is not None:
                    mark_conversation_read(poller.client, conv.id)
        except ApiError as e:
            self.actionFailed.emit(f"Could not mark the conversation read: {e.message}")
            return
        keys = poller.inbox.mark_ids_read(ids, server_still_counts=True)
        self._save_state(poller)
        self._after_read([*keys, toast_key], None)

    @Slot(object)
    def _on_gone(self, ids: list[str] | None) -> None:
        poller = self._poller
        if poller is None or self._stopping.is_set():
            return
        keys = poller.inbox.mark_ids_read(list(poller.state.unread) if ids is None else ids)
        self._save_state(poller)
        self._after_read(keys, None)

    @Slot(str)
    def _on_post_read(self, status_id: str) -> None:
        poller = self._poller
        if poller is None or self._stopping.is_set():
            return
        keys = poller.inbox.mark_post_read(status_id)
        self._save_state(poller)
        self._after_read(keys, None)

    def _after_read(self, keys: list[str], server_unread: int | None) -> None:
        poller = self._poller
        if poller is None:
            return
        if server_unread is None:
            server_unread = self._read_server_count(poller)
        if server_unread is not None:
            self._server_count = server_unread
        self._unread = poller.inbox.badge(self._server_count)
        if keys:
            self.readToasts.emit(sorted(set(keys)))
        self._emit_status("ok", "Up to date" + (" · push" if self._push_ready else ""))

    def _read_server_count(self, poller: AccountPoller) -> int | None:
        """The server's unread count after a change made here; None where it has none."""
        from tootbell.mastodon.client import ApiError

        caps = poller.capabilities
        if caps is None or not caps.has_unread_count:
            return None
        try:
            return poller.client.unread_count()
        except ApiError as e:
            log.info("%s: unread count not read: %s", self.account.key, e.message)
            return None

    def _save_state(self, poller: AccountPoller) -> None:
        poller.save()  # a failure is logged, and retried at the next poll

    # -- Web Push ------------------------------------------------------------------------

    def _setup_push(self, poller: AccountPoller) -> None:
        """Keys, subscription and route; on failure polling goes on at the normal interval."""
        from tootbell.delivery.push import (
            PushSetupError,
            ensure_subscription,
            load_or_create_keys,
            route_for,
        )
        from tootbell.mastodon.client import ApiError
        from tootbell.secrets import SecretStoreError

        state = poller.state
        try:
            keys = load_or_create_keys(self.account.key, state, self._secrets)
            if poller.capabilities is None:
                poller.capabilities = poller.client.capabilities()
            ensure_subscription(
                poller.client, self.account, state, keys, self._settings_value, poller.capabilities
            )
            self._store.save(self.account.key, state)
        except PushSetupError as e:
            self._push_error = f"Push is not working: {e.message}"
        except ApiError as e:
            self._push_error = f"Push is not set up yet: {e.message}"
        except SecretStoreError as e:
            self._push_error = f"Push is not set up yet: {e.message}"
        except OSError as e:  # state could not be saved
            self._push_error = f"Push is not set up yet: {e}"
        else:
            self._push_error = ""
            if not self._push_ready:
                self._push_misses = 0
            self._push_ready = True
            self.pushRoute.emit(self.account.key, route_for(self.account, state, keys, self._token))
            return
        log.info("%s: %s", self.account.key, self._push_error)

    def _teardown_push(self, poller: AccountPoller) -> None:
        """Push switched off: delete the server's subscription and forget the keys."""
        from tootbell.delivery.push import disable_push
        from tootbell.mastodon.client import ApiError
        from tootbell.secrets import SecretStoreError

        try:
            disable_push(poller.client, self.account.key, poller.state, self._secrets)
            self._store.save(self.account.key, poller.state)
        except (ApiError, SecretStoreError) as e:
            log.info("%s: push not switched off yet: %s", self.account.key, e.message)
            return
        except OSError as e:
            log.info("%s: push state not saved: %s", self.account.key, e)
        self._push_ready = False
        self.pushRoute.emit(self.account.key, None)

    # -- keyword filters -----------------------------------------------------------------

    def _filters_due(self, poller: AccountPoller) -> bool:
        """Polled notifications carry the server's filter verdicts; the local copy of the
        filters matters only for payload-only pushes and for toasts held back by a pause or
        quiet hours, so it is re-read only then, and at most every FILTERS_REFRESH_S."""
        if self.account.delivery != "push" and not poller.inbox.holding:
            return False
        return self._filters_at is None or time.monotonic() - self._filters_at >= FILTERS_REFRESH_S

    @Slot()
    def _on_filters_changed(self) -> None:
        poller = self._poller
        if poller is None or self._stopping.is_set():
            return  # nothing decided yet: the first poll reads the filters it needs
        self._apply_filters(poller)
        self._emit_status(*self._status)

    def _apply_filters(self, poller: AccountPoller) -> None:
        """Re-read the filters; held-back notifications a *hide* filter now catches are
        dropped from the end-of-pause summary and the unread count."""
        from tootbell.delivery.push import KeywordFilters
        from tootbell.mastodon.client import ApiError

        filters = self._filters or KeywordFilters()
        try:
            filters.refresh(poller.client)
        except ApiError as e:
            log.info("%s: keyword filters not loaded: %s", self.account.key, e.message)
            return
        self._filters = filters
        self._filters_at = time.monotonic()
        dropped = poller.inbox.drop_held(lambda text: filters.verdict(text).action == "hide")
        if not dropped:
            return
        log.info("%s: %d held notifications now hidden by a filter", self.account.key, len(dropped))
        self._save_state(poller)
        self._unread = poller.inbox.badge(self._server_count)  # the hidden ones no longer count

    def _note_push_misses(self, fresh: list[Fresh]) -> None:
        """Count catch-up polls that found notifications push should have brought."""
        if not self._push_ready:
            return
        settings = self._settings_value
        missed = [
            n
            for n in fresh
            if n.id not in self._pushed_ids and not n.filtered and settings.type_enabled(n.type)
        ]
        self._push_misses = self._push_misses + 1 if missed else 0

    @Slot(object)
    def _on_push(self, payload: PushPayload) -> None:
        from tootbell.delivery.push import KeywordFilters, fallback_toast
        from tootbell.mastodon.client import ApiError

        poller = self._ensure_poller()
        if poller is None or self._stopping.is_set():
            return
        nid = payload.notification_id
        self._pushed_ids.add(nid)
        if len(self._pushed_ids) > 5000:
            self._pushed_ids.clear()
        self._push_misses = 0
        state = poller.state
        state.last_push_at = time.time()
        settings = self._settings_value
        try:
            n = poller.client.notification(nid)
        except ApiError as e:
            log.info("%s: pushed notification not fetched (%s)", self.account.key, e.message)
            toasts = []
            if payload.notification_type in COALESCING_TYPES:
                # One of a burst, likely (the burst is what used up the rate limit): the next
                # check brings them all as one toast instead of one toast each.
                self._check_soon(e)
            elif not state.has_seen(nid):
                t = fallback_toast(
                    self.account.key, payload, self._filters or KeywordFilters(), settings
                )
                if t is not None and poller.inbox.hold_reason(settings) is None:
                    state.remember([nid])
                    toasts = [t]
        else:
            toasts = poller.inbox.finish_batch(poller.inbox.accept([n], settings), settings)
        poller.inbox.keep_pending(toasts)
        self._save_state(poller)
        caps = poller.capabilities
        if caps is not None and caps.has_unread_count and self._count_timer is not None:
            self._count_timer.start()  # one count for a run of pushes
        self._unread = poller.inbox.badge(self._server_count)
        if toasts:
            self.toastsReady.emit([self._with_icon(t) for t in toasts])
        self._emit_status("ok", "Up to date · push")

    @Slot()
    def _on_count_due(self) -> None:
        poller = self._poller
        if poller is None or self._stopping.is_set():
            return
        count = self._read_server_count(poller)
        if count is not None:
            self._server_count = count
            self._unread = poller.inbox.badge(count)
            self._emit_status(*self._status)

    def _check_soon(self, error: Exception) -> None:
        """Bring the next check forward to PUSH_CATCHUP_SOON_S from now, or to the rate
        limit's reset when the server named one; never later than it was due."""
        from tootbell.mastodon.client import RateLimited

        delay = PUSH_CATCHUP_SOON_S
        if isinstance(error, RateLimited) and error.reset_at is not None:
            delay = max(delay, error.reset_at.timestamp() - time.time() + 1.0)
        timer = self._timer
        if timer is None or self._stopping.is_set():
            return
        remaining = timer.remainingTime() / 1000 if timer.isActive() else float("inf")
        if delay < remaining:
            timer.start(int(delay * 1000))

    def _schedule(self, seconds: float) -> None:
        if self._timer is not None and not self._stopping.is_set():
            self._timer.start(int(max(0.0, seconds) * 1000))

    @Slot()
    def _on_check_now(self) -> None:
        if self._timer is not None:
            self._timer.start(0)

    @Slot(object)
    def _on_settings(self, settings: Settings) -> None:
        old = self._settings_value
        self._settings_value = settings
        push_changed = old.types != settings.types or old.push_policy != settings.push_policy
        if self._push_ready and push_changed:
            self._push_ready = False  # the next check sends the full alert set again (PUT)
        if self._timer is not None and (
            old.poll_interval_s != settings.poll_interval_s
            or (push_changed and not self._push_ready)
        ):
            self._timer.start(0)
        elif self._poller is not None and old.pause_until != settings.pause_until:
            toasts = self._poller.inbox.tick(settings)
            if toasts:
                self._poller.inbox.keep_pending(toasts)
                self._save_state(self._poller)
                self.toastsReady.emit([self._with_icon(t) for t in toasts])

    @Slot(bool)
    def _on_multi(self, multi: bool) -> None:
        self._multi_account = multi
        if self._poller is not None:
            self._poller.inbox.multi_account = multi

    @Slot(str, list)
    def _on_dismiss(self, toast_key: str, ids: list[str]) -> None:
        """The toast's "Dismiss": the same path as the Clear notifications dialog."""
        from tootbell.mastodon.actions import dismiss
        from tootbell.mastodon.client import ApiError

        poller = self._ensure_poller()
        if poller is None:
            return
        caps = poller.capabilities
        if caps is None or caps.has_dismiss:
            try:
                dismiss(poller.client, ids)
            except ApiError as e:
                self.dismissFailed.emit(toast_key, e.message)
                return
        poller.inbox.forget_toast(toast_key)
        keys = poller.inbox.mark_ids_read(ids)
        self._save_state(poller)
        self._after_read([*keys, toast_key], None)

    @Slot(list)
    def _on_handed_over(self, toasts: list[Toast]) -> None:
        poller = self._poller
        if poller is None or not poller.inbox.handed_over(toasts):
            return
        if self._save_timer is None:
            self._save_handed_over()
        elif not self._save_timer.isActive():
            # Posted events run before timers: every hand-over queued by now, one save.
            self._save_timer.start(0)

    @Slot()
    def _save_handed_over(self) -> None:
        poller = self._poller
        if poller is None:
            return
        self._save_state(poller)
        if self._restoring_until is not None and not poller.state.pending:
            self._restoring_until = None
            self._schedule(0)

    @Slot()
    def _detect_clock_jump(self) -> None:
        wall, mono = self._timing.wall_clock(), time.monotonic()
        drift = (wall - self._wall) - (mono - self._mono)
        self._wall, self._mono = wall, mono
        if abs(drift) > CLOCK_JUMP_S:
            log.info(
                "%s: clock jumped %.0f s (wake from sleep?); checking now", self.account.key, drift
            )
            self._on_check_now()

    @Slot()
    def _on_stop(self) -> None:
        handed_over = self._save_timer is not None and self._save_timer.isActive()
        for t in (
            self._timer,
            self._jump_timer,
            self._marker_timer,
            self._save_timer,
            self._count_timer,
        ):
            if t is not None:
                t.stop()
        if self._poller is not None:
            if self._poller.unsaved or handed_over:
                self._poller.save()  # hand-overs not saved yet, or the disk has room again
            self._poller.client.close()
        self.finished.emit()
        thread = self.thread()
        if thread is not None:
            thread.quit()

    # -- helpers -------------------------------------------------------------------------

    def _with_icon(self, toast: Toast) -> ToastReady:
        if not toast.icon_url or not self._settings_value.show_avatars or self._poller is None:
            return ToastReady(toast, None)
        return ToastReady(toast, self._avatar_path(toast.icon_url))

    def _avatar_path(self, url: str) -> str | None:
        from tootbell.avatars import cached_avatar

        assert self._poller is not None
        return cached_avatar(self._poller.client, url, self._paths.avatar_dir)

    def _emit_status(self, health: str, text: str) -> None:
        self._status = (health, text)
        self.statusChanged.emit(
            AccountStatus(
                key=self.account.key,
                health=health,
                text=text,
                unread=self._unread,
                last_check=self._last_check,
                server=self.account.base_url,
            )
        )


class WorkerHandle:
    """A worker and its thread; stops in order: stop flag, quit, wait. Never terminate()."""

    def __init__(self, worker: AccountWorker) -> None:
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName(f"account-{worker.account.key}")
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.start)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout_ms: int = 5000) -> bool:
        if not self.thread.isRunning():
            return True
        self.worker.request_stop()  # the worker stops its timers, then quits its thread
        ok = self.thread.wait(timeout_ms)
        if not ok:
            log.warning(
                "worker %s still busy after %d ms; quitting its loop",
                self.worker.account.key,
                timeout_ms,
            )
            self.thread.quit()
            ok = self.thread.wait(timeout_ms)
        return bool(ok)


def avatar_cache_dir(paths: Paths) -> Path:
    return paths.avatar_dir
