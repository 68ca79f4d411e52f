"""Read state in step with other clients, through the whole app against the demo instance."""

from __future__ import annotations

from pytestqt.qtbot import QtBot
from recording_notifier import RecordingNotifier

from tootbell.app import TootbellApp
from tootbell.config import AccountConfig
from tootbell.demo import DemoServer


def test_reading_elsewhere_withdraws_toasts_and_drops_the_badge(
    qtbot: QtBot,
    server: DemoServer,
    running: tuple[TootbellApp, RecordingNotifier, AccountConfig],
) -> None:
    app, notifier, acc = running
    a = server.add_notification("mention")
    b = server.add_notification("follow", from_user="ben")
    app.check_now()
    qtbot.waitUntil(lambda: len(notifier.shown) == 2, timeout=10_000)
    qtbot.waitUntil(lambda: app.model().unread == 2, timeout=5000)
    server.set_marker(a["id"])  # another client (a phone) read up to the first one
    app.workers[acc.key].worker.check_marker()
    qtbot.waitUntil(lambda: app.model().unread == 1, timeout=5000)
    key_a = next(t.key for t, _ in notifier.shown if a["id"] in t.notification_ids)
    key_b = next(t.key for t, _ in notifier.shown if b["id"] in t.notification_ids)
    assert key_a in notifier.closed_keys and key_b not in notifier.closed_keys


def test_mark_all_read_moves_the_marker_forward_and_clears_the_badge(
    qtbot: QtBot,
    server: DemoServer,
    running: tuple[TootbellApp, RecordingNotifier, AccountConfig],
) -> None:
    app, notifier, _acc = running
    made = [server.add_notification("mention") for _ in range(3)]
    app.check_now()
    qtbot.waitUntil(lambda: app.model().unread == 3, timeout=10_000)
    server.faults.queue("/api/v1/markers", "409", method="POST")  # another client wrote first
    app.intents.markAllRead.emit("")
    qtbot.waitUntil(lambda: app.model().unread == 0, timeout=10_000)
    marker = server.marker("demo")
    assert marker is not None and marker["last_read_id"] == made[-1]["id"]
    assert len(notifier.closed_keys) == 3
    # never backwards: an older id is not posted
    server.clear_requests()
    server.set_marker(made[-1]["id"])
    app.intents.markAllRead.emit("")
    qtbot.wait(500)
    assert not server.requests_to("/api/v1/markers", "POST")


def test_badge_uses_the_servers_unread_count(
    qtbot: QtBot,
    server: DemoServer,
    running: tuple[TootbellApp, RecordingNotifier, AccountConfig],
) -> None:
    app, _, _acc = running
    for _ in range(4):
        server.add_notification("mention")
    server.clear_requests()
    app.check_now()
    qtbot.waitUntil(lambda: app.model().unread == 4, timeout=10_000)
    assert server.requests_to("/api/v1/notifications/unread_count")


def test_dismiss_from_the_toast_withdraws_it_and_dismisses_on_the_server(
    qtbot: QtBot,
    server: DemoServer,
    running: tuple[TootbellApp, RecordingNotifier, AccountConfig],
) -> None:
    app, notifier, _acc = running
    n = server.add_notification("mention")
    app.check_now()
    qtbot.waitUntil(lambda: len(notifier.shown) == 1, timeout=10_000)
    key = notifier.shown[0][0].key
    notifier.actionInvoked.emit(key, "dismiss")
    qtbot.waitUntil(
        lambda: all(x["id"] != n["id"] for x in server.notifications_for("demo")), timeout=5000
    )
    qtbot.waitUntil(lambda: app.model().unread == 0, timeout=5000)


def test_mark_conversation_read_from_a_direct_message_toast(
    qtbot: QtBot,
    server: DemoServer,
    running: tuple[TootbellApp, RecordingNotifier, AccountConfig],
) -> None:
    from tootbell.ui.toasts import ACTION_READ_CONVERSATION, notify_actions

    app, notifier, _acc = running
    dm = server.add_notification("mention", visibility="direct", status_text="psst")
    app.check_now()
    qtbot.waitUntil(lambda: len(notifier.shown) == 1, timeout=10_000)
    toast = notifier.shown[0][0]
    assert ACTION_READ_CONVERSATION in notify_actions(toast)
    convs = server.conversations_for("demo")
    assert convs and convs[0]["unread"] is True
    notifier.actionInvoked.emit(toast.key, ACTION_READ_CONVERSATION)
    qtbot.waitUntil(lambda: server.conversations_for("demo")[0]["unread"] is False, timeout=10_000)
    qtbot.waitUntil(lambda: toast.key in notifier.closed_keys, timeout=5000)
    assert dm["id"]
