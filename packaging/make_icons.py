"""Render Tootbell's icons from their sources: the hicolor theme icons, the Windows and macOS
bundle icons, and the package's run-time copies of the SVGs.

    .venv/bin/python packaging/make_icons.py [--out DIR] [--check]

Edit a source, run ``make icons`` and commit what it writes. The sources:

- ``resources/org.tootbell.Tootbell.svg``, the app icon: the PNGs from 32 px up, the scalable
  theme icon and the package's ``tootbell.svg``;
- ``resources/org.tootbell.Tootbell-small.svg``, the same bell upright and larger, without the
  sound waves, for 16, 22 and 24 px, where the full icon's waves blur into grey;
- ``resources/org.tootbell.Tootbell-symbolic.svg``, the single-colour app icon, also the
  package's ``tootbell-symbolic.svg``;
- the tray icon's own drawing in ``tootbell.ui.icons``, recorded at 16 px as one single-colour
  symbolic status icon per tray state. A symbolic icon has one colour and cannot carry the
  count, so the unread one shows the badge as a dot, as the 16 px tray icon does.

Qt's ICO and ICNS writers write one image per file, so each size is written by them on its own
and their entries are joined into one file here. The 256 px ICO entry is a PNG instead (as
Windows Vista and later read it), because a 32-bit BMP at that size weighs 270 KB. The ICNS is
skipped, with a note, where Qt has no ICNS writer.

The output is the same byte for byte on every run with the same Qt: the PNGs carry no time or
text and a fixed 96 dpi. ``--check`` renders everything into a temporary folder and compares it
with the tree (the checkout, or ``--out DIR``); it lists every file that differs or is missing,
and any file under ``resources/icons`` that nothing renders, and then exits with status 1.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import struct
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QImage,
    QImageWriter,
    QPainter,
    QPainterPath,
    QTransform,
)
from PySide6.QtSvg import QSvgGenerator, QSvgRenderer

from tootbell.ui import icons
from tootbell.ui.icons import TrayState

ROOT = Path(__file__).resolve().parent.parent
APP_ID = "org.tootbell.Tootbell"

APP_SOURCE = Path("resources") / f"{APP_ID}.svg"
SMALL_SOURCE = Path("resources") / f"{APP_ID}-small.svg"
SYMBOLIC_SOURCE = Path("resources") / f"{APP_ID}-symbolic.svg"

ICONS_DIR = Path("resources") / "icons"
HICOLOR = ICONS_DIR / "hicolor"
PACKAGE_RESOURCES = Path("desktop") / "tootbell" / "resources"
BUNDLE_ICONS = Path("packaging") / "icons"

PNG_SIZES: tuple[int, ...] = (16, 22, 24, 32, 48, 64, 128, 256, 512)
SMALL_SIZES: frozenset[int] = frozenset({16, 22, 24})
ICO_SIZES: tuple[int, ...] = (16, 32, 48, 256)
ICNS_SIZES: tuple[int, ...] = (16, 32, 64, 128, 256, 512)

STATUS_SIZE = 16
# The colour of the tray's bell on light panels. Desktops recolour symbolic icons to suit the
# panel; this is what shows where they do not.
SYMBOLIC_INK = QColor("#2E2F33")
# Boolean operations on paths flatten curves into lines at a fixed tolerance in path units, so
# the status shapes are combined at this many times their size and scaled back afterwards.
VECTOR_SCALE = 16.0

DOTS_PER_METRE = 3780  # 96 dpi, written into every PNG so that no screen's dpi leaks in


class IconError(Exception):
    """A source that cannot be read or an image that Qt would not write."""


# --------------------------------------------------------------------------- rendering


def _renderer(path: Path) -> QSvgRenderer:
    renderer = QSvgRenderer(str(path))
    if not renderer.isValid():
        raise IconError(f"{path} is not an SVG that Qt can read")
    return renderer


def render_app_image(size: int, root: Path = ROOT) -> QImage:
    """The app icon as a ``size`` px square image, from the small source up to 24 px."""
    source = SMALL_SOURCE if size in SMALL_SIZES else APP_SOURCE
    renderer = _renderer(root / source)
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    image.setDotsPerMeterX(DOTS_PER_METRE)
    image.setDotsPerMeterY(DOTS_PER_METRE)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def _encode(image: QImage, fmt: bytes) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QImageWriter(buffer, QByteArray(fmt))
    if not writer.write(image):
        raise IconError(f"Qt could not write a {fmt.decode()} image: {writer.errorString()}")
    buffer.close()
    return bytes(data.data())


def _clear_mask_padding(bmp: bytes, size: int) -> bytes:
    """Zero the bits past the last pixel of each row of an ICO entry's AND mask.

    Qt's ICO writer leaves them uninitialised (a 16 px row holds 2 bytes of bits in 4), so
    without this the same icon comes out different from one run to the next.
    """
    header, width, height, _planes, depth = struct.unpack_from("<IiiHH", bmp, 0)
    if (header, width, height, depth) != (40, size, 2 * size, 32):
        raise IconError("Qt's ICO writer wrote an entry other than a 32-bit BMP")
    row_bytes = (size + 31) // 32 * 4
    mask_start = header + size * size * 4
    if len(bmp) != mask_start + row_bytes * size:
        raise IconError("an ICO entry from Qt's ICO writer has an unexpected length")
    out = bytearray(bmp)
    for row in range(size):
        start = mask_start + row * row_bytes
        bits = int.from_bytes(out[start : start + row_bytes], "big")
        bits &= ~((1 << (row_bytes * 8 - size)) - 1)
        out[start : start + row_bytes] = bits.to_bytes(row_bytes, "big")
    return bytes(out)


def ico_bytes(images: Sequence[QImage]) -> bytes:
    """One ICO holding ``images``: each entry as Qt's ICO writer writes it, 256 px as PNG."""
    entries: list[tuple[bytes, bytes]] = []  # (directory entry up to its size field, data)
    for image in images:
        if image.width() >= 256:
            data = _encode(image, b"png")
            # Width and height 0 mean 256; no palette; 1 plane; 32 bits a pixel.
            head = struct.pack("<BBBBHH", 0, 0, 0, 0, 1, 32)
        else:
            single = _encode(image, b"ico")
            reserved, kind, count = struct.unpack_from("<HHH", single, 0)
            if (reserved, kind, count) != (0, 1, 1):
                raise IconError("Qt's ICO writer wrote something other than one icon")
            head = single[6:14]
            length, offset = struct.unpack_from("<II", single, 14)
            data = _clear_mask_padding(single[offset : offset + length], image.width())
        entries.append((head, data))
    offset = 6 + 16 * len(entries)
    directory = struct.pack("<HHH", 0, 1, len(entries))
    for head, data in entries:
        directory += head + struct.pack("<II", len(data), offset)
        offset += len(data)
    return directory + b"".join(data for _, data in entries)


