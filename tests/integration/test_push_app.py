"""Web Push through the whole app: the demo instance encrypts and POSTs each notification to
the app's listener over loopback (the demo, unlike Mastodon, may deliver to 127.0.0.1), the
worker fetches it and the inbox turns it into a toast; the slow catch-up poll covers a broken
route. The notification daemon is a recording Notifier here; tests/desktop uses real dunst.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from recording_notifier import RecordingNotifier

from tootbell.app import TootbellApp
from tootbell.config import AccountConfig, Paths, Settings, StateStore, load_config, save_config
from tootbell.demo import DemoServer
from tootbell.secrets import SecretStore


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def push_setup(
    qapp: QApplication, server: DemoServer, home: Paths, secrets: SecretStore
) -> Iterator[tuple[TootbellApp, RecordingNotifier, AccountConfig]]:
    port = free_port()
    token = server.create_token("demo")
    host = server.base_url.split("//", 1)[1]
    acc = AccountConfig(
        key=f"demo@{host}",
        base_url=server.base_url,
        delivery="push",
        push_public_url=f"http://127.0.0.1:{port}",
    )
    secrets.set_token(acc.key, token)
    settings = Settings(poll_interval_s=3600, push_listen=f"127.0.0.1:{port}", push_catchup_s=3600)
    save_config(home, replace(load_config(home), settings=settings, accounts=(acc,)))
    notifier = RecordingNotifier()
    app = TootbellApp(qapp, paths=home, secrets=secrets, notifier=notifier, use_tray=False)
    app.start()
    yield app, notifier, acc
    app.shutdown()


def wait_push_ready(qtbot: QtBot, app: TootbellApp, key: str) -> None:
    qtbot.waitUntil(
        lambda: key in app.statuses and app.statuses[key].text.endswith("push"), timeout=15_000
    )


def test_a_push_becomes_a_toast_without_polling(
    qtbot: QtBot,
    server: DemoServer,
    home: Paths,
    secrets: SecretStore,
    push_setup: tuple[TootbellApp, RecordingNotifier, AccountConfig],
) -> None:
    app, notifier, acc = push_setup
    wait_push_ready(qtbot, app, acc.key)
    # the subscription the server holds points at the listener and carries standard + policy
    sub = server.push_subscription(secrets.get_token(acc.key) or "")
    assert sub is not None and sub["endpoint"].startswith(acc.push_public_url + "/push/")
    # the push private key and auth secret are in the keyring, not in state
    stored = StateStore(home).load(acc.key)
    raw = secrets.get_push_key(acc.key)
    assert raw and stored.push_public_key and stored.push_public_key in raw
    state_text = ""
    for p in home.state_dir.rglob("*.json"):
        state_text += p.read_text()
    import json

    private = json.loads(raw)["private"]
    assert private not in state_text

    server.clear_requests()
    started = time.monotonic()
    n = server.add_notification("mention", from_user="ana", status_text="Pushed to you")
    qtbot.waitUntil(lambda: n["id"] in notifier.ids(), timeout=5000)
    took = time.monotonic() - started
    assert took < 2.0
    # it came by push: the worker fetched that one notification, no list poll happened
    paths = [r.path for r in server.requests]
    assert f"/api/v1/notifications/{n['id']}" in paths
    assert "/api/v1/notifications" not in paths
    toast = next(t for t, _ in notifier.shown if n["id"] in t.notification_ids)
    assert toast.title.endswith("mentioned you") and "Pushed to you" in toast.body
    # a later catch-up poll does not show it again
    app.check_now()
    qtbot.wait(800)
    assert notifier.ids().count(n["id"]) == 1


def test_filtered_posts_stay_hidden_when_pushed(
    qtbot: QtBot,
    server: DemoServer,
    push_setup: tuple[TootbellApp, RecordingNotifier, AccountConfig],
) -> None:
    app, notifier, acc = push_setup
    wait_push_ready(qtbot, app, acc.key)
    hidden = server.add_notification("mention", filtered_action="hide")
    shown = server.add_notification("mention", status_text="visible one")
    qtbot.waitUntil(lambda: shown["id"] in notifier.ids(), timeout=5000)
    server.wait_for_pushes(2)
    qtbot.wait(300)
    assert hidden["id"] not in notifier.ids()


def test_test_route_reports_success_and_time(
    qtbot: QtBot, push_setup: tuple[TootbellApp, RecordingNotifier, AccountConfig]
) -> None:
    import threading

    app, notifier, acc = push_setup
    wait_push_ready(qtbot, app, acc.key)
    results: list[object] = []
    t = threading.Thread(target=lambda: results.append(app.route_test(acc)))
    t.start()
    qtbot.waitUntil(lambda: bool(results), timeout=15_000)
    t.join()
    result = results[0]
    assert result.ok is True, result.message
    assert "ms" in result.message
    assert notifier.shown == []  # a route test is never a toast


def test_test_route_explains_a_dead_relay(
    qtbot: QtBot, push_setup: tuple[TootbellApp, RecordingNotifier, AccountConfig]
) -> None:
    import threading

    app, _, acc = push_setup
    wait_push_ready(qtbot, app, acc.key)
    dead = replace(acc, push_public_url=f"http://127.0.0.1:{free_port()}")
    results: list[object] = []
    t = threading.Thread(target=lambda: results.append(app.route_test(dead)))
    t.start()
    qtbot.waitUntil(lambda: bool(results), timeout=20_000)
    t.join()
    assert results[0].ok is False
    assert "refused" in results[0].message


def test_broken_route_is_said_and_the_catch_up_poll_loses_nothing(
    qtbot: QtBot,
    server: DemoServer,
    push_setup: tuple[TootbellApp, RecordingNotifier, AccountConfig],
) -> None:
    app, notifier, acc = push_setup
    wait_push_ready(qtbot, app, acc.key)
    server.push_enabled = False  # the relay broke: the server's pushes go nowhere
    first = server.add_notification("mention")
    app.check_now()
    qtbot.waitUntil(lambda: first["id"] in notifier.ids(), timeout=10_000)
    second = server.add_notification("mention")
    app.check_now()
    qtbot.waitUntil(lambda: second["id"] in notifier.ids(), timeout=10_000)
    qtbot.waitUntil(lambda: app.statuses[acc.key].health == "push_broken", timeout=5000)
    assert "Push route looks broken" in app.statuses[acc.key].text
    assert app.model().state.name == "ERROR"
    # the route comes back: the next push clears the warning
    server.push_enabled = True
    third = server.add_notification("mention")
    qtbot.waitUntil(lambda: third["id"] in notifier.ids(), timeout=5000)
    qtbot.waitUntil(lambda: app.statuses[acc.key].health == "ok", timeout=5000)


def test_switching_push_off_deletes_the_subscription(
    qtbot: QtBot,
    server: DemoServer,
    secrets: SecretStore,
    push_setup: tuple[TootbellApp, RecordingNotifier, AccountConfig],
) -> None:
    app, _, acc = push_setup
    wait_push_ready(qtbot, app, acc.key)
    token = secrets.get_token(acc.key) or ""
    assert server.push_subscription(token) is not None
    app.add_account(replace(acc, delivery="poll"))
    qtbot.waitUntil(lambda: server.push_subscription(token) is None, timeout=10_000)
    qtbot.waitUntil(lambda: secrets.get_push_key(acc.key) is None, timeout=5000)


def test_a_subscription_the_server_dropped_is_recreated(
    qtbot: QtBot,
    server: DemoServer,
    secrets: SecretStore,
    push_setup: tuple[TootbellApp, RecordingNotifier, AccountConfig],
) -> None:
    import requests

    app, notifier, acc = push_setup
    wait_push_ready(qtbot, app, acc.key)
    token = secrets.get_token(acc.key) or ""
    requests.delete(
        server.base_url + "/api/v1/push/subscription",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).close()
    assert server.push_subscription(token) is None
    app.check_now()
    qtbot.waitUntil(lambda: server.push_subscription(token) is not None, timeout=10_000)
    n = server.add_notification("mention")
    qtbot.waitUntil(lambda: n["id"] in notifier.ids(), timeout=5000)


def test_removing_the_account_deletes_its_subscription(
    qtbot: QtBot,
    server: DemoServer,
    secrets: SecretStore,
    push_setup: tuple[TootbellApp, RecordingNotifier, AccountConfig],
) -> None:
    app, _, acc = push_setup
    wait_push_ready(qtbot, app, acc.key)
    token = secrets.get_token(acc.key) or ""
    app.remove_account(acc.key)
    qtbot.waitUntil(lambda: server.push_subscription(token) is None, timeout=10_000)
    qtbot.waitUntil(lambda: secrets.get_push_key(acc.key) is None, timeout=5000)


def test_push_switched_on_in_settings_subscribes(
    qtbot: QtBot,
    qapp: QApplication,
    server: DemoServer,
    home: Paths,
    secrets: SecretStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Settings → Push: the dialog's result turns push on; the app subscribes and listens."""
    from tootbell.ui.dialogs.settings import SettingsDialog, SettingsResult

    port = free_port()
    token = server.create_token("demo")
    acc = AccountConfig(key=f"demo@{server.base_url.split('//', 1)[1]}", base_url=server.base_url)
    secrets.set_token(acc.key, token)
    save_config(home, replace(load_config(home), accounts=(acc,)))
    notifier = RecordingNotifier()
    app = TootbellApp(qapp, paths=home, secrets=secrets, notifier=notifier, use_tray=False)
    try:
        app.start()
        qtbot.waitUntil(
            lambda: acc.key in app.statuses and app.statuses[acc.key].health == "ok", timeout=10_000
        )
        chosen = replace(acc, delivery="push", push_public_url=f"http://127.0.0.1:{port}")
        got: dict[str, object] = {}

        def fake_edit(
            parent: object, settings: Settings, accounts: object, **kw: object
        ) -> SettingsResult:
            got.update(kw)
            new = replace(settings, push_listen=f"127.0.0.1:{port}")
            return SettingsResult(new, (), False, (chosen,))

        monkeypatch.setattr(SettingsDialog, "edit", fake_edit)
        app.show_settings()
        assert got.get("route_test") == app.route_test
        assert load_config(home).account(acc.key) == chosen
        qtbot.waitUntil(lambda: server.push_subscription(token) is not None, timeout=10_000)
        qtbot.waitUntil(
            lambda: (
                app.statuses.get(acc.key) is not None
                and app.statuses[acc.key].text.endswith("push")
            ),
            timeout=10_000,
        )
        n = server.add_notification("mention")
        qtbot.waitUntil(lambda: n["id"] in notifier.ids(), timeout=5000)
    finally:
        app.shutdown()


