"""The committed icons (packaging/make_icons.py's output) are current, complete and usable: the
hicolor PNGs and symbolic SVGs, the Windows ICO and macOS ICNS, and the package's SVG copies."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QIcon, QImage, QImageReader, QPainter
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "make_icons.py"
APP_ID = "org.tootbell.Tootbell"
HICOLOR = Path("resources/icons/hicolor")
ICONS_DIR = ROOT / "resources" / "icons"

PNG_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
STATES = ("normal", "unread", "paused", "error")
STATUS_ICONS = [HICOLOR / f"scalable/status/{APP_ID}-{state}-symbolic.svg" for state in STATES]
SYMBOLIC_ICONS = [HICOLOR / f"symbolic/apps/{APP_ID}-symbolic.svg", *STATUS_ICONS]
ICO = Path("packaging/icons/tootbell.ico")
ICNS = Path("packaging/icons/tootbell.icns")

EXPECTED = {
    *(HICOLOR / f"{n}x{n}/apps/{APP_ID}.png" for n in PNG_SIZES),
    HICOLOR / f"scalable/apps/{APP_ID}.svg",
    *SYMBOLIC_ICONS,
    ICO,
    ICNS,
    Path("desktop/tootbell/resources/tootbell.svg"),
    Path("desktop/tootbell/resources/tootbell-symbolic.svg"),
}


def make_icons(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tree that make_icons.py has just rendered into."""
    out = tmp_path_factory.mktemp("icons")
    done = make_icons("--out", out)
    assert done.returncode == 0, done.stderr
    return out


def files_under(tree: Path) -> set[Path]:
    return {p.relative_to(tree) for p in tree.rglob("*") if p.is_file()}


def argb(image: QImage) -> QImage:
    return image.convertToFormat(QImage.Format.Format_ARGB32)


def render_svg(path: Path, size: int) -> QImage:
    renderer = QSvgRenderer(str(path))
    assert renderer.isValid(), f"{path} does not parse as SVG"
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def opaque_colours(image: QImage) -> set[int]:
    """The distinct RGB values of the fully opaque pixels."""
    img = argb(image)
    return {
        img.pixel(x, y) & 0xFFFFFF
        for y in range(img.height())
        for x in range(img.width())
        if img.pixelColor(x, y).alpha() == 255
    }


def painted_colours(svg: bytes) -> set[str]:
    """Every fill and stroke that some shape in ``svg`` is painted with, inherited values and
    SVG's initial ones (fill black, stroke none) included."""
    shapes = {"path", "rect", "circle", "ellipse", "polygon", "polyline", "line"}
    found: set[str] = set()

    def walk(element: ET.Element, fill: str, stroke: str) -> None:
        style = dict(
            (key.strip(), value.strip())
            for key, _, value in (
                item.partition(":") for item in element.get("style", "").split(";") if item
            )
        )
        fill = style.get("fill", element.get("fill", fill))
        stroke = style.get("stroke", element.get("stroke", stroke))
        if element.tag.rsplit("}", 1)[-1] in shapes:
            found.update(paint.lower() for paint in (fill, stroke) if paint != "none")
        for child in element:
            walk(child, fill, stroke)

    walk(ET.fromstring(svg), "black", "none")
    return found


# --------------------------------------------------------------------------- up to date


def test_renders_every_icon_the_desktop_and_the_bundles_need(fresh: Path) -> None:
    assert files_under(fresh) == EXPECTED


def _images(path: Path) -> list[QImage]:
    reader = QImageReader(str(path))
    out = []
    for i in range(max(1, reader.imageCount())):
        reader.jumpToImage(i)
        out.append(argb(reader.read()))
    return out


