"""The fault suite's fixtures: the real app started on the accounts of ``home``, and a second
demo instance. Helpers are in faults_harness.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from faults_harness import FAST, SETTINGS, Launch, RecordingNotifier, Running
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tootbell.app import TootbellApp
from tootbell.config import Paths, Settings, load_config, save_config
from tootbell.demo import DemoServer
from tootbell.secrets import SecretStore
from tootbell.ui.workers import WorkerTiming


@pytest.fixture
def launch(qapp: QApplication, qtbot: QtBot, home: Paths, secrets: SecretStore) -> Iterator[Launch]:
    """Start the real app on the accounts in ``home``'s config (shut down after the test)."""
    apps: list[TootbellApp] = []

    def start(timing: WorkerTiming = FAST, settings: Settings = SETTINGS) -> Running:
        save_config(home, replace(load_config(home), settings=settings))
        notifier = RecordingNotifier()
        app = TootbellApp(
            qapp,
            paths=home,
            secrets=secrets,
            notifier=notifier,
            use_tray=False,
            worker_timing=timing,
        )
        apps.append(app)
        app.start()
        return Running(app, notifier, qtbot)

    yield start
    for app in apps:
        app.shutdown()


@pytest.fixture
def other_server() -> Iterator[DemoServer]:
    """A second, independent instance (for one account failing while another goes on)."""
    srv = DemoServer(seed=2)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
