"""The app icon and the tray icons: a bell, with badges for unread, paused and error states.

Tray icons are drawn with QPainter at every size a panel asks for (and at twice the pixels for
HiDPI), so that the badge and its count stay crisp instead of being scaled down from one image.
Everything here needs a QGuiApplication.
"""

from __future__ import annotations

import enum
import functools
import logging
from dataclasses import dataclass
from importlib import resources

from PySide6.QtCore import QByteArray, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QGuiApplication,
    QIcon,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPalette,
    QPixmap,
    QTransform,
)

log = logging.getLogger(__name__)

TRAY_SIZES: tuple[int, ...] = (16, 22, 24, 32, 48, 64)
APP_ICON_SIZES: tuple[int, ...] = (16, 22, 24, 32, 48, 64, 128, 256)
DEVICE_PIXEL_RATIOS: tuple[float, ...] = (1.0, 2.0)
MAX_SHOWN_COUNT = 99
# Below this logical size a number cannot be read: the unread badge is a plain dot.
SMALLEST_NUMBERED_SIZE = 22
# Tray icons kept drawn. Each holds 12 pixmaps (about 1 MiB of memory all told) and the
# count changes with every toast, so only the last few are worth keeping.
TRAY_ICON_CACHE = 4

MASTODON_INDIGO = QColor("#6364FF")
UNREAD_RED = QColor("#E0245E")
ERROR_ORANGE = QColor("#F76707")

APP_ICON_RESOURCE = "tootbell.svg"
SYMBOLIC_ICON_RESOURCE = "tootbell-symbolic.svg"


class TrayState(enum.Enum):
    NORMAL = "normal"
    UNREAD = "unread"
    PAUSED = "paused"
    ERROR = "error"


def badge_text(unread: int) -> str:
    """The count as the badge shows it: "" for none, "1".."99", then "99+"."""
    if unread <= 0:
        return ""
    return str(unread) if unread <= MAX_SHOWN_COUNT else f"{MAX_SHOWN_COUNT}+"


# --------------------------------------------------------------------------- geometry


# The bell, in the 256-unit space of resources/tootbell.svg (same shape, upright).
def _bell_path() -> QPainterPath:
    body = QPainterPath(QPointF(128, 56))
    body.cubicTo(88, 56, 74, 88, 74, 122)
    body.lineTo(74, 148)
    body.cubicTo(74, 163, 66, 173, 55, 181)
    body.cubicTo(48, 186, 51, 194, 60, 194)
    body.lineTo(196, 194)
    body.cubicTo(205, 194, 208, 186, 201, 181)
    body.cubicTo(190, 173, 182, 163, 182, 148)
    body.lineTo(182, 122)
    body.cubicTo(182, 88, 168, 56, 128, 56)
    body.closeSubpath()

    knob = QPainterPath()
    knob.addEllipse(QPointF(128, 52), 12, 12)

    clapper = QPainterPath(QPointF(106, 204))
    # Lower half of a circle of radius 22 centred on (128, 204).
    clapper.arcTo(QRectF(106, 182, 44, 44), 180, 180)
    clapper.closeSubpath()
    return body.united(knob).united(clapper)


@functools.cache
def _bell() -> QPainterPath:
    return _bell_path()


def _fit(path: QPainterPath, box: QRectF) -> QPainterPath:
    """Scale ``path`` uniformly to fit ``box`` and centre it there."""
    br = path.boundingRect()
    k = min(box.width() / br.width(), box.height() / br.height())
    t = QTransform()
    t.translate(box.center().x(), box.center().y())
    t.scale(k, k)
    t.translate(-br.center().x(), -br.center().y())
    return t.map(path)


# --------------------------------------------------------------------------- app icon


def _resource_bytes(name: str) -> bytes | None:
    try:
        return (resources.files("tootbell") / "resources" / name).read_bytes()
    except (OSError, ModuleNotFoundError) as e:
        log.warning("Icon resource %s is missing: %s", name, e)
        return None


def _svg_pixmaps(data: bytes, sizes: tuple[int, ...]) -> list[QPixmap] | None:
    try:
        from PySide6.QtSvg import QSvgRenderer
    except ImportError:  # a Qt build without the Svg module
        return None
    renderer = QSvgRenderer(QByteArray(data))
    if not renderer.isValid():
        log.warning("The app icon SVG could not be read; drawing it instead")
        return None
    out = []
    for size in sizes:
        for dpr in DEVICE_PIXEL_RATIOS:
            pm = _blank(size, dpr)
            p = QPainter(pm)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            renderer.render(p, QRectF(0, 0, size, size))
            p.end()
            out.append(pm)
    return out


