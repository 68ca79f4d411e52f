"""OAuth with a Mastodon server: app registration, PKCE S256, the loopback redirect catcher,
token exchange and revocation. No Qt here.

The browser sends the person back to ``http://127.0.0.1:<ephemeral port>/callback``; the app is
registered with ``http://127.0.0.1/callback`` because Doorkeeper ignores the port of loopback
IP literals (RFC 8252 §7.3). The out-of-band URI is registered as well, for when no browser
can be opened.
"""

from __future__ import annotations

import base64
import hashlib
import html
import ipaddress
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from tootbell import APP_NAME
from tootbell.mastodon.client import (
    ApiError,
    BadResponse,
    MastodonClient,
    NetworkError,
    RateLimited,
    ServerError,
)

log = logging.getLogger(__name__)

SCOPES = (
    "read:notifications write:notifications read:statuses write:statuses read:filters "
    "write:filters write:conversations write:favourites write:follows read:accounts push"
)
OOB_URI = "urn:ietf:wg:oauth:2.0:oob"
LOOPBACK_REDIRECT = "http://127.0.0.1/callback"
CALLBACK_PATH = "/callback"
WEBSITE = "https://tootbell.org"

_EXAMPLE = "Type your server's address, for example mastodon.social"
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class OAuthError(Exception):
    """Signing in failed. ``message`` is for people and never contains a secret."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --------------------------------------------------------------------------- addresses


def normalize_instance(text: str) -> str:
    """The server's origin, ``https://host[:port]``, from what a person typed.

    Accepts ``mastodon.social``, ``https://host/any/path``, ``@me@host`` and ``me@host``.
    ``http://`` is kept only when typed explicitly. Raises ValueError saying what to type.
    """
    raw = text.strip()
    if not raw:
        raise ValueError(f"{_EXAMPLE}.")
    if any(c.isspace() for c in raw):
        raise ValueError(f"A server address has no spaces. {_EXAMPLE}.")
    if "://" in raw:
        scheme, rest = raw.split("://", 1)
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"Only https:// (or http://) addresses work. {_EXAMPLE}.")
    else:
        scheme, rest = "https", raw
        # "@me@host" and "me@host": the server is what follows the last "@".
        authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
        if "@" in authority:
            rest = authority.rsplit("@", 1)[1]
    try:
        parts = urlsplit(f"{scheme}://{rest}")
        port = parts.port
    except ValueError:
        raise ValueError(f"That does not look like a server address. {_EXAMPLE}.") from None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"That address has no server name. {_EXAMPLE}.")
    host = _valid_host(host)
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def _valid_host(host: str) -> str:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError(f"That does not look like a server address. {_EXAMPLE}.") from None
    labels = ascii_host.split(".")
    if not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"That does not look like a server address. {_EXAMPLE}.")
    if len(labels) < 2 and ascii_host != "localhost":
        raise ValueError("Type the full address with its dot, for example mastodon.social.")
    if labels[-1].isdigit():
        raise ValueError(f"That does not look like a server address. {_EXAMPLE}.")
    return ascii_host


def is_loopback_redirect(uri: str) -> bool:
    """True for ``http://127.0.0.1[:port]/…`` and ``http://[::1][:port]/…`` redirect URIs."""
    parts = urlsplit(uri)
    if parts.scheme != "http" or not parts.hostname:
        return False
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------- registration


@dataclass(frozen=True)
class AppRegistration:
    """Tootbell's client registration on one server. ``client_secret`` belongs in the keyring."""

    base_url: str
    client_id: str
    client_secret: str
    scopes: str
    redirect_uris: tuple[str, ...]
    vapid_key: str = ""

    def __repr__(self) -> str:
        return (
            f"AppRegistration(base_url={self.base_url!r}, client_id={self.client_id!r}, "
            f"redirect_uris={self.redirect_uris!r})"
        )

    @property
    def has_loopback(self) -> bool:
        return any(is_loopback_redirect(u) for u in self.redirect_uris)


def _oauth_error(what: str, host: str, e: ApiError) -> OAuthError:
    """Words for a failed OAuth call: the transport's own words, or the server's reason."""
    if isinstance(e, (NetworkError, BadResponse, RateLimited, ServerError)):
        return OAuthError(e.message)
    if e.detail:
        return OAuthError(f"{host} {what}: {e.detail}")
    return OAuthError(f"{host} {what} (error {e.status}).")


def _client(base_url: str, session: requests.Session | None) -> MastodonClient:
    return MastodonClient(base_url, session=session, timeout=(10.0, 30.0))


