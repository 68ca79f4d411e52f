"""Rendering notifications as toast text: wording per type, HTML to text, shortening, safety."""

from __future__ import annotations

import time
import unicodedata
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tootbell.mastodon.entities import Account, Notification
from tootbell.render import (
    BODY_LIMIT,
    BODY_MAX_LINES,
    TITLE_LIMIT,
    clean_text,
    count_phrase,
    display_name,
    escape_markup,
    filtered_body,
    html_to_text,
    readable_type,
    render,
    render_away,
    render_counts,
    render_group,
    render_held,
    safe_url,
    shorten,
)

AK = "demo@example.social"


def account_json(
    username: str = "ana",
    display: str | None = None,
    acct: str | None = None,
    aid: str | None = None,
) -> dict[str, Any]:
    return {
        "id": aid or f"a-{username}",
        "username": username,
        "acct": acct if acct is not None else username,
        "display_name": display if display is not None else username.capitalize(),
        "url": f"https://example.social/@{username}",
        "avatar": f"https://example.social/av/{username}.gif",
        "avatar_static": f"https://example.social/av/{username}.png",
    }


def notif(
    ntype: str,
    nid: str = "100",
    *,
    user: str = "ana",
    display: str | None = None,
    acct: str | None = None,
    content: str | None = "<p>Hello world</p>",
    spoiler: str = "",
    visibility: str = "public",
    media: int = 0,
    sensitive: bool = False,
    poll: list[str] | None = None,
    status_url: str = "https://example.social/@demo/1",
    **extra: Any,
) -> Notification:
    data: dict[str, Any] = {
        "id": nid,
        "type": ntype,
        "created_at": "2026-01-01T12:00:00Z",
        "account": account_json(user, display, acct),
        **extra,
    }
    if content is not None:
        status: dict[str, Any] = {
            "id": "s1",
            "url": status_url,
            "uri": "https://example.social/users/demo/statuses/1",
            "content": content,
            "spoiler_text": spoiler,
            "visibility": visibility,
            "sensitive": sensitive,
            "account": account_json("demo"),
            "media_attachments": [{"id": str(i), "type": "image"} for i in range(media)],
        }
        if poll is not None:
            status["poll"] = {"options": [{"title": o, "votes_count": 1} for o in poll]}
        data["status"] = status
    return Notification.from_json(data)


# --------------------------------------------------------------------------- per type


def test_mention() -> None:
    r = render(notif("mention"), AK)
    assert r.title == "Ana mentioned you"
    assert r.body == "Hello world"
    assert r.url == "https://example.social/@demo/1"


def test_direct_message() -> None:
    r = render(notif("mention", visibility="direct", content="<p>psst</p>"), AK)
    assert r.title == "Ana sent you a direct message"
    assert r.body == "psst"


def test_status() -> None:
    r = render(notif("status", content="<p>New post!</p>"), AK)
    assert (r.title, r.body) == ("Ana posted", "New post!")


def test_reblog_shows_your_post() -> None:
    r = render(notif("reblog", content="<p>my words</p>"), AK)
    assert (r.title, r.body) == ("Ana boosted your post", "my words")
    assert r.url == "https://example.social/@demo/1"


def test_favourite() -> None:
    r = render(notif("favourite"), AK)
    assert r.title == "Ana favourited your post"
    assert r.body == "Hello world"


def test_follow_local_account_gets_host_of_receiving_account() -> None:
    r = render(notif("follow", content=None), AK)
    assert r.title == "Ana followed you"
    assert r.body == "@ana@example.social"
    assert r.url == "https://example.social/@ana"


def test_follow_remote_account_keeps_its_host() -> None:
    r = render(notif("follow", content=None, acct="ana@other.example"), AK)
    assert r.body == "@ana@other.example"


def test_follow_request() -> None:
    r = render(notif("follow_request", content=None), AK)
    assert r.title == "Ana wants to follow you"
    assert r.body == "@ana@example.social"
    assert r.url == "https://example.social/@ana"


def test_poll_lists_options() -> None:
    r = render(notif("poll", content="<p>Tea or coffee?</p>", poll=["Tea", "Coffee"]), AK)
    assert r.title == "A poll you voted in or created has ended"
    assert r.body == "Tea or coffee?\n• Tea\n• Coffee"
    assert r.url == "https://example.social/@demo/1"


