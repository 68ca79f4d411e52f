"""Starting Tootbell when the person logs in: an XDG autostart entry on Linux and the BSDs, the
``Run`` registry value on Windows, a LaunchAgent on macOS.

The entry itself is the only record, so switching it off in the desktop's own startup tool
reads as off here too. Failures raise :class:`AutostartError`, whose ``message`` says in words
what went wrong.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import plistlib
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from tootbell import APP_ID, APP_NAME

log = logging.getLogger(__name__)

DESKTOP_ENTRY_NAME = f"{APP_ID}.desktop"
LAUNCH_AGENT_NAME = f"{APP_ID}.plist"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
# Where Task Manager's Startup tab (and Settings → Apps → Startup) records a switched-off entry.
STARTUP_APPROVED_KEY = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
RUN_VALUE = APP_NAME
FLATPAK_INFO = Path("/.flatpak-info")

_BSDS = ("freebsd", "openbsd", "netbsd", "dragonfly")


class AutostartError(Exception):
    """Start at login could not be read or changed; ``message`` says why, for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Autostart(Protocol):
    """One platform's way of starting Tootbell at login."""

    def current(self) -> bool:
        """Whether Tootbell starts at the next login."""
        ...

    def enable(self, command: Sequence[str]) -> None:
        """Start ``command`` (a program and its arguments) at every login from now on."""
        ...

    def disable(self) -> None:
        """Start nothing at login; fine when nothing was set up."""
        ...


# --------------------------------------------------------------------------- choosing


def _is_xdg(platform: str) -> bool:
    return platform.startswith("linux") or platform.startswith(_BSDS)


def available(
    *,
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
    flatpak_info: Path | None = None,
) -> str | None:
    """None when start at login can be set up here; else why not, in words."""
    platform = sys.platform if platform is None else platform
    env = os.environ if env is None else env
    flatpak_info = FLATPAK_INFO if flatpak_info is None else flatpak_info
    if _is_xdg(platform):
        if env.get("FLATPAK_ID") or flatpak_info.exists():
            return (
                "Tootbell runs in a Flatpak sandbox, and your desktop never reads a startup "
                "entry made inside it. Add Tootbell in your desktop's own startup settings "
                "instead."
            )
        return None
    if platform in ("win32", "darwin"):
        return None
    return f"Tootbell does not know how to start at login on this system ({platform})."


def for_platform(platform: str | None = None) -> Autostart:
    """The backend for ``platform`` (default: this one)."""
    platform = sys.platform if platform is None else platform
    if platform == "win32":
        return WindowsRunKey()
    if platform == "darwin":
        return LaunchAgent()
    if _is_xdg(platform):
        return XdgAutostart()
    raise AutostartError(f"Tootbell does not know how to start at login on {platform}.")


def default() -> Autostart | None:
    """This platform's backend, or None where :func:`available` says it cannot work."""
    if available() is not None:
        return None
    return for_platform()


def launch_command(
    *,
    executable: str | None = None,
    frozen: bool | None = None,
    platform: str | None = None,
) -> list[str]:
    """The command that starts this very installation of Tootbell, with absolute paths.

    A frozen bundle is its own executable; otherwise the ``tootbell`` script beside this
    Python (the virtual environment's own), or this Python running the package.
    """
    executable = sys.executable if executable is None else executable
    frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    platform = sys.platform if platform is None else platform
    if not executable:
        raise AutostartError(
            "Tootbell cannot tell which program it runs as, so it cannot set up start at login."
        )
    # Not resolved: a virtual environment's python is often a link to the system's, and the
    # script lies beside the link.
    program = Path(os.path.abspath(executable))
    if frozen:
        return [str(program)]
    script = program.parent / ("tootbell.exe" if platform == "win32" else "tootbell")
    if script.is_file():
        return [str(script)]
    return [str(program), "-m", "tootbell"]


# --------------------------------------------------------------------------- errors in words


