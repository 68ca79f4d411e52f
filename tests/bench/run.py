"""``make bench``: run the benchmarks inside a private desktop session and write RESULTS.md.

Outside a session (``TOOTBELL_DESKTOP_SESSION`` unset) this re-runs itself through
``tests/desktop/session.py`` so toasts go to a real dunst on a private bus. Each benchmark is
one function ``(BenchConfig) -> list[Row]``; add new ones to :func:`benchmarks`. Every figure
that has a floor is measured against it in the same run and reported as a ratio.

Usage: ``python tests/bench/run.py [--quick] [--only NAME ...] [--out FILE] [sizes …]``;
``--quick`` shortens every window (a few minutes in all; figures are then only indicative),
and each size can be set on its own (``--idle-seconds``, ``--backlog`` …, see ``--help``).
Benchmarks: push-latency, junk-flood, start, imports, idle, backlog, burst.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SESSION = ROOT / "tests" / "desktop" / "session.py"
RESULTS = HERE / "RESULTS.md"
ENV_INSIDE = "TOOTBELL_DESKTOP_SESSION"

if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from common import QUICK, BenchConfig, Row  # noqa: E402


@dataclass(frozen=True)
class Benchmark:
    name: str
    run: Callable[[BenchConfig], list[Row]]
    definitions: str  # Markdown: exactly what is timed, for the results file


def benchmarks() -> list[Benchmark]:
    """Every benchmark, in the order of the table. Imported here: only inside the session."""
    import process_bench
    import webpush_bench

    return [
        Benchmark("push-latency", webpush_bench.bench_push_latency, webpush_bench.DEFINITIONS),
        Benchmark("junk-flood", webpush_bench.bench_junk_flood, webpush_bench.DEFINITIONS),
        *(Benchmark(b.name, b.run, b.definitions) for b in process_bench.BENCHMARKS),
    ]


NAMES = ("push-latency", "junk-flood", "start", "imports", "idle", "backlog", "burst")


# ---------------------------------------------------------------------------- the session


def ensure_session() -> None:
    """Re-run this script inside tests/desktop/session.py unless already inside one."""
    if os.environ.get(ENV_INSIDE) == "1":
        return
    me = str(Path(__file__).resolve())
    argv = [sys.executable, str(SESSION), "--", sys.executable, me, *sys.argv[1:]]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


# ---------------------------------------------------------------------------- the report


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _first_line(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def machine_lines() -> list[str]:
    import PySide6

    return [
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {os.cpu_count()} cores ({_cpu_model()}), {_os_name()}, "
        f"Linux {platform.release()}",
        f"- Python {platform.python_version()}, PySide6 {PySide6.__version__}, "
        f"jeepney {_version('jeepney')}, requests {_version('requests')}, "
        f"cryptography {_version('cryptography')}, http_ece {_version('http_ece')}",
        f"- Notification daemon: {_first_line(['dunst', '--version'])}, inside "
        "`tests/desktop/session.py` (Xvfb, private session bus, dunst)",
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def render(
    rows: list[Row],
    definitions: list[str],
    elapsed_s: float,
    cfg: BenchConfig,
    load: str,
    *,
    shortened: bool = False,
) -> str:
    sizes = (
        f"{cfg.pushes} pushes per arm, junk flood {cfg.flood_s:.0f} s with "
        f"{cfg.flood_threads} client threads; {cfg.start_runs} start-ups per app; memory after "
        f"{cfg.settle_s:.0f} s, idle window {cfg.idle_s:.0f} s; backlog {cfg.backlog:,}; burst "
        f"{cfg.burst} in {cfg.burst_s:.0f} s"
    )
    out = [
        "# Benchmark results",
        "",
        "The latest `make bench` run. Every floor is measured in the same run on the same "
        "machine; ratio = Tootbell / floor (lower is better, 1.00× = at the floor).",
        "",
        *machine_lines(),
        f"- Run: {elapsed_s:.0f} s; {sizes}; 1-minute load average {load} before, "
        f"{_load()} after (other work on the machine skews every figure, floors included)",
    ]
    if shortened:
        out.append(
            "- **Shortened run** (`--quick` or size options): the figures are indicative only; "
            "the targets are meant for the full run (`make bench`)"
        )
    out += [
        "",
        "| figure | target | Tootbell | floor or peer | ratio | target met? | notes |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    out += [
        f"| {_cell(r.figure)} | {_cell(r.target)} | {_cell(r.tootbell)} | {_cell(r.floor)} | "
        f"{_cell(r.ratio)} | {_cell(r.verdict)} | {_cell(r.notes)} |"
        for r in rows
    ]
    # Each paragraph once: several benchmarks share some.
    paragraphs = (part.strip() for d in definitions for part in d.split("\n\n"))
    text = list(dict.fromkeys(part for part in paragraphs if part))
    if text:
        out += ["", "## Definitions", ""]
        for d in text:
            out += [d, ""]
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------- main


# (option, BenchConfig field, type, lowest, highest, help)
_SIZES: tuple[tuple[str, str, type, float, float, str], ...] = (
    ("--pushes", "pushes", int, 10, 5000, "measured pushes per arm"),
    ("--flood-seconds", "flood_s", float, 1, 60, "length of the junk flood"),
    ("--flood-threads", "flood_threads", int, 1, 16, "junk client threads"),
    ("--start-runs", "start_runs", int, 1, 50, "measured start-ups per app"),
    ("--settle-seconds", "settle_s", float, 5, 600, "start → idle memory reading"),
    ("--idle-seconds", "idle_s", float, 10, 3600, "the idle CPU and network window"),
    ("--backlog", "backlog", int, 100, 100_000, "notifications waiting after a week away"),
    ("--burst", "burst", int, 10, 5000, "favourites in the burst"),
    ("--burst-seconds", "burst_s", float, 1, 120, "the burst lasts this long"),
)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run.py", description="Tootbell's benchmarks.")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short windows everywhere (a few minutes); sizes given below still win",
    )
    for option, name, kind, _low, _high, text in _SIZES:
        default = getattr(BenchConfig(), name)
        parser.add_argument(
            option, dest=name, type=kind, default=None, help=f"{text} (default {default})"
        )
    parser.add_argument(
        "--only", nargs="*", default=None, choices=NAMES, help="benchmark names to run"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the table")
    args = parser.parse_args(argv)
    for option, name, _kind, low, high, _text in _SIZES:
        value = getattr(args, name)
        if value is not None and not low <= value <= high:
            parser.error(f"{option} must be between {low:g} and {high:g}")
    return args


def config_from(args: argparse.Namespace) -> BenchConfig:
    cfg = QUICK if args.quick else BenchConfig()
    chosen = {name: getattr(args, name) for _o, name, *_ in _SIZES}
    return replace(cfg, **{k: v for k, v in chosen.items() if v is not None})


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    ensure_session()

    from PySide6.QtCore import QCoreApplication

    app = QCoreApplication.instance() or QCoreApplication([sys.argv[0]])
    cfg = config_from(args)
    chosen = [b for b in benchmarks() if args.only is None or b.name in args.only]
    if not chosen:
        print("no benchmark matches --only", file=sys.stderr)
        return 2
    load_before = _load()
    started = time.monotonic()
    rows: list[Row] = []
    definitions: list[str] = []
    failed = False
    import process_bench

    try:
        for bench in chosen:
            print(f"bench: {bench.name} …", file=sys.stderr, flush=True)
            began = time.monotonic()
            try:
                rows += bench.run(cfg)
                definitions.append(bench.definitions)
            except Exception as exc:
                failed = True
                traceback.print_exc()
                rows.append(Row(bench.name, "failed", notes=f"{type(exc).__name__}: {exc}"))
            print(f"bench: {bench.name} done in {time.monotonic() - began:.1f} s", file=sys.stderr)
            app.processEvents()
    finally:
        process_bench.shutdown()
    report = render(
        rows,
        definitions,
        time.monotonic() - started,
        cfg,
        load_before,
        shortened=cfg != BenchConfig(),
    )
    args.out.write_text(report, encoding="utf-8")
    print(report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
