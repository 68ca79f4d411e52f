"""Run a command inside a private headless desktop session (Xvfb, D-Bus, dunst, tray, keyring).

Usage: ``python tests/desktop/session.py [--keep] [--allow-skip] [-v] -- CMD ARGS...``

Exit status: the command's own; 2 when something the session needs is missing (the message
names the Debian packages); 3 when the session failed to start. With ``--allow-skip`` and
``CI`` unset, missing pieces print a notice and exit 0 without running the command.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent))

from desktop_session import DesktopSession, SessionError, missing_requirements

log = logging.getLogger("desktop-session")

EXIT_MISSING = 2
EXIT_SESSION_FAILED = 3


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    if "--" in argv:
        split = argv.index("--")
        own, command = argv[:split], argv[split + 1:]
    else:
        own, command = argv, []
    parser = argparse.ArgumentParser(
        prog="session.py",
        description="Run CMD inside a private headless desktop session.",
        usage="%(prog)s [--keep] [--allow-skip] [-v] -- CMD ARGS...",
    )
    parser.add_argument("--keep", action="store_true",
                        help="keep the session directory (logs, configs) after exit")
    parser.add_argument("--allow-skip", action="store_true",
                        help="outside CI, exit 0 with a notice when desktop parts are missing")
    parser.add_argument("-v", "--verbose", action="store_true", help="log session start-up")
    args = parser.parse_args(own)
    if not command:
        parser.error("no command given after --")
    return args, command


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args, command = _parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="desktop session: %(message)s")

    missing = missing_requirements()
    if missing:
        packages = sorted({m.package for m in missing})
        what = ", ".join(m.what for m in missing)
        if args.allow_skip and not _in_ci():
            print(f"NOTICE: desktop tests NOT run: missing {what}.\n"
                  f"  Install them with: apt-get install {' '.join(packages)}",
                  file=sys.stderr)
            return 0
        print(f"desktop session: missing {what}.\n"
              f"  Install the Debian packages: apt-get install --no-install-recommends "
              f"{' '.join(packages)}", file=sys.stderr)
        return EXIT_MISSING

    # Ctrl-C, a CI runner's SIGTERM or a closed terminal all end in the finally below.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupt)

    session = DesktopSession(keep=args.keep)
    try:
        try:
            env = session.start()
        except SessionError as exc:
            print(f"desktop session: could not start: {exc}\n{session.logs()}", file=sys.stderr)
            return EXIT_SESSION_FAILED
        child: subprocess.Popen[bytes] | None = None
        try:
            child = subprocess.Popen(command, env=env)
            code = child.wait()
        except KeyboardInterrupt:
            if child is not None and child.poll() is None:
                child.send_signal(signal.SIGINT)
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            return 130
        except FileNotFoundError:
            print(f"desktop session: command not found: {command[0]}", file=sys.stderr)
            return 127
        if code != 0 and args.verbose:
            print(session.logs(), file=sys.stderr)
        return 128 - code if code < 0 else code
    finally:
        session.stop()


if __name__ == "__main__":
    sys.exit(main())
