"""Keyword filters on the demo instance over real HTTP: v2 CRUD with forms and JSON, keywords
and filtered statuses, 422 details, expiry, the v1 API on old and new poses, and the filter
results statuses carry (every active filter, any context, as Mastodon) or, on GoToSocial,
the notifications a "hide" filter removes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from test_demo_push import FAST, Receiver, opened, subscribe, subscription, tls_pair

from tootbell.demo import DemoServer
from tootbell.mastodon import webpush
from tootbell.mastodon.entities import Notification

V2 = "/api/v2/filters"
V1 = "/api/v1/filters"
NOTIFICATIONS = "/api/v1/notifications"
BIKES = "Did you see the new Bike lanes downtown?"
BLANK = [{"error": "ERR_BLANK", "description": "can't be blank"}]
DEPRECATED = (
    "These parameters cannot be changed from this application because they apply to more "
    "than one filter keyword. Use a more recent application or the web interface."
)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(
    http: requests.Session,
    srv: DemoServer,
    method: str,
    path: str,
    token: str,
    status: int = 200,
    **kwargs: Any,
) -> Any:
    r = http.request(method, srv.base_url + path, headers=bearer(token), timeout=5, **kwargs)
    assert r.status_code == status, r.text
    return r.json()


def seconds_from_now(stamp: str) -> float:
    return (
        datetime.fromisoformat(stamp.replace("Z", "+00:00")) - datetime.now(UTC)
    ).total_seconds()


def listed_ids(http: requests.Session, srv: DemoServer, token: str) -> list[str]:
    return [n["id"] for n in call(http, srv, "GET", NOTIFICATIONS, token)]


# --------------------------------------------------------------------------- v2 CRUD


def test_v2_round_trip_with_a_form(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    form = [
        ("title", "Spoilers"),
        ("context[]", "home"),
        ("context[]", "notifications"),
        ("filter_action", "hide"),
        ("keywords_attributes[][keyword]", "finale"),
        ("keywords_attributes[][whole_word]", "true"),
        ("keywords_attributes[][keyword]", "season 3"),
        ("keywords_attributes[][whole_word]", "false"),
    ]
    made = call(http, server, "POST", V2, token, data=form)
    assert made["title"] == "Spoilers" and made["context"] == ["home", "notifications"]
    assert made["filter_action"] == "hide" and made["expires_at"] is None
    assert [(k["keyword"], k["whole_word"]) for k in made["keywords"]] == [
        ("finale", True),
        ("season 3", False),
    ]
    assert made["statuses"] == []
    fid = made["id"]
    assert call(http, server, "GET", V2, token) == [made]
    assert call(http, server, "GET", f"{V2}/{fid}", token) == made
    assert call(http, server, "GET", f"{V2}/{fid}/keywords", token) == made["keywords"]

    # A repeated key starts the next keyword, as Rack builds arrays of hashes.
    rack = [
        ("title", "Rack"),
        ("context[]", "thread"),
        ("keywords_attributes[][keyword]", "a"),
        ("keywords_attributes[][keyword]", "b"),
        ("keywords_attributes[][whole_word]", "false"),
    ]
    other = call(http, server, "POST", V2, token, data=rack)
    assert [(k["keyword"], k["whole_word"]) for k in other["keywords"]] == [
        ("a", True),
        ("b", False),
    ]
    assert other["filter_action"] == "warn"  # the default

    updated = call(
        http, server, "PUT", f"{V2}/{fid}", token, data={"title": "TV", "filter_action": "warn"}
    )
    assert updated["title"] == "TV" and updated["filter_action"] == "warn"
    assert updated["context"] == made["context"] and updated["keywords"] == made["keywords"]
    assert call(http, server, "DELETE", f"{V2}/{fid}", token) == {}
    gone = call(http, server, "GET", f"{V2}/{fid}", token, status=404)
    assert gone == {"error": "Record not found"}
    assert server.filters_for() == [other]


def test_v2_round_trip_with_json(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    body = {
        "title": "Cats",
        "context": ["notifications"],
        "filter_action": "warn",
        "expires_in": 3600,
        "keywords_attributes": [
            {"keyword": "cat", "whole_word": True},
            {"keyword": "kitten", "whole_word": False},
        ],
    }
    made = call(http, server, "POST", V2, token, json=body)
    assert 3590 < seconds_from_now(made["expires_at"]) <= 3600
    fid, kid = made["id"], made["keywords"][0]["id"]
    put = call(
        http,
        server,
        "PUT",
        f"{V2}/{fid}",
        token,
        json={
            "context": ["home", "thread"],
            "keywords_attributes": [{"id": kid, "keyword": "cats"}],
        },
    )
    assert put["context"] == ["home", "thread"]
    assert put["keywords"][0] == {"id": kid, "keyword": "cats", "whole_word": True}
    assert put["keywords"][1] == made["keywords"][1]
    assert put["expires_at"] == made["expires_at"]  # untouched without expires_in
    cleared = call(http, server, "PUT", f"{V2}/{fid}", token, json={"expires_in": None})
    assert cleared["expires_at"] is None
    assert server.filters_for() == [cleared]
    assert call(http, server, "DELETE", f"{V2}/{fid}", token) == {}
    assert call(http, server, "DELETE", f"{V2}/{fid}", token, status=404)


def test_keywords_edited_and_destroyed_in_one_put(
    server: DemoServer, http: requests.Session
) -> None:
    token = server.create_token()
    made = call(
        http,
        server,
        "POST",
        V2,
        token,
        data={
            "title": "Mix",
            "context[]": "notifications",
            "keywords_attributes[0][keyword]": "one",
            "keywords_attributes[0][whole_word]": "true",
            "keywords_attributes[1][keyword]": "two",
            "keywords_attributes[1][whole_word]": "false",
        },
    )
    one, two = made["keywords"]
    put = call(
        http,
        server,
        "PUT",
        f"{V2}/{made['id']}",
        token,
        data={
            "keywords_attributes[0][id]": one["id"],
            "keywords_attributes[0][keyword]": "uno",
            "keywords_attributes[0][whole_word]": "false",
            "keywords_attributes[1][id]": two["id"],
            "keywords_attributes[1][_destroy]": "true",
            "keywords_attributes[2][keyword]": "three",
            "keywords_attributes[2][whole_word]": "true",
        },
    )
    first, added = put["keywords"]
    assert first == {"id": one["id"], "keyword": "uno", "whole_word": False}
    assert added["keyword"] == "three" and added["whole_word"] is True
    assert added["id"] not in (one["id"], two["id"])
    assert put["title"] == "Mix" and put["context"] == ["notifications"]

    # An unknown keyword id is 404 and nothing changes, the title included.
    bad = {
        "title": "Changed",
        "keywords_attributes[0][id]": "nope",
        "keywords_attributes[0][keyword]": "x",
    }
    call(http, server, "PUT", f"{V2}/{made['id']}", token, status=404, data=bad)
    assert server.filters_for() == [put]
    # On create a keyword id is 404 too (mastodon#21727).
    create_with_id = {
        "title": "New",
        "context[]": "home",
        "keywords_attributes[0][id]": one["id"],
        "keywords_attributes[0][keyword]": "x",
    }
    call(http, server, "POST", V2, token, status=404, data=create_with_id)
    assert len(server.filters_for()) == 1


# --------------------------------------------------------------------------- validation


def test_422_has_mastodons_text_and_details_per_field(
    server: DemoServer, http: requests.Session
) -> None:
    token = server.create_token()
    r = http.post(
        server.base_url + V2, headers=bearer(token), data={"title": "", "context[]": ""}, timeout=5
    )
    assert r.status_code == 422
    assert r.json() == {
        "error": "Validation failed: Title can't be blank, Context can't be blank",
        "details": {"title": BLANK, "context": BLANK},
    }
    body = {
        "title": "x" * 257,
        "context": ["notifications", "nowhere"],
        "filter_action": "explode",
        "keywords_attributes": [{"keyword": " ", "whole_word": True}],
    }
    r = http.post(server.base_url + V2, headers=bearer(token), json=body, timeout=5)
    assert r.status_code == 422
    assert r.json() == {
        "error": "Validation failed: Title is too long (maximum is 256 characters), Context "
        "None or invalid context supplied, Action is not included in the list, Keywords "
        "keyword can't be blank",
        "details": {
            "title": [
                {"error": "ERR_TOO_LONG", "description": "is too long (maximum is 256 characters)"}
            ],
            "context": [
                {"error": "ERR_INVALID", "description": "None or invalid context supplied"}
            ],
            "filter_action": [
                {"error": "ERR_INCLUSION", "description": "is not included in the list"}
            ],
            "keywords.keyword": BLANK,
        },
    }
    assert server.filters_for() == []

    # 256 characters are fine, and an all-blank keyword entry is skipped (reject_if).
    ok = call(
        http,
        server,
        "POST",
        V2,
        token,
        json={
            "title": "x" * 256,
            "context": [" notifications "],
            "keywords_attributes": [{"keyword": "", "whole_word": ""}],
        },
    )
    assert ok["keywords"] == [] and ok["context"] == ["notifications"]

    # An update is checked the same way and changes nothing when refused.
    r = http.put(
        f"{server.base_url}{V2}/{ok['id']}", headers=bearer(token), data={"title": ""}, timeout=5
    )
    assert r.status_code == 422 and r.json()["details"] == {"title": BLANK}
    assert server.filters_for() == [ok]

    # The keyword endpoint names its own field.
    r = http.post(
        f"{server.base_url}{V2}/{ok['id']}/keywords",
        headers=bearer(token),
        data={"keyword": ""},
        timeout=5,
    )
    assert r.status_code == 422
    assert r.json() == {
        "error": "Validation failed: Keyword can't be blank",
        "details": {"keyword": BLANK},
    }


@pytest.mark.parametrize(
    ("version", "accepted"), [("4.3.0", False), ("4.4.0", True), ("4.5.0", True), ("v0.19.2", True)]
)
def test_blur_is_accepted_from_4_4(version: str, accepted: bool, http: requests.Session) -> None:
    with DemoServer(version=version) as srv:
        token = srv.create_token()
        body = {"title": "Pics", "context": ["notifications"], "filter_action": "blur"}
        r = http.post(srv.base_url + V2, headers=bearer(token), json=body, timeout=5)
        if accepted:
            assert r.status_code == 200 and r.json()["filter_action"] == "blur"
        else:
            assert r.status_code == 422
            assert r.json()["details"] == {
                "filter_action": [
                    {"error": "ERR_INCLUSION", "description": "is not included in the list"}
                ]
            }


def test_filter_scopes(server: DemoServer, http: requests.Session) -> None:
    reader = server.create_token(scopes="read:filters")
    writer = server.create_token(scopes="write:filters")
    unrelated = server.create_token(scopes="read:notifications write:notifications")
    body = {"title": "T", "context": ["home"]}
    assert call(http, server, "GET", V2, reader) == []
    denied = call(http, server, "POST", V2, reader, status=403, json=body)
    assert denied == {"error": "This action is outside the authorized scopes"}
    made = call(http, server, "POST", V2, writer, json=body)
    call(http, server, "GET", V2, writer, status=403)
    for path in (V2, V1, f"{V2}/{made['id']}", f"{V2}/{made['id']}/keywords"):
        call(http, server, "GET", path, unrelated, status=403)
    call(http, server, "DELETE", f"{V2}/{made['id']}", reader, status=403)
    call(http, server, "POST", V1, reader, status=403, json={"phrase": "x"})
    assert call(http, server, "GET", V1, server.create_token(scopes="read")) == []
    r = http.get(server.base_url + V2, timeout=5)
    assert r.status_code == 401


def test_keyword_and_status_endpoints(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    fid = server.add_filter("Bikes", ["bike"], action="warn")["id"]
    kw = call(
        http,
        server,
        "POST",
        f"{V2}/{fid}/keywords",
        token,
        data={"keyword": "lane", "whole_word": "0"},
    )
    assert kw["keyword"] == "lane" and kw["whole_word"] is False
    assert call(http, server, "GET", f"{V2}/keywords/{kw['id']}", token) == kw
    edited = call(
        http, server, "PUT", f"{V2}/keywords/{kw['id']}", token, json={"keyword": "lanes"}
    )
    assert edited == {"id": kw["id"], "keyword": "lanes", "whole_word": False}
    keywords = call(http, server, "GET", f"{V2}/{fid}/keywords", token)
    assert [k["keyword"] for k in keywords] == ["bike", "lanes"]
    assert call(http, server, "DELETE", f"{V2}/keywords/{kw['id']}", token) == {}
    call(http, server, "GET", f"{V2}/keywords/{kw['id']}", token, status=404)

    note = server.add_notification("mention", status_text="Nothing to see here")
    sid = note["status"]["id"]
    fs = call(http, server, "POST", f"{V2}/{fid}/statuses", token, data={"status_id": sid})
    assert fs["status_id"] == sid and fs["id"] != sid
    assert call(http, server, "GET", f"{V2}/statuses/{fs['id']}", token) == fs
    assert call(http, server, "GET", f"{V2}/{fid}/statuses", token) == [fs]
    assert call(http, server, "GET", f"{V2}/{fid}", token)["statuses"] == [fs]
    missing = call(
        http, server, "POST", f"{V2}/{fid}/statuses", token, status=422, data={"status_id": "1"}
    )
    assert missing["error"] == "Validation failed: Status must exist"
    assert call(http, server, "DELETE", f"{V2}/statuses/{fs['id']}", token) == {}
    call(http, server, "GET", f"{V2}/statuses/{fs['id']}", token, status=404)

    # Another user sees none of it.
    alice = server.create_token("alice")
    assert call(http, server, "GET", V2, alice) == []
    for method, path in (
        ("GET", f"{V2}/{fid}"),
        ("PUT", f"{V2}/{fid}"),
        ("DELETE", f"{V2}/{fid}"),
        ("GET", f"{V2}/{fid}/keywords"),
        ("POST", f"{V2}/{fid}/keywords"),
        ("GET", f"{V2}/keywords/{keywords[0]['id']}"),
        ("GET", f"{V2}/{fid}/statuses"),
    ):
        call(http, server, method, path, alice, status=404, data={"keyword": "x"})
    assert len(server.filters_for()) == 1


def test_expired_filters_are_kept_but_do_not_match(
    server: DemoServer, http: requests.Session
) -> None:
    token = server.create_token()
    body = {
        "title": "Old news",
        "context": ["notifications"],
        "expires_in": 0,
        "keywords_attributes": [{"keyword": "bike"}],
    }
    made = call(http, server, "POST", V2, token, json=body)
    assert made["expires_at"] is not None and seconds_from_now(made["expires_at"]) <= 0
    note = server.add_notification("mention", status_text=BIKES)
    assert note["status"]["filtered"] == []
    assert [f["id"] for f in call(http, server, "GET", V2, token)] == [made["id"]]  # kept

    revived = call(http, server, "PUT", f"{V2}/{made['id']}", token, data={"expires_in": ""})
    assert revived["expires_at"] is None
    again = call(http, server, "GET", f"{NOTIFICATIONS}/{note['id']}", token)
    assert [r["filter"]["id"] for r in again["status"]["filtered"]] == [made["id"]]

    later = call(http, server, "PUT", f"{V2}/{made['id']}", token, data={"expires_in": "600"})
    assert 590 < seconds_from_now(later["expires_at"]) <= 600
    assert call(http, server, "GET", f"{NOTIFICATIONS}/{note['id']}", token)["status"]["filtered"]

    soon = server.add_filter("Soon", ["lanes"], action="warn", expires_in=3600)
    assert 3590 < seconds_from_now(soon["expires_at"]) <= 3600


# --------------------------------------------------------------------------- v1


def test_v1_filters_are_keywords_of_v2_filters_on_4x(
    server: DemoServer, http: requests.Session
) -> None:
    token = server.create_token()
    made = call(
        http,
        server,
        "POST",
        V1,
        token,
        data={
            "phrase": "finale",
            "context[]": ["home", "notifications"],
            "irreversible": "true",
            "whole_word": "false",
            "expires_in": "600",
        },
    )
    assert made["phrase"] == "finale" and made["context"] == ["home", "notifications"]
    assert made["irreversible"] is True and made["whole_word"] is False
    assert 590 < seconds_from_now(made["expires_at"]) <= 600
    (parent,) = server.filters_for()
    assert parent["title"] == "finale" and parent["filter_action"] == "hide"
    assert parent["keywords"] == [{"id": made["id"], "keyword": "finale", "whole_word": False}]

    r = http.get(server.base_url + V1, headers=bearer(token), timeout=5)
    assert r.json() == [made]
    assert r.headers["Deprecation"] == "@1668384000"  # 4.4+
    assert call(http, server, "GET", f"{V1}/{made['id']}", token) == made

    two = server.add_filter("Two", ["a", "b"], action="warn")
    a, b = two["keywords"]
    listed = call(http, server, "GET", V1, token)
    assert [(f["phrase"], f["irreversible"]) for f in listed] == [
        ("finale", True),
        ("a", False),
        ("b", False),
    ]
    # The keyword can change; its shared parent cannot.
    edited = call(http, server, "PUT", f"{V1}/{a['id']}", token, data={"whole_word": "false"})
    assert edited["whole_word"] is False and edited["phrase"] == "a"
    for change in ({"context[]": "home"}, {"phrase": "alpha"}, {"irreversible": "true"}):
        refused = call(http, server, "PUT", f"{V1}/{a['id']}", token, status=422, data=change)
        assert refused == {"error": DEPRECATED}
    assert server.filters_for()[1]["keywords"][0] == {
        "id": a["id"],
        "keyword": "a",
        "whole_word": False,
    }
    # A parent with one keyword follows every change.
    changed = call(
        http,
        server,
        "PUT",
        f"{V1}/{made['id']}",
        token,
        data={"phrase": "ending", "irreversible": "false", "context[]": "notifications"},
    )
    assert changed["phrase"] == "ending" and changed["irreversible"] is False
    parent = server.filters_for()[0]
    assert (parent["title"], parent["filter_action"], parent["context"]) == (
        "ending",
        "warn",
        ["notifications"],
    )
    # DELETE removes only the keyword.
    assert call(http, server, "DELETE", f"{V1}/{a['id']}", token) == {}
    assert call(http, server, "DELETE", f"{V1}/{made['id']}", token) == {}
    filters = server.filters_for()
    assert [(f["title"], [k["keyword"] for k in f["keywords"]]) for f in filters] == [
        ("ending", []),
        ("Two", ["b"]),
    ]
    assert [f["id"] for f in call(http, server, "GET", V1, token)] == [b["id"]]
    call(http, server, "GET", f"{V1}/{made['id']}", token, status=404)

    r = http.post(
        server.base_url + V1, headers=bearer(token), data={"phrase": "", "context[]": ""}, timeout=5
    )
    assert r.status_code == 422
    assert r.json() == {
        "error": "Validation failed: Title can't be blank, Context can't be blank",
        "details": {"phrase": BLANK, "context": BLANK},
    }


def test_v1_only_before_4_0_and_on_akkoma(http: requests.Session) -> None:
    with DemoServer(version="3.5.3") as srv:
        token = srv.create_token()
        call(http, srv, "GET", V2, token, status=404)
        call(http, srv, "POST", V2, token, status=404, json={"title": "x", "context": ["home"]})
        made = call(
            http, srv, "POST", V1, token, json={"phrase": "bike", "context": ["notifications"]}
        )
        assert made["irreversible"] is False and made["whole_word"] is True
        r = http.get(srv.base_url + V1, headers=bearer(token), timeout=5)
        assert r.json() == [made] and "Deprecation" not in r.headers
        note = srv.add_notification("mention", status_text=BIKES)
        assert "filtered" not in note["status"]  # no filter results before 4.0
        srv.set_version("2.7.0 (compatible; Akkoma 3.10)")
        call(http, srv, "GET", V2, token, status=404)
        assert call(http, srv, "GET", V1, token) == [made]
        assert call(http, srv, "DELETE", f"{V1}/{made['id']}", token) == {}
        assert srv.filters_for() == []  # the whole filter: there is no v2 parent here
    with DemoServer(version="4.3.0") as srv:
        token = srv.create_token()
        r = http.get(srv.base_url + V1, headers=bearer(token), timeout=5)
        assert r.status_code == 200 and "Deprecation" not in r.headers


# --------------------------------------------------------------------------- filter results


def test_results_match_every_active_filter_whatever_its_context(
    server: DemoServer, http: requests.Session
) -> None:
    token = server.create_token()
    older = server.add_notification("mention", status_text=BIKES)  # before the filters
    home_only = server.add_filter("Bikes", ["BIKE"], action="warn", context=("home",))
    partial = server.add_filter("Partial", ["bik"], action="hide", whole_word=False)
    server.add_filter("Whole", ["bik"], action="hide")  # whole word: "Bike" is no match
    server.add_filter("CW", ["spoiler"], action="warn")
    (item,) = call(http, server, "GET", NOTIFICATIONS, token)
    assert item["id"] == older["id"]
    assert item["status"]["filtered"] == [
        {
            "filter": {
                "id": home_only["id"],
                "title": "Bikes",
                "context": ["home"],
                "expires_at": None,
                "filter_action": "warn",
            },
            "keyword_matches": ["Bike"],  # as the text has it
            "status_matches": [],
        },
        {
            "filter": {
                "id": partial["id"],
                "title": "Partial",
                "context": ["notifications"],
                "expires_at": None,
                "filter_action": "hide",
            },
            "keyword_matches": ["Bik"],
            "status_matches": [],
        },
    ]
    parsed = Notification.from_json(item)
    assert parsed.status is not None and [f.action for f in parsed.status.filtered] == [
        "warn",
        "hide",
    ]

    # The content warning is searched too; so is a single notification.
    cw = server.add_notification("mention", status_text="Plain words", spoiler_text="Spoiler!")
    single = call(http, server, "GET", f"{NOTIFICATIONS}/{cw['id']}", token)
    assert [(r["filter"]["title"], r["keyword_matches"]) for r in single["status"]["filtered"]] == [
        ("CW", ["Spoiler"])
    ]
    assert single["status"]["filtered"] == cw["status"]["filtered"]

    # A filtered status matches by id; no match is an empty list.
    plain = server.add_notification("mention", status_text="Thanks for the tip")
    assert plain["status"]["filtered"] == []
    sid = plain["status"]["id"]
    call(http, server, "POST", f"{V2}/{home_only['id']}/statuses", token, data={"status_id": sid})
    again = call(http, server, "GET", f"{NOTIFICATIONS}/{plain['id']}", token)
    assert [
        (r["filter"]["title"], r["keyword_matches"], r["status_matches"])
        for r in again["status"]["filtered"]
    ] == [("Bikes", [], [sid])]

    # Results are worked out when the notification is read: a deleted filter is gone at once.
    call(http, server, "DELETE", f"{V2}/{home_only['id']}", token)
    first = call(http, server, "GET", f"{NOTIFICATIONS}/{older['id']}", token)
    assert [r["filter"]["title"] for r in first["status"]["filtered"]] == ["Partial"]
    assert listed_ids(http, server, token)[-1] == older["id"]  # Mastodon still lists it


def test_filtered_action_knob_stores_a_real_filter(
    server: DemoServer, http: requests.Session
) -> None:
    token = server.create_token()
    note = server.add_notification(
        "mention", filtered_action="warn", filter_title="Spoilers", filter_keywords=["finale"]
    )
    (stored,) = server.filters_for()
    assert (stored["title"], stored["filter_action"], stored["context"]) == (
        "Spoilers",
        "warn",
        ["notifications", "home"],
    )
    assert [k["keyword"] for k in stored["keywords"]] == ["finale"]
    assert call(http, server, "GET", V2, token) == [stored]
    # The knob's status matches whatever its text; others match by the stored keyword.
    assert note["status"]["filtered"][0]["keyword_matches"] == ["finale"]
    later = server.add_notification("mention", status_text="That finale, wow")
    assert [(r["filter"]["id"], r["keyword_matches"]) for r in later["status"]["filtered"]] == [
        (stored["id"], ["finale"])
    ]
    assert len(server.filters_for()) == 1  # reused
    call(http, server, "DELETE", f"{V2}/{stored['id']}", token)
    assert (
        call(http, server, "GET", f"{NOTIFICATIONS}/{note['id']}", token)["status"]["filtered"]
        == []
    )


def test_mastodon_lists_and_pushes_hide_filtered_notifications(http: requests.Session) -> None:
    receiver = Receiver()
    try:
        with DemoServer(push_retry_delays=FAST) as srv:
            token = srv.create_token()
            keys = webpush.generate_keys()
            subscribe(http, srv, token, subscription(receiver.url(), keys))
            srv.add_filter("Bikes", ["bike"], action="hide")
            note = srv.add_notification("mention", status_text=BIKES)
            assert note["status"]["filtered"][0]["filter"]["filter_action"] == "hide"
            assert listed_ids(http, srv, token) == [note["id"]]
            (delivery,) = srv.wait_for_pushes(1)
            assert delivery.notification_id == note["id"]
            message = opened(receiver.wait(1)[0], keys)
            assert "Bike lanes" in message["body"]  # the text goes out unfiltered
    finally:
        receiver.close()


def test_gotosocial_leaves_out_what_hide_filters_match(
    tmp_path: Path, http: requests.Session
) -> None:
    context, ca_file = tls_pair(tmp_path)
    receiver = Receiver(tls=context)
    try:
        with DemoServer(version="v0.19.2", push_verify=ca_file, push_retry_delays=FAST) as srv:
            token = srv.create_token()
            keys = webpush.generate_keys()
            subscribe(http, srv, token, subscription(receiver.url(), keys))
            srv.add_filter("Bikes", ["bike"], action="hide")
            srv.add_filter("Lanes", ["lanes"], action="hide", context=("home",))
            srv.add_filter("Meetups", ["meetup"], action="warn")
            hidden = srv.add_notification("mention", status_text=BIKES)
            home_only = srv.add_notification("mention", status_text="Empty lanes today")
            warned = srv.add_notification("mention", status_text="Coming to the meetup?")
            assert listed_ids(http, srv, token) == [warned["id"], home_only["id"]]
            call(http, srv, "GET", f"{NOTIFICATIONS}/{hidden['id']}", token, status=404)
            assert [r["filter"]["title"] for r in home_only["status"]["filtered"]] == ["Lanes"]
            pushes = srv.wait_for_pushes(2)
            assert [p.notification_id for p in pushes] == [home_only["id"], warned["id"]]
            time.sleep(0.1)
            assert len(srv.pushes) == 2

            # Worked out when listed: a new hide filter takes an older notification away.
            made = call(
                http,
                srv,
                "POST",
                V2,
                token,
                json={
                    "title": "No meetups",
                    "context": ["notifications"],
                    "filter_action": "hide",
                    "keywords_attributes": [{"keyword": "meetup"}],
                },
            )
            assert listed_ids(http, srv, token) == [home_only["id"]]
            call(http, srv, "PUT", f"{V2}/{made['id']}", token, json={"expires_in": 0})
            assert listed_ids(http, srv, token) == [warned["id"], home_only["id"]]
            # The filter knob hides too; every notification is still stored.
            srv.add_notification("mention", filtered_action="hide")
            assert listed_ids(http, srv, token) == [warned["id"], home_only["id"]]
            assert len(srv.notifications_for()) == 4
    finally:
        receiver.close()
