"""A keyring backend for tests only: it stands in for the OS keyring when the app runs as a
child process (the in-memory keyring of the other tests does not cross processes).

It keeps secrets in plain JSON in a temporary file named by ``TOOTBELL_TEST_KEYRING``, so it
must never be used outside tests; the child selects it with
``PYTHON_KEYRING_BACKEND=file_keyring.TempFileKeyring`` and ``tests/faults`` on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

ENV = "TOOTBELL_TEST_KEYRING"


class TempFileKeyring(KeyringBackend):
    priority = 1  # what keyring calls "recommended", so the app accepts it like a real one
    viable = False  # never chosen by keyring's own discovery: only by name, in tests

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.path = path if path is not None else Path(os.environ[ENV])

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {str(k): str(v) for k, v in data.items()}

    def _write(self, data: dict[str, str]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, self.path)

    def get_password(self, service: str, username: str) -> str | None:
        return self._read().get(f"{service}\n{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._read()
        data[f"{service}\n{username}"] = password
        self._write(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._read()
        if data.pop(f"{service}\n{username}", None) is None:
            raise PasswordDeleteError("not found")
        self._write(data)
