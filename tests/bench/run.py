"""``make bench``: run the benchmarks inside a private desktop session and write RESULTS.md.

Outside a session (``TOOTBELL_DESKTOP_SESSION`` unset) this re-runs itself through
``tests/desktop/session.py`` so toasts go to a real dunst on a private bus. Each benchmark is
one function ``(BenchConfig) -> list[Row]``; add new ones to :func:`benchmarks`. Every figure
that has a floor is measured against it in the same run and reported as a ratio.

Usage: ``python tests/bench/run.py [--pushes N] [--flood-seconds S] [--only NAME ...]``
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

from common import BenchConfig, Row  # noqa: E402


@dataclass(frozen=True)
class Benchmark:
    name: str
    run: Callable[[BenchConfig], list[Row]]
    definitions: str  # Markdown: exactly what is timed, for the results file


def benchmarks() -> list[Benchmark]:
    """Every benchmark, in the order of the table. Imported here: only inside the session."""
    import webpush_bench

    return [
        Benchmark("push-latency", webpush_bench.bench_push_latency, webpush_bench.DEFINITIONS),
        Benchmark("junk-flood", webpush_bench.bench_junk_flood, webpush_bench.DEFINITIONS),
    ]


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
    rows: list[Row], definitions: list[str], elapsed_s: float, cfg: BenchConfig, load: str
) -> str:
    out = [
        "# Benchmark results",
        "",
        "The latest `make bench` run. Every floor is measured in the same run on the same "
        "machine; ratio = Tootbell / floor (lower is better, 1.00× = at the floor).",
        "",
        *machine_lines(),
        f"- Run: {elapsed_s:.0f} s; {cfg.pushes} pushes per arm, junk flood {cfg.flood_s:.0f} s "
        f"with {cfg.flood_threads} client threads; 1-minute load average {load} before, "
        f"{_load()} after (other work on the machine skews every figure, floors included)",
        "",
        "| figure | Tootbell | floor | ratio | notes |",
        "| --- | --- | --- | --- | --- |",
    ]
    out += [
        f"| {_cell(r.figure)} | {_cell(r.tootbell)} | {_cell(r.floor)} | {_cell(r.ratio)} | "
        f"{_cell(r.notes)} |"
        for r in rows
    ]
    text = list(dict.fromkeys(d.strip() for d in definitions if d.strip()))  # each once
    if text:
        out += ["", "## Definitions", ""]
        for d in text:
            out += [d, ""]
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------- main


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run.py", description="Tootbell's benchmarks.")
    parser.add_argument("--pushes", type=int, default=BenchConfig.pushes)
    parser.add_argument("--flood-seconds", type=float, default=BenchConfig.flood_s)
    parser.add_argument("--flood-threads", type=int, default=BenchConfig.flood_threads)
    parser.add_argument("--only", nargs="*", default=None, help="benchmark names to run")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the table")
    args = parser.parse_args(argv)
    if not 10 <= args.pushes <= 5000:
        parser.error("--pushes must be between 10 and 5000")
    if not 1 <= args.flood_seconds <= 60:
        parser.error("--flood-seconds must be between 1 and 60")
    if not 1 <= args.flood_threads <= 16:
        parser.error("--flood-threads must be between 1 and 16")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    ensure_session()

    from PySide6.QtCore import QCoreApplication

    app = QCoreApplication.instance() or QCoreApplication([sys.argv[0]])
    cfg = replace(
        BenchConfig(),
        pushes=args.pushes,
        flood_s=args.flood_seconds,
        flood_threads=args.flood_threads,
    )
    chosen = [b for b in benchmarks() if args.only is None or b.name in args.only]
    if not chosen:
        print("no benchmark matches --only", file=sys.stderr)
        return 2
    load_before = _load()
    started = time.monotonic()
    rows: list[Row] = []
    definitions: list[str] = []
    failed = False
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
    report = render(rows, definitions, time.monotonic() - started, cfg, load_before)
    args.out.write_text(report, encoding="utf-8")
    print(report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
