"""The desktop session itself: what session.py promises the other desktop tests."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from desktop_session import (
    ENV_DIR,
    ENV_PASSWORD,
    keyring_locked,
    name_has_owner,
    tray_host_registered,
    tray_items,
    wait_for,
)
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QSystemTrayIcon
from pytestqt.qtbot import QtBot


def test_environment_is_private() -> None:
    root = Path(os.environ[ENV_DIR])
    for var in ("HOME", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        assert Path(os.environ[var]).is_relative_to(root), var
    assert stat.S_IMODE(os.stat(os.environ["XDG_RUNTIME_DIR"]).st_mode) == 0o700
    assert os.environ["QT_QPA_PLATFORM"] == "xcb"
    assert os.environ["DISPLAY"].startswith(":")
    assert str(root) in os.environ["DBUS_SESSION_BUS_ADDRESS"]
    assert os.environ["NO_AT_BRIDGE"] == "1"
    assert os.environ[ENV_PASSWORD]


def test_services_are_up() -> None:
    assert name_has_owner("org.freedesktop.Notifications")
    assert name_has_owner("org.freedesktop.secrets")
    assert tray_host_registered()
    assert not keyring_locked()
    keyrings = Path(os.environ["XDG_DATA_HOME"]) / "keyrings"
    assert (keyrings / "login.keyring").exists()


def test_tray_icon_registers_as_status_notifier_item(qtbot: QtBot) -> None:
    assert QSystemTrayIcon.isSystemTrayAvailable()
    pixmap = QPixmap(22, 22)
    pixmap.fill(QColor("#2060a0"))
    tray = QSystemTrayIcon(QIcon(pixmap))
    tray.show()
    try:
        [item] = wait_for(
            lambda: [i for i in tray_items() if i.pid == os.getpid()], what="our StatusNotifierItem"
        )
        assert item.path == "/StatusNotifierItem"
    finally:
        tray.hide()