def test_switch_changes_update_the_subscription_with_the_full_alert_set(
    qtbot: QtBot,
    server: DemoServer,
    secrets: SecretStore,
    push_setup: tuple[TootbellApp, RecordingNotifier, AccountConfig],
) -> None:
    import json

    app, _, acc = push_setup
    wait_push_ready(qtbot, app, acc.key)
    token = secrets.get_token(acc.key) or ""
    sub = server.push_subscription(token)
    assert sub is not None and sub["alerts"]["favourite"] is True
    server.clear_requests()
    types = dict(app.config.settings.types)
    types["favourite"] = False
    app.apply_settings(replace(app.config.settings, types=types, push_policy="followed"))
    qtbot.waitUntil(
        lambda: (server.push_subscription(token) or {}).get("policy") == "followed", timeout=10_000
    )
    sub = server.push_subscription(token)
    assert (
        sub is not None and sub["alerts"]["favourite"] is False and sub["alerts"]["mention"] is True
    )
    (put,) = server.requests_to("/api/v1/push/subscription", "PUT")
    body = json.loads(put.body)
    assert body["data"]["policy"] == "followed"
    assert len(body["data"]["alerts"]) >= 13 and body["data"]["alerts"]["favourite"] is False


def test_when_the_fetch_fails_the_payload_is_shown_once(
    qtbot: QtBot,
    server: DemoServer,
    push_setup: tuple[TootbellApp, RecordingNotifier, AccountConfig],
) -> None:
    app, notifier, acc = push_setup
    wait_push_ready(qtbot, app, acc.key)
    server.faults.queue("/api/v1/notifications/", "500", count=5)
    n = server.add_notification("mention", from_user="ana", status_text="Fetch will fail")
    qtbot.waitUntil(lambda: n["id"] in notifier.ids(), timeout=5000)
    toast = next(t for t, _ in notifier.shown if n["id"] in t.notification_ids)
    assert "mentioned you" in toast.title and "Fetch will fail" in toast.body  # from the payload
    server.faults.clear()
    app.check_now()  # the catch-up poll brings the same notification: not shown again
    qtbot.wait(800)
    assert notifier.ids().count(n["id"]) == 1


