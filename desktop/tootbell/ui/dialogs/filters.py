"""The filters dialog: one account's keyword filters on its server, edited with a live preview.

Every :class:`FilterService` call blocks on the network, so the calls run one at a time on a
thread of their own and their outcomes come back to the GUI thread through queued signals. The
preview is worked out here, from what Tootbell has seen lately, with
:func:`tootbell.mastodon.filters_api.preview`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from PySide6.QtCore import (
    QCoreApplication,
    QEventLoop,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
    SignalInstance,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QFontMetrics,
    QKeySequence,
    QPainter,
    QPalette,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tootbell.mastodon.entities import Notification, Status
from tootbell.mastodon.filters_api import (
    Filter,
    FilterDraft,
    FilterKeyword,
    FilterStatus,
    FilterValidationError,
    KeywordEdit,
    preview,
)
from tootbell.render import clean_line, display_name, render, shorten, status_body
from tootbell.ui.dialogs.add_account import error_message
from tootbell.ui.tones import set_tone as _set_tone

log = logging.getLogger(__name__)

# (server name, check box label, short name for the list)
CONTEXT_CHOICES: tuple[tuple[str, str, str], ...] = (
    ("home", "&Home and lists", "Home"),
    ("notifications", "N&otifications", "Notifications"),
    ("public", "&Public timelines", "Public"),
    ("thread", "Con&versations (thread)", "Conversations"),
    ("account", "Pro&files (account)", "Profiles"),
)
# (server name, radio label, short name for the list)
ACTION_CHOICES: tuple[tuple[str, str, str], ...] = (
    ("warn", "&Warn (show a warning)", "Warn"),
    ("hide", "Hide &completely", "Hide"),
    ("blur", "&Blur media", "Blur media"),
)
EXPIRY_PRESETS: tuple[tuple[str, int | None], ...] = (
    ("Never", None),
    ("30 minutes", 30 * 60),
    ("1 hour", 60 * 60),
    ("6 hours", 6 * 60 * 60),
    ("12 hours", 12 * 60 * 60),
    ("1 day", 24 * 60 * 60),
    ("1 week", 7 * 24 * 60 * 60),
)
CUSTOM_UNITS: tuple[tuple[str, int], ...] = (
    ("days", 24 * 60 * 60),
    ("hours", 60 * 60),
    ("minutes", 60),
)
# Expiry combo data besides the presets' seconds.
EXPIRY_KEEP = "keep"  # an existing filter's expiry, left as it is
EXPIRY_NEVER = "never"
EXPIRY_CUSTOM = "custom"
# Where a new filter applies until the person chooses: everywhere others' posts reach them.
NEW_FILTER_CONTEXTS: tuple[str, ...] = ("home", "notifications", "public", "thread")
# The fields a refused filter's messages are shown next to (FilterValidationError.fields).
FIELDS: tuple[str, ...] = ("title", "context", "action", "expires", "keywords")
PREVIEW_DELAY_MS = 300
MAX_CUSTOM_AMOUNT = 999

_ID_ROLE = Qt.ItemDataRole.UserRole
_SUBTITLE_ROLE = Qt.ItemDataRole.UserRole + 1
_ORIGINAL_ROLE = Qt.ItemDataRole.UserRole + 2  # (keyword, whole word) as the server has it

_CONTEXT_SHORT = {key: short for key, _label, short in CONTEXT_CHOICES}
_ACTION_SHORT = {key: short for key, _label, short in ACTION_CHOICES}
_FIELD_ALIASES = {
    "expires_in": "expires",
    "expires_at": "expires",
    "filter_action": "action",
    "irreversible": "action",
    "keyword": "keywords",
    "keywords_attributes": "keywords",
    "phrase": "keywords",
}

_MINUTE = 60
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR


class FilterService(Protocol):
    """One account's filters on its server. Every method blocks (network): the dialog calls
    them off the GUI thread, one at a time. ``supports_blur`` is read once ``load`` returned."""

    @property
    def supports_blur(self) -> bool: ...

    def load(self) -> tuple[str, list[Filter]]:
        """("v2" | "v1" | "none", the filters)."""
        ...

    def create(self, draft: FilterDraft) -> Filter: ...

    def update(self, filter_id: str, draft: FilterDraft) -> Filter: ...

    def delete(self, filter_id: str) -> None: ...

    def remove_status(self, filter_status_id: str) -> None: ...

    def recent(self) -> list[Notification]:
        """What Tootbell has seen lately, for the preview."""
        ...

    def close(self) -> None:
        """Close the connection; the dialog calls it last, on its own thread."""
        ...


# --------------------------------------------------------------------------- words


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def seconds_left(expires_at: datetime, now: datetime) -> float:
    return (_aware(expires_at) - _aware(now)).total_seconds()


def expiry_text(expires_at: datetime | None, now: datetime) -> str:
    """ "never expires", "expired", "expires in 5 hours", "expires in 3 days"."""
    if expires_at is None:
        return "never expires"
    left = seconds_left(expires_at, now)
    if left <= 0:
        return "expired"
    if left >= _DAY - _HOUR / 2:
        return "expires in " + _plural(max(1, round(left / _DAY)), "day")
    if left >= _HOUR - _MINUTE / 2:
        return "expires in " + _plural(max(1, round(left / _HOUR)), "hour")
    return "expires in " + _plural(max(1, round(left / _MINUTE)), "minute")


def filter_subtitle(f: Filter, now: datetime) -> str:
    """Two lines under a filter's title: where it applies; what it does, until when, with
    how many keywords (and posts)."""
    places = ", ".join(_CONTEXT_SHORT.get(c, c) for c in f.context) or "Nowhere"
    action = _ACTION_SHORT.get(f.action, f.action.capitalize())
    parts = [action, expiry_text(f.expires_at, now), _plural(len(f.keywords), "keyword")]
    if f.statuses:
        parts.append(_plural(len(f.statuses), "post"))
    return places + "\n" + " · ".join(parts)


def field_of(key: str) -> str | None:
    """The editor field a refused filter's message belongs next to, or None."""
    name = _FIELD_ALIASES.get(key.lower(), key.lower())
    return name if name in FIELDS else None


def notification_line(n: Notification) -> str:
    """One line about a notification for the preview: who did what, and the start of it."""
    shown = render(n, "")
    body = clean_line(shown.body)
    text = f"{shown.title}: {body}" if body else shown.title
    return shorten(text, 140)


def post_line(status: Status) -> str:
    """One line about a post: its author and the start of its text (or its content warning)."""
    body = clean_line(status_body(status, hide_media=True))
    author = display_name(status.account)
    return shorten(f"{author}: {body}" if body else author, 140)


def preview_summary(action: str, hits: int, seen: int) -> str:
    of = f"{hits} of your {_plural(seen, 'recent notification')}"
    if action == "hide":
        return f"Would have hidden {of}."
    if action == "blur":
        return f"Would have blurred the media in {of}."
    return f"Would have warned about {of}."


# --------------------------------------------------------------------------- the service thread


class _CallRelay(QObject):
    """Carries each call's outcome from the service thread to the GUI thread, where it lives.

    Owned by the application, so a call that ends after the dialog closed still has somewhere
    to report; it deletes itself once its thread has ended.
    """

    succeeded = Signal(int, object)  # call id, what the service returned
    failed = Signal(int, object)  # call id, the exception
    ended = Signal()


