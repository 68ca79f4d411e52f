"""Interoperability of tootbell.mastodon.webpush with independent implementations, for both
content encodings and both VAPID header styles: pywebpush + py_vapid (Python) and npm
``web-push`` (Node.js, tests/interop/encrypt.js) as senders to our receiver; npm ``http_ece``
(tests/interop/decrypt.js) and py_vapid as receivers of what our sending side produces."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from py_vapid import Vapid01, Vapid02
from pywebpush import WebPusher, webpush

from tootbell.mastodon.webpush import (
    DecryptError,
    PushKeys,
    VapidError,
    VapidSigner,
    b64url_decode,
    decrypt,
    encrypt,
    generate_keys,
    parse_payload,
    verify_vapid,
)

INTEROP = Path(__file__).resolve().parents[1] / "interop"
NODE_MODULES = INTEROP / "node_modules"
NODE_PACKAGES = ("web-push", "http_ece")
ENCODINGS = ["aes128gcm", "aesgcm"]
ENDPOINT = "https://relay.example:8443/push/route-token"
AUDIENCE = "https://relay.example:8443"
SUBJECT = "mailto:admin@social.example"
MESSAGE = {
    "access_token": "tok-0123456789abcdefghijklmnopqrstuvwxyz",
    "preferred_locale": "en",
    "notification_id": 1234567,
    "notification_type": "mention",
    "icon": "https://social.example/a.png",
    "title": "Alice mentioned you",
    "body": "Ünïcödé and emoji 🐘 survive the trip",
}
PLAINTEXT = json.dumps(MESSAGE, ensure_ascii=False).encode("utf-8")


def subscription_info(keys: PushKeys) -> dict[str, Any]:
    return {"endpoint": ENDPOINT, "keys": {"p256dh": keys.public_b64, "auth": keys.auth_b64}}


def check_delivery(
    body: bytes, headers: Mapping[str, str], keys: PushKeys, server_key: str
) -> None:
    """What the listener does: VAPID first, then decrypt, then parse."""
    verify_vapid(headers, server_key, audience=AUDIENCE)
    payload = parse_payload(decrypt(body, headers, keys))
    assert payload.notification_id == "1234567"
    assert payload.body == MESSAGE["body"]
    assert payload.token_matches(str(MESSAGE["access_token"]))


# --------------------------------------------------------------------------- pywebpush


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_pywebpush_encode_decrypts(encoding: str) -> None:
    keys = generate_keys()
    encoded = WebPusher(subscription_info(keys)).encode(PLAINTEXT, content_encoding=encoding)
    headers = {"Content-Encoding": encoding}
    if encoding == "aesgcm":
        headers["Encryption"] = "salt=" + encoded["salt"].decode()
        headers["Crypto-Key"] = "dh=" + encoded["crypto_key"].decode()
    assert decrypt(encoded["body"], headers, keys) == PLAINTEXT
    with pytest.raises(DecryptError, match="authentication failed"):
        decrypt(encoded["body"], headers, generate_keys())


class CapturingSession:
    """Stands in for requests.Session: records what pywebpush would POST."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def post(self, url: str, *, data: bytes, headers: Mapping[str, str], timeout: object) -> Any:
        self.sent.append((url, data, {str(k): str(v) for k, v in headers.items()}))
        return _Created()


class _Created:
    status_code = 201
    text = ""
    headers: dict[str, str] = {}  # noqa: RUF012


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_pywebpush_full_request_is_accepted(encoding: str) -> None:
    """pywebpush.webpush() assembles body + encryption + VAPID headers itself."""
    keys = generate_keys()
    vapid = Vapid01() if encoding == "aesgcm" else Vapid02()
    vapid.generate_keys()
    server = VapidSigner.from_private(_raw_private(vapid), subject=SUBJECT)
    session = CapturingSession()
    webpush(
        subscription_info(keys),
        PLAINTEXT,
        vapid_private_key=vapid,
        vapid_claims={"sub": SUBJECT},
        content_encoding=encoding,
        requests_session=session,
    )
    [(url, body, headers)] = session.sent
    assert url == ENDPOINT
    # pywebpush sends lower-case header names
    assert {"authorization", "content-encoding"} <= set(headers)
    scheme = "WebPush " if encoding == "aesgcm" else "vapid t="
    assert headers["authorization"].startswith(scheme)
    if encoding == "aesgcm":
        assert "dh=" in headers["crypto-key"] and "p256ecdsa=" in headers["crypto-key"]
    check_delivery(body, headers, keys, server.public_b64)
    with pytest.raises(VapidError, match="another key"):
        verify_vapid(headers, VapidSigner.generate().public_b64, audience=AUDIENCE)


def _raw_private(vapid: Vapid01) -> str:
    value = vapid.private_key.private_numbers().private_value
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).decode().rstrip("=")


def _py_vapid_headers(vapid: Vapid01, **claims: Any) -> dict[str, str]:
    signed = vapid.sign({"sub": SUBJECT, **claims})
    return {str(k): str(v) for k, v in signed.items()}