def test_a_burst_of_pushed_favourites_the_server_will_not_serve_becomes_one_toast(
    qtbot: QtBot,
    server: DemoServer,
    push_setup: tuple[TootbellApp, RecordingNotifier, AccountConfig],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fetches refused (the rate limit a burst used up): no toast per pushed favourite; the
    check that comes soon after brings them as one coalesced toast."""
    from tootbell.ui import workers

    monkeypatch.setattr(workers, "PUSH_CATCHUP_SOON_S", 1.0, raising=False)
    app, notifier, acc = push_setup
    wait_push_ready(qtbot, app, acc.key)
    first = server.add_notification("favourite", from_user="ana", status_text="My cat photo")
    qtbot.waitUntil(lambda: first["id"] in notifier.ids(), timeout=5000)
    server.faults.queue("/api/v1/notifications/", "500", count=40)  # every fetch by id fails
    burst = [
        server.add_notification("favourite", from_user=f"fan{i}", status_id=first["status"]["id"])
        for i in range(12)
    ]
    # Every pushed favourite was fetched, and refused, before the server recovers.
    qtbot.waitUntil(
        lambda: all(server.requests_to(f"/api/v1/notifications/{b['id']}") for b in burst),
        timeout=10_000,
    )
    qtbot.wait(300)
    assert len({t.key for t, _ in notifier.shown}) == 1  # no toast per push meanwhile
    server.faults.clear()
    qtbot.waitUntil(lambda: all(b["id"] in notifier.ids() for b in burst), timeout=10_000)
    keys = {t.key for t, _ in notifier.shown}
    assert len(keys) == 1  # the first toast, updated in place by the check: no toast per push
    last = notifier.shown[-1][0]
    assert "favourited your post" in last.title
    assert "and 12 others" in last.title, last.title
