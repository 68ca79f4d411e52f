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
        own, command = argv[:split], argv[split + 1 :]
    else:
        own, command = argv, []
    parser = argparse.ArgumentParser(
        prog="session.py",
        description="Run CMD inside a private headless desktop session.",
        usage="%(prog)s [--keep] [--allow-skip] [-v] -- CMD ARGS...",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the session directory (logs, configs) after exit"
    )
    parser.add_argument(
        "--allow-skip",
        action="store_true",
        help="outside CI, exit 0 with a notice when desktop parts are missing",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log session start-up")
    args = parser.parse_args(own)
    if not command:
        parser.error("no command given after --")
    return args, command


class _Interrupted(BaseException):
    """A signal asked us to stop: end the command, then tear the session down."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise _Interrupted(signum)


def _end_command(child: subprocess.Popen[bytes], signum: int) -> None:
    """Stop the command after an interrupt, politely first.

    A Ctrl-C in a terminal reaches the command too (same process group), so for SIGINT give
    it a moment to finish on its own before sending SIGTERM; then SIGKILL.
    """
    steps: list[tuple[int | None, float]] = [(signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)]
    if signum == signal.SIGINT:
        steps.insert(0, (None, 3.0))
    for sig, grace in steps:
        if child.poll() is not None:
            return
        if sig is not None:
            child.send_signal(sig)
        try:
            child.wait(grace)
        except subprocess.TimeoutExpired:
            continue
        return


def main(argv: list[str] | None = None) -> int:
    args, command = _parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="desktop session: %(message)s",
    )

    missing = missing_requirements()
    if missing:
        packages = sorted({m.package for m in missing})
        what = ", ".join(m.what for m in missing)
        if args.allow_skip and not _in_ci():
            print(
                f"NOTICE: desktop tests NOT run: missing {what}.\n"
                f"  Install them with: apt-get install {' '.join(packages)}",
                file=sys.stderr,
            )
            return 0
        print(
            f"desktop session: missing {what}.\n"
            f"  Install the Debian packages: apt-get install --no-install-recommends "
            f"{' '.join(packages)}",
            file=sys.stderr,
        )
        return EXIT_MISSING

    # Ctrl-C, a CI runner's SIGTERM or a closed terminal all end in the finally below.
    # (A SIGINT that our parent ignores, as for background jobs, stays ignored.)
    handled = [signal.SIGTERM, signal.SIGHUP]
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        handled.append(signal.SIGINT)
    for signum in handled:
        signal.signal(signum, _interrupt)

    session = DesktopSession(keep=args.keep)
    child: subprocess.Popen[bytes] | None = None
    try:
        try:
            env = session.start()
        except SessionError as exc:
            print(f"desktop session: could not start: {exc}\n{session.logs()}", file=sys.stderr)
            return EXIT_SESSION_FAILED
        try:
            child = subprocess.Popen(command, env=env)
        except FileNotFoundError:
            print(f"desktop session: command not found: {command[0]}", file=sys.stderr)
            return 127
        code = child.wait()
        if code != 0 and args.verbose:
            print(session.logs(), file=sys.stderr)
        return 128 - code if code < 0 else code
    except _Interrupted as exc:
        # The teardown below must not be cut short by a second signal.
        for signum in handled:
            signal.signal(signum, signal.SIG_IGN)
        print(
            f"desktop session: interrupted ({signal.Signals(exc.signum).name}), cleaning up",
            file=sys.stderr,
        )
        if child is not None:
            _end_command(child, exc.signum)
        return 128 + exc.signum
    finally:
        for signum in handled:
            signal.signal(signum, signal.SIG_IGN)
        session.stop()


if __name__ == "__main__":
    sys.exit(main())
