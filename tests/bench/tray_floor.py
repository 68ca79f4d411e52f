"""The floor for memory, CPU and start-up: a bare PySide6 app that only shows a tray icon.

Nothing else: no menu, no timers, no network, no keyring. It prints one line on standard
output, ``shown <time.time()>``, right after ``QSystemTrayIcon.show()`` returns, then idles in
Qt's event loop until it is terminated. Whether the icon reached the tray host is measured
from outside (the StatusNotifierWatcher), the same way as for Tootbell.

Usage: ``python tests/bench/tray_floor.py`` (inside tests/desktop/session.py).
"""

from __future__ import annotations

import sys
import time

from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QSystemTrayIcon


def show_icon() -> tuple[QApplication, QSystemTrayIcon]:
    """The application and its one tray icon, shown."""
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    pixmap = QPixmap(22, 22)
    pixmap.fill(QColor("#6364ff"))
    icon = QSystemTrayIcon(QIcon(pixmap))
    icon.setToolTip("Floor")
    icon.show()
    return app, icon


def main() -> int:
    app, _icon = show_icon()
    print(f"shown {time.time():.6f}", flush=True)
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
