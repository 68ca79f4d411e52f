"""Signing accounts in and out: the app registration per instance, the browser flow with its
out-of-band fallback, pasted tokens, and revocation. No Qt here.

Tokens and client secrets go to the keyring (:class:`~tootbell.secrets.SecretStore`) and
nowhere else; ``apps.json`` in the state directory holds only the public half of each
registration. The caller saves the returned :class:`AccountConfig`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tootbell.config import AccountConfig, Paths, StorageError, atomic_write_text, load_config
from tootbell.mastodon.client import (
    ApiError,
    AuthError,
    MastodonClient,
    NetworkError,
    display_host,
)
from tootbell.mastodon.oauth import (
    OOB_URI,
    SCOPES,
    AppRegistration,
    LoopbackCatcher,
    OAuthError,
    authorize_url,
    exchange_code,
    new_state,
    normalize_instance,
    pkce_pair,
    register_app,
    revoke,
)
from tootbell.secrets import SecretStore, SecretStoreError

log = logging.getLogger(__name__)

APPS_FILE = "apps.json"
APPS_VERSION = 1
CANCELLED = "Sign-in was cancelled"


class SignInError(Exception):
    """Signing in or out failed. ``message`` is shown to the person as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --------------------------------------------------------------------------- registrations


class AppRegistry:
    """One app registration per instance, reused for every account there.

    ``client_id``, redirect URIs and the VAPID key live in ``state_dir/apps.json``; the
    client secret only in the keyring. A registration whose secret went missing from the
    keyring (or whose scopes are outdated) is replaced by a new one.
    """

    _lock = threading.Lock()  # one registration at a time, across registries

    def __init__(self, paths: Paths, secrets: SecretStore) -> None:
        self._file: Path = paths.state_dir / APPS_FILE
        self._secrets = secrets

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            log.warning("Ignoring unreadable %s: %s", self._file.name, type(e).__name__)
            return {}
        apps = data.get("apps") if isinstance(data, dict) else None
        if not isinstance(apps, dict):
            return {}
        return {k: v for k, v in apps.items() if isinstance(k, str) and isinstance(v, dict)}

    def _save(self, apps: dict[str, dict[str, Any]]) -> None:
        text = json.dumps({"version": APPS_VERSION, "apps": apps}, indent=2, sort_keys=True)
        atomic_write_text(self._file, text + "\n")

    def lookup(self, base_url: str) -> AppRegistration | None:
        """The stored registration for ``base_url`` with its secret, or None (never registers).

        Raises SecretStoreError when the keyring cannot be read.
        """
        entry = self._load().get(base_url)
        if entry is None or not isinstance(entry.get("client_id"), str):
            return None
        secret = self._secrets.get_client_secret(base_url)
        if not secret:
            return None
        uris = entry.get("redirect_uris")
        vapid = entry.get("vapid_key")
        scopes = entry.get("scopes")
        return AppRegistration(
            base_url=base_url,
            client_id=entry["client_id"],
            client_secret=secret,
            scopes=scopes if isinstance(scopes, str) else "",
            redirect_uris=tuple(str(u) for u in uris) if isinstance(uris, list) else (),
            vapid_key=vapid if isinstance(vapid, str) else "",
        )

    def get_or_register(
        self, base_url: str, session: requests.Session | None = None
    ) -> AppRegistration:
        """The registration for ``base_url``, registering Tootbell there if needed.

        Raises OAuthError (registration refused or unreachable), SecretStoreError (keyring)
        and StorageError (apps.json could not be written).
        """
        with self._lock:
            reg = self.lookup(base_url)
            if reg is not None and reg.scopes.startswith(SCOPES) and reg.redirect_uris:
                return reg
            reg = register_app(base_url, session=session)
            self._secrets.set_client_secret(base_url, reg.client_secret)
            apps = self._load()
            apps[base_url] = {
                "client_id": reg.client_id,
                "redirect_uris": list(reg.redirect_uris),
                "scopes": reg.scopes,
                "vapid_key": reg.vapid_key,
            }
            self._save(apps)
            log.info("Registered Tootbell with %s", display_host(base_url))
            return reg

    def forget(self, base_url: str) -> None:
        """Drop the registration for ``base_url``: its client secret from the keyring, its
        entry from apps.json. Raises SecretStoreError and StorageError."""
        with self._lock:
            self._secrets.delete_client_secret(base_url)
            apps = self._load()
            if apps.pop(base_url, None) is None:
                return
            self._save(apps)
        log.info("Forgot the registration with %s", display_host(base_url))


