"""A thin typed client for the Mastodon REST API: timeouts, typed errors, paging, rate limits.

One :class:`MastodonClient` per account and thread; it owns its ``requests.Session``. Every
error it raises is an :class:`ApiError` whose ``message`` is written for people and never
contains the access token.
"""

from __future__ import annotations

import errno
import http.client
import json
import logging
import re
import socket
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import requests
import urllib3.exceptions

from tootbell import __version__
from tootbell.mastodon.entities import (
    Account,
    Capabilities,
    EntityError,
    Marker,
    Notification,
)

log = logging.getLogger(__name__)

USER_AGENT = f"Tootbell/{__version__}"
MARKER_CONFLICT_RETRIES = 3
_MAX_SERVER_TEXT = 200

# Anything that could carry a credential in text we format: header values, query strings,
# form bodies, JSON bodies.
_SCRUB_PATTERNS = (
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer\s+)?[^\s'\",}]+"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(
        r"(?i)((?:access_token|refresh_token|client_secret|token|code|code_verifier)"
        r"['\"]?\s*[=:]\s*['\"]?)[^&\s'\",}]+"
    ),
)


def scrub(text: str, *secrets: str | None) -> str:
    """Remove credentials from ``text``: the given secret values and anything token-shaped."""
    for s in secrets:
        if s and len(s) >= 8:  # a real token; short test values would eat ordinary words
            text = text.replace(s, "[redacted]")
    for pat in _SCRUB_PATTERNS:
        if pat.groups:
            text = pat.sub(lambda m: (m.group(1) or "") + "[redacted]", text)
        else:
            text = pat.sub("Bearer [redacted]", text)
    return text


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """A request failed. ``message`` is for people; ``status`` is the HTTP status or None;
    ``detail`` is the server's own error text ("" when it sent none), already scrubbed."""

    def __init__(self, message: str, status: int | None = None, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.detail = detail

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"


class NetworkError(ApiError):
    """The server could not be reached: DNS, refused, reset, timeout, TLS."""


class AuthError(ApiError):
    """The token is missing, revoked or invalid (401, or 403 naming the token)."""


class NotFound(ApiError):
    """404: the server has no such thing (or no such endpoint)."""


class RateLimited(ApiError):
    """429: too many requests. ``reset_at`` is when the server will accept more (UTC)."""

    def __init__(
        self,
        message: str,
        status: int | None = 429,
        reset_at: datetime | None = None,
        *,
        detail: str = "",
    ) -> None:
        super().__init__(message, status, detail=detail)
        self.reset_at = reset_at


class ServerError(ApiError):
    """5xx: the server has a problem of its own."""


class BadResponse(ApiError):
    """The answer was not the JSON we expect: cut off mid-body, garbage, wrong shape."""


class Conflict(ApiError):
    """409: a concurrent write won (markers)."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Page:
    """One page of notifications, newest first, with the cursors from the ``Link`` header."""

    items: list[Notification]
    next_max_id: str | None  # rel="next": older items
    prev_min_id: str | None  # rel="prev": newer items
    rate_remaining: int | None
    rate_reset: datetime | None


@dataclass(frozen=True)
class RateLimit:
    limit: int | None
    remaining: int | None
    reset_at: datetime | None


def parse_rate_limit(headers: Mapping[str, str], now: datetime | None = None) -> RateLimit:
    """Read ``X-RateLimit-*``. Reset is ISO-8601 on Mastodon; epoch seconds are tolerated,
    and small numbers are taken as seconds from now (some servers send a delta)."""
    return RateLimit(
        limit=_int_or_none(headers.get("X-RateLimit-Limit")),
        remaining=_int_or_none(headers.get("X-RateLimit-Remaining")),
        reset_at=parse_reset(headers.get("X-RateLimit-Reset"), now),
    )


def parse_reset(value: str | None, now: datetime | None = None) -> datetime | None:
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")) or seconds < 0:
            return None
        if seconds < 1_000_000_000:  # before 2001: a delta, not an epoch
            return (now or datetime.now(UTC)) + timedelta(seconds=seconds)
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def link_cursors(link_header: str | None) -> tuple[str | None, str | None]:
    """(max_id of rel="next", min_id of rel="prev") from a ``Link`` header."""
    if not link_header:
        return None, None
    next_max: str | None = None
    prev_min: str | None = None
    for part in link_header.split(","):
        m = re.match(r"\s*<([^>]*)>\s*;(.*)", part)
        if not m:
            continue
        url, attrs = m.group(1), m.group(2)
        rels: set[str] = set()
        for rm in re.finditer(r'rel\s*=\s*"?([^";]+)"?', attrs):
            rels.update(rm.group(1).split())
        query = parse_qs(urlsplit(url).query)
        if "next" in rels and query.get("max_id"):
            next_max = query["max_id"][0]
        if "prev" in rels and query.get("min_id"):
            prev_min = query["min_id"][0]
    return next_max, prev_min


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def display_host(url: str) -> str:
    """What a person would call the server of ``url``: ``mastodon.social``, ``127.0.0.1:8080``."""
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1].lower() or url


# --------------------------------------------------------------------------- transport errors


def _walk(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps (urllib3 ``reason``s, args, causes), breadth first."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        e = todo.pop(0)
        if any(e is s for s in seen):
            continue
        seen.append(e)
        reason = getattr(e, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
        todo.extend(a for a in e.args if isinstance(a, BaseException))
        if e.__cause__ is not None:
            todo.append(e.__cause__)
        if e.__context__ is not None:
            todo.append(e.__context__)
    return seen


def _transport_error(exc: requests.RequestException, host: str, token: str | None) -> ApiError:
    """Turn a requests exception into plain words. Never formats the exception's text."""
    chain = _walk(exc)

    def has(*types: type[BaseException]) -> bool:
        return any(isinstance(e, types) for e in chain)

    reach = f"Could not reach {host}"
    if isinstance(exc, requests.ConnectTimeout):
        return NetworkError(f"{reach}: the connection timed out")
    if isinstance(exc, requests.ReadTimeout) or has(
        TimeoutError, urllib3.exceptions.ReadTimeoutError
    ):
        return NetworkError(f"{reach}: the server took too long to answer")
    if isinstance(
        exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)
    ) or has(
        http.client.IncompleteRead,
        urllib3.exceptions.IncompleteRead,
        urllib3.exceptions.DecodeError,
    ):
        return BadResponse(f"The answer from {host} was cut off or damaged; try again")
    if isinstance(exc, requests.exceptions.SSLError) or has(ssl.SSLError):
        return NetworkError(
            f"{reach}: the secure connection failed (certificate problem or an interfering network)"
        )
    if has(urllib3.exceptions.NameResolutionError, socket.gaierror):
        return NetworkError(
            f"{reach}: the name could not be found (check the address and your internet connection)"
        )
    if isinstance(exc, requests.exceptions.ProxyError):
        return NetworkError(f"{reach}: the proxy refused the connection")
    if has(ConnectionRefusedError):
        return NetworkError(f"{reach}: the connection was refused")
    if has(
        http.client.RemoteDisconnected,
        ConnectionResetError,
        ConnectionAbortedError,
        BrokenPipeError,
    ):
        return NetworkError(f"{reach}: the connection was closed before the server answered")
    if any(getattr(e, "errno", None) in (errno.ENETUNREACH, errno.EHOSTUNREACH) for e in chain):
        return NetworkError(f"{reach}: the network is unreachable (are you offline?)")
    if isinstance(
        exc,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ),
    ):
        return ApiError(f"{host} is not a valid server address")
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return BadResponse(f"{host} sent Tootbell round in redirects")
    if isinstance(exc, requests.ConnectionError):
        return NetworkError(f"{reach}: the connection failed")
    log.debug("unclassified request error: %s", scrub(repr(exc), token))
    return NetworkError(f"{reach}: the request failed")


