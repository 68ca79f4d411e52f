"""The settings dialog, driven by keyboard and mouse as a person would."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

import pytest
import shiboken6
from dialog_keys import answer_box_with_alt
from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCheckBox,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPushButton,
    QStyle,
    QStyleOptionButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from tootbell.autostart import (
    AutostartError,
    XdgAutostart,
    desktop_exec_line,
    launch_command,
    read_desktop_entry,
)
from tootbell.config import NOTIFICATION_TYPES, AccountConfig, QuietHours, Settings
from tootbell.delivery.push import RouteTestResult
from tootbell.ui.dialogs.settings import (
    PUSH_POLICY_LABELS,
    TYPE_LABELS,
    IntervalSpinBox,
    SettingsDialog,
    SettingsResult,
    format_interval,
    listen_error,
    parse_interval,
    public_url_error,
)

# The offscreen platform says this whenever a window is shown; it is not a problem.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


NOW = 1_800_000_000.0  # a fixed "now" for the pause status

ACCOUNTS = (
    AccountConfig(key="demo@127.0.0.1:8123", base_url="http://127.0.0.1:8123", display_name="Demo"),
    AccountConfig(key="ana@mastodon.social", base_url="https://mastodon.social"),
)

ALT = Qt.KeyboardModifier.AltModifier


def make_dialog(
    qtbot: QtBot,
    settings: Settings | None = None,
    accounts: tuple[AccountConfig, ...] = ACCOUNTS,
    status: dict[str, str] | None = None,
    route_test: Callable[[AccountConfig], RouteTestResult] | None = None,
) -> SettingsDialog:
    dlg = SettingsDialog(
        None,
        settings or Settings(),
        accounts,
        account_status=status,
        clock=lambda: NOW,
        route_test=route_test,
    )
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    dlg.activateWindow()
    qtbot.waitUntil(dlg.isActiveWindow)
    return dlg


@pytest.fixture
def dlg(qtbot: QtBot) -> SettingsDialog:
    return make_dialog(qtbot, status={"demo@127.0.0.1:8123": "Connected"})


def ok_button(dlg: SettingsDialog) -> QPushButton:
    return dlg.buttons.button(QDialogButtonBox.StandardButton.Ok)


def press_ok(qtbot: QtBot, dlg: SettingsDialog) -> SettingsResult:
    qtbot.mouseClick(ok_button(dlg), Qt.MouseButton.LeftButton)
    assert not dlg.isVisible()
    result = dlg.result_value()
    assert result is not None
    return result


def alt(qtbot: QtBot, dlg: QWidget, key: Qt.Key) -> None:
    qtbot.keyClick(dlg, key, ALT)


def type_into_focus(qtbot: QtBot, text: str) -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None
    qtbot.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(widget, text)
    return widget


def click_checkbox(qtbot: QtBot, box: QCheckBox) -> None:
    """Click on the box itself: the widget may be wider than its box and label."""
    option = QStyleOptionButton()
    box.initStyleOption(option)
    indicator = box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, box)
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=indicator.center())


def later(action: Callable[[], None]) -> None:
    """Run ``action`` once the next modal loop is spinning."""
    QTimer.singleShot(0, action)


def click_in_message_box(button_text: str) -> Callable[[], None]:
    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, click)
            return
        click.seen_text = box.text()  # type: ignore[attr-defined]
        for b in box.buttons():
            if b.text().replace("&", "") == button_text:
                QTest.mouseClick(b, Qt.MouseButton.LeftButton)
                return
        raise AssertionError(f"no {button_text!r} button in {[b.text() for b in box.buttons()]}")

    return click


@pytest.fixture(autouse=True)
def private_autostart(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dialogs opened without an autostart object read a private autostart folder."""
    monkeypatch.setenv("XDG_CONFIG_HOME", f"{tmp_path}/xdg-config")
    monkeypatch.delenv("FLATPAK_ID", raising=False)


# --------------------------------------------------------------------------- the interval


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("90 s", 90),
        ("90s", 90),
        ("2 min", 120),
        ("2min", 120),
        ("2 m", 120),
        ("1 min 30 s", 90),
        ("1m30s", 90),
        ("1 minute 5 seconds", 65),
        (" 15 ", 15),
    ],
)
def test_parse_interval(text: str, seconds: int) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "min", "abc", "1 h", "-5", "1.5 min"])
def test_parse_interval_rejects(text: str) -> None:
    assert parse_interval(text) is None


def test_format_interval_round_trips() -> None:
    assert format_interval(15) == "15 s"
    assert format_interval(60) == "1 min"
    assert format_interval(90) == "1 min 30 s"
    assert format_interval(3600) == "60 min"
    for s in range(15, 3601, 7):
        assert parse_interval(format_interval(s)) == s


def test_interval_arrows_step_through_sensible_values(qtbot: QtBot) -> None:
    box = IntervalSpinBox()
    qtbot.addWidget(box)
    box.setValue(60)
    box.stepBy(1)
    assert box.value() == 90
    box.stepBy(-2)
    assert box.value() == 45
    box.setValue(100)  # typed, between steps
    box.stepBy(1)
    assert box.value() == 120
    box.setValue(100)
    box.stepBy(-1)
    assert box.value() == 90
    box.setValue(3600)
    box.stepBy(5)
    assert box.value() == 3600
    box.setValue(15)
    box.stepBy(-1)
    assert box.value() == 15


# --------------------------------------------------------------------------- the dialog


def test_window_title_and_tabs(dlg: SettingsDialog) -> None:
    assert dlg.windowTitle() == "Tootbell Settings"
    titles = [dlg.tabs.tabText(i) for i in range(dlg.tabs.count())]
    assert titles == ["&Accounts", "&Notifications", "&Do not disturb", "&Push"]
    assert dlg.width() >= 500 and dlg.height() >= 400


def test_ok_without_changes_returns_the_same_settings(qtbot: QtBot) -> None:
    settings = Settings(
        poll_interval_s=300,
        types={**dict.fromkeys(NOTIFICATION_TYPES, True), "reblog": False, "future.type": False},
        quiet_hours=QuietHours(enabled=True, start="21:30", end="06:45"),
        show_avatars=False,
        coalesce_window_s=90,
    )
    dlg = make_dialog(qtbot, settings)
    result = press_ok(qtbot, dlg)
    assert result == SettingsResult(
        settings=settings, remove_accounts=(), add_account=False, accounts=ACCOUNTS
    )
    assert all(a is b for a, b in zip(result.accounts, ACCOUNTS, strict=True))


def test_cancel_returns_none(qtbot: QtBot, dlg: SettingsDialog) -> None:
    dlg.type_boxes["reblog"].click()
    qtbot.mouseClick(
        dlg.buttons.button(QDialogButtonBox.StandardButton.Cancel), Qt.MouseButton.LeftButton
    )
    assert not dlg.isVisible()
    assert dlg.result_value() is None


def test_escape_cancels(qtbot: QtBot, dlg: SettingsDialog) -> None:
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    assert not dlg.isVisible()
    assert dlg.result_value() is None


