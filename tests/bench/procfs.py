"""What /proc says about a process: CPU seconds, RSS, peak RSS, PSS and USS, threads."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Memory:
    """Sizes in bytes. ``uss`` = private clean + private dirty (pages no other process maps)."""

    rss: int
    pss: int
    uss: int
    hwm: int  # peak RSS since start, or since the last reset_peak()
    threads: int


def cpu_seconds_of(stat: Path) -> float:
    """utime + stime from a ``stat`` file (/proc/PID/stat or /proc/PID/task/TID/stat)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / _TICKS


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the whole process (all threads), from /proc/PID/stat."""
    return cpu_seconds_of(Path(f"/proc/{pid}/stat"))


def _kb_fields(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in path.read_text().splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            out[name.strip()] = int(parts[0]) * 1024
        elif len(parts) == 1 and parts[0].isdigit():
            out[name.strip()] = int(parts[0])
    return out


def rss(pid: int) -> int:
    """Resident set size in bytes (VmRSS)."""
    return _kb_fields(Path(f"/proc/{pid}/status")).get("VmRSS", 0)


def peak_rss(pid: int) -> int:
    """Peak resident set size in bytes (VmHWM)."""
    return _kb_fields(Path(f"/proc/{pid}/status")).get("VmHWM", 0)


def memory(pid: int) -> Memory:
    status = _kb_fields(Path(f"/proc/{pid}/status"))
    rollup = _kb_fields(Path(f"/proc/{pid}/smaps_rollup"))
    return Memory(
        rss=status.get("VmRSS", 0),
        pss=rollup.get("Pss", 0),
        uss=rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0),
        hwm=status.get("VmHWM", 0),
        threads=status.get("Threads", 0),
    )


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (``echo 5 > /proc/PID/clear_refs``); False if refused."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    return False


def mib(n: float) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


def rss_by_mapping(pid: int) -> dict[str, int]:
    """Resident bytes per mapped file (its base name), anonymous memory under "anonymous"."""
    out: dict[str, int] = {}
    name = "anonymous"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        first = line.split(None, 1)[0] if line else ""
        if "-" in first and not first.endswith(":"):  # a mapping's header line
            parts = line.split(None, 5)
            path = parts[5].strip() if len(parts) == 6 else ""
            name = Path(path).name if path.startswith("/") else "anonymous"
        elif first == "Rss:":
            out[name] = out.get(name, 0) + int(line.split()[1]) * 1024
    return out


def mapped_files(pid: int) -> set[str]:
    """Paths of every file the process maps (shared objects, fonts, caches)."""
    out: set[str] = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].startswith("/"):
            out.add(parts[5].strip())
    return out


def thread_names(pid: int) -> list[str]:
    names: list[str] = []
    for task in sorted(Path(f"/proc/{pid}/task").iterdir()):
        with contextlib.suppress(OSError):
            names.append((task / "comm").read_text().strip())
    return names
