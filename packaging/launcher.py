"""The frozen entry point: what the bundle's ``tootbell`` executable runs."""

from __future__ import annotations

import os
import sys


def _give_windowed_builds_real_streams() -> None:
    # A windowed build (console=False on Windows and macOS) starts with sys.stdout and
    # sys.stderr set to None; printing or logging to them must not fail.
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


if __name__ == "__main__":
    _give_windowed_builds_real_streams()
    from tootbell.cli import main

    sys.exit(main())
