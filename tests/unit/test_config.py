"""State files: written atomically, and what a crash left half-written is tidied."""

from __future__ import annotations

import os
from pathlib import Path

from tootbell.config import AccountState, Paths, StateStore

T0 = 1_800_000_000.0


def test_leftover_temporary_state_files_are_tidied_when_old(tmp_path: Path) -> None:
    root = Path(tmp_path)
    paths = Paths(root / "c", root / "s", root / "cache", root / "l")
    store = StateStore(paths)
    store.save("me@example.social", AccountState(cursor="5"))
    folder = root / "s" / "accounts"
    old = folder / ".me@example.social.json.abc123.tmp"
    young = folder / ".me@example.social.json.def456.tmp"
    for f in (old, young):
        f.write_text("{partial")
    os.utime(old, (T0 - 3600, T0 - 3600))
    os.utime(young, (T0 - 5, T0 - 5))
    assert store.tidy(now=T0) == 1
    assert not old.exists() and young.exists()  # a write may still be under way
    assert store.load("me@example.social").cursor == "5"
