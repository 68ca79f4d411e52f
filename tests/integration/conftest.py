"""Shared by the integration tests: the running app against the demo instance, and a guard
that no message box outlives its test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from app_setup import QUIET, demo_account
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from recording_notifier import RecordingNotifier

from tootbell.app import TootbellApp
from tootbell.config import AccountConfig, Paths, load_config, save_config
from tootbell.demo import DemoServer
from tootbell.secrets import SecretStore


@pytest.fixture
def running(
    qapp: QApplication, qtbot: QtBot, server: DemoServer, home: Paths, secrets: SecretStore
) -> Iterator[tuple[TootbellApp, RecordingNotifier, AccountConfig]]:
    """The app with one demo account, up to date, toasts recorded."""
    acc = demo_account(server, secrets)
    save_config(home, replace(load_config(home), settings=QUIET, accounts=(acc,)))
    notifier = RecordingNotifier()
    app = TootbellApp(qapp, paths=home, secrets=secrets, notifier=notifier, use_tray=False)
    app.start()
    qtbot.waitUntil(
        lambda: acc.key in app.statuses and app.statuses[acc.key].health == "ok", timeout=10_000
    )
    yield app, notifier, acc
    app.shutdown()


@pytest.fixture(autouse=True)
def no_stray_modals() -> Iterator[None]:
    yield
    box = QApplication.activeModalWidget()
    if box is not None:
        box.close()
