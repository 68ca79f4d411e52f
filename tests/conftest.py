"""Shared fixtures: a private TOOTBELL_HOME, the demo instance on loopback, an in-memory keyring.

The in-memory keyring stands in for the OS keyring in unit and integration tests only; the
desktop set (tests/desktop) uses the real Secret Service (gnome-keyring).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tootbell.config import Paths, default_paths
from tootbell.demo import DemoServer
from tootbell.demo.memory_keyring import MemoryKeyring
from tootbell.secrets import SecretStore


@pytest.fixture
def home(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> Paths:
    root = str(tmp_path) + "/home"
    monkeypatch.setenv("TOOTBELL_HOME", root)
    paths = default_paths()
    paths.ensure()
    return paths


@pytest.fixture
def server() -> Iterator[DemoServer]:
    srv = DemoServer()
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def secrets() -> SecretStore:
    return SecretStore(backend=MemoryKeyring())
