"""The add-account dialog: sign in with the browser (or an access token) off the GUI thread.

The sign-in functions block on the network and the keyring, so they run in a QThread. The
worker reaches the GUI only through queued signals: progress text, "open this URL", and
"ask the person for the code"; the code goes back to the waiting worker through a queue.
"""

from __future__ import annotations

import html
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QObject, Qt, QThread, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tootbell.config import AccountConfig
from tootbell.ui.icons import app_icon
from tootbell.ui.tones import set_tone

log = logging.getLogger(__name__)

THREAD_STOP_TIMEOUT_MS = 5000
_CODE_POLL_S = 0.1


class BrowserSignIn(Protocol):
    """``tootbell.accounts.sign_in_with_browser`` with its paths and secrets already bound."""

    def __call__(
        self,
        instance: str,
        /,
        *,
        open_url: Callable[[str], bool],
        ask_code: Callable[[str], str | None],
        cancel: threading.Event,
        progress: Callable[[str], None],
    ) -> AccountConfig: ...


class TokenSignIn(Protocol):
    """``tootbell.accounts.sign_in_with_token`` with its secrets already bound."""

    def __call__(self, instance: str, token: str, /) -> AccountConfig: ...


@dataclass(frozen=True)
class SignInFunctions:
    """The two ways to sign in. Both block; the dialog calls them off the GUI thread.

    ``scopes`` is the space-separated scope list to show people who create a token by hand
    (``tootbell.mastodon.oauth.SCOPES``); empty shows no list.
    """

    browser: BrowserSignIn
    token: TokenSignIn
    scopes: str = ""


def error_message(exc: BaseException) -> str:
    """Words for the person: the exception's ``message`` if it has one, else its text."""
    message = getattr(exc, "message", None)
    if isinstance(message, str) and message.strip():
        return message
    return str(exc) or type(exc).__name__


def describe_scopes(scopes: str) -> str:
    """ "read:a read:b write:a push" -> "read: a, b · write: a · push"."""
    groups: dict[str, list[str]] = {}
    for scope in scopes.split():
        kind, _, what = scope.partition(":")
        groups.setdefault(kind, [])
        if what:
            groups[kind].append(what)
    return " · ".join(f"{k}: {', '.join(v)}" if v else k for k, v in groups.items())


# --------------------------------------------------------------------------- worker


class _SignInWorker(QObject):
    """Runs one sign-in call in its own thread. Signals are its only way to the GUI."""

    progress = Signal(str)
    openUrlRequested = Signal(str)
    codeRequested = Signal(str)
    succeeded = Signal(object)  # AccountConfig
    failed = Signal(str)  # a message for people
    done = Signal()  # always last

    def __init__(
        self, job: Callable[[_SignInWorker], AccountConfig], cancel: threading.Event
    ) -> None:
        super().__init__()
        self._job = job
        self.cancel = cancel
        self._codes: queue.SimpleQueue[str | None] = queue.SimpleQueue()

    @Slot()
    def run(self) -> None:
        try:
            account = self._job(self)
        except Exception as e:
            log.warning("Sign-in failed: %s: %s", type(e).__name__, error_message(e))
            self.failed.emit(error_message(e))
        else:
            log.info("Signed in as %s", account.key)
            self.succeeded.emit(account)
        finally:
            self.done.emit()

    # These three are called by the sign-in function, on the worker thread.

    def open_url(self, url: str) -> bool:
        self.openUrlRequested.emit(url)
        return True

    def ask_code(self, url: str) -> str | None:
        self.codeRequested.emit(url)
        while not self.cancel.is_set():
            try:
                return self._codes.get(timeout=_CODE_POLL_S)
            except queue.Empty:
                continue
        return None

    def report(self, message: str) -> None:
        self.progress.emit(message)

    # Called on the GUI thread.

    def answer_code(self, code: str | None) -> None:
        self._codes.put(code)


# --------------------------------------------------------------------------- code dialog


def _elide_middle(text: str, limit: int = 64) -> str:
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return f"{text[:half]}…{text[-half:]}"


