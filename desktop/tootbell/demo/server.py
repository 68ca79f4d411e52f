"""The demo Mastodon instance over real HTTP on loopback: :class:`DemoServer`.

A stdlib ``ThreadingHTTPServer`` on 127.0.0.1 answers the Mastodon API calls Tootbell makes
(apps, OAuth with PKCE, instance, notifications with grouped dismiss, markers, filters v1 and
v2, conversations, push subscriptions, avatars) with Mastodon's semantics, logs every
request, and applies the failures a test scripts in ``faults``. The state lives in
:class:`tootbell.demo.world.DemoWorld` (filters in :mod:`tootbell.demo.filters`,
conversations in :mod:`tootbell.demo.conversations`); Web Push deliveries leave from
:class:`tootbell.demo.push.PushSender`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import html
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from tootbell.demo import data, png
from tootbell.demo.faults import Fault, FaultScript, RequestLog
from tootbell.demo.filters import (
    UNSET,
    FilterChanges,
    FilterInvalid,
    FilterNotFound,
    KeywordChange,
    normalize_context,
)
from tootbell.demo.generator import AutoGenerator, NotificationStream
from tootbell.demo.push import PUSH_RETRY_DELAYS, PushDelivery, PushSender
from tootbell.demo.world import (
    GOTOSOCIAL_ALERT_TYPES,
    KNOWN_SCOPES,
    MASTODON_ALERT_TYPES,
    App,
    DemoWorld,
    OAuthFailure,
    Pose,
    PushSubscriptionRecord,
    RateState,
    Token,
    redirect_uri_matches,
    scope_allows,
)
from tootbell.mastodon import webpush
from tootbell.mastodon.oauth import OOB_URI, SCOPES

logger = logging.getLogger(__name__)

JSON = dict[str, Any]
MAX_BODY = 1 << 20
INVALID_TOKEN = "The access token is invalid"
NOT_FOUND = "Record not found"
INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication included, "
    "or unsupported authentication method."
)
UNSUPPORTED_GRANT = "The authorization grant type is not supported by the authorization server."
CANNOT_REVOKE = "You are not authorized to revoke this token."
NEEDS_USER = "This method requires an authenticated user"
INVALID_PUSH_KEY = "is not a valid Ed25519 or Curve25519 key"  # Mastodon's crypto.errors text
GTS_HTTPS_ONLY = "Unprocessable Entity: endpoint must be an https:// URL"
VAPID_SUBJECT = "mailto:admin@demo.invalid"
V1_FILTERS_DEPRECATED = "@1668384000"  # deprecate_api '2022-11-14', as Mastodon 4.4+ sends it
CONVERSATIONS_LIMIT = 20  # default page; the maximum is twice that


# --------------------------------------------------------------------------- responses


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


class HttpError(Exception):
    """Raised by a route to answer with ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def json_response(status: int, obj: object, headers: Sequence[tuple[str, str]] = ()) -> Response:
    body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(status, body, headers=list(headers))


def json_error(status: int, message: str, headers: Sequence[tuple[str, str]] = ()) -> HttpError:
    return HttpError(json_response(status, {"error": message}, headers))


def html_page(status: int, title: str, body_html: str) -> Response:
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body><main>\n{body_html}\n</main></body>"
        "</html>\n"
    )
    return Response(status, page.encode("utf-8"), "text/html; charset=utf-8")


def redirect(location: str) -> Response:
    body = f'<html><body>You are being <a href="{html.escape(location)}">redirected</a>.</body>'
    return Response(302, body.encode("utf-8"), "text/html; charset=utf-8", [("Location", location)])


def add_query(uri: str, params: Sequence[tuple[str, str]]) -> str:
    parts = urlsplit(uri)
    extra = urlencode(list(params))
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _truthy(value: str | None) -> bool:
    """Rails' boolean casting: anything but the false words is true."""
    if value is None:
        return False
    return value.strip().lower() not in ("", "0", "f", "false", "off", "no", "n")


def _int(value: str | None, default: int) -> int:
    if value is None:
        return default
    m = re.match(r"\s*[-+]?\d+", value)
    return int(m.group(0)) if m else 0


def _bool_param(value: object) -> bool:
    """A boolean parameter from JSON (true/false/"1"/0) or a form (Rails' casting)."""
    return _truthy(Incoming._scalar(value))


def _text_param(value: object) -> str:
    text = Incoming._scalar(value)
    return text.strip() if text is not None else ""


def _dict_param(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _blank(value: object) -> bool:
    """Rails' ``blank?`` for a parameter value."""
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, (list, dict)) and not value


def _keyword_change(raw: dict[str, Any]) -> KeywordChange:
    """One ``keywords_attributes`` entry (``id``, ``keyword``, ``whole_word``, ``_destroy``)."""
    kid = Incoming._scalar(raw.get("id"))
    whole = raw.get("whole_word")
    return KeywordChange(
        id=kid.strip() if kid is not None and kid.strip() else None,
        keyword=(Incoming._scalar(raw.get("keyword")) or "") if "keyword" in raw else None,
        whole_word=None if _blank(whole) and whole is not False else _bool_param(whole),
        destroy=_bool_param(raw.get("_destroy")),
        all_blank=all(_blank(v) for k, v in raw.items() if k != "_destroy"),
    )


def _valid_push_endpoint(url: str) -> bool:
    """Mastodon's UrlValidator: an http or https URL with a host."""
    if any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


# --------------------------------------------------------------------------- requests


