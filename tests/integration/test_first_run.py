"""The welcome window: sign in, try the demo, or quit; by mouse and by keyboard."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QPushButton
from pytestqt.qtbot import QtBot

from tootbell.ui.dialogs.first_run import FirstRunWindow

# The offscreen platform says this whenever a window is shown; it is not a problem.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


ALT = Qt.KeyboardModifier.AltModifier


@pytest.fixture
def window(qtbot: QtBot) -> FirstRunWindow:
    w = FirstRunWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    return w


def test_content(window: FirstRunWindow) -> None:
    assert window.windowTitle() == "Welcome to Tootbell"
    texts = [label.text() for label in window.findChildren(QLabel)]
    assert "Welcome to Tootbell" in texts
    about = window.findChild(QLabel, "about")
    assert about is not None and "system tray" in about.text()
    # The paragraph is not cut off: the window is tall enough for its wrapped lines.
    assert about.height() >= about.heightForWidth(about.width())
    pixmaps = [label.pixmap() for label in window.findChildren(QLabel)]
    assert any(not p.isNull() and p.width() >= 48 for p in pixmaps)
    buttons = {b.text() for b in window.findChildren(QPushButton)}
    assert buttons == {"&Sign in…", "Try the &demo", "&Quit"}
    assert window.choice() == "quit"


@pytest.mark.parametrize(
    ("button", "choice"),
    [("sign_in_button", "sign_in"), ("demo_button", "demo"), ("quit_button", "quit")],
)
def test_buttons_by_mouse(qtbot: QtBot, window: FirstRunWindow, button: str, choice: str) -> None:
    with qtbot.waitSignal(window.finished, timeout=1000):
        qtbot.mouseClick(getattr(window, button), Qt.MouseButton.LeftButton)
    assert window.choice() == choice
    assert not window.isVisible()


@pytest.mark.parametrize(
    ("key", "choice"), [(Qt.Key.Key_S, "sign_in"), (Qt.Key.Key_D, "demo"), (Qt.Key.Key_Q, "quit")]
)
def test_mnemonics(qtbot: QtBot, window: FirstRunWindow, key: Qt.Key, choice: str) -> None:
    with qtbot.waitSignal(window.finished, timeout=1000):
        qtbot.keyClick(window, key, ALT)
    assert window.choice() == choice


def test_enter_signs_in(qtbot: QtBot, window: FirstRunWindow) -> None:
    assert QApplication.focusWidget() is window.sign_in_button
    with qtbot.waitSignal(window.finished, timeout=1000):
        qtbot.keyClick(window, Qt.Key.Key_Return)
    assert window.choice() == "sign_in"


def test_tab_then_space_picks_the_demo(qtbot: QtBot, window: FirstRunWindow) -> None:
    qtbot.keyClick(window.sign_in_button, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is window.demo_button
    with qtbot.waitSignal(window.finished, timeout=1000):
        qtbot.keyClick(window.demo_button, Qt.Key.Key_Space)
    assert window.choice() == "demo"


def test_escape_and_closing_mean_quit(qtbot: QtBot, window: FirstRunWindow) -> None:
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.choice() == "quit"
    assert not window.isVisible()


def test_ask_entry_point(qtbot: QtBot) -> None:
    def pick_demo() -> None:
        w = QApplication.activeModalWidget()
        if not isinstance(w, FirstRunWindow):
            QTimer.singleShot(10, pick_demo)
            return
        QTest.mouseClick(w.demo_button, Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, pick_demo)
    assert FirstRunWindow.ask(None) == "demo"


def test_ask_entry_point_closed(qtbot: QtBot) -> None:
    def close() -> None:
        w = QApplication.activeModalWidget()
        if w is None:
            QTimer.singleShot(10, close)
            return
        w.close()

    QTimer.singleShot(0, close)
    assert FirstRunWindow.ask(None) == "quit"
