"""The tray: renders state and emits intents. It never touches the network.

Without a system tray, a small window offers the same actions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QObject, Qt, Signal, SignalInstance
from PySide6.QtGui import QAction, QCloseEvent, QIcon
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from tootbell import APP_NAME
from tootbell.ui.icons import TrayState, app_icon, tray_icon
from tootbell.ui.workers import AccountStatus

FOREVER = float("inf")


@dataclass(frozen=True)
class TrayModel:
    statuses: tuple[AccountStatus, ...] = ()
    pause_until: float | None = None
    quiet_now: bool = False
    demo: bool = False

    @property
    def unread(self) -> int:
        return sum(s.unread for s in self.statuses)

    @property
    def paused(self) -> bool:
        return self.pause_until is not None and time.time() < self.pause_until

    @property
    def state(self) -> TrayState:
        if any(s.needs_attention for s in self.statuses):
            return TrayState.ERROR
        if self.paused or self.quiet_now:
            return TrayState.PAUSED
        if self.unread:
            return TrayState.UNREAD
        return TrayState.NORMAL

    def pause_text(self) -> str:
        if self.pause_until is None or not self.paused:
            return "Quiet hours: toasts held until they end" if self.quiet_now else ""
        if self.pause_until == FOREVER:
            return "Paused until you resume"
        return "Paused until " + datetime.fromtimestamp(self.pause_until).strftime("%H:%M")

    def tooltip(self) -> str:
        lines = [APP_NAME + (" (demo)" if self.demo else "")]
        if not self.statuses:
            lines.append("No account yet: choose Add account…")
        for s in self.statuses:
            unread = f" · {s.unread} unread" if s.unread else ""
            lines.append(f"{s.key}: {s.text}{unread}")
        p = self.pause_text()
        if p:
            lines.append(p)
        return "\n".join(lines)


def status_text(s: AccountStatus) -> str:
    unread = f" · {s.unread} unread" if s.unread else ""
    return f"{s.text}{unread}"


def status_line(s: AccountStatus) -> str:
    return f"{s.key}: {status_text(s)}"


class TrayIntents(QObject):
    """What a person can ask for from the tray or the fallback window."""

    checkNow = Signal()
    openNotifications = Signal(str)  # account key, "" for the first
    pause = Signal(str)  # "1h", "tomorrow", "forever"
    resume = Signal()
    settings = Signal()
    addAccount = Signal()
    signInAgain = Signal(str)
    markAllRead = Signal(str)  # account key, "" for all
    manageFilters = Signal(str)
    clearNotifications = Signal(str)
    quit = Signal()

    def build_menu(self, menu: QMenu, model: TrayModel) -> None:
        menu.clear()
        for s in model.statuses:
            head = menu.addAction(s.key)
            head.setEnabled(False)
            if s.health == "auth_failed":
                a = menu.addAction("    Sign in again…")
                a.triggered.connect(lambda _=False, k=s.key: self.signInAgain.emit(k))
            else:
                a = menu.addAction("    " + status_text(s))
                a.setEnabled(False)
        if not model.statuses:
            a = menu.addAction("No account yet")
            a.setEnabled(False)
        p = model.pause_text()
        if p:
            a = menu.addAction(p)
            a.setEnabled(False)
        menu.addSeparator()
        check = menu.addAction("&Check now")
        check.setEnabled(bool(model.statuses))
        check.triggered.connect(self.checkNow.emit)
        if len(model.statuses) <= 1:
            op = menu.addAction("&Open notifications")
            op.setEnabled(bool(model.statuses))
            op.triggered.connect(lambda: self.openNotifications.emit(""))
        else:
            sub = menu.addMenu("&Open notifications")
            for s in model.statuses:
                a = sub.addAction(s.key)
                a.triggered.connect(lambda _=False, k=s.key: self.openNotifications.emit(k))
        mark = menu.addAction("&Mark all read")
        mark.setEnabled(model.unread > 0)
        mark.triggered.connect(lambda: self.markAllRead.emit(""))
        self._per_account(menu, model, "Clear &notifications…", self.clearNotifications)
        self._per_account(menu, model, "Manage &filters…", self.manageFilters)
        pause = menu.addMenu("&Pause notifications")
        if model.paused:
            r = pause.addAction("&Resume now")
            r.triggered.connect(self.resume.emit)
            pause.addSeparator()
        for label, what in (
            ("For 1 &hour", "1h"),
            ("Until &tomorrow", "tomorrow"),
            ("Until I &resume", "forever"),
        ):
            a = pause.addAction(label)
            a.triggered.connect(lambda _=False, w=what: self.pause.emit(w))
        menu.addSeparator()
        s_act = menu.addAction("&Settings…")
        s_act.triggered.connect(self.settings.emit)
        add = menu.addAction("&Add account…")
        add.triggered.connect(self.addAccount.emit)
        menu.addSeparator()
        q = menu.addAction("&Quit")
        q.setMenuRole(QAction.MenuRole.QuitRole)
        q.triggered.connect(self.quit.emit)

    @staticmethod
    def _per_account(menu: QMenu, model: TrayModel, label: str, signal: SignalInstance) -> None:
        """One item with one account; a submenu of accounts with several."""
        keys = [s.key for s in model.statuses]
        if len(keys) <= 1:
            a = menu.addAction(label)
            a.setEnabled(bool(keys))
            a.triggered.connect(lambda _=False, k=(keys[0] if keys else ""): signal.emit(k))
            return
        sub = menu.addMenu(label.rstrip("…"))
        for k in keys:
            a = sub.addAction(k + "…")
            a.triggered.connect(lambda _=False, k=k: signal.emit(k))


class Tray(QObject):
    """QSystemTrayIcon with a menu rebuilt each time it opens."""

    def __init__(self, intents: TrayIntents, model: Callable[[], TrayModel]) -> None:
        super().__init__()
        self.intents = intents
        self._model = model
        self.icon = QSystemTrayIcon()
        self.menu = QMenu()
        self._built_for: TrayModel | None = None
        self.menu.aboutToShow.connect(self._rebuild)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self._rebuild()
        self.refresh()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def refresh(self) -> None:
        m = self._model()
        self.icon.setIcon(tray_icon(m.state, m.unread))
        self.icon.setToolTip(m.tooltip())
        # Rebuild now, not only when the menu opens: an exported (StatusNotifierItem) menu is
        # laid out by the tray host, which sizes it before a late rebuild could land.
        if not self.menu.isVisible():
            self._rebuild()

    def _rebuild(self) -> None:
        m = self._model()
        if m == self._built_for:
            return
        self._built_for = m
        self.intents.build_menu(self.menu, m)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.intents.openNotifications.emit("")


class FallbackWindow(QWidget):
    """Shown when no system tray exists: the tray's actions as a small window."""

    def __init__(self, intents: TrayIntents, model: Callable[[], TrayModel]) -> None:
        super().__init__()
        self.intents = intents
        self._model = model
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(app_icon())
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.menu = QMenu(self)
        self.menu.aboutToShow.connect(lambda: intents.build_menu(self.menu, self._model()))
        more = QPushButton("&More")
        more.setMenu(self.menu)
        check = QPushButton("&Check now")
        check.clicked.connect(intents.checkNow.emit)
        open_ = QPushButton("&Open notifications")
        open_.clicked.connect(lambda: intents.openNotifications.emit(""))
        row = QHBoxLayout()
        for b in (check, open_, more):
            row.addWidget(b)
        layout = QVBoxLayout(self)
        note = QLabel("No system tray was found, so Tootbell runs in this small window.")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addWidget(self.status)
        layout.addLayout(row)
        self.refresh()

    def refresh(self) -> None:
        m = self._model()
        self.status.setText(m.tooltip())
        icon: QIcon = tray_icon(m.state, m.unread)
        self.setWindowIcon(icon)
        title = APP_NAME + (f" ({m.unread})" if m.unread else "")
        self.setWindowTitle(title)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.intents.quit.emit()
        event.accept()