def _reason(e: OSError) -> str:
    if e.errno == errno.EROFS:
        return "the folder is read-only"
    if isinstance(e, PermissionError) or e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.ENOSPC:
        return "the disk is full"
    if e.errno == errno.EDQUOT:
        return "the disk quota is used up"
    if isinstance(e, NotADirectoryError | FileExistsError):
        return "a file is in the way where a folder should be"
    if isinstance(e, IsADirectoryError):
        return "a folder is in the way where the file should be"
    text = e.strerror or type(e).__name__
    return text[:1].lower() + text[1:]


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` so that a reader sees the old file or the new one, never half of it."""
    # The XDG base directory spec asks for 0700 on folders it has to create.
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _write_entry(path: Path, data: bytes) -> None:
    try:
        _write_atomically(path, data)
    except OSError as e:
        raise AutostartError(
            f"Could not turn on start at login: Tootbell cannot write {path}: {_reason(e)}."
        ) from e
    log.info("Start at login is on: %s", path)


def _remove_entry(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except NotADirectoryError:
        return  # a file where the folder should be: there is no entry to remove
    except OSError as e:
        raise AutostartError(
            f"Could not turn off start at login: Tootbell cannot remove {path}: {_reason(e)}."
        ) from e
    log.info("Start at login is off: %s removed", path)


def _read_entry(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise AutostartError(
            f"Tootbell cannot tell whether it starts at login: it cannot read {path}: {_reason(e)}."
        ) from e


# --------------------------------------------------------------------------- Linux and the BSDs

# Characters that make the Desktop Entry spec's Exec rules ask for a quoted argument.
_EXEC_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
_STRING_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape_string(value: str) -> str:
    """The Desktop Entry spec's escapes for a value of type string."""
    return "".join(_STRING_ESCAPES.get(c, c) for c in value)


def _exec_argument(arg: str) -> str:
    arg = arg.replace("%", "%%")
    # Any other whitespace is quoted too: readers trim it off the end of a line.
    if arg and not _EXEC_RESERVED.intersection(arg) and not any(c.isspace() for c in arg):
        return arg
    quoted = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{quoted}"'


def desktop_exec_line(command: Sequence[str]) -> str:
    """``command`` as the value of a desktop entry's ``Exec`` key, as it goes in the file.

    Arguments with reserved characters are double-quoted with ``"`$\\`` escaped, ``%`` is
    doubled, and then the string escapes apply on top (so one backslash becomes four).
    """
    if not command:
        raise ValueError("an empty command")
    if "%" in command[0]:
        # GLib looks for the program before it undoes %%: no launcher could start it.
        raise AutostartError(
            f"Tootbell cannot start at login from {command[0]}: desktops cannot run a "
            "program whose path contains '%'."
        )
    return _escape_string(" ".join(_exec_argument(a) for a in command))


def desktop_entry(command: Sequence[str]) -> str:
    """The autostart entry that runs ``command``."""
    if not command:
        raise ValueError("an empty command")
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        f"Name={APP_NAME}",
        "Comment=Desktop notifications for Mastodon from the system tray",
        # Once the program is gone the desktop skips the entry instead of failing to start it.
        f"TryExec={_escape_string(command[0])}",
        f"Exec={desktop_exec_line(command)}",
        f"Icon={APP_ID}",
        "Terminal=false",
        "StartupNotify=false",
        "NoDisplay=false",
        "X-GNOME-Autostart-enabled=true",
    ]
    return "\n".join(lines) + "\n"


def read_desktop_entry(text: str) -> dict[str, str]:
    """The keys of the ``[Desktop Entry]`` group (values as written, unescaped)."""
    keys: dict[str, str] = {}
    group: str | None = None
    for raw in text.split("\n"):  # as GLib reads it: other line breaks are not line ends
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
            continue
        if group != "Desktop Entry" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        keys.setdefault(key.strip(), value.strip())
    return keys


def _boolean(value: str | None) -> bool | None:
    # The spec says "true" and "false"; GLib also reads 1 and 0, so some tools write them.
    if value is None:
        return None
    return {"true": True, "1": True, "false": False, "0": False}.get(value.strip().lower())


def entry_switched_on(entry: Mapping[str, str]) -> bool:
    """False for an entry that desktops' startup tools have switched off."""
    if _boolean(entry.get("Hidden")) is True:
        return False
    return _boolean(entry.get("X-GNOME-Autostart-enabled")) is not False


