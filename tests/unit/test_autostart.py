"""Unit tests of tootbell.autostart: each backend's entry, its on/off reading, its errors.

The XDG and macOS backends write real files under a temporary folder. ``winreg`` exists only
on Windows, so it cannot run here: the Windows backend is tested against a fake registry that
keeps keys in a dict and checks that writes go through keys opened for writing.
"""

from __future__ import annotations

import configparser
import errno
import os
import plistlib
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tootbell import autostart
from tootbell.autostart import (
    RUN_KEY,
    STARTUP_APPROVED_KEY,
    AutostartError,
    LaunchAgent,
    WindowsRunKey,
    XdgAutostart,
    available,
    desktop_entry,
    desktop_exec_line,
    launch_command,
    windows_command_line,
)

COMMAND = ["/opt/tootbell env/bin/tootbell"]

# --------------------------------------------------------------------------- Desktop Entry spec

# Read back as the Desktop Entry spec says, independently of the writer: the string escapes
# first, then the Exec quoting, then %% to %.
_STRING_UNESCAPES = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def unescape_string(value: str) -> str:
    out, chars = [], iter(value)
    for c in chars:
        if c == "\\":
            nxt = next(chars)
            assert nxt in _STRING_UNESCAPES, f"unknown string escape \\{nxt}"
            out.append(_STRING_UNESCAPES[nxt])
        else:
            out.append(c)
    return "".join(out)


def split_exec(value: str) -> list[str]:
    """An Exec value (as in the file) back into the program and its arguments."""
    text = unescape_string(value)
    args: list[str] = []
    current: list[str] | None = None
    i = 0
    while i < len(text):
        c = text[i]
        if c == " ":
            if current is not None:
                args.append("".join(current))
                current = None
            i += 1
            continue
        current = [] if current is None else current
        if c == '"':
            i += 1
            while text[i] != '"':
                if text[i] == "\\":
                    i += 1
                    assert text[i] in '"`$\\', f"{text[i]!r} may not be escaped in quotes"
                current.append(text[i])
                i += 1
            i += 1
            continue
        assert c not in _RESERVED, f"reserved {c!r} outside quotes in {value!r}"
        current.append(c)
        i += 1
    if current is not None:
        args.append("".join(current))

    def percent(match: re.Match[str]) -> str:
        assert match[1] == "%", f"a field code %{match[1]} where a literal was meant"
        return "%"

    return [re.sub("%(.)", percent, a, flags=re.DOTALL) for a in args]


