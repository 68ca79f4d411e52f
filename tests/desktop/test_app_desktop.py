"""The whole app on the real desktop: tray icon on a real SNI host, toasts through real dunst,
the token in the real Secret Service, the demo instance over loopback HTTP.

Clicking a toast is simulated with ``dunstctl`` (what dunst does on a mouse click); opening a
URL is caught with a QDesktopServices URL handler, because no browser runs here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from desktop_session import (
    BusRecorder,
    NotifyCall,
    dunst_context_action,
    dunst_displayed,
    dunstctl_action,
    tray_items,
    wait_for,
)
from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tootbell.app import TootbellApp
from tootbell.config import AccountConfig, Paths, Settings, default_paths, load_config, save_config
from tootbell.demo import DemoServer
from tootbell.secrets import SecretStore

pytestmark = pytest.mark.usefixtures("clean_dunst")


class UrlCatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def handle(self, url: QUrl) -> None:
        self.urls.append(url.toString())


@pytest.fixture
def catcher() -> Iterator[UrlCatcher]:
    c = UrlCatcher()
    QDesktopServices.setUrlHandler("http", c, "handle")
    QDesktopServices.setUrlHandler("https", c, "handle")
    yield c
    QDesktopServices.unsetUrlHandler("http")
    QDesktopServices.unsetUrlHandler("https")


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    monkeypatch.setenv("TOOTBELL_HOME", str(tmp_path / "home"))
    p = default_paths()
    p.ensure()
    return p


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    with DemoServer() as srv:
        yield srv


@pytest.fixture
def running(
    qapp: QApplication, qtbot: QtBot, paths: Paths, demo: DemoServer
) -> Iterator[tuple[TootbellApp, AccountConfig]]:
    secrets = SecretStore()  # the real Secret Service of the session
    host = demo.base_url.split("//", 1)[1]
    acc = AccountConfig(key=f"demo@{host}", base_url=demo.base_url)
    secrets.set_token(acc.key, demo.create_token("demo"))
    save_config(paths, load_config(paths).with_account(acc))
    cfg = load_config(paths)
    save_config(paths, cfg.__class__(settings=Settings(poll_interval_s=15), accounts=cfg.accounts))
    app = TootbellApp(qapp, paths=paths)
    app.start()
    qtbot.waitUntil(
        lambda: acc.key in app.statuses and app.statuses[acc.key].health == "ok", timeout=15_000
    )
    yield app, acc
    app.shutdown()
    secrets.delete_token(acc.key)


def calls_for(rec: BusRecorder, text: str) -> list[NotifyCall]:
    return [c for c in rec.notify_calls if c.app_name == "Tootbell" and text in c.body]


def test_tray_icon_is_registered_with_the_host(
    running: tuple[TootbellApp, AccountConfig], qtbot: QtBot
) -> None:
    qtbot.waitUntil(lambda: any(i.pid == os.getpid() for i in tray_items()), timeout=10_000)


def test_mention_toast_open_and_dismiss(
    running: tuple[TootbellApp, AccountConfig],
    demo: DemoServer,
    qtbot: QtBot,
    catcher: UrlCatcher,
) -> None:
    app, _ = running
    with BusRecorder() as rec:
        n = demo.add_notification("mention", from_user="ana", status_text="Lunch at noon?")
        app.check_now()
        qtbot.waitUntil(lambda: bool(calls_for(rec, "Lunch at noon?")), timeout=15_000)
        call = calls_for(rec, "Lunch at noon?")[0]
    assert call.summary.endswith("mentioned you")
    assert "open" in call.actions and "dismiss" in call.actions and "default" in call.actions
    assert call.app_icon and Path(call.app_icon).read_bytes()[:4] == b"\x89PNG"  # the avatar
    assert call.hints.get("desktop-entry") is not None
    qtbot.waitUntil(lambda: app.model().unread == 1, timeout=5000)

    # a click on the toast (its default action) opens the post
    qtbot.waitUntil(lambda: dunst_displayed() >= 1, timeout=5000)
    dunstctl_action(0)
    qtbot.waitUntil(lambda: bool(catcher.urls), timeout=5000)
    assert catcher.urls == [n["status"]["url"]]

    # "Dismiss" on a second toast dismisses that notification on the server
    m = demo.add_notification("mention", from_user="ben", status_text="Second one")
    with BusRecorder() as rec:
        app.check_now()
        qtbot.waitUntil(lambda: bool(calls_for(rec, "Second one")), timeout=15_000)
    qtbot.waitUntil(lambda: dunst_displayed() >= 1, timeout=5000)
    dunst_context_action("dismiss")
    qtbot.waitUntil(
        lambda: all(x["id"] != m["id"] for x in demo.notifications_for("demo")), timeout=10_000
    )
    assert any(x["id"] == n["id"] for x in demo.notifications_for("demo"))


def test_burst_updates_one_toast_in_place(
    running: tuple[TootbellApp, AccountConfig], demo: DemoServer, qtbot: QtBot
) -> None:
    app, _ = running
    with BusRecorder() as rec:
        first = demo.add_notification("favourite", from_user="ana", status_text="My cat photo")
        app.check_now()
        qtbot.waitUntil(lambda: len(calls_for(rec, "My cat photo")) == 1, timeout=15_000)
        for user in ("ben", "chloe", "dev"):
            demo.add_notification("favourite", from_user=user, status_id=first["status"]["id"])
        app.check_now()
        qtbot.waitUntil(lambda: len(calls_for(rec, "My cat photo")) == 2, timeout=15_000)
        one, two = calls_for(rec, "My cat photo")
        wait_for(lambda: two.id is not None, timeout=5.0, what="the daemon's answer")
    assert two.replaces_id == one.id  # replaced in place, not a second toast
    assert "3 others favourited your post" in two.summary
    assert dunst_displayed() == 1


def test_markup_in_a_display_name_is_not_rendered(
    running: tuple[TootbellApp, AccountConfig], demo: DemoServer, qtbot: QtBot
) -> None:
    app, _ = running
    with BusRecorder() as rec:
        demo.add_notification("mention", from_user="markup", status_text="<b>bold</b> & <i>x</i>")
        app.check_now()
        qtbot.waitUntil(
            lambda: bool([c for c in rec.notify_calls if c.app_name == "Tootbell"]), timeout=15_000
        )
        call = next(c for c in rec.notify_calls if c.app_name == "Tootbell")
    # dunst here advertises body-markup: the body must carry escaped text, never live tags
    assert "<b>" not in call.body and "<i>" not in call.body


def test_locked_keyring_is_said_plainly_then_what_waited_shows_once_after_unlock(
    qapp: QApplication,
    qtbot: QtBot,
    paths: Paths,
    demo: DemoServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Started with gnome-keyring locked, the app says so in words (locked, how to unlock) and
    keeps running and retrying; once the keyring is unlocked it reads the token and shows what
    waited on the server (from before the start and from while it was locked), each once."""
    from desktop_session import keyring_locked, lock_keyring, unlock_keyring

    import tootbell.ui.workers
    from tootbell.config import AccountState, StateStore

    monkeypatch.setattr(tootbell.ui.workers, "KEYRING_RETRY_S", 0.5)
    secrets = SecretStore()
    host = demo.base_url.split("//", 1)[1]
    acc = AccountConfig(key=f"locked@{host}", base_url=demo.base_url)
    secrets.set_token(acc.key, demo.create_token("demo"))
    save_config(paths, load_config(paths).with_account(acc))
    # Tootbell ran before and handled everything up to this one.
    seen = demo.add_notification("mention", from_user="ana", status_text="Seen last time")
    StateStore(paths).save(acc.key, AccountState(cursor=seen["id"], seen=[seen["id"]]))
    demo.add_notification("mention", from_user="ben", status_text="Waited while off")

    def polls() -> int:
        listed = demo.requests_to("/api/v1/notifications", "GET")
        return len([r for r in listed if r.path == "/api/v1/notifications"])

    lock_keyring()
    app = TootbellApp(qapp, paths=paths)
    try:
        with BusRecorder() as rec:
            app.start()
            qtbot.waitUntil(
                lambda: acc.key in app.statuses and app.statuses[acc.key].health == "keyring",
                timeout=15_000,
            )
            text = app.statuses[acc.key].text
            assert "locked" in text.lower() and "unlock" in text.lower()
            assert app.model().state.name == "ERROR"
            demo.add_notification("mention", from_user="cleo", status_text="Arrived while locked")
            qtbot.wait(1500)  # a few retries at KEYRING_RETRY_S
            assert app.statuses[acc.key].health == "keyring"  # still there, still saying so
            assert polls() == 0  # it cannot check without its token
            assert calls_for(rec, "") == []

            unlock_keyring()
            qtbot.waitUntil(
                lambda: (
                    bool(calls_for(rec, "Waited while off"))
                    and bool(calls_for(rec, "Arrived while locked"))
                ),
                timeout=15_000,
            )
            qtbot.waitUntil(lambda: app.statuses[acc.key].health == "ok", timeout=15_000)
            # Another check finds nothing new to show.
            checked = polls()
            app.check_now()
            qtbot.waitUntil(lambda: polls() > checked, timeout=10_000)
            qtbot.wait(500)
        assert len(calls_for(rec, "Waited while off")) == 1
        assert len(calls_for(rec, "Arrived while locked")) == 1
        assert calls_for(rec, "Seen last time") == []
    finally:
        app.shutdown()
        if keyring_locked():
            unlock_keyring()
        secrets.delete_token(acc.key)


