"""Put Tootbell in the desktop's launcher for this user, or take it out again.

``python packaging/install_desktop.py install [--exec PATH] [--data-home DIR]`` writes, under
``$XDG_DATA_HOME`` (default ``~/.local/share``):

- ``applications/org.tootbell.Tootbell.desktop``, whose ``Exec`` and ``TryExec`` name this
  installation's own ``tootbell`` (the one beside this Python, or ``--exec``: a bundle's
  executable, say), so the launcher starts exactly what was installed;
- the icons from ``resources/icons/hicolor`` into ``icons/hicolor``;
- ``metainfo/org.tootbell.Tootbell.metainfo.xml`` (software centres read it).

``uninstall`` removes exactly those files (and folders it leaves empty), nothing else. Both
refresh the desktop and icon caches where the tools for that exist.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

APP_ID = "org.tootbell.Tootbell"
ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"


class InstallError(Exception):
    """Something a person can act on, said in words."""


def data_home(explicit: str | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("XDG_DATA_HOME", "").strip()
    if env and os.path.isabs(env):
        return Path(env)
    return Path.home() / ".local" / "share"


def default_exec() -> Path:
    """The ``tootbell`` of the environment this Python belongs to."""
    here = Path(sys.executable).parent
    for name in ("tootbell", "tootbell.exe"):
        candidate = here / name
        if candidate.exists():
            return candidate.resolve()
    found = shutil.which("tootbell")
    if found:
        return Path(found).resolve()
    raise InstallError(
        "Cannot find the tootbell command of this environment: install Tootbell first "
        "(pip install .), or name the program with --exec."
    )


def exec_value(program: Path) -> str:
    """``program`` as a desktop entry's Exec value, quoted and escaped by the Desktop Entry
    spec's rules (the same as the start-at-login entry's)."""
    from tootbell.autostart import AutostartError, desktop_exec_line

    if "%" in str(program):
        # GLib looks for the program before it undoes "%%": no launcher could run it.
        raise InstallError(f"The program path {program} contains '%', which launchers cannot run.")
    try:
        return desktop_exec_line([str(program)])
    except AutostartError as e:
        raise InstallError(e.message) from None


def desktop_entry(program: Path) -> str:
    """The source entry with Exec and TryExec pointing at ``program``."""
    source = (RESOURCES / f"{APP_ID}.desktop").read_text(encoding="utf-8")
    lines = [ln for ln in source.splitlines() if not ln.startswith(("Exec=", "TryExec="))]
    at = lines.index("[Desktop Entry]") + 1
    # TryExec is a plain path (no quoting): launchers hide the entry once the program is gone.
    lines[at:at] = [f"TryExec={program}", f"Exec={exec_value(program)}"]
    return "\n".join(lines) + "\n"


def planned(home: Path) -> dict[Path, Path | None]:
    """Every file the install writes -> its source (None: the generated desktop entry)."""
    files: dict[Path, Path | None] = {home / "applications" / f"{APP_ID}.desktop": None}
    icons = RESOURCES / "icons" / "hicolor"
    for src in sorted(p for p in icons.rglob("*") if p.is_file()):
        files[home / "icons" / "hicolor" / src.relative_to(icons)] = src
    files[home / "metainfo" / f"{APP_ID}.metainfo.xml"] = RESOURCES / f"{APP_ID}.metainfo.xml"
    return files


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install(home: Path, program: Path) -> list[Path]:
    if not program.is_absolute() or not program.exists():
        raise InstallError(f"{program} does not exist: name the installed tootbell with --exec.")
    exec_value(program)  # refuses a program no launcher can run
    if not (RESOURCES / "icons" / "hicolor").is_dir():
        raise InstallError("The icons are missing: run `make icons` first.")
    written: list[Path] = []
    try:
        for target, src in planned(home).items():
            data = desktop_entry(program).encode() if src is None else src.read_bytes()
            _write_atomically(target, data)
            written.append(target)
    except OSError as e:
        raise InstallError(f"Could not write {e.filename or home}: {e.strerror or e}.") from None
    _refresh_caches(home)
    return written


def uninstall(home: Path) -> list[Path]:
    removed: list[Path] = []
    for target in planned(home):
        try:
            target.unlink()
        except FileNotFoundError:
            continue
        except OSError as e:
            raise InstallError(f"Could not remove {target}: {e.strerror or e}.") from None
        removed.append(target)
        parent = target.parent
        while parent != home and parent.is_relative_to(home):
            try:
                parent.rmdir()  # only when empty
            except OSError:
                break
            parent = parent.parent
    _refresh_caches(home)
    return removed


def _refresh_caches(home: Path) -> None:
    """Launchers and icon themes cache what is installed; refresh them where possible."""
    apps = home / "applications"
    if apps.is_dir() and shutil.which("update-desktop-database"):
        subprocess.run(["update-desktop-database", "-q", str(apps)], check=False)
    theme = home / "icons" / "hicolor"
    if (theme / "index.theme").exists() and shutil.which("gtk-update-icon-cache"):
        subprocess.run(
            ["gtk-update-icon-cache", "-q", "-t", "-f", str(theme)],
            check=False,
            stderr=subprocess.DEVNULL,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Add Tootbell to this user's launcher.")
    parser.add_argument("action", choices=("install", "uninstall"))
    parser.add_argument("--exec", dest="program", help="the tootbell program to launch")
    parser.add_argument("--data-home", help="instead of $XDG_DATA_HOME")
    args = parser.parse_args(argv)
    home = data_home(args.data_home)
    try:
        if args.action == "install":
            program = Path(args.program).expanduser().resolve() if args.program else default_exec()
            written = install(home, program)
            print(f"Installed Tootbell for this user ({len(written)} files under {home}).")
            print(f"The launcher starts {program}.")
        else:
            removed = uninstall(home)
            print(f"Removed {len(removed)} files of Tootbell from {home}.")
    except InstallError as e:
        print(f"install_desktop: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
