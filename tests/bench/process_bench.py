"""Tootbell as a real process on the session's desktop, beside floors measured in the same run.

Each benchmark starts the venv's ``tootbell`` as its own process with one account (a private
``TOOTBELL_HOME``, the token in the session's gnome-keyring) on a demo instance running in
another process (``demo_instance.py``, which counts the bytes of every connection). The tray
host's StatusNotifierWatcher says when an icon is registered; a bus monitor counts ``Notify``
calls on the session's dunst; /proc gives CPU seconds and memory. The floor app is
``tray_floor.py``; the network peer is a naive poller; the backlog's peer is a bare pager.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import procfs
import requests
from common import BenchConfig, Row, ms, ratio
from jeepney import MatchRule, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection
from jeepney.low_level import Message, MessageType

from tootbell.config import AccountConfig, Config, Paths, Settings, default_paths, save_config
from tootbell.secrets import SecretStore

HERE = Path(__file__).resolve().parent
DESKTOP_TESTS = HERE.parent / "desktop"
if str(DESKTOP_TESTS) not in sys.path:
    sys.path.insert(0, str(DESKTOP_TESTS))

from desktop_session import BusRecorder, NotifyCall, dunstctl_close_all  # noqa: E402

JSON = dict[str, Any]
PAGE_LIMIT = 80  # Mastodon's largest page of notifications
NAIVE_LIMIT = 40  # what the naive poller asks for each time
NOTIFICATIONS = "/api/v1/notifications"
WATCHER = "org.kde.StatusNotifierWatcher"
_WAIT_S = 30.0  # longest wait for one start-up step before the run is declared broken
_QUIET_S = 2.0  # nothing sent and no toast for this long: the app has finished
_MIB = 1024 * 1024

# Targets from issue 6.
TARGET_MEMORY = 1.3
TARGET_START = 1.5
TARGET_CPU_S = 0.5  # per 10 minutes idle
TARGET_NETWORK = 0.02
TARGET_TOASTS = 3
TARGET_GROWTH_MB = 30.0


class BenchError(RuntimeError):
    """The benchmark could not measure what it claims to (a process died, a wait timed out)."""


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def mib(n: float) -> str:
    return procfs.mib(n)


def secs(n: float) -> str:
    return f"{n:.2f} s"


# ---------------------------------------------------------------------------- the demo process


class DemoProcess:
    """``demo_instance.py`` in a process of its own; ``call()`` sends it one command."""

    def __init__(self, log_dir: Path, name: str) -> None:
        self.name = name
        self._log = open(log_dir / f"demo-{name}.log", "wb")  # noqa: SIM115 (kept open)
        self.popen = subprocess.Popen(
            [sys.executable, str(HERE / "demo_instance.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self._lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read, name=f"demo-{name}-out", daemon=True)
        self._reader.start()
        hello = json.loads(self._line(_WAIT_S))
        self.base_url = str(hello["base_url"])
        self.pid = int(hello["pid"])
        self.host = urlsplit(self.base_url).netloc

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self._lines.put(line)
        self._lines.put("")

    def _line(self, timeout: float) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise BenchError(f"demo {self.name}: no answer within {timeout:.0f} s") from None
        if not line:
            raise BenchError(f"demo {self.name} exited with {self.popen.poll()}")
        return line

    def call(self, cmd: str, timeout: float = _WAIT_S, **args: Any) -> JSON:
        """Send one command; ``timeout`` goes along (the waiting commands use it) and bounds
        the wait for the answer."""
        assert self.popen.stdin is not None
        self.popen.stdin.write(json.dumps({"cmd": cmd, "timeout": timeout, **args}) + "\n")
        self.popen.stdin.flush()
        answer: JSON = json.loads(self._line(timeout + 5.0))
        if "error" in answer:
            raise BenchError(f"demo {self.name}: {cmd}: {answer['error']}")
        return answer

    def stats(self, label: str) -> JSON:
        labels: dict[str, JSON] = self.call("stats")["labels"]
        return labels.get(label, {"bytes_in": 0, "bytes_out": 0, "connections": 0, "statuses": {}})

    def requests_since(self, index: int) -> tuple[int, list[JSON]]:
        answer = self.call("requests", since=index)
        return int(answer["next"]), list(answer["items"])

    def close(self) -> None:
        with contextlib.suppress(BenchError, OSError, ValueError):
            if self.popen.poll() is None:
                self.call("quit", timeout=5.0)
        stop_process(self.popen)
        self._log.close()


# ---------------------------------------------------------------------------- the tray host


class TrayWatch:
    """Notes when each StatusNotifierItem registers with the watcher, and whose it is."""

    def __init__(self) -> None:
        self._conn = open_dbus_connection("SESSION")
        self._query = open_dbus_connection("SESSION")
        self._rule = MatchRule(
            type="signal", interface=WATCHER, member="StatusNotifierItemRegistered"
        )
        self._conn.send_and_get_reply(message_bus.AddMatch(self._rule), timeout=5.0)
        self._events: list[tuple[float, str]] = []
        self._pids: dict[str, int | None] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-tray-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with self._conn.filter(self._rule) as signals:
            while not self._stop.is_set():
                try:
                    msg: Message = self._conn.recv_until_filtered(signals, timeout=0.2)
                except TimeoutError:
                    continue
                except (OSError, ConnectionError):
                    return
                at = time.time()
                service = str(msg.body[0]).partition("/")[0]
                with self._cond:
                    self._events.append((at, service))
                    self._cond.notify_all()

    def _pid_of(self, service: str) -> int | None:
        if service not in self._pids:
            call = new_method_call(message_bus, "GetConnectionUnixProcessID", "s", (service,))
            reply = self._query.send_and_get_reply(call, timeout=5.0)
            ok = reply.header.message_type is MessageType.method_return
            self._pids[service] = int(reply.body[0]) if ok else None
        return self._pids[service]

    def registered(self, pid: int, after: float, timeout: float = _WAIT_S) -> float:
        """``time.time()`` when ``pid``'s tray icon was registered (at or after ``after``)."""
        deadline = time.monotonic() + timeout
        checked = 0
        while True:
            with self._cond:
                events = self._events[checked:]
            checked += len(events)
            for at, service in events:
                if at >= after and self._pid_of(service) == pid:
                    return at
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"the tray icon of pid {pid} was not registered in {timeout} s")
            with self._cond:
                if len(self._events) == checked:
                    self._cond.wait(min(remaining, 0.5))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self._conn.close()
        self._query.close()


