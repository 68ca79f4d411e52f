"""tootbell.ui.toasts against a real notification daemon (dunst) on the session's D-Bus.

The notifier relays its worker thread's events through a queued signal, so its public
signals are emitted in the GUI thread and ``qtbot.waitSignal`` can wait on them directly.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from desktop_session import (
    BusRecorder,
    NotifyCall,
    dunst_context_action,
    dunst_displayed,
    dunst_history,
    dunstctl_action,
    dunstctl_close,
    wait_for,
)
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QSystemTrayIcon
from pytestqt.qtbot import QtBot

from tootbell import APP_ID
from tootbell.inbox import Toast
from tootbell.render import escape_markup
from tootbell.ui.toasts import (
    REASON_CLOSED,
    REASON_DISMISSED,
    FreedesktopNotifier,
    TrayNotifier,
    make_notifier,
    notify_body,
    server_info,
    server_present,
)

pytestmark = pytest.mark.usefixtures("clean_dunst")


def make_toast(
    key: str = "ana@example.social/n1",
    *,
    title: str = "Ana mentioned you",
    body: str = "Hello there",
    open_url: str | None = "https://example.social/@ana/1",
    dismissable: bool = True,
    kind: str = "mention",
    urgency: int = 1,
) -> Toast:
    return Toast(
        key=key,
        account_key="me@example.social",
        title=title,
        body=body,
        icon_url=None,
        open_url=open_url,
        notification_ids=("1",),
        kind=kind,
        dismissable=dismissable,
        urgency=urgency,
    )


@pytest.fixture
def notifier(qtbot: QtBot) -> Iterator[FreedesktopNotifier]:
    n = FreedesktopNotifier()
    assert n.capabilities(wait=5.0), "the notifier did not reach dunst"
    yield n
    n.stop()


@pytest.fixture
def recorder() -> Iterator[BusRecorder]:
    with BusRecorder() as rec:
        yield rec


def answered_calls(rec: BusRecorder, count: int, app_name: str = "Tootbell") -> list[NotifyCall]:
    def done() -> list[NotifyCall] | None:
        calls = [c for c in rec.notify_calls if c.app_name == app_name and c.id is not None]
        return calls if len(calls) >= count else None

    return wait_for(done, timeout=5.0, what=f"{count} answered Notify call(s)")


def history_entry(nid: int) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        return next((e for e in dunst_history() if e["id"] == nid), None)

    return wait_for(find, timeout=5.0, what=f"toast #{nid} in dunst's history")


def test_server_info_and_presence() -> None:
    info = server_info()
    assert info is not None
    assert info.name == "dunst"
    assert info.has("actions")
    assert server_present()


def test_toast_appears_with_summary_body_app_name_and_actions(
    notifier: FreedesktopNotifier, recorder: BusRecorder
) -> None:
    notifier.show(make_toast(body="Hello there"))
    [call] = answered_calls(recorder, 1)
    assert call.replaces_id == 0
    assert call.summary == "Ana mentioned you"
    assert call.body == "Hello there"
    assert call.actions == ["default", "Open", "open", "Open", "dismiss", "Dismiss"]
    assert call.hints["desktop-entry"] == APP_ID
    assert call.hints["category"] == "im.received"
    assert call.hints["urgency"] == 1
    assert "image-path" not in call.hints
    assert call.app_icon  # the app icon's file or theme name
    assert call.expire_timeout == -1
    wait_for(lambda: dunst_displayed() == 1, what="one toast on screen")

    # What dunst itself kept (readable once closed).
    dunstctl_close()
    entry = history_entry(call.id or 0)
    assert entry["appname"] == "Tootbell"
    assert entry["summary"] == "Ana mentioned you"
    assert entry["body"] == "Hello there"
    assert entry["default_action_name"] == "default"

    stats = notifier.stats()
    assert stats.shown == 1
    assert stats.notify_calls == 1
    assert stats.failures == 0
    assert 0 < stats.rtt_max_s < 5


def test_actions_follow_the_toast(notifier: FreedesktopNotifier, recorder: BusRecorder) -> None:
    notifier.show(make_toast("k/open-only", open_url="https://x.example/1", dismissable=False))
    notifier.show(make_toast("k/dismiss-only", open_url=None, dismissable=True))
    notifier.show(make_toast("k/none", open_url=None, dismissable=False, kind="follow", urgency=7))
    calls = answered_calls(recorder, 3)
    assert [c.actions for c in calls] == [
        ["default", "Open", "open", "Open"],
        ["dismiss", "Dismiss"],
        [],
    ]
    assert calls[2].hints["category"] == "presence.online"
    assert calls[2].hints["urgency"] == 2


def test_avatar_path_is_sent_as_icon_and_image(
    notifier: FreedesktopNotifier, recorder: BusRecorder, tmp_path: Any
) -> None:
    avatar = tmp_path / "ana.png"
    pixmap = QPixmap(48, 48)
    pixmap.fill(QColor("#3070c0"))
    assert pixmap.save(str(avatar))
    notifier.show(make_toast(), str(avatar))
    [call] = answered_calls(recorder, 1)
    assert call.app_icon == str(avatar)
    assert call.hints["image-path"] == str(avatar)


def test_same_key_replaces_in_place(notifier: FreedesktopNotifier, recorder: BusRecorder) -> None:
    notifier.show(make_toast("k/coalesced", title="Ana favourited your post"))
    [first] = answered_calls(recorder, 1)
    wait_for(lambda: dunst_displayed() == 1, what="the first toast")
    notifier.show(make_toast("k/coalesced", title="Ana and 2 others favourited your post"))
    second = answered_calls(recorder, 2)[1]
    assert second.replaces_id == first.id
    assert second.id == first.id
    time.sleep(0.2)  # give dunst the chance to (wrongly) show a second toast
    assert dunst_displayed() == 1
    dunstctl_close()
    entry = history_entry(first.id or 0)
    assert entry["summary"] == "Ana and 2 others favourited your post"
    assert [e for e in dunst_history() if e["id"] == first.id] == [entry]


def test_other_keys_get_their_own_toasts(
    notifier: FreedesktopNotifier, recorder: BusRecorder
) -> None:
    notifier.show(make_toast("k/a"))
    notifier.show(make_toast("k/b"))
    a, b = answered_calls(recorder, 2)
    assert b.replaces_id == 0
    assert a.id != b.id
    wait_for(lambda: dunst_displayed() == 2, what="two toasts")


def test_default_action_reaches_the_gui_thread(
    qtbot: QtBot, notifier: FreedesktopNotifier, recorder: BusRecorder
) -> None:
    notifier.show(make_toast("k/click"))
    answered_calls(recorder, 1)
    wait_for(lambda: dunst_displayed() == 1, what="the toast")
    with qtbot.waitSignal(notifier.actionInvoked, timeout=5000) as blocker:
        dunstctl_action(0)
    assert blocker.args == ["k/click", "default"]


@pytest.mark.parametrize("action", ["dismiss", "open", "default"])
def test_named_actions(
    qtbot: QtBot, notifier: FreedesktopNotifier, recorder: BusRecorder, action: str
) -> None:
    notifier.show(make_toast("k/menu"))
    answered_calls(recorder, 1)
    wait_for(lambda: dunst_displayed() == 1, what="the toast")
    with qtbot.waitSignal(notifier.actionInvoked, timeout=5000) as blocker:
        dunst_context_action(action)
    assert blocker.args == ["k/menu", action]


def test_person_closing_the_toast_emits_closed(
    qtbot: QtBot, notifier: FreedesktopNotifier, recorder: BusRecorder
) -> None:
    notifier.show(make_toast("k/closed"))
    answered_calls(recorder, 1)
    wait_for(lambda: dunst_displayed() == 1, what="the toast")
    with qtbot.waitSignal(notifier.closed, timeout=5000) as blocker:
        dunstctl_close()
    assert blocker.args == ["k/closed", REASON_DISMISSED]
    # Closed toasts are forgotten: the same key now makes a new toast.
    notifier.show(make_toast("k/closed"))
    first, again = answered_calls(recorder, 2)
    assert again.replaces_id == 0
    assert again.id != first.id


def test_close_withdraws_the_toast(
    qtbot: QtBot, notifier: FreedesktopNotifier, recorder: BusRecorder
) -> None:
    notifier.show(make_toast("k/withdraw"))
    [call] = answered_calls(recorder, 1)
    wait_for(lambda: dunst_displayed() == 1, what="the toast")
    with qtbot.waitSignal(notifier.closed, timeout=5000) as blocker:
        notifier.close("k/withdraw")
    assert blocker.args == ["k/withdraw", REASON_CLOSED]
    assert recorder.close_calls == [call.id]
    wait_for(lambda: dunst_displayed() == 0, what="no toast on screen")
    notifier.close("k/withdraw")  # closing again, or an unknown key, is harmless
    notifier.close("k/never-shown")


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="needs xdotool")
def test_a_real_click_opens_and_closes(
    qtbot: QtBot, notifier: FreedesktopNotifier, recorder: BusRecorder
) -> None:
    notifier.show(make_toast("k/mouse"))
    answered_calls(recorder, 1)
    wait_for(lambda: dunst_displayed() == 1, what="the toast")
    window = wait_for(
        lambda: subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--class", "Dunst"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split(),
        what="dunst's window",
    )[0]
    with qtbot.waitSignals(
        [notifier.actionInvoked, notifier.closed],
        timeout=5000,
        check_params_cbs=[
            lambda k, a: (k, a) == ("k/mouse", "default"),
            lambda k, r: (k, r) == ("k/mouse", REASON_DISMISSED),
        ],
    ):
        subprocess.run(
            ["xdotool", "mousemove", "--window", window, "20", "10", "click", "1"],
            check=True,
            timeout=10,
        )


def test_markup_in_names_is_sent_safely(
    notifier: FreedesktopNotifier, recorder: BusRecorder
) -> None:
    # dunst with ``markup = full`` advertises body-markup, so the body is escaped; the
    # summary is plain text by the spec and goes as is.
    assert "body-markup" in notifier.capabilities()
    title = "<b>Ana</b> & co boosted your post"
    body = "<b>Ana</b> said: <i>hi</i> <a href='https://evil.example'>x</a> & <unclosed"
    notifier.show(make_toast("k/markup", title=title, body=body))
    [call] = answered_calls(recorder, 1)
    assert call.summary == title
    assert call.body == escape_markup(body)
    assert "<" not in call.body
    wait_for(lambda: dunst_displayed() == 1, what="the toast")
    dunstctl_close()
    entry = history_entry(call.id or 0)
    # dunst shows the literal text: its formatted message has no live tags from the sender.
    assert "<b>Ana</b>" not in entry["message"]
    assert "&lt;b&gt;Ana&lt;/b&gt;" in entry["message"]


def test_body_left_alone_for_plain_text_servers() -> None:
    text = "<b>Ana</b> & co"
    assert notify_body(text, ("actions", "body")) == text
    assert notify_body(text, ("body-markup",)) == "&lt;b&gt;Ana&lt;/b&gt; &amp; co"


def test_no_session_bus_fails_softly(qtbot: QtBot, tmp_path: Any) -> None:
    bogus = f"unix:path={tmp_path}/no-bus-here"
    assert server_info(bus=bogus) is None
    assert not server_present(bus=bogus)
    n = FreedesktopNotifier(bus=bogus, call_timeout=1.0)
    try:
        assert n.capabilities(wait=5.0) == ()
        with qtbot.assertNotEmitted(n.actionInvoked, wait=100):
            n.show(make_toast("k/nowhere"))
            wait_for(lambda: n.stats().failures == 1, what="the failed show")
    finally:
        n.stop()
    n.show(make_toast("k/after-stop"))  # dropped, no error


def test_make_notifier_prefers_the_notification_server(qtbot: QtBot) -> None:
    tray = QSystemTrayIcon()
    n = make_notifier(tray)
    try:
        assert isinstance(n, FreedesktopNotifier)
    finally:
        n.stop()


def _tray(qtbot: QtBot) -> QSystemTrayIcon:
    pixmap = QPixmap(22, 22)
    pixmap.fill(QColor("#d04040"))
    tray = QSystemTrayIcon(QIcon(pixmap))
    return tray


def test_tray_notifier_fallback(qtbot: QtBot, recorder: BusRecorder) -> None:
    assert QSystemTrayIcon.isSystemTrayAvailable()
    tray = _tray(qtbot)
    tray.show()
    n = TrayNotifier(tray)
    try:
        n.show(make_toast("k/balloon", title="Ana mentioned you", body="Hello there"))
        # Under a StatusNotifier host, Qt hands the message to the notification server itself.
        call = wait_for(
            lambda: next(
                (c for c in recorder.notify_calls if c.summary == "Ana mentioned you"), None
            ),
            what="Qt's Notify call",
        )
        assert call.summary == "Ana mentioned you"
        assert call.body == "Hello there"
        # Qt never reports clicks under SNI (XEmbed trays do): simulate the click it would.
        with qtbot.waitSignal(n.actionInvoked, timeout=2000) as blocker:
            tray.messageClicked.emit()
        assert blocker.args == ["k/balloon", "open"]
        n.close("k/balloon")
        with qtbot.assertNotEmitted(n.actionInvoked):
            tray.messageClicked.emit()
        assert n.stats().shown == 1
    finally:
        n.stop()
        tray.hide()


def test_tray_notifier_without_a_tray_only_logs(qtbot: QtBot) -> None:
    n = TrayNotifier(None)
    n.show(make_toast("k/nowhere"))
    n.close("k/nowhere")
    n.stop()
    assert n.stats().shown == 1
