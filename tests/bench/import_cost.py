"""Resident memory each module adds to the floor app, imported one by one in a given order.

Reads on standard input a JSON list of module names (Tootbell's imports in the order
``-X importtime`` printed them: each module once its own imports were done, so dependencies
come first), shows the floor app's tray icon, lets Qt settle, then imports each module in turn
and notes VmRSS after it. Prints one JSON object: ``{"floor": bytes, "modules": [[name,
bytes added, imported, [modules loaded by this step]], ...], "final": bytes}`` (``imported``
is false for a module that failed to import here, such as a platform-only one; a step loads
more than its module when the module's package ``__init__`` imports other things). One
process, one thread: nothing but the imports, and the module-level work they do, changes
between two readings.

Usage: ``python tests/bench/import_cost.py < modules.json`` (inside tests/desktop/session.py).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procfs import rss
from tray_floor import show_icon

_SETTLE_S = 0.5


def _settle(seconds: float) -> None:
    from PySide6.QtCore import QCoreApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.02)


def main() -> int:
    modules = [str(m) for m in json.load(sys.stdin)]
    _app, _icon = show_icon()
    _settle(_SETTLE_S)
    pid = os.getpid()
    floor = rss(pid)
    before = floor
    out: list[tuple[str, int, bool, list[str]]] = []
    for module in modules:
        if module in sys.modules:
            continue
        loaded = set(sys.modules)
        try:
            importlib.import_module(module)
        except Exception:  # platform-only (win32, macOS): Tootbell's import of it failed too
            ok = False
        else:
            ok = True
        now = rss(pid)
        out.append((module, now - before, ok, sorted(set(sys.modules) - loaded)))
        before = now
    print(json.dumps({"floor": floor, "modules": out, "final": before}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