class ToastRecorder(BusRecorder):
    """The session's bus monitor, with the moment each ``Notify`` call went by."""

    def __init__(self) -> None:
        super().__init__()
        self.notify_times: list[float] = []

    def __enter__(self) -> ToastRecorder:
        super().__enter__()
        return self

    def _record(self, msg: Message, pending: dict[tuple[str, int], NotifyCall]) -> None:
        before = len(self.notify_calls)
        super()._record(msg, pending)
        if len(self.notify_calls) > before:
            self.notify_times.append(time.time())

    def tootbell(self) -> list[tuple[float, NotifyCall]]:
        return [
            (t, c)
            for t, c in zip(self.notify_times, self.notify_calls, strict=False)
            if c.app_name == "Tootbell"
        ]


@dataclass(frozen=True)
class Toasts:
    """What Tootbell asked dunst to show: new toasts, and updates of a toast in place."""

    new: int
    updates: int
    last: float | None
    titles: tuple[str, ...]  # of the first three new toasts
    last_title: str

    @classmethod
    def of(cls, rec: ToastRecorder) -> Toasts:
        mine = rec.tootbell()
        new = [c for _, c in mine if c.replaces_id == 0]
        return cls(
            new=len(new),
            updates=len(mine) - len(new),
            last=max((t for t, _ in mine), default=None),
            titles=tuple(c.summary for c in new[:3]),
            last_title=mine[-1][1].summary if mine else "",
        )

    def describe(self) -> str:
        titles = "; ".join(f"“{t}”" for t in self.titles) or "none"
        text = f"{self.new} new + {self.updates} in-place updates (first: {titles}"
        if self.updates or self.new > len(self.titles):
            text += f"; last: “{self.last_title}”"
        return text + ")"


def wait_toasts_quiet(rec: ToastRecorder, quiet: float, timeout: float) -> None:
    """Until no Tootbell Notify call has gone by for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = Toasts.of(rec).last
        if last is None or time.time() - last >= quiet:
            return
        time.sleep(0.1)


# ---------------------------------------------------------------------------- processes


def stop_process(popen: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; only this one process, by its pid."""
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            popen.send_signal(signal.SIGCONT)  # in case a benchmark left it stopped
        popen.terminate()
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(5.0)


def tootbell_argv() -> list[str]:
    """The venv's ``tootbell`` launcher, else ``python -m tootbell``."""
    launcher = Path(sys.executable).with_name("tootbell")
    return [str(launcher)] if launcher.exists() else [sys.executable, "-m", "tootbell"]


@dataclass
class Home:
    """A private TOOTBELL_HOME with one account whose token is in the session's keyring."""

    root: Path
    paths: Paths
    account: AccountConfig
    label: str

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "TOOTBELL_HOME": str(self.root)}

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.paths.log_file.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])


