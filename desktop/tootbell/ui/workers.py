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
    from tootbell.secrets import SecretStore

log = logging.getLogger(__name__)

AVATAR_MAX_BYTES = 512 * 1024
CLOCK_JUMP_CHECK_MS = 15_000
CLOCK_JUMP_S = 45.0
KEYRING_RETRY_S = 30.0


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
        return self.health in ("auth_failed", "keyring", "error")


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
    finished = Signal()

    # Requests from the GUI thread (queued into this thread).
    _checkNow = Signal()
    _settings = Signal(object)
    _dismiss = Signal(str, list)
    _stop = Signal()
    _multi = Signal(bool)
    _jumpCheck = Signal()  # lets tests run the clock-jump check in the worker thread

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

    # -- API for the GUI thread (thread-safe: they only emit queued signals) --------------

    def check_now(self) -> None:
        self._checkNow.emit()

    def update_settings(self, settings: Settings) -> None:
        self._settings.emit(settings)

    def dismiss(self, toast_key: str, notification_ids: list[str]) -> None:
        self._dismiss.emit(toast_key, notification_ids)

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
        outcome = poller.poll(self._settings_value)
        self._last_check = time.time()
        self._unread = poller.inbox.unread_count
        if outcome.toasts:
            self.toastsReady.emit([self._with_icon(t) for t in outcome.toasts])
        if outcome.health.value == "ok":
            text = "Up to date"
            if outcome.storage_error:
                self._emit_status("error", outcome.storage_error)
            else:
                self._emit_status("ok", text)
        else:
            self._emit_status(outcome.health.value, outcome.error)
        if outcome.health.value != "auth_failed" and not self._stopping.is_set():
            self._schedule(outcome.next_delay_s)

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
        if self._timer is not None and old.poll_interval_s != settings.poll_interval_s:
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