def test_accounts_are_listed_with_server_and_status(dlg: SettingsDialog) -> None:
    rows = [
        [dlg.account_list.topLevelItem(i).text(c) for c in range(3)]  # type: ignore[union-attr]
        for i in range(dlg.account_list.topLevelItemCount())
    ]
    assert rows == [
        ["@demo@127.0.0.1:8123", "127.0.0.1:8123", "Connected"],
        ["@ana@mastodon.social", "mastodon.social", "—"],
    ]
    assert not dlg.no_accounts_label.isVisible()


def test_no_accounts_says_so(qtbot: QtBot) -> None:
    dlg = make_dialog(qtbot, accounts=())
    assert dlg.no_accounts_label.isVisible()
    assert not dlg.remove_button.isEnabled()


def test_remove_asks_then_removes(qtbot: QtBot, dlg: SettingsDialog) -> None:
    second = dlg.account_list.topLevelItem(1)
    assert second is not None
    rect = dlg.account_list.visualItemRect(second)
    qtbot.mouseClick(dlg.account_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert dlg.remove_button.isEnabled()
    clicker = click_in_message_box("Remove")
    later(clicker)
    qtbot.mouseClick(dlg.remove_button, Qt.MouseButton.LeftButton)
    assert clicker.seen_text == (  # type: ignore[attr-defined]
        "Remove ana@mastodon.social? Tootbell signs out and forgets its token."
    )
    assert dlg.account_list.topLevelItemCount() == 1
    result = press_ok(qtbot, dlg)
    assert result.remove_accounts == ("ana@mastodon.social",)
    assert result.add_account is False
    assert result.accounts == (ACCOUNTS[0],)


def test_remove_can_be_called_off(qtbot: QtBot, dlg: SettingsDialog) -> None:
    later(click_in_message_box("Cancel"))
    qtbot.mouseClick(dlg.remove_button, Qt.MouseButton.LeftButton)
    assert dlg.account_list.topLevelItemCount() == 2
    assert press_ok(qtbot, dlg).remove_accounts == ()


def test_remove_by_keyboard(qtbot: QtBot, dlg: SettingsDialog) -> None:
    dlg.account_list.setFocus()
    # Delete on the list asks; Alt+R in the box answers "Remove".
    later(answer_box_with_alt(Qt.Key.Key_R))
    qtbot.keyClick(dlg.account_list, Qt.Key.Key_Delete)  # the first row is current
    assert dlg.account_list.topLevelItemCount() == 1
    # Alt+R in the dialog is the Remove button; the box again answers by keyboard.
    dlg.activateWindow()  # the window manager's job once the box has closed
    qtbot.waitUntil(dlg.isActiveWindow)
    later(answer_box_with_alt(Qt.Key.Key_R))
    alt(qtbot, dlg, Qt.Key.Key_R)  # a button's mnemonic clicks it a moment later
    qtbot.waitUntil(lambda: dlg.account_list.topLevelItemCount() == 0)
    assert dlg.no_accounts_label.isVisible()
    assert not dlg.remove_button.isEnabled()
    assert press_ok(qtbot, dlg).remove_accounts == ("demo@127.0.0.1:8123", "ana@mastodon.social")


def test_add_account_closes_with_the_edits_so_far(qtbot: QtBot, dlg: SettingsDialog) -> None:
    alt(qtbot, dlg, Qt.Key.Key_N)
    dlg.type_boxes["favourite"].click()
    alt(qtbot, dlg, Qt.Key.Key_A)
    qtbot.mouseClick(dlg.add_button, Qt.MouseButton.LeftButton)
    assert not dlg.isVisible()
    result = dlg.result_value()
    assert result is not None
    assert result.add_account is True
    assert result.settings.types["favourite"] is False


def test_notification_types_have_human_labels(dlg: SettingsDialog) -> None:
    assert list(dlg.type_boxes) == list(NOTIFICATION_TYPES)
    labels = [box.text() for box in dlg.type_boxes.values()]
    assert labels == [
        "Mentions and direct messages",
        "New posts from people you follow",
        "Boosts",
        "Favourites",
        "New followers",
        "Follow requests",
        "Polls ending",
        "Edits of posts you boosted",
        "Quotes",
        "New sign-ups (admins)",
        "New reports (admins)",
        "Severed relationships",
        "Moderation warnings",
        "Other notifications",
    ]
    assert set(TYPE_LABELS) == set(NOTIFICATION_TYPES)


def test_switch_types_off_by_mouse(qtbot: QtBot, dlg: SettingsDialog) -> None:
    alt(qtbot, dlg, Qt.Key.Key_N)
    for ntype in ("reblog", "admin.report"):
        click_checkbox(qtbot, dlg.type_boxes[ntype])
    settings = press_ok(qtbot, dlg).settings
    assert settings.types["reblog"] is False
    assert settings.types["admin.report"] is False
    assert all(settings.types[t] for t in NOTIFICATION_TYPES if t not in ("reblog", "admin.report"))


def test_switch_types_by_keyboard(qtbot: QtBot, dlg: SettingsDialog) -> None:
    alt(qtbot, dlg, Qt.Key.Key_N)
    alt(qtbot, dlg, Qt.Key.Key_E)  # the interval box
    assert QApplication.focusWidget() is dlg.poll_interval
    qtbot.keyClick(dlg.poll_interval, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is dlg.type_boxes["mention"]
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert not dlg.type_boxes["status"].isChecked()
    assert press_ok(qtbot, dlg).settings.types["status"] is False


@pytest.mark.parametrize(
    ("typed", "seconds"),
    [("2 min", 120), ("90", 90), ("1m30s", 90), ("5", 15), ("99 min", 3600), ("nonsense", 60)],
)
def test_poll_interval_typed(qtbot: QtBot, dlg: SettingsDialog, typed: str, seconds: int) -> None:
    alt(qtbot, dlg, Qt.Key.Key_N)
    alt(qtbot, dlg, Qt.Key.Key_E)
    widget = type_into_focus(qtbot, typed)
    qtbot.keyClick(widget, Qt.Key.Key_Tab)  # leaving the box settles the value
    assert dlg.poll_interval.value() == seconds
    assert press_ok(qtbot, dlg).settings.poll_interval_s == seconds


def test_poll_interval_arrow_keys(qtbot: QtBot, dlg: SettingsDialog) -> None:
    alt(qtbot, dlg, Qt.Key.Key_N)
    alt(qtbot, dlg, Qt.Key.Key_E)
    qtbot.keyClick(dlg.poll_interval, Qt.Key.Key_Up)
    assert dlg.poll_interval.text() == "1 min 30 s"
    qtbot.keyClick(dlg.poll_interval, Qt.Key.Key_Up)
    assert dlg.poll_interval.text() == "2 min"
    # Enter in the box is OK for the dialog.
    qtbot.keyClick(dlg.poll_interval, Qt.Key.Key_Return)
    assert not dlg.isVisible()
    result = dlg.result_value()
    assert result is not None and result.settings.poll_interval_s == 120


def test_avatars_by_mnemonic(qtbot: QtBot, dlg: SettingsDialog) -> None:
    assert dlg.show_avatars.isChecked()
    alt(qtbot, dlg, Qt.Key.Key_N)
    alt(qtbot, dlg, Qt.Key.Key_V)
    qtbot.waitUntil(lambda: not dlg.show_avatars.isChecked())
    assert press_ok(qtbot, dlg).settings.show_avatars is False


def test_quiet_hours_by_keyboard(qtbot: QtBot, dlg: SettingsDialog) -> None:
    alt(qtbot, dlg, Qt.Key.Key_D)
    assert dlg.tabs.currentIndex() == 2
    assert not dlg.quiet_start.isEnabled()
    alt(qtbot, dlg, Qt.Key.Key_Q)
    qtbot.waitUntil(dlg.quiet_enabled.isChecked)
    assert dlg.quiet_start.isEnabled() and dlg.quiet_end.isEnabled()
    alt(qtbot, dlg, Qt.Key.Key_F)
    assert QApplication.focusWidget() is dlg.quiet_start
    qtbot.keyClicks(dlg.quiet_start, "2330")
    qtbot.keyClick(dlg.quiet_start, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is dlg.quiet_end
    qtbot.keyClicks(dlg.quiet_end, "0615")
    quiet = press_ok(qtbot, dlg).settings.quiet_hours
    assert quiet == QuietHours(enabled=True, start="23:30", end="06:15")


def test_quiet_hours_turned_off_keeps_the_times(qtbot: QtBot) -> None:
    settings = Settings(quiet_hours=QuietHours(enabled=True, start="20:00", end="08:00"))
    dlg = make_dialog(qtbot, settings)
    alt(qtbot, dlg, Qt.Key.Key_D)
    click_checkbox(qtbot, dlg.quiet_enabled)
    assert not dlg.quiet_start.isEnabled()
    quiet = press_ok(qtbot, dlg).settings.quiet_hours
    assert quiet == QuietHours(enabled=False, start="20:00", end="08:00")


def test_bad_quiet_hour_text_falls_back_to_defaults(qtbot: QtBot) -> None:
    dlg = make_dialog(qtbot, Settings(quiet_hours=QuietHours(start="25:99", end="soon")))
    quiet = press_ok(qtbot, dlg).settings.quiet_hours
    assert (quiet.start, quiet.end) == ("22:00", "07:00")


def test_not_paused(dlg: SettingsDialog) -> None:
    assert dlg.pause_status.text() == "Notifications are on."
    assert not dlg.resume_button.isEnabled()


def test_pause_that_has_ended_counts_as_not_paused(qtbot: QtBot) -> None:
    dlg = make_dialog(qtbot, Settings(pause_until=NOW - 5))
    assert dlg.pause_status.text() == "Notifications are on."


def test_paused_until_a_time_and_resume(qtbot: QtBot) -> None:
    until = NOW + 90 * 60
    dlg = make_dialog(qtbot, Settings(pause_until=until))
    expected = time.strftime("%H:%M", time.localtime(until))
    assert expected in dlg.pause_status.text()
    assert dlg.pause_status.text().startswith("Paused until ")
    alt(qtbot, dlg, Qt.Key.Key_D)
    assert dlg.resume_button.isEnabled()
    alt(qtbot, dlg, Qt.Key.Key_U)
    qtbot.waitUntil(lambda: dlg.pause_status.text() == "Notifications are on.")
    assert not dlg.resume_button.isEnabled()
    assert press_ok(qtbot, dlg).settings.pause_until is None


def test_paused_until_resumed(qtbot: QtBot) -> None:
    dlg = make_dialog(qtbot, Settings(pause_until=float("inf")))
    assert dlg.pause_status.text() == "Paused until you resume."
    alt(qtbot, dlg, Qt.Key.Key_D)
    qtbot.mouseClick(dlg.resume_button, Qt.MouseButton.LeftButton)
    assert press_ok(qtbot, dlg).settings.pause_until is None


def test_pause_kept_when_not_resumed(qtbot: QtBot) -> None:
    dlg = make_dialog(qtbot, Settings(pause_until=float("inf")))
    assert press_ok(qtbot, dlg).settings.pause_until == float("inf")


def test_tab_order_on_the_accounts_page(qtbot: QtBot, dlg: SettingsDialog) -> None:
    dlg.account_list.setFocus()
    qtbot.keyClick(dlg.account_list, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is dlg.add_button
    qtbot.keyClick(dlg.add_button, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is dlg.remove_button


def test_mnemonics_do_not_clash(dlg: SettingsDialog) -> None:
    """Within each page (plus the tab titles), every & letter is used once."""
    tabs = {dlg.tabs.tabText(i) for i in range(dlg.tabs.count())}
    for i in range(dlg.tabs.count()):
        page = dlg.tabs.widget(i)
        texts = set(tabs)
        texts.update(b.text() for b in page.findChildren(QAbstractButton))
        texts.update(lbl.text() for lbl in page.findChildren(QLabel))
        letters = [t[t.index("&") + 1].lower() for t in texts if "&" in t and not t.startswith("<")]
        assert len(letters) == len(set(letters)), letters


def test_edit_entry_point(qtbot: QtBot) -> None:
    settings = Settings(poll_interval_s=120)

    def press_ok_in_dialog() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, SettingsDialog):
            QTimer.singleShot(10, press_ok_in_dialog)
            return
        dialog.type_boxes["follow"].click()
        QTest.mouseClick(
            dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton
        )

    later(press_ok_in_dialog)
    result = SettingsDialog.edit(None, settings, ACCOUNTS, account_status={})
    assert result is not None
    expected_types = {**settings.types, "follow": False}
    assert result == SettingsResult(
        settings=replace(settings, types=expected_types),
        remove_accounts=(),
        add_account=False,
        accounts=ACCOUNTS,
    )


def test_edit_entry_point_cancel(qtbot: QtBot) -> None:
    def cancel() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(10, cancel)
            return
        QTest.keyClick(dialog, Qt.Key.Key_Escape)

    later(cancel)
    assert SettingsDialog.edit(None, Settings(), ACCOUNTS) is None


# --------------------------------------------------------------------------- push

PUSH_URL = "https://push.example.org/tootbell"
PUSH_ACCOUNT = AccountConfig(
    key="bo@example.social",
    base_url="https://example.social",
    delivery="push",
    push_public_url=PUSH_URL,
)
WORKS = RouteTestResult(True, "The route works: the listener received the test in 42 ms.", 0.042)
BROKEN = RouteTestResult(
    False,
    "push.example.org answered 404: it does not forward …/push/… to Tootbell's listener, or "
    "the URL has a different path.",
)
TESTED_AT = time.strftime("%H:%M:%S", time.localtime(NOW))


class RouteTestStub:
    """A route test that notes the account and thread it ran with; blocks until released."""

    def __init__(self, result: RouteTestResult, *, block: bool) -> None:
        self.result = result
        self.released = threading.Event()
        if not block:
            self.released.set()
        self.started = threading.Event()
        self.calls: list[AccountConfig] = []
        self.threads: list[threading.Thread] = []

    def __call__(self, account: AccountConfig) -> RouteTestResult:
        self.calls.append(account)
        self.threads.append(threading.current_thread())
        self.started.set()
        if not self.released.wait(10):
            raise TimeoutError("the test never let the route test finish")
        return self.result

    def finish(self) -> None:
        self.released.set()
        for thread in self.threads:
            thread.join(5)
            assert not thread.is_alive()


@pytest.fixture
def route_tests() -> Iterator[Callable[..., RouteTestStub]]:
    made: list[RouteTestStub] = []

    def make(result: RouteTestResult = WORKS, *, block: bool = False) -> RouteTestStub:
        stub = RouteTestStub(result, block=block)
        made.append(stub)
        return stub

    yield make
    for stub in made:
        stub.finish()


def relays() -> list[QObject]:
    app = QApplication.instance()
    assert app is not None
    return app.findChildren(QObject, "routeTestRelay")


def text_colour(label: QLabel) -> QColor:
    return label.palette().color(QPalette.ColorRole.WindowText)


def is_red(colour: QColor) -> bool:
    return colour.red() > 150 and colour.green() < 130 and colour.blue() < 130


def is_green(colour: QColor) -> bool:
    return colour.green() > colour.red() + 40 and colour.green() > colour.blue() + 40


def open_push_tab(qtbot: QtBot, dlg: SettingsDialog) -> None:
    alt(qtbot, dlg, Qt.Key.Key_P)
    assert dlg.tabs.currentWidget() is dlg.push_page


def ok_is_refused(qtbot: QtBot, dlg: SettingsDialog) -> None:
    qtbot.mouseClick(ok_button(dlg), Qt.MouseButton.LeftButton)
    assert dlg.isVisible()
    assert dlg.result_value() is None
    assert dlg.tabs.currentWidget() is dlg.push_page


@pytest.mark.parametrize(
    "text", ["127.0.0.1:8765", "0.0.0.0:1", "localhost:65535", "[::1]:8800", " ::1:8765 "]
)
def test_listen_addresses_accepted(text: str) -> None:
    assert listen_error(text) is None


@pytest.mark.parametrize(
    "text", ["", "8765", "localhost", "localhost:", ":8765", "[]:80", "a b:80", "h:0", "h:65536"]
)
def test_listen_addresses_refused(text: str) -> None:
    assert listen_error(text)


def test_public_url_errors() -> None:
    assert public_url_error("", required=False) is None
    assert public_url_error("  ", required=True) == (
        "Enter the https:// address of your relay or tunnel."
    )
    assert public_url_error(PUSH_URL, required=True) is None
    assert public_url_error("http://127.0.0.1:9000", required=True) is None  # loopback tests
    assert "https://" in (public_url_error("http://example.org", required=False) or "")
    assert public_url_error("not a url", required=False)


def test_push_tab_explains_in_plain_words(qtbot: QtBot, dlg: SettingsDialog) -> None:
    open_push_tab(qtbot, dlg)
    text = dlg.push_explain.text()
    for words in (
        "the moment they happen",
        "public HTTPS address",
        "relay or tunnel you control",
        "Cloudflare Tunnel, Tailscale Funnel or ngrok",
        "https://your-relay/…",
        "listen address below",
        "every 10 min",
        "a broken route loses nothing",
    ):
        assert words in text
    assert dlg.push_explain.isVisible()
    assert not dlg.push_no_accounts.isVisible()
    assert [dlg.push_account.itemText(i) for i in range(dlg.push_account.count())] == [
        "@demo@127.0.0.1:8123",
        "@ana@mastodon.social",
    ]
    assert dlg.push_url.placeholderText() == PUSH_URL
    assert [dlg.push_policy.itemText(i) for i in range(dlg.push_policy.count())] == [
        "Everyone",
        "People I follow",
        "My followers",
        "Nobody",
    ]
    assert list(PUSH_POLICY_LABELS) == ["all", "followed", "follower", "none"]


def test_push_on_by_keyboard(qtbot: QtBot, dlg: SettingsDialog) -> None:
    open_push_tab(qtbot, dlg)
    alt(qtbot, dlg, Qt.Key.Key_C)
    assert QApplication.focusWidget() is dlg.push_account
    qtbot.keyClick(dlg.push_account, Qt.Key.Key_Down)
    assert dlg.push_account.currentData() == "ana@mastodon.social"
    alt(qtbot, dlg, Qt.Key.Key_W)
    qtbot.waitUntil(dlg.push_enabled.isChecked)
    alt(qtbot, dlg, Qt.Key.Key_U)
    assert QApplication.focusWidget() is dlg.push_url
    type_into_focus(qtbot, PUSH_URL + "/")
    assert not dlg.push_url_error.isVisible()
    result = press_ok(qtbot, dlg)
    assert result.accounts[0] is ACCOUNTS[0]  # untouched: the very same object
    assert result.accounts[1] == replace(ACCOUNTS[1], delivery="push", push_public_url=PUSH_URL)
    assert result.settings == Settings()


def test_push_on_by_mouse(qtbot: QtBot, dlg: SettingsDialog) -> None:
    qtbot.mouseClick(dlg.tabs.tabBar(), Qt.MouseButton.LeftButton, pos=tab_centre(dlg, 3))
    assert dlg.tabs.currentWidget() is dlg.push_page
    click_checkbox(qtbot, dlg.push_enabled)
    assert dlg.push_enabled.isChecked()
    # Switched on with no address yet: it says what is missing.
    assert dlg.push_url_error.isVisible()
    assert dlg.push_url_error.text() == "Enter the https:// address of your relay or tunnel."
    qtbot.mouseClick(dlg.push_url, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(dlg.push_url, "https://relay.example.net/tb")
    assert not dlg.push_url_error.isVisible()
    result = press_ok(qtbot, dlg)
    assert result.accounts == (
        replace(ACCOUNTS[0], delivery="push", push_public_url="https://relay.example.net/tb"),
        ACCOUNTS[1],
    )


def tab_centre(dlg: SettingsDialog, index: int) -> QPoint:
    return dlg.tabs.tabBar().tabRect(index).center()


@pytest.mark.parametrize("typed", ["http://example.org", "not a url"])
def test_invalid_url_shows_the_error_and_blocks_ok(
    qtbot: QtBot, dlg: SettingsDialog, typed: str
) -> None:
    open_push_tab(qtbot, dlg)
    alt(qtbot, dlg, Qt.Key.Key_W)
    qtbot.waitUntil(dlg.push_enabled.isChecked)
    alt(qtbot, dlg, Qt.Key.Key_U)
    type_into_focus(qtbot, typed)
    assert dlg.push_url_error.isVisible()
    message = dlg.push_url_error.text()
    assert message.startswith("The public URL must")
    assert is_red(text_colour(dlg.push_url_error))
    assert not dlg.test_button.isEnabled()
    # OK from another page: back to the Push tab, on the field to fix.
    alt(qtbot, dlg, Qt.Key.Key_N)
    ok_is_refused(qtbot, dlg)
    assert QApplication.focusWidget() is dlg.push_url
    # Enter in the field is OK as well, and is refused as well.
    qtbot.keyClick(dlg.push_url, Qt.Key.Key_Return)
    assert dlg.isVisible()
    type_into_focus(qtbot, PUSH_URL)
    assert not dlg.push_url_error.isVisible()
    assert press_ok(qtbot, dlg).accounts[0].push_public_url == PUSH_URL


def test_invalid_url_of_the_other_account_is_shown(qtbot: QtBot) -> None:
    bad = replace(PUSH_ACCOUNT, push_public_url="http://push.example.org")
    dlg = make_dialog(qtbot, accounts=(ACCOUNTS[0], bad))
    ok_is_refused(qtbot, dlg)
    assert dlg.push_account.currentData() == bad.key
    assert dlg.push_url.text() == "http://push.example.org"
    assert dlg.push_url_error.isVisible()
    assert QApplication.focusWidget() is dlg.push_url


def test_invalid_url_does_not_block_while_push_is_off(qtbot: QtBot, dlg: SettingsDialog) -> None:
    open_push_tab(qtbot, dlg)
    alt(qtbot, dlg, Qt.Key.Key_U)
    type_into_focus(qtbot, "not a url")
    assert dlg.push_url_error.isVisible()  # said, but not in the way
    result = press_ok(qtbot, dlg)
    assert result.accounts[0] == replace(ACCOUNTS[0], push_public_url="not a url")
    assert result.accounts[0].delivery == "poll"


def test_add_account_waits_for_a_valid_url(qtbot: QtBot) -> None:
    bad = replace(PUSH_ACCOUNT, push_public_url="")
    dlg = make_dialog(qtbot, accounts=(bad,))
    qtbot.mouseClick(dlg.add_button, Qt.MouseButton.LeftButton)
    assert dlg.isVisible()
    assert dlg.tabs.currentWidget() is dlg.push_page
    qtbot.keyClicks(dlg.push_url, PUSH_URL)
    result = press_ok(qtbot, dlg)
    assert result.add_account is False  # that request was refused with the dialog's close
    assert result.accounts == (PUSH_ACCOUNT,)


def test_push_off_keeps_the_url(qtbot: QtBot) -> None:
    dlg = make_dialog(qtbot, accounts=(PUSH_ACCOUNT,))
    open_push_tab(qtbot, dlg)
    assert dlg.push_enabled.isChecked()
    assert dlg.push_url.text() == PUSH_URL
    click_checkbox(qtbot, dlg.push_enabled)
    result = press_ok(qtbot, dlg)
    assert result.accounts == (replace(PUSH_ACCOUNT, delivery="poll"),)


def test_each_account_keeps_its_own_choices(qtbot: QtBot, dlg: SettingsDialog) -> None:
    open_push_tab(qtbot, dlg)
    click_checkbox(qtbot, dlg.push_enabled)
    qtbot.keyClicks(dlg.push_url, "https://one.example/")
    dlg.push_account.setCurrentIndex(1)
    assert not dlg.push_enabled.isChecked()
    assert dlg.push_url.text() == ""
    qtbot.keyClicks(dlg.push_url, "https://two.example")
    dlg.push_account.setCurrentIndex(0)
    assert dlg.push_enabled.isChecked()
    assert dlg.push_url.text() == "https://one.example/"
    result = press_ok(qtbot, dlg)
    assert [(a.delivery, a.push_public_url) for a in result.accounts] == [
        ("push", "https://one.example"),
        ("poll", "https://two.example"),
    ]


def test_test_route_button_needs_a_test_and_a_valid_url(qtbot: QtBot) -> None:
    without = make_dialog(qtbot, accounts=(PUSH_ACCOUNT,))
    assert not without.test_button.isEnabled()
    dlg = make_dialog(qtbot, route_test=RouteTestStub(WORKS, block=False))
    open_push_tab(qtbot, dlg)
    assert not dlg.test_button.isEnabled()  # no address yet
    alt(qtbot, dlg, Qt.Key.Key_U)
    type_into_focus(qtbot, "https://")
    assert not dlg.test_button.isEnabled()
    qtbot.keyClicks(dlg.push_url, "push.example.org")
    assert dlg.test_button.isEnabled()  # push need not be on yet to try the route


def test_test_route_runs_off_the_gui_thread(
    qtbot: QtBot, route_tests: Callable[..., RouteTestStub]
) -> None:
    route = route_tests(WORKS, block=True)
    dlg = make_dialog(qtbot, accounts=(ACCOUNTS[0], PUSH_ACCOUNT), route_test=route)
    open_push_tab(qtbot, dlg)
    alt(qtbot, dlg, Qt.Key.Key_C)
    qtbot.keyClick(dlg.push_account, Qt.Key.Key_Down)
    alt(qtbot, dlg, Qt.Key.Key_U)
    type_into_focus(qtbot, "https://relay.example.net/x/")
    alt(qtbot, dlg, Qt.Key.Key_T)
    qtbot.waitUntil(route.started.is_set)
    assert dlg.is_testing()
    assert dlg.test_busy.isVisible()
    assert dlg.test_status.text() == "Sending a test push through https://relay.example.net/x…"
    assert not dlg.test_button.isEnabled()
    # The dialog keeps answering while the test waits on the network.
    alt(qtbot, dlg, Qt.Key.Key_N)
    assert dlg.tabs.currentIndex() == 1
    open_push_tab(qtbot, dlg)
    route.released.set()
    qtbot.waitUntil(lambda: not dlg.is_testing())
    assert route.threads[0] is not threading.main_thread()
    assert route.threads[0].name == "tootbell-route-test"
    assert route.calls == [
        replace(PUSH_ACCOUNT, delivery="push", push_public_url="https://relay.example.net/x")
    ]
    assert not dlg.test_busy.isVisible()
    assert dlg.test_status.isVisible()
    assert dlg.test_status.text() == f"{TESTED_AT}: {WORKS.message}"
    assert is_green(text_colour(dlg.test_status))
    assert dlg.test_button.isEnabled()
    qtbot.waitUntil(lambda: not relays())


def test_route_test_on_a_poll_account_asks_for_push(
    qtbot: QtBot, route_tests: Callable[..., RouteTestStub]
) -> None:
    route = route_tests(WORKS)
    dlg = make_dialog(qtbot, route_test=route)
    open_push_tab(qtbot, dlg)
    qtbot.keyClicks(dlg.push_url, PUSH_URL)
    qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.test_status.text().endswith(WORKS.message))
    assert route.calls == [replace(ACCOUNTS[0], delivery="push", push_public_url=PUSH_URL)]
    # Testing does not switch push on: the address is kept, the account still polls.
    assert press_ok(qtbot, dlg).accounts == (
        replace(ACCOUNTS[0], push_public_url=PUSH_URL),
        ACCOUNTS[1],
    )


def test_failed_route_test_is_red(qtbot: QtBot, route_tests: Callable[..., RouteTestStub]) -> None:
    dlg = make_dialog(qtbot, accounts=(PUSH_ACCOUNT,), route_test=route_tests(BROKEN))
    open_push_tab(qtbot, dlg)
    qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.test_status.text() == f"{TESTED_AT}: {BROKEN.message}")
    assert is_red(text_colour(dlg.test_status))
    assert dlg.test_status.property("tone") == "error"
    # The whole message is on screen, however it wraps.
    status = dlg.test_status
    assert status.height() >= status.heightForWidth(status.width())


def test_route_test_again_after_a_failure(
    qtbot: QtBot, route_tests: Callable[..., RouteTestStub]
) -> None:
    route = route_tests(BROKEN)
    dlg = make_dialog(qtbot, accounts=(PUSH_ACCOUNT,), route_test=route)
    open_push_tab(qtbot, dlg)
    qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.is_testing())
    assert is_red(text_colour(dlg.test_status))
    route.result = WORKS
    route.released.clear()
    qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(route.calls) == 2)
    assert dlg.test_status.text().startswith("Sending a test push")
    assert text_colour(dlg.test_status) == dlg.palette().color(QPalette.ColorRole.WindowText)
    route.released.set()
    qtbot.waitUntil(lambda: not dlg.is_testing())
    assert dlg.test_status.text() == f"{TESTED_AT}: {WORKS.message}"
    assert is_green(text_colour(dlg.test_status))


def test_route_test_that_raises_is_a_failure(qtbot: QtBot) -> None:
    def route_test(account: AccountConfig) -> RouteTestResult:
        raise OSError("no route to host")

    dlg = make_dialog(qtbot, accounts=(PUSH_ACCOUNT,), route_test=route_test)
    open_push_tab(qtbot, dlg)
    qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.is_testing())
    assert dlg.test_status.text() == f"{TESTED_AT}: The test could not run: no route to host"
    assert is_red(text_colour(dlg.test_status))


