"""The bundle set: every test here is marked ``bundle`` and runs the built one-folder bundle.

Build it with ``make bundle`` (dist/tootbell/tootbell). Without it the tests skip, except in
CI (``CI`` set), where a missing bundle is an error: CI must never skip these.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BUNDLE_DIR = ROOT / "dist" / "tootbell"
EXECUTABLE = BUNDLE_DIR / ("tootbell.exe" if sys.platform == "win32" else "tootbell")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tryfirst: the mark must be there before ``-m bundle`` selects.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.bundle)


@pytest.fixture
def bundle() -> Path:
    """The bundle's executable; skips without it (fails in CI)."""
    if EXECUTABLE.is_file() and os.access(EXECUTABLE, os.X_OK):
        return EXECUTABLE
    if _in_ci():
        pytest.fail(
            f"CI is set but the bundle {EXECUTABLE} is missing: build it first (make bundle)",
            pytrace=False,
        )
    pytest.skip(f"needs the built bundle {EXECUTABLE}: run `make bundle` (or `make test-bundle`)")