class CodeDialog(QDialog):
    """Asks for the code that the server shows when it cannot send the browser back to us."""

    def __init__(self, parent: QWidget | None, url: str) -> None:
        super().__init__(parent)
        self.setObjectName("codeDialog")
        self.setWindowTitle("Sign-in code")
        heading = QLabel("Paste the code your server showed you", self)
        font = QFont(heading.font())
        font.setBold(True)
        heading.setFont(font)
        explain = QLabel(
            "Approve Tootbell on your server's sign-in page; it then shows a code. "
            "If the page is not open, open it here:",
            self,
        )
        explain.setWordWrap(True)
        self.link = QLabel(
            f'<a href="{html.escape(url, quote=True)}">{html.escape(_elide_middle(url))}</a>',
            self,
        )
        self.link.setObjectName("codeLink")
        self.link.setToolTip(url)
        self.link.setOpenExternalLinks(True)
        self.code_edit = QLineEdit(self)
        self.code_edit.setObjectName("codeEdit")
        form = QFormLayout()
        form.addRow("&Code:", self.code_edit)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(False)
        self.code_edit.textChanged.connect(lambda text: ok.setEnabled(bool(text.strip())))

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(explain)
        layout.addWidget(self.link)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(420)

    def code(self) -> str | None:
        if self.result() != QDialog.DialogCode.Accepted:
            return None
        return self.code_edit.text().strip() or None


# --------------------------------------------------------------------------- dialog