def parse_entry(text: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    assert parser.sections() == ["Desktop Entry"]
    return parser["Desktop Entry"]


# --------------------------------------------------------------------------- XDG: the entry


def test_the_entry_is_a_desktop_entry_that_runs_the_command(tmp_path: Path) -> None:
    backend = XdgAutostart(tmp_path / "config")
    backend.enable(COMMAND)
    path = tmp_path / "config" / "autostart" / "org.tootbell.Tootbell.desktop"
    assert backend.path == path
    entry = parse_entry(path.read_text(encoding="utf-8"))
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Tootbell"
    assert entry["Icon"] == "org.tootbell.Tootbell"
    assert entry["Terminal"] == "false"
    assert entry["NoDisplay"] == "false"
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    assert "Hidden" not in entry
    assert entry["Exec"] == '"/opt/tootbell env/bin/tootbell"'
    assert split_exec(entry["Exec"]) == COMMAND
    assert unescape_string(entry["TryExec"]) == COMMAND[0]
    assert backend.current() is True


def test_the_entry_is_world_readable_and_nothing_is_left_behind(tmp_path: Path) -> None:
    backend = XdgAutostart(tmp_path)
    backend.enable(COMMAND)
    backend.enable(["/usr/bin/tootbell"])  # over the old one
    assert [p.name for p in (tmp_path / "autostart").iterdir()] == [backend.path.name]
    assert backend.path.stat().st_mode & 0o777 == 0o644
    assert split_exec(parse_entry(backend.path.read_text())["Exec"]) == ["/usr/bin/tootbell"]


EXEC_CASES = [
    (["/usr/bin/tootbell"], "/usr/bin/tootbell"),
    (["/usr/bin/python3", "-m", "tootbell"], "/usr/bin/python3 -m tootbell"),
    (["/home/a b/tootbell"], '"/home/a b/tootbell"'),
    (["/bin/t", 'say "hi"'], r'/bin/t "say \\"hi\\""'),
    (["/bin/t", "C:\\dir\\"], r'/bin/t "C:\\\\dir\\\\"'),
    (["/bin/t", "$HOME"], r'/bin/t "\\$HOME"'),
    (["/bin/t", "`id`"], r'/bin/t "\\`id\\`"'),
    (["/bin/t", "100%"], "/bin/t 100%%"),
    (["/bin/t", "%u"], "/bin/t %%u"),
    (["/bin/t", ""], '/bin/t ""'),
    (["/bin/t", "it's"], '/bin/t "it\'s"'),
    (["/bin/t", "~/x"], '/bin/t "~/x"'),
    (["/bin/t", "two\nlines"], r'/bin/t "two\nlines"'),
    (["/bin/t", "a\tb"], r'/bin/t "a\tb"'),
    (["/bin/t", "--x=1"], "/bin/t --x=1"),
    (["/bin/t", "nb\xa0sp"], '/bin/t "nb\xa0sp"'),
]


@pytest.mark.parametrize(("command", "expected"), EXEC_CASES)
def test_exec_quoting(command: list[str], expected: str) -> None:
    assert desktop_exec_line(command) == expected
    assert split_exec(expected) == command


_ARG = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(" \t\n\"'\\$`%~#"),
    max_size=12,
)


@given(args=st.lists(_ARG, max_size=5))
def test_exec_round_trips_any_arguments(args: list[str]) -> None:
    command = ["/opt/my apps/tootbell", *args]
    assert split_exec(desktop_exec_line(command)) == command
    assert split_exec(parse_entry(desktop_entry(command))["Exec"]) == command


def test_a_percent_in_the_program_is_refused_in_words() -> None:
    with pytest.raises(AutostartError, match="cannot run a program whose path contains '%'"):
        desktop_exec_line(["/opt/100%/tootbell"])
    with pytest.raises(ValueError):
        desktop_exec_line([])


# --------------------------------------------------------------------------- XDG: on and off


def write_entry(backend: XdgAutostart, text: str) -> None:
    backend.path.parent.mkdir(parents=True, exist_ok=True)
    backend.path.write_text(text, encoding="utf-8")


def test_no_entry_is_off(tmp_path: Path) -> None:
    assert XdgAutostart(tmp_path).current() is False


@pytest.mark.parametrize(
    "extra",
    ["Hidden=true", "X-GNOME-Autostart-enabled=false", "Hidden = true", "Hidden=1"],
)
def test_an_entry_switched_off_by_the_desktop_is_off(tmp_path: Path, extra: str) -> None:
    backend = XdgAutostart(tmp_path)
    backend.enable(COMMAND)
    text = backend.path.read_text().replace("X-GNOME-Autostart-enabled=true\n", "")
    write_entry(backend, text + extra + "\n")
    assert backend.current() is False


@pytest.mark.parametrize(
    "text",
    [
        "[Desktop Entry]\nType=Application\nExec=tootbell\n",  # a minimal hand-written one
        "[Desktop Entry]\nType=Application\nExec=tootbell\nHidden=false\n",
        "[Desktop Entry]\nExec=tootbell\nX-GNOME-Autostart-enabled=true\n",
        # Keys of other groups say nothing about the entry.
        "[Desktop Entry]\nExec=tootbell\n\n[Desktop Action x]\nHidden=true\n",
        "# Hidden=true\n[Desktop Entry]\nExec=tootbell\n",
    ],
)
def test_an_entry_not_switched_off_is_on(tmp_path: Path, text: str) -> None:
    backend = XdgAutostart(tmp_path)
    write_entry(backend, text)
    assert backend.current() is True


