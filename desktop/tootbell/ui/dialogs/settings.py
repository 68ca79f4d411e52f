"""The settings dialog: accounts, which notifications to show and how often, start at login,
do not disturb, and Web Push.

``SettingsDialog.edit()`` returns a :class:`SettingsResult`; the caller saves the settings and
the accounts' push choices, signs out the removed accounts and, when asked, starts adding one.
Start at login is no setting of Tootbell's own: the dialog reads the platform's entry and
changes it itself when the person presses OK. The push route test blocks on the network, so it
runs on a thread of its own.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

from PySide6.QtCore import QCoreApplication, QObject, QSize, Qt, QTime, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QFocusEvent,
    QKeySequence,
    QResizeEvent,
    QShowEvent,
    QValidator,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTabWidget,
    QTimeEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tootbell import autostart as autostart_mod
from tootbell.autostart import Autostart, AutostartError
from tootbell.config import NOTIFICATION_TYPES, AccountConfig, QuietHours, Settings
from tootbell.delivery.push import PushSetupError, RouteTestResult, check_public_url
from tootbell.ui.tones import set_tone as _set_tone

log = logging.getLogger(__name__)

TYPE_LABELS: dict[str, str] = {
    "mention": "Mentions and direct messages",
    "status": "New posts from people you follow",
    "reblog": "Boosts",
    "favourite": "Favourites",
    "follow": "New followers",
    "follow_request": "Follow requests",
    "poll": "Polls ending",
    "update": "Edits of posts you boosted",
    "quote": "Quotes",
    "admin.sign_up": "New sign-ups (admins)",
    "admin.report": "New reports (admins)",
    "severed_relationships": "Severed relationships",
    "moderation_warning": "Moderation warnings",
    "other": "Other notifications",
}

MIN_POLL_S = 15
MAX_POLL_S = 60 * 60
# What the arrows and Page Up/Down step through; typed values in between are kept.
POLL_STEPS: tuple[int, ...] = (
    15,
    20,
    30,
    45,
    60,
    90,
    120,
    180,
    300,
    600,
    900,
    1200,
    1800,
    2700,
    3600,
)

_TIME_FORMAT = "HH:mm"

# Whose notifications the server pushes (Settings.push_policy), as the person reads them.
PUSH_POLICY_LABELS: dict[str, str] = {
    "all": "Everyone",
    "followed": "People I follow",
    "follower": "My followers",
    "none": "Nobody",
}
MIN_CATCHUP_MIN = 1
MAX_CATCHUP_MIN = 60
PUBLIC_URL_PLACEHOLDER = "https://push.example.org/tootbell"

RouteTestFn = Callable[[AccountConfig], RouteTestResult]


@dataclass(frozen=True)
class SettingsResult:
    settings: Settings
    remove_accounts: tuple[str, ...]  # AccountConfig.key of each account to sign out
    add_account: bool  # the person asked to add an account: start the add-account dialog
    # The accounts still listed, in order, with their edited ``delivery`` and
    # ``push_public_url``; unchanged ones are the very objects passed in. Apply them by key.
    accounts: tuple[AccountConfig, ...] = ()


def type_label(ntype: str) -> str:
    return TYPE_LABELS.get(ntype) or ntype.replace("_", " ").replace(".", ": ").capitalize()


# --------------------------------------------------------------------------- interval


def format_interval(seconds: int) -> str:
    """``45`` -> "45 s", ``60`` -> "1 min", ``90`` -> "1 min 30 s"."""
    minutes, secs = divmod(seconds, 60)
    if not minutes:
        return f"{secs} s"
    return f"{minutes} min" if not secs else f"{minutes} min {secs} s"


_INTERVAL_RE = re.compile(
    r"^\s*(?:(?P<m>\d+)\s*m(?:in(?:ute)?s?)?)?\s*(?:(?P<s>\d+)\s*(?:s(?:ec(?:ond)?s?)?)?)?\s*$",
    re.IGNORECASE,
)
_INTERVAL_PARTIAL_RE = re.compile(r"^[\d\sa-z]*$", re.IGNORECASE)


def parse_interval(text: str) -> int | None:
    """Seconds from "90", "90 s", "2 min", "1 min 30 s" or "1m30s"; None if unreadable.

    A bare number is seconds, like the unit the setting is kept in.
    """
    match = _INTERVAL_RE.match(text)
    if not match or (match["m"] is None and match["s"] is None):
        return None
    return int(match["m"] or 0) * 60 + int(match["s"] or 0)


class IntervalSpinBox(QSpinBox):
    """A number of seconds shown as "45 s" or "5 min", stepping through sensible values."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(MIN_POLL_S, MAX_POLL_S)
        self.setAccelerated(True)

    def textFromValue(self, val: int, /) -> str:
        return format_interval(val)

    def valueFromText(self, text: str, /) -> int:
        seconds = parse_interval(text)
        if seconds is None:
            return self.value()
        return max(self.minimum(), min(seconds, self.maximum()))

    def validate(self, input: str, pos: int, /) -> tuple[QValidator.State, str, int]:
        seconds = parse_interval(input)
        if seconds is not None and self.minimum() <= seconds <= self.maximum():
            return QValidator.State.Acceptable, input, pos
        if _INTERVAL_PARTIAL_RE.match(input):
            return QValidator.State.Intermediate, input, pos
        return QValidator.State.Invalid, input, pos

    def fixup(self, input: str, /) -> str:
        # Readable but out of range: the nearest allowed value. Unreadable: the current one.
        seconds = parse_interval(input)
        if seconds is None:
            return self.textFromValue(self.value())
        return self.textFromValue(max(self.minimum(), min(seconds, self.maximum())))

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        # Reached with its mnemonic: select the value so that typing replaces it, as Tab does.
        if event.reason() == Qt.FocusReason.ShortcutFocusReason:
            self.selectAll()

    def stepBy(self, steps: int, /) -> None:
        value = self.value()
        if steps > 0:
            larger = [s for s in POLL_STEPS if s > value]
            index = min(steps - 1, len(larger) - 1)
            target = larger[index] if larger else self.maximum()
        elif steps < 0:
            smaller = [s for s in POLL_STEPS if s < value]
            index = max(len(smaller) + steps, 0)
            target = smaller[index] if smaller else self.minimum()
        else:
            return
        self.setValue(target)
        self.selectAll()


