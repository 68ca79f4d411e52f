"""The notifications window: one account's recent notifications and unread conversations,
with dismiss, clear all and mark read acting on the server.

Every service call blocks on the network, so they run one at a time on a thread of their
own; results reach the GUI thread through a relay's queued signal. Avatars load the same
way, behind any change the person asked for, and only once their row is painted.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QImage,
    QKeySequence,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPixmap,
    QTextLayout,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tootbell.mastodon.entities import Account, Notification, Status
from tootbell.render import clean_line, display_name, readable_type, render, status_body
from tootbell.ui.dialogs.add_account import error_message
from tootbell.ui.icons import app_icon
from tootbell.ui.tones import set_tone

if TYPE_CHECKING:
    from tootbell.mastodon.actions import Conversation

log = logging.getLogger(__name__)

AVATAR_SIZE = 40  # logical pixels
TIME_REFRESH_MS = 60_000
NO_DISMISS_NOTE = "This server cannot dismiss single notifications; you can only clear all."

TYPE_NAMES: dict[str, str] = {
    "mention": "Mention",
    "status": "New post",
    "reblog": "Boost",
    "favourite": "Favourite",
    "follow": "New follower",
    "follow_request": "Follow request",
    "poll": "Poll ended",
    "update": "Edited post",
    "quote": "Quote",
    "quoted_update": "Edited quote",
    "admin.sign_up": "Sign-up",
    "admin.report": "Report",
    "severed_relationships": "Severed relationships",
    "moderation_warning": "Moderation warning",
    "annual_report": "Year in review",
}


class NotificationsService(Protocol):
    """One account's notifications on its server, as the app provides them.

    Every method blocks on the network and may raise; the dialog calls them off the GUI
    thread, one at a time, and shows what an exception says (its ``message``, else its text).
    """

    @property
    def can_dismiss(self) -> bool:
        """False on servers without per-notification dismiss (GoToSocial)."""
        ...

    def recent(self) -> list[Notification]:
        """Recent notifications, newest first."""
        ...

    def avatar(self, url: str) -> str | None:
        """A local file holding the image at ``url``, or None."""
        ...

    def dismiss(self, notifications: list[Notification]) -> None: ...

    def clear_all(self) -> None: ...

    def mark_all_read(self) -> None: ...

    def conversations(self) -> list[Conversation]:
        """The unread conversations."""
        ...

    def mark_conversation_read(self, conversation_id: str) -> None: ...

    def close(self) -> None:
        """Close the connection; the dialog calls it last, on its own thread."""
        ...


# --------------------------------------------------------------------------- words


def type_name(n: Notification) -> str:
    """What kind of notification this is, in a word or two: "Favourite", "Direct message"."""
    if n.is_direct:
        return "Direct message"
    return TYPE_NAMES.get(n.type) or readable_type(n.type).capitalize()


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def relative_time(then: datetime | None, now: datetime) -> str:
    """ "just now", "5 min ago", "3 hours ago", "yesterday", "4 days ago", else the date."""
    if then is None:
        return ""
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return "just now"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min ago"
    hours = minutes // 60
    if hours < 24:
        return _plural(hours, "hour", "hours") + " ago"
    days = hours // 24
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"{days} days ago"
    local = then.astimezone()
    text = f"{local.day} {local.strftime('%b')}"
    return text if local.year == now.astimezone().year else f"{text} {local.year}"


def _meta(kind: str, then: datetime | None, now: datetime) -> str:
    when = relative_time(then, now)
    return f"{kind} · {when}" if when else kind


_EARLIEST = datetime(2016, 1, 1, tzinfo=UTC)
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def status_time(status: Status | None, now: datetime) -> datetime | None:
    """When a post was made: its ``created_at`` if parsed, else what its ID says.

    Mastodon IDs carry milliseconds since the epoch in all but their low 16 bits, and
    GoToSocial's ULIDs in their first ten characters; other IDs say nothing usable.
    """
    if status is None:
        return None
    created = getattr(status, "created_at", None)
    if isinstance(created, datetime):
        return created
    sid = status.id
    ms: int | None = None
    if sid.isdigit() and len(sid) >= 15:
        ms = int(sid) >> 16
    elif len(sid) == 26 and all(c in _CROCKFORD for c in sid.upper()):
        ms = 0
        for c in sid[:10].upper():
            ms = ms * 32 + _CROCKFORD.index(c)
    if ms is None:
        return None
    try:
        then = datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return then if _EARLIEST <= then <= now + timedelta(days=1) else None


def _participants(accounts: Sequence[Account]) -> str:
    names = [display_name(a) for a in accounts]
    if not names:
        return "Only you"
    if len(names) <= 3:
        return ", ".join(names)
    return ", ".join(names[:2]) + f" and {len(names) - 2} others"


def _sentence(text: str) -> str:
    """``text`` ending in a full stop, so that another sentence can follow it."""
    text = text.strip()
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."


def _one_line(text: str) -> str:
    return " · ".join(line for line in (clean_line(t) for t in text.split("\n")) if line)


# --------------------------------------------------------------------------- service thread

# Queue priorities, lower first: a change asked for before closing still reaches the server;
# avatars still waiting when the window closes are dropped.
_CHANGE, _STOP, _AVATAR = 0, 1, 2


@dataclass(frozen=True)
class _Outcome:
    value: object
    error: str | None  # words for people; None when the call worked


@dataclass(frozen=True)
class _Loaded:
    """What one load found; a list is None when loading it failed, with the reason beside it."""

    notifications: list[Notification] | None
    can_dismiss: bool
    notifications_error: str | None
    conversations: list[Conversation] | None
    conversations_error: str | None


class _Relay(QObject):
    """Lives on the GUI thread and carries results there; deletes itself once the thread ends."""

    finished = Signal(int, object)  # job id, _Outcome
    stopped = Signal()


class _ServiceThread:
    """Runs service calls one at a time on a daemon thread: changes and loads before avatars.

    Nothing waits for it: after :meth:`stop` the call in progress and the changes already asked
    for finish, the queued avatars are dropped, and the relay (owned by the application) is
    deleted after its last signal.
    """

    def __init__(self, name: str) -> None:
        self.relay = _Relay(QCoreApplication.instance())
        self.relay.setObjectName(f"{name}-relay")
        self.relay.stopped.connect(self.relay.deleteLater, Qt.ConnectionType.QueuedConnection)
        self._jobs: queue.PriorityQueue[tuple[int, int, Callable[[], object] | None]] = (
            queue.PriorityQueue()
        )
        self._ids = itertools.count(1)
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._stopped = False
        self._last: Callable[[], object] | None = None

    def submit(self, call: Callable[[], object], priority: int) -> int:
        job_id = next(self._ids)
        self._jobs.put((priority, job_id, call))
        if not self._thread.is_alive() and not self._stopped:
            self._thread.start()
        return job_id

    def stop(self, last: Callable[[], object] | None = None) -> None:
        """End the thread after the changes already asked for; ``last`` (closing the service's
        connection) runs after them, so that a change under way is not cut off."""
        if self._stopped:
            return
        self._stopped = True
        self._last = last
        if self._thread.ident is None:
            self.relay.deleteLater()
            if last is not None:
                last()  # nothing was ever asked of the server: no connection to wait for
        else:
            self._jobs.put((_STOP, 0, None))

    def _serve(self) -> None:
        while True:
            _priority, job_id, call = self._jobs.get()
            if call is None:
                if self._last is not None:
                    try:
                        self._last()
                    except Exception as e:
                        log.info("Could not close the connection: %s", type(e).__name__)
                break
            try:
                outcome = _Outcome(call(), None)
            except Exception as e:
                log.warning("Notifications call failed: %s: %s", type(e).__name__, e)
                outcome = _Outcome(None, error_message(e))
            try:
                self.relay.finished.emit(job_id, outcome)
            except RuntimeError:  # the application is gone
                return
        with contextlib.suppress(RuntimeError):  # the application is gone
            self.relay.stopped.emit()


def _rounded_avatar(path: str, size: int) -> QImage | None:
    """The image at ``path`` as a ``size``-pixel rounded square; safe off the GUI thread."""
    image = QImage(path)
    if image.isNull():
        return None
    image = image.scaled(
        size,
        size,
        Qt.AspectRatioMode.KeepAspectRatioByExpanding,
        Qt.TransformationMode.SmoothTransformation,
    )
    out = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    out.fill(Qt.GlobalColor.transparent)
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    clip = QPainterPath()
    clip.addRoundedRect(QRectF(0, 0, size, size), size * 0.18, size * 0.18)
    painter.setClipPath(clip)
    painter.drawImage(
        QRect(0, 0, size, size),
        image,
        QRect((image.width() - size) // 2, (image.height() - size) // 2, size, size),
    )
    painter.end()
    return out


# --------------------------------------------------------------------------- list painting

_ID_ROLE = Qt.ItemDataRole.UserRole
_TITLE_ROLE = Qt.ItemDataRole.UserRole + 1
_BODY_ROLE = Qt.ItemDataRole.UserRole + 2
_META_ROLE = Qt.ItemDataRole.UserRole + 3
_AVATAR_URL_ROLE = Qt.ItemDataRole.UserRole + 4
_KIND_ROLE = Qt.ItemDataRole.UserRole + 5

_PLACEHOLDER_COLOURS = ("#3B82F6", "#8B5CF6", "#EC4899", "#F97316", "#10B981", "#0EA5E9")


def placeholder_icon(name: str, size: int = AVATAR_SIZE) -> QIcon:
    """A coloured rounded square with the first letter of ``name``, until the avatar loads."""
    icon = QIcon()
    letter = next((c for c in name if c.isalnum()), "?").upper()
    digest = hashlib.sha1(name.encode("utf-8", "replace")).digest()
    colour = QColor(_PLACEHOLDER_COLOURS[digest[0] % len(_PLACEHOLDER_COLOURS)])
    for scale in (1, 2):
        px = size * scale
        pixmap = QPixmap(px, px)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(QRectF(0, 0, px, px), px * 0.18, px * 0.18)
        font = QFont(QApplication.font())
        font.setBold(True)
        font.setPixelSize(int(px * 0.5))
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(QRect(0, 0, px, px), Qt.AlignmentFlag.AlignCenter, letter)
        painter.end()
        icon.addPixmap(pixmap)
    return icon


def _mix(a: QColor, b: QColor, amount: float) -> QColor:
    """``a`` moved ``amount`` of the way to ``b``."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * amount),
        round(a.green() + (b.green() - a.green()) * amount),
        round(a.blue() + (b.blue() - a.blue()) * amount),
    )


