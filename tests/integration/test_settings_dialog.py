"""The settings dialog, driven by keyboard and mouse as a person would."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from PySide6.QtCore import Qt, QTimer
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

from tootbell.config import NOTIFICATION_TYPES, AccountConfig, QuietHours, Settings
from tootbell.ui.dialogs.settings import (
    TYPE_LABELS,
    IntervalSpinBox,
    SettingsDialog,
    SettingsResult,
    format_interval,
    parse_interval,
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
) -> SettingsDialog:
    dlg = SettingsDialog(
        None, settings or Settings(), accounts, account_status=status, clock=lambda: NOW
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
def no_stray_modals() -> Iterator[None]:
    yield
    box = QApplication.activeModalWidget()
    if box is not None:
        box.close()


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
    assert titles == ["&Accounts", "&Notifications", "&Do not disturb"]
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
    assert result == SettingsResult(settings=settings, remove_accounts=(), add_account=False)


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


def test_remove_can_be_called_off(qtbot: QtBot, dlg: SettingsDialog) -> None:
    later(click_in_message_box("Cancel"))
    qtbot.mouseClick(dlg.remove_button, Qt.MouseButton.LeftButton)
    assert dlg.account_list.topLevelItemCount() == 2
    assert press_ok(qtbot, dlg).remove_accounts == ()


def answer_box_with_alt(key: Qt.Key) -> Callable[[], None]:
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
        QTest.keyClick(box, key, ALT)

    return answer


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
        settings=replace(settings, types=expected_types), remove_accounts=(), add_account=False
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
