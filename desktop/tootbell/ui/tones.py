"""Coloured status text (errors red, success green) readable on light and dark themes."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel


def tone_colour(base: QPalette, tone: str) -> QColor:
    """Red for "error", green for "ok", else the usual text colour; on light and dark themes."""
    dark = base.color(QPalette.ColorRole.Window).lightness() < 128
    if tone == "error":
        return QColor("#FF7B72") if dark else QColor("#C01C28")
    if tone == "ok":
        return QColor("#7EE787") if dark else QColor("#1A7F37")
    return base.color(QPalette.ColorRole.WindowText)


def set_tone(label: QLabel, tone: str) -> None:
    """Colour ``label`` for ``tone`` ("error", "ok" or "")."""
    # From the parent's palette: the label's own may still carry the previous tone.
    parent = label.parentWidget()
    base = parent.palette() if parent is not None else QApplication.palette(label)
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, tone_colour(base, tone))
    label.setPalette(palette)
    label.setProperty("tone", tone)
