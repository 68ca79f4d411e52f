"""A full disk for the state file: the app warns in words and keeps running; once space
returns, nothing is lost or shown twice, across a restart too.

The disk is not really filled (that needs a small filesystem, so root): in the first case
the atomic write that StateStore uses is monkeypatched to fail for the account state files
exactly as the real one fails on a full disk, with StorageError carrying OSError(ENOSPC).
The second case fails real writes: a file stands where the state folder belongs.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest
from faults_harness import Launch, add_account, once_each

from tootbell import config
from tootbell.config import Paths, StorageError
from tootbell.demo import DemoServer
from tootbell.secrets import SecretStore


class FullDisk:
    """While ``full`` is set, every write of an account state file fails with ENOSPC."""

    def __init__(self, accounts_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = threading.Event()
        self.refused = 0
        real = config.atomic_write_text

        def write(path: Path, text: str, mode: int = 0o600) -> None:
            if self.full.is_set() and path.parent == accounts_dir:
                self.refused += 1
                raise StorageError(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
            real(path, text, mode)

        monkeypatch.setattr(config, "atomic_write_text", write)


def test_full_disk_warns_keeps_running_and_loses_or_repeats_nothing(
    server: DemoServer,
    home: Paths,
    secrets: SecretStore,
    launch: Launch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accounts_dir = home.state_dir / "accounts"
    disk = FullDisk(accounts_dir, monkeypatch)
    acc = add_account(server, secrets, home)
    run = launch()
    run.wait_health(acc.key, "ok")
    (state_file,) = accounts_dir.glob("*.json")
    saved = state_file.read_text()

    disk.full.set()
    made = [server.add_notification("mention") for _ in range(3)]
    run.app.check_now()
    status = run.wait_health(acc.key, "error")
    assert "the disk is full. Tootbell keeps running." in status.text
    assert "the disk is full" in run.app.model().tooltip()
    run.wait_toasted(once_each(acc, made))
    made += [server.add_notification("mention") for _ in range(2)]
    run.app.check_now()
    run.wait_toasted(once_each(acc, made))  # still running, still toasting
    assert run.wait_health(acc.key, "error").text == status.text
    assert disk.refused >= 2
    assert state_file.read_text() == saved  # nothing reached the disk

    # Space comes back; nothing new arrives before the person quits.
    disk.full.clear()
    run.settle(acc.key)
    assert run.wait_health(acc.key, "ok").text == "Up to date"
    run.app.shutdown()

    again = launch()
    again.wait_health(acc.key, "ok")
    later = [server.add_notification("mention")]
    again.app.check_now()
    again.wait_toasted(once_each(acc, later))
    again.settle(acc.key)
    assert run.toasted() + again.toasted() == once_each(acc, made + later)


def test_a_state_folder_that_cannot_be_written_warns_keeps_running_and_recovers(
    server: DemoServer, home: Paths, secrets: SecretStore, launch: Launch
) -> None:
    """A real failure this time: a file stands where the account state folder belongs (a
    folder made read-only does not stop root), so every write fails before it begins."""
    accounts_dir = home.state_dir / "accounts"
    aside = home.state_dir / "accounts.aside"
    acc = add_account(server, secrets, home)
    run = launch()
    run.wait_health(acc.key, "ok")

    accounts_dir.rename(aside)
    accounts_dir.write_text("not a folder")
    made = [server.add_notification("mention") for _ in range(3)]
    run.app.check_now()
    status = run.wait_health(acc.key, "error")
    assert status.text.startswith("Could not save ")
    assert status.text.endswith(". Tootbell keeps running.")
    run.wait_toasted(once_each(acc, made))

    accounts_dir.unlink()
    aside.rename(accounts_dir)
    run.settle(acc.key)
    assert run.wait_health(acc.key, "ok").text == "Up to date"
    run.app.shutdown()

    again = launch()
    again.wait_health(acc.key, "ok")
    later = [server.add_notification("mention")]
    again.app.check_now()
    again.wait_toasted(once_each(acc, later))
    assert run.toasted() + again.toasted() == once_each(acc, made + later)