class Session:
    """Everything the process benchmarks share in one run; closed by :func:`shutdown`."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="tootbell-bench-"))
        self.secrets = SecretStore()
        self.tray = TrayWatch()
        self._demos: list[DemoProcess] = []
        self._homes: list[Home] = []
        self._main: tuple[DemoProcess, Home] | None = None
        self.imports: ImportReport | None = None

    def demo(self, name: str, history: int) -> DemoProcess:
        """A new demo instance whose user already has ``history`` read notifications."""
        demo = DemoProcess(self.tmp, name)
        self._demos.append(demo)
        if history:
            demo.call("seed", count=history)
        return demo

    def home(
        self,
        demo: DemoProcess,
        label: str,
        settings: Settings,
        *,
        user: str = "demo",
        delivery: str = "poll",
        push_public_url: str = "",
    ) -> Home:
        token = str(demo.call("token", label=label, user=user)["token"])
        root = Path(tempfile.mkdtemp(prefix=f"home-{label}-", dir=self.tmp))
        paths = default_paths({"TOOTBELL_HOME": str(root)})
        paths.ensure()
        account = AccountConfig(
            key=f"{user}@{demo.host}",
            base_url=demo.base_url,
            delivery=delivery,
            push_public_url=push_public_url,
        )
        self.secrets.set_token(account.key, token)
        save_config(paths, Config(settings=settings, accounts=(account,)))
        home = Home(root, paths, account, label)
        self._homes.append(home)
        return home

    def main(self, cfg: BenchConfig) -> tuple[DemoProcess, Home]:
        """The demo and account the start-up and idle benchmarks share."""
        if self._main is None:
            demo = self.demo("main", cfg.history)
            home = self.home(demo, "tootbell", Settings(poll_interval_s=cfg.poll_interval_s))
            self._main = (demo, home)
        return self._main

    def spawn(
        self, home: Home, argv: list[str] | None = None, stderr: IO[bytes] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start Tootbell (or ``argv``) with ``home``; output goes to a file in the temp dir."""
        with open(self.tmp / f"{home.label}.out", "ab") as log:
            return subprocess.Popen(
                argv or tootbell_argv(),
                env=home.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=stderr or log,
            )

    def spawn_floor(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, str(HERE / "tray_floor.py")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def close(self) -> None:
        for home in self._homes:
            with contextlib.suppress(Exception):
                self.secrets.delete_token(home.account.key)
        for demo in self._demos:
            demo.close()
        self.tray.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


_session: Session | None = None


def session() -> Session:
    global _session
    if _session is None:
        _session = Session()
    return _session


def shutdown() -> None:
    """Stop every demo process, forget the tokens, remove the temporary homes."""
    global _session
    if _session is not None:
        _session.close()
        _session = None


def alive(popen: subprocess.Popen[Any], what: str, home: Home | None = None) -> None:
    if popen.poll() is not None:
        tail = f"; its log ends:\n{home.log_tail()}" if home is not None else ""
        raise BenchError(f"{what} exited with {popen.returncode}{tail}")


def sleep_until(when: float) -> None:
    delay = when - time.time()
    if delay > 0:
        time.sleep(delay)


def wait_first_poll(demo: DemoProcess, home: Home, after: float) -> JSON:
    """The first ``GET /api/v1/notifications`` by ``home``'s Tootbell at or after ``after``."""
    got = demo.call(
        "wait_request", label=home.label, path=NOTIFICATIONS, after=after, timeout=_WAIT_S
    )
    if got["t"] is None:
        raise BenchError(f"no poll within {_WAIT_S:.0f} s; log:\n{home.log_tail()}")
    return got


def wait_quiet(demo: DemoProcess, home: Home, quiet: float = 1.0) -> float:
    got = demo.call("wait_quiet", label=home.label, quiet=quiet, timeout=_WAIT_S)
    if not got["quiet"]:
        raise BenchError(f"{home.label} did not go quiet within {_WAIT_S:.0f} s")
    return float(got["last"] or time.time())


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread name (threads with the same name added up)."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            name = (task / "comm").read_text().strip()
            out[name] = out.get(name, 0.0) + procfs.cpu_seconds_of(task / "stat")
    return out


def top_threads(before: dict[str, float], after: dict[str, float], count: int = 3) -> str:
    delta = sorted(((after[k] - before.get(k, 0.0), k) for k in after), reverse=True)
    best = [(k, v) for v, k in delta[:count] if v > 0]
    return ", ".join(f"{k} {v:.2f} s" for k, v in best) or "no thread above 0.01 s"


def count_paths(items: list[JSON]) -> str:
    paths = Counter(_path_kind(i["p"]) for i in items)
    return ", ".join(f"{p} ×{n}" for p, n in paths.most_common())


def _path_kind(path: str) -> str:
    path = re.sub(r"/\d{6,}", "/:id", path)
    return re.sub(r"/avatars/[^/]+\.png", "/avatars/:name.png", path)


def codes(statuses: Counter[str] | dict[str, int]) -> str:
    """HTTP answers as ``200 ×15, 429 ×3``."""
    return ", ".join(f"{c} ×{n}" for c, n in sorted(statuses.items()) if n) or "none"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


# ---------------------------------------------------------------------------- start to tray


DEFINITIONS_PROCESS = """\
**Process benchmarks** (`start`, `imports`, `idle`, `backlog`, `burst`): Tootbell runs as the
venv's `tootbell` launcher, a process of its own, with one account in a private `TOOTBELL_HOME`
(config written with `save_config`, the token stored with `SecretStore().set_token` in the
session's gnome-keyring). The account lives on a `DemoServer` in another process
(`tests/bench/demo_instance.py`), which wraps each accepted connection in a socket that counts
the bytes it receives and sends and logs every request with its arrival time. The floor app is
`tests/bench/tray_floor.py`: a bare `QApplication` that shows one `QSystemTrayIcon` with a
22 px pixmap, nothing else. All times are `time.time()` on the one machine.
"""

DEFINITIONS_START = """\
**Start to tray** (`start`): t0 = just before `subprocess.Popen` of Tootbell (poll interval
60 s; the state of the previous run, so its cursor is known) or of the floor app. *Icon
registered* = when the bench's D-Bus connection receives the StatusNotifierWatcher's
`StatusNotifierItemRegistered` signal for an item whose connection belongs to that pid
(`GetConnectionUnixProcessID`). *First poll* = when the demo logged Tootbell's first
`GET /api/v1/notifications`; the notes name the first request of any kind. The target row
takes, per run, the later of icon and first poll. One unmeasured warm-up of each app, then
`--start-runs` rounds (default 5) starting both apps one after the other, the order
alternating by round; medians. Each process is stopped (SIGTERM, waited for) before the next
one starts.
"""

DEFINITIONS_IMPORTS = """\
**Imports** (`imports`): `python -X importtime` of `tests/bench/tootbell_marked.py`
(Tootbell's own `main()`, an account of its own on the same demo, plus one line on stderr once
`QSystemTrayIcon.show()` has returned), stopped after its first poll and 1 s of quiet, and of
the floor app; *self* times added up per distribution (standard library together, "other" for
modules no distribution claims), split at that line. `-X importtime` inflates every import,
and after the icon several threads import at once, so these times are for comparing parts,
not for adding to the start-up figures. *RSS added by imports*: `tests/bench/import_cost.py`
shows the floor app's icon, then imports each module of that list one at a time in Tootbell's
order (dependencies first), reading VmRSS after each; a step counts for the module's
distribution, named together with any other distribution its package's `__init__` pulled in.
Python's allocator grows in steps, so single modules are approximate, sums less so.
"""


@dataclass(frozen=True)
class StartRun:
    icon_s: float
    first_request_s: float | None = None
    poll_s: float | None = None
    first_path: str = ""


@dataclass
class StartReport:
    floor: list[StartRun] = field(default_factory=list)
    tootbell: list[StartRun] = field(default_factory=list)


def _start_floor(ses: Session) -> StartRun:
    t0 = time.time()
    popen = ses.spawn_floor()
    try:
        icon = ses.tray.registered(popen.pid, t0)
    finally:
        stop_process(popen)
    return StartRun(icon - t0)


def _start_tootbell(ses: Session, demo: DemoProcess, home: Home) -> StartRun:
    t0 = time.time()
    popen = ses.spawn(home)
    try:
        icon = ses.tray.registered(popen.pid, t0)
        got = wait_first_poll(demo, home, t0)
        alive(popen, "tootbell", home)
    finally:
        stop_process(popen)
    return StartRun(
        icon - t0, float(got["first"]) - t0, float(got["t"]) - t0, str(got["first_path"])
    )


def bench_start(cfg: BenchConfig) -> list[Row]:
    ses = session()
    demo, home = ses.main(cfg)
    report = StartReport()
    _start_floor(ses)  # warm-up: page cache, the tray host's first item
    _start_tootbell(ses, demo, home)  # warm-up: first run finds the cursor from the marker
    for i in range(cfg.start_runs):
        order = ["floor", "tootbell"] if i % 2 == 0 else ["tootbell", "floor"]
        for which in order:
            if which == "floor":
                report.floor.append(_start_floor(ses))
            else:
                report.tootbell.append(_start_tootbell(ses, demo, home))
            time.sleep(0.3)  # the tray host drops the item of the process that ended
    return start_rows(ses, cfg, report)


def start_rows(ses: Session, cfg: BenchConfig, report: StartReport) -> list[Row]:
    floor_icon = median([r.icon_s for r in report.floor])
    icon = median([r.icon_s for r in report.tootbell])
    poll = median([r.poll_s for r in report.tootbell if r.poll_s is not None])
    first = median([r.first_request_s for r in report.tootbell if r.first_request_s is not None])
    both = median([max(r.icon_s, r.poll_s or 0.0) for r in report.tootbell])
    paths = ", ".join(f"`{p}`" for p in sorted({r.first_path for r in report.tootbell}))
    runs = len(report.tootbell)
    spread = (
        f"Tootbell {ms(min(r.icon_s for r in report.tootbell))}–"
        f"{ms(max(r.icon_s for r in report.tootbell))}, floor "
        f"{ms(min(r.icon_s for r in report.floor))}–{ms(max(r.icon_s for r in report.floor))}"
    )
    met = both / floor_icon <= TARGET_START
    notes = f"median of {runs} runs each, interleaved; later of icon and first poll per run"
    if not met:
        notes += "; " + start_reason(ses, cfg, icon, floor_icon, poll)
    return [
        Row(
            "Start → tray icon registered and first poll received (later of the two)",
            ms(both),
            ms(floor_icon) + " (floor: icon)",
            ratio(both, floor_icon),
            notes,
            target=f"≤ {TARGET_START}×",
            verdict=verdict(met),
        ),
        Row(
            "… start → tray icon registered",
            ms(icon),
            ms(floor_icon),
            ratio(icon, floor_icon),
            f"range {spread}",
        ),
        Row(
            "… start → first poll (`GET /api/v1/notifications` at the demo)",
            ms(poll),
            ms(floor_icon) + " (floor: icon)",
            ratio(poll, floor_icon),
            f"first request of any kind ({paths}): median {ms(first)}",
        ),
    ]


def start_reason(
    ses: Session, cfg: BenchConfig, icon: float, floor_icon: float, poll: float
) -> str:
    imports = import_report(ses, cfg)
    before = _times(imports.before_icon[:4])
    after = _times(imports.after_icon[:4])
    return (
        f"the icon comes {ms(icon - floor_icon)} after the floor's: imports before it "
        f"{ms(imports.before_total)} vs the floor's {ms(imports.floor_total)} ({before}); "
        f"the first poll comes {ms(poll - icon)} after the icon: in between, the worker "
        f"thread's lazy imports ({ms(imports.after_total)} under `-X importtime`: {after}) "
        "and the token read from the keyring"
    )


# ---------------------------------------------------------------------------- imports


_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")
_MARKER = "bench: tray icon shown"


@dataclass
class ImportReport:
    floor_total: float  # seconds, self time summed
    before_total: float
    after_total: float
    before_icon: list[tuple[str, float]]  # (group, seconds), largest first
    after_icon: list[tuple[str, float]]
    before_top: list[tuple[str, float]]  # (module, seconds), largest first
    after_top: list[tuple[str, float]]
    floor_rss: int  # bytes, the probe's floor app
    rss_groups: list[tuple[str, int]]  # (group, bytes added), largest first
    rss_modules: list[tuple[str, int]]  # (module, bytes added), largest first
    modules: int


_STDLIB = set(sys.stdlib_module_names)
_DISTS = metadata.packages_distributions()


def group_of(module: str) -> str:
    root = module.split(".", 1)[0]
    if root in ("PySide6", "shiboken6", "shibokensupport"):
        return "PySide6"
    if root == "tootbell":
        return "tootbell"
    if root in _STDLIB or root in sys.builtin_module_names:
        return "stdlib"
    dists = _DISTS.get(root)
    return dists[0] if dists else "other"


def step_label(module: str, loaded: list[str]) -> str:
    """``module``'s group, with the other groups its import step loaded (its package's
    ``__init__`` may import another distribution): "SecretStorage + cryptography"."""
    own = group_of(module)
    others = sorted({group_of(m) for m in loaded} - {own, "stdlib"})
    return " + ".join([own, *others])


def parse_importtime(text: str) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(module, self µs) for the imports before the marker line, and for those after."""
    before: list[tuple[str, int]] = []
    after: list[tuple[str, int]] = []
    target = before
    for line in text.splitlines():
        if line.startswith(_MARKER):
            target = after
            continue
        m = _IMPORT_LINE.match(line)
        if m is not None:
            target.append((m.group(4), int(m.group(1))))
    return before, after


def by_group(entries: list[tuple[str, int]]) -> list[tuple[str, float]]:
    totals: Counter[str] = Counter()
    for module, us in entries:
        totals[group_of(module)] += us
    return [(g, us / 1e6) for g, us in totals.most_common()]


def top_modules(entries: list[tuple[str, int]], count: int = 4) -> list[tuple[str, float]]:
    return [(m, us / 1e6) for m, us in sorted(entries, key=lambda e: -e[1])[:count]]


def _importtime_floor(ses: Session) -> list[tuple[str, int]]:
    popen = subprocess.Popen(
        [sys.executable, "-X", "importtime", str(HERE / "tray_floor.py")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert popen.stdout is not None
        if not popen.stdout.readline().startswith("shown"):
            raise BenchError("the floor app did not show its icon under -X importtime")
    finally:
        stop_process(popen)
    _out, err = popen.communicate()
    before, _ = parse_importtime(err)
    return before


def _importtime_tootbell(ses: Session, demo: DemoProcess) -> tuple[list[Any], list[Any]]:
    home = ses.home(demo, "probe", Settings(poll_interval_s=60), user="probe")
    err_path = ses.tmp / "importtime.err"
    with open(err_path, "wb") as err:
        t0 = time.time()
        popen = ses.spawn(
            home,
            [sys.executable, "-X", "importtime", str(HERE / "tootbell_marked.py")],
            stderr=err,
        )
        try:
            ses.tray.registered(popen.pid, t0)
            wait_first_poll(demo, home, t0)
            wait_quiet(demo, home, 1.0)
            alive(popen, "tootbell under -X importtime", home)
        finally:
            stop_process(popen)
    text = err_path.read_text(errors="replace")
    if _MARKER not in text:
        raise BenchError("tootbell_marked.py printed no tray marker")
    return parse_importtime(text)


def _rss_by_module(modules: list[str]) -> JSON:
    done = subprocess.run(
        [sys.executable, str(HERE / "import_cost.py")],
        input=json.dumps(modules),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"import_cost.py failed: {done.stderr.strip()[-500:]}")
    result: JSON = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def import_report(ses: Session, cfg: BenchConfig) -> ImportReport:
    """Measured once per run, on first use (by `imports`, or to explain a missed target)."""
    if ses.imports is None:
        demo, _home = ses.main(cfg)
        floor = _importtime_floor(ses)
        before, after = _importtime_tootbell(ses, demo)
        modules = [m for m, _ in before + after if not m.startswith("tootbell_marked")]
        costs = _rss_by_module(list(dict.fromkeys(modules)))
        per_module = [(str(m), int(b)) for m, b, _ok, _new in costs["modules"]]
        groups: Counter[str] = Counter()
        for module, added, _ok, loaded in costs["modules"]:
            groups[step_label(str(module), [str(n) for n in loaded])] += int(added)
        ses.imports = ImportReport(
            floor_total=sum(us for _, us in floor) / 1e6,
            before_total=sum(us for _, us in before) / 1e6,
            after_total=sum(us for _, us in after) / 1e6,
            before_icon=by_group(before),
            after_icon=by_group(after),
            before_top=top_modules(before),
            after_top=top_modules(after),
            floor_rss=int(costs["floor"]),
            rss_groups=groups.most_common(),
            rss_modules=sorted(per_module, key=lambda m: -m[1]),
            modules=len(set(modules)),
        )
    return ses.imports


def _times(entries: list[tuple[str, float]]) -> str:
    return ", ".join(f"{n} {ms(s)}" for n, s in entries)


def bench_imports(cfg: BenchConfig) -> list[Row]:
    rep = import_report(session(), cfg)
    added = sum(b for _, b in rep.rss_groups)
    return [
        Row(
            "Imports before the tray icon shows (`-X importtime`, self time)",
            ms(rep.before_total),
            ms(rep.floor_total),
            ratio(rep.before_total, rep.floor_total),
            f"by package: {_times(rep.before_icon[:6])}; slowest modules: {_times(rep.before_top)}",
        ),
        Row(
            "Imports after the icon (lazy: toasts, keyring, HTTP, in threads)",
            ms(rep.after_total),
            "—",
            "—",
            f"by package: {_times(rep.after_icon[:6])}; slowest modules: {_times(rep.after_top)}",
        ),
        Row(
            "RSS that Tootbell's imports add to the floor app",
            "+" + mib(added),
            mib(rep.floor_rss) + " (floor app)",
            ratio(rep.floor_rss + added, rep.floor_rss),
            f"{rep.modules} modules; by package: {_sizes(rep.rss_groups[:7])}; largest "
            f"modules: {_sizes(rep.rss_modules[:5])}",
        ),
    ]


def _sizes(entries: list[tuple[str, int]]) -> str:
    return ", ".join(f"{n} +{mib(b)}" for n, b in entries if b > 0)


# ---------------------------------------------------------------------------- idle


DEFINITIONS_IDLE = """\
**Idle** (`idle`): the floor app, Tootbell (one account, poll interval 60 s; the account's
earlier notifications, `BenchConfig.history` = 200, already read) and a naive poller start
together at t0. *Memory*: at t0 +
`--settle-seconds` (default 60), VmRSS from /proc/PID/status and Pss, Private_Clean +
Private_Dirty (= USS) from /proc/PID/smaps_rollup, for both apps at the same moment (the bench
process and the floor share Qt's libraries with Tootbell, so PSS is split between them). The
*window* starts half an interval after Tootbell's first poll (so it holds a whole number of
polls, not one at either edge) and lasts `--idle-seconds` (default 600). *CPU* = rise of
utime + stime in /proc/PID/stat (all threads) over the window, for both apps; the per-thread
split from /proc/PID/task. *Network*: bytes the demo process received and sent on each
client's TCP connections over the window (HTTP request and response lines, headers and
bodies; not TCP/IP overhead; the demo does not compress), and requests it logged, times
3600 / window. *Naive poller*: a thread in the bench process with `requests.Session` sending
`GET /api/v1/notifications?limit=40` to the same demo (same account, its own token) at t0 and
every 60 s after; each answer holds 40 notifications.
"""


@dataclass(frozen=True)
class Reading:
    at: float
    cpu: float
    threads: dict[str, float]


def read_cpu(pid: int) -> Reading:
    return Reading(time.time(), procfs.cpu_seconds(pid), thread_cpu(pid))


class NaivePoller:
    """Fetches the latest 40 notifications every ``interval`` seconds from ``start_at`` on."""

    def __init__(self, base_url: str, token: str, interval: float, start_at: float) -> None:
        self.url = f"{base_url}{NOTIFICATIONS}"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.interval = interval
        self.start_at = start_at
        self.fetched: list[tuple[float, int, int]] = []  # (time, status, body bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-naive-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        with requests.Session() as http:
            k = 0
            while not self._stop.wait(max(0.0, self.start_at + k * self.interval - time.time())):
                k += 1
                try:
                    r = http.get(self.url, params={"limit": NAIVE_LIMIT}, headers=self.headers)
                    self.fetched.append((time.time(), r.status_code, len(r.content)))
                except requests.RequestException:
                    self.fetched.append((time.time(), 0, 0))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30.0)


def _bytes(stats_before: JSON, stats_after: JSON) -> tuple[int, int]:
    return (
        int(stats_after["bytes_in"]) - int(stats_before["bytes_in"]),
        int(stats_after["bytes_out"]) - int(stats_before["bytes_out"]),
    )


def bench_idle(cfg: BenchConfig) -> list[Row]:
    ses = session()
    demo, home = ses.main(cfg)
    naive_token = str(demo.call("token", label="naive", user="demo")["token"])
    interval = float(cfg.poll_interval_s)
    with contextlib.ExitStack() as stack:
        t0 = time.time()
        floor = ses.spawn_floor()
        stack.callback(stop_process, floor)
        app = ses.spawn(home)
        stack.callback(stop_process, app)
        naive = NaivePoller(demo.base_url, naive_token, interval, t0)
        naive.start()
        stack.callback(naive.stop)
        ses.tray.registered(floor.pid, t0)
        ses.tray.registered(app.pid, t0)
        first = float(wait_first_poll(demo, home, t0)["t"])
        w0 = first + interval / 2
        w1 = w0 + cfg.idle_s
        mem_at = t0 + cfg.settle_s
        events: list[tuple[float, str]] = sorted(
            [(mem_at, "memory"), (w0, "start"), (w1, "end")], key=lambda e: e[0]
        )
        got: JSON = {}
        for when, what in events:
            sleep_until(when)
            alive(app, "tootbell", home)
            alive(floor, "the floor app")
            if what == "memory":
                got["mem"] = (procfs.memory(app.pid), procfs.memory(floor.pid), time.time() - t0)
                got["maps"] = (procfs.rss_by_mapping(app.pid), procfs.rss_by_mapping(floor.pid))
                got["files"] = (procfs.mapped_files(app.pid), procfs.mapped_files(floor.pid))
                got["threads"] = procfs.thread_names(app.pid)
            elif what == "start":
                got["c0"] = (read_cpu(app.pid), read_cpu(floor.pid))
                got["s0"] = (demo.stats("tootbell"), demo.stats("naive"))
                got["index"] = demo.requests_since(0)[0]
            else:
                got["c1"] = (read_cpu(app.pid), read_cpu(floor.pid))
                got["s1"] = (demo.stats("tootbell"), demo.stats("naive"))
                got["mem_end"] = (procfs.memory(app.pid), procfs.memory(floor.pid))
        _, items = demo.requests_since(int(got["index"]))
    window = [i for i in items if w0 <= float(i["t"]) < w1]
    return idle_rows(ses, cfg, got, window)


def idle_rows(ses: Session, cfg: BenchConfig, got: JSON, window: list[JSON]) -> list[Row]:
    rows: list[Row] = []
    mem_app, mem_floor, mem_after = got["mem"]
    end_app, end_floor = got["mem_end"]
    ok = mem_app.rss / mem_floor.rss <= TARGET_MEMORY
    notes = (
        f"at {mem_after:.0f} s after start; {mem_app.threads} threads vs {mem_floor.threads}; "
        f"at the window's end {mib(end_app.rss)} vs {mib(end_floor.rss)}"
    )
    maps_app, maps_floor = got["maps"]
    files_app, files_floor = got["files"]
    plugins = sorted(
        f"{Path(f).parent.name}/{Path(f).name}" for f in files_app - files_floor if "/plugins/" in f
    )
    notes += (
        f"; Tootbell's threads: {', '.join(got['threads'])}; resident beyond the floor's, by "
        f"mapping: {mapping_gap(maps_app, maps_floor)}; Qt plugins only Tootbell loads: "
        f"{', '.join(plugins) or 'none'}"
    )
    if not ok:
        notes += "; " + memory_reason(ses, cfg, mem_app.rss - mem_floor.rss)
    rows.append(
        Row(
            f"Idle memory, RSS after {cfg.settle_s:.0f} s (one account)",
            mib(mem_app.rss),
            mib(mem_floor.rss),
            ratio(mem_app.rss, mem_floor.rss),
            notes,
            target=f"≤ {TARGET_MEMORY}×",
            verdict=verdict(ok),
        )
    )
    rows.append(
        Row(
            "… PSS / USS at the same moment",
            f"{mib(mem_app.pss)} / {mib(mem_app.uss)}",
            f"{mib(mem_floor.pss)} / {mib(mem_floor.uss)}",
            f"{ratio(mem_app.pss, mem_floor.pss)} / {ratio(mem_app.uss, mem_floor.uss)}",
            "USS = pages only this process maps; PSS shares Qt's pages among the processes "
            "mapping them",
        )
    )

    app0, floor0 = got["c0"]
    app1, floor1 = got["c1"]
    span = app1.at - app0.at
    cpu_app = app1.cpu - app0.cpu
    cpu_floor = floor1.cpu - floor0.cpu
    per10 = cpu_app * 600.0 / span
    ok = per10 <= TARGET_CPU_S
    scaled = "" if abs(span - 600.0) < 1.0 else f"; {secs(per10)} per 10 min, scaled"
    notes = (
        f"over {span:.0f} s, 60 s interval; by thread: {top_threads(app0.threads, app1.threads)}"
        f"{scaled}; clock ticks of 10 ms"
    )
    rows.append(
        Row(
            f"Idle CPU over {span:.0f} s at a 60 s poll interval",
            secs(cpu_app),
            secs(cpu_floor),
            ratio(cpu_app, cpu_floor) if cpu_floor > 0 else "floor 0",
            notes,
            target=f"≤ {TARGET_CPU_S} s per 10 min",
            verdict=verdict(ok),
        )
    )

    s0_app, s0_naive = got["s0"]
    s1_app, s1_naive = got["s1"]
    in_app, out_app = _bytes(s0_app, s1_app)
    in_naive, out_naive = _bytes(s0_naive, s1_naive)
    hour = 3600.0 / span
    bytes_app = (in_app + out_app) * hour
    bytes_naive = (in_naive + out_naive) * hour
    mine = [i for i in window if i["label"] == "tootbell"]
    naive = [i for i in window if i["label"] == "naive"]
    share = bytes_app / bytes_naive if bytes_naive else math.nan
    measured = bool(naive) and bool(mine)
    notes = (
        f"in the {span:.0f} s window: Tootbell {len(mine)} requests ({count_paths(mine)}), "
        f"{in_app:,} B sent + {out_app:,} B received, "
        f"{(in_app + out_app) / max(1, len(mine)):,.0f} B per request; naive {len(naive)} "
        f"requests, {in_naive:,} B + {out_naive:,} B"
    )
    if not measured:
        notes += "; the window is too short to hold a poll of each: nothing to compare"
    rows.append(
        Row(
            "Idle network per hour at a 60 s interval, bytes",
            f"{bytes_app / 1000:,.1f} kB/h",
            f"{bytes_naive / 1000:,.0f} kB/h (naive)",
            f"{share * 100:.2f} %" if measured else "n/a",
            notes,
            target=f"≤ {TARGET_NETWORK * 100:.0f} % of naive",
            verdict=verdict(share <= TARGET_NETWORK) if measured else "not measured",
        )
    )
    rows.append(
        Row(
            "… requests per hour",
            f"{len(mine) * hour:,.0f}",
            f"{len(naive) * hour:,.0f} (naive)",
            ratio(len(mine), len(naive)),
            "requests the demo logged in the window × 3600 / window",
        )
    )
    return rows


def mapping_gap(mine: dict[str, int], floor: dict[str, int], count: int = 6) -> str:
    """The largest differences in resident memory per mapping (file, or anonymous)."""
    gap = sorted(((b - floor.get(n, 0), n) for n, b in mine.items()), reverse=True)
    return ", ".join(f"{n} +{mib(b)}" for b, n in gap[:count] if b > 0)


def memory_reason(ses: Session, cfg: BenchConfig, gap: int) -> str:
    rep = import_report(ses, cfg)
    added = sum(b for _, b in rep.rss_groups)
    return (
        f"of the {mib(gap)} gap, imports account for {mib(added)} "
        f"({_sizes(rep.rss_groups[:5])}; largest modules {_sizes(rep.rss_modules[:3])}); the rest, "
        f"{mib(gap - added)}, comes with running (heap, threads, the Qt plugins named above)"
    )


# ---------------------------------------------------------------------------- backlog


DEFINITIONS_BACKLOG = """\
**Backlog** (`backlog`): a fresh demo process and Tootbell (one account, poll interval 15 s,
the shortest the settings allow, so the bench waits less). Once Tootbell has polled and been
quiet for 1 s, its VmRSS is noted, its peak (VmHWM) reset with `echo 5 >
/proc/PID/clear_refs`, and it is stopped with SIGSTOP (a machine asleep: no timer runs).
Meanwhile `--backlog` (default 10,000) notifications are added (¼ mentions, ¼ favourites,
¼ boosts of a few posts, ¼ follows). When more than one poll interval has passed since its
last request, t0 = SIGCONT: the overdue poll timer fires at once. *Caught up* = the later of
the demo logging the `GET /api/v1/notifications?min_id=<newest id>` that finds nothing more,
and the last `Notify` of Tootbell; then 2 s without a request or a toast end the measurement.
*Requests* = everything Tootbell sent from t0 to then; the minimum is ceil(N / 80) + 1 pages.
*Toasts* = `Notify` calls from app "Tootbell" seen by a bus monitor, new ones (replaces_id 0)
and in-place updates apart. *Peak RSS growth* = VmHWM after (or the highest VmRSS sampled every
20 ms, if higher) − VmRSS before; MB = 10⁶ bytes.
*Peer*: a bare pager in the bench process (`requests.Session`, the same `min_id` paging with
`limit=80` from the same starting id, its own token), run right after on the same
notifications; its wall time and its thread's CPU time.
"""


@dataclass(frozen=True)
class Pager:
    wall: float
    cpu: float
    requests: int


def bare_pager(base_url: str, token: str, min_id: str) -> Pager:
    """Page through everything newer than ``min_id`` as plainly as a client can."""
    cpu0 = time.thread_time()
    t0 = time.perf_counter()
    count = 0
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {token}"
        cursor = min_id
        while True:
            params: dict[str, str | int] = {"min_id": cursor, "limit": PAGE_LIMIT}
            r = http.get(f"{base_url}{NOTIFICATIONS}", params=params)
            count += 1
            r.raise_for_status()
            page = r.json()
            if not page:
                break
            cursor = str(page[0]["id"])
    return Pager(time.perf_counter() - t0, time.thread_time() - cpu0, count)


class RssSampler:
    """VmRSS every 20 ms in a thread, as a cross-check of VmHWM."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, int]] = []  # (time.time(), VmRSS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    @property
    def peak(self) -> int:
        return max((r for _, r in self.samples), default=0)

    def at(self, when: float) -> int:
        """The last sample taken at or before ``when`` (0 if none)."""
        return max(((t, r) for t, r in self.samples if t <= when), default=(0.0, 0))[1]

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            with contextlib.suppress(OSError):
                self.samples.append((time.time(), procfs.rss(self.pid)))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2.0)