def test_route_result_belongs_to_its_account_and_address(
    qtbot: QtBot, route_tests: Callable[..., RouteTestStub]
) -> None:
    dlg = make_dialog(qtbot, accounts=(PUSH_ACCOUNT, ACCOUNTS[0]), route_test=route_tests())
    open_push_tab(qtbot, dlg)
    qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.is_testing())
    assert dlg.test_status.isVisible()
    dlg.push_account.setCurrentIndex(1)
    assert not dlg.test_status.isVisible()
    dlg.push_account.setCurrentIndex(0)
    assert dlg.test_status.text().endswith(WORKS.message)
    qtbot.keyClicks(dlg.push_url, "/v2")  # another address: that test said nothing about it
    assert not dlg.test_status.isVisible()


def test_result_for_an_address_edited_meanwhile_is_dropped(
    qtbot: QtBot, route_tests: Callable[..., RouteTestStub]
) -> None:
    route = route_tests(WORKS, block=True)
    dlg = make_dialog(qtbot, accounts=(PUSH_ACCOUNT,), route_test=route)
    open_push_tab(qtbot, dlg)
    qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(route.started.is_set)
    qtbot.keyClicks(dlg.push_url, "/v2")
    route.released.set()
    qtbot.waitUntil(lambda: not dlg.is_testing())
    assert not dlg.test_status.isVisible()
    assert dlg.test_button.isEnabled()