# --------------------------------------------------------------------------- dialog


def _server_name(base_url: str) -> str:
    return urlsplit(base_url).netloc or base_url


def _time_from_text(text: str, fallback: str) -> QTime:
    t = QTime.fromString(text, _TIME_FORMAT)
    return t if t.isValid() else QTime.fromString(fallback, _TIME_FORMAT)


def listen_error(text: str) -> str | None:
    """Why ``text`` is not a ``host:port`` the push listener can bind, or None if it is."""
    host, colon, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not colon or not host or any(c.isspace() for c in host):
        return "Enter an address and port, such as 127.0.0.1:8765."
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        return "The port must be a number from 1 to 65535."
    return None


def public_url_error(text: str, *, required: bool) -> str | None:
    """Why ``text`` cannot be the account's public push URL, or None if it can.

    Empty is fine while the account does not use push (``required`` is False).
    """
    if not text.strip():
        return "Enter the https:// address of your relay or tunnel." if required else None
    try:
        check_public_url(text)
    except PushSetupError as e:
        return e.message
    return None


class _WrappedLabel(QLabel):
    """Plain text, word-wrapped, claiming the height its text needs at its current width.

    A tab page's layout is not asked for height-for-width, so a wrapped label whose text
    grows after the dialog was sized would otherwise be cut off.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)

    def show_text(self, text: str) -> None:
        """Show ``text``; hide the label when it is empty."""
        self.setText(text)
        self.setVisible(bool(text))
        self._claim_height()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._claim_height()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._claim_height()

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        needed = self._needed_height()
        if needed:
            hint.setHeight(needed)
        return hint

    def _needed_height(self) -> int:
        # Until it is shown, the label's width is not the one its layout will give it.
        if not self.isVisible() or not self.text():
            return 0
        return max(self.heightForWidth(self.width()), 0)

    def _claim_height(self) -> None:
        needed = self._needed_height()
        if needed != self.minimumHeight():
            self.setMinimumHeight(needed)


# --------------------------------------------------------------------------- push route test


class _RouteTestRelay(QObject):
    """Carries a route test's result from its thread to the GUI thread, where it lives.

    Owned by the application rather than the dialog, so the test thread can still report after
    the dialog is gone; it deletes itself (on the GUI thread) once it has delivered.
    """

    finished = Signal(str, object)  # account key, RouteTestResult

    @Slot(str, object)
    def release(self, _key: str, _result: object) -> None:
        self.deleteLater()


def _run_route_test(
    route_test: RouteTestFn, account: AccountConfig, relay: _RouteTestRelay
) -> None:
    """On the test thread: run the blocking test and report through ``relay``."""
    try:
        result = route_test(account)
    except Exception as e:
        log.warning("Route test for %s failed: %s: %s", account.key, type(e).__name__, e)
        result = RouteTestResult(False, f"The test could not run: {e}")
    try:
        relay.finished.emit(account.key, result)
    except RuntimeError:  # the application is shutting down and took the relay with it
        log.debug("Route test for %s finished after shutdown", account.key)


@dataclass
class _PushEdit:
    """One account's push choices as the dialog shows them, and its last route test."""

    enabled: bool
    url: str
    result: RouteTestResult | None = None
    tested_at: float | None = None