def test_enable_over_a_switched_off_entry_switches_it_on(tmp_path: Path) -> None:
    backend = XdgAutostart(tmp_path)
    write_entry(backend, "[Desktop Entry]\nType=Application\nExec=old\nHidden=true\n")
    backend.enable(COMMAND)
    assert backend.current() is True
    assert "Hidden" not in parse_entry(backend.path.read_text())


def test_disable_removes_the_entry(tmp_path: Path) -> None:
    backend = XdgAutostart(tmp_path)
    backend.enable(COMMAND)
    backend.disable()
    assert not backend.path.exists()
    assert backend.current() is False
    backend.disable()  # nothing there: fine


def test_xdg_config_home_follows_the_spec(tmp_path: Path) -> None:
    home = {"HOME": str(tmp_path)}
    assert autostart.xdg_config_home(home) == tmp_path / ".config"
    assert autostart.xdg_config_home({**home, "XDG_CONFIG_HOME": "/x/cfg"}) == Path("/x/cfg")
    # A relative path is invalid there, and ignored.
    assert autostart.xdg_config_home({**home, "XDG_CONFIG_HOME": "cfg"}) == tmp_path / ".config"


def test_the_default_entry_is_under_xdg_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path = XdgAutostart().path
    assert path == tmp_path / "autostart" / "org.tootbell.Tootbell.desktop"


# --------------------------------------------------------------------------- XDG: errors


def test_a_file_where_the_folder_should_be_is_said_in_words(tmp_path: Path) -> None:
    (tmp_path / "autostart").write_text("not a folder")
    backend = XdgAutostart(tmp_path)
    with pytest.raises(AutostartError) as caught:
        backend.enable(COMMAND)
    assert caught.value.message == (
        f"Could not turn on start at login: Tootbell cannot write {backend.path}: "
        "a file is in the way where a folder should be."
    )
    assert backend.current() is False
    backend.disable()  # there is no entry to remove


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.EACCES, "permission denied"),
        (errno.EPERM, "permission denied"),
        (errno.EROFS, "the folder is read-only"),
        (errno.ENOSPC, "the disk is full"),
        (errno.EDQUOT, "the disk quota is used up"),
    ],
)
def test_an_unwritable_folder_is_said_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, words: str
) -> None:
    # Run as root (as CI is), a chmod'ed folder stays writable: the OS's refusal is simulated.
    def refuse(*_args: object, **_kwargs: object) -> object:
        raise OSError(code, os.strerror(code))

    backend = XdgAutostart(tmp_path)
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(AutostartError) as caught:
        backend.enable(COMMAND)
    assert caught.value.message.startswith("Could not turn on start at login:")
    assert caught.value.message.endswith(f"{backend.path}: {words}.")
    assert not backend.path.exists()


def test_a_failed_write_keeps_the_old_entry_and_leaves_no_litter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = XdgAutostart(tmp_path)
    backend.enable(["/old/tootbell"])
    before = backend.path.read_bytes()

    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(AutostartError, match="the disk is full"):
        backend.enable(COMMAND)
    assert backend.path.read_bytes() == before
    assert [p.name for p in backend.path.parent.iterdir()] == [backend.path.name]


def test_a_refused_removal_is_said_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = XdgAutostart(tmp_path)
    backend.enable(COMMAND)

    def refuse(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "unlink", refuse)
    with pytest.raises(AutostartError) as caught:
        backend.disable()
    assert caught.value.message == (
        f"Could not turn off start at login: Tootbell cannot remove {backend.path}: "
        "permission denied."
    )


def test_an_unreadable_entry_is_said_in_words(tmp_path: Path) -> None:
    backend = XdgAutostart(tmp_path)
    backend.path.mkdir(parents=True)  # a folder where the entry should be
    with pytest.raises(AutostartError) as caught:
        backend.current()
    assert caught.value.message == (
        f"Tootbell cannot tell whether it starts at login: it cannot read {backend.path}: "
        "a folder is in the way where the file should be."
    )