class _ServiceThread:
    """Runs the service's calls in order on one daemon thread: a call that never answers must
    not keep Tootbell from quitting."""

    def __init__(self) -> None:
        self.relay = _CallRelay(QCoreApplication.instance())
        self.relay.setObjectName("filtersCallRelay")
        self.relay.ended.connect(self.relay.deleteLater, Qt.ConnectionType.QueuedConnection)
        self._jobs: queue.SimpleQueue[tuple[int, Callable[[], object]] | None] = queue.SimpleQueue()
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._stopped = False

    def submit(self, call: Callable[[], object]) -> int:
        if self._stopped:
            raise RuntimeError("the filters dialog has closed")
        call_id = next(self._ids)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tootbell-filters", daemon=True)
            self._thread.start()
        self._jobs.put((call_id, call))
        return call_id

    def stop(self, last: Callable[[], object] | None = None) -> None:
        """Let the calls already asked for finish, then run ``last`` (closing the service's
        connection, so that a save still under way is not cut off), then end the thread."""
        if self._stopped:
            return
        if last is not None and self._thread is not None:
            self._jobs.put((0, last))  # its outcome goes nowhere: the dialog has closed
        self._stopped = True
        if self._thread is None:
            self.relay.deleteLater()
            if last is not None:
                last()  # nothing was ever asked of the server: no connection to wait for
        else:
            self._jobs.put(None)

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def _run(self) -> None:
        relay = self.relay
        while (job := self._jobs.get()) is not None:
            call_id, call = job
            try:
                result = call()
            except Exception as e:
                log.info("Filter call failed: %s: %s", type(e).__name__, error_message(e))
                self._emit(relay.failed, call_id, e)
            else:
                self._emit(relay.succeeded, call_id, result)
        self._emit(relay.ended)

    @staticmethod
    def _emit(signal: SignalInstance, *args: object) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the application is shutting down and took the relay with it
            log.debug("A filter call finished after shutdown")


@dataclass
class _Call:
    done: Callable[[object], None]
    failed: Callable[[BaseException], None]
    holds_editor: bool  # the filters cannot be edited until it is done


# --------------------------------------------------------------------------- editor state


@dataclass(frozen=True)
class _EditorState:
    """What the editor shows, to tell whether anything changed."""

    title: str
    context: tuple[str, ...]
    action: str
    expiry: str  # EXPIRY_KEEP, EXPIRY_NEVER, EXPIRY_CUSTOM or a preset's seconds
    custom_seconds: int  # only with EXPIRY_CUSTOM
    keywords: tuple[tuple[str | None, str, bool], ...]  # (id, text, whole word)
    removed: tuple[str, ...]  # ids of saved keywords taken out


# --------------------------------------------------------------------------- widgets