@pytest.mark.parametrize("style", [Vapid01, Vapid02])
def test_py_vapid_headers_verify_and_rejections(style: type[Vapid01]) -> None:
    vapid = style()
    vapid.generate_keys()
    server_key = VapidSigner.from_private(_raw_private(vapid)).public_b64
    now = int(time.time())

    good = _py_vapid_headers(vapid, aud=AUDIENCE, exp=now + 3600)
    verify_vapid(good, server_key, audience=AUDIENCE)
    # py_vapid's own default expiry is 24 h ahead: within the limit.
    verify_vapid(_py_vapid_headers(vapid, aud=AUDIENCE), server_key, audience=AUDIENCE)

    auth = good["Authorization"]
    cut = auth.rindex(".") + 3
    flipped = "A" if auth[cut] != "A" else "B"
    tampered = {**good, "Authorization": auth[:cut] + flipped + auth[cut + 1 :]}
    cases: list[tuple[dict[str, str], str, str]] = [
        (tampered, server_key, "signature"),
        (good, VapidSigner.generate().public_b64, "another key"),
        (_py_vapid_headers(vapid, aud="https://other.example", exp=now + 60), server_key, "aud"),
        (_py_vapid_headers(vapid, aud=AUDIENCE, exp=now - 10), server_key, "expired"),
        (_py_vapid_headers(vapid, aud=AUDIENCE, exp=now + 3 * 86400), server_key, "too far"),
    ]
    for headers, key, reason in cases:
        with pytest.raises(VapidError, match=reason):
            verify_vapid(headers, key, audience=AUDIENCE)


# --------------------------------------------------------------------------- npm web-push


@pytest.fixture(scope="module")
def node() -> str:
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "Node.js is not installed"
    elif not all((NODE_MODULES / name / "package.json").is_file() for name in NODE_PACKAGES):
        missing = "npm web-push and http_ece are not installed in tests/interop/node_modules"
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}; .ci/run installs them before the tests")
        pytest.skip(f"{missing}; run: npm install --prefix tests/interop --no-audit --no-fund")
    assert node is not None
    return node


def web_push_request(
    node: str, keys: PushKeys, signer: VapidSigner, encoding: str
) -> tuple[bytes, dict[str, str]]:
    request = {
        "endpoint": ENDPOINT,
        "p256dh": keys.public_b64,
        "auth": keys.auth_b64,
        "payload": PLAINTEXT.decode("utf-8"),
        "contentEncoding": encoding,
        "vapid": {
            "subject": SUBJECT,
            "publicKey": signer.public_b64,
            "privateKey": signer.private_b64,
        },
    }
    result = run_node(node, "encrypt.js", request)
    return base64.b64decode(result["body"]), result["headers"]


def run_node(node: str, script: str, request: Mapping[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [node, str(INTEROP / script)],
        input=json.dumps(request).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_npm_web_push_request_is_accepted(node: str, encoding: str) -> None:
    keys = generate_keys()
    signer = VapidSigner.generate()
    body, headers = web_push_request(node, keys, signer, encoding)
    assert headers["Content-Encoding"] == encoding
    if encoding == "aesgcm":
        assert headers["Authorization"].startswith("WebPush ")
        assert "dh=" in headers["Crypto-Key"] and "p256ecdsa=" in headers["Crypto-Key"]
    else:
        assert headers["Authorization"].startswith("vapid t=")
        assert "Crypto-Key" not in headers
    check_delivery(body, headers, keys, signer.public_b64)

    # The same request is refused for another subscription, server or audience.
    with pytest.raises(DecryptError, match="authentication failed"):
        decrypt(body, headers, generate_keys())
    with pytest.raises(VapidError, match="another key"):
        verify_vapid(headers, VapidSigner.generate().public_b64, audience=AUDIENCE)
    with pytest.raises(VapidError, match="wrong audience"):
        verify_vapid(headers, signer.public_b64, audience="https://relay.example")
    with pytest.raises(VapidError, match="expired"):
        verify_vapid(headers, signer.public_b64, audience=AUDIENCE, now=time.time() + 13 * 3600)
    jwt_claims = json.loads(b64url_decode(_jwt(headers).split(".")[1]))
    assert jwt_claims["aud"] == AUDIENCE and jwt_claims["sub"] == SUBJECT


def _jwt(headers: Mapping[str, str]) -> str:
    auth = headers["Authorization"]
    if auth.startswith("WebPush "):
        return auth.split(" ", 1)[1]
    return auth.split("t=", 1)[1].split(",", 1)[0]


# --------------------------------------------------------------------------- our sending side


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_npm_http_ece_decrypts_our_encrypt(node: str, encoding: str) -> None:
    keys = generate_keys()
    body, headers = encrypt(
        PLAINTEXT, public_b64=keys.public_b64, auth_b64=keys.auth_b64, encoding=encoding
    )
    request: dict[str, Any] = {
        "body": base64.b64encode(body).decode(),
        "contentEncoding": headers["Content-Encoding"],
        "privateKey": keys.private_b64,
        "auth": keys.auth_b64,
    }
    if encoding == "aesgcm":
        request["salt"] = headers["Encryption"].removeprefix("salt=")
        request["dh"] = headers["Crypto-Key"].removeprefix("dh=")
    result = run_node(node, "decrypt.js", request)
    assert base64.b64decode(result["plaintext"]) == PLAINTEXT


def test_py_vapid_verifies_our_signer() -> None:
    signer = VapidSigner.generate(subject=SUBJECT)
    headers = signer.headers(ENDPOINT, encoding="aes128gcm")
    # py_vapid's parser splits on the last space, so it needs RFC 8292's comma without one.
    assert Vapid02.verify(headers["Authorization"].replace(", k=", ",k="))
    forged = VapidSigner.generate()
    other = forged.headers(ENDPOINT, encoding="aes128gcm")["Authorization"]
    token = other.split("t=", 1)[1].split(",", 1)[0]
    assert not Vapid02.verify(f"vapid t={token},k={signer.public_b64}")
