"""tootbell.mastodon.push_api against the demo instance over loopback HTTP: the JSON bodies the
server receives, the subscription it answers with, 404s, server flavours; plus the alert set and
the ``standard`` decision."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from tootbell.config import NOTIFICATION_TYPES, Settings
from tootbell.demo import DemoServer
from tootbell.mastodon import push_api
from tootbell.mastodon.client import ApiError, AuthError, MastodonClient
from tootbell.mastodon.entities import Capabilities
from tootbell.mastodon.push_api import (
    ALERT_TYPES,
    PushSubscription,
    alerts_from_settings,
    get_subscription,
    subscribe,
    supports_standard,
    unsubscribe,
    update_subscription,
)
from tootbell.mastodon.webpush import generate_keys

PATH = "/api/v1/push/subscription"
ENDPOINT = "https://relay.example/push/route-token"


@pytest.fixture
def make_client() -> Iterator[Callable[[DemoServer, str], MastodonClient]]:
    clients: list[MastodonClient] = []

    def make(server: DemoServer, token: str) -> MastodonClient:
        c = MastodonClient(server.base_url, token, timeout=(2.0, 5.0))
        clients.append(c)
        return c

    try:
        yield make
    finally:
        for c in clients:
            c.close()


@pytest.fixture
def client(
    server: DemoServer, make_client: Callable[[DemoServer, str], MastodonClient]
) -> MastodonClient:
    return make_client(server, server.create_token("demo"))


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


def last_json(server: DemoServer, method: str) -> Any:
    [*_, request] = server.requests_to(PATH, method)
    assert (request.header("Content-Type") or "").startswith("application/json")
    return json.loads(request.body)


def some_alerts() -> dict[str, bool]:
    return {"mention": True, "favourite": True, "follow": False}


# --------------------------------------------------------------------------- the calls


def test_subscribe_sends_json_with_policy_inside_data(
    server: DemoServer, client: MastodonClient
) -> None:
    keys = generate_keys()
    sub = subscribe(client, ENDPOINT, keys, alerts=some_alerts(), policy="followed", standard=True)
    body = last_json(server, "POST")
    assert body == {
        "subscription": {
            "endpoint": ENDPOINT,
            "keys": {"p256dh": keys.public_b64, "auth": keys.auth_b64},
            "standard": True,
        },
        "data": {
            "alerts": {t: t in ("mention", "favourite") for t in ALERT_TYPES},
            "policy": "followed",
        },
    }
    assert keys.private_b64 not in json.dumps(body)
    assert isinstance(sub, PushSubscription)
    assert sub.endpoint == ENDPOINT and sub.standard is True and sub.policy == "followed"
    assert sub.id and isinstance(sub.id, str)
    assert sub.server_key == server.vapid.public_b64
    assert sub.alerts["mention"] is True and sub.alerts["favourite"] is True
    assert sub.alerts["follow"] is False
    assert server.push_subscription(client._token or "") is not None


def test_get_subscription_and_404(server: DemoServer, client: MastodonClient) -> None:
    assert get_subscription(client) is None
    made = subscribe(client, ENDPOINT, generate_keys(), alerts=some_alerts(), standard=True)
    assert get_subscription(client) == made


def test_update_sends_the_full_alert_set(server: DemoServer, client: MastodonClient) -> None:
    subscribe(
        client, ENDPOINT, generate_keys(), alerts=dict.fromkeys(ALERT_TYPES, True), standard=True
    )
    updated = update_subscription(client, alerts={"follow": True}, policy="follower")
    body = last_json(server, "PUT")
    assert body == {
        "data": {"alerts": {t: t == "follow" for t in ALERT_TYPES}, "policy": "follower"}
    }
    assert updated.policy == "follower"
    assert updated.alerts["follow"] is True and updated.alerts["mention"] is False
    assert get_subscription(client) == updated


def test_update_without_subscription_is_404(client: MastodonClient) -> None:
    with pytest.raises(ApiError) as exc:
        update_subscription(client, alerts={}, policy="all")
    assert exc.value.status == 404


def test_unsubscribe_and_again(server: DemoServer, client: MastodonClient) -> None:
    subscribe(client, ENDPOINT, generate_keys(), alerts=some_alerts(), standard=True)
    unsubscribe(client)
    assert get_subscription(client) is None
    assert server.requests_to(PATH, "DELETE")
    unsubscribe(client)  # nothing left: still fine


class CannedAdapter(BaseAdapter):
    """Answers every request with one status and body, recording the requests."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__()
        self.status, self.body = status, body
        self.seen: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.seen.append(request)
        resp = requests.Response()
        resp.status_code = self.status
        resp.raw = io.BytesIO(self.body)
        resp.url = request.url or ""
        resp.request = request
        return resp

    def close(self) -> None:
        pass


