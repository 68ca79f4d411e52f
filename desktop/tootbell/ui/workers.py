"""One worker QObject per account, living in its own QThread, doing that account's I/O serially.

The GUI thread talks to a worker only through queued signals; results come back the same way.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from tootbell.config import AccountConfig, Paths, Settings, StateStore
from tootbell.inbox import Toast

if TYPE_CHECKING:
    from tootbell.delivery.poller import AccountPoller
    from tootbell.delivery.push import KeywordFilters
    from tootbell.mastodon.entities import Notification
    from tootbell.mastodon.webpush import PushPayload
    from tootbell.secrets import SecretStore

log = logging.getLogger(__name__)

AVATAR_MAX_BYTES = 512 * 1024
CLOCK_JUMP_CHECK_MS = 15_000
CLOCK_JUMP_S = 45.0
KEYRING_RETRY_S = 30.0
PUSH_BROKEN_AFTER = 2  # catch-up polls in a row that found what push missed


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

    def __init__(
        self,
        account: AccountConfig,
        settings: Settings,
        paths: Paths,
        secrets: SecretStore,
        *,
        multi_account: bool = False,
    ) -> None:
        super().__init__()
        self._multi_account = multi_account
        self.account = account
        self._settings_value = settings
        self._paths = paths
        self._secrets = secrets
        self._store = StateStore(paths)
        self._poller: AccountPoller | None = None
        self._timer: QTimer | None = None
        self._jump_timer: QTimer | None = None
        self._wall = time.time()
        self._mono = time.monotonic()
        self._stopping = threading.Event()
        self._unread = 0
        self._last_check: float | None = None
        self._checkNow.connect(self._on_check_now)
        self._settings.connect(self._on_settings)
        self._dismiss.connect(self._on_dismiss)
        self._stop.connect(self._on_stop)
        self._multi.connect(self._on_multi)
        self._jumpCheck.connect(self._detect_clock_jump)
        self._push.connect(self._on_push)
        self._token = ""
        self._push_ready = False  # subscription verified and route handed to the listener
        self._push_error = ""
        self._push_misses = 0  # catch-up polls in a row that found what push did not bring
        self._pushed_ids: set[str] = set()
        self._filters: KeywordFilters | None = None

    # -- API for the GUI thread (thread-safe: they only emit queued signals) --------------

    def check_now(self) -> None:
        self._checkNow.emit()

    def update_settings(self, settings: Settings) -> None:
        self._settings.emit(settings)

    def dismiss(self, toast_key: str, notification_ids: list[str]) -> None:
        self._dismiss.emit(toast_key, notification_ids)

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
        self._jump_timer.setInterval(CLOCK_JUMP_CHECK_MS)
        self._jump_timer.timeout.connect(self._detect_clock_jump)
        self._jump_timer.start()
        self._emit_status("starting", "Connecting…")
        self._timer.start(0)

    def _ensure_poller(self) -> AccountPoller | None:
        if self._poller is not None:
            return self._poller
        from tootbell.delivery.poller import AccountPoller
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
        client = MastodonClient(self.account.base_url, token)
        inbox = Inbox(self.account.key, state, multi_account=self._multi_account)
        self._poller = AccountPoller(
            self.account.key,
            client,
            inbox,
            state,
            lambda: self._store.save(self.account.key, state),
        )
        return self._poller

    @Slot()
    def _poll(self) -> None:
        if self._stopping.is_set():
            return
        poller = self._ensure_poller()
        if poller is None:
            return
        settings = self._settings_value
        if self.account.delivery == "push":
            # Every catch-up check verifies the subscription (GET) and re-creates it when the
            # server dropped it; the keyword filters for payload-only toasts are refreshed too.
            self._setup_push(poller)
        elif self.account.delivery != "push" and poller.state.push_endpoint:
            self._teardown_push(poller)
        outcome = poller.poll(settings)
        self._last_check = time.time()
        self._unread = poller.inbox.unread_count
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
            self._refresh_filters(poller)
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

    def _refresh_filters(self, poller: AccountPoller) -> None:
        from tootbell.delivery.push import KeywordFilters
        from tootbell.mastodon.client import ApiError

        filters = self._filters or KeywordFilters()
        try:
            filters.refresh(poller.client)
        except ApiError as e:
            log.info("%s: keyword filters not loaded: %s", self.account.key, e.message)
        self._filters = filters

    def _note_push_misses(self, fresh: list[Notification]) -> None:
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
            if not state.has_seen(nid):
                t = fallback_toast(
                    self.account.key, payload, self._filters or KeywordFilters(), settings
                )
                if t is not None and poller.inbox.hold_reason(settings) is None:
                    state.remember([nid])
                    toasts = [t]
        else:
            toasts = poller.inbox.finish_batch(poller.inbox.accept([n], settings), settings)
        try:
            self._store.save(self.account.key, state)
        except OSError as e:
            log.warning("%s", getattr(e, "message", e))
        self._unread = poller.inbox.unread_count
        if toasts:
            self.toastsReady.emit([self._with_icon(t) for t in toasts])
        self._emit_status("ok", "Up to date · push")

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
                self.toastsReady.emit([self._with_icon(t) for t in toasts])

    @Slot(bool)
    def _on_multi(self, multi: bool) -> None:
        self._multi_account = multi
        if self._poller is not None:
            self._poller.inbox.multi_account = multi

    @Slot(str, list)
    def _on_dismiss(self, toast_key: str, ids: list[str]) -> None:
        poller = self._ensure_poller()
        if poller is None:
            return
        from tootbell.mastodon.client import ApiError

        try:
            for nid in ids:
                poller.client.dismiss_notification(nid)
        except ApiError as e:
            self.dismissFailed.emit(toast_key, e.message)
            return
        poller.inbox.forget_toast(toast_key)

    @Slot()
    def _detect_clock_jump(self) -> None:
        wall, mono = time.time(), time.monotonic()
        drift = (wall - self._wall) - (mono - self._mono)
        self._wall, self._mono = wall, mono
        if abs(drift) > CLOCK_JUMP_S:
            log.info(
                "%s: clock jumped %.0f s (wake from sleep?); checking now", self.account.key, drift
            )
            self._on_check_now()

    @Slot()
    def _on_stop(self) -> None:
        for t in (self._timer, self._jump_timer):
            if t is not None:
                t.stop()
        if self._poller is not None:
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
        from tootbell.mastodon.client import ApiError

        cache = self._paths.avatar_dir
        name = hashlib.sha256(url.encode()).hexdigest()[:32]
        path = cache / name
        if path.exists():
            return str(path)
        assert self._poller is not None
        try:
            data = self._poller.client.get_bytes(url, AVATAR_MAX_BYTES)
        except ApiError as e:
            log.info("avatar not fetched: %s", e.message)
            return None
        if not _looks_like_image(data):
            return None
        try:
            cache.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        except OSError as e:
            log.info("avatar not cached: %s", e)
            return None
        return str(path)

    def _emit_status(self, health: str, text: str) -> None:
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


def _looks_like_image(data: bytes) -> bool:
    return data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF")) or b"<svg" in data[:512]


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
