"""Driving dialogs as a person would: keys to whatever has the focus, message boxes answered
by their mnemonics, and scripts that run while a dialog's own event loop is spinning."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from tootbell.ui.dialogs.filters import FiltersDialog

ALT = Qt.KeyboardModifier.AltModifier
CTRL = Qt.KeyboardModifier.ControlModifier


def alt(qtbot: QtBot, widget: QWidget, key: Qt.Key) -> None:
    qtbot.keyClick(widget, key, ALT)


def focused() -> QWidget:
    """The widget keys go to: the focus widget, else the active window itself."""
    widget = QApplication.focusWidget() or QApplication.activeWindow()
    assert widget is not None
    return widget


def type_keys(qtbot: QtBot, text: str) -> None:
    """Type into whichever widget has the focus at each keystroke, as a person would."""
    for ch in text:
        qtbot.keyClicks(focused(), ch)


def press(qtbot: QtBot, key: Qt.Key, modifier: Qt.KeyboardModifier | None = None) -> None:
    if modifier is None:
        qtbot.keyClick(focused(), key)
    else:
        qtbot.keyClick(focused(), key, modifier)


def later(action: Callable[[], None]) -> None:
    """Run ``action`` once the next modal loop is spinning."""
    QTimer.singleShot(0, action)


def answer_box_with_alt(key: Qt.Key, seen: list[str] | None = None) -> Callable[[], None]:
    """Answer the next message box with Alt+``key`` once it is up and active."""
    tries = iter(range(300))

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if next(tries, None) is None:
            if box is not None:
                box.close()  # give up rather than hang; the test's asserts then fail
            return
        if not isinstance(box, QMessageBox) or not box.isActiveWindow():
            if box is not None:
                box.activateWindow()
            QTimer.singleShot(10, answer)
            return
        if seen is not None:
            seen.append(box.text())
        QTest.keyClick(box, key, ALT)

    return answer


def back_to(qtbot: QtBot, window: QWidget) -> None:
    """The window manager's job once a message box has closed."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)


# A script step yields a condition to wait for (a callable returning True when ready), or None
# to go on at the next turn of the event loop.
Script = Generator[Callable[[], bool] | None, None, None]


class ScriptRun:
    """Runs a script step by step from the event loop, so that it can drive a dialog whose
    entry point blocks (``exec()`` or a local event loop) until the person closes it.

    A failing step or a condition that never comes true closes every open dialog, so the entry
    point returns and the test sees the failure in :meth:`check`."""

    def __init__(self, script: Script, *, timeout: float = 20.0) -> None:
        self._script = script
        self._timeout = timeout
        self._waiting: Callable[[], bool] | None = None
        self._since = time.monotonic()
        self.error: BaseException | None = None
        self.finished = False
        QTimer.singleShot(0, self._step)

    def _step(self) -> None:
        try:
            if self._waiting is not None and not self._waiting():
                if time.monotonic() - self._since > self._timeout:
                    raise TimeoutError(f"gave up waiting for {self._waiting}")
                QTimer.singleShot(20, self._step)
                return
            self._waiting = next(self._script)
            self._since = time.monotonic()
        except StopIteration:
            self.finished = True
            return
        except BaseException as e:
            self.error = e
            self._close_everything()
            return
        QTimer.singleShot(0, self._step)

    @staticmethod
    def _close_everything() -> None:
        for _ in range(10):
            box = QApplication.activeModalWidget()
            if box is None:
                break
            box.close()
        for w in QApplication.topLevelWidgets():
            if isinstance(w, QDialog) and w.isVisible():
                w.done(0)

    def check(self) -> None:
        if self.error is not None:
            raise self.error
        assert self.finished, "the script did not run to its end"


# --------------------------------------------------------------------------- the filters dialog


def end_cell_edit(qtbot: QtBot, dlg: FiltersDialog) -> None:
    """Enter in a keyword cell; the table closes its editor a moment later."""
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dlg.keywords.hasFocus())


def saved(qtbot: QtBot, dlg: FiltersDialog) -> None:
    qtbot.waitUntil(lambda: not dlg.is_busy(), timeout=5000)


def titles(dlg: FiltersDialog) -> list[str]:
    out = []
    for i in range(dlg.filter_list.count()):
        item = dlg.filter_list.item(i)
        assert item is not None
        out.append(item.text())
    return out
