"""The frozen one-folder bundle starts, runs and stops like the app from the venv.

Each test runs ``dist/tootbell/tootbell`` in a clean environment: no venv on PATH, no
PYTHONPATH or VIRTUAL_ENV, no D-Bus session or display, a private HOME, TMPDIR, XDG dirs and
TOOTBELL_HOME, and Qt's offscreen platform. The test process asks the running bundle for its
state over the single-instance socket, which lives in that private TMPDIR.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tootbell import __version__
from tootbell.app import ask_running_instance
from tootbell.config import Paths, default_paths

START_TIMEOUT = 60.0  # a cold first start of a frozen Qt app on a busy 2-core machine
STOP_TIMEOUT = 15.0


def clean_env(tmp_path: Path) -> dict[str, str]:
    """An environment built from nothing: a system PATH, a UTF-8 locale, private folders."""
    dirs = {
        "HOME": "home",
        "TMPDIR": "tmp",
        "XDG_RUNTIME_DIR": "run",
        "XDG_CONFIG_HOME": "config",
        "XDG_DATA_HOME": "data",
        "XDG_CACHE_HOME": "cache",
        "XDG_STATE_HOME": "state",
        "TOOTBELL_HOME": "tootbell",
    }
    env = {"PATH": os.defpath, "LANG": "C.UTF-8", "QT_QPA_PLATFORM": "offscreen"}
    for var, name in dirs.items():
        path = tmp_path / name
        path.mkdir(mode=0o700)
        env[var] = str(path)
    return env


@dataclass
class Launch:
    """One start of the bundle, its output going to a file (a pipe could fill and block)."""

    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    output: Path

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def log(self) -> str:
        log_file = default_paths(self.env).log_file
        return log_file.read_text(errors="replace") if log_file.exists() else ""

    def instance_paths(self) -> list[Paths]:
        """Where this launch's single-instance socket can be: its TOOTBELL_HOME, or (with
        --demo, which keeps its config in a temporary folder) that folder in its TMPDIR."""
        demo_homes = sorted(Path(self.env["TMPDIR"]).glob("tootbell-demo-*"))
        return [default_paths(self.env)] + [
            default_paths({"TOOTBELL_HOME": str(home)}) for home in demo_homes
        ]

    def status(self) -> dict[str, Any] | None:
        for paths in self.instance_paths():
            answer = ask_running_instance(paths, "status", timeout_ms=500, answer_ms=2000)
            if answer:
                return dict(json.loads(answer))
        return None

    def wait_running(self, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"the bundle exited with {self.proc.returncode} before it ran:\n{self.text()}"
                )
            status = self.status()
            if status is not None and status.get("state") == "running":
                return status
            time.sleep(0.1)
        pytest.fail(f"the bundle did not reach 'running' within {timeout:.0f} s:\n{self.text()}")

    def terminate(self) -> int:
        """SIGTERM, as a session logout or `kill` sends; the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the bundle did not exit within {STOP_TIMEOUT:.0f} s of SIGTERM")


Start = Callable[..., Launch]


@pytest.fixture
def start(
    bundle: Path, tmp_path: Path, qapp: object, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Start]:
    """Start the bundle in a clean environment; the same environment for every start in a
    test (so a second start meets the first). Whatever still runs at the end is killed."""
    env = clean_env(tmp_path)
    # This process finds the app's socket the way the app names it: by TOOTBELL_HOME, in
    # Qt's temporary folder (TMPDIR).
    monkeypatch.setenv("TOOTBELL_HOME", env["TOOTBELL_HOME"])
    monkeypatch.setenv("TMPDIR", env["TMPDIR"])
    launches: list[Launch] = []

    def run(*args: str) -> Launch:
        output = tmp_path / f"output-{len(launches)}.txt"
        with output.open("wb") as out:
            proc = subprocess.Popen(
                [str(bundle), *args],
                env=env,
                cwd=env["HOME"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        launch = Launch(proc, env, output)
        launches.append(launch)
        return launch

    yield run
    for launch in launches:
        if launch.proc.poll() is None:
            launch.proc.kill()
            launch.proc.wait(timeout=10)


def assert_clean_exit(launch: Launch, answered: list[Paths]) -> None:
    """No traceback anywhere, and the single-instance socket went with the process."""
    assert "Traceback" not in launch.text(), launch.text()
    log = launch.log()
    assert log, "the bundle wrote no log under TOOTBELL_HOME"
    assert "Traceback" not in log, log
    for paths in answered:
        assert ask_running_instance(paths, "status", timeout_ms=300) is None
    sockets = [p for p in Path(launch.env["TMPDIR"]).rglob("*") if p.is_socket()]
    assert sockets == []


def test_version(start: Start) -> None:
    launch = start("--version")
    assert launch.proc.wait(timeout=START_TIMEOUT) == 0
    assert launch.text().strip() == f"Tootbell {__version__}"


def test_demo_runs_and_stops_on_sigterm(start: Start) -> None:
    launch = start("--demo")
    status = launch.wait_running()
    assert status == {"state": "running", "version": __version__, "accounts": 1, "demo": True}
    answered = launch.instance_paths()

    assert launch.terminate() == 0
    assert_clean_exit(launch, answered)
    # The demo ran for real: its simulated server and its push listener.
    log = launch.log()
    assert "demo instance serving at http://127.0.0.1:" in log
    assert "push listener on 127.0.0.1:" in log


def test_first_run_without_accounts_shows_welcome_and_stops(start: Start) -> None:
    launch = start()
    status = launch.wait_running()
    assert status == {"state": "running", "version": __version__, "accounts": 0, "demo": False}
    answered = launch.instance_paths()

    assert launch.terminate() == 0
    assert_clean_exit(launch, answered)
    # The welcome window was up and closed with the app (it logs the choice it ends with).
    assert "First run:" in launch.log()


def test_second_launch_brings_the_first_forward(start: Start) -> None:
    first = start()
    first.wait_running()

    second = start()
    try:
        code = second.proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the second launch kept running:\n{second.text()}")
    assert code == 0, second.text()
    assert "already running" in second.text()
    assert "Traceback" not in second.text()

    deadline = time.monotonic() + 10
    while "another launch asked this instance to come forward" not in first.log():
        assert time.monotonic() < deadline, first.log()
        time.sleep(0.1)
    assert first.proc.poll() is None, "the first instance quit when the second one came"

    answered = first.instance_paths()
    assert first.terminate() == 0
    assert_clean_exit(first, answered)
