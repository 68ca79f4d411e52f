"""actions against the demo instance over loopback: dismiss (v1 per id, v2 by group, servers
without dismiss), clear all, the forward-only read marker with 409 retries, and direct
conversations (listing, paging, finding one by status, marking read)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tootbell.demo import DemoServer
from tootbell.mastodon.actions import (
    Conversation,
    DismissUnsupported,
    clear_all,
    conversation_for_status,
    conversations,
    dismiss,
    mark_conversation_read,
    mark_read,
)
from tootbell.mastodon.client import Conflict, MastodonClient
from tootbell.mastodon.entities import Marker

MARKERS = "/api/v1/markers"


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


def no_sleep(seconds: float) -> None:
    pass


def listed_ids(server: DemoServer) -> list[str]:
    return [n["id"] for n in server.notifications_for("demo")]


def marker_id(server: DemoServer) -> str | None:
    marker = server.marker()
    return None if marker is None else str(marker["last_read_id"])


def posts_to(server: DemoServer, path: str) -> int:
    return len(server.requests_to(path, "POST"))


# --------------------------------------------------------------------------- mark read


def test_mark_read_moves_the_marker_forward(server: DemoServer, client: MastodonClient) -> None:
    ids = [server.add_notification("mention")["id"] for _ in range(3)]
    server.set_marker(ids[0])
    marker = mark_read(client, ids[2], sleep=no_sleep)
    assert isinstance(marker, Marker)
    assert marker.last_read_id == ids[2]
    assert marker_id(server) == ids[2]
    posts = server.requests_to(MARKERS, "POST")
    assert len(posts) == 1
    assert b"notifications%5Blast_read_id%5D=" + ids[2].encode() in posts[0].body


def test_mark_read_sets_a_marker_never_set(server: DemoServer, client: MastodonClient) -> None:
    nid = server.add_notification("mention")["id"]
    assert server.marker() is None
    marker = mark_read(client, nid, sleep=no_sleep)
    assert marker is not None and marker.last_read_id == nid
    assert posts_to(server, MARKERS) == 1


def test_mark_read_never_moves_back(server: DemoServer, client: MastodonClient) -> None:
    server.set_marker("100")
    before = server.marker()
    # "99" is older than "100" by (length, text), though it sorts later as plain text.
    for older in ("99", "100", "099"):
        marker = mark_read(client, older, sleep=no_sleep)
        assert marker is not None and marker.last_read_id == "100"
    assert posts_to(server, MARKERS) == 0
    assert server.marker() == before


def test_mark_read_retries_a_conflict(server: DemoServer, client: MastodonClient) -> None:
    nid = server.add_notification("mention")["id"]
    server.set_marker("1")
    server.faults.queue(MARKERS, "409")  # whichever call comes first
    server.faults.queue(MARKERS, "409", count=2, method="POST")
    marker = mark_read(client, nid, sleep=no_sleep)
    assert marker is not None and marker.last_read_id == nid
    assert posts_to(server, MARKERS) == 3  # two conflicts, then the write
    # Every attempt read the marker again before writing.
    assert len(server.requests_to(MARKERS, "GET")) == 4


def test_mark_read_rechecks_after_a_conflict(server: DemoServer, client: MastodonClient) -> None:
    ids = [server.add_notification("mention")["id"] for _ in range(3)]
    server.set_marker(ids[0])
    server.faults.queue(MARKERS, "409", method="POST")

    def other_device_writes(seconds: float) -> None:
        server.set_marker(ids[2])  # the write that won the conflict went further

    marker = mark_read(client, ids[1], sleep=other_device_writes)
    assert marker is not None and marker.last_read_id == ids[2]
    assert posts_to(server, MARKERS) == 1  # only the conflicted one
    assert marker_id(server) == ids[2]


def test_mark_read_gives_up_after_repeated_conflicts(
    server: DemoServer, client: MastodonClient
) -> None:
    nid = server.add_notification("mention")["id"]
    server.faults.queue(MARKERS, "409", count=20, method="POST")
    delays: list[float] = []
    with pytest.raises(Conflict):
        mark_read(client, nid, sleep=delays.append)
    assert posts_to(server, MARKERS) == 4  # first try and three retries
    assert len(delays) == 3
    server.faults.clear()


# --------------------------------------------------------------------------- dismiss


def test_dismiss_v1_per_id(server: DemoServer, client: MastodonClient) -> None:
    a, b, c = (server.add_notification("mention")["id"] for _ in range(3))
    dismiss(client, [a, c])
    assert listed_ids(server) == [b]
    assert {r.path for r in server.requests_to("/api/v1/notifications/", "POST")} == {
        f"/api/v1/notifications/{a}/dismiss",
        f"/api/v1/notifications/{c}/dismiss",
    }
    assert server.requests_to("/api/v2/") == []


def test_dismiss_of_a_gone_notification_is_fine(server: DemoServer, client: MastodonClient) -> None:
    a = server.add_notification("mention")["id"]
    dismiss(client, [a])
    dismiss(client, [a, "99999999"])  # both already gone
    assert listed_ids(server) == []


def test_dismiss_ungrouped_key_uses_v1(server: DemoServer, client: MastodonClient) -> None:
    n = server.add_notification("mention")
    assert n["group_key"] == f"ungrouped-{n['id']}"
    dismiss(client, [n["id"]], n["group_key"])
    assert listed_ids(server) == []
    assert server.requests_to("/api/v2/") == []


def test_dismiss_group_with_v2(server: DemoServer, client: MastodonClient) -> None:
    first = server.add_notification("favourite", from_user="ana")
    status_id = first["status"]["id"]
    second = server.add_notification("favourite", from_user="bob", status_id=status_id)
    other = server.add_notification("mention")["id"]
    assert first["group_key"] == second["group_key"]
    caps = client.capabilities()
    assert caps.has_grouped_notifications
    dismiss(client, [first["id"], second["id"]], first["group_key"], caps=caps)
    assert listed_ids(server) == [other]
    assert [r.path for r in server.requests_to("/api/v2/notifications/", "POST")] == [
        f"/api/v2/notifications/{first['group_key']}/dismiss"
    ]
    assert server.requests_to("/api/v1/notifications/", "POST") == []


def test_dismiss_group_falls_back_to_v1_without_grouping(
    make_server: Callable[..., DemoServer],
) -> None:
    server = make_server(version="4.2.10")
    a = server.add_notification("favourite")["id"]
    b = server.add_notification("favourite")["id"]
    with client_for(server) as c:
        caps = c.capabilities()
        assert not caps.has_grouped_notifications
        dismiss(c, [a, b], "grouped-favourite-1-2", caps=caps)
        assert server.requests_to("/api/v2/notifications/") == []
        assert listed_ids(server) == []
        # Without capabilities the v2 call is tried and its 404 falls back.
        x = server.add_notification("favourite")["id"]
        dismiss(c, [x], "grouped-favourite-3-4")
        assert len(server.requests_to("/api/v2/notifications/", "POST")) == 1
        assert listed_ids(server) == []


def test_dismiss_unsupported_on_gotosocial(make_server: Callable[..., DemoServer]) -> None:
    server = make_server(version="0.19.2", software="gotosocial")
    nid = server.add_notification("mention")["id"]
    with client_for(server) as c:
        caps = c.capabilities()
        assert not caps.has_dismiss
        server.clear_requests()
        with pytest.raises(DismissUnsupported):
            dismiss(c, [nid], caps=caps)
        assert server.requests == []  # known up front: nothing sent
        # Probing: the 404 is told apart from "already gone" because the item is still there.
        with pytest.raises(DismissUnsupported) as info:
            dismiss(c, [nid])
        assert "Clear all" in info.value.message
        assert listed_ids(server) == [nid]
        clear_all(c)
        assert listed_ids(server) == []


def test_clear_all(server: DemoServer, client: MastodonClient) -> None:
    for _ in range(4):
        server.add_notification("mention")
    server.set_marker("1")
    before = server.marker()
    clear_all(client)
    assert listed_ids(server) == []
    assert posts_to(server, "/api/v1/notifications/clear") == 1
    assert server.marker() == before  # clearing does not touch the read marker


# --------------------------------------------------------------------------- conversations


def send_dm(server: DemoServer, text: str, from_user: str = "ana") -> dict[str, Any]:
    return server.add_notification(
        "mention", from_user=from_user, status_text=text, visibility="direct"
    )


def test_conversations_list_and_mark_read(server: DemoServer, client: MastodonClient) -> None:
    first = send_dm(server, "hello there", "ana")
    second = send_dm(server, "hi from ben", "ben")
    convs = conversations(client)
    assert len(convs) == 2
    assert all(isinstance(c, Conversation) for c in convs)
    # Most recent first.
    assert [c.last_status.id if c.last_status else None for c in convs] == [
        second["status"]["id"],
        first["status"]["id"],
    ]
    assert all(c.unread for c in convs)
    assert [a.username for a in convs[0].accounts] == ["ben"]

    found = conversation_for_status(client, first["status"]["id"])
    assert found is not None and found.last_status is not None
    assert found.last_status.id == first["status"]["id"]
    assert conversation_for_status(client, "123456789012345") is None

    read = mark_conversation_read(client, found.id)
    assert read.id == found.id and not read.unread
    unread = conversations(client, unread_only=True)
    assert [c.id for c in unread] == [convs[0].id]
    # Reading the conversation leaves the notification and the marker alone.
    assert first["id"] in listed_ids(server)
    assert server.marker() is None


def test_new_message_unreads_a_conversation(server: DemoServer, client: MastodonClient) -> None:
    send_dm(server, "one", "ana")
    (conv,) = conversations(client)
    mark_conversation_read(client, conv.id)
    assert conversations(client, unread_only=True) == []
    again = send_dm(server, "two", "ana")
    (conv2,) = conversations(client, unread_only=True)
    assert conv2.id == conv.id
    assert conv2.last_status is not None and conv2.last_status.id == again["status"]["id"]


def test_conversations_limit_and_order(server: DemoServer, client: MastodonClient) -> None:
    users = ["ana", "ben", "chloe", "mod", "eli", "fran", "gus"]
    dms = [send_dm(server, f"message {i}", user) for i, user in enumerate(users)]
    everything = conversations(client, limit=40)
    assert len(everything) == len(users)  # one conversation per correspondent
    assert len({c.id for c in everything}) == len(users)
    assert [c.last_status.id for c in everything if c.last_status] == [
        d["status"]["id"] for d in reversed(dms)
    ]
    two = conversations(client, limit=2)
    assert [c.id for c in two] == [c.id for c in everything[:2]]
    assert server.requests_to("/api/v1/conversations", "GET")[-1].param("limit") == "2"


def test_conversations_page_through_link_headers(
    server: DemoServer, client: MastodonClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tootbell.mastodon.actions as actions

    users = ["ana", "ben", "chloe", "mod", "eli"]
    dms = [send_dm(server, f"message {i}", user) for i, user in enumerate(users)]
    monkeypatch.setattr(actions, "CONVERSATIONS_PAGE", 2)
    server.clear_requests()
    convs = conversations(client, limit=40)
    assert len(convs) == len(users)
    assert len({c.id for c in convs}) == len(users)
    gets = server.requests_to("/api/v1/conversations", "GET")
    assert len(gets) in (3, 4)  # 2 + 2 + 1, and maybe one empty page
    assert all(r.param("limit") == "2" for r in gets)
    assert gets[0].param("max_id") is None
    # The cursor is the one the Link header named: the last status of the page before.
    assert gets[1].param("max_id") == dms[3]["status"]["id"]
    assert gets[2].param("max_id") == dms[1]["status"]["id"]

    # Finding one conversation pages too, and stops once found.
    server.clear_requests()
    found = conversation_for_status(client, dms[1]["status"]["id"])
    assert found is not None and found.id == convs[3].id
    assert len(server.requests_to("/api/v1/conversations", "GET")) == 2
