"""The frozen bundle on a real desktop: its tray icon reaches the tray host, and its doctor
finds the Secret Service keyring (so keyring's backends and D-Bus client were frozen in).

The bundle starts the way a double-click starts it: no terminal, a clean environment with
only the session's display and bus, and a private HOME and TOOTBELL_HOME.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from desktop_session import tray_items, wait_for

from built_bundle import built_bundle

# What the desktop session gives every program it starts.
SESSION_VARS = ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "NO_AT_BRIDGE")


@pytest.fixture
def bundle(desktop_session: None) -> Path:
    return built_bundle()


@pytest.fixture
def double_click_env(tmp_path: Path) -> dict[str, str]:
    env = {"PATH": os.defpath, "LANG": "C.UTF-8"}
    env.update({var: os.environ[var] for var in SESSION_VARS if var in os.environ})
    for var, name in (
        ("HOME", "home"),
        ("TMPDIR", "tmp"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
        ("TOOTBELL_HOME", "tootbell"),
    ):
        (tmp_path / name).mkdir(mode=0o700)
        env[var] = str(tmp_path / name)
    return env


@pytest.fixture
def running_demo(
    bundle: Path, double_click_env: dict[str, str], tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with (tmp_path / "output.txt").open("wb") as out:
        proc = subprocess.Popen(
            [str(bundle), "--demo"],
            env=double_click_env,
            cwd=double_click_env["HOME"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # no controlling terminal, as from a file manager
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_bundle_tray_icon_registers_with_the_tray_host(
    running_demo: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    def ours() -> list[object]:
        if running_demo.poll() is not None:
            output = (tmp_path / "output.txt").read_text(errors="replace")
            pytest.fail(f"the bundle exited with {running_demo.returncode}:\n{output}")
        return [i for i in tray_items() if i.pid == running_demo.pid]

    wait_for(ours, timeout=60.0, interval=0.2, what="the bundle's StatusNotifierItem")

    running_demo.send_signal(signal.SIGTERM)
    assert running_demo.wait(timeout=15) == 0
    wait_for(
        lambda: not [i for i in tray_items() if i.pid == running_demo.pid],
        timeout=10.0,
        what="the tray item to go with the process",
    )
    output = (tmp_path / "output.txt").read_text(errors="replace")
    assert "Traceback" not in output, output


def test_bundle_doctor_finds_the_secret_service(
    bundle: Path, double_click_env: dict[str, str]
) -> None:
    done = subprocess.run(
        [str(bundle), "doctor"],
        env=double_click_env,
        cwd=double_click_env["HOME"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = done.stdout + done.stderr
    assert "Traceback" not in report, report
    [keyring_line] = [line for line in done.stdout.splitlines() if "] Keyring:" in line]
    assert keyring_line.startswith("[ok  ]"), report
    assert "SecretService" in keyring_line, report
    assert "[ok  ] System tray: available" in done.stdout, report
    assert done.returncode == 0, report
