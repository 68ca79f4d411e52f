"""Web Push on the demo instance over real HTTP: subscription CRUD with Mastodon's and
GoToSocial's rules, and deliveries to a receiver on loopback that decrypts and checks them."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from requests.structures import CaseInsensitiveDict

from tootbell.demo import VAPID_PUBLIC_KEY, DemoServer
from tootbell.mastodon import webpush

PUSH = "/api/v1/push/subscription"
FAST = (0.01,)  # retry delays for the tests


# --------------------------------------------------------------------------- a push receiver


@dataclass(frozen=True)
class Received:
    path: str
    headers: CaseInsensitiveDict[str]
    body: bytes


class Receiver:
    """A push endpoint on 127.0.0.1 (optionally TLS) that records each POST and answers
    with the scripted statuses, then 201."""

    def __init__(self, statuses: list[int] | None = None, tls: ssl.SSLContext | None = None):
        self.statuses = list(statuses or [])
        self.received: list[Received] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._cond:
                    status = receiver.statuses.pop(0) if receiver.statuses else 201
                    receiver.received.append(
                        Received(self.path, CaseInsensitiveDict(dict(self.headers.items())), body)
                    )
                    receiver._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self.port = int(self._httpd.server_address[1])
        self.origin = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def url(self, path: str = "/push/a") -> str:
        return self.origin + path

    def wait(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.received) >= count, timeout), (
                f"received {len(self.received)} push(es), expected {count}"
            )
            return list(self.received)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def server() -> Iterator[DemoServer]:
    with DemoServer(push_retry_delays=FAST) as srv:
        yield srv


def tls_pair(tmp_path: Path) -> tuple[ssl.SSLContext, str]:
    """A server context for 127.0.0.1 signed by a throwaway CA, and the CA file to trust."""
    now = dt.datetime.now(dt.UTC)

    def cert(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: Any, ca: bool
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            ).add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            ).add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
                critical=False,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = cert("Test CA", ca_key, "Test CA", ca_key, True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = cert("127.0.0.1", leaf_key, "Test CA", ca_key, False)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    chain = tmp_path / "leaf.pem"
    chain.write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return context, str(ca_file)


# --------------------------------------------------------------------------- helpers


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def subscription(
    endpoint: str,
    keys: webpush.PushKeys,
    alerts: dict[str, Any] | None = None,
    *,
    standard: bool = True,
    policy: str | None = "all",
) -> dict[str, Any]:
    data: dict[str, Any] = {"alerts": alerts if alerts is not None else {"mention": True}}
    if policy is not None:
        data["policy"] = policy
    return {
        "subscription": {
            "endpoint": endpoint,
            "keys": {"p256dh": keys.public_b64, "auth": keys.auth_b64},
            "standard": standard,
        },
        "data": data,
    }


def subscribe(
    http: requests.Session, srv: DemoServer, token: str, body: dict[str, Any]
) -> dict[str, Any]:
    r = http.post(srv.base_url + PUSH, json=body, headers=bearer(token), timeout=5)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def opened(got: Received, keys: webpush.PushKeys) -> dict[str, Any]:
    """The decrypted JSON of a push (and it parses as a payload)."""
    plain = webpush.decrypt(got.body, got.headers, keys)
    webpush.parse_payload(plain)
    out: dict[str, Any] = json.loads(plain)
    return out


# --------------------------------------------------------------------------- subscriptions


def test_vapid_key_pair_is_real_and_advertised(server: DemoServer, http: requests.Session) -> None:
    v2 = http.get(server.base_url + "/api/v2/instance", timeout=5).json()
    assert v2["configuration"]["vapid"]["public_key"] == VAPID_PUBLIC_KEY
    assert server.vapid.public_b64 == VAPID_PUBLIC_KEY
    # The signer checks that its private key matches the public one.
    webpush.VapidSigner(server.vapid.private_b64, VAPID_PUBLIC_KEY)
    token = server.create_token()
    sub = subscribe(
        http, server, token, subscription("https://push.example/a", webpush.generate_keys())
    )
    assert sub["server_key"] == VAPID_PUBLIC_KEY


def test_subscribe_with_json(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    keys = webpush.generate_keys()
    body = subscription(
        "https://push.example/p/1",
        keys,
        {"mention": True, "follow": False, "favourite": "1", "bogus": True},
        policy="followed",
    )
    sub = subscribe(http, server, token, body)
    assert isinstance(sub["id"], int)  # Mastodon's serializer writes the raw integer
    assert sub == {
        "id": sub["id"],
        "endpoint": "https://push.example/p/1",
        "standard": True,
        "alerts": {"mention": True, "follow": False, "favourite": True},
        "server_key": VAPID_PUBLIC_KEY,
        "policy": "followed",
    }
    r = http.get(server.base_url + PUSH, headers=bearer(token), timeout=5)
    assert r.status_code == 200 and r.json() == sub
    assert server.push_subscription(token) == sub


def test_subscribe_with_a_form_reads_policy_inside_data(
    server: DemoServer, http: requests.Session
) -> None:
    token = server.create_token()
    keys = webpush.generate_keys()
    form = {
        "subscription[endpoint]": "http://push.example/p",
        "subscription[keys][p256dh]": keys.public_b64,
        "subscription[keys][auth]": keys.auth_b64,
        "subscription[standard]": "true",
        "data[alerts][mention]": "true",
        "data[alerts][follow]": "0",
        "data[alerts][reblog]": "1",
        "data[policy]": "follower",
        "policy": "none",
    }
    r = http.post(server.base_url + PUSH, data=form, headers=bearer(token), timeout=5)
    assert r.status_code == 200, r.text
    sub = r.json()
    assert sub["endpoint"] == "http://push.example/p"  # Mastodon accepts http endpoints
    assert sub["alerts"] == {"mention": True, "follow": False, "reblog": True}
    assert sub["policy"] == "follower" and sub["standard"] is True
    del form["data[policy]"]  # only the top-level one: ignored
    r = http.post(server.base_url + PUSH, data=form, headers=bearer(token), timeout=5)
    assert r.status_code == 200 and r.json()["policy"] == "all"
    del form["data[alerts][mention]"], form["data[alerts][follow]"], form["data[alerts][reblog]"]
    r = http.post(server.base_url + PUSH, data=form, headers=bearer(token), timeout=5)
    assert r.json()["alerts"] == {}  # nothing sent: every alert is off


def test_post_replaces_the_tokens_subscription(server: DemoServer, http: requests.Session) -> None:
    token, other = server.create_token(), server.create_token()
    keys = webpush.generate_keys()
    first = subscribe(http, server, token, subscription("https://push.example/1", keys))
    second = subscribe(http, server, token, subscription("https://push.example/2", keys))
    assert second["id"] != first["id"]
    got = http.get(server.base_url + PUSH, headers=bearer(token), timeout=5).json()
    assert got["endpoint"] == "https://push.example/2"
    # One per token, not per user: the user's other token has none.
    assert http.get(server.base_url + PUSH, headers=bearer(other), timeout=5).status_code == 404
    subscribe(http, server, other, subscription("https://push.example/3", keys))
    got = http.get(server.base_url + PUSH, headers=bearer(token), timeout=5).json()
    assert got["endpoint"] == "https://push.example/2"


def test_put_replaces_the_whole_data(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    url = server.base_url + PUSH
    r = http.put(url, json={"data": {"alerts": {"mention": True}}}, headers=bearer(token))
    assert r.status_code == 404 and r.json() == {"error": "Record not found"}
    body = subscription(
        "https://push.example/a",
        webpush.generate_keys(),
        {"mention": True, "follow": True},
        policy="none",
    )
    created = subscribe(http, server, token, body)
    r = http.put(url, json={"data": {"alerts": {"favourite": True}}}, headers=bearer(token))
    assert r.status_code == 200, r.text
    sub = r.json()
    assert sub["alerts"] == {"favourite": True}  # mention and follow are off now
    assert sub["policy"] == "all"  # no policy: back to all
    assert sub["id"] == created["id"] and sub["endpoint"] == created["endpoint"]
    r = http.put(
        url,
        data={"data[alerts][follow]": "true", "data[policy]": "followed", "policy": "none"},
        headers=bearer(token),
    )
    assert r.json()["alerts"] == {"follow": True} and r.json()["policy"] == "followed"


def test_delete_then_404(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    url = server.base_url + PUSH
    assert http.get(url, headers=bearer(token), timeout=5).status_code == 404
    subscribe(http, server, token, subscription("https://push.example/a", webpush.generate_keys()))
    r = http.delete(url, headers=bearer(token), timeout=5)
    assert r.status_code == 200 and r.json() == {}
    r = http.get(url, headers=bearer(token), timeout=5)
    assert r.status_code == 404 and r.json() == {"error": "Record not found"}
    assert http.delete(url, headers=bearer(token), timeout=5).status_code == 200
    assert server.push_subscription(token) is None


def test_push_scope_user_and_token_are_required(server: DemoServer, http: requests.Session) -> None:
    url = server.base_url + PUSH
    body = subscription("https://push.example/a", webpush.generate_keys())
    no_push = server.create_token(scopes="read write follow")
    for method in ("POST", "GET", "PUT", "DELETE"):
        r = http.request(method, url, json=body, headers=bearer(no_push), timeout=5)
        assert r.status_code == 403, method
        assert r.json() == {"error": "This action is outside the authorized scopes"}
        assert http.request(method, url, json=body, timeout=5).status_code == 401
    app = http.post(
        server.base_url + "/api/v1/apps",
        data={"client_name": "t", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "push"},
        timeout=5,
    ).json()
    app_token = http.post(
        server.base_url + "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scope": "push",
        },
        timeout=5,
    ).json()["access_token"]
    r = http.post(url, json=body, headers=bearer(app_token), timeout=5)
    assert r.status_code == 422 and "authenticated user" in r.json()["error"]


@pytest.mark.parametrize(
    ("endpoint", "p256dh", "auth", "message"),
    [
        ("ftp://push.example/a", None, None, "Endpoint is not a valid URL"),
        ("https://", None, None, "Endpoint is not a valid URL"),
        ("push.example/a", None, None, "Endpoint is not a valid URL"),
        ("https://push.example:99999/a", None, None, "Endpoint is not a valid URL"),
        ("", None, None, "Endpoint can't be blank"),
        ("https://push.example/a", "", None, "Key p256dh can't be blank"),
        ("https://push.example/a", None, "", "Key auth can't be blank"),
        ("https://push.example/a", "BAAAAAAA", None, "is not a valid Ed25519 or Curve25519 key"),
        ("https://push.example/a", "B" + "A" * 86, None, "is not a valid"),  # not on the curve
        ("https://push.example/a", None, "!!!!", "is not a valid"),
    ],
)
def test_invalid_subscriptions_get_422(
    server: DemoServer,
    http: requests.Session,
    endpoint: str,
    p256dh: str | None,
    auth: str | None,
    message: str,
) -> None:
    token = server.create_token()
    keys = webpush.generate_keys()
    body = subscription(endpoint, keys)
    if p256dh is not None:
        body["subscription"]["keys"]["p256dh"] = p256dh
    if auth is not None:
        body["subscription"]["keys"]["auth"] = auth
    r = http.post(server.base_url + PUSH, json=body, headers=bearer(token), timeout=5)
    assert r.status_code == 422, r.text
    assert r.json()["error"].startswith("Validation failed: ")
    assert message in r.json()["error"]
    assert server.push_subscription(token) is None


def test_missing_subscription_or_keys(server: DemoServer, http: requests.Session) -> None:
    token = server.create_token()
    url = server.base_url + PUSH
    r = http.post(url, json={"data": {"alerts": {"mention": True}}}, headers=bearer(token))
    assert r.status_code == 400
    assert r.json() == {"error": "param is missing or the value is empty: subscription"}
    r = http.post(
        url, json={"subscription": {"endpoint": "https://push.example/a"}}, headers=bearer(token)
    )
    assert r.status_code == 422
    assert r.json() == {
        "error": "Validation failed: Key p256dh can't be blank, Key auth can't be blank"
    }


def test_standard_is_honoured_from_4_4(http: requests.Session) -> None:
    keys = webpush.generate_keys()
    with DemoServer(version="4.3.0") as old:
        sub = subscribe(http, old, old.create_token(), subscription("https://p.example/a", keys))
        assert "standard" not in sub  # the field arrived with 4.4
        assert isinstance(sub["id"], int)
    with DemoServer(version="4.4.0") as new:
        token = new.create_token()
        assert subscribe(http, new, token, subscription("https://p.example/a", keys))["standard"]
        body = subscription("https://p.example/a", keys, standard=False)
        assert subscribe(http, new, token, body)["standard"] is False
        del body["subscription"]["standard"]
        assert subscribe(http, new, token, body)["standard"] is False  # the default


def test_gotosocial_pose_rules(http: requests.Session) -> None:
    keys = webpush.generate_keys()
    with DemoServer(version="v0.19.2") as srv:
        token = srv.create_token()
        url = srv.base_url + PUSH
        r = http.post(url, json=subscription("http://push.example/a", keys), headers=bearer(token))
        assert r.status_code == 422
        assert "endpoint must be an https:// URL" in r.json()["error"]
        body = subscription("https://push.example/a", keys, {"mention": True}, standard=False)
        sub = subscribe(http, srv, token, body)
        assert isinstance(sub["id"], str)
        assert sub["standard"] is True  # always
        alerts = sub["alerts"]
        assert alerts["mention"] is True and alerts["favourite"] is False  # the full set
        assert {"follow", "reblog", "poll", "pending.reply"} <= set(alerts)
        # Form bodies lose favourite, and pending.reblog lands in reblog.
        form = {
            "subscription[endpoint]": "https://push.example/a",
            "subscription[keys][p256dh]": keys.public_b64,
            "subscription[keys][auth]": keys.auth_b64,
            "data[alerts][favourite]": "true",
            "data[alerts][pending.reblog]": "true",
            "data[alerts][mention]": "true",
        }
        r = http.post(url, data=form, headers=bearer(token), timeout=5)
        assert r.status_code == 200, r.text
        alerts = r.json()["alerts"]
        assert alerts["favourite"] is False and alerts["reblog"] is True
        assert alerts["mention"] is True
        r = http.put(url, json={"data": {"alerts": {"favourite": True}}}, headers=bearer(token))
        assert r.json()["alerts"]["favourite"] is True and r.json()["alerts"]["mention"] is False


def test_revoking_a_token_deletes_its_subscription(
    server: DemoServer, http: requests.Session
) -> None:
    keys = webpush.generate_keys()
    app = http.post(
        server.base_url + "/api/v1/apps",
        data={"client_name": "t", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "push"},
        timeout=5,
    ).json()
    token, kept = server.create_token(), server.create_token()
    subscribe(http, server, token, subscription("https://push.example/a", keys))
    subscribe(http, server, kept, subscription("https://push.example/b", keys))
    r = http.post(
        server.base_url + "/oauth/revoke",
        data={"client_id": app["client_id"], "client_secret": app["client_secret"], "token": token},
        timeout=5,
    )
    assert r.status_code == 200
    assert server.push_subscription(token) is None
    assert server.push_subscription(kept) is not None
    server.revoke_all_tokens()
    assert server.push_subscription(kept) is None


# --------------------------------------------------------------------------- delivery


def test_standard_delivery_on_mastodon(
    server: DemoServer, http: requests.Session, receiver: Receiver
) -> None:
    token = server.create_token()
    keys = webpush.generate_keys()
    sub = subscribe(http, server, token, subscription(receiver.url("/push/x?y=1"), keys))
    note = server.add_notification("mention", from_user="ana", status_text="Lunch at noon?")
    (delivery,) = server.wait_for_pushes(1)
    assert delivery.status == 201 and delivery.attempt == 1
    assert delivery.endpoint == receiver.url("/push/x?y=1")
    assert delivery.notification_id == note["id"] and delivery.encoding == "aes128gcm"
    (got,) = receiver.wait(1)
    assert got.path == "/push/x?y=1"
    h = got.headers
    assert h["Content-Encoding"] == "aes128gcm"
    assert h["Content-Type"] == "application/octet-stream"
    assert h["TTL"] == "172800" and h["Urgency"] == "normal"
    assert h["Authorization"].startswith("vapid t=")
    assert f"k={sub['server_key']}" in h["Authorization"]
    assert "Encryption" not in h
    webpush.verify_vapid(h, sub["server_key"], audience=receiver.origin)
    message = opened(got, keys)
    assert message["notification_id"] == int(note["id"])  # a JSON number on Mastodon
    assert message == {
        "access_token": token,
        "preferred_locale": "en",
        "notification_id": int(note["id"]),
        "notification_type": "mention",
        "icon": f"{server.base_url}/avatars/ana.png",
        "title": "Ana Souza mentioned you",
        "body": "@demo Lunch at noon?",
    }
    payload = webpush.parse_payload(webpush.decrypt(got.body, h, keys))
    assert payload.notification_id == note["id"] and payload.token_matches(token)


def test_legacy_aesgcm_delivery(http: requests.Session, receiver: Receiver) -> None:
    with DemoServer(version="4.3.0", push_retry_delays=FAST) as srv:
        token = srv.create_token()
        keys = webpush.generate_keys()
        # standard=true is not understood before 4.4: the push is aesgcm.
        sub = subscribe(http, srv, token, subscription(receiver.url(), keys, {"favourite": True}))
        long_text = "word " * 60
        note = srv.add_notification("favourite", from_user="chloe", status_text=long_text)
        (delivery,) = srv.wait_for_pushes(1)
        assert delivery.encoding == "aesgcm" and delivery.status == 201
        (got,) = receiver.wait(1)
        h = got.headers
        assert h["Content-Encoding"] == "aesgcm"
        assert h["Authorization"].startswith("WebPush ")
        assert h["Encryption"].startswith("salt=")
        assert "dh=" in h["Crypto-Key"] and f"p256ecdsa={sub['server_key']}" in h["Crypto-Key"]
        assert h["TTL"] == "172800"
        webpush.verify_vapid(h, sub["server_key"], audience=receiver.origin)
        message = opened(got, keys)
        assert message["notification_id"] == int(note["id"])
        assert message["title"] == "Chloé :blobcat: favorited your post"
        assert len(message["body"]) == 140 and message["body"].endswith("...")


def test_gotosocial_delivery_over_https(tmp_path: Path, http: requests.Session) -> None:
    context, ca_file = tls_pair(tmp_path)
    receiver = Receiver(tls=context)
    try:
        with DemoServer(version="v0.19.2", push_verify=ca_file) as srv:
            token = srv.create_token()
            keys = webpush.generate_keys()
            sub = subscribe(http, srv, token, subscription(receiver.url(), keys, standard=False))
            note = srv.add_notification("mention", from_user="ben")
            (delivery,) = srv.wait_for_pushes(1)
            assert delivery.status == 201 and delivery.encoding == "aes128gcm"
            (got,) = receiver.wait(1)
            assert got.headers["Content-Encoding"] == "aes128gcm"
            assert got.headers["Authorization"].startswith("vapid t=")
            assert "Urgency" not in got.headers  # GoToSocial sends none
            webpush.verify_vapid(got.headers, sub["server_key"], audience=receiver.origin)
            message = opened(got, keys)
            assert message["notification_id"] == note["id"]  # a string on GoToSocial
            assert isinstance(message["notification_id"], str)
            assert message["access_token"] == token
    finally:
        receiver.close()


def test_only_matching_notifications_are_pushed(
    server: DemoServer, http: requests.Session, receiver: Receiver
) -> None:
    token = server.create_token()
    keys = webpush.generate_keys()
    subscribe(http, server, token, subscription(receiver.url(), keys, {"mention": True}))
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    server.add_notification("follow")  # alert off
    server.add_notification("mention", policy_filtered=True)  # never pushed
    server.add_notification("mention", created_at=old)  # older than 48 h (4.4+)
    server.add_notification("mention", username="other")  # someone else's
    wanted = server.add_notification("mention")
    # One sender thread, first in first out: once this arrives, the others were skipped.
    assert [d.notification_id for d in server.wait_for_pushes(1)] == [wanted["id"]]
    url = server.base_url + PUSH
    r = http.put(
        url, json={"data": {"alerts": {"mention": True}, "policy": "none"}}, headers=bearer(token)
    )
    assert r.status_code == 200
    server.add_notification("mention")  # policy none blocks everyone
    r = http.put(url, json={"data": {"alerts": {"follow": True}}}, headers=bearer(token))
    assert r.json()["policy"] == "all"
    follow = server.add_notification("follow", from_user="yasmin")
    pushes = server.wait_for_pushes(2)
    assert [d.notification_id for d in pushes] == [wanted["id"], follow["id"]]
    assert opened(receiver.wait(2)[1], keys)["title"] == "ياسمين is now following you"
    time.sleep(0.05)
    assert len(server.pushes) == 2 and len(receiver.received) == 2


def test_each_token_gets_its_own_push(
    server: DemoServer, http: requests.Session, receiver: Receiver
) -> None:
    first, second = server.create_token(), server.create_token()
    k1, k2 = webpush.generate_keys(), webpush.generate_keys()
    subscribe(http, server, first, subscription(receiver.url("/one"), k1))
    subscribe(http, server, second, subscription(receiver.url("/two"), k2, standard=False))
    server.add_notification("mention")
    server.wait_for_pushes(2)
    by_path = {got.path: got for got in receiver.wait(2)}
    assert opened(by_path["/one"], k1)["access_token"] == first
    assert opened(by_path["/two"], k2)["access_token"] == second
    assert by_path["/two"].headers["Content-Encoding"] == "aesgcm"


@pytest.mark.parametrize("status", [404, 410, 400, 401])
def test_client_errors_delete_the_subscription(
    server: DemoServer, http: requests.Session, status: int
) -> None:
    receiver = Receiver([status])
    try:
        token = server.create_token()
        subscribe(http, server, token, subscription(receiver.url(), webpush.generate_keys()))
        server.add_notification("mention")
        (delivery,) = server.wait_for_pushes(1)
        assert delivery.status == status
        assert server.push_subscription(token) is None
        r = http.get(server.base_url + PUSH, headers=bearer(token), timeout=5)
        assert r.status_code == 404
        server.add_notification("mention")
        time.sleep(0.05)
        assert len(server.pushes) == 1  # no retry, nothing more
    finally:
        receiver.close()


@pytest.mark.parametrize("statuses", [[500, 503, 201], [429, 408, 204], [302, 200]])
def test_other_failures_are_retried(
    server: DemoServer, http: requests.Session, statuses: list[int]
) -> None:
    receiver = Receiver(list(statuses))
    try:
        token = server.create_token()
        keys = webpush.generate_keys()
        subscribe(http, server, token, subscription(receiver.url(), keys))
        note = server.add_notification("mention")
        pushes = server.wait_for_pushes(len(statuses))
        assert [d.status for d in pushes] == statuses
        assert [d.attempt for d in pushes] == list(range(1, len(statuses) + 1))
        assert {d.notification_id for d in pushes} == {note["id"]}
        bodies = [got.body for got in receiver.wait(len(statuses))]
        assert len(set(bodies)) == len(bodies)  # encrypted afresh each time
        assert all(
            opened(got, keys)["notification_id"] == int(note["id"]) for got in receiver.received
        )
        assert server.push_subscription(token) is not None
    finally:
        receiver.close()


def test_retries_stop_after_five(server: DemoServer, http: requests.Session) -> None:
    receiver = Receiver([500] * 20)
    try:
        token = server.create_token()
        subscribe(http, server, token, subscription(receiver.url(), webpush.generate_keys()))
        server.add_notification("mention")
        pushes = server.wait_for_pushes(6)
        time.sleep(0.1)
        assert len(server.pushes) == 6 and [d.attempt for d in pushes] == [1, 2, 3, 4, 5, 6]
        assert server.push_subscription(token) is not None  # kept, as Mastodon does
    finally:
        receiver.close()


def test_connection_errors_are_retried(server: DemoServer, http: requests.Session) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    token = server.create_token()
    endpoint = f"http://127.0.0.1:{port}/push"
    subscribe(http, server, token, subscription(endpoint, webpush.generate_keys()))
    server.add_notification("mention")
    pushes = server.wait_for_pushes(6)
    assert [d.status for d in pushes] == [None] * 6
    assert all(d.endpoint == endpoint for d in pushes)
    assert server.push_subscription(token) is not None


def test_retry_delays_are_configurable(http: requests.Session) -> None:
    receiver = Receiver([500, 201])
    try:
        with DemoServer(push_retry_delays=(0.3,)) as srv:
            assert srv.push_retry_delays == (0.3,)
            token = srv.create_token()
            subscribe(http, srv, token, subscription(receiver.url(), webpush.generate_keys()))
            srv.add_notification("mention")
            first, second = srv.wait_for_pushes(2)
            assert second.time - first.time >= 0.25
            with pytest.raises(ValueError):
                srv.push_retry_delays = ()
    finally:
        receiver.close()


def test_disabled_push_drops_silently_and_the_poll_recovers(
    server: DemoServer, http: requests.Session, receiver: Receiver
) -> None:
    token = server.create_token()
    subscribe(http, server, token, subscription(receiver.url(), webpush.generate_keys()))
    server.push_enabled = False
    lost = server.add_notification("mention")
    server.push_enabled = True
    kept = server.add_notification("mention")
    assert [d.notification_id for d in server.wait_for_pushes(1)] == [kept["id"]]
    listed = http.get(
        server.base_url + "/api/v1/notifications", headers=bearer(token), timeout=5
    ).json()
    assert [n["id"] for n in listed] == [kept["id"], lost["id"]]


def test_generated_notifications_are_pushed_and_stop_ends_the_sender(
    http: requests.Session, receiver: Receiver
) -> None:
    srv = DemoServer(seed=3, push_retry_delays=FAST)
    srv.start()
    try:
        token = srv.create_token()
        every = dict.fromkeys(("mention", "favourite", "follow", "reblog", "status"), True)
        subscribe(http, srv, token, subscription(receiver.url(), webpush.generate_keys(), every))
        assert [t.name for t in threading.enumerate()].count("demo-push-sender") >= 1
        notes = srv.generate(10)
        assert srv.wait_for_pushes(1)[0].notification_id in {n["id"] for n in notes}
        with pytest.raises(TimeoutError):
            srv.wait_for_pushes(1000, timeout=0.05)
    finally:
        t0 = time.monotonic()
        srv.stop()
    assert time.monotonic() - t0 < 3
    assert not [t for t in threading.enumerate() if t.name == "demo-push-sender"]