class SettingsDialog(QDialog):
    """Tootbell Settings. Use :meth:`edit`; the constructor is for tests and embedding."""

    def __init__(
        self,
        parent: QWidget | None,
        settings: Settings,
        accounts: Sequence[AccountConfig],
        *,
        account_status: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        route_test: RouteTestFn | None = None,
        autostart: Autostart | None = None,
        demo: bool = False,
    ) -> None:
        """``autostart`` defaults to this platform's; the demo never offers start at login."""
        super().__init__(parent)
        self._settings = settings
        self._accounts = tuple(accounts)
        self._account_status = dict(account_status or {})
        self._clock = clock
        self._route_test = route_test
        self._push_edits = {
            acc.key: _PushEdit(acc.delivery == "push", acc.push_public_url) for acc in accounts
        }
        self._push_shown: str | None = None  # the account whose choices the Push tab shows
        self._testing: str | None = None  # the account whose route test is running
        self._testing_url = ""  # and the address it tests
        self._removed: list[str] = []
        self._add_account = False
        self._pause_until = settings.pause_until
        self._result: SettingsResult | None = None
        # Start at login: None where it is not offered (the demo; a Flatpak sandbox).
        self._autostart = (
            None if demo else autostart if autostart is not None else autostart_mod.default()
        )
        self._autostart_was: bool | None = None  # as read when the dialog opened

        self.setWindowTitle("Tootbell Settings")
        self.setObjectName("settingsDialog")

        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._build_accounts_tab(), "&Accounts")
        self.tabs.addTab(self._build_notifications_tab(), "&Notifications")
        self.tabs.addTab(self._build_quiet_tab(), "&Do not disturb")
        self.push_page = self._build_push_tab()
        self.tabs.addTab(self.push_page, "&Push")

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.buttons)

        self._load(settings)
        self._set_tab_order()
        self.resize(self.sizeHint().expandedTo(QSize(540, 420)))

    # ----------------------------------------------------------------- building

    def _build_accounts_tab(self) -> QWidget:
        page = QWidget()
        self.account_list = QTreeWidget(page)
        self.account_list.setObjectName("accountList")
        self.account_list.setHeaderLabels(["Account", "Server", "Status"])
        self.account_list.setRootIsDecorated(False)
        self.account_list.setUniformRowHeights(True)
        self.account_list.setAllColumnsShowFocus(True)
        self.account_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.account_list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        for acc in self._accounts:
            item = QTreeWidgetItem(
                [f"@{acc.handle}", _server_name(acc.base_url), self._status_text(acc)]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, acc.key)
            if acc.display_name:
                item.setToolTip(0, acc.display_name)
            self.account_list.addTopLevelItem(item)
        self.account_list.itemSelectionChanged.connect(self._update_account_buttons)

        remove_key = QAction("Remove", self.account_list)
        remove_key.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        remove_key.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        remove_key.triggered.connect(self._on_remove)
        self.account_list.addAction(remove_key)

        self.add_button = QPushButton("Add a&ccount…", page)
        self.add_button.setObjectName("addAccountButton")
        self.add_button.setAutoDefault(False)
        self.add_button.clicked.connect(self._on_add_account)
        self.remove_button = QPushButton("&Remove", page)
        self.remove_button.setObjectName("removeAccountButton")
        self.remove_button.setAutoDefault(False)
        self.remove_button.clicked.connect(self._on_remove)

        self.no_accounts_label = QLabel(
            "No accounts yet. Add one to get notifications from your server.", page
        )
        self.no_accounts_label.setWordWrap(True)

        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)

        layout = QVBoxLayout(page)
        layout.addWidget(self.account_list, 1)
        layout.addWidget(self.no_accounts_label)
        layout.addLayout(row)

        first = self.account_list.topLevelItem(0)
        if first is not None:
            self.account_list.setCurrentItem(first)
        self._update_account_buttons()
        return page

    def _build_notifications_tab(self) -> QWidget:
        page = QWidget()
        self.poll_interval = IntervalSpinBox(page)
        self.poll_interval.setObjectName("pollInterval")
        self.poll_interval.setToolTip(
            "How often Tootbell asks your server for new notifications (15 s to 60 min)."
        )
        form = QFormLayout()
        form.addRow("Check for new notifications &every:", self.poll_interval)

        group = QGroupBox("Notify me about", page)
        grid = QGridLayout(group)
        self.type_boxes: dict[str, QCheckBox] = {}
        per_column = (len(NOTIFICATION_TYPES) + 1) // 2
        for i, ntype in enumerate(NOTIFICATION_TYPES):
            box = QCheckBox(type_label(ntype), group)
            box.setObjectName(f"type:{ntype}")
            self.type_boxes[ntype] = box
            grid.addWidget(box, i % per_column, i // per_column)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)

        self.show_avatars = QCheckBox("Show people's a&vatars in notifications", page)
        self.show_avatars.setObjectName("showAvatars")

        self.start_at_login = QCheckBox("&Start Tootbell when I log in", page)
        self.start_at_login.setObjectName("startAtLogin")
        self.start_at_login.setToolTip("Changed when you press OK.")
        self.start_at_login_error = _WrappedLabel(page)
        self.start_at_login_error.setObjectName("startAtLoginError")
        _set_tone(self.start_at_login_error, "error")
        self.start_at_login_error.setVisible(False)

        layout = QVBoxLayout(page)
        layout.addLayout(form)
        layout.addWidget(group)
        layout.addWidget(self.show_avatars)
        layout.addWidget(self.start_at_login)
        layout.addWidget(self.start_at_login_error)
        layout.addStretch(1)
        return page

    def _build_quiet_tab(self) -> QWidget:
        page = QWidget()

        quiet = QGroupBox("Quiet hours", page)
        self.quiet_enabled = QCheckBox("&Quiet hours every day", quiet)
        self.quiet_enabled.setObjectName("quietEnabled")
        self.quiet_start = QTimeEdit(quiet)
        self.quiet_start.setObjectName("quietStart")
        self.quiet_end = QTimeEdit(quiet)
        self.quiet_end.setObjectName("quietEnd")
        for edit in (self.quiet_start, self.quiet_end):
            edit.setDisplayFormat(_TIME_FORMAT)
            edit.setWrapping(True)
        start_label = QLabel("&From", quiet)
        start_label.setBuddy(self.quiet_start)
        end_label = QLabel("&to", quiet)
        end_label.setBuddy(self.quiet_end)
        self.quiet_enabled.toggled.connect(self.quiet_start.setEnabled)
        self.quiet_enabled.toggled.connect(self.quiet_end.setEnabled)

        times = QHBoxLayout()
        times.addWidget(start_label)
        times.addWidget(self.quiet_start)
        times.addWidget(end_label)
        times.addWidget(self.quiet_end)
        times.addStretch(1)
        explain = QLabel(
            "During quiet hours Tootbell shows no notifications. When they end, one "
            "notification sums up what arrived.",
            quiet,
        )
        explain.setWordWrap(True)
        quiet_layout = QVBoxLayout(quiet)
        quiet_layout.addWidget(self.quiet_enabled)
        quiet_layout.addLayout(times)
        quiet_layout.addWidget(explain)

        pause = QGroupBox("Pause", page)
        self.pause_status = QLabel(pause)
        self.pause_status.setObjectName("pauseStatus")
        self.pause_status.setWordWrap(True)
        self.resume_button = QPushButton("Res&ume now", pause)
        self.resume_button.setObjectName("resumeButton")
        self.resume_button.setAutoDefault(False)
        self.resume_button.clicked.connect(self._on_resume)
        pause_hint = QLabel("To pause notifications, use the Tootbell menu in the tray.", pause)
        pause_hint.setWordWrap(True)
        pause_row = QHBoxLayout()
        pause_row.addWidget(self.pause_status, 1)
        pause_row.addWidget(self.resume_button)
        pause_layout = QVBoxLayout(pause)
        pause_layout.addLayout(pause_row)
        pause_layout.addWidget(pause_hint)

        layout = QVBoxLayout(page)
        layout.addWidget(quiet)
        layout.addWidget(pause)
        layout.addStretch(1)
        return page

    def _build_push_tab(self) -> QWidget:
        page = QWidget()
        self.push_explain = _WrappedLabel(page)
        self.push_explain.setObjectName("pushExplain")

        self.push_no_accounts = QLabel(
            "No accounts yet. Add one first: Web Push is set up for each account.", page
        )
        self.push_no_accounts.setObjectName("pushNoAccounts")
        self.push_no_accounts.setWordWrap(True)

        account_group = QGroupBox("Each account", page)
        self.push_account = QComboBox(account_group)
        self.push_account.setObjectName("pushAccount")
        for acc in self._accounts:
            self.push_account.addItem(f"@{acc.handle}", acc.key)
        account_label = QLabel("A&ccount:", account_group)
        account_label.setBuddy(self.push_account)

        self.push_enabled = QCheckBox("Use &Web Push for this account", account_group)
        self.push_enabled.setObjectName("pushEnabled")

        self.push_url = QLineEdit(account_group)
        self.push_url.setObjectName("pushUrl")
        self.push_url.setPlaceholderText(PUBLIC_URL_PLACEHOLDER)
        self.push_url.setClearButtonEnabled(True)
        self.push_url.setToolTip(
            "The public https:// address of your relay or tunnel. It must forward to the "
            "listen address below."
        )
        url_label = QLabel("Public &URL:", account_group)
        url_label.setBuddy(self.push_url)
        self.push_url_error = _WrappedLabel(account_group)
        self.push_url_error.setObjectName("pushUrlError")
        _set_tone(self.push_url_error, "error")
        self.push_url_error.setVisible(False)

        self.test_button = QPushButton("&Test route", account_group)
        self.test_button.setObjectName("testRouteButton")
        self.test_button.setAutoDefault(False)
        self.test_button.setToolTip(
            "Send a test push through the public URL and check that the listener receives it."
        )
        self.test_busy = QProgressBar(account_group)
        self.test_busy.setObjectName("testBusy")
        self.test_busy.setRange(0, 0)
        self.test_busy.setTextVisible(False)
        self.test_busy.setMaximumHeight(10)
        self.test_busy.setMaximumWidth(80)
        self.test_busy.setVisible(False)
        self.test_status = _WrappedLabel(account_group)
        self.test_status.setObjectName("testStatus")
        self.test_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.test_status.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_busy)
        test_row.addStretch(1)

        account_form = QFormLayout(account_group)
        account_form.addRow(account_label, self.push_account)
        account_form.addRow("", self.push_enabled)
        account_form.addRow(url_label, self.push_url)
        account_form.addRow("", self.push_url_error)
        account_form.addRow("", test_row)
        account_form.addRow("", self.test_status)

        global_group = QGroupBox("All accounts", page)
        self.push_listen = QLineEdit(global_group)
        self.push_listen.setObjectName("pushListen")
        self.push_listen.setPlaceholderText(Settings.push_listen)
        self.push_listen.setToolTip(
            "The address and port (host:port) Tootbell's listener waits on. Your relay or "
            "tunnel forwards to it."
        )
        listen_label = QLabel("&Listen on:", global_group)
        listen_label.setBuddy(self.push_listen)
        self.push_listen_error = _WrappedLabel(global_group)
        self.push_listen_error.setObjectName("pushListenError")
        _set_tone(self.push_listen_error, "error")
        self.push_listen_error.setVisible(False)

        self.push_catchup = QSpinBox(global_group)
        self.push_catchup.setObjectName("pushCatchup")
        self.push_catchup.setRange(MIN_CATCHUP_MIN, MAX_CATCHUP_MIN)
        self.push_catchup.setSuffix(" min")
        self.push_catchup.setToolTip(
            "How often Tootbell still asks the server for notifications while push is on, "
            "so nothing is lost when a push does not arrive."
        )
        catchup_label = QLabel("Catch-up check &every:", global_group)
        catchup_label.setBuddy(self.push_catchup)

        self.push_policy = QComboBox(global_group)
        self.push_policy.setObjectName("pushPolicy")
        for value, label in PUSH_POLICY_LABELS.items():
            self.push_policy.addItem(label, value)
        self.push_policy.setToolTip(
            "Whose notifications your server pushes. The catch-up check still shows the others."
        )
        policy_label = QLabel("Push notifications &from:", global_group)
        policy_label.setBuddy(self.push_policy)

        global_form = QFormLayout(global_group)
        global_form.addRow(listen_label, self.push_listen)
        global_form.addRow("", self.push_listen_error)
        global_form.addRow(catchup_label, self.push_catchup)
        global_form.addRow(policy_label, self.push_policy)

        for form in (account_form, global_form):
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for combo in (self.push_account, self.push_policy):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)

        layout = QVBoxLayout(page)
        layout.addWidget(self.push_explain)
        layout.addWidget(self.push_no_accounts)
        layout.addWidget(account_group)
        layout.addWidget(global_group)
        layout.addStretch(1)

        self._push_controls: tuple[QWidget, ...] = (account_group, global_group)
        self.push_account.currentIndexChanged.connect(self._on_push_account_changed)
        self.push_enabled.toggled.connect(self._on_push_enabled_toggled)
        self.push_url.textChanged.connect(self._on_push_url_changed)
        self.test_button.clicked.connect(self._on_test_route)
        self.push_listen.textChanged.connect(self._update_listen_error)
        self.push_catchup.valueChanged.connect(self._update_push_explain)
        return page

    def _set_tab_order(self) -> None:
        chain: list[QWidget] = [
            self.account_list,
            self.add_button,
            self.remove_button,
            self.poll_interval,
            *self.type_boxes.values(),
            self.show_avatars,
            self.start_at_login,
            self.quiet_enabled,
            self.quiet_start,
            self.quiet_end,
            self.resume_button,
            self.push_account,
            self.push_enabled,
            self.push_url,
            self.test_button,
            self.push_listen,
            self.push_catchup,
            self.push_policy,
        ]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _load(self, settings: Settings) -> None:
        self.poll_interval.setValue(settings.poll_interval_s)
        for ntype, box in self.type_boxes.items():
            box.setChecked(settings.types.get(ntype, True))
        self.show_avatars.setChecked(settings.show_avatars)
        self._load_start_at_login()
        qh = settings.quiet_hours
        self.quiet_enabled.setChecked(qh.enabled)
        self.quiet_start.setTime(_time_from_text(qh.start, QuietHours.start))
        self.quiet_end.setTime(_time_from_text(qh.end, QuietHours.end))
        self.quiet_start.setEnabled(qh.enabled)
        self.quiet_end.setEnabled(qh.enabled)
        self._update_pause_status()
        self.push_listen.setText(settings.push_listen)
        self._catchup_shown = max(
            MIN_CATCHUP_MIN, min(round(settings.push_catchup_s / 60), MAX_CATCHUP_MIN)
        )
        self.push_catchup.setValue(self._catchup_shown)
        policy = self.push_policy.findData(settings.push_policy)
        if policy < 0:  # a value this version has no words for: keep it, as it is
            self.push_policy.addItem(settings.push_policy, settings.push_policy)
            policy = self.push_policy.count() - 1
        self.push_policy.setCurrentIndex(policy)
        self._update_listen_error()
        self._update_push_explain()
        self._show_push_account()

    def _load_start_at_login(self) -> None:
        """Read the real entry (a file or registry read: quick enough for the GUI thread)."""
        if self._autostart is None:
            self.start_at_login.setVisible(False)
            return
        try:
            self._autostart_was = self._autostart.current()
        except AutostartError as e:
            log.warning("Cannot read start at login: %s", e.message)
            self.start_at_login.setEnabled(False)
            self.start_at_login_error.show_text(e.message)
            return
        self.start_at_login.setChecked(self._autostart_was)

    # ----------------------------------------------------------------- state

    def _status_text(self, acc: AccountConfig) -> str:
        status = self._account_status.get(acc.key)
        if status:
            return status
        return "Turned off" if not acc.enabled else "—"

    def _selected_key(self) -> str | None:
        item = self.account_list.currentItem()
        if item is None or not item.isSelected():
            return None
        key = item.data(0, Qt.ItemDataRole.UserRole)
        return key if isinstance(key, str) else None

    @Slot()
    def _update_account_buttons(self) -> None:
        self.remove_button.setEnabled(self._selected_key() is not None)
        empty = self.account_list.topLevelItemCount() == 0
        self.no_accounts_label.setVisible(empty)

    def _update_pause_status(self) -> None:
        now = self._clock()
        until = self._pause_until
        if until is None or now >= until:
            text, paused = "Notifications are on.", False
        elif until == float("inf"):
            text, paused = "Paused until you resume.", True
        else:
            end = datetime.fromtimestamp(until)
            same_day = end.date() == datetime.fromtimestamp(now).date()
            when = end.strftime("%H:%M") if same_day else end.strftime("%a %d %b, %H:%M")
            text, paused = f"Paused until {when}.", True
        self.pause_status.setText(text)
        self.resume_button.setEnabled(paused)

    # ----------------------------------------------------------------- push state

    def _push_key(self) -> str | None:
        key = self.push_account.currentData()
        return key if isinstance(key, str) and key in self._push_edits else None

    def _show_push_account(self) -> None:
        """Show the chosen account's push choices (or that there is no account to choose)."""
        key = self._push_key()
        self._push_shown = None  # no edits are recorded while the widgets are filled in
        empty = key is None
        self.push_no_accounts.setVisible(empty)
        for widget in self._push_controls:
            widget.setEnabled(not empty)
        edit = self._push_edits.get(key) if key is not None else None
        self.push_enabled.setChecked(edit.enabled if edit else False)
        self.push_url.setText(edit.url if edit else "")
        self._push_shown = key
        self._update_url_error()
        self._update_test_status()

    def _current_url_error(self) -> str | None:
        return public_url_error(self.push_url.text(), required=self.push_enabled.isChecked())

    def _update_url_error(self) -> None:
        error = self._current_url_error()
        self.push_url_error.show_text(error or "")
        self._update_test_button()

    def _update_test_button(self) -> None:
        url_ok = bool(self.push_url.text().strip()) and self._current_url_error() is None
        self.test_button.setEnabled(
            self._route_test is not None
            and self._push_shown is not None
            and self._testing is None
            and url_ok
        )

    def _update_test_status(self) -> None:
        key = self._push_shown
        running = key is not None and key == self._testing
        self.test_busy.setVisible(running)
        edit = self._push_edits.get(key) if key is not None else None
        if running:
            _set_tone(self.test_status, "")
            self.test_status.show_text(f"Sending a test push through {self._testing_url}…")
        elif edit is not None and edit.result is not None and edit.tested_at is not None:
            when = datetime.fromtimestamp(edit.tested_at).strftime("%H:%M:%S")
            _set_tone(self.test_status, "ok" if edit.result.ok else "error")
            self.test_status.show_text(f"{when}: {edit.result.message}")
        else:
            _set_tone(self.test_status, "")
            self.test_status.show_text("")

    @Slot()
    def _update_listen_error(self) -> None:
        error = listen_error(self.push_listen.text())
        self.push_listen_error.show_text(error or "")

    @Slot()
    def _update_push_explain(self) -> None:
        self.push_explain.show_text(
            "Web Push delivers notifications the moment they happen, instead of checking every "
            "minute. Mastodon only pushes to a public HTTPS address, so you need a relay or "
            "tunnel you control (your own reverse proxy, or a tunnel such as Cloudflare Tunnel, "
            "Tailscale Funnel or ngrok) that forwards https://your-relay/… to Tootbell's "
            "listener at the listen address below. Tootbell keeps checking slowly (every "
            f"{self.push_catchup.value()} min), so a broken route loses nothing."
        )

    @Slot(int)
    def _on_push_account_changed(self, _index: int) -> None:
        self._show_push_account()

    @Slot(bool)
    def _on_push_enabled_toggled(self, on: bool) -> None:
        key = self._push_shown
        if key is not None:
            self._push_edits[key].enabled = on
        self._update_url_error()

    @Slot(str)
    def _on_push_url_changed(self, text: str) -> None:
        key = self._push_shown
        if key is not None:
            edit = self._push_edits[key]
            if text != edit.url:
                edit.url = text
                edit.result = edit.tested_at = None  # that test was of another address
                self._update_test_status()
        self._update_url_error()

    def _forget_push_account(self, key: str) -> None:
        self._push_edits.pop(key, None)
        index = self.push_account.findData(key)
        if index >= 0:
            self.push_account.removeItem(index)  # shows the next account, if any
        if self.push_account.count() == 0:
            self._show_push_account()

    def accounts_value(self) -> tuple[AccountConfig, ...]:
        """The accounts still listed, with the push choices the dialog shows now."""
        accounts: list[AccountConfig] = []
        for acc in self._accounts:
            edit = self._push_edits.get(acc.key)
            if edit is None:
                continue  # marked for removal
            was_push = acc.delivery == "push"
            if edit.enabled == was_push and edit.url == acc.push_public_url:
                accounts.append(acc)
                continue
            try:
                url = check_public_url(edit.url) if edit.url.strip() else ""
            except PushSetupError:
                url = edit.url.strip()  # only possible while push is off; kept as typed
            delivery = "push" if edit.enabled else ("poll" if was_push else acc.delivery)
            accounts.append(replace(acc, delivery=delivery, push_public_url=url))
        return tuple(accounts)

    def _push_problem(self) -> tuple[str | None, QWidget] | None:
        """The first push field that keeps the dialog from closing: (account key, widget)."""
        for acc in self._accounts:
            edit = self._push_edits.get(acc.key)
            if edit is not None and edit.enabled and public_url_error(edit.url, required=True):
                return acc.key, self.push_url
        listen = self.push_listen.text()
        if listen != self._settings.push_listen and listen_error(listen):
            return None, self.push_listen
        return None

    def settings_value(self) -> Settings:
        """The settings as the dialog shows them now."""
        types = dict(self._settings.types)
        types.update({t: box.isChecked() for t, box in self.type_boxes.items()})
        quiet = QuietHours(
            enabled=self.quiet_enabled.isChecked(),
            start=self.quiet_start.time().toString(_TIME_FORMAT),
            end=self.quiet_end.time().toString(_TIME_FORMAT),
        )
        listen = self.push_listen.text().strip()
        if listen_error(listen) is not None:
            listen = self._settings.push_listen
        catchup = self._settings.push_catchup_s
        if self.push_catchup.value() != self._catchup_shown:
            catchup = self.push_catchup.value() * 60
        policy = self.push_policy.currentData()
        return replace(
            self._settings,
            poll_interval_s=self.poll_interval.value(),
            types=types,
            quiet_hours=quiet,
            pause_until=self._pause_until,
            show_avatars=self.show_avatars.isChecked(),
            push_listen=listen,
            push_catchup_s=catchup,
            push_policy=policy if isinstance(policy, str) else self._settings.push_policy,
        )

    def _apply_start_at_login(self) -> None:
        """Switch start at login as the box says; a failure is said in words, nothing more."""
        autostart, was = self._autostart, self._autostart_was
        wanted = self.start_at_login.isChecked()
        if autostart is None or was is None or wanted == was:
            return
        try:
            if wanted:
                autostart.enable(autostart_mod.launch_command())
            else:
                autostart.disable()
        except AutostartError as e:
            log.warning("Start at login: %s", e.message)
            box = QMessageBox(self)
            box.setObjectName("startAtLoginFailed")
            box.setIcon(QMessageBox.Icon.Warning)
            box.setWindowTitle("Start at login")
            box.setText(e.message)
            box.setInformativeText("Your other settings are kept.")
            box.exec()
            box.deleteLater()
            return
        self._autostart_was = wanted

    def result_value(self) -> SettingsResult | None:
        """What the person chose, or None if they cancelled (or the dialog is still open)."""
        return self._result

    # ----------------------------------------------------------------- actions

    @Slot()
    def _on_add_account(self) -> None:
        self._add_account = True
        self.accept()

    @Slot()
    def _on_remove(self) -> None:
        key = self._selected_key()
        if key is None or not self._confirm_remove(key):
            return
        item = self.account_list.currentItem()
        if item is None:
            return
        index = self.account_list.indexOfTopLevelItem(item)
        self.account_list.takeTopLevelItem(index)
        self._removed.append(key)
        self._forget_push_account(key)
        log.info("Account %s marked for removal", key)
        remaining = self.account_list.topLevelItemCount()
        neighbour = self.account_list.topLevelItem(min(index, remaining - 1))
        if neighbour is not None:
            self.account_list.setCurrentItem(neighbour)
            self.account_list.setFocus()
        else:
            self.add_button.setFocus()
        self._update_account_buttons()

    def _confirm_remove(self, key: str) -> bool:
        box = QMessageBox(self)
        box.setObjectName("confirmRemove")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Remove account")
        box.setText(f"Remove {key}? Tootbell signs out and forgets its token.")
        remove = box.addButton("&Remove", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.exec()
        confirmed = box.clickedButton() is remove
        box.deleteLater()
        return confirmed

    @Slot()
    def _on_resume(self) -> None:
        self._pause_until = None
        self._update_pause_status()
        # The button is now disabled; keep keyboard focus on this page.
        self.quiet_enabled.setFocus()

    @Slot()
    def _on_test_route(self) -> None:
        key = self._push_shown
        route_test = self._route_test
        if key is None or route_test is None or self._testing is not None:
            return
        acc = next(a for a in self._accounts if a.key == key)
        try:
            url = check_public_url(self._push_edits[key].url)
        except PushSetupError:
            return
        account = replace(acc, delivery="push", push_public_url=url)
        # The relay lives on the GUI thread; its signal reaches this dialog (if it still exists)
        # through the GUI thread's event loop.
        relay = _RouteTestRelay(QCoreApplication.instance())
        relay.setObjectName("routeTestRelay")
        queued = Qt.ConnectionType.QueuedConnection
        relay.finished.connect(self._on_route_test_done, queued)
        relay.finished.connect(relay.release, queued)
        self._testing, self._testing_url = key, url
        thread = threading.Thread(
            target=_run_route_test,
            args=(route_test, account, relay),
            name="tootbell-route-test",
            daemon=True,  # a test is never worth holding up quitting for
        )
        log.info("Testing the push route of %s", key)
        thread.start()
        self._update_test_button()
        self._update_test_status()

    @Slot(str, object)
    def _on_route_test_done(self, key: str, result: object) -> None:
        tested_url = self._testing_url if key == self._testing else None
        if key == self._testing:
            self._testing, self._testing_url = None, ""
        edit = self._push_edits.get(key)
        # Kept only while the field still holds the address that was tested.
        if edit is not None and isinstance(result, RouteTestResult) and tested_url is not None:
            try:
                current = check_public_url(edit.url)
            except PushSetupError:
                current = None
            if current == tested_url:
                edit.result, edit.tested_at = result, self._clock()
        if isinstance(result, RouteTestResult):
            log.info("Route test of %s: %s", key, "works" if result.ok else result.message)
        self._update_test_button()
        self._update_test_status()

    def is_testing(self) -> bool:
        return self._testing is not None

    def accept(self) -> None:
        problem = self._push_problem()
        if problem is not None:
            key, widget = problem
            if key is not None:
                self.push_account.setCurrentIndex(self.push_account.findData(key))
            self.tabs.setCurrentWidget(self.push_page)
            widget.setFocus(Qt.FocusReason.OtherFocusReason)
            self._add_account = False
            return
        self._result = SettingsResult(
            settings=self.settings_value(),
            remove_accounts=tuple(self._removed),
            add_account=self._add_account,
            accounts=self.accounts_value(),
        )
        self._apply_start_at_login()
        super().accept()

    def reject(self) -> None:
        self._result = None
        super().reject()

    # ----------------------------------------------------------------- entry point

    @classmethod
    def edit(
        cls,
        parent: QWidget | None,
        settings: Settings,
        accounts: Sequence[AccountConfig],
        *,
        account_status: Mapping[str, str] | None = None,
        route_test: RouteTestFn | None = None,
        autostart: Autostart | None = None,
        demo: bool = False,
    ) -> SettingsResult | None:
        """Show the settings; None when the person cancels.

        ``route_test`` sends a test push along an account's public URL and blocks until it
        knows; without it the Test route button stays off. ``autostart`` (default: this
        platform's) is switched on OK; with ``demo`` start at login is not offered.
        """
        dialog = cls(
            parent,
            settings,
            accounts,
            account_status=account_status,
            route_test=route_test,
            autostart=autostart,
            demo=demo,
        )
        try:
            dialog.exec()
            return dialog.result_value()
        finally:
            dialog.deleteLater()
