"""A private headless desktop session for the desktop tests, and helpers to look inside it.

``session.py`` uses :class:`DesktopSession` to start Xvfb, a session D-Bus, dunst, an
xfce4-panel tray host and gnome-keyring, all confined to a temporary directory. Tests import
the helpers below (``dunst_history()``, ``tray_items()``, ``lock_keyring()`` …); they talk to
the bus named by ``DBUS_SESSION_BUS_ADDRESS``, so they only make sense inside that session.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from jeepney import DBusAddress, MatchRule, Properties, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from jeepney.low_level import HeaderFields, Message, MessageType

log = logging.getLogger(__name__)

T = TypeVar("T")

# Environment variables the session exports to the command it runs.
ENV_INSIDE = "TOOTBELL_DESKTOP_SESSION"
ENV_DIR = "TOOTBELL_DESKTOP_SESSION_DIR"
ENV_PASSWORD = "TOOTBELL_KEYRING_PASSWORD"

NOTIFICATIONS = "org.freedesktop.Notifications"
SECRETS = "org.freedesktop.secrets"
WATCHER = "org.kde.StatusNotifierWatcher"

# Binaries the session needs, and the Debian package that ships each.
REQUIRED_BINARIES: dict[str, str] = {
    "Xvfb": "xvfb",
    "xdpyinfo": "x11-utils",
    "dbus-daemon": "dbus",
    "dbus-send": "dbus",
    "dunst": "dunst",
    "dunstctl": "dunst",
    "xfce4-panel": "xfce4-panel",
    "gnome-keyring-daemon": "gnome-keyring",
    "dex": "dex",  # runs autostart entries as a login does
    "gio": "libglib2.0-bin",  # launches desktop entries as GLib-based desktops do
}
# D-Bus service files the session needs (looked up in XDG_DATA_DIRS), and their packages.
REQUIRED_SERVICES: dict[str, str] = {
    "org.xfce.Xfconf.service": "xfconf",
}
# The Qt xcb platform plugin loads these; its own error message names the wrong one.
REQUIRED_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libEGL.so.1": "libegl1",
}

_DUNSTRC = """\
# Written by tests/desktop/desktop_session.py for a private test session.
[global]
    monitor = 0
    follow = none
    width = 360
    height = 200
    origin = top-right
    offset = 10x40
    notification_limit = 0
    indicate_hidden = yes
    idle_threshold = 0
    sort = no
    stack_duplicates = false
    markup = full
    format = "<b>%s</b>\\n%b"
    show_indicators = no
    sticky_history = yes
    history_length = 200
    dmenu = {dmenu}
    browser = /bin/true
    always_run_script = true
    ignore_dbusclose = false
    mouse_left_click = do_action, close_current
    mouse_middle_click = close_all
    mouse_right_click = close_current

[urgency_low]
    timeout = 0

[urgency_normal]
    timeout = 0

[urgency_critical]
    timeout = 0
"""

# dunst pipes the context menu (one line per action) into this "dmenu"; it prints the line
# that contains the text in the choice file, so a test can pick a named action. The menu is
# kept in dmenu-input for inspection.
_DMENU = """\
#!/bin/sh
dir="$(dirname "$0")"
cat > "$dir/dmenu-input"
[ -f "$dir/dmenu-choice" ] || exit 1
choice="$(cat "$dir/dmenu-choice")"
rm -f "$dir/dmenu-choice"
grep -F -m 1 -- "$choice" "$dir/dmenu-input"
"""

_PANEL_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="28"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="systray"/>
  </property>
</channel>
"""