def canned_client(status: int, body: bytes) -> tuple[MastodonClient, CannedAdapter]:
    adapter = CannedAdapter(status, body)
    session = requests.Session()
    session.mount("https://", adapter)
    return MastodonClient("https://social.example", "tok", session=session), adapter


def test_unsubscribe_tolerates_404_and_get_maps_it_to_none() -> None:
    client, adapter = canned_client(404, b'{"error":"Record not found"}')
    with client._session:
        unsubscribe(client)
        assert get_subscription(client) is None
    assert [r.method for r in adapter.seen] == ["DELETE", "GET"]


def test_unsubscribe_tolerates_a_2xx_without_json() -> None:
    for status in (200, 204):
        client, adapter = canned_client(status, b"")
        with client._session:
            unsubscribe(client)
        assert [r.method for r in adapter.seen] == ["DELETE"]


def test_unsubscribe_reports_server_errors(server: DemoServer, client: MastodonClient) -> None:
    server.faults.queue(PATH, "500", method="DELETE")
    with pytest.raises(ApiError) as exc:
        unsubscribe(client)
    assert exc.value.status == 500


def test_policy_is_checked_before_sending(server: DemoServer, client: MastodonClient) -> None:
    server.clear_requests()
    with pytest.raises(ValueError):
        subscribe(client, ENDPOINT, generate_keys(), alerts={}, policy="friends", standard=True)
    assert not server.requests_to(PATH)


def test_extra_alert_keys_pass_through(server: DemoServer, client: MastodonClient) -> None:
    subscribe(client, ENDPOINT, generate_keys(), alerts={"pending.reblog": True}, standard=True)
    alerts = last_json(server, "POST")["data"]["alerts"]
    assert alerts["pending.reblog"] is True
    assert set(alerts) == {*ALERT_TYPES, "pending.reblog"}


def test_errors_are_typed_and_carry_no_token(
    server: DemoServer, make_client: Callable[[DemoServer, str], MastodonClient]
) -> None:
    no_push = make_client(server, server.create_token("demo", scopes="read"))
    with pytest.raises(ApiError) as exc:
        subscribe(no_push, ENDPOINT, generate_keys(), alerts={}, standard=True)
    assert exc.value.status == 403
    bad = make_client(server, "not-a-real-token-0123456789")
    with pytest.raises(AuthError) as auth:
        subscribe(bad, ENDPOINT, generate_keys(), alerts={}, standard=True)
    assert "not-a-real-token-0123456789" not in str(auth.value)
    good = make_client(server, server.create_token("demo"))
    with pytest.raises(ApiError) as invalid:
        subscribe(good, "not a url", generate_keys(), alerts={}, standard=True)
    assert invalid.value.status == 422


# --------------------------------------------------------------------------- server flavours


def test_mastodon_4_3_ignores_standard(
    make_server: Callable[..., DemoServer],
    make_client: Callable[[DemoServer, str], MastodonClient],
) -> None:
    srv = make_server(version="4.3.0")
    c = make_client(srv, srv.create_token("demo"))
    assert supports_standard(c.capabilities()) is False
    sub = subscribe(c, ENDPOINT, generate_keys(), alerts=some_alerts(), standard=False)
    assert sub.standard is False
    assert last_json(srv, "POST")["subscription"]["standard"] is False