def same_pictures(a: Path, b: Path, tolerance: int = 3) -> bool:
    """Raster icons compare by their pixels, within a small tolerance per channel: another
    build of Qt may encode or antialias a hair differently; a changed drawing is far off."""
    if a.suffix == ".svg":
        return a.read_bytes() == b.read_bytes()
    first, second = _images(a), _images(b)
    if [i.size() for i in first] != [i.size() for i in second]:
        return False
    for x_img, y_img in zip(first, second, strict=True):
        for y in range(x_img.height()):
            for x in range(x_img.width()):
                p, q = x_img.pixel(x, y), y_img.pixel(x, y)
                if any(
                    abs(((p >> s) & 255) - ((q >> s) & 255)) > tolerance for s in (0, 8, 16, 24)
                ):
                    return False
    return True


def test_committed_icons_are_the_ones_the_sources_render(qapp: QApplication, fresh: Path) -> None:
    stale = []
    for rel in sorted(files_under(fresh)):
        committed = ROOT / rel
        if not committed.is_file():
            stale.append(f"missing: {rel}")
        elif not same_pictures(committed, fresh / rel):
            stale.append(f"differs: {rel}")
    assert not stale, "run `make icons` and commit the result:\n" + "\n".join(stale)


def test_nothing_under_resources_icons_is_left_over_from_older_renderings(fresh: Path) -> None:
    assert files_under(ICONS_DIR) == {
        rel.relative_to("resources/icons")
        for rel in files_under(fresh)
        if rel.is_relative_to(HICOLOR)
    }


def test_package_copies_are_the_sources() -> None:
    package = ROOT / "desktop" / "tootbell" / "resources"
    sources = ROOT / "resources"
    assert (package / "tootbell.svg").read_bytes() == (sources / f"{APP_ID}.svg").read_bytes()
    assert (package / "tootbell-symbolic.svg").read_bytes() == (
        sources / f"{APP_ID}-symbolic.svg"
    ).read_bytes()


