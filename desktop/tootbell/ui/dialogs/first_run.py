"""The welcome window shown when no account is set up: sign in, try the demo, or quit."""

from __future__ import annotations

import logging
from typing import Literal

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tootbell.ui.icons import app_icon

log = logging.getLogger(__name__)

FirstRunChoice = Literal["sign_in", "demo", "quit"]


class FirstRunWindow(QDialog):
    """Welcome to Tootbell. Use :meth:`ask`; closing the window counts as "quit"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._choice: FirstRunChoice = "quit"
        self.setObjectName("firstRunWindow")
        self.setWindowTitle("Welcome to Tootbell")
        self.setWindowIcon(app_icon())

        icon = QLabel(self)
        icon.setPixmap(app_icon().pixmap(64, 64))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        title = QLabel("Welcome to Tootbell", self)
        font = QFont(title.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.5)
        title.setFont(font)
        about = QLabel(
            "Tootbell sits in your system tray and tells you when something happens on your "
            "Mastodon account: mentions, new followers, boosts, favourites and more, as "
            "desktop notifications you can open or dismiss. It respects your server's filters "
            "and keeps quiet during the hours you choose. Sign in to start, or try the demo "
            "to see how it works without an account.",
            self,
        )
        about.setWordWrap(True)
        about.setObjectName("about")

        self.sign_in_button = QPushButton("&Sign in…", self)
        self.sign_in_button.setObjectName("signInButton")
        self.sign_in_button.setDefault(True)
        self.demo_button = QPushButton("Try the &demo", self)
        self.demo_button.setObjectName("demoButton")
        self.quit_button = QPushButton("&Quit", self)
        self.quit_button.setObjectName("quitButton")
        buttons = QDialogButtonBox(self)
        buttons.addButton(self.sign_in_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.demo_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.quit_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.sign_in_button.clicked.connect(self._on_sign_in)
        self.demo_button.clicked.connect(self._on_demo)
        self.quit_button.clicked.connect(self.reject)

        text = QVBoxLayout()
        text.addWidget(title)
        text.addWidget(about)
        text.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        top.addSpacing(12)
        top.addLayout(text, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addSpacing(12)
        layout.addWidget(buttons)

        QWidget.setTabOrder(self.sign_in_button, self.demo_button)
        QWidget.setTabOrder(self.demo_button, self.quit_button)
        self.sign_in_button.setFocus()
        # A wrapped label needs a width to know its height; give it one, then fit the window.
        about.setMinimumWidth(380)
        self.adjustSize()

    def choice(self) -> FirstRunChoice:
        """What the person picked; "quit" until they pick something else."""
        return self._choice

    @Slot()
    def _on_sign_in(self) -> None:
        self._choice = "sign_in"
        self.accept()

    @Slot()
    def _on_demo(self) -> None:
        self._choice = "demo"
        self.accept()

    def reject(self) -> None:
        self._choice = "quit"
        super().reject()

    @classmethod
    def ask(cls, parent: QWidget | None = None) -> FirstRunChoice:
        """Show the welcome window; returns "sign_in", "demo" or "quit"."""
        window = cls(parent)
        try:
            window.exec()
            log.info("First run: %s", window.choice())
            return window.choice()
        finally:
            window.deleteLater()