@contextlib.contextmanager
def running_tootbell(
    ses: Session, demo: DemoProcess, home: Home
) -> Iterator[subprocess.Popen[bytes]]:
    """Tootbell started, its icon registered, its first poll done and 1 s quiet."""
    t0 = time.time()
    popen = ses.spawn(home)
    try:
        ses.tray.registered(popen.pid, t0)
        wait_first_poll(demo, home, t0)
        wait_quiet(demo, home, 1.0)
        alive(popen, "tootbell", home)
        yield popen
    finally:
        stop_process(popen)


def bench_backlog(cfg: BenchConfig) -> list[Row]:
    ses = session()
    demo = ses.demo("backlog", cfg.history)
    start_id = str(demo.call("newest")["newest"])
    home = ses.home(demo, "tootbell", Settings(poll_interval_s=cfg.fast_poll_s))
    pager_token = str(demo.call("token", label="pager", user="demo")["token"])
    dunstctl_close_all()
    with running_tootbell(ses, demo, home) as app:
        pid = app.pid
        last = wait_quiet(demo, home, 1.0)
        before = procfs.memory(pid)
        reset = procfs.reset_peak(pid)
        os.kill(pid, signal.SIGSTOP)
        try:
            added = demo.call("backlog", count=cfg.backlog, timeout=600.0)
            newest = str(added["newest"])
            sleep_until(last + cfg.fast_poll_s + 1.0)
            index, _ = demo.requests_since(0)
            stats0 = demo.stats("tootbell")
            cpu0 = procfs.cpu_seconds(pid)
            with ToastRecorder() as rec, RssSampler(pid) as sampler:
                t0 = time.time()
                os.kill(pid, signal.SIGCONT)
                got = demo.call(
                    "wait_request",
                    label=home.label,
                    path=NOTIFICATIONS,
                    after=t0,
                    min_id=newest,
                    timeout=max(120.0, cfg.backlog / 20),
                )
                if got["t"] is None:
                    raise BenchError(f"no catch-up to {newest}; log:\n{home.log_tail()}")
                wait_quiet(demo, home, _QUIET_S)
                wait_toasts_quiet(rec, _QUIET_S, _WAIT_S)
                toasts = Toasts.of(rec)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        alive(app, "tootbell", home)
        cpu = procfs.cpu_seconds(pid) - cpu0
        after = procfs.memory(pid)
        peak = max(after.hwm if reset else 0, sampler.peak)
        stats1 = demo.stats("tootbell")
        _, items = demo.requests_since(index)
    done = max(float(got["t"]), toasts.last or 0.0)
    mine = [i for i in items if i["label"] == home.label and float(i["t"]) >= t0]
    pages = [i for i in mine if i["p"] == NOTIFICATIONS]
    statuses: Counter[str] = Counter(stats1["statuses"])
    statuses.subtract(stats0["statuses"])
    bytes_in, bytes_out = _bytes(stats0, stats1)
    pager = bare_pager(demo.base_url, pager_token, start_id)
    dunstctl_close_all()
    minimum = math.ceil(cfg.backlog / PAGE_LIMIT) + 1
    if pager.requests != minimum:
        raise BenchError(f"the bare pager needed {pager.requests} pages, not {minimum}")
    wall = done - t0
    growth = peak - before.rss
    n = f"{cfg.backlog:,}"
    ok_toasts = toasts.new <= TARGET_TOASTS
    ok_growth = growth / 1e6 <= TARGET_GROWTH_MB
    growth_notes = f"VmRSS {mib(before.rss)} before → peak {mib(peak)}, {mib(after.rss)} after" + (
        "" if reset else "; VmHWM could not be reset, 20 ms samples only"
    )
    steady = False
    if len(pages) >= 4 and growth > 0:
        half = pages[len(pages) // 2]
        by_half = sampler.at(float(half["t"])) - before.rss
        steady = 0.25 <= by_half / growth <= 0.75
        growth_notes += (
            f"; growth by the time page {len(pages) // 2} of {len(pages)} was asked for: "
            f"{by_half / 1e6:.1f} MB (20 ms samples)"
        )
    if not ok_growth:
        kept = after.rss >= peak - _MIB
        growth_notes += (
            f"; why: {growth / cfg.backlog / 1e3:.1f} kB per notification"
            + (", rising page by page within the one poll" if steady else "")
            + (", not given back after it" if kept else "")
        )
    return [
        Row(
            f"Backlog of {n}: requests made",
            f"{len(mine)}",
            f"{minimum} (minimum)",
            ratio(len(mine), minimum),
            f"{len(pages)} notification pages; all: {count_paths(mine)}; answers "
            f"{codes(statuses)}; {bytes_in:,} B sent, {bytes_out:,} B received",
        ),
        Row(
            f"Backlog of {n}: wall time until caught up",
            secs(wall),
            secs(pager.wall) + " (bare pager)",
            ratio(wall, pager.wall),
            f"SIGCONT → last page asked {secs(float(got['t']) - t0)}, → last toast "
            f"{secs((toasts.last or t0) - t0)}; demo generated the backlog in "
            f"{float(added['seconds']):.1f} s (not timed)",
        ),
        Row(
            f"Backlog of {n}: CPU used",
            secs(cpu),
            secs(pager.cpu) + " (bare pager)",
            ratio(cpu, pager.cpu),
            "Tootbell: utime + stime, SIGCONT → caught up + 2 s; pager: its thread's CPU time",
        ),
        Row(
            f"Backlog of {n}: toasts shown",
            f"{toasts.new}",
            "—",
            "—",
            toasts.describe(),
            target=f"≤ {TARGET_TOASTS}",
            verdict=verdict(ok_toasts),
        ),
        Row(
            f"Backlog of {n}: peak RSS growth",
            f"{growth / 1e6:.1f} MB",
            "—",
            "—",
            growth_notes,
            target=f"≤ {TARGET_GROWTH_MB:.0f} MB",
            verdict=verdict(ok_growth),
        ),
    ]


# ---------------------------------------------------------------------------- burst


DEFINITIONS_BURST = """\
**Burst** (`burst`): a fresh demo process per arm; `--burst` (default 500) favourites of one of
the user's posts, from as many accounts, added evenly over `--burst-seconds` (default 10).
*Poll arm*: Tootbell polling every 15 s. *Push arm*: the account on Web Push (the listener on
a loopback port, the demo's sender encrypting and POSTing each notification to it; catch-up
poll every 600 s; the demo's rate limit stays on: 300 requests per token in fixed 5-minute
windows, as Mastodon's). From the first favourite to the end: for the poll arm, the
`GET /api/v1/notifications?min_id=<last favourite>` that finds nothing more; for the push
arm, every notification delivered (2xx) or the sender idle; then 2 s without a request or a
toast. *Toasts* = new `Notify` calls from
app "Tootbell" (replaces_id 0); in-place updates are counted apart and do not count as
toasts. *CPU* = rise of utime + stime of Tootbell over the same span.
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class BurstArm:
    toasts: Toasts
    cpu: float
    span: float
    requests: list[JSON]
    statuses: Counter[str]
    delivered: int | None = None


def _burst(cfg: BenchConfig, ses: Session, push: bool) -> BurstArm:
    name = "burst-push" if push else "burst-poll"
    demo = ses.demo(name, cfg.history)
    if push:
        port = _free_port()
        settings = Settings(
            poll_interval_s=cfg.poll_interval_s, push_listen=f"127.0.0.1:{port}", push_catchup_s=600
        )
        home = ses.home(
            demo, "tootbell", settings, delivery="push", push_public_url=f"http://127.0.0.1:{port}"
        )
    else:
        home = ses.home(demo, "tootbell", Settings(poll_interval_s=cfg.fast_poll_s))
    dunstctl_close_all()
    with running_tootbell(ses, demo, home) as app:
        if push:
            deadline = time.monotonic() + _WAIT_S
            while not demo.call("push", label=home.label)["subscribed"]:
                if time.monotonic() > deadline:
                    raise BenchError(f"no push subscription; log:\n{home.log_tail()}")
                time.sleep(0.1)
            time.sleep(1.0)  # the route reaches the listener through the GUI thread
        index, _ = demo.requests_since(0)
        stats0 = demo.stats(home.label)
        cpu0 = procfs.cpu_seconds(app.pid)
        with ToastRecorder() as rec:
            started = float(demo.call("burst", count=cfg.burst, seconds=cfg.burst_s)["started"])
            waited = demo.call("burst_wait", timeout=cfg.burst_s + _WAIT_S)
            if not waited["done"]:
                raise BenchError("the demo did not finish the burst")
            delivered: int | None = None
            if push:
                deadline = time.monotonic() + _WAIT_S * 2
                while time.monotonic() < deadline:
                    state = demo.call("push", label=home.label)
                    delivered = int(state["delivered"])
                    idle = state["last"] is None or time.time() - float(state["last"]) > 3.0
                    if delivered >= cfg.burst or idle:
                        break
                    time.sleep(0.2)
            else:
                newest = str(demo.call("newest")["newest"])
                got = demo.call(
                    "wait_request",
                    label=home.label,
                    path=NOTIFICATIONS,
                    after=float(waited["last"]),
                    min_id=newest,
                    timeout=cfg.fast_poll_s * 2 + _WAIT_S,
                )
                if got["t"] is None:
                    raise BenchError(f"no poll caught up; log:\n{home.log_tail()}")
            wait_quiet(demo, home, _QUIET_S)
            wait_toasts_quiet(rec, _QUIET_S, _WAIT_S)
            toasts = Toasts.of(rec)
        alive(app, "tootbell", home)
        cpu = procfs.cpu_seconds(app.pid) - cpu0
        stats1 = demo.stats(home.label)
        _, items = demo.requests_since(index)
    dunstctl_close_all()
    statuses: Counter[str] = Counter(stats1["statuses"])
    statuses.subtract(stats0["statuses"])
    mine = [i for i in items if i["label"] == home.label]
    return BurstArm(toasts, cpu, time.time() - started, mine, +statuses, delivered)


def bench_burst(cfg: BenchConfig) -> list[Row]:
    ses = session()
    rows: list[Row] = []
    for push in (False, True):
        arm = _burst(cfg, ses, push)
        how = "Web Push" if push else "polling every 15 s"
        ok = arm.toasts.new <= TARGET_TOASTS
        limited = arm.statuses.get("429", 0)
        extra = f"; {arm.delivered} of {cfg.burst} pushes delivered" if push else ""
        notes = (
            f"{arm.toasts.describe()}; {len(arm.requests)} requests ({count_paths(arm.requests)})"
            f"; answers {codes(arm.statuses)}{extra}"
        )
        if not ok:
            fetched = sum(1 for i in arm.requests if _path_kind(i["p"]) == NOTIFICATIONS + "/:id")
            notes += (
                f"; why: {fetched} of {cfg.burst} notifications fetched"
                + (
                    f" before the rate limit answered 429 "
                    f"({len(arm.requests) / max(1, fetched):.1f} requests per fetched push)"
                    if limited
                    else ""
                )
                + f"; {arm.toasts.new - 1} further new toasts instead of updates of the first"
            )
        rows.append(
            Row(
                f"Burst of {cfg.burst} favourites in {cfg.burst_s:.0f} s, {how}: toasts shown",
                f"{arm.toasts.new}",
                "—",
                "—",
                notes,
                target=f"≤ {TARGET_TOASTS}",
                verdict=verdict(ok),
            )
        )
        rows.append(
            Row(
                f"… CPU used ({how})",
                secs(arm.cpu),
                "—",
                "—",
                f"utime + stime over {arm.span:.1f} s, first favourite → settled",
            )
        )
    return rows


# ---------------------------------------------------------------------------- for run.py


@dataclass(frozen=True)
class ProcessBenchmark:
    name: str
    run: Callable[[BenchConfig], list[Row]]
    definitions: str


BENCHMARKS: tuple[ProcessBenchmark, ...] = (
    ProcessBenchmark("start", bench_start, DEFINITIONS_PROCESS + "\n" + DEFINITIONS_START),
    ProcessBenchmark("imports", bench_imports, DEFINITIONS_PROCESS + "\n" + DEFINITIONS_IMPORTS),
    ProcessBenchmark("idle", bench_idle, DEFINITIONS_PROCESS + "\n" + DEFINITIONS_IDLE),
    ProcessBenchmark("backlog", bench_backlog, DEFINITIONS_PROCESS + "\n" + DEFINITIONS_BACKLOG),
    ProcessBenchmark("burst", bench_burst, DEFINITIONS_PROCESS + "\n" + DEFINITIONS_BURST),
)