# --------------------------------------------------------------------------- macOS


def test_the_launch_agent_runs_the_command_at_login(tmp_path: Path) -> None:
    agent = LaunchAgent(tmp_path)
    command = ["/Applications/Tootbell.app/Contents/MacOS/Tootbell", "--flag"]
    agent.enable(command)
    assert agent.path == tmp_path / "Library" / "LaunchAgents" / "org.tootbell.Tootbell.plist"
    with agent.path.open("rb") as f:
        assert plistlib.load(f) == {
            "Label": "org.tootbell.Tootbell",
            "ProgramArguments": command,
            "RunAtLoad": True,
            "ProcessType": "Interactive",
            "LimitLoadToSessionType": "Aqua",
        }
    assert agent.path.read_bytes().startswith(b"<?xml")
    assert agent.current() is True
    agent.disable()
    assert not agent.path.exists()
    assert agent.current() is False
    agent.disable()


def test_a_disabled_or_damaged_launch_agent_is_off(tmp_path: Path) -> None:
    agent = LaunchAgent(tmp_path)
    agent.enable(COMMAND)
    data = plistlib.loads(agent.path.read_bytes())
    agent.path.write_bytes(plistlib.dumps({**data, "Disabled": True}))
    assert agent.current() is False
    agent.path.write_bytes(b"<?xml version='1.0'?><plist><dict><key>Label")
    assert agent.current() is False
    agent.enable(COMMAND)
    assert agent.current() is True


def test_an_unwritable_launch_agents_folder_is_said_in_words(tmp_path: Path) -> None:
    (tmp_path / "Library").write_text("in the way")
    agent = LaunchAgent(tmp_path)
    with pytest.raises(AutostartError, match="a file is in the way where a folder should be"):
        agent.enable(COMMAND)


# --------------------------------------------------------------------------- Windows: quoting