def xdg_config_home(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME``, or ``~/.config`` when it is unset or not absolute (per the spec)."""
    env = os.environ if env is None else env
    configured = env.get("XDG_CONFIG_HOME", "")
    if configured and os.path.isabs(configured):
        return Path(configured)
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".config"


class XdgAutostart:
    """``$XDG_CONFIG_HOME/autostart/org.tootbell.Tootbell.desktop``, read by every XDG desktop."""

    def __init__(self, config_home: Path | None = None) -> None:
        base = xdg_config_home() if config_home is None else config_home
        self.path = base / "autostart" / DESKTOP_ENTRY_NAME

    def current(self) -> bool:
        data = _read_entry(self.path)
        if data is None:
            return False
        return entry_switched_on(read_desktop_entry(data.decode("utf-8", errors="replace")))

    def enable(self, command: Sequence[str]) -> None:
        _write_entry(self.path, desktop_entry(command).encode("utf-8"))

    def disable(self) -> None:
        _remove_entry(self.path)


# --------------------------------------------------------------------------- macOS


def launch_agent(command: Sequence[str]) -> bytes:
    """The LaunchAgent property list that runs ``command`` at login, in the Aqua session."""
    if not command:
        raise ValueError("an empty command")
    return plistlib.dumps(
        {
            "Label": APP_ID,
            "ProgramArguments": list(command),
            "RunAtLoad": True,
            "ProcessType": "Interactive",
            "LimitLoadToSessionType": "Aqua",
        }
    )


class LaunchAgent:
    """``~/Library/LaunchAgents/org.tootbell.Tootbell.plist``, loaded by launchd at login."""

    def __init__(self, home: Path | None = None) -> None:
        base = Path.home() if home is None else home
        self.path = base / "Library" / "LaunchAgents" / LAUNCH_AGENT_NAME

    def current(self) -> bool:
        data = _read_entry(self.path)
        if data is None:
            return False
        try:
            agent = plistlib.loads(data)
        except Exception:  # plistlib raises several kinds for a damaged file
            log.warning("Ignoring %s: it is not a property list launchd can read", self.path)
            return False
        # launchd skips an agent marked Disabled, as `launchctl` tools write it.
        return isinstance(agent, dict) and agent.get("Disabled") is not True

    def enable(self, command: Sequence[str]) -> None:
        _write_entry(self.path, launch_agent(command))

    def disable(self) -> None:
        _remove_entry(self.path)


# --------------------------------------------------------------------------- Windows


def _quote_windows_argument(arg: str) -> str:
    if arg and not any(c in arg for c in ' \t\n\v"'):
        return arg
    out = ['"']
    backslashes = 0
    for c in arg:
        if c == "\\":
            backslashes += 1
            continue
        if c == '"':
            # Backslashes before a quote are doubled, and the quote itself escaped.
            out.append("\\" * (2 * backslashes + 1) + '"')
        else:
            out.append("\\" * backslashes + c)
        backslashes = 0
    # Before the closing quote too: doubled, so that they stay backslashes.
    out.append("\\" * (2 * backslashes) + '"')
    return "".join(out)


def windows_command_line(args: Sequence[str]) -> str:
    """``args`` as one command line that ``CommandLineToArgvW`` splits back into ``args``.

    The program name follows its own rule there: it runs to the next double quote when it
    starts with one, and nothing in it is escaped, so it is always quoted (as Windows writes
    Run values) and may not contain a double quote.
    """
    if not args:
        raise ValueError("an empty command")
    program, rest = args[0], args[1:]
    if '"' in program:
        raise ValueError(f"a program name cannot contain a double quote: {program!r}")
    return " ".join([f'"{program}"', *(_quote_windows_argument(a) for a in rest)])


class Registry(Protocol):
    """What Tootbell uses of the ``winreg`` module (tests pass an object of their own)."""

    @property
    def HKEY_CURRENT_USER(self) -> int: ...
    @property
    def KEY_READ(self) -> int: ...
    @property
    def KEY_SET_VALUE(self) -> int: ...
    @property
    def REG_SZ(self) -> int: ...

    def OpenKey(self, key: Any, sub_key: str, reserved: int, access: int, /) -> Any: ...
    def CreateKeyEx(self, key: Any, sub_key: str, reserved: int, access: int, /) -> Any: ...
    def CloseKey(self, hkey: Any, /) -> None: ...
    def QueryValueEx(self, key: Any, name: str, /) -> tuple[Any, int]: ...
    def SetValueEx(self, key: Any, name: str, reserved: int, type: int, value: str, /) -> None: ...
    def DeleteValue(self, key: Any, value: str, /) -> None: ...


def _system_registry() -> Registry:
    if sys.platform == "win32":
        import winreg

        return winreg
    raise AutostartError("The Windows registry is only there on Windows.")


class WindowsRunKey:
    """The ``Tootbell`` value under ``HKEY_CURRENT_USER\\...\\CurrentVersion\\Run``.

    An entry switched off in Task Manager's Startup tab keeps its Run value; Windows records
    the switch under ``StartupApproved\\Run``, so that is read too, and cleared on enable.
    """

    where = f"HKEY_CURRENT_USER\\{RUN_KEY}"

    def __init__(self, registry: Registry | None = None) -> None:
        self._registry = registry

    def _reg(self) -> Registry:
        if self._registry is None:
            self._registry = _system_registry()
        return self._registry

    def _query(self, sub_key: str) -> Any:
        """The value named ``Tootbell`` under ``sub_key``, or None when there is none."""
        reg = self._reg()
        try:
            key = reg.OpenKey(reg.HKEY_CURRENT_USER, sub_key, 0, reg.KEY_READ)
        except FileNotFoundError:
            return None
        try:
            return reg.QueryValueEx(key, RUN_VALUE)[0]
        except FileNotFoundError:
            return None
        finally:
            reg.CloseKey(key)

    def _delete(self, sub_key: str) -> None:
        reg = self._reg()
        try:
            key = reg.OpenKey(reg.HKEY_CURRENT_USER, sub_key, 0, reg.KEY_SET_VALUE)
        except FileNotFoundError:
            return
        try:
            reg.DeleteValue(key, RUN_VALUE)
        except FileNotFoundError:
            pass
        finally:
            reg.CloseKey(key)

    def current(self) -> bool:
        try:
            command = self._query(RUN_KEY)
            if not command:
                return False
            approved = self._query(STARTUP_APPROVED_KEY)
        except OSError as e:
            raise AutostartError(
                f"Tootbell cannot tell whether it starts at login: it cannot read "
                f"{self.where}: {_reason(e)}."
            ) from e
        # The first byte's lowest bit set (03, 07) means switched off; 02 and 06 mean on.
        return not (isinstance(approved, bytes) and approved[:1] and approved[0] & 1)

    def enable(self, command: Sequence[str]) -> None:
        line = windows_command_line(command)
        reg = self._reg()
        try:
            key = reg.CreateKeyEx(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_SET_VALUE)
            try:
                reg.SetValueEx(key, RUN_VALUE, 0, reg.REG_SZ, line)
            finally:
                reg.CloseKey(key)
            # Else an earlier "Disable" in Task Manager would keep it off.
            self._delete(STARTUP_APPROVED_KEY)
        except OSError as e:
            raise AutostartError(
                f"Could not turn on start at login: Tootbell cannot write to {self.where}: "
                f"{_reason(e)}."
            ) from e
        log.info("Start at login is on: %s\\%s", self.where, RUN_VALUE)

    def disable(self) -> None:
        try:
            self._delete(RUN_KEY)
            self._delete(STARTUP_APPROVED_KEY)
        except OSError as e:
            raise AutostartError(
                f"Could not turn off start at login: Tootbell cannot change {self.where}: "
                f"{_reason(e)}."
            ) from e
        log.info("Start at login is off: %s\\%s removed", self.where, RUN_VALUE)
