"""The app killed with SIGKILL at random points, 50 times, then restarted: the state files
stay valid JSON and no notification is lost.

The app runs as a real process (``python -m tootbell``, offscreen) against the demo instance
in this process. Its token is in TempFileKeyring (tests/faults/file_keyring.py), a test-only
keyring backend in a temporary file that stands in for the OS keyring, since the in-memory
one does not cross processes. Toasts are observed through the app's log: one line
``toast shown: account=… ids=…`` per toast handed to the notifier.

Each run adds a backlog of one to three pages, sometimes with one slow page, and is killed
at a random moment of a randomly chosen kind: while polling; just after a page arrived (its
toasts decided, its state about to be written); inside an atomic state write (as soon as
the write's temporary file appears); or around the hand-off of the toasts to the notifier.
A notification may be toasted twice only when the run was killed between a toast's hand-off
and the save that records it: the toast is then still pending in the state file, and the
next start shows it again.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from faults_harness import PAGES
from file_keyring import ENV as KEYRING_ENV
from file_keyring import TempFileKeyring

from tootbell.config import AccountConfig, Config, Paths, Settings, default_paths, save_config
from tootbell.demo import DemoServer
from tootbell.secrets import SecretStore

KILLS = 50
PAGE = 80  # notifications per page the app asks for
TOAST_LINE = re.compile(r"toast shown: account=(\S+) ids=(\S*)$")
HERE = Path(__file__).resolve().parent


def until(condition: Callable[[], bool], timeout: float, what: str, step: float = 0.002) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(step)


@pytest.fixture
def roomy_server() -> Iterator[DemoServer]:
    """The demo instance without its 300-requests-per-5-minutes limit (50 starts exceed it)."""
    srv = DemoServer(rate_limit=1_000_000)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


class Rig:
    """TOOTBELL_HOME, keyring file and config for the child; starts, kills, reads its log."""

    def __init__(self, root: Path, server: DemoServer) -> None:
        self.server = server
        self.home = root / "home"
        self.paths: Paths = default_paths({"TOOTBELL_HOME": str(self.home)})
        self.paths.ensure()
        self.logs = root / "runs"
        self.logs.mkdir()
        keyring_file = root / "keyring.json"
        host = server.base_url.split("//", 1)[1]
        self.acc = AccountConfig(key=f"demo@{host}", base_url=server.base_url)
        store = SecretStore(backend=TempFileKeyring(keyring_file))
        store.set_token(self.acc.key, server.create_token("demo"))
        settings = Settings(away_threshold=10_000, coalesce_window_s=0, show_avatars=False)
        save_config(self.paths, Config(settings=settings, accounts=(self.acc,)))
        env = dict(os.environ)
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # no notification daemon: toasts are logged
        env.update(
            TOOTBELL_HOME=str(self.home),
            QT_QPA_PLATFORM="offscreen",
            PYTHON_KEYRING_BACKEND="file_keyring.TempFileKeyring",
            PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")])),
        )
        env[KEYRING_ENV] = str(keyring_file)
        self.env = env

    def start(self, run: int) -> tuple[subprocess.Popen[bytes], float]:
        started = time.time()
        with open(self.logs / f"run-{run:02d}.stderr", "wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tootbell"],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        return proc, started

    def alive(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is not None:
            errors = b"".join(p.read_bytes() for p in sorted(self.logs.glob("*.stderr")))
            raise AssertionError(f"the app exited by itself: {errors.decode()[-2000:]}")

    def requests_since(self, started: float, path: str) -> int:
        return sum(1 for r in self.server.requests_to(path) if r.path == path and r.time >= started)

    def wait_requests(
        self, proc: subprocess.Popen[bytes], started: float, path: str, count: int
    ) -> None:
        def reached() -> bool:
            self.alive(proc)
            return self.requests_since(started, path) >= count

        until(reached, 30, f"{count} requests to {path}")

    def wait_write(self, proc: subprocess.Popen[bytes], old: set[Path]) -> None:
        """Until the app is inside an atomic write of its state: its temporary file exists."""
        accounts = self.paths.state_dir / "accounts"

        def writing() -> bool:
            self.alive(proc)
            return accounts.exists() and any(
                p.suffix == ".tmp" and p not in old for p in accounts.iterdir()
            )

        until(writing, 30, "a state write", step=0.0002)

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def quit(self, proc: subprocess.Popen[bytes]) -> int | None:
        """SIGTERM, as at logout: the app quits in stages. None when it had to be killed."""
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill(proc)
            return None

    def toasts_in_log(self) -> list[str]:
        if not self.paths.log_file.exists():
            return []
        ids: list[str] = []
        for line in self.paths.log_file.read_text(encoding="utf-8").splitlines():
            m = TOAST_LINE.search(line)
            if m and m.group(1) == self.acc.key:
                ids.extend(i for i in m.group(2).split(",") if i)
        return ids

    def close_log(self, run: int) -> list[str]:
        """The ids toasted in this run; the log moves aside so the next run starts afresh."""
        ids = self.toasts_in_log()
        if self.paths.log_file.exists():
            self.paths.log_file.rename(self.logs / f"run-{run:02d}.log")
        return ids

    def check_files(self) -> list[str]:
        """Every JSON file under TOOTBELL_HOME parses; nothing was set aside as damaged.
        Returns the problems found."""
        problems = [f"{p.name} set aside as damaged" for p in self.home.rglob("*.damaged")]
        for path in self.home.rglob("*.json"):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as e:
                problems.append(f"{path.name}: {e}")
                continue
            if not isinstance(data, dict):
                problems.append(f"{path.name}: not a JSON object")
        return problems

    def temp_files(self) -> set[Path]:
        """Temporary files of atomic writes: one left behind means a kill inside a write."""
        return set(self.home.rglob(".*.tmp"))

    def pending_ids(self) -> set[str]:
        """Ids of toasts the state file still holds as not yet handed to the notifier."""
        ids: set[str] = set()
        for path in (self.paths.state_dir / "accounts").glob("*.json"):
            for toast in json.loads(path.read_text(encoding="utf-8")).get("pending", []):
                ids.update(str(i) for i in toast.get("notification_ids", []))
        return ids


def test_sigkill_at_random_points_keeps_state_valid_and_loses_nothing(
    tmp_path: Path, roomy_server: DemoServer, record_property: Callable[[str, object], None]
) -> None:
    server = roomy_server
    rng = random.Random(6)
    rig = Rig(tmp_path, server)
    # The first start begins at the read marker: everything after it must be toasted.
    server.set_marker(str(server.add_notification("mention")["id"]))
    made: list[str] = []
    shown: list[list[str]] = []  # per run, in order
    pending_at_kill: list[set[str]] = []
    problems: list[str] = []
    modes: Counter[str] = Counter()
    inside_writes = 0

    for run in range(KILLS):
        server.faults.clear()
        backlog = rng.randint(1, 3 * PAGE)
        made += [str(server.add_notification("mention")["id"]) for _ in range(backlog)]
        pages = math.ceil(backlog / PAGE)
        slow = 0.0
        if pages > 1 and rng.random() < 0.5:
            slow = rng.uniform(0.1, 0.3)
            server.faults.queue(PAGES, "slow", delay=slow, after=rng.randint(1, pages - 1))
        mode = rng.choice(["polling", "after a page", "state write", "hand-off"])
        modes[mode] += 1
        temp_before = rig.temp_files()
        proc, started = rig.start(run)
        try:
            if mode == "polling":
                rig.wait_requests(proc, started, PAGES, 1)
                time.sleep(rng.uniform(0.0, 0.05 + slow))  # the random point of the kill
            elif mode == "after a page":
                # Page k has arrived; its toasts are decided and the state written next.
                rig.wait_requests(proc, started, PAGES, rng.randint(1, pages))
                time.sleep(rng.uniform(0.0, 0.03))  # the random point of the kill
            elif mode == "state write":
                rig.wait_requests(proc, started, PAGES, rng.randint(1, pages))
                rig.wait_write(proc, temp_before)
            else:
                # The poll's last request: next come the hand-off and the save after it.
                rig.wait_requests(proc, started, PAGES + "/unread_count", 1)
                time.sleep(rng.uniform(0.0, 0.015))  # the random point of the kill
        finally:
            rig.kill(proc)
        inside_writes += len(rig.temp_files() - temp_before)
        problems += [f"after kill {run + 1}: {p}" for p in rig.check_files()]
        pending_at_kill.append(rig.pending_ids())
        shown.append(rig.close_log(run))

    # A last start, left to finish: whatever was still owed must come now.
    server.faults.clear()
    proc, started = rig.start(KILLS)
    everything = set(made)

    def all_toasted() -> bool:
        return everything <= {i for ids in shown for i in ids} | set(rig.toasts_in_log())

    try:
        rig.wait_requests(proc, started, PAGES + "/unread_count", 1)
        with contextlib.suppress(AssertionError):  # what is still missing counts as lost
            until(all_toasted, 15, "every notification toasted")
    finally:
        exit_code = rig.quit(proc)
    assert exit_code == 0
    shown.append(rig.close_log(KILLS))
    problems += [f"after the last run: {p}" for p in rig.check_files()]

    times = Counter(i for ids in shown for i in ids)
    lost = sorted(everything - set(times), key=lambda i: (len(i), i))
    allowed = 0
    unexplained: list[str] = []
    for nid, n in times.items():
        if nid not in everything:
            unexplained.append(f"{nid}: toasted but never made")
            continue
        if n == 1:
            continue
        # Shown again only by the start after a run killed while it was still pending,
        # once per run.
        runs = [r for r, ids in enumerate(shown) if nid in ids]
        if all(shown[r].count(nid) == 1 for r in runs) and all(
            nid in pending_at_kill[r] for r in runs[:-1]
        ):
            allowed += n - 1
        else:
            unexplained.append(f"{nid}: toasted {n} times (runs {runs})")
    # Kills that left decided toasts not yet shown (or not yet recorded as shown): the
    # moments where a crash can lose or repeat something.
    risky = sum(1 for ids in pending_at_kill if ids)
    record_property("notifications", len(everything))
    record_property("lost", len(lost))
    record_property("repeats_after_hand_off", allowed)
    summary = (
        f"{KILLS} kills ({', '.join(f'{n} {m}' for m, n in sorted(modes.items()))}; "
        f"{risky} with toasts pending, {inside_writes} inside an atomic state write), "
        f"{len(everything)} notifications: {len(lost)} lost, {allowed} shown again after a "
        f"kill between hand-off and save, {len(unexplained)} repeated otherwise"
    )
    print(summary)
    assert problems == [], summary
    assert lost == [], summary
    assert unexplained == [], summary
    assert risky >= KILLS // 5, summary  # the kills did land where it matters
