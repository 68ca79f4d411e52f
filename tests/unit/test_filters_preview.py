"""filters_api without a server: the preview of what an edited filter would catch, keyword
matching like Mastodon's, entity parsing (v2 and v1) and the 422 field mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tootbell.mastodon.entities import Notification
from tootbell.mastodon.filters_api import (
    Filter,
    FilterDraft,
    FilterKeyword,
    FilterStatus,
    KeywordEdit,
    keyword_pattern,
    preview,
    validation_fields,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def note(
    nid: str, content: str, *, spoiler: str = "", poll: list[str] | None = None
) -> Notification:
    status: dict[str, Any] = {
        "id": f"s{nid}",
        "content": content,
        "spoiler_text": spoiler,
        "visibility": "public",
        "account": {"id": "9", "username": "ana", "acct": "ana"},
    }
    if poll is not None:
        status["poll"] = {"options": [{"title": t} for t in poll]}
    return Notification.from_json(
        {
            "id": nid,
            "type": "mention",
            "created_at": "2026-03-01T11:00:00.000Z",
            "account": {"id": "9", "username": "ana", "acct": "ana"},
            "status": status,
        }
    )


def draft(
    *keywords: KeywordEdit,
    context: tuple[str, ...] = ("notifications", "home"),
    action: str = "hide",
    expires_in: int | None = None,
) -> FilterDraft:
    return FilterDraft("Test", context, action, expires_in, keywords)


def ids(items: list[Notification]) -> list[str]:
    return [n.id for n in items]


# --------------------------------------------------------------------------- matching


def test_whole_word_needs_word_boundaries_substring_does_not() -> None:
    notes = [
        note("1", "<p>I love cats</p>"),
        note("2", "<p>concatenate the strings</p>"),
        note("3", "<p>CAT pictures!</p>"),
    ]
    assert ids(preview(draft(KeywordEdit("cat", whole_word=True)), notes, NOW)) == ["3"]
    assert ids(preview(draft(KeywordEdit("cat", whole_word=False)), notes, NOW)) == [
        "3",
        "2",
        "1",
    ]


def test_whole_word_boundary_only_on_word_ends() -> None:
    # Mastodon puts \b only at an end that is a word character: "#tag" matches "x#tag".
    pat = keyword_pattern([KeywordEdit("#tag", whole_word=True)])
    assert pat is not None
    assert pat.search("see x#tag now")
    assert not pat.search("see #tagged now")
    assert pat.search("#TAG.")


def test_case_insensitive_and_unicode_words() -> None:
    notes = [note("1", "<p>Ärger im Büro</p>"), note("2", "<p>Verärgert</p>")]
    assert ids(preview(draft(KeywordEdit("ärger")), notes, NOW)) == ["1"]
    assert ids(preview(draft(KeywordEdit("ärger", whole_word=False)), notes, NOW)) == ["2", "1"]


def test_keywords_are_literal_text_not_patterns() -> None:
    notes = [note("1", "<p>price is 5.00 (approx)</p>"), note("2", "<p>price is 5x00</p>")]
    assert ids(preview(draft(KeywordEdit("5.00 (approx)", whole_word=False)), notes, NOW)) == ["1"]


def test_context_without_notifications_catches_nothing() -> None:
    notes = [note("1", "<p>spoilers ahead</p>")]
    assert preview(draft(KeywordEdit("spoilers"), context=("home", "public")), notes, NOW) == []
    assert ids(preview(draft(KeywordEdit("spoilers"), context=("notifications",)), notes, NOW)) == [
        "1"
    ]


def test_expired_draft_catches_nothing() -> None:
    notes = [note("1", "<p>spoilers ahead</p>")]
    assert preview(draft(KeywordEdit("spoilers"), expires_in=0), notes, NOW) == []
    assert preview(draft(KeywordEdit("spoilers"), expires_in=-60), notes, NOW) == []
    assert ids(preview(draft(KeywordEdit("spoilers"), expires_in=1800), notes, NOW)) == ["1"]
    assert ids(preview(draft(KeywordEdit("spoilers"), expires_in=None), notes, NOW)) == ["1"]


def test_destroyed_and_blank_keywords_are_ignored() -> None:
    notes = [note("1", "<p>spoilers ahead</p>"), note("2", "<p>football tonight</p>")]
    d = draft(
        KeywordEdit("spoilers", id="10", destroy=True),
        KeywordEdit("football", id="11"),
        KeywordEdit("   "),
    )
    assert ids(preview(d, notes, NOW)) == ["2"]
    only_destroyed = draft(KeywordEdit("spoilers", id="10", destroy=True), KeywordEdit(""))
    assert preview(only_destroyed, notes, NOW) == []
    assert keyword_pattern(only_destroyed.keywords) is None


def test_html_content_is_matched_as_text() -> None:
    notes = [
        # The words are split by markup and entities: only the text counts.
        note("1", '<p>Tom &amp; Jerry <a href="https://x.example/cats">link</a></p>'),
        note("2", "<p>tom<br>jerry</p>"),
        # The href is not text: "cats" must not match the link target.
        note("3", '<p><a href="https://x.example/cats">here</a></p>'),
    ]
    assert ids(preview(draft(KeywordEdit("tom & jerry")), notes, NOW)) == ["1"]
    assert ids(preview(draft(KeywordEdit("cats", whole_word=False)), notes, NOW)) == []
    assert ids(preview(draft(KeywordEdit("jerry")), notes, NOW)) == ["2", "1"]


def test_spoiler_text_and_poll_options_match() -> None:
    notes = [
        note("1", "<p>nothing to see</p>", spoiler="Election results"),
        note("2", "<p>vote!</p>", poll=["Cats", "Dogs"]),
        note("3", "<p>plain</p>"),
    ]
    assert ids(preview(draft(KeywordEdit("election")), notes, NOW)) == ["1"]
    assert ids(preview(draft(KeywordEdit("dogs")), notes, NOW)) == ["2"]


def test_newest_first_by_opaque_id_order_without_duplicates_or_statusless() -> None:
    follow = Notification.from_json(
        {"id": "50", "type": "follow", "account": {"id": "9", "username": "ana"}}
    )
    notes = [
        note("9", "<p>spoilers</p>"),
        note("100", "<p>spoilers</p>"),
        note("10", "<p>spoilers</p>"),
        note("9", "<p>spoilers</p>"),
        follow,
    ]
    assert ids(preview(draft(KeywordEdit("spoilers")), notes, NOW)) == ["100", "10", "9"]


def test_any_keyword_matches() -> None:
    notes = [note("1", "<p>alpha</p>"), note("2", "<p>beta</p>"), note("3", "<p>gamma</p>")]
    d = draft(KeywordEdit("alpha"), KeywordEdit("gamma", whole_word=False))
    assert ids(preview(d, notes, NOW)) == ["3", "1"]


# --------------------------------------------------------------------------- entities


def test_v2_filter_entity() -> None:
    f = Filter.from_json(
        {
            "id": "7",
            "title": "Spoilers",
            "context": ["home", "notifications"],
            "expires_at": "2026-03-02T00:00:00.000Z",
            "filter_action": "blur",
            "keywords": [
                {"id": "70", "keyword": "finale", "whole_word": True},
                {"keyword": "no id"},
                "junk",
            ],
            "statuses": [{"id": "71", "status_id": "1234"}, {"id": "72"}],
        }
    )
    assert f == Filter(
        id="7",
        title="Spoilers",
        context=("home", "notifications"),
        action="blur",
        expires_at=datetime(2026, 3, 2, tzinfo=UTC),
        keywords=(FilterKeyword("70", "finale", True),),
        statuses=(FilterStatus("71", "1234"),),
        version=2,
    )
    assert f.expired(datetime(2026, 3, 3, tzinfo=UTC))
    assert not f.expired(NOW)


def test_v2_filter_entity_tolerates_missing_fields() -> None:
    f = Filter.from_json({"id": 3})
    assert (f.id, f.title, f.context, f.action, f.expires_at) == ("3", "", (), "warn", None)
    assert f.keywords == () and f.statuses == ()
    with pytest.raises(ValueError):
        Filter.from_json({"title": "no id"})
    with pytest.raises(ValueError):
        Filter.from_json(["not", "an", "object"])


def test_v1_filter_entity() -> None:
    hide = Filter.from_v1_json(
        {
            "id": "5",
            "phrase": "spoiler",
            "context": ["notifications"],
            "expires_at": None,
            "irreversible": True,
            "whole_word": False,
        }
    )
    assert hide == Filter(
        id="5",
        title="spoiler",
        context=("notifications",),
        action="hide",
        expires_at=None,
        keywords=(FilterKeyword("5", "spoiler", False),),
        statuses=(),
        version=1,
    )
    warn = Filter.from_v1_json({"id": "6", "phrase": "x", "irreversible": False})
    assert warn.action == "warn" and warn.version == 1


# --------------------------------------------------------------------------- 422 fields


def test_validation_fields_from_details() -> None:
    body = {
        "error": "Validation failed: Title can't be blank, Context can't be blank",
        "details": {
            "title": [{"error": "ERR_BLANK", "description": "can't be blank"}],
            "context": [{"error": "ERR_INVALID", "description": "is invalid"}],
            "keywords.keyword": [{"error": "ERR_BLANK", "description": "can't be blank"}],
            "filter_action": [{"error": "ERR_INCLUSION", "description": "is not included"}],
            "expires_at": [{"error": "ERR_INVALID", "description": "is invalid"}],
        },
    }
    assert validation_fields(body) == {
        "title": "Title can't be blank",
        "context": "Context is invalid",
        "keywords": "Keywords keyword can't be blank",
        "action": "Filter action is not included",
        "expires": "Expires at is invalid",
    }


def test_validation_fields_from_text() -> None:
    text = (
        "Validation failed: Title can't be blank, Context can't be blank, "
        "Keywords keyword can't be blank, Filter action is not included in the list, "
        "Expires in is not a number"
    )
    assert validation_fields(None, text) == {
        "title": "Title can't be blank",
        "context": "Context can't be blank",
        "keywords": "Keywords keyword can't be blank",
        "action": "Filter action is not included in the list",
        "expires": "Expires in is not a number",
    }


def test_validation_fields_keeps_commas_inside_a_message_and_unknown_errors() -> None:
    text = "Validation failed: Title is too long (maximum is 256 characters), sorry, Foo bar"
    assert validation_fields({}, text) == {
        "title": "Title is too long (maximum is 256 characters), sorry, Foo bar"
    }
    assert validation_fields({"error": "Too many keywords"}) == {"base": "Too many keywords"}
    assert validation_fields(None, "") == {}
