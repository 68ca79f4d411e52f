"""Where `make bundle` puts the one-folder bundle, for the tests that start it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLE_DIR = ROOT / "dist" / "tootbell"
EXECUTABLE = BUNDLE_DIR / ("tootbell.exe" if sys.platform == "win32" else "tootbell")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def built_bundle() -> Path:
    """The bundle's executable; skips the test without it, except in CI, where it fails."""
    if EXECUTABLE.is_file() and os.access(EXECUTABLE, os.X_OK):
        return EXECUTABLE
    if in_ci():
        pytest.fail(
            f"CI is set but the bundle {EXECUTABLE} is missing: build it first (make bundle)",
            pytrace=False,
        )
    pytest.skip(f"needs the built bundle {EXECUTABLE}: run `make bundle` (or `make test-bundle`)")
