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


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of one run; the defaults keep ``make bench`` within a few minutes on 2 cores."""

    pushes: int = 300  # measured pushes per arm (Tootbell, floor)
    warmup: int = 10  # pushes per arm before measuring, thrown away
    gap_s: float = 0.01  # pause after each message and dunst's close-all, every arm
    flood_s: float = 5.0  # length of the junk flood
    flood_threads: int = 4  # junk client threads (in one separate process)


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
