"""One logging setup: a rotating 0600 file in the log dir, secrets redacted, versions logged."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import platform
import re
import sys
from pathlib import Path

_SECRET_PATTERNS = [
    re.compile(r"(?i)(authorization:\s*bearer\s+)[^\s'\"]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)((?:access_token|client_secret|token|code_verifier|code)=)[^&\s'\"]+"),
    re.compile(
        r"(?i)(\"(?:access_token|client_secret|token|auth|p256dh|private_key)\"\s*:\s*\")[^\"]+"
    ),
]
_known_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret so that it is redacted wherever it would appear in the log."""
    if value and len(value) >= 6:
        _known_secrets.add(value)


def redact(text: str) -> str:
    for s in _known_secrets:
        if s in text:
            text = text.replace(s, "[redacted]")
    for pat in _SECRET_PATTERNS:
        text = pat.sub(r"\1[redacted]", text)
    return text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _PrivateRotatingHandler(logging.handlers.RotatingFileHandler):
    def _open(self):  # type: ignore[no-untyped-def]
        stream = super()._open()
        with contextlib.suppress(OSError):
            os.chmod(self.baseFilename, 0o600)
        return stream


def setup_logging(log_file: Path | None, *, verbose: bool = False) -> None:
    """Configure the root logger once: the file (if given) plus warnings on stderr."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    fmt = RedactingFormatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fh = _PrivateRotatingHandler(log_file, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
        fh.setFormatter(fmt)
        root.addHandler(fh)
    sh = logging.StreamHandler(sys.stderr)
    sh.setLevel(logging.DEBUG if verbose else logging.WARNING)
    sh.setFormatter(RedactingFormatter("tootbell: %(levelname)s: %(message)s"))
    root.addHandler(sh)
    # urllib3 logs full URLs at debug; keep it quiet.
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def log_versions() -> None:
    from tootbell import __version__

    log = logging.getLogger("tootbell")
    try:
        import PySide6

        qt = PySide6.__version__
    except ImportError:  # pragma: no cover - PySide6 is a dependency
        qt = "missing"
    log.info(
        "Tootbell %s, Python %s, PySide6 %s, %s",
        __version__,
        platform.python_version(),
        qt,
        platform.platform(),
    )
