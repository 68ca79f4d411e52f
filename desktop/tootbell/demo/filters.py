"""Keyword filters of the demo instance: storage, validation and matching.

Shaped like Mastodon's ``CustomFilter`` (title, context, action, expiry) with its
``CustomFilterKeyword`` and ``CustomFilterStatus`` rows. ``/api/v1/filters`` is a view of the
same rows, one v1 filter per keyword, as on Mastodon 4.x. Matching follows
``CustomFilter.apply_cached_filters``: every active filter of the user, whatever its context;
a whole-word keyword gets a word boundary at each end that is a word character; the first
match is reported as it appears in the text.

No HTTP here, and no lock of its own: :class:`FilterStore` takes the world's lock.
"""

from __future__ import annotations

import copy
import functools
import html
import re
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

JSON = dict[str, Any]

VALID_CONTEXTS: tuple[str, ...] = ("home", "notifications", "public", "thread", "account")
ALL_ACTIONS: tuple[str, ...] = ("warn", "hide", "blur")
TITLE_MAX = 256
DEPRECATED_MULTIPLE_KEYWORDS = (
    "These parameters cannot be changed from this application because they apply to more "
    "than one filter keyword. Use a more recent application or the web interface."
)


def _iso_ms(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------- records


@dataclass
class KeywordRecord:
    id: str
    keyword: str
    whole_word: bool = True

    def to_json(self) -> JSON:
        return {"id": self.id, "keyword": self.keyword, "whole_word": self.whole_word}


@dataclass
class FilterStatusRecord:
    id: str
    status_id: str

    def to_json(self) -> JSON:
        return {"id": self.id, "status_id": self.status_id}


@dataclass
class FilterRecord:
    """One ``CustomFilter`` of one local user."""

    id: str
    username: str
    title: str
    context: list[str]
    action: str
    expires_at: datetime | None = None
    keywords: list[KeywordRecord] = field(default_factory=list)
    statuses: list[FilterStatusRecord] = field(default_factory=list)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def to_json(self, *, rules: bool = True) -> JSON:
        """The v2 ``Filter`` entity; without ``rules`` as embedded in a ``FilterResult``."""
        out: JSON = {
            "id": self.id,
            "title": self.title,
            "context": list(self.context),
            "expires_at": _iso_ms(self.expires_at) if self.expires_at else None,
            "filter_action": self.action,
        }
        if rules:
            out["keywords"] = [k.to_json() for k in self.keywords]
            out["statuses"] = [s.to_json() for s in self.statuses]
        return out

    def v1_json(self, keyword: KeywordRecord) -> JSON:
        """The v1 filter entity for one of this filter's keywords."""
        return {
            "id": keyword.id,
            "phrase": keyword.keyword,
            "context": list(self.context),
            "whole_word": keyword.whole_word,
            "expires_at": _iso_ms(self.expires_at) if self.expires_at else None,
            "irreversible": self.action == "hide",
        }


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class FieldError:
    """One failed validation: ``field`` keys ``details`` (the request parameter it is about),
    ``label`` starts the full message as Rails' human attribute name does."""

    field: str
    label: str
    code: str
    description: str

    @property
    def message(self) -> str:
        return f"{self.label} {self.description}"


def blank_error(field_name: str, label: str) -> FieldError:
    return FieldError(field_name, label, "ERR_BLANK", "can't be blank")


class FilterInvalid(Exception):
    """A 422: ``{"error": "Validation failed: …", "details": {field: [{error, description}]}}``,
    or just ``{"error": message}`` for a refusal that is not about one field."""

    def __init__(self, errors: Sequence[FieldError] = (), message: str | None = None) -> None:
        self.errors = tuple(errors)
        self.message = message or "Validation failed: " + ", ".join(e.message for e in errors)
        super().__init__(self.message)

    def to_json(self) -> JSON:
        if not self.errors:
            return {"error": self.message}
        details: dict[str, list[JSON]] = {}
        for e in self.errors:
            details.setdefault(e.field, []).append({"error": e.code, "description": e.description})
        return {"error": self.message, "details": details}


class FilterNotFound(Exception):
    """A filter, keyword or filter status the user does not have: 404."""


# --------------------------------------------------------------------------- requests

UNSET: Any = object()  # a parameter the request did not carry


@dataclass(frozen=True)
class KeywordChange:
    """One ``keywords_attributes`` entry. ``keyword``/``whole_word`` None: not given."""

    id: str | None = None
    keyword: str | None = None
    whole_word: bool | None = None
    destroy: bool = False
    all_blank: bool = False  # Rails' reject_if: :all_blank (``_destroy`` aside)


@dataclass(frozen=True)
class FilterChanges:
    """What a create or update request asks for; None (or ``UNSET`` for ``expires_in``)
    leaves a field as it is (on create: its default)."""

    title: str | None = None
    context: list[str] | None = None
    action: str | None = None
    expires_in: Any = UNSET  # UNSET, None (never) or seconds (int)
    keywords: tuple[KeywordChange, ...] = ()


# --------------------------------------------------------------------------- matching


@functools.lru_cache(maxsize=1024)
def keyword_pattern(keyword: str, whole_word: bool) -> str:
    """``CustomFilterKeyword#to_regex`` as a Python pattern (used case-insensitively)."""
    escaped = re.escape(keyword)
    if not whole_word:
        return escaped
    start = r"\b" if re.match(r"\w", keyword[:1]) else ""
    end = r"\b" if re.search(r"\w\Z", keyword) else ""
    return f"{start}{escaped}{end}"


@functools.lru_cache(maxsize=512)
def _union(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def plain_text(content_html: str) -> str:
    """Status HTML as text: paragraphs and line breaks kept, tags dropped, entities decoded."""
    text = re.sub(r"<br\s*/?>", "\n", content_html)
    text = re.sub(r"</p>\s*<p>", "\n\n", text)
    return html.unescape(re.sub(r"<[^>]*>", "", text)).strip()


def searchable_text(status: Mapping[str, Any]) -> str:
    """``Status#searchable_text``: content warning, text, poll options, media descriptions."""
    parts = [str(status.get("spoiler_text") or ""), plain_text(str(status.get("content") or ""))]
    poll = status.get("poll")
    if isinstance(poll, dict):
        parts += [
            str(o.get("title") or "") for o in poll.get("options") or [] if isinstance(o, dict)
        ]
    parts += [
        str(m.get("description") or "")
        for m in status.get("media_attachments") or []
        if isinstance(m, dict)
    ]
    return "\n\n".join(p for p in parts if p)


def hides_in_notifications(results: Iterable[Mapping[str, Any]]) -> bool:
    """Whether any result is a "hide" filter for the notifications context."""
    for r in results:
        f = r.get("filter")
        if (
            isinstance(f, dict)
            and f.get("filter_action") == "hide"
            and "notifications" in (f.get("context") or [])
        ):
            return True
    return False


# --------------------------------------------------------------------------- the store


def _validate(
    title: str, context: Sequence[str], action: str, actions: Collection[str], *, v1: bool = False
) -> list[FieldError]:
    errors: list[FieldError] = []
    title_field = "phrase" if v1 else "title"
    if not title.strip():
        errors.append(blank_error(title_field, "Title"))
    elif len(title) > TITLE_MAX:
        errors.append(
            FieldError(
                title_field,
                "Title",
                "ERR_TOO_LONG",
                f"is too long (maximum is {TITLE_MAX} characters)",
            )
        )
    if not context:
        errors.append(blank_error("context", "Context"))
    elif any(c not in VALID_CONTEXTS for c in context):
        errors.append(
            FieldError("context", "Context", "ERR_INVALID", "None or invalid context supplied")
        )
    if action not in actions:
        errors.append(
            FieldError(
                "irreversible" if v1 else "filter_action",
                "Action",
                "ERR_INCLUSION",
                "is not included in the list",
            )
        )
    return errors


def normalize_context(values: Iterable[str]) -> list[str]:
    """Mastodon's ``normalizes :context``: stripped, blanks dropped."""
    return [v.strip() for v in values if v.strip()]


class FilterStore:
    """Every user's filters. Methods take ``lock`` (the world's re-entrant lock)."""

    def __init__(
        self,
        lock: threading.RLock,
        next_id: Callable[[], str],
        now: Callable[[], datetime],
    ) -> None:
        self._lock = lock
        self._next_id = next_id
        self._now = now
        self._filters: list[FilterRecord] = []  # creation order, every user

    # ------------------------------------------------------------------ lookups

    def _mine(self, username: str) -> list[FilterRecord]:
        return [f for f in self._filters if f.username == username]

    def _filter(self, username: str, filter_id: str) -> FilterRecord:
        for f in self._filters:
            if f.username == username and f.id == filter_id:
                return f
        raise FilterNotFound(filter_id)

    def _keyword(self, username: str, keyword_id: str) -> tuple[FilterRecord, KeywordRecord]:
        for f in self._mine(username):
            for k in f.keywords:
                if k.id == keyword_id:
                    return f, k
        raise FilterNotFound(keyword_id)

    def _status(self, username: str, status_id: str) -> tuple[FilterRecord, FilterStatusRecord]:
        for f in self._mine(username):
            for s in f.statuses:
                if s.id == status_id:
                    return f, s
        raise FilterNotFound(status_id)

    def _expiry(self, expires_in: Any, current: datetime | None) -> datetime | None:
        if expires_in is UNSET:
            return current
        if expires_in is None:
            return None
        return self._now() + timedelta(seconds=int(expires_in))

    # ------------------------------------------------------------------ v2 filters

    def list_json(self, username: str) -> list[JSON]:
        with self._lock:
            return [f.to_json() for f in self._mine(username)]

    def get_json(self, username: str, filter_id: str) -> JSON:
        with self._lock:
            return self._filter(username, filter_id).to_json()

    def create(self, username: str, changes: FilterChanges, actions: Collection[str]) -> JSON:
        with self._lock:
            title = changes.title or ""
            context = list(changes.context or [])
            action = changes.action if changes.action is not None else "warn"
            new: list[KeywordChange] = []
            for k in changes.keywords:
                if k.id is not None:
                    raise FilterNotFound(k.id)  # nested attributes find no such keyword
                if k.all_blank or k.destroy:
                    continue
                new.append(k)
            errors = _validate(title, context, action, actions)
            if any(not (k.keyword or "").strip() for k in new):
                errors.append(blank_error("keywords.keyword", "Keywords keyword"))
            if errors:
                raise FilterInvalid(errors)
            record = FilterRecord(
                id=self._next_id(),
                username=username,
                title=title,
                context=context,
                action=action,
                expires_at=self._expiry(changes.expires_in, None),
            )
            for k in new:
                record.keywords.append(
                    KeywordRecord(
                        self._next_id(),
                        k.keyword or "",
                        True if k.whole_word is None else k.whole_word,
                    )
                )
            self._filters.append(record)
            return record.to_json()

    def update(
        self, username: str, filter_id: str, changes: FilterChanges, actions: Collection[str]
    ) -> JSON:
        """Apply a PUT as one transaction: nothing changes when anything is refused."""
        with self._lock:
            record = self._filter(username, filter_id)
            title = changes.title if changes.title is not None else record.title
            context = list(changes.context) if changes.context is not None else record.context
            action = changes.action if changes.action is not None else record.action
            edits: dict[str, KeywordChange] = {}
            destroy: set[str] = set()
            new: list[KeywordChange] = []
            known = {k.id for k in record.keywords}
            for k in changes.keywords:
                if k.id is None:
                    if not (k.all_blank or k.destroy):
                        new.append(k)
                elif k.id not in known:
                    raise FilterNotFound(k.id)
                elif k.destroy:
                    destroy.add(k.id)
                else:
                    edits[k.id] = k
            errors = _validate(title, context, action, actions)
            resulting: list[str] = []
            for kw in record.keywords:
                if kw.id not in destroy:
                    edit = edits.get(kw.id)
                    edited = edit.keyword if edit is not None else None
                    resulting.append(edited if edited is not None else kw.keyword)
            resulting += [k.keyword or "" for k in new]
            if any(not word.strip() for word in resulting):
                errors.append(blank_error("keywords.keyword", "Keywords keyword"))
            if errors:
                raise FilterInvalid(errors)
            record.title = title
            record.context = context
            record.action = action
            record.expires_at = self._expiry(changes.expires_in, record.expires_at)
            kept_keywords: list[KeywordRecord] = []
            for kw in record.keywords:
                if kw.id in destroy:
                    continue
                edit = edits.get(kw.id)
                if edit is not None:
                    if edit.keyword is not None:
                        kw.keyword = edit.keyword
                    if edit.whole_word is not None:
                        kw.whole_word = edit.whole_word
                kept_keywords.append(kw)
            for k in new:
                kept_keywords.append(
                    KeywordRecord(
                        self._next_id(),
                        k.keyword or "",
                        True if k.whole_word is None else k.whole_word,
                    )
                )
            record.keywords = kept_keywords
            return record.to_json()

    def delete(self, username: str, filter_id: str) -> None:
        with self._lock:
            self._filters.remove(self._filter(username, filter_id))

    # ------------------------------------------------------------------ keywords

    def keywords_json(self, username: str, filter_id: str) -> list[JSON]:
        with self._lock:
            return [k.to_json() for k in self._filter(username, filter_id).keywords]

    def add_keyword(
        self, username: str, filter_id: str, keyword: str, whole_word: bool | None
    ) -> JSON:
        with self._lock:
            record = self._filter(username, filter_id)
            if not keyword.strip():
                raise FilterInvalid([blank_error("keyword", "Keyword")])
            kw = KeywordRecord(self._next_id(), keyword, True if whole_word is None else whole_word)
            record.keywords.append(kw)
            return kw.to_json()

    def keyword_json(self, username: str, keyword_id: str) -> JSON:
        with self._lock:
            return self._keyword(username, keyword_id)[1].to_json()

    def update_keyword(
        self, username: str, keyword_id: str, keyword: str | None, whole_word: bool | None
    ) -> JSON:
        with self._lock:
            _, kw = self._keyword(username, keyword_id)
            if keyword is not None and not keyword.strip():
                raise FilterInvalid([blank_error("keyword", "Keyword")])
            if keyword is not None:
                kw.keyword = keyword
            if whole_word is not None:
                kw.whole_word = whole_word
            return kw.to_json()

    def delete_keyword(self, username: str, keyword_id: str, *, drop_empty: bool = False) -> None:
        """Remove one keyword; its filter stays, even with no keyword left, unless
        ``drop_empty`` (a v1 filter on a server before 4.0 is the whole filter)."""
        with self._lock:
            record, kw = self._keyword(username, keyword_id)
            record.keywords.remove(kw)
            if drop_empty and not record.keywords:
                self._filters.remove(record)

    # ------------------------------------------------------------------ statuses

    def statuses_json(self, username: str, filter_id: str) -> list[JSON]:
        with self._lock:
            return [s.to_json() for s in self._filter(username, filter_id).statuses]

    def add_status(
        self, username: str, filter_id: str, status_id: str, *, status_exists: bool
    ) -> JSON:
        with self._lock:
            record = self._filter(username, filter_id)
            if not status_exists:
                raise FilterInvalid([FieldError("status_id", "Status", "ERR_BLANK", "must exist")])
            st = FilterStatusRecord(self._next_id(), status_id)
            record.statuses.append(st)
            return st.to_json()

    def status_json(self, username: str, filter_status_id: str) -> JSON:
        with self._lock:
            return self._status(username, filter_status_id)[1].to_json()

    def delete_status(self, username: str, filter_status_id: str) -> None:
        with self._lock:
            record, st = self._status(username, filter_status_id)
            record.statuses.remove(st)

    # ------------------------------------------------------------------ v1

    def v1_list_json(self, username: str) -> list[JSON]:
        with self._lock:
            return [f.v1_json(k) for f in self._mine(username) for k in f.keywords]

    def v1_get_json(self, username: str, keyword_id: str) -> JSON:
        with self._lock:
            record, kw = self._keyword(username, keyword_id)
            return record.v1_json(kw)

    def v1_create(
        self,
        username: str,
        *,
        phrase: str,
        context: list[str],
        irreversible: bool,
        whole_word: bool | None,
        expires_in: Any,
    ) -> JSON:
        """A filter titled by ``phrase`` with ``phrase`` as its only keyword."""
        with self._lock:
            action = "hide" if irreversible else "warn"
            errors = _validate(phrase, context, action, ALL_ACTIONS, v1=True)
            if errors:
                raise FilterInvalid(errors)
            kw = KeywordRecord(self._next_id(), phrase, True if whole_word is None else whole_word)
            record = FilterRecord(
                id=self._next_id(),
                username=username,
                title=phrase,
                context=list(context),
                action=action,
                expires_at=self._expiry(expires_in, None),
                keywords=[kw],
            )
            self._filters.append(record)
            return record.v1_json(kw)

    def v1_update(
        self,
        username: str,
        keyword_id: str,
        *,
        phrase: str | None,
        context: list[str] | None,
        irreversible: bool | None,
        whole_word: bool | None,
        expires_in: Any,
    ) -> JSON:
        """Mastodon 4.x: edit the keyword, and the parent filter only when the keyword is its
        only one (else 422 if the parent would change)."""
        with self._lock:
            record, kw = self._keyword(username, keyword_id)
            if phrase is not None and not phrase.strip():
                raise FilterInvalid([blank_error("phrase", "Keyword")])
            title = phrase if phrase is not None else record.title
            new_context = list(context) if context is not None else record.context
            action = record.action
            if irreversible is not None:
                action = "hide" if irreversible else "warn"
            expires_at = self._expiry(expires_in, record.expires_at)
            changed = (
                title != record.title
                or new_context != record.context
                or action != record.action
                or expires_at != record.expires_at
            )
            if changed and len(record.keywords) > 1:
                raise FilterInvalid(message=DEPRECATED_MULTIPLE_KEYWORDS)
            errors = _validate(title, new_context, action, ALL_ACTIONS, v1=True)
            if errors:
                raise FilterInvalid(errors)
            if phrase is not None:
                kw.keyword = phrase
            if whole_word is not None:
                kw.whole_word = whole_word
            record.title = title
            record.context = new_context
            record.action = action
            record.expires_at = expires_at
            return record.v1_json(kw)

    # ------------------------------------------------------------------ demo knobs

    def add(
        self,
        username: str,
        title: str,
        keywords: Sequence[str],
        *,
        action: str,
        context: Sequence[str],
        whole_word: bool = True,
        expires_in: float | None = None,
    ) -> JSON:
        """A filter made without a request (test helper); ValueError when invalid."""
        changes = FilterChanges(
            title=title,
            context=list(context),
            action=action,
            expires_in=None if expires_in is None else int(expires_in),
            keywords=tuple(KeywordChange(keyword=k, whole_word=whole_word) for k in keywords),
        )
        try:
            return self.create(username, changes, ALL_ACTIONS)
        except FilterInvalid as e:
            raise ValueError(e.message) from None

    def knob_filter(
        self,
        username: str,
        title: str,
        action: str,
        context: Sequence[str],
        keywords: Sequence[str],
    ) -> str:
        """The id of the user's filter with this title, action and context (made if new),
        holding every keyword in ``keywords``: what ``add_notification(filtered_action=…)``
        attaches to its status."""
        with self._lock:
            ctx = list(context)
            record = next(
                (
                    f
                    for f in self._mine(username)
                    if f.title == title and f.action == action and f.context == ctx
                ),
                None,
            )
            if record is None:
                record = FilterRecord(self._next_id(), username, title, ctx, action)
                self._filters.append(record)
            known = {k.keyword for k in record.keywords}
            for word in keywords:
                if word and word not in known:
                    record.keywords.append(KeywordRecord(self._next_id(), word, True))
                    known.add(word)
            return record.id

    # ------------------------------------------------------------------ matching

    def results(
        self,
        username: str,
        status: Mapping[str, Any],
        pinned: Mapping[str, Sequence[str]] | None = None,
    ) -> list[JSON]:
        """The ``FilterResult`` list for ``status`` as ``username`` sees it: one per active
        filter whose keywords match its text or whose statuses include it. ``pinned`` (filter
        id -> keywords) forces a filter to match with those keyword matches."""
        with self._lock:
            now = self._now()
            text: str | None = None
            ids = {str(status.get("id"))}
            reblog = status.get("reblog")
            if isinstance(reblog, dict) and reblog.get("id") is not None:
                ids.add(str(reblog["id"]))
            out: list[JSON] = []
            for f in self._mine(username):
                if f.expired(now):
                    continue
                keyword_matches: list[str] = []
                if f.keywords:
                    if text is None:
                        text = searchable_text(status)
                    pattern = _union(
                        tuple(keyword_pattern(k.keyword, k.whole_word) for k in f.keywords)
                    )
                    m = pattern.search(text)
                    if m is not None:
                        keyword_matches = [m.group(0)]
                if not keyword_matches and pinned and f.id in pinned:
                    keyword_matches = list(pinned[f.id])
                status_matches = [s.status_id for s in f.statuses if s.status_id in ids]
                if not keyword_matches and not status_matches and not (pinned and f.id in pinned):
                    continue
                out.append(
                    {
                        "filter": f.to_json(rules=False),
                        "keyword_matches": keyword_matches,
                        "status_matches": status_matches,
                    }
                )
            return copy.deepcopy(out)