def test_cancel_during_a_route_test(
    qtbot: QtBot, route_tests: Callable[..., RouteTestStub]
) -> None:
    route = route_tests(WORKS, block=True)
    dlg = make_dialog(qtbot, accounts=(PUSH_ACCOUNT,), route_test=route)
    open_push_tab(qtbot, dlg)
    qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(route.started.is_set)
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    assert not dlg.isVisible()
    assert dlg.result_value() is None
    route.finish()
    qtbot.waitUntil(lambda: not relays())
    assert not dlg.isVisible()
    assert dlg.result_value() is None


def test_closing_during_a_route_test_then_the_result_arrives(
    qtbot: QtBot, route_tests: Callable[..., RouteTestStub]
) -> None:
    route = route_tests(BROKEN, block=True)
    shown: list[SettingsDialog] = []

    def test_then_close() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, SettingsDialog):
            QTimer.singleShot(10, test_then_close)
            return
        shown.append(dialog)
        dialog.tabs.setCurrentWidget(dialog.push_page)
        QTest.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
        QTest.keyClick(dialog, Qt.Key.Key_Escape)

    later(test_then_close)
    assert SettingsDialog.edit(None, Settings(), (PUSH_ACCOUNT,), route_test=route) is None
    assert route.started.wait(5)
    # The dialog is gone before the test ends.
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not shiboken6.isValid(shown[0])
    assert relays()
    route.finish()
    qtbot.waitUntil(lambda: not relays())


