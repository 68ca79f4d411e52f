"""The settings dialog: accounts, which notifications to show and how often, do not disturb.

``SettingsDialog.edit()`` returns a :class:`SettingsResult`; the caller saves the settings,
signs out the removed accounts and, when asked, starts adding one.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

from PySide6.QtCore import QSize, Qt, QTime, Slot
from PySide6.QtGui import QAction, QFocusEvent, QKeySequence, QValidator
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QTimeEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tootbell.config import NOTIFICATION_TYPES, AccountConfig, QuietHours, Settings

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


@dataclass(frozen=True)
class SettingsResult:
    settings: Settings
    remove_accounts: tuple[str, ...]  # AccountConfig.key of each account to sign out
    add_account: bool  # the person asked to add an account: start the add-account dialog


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
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self._accounts = tuple(accounts)
        self._account_status = dict(account_status or {})
        self._clock = clock
        self._removed: list[str] = []
        self._add_account = False
        self._pause_until = settings.pause_until
        self._result: SettingsResult | None = None

        self.setWindowTitle("Tootbell Settings")
        self.setObjectName("settingsDialog")

        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._build_accounts_tab(), "&Accounts")
        self.tabs.addTab(self._build_notifications_tab(), "&Notifications")
        self.tabs.addTab(self._build_quiet_tab(), "&Do not disturb")

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

        layout = QVBoxLayout(page)
        layout.addLayout(form)
        layout.addWidget(group)
        layout.addWidget(self.show_avatars)
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

    def _set_tab_order(self) -> None:
        chain: list[QWidget] = [
            self.account_list,
            self.add_button,
            self.remove_button,
            self.poll_interval,
            *self.type_boxes.values(),
            self.show_avatars,
            self.quiet_enabled,
            self.quiet_start,
            self.quiet_end,
            self.resume_button,
        ]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _load(self, settings: Settings) -> None:
        self.poll_interval.setValue(settings.poll_interval_s)
        for ntype, box in self.type_boxes.items():
            box.setChecked(settings.types.get(ntype, True))
        self.show_avatars.setChecked(settings.show_avatars)
        qh = settings.quiet_hours
        self.quiet_enabled.setChecked(qh.enabled)
        self.quiet_start.setTime(_time_from_text(qh.start, QuietHours.start))
        self.quiet_end.setTime(_time_from_text(qh.end, QuietHours.end))
        self.quiet_start.setEnabled(qh.enabled)
        self.quiet_end.setEnabled(qh.enabled)
        self._update_pause_status()

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

    def settings_value(self) -> Settings:
        """The settings as the dialog shows them now."""
        types = dict(self._settings.types)
        types.update({t: box.isChecked() for t, box in self.type_boxes.items()})
        quiet = QuietHours(
            enabled=self.quiet_enabled.isChecked(),
            start=self.quiet_start.time().toString(_TIME_FORMAT),
            end=self.quiet_end.time().toString(_TIME_FORMAT),
        )
        return replace(
            self._settings,
            poll_interval_s=self.poll_interval.value(),
            types=types,
            quiet_hours=quiet,
            pause_until=self._pause_until,
            show_avatars=self.show_avatars.isChecked(),
        )

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

    def accept(self) -> None:
        self._result = SettingsResult(
            settings=self.settings_value(),
            remove_accounts=tuple(self._removed),
            add_account=self._add_account,
        )
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
    ) -> SettingsResult | None:
        """Show the settings; None when the person cancels."""
        dialog = cls(parent, settings, accounts, account_status=account_status)
        try:
            dialog.exec()
            return dialog.result_value()
        finally:
            dialog.deleteLater()
