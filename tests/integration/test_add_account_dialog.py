"""The add-account dialog: sign-in off the GUI thread, news back by signals, cancellable."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLineEdit
from pytestqt.qtbot import QtBot

from tootbell.config import AccountConfig
from tootbell.ui.dialogs.add_account import (
    AddAccountDialog,
    BrowserSignIn,
    SignInFunctions,
    TokenSignIn,
    describe_scopes,
    error_message,
)

# The offscreen platform says this whenever a window is shown; it is not a problem.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


ACCOUNT = AccountConfig(key="demo@example.test", base_url="https://example.test", account_id="1")
AUTHORIZE_URL = "https://example.test/oauth/authorize?client_id=abc&scope=read+write"
SCOPES = "read:notifications write:notifications read:accounts push"

ALT = Qt.KeyboardModifier.AltModifier


class SignInError(Exception):
    """Like tootbell.accounts.SignInError: ``message`` is for people, str() is not."""

    def __init__(self, message: str) -> None:
        super().__init__(f"internal: {message!r}")
        self.message = message


class BrowserRecorder(QObject):
    """Stands in for the web browser: QDesktopServices hands it the URLs to open."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.threads: list[threading.Thread] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url.toString())
        self.threads.append(threading.current_thread())


@pytest.fixture
def browser(qtbot: QtBot) -> Iterator[BrowserRecorder]:
    recorder = BrowserRecorder()
    for scheme in ("http", "https"):
        # A str, although the stubs say bytes: PySide6 rejects bytes here.
        QDesktopServices.setUrlHandler(scheme, recorder, "open")  # type: ignore[arg-type]
    yield recorder
    for scheme in ("http", "https"):
        QDesktopServices.unsetUrlHandler(scheme)


def not_called_browser(instance: str, /, **kwargs: Any) -> AccountConfig:
    raise AssertionError("browser sign-in was not expected")


def not_called_token(instance: str, token: str, /) -> AccountConfig:
    raise AssertionError("token sign-in was not expected")


class Harness:
    """Opens dialogs and, at the end, lets every blocked fake go and waits for the workers."""

    def __init__(self, qtbot: QtBot) -> None:
        self.qtbot = qtbot
        self.gates: list[threading.Event] = []
        self.dialogs: list[AddAccountDialog] = []

    def gate(self) -> threading.Event:
        event = threading.Event()
        self.gates.append(event)
        return event

    def open(
        self, browser: BrowserSignIn | None = None, token: TokenSignIn | None = None
    ) -> AddAccountDialog:
        fns = SignInFunctions(
            browser=browser or not_called_browser, token=token or not_called_token, scopes=SCOPES
        )
        dlg = AddAccountDialog(None, fns)
        self.qtbot.addWidget(dlg)
        self.dialogs.append(dlg)
        dlg.show()
        self.qtbot.waitExposed(dlg)
        dlg.activateWindow()
        self.qtbot.waitUntil(dlg.isActiveWindow)
        return dlg

    def close(self) -> None:
        for gate in self.gates:
            gate.set()
        for dlg in self.dialogs:
            if dlg.code_dialog is not None:
                dlg.code_dialog.reject()
            self.qtbot.waitUntil(lambda d=dlg: not d.is_busy(), timeout=10_000)


@pytest.fixture
def harness(qtbot: QtBot) -> Iterator[Harness]:
    h = Harness(qtbot)
    yield h
    h.close()


def click(qtbot: QtBot, widget: Any) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def cancel_button(dlg: AddAccountDialog) -> Any:
    return dlg.buttons.button(QDialogButtonBox.StandardButton.Cancel)


# --------------------------------------------------------------------------- pure helpers


def test_error_message_prefers_message_attribute() -> None:
    assert error_message(SignInError("Server not found.")) == "Server not found."
    assert error_message(ConnectionError("Connection refused")) == "Connection refused"
    assert error_message(RuntimeError()) == "RuntimeError"
    e = RuntimeError("text")
    e.message = ""  # type: ignore[attr-defined]
    assert error_message(e) == "text"