def test_a_push_becomes_a_real_toast_within_a_second(
    qapp: QApplication, qtbot: QtBot, paths: Paths, demo: DemoServer
) -> None:
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    secrets = SecretStore()
    host = demo.base_url.split("//", 1)[1]
    acc = AccountConfig(
        key=f"pushed@{host}",
        base_url=demo.base_url,
        delivery="push",
        push_public_url=f"http://127.0.0.1:{port}",
    )
    secrets.set_token(acc.key, demo.create_token("demo"))
    settings = Settings(poll_interval_s=3600, push_listen=f"127.0.0.1:{port}", push_catchup_s=3600)
    save_config(paths, load_config(paths).__class__(settings=settings, accounts=(acc,)))
    app = TootbellApp(qapp, paths=paths)
    try:
        app.start()
        qtbot.waitUntil(
            lambda: acc.key in app.statuses and app.statuses[acc.key].text.endswith("push"),
            timeout=15_000,
        )
        with BusRecorder() as rec:
            started = time.monotonic()
            demo.add_notification("mention", from_user="ana", status_text="Straight from push")
            qtbot.waitUntil(lambda: bool(calls_for(rec, "Straight from push")), timeout=3000)
            took = time.monotonic() - started
        assert took < 1.0
        assert calls_for(rec, "Straight from push")[0].summary.endswith("mentioned you")
    finally:
        app.shutdown()
        secrets.delete_token(acc.key)
        secrets.delete_push_key(acc.key)


