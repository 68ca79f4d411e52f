"""The demo instance over real HTTP: Mastodon semantics, OAuth with PKCE, faults, poses."""

from __future__ import annotations

import base64
import hashlib
import secrets
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from tootbell.demo import SCOPES, DemoServer
from tootbell.mastodon.entities import Capabilities, Notification, id_key

ALL_TYPES = (
    "mention",
    "status",
    "reblog",
    "favourite",
    "follow",
    "follow_request",
    "poll",
    "update",
    "quote",
    "admin.sign_up",
    "admin.report",
    "severed_relationships",
    "moderation_warning",
    "annual_report",
)


@pytest.fixture
def server() -> Iterator[DemoServer]:
    with DemoServer() as srv:
        yield srv


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def get_json(
    http: requests.Session, server: DemoServer, path: str, token: str, **params: Any
) -> Any:
    r = http.get(server.base_url + path, headers=bearer(token), params=params, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# --------------------------------------------------------------------------- lifecycle


def test_binds_ephemeral_port_and_stops_fast() -> None:
    srv = DemoServer()
    assert srv.base_url == f"http://127.0.0.1:{srv.port}" and srv.port > 0
    srv.start()
    t0 = time.monotonic()
    srv.stop()
    srv.stop()  # idempotent
    assert time.monotonic() - t0 < 1.0
    assert not [t for t in threading.enumerate() if t.name.startswith("tootbell-demo-server")]


def test_stop_closes_keep_alive_connections(http: requests.Session) -> None:
    srv = DemoServer()
    srv.start()
    assert http.get(srv.base_url + "/api/v1/instance", timeout=5).status_code == 200
    srv.stop()
    with pytest.raises(requests.ConnectionError):
        http.get(srv.base_url + "/api/v1/instance", timeout=2)


def test_unknown_path_is_404_record_not_found(server: DemoServer, http: requests.Session) -> None:
    r = http.get(server.base_url + "/api/v1/nope", timeout=5)
    assert r.status_code == 404
    assert r.json() == {"error": "Record not found"}


# --------------------------------------------------------------------------- instance and poses


def test_instance_v1_and_v2(server: DemoServer, http: requests.Session) -> None:
    v2 = http.get(server.base_url + "/api/v2/instance", timeout=5).json()
    assert v2["version"] == "4.5.0"
    assert v2["api_versions"] == {"mastodon": 7}
    assert v2["configuration"]["urls"]["streaming"] == f"ws://127.0.0.1:{server.port}"
    assert v2["configuration"]["vapid"]["public_key"]
    caps = Capabilities.from_instance_json(v2, v2=True)
    assert caps.software == "mastodon" and caps.has_unread_count and caps.api_mastodon == 7
    v1 = http.get(server.base_url + "/api/v1/instance", timeout=5).json()
    assert v1["urls"]["streaming_api"].startswith("ws://")
    assert Capabilities.from_instance_json(v1, v2=False).version == "4.5.0"


def test_vapid_key_is_a_p256_point(server: DemoServer, http: requests.Session) -> None:
    v2 = http.get(server.base_url + "/api/v2/instance", timeout=5).json()
    key = v2["configuration"]["vapid"]["public_key"]
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65 and raw[0] == 4
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)  # raises if not on the curve


def test_gotosocial_pose(http: requests.Session) -> None:
    with DemoServer(version="v0.19.2") as srv:
        assert srv.software == "gotosocial"
        token = srv.create_token()
        note = srv.add_notification("mention")
        assert len(note["id"]) == 26  # ULID
        assert "group_key" not in note
        base = srv.base_url
        r = http.post(f"{base}/api/v1/notifications/{note['id']}/dismiss", headers=bearer(token))
        assert r.status_code == 404
        r = http.get(f"{base}/api/v1/notifications/unread_count", headers=bearer(token))
        assert r.status_code == 404
        v2 = http.get(f"{base}/api/v2/instance", timeout=5).json()
        assert v2["configuration"]["urls"]["streaming"].startswith("wss://")
        assert "api_versions" not in v2
        caps = Capabilities.from_instance_json(v2, v2=True)
        assert caps.software == "gotosocial" and not caps.has_dismiss
        # clear and list still work
        assert len(get_json(http, srv, "/api/v1/notifications", token)) == 1
        r = http.post(f"{base}/api/v1/notifications/clear", headers=bearer(token))
        assert r.status_code == 200