def _drawn_app_pixmap(size: int, dpr: float) -> QPixmap:
    """The app icon without QtSvg: indigo rounded square, white bell."""
    pm = _blank(size, dpr)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    inset = size * 8 / 256
    square = QRectF(inset, inset, size - 2 * inset, size - 2 * inset)
    grad = QLinearGradient(square.topLeft(), square.bottomLeft())
    grad.setColorAt(0, QColor("#7374FF"))
    grad.setColorAt(1, QColor("#5354EE"))
    radius = size * 56 / 256
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QBrush(grad))
    p.drawRoundedRect(square, radius, radius)
    p.setBrush(QColor("white"))
    margin = size * 0.2
    p.drawPath(_fit(_bell(), QRectF(margin, margin, size - 2 * margin, size - 2 * margin)))
    p.end()
    return pm


@functools.cache
def _app_icon() -> QIcon:
    data = _resource_bytes(APP_ICON_RESOURCE)
    pixmaps = _svg_pixmaps(data, APP_ICON_SIZES) if data is not None else None
    if pixmaps is None:
        pixmaps = [_drawn_app_pixmap(s, d) for s in APP_ICON_SIZES for d in DEVICE_PIXEL_RATIOS]
    icon = QIcon()
    for pm in pixmaps:
        icon.addPixmap(pm)
    return icon


def app_icon() -> QIcon:
    """Tootbell's icon for windows, dialogs and toasts, at every common size."""
    return QIcon(_app_icon())


# --------------------------------------------------------------------------- tray icons


@dataclass(frozen=True)
class _Palette:
    bell: QColor
    outline: QColor
    paused_bell: QColor
    paused_badge: QColor


# Each style keeps a thin contrasting outline so that a wrong guess about the panel colour
# still leaves a readable bell.
_ON_DARK = _Palette(
    bell=QColor("#F4F4F6"),
    outline=QColor(0, 0, 0, 150),
    paused_bell=QColor("#9A9AA2"),
    paused_badge=QColor("#7B7E86"),
)
_ON_LIGHT = _Palette(
    bell=QColor("#2E2F33"),
    outline=QColor(255, 255, 255, 170),
    paused_bell=QColor("#8A8A92"),
    paused_badge=QColor("#5F6368"),
)


def panel_is_dark() -> bool:
    """Guess whether the panel behind the tray icon is dark, from the desktop's colour scheme."""
    app = QGuiApplication.instance()
    if isinstance(app, QGuiApplication):
        scheme = app.styleHints().colorScheme()
        if scheme == Qt.ColorScheme.Dark:
            return True
        if scheme == Qt.ColorScheme.Light:
            return False
    window = QGuiApplication.palette().color(QPalette.ColorRole.Window)
    return window.lightness() < 128


def _blank(size: int, dpr: float) -> QPixmap:
    px = round(size * dpr)
    pm = QPixmap(px, px)
    pm.setDevicePixelRatio(dpr)
    pm.fill(Qt.GlobalColor.transparent)
    return pm


def _pill(rect: QRectF) -> QPainterPath:
    path = QPainterPath()
    r = rect.height() / 2
    path.addRoundedRect(rect, r, r)
    return path


def _knock_out(p: QPainter, shape: QPainterPath, gap: float) -> None:
    """Clear a ring around a badge so that it stands apart from the bell under it."""
    stroker = QPainterPathStroker()
    stroker.setWidth(2 * gap)
    stroker.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    p.save()
    p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("black"))
    p.drawPath(stroker.createStroke(shape).united(shape))
    p.restore()


def _text_path(text: str, box: QRectF, cap_height: float) -> QPainterPath:
    """``text`` as a path centred in ``box``: digits ``cap_height`` tall, squeezed to fit."""
    font = QFont(QGuiApplication.font())
    font.setBold(True)
    font.setPixelSize(100)
    raw = QPainterPath()
    raw.addText(0, 0, font, text)
    br = raw.boundingRect()
    ky = cap_height / br.height()
    kx = min(ky, box.width() / br.width())
    t = QTransform()
    t.translate(box.center().x(), box.center().y())
    t.scale(kx, ky)
    t.translate(-br.center().x(), -br.center().y())
    return t.map(raw)


def _draw_bell(p: QPainter, size: int, colours: _Palette, *, paused: bool) -> None:
    outline = max(1.0, size / 20)
    box = QRectF(0, 0, size, size).adjusted(outline, outline * 0.6, -outline, -outline * 0.6)
    bell = _fit(_bell(), box)
    stroker = QPainterPathStroker()
    stroker.setWidth(2 * outline)
    stroker.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    p.setPen(Qt.PenStyle.NoPen)
    outline_colour = QColor(colours.outline)
    if paused:
        outline_colour.setAlphaF(outline_colour.alphaF() * 0.6)
    p.setBrush(outline_colour)
    p.drawPath(stroker.createStroke(bell))
    p.setBrush(colours.paused_bell if paused else colours.bell)
    p.drawPath(bell)