# A session bus whose only activatable service is xfconf (the panel needs it). Everything
# else is started explicitly, so nothing unexpected (a second notification daemon, the
# keyring's GUI prompter, the accessibility bus) can be activated on demand.
_BUS_CONF = """\
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{servicedir}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class SessionError(RuntimeError):
    """The session could not be started; the message says which part failed."""


@dataclass(frozen=True)
class Missing:
    """Something the session needs that is not installed."""

    what: str
    package: str


def _find_service_file(name: str) -> Path | None:
    dirs = os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share"
    for base in dirs.split(":"):
        candidate = Path(base) / "dbus-1" / "services" / name
        if candidate.is_file():
            return candidate
    return None


def _library_present(soname: str) -> bool:
    try:
        out = subprocess.run(
            ["/sbin/ldconfig", "-p"], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return True  # cannot tell: let Qt complain later
    return soname in out


def missing_requirements() -> list[Missing]:
    """Everything the session needs but cannot find, with the Debian package to install."""
    missing = [Missing(b, p) for b, p in REQUIRED_BINARIES.items() if shutil.which(b) is None]
    missing += [
        Missing(s, p) for s, p in REQUIRED_SERVICES.items() if _find_service_file(s) is None
    ]
    missing += [Missing(s, p) for s, p in REQUIRED_LIBRARIES.items() if not _library_present(s)]
    return missing


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float = 5.0,
    interval: float = 0.02,
    what: str = "condition",
) -> T:
    """Poll ``predicate`` until it returns something truthy; return that or raise TimeoutError.

    Exceptions from the predicate count as "not yet" until the deadline, then propagate.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = predicate()
        except Exception:
            if time.monotonic() >= deadline:
                raise
        else:
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{what} not met within {timeout:.1f} s")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# D-Bus helpers (jeepney, blocking; every call opens and closes its own connection)


@contextlib.contextmanager
def bus_connection(address: str | None = None) -> Iterator[DBusConnection]:
    """A short-lived connection to the session bus (or to ``address``)."""
    conn = open_dbus_connection(address or "SESSION", auth_timeout=2.0)
    try:
        yield conn
    finally:
        conn.close()


def call(
    conn: DBusConnection,
    address: DBusAddress,
    method: str,
    signature: str | None = None,
    body: tuple[Any, ...] = (),
    timeout: float = 5.0,
) -> tuple[Any, ...]:
    """Call a method and return the reply body; raise RuntimeError on a D-Bus error."""
    reply = conn.send_and_get_reply(
        new_method_call(address, method, signature, body), timeout=timeout
    )
    if reply.header.message_type is MessageType.error:
        raise RuntimeError(f"{method} failed: {reply.header.fields} {reply.body}")
    return tuple(reply.body)


def get_property(conn: DBusConnection, address: DBusAddress, name: str) -> Any:
    reply = conn.send_and_get_reply(Properties(address).get(name), timeout=5.0)
    if reply.header.message_type is MessageType.error:
        raise RuntimeError(f"reading {name} failed: {reply.body}")
    return reply.body[0][1]


def name_has_owner(name: str, conn: DBusConnection | None = None) -> bool:
    with contextlib.ExitStack() as stack:
        c = conn or stack.enter_context(bus_connection())
        return bool(call(c, message_bus, "NameHasOwner", "s", (name,))[0])


def name_owner_pid(name: str, conn: DBusConnection | None = None) -> int:
    with contextlib.ExitStack() as stack:
        c = conn or stack.enter_context(bus_connection())
        return int(call(c, message_bus, "GetConnectionUnixProcessID", "s", (name,))[0])


# ---------------------------------------------------------------------------------------------
# dunst

_DUNST = DBusAddress(
    "/org/freedesktop/Notifications", bus_name=NOTIFICATIONS, interface="org.dunstproject.cmd0"
)


