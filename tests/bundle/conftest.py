"""The bundle set: every test here is marked ``bundle`` and runs the built one-folder bundle.

Build it with ``make bundle`` (dist/tootbell/tootbell). Without it the tests skip, except in
CI (``CI`` set), where a missing bundle is an error: CI must never skip these.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from built_bundle import built_bundle

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tryfirst: the mark must be there before ``-m bundle`` selects.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.bundle)


@pytest.fixture
def bundle() -> Path:
    """The bundle's executable; skips without it (fails in CI)."""
    return built_bundle()