class _FilterItemDelegate(QStyledItemDelegate):
    """A filter in the list: its title in bold, then two quieter lines about it."""

    _PAD = 4

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        title = opt.text
        subtitle = index.data(_SUBTITLE_ROLE)
        lines = subtitle.split("\n") if isinstance(subtitle, str) and subtitle else []
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        rect: QRect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, widget)
        state = opt.state
        group = (
            QPalette.ColorGroup.Normal
            if state & QStyle.StateFlag.State_Enabled
            else QPalette.ColorGroup.Disabled
        )
        selected = bool(state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        colour = opt.palette.color(group, role)
        quiet = QColor(colour)
        quiet.setAlphaF(0.72)
        font: QFont = opt.font
        bold = QFont(font)
        bold.setBold(True)
        width = rect.width() - 2 * self._PAD
        top = rect.top() + self._PAD
        painter.save()
        painter.setFont(bold)
        painter.setPen(colour)
        metrics = QFontMetrics(bold)
        painter.drawText(
            QRect(rect.left() + self._PAD, top, width, metrics.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            metrics.elidedText(title, Qt.TextElideMode.ElideRight, width),
        )
        top += metrics.height()
        painter.setFont(font)
        painter.setPen(quiet)
        metrics = QFontMetrics(font)
        for line in lines:
            painter.drawText(
                QRect(rect.left() + self._PAD, top, width, metrics.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                metrics.elidedText(line, Qt.TextElideMode.ElideRight, width),
            )
            top += metrics.height()
        painter.restore()

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        font: QFont = option.font
        bold = QFont(font)
        bold.setBold(True)
        subtitle = index.data(_SUBTITLE_ROLE)
        lines = len(subtitle.split("\n")) if isinstance(subtitle, str) and subtitle else 0
        height = QFontMetrics(bold).height() + lines * QFontMetrics(font).height()
        return QSize(160, height + 3 * self._PAD)


class _LiveTextDelegate(QStyledItemDelegate):
    """Edits a keyword in a line edit that hands over every keystroke at once, so the preview
    follows the typing rather than waiting for Enter."""

    def createEditor(
        self,
        parent: QWidget,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> QWidget:
        editor = QLineEdit(parent)
        editor.setFrame(False)
        editor.setObjectName("keywordEditor")
        editor.textEdited.connect(lambda _text: self.commitData.emit(editor))
        return editor

    def setEditorData(self, editor: QWidget, index: QModelIndex | QPersistentModelIndex) -> None:
        if isinstance(editor, QLineEdit):
            text = index.data(Qt.ItemDataRole.EditRole)
            text = text if isinstance(text, str) else ""
            # Each keystroke comes back here: setting the same text would move the cursor.
            if editor.text() != text:
                editor.setText(text)
            return
        super().setEditorData(editor, index)


class _KeywordTable(QTableWidget):
    """The filter's keywords: text, "whole word", and a Remove button per row."""

    rowRemoved = Signal(object, object)  # keyword id (None if never saved), FilterKeyword | None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 3, parent)
        self._row_limit: int | None = None
        self.setObjectName("keywordTable")
        self.setHorizontalHeaderLabels(["Keyword", "Whole word", ""])
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setHighlightSections(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self.setTabKeyNavigation(False)  # Tab leaves the table, as elsewhere in the dialog
        self.setWordWrap(False)
        self.setItemDelegateForColumn(0, _LiveTextDelegate(self))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Keywords")
        self.setToolTip(
            "Type to change a keyword; Space switches “whole word”; Delete removes the row."
        )

        remove = QAction("Remove keyword", self)
        remove.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        remove.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        remove.triggered.connect(self.remove_current)
        self.addAction(remove)

    # -- rows

    def set_rows(self, rows: Sequence[FilterKeyword]) -> None:
        self.setRowCount(0)
        for kw in rows:
            self.add_row(kw.id, kw.keyword, kw.whole_word)
        if rows:
            self.setCurrentCell(0, 0)

    def add_row(self, keyword_id: str | None, text: str, whole_word: bool) -> int:
        row = self.rowCount()
        self.insertRow(row)
        item = QTableWidgetItem(text)
        item.setData(_ID_ROLE, keyword_id)
        if keyword_id is not None:
            item.setData(_ORIGINAL_ROLE, (text, whole_word))
        item.setFlags(
            Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable
        )
        self.setItem(row, 0, item)
        whole = QTableWidgetItem()
        whole.setFlags(
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsUserCheckable
        )
        whole.setCheckState(Qt.CheckState.Checked if whole_word else Qt.CheckState.Unchecked)
        whole.setToolTip("Match only the whole word, not inside longer words")
        self.setItem(row, 1, whole)
        button = QToolButton(self)
        button.setObjectName("removeKeyword")
        button.setText("Remove")
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the Delete key does it from the keyboard
        button.setToolTip("Remove this keyword (Delete)")
        button.clicked.connect(lambda: self._remove_row_of(button))
        self.setCellWidget(row, 2, button)
        return row

    def rows(self) -> tuple[tuple[str | None, str, bool], ...]:
        """(id, text, whole word) for each row, in order."""
        out: list[tuple[str | None, str, bool]] = []
        for row in range(self.rowCount()):
            item, whole = self.item(row, 0), self.item(row, 1)
            if item is None or whole is None:
                continue
            kid = item.data(_ID_ROLE)
            out.append(
                (
                    kid if isinstance(kid, str) else None,
                    item.text(),
                    whole.checkState() == Qt.CheckState.Checked,
                )
            )
        return tuple(out)

    def start_editing(self, row: int) -> None:
        item = self.item(row, 0)
        if item is None:
            return
        self.setCurrentCell(row, 0)
        self.setFocus(Qt.FocusReason.OtherFocusReason)
        self.editItem(item)

    @Slot()
    def remove_current(self) -> None:
        row = self.currentRow()
        if 0 <= row < self.rowCount():
            self._remove_row(row)

    def _remove_row_of(self, button: QToolButton) -> None:
        for row in range(self.rowCount()):
            if self.cellWidget(row, 2) is button:
                self._remove_row(row)
                return

    def _remove_row(self, row: int) -> None:
        item = self.item(row, 0)
        kid = item.data(_ID_ROLE) if item is not None else None
        original = item.data(_ORIGINAL_ROLE) if item is not None else None
        saved: FilterKeyword | None = None
        if isinstance(kid, str) and isinstance(original, tuple | list) and len(original) == 2:
            saved = FilterKeyword(kid, str(original[0]), bool(original[1]))
        self.removeRow(row)
        if self.rowCount():
            self.setCurrentCell(min(row, self.rowCount() - 1), 0)
        self.rowRemoved.emit(kid if isinstance(kid, str) else None, saved)

    def _rows_height(self, rows: int) -> int:
        header = self.horizontalHeader().sizeHint().height()
        return header + rows * self.verticalHeader().defaultSectionSize() + 2 * self.frameWidth()

    def limit_rows(self, rows: int | None) -> None:
        """Be no taller than ``rows`` rows (None: any height)."""
        self._row_limit = rows
        self.setMaximumHeight(self._rows_height(rows) if rows else 16777215)
        self.setVerticalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAlwaysOff if rows else Qt.ScrollBarPolicy.ScrollBarAsNeeded
        )
        self.updateGeometry()

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        hint.setHeight(self._rows_height(self._row_limit or 4))
        return hint

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        hint.setHeight(self._rows_height(min(self._row_limit or 3, 3)))
        return hint


class _FieldError(QLabel):
    """A red message under a field; hidden while there is none."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{name}Error")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setVisible(False)
        _set_tone(self, "error")

    def show_message(self, text: str) -> None:
        self.setText(text)
        self.setVisible(bool(text))


# --------------------------------------------------------------------------- the dialog


class FiltersDialog(QDialog):
    """Manage one account's filters. Use :meth:`manage`; the constructor is for tests."""

    def __init__(
        self,
        parent: QWidget | None,
        service: FilterService,
        *,
        account_label: str,
        clock: Callable[[], datetime] = _utc_now,
        preview_delay_ms: int = PREVIEW_DELAY_MS,
    ) -> None:
        super().__init__(parent)
        self._service = service
        self._clock = clock
        self._support = ""  # "v2", "v1" or "none" once loaded
        self._supports_blur = False
        self._filters: dict[str, Filter] = {}
        self._new_item: QListWidgetItem | None = None  # the filter being made, not yet saved
        self._subject: QListWidgetItem | None = None  # the list item the editor shows
        self._editing: Filter | None = None  # the saved filter the editor shows
        self._extra_context: tuple[str, ...] = ()  # contexts this version has no box for
        self._removed: dict[str, FilterKeyword] = {}  # saved keywords taken out, by id
        self._baseline: _EditorState | None = None
        self._filling = False  # the widgets are being filled in: not the person's edits
        self._switching = False  # the list's current item is being moved by the dialog
        self._recent: list[Notification] | None = None
        self._recent_error = ""
        self._recent_asked = False
        self._calls: dict[int, _Call] = {}
        self._focus_before: QWidget | None = None
        self._closed = False

        self.setObjectName("filtersDialog")
        self.setWindowTitle(f"Filters for {account_label}" if account_label else "Filters")
        self.setSizeGripEnabled(True)

        self._runner = _ServiceThread()
        queued = Qt.ConnectionType.QueuedConnection
        self._runner.relay.succeeded.connect(self._on_call_succeeded, queued)
        self._runner.relay.failed.connect(self._on_call_failed, queued)

        self.preview_timer = QTimer(self)
        self.preview_timer.setObjectName("previewTimer")
        self.preview_timer.setSingleShot(True)
        self.preview_timer.setInterval(preview_delay_ms)
        self.preview_timer.timeout.connect(self.update_preview)

        self.notice = QLabel(self)
        self.notice.setObjectName("notice")
        self.notice.setWordWrap(True)
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.notice.setVisible(False)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self._build_list_pane())
        splitter.addWidget(self._build_editor_pane())
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([310, 650])

        self.busy = QProgressBar(self)
        self.busy.setObjectName("busy")
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumHeight(10)
        self.busy.setMaximumWidth(80)
        self.busy.setVisible(False)
        self.busy.setAccessibleName("Working")
        self.status = QLabel(self)
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.retry_button = QPushButton("Try a&gain", self)
        self.retry_button.setObjectName("retryButton")
        self.retry_button.setAutoDefault(False)
        self.retry_button.setVisible(False)
        self.retry_button.clicked.connect(self._load)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.rejected.connect(self.reject)
        self.close_button = self.buttons.button(QDialogButtonBox.StandardButton.Close)
        self.close_button.setAutoDefault(False)

        bottom = QHBoxLayout()
        bottom.addWidget(self.busy)
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.retry_button)
        bottom.addWidget(self.buttons)

        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)

        save = QShortcut(QKeySequence(QKeySequence.StandardKey.Save), self)
        save.activated.connect(self.save)
        new = QShortcut(QKeySequence(QKeySequence.StandardKey.New), self)
        new.activated.connect(self._on_new)

        self._set_tab_order()
        self._show_nothing()
        self._update_enabled()
        self.resize(QSize(960, 700).expandedTo(self.minimumSizeHint()))
        self._load()

    # ----------------------------------------------------------------- building

    def _build_list_pane(self) -> QWidget:
        pane = QWidget(self)
        self.filter_list = QListWidget(pane)
        self.filter_list.setObjectName("filterList")
        self.filter_list.setItemDelegate(_FilterItemDelegate(self.filter_list))
        self.filter_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.filter_list.setUniformItemSizes(False)
        self.filter_list.setAccessibleName("Filters")
        self.filter_list.currentItemChanged.connect(self._on_current_changed)
        list_label = QLabel("Fi&lters:", pane)
        list_label.setBuddy(self.filter_list)

        delete_key = QAction("Delete filter", self.filter_list)
        delete_key.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        delete_key.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        delete_key.triggered.connect(self._on_delete)
        self.filter_list.addAction(delete_key)

        self.empty_label = QLabel("No filters yet. Press New to make one.", pane)
        self.empty_label.setObjectName("emptyLabel")
        self.empty_label.setWordWrap(True)
        self.empty_label.setVisible(False)

        self.new_button = QPushButton("&New", pane)
        self.new_button.setObjectName("newButton")
        self.new_button.setAutoDefault(False)
        self.new_button.setToolTip("Make a new filter (Ctrl+N)")
        self.new_button.clicked.connect(self._on_new)
        self.delete_button = QPushButton("&Delete…", pane)
        self.delete_button.setObjectName("deleteButton")
        self.delete_button.setAutoDefault(False)
        self.delete_button.clicked.connect(self._on_delete)
        row = QHBoxLayout()
        row.addWidget(self.new_button)
        row.addWidget(self.delete_button)
        row.addStretch(1)

        layout = QVBoxLayout(pane)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(list_label)
        layout.addWidget(self.filter_list, 1)
        layout.addWidget(self.empty_label)
        layout.addLayout(row)
        pane.setMinimumWidth(240)
        return pane

    def _build_editor_pane(self) -> QWidget:
        pane = QWidget(self)
        self.editor = QWidget(pane)
        self.editor.setObjectName("editor")
        editor = self.editor
        self.field_errors: dict[str, _FieldError] = {
            name: _FieldError(name, editor) for name in FIELDS
        }

        self.title_edit = QLineEdit(editor)
        self.title_edit.setObjectName("titleEdit")
        self.title_edit.setPlaceholderText("Spoilers, a topic, a word you would rather not see")
        self.title_edit.setMaxLength(256)
        self.title_edit.textChanged.connect(self._on_edited)
        self.title_label = QLabel("&Title:", editor)
        self.title_label.setBuddy(self.title_edit)

        contexts = QWidget(editor)
        contexts.setObjectName("contexts")
        grid = QGridLayout(contexts)
        grid.setContentsMargins(0, 0, 0, 0)
        self.context_boxes: dict[str, QCheckBox] = {}
        per_column = (len(CONTEXT_CHOICES) + 1) // 2
        for i, (key, label, _short) in enumerate(CONTEXT_CHOICES):
            box = QCheckBox(label, contexts)
            box.setObjectName(f"context:{key}")
            box.toggled.connect(self._on_edited)
            self.context_boxes[key] = box
            grid.addWidget(box, i % per_column, i // per_column)
        grid.setColumnStretch(2, 1)

        actions = QWidget(editor)
        actions.setObjectName("actions")
        action_row = QHBoxLayout(actions)
        action_row.setContentsMargins(0, 0, 0, 0)
        self.action_group = QButtonGroup(self)
        self.action_radios: dict[str, QRadioButton] = {}
        for key, label, _short in ACTION_CHOICES:
            radio = QRadioButton(label, actions)
            radio.setObjectName(f"action:{key}")
            radio.toggled.connect(self._on_edited)
            self.action_group.addButton(radio)
            self.action_radios[key] = radio
            action_row.addWidget(radio)
        action_row.addStretch(1)
        self.action_radios["warn"].setToolTip(
            "Show the post behind a warning that names the filter."
        )
        self.action_radios["hide"].setToolTip("Do not show matching posts or notifications.")
        self.action_radios["blur"].setToolTip("Show the post but hide its images and videos.")

        expiry = QWidget(editor)
        expiry_row = QHBoxLayout(expiry)
        expiry_row.setContentsMargins(0, 0, 0, 0)
        self.expiry_combo = QComboBox(expiry)
        self.expiry_combo.setObjectName("expiryCombo")
        self.expiry_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.expiry_combo.currentIndexChanged.connect(self._on_expiry_changed)
        self.custom_amount = QSpinBox(expiry)
        self.custom_amount.setObjectName("customAmount")
        self.custom_amount.setRange(1, MAX_CUSTOM_AMOUNT)
        self.custom_amount.setMinimumWidth(
            self.custom_amount.fontMetrics().horizontalAdvance(str(MAX_CUSTOM_AMOUNT)) + 40
        )
        self.custom_amount.setAccessibleName("Expires after")
        self.custom_amount.valueChanged.connect(self._on_edited)
        self.custom_unit = QComboBox(expiry)
        self.custom_unit.setObjectName("customUnit")
        self.custom_unit.setAccessibleName("Unit")
        for name, seconds in CUSTOM_UNITS:
            self.custom_unit.addItem(name, seconds)
        self.custom_unit.currentIndexChanged.connect(self._on_edited)
        expiry_row.addWidget(self.expiry_combo)
        expiry_row.addWidget(self.custom_amount)
        expiry_row.addWidget(self.custom_unit)
        expiry_row.addStretch(1)
        expiry_label = QLabel("E&xpires:", editor)
        expiry_label.setBuddy(self.expiry_combo)

        self.keywords = _KeywordTable(editor)
        self.keywords.itemChanged.connect(self._on_edited)
        self.keywords.rowRemoved.connect(self._on_keyword_removed)
        keywords_label = QLabel("&Keywords:", editor)
        keywords_label.setBuddy(self.keywords)
        keywords_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.add_keyword_button = QPushButton("&Add keyword", editor)
        self.add_keyword_button.setObjectName("addKeywordButton")
        self.add_keyword_button.setAutoDefault(False)
        self.add_keyword_button.clicked.connect(self._on_add_keyword)
        add_row = QHBoxLayout()
        add_row.addWidget(self.add_keyword_button)
        add_row.addStretch(1)
        keywords_box = QVBoxLayout()
        keywords_box.addWidget(self.keywords, 1)
        keywords_box.addWidget(self.field_errors["keywords"])
        keywords_box.addLayout(add_row)

        self.statuses_list = QListWidget(editor)
        self.statuses_list.setObjectName("statusesList")
        self.statuses_list.setAccessibleName("Filtered posts")
        self.statuses_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.statuses_list.setMaximumHeight(80)
        self.no_statuses = QLabel("None: posts are added to a filter from the post itself.", editor)
        self.no_statuses.setObjectName("noStatuses")
        self.no_statuses.setWordWrap(True)
        # In a widget of their own, so that hiding the row (older servers) hides them both.
        statuses_box = QWidget(editor)
        statuses_box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        statuses_layout = QVBoxLayout(statuses_box)
        statuses_layout.setContentsMargins(0, 0, 0, 0)
        statuses_layout.addWidget(self.statuses_list)
        statuses_layout.addWidget(self.no_statuses)
        self.statuses_label = QLabel("Filt&ered posts:", editor)
        self.statuses_label.setBuddy(self.statuses_list)

        self.form = QFormLayout(editor)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.addRow(self.title_label, self._with_error(self.title_edit, "title"))
        self.form.addRow("Filter in:", self._with_error(contexts, "context"))
        self.form.addRow("Action:", self._with_error(actions, "action"))
        self.form.addRow(expiry_label, self._with_error(expiry, "expires"))
        self.form.addRow(keywords_label, keywords_box)
        self.form.addRow(self.statuses_label, statuses_box)

        self.save_button = QPushButton("&Save", pane)
        self.save_button.setObjectName("saveButton")
        self.save_button.setToolTip("Save this filter on the server (Ctrl+S)")
        self.save_button.setAutoDefault(False)
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("&Revert", pane)
        self.revert_button.setObjectName("revertButton")
        self.revert_button.setToolTip("Forget the changes to this filter")
        self.revert_button.setAutoDefault(False)
        self.revert_button.clicked.connect(self._on_revert)
        save_row = QHBoxLayout()
        save_row.addStretch(1)
        save_row.addWidget(self.revert_button)
        save_row.addWidget(self.save_button)

        self.preview_box = QGroupBox("Preview", self)
        self.preview_box.setObjectName("previewBox")
        self.preview_summary = QLabel(self.preview_box)
        self.preview_summary.setObjectName("previewSummary")
        self.preview_summary.setWordWrap(True)
        self.preview_summary.setTextFormat(Qt.TextFormat.PlainText)
        self.preview_list = QListWidget(self.preview_box)
        self.preview_list.setObjectName("previewList")
        self.preview_list.setAccessibleName("Notifications the filter would have caught")
        self.preview_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.preview_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.preview_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.preview_list.setMinimumHeight(72)
        preview_layout = QVBoxLayout(self.preview_box)
        preview_layout.addWidget(self.preview_summary)
        preview_layout.addWidget(self.preview_list, 1)

        self._pane_layout = QVBoxLayout(pane)
        self._pane_layout.setContentsMargins(0, 0, 0, 0)
        self._pane_layout.addWidget(self.editor, 1)
        self._pane_layout.addStretch(0)  # takes the room the one-row table leaves on v1
        self._pane_layout.addLayout(save_row)

        # A splitter rather than a box: it keeps the editor at least at its minimum height
        # while the preview's wrapped summary asks for more.
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.setObjectName("editorSplitter")
        split.setChildrenCollapsible(False)
        split.addWidget(pane)
        split.addWidget(self.preview_box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        return split

    def _with_error(self, field: QWidget, name: str) -> QWidget:
        """``field`` with its error message under it, in a widget: a hidden row hides both."""
        box = QWidget(self.editor)
        box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(field)
        layout.addWidget(self.field_errors[name])
        return box

    def _set_tab_order(self) -> None:
        chain: list[QWidget] = [
            self.filter_list,
            self.new_button,
            self.delete_button,
            self.title_edit,
            *self.context_boxes.values(),
            *self.action_radios.values(),
            self.expiry_combo,
            self.custom_amount,
            self.custom_unit,
            self.keywords,
            self.add_keyword_button,
            self.statuses_list,
            self.revert_button,
            self.save_button,
            self.retry_button,
            self.close_button,
        ]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    # ----------------------------------------------------------------- calls

    def _submit(
        self,
        call: Callable[[], object],
        *,
        done: Callable[[object], None],
        failed: Callable[[BaseException], None],
        holds_editor: bool,
        status: str = "",
    ) -> None:
        if self._closed:
            return
        if holds_editor and not any(c.holds_editor for c in self._calls.values()):
            self._focus_before = QApplication.focusWidget()
        call_id = self._runner.submit(call)
        self._calls[call_id] = _Call(done, failed, holds_editor)
        if status:
            self._set_status(status)
        self._update_enabled()

    def is_busy(self) -> bool:
        """Whether a call to the server is still running (or waiting its turn)."""
        return bool(self._calls)

    def editing_held(self) -> bool:
        """Whether the filters wait for a load, save or delete to finish."""
        return any(c.holds_editor for c in self._calls.values())

    @property
    def service_thread(self) -> threading.Thread | None:
        """The thread the service's calls run on, once the first call started it."""
        return self._runner.thread

    @Slot(int, object)
    def _on_call_succeeded(self, call_id: int, result: object) -> None:
        call = self._calls.pop(call_id, None)
        if call is None or self._closed:
            return
        try:
            call.done(result)
        except Exception as e:  # the service answered with something it should not have
            log.exception("Could not use what the server answered")
            call.failed(e)
        finally:
            self._after_call(call)

    @Slot(int, object)
    def _on_call_failed(self, call_id: int, error: object) -> None:
        call = self._calls.pop(call_id, None)
        if call is None or self._closed:
            return
        try:
            call.failed(error if isinstance(error, BaseException) else RuntimeError(str(error)))
        finally:
            self._after_call(call)

    def _after_call(self, call: _Call) -> None:
        self._update_enabled()
        if call.holds_editor and not self.editing_held():
            widget, self._focus_before = self._focus_before, None
            try:
                if widget is not None and widget.isEnabled() and widget.isVisible():
                    widget.setFocus(Qt.FocusReason.OtherFocusReason)
            except RuntimeError:  # that widget is gone, with the row it was in
                pass

    # ----------------------------------------------------------------- loading

    @Slot()
    def _load(self) -> None:
        if self._closed or self.editing_held():
            return
        self.retry_button.setVisible(False)
        self._submit(
            self._service.load,
            done=self._on_loaded,
            failed=self._on_load_failed,
            holds_editor=True,
            status="Loading filters…",
        )

    def _on_loaded(self, result: object) -> None:
        if not isinstance(result, tuple) or len(result) != 2:
            raise TypeError(f"load() returned {type(result).__name__}, not (support, filters)")
        support, filters = result
        if not isinstance(filters, list | tuple):
            raise TypeError(f"load() returned {type(filters).__name__} for the filters")
        support = support if support in ("v2", "v1") else "none"
        self._support = support
        self._supports_blur = support == "v2" and bool(self._service.supports_blur)
        self._filters = {}
        self._new_item = None
        self._switching = True
        try:
            self.filter_list.clear()
            if support != "none":
                for f in filters:
                    if isinstance(f, Filter):
                        self._filters[f.id] = f
                        self.filter_list.addItem(self._make_item(f))
        finally:
            self._switching = False
        self._set_status("")
        if support == "none":
            self._show_notice(
                "This server does not offer keyword filters that Tootbell can manage, so there "
                "is nothing to change here. You may still find filters in your server's web "
                "settings."
            )
        elif support == "v1":
            self._show_notice(
                "This server has the older filters: one keyword per filter. Each keyword you "
                "want to filter is a filter of its own."
            )
        else:
            self._show_notice("")
        self.form.setRowVisible(self.title_label, support != "v1")
        self.form.setRowVisible(self.statuses_label, support == "v2")
        self.keywords.limit_rows(1 if support == "v1" else None)
        self._pane_layout.setStretch(0, 0 if support == "v1" else 1)
        self._pane_layout.setStretch(1, 1 if support == "v1" else 0)
        first = self.filter_list.item(0)
        if first is not None:
            self._select(first)
        else:
            self._show_nothing()
        self._update_list_hint()
        if support != "none" and not self._recent_asked:
            self._recent_asked = True
            self._submit(
                self._service.recent,
                done=self._on_recent,
                failed=self._on_recent_failed,
                holds_editor=False,
            )
        if first is not None and self.isVisible():
            self.filter_list.setFocus()

    def _on_load_failed(self, error: BaseException) -> None:
        self._set_status(f"Could not load the filters: {error_message(error)}", tone="error")
        self.retry_button.setVisible(True)

    def _on_recent(self, result: object) -> None:
        items = list(result) if isinstance(result, list | tuple) else []
        self._recent = [n for n in items if isinstance(n, Notification)]
        self._recent_error = ""
        if self._editing is not None:  # the filtered posts may be among them: show their text
            self._fill_statuses(self._editing)
        self.update_preview()

    def _on_recent_failed(self, error: BaseException) -> None:
        self._recent = None
        self._recent_error = error_message(error)
        self.update_preview()

    # ----------------------------------------------------------------- the list

    def _make_item(self, f: Filter) -> QListWidgetItem:
        item = QListWidgetItem()
        self._describe_item(item, f)
        return item

    def _describe_item(self, item: QListWidgetItem, f: Filter) -> None:
        subtitle = filter_subtitle(f, self._clock())
        title = f.title or (f.keywords[0].keyword if f.keywords else "") or "Untitled filter"
        item.setText(title)
        item.setData(_ID_ROLE, f.id)
        item.setData(_SUBTITLE_ROLE, subtitle)
        item.setToolTip(subtitle.replace("\n", " · "))
        item.setData(
            Qt.ItemDataRole.AccessibleTextRole, f"{title}. {subtitle.replace(chr(10), '. ')}"
        )
        font = item.font()
        font.setItalic(False)
        item.setFont(font)

    def _update_list_hint(self) -> None:
        self.empty_label.setVisible(self._support in ("v1", "v2") and self.filter_list.count() == 0)

    def _item_filter(self, item: QListWidgetItem | None) -> Filter | None:
        if item is None:
            return None
        fid = item.data(_ID_ROLE)
        return self._filters.get(fid) if isinstance(fid, str) else None

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current_changed(
        self, current: QListWidgetItem | None, previous: QListWidgetItem | None
    ) -> None:
        if self._switching or current is self._subject:
            return
        if self.is_dirty() and not self._confirm_discard():
            self._set_current(self._subject)
            return
        if self._new_item is not None and self._new_item is not current:
            self._drop_new_item()
        self._show_item(current)

    def _drop_new_item(self) -> None:
        item, self._new_item = self._new_item, None
        if item is None:
            return
        self._switching = True
        try:
            self.filter_list.takeItem(self.filter_list.row(item))
        finally:
            self._switching = False
        if self._subject is item:
            self._subject = None

    def _show_item(self, item: QListWidgetItem | None) -> None:
        if item is None:
            self._show_nothing()
        elif item is self._new_item:
            self._subject = item
            self._fill_editor(None)
        else:
            f = self._item_filter(item)
            if f is None:
                self._show_nothing()
                return
            self._subject = item
            self._fill_editor(f)

    def _show_nothing(self) -> None:
        self._subject = None
        self._fill_editor(None)
        self._baseline = None
        self._update_enabled()
        self.update_preview()

    def _select(self, item: QListWidgetItem | None) -> None:
        """Make ``item`` current and show it, without asking about unsaved changes."""
        self._set_current(item)
        self._show_item(item)

    def _set_current(self, item: QListWidgetItem | None) -> None:
        self._switching = True
        try:
            if item is None:
                self.filter_list.setCurrentRow(-1)
            else:
                self.filter_list.setCurrentItem(item)
        finally:
            self._switching = False

    # ----------------------------------------------------------------- the editor

    def _fill_editor(self, f: Filter | None) -> None:
        """Show ``f``, or a new filter's defaults when None."""
        self._filling = True
        try:
            self._editing = f
            self._removed = {}
            self.title_edit.setText(f.title if f is not None else "")
            if f is not None:
                contexts = f.context
            else:  # a new filter's defaults; nothing at all while no filter is shown
                contexts = NEW_FILTER_CONTEXTS if self._subject is not None else ()
            for key, box in self.context_boxes.items():
                box.setChecked(key in contexts)
            self._extra_context = tuple(c for c in contexts if c not in self.context_boxes)
            action = f.action if f is not None and f.action in _ACTION_SHORT else "warn"
            self.action_radios["blur"].setVisible(self._supports_blur or action == "blur")
            self.action_radios[action].setChecked(True)
            self._fill_expiry(f)
            if f is not None:
                self.keywords.set_rows(f.keywords)
            else:
                self.keywords.set_rows([])
                if self._subject is not None:
                    self.keywords.add_row(None, "", True)  # ready to type into
                    self.keywords.setCurrentCell(0, 0)
            self._fill_statuses(f)
            self._clear_errors()
        finally:
            self._filling = False
        self._baseline = self._read_state() if self._subject is not None else None
        self._update_enabled()
        self.preview_timer.stop()
        self.update_preview()

    def _fill_expiry(self, f: Filter | None) -> None:
        combo = self.expiry_combo
        combo.clear()
        if f is not None and f.expires_at is not None:
            when = expiry_text(f.expires_at, self._clock())
            combo.addItem(f"Unchanged: {when}", EXPIRY_KEEP)
        for label, seconds in EXPIRY_PRESETS:
            combo.addItem(label, EXPIRY_NEVER if seconds is None else str(seconds))
        combo.addItem("Custom…", EXPIRY_CUSTOM)
        keep = f is not None and f.expires_at is not None
        combo.setCurrentIndex(combo.findData(EXPIRY_KEEP if keep else EXPIRY_NEVER))
        self.custom_amount.setValue(1)
        self.custom_unit.setCurrentIndex(0)
        self._show_custom_expiry()

    def _show_custom_expiry(self) -> None:
        custom = self.expiry_combo.currentData() == EXPIRY_CUSTOM
        self.custom_amount.setVisible(custom)
        self.custom_unit.setVisible(custom)

    def _fill_statuses(self, f: Filter | None) -> None:
        self.statuses_list.clear()
        statuses = f.statuses if f is not None else ()
        buttons = [self._add_status_row(fs) for fs in statuses]
        # Tab goes from the list through its Remove buttons, then on to Revert.
        for first, second in itertools.pairwise([self.statuses_list, *buttons, self.revert_button]):
            QWidget.setTabOrder(first, second)
        self.statuses_list.setVisible(bool(statuses))
        self.no_statuses.setVisible(not statuses)

    def _status_text(self, fs: FilterStatus) -> str:
        for n in self._recent or ():
            if n.status is not None and n.status.id == fs.status_id:
                return post_line(n.status)
        return f"Post {fs.status_id}"

    def _add_status_row(self, fs: FilterStatus) -> QPushButton:
        row = QWidget(self.statuses_list)
        label = QLabel(self._status_text(fs), row)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        button = QPushButton("Remove", row)
        button.setObjectName("removeStatus")
        button.setAutoDefault(False)
        button.setToolTip("Stop filtering this post")
        button.setAccessibleName(f"Remove {label.text()} from the filter")
        button.clicked.connect(lambda: self._on_remove_status(fs, button))
        layout = QHBoxLayout(row)
        layout.setContentsMargins(4, 1, 4, 1)
        layout.addWidget(label, 1)
        layout.addWidget(button)
        item = QListWidgetItem(self.statuses_list)
        item.setData(_ID_ROLE, fs.id)
        item.setSizeHint(row.sizeHint())
        self.statuses_list.setItemWidget(item, row)
        return button

    def _read_state(self) -> _EditorState:
        data = self.expiry_combo.currentData()
        expiry = data if isinstance(data, str) else EXPIRY_NEVER
        custom = 0
        if expiry == EXPIRY_CUSTOM:
            unit = self.custom_unit.currentData()
            custom = self.custom_amount.value() * (unit if isinstance(unit, int) else _DAY)
        action = next((k for k, r in self.action_radios.items() if r.isChecked()), "warn")
        context = tuple(k for k, box in self.context_boxes.items() if box.isChecked())
        return _EditorState(
            title=self.title_edit.text(),
            context=context + self._extra_context,
            action=action,
            expiry=expiry,
            custom_seconds=custom,
            keywords=self.keywords.rows(),
            removed=tuple(self._removed),
        )

    def is_dirty(self) -> bool:
        """Whether the editor holds changes that are not saved."""
        return self._baseline is not None and self._read_state() != self._baseline

    def _expires_in(self, state: _EditorState, *, for_preview: bool) -> int | None:
        if state.expiry == EXPIRY_NEVER:
            return None
        if state.expiry == EXPIRY_CUSTOM:
            return state.custom_seconds
        if state.expiry == EXPIRY_KEEP:
            f = self._editing
            if f is None or f.expires_at is None:
                return None
            # The API sets an expiry only from now: keeping one means sending what is left.
            left = math.ceil(seconds_left(f.expires_at, self._clock()))
            return left if for_preview else max(left, 1)
        return int(state.expiry)

    def draft(self, *, for_preview: bool = False) -> FilterDraft:
        """The filter as the editor shows it now."""
        state = self._read_state()
        saved = {k.id: k for k in self._editing.keywords} if self._editing else {}
        edits: list[KeywordEdit] = []
        for kid, text, whole in state.keywords:
            word = text.strip()
            if kid is None:
                if word:
                    edits.append(KeywordEdit(word, whole))
            elif word:
                edits.append(KeywordEdit(word, whole, kid))
            else:  # emptied: the person took the word out
                old = saved.get(kid)
                edits.append(KeywordEdit(old.keyword if old else "", whole, kid, destroy=True))
        for kid, old_kw in self._removed.items():
            edits.append(KeywordEdit(old_kw.keyword, old_kw.whole_word, kid, destroy=True))
        title = state.title.strip()
        if self._support == "v1":  # v1 filters are named after their keyword
            live = [e for e in edits if not e.destroy]
            title = live[0].keyword if live else title
        return FilterDraft(
            title=title,
            context=state.context,
            action=state.action,
            expires_in=self._expires_in(state, for_preview=for_preview),
            keywords=tuple(edits),
        )

    def _on_edited(self, *_args: object) -> None:
        if self._filling:
            return
        self._update_enabled()
        self.preview_timer.start()

    @Slot(int)
    def _on_expiry_changed(self, _index: int) -> None:
        self._show_custom_expiry()
        if not self._filling and self.expiry_combo.currentData() == EXPIRY_CUSTOM:
            self.custom_amount.setFocus()
            self.custom_amount.selectAll()
        self._on_edited()

    @Slot(object, object)
    def _on_keyword_removed(self, keyword_id: object, saved: object) -> None:
        if isinstance(keyword_id, str) and isinstance(saved, FilterKeyword):
            self._removed[keyword_id] = saved
        self._on_edited()

    @Slot()
    def _on_add_keyword(self) -> None:
        if not self.add_keyword_button.isEnabled():
            return
        row = self.keywords.add_row(None, "", True)
        self._on_edited()
        self.keywords.start_editing(row)

    # ----------------------------------------------------------------- state of the buttons

    def _update_enabled(self) -> None:
        held = self.editing_held()
        usable = self._support in ("v1", "v2") and not held
        editing = usable and self._subject is not None
        dirty = editing and self.is_dirty()
        self.filter_list.setEnabled(usable)
        self.new_button.setEnabled(usable)
        self.delete_button.setEnabled(editing)
        self.editor.setEnabled(editing)
        self.save_button.setEnabled(editing and (dirty or self._subject is self._new_item))
        self.revert_button.setEnabled(dirty)
        self.add_keyword_button.setEnabled(
            editing and (self._support != "v1" or self.keywords.rowCount() < 1)
        )
        self.preview_box.setEnabled(self._support in ("v1", "v2"))
        self.busy.setVisible(bool(self._calls))

    def _show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def _set_status(self, text: str, *, tone: str = "") -> None:
        _set_tone(self.status, tone)
        self.status.setText(text)

    def _clear_errors(self) -> None:
        for label in self.field_errors.values():
            label.show_message("")

    def _field_widget(self, name: str) -> QWidget:
        return {
            "title": self.title_edit,
            "context": next(iter(self.context_boxes.values())),
            "action": next(r for r in self.action_radios.values() if r.isChecked()),
            "expires": self.expiry_combo,
            "keywords": self.keywords,
        }.get(name, self.title_edit)

    def _show_field_errors(self, fields: Mapping[str, str], summary: str) -> None:
        """Each message next to its field; the rest in the status line. Nothing typed changes."""
        self._clear_errors()
        shown: list[str] = []
        others: list[str] = []
        for key, message in fields.items():
            name = field_of(key)
            if name is None or (name == "title" and self._support == "v1"):
                others.append(message)
                continue
            label = self.field_errors[name]
            label.show_message(f"{label.text()} {message}".strip() if label.text() else message)
            shown.append(name)
        status = summary if shown else ""
        if others:
            status = " ".join([status, *others]).strip()
        self._set_status(status, tone="error")
        first = next((n for n in FIELDS if n in shown), None)
        if first is not None:
            self._focus_before = self._field_widget(first)
            if not self.editing_held():
                self._focus_before.setFocus(Qt.FocusReason.OtherFocusReason)

    # ----------------------------------------------------------------- the preview

    @Slot()
    def update_preview(self) -> None:
        """Work out what the edited filter would have caught (runs after the typing pauses)."""
        self.preview_timer.stop()
        self.preview_list.clear()
        if self._support not in ("v1", "v2") or self._subject is None:
            self._set_preview("")
            return
        if self._recent is None:
            if self._recent_error:
                self._set_preview(
                    f"The preview needs your recent notifications, which could not be "
                    f"read: {self._recent_error}"
                )
            else:
                self._set_preview("Reading your recent notifications…")
            return
        if not self._recent:
            self._set_preview("Tootbell has not seen any notifications lately: nothing to preview.")
            return
        draft = self.draft(for_preview=True)
        if "notifications" not in draft.context:
            self._set_preview(
                "This filter does not apply to notifications, so it would not change them."
            )
            return
        if not draft.active_keywords:
            self._set_preview("Add a keyword to see which of your recent notifications it catches.")
            return
        if draft.expires_in is not None and draft.expires_in <= 0:
            self._set_preview("This filter has expired, so it catches nothing.")
            return
        try:
            hits = preview(draft, self._recent, self._clock())
        except Exception:
            log.exception("Could not work out the filter preview")
            self._set_preview("The preview is not available for this filter.")
            return
        self._set_preview(preview_summary(draft.action, len(hits), len(self._recent)))
        for n in hits:
            line = notification_line(n)
            item = QListWidgetItem(line, self.preview_list)
            item.setToolTip(line)

    def _set_preview(self, text: str) -> None:
        self.preview_summary.setText(text)

    def preview_lines(self) -> list[str]:
        """The preview's list, as shown."""
        out: list[str] = []
        for i in range(self.preview_list.count()):
            item = self.preview_list.item(i)
            if item is not None:
                out.append(item.text())
        return out

    # ----------------------------------------------------------------- actions

    @Slot()
    def _on_new(self) -> None:
        if not self.new_button.isEnabled():
            return
        if self._new_item is not None:
            self._select(self._new_item)
            self.title_edit.setFocus()
            return
        if self.is_dirty() and not self._confirm_discard():
            return
        item = QListWidgetItem("New filter")
        item.setData(_SUBTITLE_ROLE, "Not saved yet")
        font = item.font()
        font.setItalic(True)
        item.setFont(font)
        self._switching = True
        try:
            self.filter_list.insertItem(0, item)
        finally:
            self._switching = False
        self._new_item = item
        self._select(item)
        self._update_list_hint()
        self._set_status("")
        if self._support == "v1":
            self.keywords.start_editing(0)
        else:
            self.title_edit.setFocus()

    @Slot()
    def save(self) -> None:
        """Save the filter in the editor (the Save button, Ctrl+S)."""
        if not self.save_button.isEnabled():
            return
        self._clear_errors()
        problems = self._local_problems()
        if problems:
            self._show_field_errors(problems, "Fix what is marked in red, then save again.")
            return
        draft = self.draft()
        service = self._service
        editing = self._editing
        item = self._subject
        if editing is None:
            call: Callable[[], object] = lambda: service.create(draft)  # noqa: E731
            status = "Creating the filter…"
        else:
            fid = editing.id
            call = lambda: service.update(fid, draft)  # noqa: E731
            status = "Saving the filter…"
        self._submit(
            call,
            done=lambda result: self._on_saved(item, result),
            failed=self._on_save_failed,
            holds_editor=True,
            status=status,
        )

    def _local_problems(self) -> dict[str, str]:
        state = self._read_state()
        problems: dict[str, str] = {}
        if self._support != "v1" and not state.title.strip():
            problems["title"] = "Give the filter a title."
        if not state.context:
            problems["context"] = "Choose at least one place to filter."
        live = [t for _kid, t, _w in state.keywords if t.strip()]
        if self._support == "v1" and not live:
            problems["keywords"] = "Type the word or phrase to filter."
        return problems

    def _on_saved(self, item: QListWidgetItem | None, result: object) -> None:
        if not isinstance(result, Filter):
            raise TypeError(f"the service returned {type(result).__name__}, not a Filter")
        self._filters[result.id] = result
        if item is not None and self.filter_list.row(item) >= 0:
            if item is self._new_item:
                self._new_item = None
            self._describe_item(item, result)
            if self._subject is item:
                self._fill_editor(result)
        else:
            self.filter_list.addItem(self._make_item(result))
        self._update_list_hint()
        self._set_status(f"Saved “{result.title}”.", tone="ok")

    def _on_save_failed(self, error: BaseException) -> None:
        if isinstance(error, FilterValidationError):
            fields = dict(error.fields)
            if not fields:
                self._set_status(error_message(error), tone="error")
                return
            self._show_field_errors(
                fields, "The server did not accept the filter: see what is marked in red."
            )
            return
        self._set_status(f"Could not save the filter: {error_message(error)}", tone="error")

    @Slot()
    def _on_revert(self) -> None:
        if not self.revert_button.isEnabled():
            return
        item = self._subject
        self._fill_editor(self._editing if item is not self._new_item else None)
        self._set_status("")

    @Slot()
    def _on_delete(self) -> None:
        if not self.delete_button.isEnabled():
            return
        item = self._subject
        if item is None:
            return
        if item is self._new_item:
            row = self.filter_list.row(item)
            self._drop_new_item()
            self._select(self.filter_list.item(min(row, self.filter_list.count() - 1)))
            self._update_list_hint()
            return
        f = self._item_filter(item)
        if f is None or not self._confirm_delete(f):
            return
        service = self._service
        fid = f.id
        self._submit(
            lambda: service.delete(fid),
            done=lambda _result: self._on_deleted(item, f),
            failed=self._on_delete_failed,
            holds_editor=True,
            status=f"Deleting “{f.title}”…",
        )

    def _on_deleted(self, item: QListWidgetItem, f: Filter) -> None:
        self._filters.pop(f.id, None)
        row = self.filter_list.row(item)
        if row >= 0:
            self._switching = True
            try:
                self.filter_list.takeItem(row)
            finally:
                self._switching = False
        if self._subject is item:
            self._subject = None
            self._select(self.filter_list.item(min(max(row, 0), self.filter_list.count() - 1)))
        self._update_list_hint()
        self._set_status(f"Deleted “{f.title}”.", tone="ok")
        self._focus_before = self.filter_list if self.filter_list.count() else self.new_button

    def _on_delete_failed(self, error: BaseException) -> None:
        self._set_status(f"Could not delete the filter: {error_message(error)}", tone="error")

    def _on_remove_status(self, fs: FilterStatus, button: QPushButton) -> None:
        f = self._editing
        if f is None or self.editing_held():
            return
        button.setEnabled(False)
        service = self._service
        fid = f.id

        def failed(error: BaseException) -> None:
            with contextlib.suppress(RuntimeError):  # the row was rebuilt meanwhile
                button.setEnabled(True)
            self._set_status(f"Could not remove the post: {error_message(error)}", tone="error")

        self._submit(
            lambda: service.remove_status(fs.id),
            done=lambda _result: self._on_status_removed(fid, fs),
            failed=failed,
            holds_editor=False,
            status="Removing the post from the filter…",
        )

    def _on_status_removed(self, filter_id: str, fs: FilterStatus) -> None:
        stored = self._filters.get(filter_id)
        if stored is not None:
            updated = replace(stored, statuses=tuple(s for s in stored.statuses if s.id != fs.id))
            self._filters[filter_id] = updated
            if self._editing is not None and self._editing.id == filter_id:
                self._editing = updated
                self._fill_statuses(updated)
            for i in range(self.filter_list.count()):
                item = self.filter_list.item(i)
                if item is not None and item.data(_ID_ROLE) == filter_id:
                    self._describe_item(item, updated)
        self._set_status("The post is no longer filtered.", tone="ok")

    # ----------------------------------------------------------------- questions

    def _ask(self, name: str, title: str, text: str, yes: str, no: str) -> bool:
        box = QMessageBox(self)
        box.setObjectName(name)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(title)
        box.setText(text)
        confirm = box.addButton(yes, QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(no, QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.exec()
        confirmed = box.clickedButton() is confirm
        box.deleteLater()
        return confirmed

    def _confirm_delete(self, f: Filter) -> bool:
        return self._ask(
            "confirmDelete",
            "Delete filter",
            f"Delete the filter “{f.title}” from your server? Posts it hides or warns about "
            "show again everywhere.",
            "&Delete",
            "&Keep it",
        )

    def _confirm_discard(self) -> bool:
        return self._ask(
            "confirmDiscard",
            "Unsaved changes",
            "This filter has changes that are not saved. Discard them?",
            "&Discard changes",
            "&Keep editing",
        )

    # ----------------------------------------------------------------- closing

    def reject(self) -> None:
        """Close (Escape, the Close button, the window's close box)."""
        saving = self.editing_held()
        if not saving and self.is_dirty() and not self._confirm_discard():
            return
        super().reject()

    def done(self, result: int) -> None:
        super().done(result)
        self._shut_down()

    def _shut_down(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.preview_timer.stop()
        self._calls.clear()
        # A call under way still ends, on its own thread; the connection closes after it.
        self._runner.stop(last=self._service.close)

    @classmethod
    def manage(
        cls,
        parent: QWidget | None,
        service: FilterService,
        *,
        account_label: str,
    ) -> None:
        """Show the dialog and return once it is closed.

        The dialog is not modal: the tray and other windows stay usable while it is open.
        """
        dialog = cls(parent, service, account_label=account_label)
        loop = QEventLoop()
        dialog.finished.connect(loop.quit)
        try:
            dialog.show()
            dialog.raise_()
            dialog.activateWindow()
            loop.exec()
        finally:
            dialog._shut_down()
            dialog.deleteLater()
