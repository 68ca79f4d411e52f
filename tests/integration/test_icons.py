"""The app icon and the tray icons render at every size, state and pixel ratio."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from importlib import resources

import pytest
from PySide6.QtCore import QByteArray, QSize
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtSvg import QSvgRenderer
from pytestqt.qtbot import QtBot

from tootbell.ui import icons
from tootbell.ui.icons import (
    DEVICE_PIXEL_RATIOS,
    TRAY_SIZES,
    TrayState,
    app_icon,
    badge_text,
    panel_is_dark,
    render_tray_pixmap,
    tray_icon,
)

# The offscreen platform says this whenever a window is shown; it is not a problem.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


NUMBERED_SIZES = [s for s in TRAY_SIZES if s >= icons.SMALLEST_NUMBERED_SIZE]


def image(pm: QPixmap) -> QImage:
    return pm.toImage().convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)


def opaque_pixels(img: QImage) -> int:
    return sum(
        1 for y in range(img.height()) for x in range(img.width()) if img.pixelColor(x, y).alpha()
    )


def pixels_differing(a: QImage, b: QImage) -> int:
    assert a.size() == b.size()
    return sum(
        1
        for y in range(a.height())
        for x in range(a.width())
        if a.pixelColor(x, y) != b.pixelColor(x, y)
    )


def test_badge_text() -> None:
    assert badge_text(0) == ""
    assert badge_text(-1) == ""
    assert badge_text(1) == "1"
    assert badge_text(99) == "99"
    assert badge_text(100) == "99+"
    assert badge_text(12345) == "99+"


@pytest.mark.parametrize("state", list(TrayState))
@pytest.mark.parametrize("dark", [True, False])
def test_every_state_renders_every_size_and_ratio(
    qtbot: QtBot, state: TrayState, dark: bool
) -> None:
    icon = tray_icon(state, 7, dark_panel=dark)
    assert not icon.isNull()
    for size in TRAY_SIZES:
        for dpr in DEVICE_PIXEL_RATIOS:
            pm = icon.pixmap(QSize(size, size), dpr)
            assert not pm.isNull()
            assert pm.devicePixelRatio() == dpr
            assert pm.size() == QSize(round(size * dpr), round(size * dpr))
            img = image(pm)
            drawn = opaque_pixels(img)
            # A bell covers a good part of the square, and leaves the corners clear.
            assert drawn > 0.2 * img.width() * img.height(), (state, size, dpr)
            assert img.pixelColor(0, img.height() - 1).alpha() == 0


def test_hidpi_variants_are_drawn_for_their_logical_size(qtbot: QtBot) -> None:
    icon = tray_icon(TrayState.UNREAD, 42, dark_panel=True)
    sixteen_at_2x = icon.pixmap(QSize(16, 16), 2.0)
    thirty_two = icon.pixmap(QSize(32, 32), 1.0)
    assert sixteen_at_2x.size() == thirty_two.size() == QSize(32, 32)
    assert sixteen_at_2x.devicePixelRatio() == 2.0
    assert thirty_two.devicePixelRatio() == 1.0
    # Same pixels count, different drawings: 16 px shows a dot, 32 px the number.
    assert image(sixteen_at_2x) == image(render_tray_pixmap(TrayState.UNREAD, 42, 16, 2.0))
    assert image(thirty_two) == image(render_tray_pixmap(TrayState.UNREAD, 42, 32, 1.0))
    assert pixels_differing(image(sixteen_at_2x), image(thirty_two)) > 50


@pytest.mark.parametrize("size", TRAY_SIZES)
@pytest.mark.parametrize("dpr", DEVICE_PIXEL_RATIOS)
def test_unread_badge_changes_pixels(qtbot: QtBot, size: int, dpr: float) -> None:
    normal = image(render_tray_pixmap(TrayState.NORMAL, 0, size, dpr))
    unread = image(render_tray_pixmap(TrayState.UNREAD, 3, size, dpr))
    changed = pixels_differing(normal, unread)
    assert changed > 0.05 * normal.width() * normal.height()
    # The badge is red: some pixel in the top right corner is clearly red.
    reds = [
        unread.pixelColor(x, y)
        for y in range(unread.height() // 3)
        for x in range(unread.width() * 2 // 3, unread.width())
    ]
    assert any(c.red() > 180 and c.green() < 90 and c.blue() < 140 for c in reds)


@pytest.mark.parametrize("size", NUMBERED_SIZES)
def test_count_is_drawn_from_22_px(qtbot: QtBot, size: int) -> None:
    three = image(render_tray_pixmap(TrayState.UNREAD, 3, size))
    many = image(render_tray_pixmap(TrayState.UNREAD, 120, size))
    also_many = image(render_tray_pixmap(TrayState.UNREAD, 5000, size))
    assert pixels_differing(three, many) > 10
    assert three != image(render_tray_pixmap(TrayState.UNREAD, 4, size))
    # Everything past 99 reads "99+".
    assert many == also_many
    assert many == image(render_tray_pixmap(TrayState.UNREAD, 100, size))


def test_16_px_shows_a_dot_whatever_the_count(qtbot: QtBot) -> None:
    dot = image(render_tray_pixmap(TrayState.UNREAD, 3, 16))
    assert dot == image(render_tray_pixmap(TrayState.UNREAD, 120, 16))
    assert dot != image(render_tray_pixmap(TrayState.NORMAL, 0, 16))


def test_states_look_different(qtbot: QtBot) -> None:
    for size in TRAY_SIZES:
        images = {state: image(render_tray_pixmap(state, 5, size)) for state in TrayState}
        for a in TrayState:
            for b in TrayState:
                if a is not b:
                    assert images[a] != images[b], (a, b, size)


def test_error_badge_is_orange(qtbot: QtBot) -> None:
    img = image(render_tray_pixmap(TrayState.ERROR, 0, 48))
    corner = [img.pixelColor(x, y) for y in range(16) for x in range(32, 48)]
    assert any(c.red() > 200 and 70 < c.green() < 160 and c.blue() < 60 for c in corner)


def test_paused_bell_is_grey(qtbot: QtBot) -> None:
    img = image(render_tray_pixmap(TrayState.PAUSED, 0, 48, dark_panel=True))
    # The middle of the bell body, away from the badge.
    c = img.pixelColor(20, 30)
    assert c.alpha() == 255
    assert abs(c.red() - c.green()) < 12 and abs(c.green() - c.blue()) < 16
    assert 100 < c.red() < 200


def test_panel_colour_picks_the_bell_colour(qtbot: QtBot) -> None:
    on_dark = image(render_tray_pixmap(TrayState.NORMAL, 0, 48, dark_panel=True))
    on_light = image(render_tray_pixmap(TrayState.NORMAL, 0, 48, dark_panel=False))
    assert on_dark.pixelColor(24, 28).lightness() > 200
    assert on_light.pixelColor(24, 28).lightness() < 80
    default = tray_icon(TrayState.NORMAL, 0).pixmap(QSize(48, 48), 1.0)
    expected = on_dark if panel_is_dark() else on_light
    assert image(default) == expected


def test_tray_icons_are_cached_but_callers_get_their_own(qtbot: QtBot) -> None:
    a = tray_icon(TrayState.UNREAD, 150, dark_panel=True)
    b = tray_icon(TrayState.UNREAD, 300, dark_panel=True)
    assert a.cacheKey() != b.cacheKey() or a is not b
    a.addPixmap(QPixmap(5, 5))
    c = tray_icon(TrayState.UNREAD, 150, dark_panel=True)
    assert QSize(5, 5) not in c.availableSizes()


def test_tray_icon_memory_stays_bounded_as_the_count_changes(qtbot: QtBot) -> None:
    """Every toast changes the count; the icons drawn for old counts are not all kept."""
    for unread in range(1, 40):
        tray_icon(TrayState.UNREAD, unread, dark_panel=True)
    assert icons._tray_icon.cache_info().currsize <= 8
    # The newest is still drawn once only.
    hits = icons._tray_icon.cache_info().hits
    tray_icon(TrayState.UNREAD, 39, dark_panel=True)
    assert icons._tray_icon.cache_info().hits == hits + 1


def test_app_icon_at_every_size(qtbot: QtBot) -> None:
    icon = app_icon()
    assert not icon.isNull()
    for size in icons.APP_ICON_SIZES:
        for dpr in DEVICE_PIXEL_RATIOS:
            pm = icon.pixmap(QSize(size, size), dpr)
            assert pm.size() == QSize(round(size * dpr), round(size * dpr))
    big = image(icon.pixmap(QSize(256, 256), 1.0))
    # Indigo background near the top left, a white bell in the middle, clear corners.
    bg = big.pixelColor(40, 40)
    assert bg.blue() > 220 and bg.red() < 140 and bg.green() < 140
    assert big.pixelColor(128, 120) == QColor("white")
    assert big.pixelColor(0, 0).alpha() == 0


def test_app_icon_is_drawn_when_svg_is_unavailable(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(icons, "_svg_pixmaps", lambda data, sizes: None)
    icons._app_icon.cache_clear()
    try:
        big = image(app_icon().pixmap(QSize(256, 256), 1.0))
        assert big.pixelColor(40, 40).blue() > 220
        assert big.pixelColor(128, 128) == QColor("white")
    finally:
        icons._app_icon.cache_clear()


@pytest.mark.parametrize("name", [icons.APP_ICON_RESOURCE, icons.SYMBOLIC_ICON_RESOURCE])
def test_svg_resources_are_valid_svg_1_1(qtbot: QtBot, name: str) -> None:
    data = (resources.files("tootbell") / "resources" / name).read_bytes()
    root = ET.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("version") == "1.1"
    assert root.get("viewBox") == "0 0 256 256"
    renderer = QSvgRenderer(QByteArray(data))
    assert renderer.isValid()