def register_app(base_url: str, *, session: requests.Session | None = None) -> AppRegistration:
    """Register Tootbell on the server (``POST /api/v1/apps``) with both redirect URIs.

    A server that refuses the loopback redirect gets a second, out-of-band-only registration.
    """
    client = _client(base_url, session)
    scopes = scopes_for(client)
    try:
        try:
            data = _post_app(client, f"{LOOPBACK_REDIRECT}\n{OOB_URI}", scopes)
        except ApiError as e:
            if e.status != 422:
                raise
            log.info("%s refused the loopback redirect; registering out-of-band only", client.host)
            data = _post_app(client, OOB_URI, scopes)
    except ApiError as e:
        raise _oauth_error("refused to register Tootbell", client.host, e) from e
    finally:
        client.close()
    if not isinstance(data, dict):
        raise OAuthError(f"{client.host} answered the app registration with something odd.")
    client_id, client_secret = data.get("client_id"), data.get("client_secret")
    if (
        not isinstance(client_id, str)
        or not client_id
        or not isinstance(client_secret, str)
        or not client_secret
    ):
        raise OAuthError(f"{client.host} did not give Tootbell a client ID and secret.")
    uris_raw = data.get("redirect_uris", data.get("redirect_uri"))
    if isinstance(uris_raw, list):
        uris = tuple(str(u) for u in uris_raw if u)
    elif isinstance(uris_raw, str):
        uris = tuple(u for u in uris_raw.split() if u)
    else:
        uris = (LOOPBACK_REDIRECT, OOB_URI)
    vapid = data.get("vapid_key")
    return AppRegistration(
        base_url=client.base_url,
        client_id=client_id,
        client_secret=client_secret,
        scopes=scopes,
        redirect_uris=uris,
        vapid_key=vapid if isinstance(vapid, str) else "",
    )


def scopes_for(client: MastodonClient) -> str:
    """SCOPES, plus ``profile`` where the server offers it (Mastodon 4.3+ advertises it in
    its OAuth metadata; older servers answer 404 there and do not know the scope)."""
    try:
        meta = client.request_json("GET", "/.well-known/oauth-authorization-server", auth=False)
    except ApiError:
        return SCOPES
    offered = meta.get("scopes_supported") if isinstance(meta, dict) else None
    if isinstance(offered, list) and "profile" in offered:
        return f"{SCOPES} profile"
    return SCOPES


def _post_app(client: MastodonClient, redirect_uris: str, scopes: str) -> object:
    return client.request_json(
        "POST",
        "/api/v1/apps",
        data={
            "client_name": APP_NAME,
            "redirect_uris": redirect_uris,
            "scopes": scopes,
            "website": WEBSITE,
        },
        auth=False,
    )


# --------------------------------------------------------------------------- PKCE


def s256_challenge(verifier: str) -> str:
    """The RFC 7636 S256 code challenge for ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge); the verifier is 64 URL-safe characters."""
    verifier = secrets.token_urlsafe(48)
    return verifier, s256_challenge(verifier)


def new_state() -> str:
    """An unguessable ``state`` value for one authorization request."""
    return secrets.token_urlsafe(24)


def authorize_url(
    reg: AppRegistration,
    redirect_uri: str,
    state: str,
    challenge: str,
    scopes: str | None = None,
) -> str:
    """The address to open in the browser so the person can approve Tootbell."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": reg.client_id,
            "redirect_uri": redirect_uri,
            "scope": scopes or reg.scopes or SCOPES,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{reg.base_url}/oauth/authorize?{query}"


# --------------------------------------------------------------------------- token


def exchange_code(
    reg: AppRegistration,
    code: str,
    redirect_uri: str,
    verifier: str,
    *,
    session: requests.Session | None = None,
) -> str:
    """Trade the authorization code for an access token (``POST /oauth/token``)."""
    client = _client(reg.base_url, session)
    try:
        data = client.request_json(
            "POST",
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": reg.client_id,
                "client_secret": reg.client_secret,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
                "scope": reg.scopes,
            },
            auth=False,
        )
    except ApiError as e:
        raise _oauth_error("did not accept the sign-in", client.host, e) from e
    finally:
        client.close()
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise OAuthError(f"{client.host} did not hand out an access token.")
    token_type = data.get("token_type", "Bearer")
    if isinstance(token_type, str) and token_type.lower() != "bearer":
        raise OAuthError(f"{client.host} handed out a kind of token Tootbell cannot use.")
    return token


def revoke(reg: AppRegistration, token: str, *, session: requests.Session | None = None) -> None:
    """Tell the server to forget ``token`` (``POST /oauth/revoke``)."""
    client = _client(reg.base_url, session)
    try:
        client.request_json(
            "POST",
            "/oauth/revoke",
            data={
                "client_id": reg.client_id,
                "client_secret": reg.client_secret,
                "token": token,
            },
            auth=False,
        )
    except ApiError as e:
        raise _oauth_error("did not revoke Tootbell's access", client.host, e) from e
    finally:
        client.close()


# --------------------------------------------------------------------------- loopback


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:34em;margin:4em auto;padding:0 1em;
color:#222;background:#fafafa}}h1{{font-size:1.4em}}</style></head>
<body><h1>{title}</h1><p>{text}</p></body></html>
"""


def _page(title: str, text: str) -> bytes:
    return _PAGE.format(title=html.escape(title), text=html.escape(text)).encode("utf-8")