def icns_bytes(images: Sequence[QImage]) -> bytes:
    """One ICNS holding ``images``, each element as Qt's ICNS writer writes it, with a TOC."""
    elements: list[bytes] = []
    for image in images:
        single = _encode(image, b"icns")
        magic, total = struct.unpack_from(">4sI", single, 0)
        if magic != b"icns" or total != len(single):
            raise IconError("Qt's ICNS writer wrote something other than an ICNS file")
        pos = 8
        while pos < total:
            kind, length = struct.unpack_from(">4sI", single, pos)
            if kind != b"TOC ":
                elements.append(single[pos : pos + length])
            pos += length
    toc = b"TOC " + struct.pack(">I", 8 + 8 * len(elements))
    toc += b"".join(element[:8] for element in elements)
    body = toc + b"".join(elements)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


class _InkRecorder:
    """Stands in for the QPainter that ``tootbell.ui.icons`` draws a tray icon with, and keeps
    what it paints as one shape for a single-colour icon.

    Paint adds to the shape. The ring cleared around a badge and the white marks on a badge (the
    count's dot, "!", the pause bars) cut into it, which is how symbolic icons show marks on a
    shape. Transparent paint adds nothing: the palette given to the drawing makes the halo that
    keeps the bell readable on any panel transparent, since desktops recolour symbolic icons.
    Any call it does not know fails, so that a change to the drawing is not silently missed.
    Its methods are named as QPainter's are.
    """

    def __init__(self) -> None:
        self._up = QTransform.fromScale(VECTOR_SCALE, VECTOR_SCALE)
        self._brush = QColor()
        self._clearing = False
        self._saved: list[tuple[QColor, bool]] = []
        self._ink = QPainterPath()

    def ink(self) -> QPainterPath:
        """Everything painted, at the drawing's own size."""
        down = QTransform.fromScale(1 / VECTOR_SCALE, 1 / VECTOR_SCALE)
        return down.map(self._ink.simplified())

    def save(self) -> None:
        self._saved.append((QColor(self._brush), self._clearing))

    def restore(self) -> None:
        self._brush, self._clearing = self._saved.pop()

    def setPen(self, pen: Qt.PenStyle) -> None:
        if pen != Qt.PenStyle.NoPen:
            raise IconError("the tray drawing strokes a line; teach _InkRecorder to record it")

    def setBrush(self, colour: QColor) -> None:
        self._brush = QColor(colour)

    def setCompositionMode(self, mode: QPainter.CompositionMode) -> None:
        known = (
            QPainter.CompositionMode.CompositionMode_SourceOver,
            QPainter.CompositionMode.CompositionMode_Clear,
        )
        if mode not in known:
            raise IconError(f"the tray drawing uses {mode}; teach _InkRecorder to record it")
        self._clearing = mode == QPainter.CompositionMode.CompositionMode_Clear

    def drawPath(self, path: QPainterPath) -> None:
        self._paint(path)

    def drawRect(self, rect: QRectF) -> None:
        shape = QPainterPath()
        shape.addRect(rect)
        self._paint(shape)

    def drawRoundedRect(self, rect: QRectF, x_radius: float, y_radius: float) -> None:
        shape = QPainterPath()
        shape.addRoundedRect(rect, x_radius, y_radius)
        self._paint(shape)

    def drawEllipse(self, centre: QPointF, rx: float, ry: float) -> None:
        shape = QPainterPath()
        shape.addEllipse(centre, rx, ry)
        self._paint(shape)

    def _paint(self, shape: QPainterPath) -> None:
        shape = self._up.map(shape)
        if self._clearing or self._brush == QColor("white"):
            self._ink = self._ink.subtracted(shape)
        elif self._brush.alpha() > 0:
            self._ink = self._ink.united(shape)