# --------------------------------------------------------------------------- sign in


def account_key(username: str, base_url: str) -> str:
    """``user@host``; the host keeps a non-default port so two local servers never collide."""
    return f"{username}@{display_host(base_url)}"


def _normalize(instance: str) -> str:
    try:
        return normalize_instance(instance)
    except ValueError as e:
        raise SignInError(str(e)) from e


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise SignInError(CANCELLED)


def _code_from_paste(text: str) -> str:
    """The code from what was pasted: the bare code, or a whole URL carrying ``code=``."""
    text = text.strip()
    if "code=" in text:
        query = urlsplit(text).query or text.split("?", 1)[-1]
        codes = parse_qs(query).get("code")
        if codes:
            return codes[0].strip()
    return text


def sign_in_with_browser(
    instance: str,
    *,
    paths: Paths,
    secrets: SecretStore,
    open_url: Callable[[str], bool],
    ask_code: Callable[[str], str | None] | None = None,
    cancel: threading.Event | None = None,
    progress: Callable[[str], None] | None = None,
    timeout: float = 600,
) -> AccountConfig:
    """Sign in through the person's browser (authorization code + PKCE + state).

    The browser comes back to a loopback catcher; when no browser opens or the server has no
    loopback redirect, the person pastes the code shown by the server (``ask_code``).
    Raises SignInError with words for people.
    """
    base_url = _normalize(instance)
    host = display_host(base_url)
    say = progress or (lambda _msg: None)
    registry = AppRegistry(paths, secrets)
    with requests.Session() as session:
        try:
            say(f"Registering Tootbell with {host}…")
            reg = registry.get_or_register(base_url, session)
            _check_cancel(cancel)
            code, redirect_uri, verifier = _authorize(
                reg,
                open_url=open_url,
                ask_code=ask_code,
                cancel=cancel,
                say=say,
                timeout=timeout,
            )
            _check_cancel(cancel)
            say("Checking your account…")
            token = exchange_code(reg, code, redirect_uri, verifier, session=session)
            return _finish_sign_in(base_url, token, secrets, reg=reg, session=session)
        except OAuthError as e:
            raise SignInError(e.message) from e
        except SecretStoreError as e:
            raise SignInError(e.message) from e
        except StorageError as e:
            raise SignInError(e.message) from e


def _try_open(open_url: Callable[[str], bool], url: str) -> bool:
    """Ask the caller to open ``url``; a failing callback counts as "no browser"."""
    try:
        return bool(open_url(url))
    except Exception as e:  # the UI's browser launcher; any failure means "use the code"
        log.warning("Opening the browser failed: %s", type(e).__name__)
        return False


def _authorize(
    reg: AppRegistration,
    *,
    open_url: Callable[[str], bool],
    ask_code: Callable[[str], str | None] | None,
    cancel: threading.Event | None,
    say: Callable[[str], None],
    timeout: float,
) -> tuple[str, str, str]:
    """Get the person's approval: (code, redirect_uri used, PKCE verifier)."""
    verifier, challenge = pkce_pair()
    state = new_state()
    if reg.has_loopback:
        catcher = LoopbackCatcher(state)
        try:
            catcher.start()
        except OSError as e:
            log.warning(
                "Could not listen for the browser's answer (%s); using a pasted code",
                e.strerror or type(e).__name__,
            )
        else:
            try:
                url = authorize_url(reg, catcher.redirect_uri, state, challenge)
                say("Waiting for you to approve in the browser…")
                if _try_open(open_url, url):
                    return catcher.wait(timeout, cancel), catcher.redirect_uri, verifier
                log.info("No browser opened; asking for the code instead")
            finally:
                catcher.stop()
    if OOB_URI not in reg.redirect_uris:
        raise SignInError(
            f"Tootbell could not open a browser, and {display_host(reg.base_url)} cannot show "
            "a code to paste. Open a browser and try again."
        )
    if ask_code is None:
        raise SignInError("Tootbell could not open a web browser to sign you in.")
    url = authorize_url(reg, OOB_URI, state, challenge)
    say("Waiting for you to approve in the browser…")
    pasted = ask_code(url)
    _check_cancel(cancel)
    code = _code_from_paste(pasted or "")
    if not code:
        raise SignInError(CANCELLED)
    return code, OOB_URI, verifier