class AddAccountDialog(QDialog):
    """Add a Mastodon account. Use :meth:`run`; the constructor is for tests and embedding.

    Cancel while signing in asks the sign-in to stop and closes when it has. If it finished
    anyway, the account is returned: its token is already stored, and dropping it here would
    leave it orphaned in the keyring.
    """

    def __init__(self, parent: QWidget | None, sign_in: SignInFunctions) -> None:
        super().__init__(parent)
        self._sign_in = sign_in
        self._thread: QThread | None = None
        self._worker: _SignInWorker | None = None
        self._cancel = threading.Event()
        self._closing = False
        self._account: AccountConfig | None = None
        self.code_dialog: CodeDialog | None = None

        self.setObjectName("addAccountDialog")
        self.setWindowTitle("Add a Mastodon account")
        self.setWindowIcon(app_icon())

        icon = QLabel(self)
        icon.setPixmap(app_icon().pixmap(48, 48))
        heading = QLabel("Sign in to your account", self)
        font = QFont(heading.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.25)
        heading.setFont(font)
        intro = QLabel(
            "Tootbell works with Mastodon and servers that speak its language. "
            "It only reads your notifications and acts on them when you ask.",
            self,
        )
        intro.setWordWrap(True)
        head_text = QVBoxLayout()
        head_text.addWidget(heading)
        head_text.addWidget(intro)
        head = QHBoxLayout()
        head.addWidget(icon)
        head.addLayout(head_text, 1)

        self.server_edit = QLineEdit(self)
        self.server_edit.setObjectName("serverEdit")
        self.server_edit.setPlaceholderText("mastodon.social or @you@mastodon.social")
        self.server_edit.setClearButtonEnabled(True)
        server_label = QLabel("Your &server or handle:", self)
        server_label.setBuddy(self.server_edit)

        self.browser_button = QPushButton("Sign in with &browser", self)
        self.browser_button.setObjectName("browserButton")
        self.browser_button.setDefault(True)
        self.browser_button.clicked.connect(self._on_sign_in_browser)
        browser_row = QHBoxLayout()
        browser_row.addWidget(self.browser_button)
        browser_row.addStretch(1)

        self.token_toggle = QToolButton(self)
        self.token_toggle.setObjectName("tokenToggle")
        self.token_toggle.setText("Use an access &token instead")
        self.token_toggle.setCheckable(True)
        self.token_toggle.setAutoRaise(True)
        self.token_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.token_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.token_toggle.toggled.connect(self._on_token_toggled)

        self.token_section = QWidget(self)
        self.token_section.setObjectName("tokenSection")
        explain = (
            "Create one in your server's Preferences → Development, with the scopes Tootbell needs"
        )
        described = describe_scopes(sign_in.scopes)
        explain += f": {described}." if described else "."
        token_explain = QLabel(explain, self.token_section)
        token_explain.setWordWrap(True)
        token_explain.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if sign_in.scopes:
            token_explain.setToolTip(sign_in.scopes)
        self.token_edit = QLineEdit(self.token_section)
        self.token_edit.setObjectName("tokenEdit")
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText("Paste the access token")
        token_label = QLabel("&Access token:", self.token_section)
        token_label.setBuddy(self.token_edit)
        self.token_button = QPushButton("Sign in with to&ken", self.token_section)
        self.token_button.setObjectName("tokenButton")
        self.token_button.clicked.connect(self._on_sign_in_token)
        token_form = QFormLayout()
        token_form.addRow(token_label, self.token_edit)
        token_row = QHBoxLayout()
        token_row.addWidget(self.token_button)
        token_row.addStretch(1)
        token_layout = QVBoxLayout(self.token_section)
        token_layout.setContentsMargins(18, 0, 0, 0)
        token_layout.addWidget(token_explain)
        token_layout.addLayout(token_form)
        token_layout.addLayout(token_row)
        self.token_section.setVisible(False)

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
        self.status.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        status_row = QHBoxLayout()
        status_row.addWidget(self.busy)
        status_row.addWidget(self.status, 1)
        self.link = QLabel(self)
        self.link.setObjectName("browserLink")
        self.link.setOpenExternalLinks(True)
        self.link.setVisible(False)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.rejected.connect(self.reject)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setAutoDefault(False)

        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addSpacing(8)
        layout.addWidget(server_label)
        layout.addWidget(self.server_edit)
        layout.addLayout(browser_row)
        layout.addSpacing(4)
        layout.addWidget(self.token_toggle)
        layout.addWidget(self.token_section)
        layout.addLayout(status_row)
        layout.addWidget(self.link)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        for first, second in (
            (self.server_edit, self.browser_button),
            (self.browser_button, self.token_toggle),
            (self.token_toggle, self.token_edit),
            (self.token_edit, self.token_button),
            (self.token_button, self.cancel_button),
        ):
            QWidget.setTabOrder(first, second)
        self.server_edit.setFocus()
        self.setMinimumWidth(480)
        self._on_token_toggled(False)

    # ----------------------------------------------------------------- state

    def result_value(self) -> AccountConfig | None:
        """The signed-in account once the dialog has closed, else None."""
        return self._account

    def is_busy(self) -> bool:
        return self._thread is not None

    def _set_status(self, text: str, *, error: bool = False) -> None:
        set_tone(self.status, "error" if error else "")
        self.status.setProperty("error", error)
        self.status.setText(text)

    def _set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        for widget in (self.server_edit, self.token_edit, self.browser_button, self.token_button):
            widget.setEnabled(not busy)
        self.token_toggle.setEnabled(not busy)

    @Slot(bool)
    def _on_token_toggled(self, shown: bool) -> None:
        self.token_section.setVisible(shown)
        self.token_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        # Enter signs in the way the person is looking at.
        self.browser_button.setDefault(not shown)
        self.browser_button.setAutoDefault(not shown)
        self.token_button.setDefault(shown)
        self.token_button.setAutoDefault(shown)
        if shown:
            self.token_edit.setFocus()
        self.adjustSize()

    def _instance_text(self) -> str | None:
        text = self.server_edit.text().strip()
        if not text:
            self._set_status("Type your server's address, such as mastodon.social.", error=True)
            self.server_edit.setFocus()
            return None
        return text

    # ----------------------------------------------------------------- starting

    @Slot()
    def _on_sign_in_browser(self) -> None:
        if self.is_busy():
            return
        instance = self._instance_text()
        if instance is None:
            return
        browser = self._sign_in.browser

        def job(worker: _SignInWorker) -> AccountConfig:
            return browser(
                instance,
                open_url=worker.open_url,
                ask_code=worker.ask_code,
                cancel=worker.cancel,
                progress=worker.report,
            )

        self._start(job, f"Contacting {instance}…")

    @Slot()
    def _on_sign_in_token(self) -> None:
        if self.is_busy():
            return
        instance = self._instance_text()
        if instance is None:
            return
        token = self.token_edit.text().strip()
        if not token:
            self._set_status("Paste an access token first.", error=True)
            self.token_edit.setFocus()
            return
        sign_in_token = self._sign_in.token

        def job(worker: _SignInWorker) -> AccountConfig:
            return sign_in_token(instance, token)

        self._start(job, f"Checking the token with {instance}…")

    def _start(self, job: Callable[[_SignInWorker], AccountConfig], status: str) -> None:
        self._cancel = threading.Event()
        self._closing = False
        worker = _SignInWorker(job, self._cancel)
        thread = QThread()
        thread.setObjectName("tootbell-sign-in")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # Each is a slot on this dialog, so it runs on the GUI thread (queued).
        worker.progress.connect(self._on_progress)
        worker.openUrlRequested.connect(self._on_open_url)
        worker.codeRequested.connect(self._on_code_requested)
        worker.succeeded.connect(self._on_succeeded)
        worker.failed.connect(self._on_failed)
        worker.done.connect(self._on_worker_done)
        self._thread, self._worker = thread, worker
        self.link.setVisible(False)
        self._set_status(status)
        self._set_busy(True)
        self.cancel_button.setFocus()
        thread.start()

    # ----------------------------------------------------------------- from the worker

    @Slot(str)
    def _on_progress(self, message: str) -> None:
        if not self._closing:
            self._set_status(message)

    @Slot(str)
    def _on_open_url(self, url: str) -> None:
        log.info("Opening the sign-in page in the browser")
        QDesktopServices.openUrl(QUrl(url))
        self.link.setText(
            "If your browser did not open, "
            f'<a href="{html.escape(url, quote=True)}">open the sign-in page</a>.'
        )
        self.link.setToolTip(url)
        self.link.setVisible(True)
        if not self._closing:
            self._set_status("Approve Tootbell in your browser, then come back here.")

    @Slot(str)
    def _on_code_requested(self, url: str) -> None:
        worker = self._worker
        if worker is None or self._closing:
            if worker is not None:
                worker.answer_code(None)
            return
        dialog = CodeDialog(self, url)
        self.code_dialog = dialog

        def answer(_result: int) -> None:
            worker.answer_code(dialog.code())
            if self.code_dialog is dialog:
                self.code_dialog = None
            dialog.deleteLater()

        dialog.finished.connect(answer)
        dialog.open()
        dialog.code_edit.setFocus()

    @Slot(object)
    def _on_succeeded(self, account: AccountConfig) -> None:
        self._account = account

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if not self._closing:
            self._set_status(message, error=True)

    @Slot()
    def _on_worker_done(self) -> None:
        self._stop_thread()
        if self.code_dialog is not None:
            self.code_dialog.reject()
        self._set_busy(False)
        if self._account is not None:
            self.accept()
        elif self._closing:
            super().reject()
        else:
            self.server_edit.setFocus()

    def _stop_thread(self) -> None:
        thread, worker = self._thread, self._worker
        self._thread = self._worker = None
        if thread is None:
            return
        thread.quit()
        if not thread.wait(THREAD_STOP_TIMEOUT_MS):
            log.error("The sign-in thread did not stop in time")
        del worker  # owned by Python; freed with its last reference, after the thread ended

    # ----------------------------------------------------------------- closing

    def reject(self) -> None:
        """Cancel: stop a running sign-in first; the dialog closes when it has stopped."""
        if self._thread is None:
            super().reject()
            return
        if not self._closing:
            log.info("Cancelling the sign-in")
            self._closing = True
            self._cancel.set()
            self.cancel_button.setEnabled(False)
            self._set_status("Cancelling…")

    @classmethod
    def run(cls, parent: QWidget | None, sign_in: SignInFunctions) -> AccountConfig | None:
        """Show the dialog; the new account, or None if the person cancelled."""
        dialog = cls(parent, sign_in)
        try:
            dialog.exec()
            return dialog.result_value()
        finally:
            dialog.deleteLater()
