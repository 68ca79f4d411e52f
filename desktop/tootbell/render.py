"""Notification -> toast text: per-type wording in plain English, sanitized and kept short.

Everything that comes from a server (display names, post HTML, content warnings, report
comments) is untrusted: it is converted to plain text, stripped of control and bidi-override
characters, and cut to a size a notification bubble can show. The notifier escapes the result
with :func:`escape_markup` only when the notification server interprets body markup.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

from tootbell.mastodon.entities import Account, EntityError, Notification, Status

TITLE_LIMIT = 80
BODY_LIMIT = 300
BODY_MAX_LINES = 5
NAME_LIMIT = 40
ELLIPSIS = "…"

# Types whose ``status`` is the post the notification is about.
STATUS_TYPES = frozenset(
    {"mention", "status", "reblog", "favourite", "poll", "update", "quote", "quoted_update"}
)
# Types whose natural target is the sender's profile.
ACCOUNT_TYPES = frozenset({"follow", "follow_request", "admin.sign_up"})


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str
    url: str | None


# --------------------------------------------------------------------------- cleaning

# Bidi embeddings/overrides/isolates and the implicit marks: they can flip how the rest of a
# notification reads ("Trojan Source"), so untrusted text never carries them.
_BIDI_CONTROLS = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def _fix_surrogates(text: str) -> str:
    """Join escaped surrogate pairs into real characters; replace lone surrogates with U+FFFD.

    JSON may carry ``"\\ud83d\\ude00"`` pairs or lone halves; neither can be encoded as UTF-8,
    which would break the D-Bus call that shows the toast.
    """
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clean_text(text: str, *, keep_newlines: bool = True) -> str:
    """Remove control characters and bidi controls from untrusted text.

    Line breaks become ``\\n`` (or a space when ``keep_newlines`` is false), tabs become spaces,
    other C0/C1 controls and bidi overrides/isolates/marks are dropped. Zero-width joiners and
    variation selectors stay: emoji sequences need them.
    """
    text = _fix_surrogates(text)
    out: list[str] = []
    for ch in text:
        if ch in _LINE_BREAKS:
            out.append("\n" if keep_newlines else " ")
        elif ch == "\t":
            out.append(" ")
        elif ord(ch) in _BIDI_CONTROLS or unicodedata.category(ch) == "Cc" or ch in "\ufffe\uffff":
            continue
        else:
            out.append(ch)
    return "".join(out)


def clean_line(text: str) -> str:
    """One line of untrusted text: cleaned, whitespace collapsed, trimmed."""
    return " ".join(clean_text(text, keep_newlines=False).split())


def display_name(account: Account | None) -> str:
    """What to call the sender in a title: the cleaned display name, else the username."""
    if account is None:
        return "Someone"
    for candidate in (account.display_name, account.username, account.acct):
        name = clean_line(candidate)
        if name:
            return shorten(name, NAME_LIMIT)
    return "Someone"


def handle(account: Account | None, account_key: str = "") -> str:
    """The full ``@user@host`` handle; local accounts get the host of ``account_key``."""
    if account is None:
        return ""
    acct = clean_line(account.acct or account.username).lstrip("@").replace(" ", "")
    if not acct:
        return ""
    if "@" not in acct:
        host = account_key.rpartition("@")[2] if "@" in account_key else ""
        if host:
            acct = f"{acct}@{host}"
    return "@" + shorten(acct, 2 * NAME_LIMIT)


def safe_url(url: str | None) -> str | None:
    """``url`` when it is an http(s) address with a host, else ``None`` (never ``javascript:``)."""
    if not url:
        return None
    url = url.strip()
    lower = url.lower()
    for scheme in ("https://", "http://"):
        if lower.startswith(scheme) and len(url) > len(scheme):
            if any(unicodedata.category(c) in ("Cc", "Zs") for c in url):
                return None
            return url
    return None


def readable_type(ntype: str) -> str:
    """``"pleroma:emoji_reaction"`` -> ``"emoji reaction"``; never empty."""
    base = clean_line(ntype).rpartition(":")[2]
    words = " ".join(re.sub(r"[_.\-]+", " ", base).split()).lower()
    return shorten(words, NAME_LIMIT) if words else "notification"


# --------------------------------------------------------------------------- HTML -> text

_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "blockquote",
        "pre",
        "ul",
        "ol",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "header",
        "footer",
        "table",
        "tr",
        "dl",
        "dt",
        "dd",
        "figure",
        "figcaption",
        "hr",
    }
)
_VOID_TAGS = frozenset(
    {
        "br",
        "img",
        "hr",
        "input",
        "meta",
        "link",
        "wbr",
        "area",
        "base",
        "col",
        "embed",
        "source",
        "track",
        "param",
    }
)
_SKIP_TAGS = frozenset({"script", "style", "template", "head", "title", "noscript", "iframe"})
# A toast shows a few hundred characters: bound the work hostile markup can cause.
_MAX_HTML = 20_000
_MAX_DEPTH = 64


@dataclass
class _Open:
    tag: str
    hidden: bool
    ellipsis: bool
    ordered: bool = False
    item: int = 0


class _TextExtractor(HTMLParser):
    def __init__(self, *, drop_quote_inline: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[_Open] = []
        self.drop_quote_inline = drop_quote_inline

    # -- helpers
    def _hidden(self) -> bool:
        return any(o.hidden for o in self.stack)

    def _in_pre(self) -> bool:
        return any(o.tag == "pre" for o in self.stack)

    def _emit(self, text: str) -> None:
        if text and not self._hidden():
            self.parts.append(text)

    def _newline(self) -> None:
        if self._hidden():
            return
        if self.parts and not self.parts[-1].endswith("\n"):
            self.parts.append("\n")

    # -- parser callbacks
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes: set[str] = set()
        alt = ""
        for name, value in attrs:
            if name == "class" and value:
                classes.update(value.split())
            elif name == "alt" and value:
                alt = value
        if tag == "br":
            self._emit("\n")
            return
        if tag == "img":
            # Some servers send custom emoji as <img alt=":shortcode:">: keep the shortcode.
            self._emit(alt)
            return
        if tag in _BLOCK_TAGS:
            self._newline()
        if tag in _VOID_TAGS or len(self.stack) >= _MAX_DEPTH:
            return
        hidden = (
            tag in _SKIP_TAGS
            or "invisible" in classes
            or (self.drop_quote_inline and "quote-inline" in classes)
        )
        self.stack.append(_Open(tag, hidden, "ellipsis" in classes, ordered=tag == "ol"))
        if tag == "li":
            lists = [o for o in self.stack if o.tag in ("ul", "ol")]
            if lists and lists[-1].ordered:
                lists[-1].item += 1
                self._emit(f"{lists[-1].item}. ")
            else:
                self._emit("• ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID_TAGS:
            return
        # Close up to the matching element, like a browser does with unclosed inner tags;
        # a stray end tag with no matching start is ignored.
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].tag == tag:
                closing = self.stack[i:]
                del self.stack[i:]
                if any(o.ellipsis and not o.hidden for o in closing) and not self._hidden():
                    self.parts.append(ELLIPSIS)
                break
        if tag in _BLOCK_TAGS:
            self._newline()

    def handle_data(self, data: str) -> None:
        if self._in_pre():
            self._emit(data)
        else:
            self._emit(re.sub(r"[ \t\r\n\f]+", " ", data))


def _tidy(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def html_to_text(html_text: str, *, drop_quote_inline: bool = False) -> str:
    """Plain text from Mastodon post HTML. Never raises.

    ``<br>`` and paragraph breaks become newlines, links become their text, the
    ``invisible`` parts of shortened links are dropped and ``ellipsis`` parts end in "…",
    entities are decoded, whitespace is tidied and empty lines removed. ``drop_quote_inline``
    removes the "RE: <link>" fallback that servers add to quote posts.
    """
    if not html_text:
        return ""
    html_text = html_text[:_MAX_HTML]
    # A tag cut off at the very end (a truncated payload) would otherwise come out as text.
    last = html_text.rfind("<")
    if last >= 0 and ">" not in html_text[last:]:
        nxt = html_text[last + 1 : last + 2]
        if (nxt.isascii() and nxt.isalpha()) or nxt in ("/", "!", "?"):
            html_text = html_text[:last]
    parser = _TextExtractor(drop_quote_inline=drop_quote_inline)
    try:
        parser.feed(html_text)
        parser.close()
        raw = "".join(parser.parts)
    except Exception:  # html.parser is lenient, but no input may take a toast down
        raw = html.unescape(re.sub(r"<[^>]*>?", " ", html_text))
    return _tidy(clean_text(raw))


# --------------------------------------------------------------------------- shortening

_ZWJ = "\u200d"


def _is_extender(ch: str) -> bool:
    """Characters that belong to the grapheme before them."""
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or ch == _ZWJ
        or 0xFE00 <= cp <= 0xFE0F
        or 0xE0100 <= cp <= 0xE01EF
        or 0x1F3FB <= cp <= 0x1F3FF  # skin tones
        or 0xE0020 <= cp <= 0xE007F  # emoji tag sequences (subdivision flags)
    )


def _is_regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _is_boundary(text: str, i: int) -> bool:
    """True when cutting ``text`` before index ``i`` splits no character or emoji sequence."""
    if i <= 0 or i >= len(text):
        return True
    prev, cur = text[i - 1], text[i]
    if 0xD800 <= ord(prev) <= 0xDBFF and 0xDC00 <= ord(cur) <= 0xDFFF:
        return False
    if _is_extender(cur) or prev == _ZWJ:
        return False
    if _is_regional_indicator(cur):
        run = 0
        j = i - 1
        while j >= 0 and _is_regional_indicator(text[j]):
            run += 1
            j -= 1
        return run % 2 == 0
    return True


def _cut(text: str, limit: int) -> str:
    """At most ``limit`` characters of ``text`` ending in "…", cut at a word if one is near."""
    if limit <= 0:
        return ""
    if limit == 1:
        return ELLIPSIS
    cut = limit - 1
    while cut > 0 and not _is_boundary(text, cut):
        cut -= 1
    # Prefer the last whitespace at or before the cut, unless that throws away too much.
    space = max(text.rfind(" ", 0, cut + 1), text.rfind("\n", 0, cut + 1))
    if space >= limit // 2:
        cut = space
    head = text[:cut].rstrip(" \n,;:-–—")
    if head.endswith(ELLIPSIS):
        head = head[:-1].rstrip()
    return head + ELLIPSIS


def shorten(text: str, limit: int, *, max_lines: int | None = None) -> str:
    """Fit ``text`` into ``limit`` characters (and ``max_lines`` lines), ending in "…" if cut.

    Cuts at a word boundary when one is reasonably close, and never inside a surrogate pair,
    a base character and its combining marks, a ZWJ emoji sequence or a flag.
    """
    if max_lines is not None and max_lines > 0:
        lines = text.split("\n")
        if len(lines) > max_lines:
            kept = "\n".join(lines[:max_lines]).rstrip()
            if len(kept) + 1 <= limit:
                return kept.rstrip(" ,;:") + ELLIPSIS
            return _cut(kept, limit)
    if len(text) <= limit:
        return text
    return _cut(text, limit)


# --------------------------------------------------------------------------- markup


def escape_markup(text: str) -> str:
    """Escape text for notification servers that parse body markup (a subset of XML/HTML).

    ``& < > " '`` become entities, so a display name such as ``<b>x</b>`` shows literally,
    and characters that XML cannot carry at all (most C0 controls, lone surrogates, U+FFFE/F)
    are removed so the server never rejects the whole notification.
    """
    out: list[str] = []
    for ch in _fix_surrogates(text):
        cp = ord(ch)
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == '"':
            out.append("&quot;")
        elif ch == "'":
            out.append("&#39;")
        elif (cp < 0x20 and ch not in "\t\n\r") or 0x7F <= cp <= 0x9F or cp in (0xFFFE, 0xFFFF):
            continue
        else:
            out.append(ch)
    return "".join(out)


# --------------------------------------------------------------------------- bodies


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def media_line(status: Status) -> str:
    """ "📎 2 attachments" for a post with media, "" without."""
    if status.media_count <= 0:
        return ""
    line = "📎 " + _plural(status.media_count, "attachment", "attachments")
    if status.sensitive:
        line += " (sensitive)"
    return line


def _fit_body(text: str, extra_line: str = "") -> str:
    """Shorten ``text`` so that it and ``extra_line`` fit the body limits together."""
    if not extra_line:
        return shorten(text, BODY_LIMIT, max_lines=BODY_MAX_LINES)
    if not text:
        return extra_line
    room = BODY_LIMIT - len(extra_line) - 1
    return shorten(text, max(room, 1), max_lines=BODY_MAX_LINES - 1) + "\n" + extra_line


def status_body(
    status: Status | None,
    *,
    hide_media: bool = False,
    with_poll: bool = False,
    drop_quote_inline: bool = False,
) -> str:
    """The body for a toast about ``status``: its text, or "CW: …" instead, plus media."""
    if status is None:
        return ""
    cw = clean_line(status.spoiler_text)
    if cw:
        text = "CW: " + cw
    else:
        text = html_to_text(status.content, drop_quote_inline=drop_quote_inline)
        if with_poll and status.poll_options:
            options = "\n".join("• " + (clean_line(o) or "…") for o in status.poll_options)
            text = f"{text}\n{options}" if text else options
    extra = "" if hide_media else media_line(status)
    return _fit_body(text, extra)


def account_suffix(account_key: str) -> str:
    """Title suffix that names the receiving account when several are signed in."""
    return f" · {clean_line(account_key)}" if account_key else ""


def _title(base: str, account_key: str, multi_account: bool) -> str:
    suffix = account_suffix(account_key) if multi_account else ""
    if not suffix:
        return shorten(base, TITLE_LIMIT)
    suffix = shorten(suffix, TITLE_LIMIT // 2)
    return shorten(base, TITLE_LIMIT - len(suffix)) + suffix


def _extra_account(value: object) -> Account | None:
    if not isinstance(value, dict):
        return None
    try:
        return Account.from_json(value)
    except EntityError:
        return None


def _extra_str(d: Mapping[str, object], key: str) -> str:
    v = d.get(key)
    return v if isinstance(v, str) else ""


def _extra_int(d: Mapping[str, object], key: str) -> int | None:
    v = d.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


_REPORT_CATEGORIES = {
    "spam": "Spam",
    "legal": "Legal issue",
    "violation": "Rule violation",
    "other": "Other",
}


def _report_body(n: Notification, account_key: str) -> str:
    report = n.extra.get("report")
    if not isinstance(report, dict):
        return ""
    lines: list[str] = []
    target = _extra_account(report.get("target_account"))
    reporter = display_name(n.account) if n.account else ""
    if target is not None:
        who = handle(target, account_key) or display_name(target)
        lines.append(f"{reporter} reported {who}" if reporter else f"Report about {who}")
    category = clean_line(_extra_str(report, "category"))
    if category:
        lines.append(
            "Category: " + _REPORT_CATEGORIES.get(category, readable_type(category).capitalize())
        )
    comment = clean_text(_extra_str(report, "comment")).strip()
    if comment:
        lines.append(comment)
    return _fit_body(_tidy("\n".join(lines)))


_SEVERANCE = {
    "domain_block": "An admin blocked {target}.",
    "user_domain_block": "You blocked {target}.",
    "account_suspension": "An admin suspended {target}.",
}


def _severed_body(n: Notification) -> str:
    event = n.extra.get("event")
    if not isinstance(event, dict):
        return ""
    target = clean_line(_extra_str(event, "target_name")) or "another server"
    kind = _extra_str(event, "type")
    lines = [_SEVERANCE.get(kind, "Connections with {target} were removed.").format(target=target)]
    followers = _extra_int(event, "followers_count")
    following = _extra_int(event, "following_count")
    total = _extra_int(event, "relationships_count")
    lost: list[str] = []
    if followers:
        lost.append(_plural(followers, "follower", "followers"))
    if following:
        lost.append(_plural(following, "account you followed", "accounts you followed"))
    if lost:
        lines.append("You lost " + " and ".join(lost) + ".")
    elif total:
        lines.append(_plural(total, "relationship was", "relationships were") + " removed.")
    return _fit_body("\n".join(lines))


_WARNING_ACTIONS = {
    "none": "A moderator sent you a warning.",
    "disable": "Your account has been disabled.",
    "mark_statuses_as_sensitive": "Some of your posts have been marked as sensitive.",
    "delete_statuses": "Some of your posts have been removed.",
    "sensitive": "Your posts will be marked as sensitive from now on.",
    "silence": "Your account has been limited.",
    "suspend": "Your account has been suspended.",
}


def _warning_body(n: Notification) -> str:
    warning = n.extra.get("moderation_warning")
    if not isinstance(warning, dict):
        return ""
    lines: list[str] = []
    action = _extra_str(warning, "action")
    if action in _WARNING_ACTIONS:
        lines.append(_WARNING_ACTIONS[action])
    text = clean_text(_extra_str(warning, "text")).strip()
    if text:
        lines.append(text)
    return _fit_body(_tidy("\n".join(lines)))


def _collection_name(n: Notification) -> str:
    coll = n.extra.get("collection")
    if not isinstance(coll, dict):
        return ""
    return clean_line(_extra_str(coll, "name") or _extra_str(coll, "title"))


# --------------------------------------------------------------------------- render


def render(
    n: Notification,
    account_key: str,
    *,
    multi_account: bool = False,
    hide_media: bool = False,
) -> Rendered:
    """Title, body and "Open" target for one notification. Never raises on odd content."""
    name = display_name(n.account)
    status = n.status
    url: str | None = None
    if n.type in STATUS_TYPES and status is not None:
        url = safe_url(status.url) or safe_url(status.uri)
    elif n.type in ACCOUNT_TYPES and n.account is not None:
        url = safe_url(n.account.url)

    def sbody(**kw: bool) -> str:
        return status_body(status, hide_media=hide_media, **kw)

    t = n.type
    if t == "mention":
        title = f"{name} sent you a direct message" if n.is_direct else f"{name} mentioned you"
        body = sbody()
    elif t == "status":
        title, body = f"{name} posted", sbody()
    elif t == "reblog":
        title, body = f"{name} boosted your post", sbody()
    elif t == "favourite":
        title, body = f"{name} favourited your post", sbody()
    elif t == "follow":
        title, body = f"{name} followed you", handle(n.account, account_key)
    elif t == "follow_request":
        title, body = f"{name} wants to follow you", handle(n.account, account_key)
    elif t == "poll":
        title, body = "A poll you voted in or created has ended", sbody(with_poll=True)
    elif t == "update":
        title, body = f"{name} edited a post you boosted", sbody()
    elif t == "quote":
        title, body = f"{name} quoted your post", sbody(drop_quote_inline=True)
    elif t == "quoted_update":
        title, body = f"{name} edited a post you quoted", sbody()
    elif t == "admin.sign_up":
        title, body = f"New sign-up: {name}", handle(n.account, account_key)
    elif t == "admin.report":
        title, body = "New report", _report_body(n, account_key)
    elif t == "severed_relationships":
        title, body = "Some of your follow relationships were severed", _severed_body(n)
    elif t == "moderation_warning":
        title, body = "You received a moderation warning", _warning_body(n)
    elif t == "annual_report":
        title, body = "Your year in review is ready", "See how your year on the fediverse went."
    elif t == "added_to_collection":
        coll = _collection_name(n)
        title = f"{name} added you to a collection"
        body = f"Collection: {coll}" if coll else handle(n.account, account_key)
    elif t == "collection_update":
        coll = _collection_name(n)
        title = "A collection you are in was updated"
        body = f"Collection: {coll}" if coll else ""
    else:
        title = f"New notification from {name}" if n.account else "New notification"
        label = readable_type(t).capitalize()
        emoji = n.extra.get("emoji")
        if isinstance(emoji, str) and clean_line(emoji):
            label += ": " + shorten(clean_line(emoji), NAME_LIMIT)
        text = sbody()
        body = _fit_body(f"{label}\n{text}" if text else label)
        if status is not None:
            url = safe_url(status.url) or safe_url(status.uri)
        elif n.account is not None:
            url = safe_url(n.account.url)
    return Rendered(_title(title, account_key, multi_account), body, url)


_GROUP_VERBS = {
    "favourite": "favourited your post",
    "reblog": "boosted your post",
    "follow": "followed you",
}


def _names(actors: Sequence[Account], total: int) -> str:
    first = display_name(actors[0]) if actors else "Someone"
    if total <= 1:
        return first
    if total == 2 and len(actors) >= 2:
        return f"{first} and {display_name(actors[1])}"
    others = total - 1
    return f"{first} and {_plural(others, 'other', 'others')}"


def render_group(
    ntype: str,
    actors: Sequence[Account],
    total: int,
    status: Status | None,
    account_key: str,
    *,
    multi_account: bool = False,
    hide_media: bool = False,
) -> Rendered:
    """Text for a coalesced toast: "Ana and 29 others favourited your post".

    ``actors`` are distinct senders, most recent first; ``total`` is how many distinct
    senders the group has (it may exceed ``len(actors)``).
    """
    total = max(total, 1)
    who = _names(actors, total)
    if ntype == "admin.sign_up":
        title = f"New sign-up: {who}" if total == 1 else f"New sign-ups: {who}"
    else:
        title = f"{who} {_GROUP_VERBS.get(ntype, 'interacted with you')}"
    url: str | None = None
    if ntype in ("follow", "admin.sign_up"):
        shown = [h for h in (handle(a, account_key) for a in actors[:3]) if h]
        body = ", ".join(shown)
        if total > len(shown) and shown:
            body += f" and {total - len(shown)} more"
        if total == 1 and actors:
            url = safe_url(actors[0].url)
        body = _fit_body(body)
    else:
        body = status_body(status, hide_media=hide_media)
        if status is not None:
            url = safe_url(status.url) or safe_url(status.uri)
    return Rendered(_title(title, account_key, multi_account), body, url)


# Summary wording. "direct" is not a server type: callers count direct messages under it.
_COUNT_NOUNS: dict[str, tuple[str, str]] = {
    "direct": ("direct message", "direct messages"),
    "mention": ("mention", "mentions"),
    "quote": ("quote", "quotes"),
    "follow_request": ("follow request", "follow requests"),
    "follow": ("new follower", "new followers"),
    "reblog": ("boost", "boosts"),
    "favourite": ("favourite", "favourites"),
    "status": ("new post", "new posts"),
    "poll": ("ended poll", "ended polls"),
    "update": ("edited post", "edited posts"),
    "quoted_update": ("edited quoted post", "edited quoted posts"),
    "admin.sign_up": ("sign-up", "sign-ups"),
    "admin.report": ("report", "reports"),
    "severed_relationships": ("severed relationships notice", "severed relationships notices"),
    "moderation_warning": ("moderation warning", "moderation warnings"),
    "annual_report": ("year in review", "years in review"),
}
_COUNT_ORDER = {t: i for i, t in enumerate(_COUNT_NOUNS)}


def count_phrase(ntype: str, count: int) -> str:
    """``("favourite", 9)`` -> ``"9 favourites"``; unknown types read as their name."""
    if ntype in _COUNT_NOUNS:
        one, many = _COUNT_NOUNS[ntype]
    else:
        one = readable_type(ntype)
        many = one + "s"
    return _plural(count, one, many)


def render_counts(counts: Mapping[str, int]) -> str:
    """``{"mention": 3, "favourite": 9}`` -> ``"3 mentions, 9 favourites"`` (important first)."""
    items = sorted(
        ((t, c) for t, c in counts.items() if c > 0),
        key=lambda tc: (_COUNT_ORDER.get(tc[0], len(_COUNT_ORDER)), tc[0]),
    )
    return shorten(", ".join(count_phrase(t, c) for t, c in items), BODY_LIMIT)


def render_held(
    total: int,
    counts: Mapping[str, int],
    reason: str,
    account_key: str,
    *,
    multi_account: bool = False,
) -> Rendered:
    """The end-of-pause summary: "12 notifications while paused" / "… during quiet hours"."""
    when = "during quiet hours" if reason == "quiet" else "while paused"
    title = f"{_plural(total, 'notification', 'notifications')} {when}"
    known = sum(c for c in counts.values() if c > 0)
    body = render_counts(counts)
    if known < total and body:
        body = shorten(f"{body}, {total - known} more", BODY_LIMIT)
    return Rendered(_title(title, account_key, multi_account), body, None)


def render_away(
    total: int,
    counts: Mapping[str, int],
    account_key: str,
    *,
    multi_account: bool = False,
) -> Rendered:
    """The flood summary: "23 notifications while you were away"."""
    title = f"{_plural(total, 'notification', 'notifications')} while you were away"
    return Rendered(_title(title, account_key, multi_account), render_counts(counts), None)


def filtered_body(titles: Iterable[str]) -> str:
    """Body of a toast whose post matched a "warn" filter: names the filters, not the post."""
    names = [clean_line(t) for t in titles]
    names = list(dict.fromkeys(n for n in names if n)) or ["a filter"]
    return shorten("Filtered: " + ", ".join(names), BODY_LIMIT)


def searchable_text(n: Notification) -> str:
    """What a filter is matched against: content warning, post text and poll options."""
    st = n.status
    if st is None:
        return ""
    pieces = [st.spoiler_text, html_to_text(st.content), *st.poll_options]
    return "\n\n".join(p for p in pieces if p)
