"""The launcher entry, the AppStream metadata, the per-user install and the Flatpak manifest,
checked with the desktop's own validators (desktop-file-utils, appstream)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from tootbell import APP_ID, __version__

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "resources"
INSTALLER = ROOT / "packaging" / "install_desktop.py"
MANIFEST = ROOT / "packaging" / "flatpak" / "org.tootbell.Tootbell.json"

sys.path.insert(0, str(ROOT / "packaging"))
import install_desktop  # noqa: E402


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: install the Debian package {package} (.ci/run does)"
    return found


def validate_entry(path: Path) -> None:
    result = subprocess.run(
        [tool("desktop-file-validate", "desktop-file-utils"), str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def entry_values(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            values[key] = value
    return values


# --------------------------------------------------------------------------- sources


def test_the_launcher_entry_is_valid_and_reverse_dns() -> None:
    entry = RESOURCES / f"{APP_ID}.desktop"
    validate_entry(entry)
    values = entry_values(entry)
    assert values["Icon"] == APP_ID
    assert values["Exec"] == "tootbell"
    assert values["Terminal"] == "false"


def test_the_metainfo_is_valid_and_names_this_release() -> None:
    path = RESOURCES / f"{APP_ID}.metainfo.xml"
    result = subprocess.run(
        [tool("appstreamcli", "appstream"), "validate", "--no-net", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    root = ET.parse(path).getroot()
    assert root.findtext("id") == APP_ID
    assert root.findtext("launchable") == f"{APP_ID}.desktop"
    releases = root.findall("releases/release")
    assert releases and releases[0].get("version") == __version__  # the newest comes first
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["version"] == __version__
    assert root.findtext("project_license") == pyproject["project"]["license"]["text"]


# --------------------------------------------------------------------------- the user install


def run_installer(*args: str, data_home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_DATA_HOME": str(data_home)}
    return subprocess.run(
        [sys.executable, str(INSTALLER), *args], capture_output=True, text=True, env=env
    )


def test_install_puts_tootbell_in_the_launcher_and_uninstall_takes_exactly_that_out(
    tmp_path: Path, qapp: QApplication
) -> None:
    home = tmp_path / "share"
    program = tmp_path / "my apps" / "tootbell"  # a space: Exec must quote it
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    unrelated = home / "applications" / "other.desktop"
    unrelated.parent.mkdir(parents=True)
    unrelated.write_text("[Desktop Entry]\n")
    other_icon = home / "icons" / "hicolor" / "48x48" / "apps" / "other.png"
    other_icon.parent.mkdir(parents=True)
    other_icon.write_bytes(b"png")

    done = run_installer("install", "--exec", str(program), data_home=home)
    assert done.returncode == 0, done.stderr
    assert str(program) in done.stdout
    entry = home / "applications" / f"{APP_ID}.desktop"
    validate_entry(entry)
    values = entry_values(entry)
    assert values["Exec"] == f'"{program}"'
    assert values["TryExec"] == str(program)
    assert values["Icon"] == APP_ID
    metainfo = home / "metainfo" / f"{APP_ID}.metainfo.xml"
    assert metainfo.read_bytes() == (RESOURCES / f"{APP_ID}.metainfo.xml").read_bytes()
    for size in (16, 48, 256, 512):
        png = home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        assert png.exists(), png
    assert (home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").exists()

    # What a launcher does with Icon=org.tootbell.Tootbell: look it up in the hicolor theme,
    # whose index.theme comes with the system (Debian's hicolor-icon-theme).
    system = Path("/usr/share/icons")
    assert (system / "hicolor" / "index.theme").exists(), "install hicolor-icon-theme"
    paths, theme = QIcon.themeSearchPaths(), QIcon.themeName()
    try:
        QIcon.setThemeSearchPaths([str(home / "icons"), str(system)])
        QIcon.setThemeName("hicolor")
        icon = QIcon.fromTheme(APP_ID)
        assert not icon.isNull()
        assert not icon.pixmap(48, 48).isNull()
        assert QSize(512, 512) in icon.availableSizes()  # ours: the system has no such icon
    finally:
        QIcon.setThemeSearchPaths(paths)
        QIcon.setThemeName(theme)

    installed = sorted(p for p in home.rglob("*") if p.is_file())
    gone = run_installer("uninstall", data_home=home)
    assert gone.returncode == 0, gone.stderr
    left = sorted(p for p in home.rglob("*") if p.is_file())
    # Only what was there before (and the caches the desktop tools may have refreshed).
    assert unrelated in left and other_icon in left
    assert not [p for p in left if APP_ID in p.name]
    assert len(installed) > len(left)
    assert not (home / "metainfo").exists()  # emptied folders go too


def test_install_refuses_a_program_a_launcher_cannot_run(tmp_path: Path) -> None:
    program = tmp_path / "100%" / "tootbell"
    program.parent.mkdir()
    program.write_text("")
    done = run_installer("install", "--exec", str(program), data_home=tmp_path / "share")
    assert done.returncode == 1
    assert "'%'" in done.stderr and "Traceback" not in done.stderr
    missing = run_installer("install", "--exec", str(tmp_path / "nope"), data_home=tmp_path)
    assert missing.returncode == 1 and "does not exist" in missing.stderr


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("/usr/bin/tootbell", "/usr/bin/tootbell"),
        ("/home/a b/tootbell", '"/home/a b/tootbell"'),
        # Quoted with `"$\\ escaped, then the string escapes again: one backslash is two.
        ('/opt/say "hi"/tootbell', '"/opt/say \\\\"hi\\\\"/tootbell"'),
        ("/opt/$HOME/tootbell", '"/opt/\\\\$HOME/tootbell"'),
    ],
)
def test_exec_quoting(path: str, value: str) -> None:
    assert install_desktop.exec_value(Path(path)) == value


# --------------------------------------------------------------------------- Flatpak


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def test_the_flatpak_asks_only_for_what_tootbell_uses() -> None:
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    assert manifest["id"] == APP_ID
    assert manifest["command"] == "tootbell"
    # Network; the tray host, the notification server and the keyring on the session bus; and
    # the display a window needs (Wayland, else X11 with its shared memory). No files, no
    # other bus names, no devices.
    assert sorted(manifest["finish-args"]) == sorted(
        [
            "--share=network",
            "--share=ipc",
            "--socket=wayland",
            "--socket=fallback-x11",
            "--talk-name=org.kde.StatusNotifierWatcher",
            "--talk-name=org.freedesktop.Notifications",
            "--talk-name=org.freedesktop.secrets",
        ]
    )


def test_the_flatpak_pins_every_dependency_with_its_hash() -> None:
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    [deps] = [m for m in manifest["modules"] if m["name"] == "python3-deps"]
    wheels = deps["sources"]
    assert wheels
    for source in wheels:
        assert source["type"] == "file" and source["dest"] == "wheels"
        assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"]), source
        assert "://" not in source["path"]  # built offline from wheels on disk
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = {
        _norm(re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0])
        for req in pyproject["project"]["dependencies"]
    }
    for arch in ("x86_64", "aarch64"):
        names = {
            _norm(Path(s["path"]).name.split("-")[0])
            for s in wheels
            if arch in s.get("only-arches", [arch])
        }
        assert wanted <= names, (arch, wanted - names)
    folder = MANIFEST.parent / "wheels"
    if folder.is_dir():  # after `generate_sources.py --download`: the files match the pins
        import hashlib

        for source in wheels:
            path = MANIFEST.parent / source["path"]
            if path.exists():
                assert hashlib.sha256(path.read_bytes()).hexdigest() == source["sha256"]