def test_gotosocial_keeps_favourite_from_json(
    make_server: Callable[..., DemoServer],
    make_client: Callable[[DemoServer, str], MastodonClient],
) -> None:
    srv = make_server(software="gotosocial", version="0.19.2")
    c = make_client(srv, srv.create_token("demo"))
    caps = c.capabilities()
    assert supports_standard(caps) is True
    sub = subscribe(c, ENDPOINT, generate_keys(), alerts={"favourite": True}, standard=True)
    assert sub.standard is True and sub.alerts["favourite"] is True
    updated = update_subscription(c, alerts={"favourite": True, "reblog": True}, policy="all")
    assert updated.alerts["favourite"] is True and updated.alerts["reblog"] is True
    assert sub.id == updated.id and isinstance(updated.id, str)


def test_demo_default_supports_standard(client: MastodonClient) -> None:
    assert supports_standard(client.capabilities()) is True


# --------------------------------------------------------------------------- pure parts


def caps(software: str, version: str, api: int = 0) -> Capabilities:
    return Capabilities(domain="x.example", version=version, software=software, api_mastodon=api)


@pytest.mark.parametrize(
    ("capabilities", "expected"),
    [
        (caps("mastodon", "4.3.0", 2), False),
        (caps("mastodon", "4.2.10"), False),
        (caps("mastodon", "4.4.0", 6), True),
        (caps("mastodon", "4.4.0"), True),  # api_versions missing
        (caps("mastodon", "4.5.0+glitch", 7), True),
        (caps("mastodon", "garbage", 6), True),
        (caps("mastodon", "4.4.0-beta.1"), True),
        (caps("mastodon", "5.0.0"), True),
        (caps("mastodon", "3.5.3"), False),
        (caps("gotosocial", "0.19.2"), True),
        (caps("gotosocial", "3.5.3+v0.19.2"), True),
        (caps("akkoma", "2.7.2 (compatible; Akkoma 3.13.2)"), False),
        (caps("pleroma", "2.7.2 (compatible; Pleroma 2.6.0)"), False),
        (caps("unknown", "4.4.0"), False),
    ],
)
def test_supports_standard(capabilities: Capabilities, expected: bool) -> None:
    assert supports_standard(capabilities) is expected


def test_alert_types_cover_mastodon_types() -> None:
    assert len(set(ALERT_TYPES)) == len(ALERT_TYPES)
    for t in NOTIFICATION_TYPES:
        if t != "other":
            assert t in ALERT_TYPES
    assert {"quoted_update", "annual_report", "admin.report"} <= set(ALERT_TYPES)


def test_alerts_from_settings_follow_the_switches() -> None:
    assert alerts_from_settings(Settings()) == dict.fromkeys(ALERT_TYPES, True)
    types = dict.fromkeys(NOTIFICATION_TYPES, True)
    types.update({"favourite": False, "other": False, "admin.sign_up": False})
    alerts = alerts_from_settings(Settings(types=types))
    assert set(alerts) == set(ALERT_TYPES)
    assert alerts["favourite"] is False and alerts["mention"] is True
    assert alerts["annual_report"] is False and alerts["quoted_update"] is False  # "other"
    assert alerts["admin.sign_up"] is False and alerts["admin.report"] is True


def test_response_parsing_is_lenient_where_it_can_be() -> None:
    class Host:
        host = "x.example"

    sub = push_api._subscription(
        Host(),  # type: ignore[arg-type]
        {"id": 7, "endpoint": ENDPOINT, "alerts": {"mention": True, "x": "yes"}},
    )
    assert sub == PushSubscription(
        id="7",
        endpoint=ENDPOINT,
        standard=False,
        alerts={"mention": True},
        policy="all",
        server_key="",
    )
    for bad in (None, [], {"endpoint": ENDPOINT}, {"id": True, "endpoint": ENDPOINT}, {"id": "1"}):
        with pytest.raises(ApiError):
            push_api._subscription(Host(), bad)  # type: ignore[arg-type]