def _finish_sign_in(
    base_url: str,
    token: str,
    secrets: SecretStore,
    *,
    reg: AppRegistration | None,
    session: requests.Session | None,
) -> AccountConfig:
    """Check the token, store it in the keyring, and describe the account."""
    host = display_host(base_url)
    with MastodonClient(base_url, token, session=session) as client:
        try:
            account = client.verify_credentials()
        except AuthError as e:
            raise SignInError(
                f"{host} did not accept this access token. Check that you copied all of it "
                "and that it has not been revoked."
            ) from e
        except NetworkError as e:
            raise SignInError(e.message) from e
        except ApiError as e:
            raise SignInError(f"Could not check your account on {host}: {e.message}") from e
    if not account.username:
        raise SignInError(f"{host} did not say which account this is.")
    key = account_key(account.username, base_url)
    try:
        secrets.set_token(key, token)
    except SecretStoreError:
        if reg is not None:
            _revoke_quietly(reg, token)
        raise
    log.info("Signed in as %s", key)
    return AccountConfig(
        key=key,
        base_url=base_url,
        account_id=account.id,
        display_name=account.name,
        client_id=reg.client_id if reg is not None else "",
    )


def sign_in_with_token(instance: str, token: str, *, secrets: SecretStore) -> AccountConfig:
    """Sign in with an access token the person created in the server's settings."""
    base_url = _normalize(instance)
    token = token.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token:
        raise SignInError("Paste the access token from your server's Development settings.")
    if any(c.isspace() for c in token):
        raise SignInError("An access token has no spaces. Copy it again and paste it alone.")
    try:
        return _finish_sign_in(base_url, token, secrets, reg=None, session=None)
    except SecretStoreError as e:
        raise SignInError(e.message) from e


# --------------------------------------------------------------------------- sign out


def _revoke_quietly(reg: AppRegistration, token: str) -> bool:
    try:
        revoke(reg, token)
    except OAuthError as e:
        log.warning("Could not revoke the token on %s: %s", display_host(reg.base_url), e.message)
        return False
    return True


def _unsubscribe_quietly(account: AccountConfig, token: str) -> None:
    """Delete the account's push subscription on the server, best effort: a token that
    cannot be revoked (a pasted one) would otherwise go on pushing to a dead listener."""
    from tootbell.mastodon.push_api import unsubscribe

    try:
        with MastodonClient(account.base_url, token) as client:
            unsubscribe(client)
    except ApiError as e:
        log.info("%s: push subscription not deleted: %s", account.key, e.message)


def _instance_in_use(paths: Paths, account: AccountConfig) -> bool:
    """Whether another configured account signs in through the same app registration."""
    return any(
        a.base_url == account.base_url and a.key != account.key for a in load_config(paths).accounts
    )


def sign_out(account: AccountConfig, *, paths: Paths, secrets: SecretStore) -> str | None:
    """Sign the account out and forget every secret Tootbell keeps for it.

    For a push account the server's subscription is deleted first (best effort). The token is
    revoked (best effort) and deleted from the keyring, and so are the push keys. When no
    other configured account uses the same instance, its app registration goes too (the
    client secret from the keyring, the entry from apps.json); a later sign-in registers anew.

    Returns None when all went well, or a sentence for the person when the server could not
    be told (the local sign-out still happened). Raises SignInError when the keyring (or
    apps.json) could not be changed.
    """
    host = display_host(account.base_url)
    advice = (
        f"Signed out here, but Tootbell could not tell {host} to forget its access. You can "
        f"revoke it on {host} under Preferences › Account › Authorized apps."
    )
    note: str | None = None
    registry = AppRegistry(paths, secrets)
    try:
        token = secrets.get_token(account.key)
        reg = registry.lookup(account.base_url)
    except SecretStoreError as e:
        raise SignInError(e.message) from e
    if token and account.delivery == "push":
        _unsubscribe_quietly(account, token)
    if token:
        if reg is None or (account.client_id and reg.client_id != account.client_id):
            # A pasted token (or one from an older registration): only the app that issued a
            # token can revoke it.
            note = advice
        elif not _revoke_quietly(reg, token):
            note = advice
    try:
        secrets.delete_token(account.key)
        secrets.delete_push_key(account.key)
        if not _instance_in_use(paths, account):
            registry.forget(account.base_url)
    except (SecretStoreError, StorageError) as e:
        raise SignInError(e.message) from e
    log.info("Signed out %s", account.key)
    return note