def _wrapped(text: str, font: QFont, width: int, max_lines: int) -> list[str]:
    """``text`` broken into at most ``max_lines`` lines of ``width``; the last one elided."""
    if not text or width <= 0:
        return []
    layout = QTextLayout(text, font)
    layout.beginLayout()
    starts: list[int] = []
    while len(starts) < max_lines:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        starts.append(line.textStart())
    layout.endLayout()
    # Qt counts UTF-16 code units: an emoji before a line break moves it by one in Python.
    units = text.encode("utf-16-le")
    ends = [*starts, len(units) // 2]
    lines = [
        units[2 * a : 2 * b].decode("utf-16-le", errors="replace").strip()
        for a, b in itertools.pairwise(ends)
    ]
    if lines:
        lines[-1] = QFontMetrics(font).elidedText(lines[-1], Qt.TextElideMode.ElideRight, width)
    return lines


class _EntryDelegate(QStyledItemDelegate):
    """Paints a row: avatar, a bold title, up to two lines of text, and a dim "kind · when"."""

    PAD = 8
    GAP = 2
    BODY_LINES = 2

    def __init__(self, parent: QWidget, need_avatar: Callable[[str], None]) -> None:
        super().__init__(parent)
        self._need_avatar = need_avatar

    @staticmethod
    def _fonts(base: QFont) -> tuple[QFont, QFont, QFont]:
        title = QFont(base)
        title.setBold(True)
        meta = QFont(base)
        if base.pointSizeF() > 0:
            meta.setPointSizeF(max(base.pointSizeF() * 0.9, 7.0))
        return title, QFont(base), meta

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        title, body, meta = self._fonts(option.font)
        text_height = (
            QFontMetrics(title).height()
            + self.BODY_LINES * QFontMetrics(body).lineSpacing()
            + QFontMetrics(meta).height()
            + 2 * self.GAP
        )
        return QSize(AVATAR_SIZE * 6, max(text_height, AVATAR_SIZE) + 2 * self.PAD)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        widget: QWidget | None = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        # The style paints the background, selection and focus; the rest is painted here.
        opt.text = ""
        opt.icon = QIcon()
        opt.features = opt.features & ~(
            QStyleOptionViewItem.ViewItemFeature.HasDecoration
            | QStyleOptionViewItem.ViewItemFeature.HasDisplay
        )
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)

        state = opt.state
        rect: QRect = opt.rect.adjusted(self.PAD, self.PAD, -self.PAD, -self.PAD)
        icon = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(icon, QIcon):
            icon.paint(painter, QRect(rect.left(), rect.top(), AVATAR_SIZE, AVATAR_SIZE))
        url = index.data(_AVATAR_URL_ROLE)
        if isinstance(url, str) and url:
            self._need_avatar(url)

        palette: QPalette = opt.palette
        if not state & QStyle.StateFlag.State_Enabled:
            group = QPalette.ColorGroup.Disabled
        elif not state & QStyle.StateFlag.State_Active:
            group = QPalette.ColorGroup.Inactive
        else:
            group = QPalette.ColorGroup.Normal
        selected = bool(state & QStyle.StateFlag.State_Selected)
        if selected:
            text_colour = palette.color(group, QPalette.ColorRole.HighlightedText)
            dim_colour = text_colour
        else:
            text_colour = palette.color(group, QPalette.ColorRole.Text)
            dim_colour = _mix(text_colour, palette.color(group, QPalette.ColorRole.Base), 0.4)

        title_font, body_font, meta_font = self._fonts(opt.font)
        x = rect.left() + AVATAR_SIZE + self.PAD
        width = rect.right() - x + 1
        y = rect.top()
        painter.save()
        painter.setPen(text_colour)
        painter.setFont(title_font)
        fm = QFontMetrics(title_font)
        title = str(index.data(_TITLE_ROLE) or "")
        painter.drawText(
            QRect(x, y, width, fm.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            fm.elidedText(title, Qt.TextElideMode.ElideRight, width),
        )
        y += fm.height() + self.GAP
        painter.setFont(body_font)
        fm = QFontMetrics(body_font)
        for line in _wrapped(str(index.data(_BODY_ROLE) or ""), body_font, width, self.BODY_LINES):
            painter.drawText(
                QRect(x, y, width, fm.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                line,
            )
            y += fm.lineSpacing()
        painter.setPen(dim_colour)
        painter.setFont(meta_font)
        fm = QFontMetrics(meta_font)
        meta = str(index.data(_META_ROLE) or "")
        painter.drawText(
            QRect(x, rect.bottom() - fm.height() + 1, width, fm.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            fm.elidedText(meta, Qt.TextElideMode.ElideRight, width),
        )
        painter.restore()


class _EntryList(QListWidget):
    """A multi-select list that says in words why it is empty."""

    def __init__(self, parent: QWidget, need_avatar: Callable[[str], None]) -> None:
        super().__init__(parent)
        self._placeholder = ""
        self.times: dict[str, datetime | None] = {}  # row ID -> when, for "5 min ago"
        self.setItemDelegate(_EntryDelegate(self, need_avatar))
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setUniformItemSizes(True)
        self.setIconSize(QSize(AVATAR_SIZE, AVATAR_SIZE))

    def clear(self) -> None:
        super().clear()
        self.times.clear()

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.viewport().update()

    def placeholder(self) -> str:
        return self._placeholder

    def ids(self, items: Iterable[QListWidgetItem] | None = None) -> list[str]:
        """The IDs of ``items`` (default: all), in list order."""
        chosen = list(items) if items is not None else None
        rows = sorted(self.row(i) for i in chosen) if chosen is not None else range(self.count())
        return [str(self.item(r).data(_ID_ROLE)) for r in rows]

    def selected_ids(self) -> list[str]:
        return self.ids(self.selectedItems())

    def remove_ids(self, ids: Iterable[str]) -> None:
        """Remove these rows; the keyboard focus goes to the row after the first one removed."""
        gone = set(ids)
        rows = [r for r in range(self.count()) if self.item(r).data(_ID_ROLE) in gone]
        if not rows:
            return
        for row in reversed(rows):
            self.takeItem(row)
        for i in gone:
            self.times.pop(i, None)
        if self.count():
            self.clearSelection()
            nxt = self.item(min(rows[0], self.count() - 1))
            self.setCurrentItem(nxt, self.selectionModel().SelectionFlag.NoUpdate)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.count() or not self._placeholder:
            return
        painter = QPainter(self.viewport())
        colour = self.palette().color(QPalette.ColorRole.Text)
        painter.setPen(_mix(colour, self.palette().color(QPalette.ColorRole.Base), 0.4))
        painter.drawText(
            self.viewport().rect().adjusted(16, 16, -16, -16),
            Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
            self._placeholder,
        )
        painter.end()


# --------------------------------------------------------------------------- dialog


class NotificationsDialog(QDialog):
    """Recent notifications and unread conversations of one account. Use :meth:`manage`.

    Signals tell the app what changed on the server, so it can withdraw the toasts:
    ``dismissed`` (notification IDs), ``cleared``, ``markedAllRead`` and ``conversationRead``
    (a conversation ID). Nothing changes in the lists until the server has agreed.
    """

    dismissed = Signal(list)
    cleared = Signal()
    markedAllRead = Signal()
    conversationRead = Signal(str)
    conversationPostRead = Signal(str)  # the newest post of a conversation just marked read

    def __init__(
        self,
        parent: QWidget | None,
        service: NotificationsService,
        *,
        account_label: str,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(parent)
        self._service = service
        self._account_label = account_label
        self._clock = clock or (lambda: datetime.now(UTC))
        self._thread = _ServiceThread("tootbell-notifications")
        self._thread.relay.finished.connect(
            self._on_job_finished, Qt.ConnectionType.QueuedConnection
        )
        self._handlers: dict[int, Callable[[_Outcome], None]] = {}
        self._busy_jobs: set[int] = set()  # calls the person waits for (not avatars)
        self._change_job: int | None = None  # a change on the server, which Close waits for
        self._closing = False
        self._can_dismiss = False
        self._notifications: dict[str, Notification] = {}
        self._conversations: dict[str, Conversation] = {}
        self._avatar_icons: dict[str, QIcon] = {}
        self._avatar_asked: set[str] = set()
        self.confirm: Callable[[str], bool] = self._confirm_clear

        self.setObjectName("notificationsDialog")
        self.setWindowTitle(f"Notifications · {clean_line(account_label)}")
        self.setWindowIcon(app_icon())

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("tabs")
        self.notifications_page = self._build_notifications_tab()
        self.conversations_page = self._build_conversations_tab()
        self.tabs.addTab(self.notifications_page, "&Notifications")
        self.tabs.addTab(self.conversations_page, "C&onversations")

        self.busy = QProgressBar(self)
        self.busy.setObjectName("busy")
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumHeight(10)
        self.busy.setMaximumWidth(80)
        self.busy.setVisible(False)
        self.status = QLabel(self)
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

        self.refresh_button = QPushButton("Re&fresh", self)
        self.refresh_button.setObjectName("refreshButton")
        self.refresh_button.setToolTip("Load the notifications and conversations again (F5)")
        self.refresh_button.setAutoDefault(False)
        self.refresh_button.clicked.connect(self.refresh)
        refresh_action = QAction(self)
        refresh_action.setShortcuts(QKeySequence.StandardKey.Refresh)
        refresh_action.triggered.connect(self.refresh)
        self.addAction(refresh_action)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.rejected.connect(self.reject)
        self.close_button = self.buttons.button(QDialogButtonBox.StandardButton.Close)
        self.close_button.setObjectName("closeButton")
        self.close_button.setAutoDefault(False)
        self.buttons.addButton(self.refresh_button, QDialogButtonBox.ButtonRole.ResetRole)

        status_row = QHBoxLayout()
        status_row.addWidget(self.busy)
        status_row.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(status_row)
        layout.addWidget(self.buttons)

        for first, second in (
            (self.tabs, self.notification_list),
            (self.notification_list, self.dismiss_button),
            (self.dismiss_button, self.clear_button),
            (self.clear_button, self.mark_all_read_button),
            (self.mark_all_read_button, self.conversation_list),
            (self.conversation_list, self.mark_read_button),
            (self.mark_read_button, self.mark_all_conversations_button),
            (self.mark_all_conversations_button, self.refresh_button),
            (self.refresh_button, self.close_button),
        ):
            QWidget.setTabOrder(first, second)

        self._times = QTimer(self)
        self._times.setInterval(TIME_REFRESH_MS)
        self._times.timeout.connect(self.refresh_times)
        self._times.start()

        self.resize(600, 560)
        self.setMinimumSize(460, 380)
        self.notification_list.setFocus()
        self.refresh()

    def _build_notifications_tab(self) -> QWidget:
        page = QWidget(self)
        page.setObjectName("notificationsPage")
        self.notification_list = _EntryList(page, self._request_avatar)
        self.notification_list.setObjectName("notificationList")
        self.notification_list.setAccessibleName("Recent notifications")
        self.notification_list.itemSelectionChanged.connect(self._update_buttons)

        self.note = QLabel(NO_DISMISS_NOTE, page)
        self.note.setObjectName("noDismissNote")
        self.note.setWordWrap(True)
        self.note.setVisible(False)

        self.dismiss_button = QPushButton("&Dismiss selected", page)
        self.dismiss_button.setObjectName("dismissButton")
        self.dismiss_button.setToolTip("Remove the selected notifications on the server (Delete)")
        self.dismiss_button.clicked.connect(self.dismiss_selected)
        self.clear_button = QPushButton("C&lear all…", page)
        self.clear_button.setObjectName("clearButton")
        self.clear_button.setToolTip("Delete every notification of this account on the server")
        self.clear_button.clicked.connect(self.clear_all)
        self.mark_all_read_button = QPushButton("&Mark all read", page)
        self.mark_all_read_button.setObjectName("markAllReadButton")
        self.mark_all_read_button.setToolTip("Mark every notification as read on the server")
        self.mark_all_read_button.clicked.connect(self.mark_all_read)
        for button in (self.dismiss_button, self.clear_button, self.mark_all_read_button):
            button.setAutoDefault(False)

        dismiss_action = QAction(page)
        dismiss_action.setShortcuts(QKeySequence.StandardKey.Delete)
        dismiss_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        dismiss_action.triggered.connect(self._dismiss_by_key)
        page.addAction(dismiss_action)

        row = QHBoxLayout()
        row.addWidget(self.dismiss_button)
        row.addWidget(self.clear_button)
        row.addStretch(1)
        row.addWidget(self.mark_all_read_button)
        layout = QVBoxLayout(page)
        layout.addWidget(self.notification_list, 1)
        layout.addWidget(self.note)
        layout.addLayout(row)
        return page

    def _build_conversations_tab(self) -> QWidget:
        page = QWidget(self)
        page.setObjectName("conversationsPage")
        self.conversation_list = _EntryList(page, self._request_avatar)
        self.conversation_list.setObjectName("conversationList")
        self.conversation_list.setAccessibleName("Unread conversations")
        self.conversation_list.itemSelectionChanged.connect(self._update_buttons)
        self.mark_read_button = QPushButton("Mark &read", page)
        self.mark_read_button.setObjectName("markReadButton")
        self.mark_read_button.setToolTip("Mark the selected conversations as read")
        self.mark_read_button.clicked.connect(self.mark_selected_conversations_read)
        self.mark_all_conversations_button = QPushButton("Mark &all read", page)
        self.mark_all_conversations_button.setObjectName("markAllConversationsButton")
        self.mark_all_conversations_button.setToolTip("Mark every listed conversation as read")
        self.mark_all_conversations_button.clicked.connect(self.mark_all_conversations_read)
        for button in (self.mark_read_button, self.mark_all_conversations_button):
            button.setAutoDefault(False)
        row = QHBoxLayout()
        row.addWidget(self.mark_read_button)
        row.addStretch(1)
        row.addWidget(self.mark_all_conversations_button)
        layout = QVBoxLayout(page)
        layout.addWidget(self.conversation_list, 1)
        layout.addLayout(row)
        return page

    # ----------------------------------------------------------------- state

    def is_busy(self) -> bool:
        """True while a load or a change on the server runs (avatars do not count)."""
        return bool(self._busy_jobs)

    def can_dismiss(self) -> bool:
        return self._can_dismiss

    def _set_status(self, text: str, *, error: bool = False) -> None:
        set_tone(self.status, "error" if error else "")
        self.status.setProperty("error", error)
        self.status.setText(text)

    @Slot()
    def _update_buttons(self) -> None:
        idle = not self._busy_jobs and not self._closing
        self.dismiss_button.setEnabled(
            idle and self._can_dismiss and bool(self.notification_list.selectedItems())
        )
        self.clear_button.setEnabled(idle)
        self.mark_all_read_button.setEnabled(idle)
        self.mark_read_button.setEnabled(idle and bool(self.conversation_list.selectedItems()))
        self.mark_all_conversations_button.setEnabled(idle and self.conversation_list.count() > 0)
        self.refresh_button.setEnabled(idle)
        self.busy.setVisible(bool(self._busy_jobs))
        count = self.conversation_list.count()
        self.tabs.setTabText(
            self.tabs.indexOf(self.conversations_page),
            f"C&onversations ({count})" if count else "C&onversations",
        )

    # ----------------------------------------------------------------- running calls

    def _run(
        self,
        call: Callable[[], object],
        on_done: Callable[[_Outcome], None],
        *,
        status: str | None = None,
        change: bool = False,
    ) -> None:
        """Queue ``call`` for the service thread; ``on_done`` gets its outcome on this thread.

        With a ``status`` the person waits for the call: the busy indicator shows and the
        buttons are off until it returns. Without one it is background work (an avatar),
        queued behind anything the person asked for.
        """
        job_id = self._thread.submit(call, _AVATAR if status is None else _CHANGE)
        self._handlers[job_id] = on_done
        if status is None:
            return
        had_focus = self._focused_button()
        self._busy_jobs.add(job_id)
        if change:
            self._change_job = job_id
        self._set_status(status)
        self._update_buttons()
        if had_focus is not None and not had_focus.isEnabled():
            # The button just pressed is off until the server answers; keep the keyboard nearby.
            self._focus_list()

    def _focused_button(self) -> QWidget | None:
        focus = QApplication.focusWidget()
        return focus if isinstance(focus, QPushButton) and self.isAncestorOf(focus) else None

    def _focus_list(self) -> None:
        page = self.tabs.currentWidget()
        target = (
            self.conversation_list if page is self.conversations_page else self.notification_list
        )
        target.setFocus(Qt.FocusReason.OtherFocusReason)

    @Slot(int, object)
    def _on_job_finished(self, job_id: int, outcome: object) -> None:
        handler = self._handlers.pop(job_id, None)
        waited = job_id in self._busy_jobs
        self._busy_jobs.discard(job_id)
        was_change = job_id == self._change_job
        if was_change:
            self._change_job = None
        if handler is not None and isinstance(outcome, _Outcome):
            handler(outcome)
        if waited:
            self._update_buttons()
        if was_change and self._closing:
            self.reject()

    # ----------------------------------------------------------------- loading

    @Slot()
    def refresh(self) -> None:
        """Load the notifications and the unread conversations again."""
        if self._busy_jobs or self._closing:
            return
        service = self._service

        def load() -> _Loaded:
            notifications: list[Notification] | None = None
            conversations: list[Conversation] | None = None
            notifications_error = conversations_error = None
            can_dismiss = False
            try:
                notifications = list(service.recent())
                can_dismiss = bool(service.can_dismiss)
            except Exception as e:
                log.warning("Loading notifications failed: %s: %s", type(e).__name__, e)
                notifications_error = error_message(e)
            try:
                conversations = list(service.conversations())
            except Exception as e:
                log.warning("Loading conversations failed: %s: %s", type(e).__name__, e)
                conversations_error = error_message(e)
            return _Loaded(
                notifications, can_dismiss, notifications_error, conversations, conversations_error
            )

        if not self.notification_list.count():
            self.notification_list.set_placeholder("Loading notifications…")
        if not self.conversation_list.count():
            self.conversation_list.set_placeholder("Loading conversations…")
        self._run(load, self._loaded, status="Loading…")

    def _loaded(self, outcome: _Outcome) -> None:
        loaded = outcome.value
        if not isinstance(loaded, _Loaded):  # the job itself failed
            loaded = _Loaded(None, self._can_dismiss, outcome.error, None, outcome.error)
        problems: list[str] = []
        if loaded.notifications is not None:
            self._show_notifications(loaded.notifications, loaded.can_dismiss)
        else:
            self.notification_list.set_placeholder("The notifications could not be loaded.")
            problems.append(f"Could not load the notifications: {loaded.notifications_error}")
        if loaded.conversations is not None:
            self._show_conversations(loaded.conversations)
        else:
            self.conversation_list.set_placeholder("The conversations could not be loaded.")
            problems.append(f"Could not load the conversations: {loaded.conversations_error}")
        if problems:
            self._set_status("\n".join(problems), error=True)
            return
        counts = _plural(self.notification_list.count(), "notification", "notifications")
        unread = self.conversation_list.count()
        if unread:
            counts += ", " + _plural(unread, "unread conversation", "unread conversations")
        self._set_status(counts + ".")

    def _show_notifications(self, notifications: list[Notification], can_dismiss: bool) -> None:
        self._can_dismiss = can_dismiss
        self.note.setVisible(not can_dismiss)
        self._notifications = {n.id: n for n in notifications}
        selected = set(self.notification_list.selected_ids())
        self.notification_list.clear()
        now = self._clock()
        for n in notifications:
            rendered = render(n, self._account_label)
            item = QListWidgetItem()
            item.setData(_ID_ROLE, n.id)
            item.setData(_TITLE_ROLE, rendered.title)
            item.setData(_BODY_ROLE, _one_line(rendered.body))
            self._set_avatar(item, n.account)
            self.notification_list.times[n.id] = n.created_at
            self._set_meta(item, type_name(n), n.created_at, now)
            tip = rendered.title + (f"\n{rendered.body}" if rendered.body else "")
            if n.created_at is not None:
                tip += "\n" + n.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
            item.setToolTip(tip)
            self.notification_list.addItem(item)
            item.setSelected(n.id in selected)
        self.notification_list.set_placeholder("No recent notifications.")
        if self.notification_list.count() and self.notification_list.currentRow() < 0:
            self.notification_list.setCurrentRow(
                0, self.notification_list.selectionModel().SelectionFlag.NoUpdate
            )

    def _show_conversations(self, conversations: list[Conversation]) -> None:
        self._conversations = {c.id: c for c in conversations}
        selected = set(self.conversation_list.selected_ids())
        self.conversation_list.clear()
        now = self._clock()
        for c in conversations:
            status = c.last_status
            body = _one_line(status_body(status)) if status is not None else ""
            item = QListWidgetItem()
            item.setData(_ID_ROLE, c.id)
            item.setData(_TITLE_ROLE, _participants(c.accounts))
            item.setData(_BODY_ROLE, body or "No message text")
            self._set_avatar(item, c.accounts[0] if c.accounts else None)
            when = status_time(status, now)
            self.conversation_list.times[c.id] = when
            self._set_meta(item, "Direct message", when, now)
            item.setToolTip(f"{_participants(c.accounts)}\n{body}".strip())
            self.conversation_list.addItem(item)
            item.setSelected(c.id in selected)
        self.conversation_list.set_placeholder("No unread conversations.")
        if self.conversation_list.count() and self.conversation_list.currentRow() < 0:
            self.conversation_list.setCurrentRow(
                0, self.conversation_list.selectionModel().SelectionFlag.NoUpdate
            )

    @staticmethod
    def _set_meta(item: QListWidgetItem, kind: str, then: datetime | None, now: datetime) -> None:
        item.setData(_KIND_ROLE, kind)
        meta = _meta(kind, then, now)
        item.setData(_META_ROLE, meta)
        # What screen readers and type-ahead see; the delegate paints the parts.
        title = item.data(_TITLE_ROLE)
        body = item.data(_BODY_ROLE)
        item.setData(Qt.ItemDataRole.DisplayRole, ". ".join(t for t in (title, body, meta) if t))

    @Slot()
    def refresh_times(self) -> None:
        """Bring the "5 min ago" texts up to date."""
        now = self._clock()
        for lst in (self.notification_list, self.conversation_list):
            for row in range(lst.count()):
                item = lst.item(row)
                then = lst.times.get(str(item.data(_ID_ROLE)))
                self._set_meta(item, str(item.data(_KIND_ROLE)), then, now)

    # ----------------------------------------------------------------- avatars

    def _set_avatar(self, item: QListWidgetItem, account: Account | None) -> None:
        if account is None:
            item.setIcon(app_icon())
            return
        url = account.avatar_static or account.avatar
        item.setData(_AVATAR_URL_ROLE, url)
        item.setIcon(self._avatar_icons.get(url) or placeholder_icon(display_name(account)))

    def _request_avatar(self, url: str) -> None:
        """Called when a row is painted: fetch its avatar once, behind any other call."""
        if url in self._avatar_asked or self._closing:
            return
        self._avatar_asked.add(url)
        service = self._service
        size = AVATAR_SIZE * 2

        def load() -> QImage | None:
            path = service.avatar(url)
            return _rounded_avatar(path, size) if path else None

        self._run(load, lambda outcome: self._avatar_loaded(url, outcome))

    def _avatar_loaded(self, url: str, outcome: _Outcome) -> None:
        image = outcome.value
        if not isinstance(image, QImage):
            return  # the placeholder stays
        icon = QIcon(QPixmap.fromImage(image))
        self._avatar_icons[url] = icon
        for lst in (self.notification_list, self.conversation_list):
            for row in range(lst.count()):
                item = lst.item(row)
                if item.data(_AVATAR_URL_ROLE) == url:
                    item.setIcon(icon)

    # ----------------------------------------------------------------- notifications

    @Slot()
    def dismiss_selected(self) -> None:
        """Dismiss the selected notifications on the server; they go when it has agreed."""
        if self._busy_jobs or self._closing or not self._can_dismiss:
            return
        ids = [i for i in self.notification_list.selected_ids() if i in self._notifications]
        if not ids:
            return
        chosen = [self._notifications[i] for i in ids]
        service = self._service
        what = _plural(len(ids), "notification", "notifications")

        def done(outcome: _Outcome) -> None:
            if outcome.error is not None:
                self._set_status(
                    f"Could not dismiss the {what}: {_sentence(outcome.error)} "
                    "They are still listed; try again.",
                    error=True,
                )
                return
            self.notification_list.remove_ids(ids)
            for i in ids:
                self._notifications.pop(i, None)
            self._set_status(f"Dismissed {what}.")
            self.dismissed.emit(ids)

        self._run(lambda: service.dismiss(chosen), done, status=f"Dismissing {what}…", change=True)

    @Slot()
    def _dismiss_by_key(self) -> None:
        """Delete: the selected rows, else the row the keyboard is on."""
        lst = self.notification_list
        if not lst.selectedItems() and lst.currentItem() is not None:
            lst.currentItem().setSelected(True)
        self.dismiss_selected()

    @Slot()
    def clear_all(self) -> None:
        """Ask, then delete every notification of the account on the server."""
        if self._busy_jobs or self._closing:
            return
        label = clean_line(self._account_label)
        question = (
            f"Clear all notifications on {label}? "
            "This deletes them on the server and cannot be undone."
        )
        if not self.confirm(question):
            return
        service = self._service

        def done(outcome: _Outcome) -> None:
            if outcome.error is not None:
                self._set_status(f"Could not clear the notifications: {outcome.error}", error=True)
                return
            self.notification_list.clear()
            self._notifications.clear()
            self._set_status("Cleared all notifications.")
            self.cleared.emit()

        self._run(service.clear_all, done, status="Clearing all notifications…", change=True)

    def _confirm_clear(self, question: str) -> bool:
        box = QMessageBox(self)
        box.setObjectName("confirmClear")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Clear all notifications")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(question)
        clear = box.addButton("&Clear all", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.exec()
        confirmed = box.clickedButton() is clear
        box.deleteLater()
        return confirmed

    @Slot()
    def mark_all_read(self) -> None:
        """Move the account's read marker to its newest notification."""
        if self._busy_jobs or self._closing:
            return

        def done(outcome: _Outcome) -> None:
            if outcome.error is not None:
                self._set_status(
                    f"Could not mark the notifications read: {outcome.error}", error=True
                )
                return
            self._set_status("Marked all notifications as read.")
            self.markedAllRead.emit()

        self._run(
            self._service.mark_all_read,
            done,
            status="Marking all notifications as read…",
            change=True,
        )

    # ----------------------------------------------------------------- conversations

    @Slot()
    def mark_selected_conversations_read(self) -> None:
        self._mark_conversations_read(self.conversation_list.selected_ids())

    @Slot()
    def mark_all_conversations_read(self) -> None:
        self._mark_conversations_read(self.conversation_list.ids())

    def _mark_conversations_read(self, ids: list[str]) -> None:
        if self._busy_jobs or self._closing or not ids:
            return
        service = self._service
        what = _plural(len(ids), "conversation", "conversations")

        def mark() -> tuple[list[str], str | None]:
            # One by one: those the server marked are reported even when a later one fails.
            marked: list[str] = []
            for conversation_id in ids:
                try:
                    service.mark_conversation_read(conversation_id)
                except Exception as e:
                    log.warning("Marking a conversation read failed: %s: %s", type(e).__name__, e)
                    return marked, error_message(e)
                marked.append(conversation_id)
            return marked, None

        def done(outcome: _Outcome) -> None:
            value = outcome.value
            marked, error = value if isinstance(value, tuple) else ([], outcome.error)
            self.conversation_list.remove_ids(marked)
            for conversation_id in marked:
                conv = self._conversations.pop(conversation_id, None)
                self.conversationRead.emit(conversation_id)
                if conv is not None and conv.last_status is not None:
                    self.conversationPostRead.emit(conv.last_status.id)
            if error is not None:
                left = len(ids) - len(marked)
                self._set_status(
                    f"Could not mark {_plural(left, 'conversation', 'conversations')} as read: "
                    f"{error}",
                    error=True,
                )
            else:
                self._set_status(f"Marked {what} as read.")

        self._run(mark, done, status=f"Marking {what} as read…", change=True)

    # ----------------------------------------------------------------- closing

    def reject(self) -> None:
        """Close. A change still running is waited for, so its result is not lost; asking a
        second time closes at once (the server still gets the change)."""
        if self._change_job is not None and not self._closing:
            self._closing = True
            self._set_status("Closing when the server has answered…")
            self._update_buttons()
            return
        super().reject()

    def done(self, arg__1: int) -> None:
        self._closing = True
        self._times.stop()
        self._thread.stop(last=self._service.close)
        super().done(arg__1)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.status.property("error"):
            self._set_status(self.status.text(), error=True)

    # ----------------------------------------------------------------- entry point

    @classmethod
    def manage(
        cls,
        parent: QWidget | None,
        service: NotificationsService,
        *,
        account_label: str,
        on_dismissed: Callable[[list[str]], None] | None = None,
        on_cleared: Callable[[], None] | None = None,
        on_marked_all_read: Callable[[], None] | None = None,
        on_conversation_read: Callable[[str], None] | None = None,
        on_conversation_post_read: Callable[[str], None] | None = None,
    ) -> None:
        """Show the notifications of ``account_label`` until the person closes the window.

        The callbacks run on the GUI thread as soon as the server has agreed to a change, so
        the app can withdraw the matching toasts while the window is still open.
        """
        dialog = cls(parent, service, account_label=account_label)
        if on_dismissed is not None:
            dialog.dismissed.connect(on_dismissed)
        if on_cleared is not None:
            dialog.cleared.connect(on_cleared)
        if on_marked_all_read is not None:
            dialog.markedAllRead.connect(on_marked_all_read)
        if on_conversation_read is not None:
            dialog.conversationRead.connect(on_conversation_read)
        if on_conversation_post_read is not None:
            dialog.conversationPostRead.connect(on_conversation_post_read)
        try:
            dialog.exec()
        finally:
            dialog.deleteLater()
