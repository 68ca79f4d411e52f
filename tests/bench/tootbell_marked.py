"""Tootbell's own ``main()``, with one line on stderr when a tray icon has been shown.

Run as ``python -X importtime tests/bench/tootbell_marked.py``: ``-X importtime`` prints a
line on stderr as each import finishes, so the marker ``bench: tray icon shown <time>``
splits the imports into those done before the icon was shown and those done after (the
lazy ones: toasts, keyring, network stack in the account worker). ``PySide6.QtWidgets`` is
imported here first, to wrap ``QSystemTrayIcon.show``; Tootbell imports it before its icon
anyway, so the set of modules on each side does not change.
"""

from __future__ import annotations

import sys
import time

from PySide6.QtWidgets import QSystemTrayIcon

MARKER = "bench: tray icon shown"
_show = QSystemTrayIcon.show


def _marked_show(self: QSystemTrayIcon) -> None:
    _show(self)
    sys.stderr.write(f"{MARKER} {time.time():.6f}\n")
    sys.stderr.flush()


def main() -> int:
    QSystemTrayIcon.show = _marked_show  # type: ignore[method-assign]
    from tootbell.cli import main as tootbell_main

    return tootbell_main([])


if __name__ == "__main__":
    sys.exit(main())