@dataclass
class Incoming:
    """A parsed request: query, form or JSON body, headers."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    client_ip: str
    form: dict[str, list[str]] = field(default_factory=dict)
    json_body: object = None
    pairs: list[tuple[str, str]] = field(default_factory=list)  # query then form, in order

    @classmethod
    def parse(
        cls, method: str, target: str, headers: Message, body: bytes, client_ip: str
    ) -> Incoming:
        split = urlsplit(target)
        req = cls(
            method=method,
            path=unquote(split.path),
            query=parse_qs(split.query, keep_blank_values=True),
            headers=headers,
            body=body,
            client_ip=client_ip,
            pairs=parse_qsl(split.query, keep_blank_values=True),
        )
        ctype = headers.get_content_type()
        if body and ctype == "application/json":
            try:
                req.json_body = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise json_error(400, "Error occurred while parsing request parameters") from exc
        elif body and ctype == "application/x-www-form-urlencoded":
            text = body.decode("utf-8", "replace")
            req.form = parse_qs(text, keep_blank_values=True)
            req.pairs += parse_qsl(text, keep_blank_values=True)
        return req

    @staticmethod
    def _scalar(value: object) -> str | None:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        return None

    def value(self, name: str) -> str | None:
        """One parameter: JSON body, then form body, then query (Rails merges them so)."""
        if isinstance(self.json_body, dict) and name in self.json_body:
            v = self.json_body[name]
            if isinstance(v, list):
                return self._scalar(v[0]) if v else None
            return self._scalar(v)
        for source in (self.form, self.query):
            if source.get(name):
                return source[name][0]
        return None

    def values(self, name: str) -> list[str]:
        """An array parameter, sent as ``name[]=a&name[]=b``, ``name=a``, or a JSON list."""
        if isinstance(self.json_body, dict):
            for key in (name, f"{name}[]"):
                if key in self.json_body:
                    v = self.json_body[key]
                    items = v if isinstance(v, list) else [v]
                    return [s for s in (self._scalar(i) for i in items) if s is not None]
        for source in (self.form, self.query):
            found = source.get(f"{name}[]", []) + source.get(name, [])
            if found:
                return found
        return []

    def has(self, name: str) -> bool:
        """Whether the request carries ``name`` (or ``name[]``) at all, blank or not."""
        keys = (name, f"{name}[]")
        if isinstance(self.json_body, dict) and any(k in self.json_body for k in keys):
            return True
        return any(k in source for source in (self.form, self.query) for k in keys)

    def records(self, name: str) -> list[dict[str, Any]] | None:
        """A list of hashes as Rack builds it: ``name[][key]=…`` (a repeated key starts the
        next hash), ``name[0][key]=…`` (one hash per index), or a JSON list (or object keyed by
        index). None when the request has no such parameter."""
        if isinstance(self.json_body, dict):
            for key in (name, f"{name}[]"):
                if key in self.json_body:
                    value = self.json_body[key]
                    if isinstance(value, list):
                        return [v for v in value if isinstance(v, dict)]
                    if isinstance(value, dict):
                        if any(not isinstance(v, dict) for v in value.values()):
                            return [value]
                        return list(value.values())
                    return []
        pattern = re.compile(re.escape(name) + r"\[([^\[\]]*)\]\[([^\[\]]+)\]")
        found = False
        listed: list[dict[str, Any]] = []
        indexed: dict[str, dict[str, Any]] = {}
        for key, value in self.pairs:
            m = pattern.fullmatch(key)
            if m is None:
                continue
            found = True
            index, attr = m.groups()
            if index == "":
                if not listed or attr in listed[-1]:
                    listed.append({})
                listed[-1][attr] = value
            else:
                indexed.setdefault(index, {})[attr] = value
        return listed + list(indexed.values()) if found else None

    def nested(self, outer: str, inner: str) -> str | None:
        """``outer[inner]`` in a form or query, or ``{"outer": {"inner": ...}}`` in JSON."""
        if isinstance(self.json_body, dict):
            obj = self.json_body.get(outer)
            if isinstance(obj, dict):
                return self._scalar(obj.get(inner))
        return self.value(f"{outer}[{inner}]")

    def bearer(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip() or None
        return self.value("access_token")

    def params(self) -> dict[str, Any]:
        """All parameters as Rails nests them: the JSON object body, else the query and form
        with ``a[b][c]=v`` keys made into nested dicts (the last value of a repeated key
        wins; ``a[]`` arrays are left out)."""
        if isinstance(self.json_body, dict):
            return self.json_body
        tree: dict[str, Any] = {}
        for source in (self.query, self.form):
            for key, values in source.items():
                m = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", key)
                if m is None or not values:
                    continue
                path = [m.group(1), *re.findall(r"\[([^\[\]]*)\]", m.group(2))]
                if "" in path:
                    continue
                node = tree
                for part in path[:-1]:
                    child = node.get(part)
                    if not isinstance(child, dict):
                        child = node[part] = {}
                    node = child
                node[path[-1]] = values[-1]
        return tree

    def basic_auth(self) -> tuple[str, str] | None:
        auth = self.headers.get("Authorization") or ""
        if auth[:6].lower() != "basic ":
            return None
        try:
            raw = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = raw.partition(":")
        return (unquote(user), unquote(password)) if sep else None


Handler = Callable[[Incoming, "re.Match[str]"], Response]


# --------------------------------------------------------------------------- routes


class DemoRouter:
    """Maps requests to the world. One per server; called from many threads."""

    def __init__(self, world: DemoWorld, instance_title: str = "Tootbell Demo") -> None:
        self.world = world
        self.title = instance_title
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        r = self._route
        r("GET", r"/", self.home)
        r("GET", r"/api/v1/instance", self.instance_v1)
        r("GET", r"/api/v2/instance", self.instance_v2)
        r("GET", r"/\.well-known/oauth-authorization-server", self.oauth_metadata)
        r("POST", r"/api/v1/apps", self.create_app)
        r("GET", r"/api/v1/apps/verify_credentials", self.app_credentials)
        r("GET", r"/oauth/authorize", self.authorize_page)
        r("POST", r"/oauth/authorize", self.authorize_decision)
        r("POST", r"/oauth/token", self.token)
        r("POST", r"/oauth/revoke", self.revoke)
        r("GET", r"/api/v1/accounts/verify_credentials", self.verify_credentials)
        r("GET", r"/api/v1/notifications", self.notifications)
        r("GET", r"/api/v1/notifications/unread_count", self.unread_count)
        r("POST", r"/api/v1/notifications/clear", self.clear)
        r("GET", r"/api/v1/notifications/(?P<id>[^/]+)", self.notification)
        r("POST", r"/api/v1/notifications/(?P<id>[^/]+)/dismiss", self.dismiss)
        r("DELETE", r"/api/v1/notifications/(?P<id>[^/]+)", self.dismiss)
        r("POST", r"/api/v2/notifications/(?P<key>[^/]+)/dismiss", self.dismiss_group)
        r("GET", r"/api/v1/markers", self.markers)
        r("POST", r"/api/v1/markers", self.set_markers)
        r("GET", r"/api/v2/filters", self.filters_index)
        r("POST", r"/api/v2/filters", self.filter_create)
        r("GET", r"/api/v2/filters/keywords/(?P<id>[^/]+)", self.keyword_show)
        r("PUT", r"/api/v2/filters/keywords/(?P<id>[^/]+)", self.keyword_update)
        r("PATCH", r"/api/v2/filters/keywords/(?P<id>[^/]+)", self.keyword_update)
        r("DELETE", r"/api/v2/filters/keywords/(?P<id>[^/]+)", self.keyword_destroy)
        r("GET", r"/api/v2/filters/statuses/(?P<id>[^/]+)", self.filter_status_show)
        r("DELETE", r"/api/v2/filters/statuses/(?P<id>[^/]+)", self.filter_status_destroy)
        r("GET", r"/api/v2/filters/(?P<id>[^/]+)/keywords", self.keywords_index)
        r("POST", r"/api/v2/filters/(?P<id>[^/]+)/keywords", self.keyword_create)
        r("GET", r"/api/v2/filters/(?P<id>[^/]+)/statuses", self.filter_statuses_index)
        r("POST", r"/api/v2/filters/(?P<id>[^/]+)/statuses", self.filter_status_create)
        r("GET", r"/api/v2/filters/(?P<id>[^/]+)", self.filter_show)
        r("PUT", r"/api/v2/filters/(?P<id>[^/]+)", self.filter_update)
        r("PATCH", r"/api/v2/filters/(?P<id>[^/]+)", self.filter_update)
        r("DELETE", r"/api/v2/filters/(?P<id>[^/]+)", self.filter_destroy)
        r("GET", r"/api/v1/filters", self.v1_filters_index)
        r("POST", r"/api/v1/filters", self.v1_filter_create)
        r("GET", r"/api/v1/filters/(?P<id>[^/]+)", self.v1_filter_show)
        r("PUT", r"/api/v1/filters/(?P<id>[^/]+)", self.v1_filter_update)
        r("PATCH", r"/api/v1/filters/(?P<id>[^/]+)", self.v1_filter_update)
        r("DELETE", r"/api/v1/filters/(?P<id>[^/]+)", self.v1_filter_destroy)
        r("GET", r"/api/v1/conversations", self.conversations)
        r("POST", r"/api/v1/conversations/(?P<id>[^/]+)/read", self.conversation_read)
        r("POST", r"/api/v1/conversations/(?P<id>[^/]+)/unread", self.conversation_unread)
        r("DELETE", r"/api/v1/conversations/(?P<id>[^/]+)", self.conversation_destroy)
        r("POST", r"/api/v1/push/subscription", self.push_subscribe)
        r("GET", r"/api/v1/push/subscription", self.push_show)
        r("PUT", r"/api/v1/push/subscription", self.push_update)
        r("DELETE", r"/api/v1/push/subscription", self.push_unsubscribe)
        r("GET", r"/avatars/(?P<name>[^/]+)\.png", self.avatar)
        r("GET", r"/emoji/(?P<name>[^/]+)\.png", self.emoji)
        r("GET", r"/media/(?P<name>[^/]+)\.png", self.media)
        r("GET", r"/headers/.+\.png", self.header_image)
        r("GET", r"/@(?P<acct>[^/]+)", self.account_page)
        r("GET", r"/@(?P<acct>[^/]+)/(?P<id>[^/]+)", self.status_page)

    def _route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(pattern + r"/?\Z"), handler))

    @property
    def base(self) -> str:
        return self.world.base_url

    @property
    def pose(self) -> Pose:
        return self.world.pose

    # ------------------------------------------------------------------ dispatch

    def respond(self, req: Incoming) -> Response:
        """The answer to one request, rate limits and all."""
        rate: RateState | None = None
        if req.path.startswith("/api/"):
            rate = self.world.rate_hit(self._rate_key(req))
            if not rate.allowed:
                return json_response(429, {"error": "Too many requests"}, rate.headers())
        try:
            resp = self._dispatch(req)
        except HttpError as err:
            resp = err.response
        except Exception:
            logger.exception("demo server failed on %s %s", req.method, req.path)
            resp = json_response(500, {"error": "Internal server error"})
        if rate is not None:
            resp.headers.extend(rate.headers())
        return resp

    def _rate_key(self, req: Incoming) -> str:
        tok = self.world.token(req.bearer())
        return f"token:{tok.value}" if tok is not None else f"ip:{req.client_ip}"

    def _dispatch(self, req: Incoming) -> Response:
        for method, pattern, handler in self._routes:
            if method == req.method:
                m = pattern.match(req.path)
                if m is not None:
                    return handler(req, m)
        raise json_error(404, NOT_FOUND)

    def fault_response(self, fault: Fault, req_path: str, client_ip: str) -> Response:
        """The canned answer for a scripted fault (all kinds but cut, slow, drop)."""
        kind = fault.kind
        if kind == "429":
            reset = RateState(self.world.rate_limit, 0, time.time() + fault.reset_in, False)
            return json_response(429, {"error": "Too many requests"}, reset.headers())
        if kind == "503":
            resp = html_page(
                503,
                "503 Service Temporarily Unavailable",
                "<h1>503 Service Temporarily Unavailable</h1>",
            )
        elif kind == "500":
            resp = json_response(500, {"error": "Internal server error"})
        elif kind == "401":
            resp = json_response(401, {"error": INVALID_TOKEN}, [_www_authenticate()])
        elif kind == "409":
            resp = json_response(409, {"error": "Conflict during update, please try again"})
        elif kind == "garbage":
            resp = Response(200, b'<html><body>Definitely not JSON {"id":</body></html>')
        else:
            raise ValueError(f"no canned response for fault {kind!r}")
        if req_path.startswith("/api/"):
            resp.headers.extend(self.world.rate_hit(f"ip:{client_ip}", count=False).headers())
        return resp

    # ------------------------------------------------------------------ auth

    def _token(self, req: Incoming, *scopes: str) -> Token:
        tok = self.world.token(req.bearer())
        if tok is None:
            raise json_error(401, INVALID_TOKEN, [_www_authenticate()])
        if scopes and not scope_allows(tok.scopes, *scopes):
            raise json_error(403, "This action is outside the authorized scopes")
        return tok

    def _user_token(self, req: Incoming, *scopes: str) -> Token:
        """The request's token, which must belong to a user (not an app)."""
        tok = self._token(req, *scopes)
        if tok.username is None:
            raise json_error(422, NEEDS_USER)
        return tok

    def _user(self, req: Incoming, *scopes: str) -> str:
        return cast(str, self._user_token(req, *scopes).username)

    # ------------------------------------------------------------------ instance

    def _streaming_url(self) -> str:
        scheme = "wss" if self.pose.software == "gotosocial" else "ws"
        return f"{scheme}://{self.world.domain}"

    def _instance_config(self) -> JSON:
        return {
            "statuses": {
                "max_characters": 500,
                "max_media_attachments": 4,
                "characters_reserved_per_url": 23,
            },
            "media_attachments": {
                "supported_mime_types": ["image/png", "image/jpeg"],
                "image_size_limit": 16777216,
                "image_matrix_limit": 33177600,
            },
            "polls": {
                "max_options": 4,
                "max_characters_per_option": 50,
                "min_expiration": 300,
                "max_expiration": 2629746,
            },
        }

    def home(self, req: Incoming, m: re.Match[str]) -> Response:
        return html_page(
            200,
            self.title,
            f"<h1>{html.escape(self.title)}</h1><p>A simulated Mastodon instance "
            f"(version {html.escape(self.pose.version)}) for Tootbell's demo mode and tests.</p>",
        )

    def instance_v1(self, req: Incoming, m: re.Match[str]) -> Response:
        w = self.world
        contact = w.account("mod")
        out: JSON = {
            "uri": w.domain,
            "title": self.title,
            "short_description": "A simulated instance for Tootbell.",
            "description": "A simulated instance for Tootbell.",
            "email": "admin@demo.invalid",
            "version": self.pose.version,
            "urls": {"streaming_api": self._streaming_url()},
            "stats": {
                "user_count": len(w.local_usernames()),
                "status_count": 42,
                "domain_count": 7,
            },
            "thumbnail": f"{self.base}/avatars/instance.png",
            "languages": ["en"],
            "registrations": False,
            "approval_required": False,
            "invites_enabled": False,
            "configuration": self._instance_config(),
            "contact_account": contact,
            "rules": [],
        }
        return json_response(200, out)

    def instance_v2(self, req: Incoming, m: re.Match[str]) -> Response:
        if not self.pose.has_v2_instance:
            raise json_error(404, NOT_FOUND)
        w = self.world
        config = self._instance_config()
        config["urls"] = {
            "streaming": self._streaming_url(),
            "status": None,
            "about": f"{self.base}/about",
        }
        config["accounts"] = {"max_featured_tags": 10, "max_pinned_statuses": 5}
        config["translation"] = {"enabled": False}
        if self.pose.has_vapid_in_instance:
            config["vapid"] = {"public_key": self.world.vapid_public_key}
        out: JSON = {
            "domain": w.domain,
            "title": self.title,
            "version": self.pose.version,
            "source_url": "https://github.com/mastodon/mastodon",
            "description": "A simulated instance for Tootbell.",
            "usage": {"users": {"active_month": len(w.local_usernames())}},
            "thumbnail": {"url": f"{self.base}/avatars/instance.png"},
            "languages": ["en"],
            "configuration": config,
            "registrations": {"enabled": False, "approval_required": False, "message": None},
            "contact": {"email": "admin@demo.invalid", "account": w.account("mod")},
            "rules": [],
        }
        api = self.pose.api_version
        if api is not None:
            out["api_versions"] = {"mastodon": api}
        return json_response(200, out)

    def oauth_metadata(self, req: Incoming, m: re.Match[str]) -> Response:
        if not self.pose.has_oauth_metadata:
            raise json_error(404, NOT_FOUND)
        base = self.base
        return json_response(
            200,
            {
                "issuer": f"{base}/",
                "service_documentation": "https://docs.joinmastodon.org/",
                "authorization_endpoint": f"{base}/oauth/authorize",
                "token_endpoint": f"{base}/oauth/token",
                "app_registration_endpoint": f"{base}/api/v1/apps",
                "revocation_endpoint": f"{base}/oauth/revoke",
                "scopes_supported": sorted(KNOWN_SCOPES),
                "response_types_supported": ["code"],
                "response_modes_supported": ["query", "fragment", "form_post"],
                "code_challenge_methods_supported": ["S256"],
                "grant_types_supported": ["authorization_code", "client_credentials"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
            },
        )

    # ------------------------------------------------------------------ apps and OAuth

    def create_app(self, req: Incoming, m: re.Match[str]) -> Response:
        uris = [u for raw in req.values("redirect_uris") for u in raw.split()]
        try:
            app = self.world.register_app(
                req.value("client_name") or "",
                uris,
                req.value("scopes") or "read",
                req.value("website"),
            )
        except ValueError as exc:
            raise json_error(422, str(exc)) from exc
        return json_response(200, app.to_json(self.world.vapid_public_key))

    def app_credentials(self, req: Incoming, m: re.Match[str]) -> Response:
        if self.pose.software == "gotosocial":
            raise json_error(404, NOT_FOUND)
        tok = self._token(req)
        app = self.world.app(tok.client_id)
        name = app.name if app is not None else "Tootbell demo"
        return json_response(
            200,
            {
                "name": name,
                "website": app.website if app is not None else None,
                "scopes": sorted(tok.scopes),
                "redirect_uris": list(app.redirect_uris) if app is not None else [],
                "vapid_key": self.world.vapid_public_key,
            },
        )

    def _check_authorize(self, req: Incoming) -> tuple[App, str, frozenset[str]]:
        """Validate an authorization request; raise the page or redirect Doorkeeper shows."""
        app = self.world.app(req.value("client_id"))
        if app is None:
            raise HttpError(
                _oauth_error_page(
                    401, "invalid_client", "Client authentication failed due to unknown client."
                )
            )
        redirect_uri = req.value("redirect_uri")
        if not redirect_uri and len(app.redirect_uris) == 1:
            redirect_uri = app.redirect_uris[0]
        if not redirect_uri or not any(
            redirect_uri_matches(redirect_uri, r) for r in app.redirect_uris
        ):
            raise HttpError(
                _oauth_error_page(
                    400,
                    "invalid_redirect_uri",
                    "The requested redirect uri is malformed or doesn't match client redirect URI.",
                )
            )
        state = req.value("state")

        def fail(error: str, description: str) -> HttpError:
            if redirect_uri == OOB_URI:
                return HttpError(_oauth_error_page(400, error, description))
            params = [("error", error), ("error_description", description)]
            if state is not None:
                params.append(("state", state))
            return HttpError(redirect(add_query(redirect_uri, params)))

        if req.value("response_type") != "code":
            raise fail(
                "unsupported_response_type",
                "The authorization server does not support this response type.",
            )
        scopes = frozenset((req.value("scope") or "read").split())
        if not scopes or not scopes <= app.scopes:
            raise fail("invalid_scope", "The requested scope is invalid, unknown, or malformed.")
        challenge = req.value("code_challenge")
        if challenge and (req.value("code_challenge_method") or "plain") != "S256":
            raise fail("invalid_request", "The code_challenge_method is not supported.")
        return app, redirect_uri, scopes

    def authorize_page(self, req: Incoming, m: re.Match[str]) -> Response:
        app, redirect_uri, scopes = self._check_authorize(req)
        auto = (req.value("auto") or "").lower()
        if auto in ("1", "true", "approve"):
            return self._decide(req, app, redirect_uri, scopes, approve=True)
        if auto == "deny":
            return self._decide(req, app, redirect_uri, scopes, approve=False)
        user = req.value("username") or self.world.signed_in_user
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
            for name, value in (
                ("response_type", "code"),
                ("client_id", app.client_id),
                ("redirect_uri", redirect_uri),
                ("scope", " ".join(sorted(scopes))),
                ("state", req.value("state") or ""),
                ("code_challenge", req.value("code_challenge") or ""),
                ("code_challenge_method", req.value("code_challenge_method") or ""),
                ("username", user),
            )
        )
        items = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in sorted(scopes))
        name = html.escape(app.name)
        body = (
            f"<h1>Authorize {name}</h1>\n"
            f"<p>{name} would like permission to access your account "
            f"<strong>@{html.escape(user)}@{html.escape(self.world.domain)}</strong>.</p>\n"
            f"<p>It asks for:</p><ul>{items}</ul>\n"
            f'<form method="post" action="/oauth/authorize">{hidden}\n'
            '<button type="submit" name="decision" value="approve" id="authorize">Authorize'
            "</button>\n"
            '<button type="submit" name="decision" value="deny" id="deny">Deny</button>\n'
            "</form>"
        )
        return html_page(200, f"Authorize {app.name}", body)

    def authorize_decision(self, req: Incoming, m: re.Match[str]) -> Response:
        app, redirect_uri, scopes = self._check_authorize(req)
        decision = (req.value("decision") or "").lower()
        if decision not in ("approve", "deny"):
            return _oauth_error_page(400, "invalid_request", "Missing decision.")
        return self._decide(req, app, redirect_uri, scopes, approve=decision == "approve")

    def _decide(
        self, req: Incoming, app: App, redirect_uri: str, scopes: frozenset[str], *, approve: bool
    ) -> Response:
        state = req.value("state")
        if not approve:
            if redirect_uri == OOB_URI:
                return _oauth_error_page(400, "access_denied", "The authorization was denied.")
            params = [
                ("error", "access_denied"),
                (
                    "error_description",
                    "The resource owner or authorization server denied the request.",
                ),
            ]
            if state:
                params.append(("state", state))
            return redirect(add_query(redirect_uri, params))
        user = req.value("username") or self.world.signed_in_user
        code = self.world.create_grant(
            app,
            user,
            redirect_uri,
            scopes,
            req.value("code_challenge") or None,
            req.value("code_challenge_method") or None,
        )
        if redirect_uri == OOB_URI:
            return html_page(
                200,
                "Authorization code",
                "<h1>Authorization code</h1><p>Copy this code and paste it into "
                f'{html.escape(app.name)}:</p>\n<p><code id="code">{html.escape(code)}</code></p>',
            )
        params = [("code", code)]
        if state:
            params.append(("state", state))
        return redirect(add_query(redirect_uri, params))

    def _client(self, req: Incoming) -> App:
        basic = req.basic_auth()
        client_id, secret = basic or (req.value("client_id"), req.value("client_secret"))
        app = self.world.authenticate_client(client_id, secret)
        if app is None:
            raise HttpError(_oauth_error(401, "invalid_client", INVALID_CLIENT))
        return app

    def token(self, req: Incoming, m: re.Match[str]) -> Response:
        grant_type = req.value("grant_type")
        if grant_type not in ("authorization_code", "client_credentials"):
            return _oauth_error(400, "unsupported_grant_type", UNSUPPORTED_GRANT)
        app = self._client(req)
        try:
            if grant_type == "authorization_code":
                tok = self.world.exchange_code(
                    app, req.value("code"), req.value("redirect_uri"), req.value("code_verifier")
                )
            else:
                tok = self.world.client_credentials(app, req.value("scope"))
        except OAuthFailure as failure:
            return _oauth_error(failure.status, failure.error, failure.description)
        return json_response(
            200,
            {
                "access_token": tok.value,
                "token_type": "Bearer",
                "scope": " ".join(sorted(tok.scopes)),
                "created_at": tok.created_at,
            },
            [("Cache-Control", "no-store"), ("Pragma", "no-cache")],
        )

    def revoke(self, req: Incoming, m: re.Match[str]) -> Response:
        app = self._client(req)
        value = req.value("token")
        if not value:
            return _oauth_error(400, "invalid_request", "Missing required parameter: token.")
        if not self.world.revoke(app, value):
            return _oauth_error(403, "unauthorized_client", CANNOT_REVOKE)
        return json_response(200, {})

    # ------------------------------------------------------------------ accounts

    def verify_credentials(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._user(req, "read", "read:accounts", "profile")
        acc = dict(self.world.ensure_local(user))
        acc["source"] = {
            "privacy": "public",
            "sensitive": False,
            "language": "en",
            "note": "",
            "fields": [],
            "follow_requests_count": 0,
        }
        return json_response(200, acc)

    # ------------------------------------------------------------------ notifications

    def notifications(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._user(req, "read", "read:notifications")
        default, maximum = self.pose.notification_limits
        raw_limit = req.value("limit")
        limit = default if raw_limit is None else min(abs(_int(raw_limit, default)), maximum)
        types = req.values("types")
        exclude = req.values("exclude_types")
        include_filtered = self.pose.has_grouping and _truthy(req.value("include_filtered"))
        account_id = req.value("account_id") or None
        items = self.world.list_notifications(
            user,
            min_id=req.value("min_id") or None,
            max_id=req.value("max_id") or None,
            since_id=req.value("since_id") or None,
            limit=limit,
            types=types,
            exclude_types=exclude,
            include_filtered=include_filtered,
            account_id=account_id,
        )
        headers: list[tuple[str, str]] = []
        if items:
            keep: list[tuple[str, str]] = []
            if raw_limit is not None:
                keep.append(("limit", raw_limit))
            keep += [("types[]", t) for t in types]
            keep += [("exclude_types[]", t) for t in exclude]
            if account_id:
                keep.append(("account_id", account_id))
            if req.value("include_filtered") is not None:
                keep.append(("include_filtered", req.value("include_filtered") or ""))
            url = f"{self.base}/api/v1/notifications"
            nxt = f"{url}?{urlencode([*keep, ('max_id', items[-1]['id'])])}"
            prev = f"{url}?{urlencode([*keep, ('min_id', items[0]['id'])])}"
            headers.append(("Link", f'<{nxt}>; rel="next", <{prev}>; rel="prev"'))
        return json_response(200, items, headers)

    def unread_count(self, req: Incoming, m: re.Match[str]) -> Response:
        if not self.pose.has_unread_count:
            raise json_error(404, NOT_FOUND)
        user = self._user(req, "read", "read:notifications")
        limit = min(abs(_int(req.value("limit"), 100)), 1000)
        count = self.world.unread_count(
            user,
            limit=limit,
            types=req.values("types"),
            exclude_types=req.values("exclude_types"),
            account_id=req.value("account_id") or None,
        )
        return json_response(200, {"count": count})

    def notification(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._user(req, "read", "read:notifications")
        note = self.world.get_notification(user, m.group("id"))
        if note is None:
            raise json_error(404, NOT_FOUND)
        return json_response(200, note)

    def dismiss(self, req: Incoming, m: re.Match[str]) -> Response:
        if not self.pose.has_dismiss:
            raise json_error(404, NOT_FOUND)
        user = self._user(req, "write", "write:notifications")
        if not self.world.dismiss(user, m.group("id")):
            raise json_error(404, NOT_FOUND)
        return json_response(200, {})

    def clear(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._user(req, "write", "write:notifications")
        self.world.clear(user)
        return json_response(200, {})

    def dismiss_group(self, req: Incoming, m: re.Match[str]) -> Response:
        """``POST /api/v2/notifications/:group_key/dismiss`` (Mastodon 4.3+). Mastodon answers
        ``{}`` whatever the key; the demo answers 404 when no notification had it."""
        if not self.pose.has_grouping:
            raise json_error(404, NOT_FOUND)
        user = self._user(req, "write", "write:notifications")
        if not self.world.dismiss_group(user, m.group("key")):
            raise json_error(404, NOT_FOUND)
        return json_response(200, {})

    # ------------------------------------------------------------------ markers

    def markers(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._user(req, "read", "read:statuses")
        return json_response(200, self.world.markers(user, req.values("timeline")))

    def set_markers(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._user(req, "write", "write:statuses")
        out: JSON = {}
        for timeline in ("home", "notifications"):
            last_read_id = req.nested(timeline, "last_read_id")
            if last_read_id:
                out[timeline] = self.world.set_marker(user, timeline, last_read_id)
        return json_response(200, out)

    # ------------------------------------------------------------------ filters

    def _v2_filters(self, req: Incoming, write: bool = False) -> str:
        """The user, after the pose (404 before Mastodon 4.0 and on Akkoma) and the scope."""
        if not self.pose.has_v2_filters:
            raise json_error(404, NOT_FOUND)
        return self._filters_user(req, write)

    def _filters_user(self, req: Incoming, write: bool) -> str:
        if write:
            return self._user(req, "write", "write:filters")
        return self._user(req, "read", "read:filters")

    @contextlib.contextmanager
    def _filter_errors(self) -> Iterator[None]:
        try:
            yield
        except FilterNotFound:
            raise json_error(404, NOT_FOUND) from None
        except FilterInvalid as e:
            raise HttpError(json_response(422, e.to_json())) from None

    @staticmethod
    def _optional_bool(req: Incoming, name: str) -> bool | None:
        """A Rails boolean, or None when absent or blank (left as it is)."""
        raw = req.value(name)
        return None if raw is None or not raw.strip() else _truthy(raw)

    @staticmethod
    def _expires_in(req: Incoming) -> Any:
        """UNSET when absent; None (never) when blank; else seconds (Rails' ``to_i``)."""
        if not req.has("expires_in"):
            return UNSET
        raw = req.value("expires_in")
        return None if raw is None or not raw.strip() else _int(raw, 0)

    @staticmethod
    def _context(req: Incoming) -> list[str] | None:
        return normalize_context(req.values("context")) if req.has("context") else None

    def _filter_changes(self, req: Incoming) -> FilterChanges:
        title = (req.value("title") or "") if req.has("title") else None
        action = (req.value("filter_action") or "") if req.has("filter_action") else None
        keywords = tuple(_keyword_change(raw) for raw in req.records("keywords_attributes") or [])
        return FilterChanges(
            title=title,
            context=self._context(req),
            action=action,
            expires_in=self._expires_in(req),
            keywords=keywords,
        )

    def filters_index(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._v2_filters(req)
        return json_response(200, self.world.filters.list_json(user))

    def filter_create(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._v2_filters(req, write=True)
        changes = self._filter_changes(req)
        with self._filter_errors():
            out = self.world.filters.create(user, changes, self.pose.filter_actions)
        return json_response(200, out)

    def filter_show(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._v2_filters(req)
        with self._filter_errors():
            return json_response(200, self.world.filters.get_json(user, m.group("id")))

    def filter_update(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._v2_filters(req, write=True)
        changes = self._filter_changes(req)
        with self._filter_errors():
            out = self.world.filters.update(user, m.group("id"), changes, self.pose.filter_actions)
        return json_response(200, out)

    def filter_destroy(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._v2_filters(req, write=True)
        with self._filter_errors():
            self.world.filters.delete(user, m.group("id"))
        return json_response(200, {})

    def keywords_index(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._v2_filters(req)
        with self._filter_errors():
            return json_response(200, self.world.filters.keywords_json(user, m.group("id")))

    def keyword_create(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._v2_filters(req, write=True)
        with self._filter_errors():
            out = self.world.filters.add_keyword(
                user,
                m.group("id"),
                req.value("keyword") or "",
                self._optional_bool(req, "whole_word"),
            )
        return json_response(200, out)

    def keyword_show(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._v2_filters(req)
        with self._filter_errors():
            return json_response(200, self.world.filters.keyword_json(user, m.group("id")))

    def keyword_update(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._v2_filters(req, write=True)
        keyword = (req.value("keyword") or "") if req.has("keyword") else None
        with self._filter_errors():
            out = self.world.filters.update_keyword(
                user, m.group("id"), keyword, self._optional_bool(req, "whole_word")
            )
        return json_response(200, out)

    def keyword_destroy(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._v2_filters(req, write=True)
        with self._filter_errors():
            self.world.filters.delete_keyword(user, m.group("id"))
        return json_response(200, {})

    def filter_statuses_index(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._v2_filters(req)
        with self._filter_errors():
            return json_response(200, self.world.filters.statuses_json(user, m.group("id")))

    def filter_status_create(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._v2_filters(req, write=True)
        status_id = (req.value("status_id") or "").strip()
        with self._filter_errors():
            out = self.world.filters.add_status(
                user,
                m.group("id"),
                status_id,
                status_exists=bool(status_id) and self.world.status_exists(status_id),
            )
        return json_response(200, out)

    def filter_status_show(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._v2_filters(req)
        with self._filter_errors():
            return json_response(200, self.world.filters.status_json(user, m.group("id")))

    def filter_status_destroy(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._v2_filters(req, write=True)
        with self._filter_errors():
            self.world.filters.delete_status(user, m.group("id"))
        return json_response(200, {})

    # v1: every pose; on Mastodon 4.x (and GoToSocial) a view of the v2 keywords.

    def _v1_headers(self) -> list[tuple[str, str]]:
        return [("Deprecation", V1_FILTERS_DEPRECATED)] if self.pose.deprecates_v1_filters else []

    def v1_filters_index(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._filters_user(req, write=False)
        return json_response(200, self.world.filters.v1_list_json(user), self._v1_headers())

    def v1_filter_create(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._filters_user(req, write=True)
        with self._filter_errors():
            out = self.world.filters.v1_create(
                user,
                phrase=req.value("phrase") or "",
                context=self._context(req) or [],
                irreversible=_truthy(req.value("irreversible")),
                whole_word=self._optional_bool(req, "whole_word"),
                expires_in=self._expires_in(req),
            )
        return json_response(200, out, self._v1_headers())

    def v1_filter_show(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._filters_user(req, write=False)
        with self._filter_errors():
            out = self.world.filters.v1_get_json(user, m.group("id"))
        return json_response(200, out, self._v1_headers())

    def v1_filter_update(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._filters_user(req, write=True)
        with self._filter_errors():
            out = self.world.filters.v1_update(
                user,
                m.group("id"),
                phrase=(req.value("phrase") or "") if req.has("phrase") else None,
                context=self._context(req),
                irreversible=self._optional_bool(req, "irreversible"),
                whole_word=self._optional_bool(req, "whole_word"),
                expires_in=self._expires_in(req),
            )
        return json_response(200, out, self._v1_headers())

    def v1_filter_destroy(self, req: Incoming, m: re.Match[str]) -> Response:
        """Removes only the keyword; its v2 filter stays (Mastodon 4.x). Before 4.0 (and on
        Akkoma) the v1 filter is all there is, so it goes."""
        user = self._filters_user(req, write=True)
        with self._filter_errors():
            self.world.filters.delete_keyword(
                user, m.group("id"), drop_empty=not self.pose.has_v2_filters
            )
        return json_response(200, {}, self._v1_headers())

    # ------------------------------------------------------------------ conversations

    def conversations(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._user(req, "read", "read:statuses")
        raw_limit = req.value("limit")
        limit = (
            CONVERSATIONS_LIMIT
            if raw_limit is None
            else min(abs(_int(raw_limit, CONVERSATIONS_LIMIT)), 2 * CONVERSATIONS_LIMIT)
        )
        items = self.world.list_conversations(
            user,
            limit=limit,
            max_id=req.value("max_id") or None,
            since_id=req.value("since_id") or None,
            min_id=req.value("min_id") or None,
        )
        links: list[str] = []
        keep = [("limit", raw_limit)] if raw_limit is not None else []
        url = f"{self.base}/api/v1/conversations"
        if items and len(items) == limit:
            nxt = urlencode([*keep, ("max_id", items[-1]["last_status"]["id"])])
            links.append(f'<{url}?{nxt}>; rel="next"')
        if items:
            prev = urlencode([*keep, ("min_id", items[0]["last_status"]["id"])])
            links.append(f'<{url}?{prev}>; rel="prev"')
        headers = [("Link", ", ".join(links))] if links else []
        return json_response(200, items, headers)

    def conversation_read(self, req: Incoming, m: re.Match[str]) -> Response:
        return self._mark_conversation(req, m.group("id"), unread=False)

    def conversation_unread(self, req: Incoming, m: re.Match[str]) -> Response:
        """Routed but undocumented, from Mastodon 4.3."""
        if not self.pose.at_least(4, 3):
            raise json_error(404, NOT_FOUND)
        return self._mark_conversation(req, m.group("id"), unread=True)

    def _mark_conversation(self, req: Incoming, conversation_id: str, *, unread: bool) -> Response:
        user = self._user(req, "write", "write:conversations")
        out = self.world.mark_conversation(user, conversation_id, unread)
        if out is None:
            raise json_error(404, NOT_FOUND)
        return json_response(200, out)

    def conversation_destroy(self, req: Incoming, m: re.Match[str]) -> Response:
        user = self._user(req, "write", "write:conversations")
        if not self.world.conversations.delete(user, m.group("id")):
            raise json_error(404, NOT_FOUND)
        return json_response(200, {})

    # ------------------------------------------------------------------ Web Push

    def _push_json(self, sub: PushSubscriptionRecord) -> Response:
        return json_response(200, sub.to_json(self.pose, self.world.vapid_public_key))

    def _push_data(self, req: Incoming) -> tuple[dict[str, bool], str]:
        """``data[alerts]`` and ``data[policy]``; a top-level ``policy`` is not read. Mastodon
        keeps the alert keys it knows (all false unless sent); GoToSocial's form binding drops
        ``favourite`` and reads ``pending.reblog`` into ``reblog``."""
        data = _dict_param(req.params().get("data"))
        raw = _dict_param(data.get("alerts"))
        gts = self.pose.software == "gotosocial"
        known = GOTOSOCIAL_ALERT_TYPES if gts else MASTODON_ALERT_TYPES
        alerts = {
            key: _bool_param(value)
            for key, value in raw.items()
            if key in known and not isinstance(value, (dict, list))
        }
        if gts and not isinstance(req.json_body, dict):
            alerts.pop("favourite", None)
            if "pending.reblog" in alerts:
                alerts["reblog"] = alerts["pending.reblog"]
        return alerts, _text_param(data.get("policy")) or "all"

    def push_subscribe(self, req: Incoming, m: re.Match[str]) -> Response:
        tok = self._user_token(req, "push")
        sub = _dict_param(req.params().get("subscription"))
        if not sub:
            raise json_error(400, "param is missing or the value is empty: subscription")
        gts = self.pose.software == "gotosocial"
        endpoint = _text_param(sub.get("endpoint"))
        keys = _dict_param(sub.get("keys"))
        p256dh = _text_param(keys.get("p256dh"))
        auth = _text_param(keys.get("auth"))
        if gts and not (endpoint.lower().startswith("https://") and _valid_push_endpoint(endpoint)):
            raise json_error(422, GTS_HTTPS_ONLY)
        errors: list[str] = []
        if not endpoint:
            errors += ["Endpoint can't be blank", "Endpoint is not a valid URL"]
        elif not _valid_push_endpoint(endpoint):
            errors.append("Endpoint is not a valid URL")
        if not p256dh:
            errors.append("Key p256dh can't be blank")
        if not auth:
            errors.append("Key auth can't be blank")
        if p256dh and auth:
            try:  # Mastodon's WebPushKeyValidator: the keys must actually encrypt
                p256dh = webpush.b64url_encode(webpush.b64url_decode(p256dh))
                auth = webpush.b64url_encode(webpush.b64url_decode(auth))
                webpush.encrypt(b"validation_test", public_b64=p256dh, auth_b64=auth)
            except ValueError:
                errors.append(INVALID_PUSH_KEY)
        if errors:
            raise json_error(422, "Validation failed: " + ", ".join(errors))
        # GoToSocial is always standard; Mastodon reads the flag from 4.4 on.
        standard = gts or (self.pose.at_least(4, 4) and _bool_param(sub.get("standard")))
        alerts, policy = self._push_data(req)
        record = self.world.subscribe_push(
            tok,
            endpoint=endpoint,
            p256dh=p256dh,
            auth=auth,
            standard=standard,
            alerts=alerts,
            policy=policy,
        )
        return self._push_json(record)

    def push_show(self, req: Incoming, m: re.Match[str]) -> Response:
        tok = self._user_token(req, "push")
        record = self.world.push_subscription(tok.value)
        if record is None:
            raise json_error(404, NOT_FOUND)
        return self._push_json(record)

    def push_update(self, req: Incoming, m: re.Match[str]) -> Response:
        tok = self._user_token(req, "push")
        alerts, policy = self._push_data(req)
        record = self.world.update_push_subscription(tok.value, alerts=alerts, policy=policy)
        if record is None:
            raise json_error(404, NOT_FOUND)
        return self._push_json(record)

    def push_unsubscribe(self, req: Incoming, m: re.Match[str]) -> Response:
        tok = self._user_token(req, "push")
        self.world.unsubscribe_push(tok.value)
        return json_response(200, {})

    # ------------------------------------------------------------------ images and pages

    def avatar(self, req: Incoming, m: re.Match[str]) -> Response:
        return _png(png.avatar_png(m.group("name")))

    def emoji(self, req: Incoming, m: re.Match[str]) -> Response:
        return _png(png.emoji_png(m.group("name")))

    def media(self, req: Incoming, m: re.Match[str]) -> Response:
        return _png(png.avatar_png("media:" + m.group("name"), 96))

    def header_image(self, req: Incoming, m: re.Match[str]) -> Response:
        return _png(png.header_png())

    def account_page(self, req: Incoming, m: re.Match[str]) -> Response:
        acc = self.world.find_account(m.group("acct"))
        if acc is None:
            return html_page(404, "Not found", "<h1>The page you are looking for isn't here.</h1>")
        name = html.escape(acc["display_name"] or acc["username"])
        return html_page(
            200,
            f"{acc['display_name'] or acc['username']} (@{acc['acct']})",
            f'<h1><img src="{html.escape(acc["avatar"])}" alt="" width="48" height="48"> '
            f"{name}</h1><p>@{html.escape(acc['acct'])}</p>{acc['note']}",
        )

    def status_page(self, req: Incoming, m: re.Match[str]) -> Response:
        st = self.world.status_for_page(m.group("acct"), m.group("id"))
        if st is None or st["visibility"] == "direct":
            return html_page(404, "Not found", "<h1>The page you are looking for isn't here.</h1>")
        acc = st["account"]
        return html_page(
            200,
            f"{acc['display_name'] or acc['username']}: post {st['id']}",
            f"<article><h1>@{html.escape(acc['acct'])}</h1>{st['content']}"
            f"<footer>{html.escape(st['created_at'])}</footer></article>",
        )


def _png(content: bytes) -> Response:
    return Response(200, content, "image/png", [("Cache-Control", "public, max-age=3600")])


def _www_authenticate() -> tuple[str, str]:
    return (
        "WWW-Authenticate",
        f'Bearer realm="Doorkeeper", error="invalid_token", error_description="{INVALID_TOKEN}"',
    )


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response(status, {"error": error, "error_description": description})


def _oauth_error_page(status: int, error: str, description: str) -> Response:
    return html_page(
        status,
        "An error has occurred",
        f'<h1>An error has occurred</h1><p id="error">{html.escape(error)}</p>'
        f"<p>{html.escape(description)}</p>",
    )


# --------------------------------------------------------------------------- HTTP plumbing


class _DemoHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its open connections, so stop() can end them."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], demo: DemoServer) -> None:
        self.demo = demo
        self._conn_lock = threading.Lock()
        self._conns: dict[socket.socket, threading.Thread] = {}
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="tootbell-demo-conn",
            daemon=True,
        )
        with self._conn_lock:
            self._conns[request] = thread
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._conns.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("error while serving %s", client_address, exc_info=True)

    def close_connections(self, timeout: float) -> None:
        """Shut down every open connection and wait (a little) for its thread."""
        with self._conn_lock:
            conns = list(self._conns.items())
        for sock, _ in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for _, thread in conns:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Mastodon"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 30.0  # idle keep-alive connections are closed after this

    @property
    def demo(self) -> DemoServer:
        return cast(_DemoHTTPServer, self.server).demo

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024).strip():
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        demo = self.demo
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._send(json_response(413, {"error": "Request entity too large"}))
            return
        split = urlsplit(self.path)
        demo._record(
            RequestLog(
                method=self.command,
                path=unquote(split.path),
                query=parse_qs(split.query, keep_blank_values=True),
                headers=dict(self.headers.items()),
                time=time.time(),
                body=body,
            )
        )
        if demo.faults.down:
            self._drop()
            return
        path = unquote(split.path)
        fault = demo.faults.take(self.command, path)
        client_ip = str(self.client_address[0])
        if fault is not None:
            if fault.kind == "drop":
                self._drop()
                return
            if fault.kind == "slow":
                if demo._stopping.wait(fault.delay):
                    self._drop()
                    return
            elif fault.kind != "cut":
                self._send(demo._router.fault_response(fault, path, client_ip))
                return
        try:
            req = Incoming.parse(self.command, self.path, self.headers, body, client_ip)
        except HttpError as err:
            self._send(err.response)
            return
        resp = demo._router.respond(req)
        self._send(resp, cut=fault is not None and fault.kind == "cut")

    def _drop(self) -> None:
        """Close the connection without answering."""
        self.close_connection = True

    def _send(self, resp: Response, *, cut: bool = False) -> None:
        body = resp.body
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(max(len(body), 2) if cut else len(body)))
        for name, value in resp.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if cut else body)
        if cut:
            self.wfile.flush()
            self.close_connection = True


# --------------------------------------------------------------------------- the server


class DemoServer:
    """A simulated Mastodon instance on ``127.0.0.1:<port>``, over real HTTP.

    Binds in the constructor (so ``base_url`` is known at once); ``start()`` serves in a
    named daemon thread; ``stop()`` shuts down, closes open connections and joins. Also a
    context manager. ``faults`` scripts failures; ``requests`` logs every request;
    ``pushes`` logs every Web Push delivery attempt (sent by the thread "demo-push-sender",
    signed with ``vapid``; ``push_verify`` is ``requests``' ``verify`` for https endpoints).
    """

    def __init__(
        self,
        *,
        port: int = 0,
        auto_generate: float | None = None,
        seed: int = 1,
        version: str = "4.5.0",
        software: str = "mastodon",
        id_style: str | None = None,
        rate_limit: int = 300,
        rate_period: float = 300.0,
        push_retry_delays: Sequence[float] = PUSH_RETRY_DELAYS,
        push_verify: bool | str = True,
    ) -> None:
        pose = Pose.of(version, software)
        style = id_style or ("ulid" if pose.software == "gotosocial" else "numeric")
        if style not in ("numeric", "ulid"):
            raise ValueError("id_style must be 'numeric' or 'ulid'")
        if auto_generate is not None and auto_generate <= 0:
            raise ValueError("auto_generate must be a positive number of seconds")
        self.faults = FaultScript()
        self.requests: list[RequestLog] = []
        self._log_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._httpd = _DemoHTTPServer(("127.0.0.1", port), self)
        self.port: int = int(self._httpd.server_address[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.world = DemoWorld(
            self.base_url,
            pose=pose,
            id_style=style,
            rate_limit=rate_limit,
            rate_period=rate_period,
            seed=seed,
        )
        self._router = DemoRouter(self.world)
        self.vapid = webpush.VapidSigner(
            self.world.vapid_private_key, self.world.vapid_public_key, VAPID_SUBJECT
        )
        self._pusher = PushSender(
            self.world, self.vapid, retry_delays=push_retry_delays, verify=push_verify
        )
        self.pushes: list[PushDelivery] = self._pusher.pushes
        self.world.add_notification_hook(self._pusher.on_notification)
        self._stream = NotificationStream(self.world, seed=seed)
        self._generator = (
            AutoGenerator(self._stream, auto_generate, seed=seed) if auto_generate else None
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Serve in a named daemon thread (and start the generator, if any)."""
        if self._stopped:
            raise RuntimeError("a stopped DemoServer cannot be started again")
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},  # stop() waits up to one interval
            name=f"tootbell-demo-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._pusher.start()
        if self._generator is not None:
            self._generator.start()
        logger.info("demo instance serving at %s (%s)", self.base_url, self.version)

    def stop(self) -> None:
        """Stop the generator, shut the server down, close connections, join. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        if self._generator is not None:
            self._generator.stop()
        self._pusher.stop()
        if self._thread is not None:
            self._httpd.shutdown()
        self._httpd.close_connections(timeout=2.0)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        logger.debug("demo instance at %s stopped", self.base_url)

    def __enter__(self) -> DemoServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ posing

    @property
    def version(self) -> str:
        return self.world.pose.version

    @property
    def software(self) -> str:
        return self.world.pose.software

    def set_version(self, version: str, software: str = "mastodon") -> None:
        """Pose as another server from now on ("4.0.2", "v0.19.2", "… Akkoma 3.10")."""
        with self.world.lock:
            self.world.pose = Pose.of(version, software)

    @property
    def signed_in_user(self) -> str:
        """The user who approves on the authorize page (default "demo")."""
        return self.world.signed_in_user

    @signed_in_user.setter
    def signed_in_user(self, username: str) -> None:
        self.world.ensure_local(username)
        self.world.signed_in_user = username

    # ------------------------------------------------------------------ test helpers

    def create_token(self, username: str = data.LOCAL_USER, scopes: str = SCOPES) -> str:
        """A fresh access token for local user ``username`` (created if new), no browser."""
        return self.world.create_token(username, scopes)

    def revoke_all_tokens(self) -> None:
        self.world.revoke_all()

    def add_notification(
        self,
        type: str,
        *,
        from_user: str | None = None,
        status_text: str | None = None,
        visibility: str = "public",
        filtered_action: str | None = None,
        filter_title: str = "Spoilers",
        policy_filtered: bool = False,
        status_id: str | None = None,
        group_key: str | None = None,
        username: str = data.LOCAL_USER,
        spoiler_text: str = "",
        media: int = 0,
        sensitive: bool = False,
        poll_options: Sequence[str] | None = None,
        filter_keywords: Sequence[str] | None = None,
        filter_context: Sequence[str] = ("notifications", "home"),
        created_at: datetime | None = None,
    ) -> JSON:
        """Create a notification of any ``type`` for ``username``; returns its JSON.

        ``from_user`` defaults to "ana" (the user themselves for severed_relationships and
        moderation_warning; for poll, no sender means the user's own poll ended).
        favourite / reblog / quote are about one of the user's own posts (``status_id``
        reuses a post, so many favourites can land on one); a mention's post is by the
        sender and mentions the user (``visibility="direct"`` for a DM, which also makes the
        user's conversation with the sender unread). ``filtered_action`` ("warn", "hide",
        "blur") stores a filter titled ``filter_title`` for ``filter_context`` holding
        ``filter_keywords`` (default: the title in lower case) and makes the status match it
        whatever its text; the stored filters then match every status as Mastodon's do.
        ``policy_filtered`` marks the notification ``filtered: true`` (listed only with
        include_filtered=true).
        ``group_key`` defaults to ``grouped-<type>-<status_id>-<hour>`` for favourite,
        reblog, follow and admin.sign_up, else ``ungrouped-<id>``.
        """
        return self.world.add_notification(
            type,
            from_user=from_user,
            status_text=status_text,
            visibility=visibility,
            filtered_action=filtered_action,
            filter_title=filter_title,
            policy_filtered=policy_filtered,
            status_id=status_id,
            group_key=group_key,
            username=username,
            spoiler_text=spoiler_text,
            media=media,
            sensitive=sensitive,
            poll_options=poll_options,
            filter_keywords=filter_keywords,
            filter_context=filter_context,
            created_at=created_at,
        )

    def generate(self, count: int = 1) -> list[JSON]:
        """Run ``count`` steps of the demo stream now (bursts without pauses)."""
        out: list[JSON] = []
        for _ in range(count):
            out.extend(self._stream.step())
        return out

    def notifications_for(self, username: str = data.LOCAL_USER) -> list[JSON]:
        """Every notification of ``username``, newest first (policy-filtered ones too)."""
        return self.world.notifications_for(username)

    def set_marker(self, last_read_id: str, username: str = data.LOCAL_USER) -> JSON:
        """Move the notifications marker as another client would: a new position bumps its
        ``version``. Returns the marker JSON."""
        return self.world.set_marker(username, "notifications", last_read_id)

    def marker(self, username: str = data.LOCAL_USER) -> JSON | None:
        """The user's notifications marker JSON, or None when never set."""
        return self.world.markers(username, ["notifications"]).get("notifications")

    def add_filter(
        self,
        title: str,
        keywords: Sequence[str],
        action: str = "hide",
        context: Sequence[str] = ("notifications",),
        username: str = data.LOCAL_USER,
        *,
        whole_word: bool = True,
        expires_in: float | None = None,
    ) -> JSON:
        """Store a v2 filter for ``username`` (any action, whatever the pose); returns its
        ``Filter`` JSON with keywords. ValueError with Mastodon's text when invalid."""
        self.world.ensure_local(username)
        return self.world.filters.add(
            username,
            title,
            keywords,
            action=action,
            context=context,
            whole_word=whole_word,
            expires_in=expires_in,
        )

    def filters_for(self, username: str = data.LOCAL_USER) -> list[JSON]:
        """The user's filters as v2 ``Filter`` JSON with keywords and statuses, oldest first."""
        return self.world.filters.list_json(username)

    def conversations_for(self, username: str = data.LOCAL_USER) -> list[JSON]:
        """The user's ``Conversation`` JSON, newest first."""
        return self.world.conversations_for(username)

    # ------------------------------------------------------------------ Web Push

    @property
    def push_enabled(self) -> bool:
        """False drops every push silently (queued and retried ones too), like a relay that
        loses messages; the notifications stay, for the poll to find."""
        return self._pusher.enabled

    @push_enabled.setter
    def push_enabled(self, enabled: bool) -> None:
        self._pusher.enabled = enabled

    @property
    def push_retry_delays(self) -> tuple[float, ...]:
        """Seconds before retry 1, 2, … of a failed push (the last repeats; 5 retries)."""
        return self._pusher.retry_delays

    @push_retry_delays.setter
    def push_retry_delays(self, delays: Sequence[float]) -> None:
        self._pusher.retry_delays = tuple(delays)

    @property
    def push_verify(self) -> bool | str:
        """``requests``' ``verify`` for push deliveries: True, False or a CA bundle path."""
        return self._pusher.verify

    @push_verify.setter
    def push_verify(self, verify: bool | str) -> None:
        self._pusher.verify = verify

    def wait_for_pushes(self, count: int, timeout: float = 5.0) -> list[PushDelivery]:
        """``pushes`` once it holds ``count`` attempts (retries count); TimeoutError after
        ``timeout`` seconds."""
        return self._pusher.wait_for(count, timeout)

    def push_subscription(self, token: str) -> JSON | None:
        """The ``WebPushSubscription`` JSON made with ``token`` (even a revoked one), or None."""
        record = self.world.push_subscription(token)
        if record is None:
            return None
        return record.to_json(self.world.pose, self.world.vapid_public_key)

    def _record(self, entry: RequestLog) -> None:
        with self._log_lock:
            self.requests.append(entry)

    def clear_requests(self) -> None:
        with self._log_lock:
            del self.requests[:]

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[RequestLog]:
        """The logged requests whose path starts with ``path_prefix`` (and method matches)."""
        with self._log_lock:
            return [
                r
                for r in self.requests
                if r.path.startswith(path_prefix)
                and (method is None or r.method.upper() == method.upper())
            ]