def test_push_settings_round_trip(qtbot: QtBot) -> None:
    settings = Settings(push_listen="0.0.0.0:9000", push_catchup_s=300, push_policy="followed")
    dlg = make_dialog(qtbot, settings)
    open_push_tab(qtbot, dlg)
    assert dlg.push_listen.text() == "0.0.0.0:9000"
    assert dlg.push_catchup.value() == 5
    assert dlg.push_policy.currentText() == "People I follow"
    assert "every 5 min" in dlg.push_explain.text()
    assert press_ok(qtbot, dlg).settings == settings


def test_push_settings_by_keyboard(qtbot: QtBot, dlg: SettingsDialog) -> None:
    open_push_tab(qtbot, dlg)
    assert dlg.push_catchup.value() == 10
    alt(qtbot, dlg, Qt.Key.Key_L)
    assert QApplication.focusWidget() is dlg.push_listen
    type_into_focus(qtbot, "[::1]:8800")
    alt(qtbot, dlg, Qt.Key.Key_E)
    assert QApplication.focusWidget() is dlg.push_catchup
    widget = type_into_focus(qtbot, "15")
    qtbot.keyClick(widget, Qt.Key.Key_Tab)
    assert dlg.push_catchup.value() == 15
    assert "every 15 min" in dlg.push_explain.text()
    alt(qtbot, dlg, Qt.Key.Key_F)
    assert QApplication.focusWidget() is dlg.push_policy
    for _ in range(3):
        qtbot.keyClick(dlg.push_policy, Qt.Key.Key_Down)
    assert dlg.push_policy.currentText() == "Nobody"
    settings = press_ok(qtbot, dlg).settings
    assert settings == replace(
        Settings(), push_listen="[::1]:8800", push_catchup_s=900, push_policy="none"
    )