def test_update() -> None:
    r = render(notif("update", content="<p>fixed typo</p>"), AK)
    assert (r.title, r.body) == ("Ana edited a post you boosted", "fixed typo")


def test_quote_drops_the_inline_re_link() -> None:
    html = (
        '<p>So true</p><p class="quote-inline">RE: <a href="https://x.example/1">'
        "https://x.example/1</a></p>"
    )
    r = render(notif("quote", content=html), AK)
    assert r.title == "Ana quoted your post"
    assert r.body == "So true"


def test_quoted_update() -> None:
    r = render(notif("quoted_update", content="<p>my quote</p>"), AK)
    assert r.title == "Ana edited a post you quoted"
    assert r.body == "my quote"


def test_admin_sign_up() -> None:
    r = render(notif("admin.sign_up", content=None, user="newbie", display="New Bie"), AK)
    assert r.title == "New sign-up: New Bie"
    assert r.body == "@newbie@example.social"
    assert r.url == "https://example.social/@newbie"


def test_admin_report() -> None:
    report = {
        "id": "9",
        "category": "spam",
        "comment": "buys followers <b>all day</b>",
        "target_account": account_json("spammer", acct="spammer@bad.example"),
    }
    r = render(notif("admin.report", content=None, report=report), AK)
    assert r.title == "New report"
    assert r.body == (
        "Ana reported @spammer@bad.example\nCategory: Spam\nbuys followers <b>all day</b>"
    )
    assert r.url is None


def test_admin_report_without_details() -> None:
    r = render(notif("admin.report", content=None), AK)
    assert r.title == "New report"
    assert r.body == ""


def test_severed_relationships() -> None:
    event = {
        "id": "1",
        "type": "domain_block",
        "purged": False,
        "target_name": "bad.example",
        "followers_count": 3,
        "following_count": 1,
    }
    r = render(notif("severed_relationships", content=None, event=event), AK)
    assert r.title == "Some of your follow relationships were severed"
    assert r.body == (
        "An admin blocked bad.example.\nYou lost 3 followers and 1 account you followed."
    )
    assert r.url is None


def test_severed_relationships_older_count_field() -> None:
    event = {"type": "user_domain_block", "target_name": "x.example", "relationships_count": 2}
    r = render(notif("severed_relationships", content=None, event=event), AK)
    assert r.body == "You blocked x.example.\n2 relationships were removed."


def test_moderation_warning() -> None:
    warning = {"id": "1", "action": "silence", "text": "Please be kind."}
    r = render(notif("moderation_warning", content=None, moderation_warning=warning), AK)
    assert r.title == "You received a moderation warning"
    assert r.body == "Your account has been limited.\nPlease be kind."


def test_annual_report() -> None:
    r = render(notif("annual_report", content=None), AK)
    assert r.title == "Your year in review is ready"


def test_unknown_type_is_generic_and_readable() -> None:
    r = render(notif("pleroma:emoji_reaction", content="<p>my post</p>", emoji="🔥"), AK)
    assert r.title == "New notification from Ana"
    assert r.body == "Emoji reaction: 🔥\nmy post"
    assert r.url == "https://example.social/@demo/1"


def test_unknown_type_without_status_links_the_sender() -> None:
    r = render(notif("move", content=None), AK)
    assert r.title == "New notification from Ana"
    assert r.body == "Move"
    assert r.url == "https://example.social/@ana"


def test_unknown_type_without_account() -> None:
    n = Notification.from_json({"id": "1", "type": "something_new"})
    r = render(n, AK)
    assert (r.title, r.body, r.url) == ("New notification", "Something new", None)


def test_readable_type() -> None:
    assert readable_type("pleroma:emoji_reaction") == "emoji reaction"
    assert readable_type("pending.favourite") == "pending favourite"
    assert readable_type("") == "notification"


def test_missing_status_does_not_break_status_types() -> None:
    r = render(notif("favourite", content=None), AK)
    assert r.title == "Ana favourited your post"
    assert (r.body, r.url) == ("", None)


# --------------------------------------------------------------------------- details


def test_multi_account_names_the_receiving_account() -> None:
    r = render(notif("mention"), AK, multi_account=True)
    assert r.title == f"Ana mentioned you · {AK}"
    assert render(notif("mention"), AK).title == "Ana mentioned you"