def test_rendering_is_reproducible(fresh: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(fresh, tree)
    done = make_icons("--check", "--out", tree)
    assert done.returncode == 0, done.stderr


def test_check_lists_every_stale_missing_or_unrendered_file(fresh: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(fresh, tree)
    small = HICOLOR / f"16x16/apps/{APP_ID}.png"
    shutil.copyfile(tree / HICOLOR / f"22x22/apps/{APP_ID}.png", tree / small)
    (tree / ICO).unlink()
    leftover = HICOLOR / f"20x20/apps/{APP_ID}.png"
    (tree / leftover).parent.mkdir(parents=True)
    shutil.copyfile(tree / small, tree / leftover)

    done = make_icons("--check", "--out", tree)

    assert done.returncode == 1
    assert f"differs: {small}" in done.stderr
    assert f"missing: {ICO}" in done.stderr
    assert f"not rendered by this script: {leftover}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 4  # the three, and what to do about them


# --------------------------------------------------------------------------- the PNGs


@pytest.mark.parametrize("size", PNG_SIZES)
def test_png_is_its_size_drawn_and_rounded(qapp: QApplication, size: int) -> None:
    path = ROOT / HICOLOR / f"{size}x{size}/apps/{APP_ID}.png"
    image = argb(QImage(str(path)))
    assert image.size() == QSize(size, size)
    assert len(opaque_colours(image)) > 1, "blank, or one flat colour"
    last = size - 1
    for x, y in ((0, 0), (last, 0), (0, last), (last, last)):
        assert image.pixelColor(x, y).alpha() == 0, f"corner ({x}, {y}) is not transparent"


# --------------------------------------------------------------------------- the symbolic SVGs


@pytest.mark.parametrize("rel", SYMBOLIC_ICONS, ids=lambda rel: rel.name)
def test_symbolic_icon_is_valid_svg_in_one_colour(qapp: QApplication, rel: Path) -> None:
    path = ROOT / rel
    colours = painted_colours(path.read_bytes())
    assert len(colours) == 1, colours
    assert not next(iter(colours)).startswith("url("), "painted with a gradient or pattern"
    image = render_svg(path, 64)
    assert len(opaque_colours(image)) == 1


def test_status_icons_differ_from_each_other(qapp: QApplication) -> None:
    images = {rel.name: argb(render_svg(ROOT / rel, 16)) for rel in STATUS_ICONS}
    for (a, image_a), (b, image_b) in itertools.combinations(images.items(), 2):
        assert image_a != image_b, f"{a} and {b} look the same"


def test_unread_status_icon_has_a_badge_where_the_normal_one_has_none(
    qapp: QApplication,
) -> None:
    normal = render_svg(ROOT / STATUS_ICONS[0], 16)
    unread = render_svg(ROOT / STATUS_ICONS[1], 16)
    # The badge sits in the top right corner, which the bell alone leaves empty.
    assert normal.pixelColor(14, 1).alpha() == 0
    assert unread.pixelColor(14, 1).alpha() > 128


# --------------------------------------------------------------------------- ICO and ICNS


def read_all(path: Path) -> list[QImage]:
    reader = QImageReader(str(path))
    images = []
    for index in range(reader.imageCount()):
        assert reader.jumpToImage(index)
        image = reader.read()
        assert not image.isNull(), f"image {index} of {path.name}: {reader.errorString()}"
        images.append(image)
    return images


def test_ico_holds_16_32_48_and_256_px(qapp: QApplication) -> None:
    images = read_all(ROOT / ICO)
    assert [image.size() for image in images] == [QSize(n, n) for n in (16, 32, 48, 256)]
    for image in images:
        assert image.hasAlphaChannel()
        assert argb(image).pixelColor(0, 0).alpha() == 0
        assert len(opaque_colours(image)) > 1


# Qt's ICNS reader warns about the table of contents that its own ICNS writer writes.
@pytest.mark.qt_log_ignore("Table of contents contains a bad entry")
def test_icns_holds_16_to_512_px(qapp: QApplication) -> None:
    images = read_all(ROOT / ICNS)
    assert [image.size() for image in images] == [QSize(n, n) for n in (16, 32, 64, 128, 256, 512)]
    for image in images:
        assert len(opaque_colours(image)) > 1


# --------------------------------------------------------------------------- theme lookup


def system_icon_dirs() -> list[str]:
    """The icon folders that hold hicolor's index.theme, which says which folders hold icons."""
    data_dirs = os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share"
    return [
        str(Path(d) / "icons")
        for d in data_dirs.split(":")
        if d and (Path(d) / "icons" / "hicolor" / "index.theme").is_file()
    ]


def test_qt_theme_lookup_finds_the_app_and_status_icons(qapp: QApplication) -> None:
    system = system_icon_dirs()
    assert system, "no hicolor/index.theme found (Debian package hicolor-icon-theme)"
    saved_paths, saved_theme = QIcon.themeSearchPaths(), QIcon.themeName()
    QIcon.setThemeSearchPaths([str(ICONS_DIR), *system])
    QIcon.setThemeName("hicolor")
    try:
        app = QIcon.fromTheme(APP_ID)
        assert not app.isNull()
        assert app.name() == APP_ID
        sizes = app.availableSizes()
        for n in (16, 256):
            assert QSize(n, n) in sizes
            assert app.pixmap(QSize(n, n)).size() == QSize(n, n)
        expected = argb(QImage(str(ROOT / HICOLOR / f"16x16/apps/{APP_ID}.png")))
        assert argb(app.pixmap(QSize(16, 16)).toImage()) == expected

        for name in [f"{APP_ID}-symbolic", *(f"{APP_ID}-{state}-symbolic" for state in STATES)]:
            icon = QIcon.fromTheme(name)
            assert not icon.isNull(), name
            assert icon.name() == name
            assert not icon.pixmap(QSize(16, 16)).isNull(), name
    finally:
        QIcon.setThemeSearchPaths(saved_paths)
        QIcon.setThemeName(saved_theme)