def _badge_height(size: int) -> float:
    if size < SMALLEST_NUMBERED_SIZE:
        return max(6.0, size * 0.47)
    return size * 0.56


def _draw_unread_badge(p: QPainter, size: int, text: str) -> None:
    h = _badge_height(size)
    gap = max(1.0, size / 24)
    if size < SMALLEST_NUMBERED_SIZE or not text:
        rect = QRectF(size - h, 0, h, h)
        badge = _pill(rect)
        _knock_out(p, badge, gap)
        p.setBrush(UNREAD_RED)
        p.drawPath(badge)
        return
    pad = h * 0.28
    cap = h * 0.6
    # Width the text wants at full height; the pill grows up to the icon's width, then the
    # digits are squeezed.
    probe = _text_path(text, QRectF(0, 0, 10_000, h), cap)
    width = min(float(size), max(h, probe.boundingRect().width() + 2 * pad))
    rect = QRectF(size - width, 0, width, h)
    badge = _pill(rect)
    _knock_out(p, badge, gap)
    p.setBrush(UNREAD_RED)
    p.drawPath(badge)
    p.setBrush(QColor("white"))
    p.drawPath(_text_path(text, rect.adjusted(pad, 0, -pad, 0), cap))


def _draw_error_badge(p: QPainter, size: int) -> None:
    d = max(9.0, size * 0.5)
    rect = QRectF(size - d, 0, d, d)
    badge = QPainterPath()
    badge.addEllipse(rect)
    _knock_out(p, badge, max(1.0, size / 24))
    p.setBrush(ERROR_ORANGE)
    p.drawPath(badge)
    # The "!" as shapes: crisper than a glyph at 9 pixels.
    bar_w = max(1.3, d * 0.16)
    cx = rect.center().x()
    bar = QRectF(cx - bar_w / 2, rect.top() + d * 0.2, bar_w, d * 0.38)
    p.setBrush(QColor("white"))
    p.drawRoundedRect(bar, bar_w / 2, bar_w / 2)
    p.drawEllipse(QPointF(cx, rect.top() + d * 0.76), bar_w * 0.62, bar_w * 0.62)


def _draw_paused_badge(p: QPainter, size: int, colours: _Palette) -> None:
    d = max(9.0, size * 0.5)
    rect = QRectF(size - d, 0, d, d)
    badge = QPainterPath()
    badge.addEllipse(rect)
    _knock_out(p, badge, max(1.0, size / 24))
    p.setBrush(colours.paused_badge)
    p.drawPath(badge)
    bar_w = max(1.2, d * 0.16)
    bar_h = d * 0.44
    top = rect.center().y() - bar_h / 2
    cx = rect.center().x()
    p.setBrush(QColor("white"))
    for x in (cx - bar_w * 1.25, cx + bar_w * 0.25):
        p.drawRect(QRectF(x, top, bar_w, bar_h))


def render_tray_pixmap(
    state: TrayState, unread: int, size: int, dpr: float = 1.0, *, dark_panel: bool = True
) -> QPixmap:
    """One tray pixmap, ``size`` logical pixels square at ``dpr`` device pixels per pixel."""
    colours = _ON_DARK if dark_panel else _ON_LIGHT
    pm = _blank(size, dpr)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    _draw_bell(p, size, colours, paused=state is TrayState.PAUSED)
    if state is TrayState.UNREAD:
        _draw_unread_badge(p, size, badge_text(unread))
    elif state is TrayState.ERROR:
        _draw_error_badge(p, size)
    elif state is TrayState.PAUSED:
        _draw_paused_badge(p, size, colours)
    p.end()
    return pm


@functools.lru_cache(maxsize=TRAY_ICON_CACHE)
def _tray_icon(state: TrayState, text: str, dark_panel: bool) -> QIcon:
    # ``text`` stands in for the count so that every count past 99 shares one entry.
    unread = MAX_SHOWN_COUNT + 1 if text.endswith("+") else int(text or 0)
    icon = QIcon()
    for size in TRAY_SIZES:
        for dpr in DEVICE_PIXEL_RATIOS:
            icon.addPixmap(render_tray_pixmap(state, unread, size, dpr, dark_panel=dark_panel))
    return icon


def tray_icon(state: TrayState, unread: int, *, dark_panel: bool | None = None) -> QIcon:
    """The tray icon for ``state``; ``unread`` is drawn on the UNREAD badge ("99+" past 99).

    ``dark_panel`` picks a light bell for dark panels and a dark one for light panels; by
    default it is guessed from the desktop's colour scheme (:func:`panel_is_dark`).
    """
    dark = panel_is_dark() if dark_panel is None else dark_panel
    text = badge_text(unread) if state is TrayState.UNREAD else ""
    return QIcon(_tray_icon(state, text, dark))