def test_gotosocial_hides_hide_filtered_notifications(http: requests.Session) -> None:
    with DemoServer(version="v0.19.2") as srv:
        token = srv.create_token()
        srv.add_notification("mention", filtered_action="hide")
        warned = srv.add_notification("mention", filtered_action="warn")
        items = get_json(http, srv, "/api/v1/notifications", token)
        assert [n["id"] for n in items] == [warned["id"]]


def test_old_mastodon_and_akkoma_poses(http: requests.Session) -> None:
    with DemoServer(version="4.0.2") as srv:
        token = srv.create_token()
        for _ in range(35):
            srv.add_notification("follow")
        assert len(get_json(http, srv, "/api/v1/notifications", token)) == 15
        assert len(get_json(http, srv, "/api/v1/notifications", token, limit=80)) == 30
        v2 = http.get(srv.base_url + "/api/v2/instance", timeout=5).json()
        assert "api_versions" not in v2 and "vapid" not in v2["configuration"]
        r = http.get(srv.base_url + "/api/v1/notifications/unread_count", headers=bearer(token))
        assert r.status_code == 404
        srv.set_version("2.7.0 (compatible; Akkoma 3.10)")
        assert srv.software == "akkoma"
        assert http.get(srv.base_url + "/api/v2/instance", timeout=5).status_code == 404
        v1 = http.get(srv.base_url + "/api/v1/instance", timeout=5).json()
        assert Capabilities.from_instance_json(v1, v2=False).software == "akkoma"
        item = get_json(http, srv, "/api/v1/notifications", token, limit=1)[0]
        assert item["pleroma"] == {"is_seen": False, "is_muted": False}


# --------------------------------------------------------------------------- auth


def test_bad_missing_and_revoked_tokens_get_401(server: DemoServer, http: requests.Session) -> None:
    base = server.base_url
    token = server.create_token()
    assert get_json(http, server, "/api/v1/accounts/verify_credentials", token)["acct"] == "demo"
    calls = [
        ("GET", "/api/v1/accounts/verify_credentials"),
        ("GET", "/api/v1/notifications"),
        ("GET", "/api/v1/notifications/unread_count"),
        ("POST", "/api/v1/notifications/clear"),
        ("GET", "/api/v1/markers"),
    ]
    server.revoke_all_tokens()
    for headers in ({}, bearer("nonsense"), bearer(token)):
        for method, path in calls:
            r = http.request(method, base + path, headers=headers, timeout=5)
            assert r.status_code == 401, (method, path, headers)
            assert r.json() == {"error": "The access token is invalid"}


