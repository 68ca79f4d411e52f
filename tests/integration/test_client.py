"""MastodonClient against the demo instance over real loopback HTTP: calls, paging, capability
detection, every fault the demo can script, and the token never leaking into an error."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from tootbell import __version__
from tootbell.demo import DemoServer
from tootbell.mastodon.client import (
    ApiError,
    AuthError,
    BadResponse,
    Conflict,
    MastodonClient,
    NetworkError,
    RateLimited,
    ServerError,
)

NOTIFS = "/api/v1/notifications"


@pytest.fixture
def token(server: DemoServer) -> str:
    return server.create_token("demo")


@pytest.fixture
def client(server: DemoServer, token: str) -> Iterator[MastodonClient]:
    c = MastodonClient(server.base_url, token, timeout=(2.0, 2.0))
    try:
        yield c
    finally:
        c.close()


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


def last_request(server: DemoServer, path_prefix: str) -> Any:
    return [r for r in server.requests if r.path.startswith(path_prefix)][-1]


# --------------------------------------------------------------------------- calls


def test_verify_credentials_and_headers(
    server: DemoServer, client: MastodonClient, token: str
) -> None:
    me = client.verify_credentials()
    assert me.username == "demo"
    req = last_request(server, "/api/v1/accounts/verify_credentials")
    assert req.header("Authorization") == f"Bearer {token}"
    assert req.header("User-Agent") == f"Tootbell/{__version__}"


def test_base_url_is_normalised(server: DemoServer, token: str) -> None:
    with MastodonClient(server.base_url + "/", token) as c:
        assert c.base_url == server.base_url
        assert c.verify_credentials().username == "demo"


def test_notifications_newest_first_with_rate_headers(
    server: DemoServer, client: MastodonClient
) -> None:
    assert client.notifications().items == []
    made = [server.add_notification("mention", status_text=f"n{i}") for i in range(3)]
    page = client.notifications()
    assert [n.id for n in page.items] == [m["id"] for m in reversed(made)]
    assert page.items[0].type == "mention"
    assert page.rate_remaining is not None
    assert isinstance(page.rate_reset, datetime)
    assert page.rate_reset.tzinfo is not None
    assert client.rate_limit.remaining == page.rate_remaining


def test_paging_with_link_header(server: DemoServer, client: MastodonClient) -> None:
    ids = [server.add_notification("favourite")["id"] for _ in range(10)]  # oldest first
    first = client.notifications(limit=4)
    assert [n.id for n in first.items] == ids[-1:-5:-1]
    assert first.next_max_id == ids[-4]  # oldest in the page
    assert first.prev_min_id == ids[-1]  # newest in the page

    second = client.notifications(max_id=first.next_max_id, limit=4)
    assert [n.id for n in second.items] == ids[-5:-9:-1]
    assert last_request(server, NOTIFS).param("max_id") == first.next_max_id

    # Forward paging from a cursor: the page just newer than it, still newest first.
    forward = client.notifications(min_id=ids[1], limit=3)
    assert [n.id for n in forward.items] == [ids[4], ids[3], ids[2]]
    req = last_request(server, NOTIFS)
    assert req.param("min_id") == ids[1]
    assert req.param("limit") == "3"

    newest = client.notifications(min_id=ids[-1])
    assert newest.items == []
    assert newest.next_max_id is None and newest.prev_min_id is None


def test_paging_until_empty_collects_everything(server: DemoServer, client: MastodonClient) -> None:
    ids = [server.add_notification("mention")["id"] for _ in range(7)]
    seen: list[str] = []
    max_id: str | None = None
    while True:
        page = client.notifications(max_id=max_id, limit=3)
        if not page.items:
            break
        seen.extend(n.id for n in page.items)
        max_id = page.next_max_id
        if max_id is None:
            break
    assert seen == list(reversed(ids))


def test_types_filter(server: DemoServer, client: MastodonClient) -> None:
    m = server.add_notification("mention")
    server.add_notification("favourite")
    f = server.add_notification("follow")
    page = client.notifications(types=["mention", "follow"])
    assert [n.id for n in page.items] == [f["id"], m["id"]]
    assert last_request(server, NOTIFS).query.get("types[]") == ["mention", "follow"]


def test_get_dismiss_clear(server: DemoServer, client: MastodonClient) -> None:
    a = server.add_notification("mention", status_text="hello")
    b = server.add_notification("reblog")
    one = client.notification(a["id"])
    assert one.id == a["id"]
    assert one.status is not None
    client.dismiss_notification(a["id"])
    assert [n.id for n in client.notifications().items] == [b["id"]]
    client.clear_notifications()
    assert client.notifications().items == []
    with pytest.raises(ApiError) as info:
        client.notification(a["id"])
    assert info.value.status == 404


def test_unread_count_and_markers(server: DemoServer, client: MastodonClient) -> None:
    ids = [server.add_notification("mention")["id"] for _ in range(4)]
    assert client.notifications_marker() is None  # never set
    server.set_marker(ids[1])
    marker = client.notifications_marker()
    assert marker is not None
    assert marker.last_read_id == ids[1]
    assert client.unread_count() == 2

    moved = client.set_notifications_marker(ids[3])
    assert moved.last_read_id == ids[3]
    assert moved.version > marker.version
    assert client.unread_count() == 0
    req = last_request(server, "/api/v1/markers")
    assert req.method == "POST"


def test_marker_conflict_is_retried(server: DemoServer, client: MastodonClient) -> None:
    nid = server.add_notification("mention")["id"]
    server.faults.queue("/api/v1/markers", "409", count=2, method="POST")
    assert client.set_notifications_marker(nid).last_read_id == nid
    posts = [r for r in server.requests if r.path == "/api/v1/markers" and r.method == "POST"]
    assert len(posts) == 3


def test_marker_conflict_gives_up(server: DemoServer, client: MastodonClient) -> None:
    nid = server.add_notification("mention")["id"]
    server.faults.queue("/api/v1/markers", "409", count=10, method="POST")
    with pytest.raises(Conflict) as info:
        client.set_notifications_marker(nid)
    assert info.value.status == 409
    posts = [r for r in server.requests if r.path == "/api/v1/markers" and r.method == "POST"]
    assert len(posts) == 4  # the first try and three retries


# --------------------------------------------------------------------------- capabilities


def test_capabilities_mastodon_45(make_server: Callable[..., DemoServer]) -> None:
    srv = make_server(version="4.5.0")
    with MastodonClient(srv.base_url, srv.create_token()) as c:
        caps = c.capabilities()
        assert caps.software == "mastodon"
        assert caps.api_mastodon == 7
        assert caps.has_unread_count and caps.has_grouped_notifications and caps.has_dismiss
        assert caps.has_v2_filters
        assert caps.vapid_key
        assert c.unread_count() == 0
    assert [r.path for r in srv.requests if "instance" in r.path] == ["/api/v2/instance"]


def test_capabilities_mastodon_40(make_server: Callable[..., DemoServer]) -> None:
    srv = make_server(version="4.0.2")
    with MastodonClient(srv.base_url, srv.create_token()) as c:
        caps = c.capabilities()
        assert caps.software == "mastodon"
        assert caps.api_mastodon == 0
        assert caps.has_v2_filters
        assert not caps.has_unread_count
        assert not caps.has_grouped_notifications
        assert c.unread_count() is None  # no endpoint before 4.3


def test_capabilities_fall_back_to_v1_instance(make_server: Callable[..., DemoServer]) -> None:
    srv = make_server(version="3.5.3")
    with MastodonClient(srv.base_url, srv.create_token()) as c:
        caps = c.capabilities()
    assert caps.software == "mastodon"
    assert caps.max_notification_limit == 30
    assert not caps.has_v2_filters
    assert [r.path for r in srv.requests if "instance" in r.path] == [
        "/api/v2/instance",
        "/api/v1/instance",
    ]


def test_capabilities_gotosocial(make_server: Callable[..., DemoServer]) -> None:
    srv = make_server(version="0.19.2", software="gotosocial")
    with MastodonClient(srv.base_url, srv.create_token()) as c:
        caps = c.capabilities()
        assert caps.software == "gotosocial"
        assert not caps.has_dismiss
        assert not caps.has_unread_count
        assert caps.has_v2_filters
        assert c.unread_count() is None


# --------------------------------------------------------------------------- avatars


def test_get_bytes_same_origin_sends_token(
    server: DemoServer, client: MastodonClient, token: str
) -> None:
    me = client.verify_credentials()
    data = client.get_bytes(me.avatar_static, 1_000_000)
    assert data.startswith(b"\x89PNG")
    req = [r for r in server.requests if r.method == "GET"][-1]
    assert req.header("Authorization") == f"Bearer {token}"


def test_get_bytes_other_origin_gets_no_token(
    server: DemoServer, client: MastodonClient, make_server: Callable[..., DemoServer]
) -> None:
    other = make_server()
    avatar = MastodonClient(other.base_url, other.create_token())
    try:
        url = avatar.verify_credentials().avatar_static
    finally:
        avatar.close()
    assert url.startswith(other.base_url)
    before = len(other.requests)
    assert client.get_bytes(url, 1_000_000).startswith(b"\x89PNG")
    fetched = other.requests[before:]
    assert fetched
    assert all(r.header("Authorization") is None for r in fetched)
    assert all(r.header("User-Agent") == f"Tootbell/{__version__}" for r in fetched)


def test_get_bytes_too_large(client: MastodonClient) -> None:
    url = client.verify_credentials().avatar_static
    with pytest.raises(ApiError, match="too large"):
        client.get_bytes(url, 10)


def test_get_bytes_refuses_other_schemes(client: MastodonClient) -> None:
    with pytest.raises(ApiError):
        client.get_bytes("file:///etc/passwd", 10)


# --------------------------------------------------------------------------- faults


def test_500_and_503(server: DemoServer, client: MastodonClient) -> None:
    server.faults.queue(NOTIFS, "500")
    with pytest.raises(ServerError) as info:
        client.notifications()
    assert info.value.status == 500
    assert "error 500" in info.value.message
    server.faults.queue(NOTIFS, "503")
    with pytest.raises(ServerError) as info2:
        client.notifications()
    assert info2.value.status == 503
    assert client.notifications().items == []  # recovered


def test_429_with_reset(server: DemoServer, client: MastodonClient) -> None:
    server.faults.queue(NOTIFS, "429", reset_in=30)
    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as info:
        client.notifications()
    err = info.value
    assert err.status == 429
    assert err.reset_at is not None
    assert before + timedelta(seconds=25) <= err.reset_at <= before + timedelta(seconds=35)
    assert "slow down" in err.message


def test_nothing_is_sent_to_the_server_before_its_429_reset(
    server: DemoServer, client: MastodonClient
) -> None:
    server.faults.queue(NOTIFS, "429", reset_in=0.5)
    with pytest.raises(RateLimited) as first:
        client.notifications()
    asked = len(server.requests)
    for call in (client.notifications, client.unread_count, client.notifications_marker):
        with pytest.raises(RateLimited) as info:
            call()
        assert info.value.reset_at == first.value.reset_at
        assert info.value.status is None  # decided here, not answered by the server
    assert len(server.requests) == asked
    reset_at = first.value.reset_at
    assert reset_at is not None
    wait = (reset_at - datetime.now(UTC)).total_seconds()
    time.sleep(max(0.0, wait) + 0.05)  # the reset is a moment on the clock, nothing to wait on
    assert client.notifications().items == []
    assert len(server.requests) == asked + 1


def test_401_is_auth_error(server: DemoServer, client: MastodonClient) -> None:
    server.faults.queue(NOTIFS, "401")
    with pytest.raises(AuthError) as info:
        client.notifications()
    assert info.value.status == 401
    assert "Sign in again" in info.value.message


def test_bad_token_is_auth_error_with_server_words(server: DemoServer) -> None:
    with MastodonClient(server.base_url, "not-a-real-token") as c, pytest.raises(AuthError) as info:
        c.verify_credentials()
    assert info.value.detail
    assert info.value.detail in info.value.message


def test_garbage_is_bad_response(server: DemoServer, client: MastodonClient) -> None:
    server.faults.queue(NOTIFS, "garbage")
    with pytest.raises(BadResponse):
        client.notifications()


def test_cut_is_bad_response(server: DemoServer, client: MastodonClient) -> None:
    server.add_notification("mention")
    server.faults.queue(NOTIFS, "cut")
    with pytest.raises(BadResponse) as info:
        client.notifications()
    assert "cut off" in info.value.message or "could not" in info.value.message


def test_slow_beyond_timeout_is_network_error(server: DemoServer, token: str) -> None:
    server.faults.queue(NOTIFS, "slow", delay=1.5)
    with MastodonClient(server.base_url, token, timeout=(2.0, 0.3)) as c:
        with pytest.raises(NetworkError) as info:
            c.notifications()
        assert info.value.status is None
        assert "took too long" in info.value.message
        host = server.base_url.split("://", 1)[1]
        assert info.value.message.startswith(f"Could not reach {host}")


def test_slow_within_timeout_is_fine(server: DemoServer, token: str) -> None:
    server.faults.queue(NOTIFS, "slow", delay=0.2)
    with MastodonClient(server.base_url, token, timeout=(2.0, 3.0)) as c:
        assert c.notifications().items == []


def test_drop_is_network_error(server: DemoServer, client: MastodonClient) -> None:
    server.faults.queue(NOTIFS, "drop")
    with pytest.raises(NetworkError) as info:
        client.notifications()
    assert "closed" in info.value.message


def test_refused_is_network_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        MastodonClient(f"http://127.0.0.1:{port}", "tok") as c,
        pytest.raises(NetworkError) as info,
    ):
        c.verify_credentials()
    assert info.value.message == f"Could not reach 127.0.0.1:{port}: the connection was refused"


def test_unknown_name_is_network_error() -> None:
    with (
        MastodonClient("https://tootbell-test.invalid", "tok", timeout=(3, 3)) as c,
        pytest.raises(NetworkError) as info,
    ):
        c.verify_credentials()
    assert info.value.message.startswith("Could not reach tootbell-test.invalid")


def test_server_down(server: DemoServer, client: MastodonClient) -> None:
    server.faults.down = True
    try:
        with pytest.raises(NetworkError):
            client.verify_credentials()
    finally:
        server.faults.down = False
    assert client.verify_credentials().username == "demo"


def test_token_never_in_errors(server: DemoServer, token: str) -> None:
    errors: list[BaseException] = []
    with MastodonClient(server.base_url, token, timeout=(2.0, 0.3)) as c:
        for kind in ("500", "503", "429", "401", "409", "garbage", "cut", "slow", "drop"):
            server.faults.queue("/api/v1/", kind, delay=1.0)
            try:
                c.notifications(min_id="1")
            except ApiError as e:
                errors.append(e)
            server.faults.clear()
        server.faults.queue("/api/v1/markers", "409", count=10)
        try:
            c.set_notifications_marker("1")
        except ApiError as e:
            errors.append(e)
    with MastodonClient(server.base_url, token + "x") as bad:
        try:
            bad.verify_credentials()
        except ApiError as e:
            errors.append(e)
    assert len(errors) == 11
    for e in errors:
        for text in (
            str(e),
            repr(e),
            getattr(e, "message", ""),
            getattr(e, "detail", ""),
            *map(str, e.args),
        ):
            assert token not in text
    assert token not in repr(MastodonClient(server.base_url, token))


# --------------------------------------------------------------------------- odd bodies


class CannedAdapter(BaseAdapter):
    """Answers every request with one canned JSON body (for shapes the demo never sends)."""

    def __init__(self, body: object, status: int = 200) -> None:
        super().__init__()
        self.body = body
        self.status = status

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        resp = requests.Response()
        resp.status_code = self.status
        resp._content = json.dumps(self.body).encode()
        resp.headers["Content-Type"] = "application/json"
        resp.url = request.url or ""
        resp.request = request
        return resp

    def close(self) -> None:
        pass


def canned(body: object, status: int = 200) -> requests.Session:
    s = requests.Session()
    s.mount("https://", CannedAdapter(body, status))
    return s


def test_unparseable_items_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    good = {"id": "2", "type": "mention", "account": {"id": "9", "username": "ana"}}
    body = [good, {"id": "1"}, {"type": "follow"}, "nonsense", 7]
    with canned(body) as s, MastodonClient("https://m.example", "tok", session=s) as c:
        page = c.notifications()
    assert [n.id for n in page.items] == ["2"]
    skipped = [r for r in caplog.records if "Skipped" in r.getMessage()]
    assert len(skipped) == 4
    assert all(r.levelname == "WARNING" for r in skipped)
    assert any("id=1" in r.getMessage() for r in skipped)


@pytest.mark.parametrize("body", [{"error": "x"}, {"notifications": []}, "text", None])
def test_notifications_not_a_list_is_bad_response(body: object) -> None:
    with (
        canned(body) as s,
        MastodonClient("https://m.example", "tok", session=s) as c,
        pytest.raises(BadResponse),
    ):
        c.notifications()


def test_403_naming_the_token_is_auth_error() -> None:
    with (
        canned({"error": "This access token was revoked"}, 403) as s,
        MastodonClient("https://m.example", "tok", session=s) as c,
        pytest.raises(AuthError),
    ):
        c.verify_credentials()
    with (
        canned({"error": "This action is outside the authorized scopes"}, 403) as s,
        MastodonClient("https://m.example", "tok", session=s) as c,
        pytest.raises(ApiError) as info,
    ):
        c.verify_credentials()
    assert type(info.value) is ApiError
    assert info.value.status == 403
    assert "outside the authorized scopes" in info.value.message


def test_server_words_are_scrubbed_and_short() -> None:
    tok = "SECRETTOKEN123"
    long = f"Bearer {tok} " + "x" * 500
    with (
        canned({"error": long}, 422) as s,
        MastodonClient("https://m.example", tok, session=s) as c,
        pytest.raises(ApiError) as info,
    ):
        c.verify_credentials()
    assert tok not in info.value.message
    assert len(info.value.detail) <= 200