@dataclass(frozen=True)
class _Outcome:
    code: str | None = None
    error: str | None = None


class LoopbackCatcher:
    """Catches the browser's redirect on ``http://127.0.0.1:<ephemeral>/callback``.

    A stdlib HTTP server in a named daemon thread; :meth:`wait` returns the code, and
    :meth:`stop` (from any thread) ends a pending :meth:`wait` with "Sign-in was cancelled".
    """

    def __init__(self, state: str) -> None:
        self._state = state
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._outcome: _Outcome | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def redirect_uri(self) -> str:
        if self._server is None:
            raise RuntimeError("LoopbackCatcher.start() has not been called")
        return f"http://127.0.0.1:{self._server.server_address[1]}{CALLBACK_PATH}"

    def start(self) -> None:
        """Bind 127.0.0.1 on a free port and serve in the background. Raises OSError."""
        if self._server is not None:
            return
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            server_version = APP_NAME
            sys_version = ""
            timeout = 10  # a browser's idle pre-connection must not hold the catcher

            def do_GET(self) -> None:
                catcher._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                # The request line carries the authorization code: never log it.
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="tootbell-oauth-callback",
            daemon=True,
        )
        self._thread.start()
        log.debug("waiting for the OAuth redirect on port %s", server.server_address[1])

    def _finish(self, outcome: _Outcome) -> bool:
        with self._lock:
            if self._outcome is not None or self._stopped:
                return False
            self._outcome = outcome
        self._done.set()
        return True

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(req.path)
        if parts.path != CALLBACK_PATH:
            self._reply(req, HTTPStatus.NOT_FOUND, _page("Not found", "Nothing here."))
            return
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        state = query.get("state", "")
        if not secrets.compare_digest(state.encode(), self._state.encode()):
            self._finish(
                _Outcome(
                    error="The sign-in answer did not match this sign-in "
                    "attempt, so Tootbell ignored it. Please try again."
                )
            )
            self._reply(
                req,
                HTTPStatus.BAD_REQUEST,
                _page(
                    "Sign-in did not match",
                    "This answer does not belong to the sign-in Tootbell started, so it was "
                    "ignored. Return to Tootbell and try again.",
                ),
            )
            return
        error = query.get("error")
        if error:
            if error == "access_denied":
                message = "You declined to let Tootbell use your account."
                title, text = (
                    "Not signed in",
                    ("You declined. You can close this tab; Tootbell has not been given access."),
                )
            else:
                detail = query.get("error_description") or error
                message = f"The server did not sign you in: {detail[:200]}"
                title, text = "Not signed in", f"{message} Return to Tootbell and try again."
            self._finish(_Outcome(error=message))
            self._reply(req, HTTPStatus.OK, _page(title, text))
            return
        code = query.get("code")
        if not code:
            self._reply(
                req,
                HTTPStatus.BAD_REQUEST,
                _page("Not signed in", "The answer had no sign-in code. Try again."),
            )
            return
        if self._finish(_Outcome(code=code)):
            self._reply(
                req,
                HTTPStatus.OK,
                _page("Signed in", "Signed in — you can close this tab and return to Tootbell."),
            )
        else:
            self._reply(
                req,
                HTTPStatus.OK,
                _page("Already done", "You can close this tab and return to Tootbell."),
            )

    @staticmethod
    def _reply(req: BaseHTTPRequestHandler, status: HTTPStatus, body: bytes) -> None:
        req.send_response(status)
        req.send_header("Content-Type", "text/html; charset=utf-8")
        req.send_header("Content-Length", str(len(body)))
        req.send_header("Cache-Control", "no-store")
        req.send_header("Referrer-Policy", "no-referrer")
        req.send_header("Connection", "close")
        req.end_headers()
        req.wfile.write(body)
        req.close_connection = True

    def wait(self, timeout: float, cancel: threading.Event | None = None) -> str:
        """Block until the browser comes back; return the authorization code.

        Raises OAuthError when the person declined, the state did not match, the time ran
        out, or the wait was cancelled (:meth:`stop`, or ``cancel`` being set).
        """
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            step = remaining if cancel is None else min(remaining, 0.1)
            if self._done.wait(step):
                break
            if cancel is not None and cancel.is_set():
                self.stop()
                break
        with self._lock:
            outcome, stopped = self._outcome, self._stopped
        if outcome is not None:
            if outcome.code is not None:
                return outcome.code
            raise OAuthError(outcome.error or "Sign-in failed.")
        if stopped:
            raise OAuthError("Sign-in was cancelled")
        minutes = max(1, round(timeout / 60))
        raise OAuthError(
            f"Tootbell waited {minutes} minute{'s' if minutes != 1 else ''} for you to approve "
            "it in the browser. Please try again."
        )

    def stop(self) -> None:
        """Stop serving; a pending :meth:`wait` without a result raises "cancelled". Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            server, thread = self._server, self._thread
        self._done.set()
        if server is not None and thread is not None:
            if threading.current_thread() is not thread:
                server.shutdown()
                thread.join(timeout=5)
            server.server_close()
