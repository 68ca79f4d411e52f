"""Payload-only toasts (the fetch of a pushed notification failed) obey the keyword filters."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tootbell.config import Settings
from tootbell.delivery.push import (
    KeywordFilters,
    PushSetupError,
    _Keyword,
    _keyword_re,
    check_public_url,
    fallback_toast,
)
from tootbell.mastodon.webpush import PushPayload

KEY = "me@example.social"


def payload(
    title: str = "Ana mentioned you", body: str = "Spoilers for the finale!"
) -> PushPayload:
    return PushPayload("42", "mention", "tok", title, body, "https://x/a.png", "en")


def filters(*rules: tuple[str, str, str, bool]) -> KeywordFilters:
    f = KeywordFilters(loaded=True)
    f.filters = [(t, a, [_Keyword(_keyword_re(k, w))]) for t, a, k, w in rules]
    return f


def test_no_filters_loaded_means_no_payload_toast() -> None:
    assert fallback_toast(KEY, payload(), KeywordFilters(), Settings()) is None


def test_payload_toast_when_filters_pass() -> None:
    t = fallback_toast(KEY, payload(), filters(("Cats", "hide", "cat", True)), Settings())
    assert t is not None
    assert t.title == "Ana mentioned you" and t.body == "Spoilers for the finale!"
    assert t.key == f"{KEY}:n:42" and t.notification_ids == ("42",)


def test_hide_keyword_keeps_it_out() -> None:
    f = filters(("Spoilers", "hide", "spoilers", True))
    assert fallback_toast(KEY, payload(), f, Settings()) is None


def test_warn_keyword_shows_the_filter_not_the_text() -> None:
    f = filters(("Spoilers", "warn", "finale", True))
    t = fallback_toast(KEY, payload(), f, Settings())
    assert t is not None and t.body == "Filtered: Spoilers"


def test_whole_word_matching() -> None:
    f = filters(("Cats", "hide", "cat", True))
    assert fallback_toast(KEY, payload(body="concatenate this"), f, Settings()) is not None
    assert fallback_toast(KEY, payload(body="my Cat sleeps"), f, Settings()) is None
    partial = filters(("Cats", "hide", "cat", False))
    assert fallback_toast(KEY, payload(body="concatenate this"), partial, Settings()) is None


def test_type_switch_off_means_no_payload_toast() -> None:
    types = dict(Settings().types)
    types["mention"] = False
    assert fallback_toast(KEY, payload(), filters(), replace(Settings(), types=types)) is None


@pytest.mark.parametrize(
    "url",
    ["http://example.org/relay", "ftp://example.org", "not a url", "https://x.org/a?b=c", ""],
)
def test_public_url_must_be_https(url: str) -> None:
    with pytest.raises(PushSetupError):
        check_public_url(url)


def test_public_url_tidied_and_loopback_http_allowed() -> None:
    assert (
        check_public_url(" https://push.example.org/tootbell/ ")
        == "https://push.example.org/tootbell"
    )
    assert check_public_url("http://127.0.0.1:8765") == "http://127.0.0.1:8765"