def test_reading_on_another_client_closes_the_real_toast(
    running: tuple[TootbellApp, AccountConfig], demo: DemoServer, qtbot: QtBot
) -> None:
    """A phone moves the read marker past one of two toasts: dunst is told to close that one
    (CloseNotification, then its NotificationClosed), the other stays, the badge drops."""
    app, acc = running
    with BusRecorder() as rec:
        read = demo.add_notification("mention", from_user="ana", status_text="Read on the phone")
        demo.add_notification("mention", from_user="ben", status_text="Still unread")
        app.check_now()
        qtbot.waitUntil(
            lambda: (
                bool(calls_for(rec, "Read on the phone")) and bool(calls_for(rec, "Still unread"))
            ),
            timeout=15_000,
        )
        first = calls_for(rec, "Read on the phone")[0]
        second = calls_for(rec, "Still unread")[0]
        wait_for(lambda: first.id is not None and second.id is not None, timeout=5.0, what="ids")
        qtbot.waitUntil(lambda: dunst_displayed() == 2, timeout=5000)
        qtbot.waitUntil(lambda: app.model().unread == 2, timeout=5000)

        demo.set_marker(read["id"])  # another client read up to the first
        app.workers[acc.key].worker.check_marker()
        qtbot.waitUntil(lambda: first.id in rec.close_calls, timeout=10_000)
        qtbot.waitUntil(
            lambda: any(
                name == "NotificationClosed" and body[0] == first.id for name, body in rec.signals
            ),
            timeout=5000,
        )
        qtbot.waitUntil(lambda: dunst_displayed() == 1, timeout=5000)
        assert second.id not in rec.close_calls
        qtbot.waitUntil(lambda: app.model().unread == 1, timeout=5000)
