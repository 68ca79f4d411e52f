"""Start at login for real on Linux: the XDG autostart entry Tootbell writes passes
``desktop-file-validate``, GLib launches it with every argument intact, and ``dex --autostart``
(what a desktop session does at login) starts this installation's Tootbell from it, which
comes up with its account, polls with the token from the real Secret Service, and stops on
SIGTERM; once disabled, nothing starts.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from desktop_session import wait_for
from PySide6.QtWidgets import QApplication

from tootbell.app import ask_running_instance
from tootbell.autostart import XdgAutostart, launch_command
from tootbell.config import AccountConfig, Paths, default_paths, load_config, save_config
from tootbell.demo import DemoServer
from tootbell.secrets import SecretStore

PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>

TRICKY_ARGS = [
    "two words",
    'say "hi"',
    "C:\\dir\\",
    "back\\slash",
    "$HOME",
    "`id`",
    "100%",
    "%u",
    "",
    "it's",
    "~/x",
    "a;b&c|d",
    "two\nlines",
    "tab\there",
    "--flag=1",
]


def need(program: str, package: str) -> str:
    """The path of ``program``; fails (never skips) when its Debian package is missing."""
    found = shutil.which(program)
    if found is None:
        pytest.fail(f"{program} is missing: apt-get install {package}", pytrace=False)
    return found


def validate(path: Path) -> list[str]:
    """What desktop-file-validate has to say about ``path``: errors, warnings and hints."""
    r = subprocess.run(
        [need("desktop-file-validate", "desktop-file-utils"), str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    said = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    assert r.returncode == 0 or said, "desktop-file-validate failed without saying why"
    return said


def test_the_written_entry_is_valid(tmp_path: Path) -> None:
    backend = XdgAutostart(tmp_path / "config")
    backend.enable(launch_command())
    assert validate(backend.path) == []
    backend.enable(["/opt/my apps/tootbell", *TRICKY_ARGS])
    assert validate(backend.path) == []


def test_glib_launches_the_entry_with_every_argument_intact(tmp_path: Path) -> None:
    """GLib (gio launch) reads Exec as GNOME, Xfce and most launchers do."""
    out = tmp_path / "argv.json"
    folder = tmp_path / "a folder with spaces"
    folder.mkdir()
    script = folder / "record.py"
    script.write_text(
        f"import json, sys\nwith open({str(out)!r}, 'w') as f:\n    json.dump(sys.argv[1:], f)\n"
    )
    backend = XdgAutostart(tmp_path / "config")
    backend.enable([sys.executable, str(script), *TRICKY_ARGS])
    r = subprocess.run(
        [need("gio", "libglib2.0-bin"), "launch", str(backend.path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    wait_for(lambda: out.exists() and out.read_text(), timeout=15.0, what="the launched script")
    assert json.loads(out.read_text()) == TRICKY_ARGS


# --------------------------------------------------------------------------- a login, with dex


@pytest.fixture
def subreaper() -> Iterator[None]:
    """Make this process adopt what dex starts and leaves behind, so its exit can be read."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(code)}")
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def processes_with(marker: str) -> list[int]:
    """The processes whose environment holds ``marker`` (a NAME=value pair)."""
    found = []
    wanted = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if wanted in environ and state != "Z":
            found.append(int(entry.name))
    return found


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def wait_exit_code(pid: int, timeout: float) -> int | None:
    """The exit code of ``pid`` (a child of this process), or None if it runs on past timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    return None


def stop(pid: int) -> None:
    """End ``pid`` however it is doing; reap it when it is this process's child."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        with contextlib.suppress(ChildProcessError):
            if wait_exit_code(pid, grace) is not None:
                return


def dex_autostart(env: dict[str, str], log: Path) -> None:
    """Start what the session starts at login; returns once dex has started it all."""
    with log.open("ab") as out:
        # Not captured through a pipe: what dex starts inherits its output and lives on.
        r = subprocess.run(
            [need("dex", "dex"), "--autostart", "--environment", "XFCE", "--verbose"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            timeout=60,
        )
    assert r.returncode == 0, log.read_text(errors="replace")


def instance_status(paths: Paths) -> dict[str, object] | None:
    answer = ask_running_instance(paths, "status", answer_ms=2000)
    if not answer:
        return None
    status = json.loads(answer)
    assert isinstance(status, dict)
    return status


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    with DemoServer() as srv:
        yield srv


def test_dex_starts_tootbell_at_login_and_not_once_disabled(
    qapp: QApplication, tmp_path: Path, demo: DemoServer, subreaper: None
) -> None:
    home = tmp_path / "home"
    config_home = tmp_path / "xdg-config"
    # Only the entry under test: the system's own autostart entries (keyring daemons,
    # xdg-user-dirs) are not this session's to start.
    system_dirs = tmp_path / "xdg-config-dirs"
    system_dirs.mkdir()
    env = {
        **os.environ,
        "TOOTBELL_HOME": str(home),
        "XDG_CONFIG_HOME": str(config_home),
        "XDG_CONFIG_DIRS": str(system_dirs),
    }
    paths = default_paths({"TOOTBELL_HOME": str(home)})
    paths.ensure()
    marker = f"TOOTBELL_HOME={home}"
    log = tmp_path / "dex.log"

    secrets = SecretStore()  # the real Secret Service of the session
    acc = AccountConfig(key=f"demo@{demo.base_url.split('//', 1)[1]}", base_url=demo.base_url)
    token = demo.create_token("demo")
    try:
        secrets.set_token(acc.key, token)
        save_config(paths, load_config(paths).with_account(acc))

        entry = XdgAutostart(config_home)
        command = launch_command()
        assert command == [str(Path(os.path.abspath(sys.executable)).parent / "tootbell")]
        entry.enable(command)
        assert entry.current() is True

        dex_autostart(env, log)
        pids = wait_for(lambda: processes_with(marker), timeout=10.0, what="Tootbell started")
        assert len(pids) == 1, pids
        pid = pids[0]
        assert parent_of(pid) == os.getpid()  # adopted: its exit code is ours to read
        assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1] == command[0].encode()

        def running() -> dict[str, object] | None:
            status = instance_status(paths)
            return status if status and status.get("state") == "running" else None

        status = wait_for(running, timeout=30.0, what="the started Tootbell to answer 'running'")
        assert status["accounts"] == 1
        assert status["demo"] is False

        def polled_with_the_token() -> bool:
            return any(
                r.header("Authorization") == f"Bearer {token}"
                for r in demo.requests_to("/api/v1/notifications", method="GET")
            )

        wait_for(polled_with_the_token, timeout=30.0, what="a poll with the keyring's token")

        os.kill(pid, signal.SIGTERM)
        assert wait_exit_code(pid, timeout=20.0) == 0, log.read_text(errors="replace")
        assert instance_status(paths) is None

        entry.disable()
        assert not entry.path.exists()
        polls = len(demo.requests_to("/api/v1/notifications"))
        dex_autostart(env, log)
        # dex has started whatever it starts by the time it exits; give any start a moment.
        time.sleep(2.0)
        assert processes_with(marker) == []
        assert instance_status(paths) is None
        assert len(demo.requests_to("/api/v1/notifications")) == polls
    finally:
        for pid in processes_with(marker):
            stop(pid)
        secrets.delete_token(acc.key)