def test_catch_up_range(qtbot: QtBot, dlg: SettingsDialog) -> None:
    assert (dlg.push_catchup.minimum(), dlg.push_catchup.maximum()) == (1, 60)
    dlg.push_catchup.setValue(1)
    assert press_ok(qtbot, dlg).settings.push_catchup_s == 60


def test_catch_up_between_minutes_is_kept_when_untouched(qtbot: QtBot) -> None:
    dlg = make_dialog(qtbot, Settings(push_catchup_s=90))
    assert dlg.push_catchup.value() == 2
    assert press_ok(qtbot, dlg).settings.push_catchup_s == 90


@pytest.mark.parametrize("typed", ["localhost:70000", "localhost:0", "8765", "localhost:"])
def test_invalid_listen_address_blocks_ok(qtbot: QtBot, dlg: SettingsDialog, typed: str) -> None:
    open_push_tab(qtbot, dlg)
    alt(qtbot, dlg, Qt.Key.Key_L)
    type_into_focus(qtbot, typed)
    assert dlg.push_listen_error.isVisible()
    assert is_red(text_colour(dlg.push_listen_error))
    alt(qtbot, dlg, Qt.Key.Key_A)
    ok_is_refused(qtbot, dlg)
    assert QApplication.focusWidget() is dlg.push_listen
    type_into_focus(qtbot, "127.0.0.1:8766")
    assert not dlg.push_listen_error.isVisible()
    assert press_ok(qtbot, dlg).settings.push_listen == "127.0.0.1:8766"


