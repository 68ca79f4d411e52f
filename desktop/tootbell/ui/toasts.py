"""Desktop toasts: freedesktop notifications over D-Bus, or tray balloons as a fallback.

:class:`FreedesktopNotifier` speaks ``org.freedesktop.Notifications`` with jeepney from one
worker thread that owns the connection: ``Notify`` (with actions, icons, ``replaces_id``),
``CloseNotification``, and the ``ActionInvoked`` / ``NotificationClosed`` signals, which
daemons such as dunst send only to the connection that called ``Notify``. (PySide6's QtDBus
cannot marshal the ``uint32`` ``replaces_id``, hence jeepney.) Events reach the GUI thread
through a queued Qt signal, so the public signals are always emitted in the GUI thread.

:class:`TrayNotifier` uses ``QSystemTrayIcon.showMessage`` where no notification server is
running; :func:`make_notifier` picks one. :func:`server_info` is for ``tootbell doctor``.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import selectors
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QSystemTrayIcon

from tootbell import APP_ID, APP_NAME
from tootbell.render import escape_markup

if TYPE_CHECKING:
    from jeepney.io.blocking import DBusConnection
    from jeepney.low_level import Message

    from tootbell.inbox import Toast

log = logging.getLogger(__name__)

BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"

# NotificationClosed reasons (Desktop Notifications Specification 1.2).
REASON_EXPIRED = 1
REASON_DISMISSED = 2
REASON_CLOSED = 3  # by CloseNotification
REASON_UNDEFINED = 4

ACTION_DEFAULT = "default"
ACTION_OPEN = "open"
ACTION_DISMISS = "dismiss"

# The spec's categories; most daemons only use them for rules and sounds.
_CATEGORIES = {
    "follow": "presence.online",
    "follow_request": "presence.online",
}
_DEFAULT_CATEGORY = "im.received"

_RECENT_RTTS = 256


@dataclass(frozen=True)
class ServerInfo:
    """What ``GetServerInformation`` and ``GetCapabilities`` say about the daemon."""

    name: str
    vendor: str
    version: str
    spec_version: str
    capabilities: tuple[str, ...]

    def has(self, capability: str) -> bool:
        return capability in self.capabilities


@dataclass(frozen=True)
class NotifierStats:
    """Counters for benchmarks and diagnostics. Round trips are ``Notify`` call to reply."""

    shown: int = 0  # show() requests handled
    notify_calls: int = 0  # Notify calls answered by the daemon
    failures: int = 0  # Notify calls that failed (error reply, timeout, no connection)
    rtt_total_s: float = 0.0
    rtt_max_s: float = 0.0
    recent_rtts_s: tuple[float, ...] = ()

    @property
    def rtt_mean_s(self) -> float:
        return self.rtt_total_s / self.notify_calls if self.notify_calls else 0.0


class _StatsCounter:
    """Thread-safe accumulation behind :class:`NotifierStats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shown = 0
        self._calls = 0
        self._failures = 0
        self._total = 0.0
        self._max = 0.0
        self._recent: deque[float] = deque(maxlen=_RECENT_RTTS)

    def shown(self) -> None:
        with self._lock:
            self._shown += 1

    def answered(self, rtt: float) -> None:
        with self._lock:
            self._calls += 1
            self._total += rtt
            self._max = max(self._max, rtt)
            self._recent.append(rtt)

    def failed(self) -> None:
        with self._lock:
            self._failures += 1

    def snapshot(self) -> NotifierStats:
        with self._lock:
            return NotifierStats(
                self._shown,
                self._calls,
                self._failures,
                self._total,
                self._max,
                tuple(self._recent),
            )


class Notifier(QObject):
    """Shows toasts and reports what the person did with them.

    ``actionInvoked(key, action)``: action is ``"open"``, ``"dismiss"`` or ``"default"``
    (a click on the toast body). ``closed(key, reason)``: the spec's reason codes.
    """

    actionInvoked = Signal(str, str)
    closed = Signal(str, int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._stats = _StatsCounter()

    def show(self, toast: Toast, icon_path: str | None = None) -> None:
        """Show ``toast``, or update it in place when a toast with its key is showing."""
        raise NotImplementedError

    def close(self, key: str) -> None:
        """Withdraw the toast with ``key`` if it is still showing."""
        raise NotImplementedError

    def stop(self) -> None:
        """Release resources; no signals are emitted afterwards."""

    def stats(self) -> NotifierStats:
        return self._stats.snapshot()


# ---------------------------------------------------------------------------------------------
# What a Notify call carries


_app_icon_cache: str | None = None


def app_icon_path() -> str:
    """A file path for Tootbell's icon, or its icon-theme name when there is no file."""
    global _app_icon_cache
    if _app_icon_cache is None:
        name = APP_ID
        with contextlib.suppress(Exception):
            candidate = resources.files("tootbell") / "resources" / "tootbell.svg"
            if candidate.is_file():
                name = str(candidate)
        _app_icon_cache = name
    return _app_icon_cache


def notify_body(text: str, capabilities: tuple[str, ...]) -> str:
    """The body as the daemon should get it: escaped only if the daemon parses markup."""
    return escape_markup(text) if "body-markup" in capabilities else text


ACTION_READ_CONVERSATION = "read-conversation"


def notify_actions(toast: Toast) -> list[str]:
    """Action keys and labels, alternating, as ``Notify`` takes them."""
    actions: list[str] = []
    if toast.open_url:
        actions += [ACTION_DEFAULT, "Open", ACTION_OPEN, "Open"]
    if toast.dismissable:
        actions += [ACTION_DISMISS, "Dismiss"]
    if toast.dismissable and dict(toast.type_counts).get("direct") == len(toast.notification_ids):
        actions += [ACTION_READ_CONVERSATION, "Mark conversation read"]
    return actions


def notify_hints(toast: Toast, icon_path: str | None) -> dict[str, tuple[str, Any]]:
    hints: dict[str, tuple[str, Any]] = {
        "desktop-entry": ("s", APP_ID),
        "category": ("s", _CATEGORIES.get(toast.kind, _DEFAULT_CATEGORY)),
        "urgency": ("y", max(0, min(2, int(toast.urgency)))),
    }
    if icon_path:
        hints["image-path"] = ("s", icon_path)
    return hints


def notify_arguments(
    toast: Toast, icon_path: str | None, replaces_id: int, capabilities: tuple[str, ...]
) -> tuple[Any, ...]:
    """The body of a ``Notify`` call (signature ``susssasa{sv}i``)."""
    return (
        APP_NAME,
        replaces_id,
        icon_path or app_icon_path(),
        toast.title,
        notify_body(toast.body, capabilities),
        notify_actions(toast),
        notify_hints(toast, icon_path),
        -1,  # the daemon's default timeout
    )


# ---------------------------------------------------------------------------------------------
# freedesktop (jeepney)


def _address() -> Any:
    from jeepney import DBusAddress

    return DBusAddress(OBJECT_PATH, bus_name=BUS_NAME, interface=INTERFACE)


def _is_error(msg: Message) -> bool:
    from jeepney.low_level import MessageType

    return bool(msg.header.message_type is MessageType.error)


def _error_name(msg: Message) -> str:
    from jeepney.low_level import HeaderFields

    return str(msg.header.fields.get(HeaderFields.error_name, "unknown error"))


def _call(
    conn: DBusConnection,
    method: str,
    signature: str | None = None,
    body: tuple[Any, ...] = (),
    timeout: float = 2.0,
) -> tuple[Any, ...] | None:
    """Call a Notifications method; None (logged) on a D-Bus error reply."""
    from jeepney import new_method_call

    reply = conn.send_and_get_reply(
        new_method_call(_address(), method, signature, body), timeout=timeout
    )
    if _is_error(reply):
        log.warning("%s failed: %s", method, _error_name(reply))
        return None
    return tuple(reply.body)


def server_present(bus: str = "SESSION", timeout: float = 1.0) -> bool:
    """Whether a notification server runs on the session bus, or can be started by it."""
    try:
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import Proxy, open_dbus_connection
    except ImportError:
        return False
    try:
        with open_dbus_connection(bus, auth_timeout=timeout) as conn:
            proxy = Proxy(message_bus, conn, timeout=timeout)
            if proxy.NameHasOwner(BUS_NAME)[0]:
                return True
            return BUS_NAME in proxy.ListActivatableNames()[0]
    except Exception as e:  # no bus, no socket, refused, timed out
        log.info("no session bus for notifications: %s", type(e).__name__)
        return False


def server_info(bus: str = "SESSION", timeout: float = 1.5) -> ServerInfo | None:
    """Name, vendor, version and capabilities of the notification server, or None."""
    try:
        from jeepney.io.blocking import open_dbus_connection
    except ImportError:
        return None
    try:
        with open_dbus_connection(bus, auth_timeout=timeout) as conn:
            info = _call(conn, "GetServerInformation", timeout=timeout)
            caps = _call(conn, "GetCapabilities", timeout=timeout)
    except Exception as e:
        log.info("no notification server: %s", type(e).__name__)
        return None
    if info is None:
        return None
    name, vendor, version, spec = (str(v) for v in info)
    return ServerInfo(name, vendor, version, spec, tuple(str(c) for c in (caps or ((),))[0]))


@dataclass(frozen=True)
class _Show:
    toast: Toast
    icon_path: str | None


@dataclass(frozen=True)
class _Close:
    key: str


class _Stop:
    pass


_Command = _Show | _Close | _Stop


class FreedesktopNotifier(Notifier):
    """Notifications through ``org.freedesktop.Notifications``, from a worker thread.

    ``show()`` and ``close()`` only queue a command; the thread ``tootbell-toasts`` owns the
    D-Bus connection, remembers which daemon id shows which toast key (for ``replaces_id``
    and to map signals back to keys) and reconnects after the bus connection drops.
    """

    # Worker thread -> GUI thread: (kind, key, action, reason).
    _event = Signal(str, str, str, int)

    def __init__(
        self, parent: QObject | None = None, *, bus: str = "SESSION", call_timeout: float = 5.0
    ) -> None:
        super().__init__(parent)
        self._bus = bus
        self._call_timeout = call_timeout
        self._commands: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._capabilities: tuple[str, ...] = ()
        self._caps_stale = False
        self._ready = threading.Event()
        self._stopped = False
        # Owned by the worker thread only.
        self._conn: DBusConnection | None = None
        self._signals: deque[Message] = deque()
        self._ids_by_key: dict[str, int] = {}
        self._keys_by_id: dict[int, str] = {}
        self._event.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._thread = threading.Thread(target=self._run, name="tootbell-toasts", daemon=True)
        self._thread.start()

    # -- GUI thread ------------------------------------------------------------------------------

    def show(self, toast: Toast, icon_path: str | None = None) -> None:
        self._send(_Show(toast, icon_path))

    def close(self, key: str) -> None:
        self._send(_Close(key))

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to finish, wait up to ``timeout`` s for it, and go quiet."""
        if self._stopped:
            return
        self._send(_Stop())
        self._stopped = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the toast thread did not stop within %.1f s", timeout)
        with contextlib.suppress(RuntimeError, TypeError):
            self._event.disconnect(self._deliver)
        self._wake_w.close()

    def capabilities(self, wait: float = 0.0) -> tuple[str, ...]:
        """The daemon's capabilities, once the thread has asked (waits up to ``wait`` s)."""
        self._ready.wait(wait)
        return self._capabilities

    def _send(self, command: _Command) -> None:
        if self._stopped:
            log.debug("notifier stopped; dropping %s", type(command).__name__)
            return
        self._commands.put(command)
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    @Slot(str, str, str, int)
    def _deliver(self, kind: str, key: str, action: str, reason: int) -> None:
        if self._stopped:
            return
        if kind == "action":
            self.actionInvoked.emit(key, action)
        else:
            self.closed.emit(key, reason)

    # -- worker thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ)
        try:
            self._connect(sel)
            self._ready.set()
            while True:
                self._pump(sel)
                sel.select()
                with contextlib.suppress(BlockingIOError, OSError):
                    while self._wake_r.recv(4096):
                        pass
                while True:
                    try:
                        command = self._commands.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(command, _Stop):
                        return
                    try:
                        self._handle(command, sel)
                    except Exception:
                        log.exception("toast command %s failed", type(command).__name__)
        except Exception:
            log.exception("the toast thread failed; toasts are off until restart")
        finally:
            self._ready.set()
            self._disconnect(sel)
            sel.close()
            self._wake_r.close()

    def _connect(self, sel: selectors.BaseSelector) -> DBusConnection | None:
        if self._conn is not None:
            return self._conn
        try:
            from jeepney import MatchRule
            from jeepney.bus_messages import message_bus
            from jeepney.io.blocking import Proxy, open_dbus_connection

            conn = open_dbus_connection(self._bus, auth_timeout=self._call_timeout)
        except Exception as e:
            log.warning("cannot reach the session bus for notifications: %s", type(e).__name__)
            return None
        try:
            # Match rules before the first Notify: some daemons send ActionInvoked and
            # NotificationClosed only to the connection that called Notify.
            proxy = Proxy(message_bus, conn, timeout=self._call_timeout)
            for member in ("ActionInvoked", "NotificationClosed"):
                # The bus resolves the well-known sender name; messages carry the unique
                # name, so the local filter leaves the sender out.
                proxy.AddMatch(
                    MatchRule(
                        type="signal",
                        sender=BUS_NAME,
                        interface=INTERFACE,
                        path=OBJECT_PATH,
                        member=member,
                    )
                )
                conn.filter(
                    MatchRule(type="signal", interface=INTERFACE, path=OBJECT_PATH, member=member),
                    queue=self._signals,
                )
            owner_changed = MatchRule(
                type="signal",
                sender="org.freedesktop.DBus",
                interface="org.freedesktop.DBus",
                member="NameOwnerChanged",
            )
            owner_changed.add_arg_condition(0, BUS_NAME)
            proxy.AddMatch(owner_changed)
            conn.filter(owner_changed, queue=self._signals)
            caps = _call(conn, "GetCapabilities", timeout=self._call_timeout)
        except Exception as e:
            log.warning("notification server not usable: %s", type(e).__name__)
            conn.close()
            return None
        self._set_capabilities(caps)
        sel.register(conn.sock, selectors.EVENT_READ)
        self._conn = conn
        return conn

    def _set_capabilities(self, reply: tuple[Any, ...] | None) -> None:
        self._capabilities = tuple(str(c) for c in reply[0]) if reply else ()
        self._caps_stale = False
        log.info("notification server capabilities: %s", ", ".join(self._capabilities))

    def _disconnect(self, sel: selectors.BaseSelector) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(KeyError, ValueError):
            sel.unregister(conn.sock)
        with contextlib.suppress(OSError):
            conn.close()
        # The daemon's ids mean nothing to a new connection's daemon.
        self._ids_by_key.clear()
        self._keys_by_id.clear()

    def _pump(self, sel: selectors.BaseSelector) -> None:
        """Read whatever has arrived, then act on the queued signals."""
        conn = self._conn
        while conn is not None:
            try:
                conn.recv_messages(timeout=0)
            except TimeoutError:
                break
            except (ConnectionError, OSError) as e:
                log.warning("lost the session bus: %s", type(e).__name__)
                self._disconnect(sel)
                break
        while self._signals:
            msg = self._signals.popleft()
            try:
                self._on_signal(msg)
            except Exception:
                log.exception("could not handle a notification signal")

    def _on_signal(self, msg: Message) -> None:
        from jeepney.low_level import HeaderFields

        member = msg.header.fields.get(HeaderFields.member)
        if member == "NameOwnerChanged":
            log.info("notification server changed; forgetting shown toasts")
            self._ids_by_key.clear()
            self._keys_by_id.clear()
            self._caps_stale = True
            return
        nid = int(msg.body[0])
        key = self._keys_by_id.get(nid)
        if key is None:
            return  # another application's toast, or one we no longer track
        if member == "ActionInvoked":
            self._event.emit("action", key, str(msg.body[1]), 0)
        elif member == "NotificationClosed":
            del self._keys_by_id[nid]
            if self._ids_by_key.get(key) == nid:
                del self._ids_by_key[key]
            self._event.emit("closed", key, "", int(msg.body[1]))

    def _handle(self, command: _Show | _Close, sel: selectors.BaseSelector) -> None:
        if isinstance(command, _Show):
            self._stats.shown()
            self._notify(command.toast, command.icon_path, sel)
        else:
            self._close(command.key)

    def _notify(self, toast: Toast, icon_path: str | None, sel: selectors.BaseSelector) -> None:
        conn = self._connect(sel)
        if conn is None:
            self._stats.failed()
            return
        if self._caps_stale:
            with contextlib.suppress(TimeoutError, ConnectionError, OSError):
                self._set_capabilities(_call(conn, "GetCapabilities", timeout=self._call_timeout))
        replaces = self._ids_by_key.get(toast.key, 0)
        body = notify_arguments(toast, icon_path, replaces, self._capabilities)
        started = time.perf_counter()
        try:
            reply = _call(conn, "Notify", "susssasa{sv}i", body, timeout=self._call_timeout)
        except TimeoutError:
            log.warning("Notify got no answer within %.1f s", self._call_timeout)
            self._stats.failed()
            return
        except (ConnectionError, OSError) as e:
            log.warning("lost the session bus while notifying: %s", type(e).__name__)
            self._disconnect(sel)
            self._stats.failed()
            return
        if reply is None:
            self._stats.failed()
            return
        self._stats.answered(time.perf_counter() - started)
        nid = int(reply[0])
        if replaces and nid != replaces:
            self._keys_by_id.pop(replaces, None)
        self._ids_by_key[toast.key] = nid
        self._keys_by_id[nid] = toast.key
        log.debug(
            "toast %s shown as #%d%s",
            toast.key,
            nid,
            f" (replacing #{replaces})" if replaces else "",
        )

    def _close(self, key: str) -> None:
        nid = self._ids_by_key.pop(key, None)
        conn = self._conn
        if nid is None or conn is None:
            return
        # keys_by_id keeps the id until NotificationClosed arrives, to report closed(key).
        try:
            _call(conn, "CloseNotification", "u", (nid,), timeout=self._call_timeout)
        except (TimeoutError, ConnectionError, OSError) as e:
            log.warning("CloseNotification failed: %s", type(e).__name__)


# ---------------------------------------------------------------------------------------------
# Fallback: tray balloons


class TrayNotifier(Notifier):
    """``QSystemTrayIcon.showMessage``: no actions, no replacing; a click means "open".

    With a StatusNotifier tray host the message reaches the notification server but Qt never
    reports clicks; with an XEmbed tray Qt draws a balloon and reports them. With no tray
    icon at all (``tray`` is None), toasts are only logged.
    """

    MESSAGE_MS = 10_000

    def __init__(self, tray: QSystemTrayIcon | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tray = tray
        self._last_key: str | None = None
        if tray is not None:
            tray.messageClicked.connect(self._clicked)

    def show(self, toast: Toast, icon_path: str | None = None) -> None:
        self._stats.shown()
        if self._tray is None:
            log.info("no notification server and no tray icon: toast %s not shown", toast.key)
            return
        self._last_key = toast.key
        icon = QIcon(icon_path) if icon_path else self._tray.icon()
        started = time.perf_counter()
        if icon.isNull():
            self._tray.showMessage(
                toast.title, toast.body, QSystemTrayIcon.MessageIcon.Information, self.MESSAGE_MS
            )
        else:
            self._tray.showMessage(toast.title, toast.body, icon, self.MESSAGE_MS)
        self._stats.answered(time.perf_counter() - started)

    def close(self, key: str) -> None:
        # A balloon cannot be withdrawn; just stop attributing clicks to it.
        if key == self._last_key:
            self._last_key = None

    def stop(self) -> None:
        if self._tray is not None:
            with contextlib.suppress(RuntimeError, TypeError):
                self._tray.messageClicked.disconnect(self._clicked)
        self._last_key = None

    @Slot()
    def _clicked(self) -> None:
        if self._last_key is not None:
            self.actionInvoked.emit(self._last_key, ACTION_OPEN)


def make_notifier(tray: QSystemTrayIcon | None, parent: QObject | None = None) -> Notifier:
    """A :class:`FreedesktopNotifier` when a notification server is on the session bus,
    else a :class:`TrayNotifier` on ``tray``."""
    if server_present():
        return FreedesktopNotifier(parent)
    log.info("no notification server on the session bus; using tray balloons")
    return TrayNotifier(tray, parent)
