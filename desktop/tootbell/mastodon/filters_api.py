"""Keyword filters on the server: list, create, edit and delete them (``/api/v2/filters``, with
the one-keyword ``/api/v1/filters`` on older servers), and preview what an edited filter would
catch among recent notifications.

Writes are form-encoded the way Mastodon's controllers read them; keyword edits use indexed
``keywords_attributes[N][...]`` keys so each keyword's fields stay together. A 422 becomes a
:class:`FilterValidationError` that names the fields the person has to fix.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests

from tootbell.mastodon.client import ApiError, BadResponse, MastodonClient, NotFound
from tootbell.mastodon.entities import (
    Capabilities,
    EntityError,
    Notification,
    id_key,
    parse_time,
)
from tootbell.render import searchable_text

log = logging.getLogger(__name__)

V2_PATH = "/api/v2/filters"
V1_PATH = "/api/v1/filters"

CONTEXTS: tuple[str, ...] = ("home", "notifications", "public", "thread", "account")
ACTIONS: tuple[str, ...] = ("warn", "hide", "blur")
SUPPORT_LEVELS: tuple[str, ...] = ("v2", "v1", "none")


# --------------------------------------------------------------------------- entities


@dataclass(frozen=True)
class FilterKeyword:
    id: str
    keyword: str
    whole_word: bool


@dataclass(frozen=True)
class FilterStatus:
    id: str
    status_id: str


@dataclass(frozen=True)
class Filter:
    """A server-side filter. Version 1 filters (``/api/v1/filters``) carry exactly one keyword
    and are titled by it."""

    id: str
    title: str
    context: tuple[str, ...]
    action: str  # "warn", "hide", "blur" (or a newer action the server knows)
    expires_at: datetime | None
    keywords: tuple[FilterKeyword, ...]
    statuses: tuple[FilterStatus, ...] = ()
    version: int = 2

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC))

    @classmethod
    def from_json(cls, data: object) -> Filter:
        """A v2 ``Filter`` entity."""
        d = _obj(data, "filter")
        action = d.get("filter_action")
        return cls(
            id=_req_id(d),
            title=_text(d.get("title")),
            context=_contexts(d.get("context")),
            action=action if isinstance(action, str) else "warn",
            expires_at=parse_time(d.get("expires_at")),
            keywords=tuple(_keywords(d.get("keywords"))),
            statuses=tuple(_statuses(d.get("statuses"))),
            version=2,
        )

    @classmethod
    def from_v1_json(cls, data: object) -> Filter:
        """A v1 filter entity (``phrase``, ``irreversible``...) as a one-keyword filter."""
        d = _obj(data, "filter")
        fid = _req_id(d)
        phrase = _text(d.get("phrase"))
        return cls(
            id=fid,
            title=phrase,
            context=_contexts(d.get("context")),
            action="hide" if d.get("irreversible") in (True, "true") else "warn",
            expires_at=parse_time(d.get("expires_at")),
            keywords=(FilterKeyword(fid, phrase, bool(d.get("whole_word", False))),),
            statuses=(),
            version=1,
        )


@dataclass(frozen=True)
class KeywordEdit:
    """One keyword as the person left it: new (no ``id``), edited (``id``) or removed
    (``id`` and ``destroy``)."""

    keyword: str
    whole_word: bool = True
    id: str | None = None
    destroy: bool = False


@dataclass(frozen=True)
class FilterDraft:
    title: str
    context: tuple[str, ...]
    action: str
    expires_in: int | None  # seconds from now; None = never
    keywords: tuple[KeywordEdit, ...]

    @property
    def active_keywords(self) -> tuple[KeywordEdit, ...]:
        """The keywords the filter will have: not removed, not blank."""
        return tuple(k for k in self.keywords if not k.destroy and k.keyword.strip())


class FilterValidationError(ApiError):
    """422: the server (or, for v1 servers, Tootbell) refused the filter. ``fields`` maps
    "title", "context", "keywords", "action", "expires" (or "base" for the rest) to a message
    a person can act on."""

    def __init__(
        self,
        message: str,
        fields: dict[str, str],
        status: int | None = 422,
        *,
        detail: str = "",
    ) -> None:
        super().__init__(message, status, detail=detail)
        self.fields = fields


# --------------------------------------------------------------------------- support


def filter_support(caps: Capabilities) -> str:
    """The filter API to try first: "v2" (Mastodon 4.0+, GoToSocial), else "v1". "none" is only
    ever learnt by probing (:func:`list_filters` falls back on 404)."""
    return "v2" if caps.has_v2_filters else "v1"


def list_filters(client: MastodonClient, *, start: str = "v2") -> tuple[str, list[Filter]]:
    """The account's filters and the API they came from: ("v2"|"v1"|"none", filters).

    Tries ``start`` first and falls back to the next API on 404. Unreadable filters are
    skipped and logged."""
    if start not in SUPPORT_LEVELS:
        raise ValueError(f"unknown filter API {start!r}")
    levels = SUPPORT_LEVELS[SUPPORT_LEVELS.index(start) :]
    for level in levels:
        if level == "none":
            break
        try:
            data = client.request_json("GET", V2_PATH if level == "v2" else V1_PATH)
        except NotFound:
            log.debug("%s has no %s filters", client.host, level)
            continue
        if not isinstance(data, list):
            raise BadResponse(f"{client.host} sent filters Tootbell could not understand")
        parse = Filter.from_json if level == "v2" else Filter.from_v1_json
        filters: list[Filter] = []
        for raw in data:
            try:
                filters.append(parse(raw))
            except (EntityError, TypeError, ValueError) as e:
                fid = raw.get("id") if isinstance(raw, dict) else None
                log.warning("Skipped unreadable filter id=%s (%s)", fid, e)
        return level, filters
    return "none", []


# --------------------------------------------------------------------------- writes


def create_filter(client: MastodonClient, draft: FilterDraft, *, version: int = 2) -> Filter:
    """Create a filter. v2: ``POST /api/v2/filters``, falling back to v1 when the server has
    no v2 filters (404); v1: ``POST /api/v1/filters`` (one keyword, which is also the title)."""
    if version == 2:
        form = _v2_form(draft, update=False)
        try:
            return _parse(client, _write(client, "POST", V2_PATH, form), Filter.from_json)
        except NotFound:
            log.debug("%s has no v2 filters; creating a v1 filter", client.host)
    form = _v1_form(client, draft, update=False)
    return _parse(client, _write(client, "POST", V1_PATH, form), Filter.from_v1_json)


def update_filter(
    client: MastodonClient, filter_id: str, draft: FilterDraft, *, version: int = 2
) -> Filter:
    """Replace a filter's settings. Keywords with an ``id`` are edited (or removed with
    ``destroy``), those without are added; keywords not mentioned stay as they are. A draft
    that never expires clears the expiry (``expires_in=""``).

    Pass the filter's own ``version``: v1 and v2 ids are different things, so a 404 here
    never falls back (it means the filter is gone)."""
    if version == 1:
        form = _v1_form(client, draft, update=True)
        path = f"{V1_PATH}/{_seg(filter_id)}"
        return _parse(client, _write(client, "PUT", path, form), Filter.from_v1_json)
    path = f"{V2_PATH}/{_seg(filter_id)}"
    form = _v2_form(draft, update=True)
    return _parse(client, _write(client, "PUT", path, form), Filter.from_json)


def delete_filter(client: MastodonClient, filter_id: str, *, version: int = 2) -> None:
    """Delete a filter (v1 on Mastodon 4.x removes only that keyword from its parent)."""
    base = V1_PATH if version == 1 else V2_PATH
    client.request_json("DELETE", f"{base}/{_seg(filter_id)}")


def remove_filter_status(client: MastodonClient, filter_status_id: str) -> None:
    """Stop filtering one post: ``DELETE /api/v2/filters/statuses/:id``."""
    client.request_json("DELETE", f"{V2_PATH}/statuses/{_seg(filter_status_id)}")


def _v2_form(draft: FilterDraft, *, update: bool) -> dict[str, Any]:
    form: dict[str, Any] = {
        "title": draft.title,
        # An empty list would send nothing, and a PUT without context[] keeps the old one;
        # a blank entry makes the server report the missing context instead.
        "context[]": list(draft.context) or [""],
        "filter_action": draft.action,
    }
    if draft.expires_in is not None:
        form["expires_in"] = str(int(draft.expires_in))
    elif update:
        form["expires_in"] = ""  # Mastodon clears expires_at on a blank expires_in
    index = 0
    for kw in draft.keywords:
        prefix = f"keywords_attributes[{index}]"
        if kw.id is not None and update:
            form[f"{prefix}[id]"] = kw.id
            if kw.destroy:
                form[f"{prefix}[_destroy]"] = "true"
                index += 1
                continue
        elif kw.destroy:
            continue  # never saved: nothing to remove
        # On create an id would make Mastodon answer 404 (mastodon#21727): new keywords only.
        form[f"{prefix}[keyword]"] = kw.keyword
        form[f"{prefix}[whole_word]"] = _bool(kw.whole_word)
        index += 1
    return form


def _v1_form(client: MastodonClient, draft: FilterDraft, *, update: bool) -> dict[str, Any]:
    keywords = draft.active_keywords
    if len(keywords) != 1:
        message = (
            "Enter a keyword"
            if not keywords
            else "This server allows one keyword per filter; save each keyword as its own filter"
        )
        raise FilterValidationError(
            f"{client.host} cannot save this filter: {message}", {"keywords": message}
        )
    kw = keywords[0]
    form: dict[str, Any] = {
        "phrase": kw.keyword,
        "context[]": list(draft.context) or [""],
        "irreversible": _bool(draft.action == "hide"),
        "whole_word": _bool(kw.whole_word),
    }
    if draft.expires_in is not None:
        form["expires_in"] = str(int(draft.expires_in))
    elif update:
        form["expires_in"] = ""
    return form


def _write(client: MastodonClient, method: str, path: str, form: dict[str, Any]) -> Any:
    with _error_bodies(client) as bodies:
        try:
            return client.request_json(method, path, data=form)
        except ApiError as e:
            if e.status != 422:
                raise
            body = bodies[-1] if bodies else None
            fields = validation_fields(body, e.detail)
            text = e.detail or "the server did not say why"
            raise FilterValidationError(
                f"{client.host} did not accept the filter: {text}",
                fields,
                e.status,
                detail=e.detail,
            ) from None


@contextmanager
def _error_bodies(client: MastodonClient) -> Iterator[list[object]]:
    """Collect the JSON bodies of 422 answers during a call.

    ``request_json`` reports an error's text but not Mastodon's structured ``details``, so a
    response hook on the client's session keeps them for :func:`validation_fields`."""
    bodies: list[object] = []
    session = getattr(client, "_session", None)
    if not isinstance(session, requests.Session):
        yield bodies
        return

    def keep(resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        if resp.status_code == 422:
            with suppress(ValueError, requests.RequestException):
                bodies.append(json.loads(resp.content[:65536]))

    hooks = session.hooks.setdefault("response", [])
    hooks.append(keep)
    try:
        yield bodies
    finally:
        hooks.remove(keep)


def _parse(client: MastodonClient, data: Any, parse: Callable[[object], Filter]) -> Filter:
    try:
        return parse(data)
    except (EntityError, TypeError, ValueError) as e:
        log.debug("bad filter from %s: %s", client.host, e)
        raise BadResponse(f"{client.host} sent a filter Tootbell could not understand") from None


# --------------------------------------------------------------------------- 422 details

# Rails' human attribute names (as in "Validation failed: <Name> <message>") -> our fields.
_LABELS: dict[str, str] = {
    "title": "title",
    "context": "context",
    "keywords keyword": "keywords",
    "keywords": "keywords",
    "keyword": "keywords",
    "phrase": "keywords",
    "filter action": "action",
    "action": "action",
    "irreversible": "action",
    "expires in": "expires",
    "expires at": "expires",
}
# ``details`` keys (attribute names, nested ones dotted) -> our fields.
_ATTRIBUTES: dict[str, str] = {
    "title": "title",
    "context": "context",
    "keywords": "keywords",
    "keywords.keyword": "keywords",
    "keyword": "keywords",
    "phrase": "keywords",
    "filter_action": "action",
    "action": "action",
    "irreversible": "action",
    "expires_in": "expires",
    "expires_at": "expires",
}
_LABEL_RE = re.compile(
    r"(?i)^("
    + "|".join(re.escape(k) for k in sorted(_LABELS, key=len, reverse=True))
    + r")\b\s*(.*)$",
    re.DOTALL,
)
_SPLIT_RE = re.compile(
    r",\s+(?=(?:"
    + "|".join(re.escape(k) for k in sorted(_LABELS, key=len, reverse=True))
    + r")\b)",
    re.IGNORECASE,
)


def validation_fields(body: object, text: str = "") -> dict[str, str]:
    """Field -> message from a 422: Mastodon's ``details`` object when the body has one,
    else its "Validation failed: Title can't be blank, Context can't be blank" text.
    Errors that name no known field go under "base"."""
    fields: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        message = message.strip()
        if message and message not in fields.setdefault(name, []):
            fields[name].append(message)

    details = body.get("details") if isinstance(body, dict) else None
    if isinstance(details, dict) and details:
        for attr, errors in details.items():
            name = _ATTRIBUTES.get(str(attr).lower(), "base")
            label = _human(str(attr))
            for err in errors if isinstance(errors, list) else [errors]:
                if isinstance(err, dict):
                    desc = err.get("description") or err.get("error") or ""
                else:
                    desc = err
                desc = str(desc).strip()
                if desc:
                    add(name, f"{label} {desc}" if name != "base" or label else desc)
    if not fields:
        if not text and isinstance(body, dict) and isinstance(body.get("error"), str):
            text = body["error"]
        text = " ".join(text.split())
        text = re.sub(r"(?i)^validation failed:\s*", "", text)
        for part in _SPLIT_RE.split(text) if text else []:
            m = _LABEL_RE.match(part)
            add(_LABELS[m.group(1).lower()] if m else "base", part)
    return {name: "; ".join(messages) for name, messages in fields.items() if messages}


def _human(attr: str) -> str:
    """Rails' ``human_attribute_name``: "keywords.keyword" -> "Keywords keyword"."""
    words = attr.replace(".", " ").replace("_", " ").strip()
    if words.lower() == "base":
        return ""
    return words[:1].upper() + words[1:]


# --------------------------------------------------------------------------- preview


def keyword_pattern(keywords: Iterable[KeywordEdit]) -> re.Pattern[str] | None:
    """One case-insensitive pattern for the keywords, matching like Mastodon: a whole-word
    keyword gets a word boundary at each end that is a word character; others match anywhere.
    None when there is nothing to match."""
    parts: list[str] = []
    for kw in keywords:
        word = kw.keyword.strip()
        if kw.destroy or not word:
            continue
        escaped = re.escape(word)
        if kw.whole_word:
            start = r"\b" if re.match(r"\w", word[0]) else ""
            end = r"\b" if re.match(r"\w", word[-1]) else ""
            escaped = f"{start}{escaped}{end}"
        parts.append(f"(?:{escaped})")
    if not parts:
        return None
    return re.compile("|".join(parts), re.IGNORECASE)


def preview(
    draft: FilterDraft,
    notifications: Iterable[Notification],
    now: datetime | None = None,
) -> list[Notification]:
    """The notifications the edited filter would catch, newest first: those whose post
    matches one of its keywords, when it applies to notifications and has not expired.

    The draft's action says what would happen to them ("hide" removes, "warn"/"blur" cover)."""
    if "notifications" not in draft.context:
        return []
    if draft.expires_in is not None:
        # A draft's expiry counts from now: it has run out once no seconds are left.
        moment = now or datetime.now(UTC)
        if moment + timedelta(seconds=draft.expires_in) <= moment:
            return []
    pattern = keyword_pattern(draft.keywords)
    if pattern is None:
        return []
    caught: dict[str, Notification] = {}
    for n in notifications:
        if n.id not in caught and pattern.search(searchable_text(n)):
            caught[n.id] = n
    return sorted(caught.values(), key=lambda n: id_key(n.id), reverse=True)


# --------------------------------------------------------------------------- helpers


def _obj(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EntityError(f"{what} is not an object")
    return value


def _req_id(d: dict[str, Any], key: str = "id") -> str:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, (str, int)) or v == "":
        raise EntityError(f"missing '{key}'")
    return str(v)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _contexts(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(c for c in value if isinstance(c, str))


def _keywords(value: object) -> Iterator[FilterKeyword]:
    for raw in value if isinstance(value, list) else ():
        if not isinstance(raw, dict):
            continue
        try:
            kid = _req_id(raw)
        except EntityError:
            continue
        yield FilterKeyword(kid, _text(raw.get("keyword")), bool(raw.get("whole_word", False)))


def _statuses(value: object) -> Iterator[FilterStatus]:
    for raw in value if isinstance(value, list) else ():
        if not isinstance(raw, dict):
            continue
        try:
            yield FilterStatus(_req_id(raw), _req_id(raw, "status_id"))
        except EntityError:
            continue


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _seg(value: str) -> str:
    """An ID as one path segment."""
    return quote(value, safe="")


__all__ = [
    "ACTIONS",
    "CONTEXTS",
    "Filter",
    "FilterDraft",
    "FilterKeyword",
    "FilterStatus",
    "FilterValidationError",
    "KeywordEdit",
    "create_filter",
    "delete_filter",
    "filter_support",
    "keyword_pattern",
    "list_filters",
    "preview",
    "remove_filter_status",
    "searchable_text",
    "update_filter",
    "validation_fields",
]
