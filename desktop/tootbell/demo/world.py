"""The state of the demo instance: accounts, statuses, notifications, markers, OAuth, rate limits,
filters (:mod:`tootbell.demo.filters`) and conversations (:mod:`tootbell.demo.conversations`).

No HTTP here: :mod:`tootbell.demo.server` turns requests into calls on :class:`DemoWorld` and
its answers into responses. Every public method takes the one lock, so the HTTP threads, the
generator thread and test code can all use it at once. JSON is shaped like Mastodon's
entities; :class:`Pose` decides which version-dependent parts a response carries.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import ipaddress
import logging
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tootbell.demo import data
from tootbell.demo.conversations import ConversationRecord, ConversationStore
from tootbell.demo.filters import ALL_ACTIONS, FilterStore, hides_in_notifications
from tootbell.mastodon.entities import detect_software, id_key
from tootbell.mastodon.oauth import OOB_URI

logger = logging.getLogger(__name__)

JSON = dict[str, Any]

_KNOWN_SCOPES_TEXT = """
read write follow push profile
read:accounts read:blocks read:bookmarks read:favourites read:filters read:follows read:lists
read:mutes read:notifications read:search read:statuses
write:accounts write:blocks write:bookmarks write:conversations write:favourites write:filters
write:follows write:lists write:media write:mutes write:notifications write:reports
write:statuses
admin:read admin:read:accounts admin:read:reports admin:read:domain_allows
admin:read:domain_blocks admin:read:ip_blocks admin:read:email_domain_blocks
admin:read:canonical_email_blocks
admin:write admin:write:accounts admin:write:reports admin:write:domain_allows
admin:write:domain_blocks admin:write:ip_blocks admin:write:email_domain_blocks
admin:write:canonical_email_blocks
"""
KNOWN_SCOPES: frozenset[str] = frozenset(_KNOWN_SCOPES_TEXT.split())

# The types Mastodon groups (v2 grouping); others get ``ungrouped-<id>``.
GROUPABLE_TYPES = frozenset({"favourite", "reblog", "follow", "admin.sign_up"})
KNOWN_EMOJI = ("blobcat", "blobheart")

CODE_TTL_S = 600.0  # Doorkeeper's authorization_code_expires_in


# --------------------------------------------------------------------------- helpers


def iso_ms(dt: datetime) -> str:
    """Mastodon's timestamp format: ``2025-01-01T12:34:56.789Z``."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def iso_us(ts: float) -> str:
    """ISO-8601 with microseconds, as in ``X-RateLimit-Reset``."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def newer(a: str, b: str) -> bool:
    return id_key(a) > id_key(b)


def pkce_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _scope_set(scopes: str | Iterable[str]) -> frozenset[str]:
    if isinstance(scopes, str):
        return frozenset(scopes.split())
    return frozenset(s for part in scopes for s in part.split())


def scope_allows(granted: frozenset[str], *needed: str) -> bool:
    """True when any of ``needed`` is granted (``read`` covers ``read:*`` and so on)."""
    for scope in needed:
        if scope in granted:
            return True
        head = scope.split(":", 1)[0]
        if ":" in scope and head in granted and head in ("read", "write"):
            return True
    return False


def _is_loopback_literal(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redirect_uri_matches(requested: str, registered: str) -> bool:
    """Doorkeeper's ``URIChecker.matches?``: exact, except that the port is ignored when both
    URIs are loopback IP literals (RFC 8252 §7.3) and the requested query is ignored when the
    registered URI has none. ``localhost`` is not a loopback literal."""
    if requested == registered:
        return True
    if OOB_URI in (requested, registered):
        return False
    try:
        a, b = urlsplit(requested), urlsplit(registered)
        a_port, b_port = a.port, b.port
    except ValueError:
        return False
    if not a.scheme or not a.netloc:
        return False
    if b.query and a.query != b.query:
        return False
    default = {"http": 80, "https": 443}
    ports_equal = (a_port or default.get(a.scheme.lower())) == (
        b_port or default.get(b.scheme.lower())
    )
    if _is_loopback_literal(a.hostname) and _is_loopback_literal(b.hostname):
        ports_equal = True
    return (
        a.scheme.lower() == b.scheme.lower()
        and (a.hostname or "").lower() == (b.hostname or "").lower()
        and ports_equal
        and (a.path or "/") == (b.path or "/")
        and a.username == b.username
        and a.fragment == b.fragment
    )


def valid_redirect_uri(uri: str) -> bool:
    if uri == OOB_URI:
        return True
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if not scheme or scheme in ("javascript", "data", "vbscript") or parts.fragment:
        return False
    return bool(parts.netloc) or scheme not in ("http", "https")


_URL_RE = re.compile(r"https?://[^\s<>\"]*[^\s<>\".,:;!?')\]]")
_TAG_RE = re.compile(r"(?<![\w/&#])#(\w+)")


def _link_html(url: str) -> str:
    """A link the way Mastodon renders one, with the invisible/ellipsis spans."""
    m = re.match(r"(https?://(?:www\.)?)(.*)", url)
    prefix, rest = (m.group(1), m.group(2)) if m else ("", url)
    if len(rest) > 30:
        shown = (
            f'<span class="ellipsis">{html.escape(rest[:30])}</span>'
            f'<span class="invisible">{html.escape(rest[30:])}</span>'
        )
    else:
        shown = f'<span class="">{html.escape(rest)}</span><span class="invisible"></span>'
    return (
        f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" '
        f'translate="no"><span class="invisible">{html.escape(prefix)}</span>{shown}</a>'
    )


def text_to_html(text: str, base_url: str, prefix_html: str = "") -> str:
    """Plain text to status HTML: escaped, links and hashtags made into anchors, blank lines
    into paragraphs and single newlines into ``<br />``. ``prefix_html`` opens the first
    paragraph (mentions)."""

    def inline(chunk: str) -> str:
        out: list[str] = []
        pos = 0
        pattern = re.compile(f"{_URL_RE.pattern}|{_TAG_RE.pattern}")
        for m in pattern.finditer(chunk):
            out.append(html.escape(chunk[pos : m.start()], quote=False))
            token = m.group(0)
            if token.startswith("#"):
                tag = m.group(1)
                out.append(
                    f'<a href="{base_url}/tags/{html.escape(tag.lower())}" '
                    f'class="mention hashtag" rel="tag">#<span>{html.escape(tag)}</span></a>'
                )
            else:
                out.append(_link_html(token))
            pos = m.end()
        out.append(html.escape(chunk[pos:], quote=False))
        return "".join(out)

    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip())] or [""]
    rendered = ["<br />".join(inline(line) for line in p.split("\n")) for p in paragraphs]
    rendered[0] = prefix_html + rendered[0]
    return "".join(f"<p>{p}</p>" for p in rendered)


# --------------------------------------------------------------------------- ids


class IdGenerator:
    """Increasing opaque IDs: Mastodon-style snowflakes (numeric strings) or ULIDs."""

    _CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

    def __init__(
        self, style: str = "numeric", *, clock: Callable[[], float] = time.time, seed: int = 0
    ) -> None:
        if style not in ("numeric", "ulid"):
            raise ValueError("id_style must be 'numeric' or 'ulid'")
        self.style = style
        self._clock = clock
        self._rng = random.Random(seed)
        self._last = 0

    def next(self) -> str:
        ms = int(self._clock() * 1000)
        numeric = self.style == "numeric"
        candidate = ms << 16 if numeric else (ms << 80) | self._rng.getrandbits(80)
        value = candidate if candidate > self._last else self._last + 1
        self._last = value
        if self.style == "numeric":
            return str(value)
        chars = []
        for _ in range(26):
            chars.append(self._CROCKFORD[value & 31])
            value >>= 5
        return "".join(reversed(chars))

    def observe(self, value: str) -> None:
        """Keep later IDs above one chosen from outside (a test's ``status_id``)."""
        if self.style == "numeric" and value.isdigit() and len(value) <= 20:
            self._last = max(self._last, int(value))


# --------------------------------------------------------------------------- pose


def _mastodon_version(version: str) -> tuple[int, int]:
    head = version.strip().lstrip("v").split("+")[0].split("-")[0].split(" ")[0]
    parts = head.split(".")
    try:
        return (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0)
    except (ValueError, IndexError):
        return (0, 0)


@dataclass(frozen=True)
class Pose:
    """Which server the demo pretends to be, and what that server can do."""

    version: str = "4.5.0"
    software: str = "mastodon"  # "mastodon", "gotosocial", "akkoma", "pleroma"

    @classmethod
    def of(cls, version: str, software: str = "mastodon") -> Pose:
        sw = software.lower()
        if sw == "mastodon":
            detected = detect_software(version)
            if detected not in ("mastodon", "unknown"):
                sw = detected
        return cls(version=version, software=sw)

    @property
    def mastodon(self) -> tuple[int, int]:
        return _mastodon_version(self.version) if self.software == "mastodon" else (0, 0)

    def at_least(self, major: int, minor: int) -> bool:
        return self.mastodon >= (major, minor)

    @property
    def api_version(self) -> int | None:
        v = self.mastodon
        if v >= (4, 6):
            return 10
        return {(4, 5): 7, (4, 4): 6, (4, 3): 2}.get(v)

    @property
    def has_v2_instance(self) -> bool:
        return self.at_least(4, 0) or self.software == "gotosocial"

    @property
    def has_unread_count(self) -> bool:
        return self.at_least(4, 3)

    @property
    def has_dismiss(self) -> bool:
        return self.software != "gotosocial"

    @property
    def has_grouping(self) -> bool:
        """``group_key``, notification policy (``filtered``) and ``include_filtered``."""
        return self.at_least(4, 3)

    @property
    def has_filter_results(self) -> bool:
        return self.at_least(4, 0) or self.software == "gotosocial"

    @property
    def has_v2_filters(self) -> bool:
        """``/api/v2/filters`` (Mastodon 4.0+, GoToSocial); else only ``/api/v1/filters``."""
        return self.at_least(4, 0) or self.software == "gotosocial"

    @property
    def filter_actions(self) -> tuple[str, ...]:
        """The ``filter_action`` values accepted: blur from Mastodon 4.4 (and GoToSocial)."""
        if self.at_least(4, 4) or self.software == "gotosocial":
            return ALL_ACTIONS
        return ("warn", "hide")

    @property
    def deprecates_v1_filters(self) -> bool:
        """Mastodon 4.4+ sends a ``Deprecation`` header on ``/api/v1/filters``."""
        return self.at_least(4, 4)

    @property
    def has_vapid_in_instance(self) -> bool:
        return self.at_least(4, 3) or self.software == "gotosocial"

    @property
    def has_oauth_metadata(self) -> bool:
        return self.at_least(4, 3)

    @property
    def checks_pkce(self) -> bool:
        """GoToSocial accepts PKCE challenges but does not check the verifier."""
        return self.software != "gotosocial"

    @property
    def hides_filtered_server_side(self) -> bool:
        return self.software == "gotosocial"

    @property
    def notification_limits(self) -> tuple[int, int]:
        """(default, maximum) for ``limit`` on the notifications list."""
        if self.software == "mastodon" and not self.at_least(4, 1):
            return (15, 30)
        return (40, 80)


# --------------------------------------------------------------------------- records


@dataclass
class App:
    id: str
    name: str
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    scopes: frozenset[str]
    website: str | None

    def to_json(self, vapid_key: str) -> JSON:
        return {
            "id": self.id,
            "name": self.name,
            "website": self.website,
            "scopes": sorted(self.scopes),
            "redirect_uri": "\n".join(self.redirect_uris),
            "redirect_uris": list(self.redirect_uris),
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "client_secret_expires_at": 0,
            "vapid_key": vapid_key,
        }


@dataclass
class Token:
    value: str
    username: str | None  # None: an app token (client_credentials)
    scopes: frozenset[str]
    client_id: str | None  # None: made by DemoServer.create_token
    created_at: int
    revoked: bool = False


@dataclass
class Grant:
    code: str
    client_id: str
    username: str
    redirect_uri: str
    scopes: frozenset[str]
    challenge: str | None
    method: str | None
    created: float
    used: bool = False


@dataclass
class MarkerRecord:
    last_read_id: str
    version: int
    updated_at: datetime

    def to_json(self) -> JSON:
        return {
            "last_read_id": self.last_read_id,
            "version": self.version,
            "updated_at": iso_ms(self.updated_at),
        }


@dataclass
class NoteRecord:
    id: str
    type: str
    created: datetime
    data: JSON
    sender_id: str
    policy_filtered: bool = False
    hidden_by_filter: bool = False  # when made, a "hide" filter matched for notifications
    pinned_filters: dict[str, tuple[str, ...]] = field(default_factory=dict)  # id -> keywords


class OAuthFailure(Exception):
    """An OAuth error answered as ``{error, error_description}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


@dataclass
class RateWindow:
    window: int
    count: int = 0


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset_at: float
    allowed: bool = True

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("X-RateLimit-Limit", str(self.limit)),
            ("X-RateLimit-Remaining", str(self.remaining)),
            ("X-RateLimit-Reset", iso_us(self.reset_at)),
        ]


def _demo_vapid_pair() -> tuple[str, str]:
    """The demo instance's VAPID key pair (private scalar, uncompressed public point), both
    base64url. Fixed, so the public key is a module constant, and derived from a label rather
    than written out: it protects nothing."""
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # of P-256
    digest = hashlib.sha256(b"tootbell demo instance VAPID key").digest()
    scalar = int.from_bytes(digest, "big") % (order - 1) + 1
    key = ec.derive_private_key(scalar, ec.SECP256R1())
    public = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return _b64url(scalar.to_bytes(32, "big")), _b64url(public)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


# Published at /api/v2/instance, in apps' vapid_key and in each subscription's server_key;
# the demo signs its pushes with the private half.
VAPID_PRIVATE_KEY, VAPID_PUBLIC_KEY = _demo_vapid_pair()

# What data[alerts] accepts: Mastodon permits every Notification::TYPES key (the rest are
# dropped); GoToSocial has a fixed set and always reports all of it.
MASTODON_ALERT_TYPES: tuple[str, ...] = (
    "mention",
    "status",
    "reblog",
    "follow",
    "follow_request",
    "favourite",
    "poll",
    "update",
    "admin.sign_up",
    "admin.report",
    "severed_relationships",
    "moderation_warning",
    "annual_report",
    "quote",
    "quoted_update",
)
GOTOSOCIAL_ALERT_TYPES: tuple[str, ...] = (
    "follow",
    "follow_request",
    "favourite",
    "mention",
    "reblog",
    "poll",
    "status",
    "update",
    "admin.sign_up",
    "admin.report",
    "pending.favourite",
    "pending.reply",
    "pending.reblog",
)
PUSH_POLICIES = frozenset({"all", "followed", "follower", "none"})


@dataclass
class PushSubscriptionRecord:
    """One Web Push subscription; there is at most one per access token."""

    id: int
    token: str  # the access token that made it (the payload's access_token)
    username: str
    endpoint: str
    p256dh: str  # base64url, no padding
    auth: str  # base64url, no padding
    standard: bool  # aes128gcm + RFC 8292 VAPID; else aesgcm + "WebPush <jwt>"
    alerts: dict[str, bool]  # as stored: Mastodon keeps only the keys sent
    policy: str = "all"

    def to_json(self, pose: Pose, server_key: str) -> JSON:
        """The ``WebPushSubscription`` entity as the posed server writes it."""
        gts = pose.software == "gotosocial"
        out: JSON = {"id": str(self.id) if gts else self.id, "endpoint": self.endpoint}
        if gts or pose.at_least(4, 4):
            out["standard"] = self.standard
        if gts:
            out["alerts"] = {t: self.alerts.get(t, False) for t in GOTOSOCIAL_ALERT_TYPES}
        else:
            out["alerts"] = dict(self.alerts)
        out["server_key"] = server_key
        out["policy"] = self.policy
        return out


NotificationHook = Callable[[str, NoteRecord], None]


# --------------------------------------------------------------------------- the world


class DemoWorld:
    """Everything the demo instance knows. Thread-safe: one re-entrant lock."""

    def __init__(
        self,
        base_url: str,
        *,
        pose: Pose,
        id_style: str = "numeric",
        rate_limit: int = 300,
        rate_period: float = 300.0,
        seed: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lock = threading.RLock()
        self.base_url = base_url.rstrip("/")
        self.domain = urlsplit(self.base_url).netloc
        self.pose = pose
        self.rate_limit = rate_limit
        self.rate_period = rate_period
        self.signed_in_user = data.LOCAL_USER  # who approves on the authorize page
        self._clock = clock
        self._ids = IdGenerator(id_style, clock=clock, seed=seed)
        self._rng = random.Random(seed)
        self._accounts: dict[str, JSON] = {}  # acct -> Account JSON
        self._statuses: dict[str, JSON] = {}
        self._notes: dict[str, list[NoteRecord]] = {}  # local username -> oldest first
        self._markers: dict[str, dict[str, MarkerRecord]] = {}
        self._apps: dict[str, App] = {}
        self._app_serial = 100
        self._tokens: dict[str, Token] = {}
        self._grants: dict[str, Grant] = {}
        self.filters = FilterStore(self.lock, self._ids.next, self.now)
        self.conversations = ConversationStore(self.lock, self._ids.next)
        self._rates: dict[str, RateWindow] = {}
        self._personas = {p.acct: p for p in data.PERSONAS}
        self._personas_by_name = {p.username: p for p in data.PERSONAS}
        self.vapid_private_key = VAPID_PRIVATE_KEY
        self.vapid_public_key = VAPID_PUBLIC_KEY
        self._push_subs: dict[str, PushSubscriptionRecord] = {}  # access token -> subscription
        self._push_serial = 0
        self._hooks: list[NotificationHook] = []
        self.ensure_local(data.LOCAL_USER)

    # ------------------------------------------------------------------ time and ids

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # ------------------------------------------------------------------ accounts

    def _account_json(self, persona: data.Persona) -> JSON:
        base = self.base_url
        emojis = [self._emoji_json(code) for code in persona.emojis]
        note = f"<p>{html.escape(persona.note)}</p>" if persona.note else ""
        created = self.now().replace(hour=0, minute=0, second=0, microsecond=0)
        return {
            "id": self._ids.next(),
            "username": persona.username,
            "acct": persona.acct,
            "display_name": persona.display_name,
            "locked": False,
            "bot": persona.bot,
            "discoverable": True,
            "group": False,
            "created_at": iso_ms(created),
            "note": note,
            "url": f"{base}/@{persona.acct}",
            "uri": f"{base}/users/{persona.username}",
            "avatar": f"{base}/avatars/{persona.username}.png",
            "avatar_static": f"{base}/avatars/{persona.username}.png",
            "header": f"{base}/headers/original/missing.png",
            "header_static": f"{base}/headers/original/missing.png",
            "followers_count": len(persona.username) * 17,
            "following_count": len(persona.username) * 5,
            "statuses_count": len(persona.username) * 42,
            "last_status_at": created.date().isoformat(),
            "emojis": emojis,
            "fields": [],
        }

    def _emoji_json(self, shortcode: str) -> JSON:
        url = f"{self.base_url}/emoji/{shortcode}.png"
        return {"shortcode": shortcode, "url": url, "static_url": url, "visible_in_picker": True}

    def account(self, name: str) -> JSON:
        """The Account for ``name`` (a username or ``user@domain``), created when unknown."""
        with self.lock:
            name = name.lstrip("@")
            if name in self._accounts:
                return self._accounts[name]
            persona = self._personas.get(name) or self._personas_by_name.get(name)
            if persona is None:
                user, _, domain = name.partition("@")
                if not domain and user in data.FAN_NAMES:
                    domain = data.FAN_DOMAIN
                persona = data.Persona(user, user.capitalize(), domain or None)
            if persona.acct in self._accounts:
                return self._accounts[persona.acct]
            acc = self._account_json(persona)
            self._accounts[persona.acct] = acc
            if persona.domain is None:
                self._notes.setdefault(persona.username, [])
            return acc

    def ensure_local(self, username: str) -> JSON:
        """The local account ``username`` (with its own notifications list)."""
        with self.lock:
            username = username.lstrip("@")
            if "@" in username:
                raise ValueError("a local username has no domain")
            persona = self._personas_by_name.get(username)
            if persona is None or persona.domain is not None:
                persona = data.Persona(username, username.capitalize())
            if persona.acct not in self._accounts:
                self._accounts[persona.acct] = self._account_json(persona)
            self._notes.setdefault(username, [])
            return self._accounts[persona.acct]

    def find_account(self, acct: str) -> JSON | None:
        """An account already known by ``acct``, without creating one."""
        with self.lock:
            return self._accounts.get(acct.lstrip("@"))

    def local_usernames(self) -> list[str]:
        with self.lock:
            return list(self._notes)

    # ------------------------------------------------------------------ statuses

    def status_for_page(self, acct: str, status_id: str) -> JSON | None:
        with self.lock:
            st = self._statuses.get(status_id)
            if st is None or st["account"]["acct"] != acct.lstrip("@"):
                return None
            return st

    def new_status(
        self,
        author: JSON,
        text: str,
        *,
        visibility: str = "public",
        mentions: Sequence[JSON] = (),
        spoiler_text: str = "",
        media: int = 0,
        sensitive: bool = False,
        poll_options: Sequence[str] | None = None,
        edited: bool = False,
        quote_of: JSON | None = None,
        status_id: str | None = None,
    ) -> JSON:
        """Create and store a status; returns its JSON."""
        with self.lock:
            if status_id is not None:
                self._ids.observe(status_id)
            sid = status_id or self._ids.next()
            now = self.now()
            base = self.base_url
            prefix = "".join(
                f'<span class="h-card" translate="no"><a href="{html.escape(m["url"])}" '
                f'class="u-url mention">@<span>{html.escape(m["username"])}</span></a></span> '
                for m in mentions
            )
            emojis = [self._emoji_json(c) for c in KNOWN_EMOJI if f":{c}:" in text]
            tags = [
                {"name": t.lower(), "url": f"{base}/tags/{t.lower()}"}
                for t in dict.fromkeys(m.group(1) for m in _TAG_RE.finditer(text))
            ]
            media_json = []
            for i in range(media):
                mid = f"{sid}{i}"
                media_json.append(
                    {
                        "id": mid,
                        "type": "image",
                        "url": f"{base}/media/{mid}.png",
                        "preview_url": f"{base}/media/{mid}.png",
                        "remote_url": None,
                        "description": f"Demo picture {i + 1}",
                        "blurhash": None,
                        "meta": {"original": {"width": 48, "height": 48}},
                    }
                )
            poll = None
            if poll_options is not None:
                votes = [self._rng.randint(0, 20) for _ in poll_options]
                poll = {
                    "id": self._ids.next(),
                    "expires_at": iso_ms(now),
                    "expired": True,
                    "multiple": False,
                    "votes_count": sum(votes),
                    "voters_count": sum(votes),
                    "options": [
                        {"title": t, "votes_count": v}
                        for t, v in zip(poll_options, votes, strict=True)
                    ],
                    "emojis": [],
                    "voted": True,
                    "own_votes": [0],
                }
            st: JSON = {
                "id": sid,
                "created_at": iso_ms(now),
                "in_reply_to_id": None,
                "in_reply_to_account_id": None,
                "sensitive": sensitive or bool(spoiler_text),
                "spoiler_text": spoiler_text,
                "visibility": visibility,
                "language": "en",
                "uri": f"{base}/users/{author['username']}/statuses/{sid}",
                "url": f"{base}/@{author['acct']}/{sid}",
                "replies_count": 0,
                "reblogs_count": 0,
                "favourites_count": 0,
                "edited_at": iso_ms(now) if edited else None,
                "favourited": False,
                "reblogged": False,
                "muted": False,
                "bookmarked": False,
                "content": text_to_html(text, base, prefix),
                "filtered": [],
                "reblog": None,
                "application": None,
                "account": author,
                "media_attachments": media_json,
                "mentions": [
                    {"id": m["id"], "username": m["username"], "url": m["url"], "acct": m["acct"]}
                    for m in mentions
                ],
                "tags": tags,
                "emojis": emojis,
                "card": None,
                "poll": poll,
            }
            if quote_of is not None:
                st["quote"] = {"state": "accepted", "quoted_status": copy.deepcopy(quote_of)}
            self._statuses[sid] = st
            return st

    # ------------------------------------------------------------------ filters

    def status_exists(self, status_id: str) -> bool:
        with self.lock:
            return status_id in self._statuses

    def _apply_filter_results(
        self, username: str, status: JSON, pinned: dict[str, tuple[str, ...]] | None = None
    ) -> None:
        """Set ``status.filtered`` (and its quoted post's) for ``username``, in place; drop it
        where the posed server has no filter results."""
        quoted = status.get("quote")
        inner = quoted.get("quoted_status") if isinstance(quoted, dict) else None
        for st, pins in ((status, pinned), (inner, None)):
            if not isinstance(st, dict):
                continue
            if self.pose.has_filter_results:
                st["filtered"] = self.filters.results(username, st, pins)
            else:
                st.pop("filtered", None)

    def _hidden_by_filter(self, note: NoteRecord, username: str) -> bool:
        """Whether an active "hide" filter for notifications matches the note's status now."""
        status = note.data.get("status")
        if not isinstance(status, dict):
            return False
        return hides_in_notifications(self.filters.results(username, status, note.pinned_filters))

    # ------------------------------------------------------------------ notifications

    def add_notification(
        self,
        ntype: str,
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
        """Create a notification of any type for local user ``username``; see DemoServer."""
        with self.lock:
            me = self.ensure_local(username)
            if from_user is None:
                # Severance events and moderation warnings come "from" the user themselves.
                about_me = ntype in ("severed_relationships", "moderation_warning")
                from_user = username if about_me else "ana"
                explicit_sender = False
            else:
                explicit_sender = True
            sender = self.account(from_user)
            created = created_at or self.now()
            existing = self._statuses.get(status_id) if status_id else None
            status: JSON | None = None
            extra: JSON = {}
            account = sender

            def post(author: JSON, text: str, **kw: Any) -> JSON:
                """The notification's status: the one ``status_id`` names, else a new one."""
                if existing is not None:
                    return existing
                return self.new_status(
                    author,
                    text,
                    visibility=visibility,
                    spoiler_text=spoiler_text,
                    media=media,
                    sensitive=sensitive,
                    status_id=status_id,
                    **kw,
                )

            if ntype in ("favourite", "reblog"):
                status = post(me, status_text or data.OWN_POSTS[0])
                counter = "favourites_count" if ntype == "favourite" else "reblogs_count"
                status[counter] = int(status.get(counter, 0)) + 1
            elif ntype == "poll":
                options = list(poll_options or data.POLL_OPTIONS)
                if not explicit_sender:
                    status = post(me, status_text or "Tea or coffee?", poll_options=options)
                    account = me
                else:
                    status = post(sender, status_text or "Tea or coffee?", poll_options=options)
            elif ntype == "mention":
                status = post(sender, status_text or data.MENTIONS[0], mentions=[me])
            elif ntype == "status":
                status = post(sender, status_text or data.STATUSES[0])
            elif ntype == "update":
                status = post(sender, status_text or "Edited: " + data.STATUSES[2], edited=True)
            elif ntype == "quote":
                quoted = (
                    existing
                    if existing is not None
                    else self.new_status(me, data.OWN_POSTS[3], status_id=status_id)
                )
                status = self.new_status(
                    sender,
                    status_text or "This, so much this.",
                    visibility=visibility,
                    spoiler_text=spoiler_text,
                    quote_of=quoted,
                )
            elif ntype == "quoted_update":
                edited = self.new_status(sender, "A post that was later edited", edited=True)
                status = (
                    existing
                    if existing is not None
                    else self.new_status(
                        me, status_text or "Quoting this:", quote_of=edited, status_id=status_id
                    )
                )
            elif ntype == "admin.report":
                reported = self.account("newsbot")
                extra["report"] = {
                    "id": self._ids.next(),
                    "action_taken": False,
                    "action_taken_at": None,
                    "category": "spam",
                    "comment": status_text or data.REPORT_COMMENTS[0],
                    "forwarded": False,
                    "created_at": iso_ms(created),
                    "status_ids": [],
                    "rule_ids": [],
                    "target_account": reported,
                }
            elif ntype == "severed_relationships":
                extra["event"] = {
                    "id": self._ids.next(),
                    "type": "domain_block",
                    "purged": False,
                    "target_name": data.SEVERED_DOMAINS[0],
                    "followers_count": 2,
                    "following_count": 3,
                    "created_at": iso_ms(created),
                }
            elif ntype == "moderation_warning":
                extra["moderation_warning"] = {
                    "id": self._ids.next(),
                    "action": "none",
                    "text": status_text or "Please keep the discussion civil.",
                    "status_ids": [],
                    "target_account": me,
                    "appeal": None,
                    "created_at": iso_ms(created),
                }
            elif status_id is not None and existing is not None:
                status = existing  # an unknown type about a known status

            hidden = False
            pinned: dict[str, tuple[str, ...]] = {}
            if status is not None:
                status = copy.deepcopy(status)
                if filtered_action is not None:
                    words = tuple(filter_keywords or [filter_title.lower()])
                    fid = self.filters.knob_filter(
                        username, filter_title, filtered_action, filter_context, words
                    )
                    pinned[fid] = words
                hidden = hides_in_notifications(self.filters.results(username, status, pinned))

            nid = self._ids.next()  # after the status: Mastodon creates that first
            if group_key is None:
                if policy_filtered or ntype not in GROUPABLE_TYPES:
                    group_key = f"ungrouped-{nid}"
                else:
                    bucket = int(created.timestamp()) // 3600
                    target = f"{status['id']}-" if status is not None else ""
                    group_key = f"grouped-{ntype}-{target}{bucket}"

            note: JSON = {
                "id": nid,
                "type": ntype,
                "created_at": iso_ms(created),
                "group_key": group_key,
                "account": copy.deepcopy(account),
            }
            if status is not None:
                note["status"] = status
            note.update(extra)
            if policy_filtered:
                note["filtered"] = True
            record = NoteRecord(
                id=nid,
                type=ntype,
                created=created,
                data=note,
                sender_id=str(account["id"]),
                policy_filtered=policy_filtered,
                hidden_by_filter=hidden,
                pinned_filters=pinned,
            )
            notes = self._notes[username]
            notes.append(record)
            if len(notes) > 1 and not newer(nid, notes[-2].id):
                notes.sort(key=lambda n: id_key(n.id))
            if (
                ntype == "mention"
                and status is not None
                and status.get("visibility") == "direct"
                and not policy_filtered
            ):
                self._to_conversation(username, me, status, pinned)
            logger.debug("notification %s (%s) for %s", nid, ntype, username)
            for hook in list(self._hooks):
                try:
                    hook(username, record)
                except Exception:  # a hook never stops the notification from existing
                    logger.exception("notification hook failed")
            return self.render(record, username)

    def add_notification_hook(self, hook: NotificationHook) -> None:
        """Call ``hook(username, record)`` for every new notification, under the lock (so
        hooks see notifications in creation order); a hook must not block."""
        with self.lock:
            self._hooks.append(hook)

    def render(self, note: NoteRecord, username: str) -> JSON:
        """The notification JSON as the posed server would send it."""
        with self.lock:
            d = copy.deepcopy(note.data)
            pose = self.pose
            if not pose.has_grouping:
                d.pop("group_key", None)
                d.pop("filtered", None)
            if isinstance(d.get("status"), dict):
                self._apply_filter_results(username, d["status"], note.pinned_filters)
            if pose.software in ("akkoma", "pleroma"):
                marker = self._markers.get(username, {}).get("notifications")
                seen = marker is not None and not newer(note.id, marker.last_read_id)
                d["pleroma"] = {"is_seen": seen, "is_muted": False}
            return d

    def _visible(
        self, note: NoteRecord, username: str, *, include_filtered: bool, account_id: str | None
    ) -> bool:
        if note.policy_filtered and (
            not self.pose.has_grouping or not (include_filtered or account_id)
        ):
            return False
        if account_id is not None and note.sender_id != account_id:
            return False
        # GoToSocial leaves out what a "hide" filter for notifications matches, at read time.
        return not (self.pose.hides_filtered_server_side and self._hidden_by_filter(note, username))

    @staticmethod
    def _type_ok(note: NoteRecord, types: Sequence[str], exclude: Sequence[str]) -> bool:
        if types and note.type not in types:
            return False
        return note.type not in exclude

    def list_notifications(
        self,
        username: str,
        *,
        min_id: str | None = None,
        max_id: str | None = None,
        since_id: str | None = None,
        limit: int = 40,
        types: Sequence[str] = (),
        exclude_types: Sequence[str] = (),
        include_filtered: bool = False,
        account_id: str | None = None,
    ) -> list[JSON]:
        """One page, newest first, with Mastodon's Paginable semantics."""
        with self.lock:
            notes = [
                n
                for n in self._notes.get(username, [])
                if self._visible(
                    n, username, include_filtered=include_filtered, account_id=account_id
                )
                and self._type_ok(n, types, exclude_types)
            ]
            if min_id:
                # The page immediately newer than min_id, then reversed to newest-first.
                asc = [
                    n for n in notes if newer(n.id, min_id) and (not max_id or newer(max_id, n.id))
                ]
                page = list(reversed(asc[:limit]))
            else:
                desc = [
                    n
                    for n in reversed(notes)
                    if (not max_id or newer(max_id, n.id))
                    and (not since_id or newer(n.id, since_id))
                ]
                page = desc[:limit]
            return [self.render(n, username) for n in page]

    def get_notification(self, username: str, nid: str) -> JSON | None:
        with self.lock:
            for n in self._notes.get(username, []):
                if n.id == nid:
                    if self.pose.hides_filtered_server_side and self._hidden_by_filter(n, username):
                        return None
                    return self.render(n, username)
            return None

    def dismiss(self, username: str, nid: str) -> bool:
        with self.lock:
            notes = self._notes.get(username, [])
            for i, n in enumerate(notes):
                if n.id == nid:
                    del notes[i]
                    return True
            return False

    def dismiss_group(self, username: str, group_key: str) -> int:
        """Delete every notification of the group (``ungrouped-<id>``: the one with that id,
        as Mastodon's ``by_group_key``); how many went."""
        with self.lock:
            notes = self._notes.get(username, [])
            if group_key.startswith("ungrouped-"):
                nid = group_key.removeprefix("ungrouped-")
                gone = [n for n in notes if n.id == nid]
            else:
                gone = [n for n in notes if n.data.get("group_key") == group_key]
            for n in gone:
                notes.remove(n)
            return len(gone)

    def clear(self, username: str) -> None:
        with self.lock:
            self._notes.setdefault(username, []).clear()

    def notifications_for(self, username: str) -> list[JSON]:
        """All of the user's notifications, newest first, policy-filtered ones included."""
        with self.lock:
            return [self.render(n, username) for n in reversed(self._notes.get(username, []))]

    def unread_count(
        self,
        username: str,
        *,
        limit: int = 100,
        types: Sequence[str] = (),
        exclude_types: Sequence[str] = (),
        account_id: str | None = None,
    ) -> int:
        with self.lock:
            marker = self._markers.get(username, {}).get("notifications")
            count = 0
            for n in self._notes.get(username, []):
                if marker is not None and not newer(n.id, marker.last_read_id):
                    continue
                if self._visible(
                    n, username, include_filtered=False, account_id=account_id
                ) and self._type_ok(n, types, exclude_types):
                    count += 1
            return min(count, limit)

    # ------------------------------------------------------------------ conversations

    def _to_conversation(
        self, username: str, me: JSON, status: JSON, pinned: dict[str, tuple[str, ...]]
    ) -> None:
        """A direct message reached ``username``: their conversation with the author and the
        other mentioned accounts gets it and becomes unread (``push_to_conversation!``)."""
        others: list[JSON] = []
        seen = {str(me["id"])}
        candidates: list[JSON | None] = [status.get("account")]
        candidates += [
            self.find_account(str(m.get("acct") or "")) for m in status.get("mentions") or []
        ]
        for acc in candidates:
            if isinstance(acc, dict) and str(acc["id"]) not in seen:
                seen.add(str(acc["id"]))
                others.append(acc)
        self.conversations.add_status(
            username,
            status,
            others,
            from_self=str(status["account"]["id"]) == str(me["id"]),
            pinned=pinned,
        )

    def render_conversation(self, record: ConversationRecord) -> JSON:
        """The ``Conversation`` entity, its last status with filter results for its user."""
        with self.lock:
            last = copy.deepcopy(record.last_status)
            self._apply_filter_results(record.username, last, record.pinned)
            return {
                "id": record.id,
                "unread": record.unread,
                "accounts": copy.deepcopy(record.accounts),
                "last_status": last,
            }

    def list_conversations(
        self,
        username: str,
        *,
        limit: int = 20,
        max_id: str | None = None,
        since_id: str | None = None,
        min_id: str | None = None,
    ) -> list[JSON]:
        with self.lock:
            page = self.conversations.page(
                username, limit=limit, max_id=max_id, since_id=since_id, min_id=min_id
            )
            return [self.render_conversation(r) for r in page]

    def mark_conversation(self, username: str, conversation_id: str, unread: bool) -> JSON | None:
        with self.lock:
            record = self.conversations.set_unread(username, conversation_id, unread)
            return self.render_conversation(record) if record is not None else None

    def conversations_for(self, username: str) -> list[JSON]:
        """Every conversation of ``username``, newest first."""
        with self.lock:
            return [self.render_conversation(r) for r in self.conversations.all(username)]

    # ------------------------------------------------------------------ markers

    def markers(self, username: str, timelines: Iterable[str]) -> JSON:
        with self.lock:
            mine = self._markers.get(username, {})
            return {t: mine[t].to_json() for t in timelines if t in mine}

    def set_marker(self, username: str, timeline: str, last_read_id: str) -> JSON:
        """Create or move a marker; the version goes up when the position changes."""
        with self.lock:
            mine = self._markers.setdefault(username, {})
            current = mine.get(timeline)
            now = self.now()
            if current is None:
                mine[timeline] = MarkerRecord(last_read_id, 0, now)
            elif current.last_read_id != last_read_id:
                current.last_read_id = last_read_id
                current.version += 1
                current.updated_at = now
            return mine[timeline].to_json()

    # ------------------------------------------------------------------ OAuth

    def register_app(
        self,
        name: str,
        redirect_uris: Sequence[str],
        scopes: str,
        website: str | None,
    ) -> App:
        with self.lock:
            uris = [u for u in redirect_uris if u]
            if not name:
                raise ValueError("Validation failed: Application name can't be blank")
            if not uris or not all(valid_redirect_uri(u) for u in uris):
                raise ValueError("Validation failed: Redirect URI must be an absolute URI.")
            requested = _scope_set(scopes or "read")
            unknown = requested - KNOWN_SCOPES
            if unknown:
                raise ValueError(
                    "Validation failed: Scopes must be one of the configured scopes ("
                    + ", ".join(sorted(unknown))
                    + ")"
                )
            self._app_serial += 1
            app = App(
                id=str(self._app_serial),
                name=name,
                client_id=secrets.token_urlsafe(32),
                client_secret=secrets.token_urlsafe(32),
                redirect_uris=uris,
                scopes=requested,
                website=website or None,
            )
            self._apps[app.client_id] = app
            return app

    def app(self, client_id: str | None) -> App | None:
        with self.lock:
            return self._apps.get(client_id or "")

    def authenticate_client(self, client_id: str | None, secret: str | None) -> App | None:
        with self.lock:
            app = self._apps.get(client_id or "")
            if app is None or not secret or not secrets.compare_digest(app.client_secret, secret):
                return None
            return app

    def create_grant(
        self,
        app: App,
        username: str,
        redirect_uri: str,
        scopes: frozenset[str],
        challenge: str | None,
        method: str | None,
    ) -> str:
        with self.lock:
            self.ensure_local(username)
            code = secrets.token_urlsafe(32)
            self._grants[code] = Grant(
                code=code,
                client_id=app.client_id,
                username=username,
                redirect_uri=redirect_uri,
                scopes=scopes,
                challenge=challenge or None,
                method=method or None,
                created=self._clock(),
            )
            return code

    def _issue(
        self, username: str | None, scopes: frozenset[str], client_id: str | None, reuse: bool
    ) -> Token:
        if reuse:  # Doorkeeper's reuse_access_token
            for tok in self._tokens.values():
                if (
                    not tok.revoked
                    and tok.username == username
                    and tok.client_id == client_id
                    and tok.scopes == scopes
                ):
                    return tok
        tok = Token(
            value=secrets.token_urlsafe(32),
            username=username,
            scopes=scopes,
            client_id=client_id,
            created_at=int(self._clock()),
        )
        self._tokens[tok.value] = tok
        return tok

    def exchange_code(
        self, app: App, code: str | None, redirect_uri: str | None, verifier: str | None
    ) -> Token:
        invalid_grant = OAuthFailure(
            400,
            "invalid_grant",
            "The provided authorization grant is invalid, expired, revoked, does not match "
            "the redirection URI used in the authorization request, or was issued to another "
            "client.",
        )
        with self.lock:
            grant = self._grants.get(code or "")
            if (
                grant is None
                or grant.used
                or grant.client_id != app.client_id
                or self._clock() - grant.created > CODE_TTL_S
            ):
                raise invalid_grant
            if not redirect_uri:
                raise OAuthFailure(
                    400, "invalid_request", "Missing required parameter: redirect_uri."
                )
            if not redirect_uri_matches(redirect_uri, grant.redirect_uri):
                raise invalid_grant
            if grant.challenge is not None and self.pose.checks_pkce:
                if not verifier:
                    raise OAuthFailure(
                        400, "invalid_request", "Missing required parameter: code_verifier."
                    )
                if not secrets.compare_digest(pkce_s256(verifier), grant.challenge):
                    raise invalid_grant
            grant.used = True
            return self._issue(grant.username, grant.scopes, app.client_id, reuse=True)

    def client_credentials(self, app: App, scopes: str | None) -> Token:
        with self.lock:
            requested = _scope_set(scopes or "read")
            if not requested <= app.scopes:
                raise OAuthFailure(
                    400,
                    "invalid_scope",
                    "The requested scope is invalid, unknown, or malformed.",
                )
            return self._issue(None, requested, app.client_id, reuse=False)

    def create_token(self, username: str, scopes: str) -> str:
        with self.lock:
            self.ensure_local(username)
            return self._issue(username, _scope_set(scopes), None, reuse=False).value

    def token(self, value: str | None) -> Token | None:
        """The token if it is known and not revoked."""
        if not value:
            return None
        with self.lock:
            tok = self._tokens.get(value)
            return tok if tok is not None and not tok.revoked else None

    def revoke(self, app: App, value: str) -> bool:
        """Revoke a token of ``app`` (or one made by ``create_token``). False when the token
        belongs to another app; unknown tokens count as revoked."""
        with self.lock:
            tok = self._tokens.get(value)
            if tok is None:
                return True
            if tok.client_id not in (None, app.client_id):
                return False
            tok.revoked = True
            self._push_subs.pop(value, None)  # revoking a token deletes its subscription
            return True

    def revoke_all(self) -> None:
        with self.lock:
            for tok in self._tokens.values():
                tok.revoked = True
            self._push_subs.clear()

    # ------------------------------------------------------------------ Web Push

    def subscribe_push(
        self,
        token: Token,
        *,
        endpoint: str,
        p256dh: str,
        auth: str,
        standard: bool,
        alerts: dict[str, bool],
        policy: str,
    ) -> PushSubscriptionRecord:
        """Create the token's subscription, replacing the one it had."""
        if token.username is None:
            raise ValueError("an app token cannot subscribe")
        with self.lock:
            self._push_serial += 1
            sub = PushSubscriptionRecord(
                id=self._push_serial,
                token=token.value,
                username=token.username,
                endpoint=endpoint,
                p256dh=p256dh,
                auth=auth,
                standard=standard,
                alerts=dict(alerts),
                policy=policy,
            )
            self._push_subs[token.value] = sub
            return copy.deepcopy(sub)

    def push_subscription(self, token: str) -> PushSubscriptionRecord | None:
        """A copy of the subscription made with ``token``, if any."""
        with self.lock:
            sub = self._push_subs.get(token)
            return copy.deepcopy(sub) if sub is not None else None

    def push_subscription_by_id(self, sub_id: int) -> PushSubscriptionRecord | None:
        with self.lock:
            for sub in self._push_subs.values():
                if sub.id == sub_id:
                    return copy.deepcopy(sub)
            return None

    def push_subscriptions_for(self, username: str) -> list[PushSubscriptionRecord]:
        """Copies of every subscription of ``username`` (one per token), oldest first."""
        with self.lock:
            subs = [s for s in self._push_subs.values() if s.username == username]
            return [copy.deepcopy(s) for s in sorted(subs, key=lambda s: s.id)]

    def update_push_subscription(
        self, token: str, *, alerts: dict[str, bool], policy: str
    ) -> PushSubscriptionRecord | None:
        """Replace the data of the token's subscription (alerts and policy as a whole)."""
        with self.lock:
            sub = self._push_subs.get(token)
            if sub is None:
                return None
            sub.alerts = dict(alerts)
            sub.policy = policy
            return copy.deepcopy(sub)

    def unsubscribe_push(self, token: str) -> bool:
        with self.lock:
            return self._push_subs.pop(token, None) is not None

    def drop_push_subscription(self, sub_id: int) -> bool:
        """Delete the subscription with this id (not one that has since replaced it)."""
        with self.lock:
            for token, sub in list(self._push_subs.items()):
                if sub.id == sub_id:
                    del self._push_subs[token]
                    return True
            return False

    # ------------------------------------------------------------------ rate limits

    def rate_hit(self, key: str, *, count: bool = True) -> RateState:
        """Count one /api request for ``key`` in the current fixed window."""
        with self.lock:
            now = self._clock()
            window = int(now // self.rate_period)
            state = self._rates.get(key)
            if state is None or state.window != window:
                state = RateWindow(window)
                self._rates[key] = state
            if count:
                state.count += 1
            reset_at = (window + 1) * self.rate_period
            allowed = state.count <= self.rate_limit
            remaining = max(0, self.rate_limit - state.count)
            return RateState(self.rate_limit, remaining, reset_at, allowed)