def test_scopes_are_checked(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token(scopes="read:accounts")
    r = http.get(server.base_url + "/api/v1/notifications", headers=bearer(token), timeout=5)
    assert r.status_code == 403
    read_all = server.create_token(scopes="read")
    assert get_json(http, server, "/api/v1/notifications", read_all) == []


def test_each_user_has_own_notifications(server: DemoServer, http: requests.Session) -> None:
    alice = server.create_token("alice")
    server.add_notification("mention", username="alice")
    server.add_notification("follow")
    me = get_json(http, server, "/api/v1/accounts/verify_credentials", alice)
    assert me["username"] == "alice"
    items = get_json(http, server, "/api/v1/notifications", alice)
    assert [n["type"] for n in items] == ["mention"]
    assert "@<span>alice</span>" in items[0]["status"]["content"]
    assert [n["type"] for n in server.notifications_for()] == ["follow"]


# --------------------------------------------------------------------------- paging


def test_min_id_repeat_until_empty_gets_every_item_once(
    server: DemoServer, http: requests.Session
) -> None:
    token = server.create_token()
    created = [server.add_notification("favourite")["id"] for _ in range(23)]
    seen: list[str] = []
    cursor = created[2]  # start after the third
    pages = 0
    while True:
        page = get_json(http, server, "/api/v1/notifications", token, min_id=cursor, limit=5)
        if not page:
            break
        ids = [n["id"] for n in page]
        assert ids == sorted(ids, key=id_key, reverse=True)  # newest first
        seen.extend(reversed(ids))
        cursor = ids[0]
        pages += 1
        if pages == 2:  # new arrivals while paging are picked up too
            created.append(server.add_notification("mention")["id"])
    assert seen == created[3:]
    assert pages == 5


def test_min_id_returns_the_page_immediately_newer(
    server: DemoServer, http: requests.Session
) -> None:
    token = server.create_token()
    ids = [server.add_notification("follow")["id"] for _ in range(10)]
    page = get_json(http, server, "/api/v1/notifications", token, min_id=ids[1], limit=3)
    assert [n["id"] for n in page] == [ids[4], ids[3], ids[2]]


def test_since_id_returns_newest_page_and_skips(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    ids = [server.add_notification("follow")["id"] for _ in range(10)]
    page = get_json(http, server, "/api/v1/notifications", token, since_id=ids[1], limit=3)
    assert [n["id"] for n in page] == [ids[9], ids[8], ids[7]]


def test_max_id_and_link_headers(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    ids = [server.add_notification("mention")["id"] for _ in range(6)]
    r = http.get(
        server.base_url + "/api/v1/notifications",
        headers=bearer(token),
        params={"limit": 2, "max_id": ids[4], "types[]": ["mention", "follow"]},
        timeout=5,
    )
    assert [n["id"] for n in r.json()] == [ids[3], ids[2]]
    nxt = parse_qs(urlsplit(r.links["next"]["url"]).query)
    prev = parse_qs(urlsplit(r.links["prev"]["url"]).query)
    assert nxt == {"limit": ["2"], "types[]": ["mention", "follow"], "max_id": [ids[2]]}
    assert prev == {"limit": ["2"], "types[]": ["mention", "follow"], "min_id": [ids[3]]}
    # Following "next" continues downwards.
    older = http.get(r.links["next"]["url"], headers=bearer(token), timeout=5).json()
    assert [n["id"] for n in older] == [ids[1], ids[0]]
    empty = http.get(
        server.base_url + "/api/v1/notifications",
        headers=bearer(token),
        params={"min_id": ids[-1]},
        timeout=5,
    )
    assert empty.json() == [] and "Link" not in empty.headers


def test_limit_default_and_cap(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    for _ in range(90):
        server.add_notification("follow")
    assert len(get_json(http, server, "/api/v1/notifications", token)) == 40
    assert len(get_json(http, server, "/api/v1/notifications", token, limit=500)) == 80


def test_types_and_exclude_types(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    for t in ("mention", "follow", "favourite", "mention"):
        server.add_notification(t)
    got = get_json(http, server, "/api/v1/notifications", token, **{"types[]": ["mention"]})
    assert [n["type"] for n in got] == ["mention", "mention"]
    got = get_json(
        http, server, "/api/v1/notifications", token, **{"exclude_types[]": ["mention", "follow"]}
    )
    assert [n["type"] for n in got] == ["favourite"]


# --------------------------------------------------------------------------- shapes


def test_every_type_parses_as_an_entity(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    for t in ALL_TYPES:
        server.add_notification(t)
    items = get_json(http, server, "/api/v1/notifications", token)
    by_type = {n["type"]: Notification.from_json(n) for n in items}
    assert set(by_type) == set(ALL_TYPES)
    assert by_type["favourite"].status is not None
    assert by_type["favourite"].status.account is not None
    assert by_type["favourite"].status.account.username == "demo"
    assert by_type["mention"].status is not None and "@<span>demo</span>" in (
        by_type["mention"].status.content
    )
    assert "status" not in next(n for n in items if n["type"] == "follow")
    assert by_type["admin.report"].extra["report"]["target_account"]["bot"] is True
    assert by_type["severed_relationships"].extra["event"]["target_name"]
    assert by_type["moderation_warning"].extra["moderation_warning"]["action"] == "none"
    quote = next(n for n in items if n["type"] == "quote")
    assert quote["status"]["quote"]["quoted_status"]["account"]["username"] == "demo"
    poll = by_type["poll"]
    assert poll.status is not None and poll.status.poll_options == ("Tea", "Coffee", "Neither")


def test_awkward_accounts(server: DemoServer) -> None:
    chloe = server.add_notification("follow", from_user="chloe")["account"]
    assert chloe["display_name"] == "Chloé :blobcat:"
    assert chloe["emojis"][0]["shortcode"] == "blobcat"
    markup = server.add_notification("follow", from_user="markup")["account"]
    assert markup["display_name"] == "<b>markup</b> & stuff"
    assert server.add_notification("follow", from_user="newsbot")["account"]["bot"] is True


def test_direct_message_and_filters(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    dm = server.add_notification("mention", visibility="direct")
    assert Notification.from_json(dm).is_direct
    warned = server.add_notification("mention", filtered_action="warn", filter_title="Spoilers")
    result = warned["status"]["filtered"][0]
    assert result["filter"]["filter_action"] == "warn"
    assert result["filter"]["context"] == ["notifications", "home"]
    assert result["filter"]["expires_at"] is None
    assert result["keyword_matches"] == ["spoilers"] and result["status_matches"] == []
    parsed = Notification.from_json(warned)
    assert parsed.status is not None and parsed.status.filtered[0].action == "warn"
    hidden = server.add_notification("mention", filtered_action="hide")
    listed = [n["id"] for n in get_json(http, server, "/api/v1/notifications", token)]
    assert hidden["id"] in listed  # Mastodon lists hide-filtered notifications


def test_policy_filtered_only_with_include_filtered(
    server: DemoServer, http: requests.Session
) -> None:
    token = server.create_token()
    plain = server.add_notification("mention")
    held = server.add_notification("mention", policy_filtered=True)
    assert held["filtered"] is True and "filtered" not in plain
    assert held["group_key"] == f"ungrouped-{held['id']}"
    default = get_json(http, server, "/api/v1/notifications", token)
    assert [n["id"] for n in default] == [plain["id"]]
    everything = get_json(http, server, "/api/v1/notifications", token, include_filtered="true")
    assert [n["id"] for n in everything] == [held["id"], plain["id"]]
    assert get_json(http, server, "/api/v1/notifications/unread_count", token) == {"count": 1}


def test_group_keys(server: DemoServer) -> None:
    first = server.add_notification("favourite", from_user="ana")
    sid = first["status"]["id"]
    created = datetime.fromisoformat(first["created_at"].replace("Z", "+00:00"))
    second = server.add_notification(
        "favourite", from_user="ben", status_id=sid, created_at=created
    )
    assert second["status"]["id"] == sid
    assert second["status"]["favourites_count"] == 2
    hour = int(created.timestamp()) // 3600
    assert first["group_key"] == second["group_key"] == f"grouped-favourite-{sid}-{hour}"
    boost = server.add_notification("reblog", status_id=sid, created_at=created)
    assert boost["group_key"] == f"grouped-reblog-{sid}-{hour}"
    mention = server.add_notification("mention")
    assert mention["group_key"] == f"ungrouped-{mention['id']}"
    assert server.add_notification("follow", group_key="mine")["group_key"] == "mine"


# --------------------------------------------------------------------------- single, dismiss, clear


def test_get_dismiss_and_clear(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    base = server.base_url
    a, b, c = (server.add_notification("mention") for _ in range(3))
    assert get_json(http, server, f"/api/v1/notifications/{a['id']}", token)["id"] == a["id"]
    r = http.post(f"{base}/api/v1/notifications/{b['id']}/dismiss", headers=bearer(token))
    assert r.status_code == 200 and r.json() == {}
    assert [n["id"] for n in server.notifications_for()] == [c["id"], a["id"]]
    r = http.post(f"{base}/api/v1/notifications/{b['id']}/dismiss", headers=bearer(token))
    assert r.status_code == 404
    r = http.get(f"{base}/api/v1/notifications/{b['id']}", headers=bearer(token))
    assert r.status_code == 404
    r = http.post(f"{base}/api/v1/notifications/clear", headers=bearer(token))
    assert r.status_code == 200 and server.notifications_for() == []


def test_unread_count(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    ids = [server.add_notification("follow")["id"] for _ in range(7)]
    path = "/api/v1/notifications/unread_count"
    assert get_json(http, server, path, token) == {"count": 7}
    server.set_marker(ids[3])
    assert get_json(http, server, path, token) == {"count": 3}
    assert get_json(http, server, path, token, limit=2) == {"count": 2}
    r = http.post(f"{server.base_url}/api/v1/notifications/{ids[6]}/dismiss", headers=bearer(token))
    assert r.status_code == 200  # dismissing does not move the marker
    assert get_json(http, server, path, token) == {"count": 2}


# --------------------------------------------------------------------------- markers


def test_markers_get_set_and_version(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    url = server.base_url + "/api/v1/markers"
    assert get_json(http, server, "/api/v1/markers", token) == {}
    assert get_json(http, server, "/api/v1/markers", token, **{"timeline[]": "notifications"}) == {}
    r = http.post(url, headers=bearer(token), data={"notifications[last_read_id]": "100"})
    assert r.status_code == 200
    assert r.json()["notifications"]["last_read_id"] == "100"
    assert r.json()["notifications"]["version"] == 0
    r = http.post(url, headers=bearer(token), json={"notifications": {"last_read_id": "105"}})
    got = get_json(http, server, "/api/v1/markers", token, **{"timeline[]": "notifications"})
    assert got["notifications"]["last_read_id"] == "105"
    assert got["notifications"]["version"] == 1
    assert got["notifications"]["updated_at"].endswith("Z")
    assert server.marker() == got["notifications"]


def test_marker_409_fault_once(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    url = server.base_url + "/api/v1/markers"
    server.faults.queue("/api/v1/markers", "409", method="POST")
    form = {"notifications[last_read_id]": "7"}
    assert http.post(url, headers=bearer(token), data=form).status_code == 409
    assert server.marker() is None
    assert http.post(url, headers=bearer(token), data=form).status_code == 200
    assert server.marker() is not None


# --------------------------------------------------------------------------- OAuth


def register(http: requests.Session, server: DemoServer, scopes: str = SCOPES) -> dict[str, Any]:
    r = http.post(
        server.base_url + "/api/v1/apps",
        data={
            "client_name": "Tootbell",
            "redirect_uris": "http://127.0.0.1/callback\nurn:ietf:wg:oauth:2.0:oob",
            "scopes": scopes,
            "website": "https://tootbell.example",
        },
        timeout=5,
    )
    assert r.status_code == 200, r.text
    app: dict[str, Any] = r.json()
    assert app["redirect_uris"] == ["http://127.0.0.1/callback", "urn:ietf:wg:oauth:2.0:oob"]
    assert app["client_id"] and app["client_secret"] and app["vapid_key"]
    return app


def authorize(
    http: requests.Session,
    server: DemoServer,
    app: dict[str, Any],
    redirect_uri: str,
    challenge: str,
    decision: str = "approve",
    scope: str = SCOPES,
) -> requests.Response:
    fields = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": "st4te",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = http.get(server.base_url + "/oauth/authorize", params=fields, timeout=5)
    assert page.status_code == 200, page.text
    assert "<title>Authorize Tootbell</title>" in page.text
    assert ">Authorize</button>" in page.text and ">Deny</button>" in page.text
    return http.post(
        server.base_url + "/oauth/authorize",
        data={**fields, "decision": decision},
        allow_redirects=False,
        timeout=5,
    )


def exchange(
    http: requests.Session,
    server: DemoServer,
    app: dict[str, Any],
    code: str,
    redirect_uri: str,
    verifier: str,
) -> requests.Response:
    return http.post(
        server.base_url + "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
        timeout=5,
    )


def test_code_flow_with_pkce_on_a_loopback_port(server: DemoServer, http: requests.Session) -> None:
    app = register(http, server)
    verifier, challenge = pkce()
    redirect_uri = "http://127.0.0.1:54321/callback"  # registered without the port
    r = authorize(http, server, app, redirect_uri, challenge)
    assert r.status_code == 302
    location = urlsplit(r.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect_uri
    params = parse_qs(location.query)
    assert params["state"] == ["st4te"]
    code = params["code"][0]

    bad = exchange(http, server, app, code, redirect_uri, "wrong-verifier")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    assert "error_description" in bad.json()

    good = exchange(http, server, app, code, redirect_uri, verifier)
    assert good.status_code == 200, good.text
    body = good.json()
    assert body["token_type"] == "Bearer" and set(body["scope"].split()) == set(SCOPES.split())
    assert isinstance(body["created_at"], int)
    token = body["access_token"]
    me = get_json(http, server, "/api/v1/accounts/verify_credentials", token)
    assert me["username"] == "demo"

    again = exchange(http, server, app, code, redirect_uri, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    revoked = http.post(
        server.base_url + "/oauth/revoke",
        data={"client_id": app["client_id"], "client_secret": app["client_secret"], "token": token},
        timeout=5,
    )
    assert revoked.status_code == 200 and revoked.json() == {}
    r = http.get(server.base_url + "/api/v1/accounts/verify_credentials", headers=bearer(token))
    assert r.status_code == 401


def test_code_flow_rejections(server: DemoServer, http: requests.Session) -> None:
    app = register(http, server)
    base = server.base_url
    _, challenge = pkce()
    for wrong in (
        "http://localhost:54321/callback",
        "http://127.0.0.1:1/other",
        "https://x.example/",
    ):
        r = http.get(
            base + "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": app["client_id"],
                "redirect_uri": wrong,
                "scope": "read:notifications",
            },
            timeout=5,
        )
        assert r.status_code == 400 and "invalid_redirect_uri" in r.text, wrong
    r = http.get(base + "/oauth/authorize", params={"client_id": "nope"}, timeout=5)
    assert r.status_code == 401

    denied = authorize(http, server, app, "http://127.0.0.1:4000/callback", challenge, "deny")
    assert denied.status_code == 302
    params = parse_qs(urlsplit(denied.headers["Location"]).query)
    assert params["error"] == ["access_denied"] and params["state"] == ["st4te"]

    r = http.get(
        base + "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": app["client_id"],
            "redirect_uri": "http://127.0.0.1:4000/callback",
            "scope": "admin:write",
            "state": "s",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert r.status_code == 302
    assert parse_qs(urlsplit(r.headers["Location"]).query)["error"] == ["invalid_scope"]

    # The code is bound to the redirect URI it was issued for.
    verifier, challenge = pkce()
    ok = authorize(http, server, app, "http://127.0.0.1:4000/callback", challenge)
    code = parse_qs(urlsplit(ok.headers["Location"]).query)["code"][0]
    r = exchange(http, server, app, code, "urn:ietf:wg:oauth:2.0:oob", verifier)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    bad_client = dict(app, client_secret="wrong")
    r = exchange(http, server, bad_client, code, "http://127.0.0.1:4000/callback", verifier)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_oob_shows_the_code(server: DemoServer, http: requests.Session) -> None:
    app = register(http, server)
    verifier, challenge = pkce()
    r = authorize(http, server, app, "urn:ietf:wg:oauth:2.0:oob", challenge)
    assert r.status_code == 200
    start = r.text.index('id="code">') + len('id="code">')
    code = r.text[start : r.text.index("<", start)]
    token = exchange(http, server, app, code, "urn:ietf:wg:oauth:2.0:oob", verifier)
    assert token.status_code == 200, token.text


def test_register_app_with_json_and_auto_approve(
    server: DemoServer, http: requests.Session
) -> None:
    r = http.post(
        server.base_url + "/api/v1/apps",
        json={
            "client_name": "Tootbell",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "scopes": "read write push",
        },
        timeout=5,
    )
    assert r.status_code == 200
    app = r.json()
    assert app["redirect_uri"] == "http://127.0.0.1/callback"
    assert app["scopes"] == ["push", "read", "write"]
    r = http.get(
        server.base_url + "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": app["client_id"],
            "scope": "read",
            "redirect_uri": "http://127.0.0.1:9/callback",
            "auto": "1",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert r.status_code == 302 and "code=" in r.headers["Location"]
    bad = http.post(
        server.base_url + "/api/v1/apps",
        json={"client_name": "x", "redirect_uris": "javascript:alert(1)"},
        timeout=5,
    )
    assert bad.status_code == 422 and "error" in bad.json()


def test_client_credentials(server: DemoServer, http: requests.Session) -> None:
    app = register(http, server, scopes="read write")
    r = http.post(
        server.base_url + "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scope": "read",
        },
        timeout=5,
    )
    assert r.status_code == 200
    app_token = r.json()["access_token"]
    r = http.get(server.base_url + "/api/v1/notifications", headers=bearer(app_token))
    assert r.status_code == 422  # an app token has no user
    r = http.post(server.base_url + "/oauth/token", data={"grant_type": "password"}, timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


# --------------------------------------------------------------------------- rate limits


def test_rate_limit_headers_and_real_429(http: requests.Session) -> None:
    # A window far longer than the test, so it cannot roll over half-way.
    with DemoServer(rate_limit=3, rate_period=1e9) as srv:
        token = srv.create_token()
        url = srv.base_url + "/api/v1/notifications"
        remaining = []
        for _ in range(3):
            r = http.get(url, headers=bearer(token), timeout=5)
            assert r.status_code == 200
            assert r.headers["X-RateLimit-Limit"] == "3"
            remaining.append(r.headers["X-RateLimit-Remaining"])
            reset = datetime.fromisoformat(r.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
            assert reset > datetime.now(UTC)
            assert len(r.headers["X-RateLimit-Reset"].split(".")[1]) == 7  # µs + "Z"
        assert remaining == ["2", "1", "0"]
        r = http.get(url, headers=bearer(token), timeout=5)
        assert r.status_code == 429 and r.headers["X-RateLimit-Remaining"] == "0"
        # Another token has its own budget.
        assert http.get(url, headers=bearer(srv.create_token()), timeout=5).status_code == 200


# --------------------------------------------------------------------------- faults


def test_status_faults(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    url = server.base_url + "/api/v1/notifications"
    server.faults.queue("/api/v1/notifications", "500", count=2)
    server.faults.queue("/api/v1/notifications", "503")
    server.faults.queue("/api/v1/notifications", "401")
    server.faults.queue("/api/v1/notifications", "garbage")
    codes = [http.get(url, headers=bearer(token), timeout=5) for _ in range(6)]
    assert [r.status_code for r in codes] == [500, 500, 503, 401, 200, 200]
    with pytest.raises(requests.JSONDecodeError):
        codes[4].json()
    assert codes[5].json() == []
    assert server.faults.pending() == []
    assert len(server.requests_to("/api/v1/notifications")) == 6


def test_fault_429_sets_reset(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    server.faults.queue("/api/v1/", "429", reset_in=30)
    r = http.get(server.base_url + "/api/v1/notifications", headers=bearer(token), timeout=5)
    assert r.status_code == 429
    assert r.headers["X-RateLimit-Remaining"] == "0"
    reset = datetime.fromisoformat(r.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
    assert 25 < (reset - datetime.now(UTC)).total_seconds() <= 30


def test_fault_cut_drop_slow_and_down(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    server.add_notification("mention")
    url = server.base_url + "/api/v1/notifications"
    server.faults.queue("/api/v1/notifications", "cut")
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        http.get(url, headers=bearer(token), timeout=5)
    server.faults.queue("/api/v1/notifications", "drop")
    with pytest.raises(requests.ConnectionError):
        http.get(url, headers=bearer(token), timeout=5)
    server.faults.queue("/api/v1/notifications", "slow", delay=0.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.get(url, headers=bearer(token), timeout=(2, 0.1))
    server.faults.queue("/api/v1/notifications", "slow", delay=0.2)
    t0 = time.monotonic()
    assert http.get(url, headers=bearer(token), timeout=5).status_code == 200
    assert time.monotonic() - t0 >= 0.2
    server.faults.down = True
    with pytest.raises(requests.ConnectionError):
        http.get(server.base_url + "/api/v1/instance", timeout=5)
    server.faults.down = False
    assert http.get(url, headers=bearer(token), timeout=5).status_code == 200


def test_faults_match_method_and_prefix(server: DemoServer, http: requests.Session) -> None:
    with pytest.raises(ValueError):
        server.faults.queue("/api", "teapot")
    server.faults.queue("/api/v1/markers", "500", method="POST")
    token = server.create_token()
    assert get_json(http, server, "/api/v1/markers", token) == {}
    assert server.faults.pending()[0][1] == 1
    server.faults.clear()
    server.faults.queue("/api/v1/notifications", "503", count=2, after=1)
    url = server.base_url + "/api/v1/notifications"
    codes = [http.get(url, headers=bearer(token), timeout=5).status_code for _ in range(4)]
    assert codes == [200, 503, 503, 200]


def test_request_log(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    server.clear_requests()
    get_json(http, server, "/api/v1/notifications", token, min_id="5", limit=80)
    (entry,) = server.requests
    assert entry.method == "GET" and entry.path == "/api/v1/notifications"
    assert entry.query == {"min_id": ["5"], "limit": ["80"]}
    assert entry.param("min_id") == "5"
    assert entry.header("authorization") == f"Bearer {token}"
    assert entry.time <= time.time()


# --------------------------------------------------------------------------- pages and images


def test_avatars_are_png(server: DemoServer, http: requests.Session) -> None:
    note = server.add_notification("mention", from_user="chloe")
    r = http.get(note["account"]["avatar"], timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    data = r.content
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (48, 48)
    idat_len = struct.unpack(">I", data[33:37])[0]
    raw = zlib.decompress(data[41 : 41 + idat_len])
    assert len(raw) == 48 * (1 + 48 * 3)
    other = http.get(server.base_url + "/avatars/ana.png", timeout=5).content
    assert other != data
    emoji = note["account"]["emojis"][0]["url"]
    assert http.get(emoji, timeout=5).content[:4] == b"\x89PNG"


def test_status_and_account_pages(server: DemoServer, http: requests.Session) -> None:
    note = server.add_notification("mention", from_user="markup", status_text="Hello <you>")
    page = http.get(note["status"]["url"], timeout=5)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "Hello &lt;you&gt;" in page.text
    profile = http.get(note["account"]["url"], timeout=5)
    assert profile.status_code == 200 and "&lt;b&gt;markup&lt;/b&gt; &amp; stuff" in profile.text


# --------------------------------------------------------------------------- generator, threads


def test_generated_stream_is_varied_and_deterministic() -> None:
    with DemoServer(seed=7) as a, DemoServer(seed=7) as b:
        types_a = [n["type"] for n in a.generate(60)]
        types_b = [n["type"] for n in b.generate(60)]
    assert types_a == types_b
    assert {"mention", "favourite", "follow", "reblog"} <= set(types_a)


def test_auto_generate_runs_and_stops(http: requests.Session) -> None:
    srv = DemoServer(auto_generate=0.02, seed=3)
    srv.start()
    try:
        deadline = time.monotonic() + 3
        while len(srv.notifications_for()) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(srv.notifications_for()) >= 3
        token = srv.create_token()
        for item in get_json(http, srv, "/api/v1/notifications", token, limit=80):
            Notification.from_json(item)
    finally:
        t0 = time.monotonic()
        srv.stop()
    assert time.monotonic() - t0 < 2.5
    assert not [t for t in threading.enumerate() if t.name == "tootbell-demo-generator"]


def test_concurrent_adds_and_reads(server: DemoServer) -> None:
    token = server.create_token()
    errors: list[BaseException] = []

    def add() -> None:
        try:
            for _ in range(25):
                server.add_notification("favourite")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def read() -> None:
        try:
            with requests.Session() as session:
                for _ in range(10):
                    r = session.get(
                        server.base_url + "/api/v1/notifications",
                        headers=bearer(token),
                        params={"limit": 80},
                        timeout=5,
                    )
                    assert r.status_code == 200
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add) for _ in range(4)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = [n["id"] for n in server.notifications_for()]
    assert len(ids) == len(set(ids)) == 100
    assert ids == sorted(ids, key=id_key, reverse=True)