# --------------------------------------------------------------------------- client


class MastodonClient:
    """Typed calls against one server, with one ``requests.Session``.

    Not thread-safe: use one client per worker thread.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 20.0),
    ) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not a server address: {base_url!r}")
        self.base_url = f"{parts.scheme}://{parts.netloc}".lower()
        self.host = display_host(self.base_url)
        self._origin = _origin(self.base_url)
        self._token = token
        self._own_session = session is None
        self._session = session if session is not None else requests.Session()
        self.timeout = timeout
        self.rate_limit = RateLimit(None, None, None)
        # After a 429 that said when the server accepts more: no request to it before then,
        # whoever asks (Check now, a clock jump, the marker sync, a push).
        self._not_before: datetime | None = None

    def __repr__(self) -> str:
        return f"MastodonClient({self.base_url!r}, token={'set' if self._token else None})"

    def __enter__(self) -> MastodonClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the session if this client created it."""
        if self._own_session:
            self._session.close()

    # ------------------------------------------------------------------ transport

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.base_url + path_or_url

    def _headers(self, url: str, auth: bool) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        # The token goes only to the instance's own origin, never to avatar or media hosts.
        if auth and self._token and _origin(url) == self._origin:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _send(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | Sequence[tuple[str, str]] | None = None,
        data: Mapping[str, Any] | None = None,
        json_body: Any = None,
        auth: bool = True,
        stream: bool = False,
        accept: str | None = None,
    ) -> requests.Response:
        url = self._url(path_or_url)
        host = display_host(url)
        own = _origin(url) == self._origin
        if own:
            self._respect_reset(host)
        headers = self._headers(url, auth)
        if accept:
            headers["Accept"] = accept
        try:
            resp = self._session.request(
                method,
                url,
                params=params,
                data=data,
                json=json_body,
                headers=headers,
                timeout=self.timeout,
                stream=stream,
            )
        except requests.RequestException as e:
            err = _transport_error(e, host, self._token)
            log.debug("%s %s failed: %s", method, _path_only(url), err.message)
            raise err from None
        if own:
            rl = parse_rate_limit(resp.headers)
            if rl.remaining is not None or rl.reset_at is not None:
                self.rate_limit = rl
        if resp.status_code >= 400:
            try:
                err = self._status_error(resp, host)
            finally:
                resp.close()
            log.debug("%s %s -> %s", method, _path_only(url), resp.status_code)
            if own and isinstance(err, RateLimited) and err.reset_at is not None:
                self._not_before = err.reset_at
            raise err
        return resp

    def _respect_reset(self, host: str) -> None:
        """Raise :class:`RateLimited` without asking while the server's reset is ahead."""
        reset = self._not_before
        if reset is None:
            return
        if datetime.now(UTC) >= reset:
            self._not_before = None
            return
        raise RateLimited(
            f"{host} asks Tootbell to slow down (too many requests); it accepts more after "
            f"{reset.astimezone().strftime('%H:%M:%S')}",
            None,  # decided here: nothing was sent
            reset,
        )

    def _status_error(self, resp: requests.Response, host: str) -> ApiError:
        status = resp.status_code
        raw = self._server_text(resp)
        detail = _shorten(scrub(raw, self._token))
        said = f" ({detail})" if detail else ""
        if status == 401 or (status == 403 and "token" in raw.lower()):
            return AuthError(
                f"{host} did not accept Tootbell's sign-in{said}. Sign in again.",
                status,
                detail=detail,
            )
        if status == 404:
            return NotFound(f"{host} has no such item or feature{said}", status, detail=detail)
        if status == 409:
            return Conflict(
                f"{host} reported a conflicting change{said}; try again", status, detail=detail
            )
        if status == 429:
            reset = parse_reset(resp.headers.get("X-RateLimit-Reset"))
            when = (
                f"; it accepts more after {reset.astimezone().strftime('%H:%M:%S')}"
                if reset
                else ""
            )
            return RateLimited(
                f"{host} asks Tootbell to slow down (too many requests){when}",
                status,
                reset,
                detail=detail,
            )
        if status >= 500:
            return ServerError(
                f"{host} has a problem of its own (error {status}){said}", status, detail=detail
            )
        return ApiError(f"{host} refused the request (error {status}){said}", status, detail=detail)

    def _server_text(self, resp: requests.Response) -> str:
        """The server's JSON ``error`` text, when it sent one (unscrubbed); never an HTML page."""
        try:
            body = resp.content[:8192]
        except requests.RequestException:
            return ""
        try:
            data = json.loads(body)
        except ValueError:
            return ""
        if not isinstance(data, dict):
            return ""
        text = data.get("error_description") or data.get("error")
        if not isinstance(text, str):
            return ""
        return " ".join(text.split())

    def _json(self, resp: requests.Response) -> Any:
        try:
            return json.loads(resp.content)
        except ValueError:
            raise BadResponse(
                f"{display_host(resp.url or self.base_url)} sent an answer Tootbell could not read",
                resp.status_code,
            ) from None
        finally:
            resp.close()

    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | Sequence[tuple[str, str]] | None = None,
        data: Mapping[str, Any] | None = None,
        json_body: Any = None,
        auth: bool = True,
    ) -> Any:
        """One call against this server, returning the decoded JSON (or raising ApiError).

        ``data`` is sent form-encoded, ``json_body`` as JSON (GoToSocial ignores form-encoded
        push alerts)."""
        return self._json(
            self._send(method, path, params=params, data=data, json_body=json_body, auth=auth)
        )

    def _entity_error(self, what: str, e: Exception) -> BadResponse:
        log.debug("bad %s from %s: %s", what, self.host, e)
        return BadResponse(f"{self.host} sent {what} Tootbell could not understand")

    # ------------------------------------------------------------------ API

    def capabilities(self) -> Capabilities:
        """What the server can do, from ``/api/v2/instance`` (``/api/v1/instance`` if absent)."""
        try:
            data = self.request_json("GET", "/api/v2/instance")
            v2 = True
        except NotFound:
            data = self.request_json("GET", "/api/v1/instance")
            v2 = False
        try:
            return Capabilities.from_instance_json(data, v2=v2)
        except (EntityError, TypeError, AttributeError) as e:
            raise self._entity_error("instance information", e) from None

    def verify_credentials(self) -> Account:
        data = self.request_json("GET", "/api/v1/accounts/verify_credentials")
        try:
            return Account.from_json(data)
        except (EntityError, TypeError, AttributeError) as e:
            raise self._entity_error("account information", e) from None

    def notifications(
        self,
        *,
        min_id: str | None = None,
        max_id: str | None = None,
        limit: int = 80,
        types: list[str] | None = None,
    ) -> Page:
        """One page of notifications, newest first. Unparseable items are skipped."""
        params: list[tuple[str, str]] = [("limit", str(max(1, min(limit, 80))))]
        if min_id is not None:
            params.append(("min_id", min_id))
        if max_id is not None:
            params.append(("max_id", max_id))
        for t in types or ():
            params.append(("types[]", t))
        resp = self._send("GET", "/api/v1/notifications", params=params)
        link = resp.headers.get("Link")
        rl = parse_rate_limit(resp.headers)
        data = self._json(resp)
        if not isinstance(data, list):
            raise BadResponse(f"{self.host} sent notifications Tootbell could not understand")
        items: list[Notification] = []
        for raw in data:
            try:
                items.append(Notification.from_json(raw))
            except (ValueError, TypeError, KeyError, AttributeError) as e:
                nid = raw.get("id") if isinstance(raw, dict) else None
                reason = str(e) if isinstance(e, EntityError) else type(e).__name__
                log.warning("Skipped unreadable notification id=%s (%s)", nid, reason)
        next_max, prev_min = link_cursors(link)
        return Page(
            items=items,
            next_max_id=next_max,
            prev_min_id=prev_min,
            rate_remaining=rl.remaining,
            rate_reset=rl.reset_at,
        )

    def notification(self, nid: str) -> Notification:
        data = self.request_json("GET", f"/api/v1/notifications/{_seg(nid)}")
        try:
            return Notification.from_json(data)
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise self._entity_error("a notification", e) from None

    def dismiss_notification(self, nid: str) -> None:
        self._send("POST", f"/api/v1/notifications/{_seg(nid)}/dismiss").close()

    def clear_notifications(self) -> None:
        self._send("POST", "/api/v1/notifications/clear").close()

    def unread_count(self) -> int | None:
        """Unread notifications per the server's marker, or None where there is no endpoint."""
        try:
            data = self.request_json("GET", "/api/v1/notifications/unread_count")
        except NotFound:
            return None
        count = data.get("count") if isinstance(data, dict) else None
        if isinstance(count, bool) or not isinstance(count, int):
            raise BadResponse(f"{self.host} sent an unread count Tootbell could not understand")
        return count

    def notifications_marker(self) -> Marker | None:
        data = self.request_json("GET", "/api/v1/markers", params=[("timeline[]", "notifications")])
        if not isinstance(data, dict):
            raise BadResponse(f"{self.host} sent a read marker Tootbell could not understand")
        raw = data.get("notifications")
        if raw is None:
            return None
        try:
            return Marker.from_json(raw)
        except (EntityError, TypeError) as e:
            raise self._entity_error("a read marker", e) from None

    def set_notifications_marker(self, last_read_id: str) -> Marker:
        """Move the server's read marker; a 409 (concurrent write) is retried a few times."""
        attempt = 0
        while True:
            try:
                data = self.request_json(
                    "POST",
                    "/api/v1/markers",
                    data={"notifications[last_read_id]": last_read_id},
                )
                break
            except Conflict:
                attempt += 1
                if attempt > MARKER_CONFLICT_RETRIES:
                    raise
                time.sleep(0.2 * attempt)
        raw = data.get("notifications") if isinstance(data, dict) else None
        try:
            return Marker.from_json(raw)
        except (EntityError, TypeError) as e:
            raise self._entity_error("a read marker", e) from None

    def get_bytes(self, url: str, max_bytes: int) -> bytes:
        """Download ``url`` (avatars), at most ``max_bytes``. Sends the token only on-host."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError("Tootbell can only download http and https addresses")
        host = display_host(url)
        too_large = ApiError(f"The file at {host} is too large")
        resp = self._send("GET", url, stream=True, accept="*/*")
        with resp:
            declared = _int_or_none(resp.headers.get("Content-Length"))
            if declared is not None and declared > max_bytes:
                raise too_large
            chunks: list[bytes] = []
            total = 0
            try:
                for chunk in resp.iter_content(chunk_size=16384):
                    total += len(chunk)
                    if total > max_bytes:
                        raise too_large
                    chunks.append(chunk)
            except requests.RequestException as e:
                raise _transport_error(e, host, self._token) from None
        return b"".join(chunks)


def _shorten(text: str) -> str:
    if len(text) > _MAX_SERVER_TEXT:
        return text[: _MAX_SERVER_TEXT - 1] + "…"
    return text


def _seg(value: str) -> str:
    """An ID as one path segment (IDs are opaque; never let one add path parts)."""
    return quote(value, safe="")


def _path_only(url: str) -> str:
    """The URL without its query, for debug logs."""
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}{p.path}"