def test_multi_account_suffix_survives_a_long_name() -> None:
    r = render(notif("mention", display="N" * 200), AK, multi_account=True)
    assert r.title.endswith(f" · {AK}")
    assert len(r.title) <= TITLE_LIMIT


def test_content_warning_replaces_content() -> None:
    r = render(notif("mention", content="<p>the ending</p>", spoiler="Film spoilers"), AK)
    assert r.body == "CW: Film spoilers"
    assert "ending" not in r.body


def test_media_line_and_hide_media() -> None:
    assert render(notif("mention", media=2), AK).body == "Hello world\n📎 2 attachments"
    assert render(notif("mention", media=1), AK).body == "Hello world\n📎 1 attachment"
    assert render(notif("mention", media=2), AK, hide_media=True).body == "Hello world"


def test_media_line_marks_sensitive_media() -> None:
    r = render(notif("mention", media=1, sensitive=True), AK)
    assert r.body.endswith("📎 1 attachment (sensitive)")


def test_media_only_post() -> None:
    assert render(notif("mention", content="", media=3), AK).body == "📎 3 attachments"


def test_long_body_is_cut_and_keeps_the_media_line() -> None:
    words = " ".join(f"word{i}" for i in range(200))
    r = render(notif("mention", content=f"<p>{words}</p>", media=1), AK)
    assert len(r.body) <= BODY_LIMIT
    text, media = r.body.rsplit("\n", 1)
    assert media == "📎 1 attachment"
    assert text.endswith("…")
    assert (words + " ").startswith(text[:-1] + " ")  # whole words only


def test_many_lines_are_limited() -> None:
    html = "".join(f"<p>line {i}</p>" for i in range(20))
    body = render(notif("mention", content=html), AK).body
    assert len(body.split("\n")) == BODY_MAX_LINES
    assert body.endswith("…")


def test_long_title_is_cut() -> None:
    r = render(notif("favourite", display="Long name " * 30), AK)
    assert len(r.title) <= TITLE_LIMIT
    assert r.title.endswith("favourited your post")


def test_url_must_be_http() -> None:
    r = render(notif("mention", status_url="javascript:alert(1)"), AK)
    assert r.url == "https://example.social/users/demo/statuses/1"  # falls back to the uri
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("https://") is None
    assert safe_url("https://a.example/x y") is None
    assert safe_url("http://127.0.0.1:8080/@demo/1") == "http://127.0.0.1:8080/@demo/1"


# --------------------------------------------------------------------------- untrusted names


def test_markup_in_display_name_stays_text_and_escapes() -> None:
    evil = '<b>x</b> & <a href="u">y</a>'
    r = render(notif("mention", display=evil), AK)
    assert r.title == f"{evil} mentioned you"
    escaped = escape_markup(r.title)
    assert "<" not in escaped and ">" not in escaped and '"' not in escaped
    # A markup parser reads back exactly the original text: nothing was injected.
    assert ET.fromstring(f"<body>{escaped}</body>").text == r.title


def test_escape_markup() -> None:
    assert escape_markup("a & b < c > d \" e ' f") == ("a &amp; b &lt; c &gt; d &quot; e &#39; f")
    assert escape_markup("ok\x00\x08\x1b\x7f") == "ok"
    assert escape_markup("line\nnext\ttab") == "line\nnext\ttab"
    assert escape_markup("lone \ud800 half") == "lone \ufffd half"


def test_bidi_and_control_characters_are_stripped_from_names() -> None:
    name = "\u202eAna\u202c\u2066x\u2069\x00\x1b[31m\u200f"
    r = render(notif("follow", display=name, content=None), AK)
    assert r.title == "Anax[31m followed you"
    for ch in r.title:
        assert unicodedata.category(ch) != "Cc"
        assert not (0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069)


def test_newlines_in_names_are_flattened() -> None:
    r = render(notif("follow", display="Ana\nBen mentioned you", content=None), AK)
    assert r.title == "Ana Ben mentioned you followed you"
    assert "\n" not in r.title


def test_name_made_only_of_controls_falls_back_to_username() -> None:
    acc = Account.from_json(account_json("ana", display="\u202e\u202c \x07"))
    assert display_name(acc) == "ana"
    assert display_name(None) == "Someone"


