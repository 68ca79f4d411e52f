"""Composition root: builds the services per account, wires their signals, shuts down in stages."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon, QWidget

from tootbell import APP_NAME
from tootbell.config import (
    AccountConfig,
    Config,
    Paths,
    Settings,
    StateStore,
    StorageError,
    default_paths,
    load_config,
    save_config,
)
from tootbell.inbox import Toast, quiet_hours_active
from tootbell.ui.tray import FallbackWindow, Tray, TrayIntents, TrayModel
from tootbell.ui.workers import (
    AccountStatus,
    AccountWorker,
    ToastReady,
    WorkerHandle,
    WorkerTiming,
)

if TYPE_CHECKING:
    from tootbell.delivery.listener import PushListener, PushRoute
    from tootbell.delivery.push import RouteTestResult
    from tootbell.demo import DemoServer
    from tootbell.mastodon.webpush import PushPayload
    from tootbell.secrets import SecretStore
    from tootbell.ui.toasts import Notifier

log = logging.getLogger(__name__)

REFRESH_MS = 30_000
DEMO_POLL_S = 10


def instance_name(paths: Paths) -> str:
    """One running Tootbell per user and config directory."""
    import hashlib

    digest = hashlib.sha256(str(paths.config_dir).encode()).hexdigest()[:12]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return f"tootbell-{uid}-{digest}"


def ask_running_instance(
    paths: Paths, command: str, *, timeout_ms: int = 1000, answer_ms: int = 0
) -> str | None:
    """Send one command line to a running Tootbell. None when none runs; else its one-line
    answer (empty when ``answer_ms`` is 0: no answer awaited)."""
    sock = QLocalSocket()
    sock.connectToServer(instance_name(paths))
    if not sock.waitForConnected(timeout_ms):
        return None
    sock.write(command.encode() + b"\n")
    sock.waitForBytesWritten(timeout_ms)
    answer = b""
    deadline = time.monotonic() + answer_ms / 1000
    while answer_ms and not answer.endswith(b"\n") and time.monotonic() < deadline:
        if sock.waitForReadyRead(200):
            answer += bytes(sock.readAll().data())
        elif sock.state() != QLocalSocket.LocalSocketState.ConnectedState:
            break
    sock.disconnectFromServer()
    return answer.decode(errors="replace").strip()


def activate_running_instance(paths: Paths, timeout_ms: int = 1000) -> bool:
    """If Tootbell already runs, ask it to come forward and return True."""
    return ask_running_instance(paths, "activate", timeout_ms=timeout_ms) is not None


def pause_until_for(what: str, now: datetime) -> float:
    if what == "1h":
        return (now + timedelta(hours=1)).timestamp()
    if what == "tomorrow":
        tomorrow = (now + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
        return tomorrow.timestamp()
    return float("inf")


@dataclass
class _Shown:
    account_key: str
    open_url: str | None
    notification_ids: tuple[str, ...]


class TootbellApp(QObject):
    """Everything a running Tootbell is made of, for one process."""

    keyringChecked = Signal(object)  # KeyringStatus
    running = Signal()  # tray shown and first polls scheduled
    signOutNote = Signal(str)  # from the sign-out thread: what the person should still do
    pushArrived = Signal(str, object)  # from the listener thread: account key, PushPayload
    _routesChanged = Signal()  # from a route-test thread: re-apply the listener's routes
    _instanceAnswer = Signal(object, str)  # from a thread: answer a command-line request
    _filtersChanged = Signal(str)  # from a filters dialog's thread: account key

    def __init__(
        self,
        qapp: QApplication,
        *,
        paths: Paths | None = None,
        secrets: SecretStore | None = None,
        notifier: Notifier | None = None,
        demo: bool = False,
        use_tray: bool | None = None,
        worker_timing: WorkerTiming | None = None,
    ) -> None:
        super().__init__()
        self.qapp = qapp
        self._worker_timing = worker_timing
        self.demo_server: DemoServer | None = None
        self._demo_dir: tempfile.TemporaryDirectory[str] | None = None
        if demo:
            paths = self._demo_paths()
        self.paths = paths or default_paths()
        self.paths.ensure()
        self.demo = demo
        if secrets is None:
            secrets = _demo_secrets() if demo else _real_secrets()
        self.secrets = secrets
        self.config: Config = load_config(self.paths)
        self.workers: dict[str, WorkerHandle] = {}
        self._retiring: set[WorkerHandle] = set()
        self.statuses: dict[str, AccountStatus] = {}
        self.shown: dict[str, _Shown] = {}
        self.intents = TrayIntents()
        self._use_tray = QSystemTrayIcon.isSystemTrayAvailable() if use_tray is None else use_tray
        self.tray: Tray | None = None
        self.window: FallbackWindow | None = None
        self._notifier = notifier
        self._server: QLocalServer | None = None
        self._is_running = False  # tray shown and workers started (the `status` command says)
        self._refresh = QTimer(self)
        self._refresh.setInterval(REFRESH_MS)
        self._refresh.timeout.connect(self._on_refresh_timer)
        self._stopped = False
        self._was_online: bool | None = None
        self._connect_intents()
        self.signOutNote.connect(self._warn)
        self.pushArrived.connect(self._on_push_arrived)
        self.listener: PushListener | None = None
        self.listener_error = ""
        self._routes: dict[str, PushRoute] = {}
        self._route_tests: dict[str, tuple[threading.Event, list[float]]] = {}
        self._route_test_routes: dict[str, PushRoute] = {}
        self._route_lock = threading.Lock()  # _route_tests, _route_test_routes, _applied_tokens
        self._applied_tokens: set[str] = set()
        self._routesChanged.connect(self._apply_routes)
        self._instanceAnswer.connect(self._on_instance_answer)
        self._filtersChanged.connect(self._on_filters_changed)

    # -- start ------------------------------------------------------------------------------

    def start(self) -> None:
        """Show the tray first, then do the slower work."""
        if self._use_tray:
            self.tray = Tray(self.intents, self.model)
            self.tray.show()
        else:
            self.window = FallbackWindow(self.intents, self.model)
            self.window.show()
        self._listen_single_instance()
        self._refresh.start()
        QTimer.singleShot(0, self._start_services)

    def _start_services(self) -> None:
        # Temporary state files a crash cut off mid-write: tidied off the GUI thread.
        threading.Thread(target=StateStore(self.paths).tidy, name="tidy-state", daemon=True).start()
        if self._notifier is None:
            from tootbell.ui.toasts import make_notifier

            tray_icon = self.tray.icon if self.tray is not None else None
            self._notifier = make_notifier(tray_icon)
        self._notifier.actionInvoked.connect(self._on_toast_action)
        self._notifier.closed.connect(self._on_toast_closed)
        self._check_keyring_async()
        self._watch_network()
        if self.demo:
            self._start_demo_account()
        elif not self.config.accounts:
            QTimer.singleShot(0, self._first_run)
        for acc in self.config.accounts:
            if acc.enabled:
                self._start_worker(acc)
        self._is_running = True
        self.running.emit()

    @property
    def notifier(self) -> Notifier | None:
        return self._notifier

    # -- model for the tray ------------------------------------------------------------------

    def model(self) -> TrayModel:
        order = [a.key for a in self.config.accounts]
        statuses = tuple(
            self.statuses.get(k) or AccountStatus(k, "starting", "Connecting…") for k in order
        )
        return TrayModel(
            statuses=statuses,
            pause_until=self.config.settings.pause_until,
            quiet_now=quiet_hours_active(self.config.settings.quiet_hours, datetime.now()),
            demo=self.demo,
        )

    def refresh_ui(self) -> None:
        if self.tray is not None:
            self.tray.refresh()
        if self.window is not None:
            self.window.refresh()

    # -- accounts and workers -----------------------------------------------------------------

    def _start_worker(self, acc: AccountConfig) -> None:
        if acc.key in self.workers:
            return
        worker = AccountWorker(
            acc,
            self.config.settings,
            self.paths,
            self.secrets,
            multi_account=len(self.config.accounts) > 1,
            timing=self._worker_timing,
        )
        worker.toastsReady.connect(self._on_toasts)
        worker.statusChanged.connect(self._on_status)
        worker.dismissFailed.connect(self._on_dismiss_failed)
        worker.pushRoute.connect(self._on_push_route)
        worker.readToasts.connect(self._on_read_toasts)
        worker.actionFailed.connect(self._warn)
        handle = WorkerHandle(worker)
        self.workers[acc.key] = handle
        handle.start()

    def _stop_worker(self, key: str, then: Callable[[], None] | None = None) -> None:
        """Ask a worker to stop without waiting for it: it may be inside a network call."""
        if self._routes.pop(key, None) is not None:
            self._apply_routes()
        handle = self.workers.pop(key, None)
        self.statuses.pop(key, None)
        if handle is None or not handle.thread.isRunning():
            if then is not None:
                then()
            return
        self._retiring.add(handle)

        def stopped() -> None:
            self._retiring.discard(handle)
            if then is not None:
                then()

        handle.thread.finished.connect(stopped)
        handle.worker.request_stop()

    def add_account(self, acc: AccountConfig) -> None:
        self._set_config(self.config.with_account(acc))
        self._stop_worker(acc.key)
        self._start_worker(acc)
        self._tell_multi_account()
        self.refresh_ui()

    def _tell_multi_account(self) -> None:
        multi = len(self.config.accounts) > 1
        for h in self.workers.values():
            h.worker.set_multi_account(multi)

    def remove_account(self, key: str) -> None:
        acc = self.config.account(key)
        if acc is None:
            return
        from tootbell.accounts import sign_out
        from tootbell.config import StateStore

        paths = self.paths

        def forget_state() -> None:
            if self.config.account(key) is None:  # not added again meanwhile
                StateStore(paths).delete(key)

        self._stop_worker(key, then=forget_state)
        self._set_config(self.config.without_account(key))
        self._tell_multi_account()

        def run() -> None:
            try:  # also deletes a push subscription and the push keys
                note = sign_out(acc, paths=self.paths, secrets=self.secrets)
            except Exception as e:  # the account is already removed here; say what is left
                note = getattr(e, "message", None) or f"Signing out failed ({type(e).__name__})."
            if note:
                self.signOutNote.emit(note)

        threading.Thread(target=run, name=f"sign-out-{key}", daemon=True).start()
        self.refresh_ui()

    def _demo_paths(self) -> Paths:
        """The demo keeps its config, state and token away from the real ones."""
        self._demo_dir = tempfile.TemporaryDirectory(prefix="tootbell-demo-")
        paths = default_paths({"TOOTBELL_HOME": self._demo_dir.name})
        paths.ensure()
        return paths

    def _switch_to_demo(self) -> None:
        """From the welcome window: no account runs yet, so swap in the demo's own places."""
        for key in list(self.workers):
            self._stop_worker(key)
        self.demo = True
        self.paths = self._demo_paths()
        self.secrets = _demo_secrets()
        self.config = load_config(self.paths)
        self._start_demo_account()

    def _start_demo_account(self) -> None:
        from tootbell.demo import DemoServer

        if self.demo_server is None:
            self.demo_server = DemoServer(auto_generate=6.0)
            self.demo_server.start()
        # The demo pushes every notification to a listener on a free loopback port (unlike
        # Mastodon, the demo may deliver to 127.0.0.1), so toasts appear the moment they
        # happen; the catch-up check runs often, as polling would.
        port = _free_loopback_port()
        self.config = replace(
            self.config,
            settings=replace(
                self.config.settings,
                poll_interval_s=DEMO_POLL_S,
                push_listen=f"127.0.0.1:{port}",
                push_catchup_s=60,
            ),
        )
        token = self.demo_server.create_token("demo")
        from urllib.parse import urlsplit

        host = urlsplit(self.demo_server.base_url).netloc
        acc = AccountConfig(
            key=f"demo@{host}",
            base_url=self.demo_server.base_url,
            delivery="push",
            push_public_url=f"http://127.0.0.1:{port}",
        )
        self.secrets.set_token(acc.key, token)
        self.add_account(acc)

    # -- settings --------------------------------------------------------------------------------

    def _set_config(self, config: Config) -> None:
        self.config = config
        try:
            save_config(self.paths, config)
        except StorageError as e:
            log.warning("%s", e.message)
            self._warn(e.message)

    def apply_settings(self, settings: Settings) -> None:
        moved = settings.push_listen != self.config.settings.push_listen
        self._set_config(replace(self.config, settings=settings))
        if moved and self.listener is not None:
            self.listener.stop()  # listen again at the new address with the same routes
            self.listener = None
            self._apply_routes()
        for h in self.workers.values():
            h.worker.update_settings(settings)
        self.refresh_ui()

    # -- intents ---------------------------------------------------------------------------------

    def _connect_intents(self) -> None:
        i = self.intents
        i.checkNow.connect(self.check_now)
        i.openNotifications.connect(self.open_notifications)
        i.pause.connect(self.pause)
        i.resume.connect(self.resume)
        i.settings.connect(self.show_settings)
        i.addAccount.connect(self.show_add_account)
        i.signInAgain.connect(lambda _key: self.show_add_account())
        i.quit.connect(self.quit)
        i.markAllRead.connect(self.mark_all_read)
        i.manageFilters.connect(self.show_filters)
        i.clearNotifications.connect(self.show_notifications)

    @Slot()
    def check_now(self) -> None:
        for h in self.workers.values():
            h.worker.check_now()

    @Slot(str)
    def open_notifications(self, key: str = "") -> None:
        acc = (
            self.config.account(key)
            if key
            else (self.config.accounts[0] if self.config.accounts else None)
        )
        if acc is None:
            self.show_add_account()
            return
        QDesktopServices.openUrl(QUrl(acc.base_url.rstrip("/") + "/notifications"))

    @Slot(str)
    def pause(self, what: str) -> None:
        self.apply_settings(
            replace(self.config.settings, pause_until=pause_until_for(what, datetime.now()))
        )

    @Slot()
    def resume(self) -> None:
        self.apply_settings(replace(self.config.settings, pause_until=None))

    @Slot()
    def show_settings(self) -> None:
        from tootbell.ui.dialogs.settings import SettingsDialog

        result = SettingsDialog.edit(
            self._parent_widget(),
            self.config.settings,
            self.config.accounts,
            account_status={k: s.text for k, s in self.statuses.items()},
            route_test=self.route_test,
            demo=self.demo,  # the demo leaves the real start-at-login entry alone
        )
        if result is None:
            return
        self.apply_settings(result.settings)
        for key in result.remove_accounts:
            self.remove_account(key)
        for acc in result.accounts:
            if acc.key not in result.remove_accounts and self.config.account(acc.key) != acc:
                self.add_account(acc)  # delivery or public URL changed: restart its worker
        if result.add_account:
            self.show_add_account()

    def _account_for(self, key: str) -> AccountConfig | None:
        if key:
            return self.config.account(key)
        return self.config.accounts[0] if self.config.accounts else None

    @Slot(str)
    def show_filters(self, key: str = "") -> None:
        """Manage filters… for one account; the inbox uses the new filters at once."""
        from tootbell.services import FilterService
        from tootbell.ui.dialogs.filters import FiltersDialog

        acc = self._account_for(key)
        if acc is None:
            return
        service = FilterService(
            acc, self.secrets, self.paths, on_change=lambda: self._filtersChanged.emit(acc.key)
        )
        # The dialog closes the service's connection on its own thread, after any save still
        # under way; that save reaches the inbox through _filtersChanged all the same.
        FiltersDialog.manage(self._parent_widget(), service, account_label=acc.key)

    @Slot(str)
    def _on_filters_changed(self, key: str) -> None:
        handle = self.workers.get(key)
        if handle is not None:
            handle.worker.filters_changed()

    @Slot(str)
    def show_notifications(self, key: str = "") -> None:
        """Clear notifications…: dismiss, clear all, mark read, conversations."""
        from tootbell.services import NotificationsService
        from tootbell.ui.dialogs.notifications import NotificationsDialog

        acc = self._account_for(key)
        if acc is None:
            return
        service = NotificationsService(acc, self.secrets, self.paths)
        # The dialog is deleted when it closes (a leftover one could be collected on another
        # thread, taking its timers with it), and closes the service after its last change.
        NotificationsDialog.manage(
            self._parent_widget(),
            service,
            account_label=acc.key,
            on_dismissed=lambda ids: self._notifications_gone(acc.key, ids),
            on_cleared=lambda: self._notifications_gone(acc.key, None),
            on_marked_all_read=lambda: self._read_elsewhere(acc.key),
            on_conversation_post_read=lambda sid: self._post_read(acc.key, sid),
        )

    def _notifications_gone(self, account_key: str, ids: list[str] | None) -> None:
        """Dismissed (``ids``) or all cleared (None) in the window: withdraw their toasts and
        lower the badge while the window is still open."""
        self._withdraw_ids(account_key, ids)
        handle = self.workers.get(account_key)
        if handle is not None:
            handle.worker.notifications_gone(ids)

    def _read_elsewhere(self, account_key: str) -> None:
        """The window moved the read marker: catch up with it now."""
        handle = self.workers.get(account_key)
        if handle is not None:
            handle.worker.check_marker()

    def _post_read(self, account_key: str, status_id: str) -> None:
        """The window marked a conversation read: its direct-message toasts go."""
        handle = self.workers.get(account_key)
        if handle is not None:
            handle.worker.post_read(status_id)

    def _withdraw_ids(self, account_key: str, ids: list[str] | None) -> None:
        """Dismissed or cleared elsewhere in Tootbell: withdraw their toasts."""
        wanted = None if ids is None else set(ids)
        keys = [
            k
            for k, info in self.shown.items()
            if info.account_key == account_key
            and (wanted is None or set(info.notification_ids) <= wanted)
        ]
        self._on_read_toasts(keys)

    @Slot()
    def show_add_account(self) -> None:
        from tootbell.accounts import sign_in_with_browser, sign_in_with_token
        from tootbell.ui.dialogs.add_account import AddAccountDialog, SignInFunctions

        fns = SignInFunctions(
            browser=partial(sign_in_with_browser, paths=self.paths, secrets=self.secrets),
            token=partial(sign_in_with_token, secrets=self.secrets),
        )
        acc = AddAccountDialog.run(self._parent_widget(), fns)
        if acc is not None:
            self.add_account(acc)

    def _first_run(self) -> None:
        from tootbell.ui.dialogs.first_run import FirstRunWindow

        choice = FirstRunWindow.ask(self._parent_widget())
        if choice == "sign_in":
            self.show_add_account()
        elif choice == "demo":
            self._switch_to_demo()
        else:
            self.quit()

    # -- toasts ----------------------------------------------------------------------------------

    @Slot(list)
    def _on_toasts(self, items: list[ToastReady]) -> None:
        if self._notifier is None:
            return
        for item in items:
            t = item.toast
            self.shown[t.key] = _Shown(t.account_key, t.open_url, t.notification_ids)
            self._notifier.show(t, item.icon_path)
            log.info("toast shown: account=%s ids=%s", t.account_key, ",".join(t.notification_ids))
        # Until its worker hears this, a crash would show these again.
        by_account: dict[str, list[Toast]] = {}
        for item in items:
            by_account.setdefault(item.toast.account_key, []).append(item.toast)
        for key, toasts in by_account.items():
            handle = self.workers.get(key)
            if handle is not None:
                handle.worker.toasts_handed_over(toasts)
        self.refresh_ui()

    @Slot(str, str)
    def _on_toast_action(self, key: str, action: str) -> None:
        info = self.shown.get(key)
        if info is None:
            return
        if action in ("default", "open"):
            if info.open_url:
                QDesktopServices.openUrl(QUrl(info.open_url))
            else:
                self.open_notifications(info.account_key)
        elif action == "read-conversation":
            handle = self.workers.get(info.account_key)
            if handle is not None:
                handle.worker.mark_conversation_read(key, list(info.notification_ids))
        elif action == "dismiss":
            handle = self.workers.get(info.account_key)
            if handle is not None and info.notification_ids:
                handle.worker.dismiss(key, list(info.notification_ids))
            if self._notifier is not None:
                self._notifier.close(key)

    @Slot(list)
    def _on_read_toasts(self, keys: list[str]) -> None:
        """Read here or in another client: withdraw those toasts."""
        for key in keys:
            if self.shown.pop(key, None) is not None and self._notifier is not None:
                self._notifier.close(key)
        self.refresh_ui()

    @Slot(str)
    def mark_all_read(self, key: str = "") -> None:
        for k, h in self.workers.items():
            if not key or k == key:
                h.worker.mark_all_read()

    @Slot(str, int)
    def _on_toast_closed(self, key: str, _reason: int) -> None:
        self.shown.pop(key, None)

    @Slot(str, str)
    def _on_dismiss_failed(self, _key: str, message: str) -> None:
        self._warn(f"Could not dismiss the notification on the server: {message}")

    # -- Web Push --------------------------------------------------------------------------

    def _ensure_listener(self) -> PushListener | None:
        """Start the push listener (once) where the settings say; None when it cannot run."""
        if self.listener is not None:
            return self.listener
        from tootbell.delivery.listener import ListenerError, PushListener

        host, _, port = self.config.settings.push_listen.rpartition(":")
        listener = PushListener(
            host.strip("[]") or "127.0.0.1", int(port or 0), on_push=self._listener_push
        )
        try:
            listener.start()
        except ListenerError as e:
            self.listener_error = e.message
            log.warning("push listener: %s", e.message)
            self._warn(e.message)
            return None
        self.listener_error = ""
        self.listener = listener
        log.info("push listener on %s:%d", *listener.address)
        return listener

    def _listener_push(self, account_key: str, payload: PushPayload) -> None:
        """On a listener thread: hand the push to the GUI thread (and note route tests)."""
        from tootbell.delivery.push import is_route_test

        if is_route_test(payload):
            with self._route_lock:
                waiting = self._route_tests.get(payload.notification_id)
            if waiting is not None:
                waiting[1].append(time.monotonic())
                waiting[0].set()
            return
        self.pushArrived.emit(account_key, payload)

    @Slot(str, object)
    def _on_push_arrived(self, account_key: str, payload: PushPayload) -> None:
        handle = self.workers.get(account_key)
        if handle is not None:
            handle.worker.push_received(payload)

    @Slot(str, object)
    def _on_push_route(self, account_key: str, route: PushRoute | None) -> None:
        if account_key not in self.workers:
            return
        if route is None:
            self._routes.pop(account_key, None)
        else:
            self._routes[account_key] = route
        self._apply_routes()

    @Slot()
    def _apply_routes(self) -> None:
        with self._route_lock:
            tests = list(self._route_test_routes.values())
        routes = [*self._routes.values(), *tests]
        if routes and self._ensure_listener() is None:
            return
        if self.listener is not None:
            self.listener.set_routes(routes)
            with self._route_lock:
                self._applied_tokens = {r.path_token for r in routes}

    def route_test(self, acc: AccountConfig) -> RouteTestResult:
        """Settings → Test route (runs off the GUI thread): a push to our own keys through the
        public URL, received by the running listener."""
        from tootbell.delivery.push import (
            PushSetupError,
            RouteTestResult,
            load_or_create_keys,
            make_route_test,
            send_route_test,
        )
        from tootbell.secrets import SecretStoreError

        if self.listener is None and self._ensure_listener_from_thread() is None:
            return RouteTestResult(
                False, f"The push listener is not running: {self.listener_error}"
            )
        from tootbell.config import StateStore

        try:
            state = StateStore(self.paths).load(acc.key)
            keys = load_or_create_keys(acc.key, state, self.secrets)
            test = make_route_test(acc, keys)
        except PushSetupError as e:
            return RouteTestResult(False, e.message)
        except SecretStoreError as e:
            return RouteTestResult(False, e.message)
        event, times = threading.Event(), list[float]()
        with self._route_lock:
            self._route_tests[test.notification_id] = (event, times)
            self._route_test_routes[test.notification_id] = test.route
        self._routesChanged.emit()
        try:
            deadline = time.monotonic() + 5
            while not self._listener_has(test.route) and time.monotonic() < deadline:
                time.sleep(0.02)

            def received(timeout: float) -> float | None:
                return times[0] if event.wait(timeout) and times else None

            return send_route_test(test, received)
        finally:
            with self._route_lock:
                self._route_tests.pop(test.notification_id, None)
                self._route_test_routes.pop(test.notification_id, None)
            self._routesChanged.emit()

    def _listener_has(self, route: PushRoute) -> bool:
        with self._route_lock:
            return self.listener is not None and route.path_token in self._applied_tokens

    def _ensure_listener_from_thread(self) -> PushListener | None:
        self._routesChanged.emit()
        deadline = time.monotonic() + 2
        while self.listener is None and time.monotonic() < deadline and not self.listener_error:
            time.sleep(0.02)
        return self.listener

    # -- status ----------------------------------------------------------------------------------

    @Slot(object)
    def _on_status(self, status: AccountStatus) -> None:
        if status.key not in self.workers:
            return
        self.statuses[status.key] = status
        self.refresh_ui()

    def _on_refresh_timer(self) -> None:
        s = self.config.settings
        if (
            s.pause_until is not None
            and s.pause_until != float("inf")
            and time.time() >= s.pause_until
        ):
            self.apply_settings(replace(s, pause_until=None))
        self.refresh_ui()

    def _warn(self, message: str) -> None:
        if self.tray is not None and QSystemTrayIcon.supportsMessages():
            self.tray.icon.showMessage(APP_NAME, message, QSystemTrayIcon.MessageIcon.Warning)
        else:
            log.warning("%s", message)

    def _check_keyring_async(self) -> None:
        def run() -> None:
            try:
                status = self.secrets.check()
            except Exception as e:  # keep the app alive whatever the backend does
                log.warning("keyring check failed: %s", type(e).__name__)
                return
            self.keyringChecked.emit(status)

        self.keyringChecked.connect(self._on_keyring_checked)
        threading.Thread(target=run, name="keyring-check", daemon=True).start()

    @Slot(object)
    def _on_keyring_checked(self, status: object) -> None:
        ok = getattr(status, "ok", True)
        if not ok:
            msg = getattr(status, "message", "No secure keyring is available.")
            log.warning("keyring: %s", msg)
            box = QMessageBox(
                QMessageBox.Icon.Warning,
                f"{APP_NAME}: keyring problem",
                msg,
                QMessageBox.StandardButton.Ok,
                self._parent_widget(),
            )
            box.setModal(False)
            box.show()
            self._keyring_box = box

    def _watch_network(self) -> None:
        try:
            from PySide6.QtNetwork import QNetworkInformation

            if not QNetworkInformation.loadDefaultBackend():
                return
            info = QNetworkInformation.instance()
            if info is None:
                return
            info.reachabilityChanged.connect(self._on_reachability)
        except (ImportError, RuntimeError):
            return

    @Slot(object)
    def _on_reachability(self, reach: object) -> None:
        from PySide6.QtNetwork import QNetworkInformation

        online = reach == QNetworkInformation.Reachability.Online
        if online and self._was_online is False:
            log.info("network is back; checking now")
            self.check_now()
        self._was_online = online

    # -- single instance -------------------------------------------------------------------------

    def _listen_single_instance(self) -> None:
        name = instance_name(self.paths)
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(name):
            QLocalServer.removeServer(name)  # a stale socket left by a crash
            server.listen(name)
        server.newConnection.connect(self._on_second_instance)
        self._server = server

    def _on_second_instance(self) -> None:
        assert self._server is not None
        conn = self._server.nextPendingConnection()
        if conn is None:
            return
        conn.disconnected.connect(conn.deleteLater)
        conn.readyRead.connect(lambda c=conn: self._on_instance_command(c))

    def _on_instance_command(self, conn: QLocalSocket) -> None:
        if not conn.canReadLine():
            return
        line = bytes(conn.readLine().data()).decode(errors="replace").strip()
        command, _, arg = line.partition(" ")
        if command == "activate":
            log.info("another launch asked this instance to come forward")
            self.bring_forward()
        elif command == "reload":
            log.info("the command line changed the configuration; reloading")
            self.reload_config()
        elif command == "push-test":
            self._push_test_for(conn, arg)
        elif command == "status":
            import json

            from tootbell import __version__

            answer = {
                "state": "running" if self._is_running else "starting",
                "version": __version__,
                "accounts": len(self.config.accounts),
                "demo": self.demo,
            }
            self._on_instance_answer(conn, json.dumps(answer))

    def _push_test_for(self, conn: QLocalSocket, key: str) -> None:
        """`tootbell push test` while the app runs: test through the running listener."""
        import json

        acc = self.config.account(key)
        if acc is None:
            conn.write(json.dumps({"ok": False, "message": f"No account {key}."}).encode() + b"\n")
            return

        def run() -> None:
            r = self.route_test(acc)
            self._instanceAnswer.emit(conn, json.dumps({"ok": r.ok, "message": r.message}))

        threading.Thread(target=run, name="push-route-test", daemon=True).start()

    @Slot(object, str)
    def _on_instance_answer(self, conn: QLocalSocket, text: str) -> None:
        if conn.state() == QLocalSocket.LocalSocketState.ConnectedState:
            conn.write(text.encode() + b"\n")
            conn.flush()

    def reload_config(self) -> None:
        """Pick up what the command line changed: restart the workers whose account changed."""
        new = load_config(self.paths)
        old = self.config
        self.config = new
        for acc in old.accounts:
            if new.account(acc.key) is None:
                self._stop_worker(acc.key)
        for acc in new.accounts:
            if old.account(acc.key) != acc or acc.key not in self.workers:
                self._stop_worker(acc.key)
                if acc.enabled:
                    self._start_worker(acc)
        for h in self.workers.values():
            h.worker.update_settings(new.settings)
        self._tell_multi_account()
        self.refresh_ui()

    def bring_forward(self) -> None:
        """What a second launch (a double-click on the launcher) does to the running app."""
        if self.window is not None:
            self.window.show()
            self.window.raise_()
            self.window.activateWindow()
        elif not self.config.accounts:
            QTimer.singleShot(0, self.show_add_account)
        else:
            QTimer.singleShot(0, self.show_settings)

    def _parent_widget(self) -> QWidget | None:
        return self.window

    # -- staged shutdown -------------------------------------------------------------------------

    @Slot()
    def quit(self) -> None:
        self.shutdown()
        self.qapp.quit()

    def shutdown(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._refresh.stop()
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        # Staged: ask every worker to stop, then wait for each (bounded), never terminate().
        handles = [*self.workers.values(), *self._retiring]
        self.workers.clear()
        for h in handles:
            h.worker.request_stop()
        for h in handles:
            h.stop()
        self._retiring.clear()
        if self._notifier is not None:
            self._notifier.stop()
        if self._server is not None:
            self._server.close()
        if self.demo_server is not None:
            self.demo_server.stop()
        if self.tray is not None:
            self.tray.hide()
        if self._demo_dir is not None:
            with contextlib.suppress(OSError):
                self._demo_dir.cleanup()


def _free_loopback_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _real_secrets() -> SecretStore:
    from tootbell.secrets import SecretStore

    return SecretStore()


def _demo_secrets() -> SecretStore:
    from tootbell.demo.memory_keyring import MemoryKeyring
    from tootbell.secrets import SecretStore

    return SecretStore(backend=MemoryKeyring())
