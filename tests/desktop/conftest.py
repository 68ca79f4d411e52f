"""The desktop set: every test here is marked ``desktop`` and needs tests/desktop/session.py.

Run with ``python tests/desktop/session.py -- pytest tests/desktop``. Outside that session
the tests skip, except in CI (``CI`` set), where running them outside it is an error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from desktop_session import ENV_INSIDE, dunst_displayed, dunstctl_close_all  # noqa: E402


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def inside_session() -> bool:
    return os.environ.get(ENV_INSIDE) == "1"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tryfirst: the mark must be there before ``-m desktop`` selects.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.desktop)


@pytest.fixture(autouse=True)
def desktop_session() -> None:
    """Fail in CI, skip elsewhere, when not inside the private desktop session."""
    if inside_session():
        return
    how = "python tests/desktop/session.py -- pytest tests/desktop"
    if _in_ci():
        pytest.fail(
            f"CI is set but the desktop tests run outside the desktop session; "
            f"run them with `{how}` (make test-desktop)",
            pytrace=False,
        )
    pytest.skip(
        f"needs the private desktop session (Xvfb, D-Bus, dunst, tray host, "
        f"gnome-keyring): run `{how}` or `make test-desktop`"
    )


@pytest.fixture
def clean_dunst(desktop_session: None) -> Iterator[None]:
    """No toasts on screen before and after the test."""
    dunstctl_close_all()
    yield
    if dunst_displayed():
        dunstctl_close_all()