def _status_ink(state: TrayState) -> QPainterPath:
    """The tray icon for ``state`` at 16 px, as drawn by tootbell.ui.icons, in one colour."""
    recorder = _InkRecorder()
    # The recorder answers every QPainter call that the drawing makes (and fails on others).
    painter = cast(QPainter, recorder)
    palette = icons._Palette(
        bell=SYMBOLIC_INK,
        outline=QColor(0, 0, 0, 0),
        paused_bell=SYMBOLIC_INK,
        paused_badge=SYMBOLIC_INK,
    )
    # The same steps as icons.render_tray_pixmap, with the recorder for a painter.
    icons._draw_bell(painter, STATUS_SIZE, palette, paused=state is TrayState.PAUSED)
    if state is TrayState.UNREAD:
        icons._draw_unread_badge(painter, STATUS_SIZE, "")
    elif state is TrayState.ERROR:
        icons._draw_error_badge(painter, STATUS_SIZE)
    elif state is TrayState.PAUSED:
        icons._draw_paused_badge(painter, STATUS_SIZE, palette)
    return recorder.ink()


def status_svg(state: TrayState) -> bytes:
    """The symbolic status icon for ``state``, written by QSvgGenerator at 16 px."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    generator = QSvgGenerator(QSvgGenerator.SvgVersion.Svg11)
    generator.setOutputDevice(buffer)
    generator.setSize(QSize(STATUS_SIZE, STATUS_SIZE))
    generator.setViewBox(QRectF(0, 0, STATUS_SIZE, STATUS_SIZE))
    generator.setResolution(96)
    generator.setTitle(f"Tootbell: {state.value}")
    generator.setDescription(f"The tray icon of Tootbell, {state.value}, symbolic")
    painter = QPainter(generator)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(SYMBOLIC_INK)
    painter.drawPath(_status_ink(state))
    painter.end()
    buffer.close()
    # QSvgGenerator gives the size in millimetres; icon themes size icons in pixels.
    svg, count = re.subn(
        rb'width="[0-9.]+mm" height="[0-9.]+mm"',
        b'width="%d" height="%d"' % (STATUS_SIZE, STATUS_SIZE),
        bytes(data.data()),
        count=1,
    )
    if count != 1:
        raise IconError("QSvgGenerator's output no longer starts as expected")
    return svg


# --------------------------------------------------------------------------- the tree


def _save_png(image: QImage, path: Path) -> None:
    # The format follows from the .png suffix.
    if not image.save(str(path)):
        raise IconError(f"Qt could not write {path}")


def build(out: Path, root: Path = ROOT) -> list[Path]:
    """Write every icon under ``out``; return their paths relative to it."""
    written: list[Path] = []

    def target(rel: Path) -> Path:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        written.append(rel)
        return path

    def copy(source: Path, rel: Path) -> None:
        target(rel).write_bytes((root / source).read_bytes())

    for size in PNG_SIZES:
        rel = HICOLOR / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        _save_png(render_app_image(size, root), target(rel))
    copy(APP_SOURCE, HICOLOR / "scalable" / "apps" / f"{APP_ID}.svg")
    copy(SYMBOLIC_SOURCE, HICOLOR / "symbolic" / "apps" / f"{APP_ID}-symbolic.svg")
    for state in TrayState:
        rel = HICOLOR / "scalable" / "status" / f"{APP_ID}-{state.value}-symbolic.svg"
        target(rel).write_bytes(status_svg(state))

    copy(APP_SOURCE, PACKAGE_RESOURCES / icons.APP_ICON_RESOURCE)
    copy(SYMBOLIC_SOURCE, PACKAGE_RESOURCES / icons.SYMBOLIC_ICON_RESOURCE)

    formats = {bytes(f.data()) for f in QImageWriter.supportedImageFormats()}
    if b"ico" in formats:
        images = [render_app_image(size, root) for size in ICO_SIZES]
        target(BUNDLE_ICONS / "tootbell.ico").write_bytes(ico_bytes(images))
    else:
        print("note: this Qt has no ICO writer; tootbell.ico not written", file=sys.stderr)
    if b"icns" in formats:
        images = [render_app_image(size, root) for size in ICNS_SIZES]
        target(BUNDLE_ICONS / "tootbell.icns").write_bytes(icns_bytes(images))
    else:
        print("note: this Qt has no ICNS writer; tootbell.icns not written", file=sys.stderr)
    return written


def _unrendered(tree: Path, rendered: Sequence[Path]) -> list[Path]:
    """Files under resources/icons in ``tree`` that nothing renders any more."""
    base = tree / ICONS_DIR
    if not base.is_dir():
        return []
    expected = set(rendered)
    found = (p.relative_to(tree) for p in base.rglob("*") if p.is_file())
    return sorted(p for p in found if p not in expected)


def check(tree: Path, root: Path = ROOT) -> list[str]:
    """Render into a temporary folder; one line for each file in ``tree`` that is not as
    rendered."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tootbell-icons-") as scratch:
        fresh = Path(scratch)
        rendered = build(fresh, root)
        for rel in rendered:
            have = tree / rel
            if not have.is_file():
                problems.append(f"missing: {rel}")
            elif not filecmp.cmp(fresh / rel, have, shallow=False):
                problems.append(f"differs: {rel}")
    problems += [f"not rendered by this script: {rel}" for rel in _unrendered(tree, rendered)]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT,
        metavar="DIR",
        help="the tree to write into or check (default: this checkout)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="render into a temporary folder and list every file in the tree that differs",
    )
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()

    # Rendering needs no display.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # alive until return

    try:
        if args.check:
            problems = check(out)
            for line in problems:
                print(line, file=sys.stderr)
            if problems:
                print("The icons are stale: run `make icons` and commit them.", file=sys.stderr)
                return 1
            print(f"Icons under {out} are up to date.")
            return 0
        written = build(out)
        for rel in _unrendered(out, written):
            (out / rel).unlink()
            print(f"removed {rel}, which nothing renders any more")
        print(f"Wrote {len(written)} icon files under {out}.")
        return 0
    except (IconError, OSError) as e:
        print(f"make_icons: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
