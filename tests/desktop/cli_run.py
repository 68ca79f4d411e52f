"""Running ``tootbell`` as a separate process, as a person types it, for the CLI desktop tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def cli_env(tmp_path: Path) -> dict[str, str]:
    """The session's environment with a private TOOTBELL_HOME."""
    e = dict(os.environ)
    e["TOOTBELL_HOME"] = str(tmp_path / "home")
    return e


def tootbell(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tootbell", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
