"""The filters and notifications windows, driven by keyboard and mouse, against the demo
instance over loopback HTTP with the real services; the notifications window and the filter
changes through the running app, so toasts, badge and inbox are seen to follow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from app_setup import demo_account
from dialog_keys import (
    CTRL,
    Script,
    ScriptRun,
    alt,
    answer_box_with_alt,
    back_to,
    end_cell_edit,
    focused,
    later,
    press,
    saved,
    titles,
    type_keys,
)
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QListWidget, QMessageBox
from pytestqt.qtbot import QtBot
from recording_notifier import RecordingNotifier

from tootbell.app import TootbellApp
from tootbell.config import AccountConfig, Paths
from tootbell.demo import DemoServer
from tootbell.secrets import SecretStore
from tootbell.services import FilterService
from tootbell.ui import workers
from tootbell.ui.dialogs.filters import FiltersDialog
from tootbell.ui.dialogs.notifications import NotificationsDialog

# The offscreen platform says this whenever a window is shown; it is not a problem.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def open_filters(qtbot: QtBot, service: FilterService) -> FiltersDialog:
    dlg = FiltersDialog(None, service, account_label=service.account.key)
    dlg.show()
    qtbot.waitExposed(dlg)
    dlg.activateWindow()
    qtbot.waitUntil(dlg.isActiveWindow)
    qtbot.waitUntil(lambda: not dlg.is_busy(), timeout=10_000)
    return dlg


def close_filters(dlg: FiltersDialog) -> None:
    if dlg.isVisible():
        dlg.done(0)
    thread = dlg.service_thread
    dlg.deleteLater()
    if thread is not None:
        thread.join(10)
        assert not thread.is_alive()


# --------------------------------------------------------------------------- filters, v2


def test_create_preview_edit_and_delete_a_filter_on_the_server(
    qtbot: QtBot, server: DemoServer, home: Paths, secrets: SecretStore
) -> None:
    server.add_notification("mention", status_text="No spoilers please, the finale was wild")
    server.add_notification("mention", from_user="ben", status_text="Lunch on Friday?")
    server.add_notification("favourite", from_user="cy", status_text="Season finales ranked")
    service = FilterService(demo_account(server, secrets), secrets, home)
    dlg = open_filters(qtbot, service)
    try:
        assert titles(dlg) == []
        alt(qtbot, dlg, Qt.Key.Key_N)
        qtbot.waitUntil(lambda: titles(dlg) == ["New filter"])
        qtbot.waitUntil(lambda: dlg.title_edit.hasFocus())
        type_keys(qtbot, "TV spoilers")
        alt(qtbot, dlg, Qt.Key.Key_C)  # Hide completely
        qtbot.waitUntil(lambda: dlg.action_radios["hide"].isChecked())
        alt(qtbot, dlg, Qt.Key.Key_X)  # Expires: Never -> 30 min -> 1 h -> 6 h -> 12 h -> 1 day
        for _ in range(5):
            press(qtbot, Qt.Key.Key_Down)
        assert dlg.expiry_combo.currentText() == "1 day"
        alt(qtbot, dlg, Qt.Key.Key_K)
        type_keys(qtbot, "spoilers")
        end_cell_edit(qtbot, dlg)
        alt(qtbot, dlg, Qt.Key.Key_A)
        qtbot.waitUntil(lambda: focused().objectName() == "keywordEditor")
        type_keys(qtbot, "finale")
        end_cell_edit(qtbot, dlg)
        press(qtbot, Qt.Key.Key_Right)
        press(qtbot, Qt.Key.Key_Space)  # "finale" anywhere, also inside "finales"

        # The preview works on the notifications the server really has.
        qtbot.waitUntil(
            lambda: (
                dlg.preview_summary.text() == "Would have hidden 2 of your 3 recent notifications."
            ),
            timeout=5000,
        )
        assert len(dlg.preview_lines()) == 2
        assert not any("Lunch" in line for line in dlg.preview_lines())

        press(qtbot, Qt.Key.Key_S, CTRL)
        saved(qtbot, dlg)
        assert "Saved" in dlg.status.text()
        [held] = server.filters_for("demo")
        assert held["title"] == "TV spoilers"
        assert held["filter_action"] == "hide"
        assert sorted(held["context"]) == ["home", "notifications", "public", "thread"]
        assert [(k["keyword"], k["whole_word"]) for k in held["keywords"]] == [
            ("spoilers", True),
            ("finale", False),
        ]
        expires = datetime.fromisoformat(held["expires_at"].replace("Z", "+00:00"))
        assert abs(expires - (datetime.now(UTC) + timedelta(days=1))) < timedelta(minutes=2)
        kept_id = held["keywords"][0]["id"]

        # Edit one keyword and remove the other in one save.
        alt(qtbot, dlg, Qt.Key.Key_K)
        press(qtbot, Qt.Key.Key_F2)
        type_keys(qtbot, "spoiler")
        end_cell_edit(qtbot, dlg)
        press(qtbot, Qt.Key.Key_Down)
        press(qtbot, Qt.Key.Key_Delete)
        before = len(server.requests_to("/api/v2/filters"))
        press(qtbot, Qt.Key.Key_S, CTRL)
        saved(qtbot, dlg)
        assert len(server.requests_to("/api/v2/filters", "PUT")) == 1
        assert len(server.requests_to("/api/v2/filters")) - before == 1  # one request
        [held] = server.filters_for("demo")
        assert [(k["id"], k["keyword"]) for k in held["keywords"]] == [(kept_id, "spoiler")]

        # Delete, after saying "Keep it" once.
        dlg.filter_list.setFocus()
        seen: list[str] = []
        later(answer_box_with_alt(Qt.Key.Key_K, seen))
        press(qtbot, Qt.Key.Key_Delete)
        assert "TV spoilers" in seen[0]
        assert len(server.filters_for("demo")) == 1
        back_to(qtbot, dlg)
        later(answer_box_with_alt(Qt.Key.Key_D))
        alt(qtbot, dlg, Qt.Key.Key_D)
        qtbot.waitUntil(lambda: server.filters_for("demo") == [], timeout=5000)
        saved(qtbot, dlg)
        assert titles(dlg) == []
    finally:
        close_filters(dlg)


# --------------------------------------------------------------------------- filters, v1


def test_an_older_server_gets_one_keyword_filters(
    qtbot: QtBot, home: Paths, secrets: SecretStore
) -> None:
    with DemoServer(version="3.5.3") as server:
        service = FilterService(demo_account(server, secrets), secrets, home)
        dlg = open_filters(qtbot, service)
        try:
            assert dlg.notice.isVisible()
            assert "older" in dlg.notice.text().lower()
            press(qtbot, Qt.Key.Key_N, CTRL)
            qtbot.waitUntil(lambda: dlg.filter_list.count() == 1)
            dlg.keywords.setFocus()
            type_keys(qtbot, "election")
            end_cell_edit(qtbot, dlg)
            press(qtbot, Qt.Key.Key_S, CTRL)
            saved(qtbot, dlg)
            assert "Saved" in dlg.status.text()
            assert server.requests_to("/api/v1/filters", "POST")
            assert not server.requests_to("/api/v2/filters", "POST")
            assert [f["keywords"][0]["keyword"] for f in server.filters_for("demo")] == ["election"]
        finally:
            close_filters(dlg)


# --------------------------------------------------------------------------- through the app


def _dialog(kind: type) -> object | None:
    return next(
        (w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()),
        None,
    )


def _click_row(lst: QListWidget, row: int) -> None:
    item = lst.item(row)
    lst.scrollToItem(item)
    point: QPoint = lst.visualItemRect(item).center()
    QTest.mouseClick(
        lst.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point
    )


def _box_button(text: str) -> bool:
    """Click ``text`` in the message box that is up; False while there is none."""
    box = QApplication.activeModalWidget()
    if not isinstance(box, QMessageBox):
        return False
    for b in box.buttons():
        if b.text().replace("&", "") == text:
            QTest.mouseClick(b, Qt.MouseButton.LeftButton)
            return True
    raise AssertionError(f"no {text!r} in {[b.text() for b in box.buttons()]}")


def test_dismiss_one_then_clear_all_withdraws_toasts_and_lowers_the_badge(
    qtbot: QtBot,
    server: DemoServer,
    running: tuple[TootbellApp, RecordingNotifier, AccountConfig],
) -> None:
    app, notifier, acc = running
    made = [server.add_notification("mention", from_user=u) for u in ("ana", "ben", "cy")]
    app.check_now()
    qtbot.waitUntil(lambda: len(notifier.shown) == 3, timeout=10_000)
    qtbot.waitUntil(lambda: app.model().unread == 3, timeout=5000)
    key_of = {t.notification_ids[0]: t.key for t, _ in notifier.shown}
    badge: list[int] = []

    def script() -> Script:
        yield lambda: isinstance(_dialog(NotificationsDialog), NotificationsDialog)
        dlg = _dialog(NotificationsDialog)
        assert isinstance(dlg, NotificationsDialog)
        yield lambda: not dlg.is_busy() and dlg.notification_list.count() == 3
        _click_row(dlg.notification_list, 0)  # newest first: cy's
        QTest.keyClick(dlg.notification_list, Qt.Key.Key_Delete)
        yield lambda: dlg.notification_list.count() == 2
        # While the window is still open: the toast is withdrawn and the badge drops.
        yield lambda: key_of[made[2]["id"]] in notifier.closed_keys
        yield lambda: app.model().unread == 2
        badge.append(app.model().unread)
        # Clear all: Cancel first, then confirm.
        # (A step that opens a message box runs later: the box's own loop then runs the script.)
        later(lambda: QTest.keyClick(dlg, Qt.Key.Key_L, Qt.KeyboardModifier.AltModifier))
        yield lambda: _box_button("Cancel")
        yield lambda: QApplication.activeModalWidget() is dlg or not dlg.is_busy()
        assert dlg.notification_list.count() == 2
        assert len(server.notifications_for("demo")) == 2
        later(lambda: QTest.mouseClick(dlg.clear_button, Qt.MouseButton.LeftButton))
        yield lambda: _box_button("Clear all")
        yield lambda: dlg.notification_list.count() == 0 and not dlg.is_busy()
        yield lambda: app.model().unread == 0
        badge.append(app.model().unread)
        QTest.keyClick(dlg, Qt.Key.Key_Escape)

    run = ScriptRun(script())
    app.show_notifications(acc.key)
    run.check()
    assert badge == [2, 0]
    assert server.notifications_for("demo") == []
    assert set(notifier.closed_keys) >= set(key_of.values())


def test_mark_all_read_and_a_conversation_from_the_window(
    qtbot: QtBot,
    server: DemoServer,
    running: tuple[TootbellApp, RecordingNotifier, AccountConfig],
) -> None:
    app, notifier, acc = running
    dm = server.add_notification(
        "mention", visibility="direct", status_text="psst", from_user="dana"
    )
    newest = server.add_notification("follow", from_user="eli")
    app.check_now()
    qtbot.waitUntil(lambda: app.model().unread == 2, timeout=10_000)
    assert [c["unread"] for c in server.conversations_for("demo")] == [True]
    seen_badge: list[int] = []

    def dm_key() -> str:
        return next(t.key for t, _ in notifier.shown if t.notification_ids == (dm["id"],))

    def script() -> Script:
        yield lambda: isinstance(_dialog(NotificationsDialog), NotificationsDialog)
        dlg = _dialog(NotificationsDialog)
        assert isinstance(dlg, NotificationsDialog)
        yield lambda: not dlg.is_busy()
        # The Conversations tab: mark the one unread conversation read.
        dlg.tabs.setCurrentIndex(1)
        yield lambda: not dlg.is_busy() and dlg.conversation_list.count() == 1
        _click_row(dlg.conversation_list, 0)
        QTest.mouseClick(dlg.mark_read_button, Qt.MouseButton.LeftButton)
        yield lambda: dlg.conversation_list.count() == 0 and not dlg.is_busy()
        # The direct message's toast goes and the badge drops while the window is open.
        yield lambda: dm_key() in notifier.closed_keys
        yield lambda: app.model().unread == 1
        seen_badge.append(app.model().unread)
        dlg.tabs.setCurrentIndex(0)
        QTest.mouseClick(dlg.mark_all_read_button, Qt.MouseButton.LeftButton)
        yield lambda: not dlg.is_busy()
        yield lambda: app.model().unread == 0  # before the window closes
        seen_badge.append(app.model().unread)
        QTest.mouseClick(dlg.close_button, Qt.MouseButton.LeftButton)

    run = ScriptRun(script())
    app.show_notifications(acc.key)
    run.check()
    assert seen_badge == [1, 0]
    assert [c["unread"] for c in server.conversations_for("demo")] == [False]
    marker = server.marker("demo")
    assert marker is not None and marker["last_read_id"] == newest["id"]
    assert len(notifier.closed_keys) == 2  # both toasts withdrawn


def test_a_filter_saved_as_the_window_closes_still_hides_a_held_notification(
    qtbot: QtBot,
    server: DemoServer,
    running: tuple[TootbellApp, RecordingNotifier, AccountConfig],
) -> None:
    """Paused: a notification waits for the end-of-pause summary. A hide filter made in the
    window (whose save is slow and still running when the window closes) takes it out."""
    app, notifier, acc = running
    app.pause("forever")
    server.add_notification("mention", from_user="ana", status_text="the finale was wild")
    server.add_notification("mention", from_user="ben", status_text="lunch?")
    app.check_now()
    qtbot.waitUntil(lambda: app.model().unread == 2, timeout=10_000)
    assert notifier.shown == []
    server.faults.queue("/api/v2/filters", "slow", delay=1.5, method="POST")

    def script() -> Script:
        yield lambda: isinstance(_dialog(FiltersDialog), FiltersDialog)
        dlg = _dialog(FiltersDialog)
        assert isinstance(dlg, FiltersDialog)
        yield lambda: not dlg.is_busy()
        QTest.keyClick(dlg, Qt.Key.Key_N, Qt.KeyboardModifier.AltModifier)
        yield lambda: dlg.title_edit.hasFocus()
        QTest.keyClicks(dlg.title_edit, "Finale")
        QTest.keyClick(dlg, Qt.Key.Key_C, Qt.KeyboardModifier.AltModifier)  # Hide completely
        yield lambda: dlg.action_radios["hide"].isChecked()
        dlg.keywords.setFocus()
        QTest.keyClick(dlg.keywords, Qt.Key.Key_F)  # the first key opens the cell's editor
        yield lambda: focused().objectName() == "keywordEditor"
        QTest.keyClicks(focused(), "inale")
        QTest.keyClick(focused(), Qt.Key.Key_Return)
        yield lambda: dlg.keywords.hasFocus()
        QTest.keyClick(dlg, Qt.Key.Key_S, CTRL)
        yield lambda: dlg.is_busy()
        QTest.mouseClick(dlg.close_button, Qt.MouseButton.LeftButton)  # the save goes on

    run = ScriptRun(script())
    app.show_filters(acc.key)
    run.check()
    assert server.filters_for("demo") == []  # not yet: the save is slow
    qtbot.waitUntil(lambda: len(server.filters_for("demo")) == 1, timeout=10_000)
    [made] = server.filters_for("demo")
    assert (made["filter_action"], [k["keyword"] for k in made["keywords"]]) == ("hide", ["finale"])
    # The app hears of the change: the held mention is no longer unread nor in the summary.
    qtbot.waitUntil(lambda: app.model().unread == 1, timeout=10_000)
    app.resume()
    qtbot.waitUntil(lambda: len(notifier.shown) == 1, timeout=10_000)
    summary = notifier.shown[0][0]
    assert summary.kind == "summary"
    assert summary.title == "1 notification while paused"


def test_a_filter_made_in_another_app_is_picked_up_by_the_periodic_read(
    qtbot: QtBot,
    server: DemoServer,
    running: tuple[TootbellApp, RecordingNotifier, AccountConfig],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, notifier, _acc = running
    monkeypatch.setattr(workers, "FILTERS_REFRESH_S", 0.0)
    app.pause("forever")
    server.add_notification("mention", status_text="Buy bitcoin now")
    app.check_now()
    qtbot.waitUntil(lambda: app.model().unread == 1, timeout=10_000)
    server.add_filter("Crypto", ["bitcoin"], action="hide")  # made on the phone
    app.check_now()  # the next check re-reads the filters while something is held
    qtbot.waitUntil(lambda: app.model().unread == 0, timeout=10_000)
    app.resume()
    qtbot.wait(500)
    assert notifier.shown == []  # no summary of a hidden post