def command_line_to_argv(line: str) -> list[str]:
    """Split ``line`` as CommandLineToArgvW does (the rules in Microsoft's documentation)."""
    args: list[str] = []
    i, n = 0, len(line)
    # The program name: up to the next quote if quoted, else to the first space or tab;
    # nothing in it is an escape.
    if line.startswith('"'):
        end = line.find('"', 1)
        end = n if end < 0 else end
        args.append(line[1:end])
        i = end + 1
    else:
        while i < n and line[i] not in " \t":
            i += 1
        args.append(line[:i])
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return args
        arg: list[str] = []
        quoted = False
        while i < n and (quoted or line[i] not in " \t"):
            if line[i] == "\\":
                start = i
                while i < n and line[i] == "\\":
                    i += 1
                count = i - start
                if i < n and line[i] == '"':
                    arg.append("\\" * (count // 2))
                    if count % 2:
                        arg.append('"')
                        i += 1
                else:
                    arg.append("\\" * count)
            elif line[i] == '"':
                if quoted and i + 1 < n and line[i + 1] == '"':
                    arg.append('"')  # "" inside quotes: a literal quote
                    i += 2
                else:
                    quoted = not quoted
                    i += 1
            else:
                arg.append(line[i])
                i += 1
        args.append("".join(arg))


PROGRAM = "C:\\Program Files\\Tootbell\\tootbell.exe"

WINDOWS_CASES = [
    ([PROGRAM], '"C:\\Program Files\\Tootbell\\tootbell.exe"'),
    (["C:\\Tootbell\\tootbell.exe"], '"C:\\Tootbell\\tootbell.exe"'),
    ([PROGRAM, "plain"], f'"{PROGRAM}" plain'),
    ([PROGRAM, "with space"], f'"{PROGRAM}" "with space"'),
    ([PROGRAM, 'say "hi"'], f'"{PROGRAM}" "say \\"hi\\""'),
    ([PROGRAM, 'no"space'], f'"{PROGRAM}" "no\\"space"'),
    # Backslashes are literal unless a quote follows, so a quoted trailing run is doubled.
    ([PROGRAM, "C:\\dir with space\\"], f'"{PROGRAM}" "C:\\dir with space\\\\"'),
    ([PROGRAM, "C:\\nospace\\"], f'"{PROGRAM}" C:\\nospace\\'),
    ([PROGRAM, "a\\\\b"], f'"{PROGRAM}" a\\\\b'),
    ([PROGRAM, 'a\\\\"b'], f'"{PROGRAM}" "a\\\\\\\\\\"b"'),
    ([PROGRAM, "\\\\server\\share"], f'"{PROGRAM}" \\\\server\\share'),
    ([PROGRAM, ""], f'"{PROGRAM}" ""'),
    ([PROGRAM, "tab\there"], f'"{PROGRAM}" "tab\there"'),
    ([PROGRAM, "--path=C:\\x y\\"], f'"{PROGRAM}" "--path=C:\\x y\\\\"'),
]


@pytest.mark.parametrize(("args", "expected"), WINDOWS_CASES)
def test_windows_command_line(args: list[str], expected: str) -> None:
    assert windows_command_line(args) == expected
    assert command_line_to_argv(expected) == args


@given(args=st.lists(st.text(st.characters(blacklist_characters="\x00"), max_size=12)))
def test_windows_command_line_round_trips_any_arguments(args: list[str]) -> None:
    line = windows_command_line([PROGRAM, *args])
    assert command_line_to_argv(line) == [PROGRAM, *args]


def test_windows_command_line_refuses_what_it_cannot_say() -> None:
    with pytest.raises(ValueError):
        windows_command_line([])
    with pytest.raises(ValueError):
        windows_command_line(['C:\\a"b.exe'])


# --------------------------------------------------------------------------- Windows: the key


class FakeKey:
    def __init__(self, path: str, access: int) -> None:
        self.path, self.access, self.closed = path, access, False


class FakeRegistry:
    """The parts of ``winreg`` the backend uses, over a dict of key paths to values."""

    HKEY_CURRENT_USER = 0x80000001
    KEY_READ = 0x20019
    KEY_SET_VALUE = 0x0002
    REG_SZ = 1
    REG_BINARY = 3

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, tuple[Any, int]]] = {}
        self.handles: list[FakeKey] = []
        self.refuse_writes = False

    def _open(self, root: int, sub_key: str, access: int, create: bool) -> FakeKey:
        assert root == self.HKEY_CURRENT_USER
        if sub_key not in self.keys:
            if not create:
                raise FileNotFoundError(2, "The system cannot find the file specified")
            self.keys[sub_key] = {}
        key = FakeKey(sub_key, access)
        self.handles.append(key)
        return key

    def OpenKey(self, root: int, sub_key: str, reserved: int = 0, access: int = KEY_READ) -> Any:
        return self._open(root, sub_key, access, create=False)

    def CreateKeyEx(self, root: int, sub_key: str, reserved: int = 0, access: int = 0) -> Any:
        return self._open(root, sub_key, access, create=True)

    def CloseKey(self, key: FakeKey) -> None:
        key.closed = True

    def QueryValueEx(self, key: FakeKey, name: str) -> tuple[Any, int]:
        assert not key.closed and key.access & self.KEY_READ == self.KEY_READ
        try:
            return self.keys[key.path][name]
        except KeyError:
            raise FileNotFoundError(2, "The system cannot find the file specified") from None

    def _writable(self, key: FakeKey) -> None:
        assert not key.closed and key.access & self.KEY_SET_VALUE
        if self.refuse_writes:
            raise PermissionError(13, "Access is denied")

    def SetValueEx(self, key: FakeKey, name: str, reserved: int, kind: int, value: Any) -> None:
        self._writable(key)
        self.keys[key.path][name] = (value, kind)

    def DeleteValue(self, key: FakeKey, name: str) -> None:
        self._writable(key)
        if name not in self.keys[key.path]:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        del self.keys[key.path][name]

    def all_closed(self) -> bool:
        return all(k.closed for k in self.handles)


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


