"""The notifications window, driven by keyboard and mouse as a person would.

The service is a fake that records each call and the thread it ran on; every test checks
that nothing blocking ran on the GUI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QListWidget, QListWidgetItem, QMessageBox
from pytestqt.qtbot import QtBot

from tootbell.mastodon.actions import Conversation
from tootbell.mastodon.client import ApiError
from tootbell.mastodon.entities import Notification, Status
from tootbell.ui.dialogs.notifications import (
    NO_DISMISS_NOTE,
    NotificationsDialog,
    relative_time,
    status_time,
    type_name,
)

# The offscreen platform says this whenever a window is shown; it is not a problem.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
LABEL = "me@example.org"
ALT = Qt.KeyboardModifier.AltModifier
CTRL = Qt.KeyboardModifier.ControlModifier


def account(n: int, name: str) -> dict[str, Any]:
    return {
        "id": str(n),
        "username": name.lower(),
        "acct": f"{name.lower()}@example.org",
        "display_name": name,
        "url": f"https://example.org/@{name.lower()}",
        "avatar": f"https://example.org/avatars/{n}.png",
    }


def notification(nid: str, ntype: str, name: str, minutes_ago: int, text: str = "") -> Notification:
    data: dict[str, Any] = {
        "id": nid,
        "type": ntype,
        "created_at": (NOW - timedelta(minutes=minutes_ago)).isoformat(),
        "account": account(int(nid), name),
    }
    if text:
        data["status"] = {
            "id": f"9{nid}",
            "content": f"<p>{text}</p>",
            "visibility": "public",
            "url": f"https://example.org/@{name.lower()}/9{nid}",
        }
    return Notification.from_json(data)


def conversation(cid: str, names: list[str], text: str) -> Conversation:
    return Conversation.from_json(
        {
            "id": cid,
            "unread": True,
            "accounts": [account(20 + i, n) for i, n in enumerate(names)],
            "last_status": {"id": f"7{cid}", "content": f"<p>{text}</p>", "visibility": "direct"},
        }
    )


def recent() -> list[Notification]:
    return [
        notification("11", "mention", "Ana", 5, "Are you coming on Saturday?"),
        notification("10", "favourite", "Bo", 65, "My post about tea"),
        notification("9", "follow", "Chen", 60 * 26),
    ]


class FakeService:
    """Records calls and whether each ran on the GUI thread; can fail or wait on request."""

    def __init__(
        self,
        notifications: list[Notification] | None = None,
        conversations: list[Conversation] | None = None,
        *,
        can_dismiss: bool = True,
        avatar_path: str | None = None,
    ) -> None:
        self.notifications = recent() if notifications is None else notifications
        self.unread = (
            [
                conversation("c1", ["Dana"], "See you there!"),
                conversation("c2", ["Eli", "Fay"], "Lunch?"),
            ]
            if conversations is None
            else conversations
        )
        self._can_dismiss = can_dismiss
        self.avatar_path = avatar_path
        self.calls: list[tuple[str, object]] = []
        self.on_gui_thread: list[str] = []
        self.fail: dict[str, Exception] = {}
        self.gates: dict[str, threading.Event] = {}
        self.dismiss_calls: list[list[Notification]] = []
        self.closed_after: list[str] | None = None  # the calls made before close()

    def hold(self, name: str) -> threading.Event:
        """Make ``name`` wait until the returned event is set."""
        gate = threading.Event()
        self.gates[name] = gate
        return gate

    def release_all(self) -> None:
        for gate in self.gates.values():
            gate.set()

    def _call(self, name: str, arg: object = None) -> None:
        if threading.current_thread() is threading.main_thread():
            self.on_gui_thread.append(name)
        gate = self.gates.get(name)
        if gate is not None:
            assert gate.wait(10), f"{name} was never released"
        self.calls.append((name, arg))
        if name in self.fail:
            raise self.fail[name]

    def dismissed_ids(self) -> list[list[str]]:
        return [[n.id for n in call] for call in self.dismiss_calls]

    def names(self) -> list[str]:
        return [name for name, _ in self.calls if name not in ("avatar", "can_dismiss")]

    @property
    def can_dismiss(self) -> bool:
        self._call("can_dismiss")
        return self._can_dismiss

    def recent(self) -> list[Notification]:
        self._call("recent")
        return list(self.notifications)

    def avatar(self, url: str) -> str | None:
        self._call("avatar", url)
        return self.avatar_path

    def dismiss(self, notifications: list[Notification]) -> None:
        self._call("dismiss", list(notifications))
        self.dismiss_calls.append(list(notifications))
        gone = {n.id for n in notifications}
        self.notifications = [n for n in self.notifications if n.id not in gone]

    def clear_all(self) -> None:
        self._call("clear_all")
        self.notifications = []

    def mark_all_read(self) -> None:
        self._call("mark_all_read")

    def conversations(self) -> list[Conversation]:
        self._call("conversations")
        return list(self.unread)

    def close(self) -> None:
        self.closed_after = [name for name, _ in self.calls]

    def mark_conversation_read(self, conversation_id: str) -> None:
        self._call("mark_conversation_read", conversation_id)
        self.unread = [c for c in self.unread if c.id != conversation_id]


@pytest.fixture
def service() -> Iterator[FakeService]:
    fake = FakeService()
    yield fake
    fake.release_all()
    assert fake.on_gui_thread == []


def open_dialog(qtbot: QtBot, service: FakeService) -> NotificationsDialog:
    dlg = NotificationsDialog(None, service, account_label=LABEL, clock=lambda: NOW)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    dlg.activateWindow()
    qtbot.waitUntil(dlg.isActiveWindow)
    wait_idle(qtbot, dlg)
    return dlg


def wait_idle(qtbot: QtBot, dlg: NotificationsDialog) -> None:
    qtbot.waitUntil(lambda: not dlg.is_busy(), timeout=5000)


@pytest.fixture
def dlg(qtbot: QtBot, service: FakeService) -> NotificationsDialog:
    return open_dialog(qtbot, service)


def titles(lst: QListWidget) -> list[str]:
    return [str(lst.item(r).data(Qt.ItemDataRole.UserRole + 1)) for r in range(lst.count())]


def texts(lst: QListWidget) -> list[str]:
    return [lst.item(r).text() for r in range(lst.count())]


def click_row(qtbot: QtBot, lst: QListWidget, row: int, modifier: Any = None) -> None:
    item = lst.item(row)
    lst.scrollToItem(item)
    point: QPoint = lst.visualItemRect(item).center()
    mods = modifier if modifier is not None else Qt.KeyboardModifier.NoModifier
    qtbot.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, mods, point)


def click_in_message_box(button_text: str, seen: list[str]) -> Callable[[], None]:
    """Press a message box button once the box is up; note its text in ``seen``."""

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, click)
            return
        seen.append(box.text())
        for b in box.buttons():
            if b.text().replace("&", "") == button_text:
                QTest.mouseClick(b, Qt.MouseButton.LeftButton)
                return
        raise AssertionError(f"no {button_text!r} in {[b.text() for b in box.buttons()]}")

    return click


def is_error(dlg: NotificationsDialog) -> bool:
    colour = dlg.status.palette().color(QPalette.ColorRole.WindowText)
    return bool(dlg.status.property("error")) and colour == QColor("#C01C28")


# --------------------------------------------------------------------------- words


def test_relative_time() -> None:
    assert relative_time(NOW - timedelta(seconds=20), NOW) == "just now"
    assert relative_time(NOW + timedelta(seconds=20), NOW) == "just now"
    assert relative_time(NOW - timedelta(minutes=5), NOW) == "5 min ago"
    assert relative_time(NOW - timedelta(minutes=65), NOW) == "1 hour ago"
    assert relative_time(NOW - timedelta(hours=5), NOW) == "5 hours ago"
    assert relative_time(NOW - timedelta(hours=30), NOW) == "yesterday"
    assert relative_time(NOW - timedelta(days=4), NOW) == "4 days ago"
    assert relative_time(NOW - timedelta(days=30), NOW).endswith("May")
    assert relative_time(NOW - timedelta(days=400), NOW).endswith("2024")
    assert relative_time(None, NOW) == ""


def test_status_time_from_ids() -> None:
    def status(sid: str) -> Status:
        return Status.from_json({"id": sid, "content": ""})

    when = NOW - timedelta(hours=2)
    snowflake = str(int(when.timestamp() * 1000) << 16 | 5)
    assert status_time(status(snowflake), NOW) == when
    ms = int(when.timestamp() * 1000)
    crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    head = "".join(crockford[(ms >> (5 * (9 - i))) & 31] for i in range(10))
    assert status_time(status(head + "0" * 16), NOW) == when
    assert status_time(status("12345"), NOW) is None  # says nothing
    assert status_time(None, NOW) is None


def test_type_names() -> None:
    assert type_name(recent()[1]) == "Favourite"
    direct = Notification.from_json(
        {
            "id": "1",
            "type": "mention",
            "account": account(1, "Ana"),
            "status": {"id": "2", "content": "hi", "visibility": "direct"},
        }
    )
    assert type_name(direct) == "Direct message"
    assert type_name(Notification.from_json({"id": "3", "type": "pleroma:emoji_reaction"})) == (
        "Emoji reaction"
    )


# --------------------------------------------------------------------------- listing


def test_lists_recent_notifications_with_text_kind_and_time(
    dlg: NotificationsDialog, service: FakeService
) -> None:
    lst = dlg.notification_list
    assert titles(lst) == ["Ana mentioned you", "Bo favourited your post", "Chen followed you"]
    first = lst.item(0).text()
    assert "Are you coming on Saturday?" in first
    assert "Mention · 5 min ago" in first
    assert "Favourite · 1 hour ago" in lst.item(1).text()
    assert "New follower · yesterday" in lst.item(2).text()
    assert "@chen@example.org" in lst.item(2).text()
    assert lst.selectionMode() == QListWidget.SelectionMode.ExtendedSelection
    assert dlg.status.text() == "3 notifications, 2 unread conversations."
    assert not dlg.busy.isVisible()
    assert service.names() == ["recent", "conversations"]
    assert dlg.windowTitle() == f"Notifications · {LABEL}"


def test_times_move_on_with_the_clock(qtbot: QtBot, service: FakeService) -> None:
    now = [NOW]
    dlg = NotificationsDialog(None, service, account_label=LABEL, clock=lambda: now[0])
    qtbot.addWidget(dlg)
    dlg.show()
    wait_idle(qtbot, dlg)
    assert "5 min ago" in dlg.notification_list.item(0).text()
    now[0] = NOW + timedelta(minutes=10)
    dlg.refresh_times()
    assert "15 min ago" in dlg.notification_list.item(0).text()


def test_avatar_loads_off_the_gui_thread_after_a_placeholder(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "ana.png"
    image = QImage(64, 64, QImage.Format.Format_RGB32)
    image.fill(QColor("#D35400"))
    assert image.save(str(path))
    service = FakeService(avatar_path=str(path))
    gate = service.hold("avatar")
    try:
        dlg = open_dialog(qtbot, service)
        item = dlg.notification_list.item(0)
        placeholder = item.icon()
        assert not placeholder.isNull()  # the initial, shown while the avatar loads
        gate.set()
        qtbot.waitUntil(lambda: item.icon().cacheKey() != placeholder.cacheKey())
        pixel = item.icon().pixmap(40, 40).toImage().pixelColor(20, 20)
        assert pixel.name() == "#d35400"
        asked = [arg for name, arg in service.calls if name == "avatar"]
        assert "https://example.org/avatars/11.png" in asked
        assert len(asked) == len(set(asked))  # each address once
    finally:
        service.release_all()
    assert service.on_gui_thread == []


def test_empty_lists_say_so(qtbot: QtBot) -> None:
    service = FakeService(notifications=[], conversations=[])
    dlg = open_dialog(qtbot, service)
    assert dlg.notification_list.placeholder() == "No recent notifications."
    assert dlg.conversation_list.placeholder() == "No unread conversations."
    assert not dlg.mark_all_conversations_button.isEnabled()
    assert dlg.tabs.tabText(1) == "C&onversations"


def test_load_error_is_shown_in_words(qtbot: QtBot) -> None:
    service = FakeService()
    service.fail["recent"] = ApiError("The server did not answer in time.")
    dlg = open_dialog(qtbot, service)
    assert dlg.notification_list.count() == 0
    assert "Could not load the notifications: The server did not answer in time." in (
        dlg.status.text()
    )
    assert is_error(dlg)
    assert dlg.conversation_list.count() == 2  # the other half still loaded
    # Refresh (F5) tries again and clears the error.
    del service.fail["recent"]
    qtbot.keyClick(dlg, Qt.Key.Key_F5)
    wait_idle(qtbot, dlg)
    assert dlg.notification_list.count() == 3
    assert not dlg.status.property("error")
    assert service.on_gui_thread == []


# --------------------------------------------------------------------------- dismiss


def test_dismiss_one_selected(qtbot: QtBot, dlg: NotificationsDialog, service: FakeService) -> None:
    lst = dlg.notification_list
    assert not dlg.dismiss_button.isEnabled()  # nothing selected yet
    click_row(qtbot, lst, 1)
    assert dlg.dismiss_button.isEnabled()
    with qtbot.waitSignal(dlg.dismissed) as signal:
        qtbot.mouseClick(dlg.dismiss_button, Qt.MouseButton.LeftButton)
    assert signal.args == [["10"]]
    assert service.dismissed_ids() == [["10"]]
    assert service.dismiss_calls[0] == [recent()[1]]  # the Notification itself
    assert titles(lst) == ["Ana mentioned you", "Chen followed you"]
    assert dlg.status.text() == "Dismissed 1 notification."
    wait_idle(qtbot, dlg)
    assert not dlg.dismiss_button.isEnabled()  # the selection went with the item


def test_delete_key_dismisses_several_selected(
    qtbot: QtBot, dlg: NotificationsDialog, service: FakeService
) -> None:
    lst = dlg.notification_list
    click_row(qtbot, lst, 0)
    click_row(qtbot, lst, 2, CTRL)
    assert sorted(lst.selected_ids()) == ["11", "9"]
    with qtbot.waitSignal(dlg.dismissed) as signal:
        qtbot.keyClick(lst, Qt.Key.Key_Delete)
    assert signal.args == [["11", "9"]]
    assert service.dismissed_ids() == [["11", "9"]]
    assert titles(lst) == ["Bo favourited your post"]
    assert lst.currentRow() == 0  # the keyboard stays in the list


def test_delete_key_on_the_row_the_keyboard_is_on(
    qtbot: QtBot, dlg: NotificationsDialog, service: FakeService
) -> None:
    lst = dlg.notification_list
    assert lst.hasFocus() and lst.selected_ids() == [] and lst.currentRow() == 0
    qtbot.keyClick(lst, Qt.Key.Key_Down)
    lst.clearSelection()  # on the second row, nothing selected: Delete takes that row
    with qtbot.waitSignal(dlg.dismissed) as signal:
        qtbot.keyClick(lst, Qt.Key.Key_Delete)
    assert signal.args == [["10"]]
    assert service.dismissed_ids() == [["10"]]


def test_shift_click_and_ctrl_a_select_ranges(qtbot: QtBot, dlg: NotificationsDialog) -> None:
    lst = dlg.notification_list
    click_row(qtbot, lst, 0)
    click_row(qtbot, lst, 1, Qt.KeyboardModifier.ShiftModifier)
    assert sorted(lst.selected_ids()) == ["10", "11"]
    lst.clearSelection()
    lst.setFocus()
    qtbot.keyClick(lst, Qt.Key.Key_A, CTRL)
    assert len(lst.selectedItems()) == 3
    assert dlg.dismiss_button.isEnabled()


def test_dismiss_error_keeps_items_and_selection(
    qtbot: QtBot, dlg: NotificationsDialog, service: FakeService
) -> None:
    service.fail["dismiss"] = ApiError("The server refused: record not found.")
    lst = dlg.notification_list
    click_row(qtbot, lst, 0)
    click_row(qtbot, lst, 1, CTRL)
    with qtbot.assertNotEmitted(dlg.dismissed):
        qtbot.keyClick(dlg, Qt.Key.Key_D, ALT)  # a button's mnemonic clicks it a moment later
        qtbot.waitUntil(lambda: "dismiss" in service.names())
        wait_idle(qtbot, dlg)
    assert lst.count() == 3
    assert sorted(lst.selected_ids()) == ["10", "11"]
    assert dlg.status.text() == (
        "Could not dismiss the 2 notifications: The server refused: record not found. "
        "They are still listed; try again."
    )
    assert is_error(dlg)
    assert dlg.dismiss_button.isEnabled()  # free to try again
    # And trying again works once the server does.
    del service.fail["dismiss"]
    with qtbot.waitSignal(dlg.dismissed):
        qtbot.mouseClick(dlg.dismiss_button, Qt.MouseButton.LeftButton)
    assert titles(lst) == ["Chen followed you"]
    assert not dlg.status.property("error")


def test_server_without_dismiss(qtbot: QtBot) -> None:
    service = FakeService(can_dismiss=False)
    dlg = open_dialog(qtbot, service)
    assert dlg.note.isVisible()
    assert dlg.note.text() == NO_DISMISS_NOTE
    assert NO_DISMISS_NOTE == (
        "This server cannot dismiss single notifications; you can only clear all."
    )
    lst = dlg.notification_list
    click_row(qtbot, lst, 0)
    assert lst.selectedItems()
    assert not dlg.dismiss_button.isEnabled()
    assert dlg.clear_button.isEnabled()
    with qtbot.assertNotEmitted(dlg.dismissed):
        qtbot.keyClick(lst, Qt.Key.Key_Delete)
        qtbot.wait(50)
    assert "dismiss" not in service.names()
    assert lst.count() == 3
    assert service.on_gui_thread == []


def test_note_hidden_where_dismiss_works(dlg: NotificationsDialog) -> None:
    assert not dlg.note.isVisible()


# --------------------------------------------------------------------------- clear, read


def test_clear_all_after_confirming(
    qtbot: QtBot, dlg: NotificationsDialog, service: FakeService
) -> None:
    seen: list[str] = []
    QTimer.singleShot(0, click_in_message_box("Clear all", seen))
    with qtbot.waitSignal(dlg.cleared):
        qtbot.keyClick(dlg, Qt.Key.Key_L, ALT)
    assert seen == [
        f"Clear all notifications on {LABEL}? This deletes them on the server and cannot be undone."
    ]
    assert "clear_all" in service.names()
    assert dlg.notification_list.count() == 0
    assert dlg.notification_list.placeholder() == "No recent notifications."
    assert dlg.status.text() == "Cleared all notifications."


def test_clear_all_cancelled_does_nothing(
    qtbot: QtBot, dlg: NotificationsDialog, service: FakeService
) -> None:
    seen: list[str] = []
    QTimer.singleShot(0, click_in_message_box("Cancel", seen))
    with qtbot.assertNotEmitted(dlg.cleared):
        qtbot.mouseClick(dlg.clear_button, Qt.MouseButton.LeftButton)
        qtbot.wait(50)
    assert seen
    assert "clear_all" not in service.names()
    assert dlg.notification_list.count() == 3


def test_clear_all_confirm_hook(qtbot: QtBot, dlg: NotificationsDialog) -> None:
    asked: list[str] = []

    def refuse(text: str) -> bool:
        asked.append(text)
        return False

    dlg.confirm = refuse
    qtbot.mouseClick(dlg.clear_button, Qt.MouseButton.LeftButton)
    assert asked and LABEL in asked[0]
    assert not dlg.is_busy()


def test_clear_all_error_keeps_items(
    qtbot: QtBot, dlg: NotificationsDialog, service: FakeService
) -> None:
    service.fail["clear_all"] = ApiError("Could not reach example.org.")
    dlg.confirm = lambda _text: True
    with qtbot.assertNotEmitted(dlg.cleared):
        qtbot.mouseClick(dlg.clear_button, Qt.MouseButton.LeftButton)
        wait_idle(qtbot, dlg)
    assert dlg.notification_list.count() == 3
    assert dlg.status.text() == "Could not clear the notifications: Could not reach example.org."
    assert is_error(dlg)


def test_mark_all_read(qtbot: QtBot, dlg: NotificationsDialog, service: FakeService) -> None:
    with qtbot.waitSignal(dlg.markedAllRead):
        qtbot.keyClick(dlg, Qt.Key.Key_M, ALT)
    assert "mark_all_read" in service.names()
    assert dlg.notification_list.count() == 3  # read, not gone
    assert dlg.status.text() == "Marked all notifications as read."


# --------------------------------------------------------------------------- conversations


def test_conversations_listed(qtbot: QtBot, dlg: NotificationsDialog) -> None:
    qtbot.keyClick(dlg, Qt.Key.Key_O, ALT)
    assert dlg.tabs.currentWidget() is dlg.conversations_page
    assert dlg.tabs.tabText(1) == "C&onversations (2)"
    lst = dlg.conversation_list
    assert titles(lst) == ["Dana", "Eli, Fay"]
    assert "See you there!" in lst.item(0).text()
    assert "Direct message" in lst.item(0).text()


def test_mark_one_conversation_read(
    qtbot: QtBot, dlg: NotificationsDialog, service: FakeService
) -> None:
    qtbot.keyClick(dlg, Qt.Key.Key_O, ALT)
    lst = dlg.conversation_list
    assert not dlg.mark_read_button.isEnabled()
    click_row(qtbot, lst, 1)
    with qtbot.waitSignal(dlg.conversationRead) as signal:
        qtbot.keyClick(dlg, Qt.Key.Key_R, ALT)
    assert signal.args == ["c2"]
    assert ("mark_conversation_read", "c2") in service.calls
    assert titles(lst) == ["Dana"]
    assert dlg.tabs.tabText(1) == "C&onversations (1)"
    assert dlg.status.text() == "Marked 1 conversation as read."


def test_mark_all_conversations_read(
    qtbot: QtBot, dlg: NotificationsDialog, service: FakeService
) -> None:
    qtbot.keyClick(dlg, Qt.Key.Key_O, ALT)
    read: list[str] = []
    dlg.conversationRead.connect(read.append)
    qtbot.keyClick(dlg, Qt.Key.Key_A, ALT)
    qtbot.waitUntil(lambda: len(read) == 2)
    wait_idle(qtbot, dlg)
    assert read == ["c1", "c2"]
    assert [arg for name, arg in service.calls if name == "mark_conversation_read"] == [
        "c1",
        "c2",
    ]
    assert dlg.conversation_list.count() == 0
    assert not dlg.mark_all_conversations_button.isEnabled()
    assert dlg.conversation_list.placeholder() == "No unread conversations."


def test_mark_conversations_read_stops_at_an_error(
    qtbot: QtBot, dlg: NotificationsDialog, service: FakeService
) -> None:
    def fail_second(conversation_id: str) -> None:
        service.calls.append(("mark_conversation_read", conversation_id))
        if conversation_id == "c2":
            raise ApiError("The server is busy; try again in a minute.")

    service.mark_conversation_read = fail_second  # type: ignore[method-assign]
    dlg.tabs.setCurrentWidget(dlg.conversations_page)
    read: list[str] = []
    dlg.conversationRead.connect(read.append)
    qtbot.mouseClick(dlg.mark_all_conversations_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, dlg)
    assert read == ["c1"]
    assert titles(dlg.conversation_list) == ["Eli, Fay"]
    assert dlg.status.text() == (
        "Could not mark 1 conversation as read: The server is busy; try again in a minute."
    )
    assert is_error(dlg)


# --------------------------------------------------------------------------- busy, closing


def test_busy_indicator_while_the_server_is_slow(
    qtbot: QtBot, dlg: NotificationsDialog, service: FakeService
) -> None:
    gate = service.hold("dismiss")
    click_row(qtbot, dlg.notification_list, 0)
    qtbot.mouseClick(dlg.dismiss_button, Qt.MouseButton.LeftButton)
    assert dlg.busy.isVisible()
    assert dlg.status.text() == "Dismissing 1 notification…"
    for button in (
        dlg.dismiss_button,
        dlg.clear_button,
        dlg.mark_all_read_button,
        dlg.refresh_button,
    ):
        assert not button.isEnabled()
    # The window still answers while the call waits.
    click_row(qtbot, dlg.notification_list, 2)
    assert dlg.notification_list.selected_ids() == ["9"]
    with qtbot.waitSignal(dlg.dismissed) as signal:
        gate.set()
    assert signal.args == [["11"]]  # what was selected when the person asked
    wait_idle(qtbot, dlg)
    assert not dlg.busy.isVisible()
    assert dlg.clear_button.isEnabled()


def test_close_waits_for_a_running_change(
    qtbot: QtBot, dlg: NotificationsDialog, service: FakeService
) -> None:
    gate = service.hold("dismiss")
    click_row(qtbot, dlg.notification_list, 0)
    qtbot.keyClick(dlg.notification_list, Qt.Key.Key_Delete)
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    assert dlg.isVisible()
    assert dlg.status.text() == "Closing when the server has answered…"
    with qtbot.waitSignal(dlg.dismissed):
        gate.set()
    qtbot.waitUntil(lambda: not dlg.isVisible())


def test_closing_twice_does_not_wait(
    qtbot: QtBot, dlg: NotificationsDialog, service: FakeService
) -> None:
    gate = service.hold("dismiss")
    click_row(qtbot, dlg.notification_list, 0)
    qtbot.keyClick(dlg.notification_list, Qt.Key.Key_Delete)
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    assert dlg.isVisible()
    qtbot.mouseClick(dlg.close_button, Qt.MouseButton.LeftButton)
    assert not dlg.isVisible()
    qtbot.wait(200)
    assert service.closed_after is None  # the connection stays open for the dismiss
    gate.set()  # the server still gets the change
    qtbot.waitUntil(lambda: service.dismissed_ids() == [["11"]])
    qtbot.waitUntil(lambda: service.closed_after is not None)
    assert service.closed_after is not None and service.closed_after[-1] == "dismiss"


def test_close_button_closes(qtbot: QtBot, dlg: NotificationsDialog) -> None:
    qtbot.mouseClick(dlg.close_button, Qt.MouseButton.LeftButton)
    assert not dlg.isVisible()


def test_tab_order_and_mnemonics(qtbot: QtBot, dlg: NotificationsDialog) -> None:
    lst = dlg.notification_list
    click_row(qtbot, lst, 0)
    assert QApplication.focusWidget() is lst
    order = []
    for _ in range(5):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        order.append(QApplication.focusWidget())
    assert order == [
        dlg.dismiss_button,
        dlg.clear_button,
        dlg.mark_all_read_button,
        dlg.refresh_button,
        dlg.close_button,
    ]
    for widget in (
        dlg.dismiss_button,
        dlg.clear_button,
        dlg.mark_all_read_button,
        dlg.refresh_button,
        dlg.mark_read_button,
        dlg.mark_all_conversations_button,
    ):
        assert "&" in widget.text()


def test_refresh_keeps_the_selection(
    qtbot: QtBot, dlg: NotificationsDialog, service: FakeService
) -> None:
    click_row(qtbot, dlg.notification_list, 1)
    service.notifications.insert(0, notification("12", "reblog", "Gus", 1, "Boosted"))
    qtbot.keyClick(dlg, Qt.Key.Key_F, ALT)
    qtbot.waitUntil(lambda: service.names().count("recent") == 2)
    wait_idle(qtbot, dlg)
    assert dlg.notification_list.count() == 4
    assert dlg.notification_list.selected_ids() == ["10"]
    assert service.names().count("recent") == 2


# --------------------------------------------------------------------------- entry point


def test_manage_reports_changes_to_the_app(qtbot: QtBot, service: FakeService) -> None:
    dismissed: list[list[str]] = []
    read: list[str] = []
    steps: list[str] = []

    def drive() -> None:
        dlg = QApplication.activeModalWidget()
        if not isinstance(dlg, NotificationsDialog) or dlg.is_busy():
            QTimer.singleShot(10, drive)
            return
        if not steps:
            steps.append("dismiss")
            item: QListWidgetItem = dlg.notification_list.item(0)
            item.setSelected(True)
            dlg.dismiss_selected()
        elif len(steps) == 1:
            steps.append("read")
            dlg.conversation_list.item(0).setSelected(True)
            dlg.mark_selected_conversations_read()
        else:
            dlg.reject()
            return
        QTimer.singleShot(10, drive)

    QTimer.singleShot(0, drive)
    NotificationsDialog.manage(
        None,
        service,
        account_label=LABEL,
        on_dismissed=dismissed.append,
        on_conversation_read=read.append,
    )
    assert dismissed == [["11"]]
    assert read == ["c1"]


def test_lines_after_an_emoji_break_between_words(qapp: QApplication) -> None:
    from PySide6.QtGui import QFont, QFontMetrics

    from tootbell.ui.dialogs.notifications import _wrapped

    font = QFont()
    fm = QFontMetrics(font)
    text = "🎉🎉🎉 party tonight at the usual place with everyone from the team " * 3
    width = fm.horizontalAdvance("🎉🎉🎉 party tonight at th")
    first, second = _wrapped(text, font, width, 2)
    assert first == "🎉🎉🎉 party tonight at"
    assert fm.horizontalAdvance(first) <= width
    assert second.startswith("the usual place")
