"""Direct conversations on the demo instance over real HTTP, and the other read-state calls
around them: grouped dismiss (v2) and the markers other clients move."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tootbell.demo import DemoServer
from tootbell.mastodon.entities import Status

CONVERSATIONS = "/api/v1/conversations"


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


def dm(srv: DemoServer, sender: str, text: str = "psst", **kwargs: Any) -> dict[str, Any]:
    note: dict[str, Any] = srv.add_notification(
        "mention", from_user=sender, visibility="direct", status_text=text, **kwargs
    )
    return note


# --------------------------------------------------------------------------- conversations


def test_direct_messages_make_and_unread_conversations(
    server: DemoServer, http: requests.Session
) -> None:
    token = server.create_token()
    assert call(http, server, "GET", CONVERSATIONS, token) == []
    first = dm(server, "ben", "Can you send me the slides?")
    server.add_notification("mention", from_user="ben")  # public: no conversation
    (conv,) = call(http, server, "GET", CONVERSATIONS, token)
    assert conv["unread"] is True
    assert [a["acct"] for a in conv["accounts"]] == ["ben@bikes.example"]
    assert conv["last_status"]["id"] == first["status"]["id"]
    assert conv["last_status"]["visibility"] == "direct"
    assert Status.from_json(conv["last_status"]).visibility == "direct"
    assert server.conversations_for() == [conv]

    # Reading the conversation leaves the notification and the marker alone.
    read = call(http, server, "POST", f"{CONVERSATIONS}/{conv['id']}/read", token)
    assert read == dict(conv, unread=False)
    assert server.conversations_for()[0]["unread"] is False
    assert first["id"] in [n["id"] for n in server.notifications_for()]
    assert server.marker() is None

    # The next message from the same person unreads the same conversation.
    second = dm(server, "ben", "Still there?")
    (again,) = server.conversations_for()
    assert again["id"] == conv["id"] and again["unread"] is True
    assert again["last_status"]["id"] == second["status"]["id"]

    # Someone else starts a conversation of their own; newest first.
    third = dm(server, "chloe", "Hi!")
    convs = call(http, server, "GET", CONVERSATIONS, token)
    assert [c["last_status"]["id"] for c in convs] == [
        third["status"]["id"],
        second["status"]["id"],
    ]
    assert [a["username"] for a in convs[0]["accounts"]] == ["chloe"]

    # Conversations belong to their user.
    alice = server.create_token("alice")
    assert call(http, server, "GET", CONVERSATIONS, alice) == []
    call(http, server, "POST", f"{CONVERSATIONS}/{conv['id']}/read", alice, status=404)
    dm(server, "ben", "Hi Alice", username="alice")
    assert len(server.conversations_for("alice")) == 1 and len(server.conversations_for()) == 2


def test_delete_and_unknown_conversations(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    dm(server, "ana")
    (conv,) = server.conversations_for()
    assert call(http, server, "DELETE", f"{CONVERSATIONS}/{conv['id']}", token) == {}
    assert call(http, server, "GET", CONVERSATIONS, token) == []
    call(http, server, "DELETE", f"{CONVERSATIONS}/{conv['id']}", token, status=404)
    missing = call(http, server, "POST", f"{CONVERSATIONS}/{conv['id']}/read", token, status=404)
    assert missing == {"error": "Record not found"}
    assert len(server.notifications_for()) == 1  # the mention stays
    dm(server, "ana", "me again")
    (fresh,) = server.conversations_for()
    assert fresh["id"] != conv["id"] and fresh["unread"] is True


def test_unread_route_from_4_3(http: requests.Session) -> None:
    with DemoServer(version="4.3.0") as srv:
        token = srv.create_token()
        dm(srv, "ana")
        cid = srv.conversations_for()[0]["id"]
        call(http, srv, "POST", f"{CONVERSATIONS}/{cid}/read", token)
        assert call(http, srv, "POST", f"{CONVERSATIONS}/{cid}/unread", token)["unread"] is True
    with DemoServer(version="4.2.0") as srv:
        token = srv.create_token()
        dm(srv, "ana")
        cid = srv.conversations_for()[0]["id"]
        call(http, srv, "POST", f"{CONVERSATIONS}/{cid}/unread", token, status=404)


def test_pages_and_link_header(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    made = [dm(server, f"pen{i}@pals.example", f"note {i}") for i in range(45)]
    last_ids = [n["status"]["id"] for n in reversed(made)]  # newest first
    r = http.get(server.base_url + CONVERSATIONS, headers=bearer(token), timeout=5)
    page = r.json()
    assert [c["last_status"]["id"] for c in page] == last_ids[:20]  # default 20
    nxt = parse_qs(urlsplit(r.links["next"]["url"]).query)
    prev = parse_qs(urlsplit(r.links["prev"]["url"]).query)
    assert nxt == {"max_id": [last_ids[19]]} and prev == {"min_id": [last_ids[0]]}

    r = http.get(server.base_url + CONVERSATIONS, headers=bearer(token), params={"limit": 100})
    assert len(r.json()) == 40  # at most 40
    assert parse_qs(urlsplit(r.links["next"]["url"]).query) == {
        "limit": ["100"],
        "max_id": [last_ids[39]],
    }
    rest = http.get(r.links["next"]["url"], headers=bearer(token), timeout=5)
    assert [c["last_status"]["id"] for c in rest.json()] == last_ids[40:]
    assert "next" not in rest.links and "prev" in rest.links  # a short page is the last

    newer = call(
        http, server, "GET", CONVERSATIONS, token, params={"min_id": last_ids[10], "limit": 3}
    )
    assert [c["last_status"]["id"] for c in newer] == last_ids[7:10]
    since = call(
        http, server, "GET", CONVERSATIONS, token, params={"since_id": last_ids[10], "limit": 3}
    )
    assert [c["last_status"]["id"] for c in since] == last_ids[:3]
    r = http.get(
        server.base_url + CONVERSATIONS, headers=bearer(token), params={"min_id": last_ids[0]}
    )
    assert r.json() == [] and "Link" not in r.headers


def test_conversation_scopes(server: DemoServer, http: requests.Session) -> None:
    dm(server, "ana")
    cid = server.conversations_for()[0]["id"]
    reader = server.create_token(scopes="read:statuses")
    writer = server.create_token(scopes="write:conversations")
    notes_only = server.create_token(scopes="read:notifications write:statuses")
    assert len(call(http, server, "GET", CONVERSATIONS, reader)) == 1
    call(http, server, "GET", CONVERSATIONS, notes_only, status=403)
    call(http, server, "GET", CONVERSATIONS, writer, status=403)
    call(http, server, "POST", f"{CONVERSATIONS}/{cid}/read", reader, status=403)
    call(http, server, "POST", f"{CONVERSATIONS}/{cid}/read", notes_only, status=403)
    assert call(http, server, "POST", f"{CONVERSATIONS}/{cid}/read", writer)["unread"] is False
    call(http, server, "DELETE", f"{CONVERSATIONS}/{cid}", reader, status=403)
    assert call(http, server, "DELETE", f"{CONVERSATIONS}/{cid}", writer) == {}
    r = http.get(server.base_url + CONVERSATIONS, timeout=5)
    assert r.status_code == 401


def test_held_messages_and_filter_results(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    dm(server, "dee", "Hi! We have not met", policy_filtered=True)
    assert server.conversations_for() == []  # held by the notification policy
    server.add_filter("Slides", ["slides"], action="warn", context=("thread",))
    dm(server, "ana", "Send me the slides?")
    (conv,) = call(http, server, "GET", CONVERSATIONS, token)
    results = conv["last_status"]["filtered"]
    assert [(r["filter"]["title"], r["keyword_matches"]) for r in results] == [
        ("Slides", ["slides"])
    ]


def test_gotosocial_conversations(http: requests.Session) -> None:
    with DemoServer(version="v0.19.2") as srv:
        token = srv.create_token()
        note = dm(srv, "ben")
        (conv,) = call(http, srv, "GET", CONVERSATIONS, token)
        assert len(conv["id"]) == 26  # ULID
        assert conv["last_status"]["id"] == note["status"]["id"]
        assert (
            call(http, srv, "POST", f"{CONVERSATIONS}/{conv['id']}/read", token)["unread"] is False
        )
        call(http, srv, "POST", f"{CONVERSATIONS}/{conv['id']}/unread", token, status=404)
        assert call(http, srv, "DELETE", f"{CONVERSATIONS}/{conv['id']}", token) == {}


# --------------------------------------------------------------------------- grouped dismiss


def test_group_dismiss_removes_the_whole_group(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    first = server.add_notification("favourite", from_user="ana")
    created = datetime.fromisoformat(first["created_at"].replace("Z", "+00:00"))
    sid = first["status"]["id"]
    second = server.add_notification(
        "favourite", from_user="ben", status_id=sid, created_at=created
    )
    assert second["group_key"] == first["group_key"]
    other = server.add_notification("mention")
    path = f"/api/v2/notifications/{first['group_key']}/dismiss"
    assert call(http, server, "POST", path, token) == {}
    assert [n["id"] for n in server.notifications_for()] == [other["id"]]
    call(http, server, "POST", path, token, status=404)  # nothing has that key any more

    ungrouped = f"/api/v2/notifications/ungrouped-{other['id']}/dismiss"
    reader = server.create_token(scopes="read")
    call(http, server, "POST", ungrouped, reader, status=403)
    assert call(http, server, "POST", ungrouped, token) == {}
    assert server.notifications_for() == []
    missing = call(
        http, server, "POST", "/api/v2/notifications/grouped-x/dismiss", token, status=404
    )
    assert missing == {"error": "Record not found"}


@pytest.mark.parametrize("version", ["4.2.0", "v0.19.2"])
def test_group_dismiss_is_missing_before_4_3_and_on_gotosocial(
    version: str, http: requests.Session
) -> None:
    with DemoServer(version=version) as srv:
        token = srv.create_token()
        note = srv.add_notification("mention")
        path = f"/api/v2/notifications/ungrouped-{note['id']}/dismiss"
        call(http, srv, "POST", path, token, status=404)
        assert len(srv.notifications_for()) == 1


# --------------------------------------------------------------------------- markers


def test_another_client_moving_the_marker_bumps_its_version(
    server: DemoServer, http: requests.Session
) -> None:
    token = server.create_token()
    url = server.base_url + "/api/v1/markers"
    mine = http.post(url, headers=bearer(token), data={"notifications[last_read_id]": "100"})
    assert mine.json()["notifications"]["version"] == 0
    theirs = server.set_marker("105")  # a phone read further
    assert theirs["last_read_id"] == "105" and theirs["version"] == 1
    got = call(
        http, server, "GET", "/api/v1/markers", token, params={"timeline[]": "notifications"}
    )
    assert got["notifications"] == theirs == server.marker()
    assert server.set_marker("105")["version"] == 1  # the same position is no change

    server.faults.queue("/api/v1/markers", "409", method="POST")
    conflict = http.post(url, headers=bearer(token), data={"notifications[last_read_id]": "110"})
    assert conflict.status_code == 409
    assert conflict.json() == {"error": "Conflict during update, please try again"}
    assert server.marker() == theirs
    retried = http.post(url, headers=bearer(token), data={"notifications[last_read_id]": "110"})
    assert retried.status_code == 200 and retried.json()["notifications"]["version"] == 2
