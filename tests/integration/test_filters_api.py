"""filters_api against the demo instance over loopback: v2 create / edit / delete with keyword
edits in one request, what is sent on the wire, 422 field mapping, the v1 fallback on an
older server, and the preview agreeing with the server's own keyword matching."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest

from tootbell.demo import DemoServer
from tootbell.mastodon.client import ApiError, MastodonClient, NotFound
from tootbell.mastodon.entities import Notification
from tootbell.mastodon.filters_api import (
    FilterDraft,
    FilterValidationError,
    KeywordEdit,
    create_filter,
    delete_filter,
    filter_support,
    list_filters,
    preview,
    remove_filter_status,
    update_filter,
)

V2 = "/api/v2/filters"
V1 = "/api/v1/filters"


@pytest.fixture
def make_server() -> Iterator[Callable[..., DemoServer]]:
    started: list[DemoServer] = []

    def make(**kw: Any) -> DemoServer:
        srv = DemoServer(**kw)
        srv.start()
        started.append(srv)
        return srv

    try:
        yield make
    finally:
        for srv in started:
            srv.stop()


def client_for(server: DemoServer) -> MastodonClient:
    return MastodonClient(server.base_url, server.create_token("demo"), timeout=(2.0, 5.0))


@pytest.fixture
def client(server: DemoServer) -> Iterator[MastodonClient]:
    with client_for(server) as c:
        yield c


def sent_form(server: DemoServer, method: str, path: str) -> list[tuple[str, str]]:
    """The form fields of the last ``method`` request to exactly ``path``."""
    reqs = [r for r in server.requests_to(path, method) if r.path == path]
    assert reqs, f"no {method} {path}"
    return parse_qsl(reqs[-1].body.decode(), keep_blank_values=True)


def spoilers_draft(**changes: Any) -> FilterDraft:
    base: dict[str, Any] = {
        "title": "Spoilers",
        "context": ("home", "notifications"),
        "action": "warn",
        "expires_in": 3600,
        "keywords": (
            KeywordEdit("finale", whole_word=True),
            KeywordEdit("season 2", whole_word=False),
        ),
    }
    base.update(changes)
    return FilterDraft(**base)


def near(when: datetime | None, expected: datetime, slack: float = 120.0) -> bool:
    return when is not None and abs((when - expected).total_seconds()) <= slack


# --------------------------------------------------------------------------- v2


def test_support_follows_capabilities(
    client: MastodonClient, make_server: Callable[..., DemoServer]
) -> None:
    assert filter_support(client.capabilities()) == "v2"
    old = make_server(version="3.5.3")
    with client_for(old) as c:
        assert filter_support(c.capabilities()) == "v1"


def test_create_edit_delete_v2(server: DemoServer, client: MastodonClient) -> None:
    assert list_filters(client) == ("v2", [])

    created = create_filter(client, spoilers_draft())
    assert created.version == 2
    assert created.title == "Spoilers"
    assert set(created.context) == {"home", "notifications"}
    assert created.action == "warn"
    assert near(created.expires_at, datetime.now(UTC) + timedelta(hours=1))
    assert [(k.keyword, k.whole_word) for k in created.keywords] == [
        ("finale", True),
        ("season 2", False),
    ]
    assert all(k.id for k in created.keywords)

    form = sent_form(server, "POST", V2)
    assert ("title", "Spoilers") in form
    assert [v for k, v in form if k == "context[]"] == ["home", "notifications"]
    assert ("filter_action", "warn") in form
    assert ("expires_in", "3600") in form
    # Indexed keyword attributes keep each keyword's fields together; no ids on create.
    assert ("keywords_attributes[0][keyword]", "finale") in form
    assert ("keywords_attributes[0][whole_word]", "true") in form
    assert ("keywords_attributes[1][keyword]", "season 2") in form
    assert ("keywords_attributes[1][whole_word]", "false") in form
    assert not any(k.endswith("[id]") or k.endswith("[_destroy]") for k, _ in form)

    kept, dropped = created.keywords
    edit = spoilers_draft(
        title="TV spoilers",
        context=("notifications",),
        action="hide",
        expires_in=None,
        keywords=(
            KeywordEdit("series finale", whole_word=False, id=kept.id),
            KeywordEdit(dropped.keyword, dropped.whole_word, id=dropped.id, destroy=True),
            KeywordEdit("episode", whole_word=True),
        ),
    )
    updated = update_filter(client, created.id, edit)
    assert updated.id == created.id
    assert updated.title == "TV spoilers"
    assert updated.context == ("notifications",)
    assert updated.action == "hide"
    assert updated.expires_at is None  # "never" clears the expiry
    by_word = {k.keyword: k for k in updated.keywords}
    assert set(by_word) == {"series finale", "episode"}
    assert by_word["series finale"].id == kept.id  # edited in place, not re-created
    assert by_word["series finale"].whole_word is False
    assert by_word["episode"].whole_word is True

    form = sent_form(server, "PUT", f"{V2}/{created.id}")
    assert ("expires_in", "") in form
    fields = dict(form)
    assert fields["keywords_attributes[0][id]"] == kept.id
    assert fields["keywords_attributes[0][keyword]"] == "series finale"
    assert fields["keywords_attributes[1][id]"] == dropped.id
    assert fields["keywords_attributes[1][_destroy]"] == "true"
    assert "keywords_attributes[2][id]" not in fields
    assert fields["keywords_attributes[2][keyword]"] == "episode"

    level, listed = list_filters(client)
    assert level == "v2"
    assert listed == [updated]

    delete_filter(client, created.id)
    assert list_filters(client) == ("v2", [])
    with pytest.raises(NotFound):
        delete_filter(client, created.id)


def test_update_keeps_unmentioned_keywords_and_sets_expiry(
    server: DemoServer, client: MastodonClient
) -> None:
    created = create_filter(client, spoilers_draft(expires_in=None))
    assert created.expires_at is None
    updated = update_filter(
        client, created.id, spoilers_draft(expires_in=86400, keywords=(KeywordEdit("new"),))
    )
    assert near(updated.expires_at, datetime.now(UTC) + timedelta(days=1))
    assert {k.keyword for k in updated.keywords} == {"finale", "season 2", "new"}


def test_validation_errors_name_the_fields(server: DemoServer, client: MastodonClient) -> None:
    with pytest.raises(FilterValidationError) as info:
        create_filter(client, spoilers_draft(title="", context=()))
    err = info.value
    assert err.status == 422
    assert set(err.fields) >= {"title", "context"}
    assert "blank" in err.fields["title"].lower()
    assert isinstance(err, ApiError)
    assert "did not accept the filter" in err.message
    assert list_filters(client) == ("v2", [])

    created = create_filter(client, spoilers_draft())
    with pytest.raises(FilterValidationError) as info:
        update_filter(client, created.id, spoilers_draft(title="x" * 300))
    assert "title" in info.value.fields
    with pytest.raises(FilterValidationError) as info:
        update_filter(client, created.id, spoilers_draft(context=("nowhere",)))
    assert "context" in info.value.fields
    with pytest.raises(FilterValidationError) as info:
        update_filter(client, created.id, spoilers_draft(action="explode"))
    assert "action" in info.value.fields
    # Nothing was changed by the refused updates.
    assert list_filters(client)[1] == [created]


def test_blur_needs_mastodon_4_4(make_server: Callable[..., DemoServer]) -> None:
    old = make_server(version="4.3.0")
    with client_for(old) as c, pytest.raises(FilterValidationError) as info:
        create_filter(c, spoilers_draft(action="blur"))
    assert "action" in info.value.fields
    new = make_server(version="4.4.0")
    with client_for(new) as c:
        assert create_filter(c, spoilers_draft(action="blur")).action == "blur"


def test_remove_filter_status(server: DemoServer, client: MastodonClient) -> None:
    post = server.add_notification("mention", status_text="a post to hide")["status"]
    created = create_filter(client, spoilers_draft())
    added = client.request_json(
        "POST", f"{V2}/{created.id}/statuses", data={"status_id": post["id"]}
    )
    (listed,) = [f for f in list_filters(client)[1] if f.id == created.id]
    assert [(s.id, s.status_id) for s in listed.statuses] == [(str(added["id"]), post["id"])]
    remove_filter_status(client, str(added["id"]))
    (listed,) = [f for f in list_filters(client)[1] if f.id == created.id]
    assert listed.statuses == ()
    with pytest.raises(NotFound):
        remove_filter_status(client, str(added["id"]))


def test_preview_agrees_with_the_server(server: DemoServer, client: MastodonClient) -> None:
    draft = spoilers_draft(
        action="hide",
        keywords=(KeywordEdit("cat", whole_word=True), KeywordEdit("dog", whole_word=False)),
    )
    created = create_filter(client, draft)
    texts = ["I love my cat", "concatenate", "hotdog stand", "nothing here", "CAT!"]
    for text in texts:
        server.add_notification("mention", status_text=text)
    items = [Notification.from_json(n) for n in server.notifications_for("demo")]
    by_server = [
        n.id
        for n in items
        if n.status is not None and any(r.filter_id == created.id for r in n.status.filtered)
    ]
    assert [n.id for n in preview(draft, items)] == by_server
    assert len(by_server) == 3


# --------------------------------------------------------------------------- v1


def test_v1_fallback_on_an_older_server(make_server: Callable[..., DemoServer]) -> None:
    server = make_server(version="3.5.3")
    with client_for(server) as c:
        assert list_filters(c) == ("v1", [])  # v2 answered 404
        assert [r.path for r in server.requests_to(V2)] == [V2]

        draft = FilterDraft(
            title="ignored on v1",
            context=("notifications", "home"),
            action="hide",
            expires_in=600,
            keywords=(KeywordEdit("spoiler", whole_word=False),),
        )
        created = create_filter(c, draft, version=1)
        assert created.version == 1
        assert created.title == "spoiler"
        assert created.action == "hide"
        assert set(created.context) == {"notifications", "home"}
        assert near(created.expires_at, datetime.now(UTC) + timedelta(minutes=10))
        assert [(k.id, k.keyword, k.whole_word) for k in created.keywords] == [
            (created.id, "spoiler", False)
        ]
        form = dict(sent_form(server, "POST", V1))
        assert form["phrase"] == "spoiler"
        assert form["irreversible"] == "true"
        assert form["whole_word"] == "false"
        assert form["expires_in"] == "600"
        assert "title" not in form

        edit = FilterDraft(
            title="",
            context=("notifications",),
            action="warn",
            expires_in=None,
            keywords=(KeywordEdit("spoilers", whole_word=True, id=created.id),),
        )
        updated = update_filter(c, created.id, edit, version=1)
        assert (updated.id, updated.title, updated.action) == (created.id, "spoilers", "warn")
        assert updated.context == ("notifications",)
        assert updated.expires_at is None
        assert updated.keywords[0].whole_word is True
        assert ("expires_in", "") in sent_form(server, "PUT", f"{V1}/{created.id}")

        assert list_filters(c, start="v1") == ("v1", [updated])
        delete_filter(c, created.id, version=1)
        assert list_filters(c) == ("v1", [])

        # Without a version, creating tries v2 and falls back on its 404.
        server.clear_requests()
        again = create_filter(c, draft)
        assert again.version == 1 and again.title == "spoiler"
        assert [r.path for r in server.requests if r.method == "POST"] == [V2, V1]


def test_v1_allows_exactly_one_keyword(make_server: Callable[..., DemoServer]) -> None:
    server = make_server(version="3.5.3")
    with client_for(server) as c:
        server.clear_requests()
        two = spoilers_draft()
        with pytest.raises(FilterValidationError) as info:
            create_filter(c, two, version=1)
        assert "one keyword" in info.value.fields["keywords"]
        with pytest.raises(FilterValidationError) as info:
            create_filter(c, spoilers_draft(keywords=(KeywordEdit("  "),)), version=1)
        assert "keywords" in info.value.fields
        assert server.requests_to(V1) == []  # refused before sending
        # A removed keyword does not count.
        one = spoilers_draft(
            keywords=(KeywordEdit("gone", id="1", destroy=True), KeywordEdit("kept"))
        )
        assert create_filter(c, one, version=1).title == "kept"


def test_v1_validation_error(make_server: Callable[..., DemoServer]) -> None:
    server = make_server(version="3.5.3")
    with client_for(server) as c, pytest.raises(FilterValidationError) as info:
        create_filter(c, spoilers_draft(context=(), keywords=(KeywordEdit("x"),)), version=1)
    assert "context" in info.value.fields


def test_v1_alias_on_a_current_server(server: DemoServer, client: MastodonClient) -> None:
    created = create_filter(
        client, spoilers_draft(keywords=(KeywordEdit("alpha"), KeywordEdit("beta")))
    )
    level, v1 = list_filters(client, start="v1")
    assert level == "v1"
    # Each keyword of a v2 filter is one v1 "filter".
    assert sorted(f.title for f in v1) == ["alpha", "beta"]
    assert all(f.version == 1 for f in v1)
    assert {f.id for f in v1} == {k.id for k in created.keywords}


def test_no_filter_api_at_all(client: MastodonClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def nothing(method: str, path: str, **kw: Any) -> Any:
        raise NotFound("no such feature", 404)

    monkeypatch.setattr(client, "request_json", nothing)
    assert list_filters(client) == ("none", [])
    assert list_filters(client, start="none") == ("none", [])
