"""Typed entities parsed from Mastodon-API JSON, and the opaque-ID ordering.

Parsing is lenient about missing optional fields (GoToSocial omits ``status`` on follows,
Akkoma adds ``pleroma`` extras) and strict about the few fields nothing works without.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class EntityError(ValueError):
    """A server answered with JSON that is not the entity we asked for."""


def id_key(value: str) -> tuple[int, str]:
    """Sort key for opaque IDs: Mastodon numbers, Akkoma flakes and ULIDs all sort by this."""
    return (len(value), value)


def id_newer(a: str, b: str | None) -> bool:
    """True when ID ``a`` is strictly newer than ``b`` (``None`` is older than everything)."""
    return b is None or id_key(a) > id_key(b)


def max_id(ids: list[str]) -> str | None:
    return max(ids, key=id_key) if ids else None


def _str(d: dict[str, Any], key: str, default: str = "") -> str:
    v = d.get(key)
    if v is None:
        return default
    return str(v)


def _req_id(d: dict[str, Any], key: str = "id") -> str:
    v = d.get(key)
    if v is None or v == "":
        raise EntityError(f"missing '{key}'")
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise EntityError(f"'{key}' is not an id")
    return str(v)


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def _obj(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EntityError(f"{what} is not an object")
    return value


@dataclass(frozen=True)
class CustomEmoji:
    shortcode: str
    url: str


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    acct: str
    display_name: str
    url: str
    avatar: str
    avatar_static: str
    bot: bool = False
    emojis: tuple[CustomEmoji, ...] = ()

    @property
    def name(self) -> str:
        """What a person calls this account: the display name, else the username."""
        return self.display_name.strip() or self.username or self.acct

    @classmethod
    def from_json(cls, data: object) -> Account:
        d = _obj(data, "account")
        return cls(
            id=_req_id(d),
            username=_str(d, "username"),
            acct=_str(d, "acct", _str(d, "username")),
            display_name=_str(d, "display_name"),
            url=_str(d, "url"),
            avatar=_str(d, "avatar"),
            avatar_static=_str(d, "avatar_static", _str(d, "avatar")),
            bot=bool(d.get("bot", False)),
            emojis=_emojis(d.get("emojis")),
        )


def _emojis(value: object) -> tuple[CustomEmoji, ...]:
    if not isinstance(value, list):
        return ()
    out = []
    for e in value:
        if isinstance(e, dict) and e.get("shortcode"):
            out.append(CustomEmoji(str(e["shortcode"]), _str(e, "url")))
    return tuple(out)


@dataclass(frozen=True)
class FilterResult:
    """One match of a server-side keyword filter against a status (``Status.filtered``)."""

    filter_id: str
    title: str
    context: tuple[str, ...]
    action: str  # "warn", "hide", "blur", or something newer we treat as "warn"
    keyword_matches: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: object) -> FilterResult:
        d = _obj(data, "filter result")
        f = _obj(d.get("filter"), "filter")
        ctx = f.get("context") or []
        kws = d.get("keyword_matches") or []
        return cls(
            filter_id=_str(f, "id"),
            title=_str(f, "title"),
            context=tuple(str(c) for c in ctx) if isinstance(ctx, list) else (),
            action=_str(f, "filter_action", "warn") or "warn",
            keyword_matches=tuple(str(k) for k in kws) if isinstance(kws, list) else (),
        )


@dataclass(frozen=True)
class Status:
    id: str
    url: str
    uri: str
    content: str  # HTML as the server sent it
    spoiler_text: str
    visibility: str
    account: Account | None
    media_count: int = 0
    sensitive: bool = False
    filtered: tuple[FilterResult, ...] = ()
    emojis: tuple[CustomEmoji, ...] = ()
    poll_options: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: object) -> Status:
        d = _obj(data, "status")
        media = d.get("media_attachments")
        filtered_raw = d.get("filtered")
        filtered: list[FilterResult] = []
        if isinstance(filtered_raw, list):
            for r in filtered_raw:
                try:
                    filtered.append(FilterResult.from_json(r))
                except EntityError:
                    continue
        poll = d.get("poll")
        options: tuple[str, ...] = ()
        if isinstance(poll, dict) and isinstance(poll.get("options"), list):
            options = tuple(_str(o, "title") for o in poll["options"] if isinstance(o, dict))
        acc = d.get("account")
        return cls(
            id=_req_id(d),
            url=_str(d, "url", _str(d, "uri")),
            uri=_str(d, "uri"),
            content=_str(d, "content"),
            spoiler_text=_str(d, "spoiler_text"),
            visibility=_str(d, "visibility", "public"),
            account=Account.from_json(acc) if isinstance(acc, dict) else None,
            media_count=len(media) if isinstance(media, list) else 0,
            sensitive=bool(d.get("sensitive", False)),
            filtered=tuple(filtered),
            emojis=_emojis(d.get("emojis")),
            poll_options=options,
        )


@dataclass(frozen=True)
class Notification:
    id: str
    type: str
    created_at: datetime | None
    account: Account | None
    status: Status | None = None
    group_key: str | None = None
    filtered: bool = False  # hidden by the notification policy (4.3+)
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    """Type-specific objects kept as JSON: report, event, moderation_warning, ..."""

    @classmethod
    def from_json(cls, data: object) -> Notification:
        d = _obj(data, "notification")
        ntype = _str(d, "type")
        if not ntype:
            raise EntityError("missing 'type'")
        acc = d.get("account")
        st = d.get("status")
        extra: dict[str, Any] = {
            k: d[k]
            for k in ("report", "event", "moderation_warning", "collection", "pleroma", "emoji")
            if k in d and d[k] is not None
        }
        return cls(
            id=_req_id(d),
            type=ntype,
            created_at=parse_time(d.get("created_at")),
            account=Account.from_json(acc) if isinstance(acc, dict) else None,
            status=Status.from_json(st) if isinstance(st, dict) else None,
            group_key=_str(d, "group_key") or None,
            filtered=bool(d.get("filtered", False)),
            extra=extra,
        )

    @property
    def is_direct(self) -> bool:
        return (
            self.type == "mention"
            and self.status is not None
            and (self.status.visibility == "direct")
        )


@dataclass(frozen=True)
class Marker:
    last_read_id: str
    version: int
    updated_at: datetime | None

    @classmethod
    def from_json(cls, data: object) -> Marker:
        d = _obj(data, "marker")
        v = d.get("version", 0)
        return cls(
            last_read_id=_req_id(d, "last_read_id"),
            version=int(v) if isinstance(v, int) else 0,
            updated_at=parse_time(d.get("updated_at")),
        )


@dataclass(frozen=True)
class Capabilities:
    """What a server can do, probed once per account; decides what the app offers."""

    domain: str
    version: str
    software: str  # "mastodon", "gotosocial", "akkoma", "pleroma", or "unknown"
    api_mastodon: int = 0  # api_versions.mastodon (4.3.0 = 2); 0 when absent
    title: str = ""
    streaming_url: str = ""
    vapid_key: str = ""
    max_notification_limit: int = 80
    has_v2_filters: bool = False
    has_dismiss: bool = True
    has_unread_count: bool = False
    has_grouped_notifications: bool = False

    @classmethod
    def from_instance_json(cls, data: object, *, v2: bool) -> Capabilities:
        d = _obj(data, "instance")
        version = _str(d, "version")
        software = detect_software(version)
        api = 0
        av = d.get("api_versions")
        if isinstance(av, dict) and isinstance(av.get("mastodon"), int):
            api = int(av["mastodon"])
        mastodon_ver = _mastodon_version(version) if software == "mastodon" else (0, 0)
        conf = d.get("configuration") if isinstance(d.get("configuration"), dict) else {}
        assert isinstance(conf, dict)
        urls = conf.get("urls") if v2 else d.get("urls")
        streaming = ""
        if isinstance(urls, dict):
            streaming = _str(urls, "streaming" if v2 else "streaming_api")
        vapid = conf.get("vapid")
        vapid_key = _str(vapid, "public_key") if isinstance(vapid, dict) else ""
        is_mastodon = software == "mastodon"
        return cls(
            domain=_str(d, "domain", _str(d, "uri")),
            version=version,
            software=software,
            api_mastodon=api,
            title=_str(d, "title"),
            streaming_url=streaming,
            vapid_key=vapid_key,
            max_notification_limit=80 if (not is_mastodon or mastodon_ver >= (4, 1)) else 30,
            has_v2_filters=(is_mastodon and mastodon_ver >= (4, 0)) or software == "gotosocial",
            has_dismiss=software != "gotosocial",
            has_unread_count=is_mastodon and (api >= 2 or mastodon_ver >= (4, 3)),
            has_grouped_notifications=is_mastodon and api >= 2,
        )


def detect_software(version: str) -> str:
    v = version.lower()
    if "akkoma" in v:
        return "akkoma"
    if "pleroma" in v:
        return "pleroma"
    if "gotosocial" in v or v.startswith("v0.") or "+v0." in v or v.startswith("0."):
        return "gotosocial"
    if v[:1].isdigit():
        return "mastodon"
    return "unknown"


def _mastodon_version(version: str) -> tuple[int, int]:
    head = version.split("+")[0].split("-")[0]
    parts = head.split(".")
    try:
        return (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0)
    except (ValueError, IndexError):
        return (0, 0)