def test_describe_scopes() -> None:
    assert describe_scopes(SCOPES) == "read: notifications, accounts · write: notifications · push"
    assert describe_scopes("") == ""


# --------------------------------------------------------------------------- browser sign-in


def test_layout_and_defaults(harness: Harness) -> None:
    dlg = harness.open()
    assert dlg.server_edit.placeholderText() == "mastodon.social or @you@mastodon.social"
    assert dlg.browser_button.isDefault()
    assert not dlg.token_section.isVisible()
    assert not dlg.busy.isVisible()
    assert QApplication.focusWidget() is dlg.server_edit
    assert dlg.token_edit.echoMode() == QLineEdit.EchoMode.Password


def test_browser_sign_in_runs_off_the_gui_thread(
    qtbot: QtBot, harness: Harness, browser: BrowserRecorder
) -> None:
    seen: dict[str, Any] = {}

    def sign_in(
        instance: str,
        /,
        *,
        open_url: Callable[[str], bool],
        ask_code: Callable[[str], str | None],
        cancel: threading.Event,
        progress: Callable[[str], None],
    ) -> AccountConfig:
        seen["thread"] = threading.current_thread()
        seen["instance"] = instance
        progress("Registering Tootbell with example.test…")
        seen["opened"] = open_url(AUTHORIZE_URL)
        return ACCOUNT

    dlg = harness.open(browser=sign_in)
    qtbot.keyClicks(dlg.server_edit, "@demo@example.test")
    with qtbot.waitSignal(dlg.accepted, timeout=5000):
        qtbot.keyClick(dlg.server_edit, Qt.Key.Key_Return)  # Enter = Sign in with browser
    assert dlg.result_value() == ACCOUNT
    assert seen["instance"] == "@demo@example.test"
    assert seen["thread"] is not threading.main_thread()
    assert seen["opened"] is True
    # The URL was opened by the GUI thread, not by the worker.
    assert browser.urls == [AUTHORIZE_URL]
    assert browser.threads == [threading.main_thread()]
    assert not dlg.is_busy()


def test_gui_stays_responsive_while_the_sign_in_blocks(
    qtbot: QtBot, harness: Harness, browser: BrowserRecorder
) -> None:
    release = harness.gate()
    worker_threads: list[threading.Thread] = []

    def sign_in(instance: str, /, *, progress: Callable[[str], None], **_: Any) -> AccountConfig:
        worker_threads.append(threading.current_thread())
        progress("Step one")
        release.wait(10)
        progress("Step two")
        return ACCOUNT

    dlg = harness.open(browser=sign_in)
    qtbot.keyClicks(dlg.server_edit, "example.test")
    click(qtbot, dlg.browser_button)
    # The worker is blocked, yet its progress arrives and the GUI keeps handling events.
    qtbot.waitUntil(lambda: dlg.status.text() == "Step one")
    assert dlg.is_busy() and not release.is_set()
    assert dlg.busy.isVisible()
    assert not dlg.server_edit.isEnabled() and not dlg.browser_button.isEnabled()
    assert cancel_button(dlg).isEnabled()
    timer = QTimer()
    timer.setInterval(20)
    with qtbot.waitSignal(timer.timeout, timeout=1000):
        timer.start()
    timer.stop()
    assert worker_threads[0] is not threading.main_thread()
    with qtbot.waitSignal(dlg.accepted, timeout=5000):
        release.set()
    assert dlg.result_value() == ACCOUNT