def test_run_value_holds_the_quoted_command_line(registry: FakeRegistry) -> None:
    backend = WindowsRunKey(registry)
    assert backend.current() is False  # not even the key exists yet
    backend.enable([PROGRAM, "--x", "a b"])
    assert registry.keys[RUN_KEY]["Tootbell"] == (f'"{PROGRAM}" --x "a b"', registry.REG_SZ)
    assert backend.current() is True
    backend.disable()
    assert "Tootbell" not in registry.keys[RUN_KEY]
    assert backend.current() is False
    backend.disable()  # nothing there: fine
    assert registry.all_closed()


def test_other_run_values_are_left_alone(registry: FakeRegistry) -> None:
    registry.keys[RUN_KEY] = {"OneDrive": ("C:\\od.exe", registry.REG_SZ)}
    backend = WindowsRunKey(registry)
    backend.enable([PROGRAM])
    backend.disable()
    assert registry.keys[RUN_KEY] == {"OneDrive": ("C:\\od.exe", registry.REG_SZ)}


@pytest.mark.parametrize(("first", "on"), [(2, True), (6, True), (3, False), (7, False)])
def test_switched_off_in_task_manager_is_off(registry: FakeRegistry, first: int, on: bool) -> None:
    backend = WindowsRunKey(registry)
    backend.enable([PROGRAM])
    registry.keys[STARTUP_APPROVED_KEY] = {
        "Tootbell": (bytes([first]) + bytes(11), registry.REG_BINARY)
    }
    assert backend.current() is on


def test_enable_clears_task_managers_switch(registry: FakeRegistry) -> None:
    backend = WindowsRunKey(registry)
    backend.enable([PROGRAM])
    registry.keys[STARTUP_APPROVED_KEY] = {"Tootbell": (b"\x03" + bytes(11), registry.REG_BINARY)}
    assert backend.current() is False
    backend.enable([PROGRAM])
    assert backend.current() is True
    assert "Tootbell" not in registry.keys[STARTUP_APPROVED_KEY]
    assert registry.all_closed()


def test_a_refused_registry_write_is_said_in_words(registry: FakeRegistry) -> None:
    registry.refuse_writes = True
    backend = WindowsRunKey(registry)
    with pytest.raises(AutostartError) as caught:
        backend.enable([PROGRAM])
    assert caught.value.message == (
        "Could not turn on start at login: Tootbell cannot write to HKEY_CURRENT_USER\\"
        "Software\\Microsoft\\Windows\\CurrentVersion\\Run: permission denied."
    )
    with pytest.raises(AutostartError, match="Could not turn off start at login"):
        registry.keys[RUN_KEY]["Tootbell"] = ("x", registry.REG_SZ)
        backend.disable()
    assert registry.all_closed()


def test_without_winreg_the_backend_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(AutostartError, match="only there on Windows"):
        WindowsRunKey().current()


# --------------------------------------------------------------------------- choosing


def test_each_platform_gets_its_backend() -> None:
    assert isinstance(autostart.for_platform("linux"), XdgAutostart)
    assert isinstance(autostart.for_platform("freebsd14"), XdgAutostart)
    assert isinstance(autostart.for_platform("darwin"), LaunchAgent)
    assert isinstance(autostart.for_platform("win32"), WindowsRunKey)
    with pytest.raises(AutostartError):
        autostart.for_platform("aix")


def test_available_outside_a_sandbox(tmp_path: Path) -> None:
    nowhere = tmp_path / "no-flatpak-info"
    for platform in ("linux", "freebsd14", "openbsd7", "win32", "darwin"):
        assert available(platform=platform, env={}, flatpak_info=nowhere) is None
    assert "does not know how to start at login" in str(
        available(platform="aix", env={}, flatpak_info=nowhere)
    )


