"""A Notifier that records what would have gone to the notification daemon.

The offscreen suite has no session bus; tests/desktop runs the real D-Bus notifier against dunst.
"""

from __future__ import annotations

from PySide6.QtCore import Signal

from tootbell.inbox import Toast
from tootbell.ui.toasts import Notifier


class RecordingNotifier(Notifier):
    """Keeps what would have gone to the notification daemon."""

    shown_signal = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[tuple[Toast, str | None]] = []
        self.closed_keys: list[str] = []

    def show(self, toast: Toast, icon_path: str | None) -> None:
        self.shown.append((toast, icon_path))
        self.shown_signal.emit()

    def close(self, key: str) -> None:
        self.closed_keys.append(key)

    def stop(self) -> None:
        pass

    def ids(self) -> list[str]:
        return [i for t, _ in self.shown for i in t.notification_ids]