def test_no_accounts_disables_the_push_controls(qtbot: QtBot) -> None:
    settings = Settings(push_policy="follower")
    dlg = make_dialog(qtbot, settings, accounts=(), route_test=RouteTestStub(WORKS, block=False))
    open_push_tab(qtbot, dlg)
    assert dlg.push_no_accounts.isVisible()
    assert "No accounts yet" in dlg.push_no_accounts.text()
    for widget in (
        dlg.push_account,
        dlg.push_enabled,
        dlg.push_url,
        dlg.test_button,
        dlg.push_listen,
        dlg.push_catchup,
        dlg.push_policy,
    ):
        assert not widget.isEnabled(), widget.objectName()
    result = press_ok(qtbot, dlg)
    assert result.settings == settings
    assert result.accounts == ()


def test_removing_an_account_drops_its_push_choices(qtbot: QtBot) -> None:
    bad = replace(PUSH_ACCOUNT, push_public_url="http://push.example.org")
    dlg = make_dialog(qtbot, accounts=(bad,))
    ok_is_refused(qtbot, dlg)
    alt(qtbot, dlg, Qt.Key.Key_A)
    later(click_in_message_box("Remove"))
    qtbot.mouseClick(dlg.remove_button, Qt.MouseButton.LeftButton)
    assert dlg.account_list.topLevelItemCount() == 0
    dlg.activateWindow()  # the window manager's job once the box has closed
    qtbot.waitUntil(dlg.isActiveWindow)
    open_push_tab(qtbot, dlg)
    assert dlg.push_no_accounts.isVisible()
    assert not dlg.push_url.isEnabled()
    assert dlg.push_url.text() == ""
    result = press_ok(qtbot, dlg)
    assert result.remove_accounts == (bad.key,)
    assert result.accounts == ()


def test_tab_order_on_the_push_page(qtbot: QtBot) -> None:
    dlg = make_dialog(qtbot, accounts=(PUSH_ACCOUNT,), route_test=RouteTestStub(WORKS, block=False))
    open_push_tab(qtbot, dlg)
    dlg.push_account.setFocus()
    order = [
        dlg.push_enabled,
        dlg.push_url,
        dlg.test_button,
        dlg.push_listen,
        dlg.push_catchup,
        dlg.push_policy,
    ]
    for expected in order:
        focused = QApplication.focusWidget()
        assert focused is not None
        qtbot.keyClick(focused, Qt.Key.Key_Tab)
        assert QApplication.focusWidget() is expected, expected.objectName()


def assert_shown_whole(dlg: SettingsDialog, *labels: QLabel) -> None:
    page = dlg.push_page.rect()
    for label in labels:
        assert label.isVisible(), label.objectName()
        assert label.height() >= label.heightForWidth(label.width()), label.objectName()
        corner = label.mapTo(dlg.push_page, QPoint(0, 0))
        assert page.contains(label.rect().translated(corner)), label.objectName()


