"""``tootbell doctor``: what Tootbell needs from this desktop and each account, in plain words."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TextIO

from tootbell import APP_NAME, __version__
from tootbell.config import Paths, load_config


@dataclass
class Finding:
    ok: bool
    what: str
    detail: str
    needed: bool = True  # a failing needed finding makes the exit code non-zero


def _line(out: TextIO, f: Finding) -> None:
    mark = "ok  " if f.ok else ("FAIL" if f.needed else "warn")
    print(f"[{mark}] {f.what}: {f.detail}", file=out)


def check_desktop() -> list[Finding]:
    found: list[Finding] = []
    has_display = bool(
        os.environ.get("DISPLAY")
        or os.environ.get("WAYLAND_DISPLAY")
        or sys.platform in ("win32", "darwin")
    )
    if not os.environ.get("QT_QPA_PLATFORM") and not has_display:
        found.append(
            Finding(
                False,
                "Display",
                "no DISPLAY or WAYLAND_DISPLAY: start Tootbell inside your desktop session",
            )
        )
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon

    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    found.append(Finding(True, "Qt platform", f"{app.platformName()} (PySide6)"))
    tray = QSystemTrayIcon.isSystemTrayAvailable()
    found.append(
        Finding(
            tray,
            "System tray",
            "available"
            if tray
            else "none found; Tootbell will open a small window instead "
            "(GNOME needs the AppIndicator extension)",
            needed=False,
        )
    )
    if sys.platform.startswith("linux"):
        from tootbell.ui.toasts import server_info

        info = server_info()
        if info is None:
            found.append(
                Finding(
                    False,
                    "Notification server",
                    "none on the session bus: install and start one (dunst, xfce4-notifyd, "
                    "or your desktop's own); Tootbell falls back to tray balloons",
                    needed=not tray,
                )
            )
        else:
            caps = ", ".join(info.capabilities) or "none"
            found.append(
                Finding(
                    True,
                    "Notification server",
                    f"{info.name} {info.version} ({info.vendor}); capabilities: {caps}",
                )
            )
    return found


def check_keyring() -> tuple[Finding, object | None]:
    from tootbell.secrets import SecretStore

    store = SecretStore()
    try:
        status = store.check()
    except Exception as e:  # report, never crash the doctor
        return Finding(False, "Keyring", f"check failed: {type(e).__name__}"), None
    if status.ok:
        return Finding(True, "Keyring", f"{status.backend_name} (secure)"), store
    return Finding(False, "Keyring", status.message), None


def check_accounts(paths: Paths, store: object | None) -> list[Finding]:
    from tootbell.mastodon.client import ApiError, MastodonClient
    from tootbell.secrets import SecretStore, SecretStoreError

    config = load_config(paths)
    found: list[Finding] = []
    if not config.accounts:
        found.append(
            Finding(
                False,
                "Accounts",
                "none yet: run `tootbell account add "
                "mastodon.social` or use Add account… in the tray",
                needed=False,
            )
        )
    for acc in config.accounts:
        name = f"Account {acc.key}"
        client = MastodonClient(acc.base_url)
        try:
            try:
                caps = client.capabilities()
            except ApiError as e:
                found.append(Finding(False, name, f"server not reachable: {e.message}"))
                continue
            server = f"{caps.software} {caps.version}".strip()
            token = None
            if isinstance(store, SecretStore):
                try:
                    token = store.get_token(acc.key)
                except SecretStoreError as e:
                    found.append(Finding(False, name, f"reachable ({server}); {e.message}"))
                    continue
            if not token:
                found.append(
                    Finding(
                        False, name, f"reachable ({server}); no token in the keyring: sign in again"
                    )
                )
                continue
            authed = MastodonClient(acc.base_url, token)
            try:
                me = authed.verify_credentials()
                found.append(
                    Finding(
                        True,
                        name,
                        f"reachable, token valid (@{me.acct}); "
                        f"server {server}; delivery: {acc.delivery}",
                    )
                )
                if acc.delivery == "push":
                    from tootbell.push_cli import route_test

                    r = route_test(paths, acc)
                    found.append(Finding(r.ok, f"Push route {acc.key}", r.message))
            except ApiError as e:
                found.append(
                    Finding(
                        False,
                        name,
                        f"reachable ({server}); token rejected: {e.message}; sign in again",
                    )
                )
            finally:
                authed.close()
        finally:
            client.close()
    return found


def run_doctor(paths: Paths, out: TextIO) -> bool:
    print(f"{APP_NAME} {__version__} — config in {paths.config_dir}", file=out)
    findings = check_desktop()
    kr, store = check_keyring()
    findings.append(kr)
    findings.extend(check_accounts(paths, store))
    for f in findings:
        _line(out, f)
    bad = [f for f in findings if not f.ok and f.needed]
    print(
        ("All needed parts are present." if not bad else f"{len(bad)} problem(s) need attention."),
        file=out,
    )
    return not bad
