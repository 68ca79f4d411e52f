"""What every benchmark shares: the table row, the run's settings, percentiles and formatting."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One line of the results table. Figures are already formatted for people."""

    figure: str
    tootbell: str
    floor: str = "—"
    ratio: str = "—"
    notes: str = ""
    target: str = "—"
    verdict: str = "—"  # "met", "**missed**", or "—" without a target


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of one run; the defaults are issue 6's and keep ``make bench`` under 15 minutes
    on 2 cores (the idle window is most of it). :data:`QUICK` shortens every window."""

    pushes: int = 300  # measured pushes per arm (Tootbell, floor)
    warmup: int = 10  # pushes per arm before measuring, thrown away
    gap_s: float = 0.01  # pause after each message and dunst's close-all, every arm
    flood_s: float = 5.0  # length of the junk flood
    flood_threads: int = 4  # junk client threads (in one separate process)
    start_runs: int = 5  # measured start-ups per app (after one warm-up each)
    history: int = 200  # notifications the account already has, all read
    poll_interval_s: int = 60  # Tootbell's poll interval in the idle and push benchmarks
    fast_poll_s: int = 15  # the shortest the settings allow: backlog and burst (poll arm)
    settle_s: float = 60.0  # start → memory reading
    idle_s: float = 600.0  # the idle window (CPU, network)
    backlog: int = 10_000  # notifications waiting after a week away
    burst: int = 500  # favourites in one burst
    burst_s: float = 10.0  # over this many seconds


# ``run.py --quick``: about 2½ minutes in all; the figures are indicative only.
QUICK = BenchConfig(
    pushes=50,
    flood_s=2.0,
    start_runs=3,
    settle_s=20.0,
    idle_s=40.0,
    backlog=2_000,
    burst=100,
    burst_s=5.0,
)


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100), linear between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float) -> str:
    """Seconds as milliseconds, three significant figures."""
    if math.isnan(seconds):
        return "n/a"
    value = seconds * 1000.0
    if value >= 100:
        return f"{value:.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"


def ratio(value: float, floor: float) -> str:
    if floor <= 0 or math.isnan(value) or math.isnan(floor):
        return "n/a"
    return f"{value / floor:.2f}×"
