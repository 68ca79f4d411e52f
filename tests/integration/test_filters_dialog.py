"""The filters dialog, driven by keyboard and mouse, against a fake service that records calls."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from dialog_keys import (
    CTRL,
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
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from tootbell.mastodon.client import ApiError, NetworkError
from tootbell.mastodon.entities import Account, Notification, Status
from tootbell.mastodon.filters_api import (
    Filter,
    FilterDraft,
    FilterKeyword,
    FilterStatus,
    FilterValidationError,
    KeywordEdit,
)
from tootbell.ui.dialogs.filters import (
    FiltersDialog,
    expiry_text,
    field_of,
    filter_subtitle,
    preview_summary,
)

# The offscreen platform says this whenever a window is shown; it is not a problem.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def person(name: str) -> Account:
    return Account(
        id=name,
        username=name,
        acct=name,
        display_name=name.capitalize(),
        url=f"https://example.test/@{name}",
        avatar="",
        avatar_static="",
    )


def note(nid: int, ntype: str, who: str, text: str) -> Notification:
    status = Status(
        id=f"s{nid}",
        url=f"https://example.test/@{who}/{nid}",
        uri="",
        content=f"<p>{text}</p>",
        spoiler_text="",
        visibility="public",
        account=person(who),
    )
    return Notification(id=str(nid), type=ntype, created_at=NOW, account=person(who), status=status)


RECENT = [
    note(9, "mention", "ana", "No spoilers please, but the finale was wild"),
    note(8, "favourite", "bo", "My review of the season finale"),
    note(7, "reblog", "cy", "Buy bitcoin now"),
    note(6, "mention", "dee", "Lunch tomorrow?"),
    note(5, "status", "eve", "Spoiler: it was the butler"),
]

SPOILERS = Filter(
    id="1",
    title="Spoilers",
    context=("home", "notifications", "public", "thread"),
    action="warn",
    expires_at=NOW + timedelta(days=3),
    keywords=(
        FilterKeyword("k1", "spoiler", True),
        FilterKeyword("k2", "finale", False),
        FilterKeyword("k3", "ending", False),
    ),
    statuses=(FilterStatus("fs1", "s9"),),
)
CRYPTO = Filter(
    id="2",
    title="Crypto",
    context=("home", "notifications"),
    action="hide",
    expires_at=None,
    keywords=(FilterKeyword("k4", "NFT", True),),
)
OLD = Filter(
    id="3",
    title="Election night",
    context=("public",),
    action="blur",
    expires_at=NOW - timedelta(hours=1),
    keywords=(),
)


class FakeService:
    """Stands in for the app's FilterService: records each call and the thread it ran on.

    ``gates[name]`` holds a call until the event is set; ``errors[name]`` is raised once.
    """

    def __init__(
        self,
        support: str = "v2",
        filters: Iterable[Filter] = (SPOILERS, CRYPTO, OLD),
        recent: Iterable[Notification] = RECENT,
        *,
        supports_blur: bool = True,
    ) -> None:
        self.support = support
        self.filters = {f.id: f for f in filters}
        self.recent_items = list(recent)
        self.supports_blur = supports_blur
        self.calls: list[tuple[str, tuple[object, ...]]] = []
        self.on_gui_thread: list[str] = []
        self.gates: dict[str, threading.Event] = {}
        self.errors: dict[str, BaseException] = {}
        self.closed_after: list[str] | None = None  # the calls made before close()
        self._ids = itertools.count(100)
        self._lock = threading.Lock()

    def _enter(self, name: str, *args: object) -> None:
        with self._lock:
            self.calls.append((name, args))
            if threading.current_thread() is threading.main_thread():
                self.on_gui_thread.append(name)
        gate = self.gates.get(name)
        if gate is not None:
            assert gate.wait(10), f"{name} was never let through"
        error = self.errors.pop(name, None)
        if error is not None:
            raise error

    def named(self, name: str) -> list[tuple[object, ...]]:
        with self._lock:
            return [args for n, args in self.calls if n == name]

    def _expiry(self, draft: FilterDraft) -> datetime | None:
        return None if draft.expires_in is None else NOW + timedelta(seconds=draft.expires_in)

    def load(self) -> tuple[str, list[Filter]]:
        self._enter("load")
        return self.support, list(self.filters.values())

    def create(self, draft: FilterDraft) -> Filter:
        self._enter("create", draft)
        fid = str(next(self._ids))
        f = Filter(
            id=fid,
            title=draft.title,
            context=draft.context,
            action=draft.action,
            expires_at=self._expiry(draft),
            keywords=tuple(
                FilterKeyword(f"k{next(self._ids)}", k.keyword, k.whole_word)
                for k in draft.active_keywords
            ),
            version=1 if self.support == "v1" else 2,
        )
        self.filters[fid] = f
        return f

    def update(self, filter_id: str, draft: FilterDraft) -> Filter:
        self._enter("update", filter_id, draft)
        old = self.filters[filter_id]
        keywords = {k.id: k for k in old.keywords}
        for edit in draft.keywords:
            if edit.id is not None and edit.destroy:
                keywords.pop(edit.id, None)
            elif edit.id is not None:
                keywords[edit.id] = FilterKeyword(edit.id, edit.keyword, edit.whole_word)
            else:
                kid = f"k{next(self._ids)}"
                keywords[kid] = FilterKeyword(kid, edit.keyword, edit.whole_word)
        f = replace(
            old,
            title=draft.title,
            context=draft.context,
            action=draft.action,
            expires_at=self._expiry(draft),
            keywords=tuple(keywords.values()),
        )
        self.filters[filter_id] = f
        return f

    def delete(self, filter_id: str) -> None:
        self._enter("delete", filter_id)
        del self.filters[filter_id]

    def close(self) -> None:
        self.closed_after = [name for name, _ in self.calls]

    def remove_status(self, filter_status_id: str) -> None:
        self._enter("remove_status", filter_status_id)

    def recent(self) -> list[Notification]:
        self._enter("recent")
        return list(self.recent_items)


class Harness:
    """Opens dialogs; at the end lets every held call go, closes them and waits for threads."""

    def __init__(self, qtbot: QtBot) -> None:
        self.qtbot = qtbot
        self.opened: list[tuple[FiltersDialog, FakeService]] = []

    def open(self, service: FakeService | None = None, *, wait: bool = True) -> FiltersDialog:
        service = service or FakeService()
        dlg = FiltersDialog(None, service, account_label="me@example.test", clock=lambda: NOW)
        # Not qtbot.addWidget: its close() would ask about unsaved changes after a failed test.
        self.opened.append((dlg, service))
        dlg.show()
        self.qtbot.waitExposed(dlg)
        dlg.activateWindow()
        self.qtbot.waitUntil(dlg.isActiveWindow)
        if wait:
            self.qtbot.waitUntil(lambda: not dlg.is_busy(), timeout=5000)
        return dlg

    def close(self) -> None:
        for dlg, service in self.opened:
            for gate in service.gates.values():
                gate.set()
            if dlg.isVisible():
                dlg.done(0)  # without asking about unsaved changes
            dlg.deleteLater()
            thread = dlg.service_thread
            if thread is not None:
                thread.join(5)
                assert not thread.is_alive()
            assert service.on_gui_thread == [], "service called on the GUI thread"


@pytest.fixture
def harness(qtbot: QtBot) -> Iterator[Harness]:
    h = Harness(qtbot)
    yield h
    h.close()


def is_red(widget: QWidget) -> bool:
    colour = widget.palette().color(QPalette.ColorRole.WindowText)
    return colour.red() > 150 and colour.green() < 130


# --------------------------------------------------------------------------- words


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (None, "never expires"),
        (timedelta(days=3), "expires in 3 days"),
        (timedelta(days=3) - timedelta(seconds=1), "expires in 3 days"),
        (timedelta(days=1), "expires in 1 day"),
        (timedelta(hours=5), "expires in 5 hours"),
        (timedelta(hours=1), "expires in 1 hour"),
        (timedelta(minutes=20), "expires in 20 minutes"),
        (timedelta(seconds=10), "expires in 1 minute"),
        (timedelta(0), "expired"),
        (-timedelta(days=2), "expired"),
    ],
)
def test_expiry_text(delta: timedelta | None, text: str) -> None:
    assert expiry_text(None if delta is None else NOW + delta, NOW) == text


def test_subtitle_says_where_what_until_and_how_many() -> None:
    assert filter_subtitle(SPOILERS, NOW) == (
        "Home, Notifications, Public, Conversations\nWarn · expires in 3 days · 3 keywords · 1 post"
    )
    assert filter_subtitle(CRYPTO, NOW) == "Home, Notifications\nHide · never expires · 1 keyword"
    assert filter_subtitle(OLD, NOW) == "Public\nBlur media · expired · 0 keywords"


def test_error_fields_and_preview_words() -> None:
    assert field_of("title") == "title"
    assert field_of("expires_in") == "expires"
    assert field_of("phrase") == "keywords"
    assert field_of("base") is None
    assert preview_summary("hide", 2, 5) == "Would have hidden 2 of your 5 recent notifications."
    one = preview_summary("warn", 1, 1)
    assert one == "Would have warned about 1 of your 1 recent notification."


# --------------------------------------------------------------------------- loading


def test_loads_off_the_gui_thread_and_lists_the_filters(harness: Harness) -> None:
    service = FakeService()
    dlg = harness.open(service)
    assert [name for name, _ in service.calls] == ["load", "recent"]
    assert titles(dlg) == ["Spoilers", "Crypto", "Election night"]
    assert "Filters for me@example.test" in dlg.windowTitle()
    assert not dlg.notice.isVisible()
    # The first filter is in the editor, unchanged.
    assert service.on_gui_thread == []
    assert dlg.title_edit.text() == "Spoilers"
    assert dlg.context_boxes["thread"].isChecked()
    assert not dlg.context_boxes["account"].isChecked()
    assert dlg.action_radios["warn"].isChecked()
    assert dlg.expiry_combo.currentText() == "Unchanged: expires in 3 days"
    assert dlg.keywords.rows() == (
        ("k1", "spoiler", True),
        ("k2", "finale", False),
        ("k3", "ending", False),
    )
    assert dlg.statuses_list.count() == 1
    assert not dlg.is_dirty()
    assert not dlg.save_button.isEnabled()
    assert not dlg.revert_button.isEnabled()
    assert not dlg.busy.isVisible()


# --------------------------------------------------------------------------- creating


def test_create_a_filter_with_two_keywords_and_an_expiry(qtbot: QtBot, harness: Harness) -> None:
    service = FakeService()
    dlg = harness.open(service)
    alt(qtbot, dlg, Qt.Key.Key_N)  # New: a button's mnemonic clicks it a moment later
    qtbot.waitUntil(lambda: titles(dlg)[0] == "New filter")
    assert dlg.filter_list.count() == 4
    qtbot.waitUntil(lambda: dlg.title_edit.hasFocus())
    type_keys(qtbot, "TV spoilers")

    alt(qtbot, dlg, Qt.Key.Key_P)  # Public timelines: off
    qtbot.waitUntil(lambda: not dlg.context_boxes["public"].isChecked())
    alt(qtbot, dlg, Qt.Key.Key_C)  # Hide completely
    qtbot.waitUntil(lambda: dlg.action_radios["hide"].isChecked())

    alt(qtbot, dlg, Qt.Key.Key_X)  # Expires: Never -> 30 min -> 1 h -> 6 h -> 12 h -> 1 day
    assert dlg.expiry_combo.hasFocus()
    for _ in range(5):
        press(qtbot, Qt.Key.Key_Down)
    assert dlg.expiry_combo.currentText() == "1 day"

    alt(qtbot, dlg, Qt.Key.Key_K)  # Keywords: the new filter's empty row is waiting
    assert dlg.keywords.hasFocus()
    type_keys(qtbot, "spoiler")  # the first key opens the cell's editor
    end_cell_edit(qtbot, dlg)
    alt(qtbot, dlg, Qt.Key.Key_A)  # Add keyword: a new row, already being edited
    qtbot.waitUntil(lambda: dlg.keywords.rowCount() == 2)
    qtbot.waitUntil(lambda: focused().objectName() == "keywordEditor")
    type_keys(qtbot, "finale")
    end_cell_edit(qtbot, dlg)
    press(qtbot, Qt.Key.Key_Right)  # to "Whole word"
    press(qtbot, Qt.Key.Key_Space)  # off: "finale" also inside "finales"
    assert dlg.keywords.rows() == ((None, "spoiler", True), (None, "finale", False))

    press(qtbot, Qt.Key.Key_S, CTRL)
    saved(qtbot, dlg)
    assert service.named("create") == [
        (
            FilterDraft(
                title="TV spoilers",
                context=("home", "notifications", "thread"),
                action="hide",
                expires_in=24 * 60 * 60,
                keywords=(KeywordEdit("spoiler", True), KeywordEdit("finale", False)),
            ),
        )
    ]
    # The new filter is in the list, as the server has it, and nothing is left unsaved.
    assert titles(dlg) == ["TV spoilers", "Spoilers", "Crypto", "Election night"]
    assert dlg.title_edit.text() == "TV spoilers"
    assert [kid is not None for kid, _t, _w in dlg.keywords.rows()] == [True, True]
    assert dlg.expiry_combo.currentText() == "Unchanged: expires in 1 day"
    assert not dlg.is_dirty()
    assert "Saved" in dlg.status.text()
    item = dlg.filter_list.item(0)
    assert item is not None
    assert "2 keywords" in item.toolTip()


def test_custom_expiry(qtbot: QtBot, harness: Harness) -> None:
    dlg = harness.open()
    assert not dlg.custom_amount.isVisible()
    alt(qtbot, dlg, Qt.Key.Key_X)
    press(qtbot, Qt.Key.Key_End)  # Custom…
    assert dlg.expiry_combo.currentText() == "Custom…"
    assert dlg.custom_amount.isVisible()
    assert dlg.custom_amount.hasFocus()  # straight to the number
    type_keys(qtbot, "36")
    press(qtbot, Qt.Key.Key_Tab)
    assert dlg.custom_unit.hasFocus()
    press(qtbot, Qt.Key.Key_Down)  # days -> hours
    assert dlg.draft().expires_in == 36 * 60 * 60


# --------------------------------------------------------------------------- editing


def test_edit_one_keyword_and_remove_another_in_one_save(qtbot: QtBot, harness: Harness) -> None:
    service = FakeService()
    dlg = harness.open(service)
    alt(qtbot, dlg, Qt.Key.Key_K)
    assert dlg.keywords.currentRow() == 0
    press(qtbot, Qt.Key.Key_F2)  # edit "spoiler"; its text is selected
    type_keys(qtbot, "spoilers")
    end_cell_edit(qtbot, dlg)
    press(qtbot, Qt.Key.Key_Down)
    press(qtbot, Qt.Key.Key_Delete)  # "finale" goes
    assert dlg.keywords.rows() == (("k1", "spoilers", True), ("k3", "ending", False))
    assert dlg.is_dirty()
    assert dlg.revert_button.isEnabled()
    assert service.named("update") == []  # nothing is sent before Save

    press(qtbot, Qt.Key.Key_S, CTRL)
    saved(qtbot, dlg)
    assert service.named("update") == [
        (
            "1",
            FilterDraft(
                title="Spoilers",
                context=("home", "notifications", "public", "thread"),
                action="warn",
                expires_in=3 * 24 * 60 * 60,  # the expiry left as it was
                keywords=(
                    KeywordEdit("spoilers", True, "k1"),
                    KeywordEdit("ending", False, "k3"),
                    KeywordEdit("finale", False, "k2", destroy=True),
                ),
            ),
        )
    ]
    assert dlg.keywords.rows() == (("k1", "spoilers", True), ("k3", "ending", False))
    assert not dlg.is_dirty()


def test_ctrl_s_while_still_typing_a_keyword(qtbot: QtBot, harness: Harness) -> None:
    service = FakeService(filters=(CRYPTO,))
    dlg = harness.open(service)
    alt(qtbot, dlg, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: dlg.keywords.rowCount() == 2)
    qtbot.waitUntil(lambda: focused().objectName() == "keywordEditor")
    type_keys(qtbot, "web3")  # no Enter: the cell's editor is still open
    press(qtbot, Qt.Key.Key_S, CTRL)
    saved(qtbot, dlg)
    ((fid, draft),) = service.named("update")
    assert fid == "2"
    assert isinstance(draft, FilterDraft)
    assert draft.keywords == (KeywordEdit("NFT", True, "k4"), KeywordEdit("web3", True))
    assert draft.expires_in is None  # it never expired and still does not


def test_tab_reaches_the_filtered_posts(qtbot: QtBot, harness: Harness) -> None:
    dlg = harness.open()
    alt(qtbot, dlg, Qt.Key.Key_E)  # Filtered posts
    assert dlg.statuses_list.hasFocus()
    press(qtbot, Qt.Key.Key_Tab)
    assert focused().objectName() == "removeStatus"
    press(qtbot, Qt.Key.Key_Tab)
    assert focused() is dlg.revert_button or not dlg.revert_button.isEnabled()


def test_revert_forgets_the_changes(qtbot: QtBot, harness: Harness) -> None:
    dlg = harness.open()
    dlg.title_edit.setFocus()
    type_keys(qtbot, " and more")
    dlg.keywords.setFocus()
    press(qtbot, Qt.Key.Key_Delete)
    assert dlg.is_dirty()
    alt(qtbot, dlg, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: not dlg.is_dirty())
    assert dlg.title_edit.text() == "Spoilers"
    assert len(dlg.keywords.rows()) == 3


def test_switching_filters_asks_about_unsaved_changes(qtbot: QtBot, harness: Harness) -> None:
    dlg = harness.open()
    dlg.title_edit.setFocus()
    type_keys(qtbot, "!")
    rect = dlg.filter_list.visualItemRect(dlg.filter_list.item(1))
    later(answer_box_with_alt(Qt.Key.Key_K))  # Keep editing
    qtbot.mouseClick(dlg.filter_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert dlg.filter_list.currentRow() == 0
    assert dlg.title_edit.text() == "Spoilers!"
    back_to(qtbot, dlg)
    later(answer_box_with_alt(Qt.Key.Key_D))  # Discard changes
    qtbot.mouseClick(dlg.filter_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert dlg.filter_list.currentRow() == 1
    assert dlg.title_edit.text() == "Crypto"
    assert dlg.action_radios["hide"].isChecked()
    assert dlg.expiry_combo.currentText() == "Never"


# --------------------------------------------------------------------------- deleting


def test_delete_a_filter_after_confirming(qtbot: QtBot, harness: Harness) -> None:
    service = FakeService()
    dlg = harness.open(service)
    dlg.filter_list.setFocus()
    press(qtbot, Qt.Key.Key_Down)
    assert dlg.title_edit.text() == "Crypto"

    seen: list[str] = []
    later(answer_box_with_alt(Qt.Key.Key_K, seen))  # Keep it
    press(qtbot, Qt.Key.Key_Delete)
    assert "Crypto" in seen[0]
    assert service.named("delete") == []
    assert dlg.filter_list.count() == 3

    back_to(qtbot, dlg)
    later(answer_box_with_alt(Qt.Key.Key_D))  # Delete
    alt(qtbot, dlg, Qt.Key.Key_D)  # the Delete… button
    qtbot.waitUntil(lambda: service.named("delete") == [("2",)])
    saved(qtbot, dlg)
    assert titles(dlg) == ["Spoilers", "Election night"]
    assert dlg.title_edit.text() == "Election night"  # the next one
    assert "Deleted" in dlg.status.text()


def test_remove_a_filtered_post(qtbot: QtBot, harness: Harness) -> None:
    service = FakeService()
    dlg = harness.open(service)
    row = dlg.statuses_list.itemWidget(dlg.statuses_list.item(0))
    assert row is not None
    assert row.findChildren(QWidget)[0].property("text") == (
        "Ana: No spoilers please, but the finale was wild"
    )
    button = next(b for b in row.findChildren(QWidget) if b.objectName() == "removeStatus")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.statuses_list.count() == 0)
    assert service.named("remove_status") == [("fs1",)]
    assert dlg.no_statuses.isVisible()
    item = dlg.filter_list.item(0)
    assert item is not None
    assert "post" not in item.toolTip()
    assert not dlg.is_dirty()  # not an edit of the filter: done at once


# --------------------------------------------------------------------------- preview


def test_preview_follows_the_typing(qtbot: QtBot, harness: Harness) -> None:
    dlg = harness.open()
    # spoiler (whole word) and finale/ending (anywhere) catch three of the five.
    assert dlg.preview_summary.text() == "Would have warned about 3 of your 5 recent notifications."
    assert dlg.preview_lines() == [
        "Ana mentioned you: No spoilers please, but the finale was wild",
        "Bo favourited your post: My review of the season finale",
        "Eve posted: Spoiler: it was the butler",
    ]

    alt(qtbot, dlg, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: dlg.keywords.rowCount() == 4)
    qtbot.waitUntil(lambda: focused().objectName() == "keywordEditor")
    type_keys(qtbot, "bitc")  # not a whole word yet: nothing more
    with qtbot.waitSignal(dlg.preview_timer.timeout, timeout=2000):
        pass
    assert dlg.preview_summary.text().startswith("Would have warned about 3 ")
    type_keys(qtbot, "oin")  # still in the cell's editor: no Enter needed
    assert dlg.preview_timer.isActive()  # waits for a pause in the typing
    assert dlg.preview_summary.text().startswith("Would have warned about 3 ")
    with qtbot.waitSignal(dlg.preview_timer.timeout, timeout=2000):
        pass
    assert dlg.preview_summary.text() == "Would have warned about 4 of your 5 recent notifications."
    assert "Cy boosted your post: Buy bitcoin now" in dlg.preview_lines()

    end_cell_edit(qtbot, dlg)
    alt(qtbot, dlg, Qt.Key.Key_C)  # Hide completely
    with qtbot.waitSignal(dlg.preview_timer.timeout, timeout=2000):
        pass
    assert dlg.preview_summary.text() == "Would have hidden 4 of your 5 recent notifications."

    alt(qtbot, dlg, Qt.Key.Key_O)  # Notifications: off
    with qtbot.waitSignal(dlg.preview_timer.timeout, timeout=2000):
        pass
    assert "does not apply to notifications" in dlg.preview_summary.text()
    assert dlg.preview_lines() == []


def test_preview_of_an_expired_filter_and_one_without_keywords(
    qtbot: QtBot, harness: Harness
) -> None:
    expired = replace(SPOILERS, expires_at=NOW - timedelta(minutes=5))
    dlg = harness.open(FakeService(filters=(expired, CRYPTO)))
    assert dlg.expiry_combo.currentText() == "Unchanged: expired"
    assert "expired" in dlg.preview_summary.text()
    dlg.filter_list.setFocus()
    press(qtbot, Qt.Key.Key_Down)
    dlg.keywords.setFocus()
    press(qtbot, Qt.Key.Key_Delete)
    with qtbot.waitSignal(dlg.preview_timer.timeout, timeout=2000):
        pass
    assert "Add a keyword" in dlg.preview_summary.text()


# --------------------------------------------------------------------------- errors


def test_validation_errors_show_next_to_their_field(qtbot: QtBot, harness: Harness) -> None:
    service = FakeService()
    service.errors["update"] = FilterValidationError(
        "example.test did not accept the filter: Validation failed: Title has already been taken",
        {"title": "Title has already been taken", "base": "Try again tomorrow"},
    )
    dlg = harness.open(service)
    dlg.title_edit.setFocus()
    press(qtbot, Qt.Key.Key_End)
    type_keys(qtbot, " (TV)")
    dlg.keywords.setFocus()
    type_keys(qtbot, "plot twist")
    end_cell_edit(qtbot, dlg)
    press(qtbot, Qt.Key.Key_S, CTRL)
    saved(qtbot, dlg)

    title_error = dlg.field_errors["title"]
    assert title_error.isVisible()
    assert title_error.text() == "Title has already been taken"
    assert is_red(title_error)
    # Right under the title, not somewhere else.
    below = title_error.mapTo(dlg, title_error.rect().topLeft()).y()
    title_bottom = dlg.title_edit.mapTo(dlg, dlg.title_edit.rect().bottomLeft()).y()
    assert 0 <= below - title_bottom < 20
    for name in ("context", "action", "expires", "keywords"):
        assert not dlg.field_errors[name].isVisible()
    assert "Try again tomorrow" in dlg.status.text()
    assert is_red(dlg.status)
    # Everything typed is still there, and the title has the focus to fix it.
    assert dlg.title_edit.text() == "Spoilers (TV)"
    assert dlg.keywords.rows()[0] == ("k1", "plot twist", True)
    assert dlg.is_dirty()
    assert dlg.title_edit.hasFocus()

    # Fixed and saved again: the message goes.
    press(qtbot, Qt.Key.Key_Backspace)
    press(qtbot, Qt.Key.Key_S, CTRL)
    saved(qtbot, dlg)
    assert not title_error.isVisible()
    assert len(service.named("update")) == 2
    assert dlg.title_edit.text() == "Spoilers (TV"
    assert not dlg.is_dirty()


def test_keyword_error_and_local_checks(qtbot: QtBot, harness: Harness) -> None:
    service = FakeService()
    service.errors["update"] = FilterValidationError(
        "refused", {"keywords": "Keywords keyword is too long"}
    )
    dlg = harness.open(service)
    dlg.title_edit.setFocus()
    qtbot.keyClick(dlg.title_edit, Qt.Key.Key_A, CTRL)
    press(qtbot, Qt.Key.Key_Delete)  # no title
    press(qtbot, Qt.Key.Key_S, CTRL)
    assert dlg.field_errors["title"].text() == "Give the filter a title."
    assert service.named("update") == []  # known to be refused: not sent

    type_keys(qtbot, "Long words")
    press(qtbot, Qt.Key.Key_S, CTRL)
    saved(qtbot, dlg)
    assert not dlg.field_errors["title"].isVisible()
    assert dlg.field_errors["keywords"].text() == "Keywords keyword is too long"
    assert dlg.keywords.hasFocus()


def test_other_errors_in_the_status_line(qtbot: QtBot, harness: Harness) -> None:
    service = FakeService()
    service.errors["update"] = NetworkError("example.test could not be reached.")
    dlg = harness.open(service)
    dlg.title_edit.setFocus()
    type_keys(qtbot, "!")
    press(qtbot, Qt.Key.Key_S, CTRL)
    saved(qtbot, dlg)
    assert dlg.status.text() == "Could not save the filter: example.test could not be reached."
    assert is_red(dlg.status)
    assert dlg.title_edit.text() == "Spoilers!"
    assert dlg.is_dirty()
    assert not any(label.isVisible() for label in dlg.field_errors.values())


def test_a_failed_load_can_be_tried_again(qtbot: QtBot, harness: Harness) -> None:
    service = FakeService()
    service.errors["load"] = ApiError("The server answered with an error (502).", 502)
    dlg = harness.open(service)
    assert dlg.status.text() == (
        "Could not load the filters: The server answered with an error (502)."
    )
    assert dlg.retry_button.isVisible()
    assert not dlg.new_button.isEnabled()
    alt(qtbot, dlg, Qt.Key.Key_G)  # Try again
    qtbot.waitUntil(lambda: dlg.filter_list.count() == 3)
    saved(qtbot, dlg)
    assert not dlg.retry_button.isVisible()
    assert dlg.status.text() == ""


# --------------------------------------------------------------------------- server kinds


def test_older_servers_one_keyword_per_filter(qtbot: QtBot, harness: Harness) -> None:
    word = Filter(
        "7", "bitcoin", ("home", "notifications"), "hide", None,
        (FilterKeyword("7", "bitcoin", True),), (), 1,
    )  # fmt: skip
    service = FakeService("v1", filters=(word,), supports_blur=False)
    dlg = harness.open(service)
    assert dlg.notice.isVisible()
    assert "older filters: one keyword per filter" in dlg.notice.text()
    assert not dlg.title_edit.isVisible()  # v1 filters are named after their keyword
    assert not dlg.action_radios["blur"].isVisible()
    assert not dlg.statuses_list.isVisible()
    assert dlg.keywords.rowCount() == 1
    assert not dlg.add_keyword_button.isEnabled()

    alt(qtbot, dlg, Qt.Key.Key_K)
    press(qtbot, Qt.Key.Key_Delete)
    assert dlg.add_keyword_button.isEnabled()
    alt(qtbot, dlg, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: dlg.keywords.rowCount() == 1)
    qtbot.waitUntil(lambda: focused().objectName() == "keywordEditor")
    type_keys(qtbot, "crypto")
    end_cell_edit(qtbot, dlg)
    assert not dlg.add_keyword_button.isEnabled()
    press(qtbot, Qt.Key.Key_S, CTRL)
    saved(qtbot, dlg)
    ((fid, draft),) = service.named("update")
    assert fid == "7"
    assert isinstance(draft, FilterDraft)
    assert draft.title == "crypto"
    assert draft.keywords == (
        KeywordEdit("crypto", True),
        KeywordEdit("bitcoin", True, "7", destroy=True),
    )


def test_new_filter_on_an_older_server(qtbot: QtBot, harness: Harness) -> None:
    service = FakeService("v1", filters=(), supports_blur=False)
    dlg = harness.open(service)
    assert dlg.empty_label.isVisible()
    press(qtbot, Qt.Key.Key_N, CTRL)
    qtbot.waitUntil(lambda: dlg.filter_list.count() == 1)
    assert dlg.keywords.rowCount() == 1
    press(qtbot, Qt.Key.Key_S, CTRL)  # no keyword yet
    assert dlg.field_errors["keywords"].isVisible()
    assert service.named("create") == []
    dlg.keywords.setFocus()
    type_keys(qtbot, "election")
    end_cell_edit(qtbot, dlg)
    press(qtbot, Qt.Key.Key_S, CTRL)
    saved(qtbot, dlg)
    ((draft,),) = service.named("create")
    assert isinstance(draft, FilterDraft)
    assert draft.title == "election"
    assert draft.keywords == (KeywordEdit("election", True),)
    assert titles(dlg) == ["election"]
    assert not dlg.empty_label.isVisible()


def test_no_filters_on_this_server(harness: Harness) -> None:
    service = FakeService("none", filters=())
    dlg = harness.open(service)
    assert dlg.notice.isVisible()
    assert "does not offer keyword filters" in dlg.notice.text()
    for widget in (
        dlg.filter_list,
        dlg.new_button,
        dlg.delete_button,
        dlg.editor,
        dlg.save_button,
        dlg.revert_button,
        dlg.preview_box,
    ):
        assert not widget.isEnabled(), widget.objectName()
    assert dlg.close_button.isEnabled()
    assert [name for name, _ in service.calls] == ["load"]  # no preview to make


def test_blur_only_where_the_server_has_it(harness: Harness) -> None:
    dlg = harness.open(FakeService(filters=(SPOILERS,), supports_blur=False))
    assert not dlg.action_radios["blur"].isVisible()
    # A filter that already blurs keeps showing (and keeping) its action.
    other = harness.open(FakeService(filters=(OLD,), supports_blur=False))
    assert other.action_radios["blur"].isVisible()
    assert other.action_radios["blur"].isChecked()


# --------------------------------------------------------------------------- slow calls


def test_busy_while_a_slow_save_runs_and_the_window_stays_responsive(
    qtbot: QtBot, harness: Harness
) -> None:
    service = FakeService()
    gate = service.gates["update"] = threading.Event()
    dlg = harness.open(service)
    dlg.title_edit.setFocus()
    type_keys(qtbot, " (TV)")
    press(qtbot, Qt.Key.Key_S, CTRL)
    qtbot.waitUntil(lambda: len(service.named("update")) == 1)

    assert dlg.busy.isVisible()
    assert dlg.status.text() == "Saving the filter…"
    assert not dlg.editor.isEnabled()  # nothing can be lost to the answer
    assert not dlg.save_button.isEnabled()
    assert dlg.close_button.isEnabled()
    # The event loop runs: timers fire, the window repaints, the preview still works.
    ticks: list[int] = []
    timer = QTimer(dlg)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=2000)
    timer.stop()
    assert not dlg.grab().isNull()
    press(qtbot, Qt.Key.Key_S, CTRL)  # a second Ctrl+S while saving sends nothing
    assert len(service.named("update")) == 1

    gate.set()
    saved(qtbot, dlg)
    assert not dlg.busy.isVisible()
    assert dlg.editor.isEnabled()
    assert dlg.title_edit.hasFocus()  # back where the person was
    assert dlg.title_edit.text() == "Spoilers (TV)"
    assert not dlg.is_dirty()


def test_busy_while_loading(qtbot: QtBot, harness: Harness) -> None:
    service = FakeService()
    gate = service.gates["load"] = threading.Event()
    dlg = harness.open(service, wait=False)
    assert dlg.busy.isVisible()
    assert dlg.status.text() == "Loading filters…"
    assert not dlg.new_button.isEnabled()
    gate.set()
    qtbot.waitUntil(lambda: dlg.filter_list.count() == 3)
    saved(qtbot, dlg)
    assert not dlg.busy.isVisible()
    assert dlg.filter_list.hasFocus()


def test_close_does_not_wait_for_a_slow_call(qtbot: QtBot, harness: Harness) -> None:
    service = FakeService()
    gate = service.gates["update"] = threading.Event()
    dlg = harness.open(service)
    dlg.title_edit.setFocus()
    type_keys(qtbot, "!")
    press(qtbot, Qt.Key.Key_S, CTRL)
    qtbot.waitUntil(lambda: len(service.named("update")) == 1)
    qtbot.mouseClick(dlg.close_button, Qt.MouseButton.LeftButton)
    assert not dlg.isVisible()  # no question: the save is on its way
    thread = dlg.service_thread
    assert thread is not None and thread.is_alive()
    qtbot.wait(200)
    assert service.closed_after is None  # the connection stays open for the save
    gate.set()
    thread.join(5)
    assert not thread.is_alive()
    assert service.closed_after == ["load", "recent", "update"]  # closed once it was done


def test_close_asks_about_unsaved_changes(qtbot: QtBot, harness: Harness) -> None:
    dlg = harness.open()
    dlg.title_edit.setFocus()
    type_keys(qtbot, "!")
    later(answer_box_with_alt(Qt.Key.Key_K))  # Keep editing
    press(qtbot, Qt.Key.Key_Escape)
    assert dlg.isVisible()
    back_to(qtbot, dlg)
    later(answer_box_with_alt(Qt.Key.Key_D))  # Discard changes
    press(qtbot, Qt.Key.Key_Escape)
    assert not dlg.isVisible()


def test_manage_returns_once_closed(qtbot: QtBot) -> None:
    service = FakeService()
    seen: list[FiltersDialog] = []

    def close_when_loaded() -> None:
        dlg = next(
            (w for w in QApplication.topLevelWidgets() if isinstance(w, FiltersDialog)), None
        )
        if dlg is None or not dlg.isVisible() or dlg.is_busy():
            QTimer.singleShot(10, close_when_loaded)
            return
        seen.append(dlg)
        assert dlg.windowModality() == Qt.WindowModality.NonModal
        dlg.close_button.click()

    QTimer.singleShot(0, close_when_loaded)
    FiltersDialog.manage(None, service, account_label="me@example.test")
    assert len(seen) == 1
    assert [name for name, _ in service.calls] == ["load", "recent"]
    assert service.on_gui_thread == []
    qtbot.waitUntil(lambda: service.closed_after == ["load", "recent"])