def test_push_page_fits(qtbot: QtBot) -> None:
    """Long errors and results wrap within the page instead of being cut off."""
    dlg = make_dialog(
        qtbot, accounts=(PUSH_ACCOUNT,), route_test=RouteTestStub(BROKEN, block=False)
    )
    open_push_tab(qtbot, dlg)
    qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.is_testing())
    qtbot.wait(20)
    assert_shown_whole(dlg, dlg.push_explain, dlg.test_status)
    qtbot.keyClick(dlg.push_url, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(dlg.push_url, "not a url")
    dlg.push_listen.setText("localhost:99999")
    qtbot.wait(20)
    assert_shown_whole(dlg, dlg.push_explain, dlg.push_url_error, dlg.push_listen_error)


# --------------------------------------------------------------------------- start at login


class FakeAutostart:
    """Records what the dialog asks of it; ``fail`` makes enable and disable raise."""

    def __init__(self, on: bool = False, *, fail: str = "", unreadable: str = "") -> None:
        self.on = on
        self.fail = fail
        self.unreadable = unreadable
        self.calls: list[tuple[str, ...]] = []

    def current(self) -> bool:
        self.calls.append(("current",))
        if self.unreadable:
            raise AutostartError(self.unreadable)
        return self.on

    def enable(self, command: Sequence[str]) -> None:
        self.calls.append(("enable", *command))
        if self.fail:
            raise AutostartError(self.fail)
        self.on = True

    def disable(self) -> None:
        self.calls.append(("disable",))
        if self.fail:
            raise AutostartError(self.fail)
        self.on = False

    def changes(self) -> list[tuple[str, ...]]:
        return [c for c in self.calls if c[0] != "current"]


def autostart_dialog(
    qtbot: QtBot, autostart: FakeAutostart | None = None, *, demo: bool = False
) -> SettingsDialog:
    dlg = SettingsDialog(
        None, Settings(), ACCOUNTS, clock=lambda: NOW, autostart=autostart, demo=demo
    )
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    dlg.activateWindow()
    qtbot.waitUntil(dlg.isActiveWindow)
    alt(qtbot, dlg, Qt.Key.Key_N)
    assert dlg.tabs.currentIndex() == 1
    return dlg


def toggle_start_at_login(qtbot: QtBot, dlg: SettingsDialog) -> None:
    was = dlg.start_at_login.isChecked()
    alt(qtbot, dlg, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: dlg.start_at_login.isChecked() != was)
    assert QApplication.focusWidget() is dlg.start_at_login


def ok_by_keyboard(qtbot: QtBot, dlg: SettingsDialog) -> SettingsResult:
    qtbot.keyClick(QApplication.focusWidget() or dlg, Qt.Key.Key_Return)
    assert not dlg.isVisible()
    result = dlg.result_value()
    assert result is not None
    return result


def test_start_at_login_shows_the_real_state(qtbot: QtBot) -> None:
    on, off = FakeAutostart(on=True), FakeAutostart(on=False)
    assert autostart_dialog(qtbot, on).start_at_login.isChecked()
    assert not autostart_dialog(qtbot, off).start_at_login.isChecked()
    dlg = autostart_dialog(qtbot, off)
    assert dlg.start_at_login.isVisible() and dlg.start_at_login.isEnabled()
    assert dlg.start_at_login.text() == "&Start Tootbell when I log in"
    assert on.calls == [("current",)] and off.changes() == []


def test_start_at_login_turned_on_by_keyboard_on_ok(qtbot: QtBot) -> None:
    fake = FakeAutostart(on=False)
    dlg = autostart_dialog(qtbot, fake)
    toggle_start_at_login(qtbot, dlg)
    assert fake.changes() == []  # nothing happens before OK
    ok_by_keyboard(qtbot, dlg)
    assert fake.changes() == [("enable", *launch_command())]


def test_start_at_login_turned_off_by_keyboard_on_ok(qtbot: QtBot) -> None:
    fake = FakeAutostart(on=True)
    dlg = autostart_dialog(qtbot, fake)
    toggle_start_at_login(qtbot, dlg)
    assert not dlg.start_at_login.isChecked()
    ok_by_keyboard(qtbot, dlg)
    assert fake.changes() == [("disable",)]


def test_start_at_login_untouched_or_cancelled_changes_nothing(qtbot: QtBot) -> None:
    fake = FakeAutostart(on=True)
    ok_by_keyboard(qtbot, autostart_dialog(qtbot, fake))
    dlg = autostart_dialog(qtbot, fake)
    toggle_start_at_login(qtbot, dlg)
    toggle_start_at_login(qtbot, dlg)  # and back
    ok_by_keyboard(qtbot, dlg)
    dlg = autostart_dialog(qtbot, fake)
    toggle_start_at_login(qtbot, dlg)
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    assert dlg.result_value() is None
    assert fake.changes() == []


def answer_box_by_keyboard(seen: list[str]) -> Callable[[], None]:
    """Note the text of the next message box, then close it with Return."""

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or not box.isActiveWindow():
            QTimer.singleShot(10, answer)
            return
        seen.extend([box.objectName(), box.text(), box.informativeText()])
        QTest.keyClick(box, Qt.Key.Key_Return)

    return answer


def test_a_failure_is_said_in_words_and_the_other_settings_are_kept(qtbot: QtBot) -> None:
    words = (
        "Could not turn on start at login: Tootbell cannot write "
        "/home/ana/.config/autostart/org.tootbell.Tootbell.desktop: the folder is read-only."
    )
    fake = FakeAutostart(on=False, fail=words)
    dlg = autostart_dialog(qtbot, fake)
    alt(qtbot, dlg, Qt.Key.Key_V)
    qtbot.waitUntil(lambda: not dlg.show_avatars.isChecked())
    toggle_start_at_login(qtbot, dlg)
    seen: list[str] = []
    later(answer_box_by_keyboard(seen))
    result = ok_by_keyboard(qtbot, dlg)
    assert seen == ["startAtLoginFailed", words, "Your other settings are kept."]
    assert fake.changes() == [("enable", *launch_command())]
    assert result.settings.show_avatars is False


def test_an_unreadable_entry_is_said_in_words(qtbot: QtBot) -> None:
    words = "Tootbell cannot tell whether it starts at login: it cannot read X: permission denied."
    fake = FakeAutostart(unreadable=words)
    dlg = autostart_dialog(qtbot, fake)
    assert not dlg.start_at_login.isEnabled()
    assert dlg.start_at_login_error.isVisible()
    assert dlg.start_at_login_error.text() == words
    ok_by_keyboard(qtbot, dlg)
    assert fake.changes() == []


def notifications_page_height(dlg: SettingsDialog) -> int:
    page = dlg.tabs.widget(1)
    layout = page.layout() if page is not None else None
    assert layout is not None
    return layout.sizeHint().height()


def test_the_demo_does_not_offer_start_at_login(qtbot: QtBot) -> None:
    fake = FakeAutostart(on=False)
    offered = autostart_dialog(qtbot, FakeAutostart())
    dlg = autostart_dialog(qtbot, fake, demo=True)
    assert not dlg.start_at_login.isVisible()
    assert not dlg.start_at_login_error.isVisible()
    # Hidden, not left as a blank line: the page is shorter by the box.
    gap = notifications_page_height(offered) - notifications_page_height(dlg)
    assert gap >= offered.start_at_login.sizeHint().height()
    alt(qtbot, dlg, Qt.Key.Key_S)
    qtbot.wait(50)
    ok_by_keyboard(qtbot, dlg)
    assert fake.calls == []  # not even read


def test_not_offered_where_it_cannot_work(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLATPAK_ID", "org.tootbell.Tootbell")
    dlg = autostart_dialog(qtbot)  # the platform's own backend
    assert not dlg.start_at_login.isVisible()
    monkeypatch.delenv("FLATPAK_ID")
    assert autostart_dialog(qtbot).start_at_login.isVisible()


def test_the_default_is_the_real_autostart_entry(qtbot: QtBot, tmp_path: object) -> None:
    entry = XdgAutostart()  # under the private XDG_CONFIG_HOME
    assert str(entry.path).startswith(str(tmp_path))
    dlg = autostart_dialog(qtbot)
    assert not dlg.start_at_login.isChecked()
    toggle_start_at_login(qtbot, dlg)
    ok_by_keyboard(qtbot, dlg)
    assert entry.current() is True
    written = read_desktop_entry(entry.path.read_text(encoding="utf-8"))
    assert written["Exec"] == desktop_exec_line(launch_command())

    dlg = autostart_dialog(qtbot)
    assert dlg.start_at_login.isChecked()
    toggle_start_at_login(qtbot, dlg)
    ok_by_keyboard(qtbot, dlg)
    assert not entry.path.exists()


def test_edit_passes_autostart_and_demo_on(qtbot: QtBot) -> None:
    def tick_and_ok() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, SettingsDialog) or not dialog.isActiveWindow():
            QTimer.singleShot(10, tick_and_ok)
            return
        QTest.keyClick(dialog, Qt.Key.Key_N, ALT)
        QTest.keyClick(dialog, Qt.Key.Key_S, ALT)  # a mnemonic clicks a moment later
        deadline = time.monotonic() + 3

        def ok_once_ticked() -> None:
            box = dialog.start_at_login
            if box.isVisible() and not box.isChecked() and time.monotonic() < deadline:
                QTimer.singleShot(10, ok_once_ticked)
                return
            QTest.keyClick(dialog, Qt.Key.Key_Return)

        QTimer.singleShot(200, ok_once_ticked)

    fake = FakeAutostart(on=False)
    later(tick_and_ok)
    assert SettingsDialog.edit(None, Settings(), ACCOUNTS, autostart=fake) is not None
    assert fake.changes() == [("enable", *launch_command())]

    fake = FakeAutostart(on=False)
    later(tick_and_ok)
    assert SettingsDialog.edit(None, Settings(), ACCOUNTS, autostart=fake, demo=True) is not None
    assert fake.calls == []
