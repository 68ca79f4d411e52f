"""Command line: run the tray app (default), --demo, account add|list|remove, check, doctor."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from tootbell import APP_NAME, __version__
from tootbell.config import Paths, default_paths, load_config, save_config

if TYPE_CHECKING:
    from tootbell.secrets import SecretStore

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tootbell",
        description="Desktop notifications for Mastodon, from the system tray.",
    )
    p.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    p.add_argument("--demo", action="store_true", help="run against a simulated local instance")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    sub = p.add_subparsers(dest="command")

    acc = sub.add_parser("account", help="add, list or remove accounts")
    acc_sub = acc.add_subparsers(dest="account_command", required=True)
    add = acc_sub.add_parser("add", help="sign in to an account")
    add.add_argument("instance", help="server or handle: mastodon.social, https://…, @me@host")
    add.add_argument(
        "--token-stdin",
        action="store_true",
        help="read an access token from standard input instead of signing in with the browser",
    )
    add.add_argument("--no-browser", action="store_true", help="print the sign-in link only")
    acc_sub.add_parser("list", help="list accounts, one a line")
    rm = acc_sub.add_parser("remove", help="sign out and forget an account")
    rm.add_argument("acct", help="the account's handle, user@host")

    chk = sub.add_parser("check", help="poll every account once and print what is new")
    chk.add_argument("--json", action="store_true", help="one JSON object a line")
    chk.add_argument("--peek", action="store_true", help="do not mark anything as shown")

    sub.add_parser("doctor", help="check the desktop, the keyring and every account")

    push = sub.add_parser("push", help="Web Push: enable, disable, status, test")
    push_sub = push.add_subparsers(dest="push_command", required=True)
    pe = push_sub.add_parser("enable", help="receive this account's notifications by Web Push")
    pe.add_argument("acct", help="the account's handle, user@host")
    pe.add_argument(
        "--public-url",
        required=True,
        help="public HTTPS URL of your relay or tunnel that forwards to the listener",
    )
    pe.add_argument("--listen", help="where the listener binds, HOST:PORT (default 127.0.0.1:8765)")
    pd = push_sub.add_parser("disable", help="stop Web Push for this account (polling goes on)")
    pd.add_argument("acct")
    push_sub.add_parser("status", help="push settings and the server's subscription, per account")
    pt = push_sub.add_parser("test", help="send a test push through the public URL")
    pt.add_argument("acct")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    paths = default_paths()
    from tootbell.logs import setup_logging

    try:
        paths.ensure()
        log_file = paths.log_file
    except OSError:
        log_file = None
    setup_logging(log_file, verbose=args.verbose)
    if args.command == "account":
        if args.account_command == "add":
            return cmd_account_add(
                paths, args.instance, token_stdin=args.token_stdin, no_browser=args.no_browser
            )
        if args.account_command == "list":
            return cmd_account_list(paths)
        return cmd_account_remove(paths, args.acct)
    if args.command == "check":
        return cmd_check(paths, as_json=args.json, peek=args.peek)
    if args.command == "doctor":
        return cmd_doctor(paths)
    if args.command == "push":
        from tootbell import push_cli

        if args.push_command == "enable":
            return push_cli.cmd_enable(paths, args.acct, args.public_url, args.listen)
        if args.push_command == "disable":
            return push_cli.cmd_disable(paths, args.acct)
        if args.push_command == "status":
            return push_cli.cmd_status(paths)
        return push_cli.cmd_test(paths, args.acct)
    return run_app(paths, demo=args.demo)


# --------------------------------------------------------------------------- the app


def run_app(paths: Paths, *, demo: bool) -> int:
    from tootbell.logs import log_versions

    log_versions()
    from PySide6.QtWidgets import QApplication

    from tootbell.app import TootbellApp, activate_running_instance
    from tootbell.ui.icons import app_icon

    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(qapp, QApplication)
    qapp.setApplicationName(APP_NAME)
    qapp.setApplicationVersion(__version__)
    qapp.setDesktopFileName("org.tootbell.Tootbell")
    qapp.setQuitOnLastWindowClosed(False)
    qapp.setWindowIcon(app_icon())
    if not demo and activate_running_instance(paths):
        print(f"{APP_NAME} is already running; brought it forward.", file=sys.stderr)
        return EXIT_OK
    app = TootbellApp(qapp, paths=paths, demo=demo)
    _install_excepthook(paths)
    _install_signal_handlers(app)
    app.start()
    code = qapp.exec()
    app.shutdown()
    return int(code)


def _install_excepthook(paths: Paths) -> None:
    def hook(exc_type: type[BaseException], exc: BaseException, tb: object) -> None:
        log.critical("unexpected error", exc_info=(exc_type, exc, tb))  # type: ignore[arg-type]
        try:
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.critical(
                None,
                f"{APP_NAME}: unexpected error",
                f"{exc_type.__name__}: {exc}\n\nDetails are in {paths.log_file}.",
            )
        except Exception:  # the error dialog must never raise in turn
            pass

    sys.excepthook = hook


def _install_signal_handlers(app: object) -> None:
    import signal

    from PySide6.QtCore import QTimer

    def on_signal(_sig: int, _frame: object) -> None:
        quit_ = getattr(app, "quit", None)
        if quit_ is not None:
            QTimer.singleShot(0, quit_)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Let Python run its signal handlers while Qt's loop spins.
    timer = QTimer()
    timer.start(500)
    timer.timeout.connect(lambda: None)
    app._signal_timer = timer  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- accounts


def _secrets_or_explain(out: TextIO = sys.stderr) -> SecretStore | None:
    from tootbell.secrets import SecretStore

    store = SecretStore()
    status = store.check()
    if not status.ok:
        print(f"{APP_NAME}: {status.message}", file=out)
        return None
    return store


def cmd_account_add(paths: Paths, instance: str, *, token_stdin: bool, no_browser: bool) -> int:
    from tootbell.accounts import SignInError, sign_in_with_browser, sign_in_with_token

    store = _secrets_or_explain()
    if store is None:
        return EXIT_FAIL
    try:
        if token_stdin:
            if sys.stdin.isatty():
                import getpass

                token = getpass.getpass("Access token (input hidden): ")
            else:
                token = sys.stdin.readline()
            acc = sign_in_with_token(instance, token.strip(), secrets=store)
        else:
            acc = sign_in_with_browser(
                instance,
                paths=paths,
                secrets=store,
                open_url=lambda url: _open_browser(url, no_browser),
                ask_code=_ask_code,
                cancel=threading.Event(),
                progress=lambda msg: print(msg, file=sys.stderr),
            )
    except SignInError as e:
        print(f"{APP_NAME}: {e.message}", file=sys.stderr)
        return EXIT_FAIL
    except ValueError as e:
        print(f"{APP_NAME}: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("Sign-in cancelled.", file=sys.stderr)
        return EXIT_FAIL
    config = load_config(paths)
    save_config(paths, config.with_account(acc))
    print(f"Signed in as {acc.key}.")
    return EXIT_OK


def _open_browser(url: str, no_browser: bool) -> bool:
    print(f"Open this link to approve Tootbell:\n  {url}", file=sys.stderr)
    if no_browser:
        return True
    import webbrowser

    with contextlib.suppress(webbrowser.Error):
        webbrowser.open(url)
    return True


def _ask_code(url: str) -> str | None:
    print(
        "Your server shows the authorization code on a page instead of sending it back.\n"
        f"Open {url}\nand paste the code here.",
        file=sys.stderr,
    )
    try:
        code = input("Code: ").strip()
    except EOFError:
        return None
    return code or None


def cmd_account_list(paths: Paths, out: TextIO = sys.stdout) -> int:
    config = load_config(paths)
    for a in config.accounts:
        extra = [a.base_url, f"delivery={a.delivery}"]
        if not a.enabled:
            extra.append("disabled")
        print(f"{a.key}\t" + "\t".join(extra), file=out)
    if not config.accounts:
        print("No accounts. Add one with: tootbell account add mastodon.social", file=sys.stderr)
    return EXIT_OK


def cmd_account_remove(paths: Paths, acct: str) -> int:
    from tootbell.accounts import SignInError, sign_out
    from tootbell.config import StateStore

    key = acct.lstrip("@")
    config = load_config(paths)
    acc = config.account(key)
    if acc is None:
        print(f"{APP_NAME}: no account {key}. See: tootbell account list", file=sys.stderr)
        return EXIT_FAIL
    store = _secrets_or_explain()
    if store is None:
        return EXIT_FAIL
    try:
        note = sign_out(acc, paths=paths, secrets=store)
    except SignInError as e:
        print(f"{APP_NAME}: {e.message}", file=sys.stderr)
        return EXIT_FAIL
    if note:
        print(note, file=sys.stderr)
    save_config(paths, config.without_account(key))
    StateStore(paths).delete(key)
    print(f"Removed {key}.")
    return EXIT_OK


# --------------------------------------------------------------------------- check


def cmd_check(paths: Paths, *, as_json: bool, peek: bool, out: TextIO = sys.stdout) -> int:
    from tootbell.delivery.check import check_account

    config = load_config(paths)
    if not config.accounts:
        print("No accounts. Add one with: tootbell account add mastodon.social", file=sys.stderr)
        return EXIT_FAIL
    store = _secrets_or_explain()
    if store is None:
        return EXIT_FAIL
    code = EXIT_OK
    for acc in config.accounts:
        if not acc.enabled:
            continue
        result = check_account(
            acc,
            config.settings,
            paths=paths,
            secrets=store,
            peek=peek,
            multi_account=len(config.accounts) > 1,
        )
        if result.error:
            print(f"{acc.key}: {result.error}", file=sys.stderr)
            code = EXIT_FAIL
        for line in result.lines:
            if as_json:
                print(json.dumps(line, ensure_ascii=False), file=out)
            else:
                body = line["body"].replace("\n", " ")
                print(f"{acc.key}\t{line['type']}\t{line['title']}\t{body}", file=out)
    return code


# --------------------------------------------------------------------------- doctor


def cmd_doctor(paths: Paths, out: TextIO = sys.stdout) -> int:
    from tootbell.doctor import run_doctor

    ok = run_doctor(paths, out)
    return EXIT_OK if ok else EXIT_FAIL


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