def test_error_is_shown_in_words_and_the_text_is_kept(qtbot: QtBot, harness: Harness) -> None:
    outcomes: list[Exception | AccountConfig] = [
        SignInError("example.test did not answer. Check the address and your connection.")
    ]
    calls: list[str] = []

    def sign_in(instance: str, /, **_: Any) -> AccountConfig:
        calls.append(instance)
        outcome = outcomes.pop(0) if outcomes else ACCOUNT
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    dlg = harness.open(browser=sign_in)
    qtbot.keyClicks(dlg.server_edit, "example.tset")
    click(qtbot, dlg.browser_button)
    qtbot.waitUntil(lambda: not dlg.is_busy())
    assert dlg.status.text() == (
        "example.test did not answer. Check the address and your connection."
    )
    assert dlg.status.property("error") is True
    colour = dlg.status.palette().color(dlg.status.foregroundRole())
    assert colour.red() > 150 and colour.green() < 100
    assert dlg.isVisible() and dlg.result_value() is None
    assert dlg.server_edit.text() == "example.tset"
    assert dlg.server_edit.isEnabled() and dlg.browser_button.isEnabled()
    assert not dlg.busy.isVisible()
    # The person fixes the typo and tries again.
    dlg.server_edit.setFocus()
    for _ in "set":
        qtbot.keyClick(dlg.server_edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(dlg.server_edit, "est")
    with qtbot.waitSignal(dlg.accepted, timeout=5000):
        click(qtbot, dlg.browser_button)
    assert calls == ["example.tset", "example.test"]
    assert dlg.result_value() == ACCOUNT


def test_error_without_message_shows_its_text(qtbot: QtBot, harness: Harness) -> None:
    def sign_in(instance: str, /, **_: Any) -> AccountConfig:
        raise ConnectionError("Connection refused")

    dlg = harness.open(browser=sign_in)
    qtbot.keyClicks(dlg.server_edit, "example.test")
    click(qtbot, dlg.browser_button)
    qtbot.waitUntil(lambda: not dlg.is_busy())
    assert dlg.status.text() == "Connection refused"
    assert dlg.status.property("error") is True


def test_empty_server_is_caught_before_any_call(qtbot: QtBot, harness: Harness) -> None:
    dlg = harness.open()
    qtbot.keyClicks(dlg.server_edit, "   ")
    qtbot.keyClick(dlg.server_edit, Qt.Key.Key_Return)
    assert dlg.status.text() == "Type your server's address, such as mastodon.social."
    assert dlg.status.property("error") is True
    assert not dlg.is_busy() and dlg.isVisible()


# --------------------------------------------------------------------------- cancel


def blocking_until_cancelled(
    seen: dict[str, Any],
) -> BrowserSignIn:
    def sign_in(
        instance: str, /, *, cancel: threading.Event, progress: Callable[[str], None], **_: Any
    ) -> AccountConfig:
        seen["cancel"] = cancel
        progress("Waiting for you to approve in the browser…")
        if cancel.wait(10):
            raise SignInError("Sign-in cancelled.")
        return ACCOUNT

    return sign_in


def test_cancel_sets_the_event_and_closes_when_the_worker_ends(
    qtbot: QtBot, harness: Harness
) -> None:
    seen: dict[str, Any] = {}
    dlg = harness.open(browser=blocking_until_cancelled(seen))
    qtbot.keyClicks(dlg.server_edit, "example.test")
    click(qtbot, dlg.browser_button)
    qtbot.waitUntil(lambda: "cancel" in seen)
    with qtbot.waitSignal(dlg.rejected, timeout=5000):
        click(qtbot, cancel_button(dlg))
        # Still open until the worker has stopped.
        assert dlg.isVisible()
        assert dlg.status.text() == "Cancelling…"
        assert not cancel_button(dlg).isEnabled()
    assert seen["cancel"].is_set()
    assert not dlg.isVisible()
    assert dlg.result_value() is None
    assert not dlg.is_busy()


def test_escape_cancels_too(qtbot: QtBot, harness: Harness) -> None:
    seen: dict[str, Any] = {}
    dlg = harness.open(browser=blocking_until_cancelled(seen))
    qtbot.keyClicks(dlg.server_edit, "example.test")
    qtbot.keyClick(dlg.server_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "cancel" in seen)
    with qtbot.waitSignal(dlg.rejected, timeout=5000):
        qtbot.keyClick(QApplication.focusWidget() or dlg, Qt.Key.Key_Escape)
    assert seen["cancel"].is_set()
    assert dlg.result_value() is None


def test_cancel_when_idle_closes_at_once(qtbot: QtBot, harness: Harness) -> None:
    dlg = harness.open()
    with qtbot.waitSignal(dlg.rejected, timeout=1000):
        click(qtbot, cancel_button(dlg))
    assert dlg.result_value() is None


def test_a_sign_in_that_finishes_despite_cancel_is_kept(qtbot: QtBot, harness: Harness) -> None:
    release = harness.gate()
    started = threading.Event()

    def sign_in(instance: str, /, **_: Any) -> AccountConfig:
        started.set()
        release.wait(10)  # too far along to stop: the token is already stored
        return ACCOUNT

    dlg = harness.open(browser=sign_in)
    qtbot.keyClicks(dlg.server_edit, "example.test")
    click(qtbot, dlg.browser_button)
    qtbot.waitUntil(started.is_set)
    click(qtbot, cancel_button(dlg))
    with qtbot.waitSignal(dlg.accepted, timeout=5000):
        release.set()
    assert dlg.result_value() == ACCOUNT


# --------------------------------------------------------------------------- pasted code


def asking_for_code(seen: dict[str, Any]) -> BrowserSignIn:
    def sign_in(
        instance: str, /, *, ask_code: Callable[[str], str | None], **_: Any
    ) -> AccountConfig:
        code = ask_code(AUTHORIZE_URL)
        seen["code"] = code
        seen["thread"] = threading.current_thread()
        if not code:
            raise SignInError("Sign-in cancelled.")
        return ACCOUNT

    return sign_in


def test_code_is_asked_on_the_gui_thread_and_handed_back(qtbot: QtBot, harness: Harness) -> None:
    seen: dict[str, Any] = {}
    dlg = harness.open(browser=asking_for_code(seen))
    qtbot.keyClicks(dlg.server_edit, "example.test")
    click(qtbot, dlg.browser_button)
    qtbot.waitUntil(lambda: dlg.code_dialog is not None and dlg.code_dialog.isVisible())
    code_dialog = dlg.code_dialog
    assert code_dialog is not None
    assert code_dialog.windowModality() != Qt.WindowModality.NonModal
    assert "Paste the code your server showed you" in [
        w.text() for w in code_dialog.findChildren(type(dlg.status))
    ]
    assert 'href="https://example.test/oauth/authorize?client_id=abc&amp;scope=read+write"' in (
        code_dialog.link.text()
    )
    ok = code_dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()
    qtbot.keyClicks(code_dialog.code_edit, "  k3y-c0de ")
    assert ok.isEnabled()
    with qtbot.waitSignal(dlg.accepted, timeout=5000):
        qtbot.keyClick(code_dialog.code_edit, Qt.Key.Key_Return)
    assert seen["code"] == "k3y-c0de"
    assert seen["thread"] is not threading.main_thread()
    assert dlg.result_value() == ACCOUNT


def test_cancelling_the_code_hands_back_none(qtbot: QtBot, harness: Harness) -> None:
    seen: dict[str, Any] = {}
    dlg = harness.open(browser=asking_for_code(seen))
    qtbot.keyClicks(dlg.server_edit, "example.test")
    click(qtbot, dlg.browser_button)
    qtbot.waitUntil(lambda: dlg.code_dialog is not None and dlg.code_dialog.isVisible())
    assert dlg.code_dialog is not None
    qtbot.keyClick(dlg.code_dialog.code_edit, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dlg.is_busy())
    assert seen["code"] is None
    assert dlg.status.text() == "Sign-in cancelled."
    assert dlg.isVisible() and dlg.code_dialog is None


# --------------------------------------------------------------------------- token


def test_token_sign_in_by_keyboard(qtbot: QtBot, harness: Harness) -> None:
    seen: dict[str, Any] = {}

    def sign_in(instance: str, token: str, /) -> AccountConfig:
        seen["args"] = (instance, token)
        seen["thread"] = threading.current_thread()
        return ACCOUNT

    dlg = harness.open(token=sign_in)
    qtbot.keyClicks(dlg.server_edit, "mastodon.social")
    qtbot.keyClick(dlg, Qt.Key.Key_T, ALT)  # Use an access token instead
    qtbot.waitUntil(dlg.token_section.isVisible)
    assert QApplication.focusWidget() is dlg.token_edit
    assert "Preferences → Development" in dlg.token_section.findChildren(type(dlg.status))[0].text()
    assert "read: notifications, accounts" in (
        dlg.token_section.findChildren(type(dlg.status))[0].text()
    )
    qtbot.keyClicks(dlg.token_edit, "tok-123")
    assert dlg.token_edit.displayText() != "tok-123"
    assert dlg.token_button.isDefault() and not dlg.browser_button.isDefault()
    with qtbot.waitSignal(dlg.accepted, timeout=5000):
        qtbot.keyClick(dlg.token_edit, Qt.Key.Key_Return)
    assert seen["args"] == ("mastodon.social", "tok-123")
    assert seen["thread"] is not threading.main_thread()
    assert dlg.result_value() == ACCOUNT


def test_token_error_keeps_both_fields(qtbot: QtBot, harness: Harness) -> None:
    def sign_in(instance: str, token: str, /) -> AccountConfig:
        raise SignInError("mastodon.social did not accept this access token.")

    dlg = harness.open(token=sign_in)
    qtbot.keyClicks(dlg.server_edit, "mastodon.social")
    click(qtbot, dlg.token_toggle)
    qtbot.keyClicks(dlg.token_edit, "wrong")
    click(qtbot, dlg.token_button)
    qtbot.waitUntil(lambda: not dlg.is_busy())
    assert dlg.status.text() == "mastodon.social did not accept this access token."
    assert dlg.server_edit.text() == "mastodon.social"
    assert dlg.token_edit.text() == "wrong"


def test_empty_token_is_caught_before_any_call(qtbot: QtBot, harness: Harness) -> None:
    dlg = harness.open()
    qtbot.keyClicks(dlg.server_edit, "mastodon.social")
    click(qtbot, dlg.token_toggle)
    click(qtbot, dlg.token_button)
    assert dlg.status.text() == "Paste an access token first."
    assert not dlg.is_busy()


def test_collapsing_the_token_section_gives_enter_back_to_the_browser(
    qtbot: QtBot, harness: Harness
) -> None:
    dlg = harness.open()
    click(qtbot, dlg.token_toggle)
    assert dlg.token_button.isDefault()
    click(qtbot, dlg.token_toggle)
    assert not dlg.token_section.isVisible()
    assert dlg.browser_button.isDefault()


# --------------------------------------------------------------------------- entry point


def test_run_entry_point(qtbot: QtBot, browser: BrowserRecorder) -> None:
    def sign_in(instance: str, /, *, open_url: Callable[[str], bool], **_: Any) -> AccountConfig:
        open_url(AUTHORIZE_URL)
        return ACCOUNT

    def fill_in() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, AddAccountDialog):
            QTimer.singleShot(10, fill_in)
            return
        QTest.keyClicks(dialog.server_edit, "example.test")
        QTest.mouseClick(dialog.browser_button, Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, fill_in)
    fns = SignInFunctions(browser=sign_in, token=not_called_token)
    assert AddAccountDialog.run(None, fns) == ACCOUNT
    assert browser.urls == [AUTHORIZE_URL]


def test_run_entry_point_cancel(qtbot: QtBot) -> None:
    def cancel() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(10, cancel)
            return
        QTest.keyClick(dialog, Qt.Key.Key_Escape)

    QTimer.singleShot(0, cancel)
    fns = SignInFunctions(browser=not_called_browser, token=not_called_token)
    assert AddAccountDialog.run(None, fns) is None