def _unwrap(value: Any) -> Any:
    """Variants arrive from jeepney as (signature, value) pairs."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return _unwrap(value[1])
    return value


def dunst_history() -> list[dict[str, Any]]:
    """Closed toasts, newest first, as dunst keeps them (summary, body, appname, id, …)."""
    with bus_connection() as conn:
        (entries,) = call(conn, _DUNST, "NotificationListHistory")
    return [{k: _unwrap(v) for k, v in entry.items()} for entry in entries]


def dunst_displayed() -> int:
    """How many toasts dunst shows right now (``dunstctl count displayed``)."""
    with bus_connection() as conn:
        return int(get_property(conn, _DUNST, "displayedLength"))


def dunst_waiting() -> int:
    with bus_connection() as conn:
        return int(get_property(conn, _DUNST, "waitingLength"))


def dunstctl(*args: str, timeout: float = 10.0) -> str:
    """Run ``dunstctl ARGS`` against the session's dunst and return its output."""
    done = subprocess.run(
        ["dunstctl", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"dunstctl {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def dunstctl_action(position: int = 0) -> None:
    """Invoke the default action of the displayed toast at ``position`` (0 is the newest)."""
    dunstctl("action", str(position))


def dunstctl_close() -> None:
    """Close the newest displayed toast, as a person would (reason 2, dismissed)."""
    dunstctl("close")


def dunstctl_close_all() -> None:
    dunstctl("close-all")


def dunst_context_action(action_key: str) -> None:
    """Pick the action ``action_key`` of the newest toast from dunst's context menu.

    dunst writes one line per action, ``#<label> (<summary>) [<id>,<action key>]``, into its
    dmenu command; the session's dmenu script answers with the line holding the choice.
    """
    session_dir = os.environ.get(ENV_DIR)
    if not session_dir:
        raise RuntimeError(f"{ENV_DIR} is not set: not inside a desktop session")
    (Path(session_dir) / "dmenu-choice").write_text(f",{action_key}]")
    dunstctl("context")


# ---------------------------------------------------------------------------------------------
# Tray (StatusNotifierItem)

_WATCHER = DBusAddress("/StatusNotifierWatcher", bus_name=WATCHER, interface=WATCHER)


@dataclass(frozen=True)
class TrayItem:
    """One registered StatusNotifierItem and the process behind it."""

    service: str
    path: str
    pid: int | None


def tray_host_registered() -> bool:
    with bus_connection() as conn:
        return bool(get_property(conn, _WATCHER, "IsStatusNotifierHostRegistered"))


def tray_items() -> list[TrayItem]:
    """Registered StatusNotifierItems (entries look like ``:1.N/StatusNotifierItem``)."""
    items: list[TrayItem] = []
    with bus_connection() as conn:
        entries = get_property(conn, _WATCHER, "RegisteredStatusNotifierItems")
        for entry in entries:
            service, slash, path = str(entry).partition("/")
            pid: int | None
            try:
                pid = name_owner_pid(service, conn)
            except RuntimeError:
                pid = None
            items.append(TrayItem(service, slash + path if slash else "/StatusNotifierItem", pid))
    return items


# ---------------------------------------------------------------------------------------------
# gnome-keyring

_SECRET_SERVICE = DBusAddress(
    "/org/freedesktop/secrets", bus_name=SECRETS, interface="org.freedesktop.Secret.Service"
)
# gnome-keyring's own interface for unlocking with a password instead of a GUI prompt.
_GK_INTERNAL = _SECRET_SERVICE.with_interface(
    "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"
)


def default_collection(conn: DBusConnection) -> str:
    (path,) = call(conn, _SECRET_SERVICE, "ReadAlias", "s", ("default",))
    if path == "/":
        raise RuntimeError("the keyring has no default collection")
    return str(path)


def keyring_locked() -> bool:
    with bus_connection() as conn:
        path = default_collection(conn)
        address = DBusAddress(path, bus_name=SECRETS, interface="org.freedesktop.Secret.Collection")
        return bool(get_property(conn, address, "Locked"))


def lock_keyring() -> None:
    """Lock the default collection (gnome-keyring locks without a prompt)."""
    with bus_connection() as conn:
        path = default_collection(conn)
        locked, _prompt = call(conn, _SECRET_SERVICE, "Lock", "ao", ([path],))
        if path not in locked:
            raise RuntimeError(f"gnome-keyring did not lock {path}")


def unlock_keyring(password: str | None = None) -> None:
    """Unlock the default collection with its password, without any GUI prompt.

    The Secret Service ``Unlock`` method always wants a prompter; gnome-keyring's internal
    ``UnlockWithMasterPassword`` takes the password over a plain-transfer session instead.
    """
    password = password if password is not None else os.environ[ENV_PASSWORD]
    with bus_connection() as conn:
        path = default_collection(conn)
        _output, session = call(conn, _SECRET_SERVICE, "OpenSession", "sv", ("plain", ("s", "")))
        try:
            secret = (session, b"", password.encode(), "text/plain")
            call(conn, _GK_INTERNAL, "UnlockWithMasterPassword", "o(oayays)", (path, secret))
        finally:
            with contextlib.suppress(RuntimeError):
                call(
                    conn,
                    DBusAddress(
                        session, bus_name=SECRETS, interface="org.freedesktop.Secret.Session"
                    ),
                    "Close",
                )


# ---------------------------------------------------------------------------------------------
# Watching the bus


@dataclass
class NotifyCall:
    """One ``Notify`` call as the daemon received it, with the id it answered."""

    sender: str
    app_name: str
    replaces_id: int
    app_icon: str
    summary: str
    body: str
    actions: list[str]
    hints: dict[str, Any]
    expire_timeout: int
    serial: int
    id: int | None = None


class BusRecorder:
    """Records Notify / CloseNotification calls and the daemon's signals, as a bus monitor.

    Use as a context manager; ``notify_calls``, ``close_calls`` and ``signals`` fill in from
    a background thread while it is open. A monitor also sees the unicast ``ActionInvoked``
    and ``NotificationClosed`` signals that daemons send only to the notifying connection.
    """

    def __init__(self) -> None:
        self.notify_calls: list[NotifyCall] = []
        self.close_calls: list[int] = []
        self.signals: list[tuple[str, tuple[Any, ...]]] = []
        self._conn: DBusConnection | None = None
        self._stop_r = self._stop_w = -1
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BusRecorder:
        self._conn = open_dbus_connection("SESSION", auth_timeout=2.0)
        rules = [
            MatchRule(type="method_call", interface=NOTIFICATIONS).serialise(),
            MatchRule(type="method_return").serialise(),
            MatchRule(type="signal", interface=NOTIFICATIONS).serialise(),
        ]
        monitoring = DBusAddress(
            "/org/freedesktop/DBus",
            bus_name="org.freedesktop.DBus",
            interface="org.freedesktop.DBus.Monitoring",
        )
        call(self._conn, monitoring, "BecomeMonitor", "asu", (rules, 0))
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="bus-recorder", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        os.write(self._stop_w, b"x")
        if self._thread is not None:
            self._thread.join(5)
        os.close(self._stop_r)
        os.close(self._stop_w)
        if self._conn is not None:
            self._conn.close()

    def _run(self) -> None:
        assert self._conn is not None
        conn = self._conn
        pending: dict[tuple[str, int], NotifyCall] = {}
        sel = selectors.DefaultSelector()
        sel.register(conn.sock, selectors.EVENT_READ)
        sel.register(self._stop_r, selectors.EVENT_READ)
        try:
            while True:
                try:
                    msg = conn.receive(timeout=0)
                except TimeoutError:
                    ready = sel.select()
                    if any(key.fd == self._stop_r for key, _ in ready):
                        return
                    continue
                except (ConnectionError, OSError):
                    return
                self._record(msg, pending)
        finally:
            sel.close()

    def _record(self, msg: Message, pending: dict[tuple[str, int], NotifyCall]) -> None:
        fields = msg.header.fields
        kind = msg.header.message_type
        sender = str(fields.get(HeaderFields.sender, ""))
        member = fields.get(HeaderFields.member)
        if kind is MessageType.method_call and member == "Notify":
            app, rid, icon, summary, body, actions, hints, expire = msg.body
            entry = NotifyCall(
                sender,
                app,
                rid,
                icon,
                summary,
                body,
                list(actions),
                {k: _unwrap(v) for k, v in hints.items()},
                expire,
                msg.header.serial,
            )
            self.notify_calls.append(entry)
            pending[(sender, msg.header.serial)] = entry
        elif kind is MessageType.method_call and member == "CloseNotification":
            self.close_calls.append(int(msg.body[0]))
        elif kind is MessageType.method_return:
            dest = str(fields.get(HeaderFields.destination, ""))
            entry_or_none = pending.pop(
                (dest, int(fields.get(HeaderFields.reply_serial, -1))), None
            )
            if entry_or_none is not None and msg.body:
                entry_or_none.id = int(msg.body[0])
        elif kind is MessageType.signal and member in ("ActionInvoked", "NotificationClosed"):
            self.signals.append((str(member), tuple(msg.body)))


# ---------------------------------------------------------------------------------------------
# Starting and stopping the session


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: IO[bytes]


class DesktopSession:
    """Xvfb + session bus + dunst + xfce4-panel (tray host) + gnome-keyring in a temp dir.

    ``start()`` returns the environment to run commands with; ``stop()`` kills exactly the
    processes it started (each in its own process group, so helpers they spawned go too) and
    removes the directory unless ``keep`` is set.
    """

    def __init__(self, *, keep: bool = False, base_env: Mapping[str, str] | None = None) -> None:
        self.keep = keep
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.root: Path | None = None
        self.env: dict[str, str] = {}
        self.password = secrets.token_urlsafe(18)
        self._procs: list[_Proc] = []

    # -- public ---------------------------------------------------------------------------

    def start(self) -> dict[str, str]:
        started = time.monotonic()
        try:
            self._prepare_dirs()
            self._start_xvfb()
            self._start_bus()
            self._start_dunst()
            self._start_keyring()
            self._start_panel()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        log.info("desktop session ready in %.2f s (%s)", time.monotonic() - started, self.root)
        return self.env

    def stop(self) -> None:
        for proc in reversed(self._procs):
            self._kill(proc)
        self._procs.clear()
        if self.root is not None:
            if self.keep:
                print(f"desktop session: kept {self.root}", file=sys.stderr)
            else:
                shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def logs(self) -> str:
        """The tail of every component's log, for failure reports."""
        if self.root is None:
            return ""
        parts = []
        for path in sorted((self.root / "logs").glob("*.log")):
            text = path.read_text(errors="replace").strip().splitlines()[-15:]
            if text:
                parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)

    def __enter__(self) -> DesktopSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- steps ----------------------------------------------------------------------------

    def _prepare_dirs(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tootbell-desktop-"))
        root = self.root
        for name in ("run", "data", "config", "cache", "home", "logs", "services"):
            (root / name).mkdir(mode=0o700)
        os.chmod(root / "run", 0o700)
        env = self.base_env
        # Before the bus starts: services it spawns inherit its environment, not ours.
        env.update(
            {
                "HOME": str(root / "home"),
                "XDG_RUNTIME_DIR": str(root / "run"),
                "XDG_DATA_HOME": str(root / "data"),
                "XDG_CONFIG_HOME": str(root / "config"),
                "XDG_CACHE_HOME": str(root / "cache"),
                "NO_AT_BRIDGE": "1",
                "QT_QPA_PLATFORM": "xcb",
                ENV_INSIDE: "1",
                ENV_DIR: str(root),
                ENV_PASSWORD: self.password,
            }
        )
        for var in (
            "DISPLAY",
            "WAYLAND_DISPLAY",
            "DBUS_SESSION_BUS_ADDRESS",
            "GNOME_KEYRING_CONTROL",
            "SSH_AUTH_SOCK",
            "XAUTHORITY",
            "XDG_SESSION_TYPE",
            "XDG_CURRENT_DESKTOP",
            "SESSION_MANAGER",
        ):
            env.pop(var, None)
        self.env = env

        (root / "dunstrc").write_text(_DUNSTRC.format(dmenu=root / "dmenu"))
        (root / "dmenu").write_text(_DMENU)
        os.chmod(root / "dmenu", 0o755)
        xml_dir = root / "config" / "xfce4" / "xfconf" / "xfce-perchannel-xml"
        xml_dir.mkdir(parents=True)
        (xml_dir / "xfce4-panel.xml").write_text(_PANEL_XML)
        for service in REQUIRED_SERVICES:
            source = _find_service_file(service)
            if source is not None:
                shutil.copy(source, root / "services" / service)
        (root / "bus.conf").write_text(
            _BUS_CONF.format(socket=root / "run" / "bus", servicedir=root / "services")
        )

    def _spawn(
        self,
        name: str,
        argv: list[str],
        *,
        stdin: int | None = subprocess.DEVNULL,
        stdout: int | IO[bytes] | None = None,
        pass_fds: tuple[int, ...] = (),
    ) -> subprocess.Popen[bytes]:
        assert self.root is not None
        log_file = open(self.root / "logs" / f"{name}.log", "wb")  # noqa: SIM115 (kept open)
        popen = subprocess.Popen(
            argv,
            env=self.env,
            stdin=stdin,
            stdout=stdout if stdout is not None else log_file,
            stderr=log_file,
            pass_fds=pass_fds,
            start_new_session=True,
            cwd=self.root,
        )
        self._procs.append(_Proc(name, popen, log_file))
        log.debug("started %s pid %d", name, popen.pid)
        return popen

    def _start_xvfb(self) -> None:
        read_fd, write_fd = os.pipe()
        try:
            popen = self._spawn(
                "xvfb",
                [
                    "Xvfb",
                    "-displayfd",
                    str(write_fd),
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ],
                pass_fds=(write_fd,),
            )
            os.close(write_fd)
            write_fd = -1
            number = self._read_line(read_fd, 10.0, "Xvfb to pick a display", popen)
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        self.env["DISPLAY"] = f":{number.strip()}"
        wait_for(
            lambda: (
                subprocess.run(
                    ["xdpyinfo"], env=self.env, capture_output=True, check=False
                ).returncode
                == 0
            ),
            timeout=10.0,
            interval=0.05,
            what=f"xdpyinfo on {self.env['DISPLAY']}",
        )

    def _start_bus(self) -> None:
        assert self.root is not None
        read_fd, write_fd = os.pipe()
        try:
            popen = self._spawn(
                "dbus",
                [
                    "dbus-daemon",
                    "--nofork",
                    "--nopidfile",
                    f"--config-file={self.root / 'bus.conf'}",
                    f"--print-address={write_fd}",
                ],
                pass_fds=(write_fd,),
            )
            os.close(write_fd)
            write_fd = -1
            address = self._read_line(read_fd, 10.0, "dbus-daemon to print its address", popen)
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        self.env["DBUS_SESSION_BUS_ADDRESS"] = address.strip()

    def _start_dunst(self) -> None:
        assert self.root is not None
        self._spawn("dunst", ["dunst", "-config", str(self.root / "dunstrc")])

    def _start_keyring(self) -> None:
        popen = self._spawn(
            "gnome-keyring",
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
        )
        assert popen.stdin is not None
        popen.stdin.write(self.password.encode())
        popen.stdin.close()

    def _start_panel(self) -> None:
        self._spawn("xfce4-panel", ["xfce4-panel", "--disable-wm-check"])

    def _wait_ready(self) -> None:
        address = self.env["DBUS_SESSION_BUS_ADDRESS"]
        with bus_connection(address) as conn:
            for name in (NOTIFICATIONS, SECRETS, WATCHER):
                self._wait(
                    functools.partial(name_has_owner, name, conn), 15.0, f"{name} on the bus"
                )
            self._wait(
                lambda: get_property(conn, _WATCHER, "IsStatusNotifierHostRegistered"),
                15.0,
                "the tray host (IsStatusNotifierHostRegistered)",
            )
            self._wait(
                lambda: (
                    not get_property(
                        conn,
                        DBusAddress(
                            default_collection(conn),
                            bus_name=SECRETS,
                            interface="org.freedesktop.Secret.Collection",
                        ),
                        "Locked",
                    )
                ),
                15.0,
                "an unlocked login keyring",
            )

    # -- plumbing -------------------------------------------------------------------------

    def _wait(self, predicate: Callable[[], object], timeout: float, what: str) -> None:
        def check() -> object:
            for proc in self._procs:
                if proc.popen.poll() is not None:
                    raise SessionError(
                        f"{proc.name} exited with {proc.popen.returncode} while waiting for {what}"
                    )
            return predicate()

        try:
            wait_for(check, timeout=timeout, what=what)
        except SessionError:
            raise
        except Exception as exc:
            raise SessionError(f"gave up waiting for {what}: {exc}") from exc

    @staticmethod
    def _read_line(fd: int, timeout: float, what: str, popen: subprocess.Popen[bytes]) -> str:
        data = b""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in data:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SessionError(f"timed out waiting for {what}")
                if not sel.select(min(remaining, 0.1)):
                    if popen.poll() is not None:
                        raise SessionError(f"exited with {popen.returncode} before {what}")
                    continue
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise SessionError(f"pipe closed before {what}")
                data += chunk
        return data.decode().splitlines()[0]

    @staticmethod
    def _kill(proc: _Proc) -> None:
        pgid = proc.popen.pid  # start_new_session: the group id is the leader's pid
        if proc.popen.poll() is None or _group_alive(pgid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(3.0)
            deadline = time.monotonic() + 2.0
            while _group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if _group_alive(pgid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(2.0)
        proc.log.close()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies still count for killpg(0); look for a live member.
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, pg = fields[0], int(fields[2])
        if pg == pgid and state != "Z":
            return True
    return False
