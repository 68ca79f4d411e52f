"""The whole app (workers, inbox, tray model, actions) against the demo instance over loopback.

The notification daemon is replaced here by a recording Notifier, because the offscreen suite
has no session bus; tests/desktop runs the same paths against real dunst.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from recording_notifier import RecordingNotifier

from tootbell.app import TootbellApp
from tootbell.config import AccountConfig, Paths, Settings, load_config, save_config
from tootbell.demo import DemoServer
from tootbell.secrets import SecretStore


class StatusRelay(QObject):
    changed = Signal(object)


def make_account(
    server: DemoServer, secrets: SecretStore, paths: Paths, user: str = "demo"
) -> AccountConfig:
    token = server.create_token(user)
    host = server.base_url.split("//", 1)[1]
    acc = AccountConfig(key=f"{user}@{host}", base_url=server.base_url)
    secrets.set_token(acc.key, token)
    cfg = load_config(paths)
    save_config(paths, cfg.with_account(acc))
    return acc


@pytest.fixture
def app_factory(qapp: QApplication, home: Paths, secrets: SecretStore) -> Iterator[object]:
    apps: list[TootbellApp] = []

    def make(settings: Settings | None = None) -> tuple[TootbellApp, RecordingNotifier]:
        if settings is not None:
            cfg = load_config(home)
            save_config(home, replace(cfg, settings=settings))
        notifier = RecordingNotifier()
        app = TootbellApp(qapp, paths=home, secrets=secrets, notifier=notifier, use_tray=False)
        apps.append(app)
        return app, notifier

    yield make
    for a in apps:
        a.shutdown()


FAST = Settings(poll_interval_s=15, away_threshold=50, coalesce_window_s=60)


def wait_ok(qtbot: QtBot, app: TootbellApp, key: str) -> None:
    qtbot.waitUntil(
        lambda: app.statuses.get(key) is not None and app.statuses[key].health == "ok",
        timeout=10_000,
    )


def test_new_notifications_become_toasts_once(
    qtbot: QtBot, server: DemoServer, home: Paths, secrets: SecretStore, app_factory: object
) -> None:
    acc = make_account(server, secrets, home)
    app, notifier = app_factory(FAST)  # type: ignore[operator]
    app.start()
    wait_ok(qtbot, app, acc.key)
    mention = server.add_notification("mention", from_user="ana", status_text="Hello @demo!")
    follow = server.add_notification("follow", from_user="ben")
    app.check_now()
    qtbot.waitUntil(lambda: len(notifier.shown) == 2, timeout=10_000)
    titles = sorted(t.title for t, _ in notifier.shown)
    assert any("mentioned you" in t for t in titles)
    assert any("followed you" in t for t in titles)
    assert sorted(notifier.ids()) == sorted([mention["id"], follow["id"]])
    # the avatar was fetched and cached as a real image file
    icon = next(p for t, p in notifier.shown if t.notification_ids == (mention["id"],))
    assert icon is not None and Path(icon).read_bytes()[:4] == b"\x89PNG"
    # the tray model counts them as unread
    qtbot.waitUntil(lambda: app.model().unread == 2, timeout=5000)
    # checking again shows nothing new
    app.check_now()
    qtbot.wait(500)
    assert len(notifier.shown) == 2


def test_restart_does_not_repeat(
    qtbot: QtBot, server: DemoServer, home: Paths, secrets: SecretStore, app_factory: object
) -> None:
    acc = make_account(server, secrets, home)
    app, notifier = app_factory(FAST)  # type: ignore[operator]
    app.start()
    wait_ok(qtbot, app, acc.key)
    n1 = server.add_notification("mention")
    app.check_now()
    qtbot.waitUntil(lambda: len(notifier.shown) == 1, timeout=10_000)
    app.shutdown()
    n2 = server.add_notification("mention")
    app2, notifier2 = app_factory()  # type: ignore[operator]
    app2.start()
    qtbot.waitUntil(lambda: len(notifier2.shown) >= 1, timeout=10_000)
    qtbot.wait(300)
    assert notifier.ids() == [n1["id"]]
    assert notifier2.ids() == [n2["id"]]


def test_dismiss_action_dismisses_on_server(
    qtbot: QtBot, server: DemoServer, home: Paths, secrets: SecretStore, app_factory: object
) -> None:
    acc = make_account(server, secrets, home)
    app, notifier = app_factory(FAST)  # type: ignore[operator]
    app.start()
    wait_ok(qtbot, app, acc.key)
    n = server.add_notification("mention")
    app.check_now()
    qtbot.waitUntil(lambda: len(notifier.shown) == 1, timeout=10_000)
    toast = notifier.shown[0][0]
    notifier.actionInvoked.emit(toast.key, "dismiss")
    qtbot.waitUntil(
        lambda: all(x["id"] != n["id"] for x in server.notifications_for("demo")), timeout=5000
    )
    assert toast.key in notifier.closed_keys


def test_401_shows_sign_in_again_and_other_accounts_go_on(
    qtbot: QtBot, server: DemoServer, home: Paths, secrets: SecretStore, app_factory: object
) -> None:
    a = make_account(server, secrets, home, "demo")
    b = make_account(server, secrets, home, "other")
    secrets.set_token(a.key, "revoked-token-value")
    app, notifier = app_factory(FAST)  # type: ignore[operator]
    app.start()
    qtbot.waitUntil(
        lambda: a.key in app.statuses and app.statuses[a.key].health == "auth_failed",
        timeout=10_000,
    )
    wait_ok(qtbot, app, b.key)
    assert "Sign in again" in app.statuses[a.key].text
    n = server.add_notification("mention", username="other")
    app.check_now()
    qtbot.waitUntil(lambda: n["id"] in notifier.ids(), timeout=10_000)
    assert app.model().state.name == "ERROR"
    # the multi-account title names the account
    assert "other@" in notifier.shown[-1][0].title


def test_server_down_then_back_loses_nothing(
    qtbot: QtBot, server: DemoServer, home: Paths, secrets: SecretStore, app_factory: object
) -> None:
    acc = make_account(server, secrets, home)
    app, notifier = app_factory(FAST)  # type: ignore[operator]
    app.start()
    wait_ok(qtbot, app, acc.key)
    made = [server.add_notification("mention") for _ in range(3)]
    server.faults.down = True
    app.check_now()
    qtbot.waitUntil(lambda: app.statuses[acc.key].health == "retrying", timeout=10_000)
    assert "Retrying in" in app.statuses[acc.key].text
    server.faults.down = False
    app.check_now()
    qtbot.waitUntil(lambda: len(notifier.shown) == 3, timeout=10_000)
    assert sorted(notifier.ids()) == sorted(m["id"] for m in made)


def test_pause_holds_toasts_and_ends_with_one_summary(
    qtbot: QtBot, server: DemoServer, home: Paths, secrets: SecretStore, app_factory: object
) -> None:
    acc = make_account(server, secrets, home)
    app, notifier = app_factory(FAST)  # type: ignore[operator]
    app.start()
    wait_ok(qtbot, app, acc.key)
    app.pause("forever")
    assert app.model().state.name == "PAUSED"
    for _ in range(4):
        server.add_notification("mention")
    app.check_now()
    qtbot.waitUntil(lambda: app.statuses[acc.key].unread == 4, timeout=10_000)
    assert notifier.shown == []
    app.resume()
    qtbot.waitUntil(lambda: len(notifier.shown) == 1, timeout=10_000)
    summary = notifier.shown[0][0]
    assert "4" in summary.title and "paused" in summary.title


def test_type_switch_off_means_no_toast(
    qtbot: QtBot, server: DemoServer, home: Paths, secrets: SecretStore, app_factory: object
) -> None:
    acc = make_account(server, secrets, home)
    types = dict(FAST.types)
    types["favourite"] = False
    app, notifier = app_factory(replace(FAST, types=types))  # type: ignore[operator]
    app.start()
    wait_ok(qtbot, app, acc.key)
    server.add_notification("favourite")
    m = server.add_notification("mention")
    app.check_now()
    qtbot.waitUntil(lambda: len(notifier.shown) >= 1, timeout=10_000)
    qtbot.wait(300)
    assert notifier.ids() == [m["id"]]


def test_burst_of_favourites_coalesces_in_place(
    qtbot: QtBot, server: DemoServer, home: Paths, secrets: SecretStore, app_factory: object
) -> None:
    acc = make_account(server, secrets, home)
    app, notifier = app_factory(FAST)  # type: ignore[operator]
    app.start()
    wait_ok(qtbot, app, acc.key)
    first = server.add_notification("favourite", from_user="ana")
    sid = first["status"]["id"]
    app.check_now()
    qtbot.waitUntil(lambda: len(notifier.shown) == 1, timeout=10_000)
    for user in ("ben", "chloe", "dev", "eli"):
        server.add_notification("favourite", from_user=user, status_id=sid)
    app.check_now()
    qtbot.waitUntil(lambda: len(notifier.shown) == 2, timeout=10_000)
    assert notifier.shown[0][0].key == notifier.shown[1][0].key  # replaced in place
    assert "4 others favourited your post" in notifier.shown[1][0].title


def test_settings_dialog_result_is_applied_and_saved(
    qtbot: QtBot,
    server: DemoServer,
    home: Paths,
    secrets: SecretStore,
    app_factory: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tootbell.ui.dialogs.settings import SettingsDialog, SettingsResult

    acc = make_account(server, secrets, home)
    app, _ = app_factory(FAST)  # type: ignore[operator]
    app.start()
    wait_ok(qtbot, app, acc.key)
    chosen = replace(FAST, poll_interval_s=300, show_avatars=False)
    seen: list[object] = []

    def fake_edit(
        parent: object, settings: Settings, accounts: object, **kw: object
    ) -> SettingsResult:
        seen.append(settings)
        return SettingsResult(settings=chosen, remove_accounts=(acc.key,), add_account=False)

    monkeypatch.setattr(SettingsDialog, "edit", fake_edit)
    app.show_settings()
    assert seen == [FAST]
    assert load_config(home).settings.poll_interval_s == 300
    assert load_config(home).settings.show_avatars is False
    # the removed account is gone from the config, its worker stopped, its token deleted
    assert load_config(home).accounts == ()
    assert acc.key not in app.workers
    qtbot.waitUntil(lambda: secrets.get_token(acc.key) is None, timeout=5000)


def test_second_launch_brings_the_running_one_forward(
    qtbot: QtBot,
    server: DemoServer,
    home: Paths,
    secrets: SecretStore,
    app_factory: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tootbell.app import activate_running_instance

    acc = make_account(server, secrets, home)
    app, _ = app_factory(FAST)  # type: ignore[operator]
    opened: list[bool] = []
    monkeypatch.setattr(app, "bring_forward", lambda: opened.append(True))
    app.start()
    wait_ok(qtbot, app, acc.key)
    assert activate_running_instance(home)
    qtbot.waitUntil(lambda: opened == [True], timeout=5000)

    # `status` answers in one line of JSON (the bundle's smoke test waits for "running").
    import json
    import threading

    from tootbell import __version__
    from tootbell.app import ask_running_instance

    answers: list[str | None] = []
    asker = threading.Thread(
        target=lambda: answers.append(ask_running_instance(home, "status", answer_ms=3000))
    )
    asker.start()
    qtbot.waitUntil(lambda: bool(answers), timeout=5000)
    asker.join()
    assert answers[0] is not None
    assert json.loads(answers[0]) == {
        "state": "running",
        "version": __version__,
        "accounts": 1,
        "demo": False,
    }
    app.shutdown()
    assert not activate_running_instance(home, timeout_ms=300)


def test_clock_jump_triggers_a_check(
    qtbot: QtBot, server: DemoServer, home: Paths, secrets: SecretStore, app_factory: object
) -> None:
    acc = make_account(server, secrets, home)
    app, notifier = app_factory(replace(FAST, poll_interval_s=3600))  # type: ignore[operator]
    app.start()
    wait_ok(qtbot, app, acc.key)
    n = server.add_notification("mention")
    worker = app.workers[acc.key].worker
    worker._wall -= 600  # as if the machine slept for ten minutes
    worker._jumpCheck.emit()
    qtbot.waitUntil(lambda: n["id"] in notifier.ids(), timeout=10_000)


def test_try_the_demo_from_the_welcome_window_leaves_real_config_alone(
    qtbot: QtBot,
    home: Paths,
    secrets: SecretStore,
    app_factory: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tootbell.ui.dialogs.first_run import FirstRunWindow

    monkeypatch.setattr(FirstRunWindow, "ask", classmethod(lambda cls, parent=None: "demo"))
    app, notifier = app_factory()  # type: ignore[operator]
    app.start()
    qtbot.waitUntil(lambda: app.demo_server is not None and len(app.workers) == 1, timeout=10_000)
    key = next(iter(app.workers))
    qtbot.waitUntil(
        lambda: key in app.statuses and app.statuses[key].health == "ok", timeout=10_000
    )
    assert app.demo_server is not None
    n = app.demo_server.add_notification("mention")
    app.check_now()
    qtbot.waitUntil(lambda: n["id"] in notifier.ids(), timeout=10_000)
    # nothing of the demo reached the real config or the real keyring
    assert load_config(home).accounts == ()
    assert secrets.get_token(key) is None


def test_quit_from_the_welcome_window_quits(
    qtbot: QtBot, home: Paths, app_factory: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tootbell.ui.dialogs.first_run import FirstRunWindow

    monkeypatch.setattr(FirstRunWindow, "ask", classmethod(lambda cls, parent=None: "quit"))
    app, _ = app_factory()  # type: ignore[operator]
    quits: list[bool] = []
    monkeypatch.setattr(app.qapp, "quit", lambda: quits.append(True))
    app.start()
    qtbot.waitUntil(lambda: quits == [True], timeout=5000)


def test_first_start_sign_in_with_token_then_toasts(
    qtbot: QtBot,
    server: DemoServer,
    home: Paths,
    secrets: SecretStore,
    app_factory: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A person's first start: welcome → Sign in… → pastes a token → toasts arrive."""
    from PySide6.QtCore import Qt, QTimer

    from tootbell.ui.dialogs.add_account import AddAccountDialog
    from tootbell.ui.dialogs.first_run import FirstRunWindow

    monkeypatch.setattr(FirstRunWindow, "ask", classmethod(lambda cls, parent=None: "sign_in"))
    token = server.create_token("demo")
    typed: list[bool] = []

    def drive() -> None:
        dlg = next(
            (
                w
                for w in QApplication.topLevelWidgets()
                if isinstance(w, AddAccountDialog) and w.isVisible()
            ),
            None,
        )
        if dlg is None:
            QTimer.singleShot(50, drive)
            return
        qtbot.keyClicks(dlg.server_edit, server.base_url)
        qtbot.mouseClick(dlg.token_toggle, Qt.MouseButton.LeftButton)
        qtbot.keyClicks(dlg.token_edit, token)
        qtbot.keyClick(dlg.token_edit, Qt.Key.Key_Return)
        typed.append(True)

    QTimer.singleShot(50, drive)
    app, notifier = app_factory(FAST)  # type: ignore[operator]
    app.start()
    qtbot.waitUntil(lambda: len(load_config(home).accounts) == 1, timeout=15_000)
    assert typed == [True]
    key = load_config(home).accounts[0].key
    assert key.startswith("demo@")
    assert secrets.get_token(key) == token
    qtbot.waitUntil(
        lambda: key in app.statuses and app.statuses[key].health == "ok", timeout=10_000
    )
    n = server.add_notification("mention")
    app.check_now()
    qtbot.waitUntil(lambda: n["id"] in notifier.ids(), timeout=10_000)