def test_not_available_inside_a_flatpak(tmp_path: Path) -> None:
    nowhere = tmp_path / "no-flatpak-info"
    why = available(
        platform="linux", env={"FLATPAK_ID": "org.tootbell.Tootbell"}, flatpak_info=nowhere
    )
    assert why is not None and "Flatpak" in why and "never reads" in why
    info = tmp_path / ".flatpak-info"
    info.write_text("[Application]\nname=org.tootbell.Tootbell\n")
    assert available(platform="linux", env={}, flatpak_info=info) == why


def test_default_is_none_where_not_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(autostart, "FLATPAK_INFO", tmp_path / "no-flatpak-info")
    monkeypatch.setenv("FLATPAK_ID", "org.tootbell.Tootbell")
    assert autostart.default() is None
    monkeypatch.delenv("FLATPAK_ID")
    assert isinstance(autostart.default(), XdgAutostart)
    monkeypatch.setattr(sys, "platform", "win32")
    assert isinstance(autostart.default(), WindowsRunKey)


# --------------------------------------------------------------------------- launch_command


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    return path


def test_a_frozen_bundle_starts_itself(tmp_path: Path) -> None:
    exe = touch(tmp_path / "Tootbell.app" / "Contents" / "MacOS" / "Tootbell")
    touch(exe.parent / "tootbell")  # beside it, but a bundle is its own program
    assert launch_command(executable=str(exe), frozen=True) == [str(exe)]


def test_the_script_beside_this_python(tmp_path: Path) -> None:
    python = touch(tmp_path / "venv" / "bin" / "python")
    script = touch(tmp_path / "venv" / "bin" / "tootbell")
    assert launch_command(executable=str(python), frozen=False, platform="linux") == [str(script)]


def test_the_script_beside_this_python_on_windows(tmp_path: Path) -> None:
    python = touch(tmp_path / "venv" / "Scripts" / "python.exe")
    touch(tmp_path / "venv" / "Scripts" / "tootbell")  # not what Windows runs
    script = touch(tmp_path / "venv" / "Scripts" / "tootbell.exe")
    assert launch_command(executable=str(python), frozen=False, platform="win32") == [str(script)]


def test_without_a_script_python_runs_the_package(tmp_path: Path) -> None:
    python = touch(tmp_path / "bin" / "python3")
    expected = [str(python), "-m", "tootbell"]
    assert launch_command(executable=str(python), frozen=False, platform="linux") == expected


def test_never_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touch(tmp_path / "venv" / "bin" / "python")
    touch(tmp_path / "venv" / "bin" / "tootbell")
    monkeypatch.chdir(tmp_path)
    command = launch_command(executable="venv/bin/python", frozen=False, platform="linux")
    assert command == [str(tmp_path / "venv" / "bin" / "tootbell")]
    assert Path(command[0]).is_absolute()
    frozen = launch_command(executable="Tootbell.exe", frozen=True, platform="win32")
    assert Path(frozen[0]).is_absolute()


def test_no_executable_is_said_in_words() -> None:
    with pytest.raises(AutostartError, match="cannot tell which program it runs as"):
        launch_command(executable="", frozen=False)


def test_this_installation_starts_its_own_script() -> None:
    # The tests run in the virtual environment Tootbell is installed in, beside its script.
    script = "tootbell.exe" if sys.platform == "win32" else "tootbell"
    beside = Path(os.path.abspath(sys.executable)).parent / script
    assert beside.is_file()
    assert launch_command() == [str(beside)]


def test_enable_takes_any_sequence(tmp_path: Path) -> None:
    command: Sequence[str] = ("/usr/bin/tootbell", "--x")
    XdgAutostart(tmp_path).enable(command)
    LaunchAgent(tmp_path).enable(command)
    registry = FakeRegistry()
    WindowsRunKey(registry).enable(command)
    assert registry.keys[RUN_KEY]["Tootbell"][0] == '"/usr/bin/tootbell" --x'