def test_zwj_emoji_in_names_survive() -> None:
    name = "Ana 👩‍💻"
    r = render(notif("follow", display=name, content=None), AK)
    assert r.title == "Ana 👩‍💻 followed you"


def test_custom_emoji_shortcodes_stay_readable() -> None:
    r = render(notif("mention", display=":blobcat: Ana", content="<p>hi :blobcat:</p>"), AK)
    assert r.title == ":blobcat: Ana mentioned you"
    assert r.body == "hi :blobcat:"


def test_body_text_is_cleaned_too() -> None:
    r = render(notif("mention", content="<p>a\u202eb\x07c</p>"), AK)
    assert r.body == "abc"


# --------------------------------------------------------------------------- HTML to text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("", ""),
        ("plain text", "plain text"),
        ("<p>one</p><p>two</p>", "one\ntwo"),
        ("<p>one<br>two<br/>three</p>", "one\ntwo\nthree"),
        ("<p>a</p>\n\n<p>b</p>", "a\nb"),
        ("before<p>para</p>after", "before\npara\nafter"),
        ("intro<ul><li>x</li></ul>", "intro\n• x"),
        ('<p>see <a href="https://x.example">this link</a></p>', "see this link"),
        (
            '<a href="https://example.com/a/long/path"><span class="invisible">https://</span>'
            '<span class="ellipsis">example.com/a/lo</span>'
            '<span class="invisible">ng/path</span></a>',
            "example.com/a/lo…",
        ),
        (
            '<a href="https://example.com/"><span class="invisible">https://</span>'
            '<span class="">example.com/</span><span class="invisible"></span></a>',
            "example.com/",
        ),
        (
            '<span class="h-card"><a href="https://x/@bob" class="u-url mention">'
            "@<span>bob</span></a></span> hi",
            "@bob hi",
        ),
        ('<a href="https://x/tags/cats" class="mention hashtag">#<span>cats</span></a>', "#cats"),
        (
            "<p>Tom &amp; Jerry &lt;3 &quot;x&quot; &#39;y&#39; &#x1F600; caf&eacute;</p>",
            "Tom & Jerry <3 \"x\" 'y' 😀 café",
        ),
        ("<p>  lots   of \n\t space  </p>", "lots of space"),
        ("<p>a&nbsp;b</p>", "a b"),
        ("<ul><li>one</li><li>two</li></ul>", "• one\n• two"),
        ("<ol><li>one</li><li>two</li></ol>", "1. one\n2. two"),
        ("<blockquote><p>quoted</p></blockquote><p>reply</p>", "quoted\nreply"),
        ("<p>x</p><script>alert(1)</script><style>p{}</style>", "x"),
        ('<p>hi <img src="e.png" alt=":blobcat:"></p>', "hi :blobcat:"),
        ("<pre>line one\nline two</pre>", "line one\nline two"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>unclosed <b>bold", "unclosed bold"),
        ("stray </span></p> end tags", "stray\nend tags"),
        ("I <3 you & <b", "I <3 you &"),
        ("a < b > c", "a < b > c"),
        ("<p>a <!-- comment --> b</p>", "a b"),
        ("<p>x <!bogus> y</p>", "x y"),
        ("<![CDATA[boo]]> ok", "ok"),
        ('<a href="x"><span class="invisible">gone</a> shown after', "shown after"),
        ('<p>x</p><a href="', "x"),
        ("&#0; &#xD800; &bogus; &", "\ufffd \ufffd &bogus; &"),
        ("</>", ""),
        ("<<<>>>", "<<<>>>"),
        ("a <b", "a"),
        ("a <", "a <"),
        ("<p>ok</p></", "ok"),
    ],
)
def test_html_to_text_malformed(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_html_to_text_bounds_the_work_on_hostile_markup() -> None:
    start = time.perf_counter()
    deep = "<span>" * 50_000 + "deep" + "</b>" * 50_000
    assert html_to_text(deep) == ""  # beyond what a toast would ever show
    assert html_to_text("<p>" + "word " * 100_000 + "</p>").startswith("word word")
    assert html_to_text("<span>" * 100 + "x" + "</span>" * 100) == "x"
    assert time.perf_counter() - start < 2.0


def test_html_to_text_drops_invisible_content_only_inside_it() -> None:
    html = '<p><span class="invisible">gone</span>kept</p><p>next</p>'
    assert html_to_text(html) == "kept\nnext"


def test_html_to_text_quote_inline_only_when_asked() -> None:
    html = '<p>body</p><p class="quote-inline">RE: <a href="x">link</a></p>'
    assert html_to_text(html) == "body\nRE: link"
    assert html_to_text(html, drop_quote_inline=True) == "body"


# --------------------------------------------------------------------------- shorten


def test_shorten_leaves_short_text_alone() -> None:
    assert shorten("short", 80) == "short"
    assert shorten("x" * 80, 80) == "x" * 80


def test_shorten_cuts_at_a_word_boundary() -> None:
    assert shorten("The quick brown fox jumps over the lazy dog", 20) == "The quick brown fox…"
    assert shorten("Hello, world, again and again", 14) == "Hello, world…"
    assert shorten("The quick brown fox jumps", 18) == "The quick brown…"


def test_shorten_cuts_a_single_long_word_hard() -> None:
    out = shorten("see https://example.com/" + "a" * 100, 30)
    assert len(out) == 30
    assert out.startswith("see https://example.com/aaa")
    assert out.endswith("…")


@pytest.mark.parametrize(
    "unit",
    [
        "👩\u200d👩\u200d👧\u200d👦",  # ZWJ family
        "👍🏽",  # skin tone
        "🇫🇷",  # flag: two regional indicators
        "e\u0301",  # combining acute
        "❤\ufe0f",  # variation selector
        "1\ufe0f\u20e3",  # keycap
        "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # tag sequence
    ],
)
def test_shorten_never_splits_a_grapheme(unit: str) -> None:
    text = unit * 40
    for limit in range(1, 30):
        out = shorten(text, limit)
        assert len(out) <= limit
        head = out.removesuffix("…")
        assert len(head) % len(unit) == 0, (limit, out)
        assert head == unit * (len(head) // len(unit))


def test_shorten_never_splits_a_surrogate_pair() -> None:
    # Text with escaped pairs as json.loads may leave them when halves come separately.
    pair = "\ud83d\ude00"
    out = shorten(pair * 20, 8)
    head = out.removesuffix("…")
    assert len(head) % 2 == 0


def test_clean_text_repairs_surrogates() -> None:
    assert clean_text("\ud83d\ude00") == "😀"
    assert clean_text("a\udc00b") == "a\ufffdb"


def test_shorten_limits_lines() -> None:
    assert shorten("a\nb\nc\nd\ne\nf", 300, max_lines=3) == "a\nb\nc…"
    assert shorten("a\nb\nc", 300, max_lines=3) == "a\nb\nc"
    assert shorten("aaaa\nbbbb\ncccc\ndddd", 8, max_lines=2) == "aaaa…"


def test_shorten_tiny_limits() -> None:
    assert shorten("hello world", 1) == "…"
    assert shorten("hello world", 0) == ""


# --------------------------------------------------------------------------- summaries


def test_count_phrases() -> None:
    assert count_phrase("favourite", 1) == "1 favourite"
    assert count_phrase("favourite", 9) == "9 favourites"
    assert count_phrase("direct", 2) == "2 direct messages"
    assert count_phrase("follow", 3) == "3 new followers"
    assert count_phrase("pleroma:emoji_reaction", 2) == "2 emoji reactions"


def test_render_counts_puts_important_types_first() -> None:
    assert render_counts({"favourite": 9, "mention": 3}) == "3 mentions, 9 favourites"
    assert render_counts({"reblog": 1, "direct": 1, "zzz": 0}) == "1 direct message, 1 boost"


def test_render_held_and_away() -> None:
    r = render_held(12, {"mention": 3, "favourite": 9}, "paused", AK)
    assert (r.title, r.body, r.url) == (
        "12 notifications while paused",
        "3 mentions, 9 favourites",
        None,
    )
    r = render_held(1, {"mention": 1}, "quiet", AK)
    assert r.title == "1 notification during quiet hours"
    r = render_held(5, {"mention": 2}, "paused", AK)
    assert r.body == "2 mentions, 3 more"
    r = render_away(23, {"mention": 20, "follow": 3}, AK, multi_account=True)
    assert r.title == f"23 notifications while you were away · {AK}"
    assert r.body == "20 mentions, 3 new followers"


def test_render_group_titles() -> None:
    a, b, c = (Account.from_json(account_json(u)) for u in ("ana", "ben", "cy"))
    n = notif("favourite", content="<p>my post</p>")
    assert n.status is not None
    r = render_group("favourite", [a, b], 2, n.status, AK)
    assert (r.title, r.body) == ("Ana and Ben favourited your post", "my post")
    assert r.url == "https://example.social/@demo/1"
    r = render_group("favourite", [a, b, c], 30, n.status, AK)
    assert r.title == "Ana and 29 others favourited your post"
    r = render_group("reblog", [a, b, c], 3, n.status, AK)
    assert r.title == "Ana and 2 others boosted your post"
    r = render_group("follow", [a, b, c], 4, None, AK)
    assert r.title == "Ana and 3 others followed you"
    assert r.body == "@ana@example.social, @ben@example.social, @cy@example.social and 1 more"
    assert r.url is None
    r = render_group("admin.sign_up", [a, b], 2, None, AK)
    assert r.title == "New sign-ups: Ana and Ben"


def test_filtered_body() -> None:
    assert filtered_body(["Spoilers"]) == "Filtered: Spoilers"
    assert filtered_body(["Spoilers", "Politics", "Spoilers"]) == "Filtered: Spoilers, Politics"
    assert filtered_body([""]) == "Filtered: a filter"


# --------------------------------------------------------------------------- never raises

_any_text = st.text(max_size=300)
_htmlish = st.lists(
    st.sampled_from(
        [
            "<p>",
            "</p>",
            "<br>",
            "<a href='x'>",
            "</a>",
            '<span class="invisible">',
            '<span class="ellipsis">',
            "</span>",
            "&amp;",
            "&#",
            "<",
            ">",
            "<!--",
            "-->",
            "<![CDATA[",
            "<script>",
            "</script>",
            "<li>",
            "<ol>",
            "\u202e",
            "\x00",
            "\ud800",
            "👩\u200d💻",
            "e\u0301",
            " ",
            "\n",
            "word",
        ]
    )
    | _any_text,
    max_size=30,
).map("".join)


def _valid_output(text: str) -> None:
    for ch in text:
        assert ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cs"), repr(ch)
        assert not (0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069), repr(ch)
    text.encode("utf-8")  # would raise on a lone surrogate


@settings(max_examples=150, deadline=None)
@given(html=_htmlish)
def test_html_to_text_never_raises(html: str) -> None:
    _valid_output(html_to_text(html))


@settings(max_examples=100, deadline=None)
@given(
    ntype=st.sampled_from(
        [
            "mention",
            "status",
            "reblog",
            "favourite",
            "follow",
            "poll",
            "admin.report",
            "severed_relationships",
            "moderation_warning",
            "x:y_z",
        ]
    )
    | _any_text.filter(bool),
    display=_any_text,
    content=_htmlish,
    spoiler=_any_text,
    key=_any_text,
    multi=st.booleans(),
)
def test_render_never_raises(
    ntype: str, display: str, content: str, spoiler: str, key: str, multi: bool
) -> None:
    n = notif(
        ntype,
        display=display,
        content=content,
        spoiler=spoiler,
        poll=[display, spoiler],
        report={"category": display, "comment": content, "target_account": {"id": "1"}},
        event={"type": display, "target_name": spoiler, "followers_count": 2},
        moderation_warning={"action": display, "text": content},
    )
    r = render(n, key, multi_account=multi)
    assert len(r.title) <= TITLE_LIMIT
    assert len(r.body) <= BODY_LIMIT
    assert len(r.body.split("\n")) <= BODY_MAX_LINES
    _valid_output(r.title)
    _valid_output(r.body)
    assert "\n" not in r.title
    escape_markup(r.title).encode("utf-8")


@settings(max_examples=150, deadline=None)
@given(text=_htmlish, limit=st.integers(min_value=0, max_value=120))
def test_shorten_respects_the_limit(text: str, limit: int) -> None:
    out = shorten(text, limit, max_lines=3)
    assert len(out) <= limit
    if len(text) <= limit and text.count("\n") < 3:
        assert out == text
