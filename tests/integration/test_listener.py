"""The push listener over real loopback HTTP, fed by an independent sender (pywebpush, py_vapid)."""

from __future__ import annotations

import base64
import errno
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid01, Vapid02
from pywebpush import WebPusher

from tootbell.delivery import listener as listener_module
from tootbell.delivery.listener import (
    AddressInUseError,
    ListenerError,
    PushListener,
    PushRoute,
)
from tootbell.mastodon.webpush import PushKeys, PushPayload, VapidSigner, encrypt, merge_headers

AUDIENCE = "https://relay.example"
ACCOUNT = "alice@example.social"
ACCESS_TOKEN = "alice-oauth-token-0123456789abcdef"


# ------------------------------------------------------------------------ an independent sender


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_keys() -> PushKeys:
    """Receiver keys made here with cryptography, not by the code under test."""
    private = ec.generate_private_key(ec.SECP256R1())
    scalar = private.private_numbers().private_value.to_bytes(32, "big")
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return PushKeys(
        private_b64=b64url(scalar), public_b64=b64url(point), auth_b64=b64url(os.urandom(16))
    )


@dataclass
class Sender:
    """What a Mastodon server holds: a VAPID key, and the subscription it pushes to."""

    keys: PushKeys
    vapid_private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    @property
    def server_key(self) -> str:
        return b64url(
            self.vapid_private.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def vapid(
        self, encoding: str, claims: dict[str, Any], crypto_key: str | None
    ) -> dict[str, str]:
        scalar = self.vapid_private.private_numbers().private_value.to_bytes(32, "big")
        if encoding == "aes128gcm":
            return dict(Vapid02.from_raw(b64url(scalar).encode()).sign(claims))
        return dict(Vapid01.from_raw(b64url(scalar).encode()).sign(claims, crypto_key=crypto_key))

    def push(
        self,
        payload: dict[str, Any],
        *,
        encoding: str = "aes128gcm",
        aud: str = AUDIENCE,
        exp: int | None = None,
    ) -> tuple[dict[str, str], bytes]:
        sub_info = {
            "endpoint": AUDIENCE + "/unused",
            "keys": {"p256dh": self.keys.public_b64, "auth": self.keys.auth_b64},
        }
        encoded = WebPusher(sub_info).encode(
            json.dumps(payload).encode("utf-8"), content_encoding=encoding
        )
        headers = {
            "Content-Encoding": encoding,
            "Content-Type": "application/octet-stream",
            "TTL": "172800",
            "Urgency": "normal",
        }
        crypto_key = None
        if encoding == "aesgcm":
            headers["Encryption"] = "salt=" + encoded["salt"].decode("ascii")
            crypto_key = "dh=" + encoded["crypto_key"].decode("ascii")
        claims: dict[str, Any] = {"aud": aud, "sub": "mailto:admin@example.social"}
        claims["exp"] = int(time.time()) + 12 * 3600 if exp is None else exp
        headers.update(self.vapid(encoding, claims, crypto_key))
        return headers, encoded["body"]


def payload(nid: int | str = 12345, token: str = ACCESS_TOKEN) -> dict[str, Any]:
    return {
        "access_token": token,
        "preferred_locale": "en",
        "notification_id": nid,
        "notification_type": "mention",
        "icon": "https://example.social/avatars/bob.png",
        "title": "Bob mentioned you",
        "body": "hello @alice",
    }


# ----------------------------------------------------------------------------- raw HTTP


def raw_request(
    address: tuple[str, int], data: bytes, *, timeout: float = 5.0, close_write: bool = True
) -> bytes:
    """Send ``data`` as-is and read until the server closes."""
    with socket.create_connection(address, timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if close_write:
                sock.shutdown(socket.SHUT_WR)
        except OSError:  # answered and closed before the request was all sent
            pass
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int | None:
    parts = response.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        return None
    return int(parts[1])


def http_bytes(
    path: str, headers: dict[str, str], body: bytes, method: str = "POST", length: bool = True
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: relay.example"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


# ----------------------------------------------------------------------------- fixtures


@dataclass
class Rig:
    listener: PushListener
    route: PushRoute
    sender: Sender
    calls: list[tuple[str, PushPayload]]
    session: requests.Session

    @property
    def url(self) -> str:
        host, port = self.listener.address
        return f"http://{host}:{port}{self.listener.path_for(self.route)}"

    @property
    def path(self) -> str:
        return self.listener.path_for(self.route)

    def post(
        self, headers: dict[str, str], body: bytes, *, path: str | None = None
    ) -> requests.Response:
        host, port = self.listener.address
        url = f"http://{host}:{port}{path or self.path}"
        return self.session.post(url, headers=headers, data=body, timeout=5)

    def valid_request(self, nid: int | str, encoding: str = "aes128gcm") -> bytes:
        headers, body = self.sender.push(payload(nid), encoding=encoding)
        return http_bytes(self.path, headers, body)


def make_route(keys: PushKeys, sender: Sender, account: str = ACCOUNT) -> PushRoute:
    return PushRoute(
        account_key=account,
        path_token=b64url(os.urandom(32)),
        keys=keys,
        server_key=sender.server_key,
        audience=AUDIENCE,
        access_token=ACCESS_TOKEN,
    )


@contextmanager
def make_rig(**kwargs: Any) -> Iterator[Rig]:
    calls: list[tuple[str, PushPayload]] = []
    on_push = kwargs.pop("on_push", None) or (lambda key, p: calls.append((key, p)))
    keys = new_keys()
    sender = Sender(keys)
    route = make_route(keys, sender)
    lst = PushListener(on_push=on_push, **kwargs)
    lst.set_routes([route])
    lst.start()
    with requests.Session() as session:
        try:
            yield Rig(lst, route, sender, calls, session)
        finally:
            lst.stop()


@pytest.fixture
def rig() -> Iterator[Rig]:
    with make_rig(read_timeout=2.0) as r:
        yield r


# ----------------------------------------------------------------------------- valid pushes


@pytest.mark.parametrize("encoding", ["aes128gcm", "aesgcm"])
def test_valid_push_from_pywebpush_is_accepted(rig: Rig, encoding: str) -> None:
    headers, body = rig.sender.push(payload(109876543210), encoding=encoding)
    response = rig.post(headers, body)
    assert response.status_code == 201
    assert response.content == b""
    assert len(rig.calls) == 1
    account, got = rig.calls[0]
    assert account == ACCOUNT
    assert got.notification_id == "109876543210"  # a JSON number becomes a string
    assert got.notification_type == "mention"
    assert got.title == "Bob mentioned you"
    stats = rig.listener.stats
    assert stats.accepted == 1
    assert ACCOUNT in stats.last_push_at
    assert stats.rejected_by_reason == {}


@pytest.mark.parametrize("encoding", ["aes128gcm", "aesgcm"])
def test_valid_push_from_contract_sender_is_accepted(rig: Rig, encoding: str) -> None:
    signer = VapidSigner.generate()
    route = PushRoute(
        account_key="bob@gts.example",
        path_token=b64url(os.urandom(32)),
        keys=rig.route.keys,
        server_key=signer.public_b64,
        audience=AUDIENCE,
        access_token="bob-token",
    )
    rig.listener.set_routes([rig.route, route])
    data = json.dumps(payload("01HZXYZ", token="bob-token")).encode()
    body, enc_headers = encrypt(
        data, public_b64=route.keys.public_b64, auth_b64=route.keys.auth_b64, encoding=encoding
    )
    headers = merge_headers(enc_headers, signer.headers(AUDIENCE, encoding=encoding))
    response = rig.post(headers, body, path=rig.listener.path_for(route))
    assert response.status_code == 201
    assert [(k, p.notification_id) for k, p in rig.calls] == [("bob@gts.example", "01HZXYZ")]


# ----------------------------------------------------------------------------- rejections


def test_unknown_paths_are_404(rig: Rig) -> None:
    headers, body = rig.sender.push(payload())
    for path in ("/", "/push/", "/push/nope", "/other" + rig.path, rig.path + "x", rig.path[:-1]):
        assert rig.post(headers, body, path=path).status_code == 404, path
    assert rig.calls == []
    assert rig.listener.stats.rejected_by_reason == {"not_found": 6}


def test_path_check_comes_before_method(rig: Rig) -> None:
    host, port = rig.listener.address
    assert rig.session.get(f"http://{host}:{port}/push/nope", timeout=5).status_code == 404
    response = rig.session.get(rig.url, timeout=5)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    for method in ("PUT", "DELETE", "HEAD", "OPTIONS", "BREW"):
        assert rig.session.request(method, rig.url, timeout=5).status_code == 405
    assert rig.calls == []


def test_missing_or_malformed_length(rig: Rig) -> None:
    headers, body = rig.sender.push(payload())
    no_length = http_bytes(rig.path, headers, body, length=False)
    assert status_of(raw_request(rig.listener.address, no_length)) == 411
    chunked = http_bytes(
        rig.path, {**headers, "Transfer-Encoding": "chunked"}, b"0\r\n\r\n", length=False
    )
    assert status_of(raw_request(rig.listener.address, chunked)) == 411
    for bad in ("-1", "+5", "1_0", "0x10", "", "١٢"):
        data = http_bytes(rig.path, {**headers, "Content-Length": bad}, body, length=False)
        assert status_of(raw_request(rig.listener.address, data)) == 400, bad
    twice = http_bytes(rig.path, {**headers, "Content-Length": str(len(body))}, body)
    assert status_of(raw_request(rig.listener.address, twice)) == 400
    assert rig.calls == []


def test_oversized_body_is_413_without_reading_it(rig: Rig) -> None:
    headers, _ = rig.sender.push(payload())
    head = http_bytes(rig.path, {**headers, "Content-Length": "100000000"}, b"", length=False)
    with socket.create_connection(rig.listener.address, timeout=5) as sock:
        sock.sendall(head + b"x" * 1000)  # the other 99,999,000 bytes are never sent
        started = time.monotonic()
        response = read_all(sock)
    assert status_of(response) == 413
    assert time.monotonic() - started < 1.0
    # One byte over the limit, through a real client.
    big = rig.post(headers, b"x" * (rig.listener.max_body + 1))
    assert big.status_code == 413
    assert rig.calls == []


MALFORMED = [
    pytest.param(
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",
        414,
        "request_line_too_long",
        id="request-line-too-long",
    ),
    pytest.param(b"\r\n", 400, "malformed", id="blank-request-line"),
    pytest.param(b"   \r\n\r\n", 400, "malformed", id="spaces-only"),
    pytest.param(b"GARBAGE\r\n\r\n", 400, "malformed", id="one-word"),
    pytest.param(b"POST /push/abc HTT", 400, "malformed", id="never-finished"),
    pytest.param(b"GET / HTTP/9.9\r\n\r\n", 505, "malformed", id="unknown-version"),
    pytest.param(b"GET / FOO/1.1\r\n\r\n", 400, "malformed", id="not-http"),
    pytest.param(
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(64)),
        400,
        "malformed",
        id="tls-hello",
    ),
    pytest.param(
        b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 150 + b"\r\n", 431, "malformed", id="too-many-headers"
    ),
    pytest.param(b"GET /\r\n", 404, "not_found", id="http-0.9"),
]


@pytest.mark.parametrize(("request_bytes", "status", "reason"), MALFORMED)
def test_malformed_requests_get_an_answer_and_one_count(
    rig: Rig, caplog: pytest.LogCaptureFixture, request_bytes: bytes, status: int, reason: str
) -> None:
    """Every request that is not HTTP gets a status line it can read, is counted once, and
    logs nothing above debug (no traceback)."""
    with caplog.at_level(logging.DEBUG, logger="tootbell"):
        response = raw_request(rig.listener.address, request_bytes)
    assert response.startswith(f"HTTP/1.0 {status} ".encode()), response[:60]
    assert b"\r\nConnection: close\r\n\r\n" in response
    assert rig.listener.stats.rejected_by_reason == {reason: 1}
    assert [r for r in caplog.records if r.levelno > logging.DEBUG] == []
    assert rig.calls == []


def test_unsupported_encoding_is_415(rig: Rig) -> None:
    headers, body = rig.sender.push(payload())
    for encoding in ("gzip", "", "aes128gcm2", "identity"):
        response = rig.post({**headers, "Content-Encoding": encoding}, body)
        assert response.status_code == 415, encoding
    no_encoding = {k: v for k, v in headers.items() if k != "Content-Encoding"}
    assert rig.post(no_encoding, body).status_code == 415
    assert rig.calls == []


def test_missing_vapid_is_401(rig: Rig) -> None:
    headers, body = rig.sender.push(payload())
    del headers["Authorization"]
    response = rig.post(headers, body)
    assert response.status_code == 401
    blank = http_bytes(rig.path, {**headers, "Authorization": "  "}, body)
    assert status_of(raw_request(rig.listener.address, blank)) == 401
    assert rig.calls == []
    assert rig.listener.stats.rejected_by_reason == {"vapid_missing": 2}


@pytest.mark.parametrize("encoding", ["aes128gcm", "aesgcm"])
def test_bad_vapid_is_403(rig: Rig, encoding: str) -> None:
    sender = rig.sender
    cases: dict[str, tuple[dict[str, str], bytes]] = {}
    cases["wrong aud"] = sender.push(payload(), encoding=encoding, aud="https://evil.example")
    cases["expired"] = sender.push(payload(), encoding=encoding, exp=int(time.time()) - 60)
    cases["too far"] = sender.push(payload(), encoding=encoding, exp=int(time.time()) + 3 * 86400)
    stranger = Sender(rig.route.keys)  # right receiver keys, another server's VAPID key
    cases["other server"] = stranger.push(payload(), encoding=encoding)
    headers, body = sender.push(payload(), encoding=encoding)
    jwt = headers["Authorization"].split("t=")[-1].split(",")[0].split(" ")[-1]
    tampered = jwt[:-6] + ("AAAAAA" if not jwt.endswith("AAAAAA") else "BBBBBB")
    bad_auth = headers["Authorization"].replace(jwt, tampered)
    cases["bad signature"] = ({**headers, "Authorization": bad_auth}, body)
    cases["not vapid"] = ({**headers, "Authorization": "Bearer abc"}, body)
    for name, (h, b) in cases.items():
        assert rig.post(h, b).status_code == 403, name
    assert rig.calls == []
    assert rig.listener.stats.rejected_by_reason == {"vapid_invalid": len(cases)}


def test_garbage_body_is_400(rig: Rig) -> None:
    headers, body = rig.sender.push(payload())
    flipped = bytearray(body)
    flipped[-1] ^= 1
    for garbage in (b"", b"garbage", os.urandom(200), bytes(flipped), body[:-1]):
        assert rig.post(headers, garbage).status_code == 400
    a_headers, a_body = rig.sender.push(payload(), encoding="aesgcm")
    no_salt = {k: v for k, v in a_headers.items() if k != "Encryption"}
    assert rig.post(no_salt, a_body).status_code == 400
    assert rig.calls == []
    assert rig.listener.stats.rejected_by_reason == {"decrypt": 6}


def test_body_shorter_than_its_length_is_400(rig: Rig) -> None:
    headers, body = rig.sender.push(payload())
    data = http_bytes(
        rig.path, {**headers, "Content-Length": str(len(body) + 10)}, body, length=False
    )
    assert status_of(raw_request(rig.listener.address, data)) == 400
    assert rig.calls == []


def test_undecodable_payload_is_400(rig: Rig) -> None:
    keys = rig.route.keys
    for plaintext in (b"not json", b"[]", json.dumps({"access_token": ACCESS_TOKEN}).encode()):
        body, enc = encrypt(plaintext, public_b64=keys.public_b64, auth_b64=keys.auth_b64)
        headers, _ = rig.sender.push(payload())
        assert rig.post({**headers, **enc}, body).status_code == 400
    assert rig.calls == []
    assert rig.listener.stats.rejected_by_reason == {"payload": 3}


def test_wrong_access_token_is_403(rig: Rig) -> None:
    headers, body = rig.sender.push(payload(token="someone-elses-token"))
    assert rig.post(headers, body).status_code == 403
    assert rig.calls == []
    assert rig.listener.stats.rejected_by_reason == {"token_mismatch": 1}


def test_routes_swap_atomically(rig: Rig) -> None:
    headers, body = rig.sender.push(payload(1))
    old_path = rig.path
    new_route = make_route(rig.route.keys, rig.sender, account="alice@new.example")
    rig.listener.set_routes([new_route])
    assert rig.post(headers, body, path=old_path).status_code == 404
    assert rig.post(headers, body, path=rig.listener.path_for(new_route)).status_code == 201
    assert [k for k, _ in rig.calls] == ["alice@new.example"]
    rig.listener.set_routes([])
    assert rig.post(headers, body, path=rig.listener.path_for(new_route)).status_code == 404


# ----------------------------------------------------------------------------- after acceptance


def test_on_push_failure_still_answers_201(caplog: pytest.LogCaptureFixture) -> None:
    def broken(account: str, p: PushPayload) -> None:
        raise RuntimeError("inbox exploded")

    with make_rig(on_push=broken) as rig:
        headers, body = rig.sender.push(payload(7))
        with caplog.at_level(logging.ERROR, logger="tootbell.delivery.listener"):
            assert rig.post(headers, body).status_code == 201
        stats = rig.listener.stats
        assert stats.accepted == 1
        assert stats.handoff_failures == 1
        assert any(r.exc_info and "inbox exploded" in str(r.exc_info[1]) for r in caplog.records)
        # Still serving.
        headers, body = rig.sender.push(payload(8))
        assert rig.post(headers, body).status_code == 201


def test_replay_is_answered_but_delivered_once(rig: Rig) -> None:
    data = rig.valid_request(555)
    assert status_of(raw_request(rig.listener.address, data)) == 201
    assert status_of(raw_request(rig.listener.address, data)) == 201
    # The same notification re-encrypted (a server retry) is a replay too.
    headers, body = rig.sender.push(payload(555), encoding="aesgcm")
    assert rig.post(headers, body).status_code == 201
    assert [p.notification_id for _, p in rig.calls] == ["555"]
    headers, body = rig.sender.push(payload(556))
    assert rig.post(headers, body).status_code == 201
    assert [p.notification_id for _, p in rig.calls] == ["555", "556"]
    stats = rig.listener.stats
    assert (stats.accepted, stats.replayed) == (2, 2)


def test_replay_memory_expires_and_is_bounded() -> None:
    now = [1_000_000.0]
    calls: list[str] = []
    with make_rig(
        on_push=lambda k, p: calls.append(p.notification_id), clock=lambda: now[0]
    ) as rig:
        # verify_vapid uses the injected clock, so sign with a matching expiry.
        def send(nid: int) -> int:
            headers, body = rig.sender.push(payload(nid), exp=int(now[0]) + 3600)
            return rig.post(headers, body).status_code

        assert send(1) == 201
        assert send(1) == 201
        assert calls == ["1"]
        assert rig.listener.stats.last_push_at == {ACCOUNT: now[0]}
        now[0] += listener_module.REPLAY_WINDOW_S + 1
        assert send(1) == 201
        assert calls == ["1", "1"]
        for n in range(2, 2 + listener_module.REPLAY_CAPACITY):  # push "1" out of memory
            rig.listener._deliver(ACCOUNT, PushPayload(str(n), "mention", "t", "", "", "", ""))
        assert send(1) == 201
        assert calls[-1] == "1" and calls.count("1") == 3
        assert len(rig.listener._recent) <= listener_module.REPLAY_CAPACITY


def test_logs_never_show_secrets(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        headers, body = rig.sender.push(payload(9))
        rig.post(headers, body)
        rig.post({**headers, "Content-Encoding": "gzip"}, body)
        rig.post(headers, b"garbage")
        rig.post(headers, body, path="/push/nope")
        bad = rig.sender.push(payload(10, token="wrong-token-4f9a7c"))
        rig.post(*bad)
    ours = [r for r in caplog.records if r.name.startswith("tootbell")]
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in ours)
    jwt = headers["Authorization"].split("t=")[-1].split(",")[0]
    for secret in (
        rig.route.path_token,
        jwt,
        ACCESS_TOKEN,
        "wrong-token-4f9a7c",
        "garbage",
        rig.route.keys.auth_b64,
    ):
        assert secret not in text
    assert "rejected 415 encoding" in text


# ----------------------------------------------------------------------------- bounded


def test_busy_listener_answers_at_once_and_recovers() -> None:
    before = threading.active_count()
    with make_rig(max_workers=2, max_pending=2, read_timeout=1.0) as rig:
        assert threading.active_count() == before + 1 + 2
        slow = []
        try:
            for _ in range(4):  # two taken by the workers, then two filling the queue
                slow.append(socket.create_connection(rig.listener.address, timeout=5))
                time.sleep(0.05)
            push = rig.valid_request(1)
            started = time.monotonic()
            response = raw_request(rig.listener.address, push)
            elapsed = time.monotonic() - started
            print(f"\nall workers busy: answered {status_of(response)} in {1000 * elapsed:.1f} ms")
            assert status_of(response) == 503
            assert b"Retry-After: 1" in response
            assert elapsed < 1.0
            assert rig.listener.stats.queue_full == 1
            # More arrivals change nothing: still answered at once, no thread added.
            for _ in range(20):
                more = raw_request(rig.listener.address, b"GET / HTTP/1.0\r\n\r\n")
                assert status_of(more) == 503
            assert threading.active_count() == before + 1 + 2
            # The slow clients are cut off at read_timeout (counted from accept).
            for sock in slow:
                sock.settimeout(3.0)
                assert status_of(read_all(sock)) in (408, None)
            assert time.monotonic() - started < 3.0
        finally:
            for sock in slow:
                sock.close()
        push = rig.valid_request(2)
        started = time.monotonic()
        assert status_of(raw_request(rig.listener.address, push)) == 201
        print(f"\nafter slow clients: valid push in {1000 * (time.monotonic() - started):.1f} ms")
        assert rig.listener.stats.rejected_by_reason.get("timeout", 0) >= 2
    assert threading.active_count() == before


def test_trickling_client_is_cut_off_at_read_timeout() -> None:
    with make_rig(read_timeout=1.0) as rig:
        request = b"POST " + rig.path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: y\r\n" * 100
        with socket.create_connection(rig.listener.address, timeout=5) as sock:
            started = time.monotonic()
            closed_after = None
            for octet in request:
                try:
                    sock.sendall(bytes([octet]))
                except OSError:
                    closed_after = time.monotonic() - started
                    break
                sock.settimeout(0.05)
                try:
                    sock.recv(4096)  # an answer (408) or the close ends the wait
                except TimeoutError:
                    continue
                closed_after = time.monotonic() - started
                break
            assert closed_after is not None
            assert 0.9 < closed_after < 2.0


FLOODER = r"""
import os, socket, sys, threading
host, path = sys.argv[1], sys.argv[3].encode()
port, per_thread, threads = int(sys.argv[2]), int(sys.argv[4]), int(sys.argv[5])
junk = [
    b"GET / HTTP/1.1\r\n\r\n",
    b"POST /push/nope HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    b"POST " + path + b" HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    b"POST " + path + b" HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n" + b"z" * 2000,
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64),
    os.urandom(300),
    b"",
]
sent = [0] * threads
def flood(n):
    for i in range(per_thread):
        try:
            with socket.create_connection((host, port), timeout=5) as sock:
                sock.sendall(junk[(i + n) % len(junk)])
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(65536):
                    pass
        except OSError:
            pass
        sent[n] += 1
workers = [threading.Thread(target=flood, args=(n,)) for n in range(threads)]
for w in workers: w.start()
for w in workers: w.join()
print(sum(sent))
"""


def test_junk_flood_neither_exhausts_nor_delays() -> None:
    """2,000 junk requests from two other processes (4 connections at a time) while valid
    pushes arrive: every push gets 201 within milliseconds, the thread count never grows."""
    before = threading.active_count()
    with make_rig(max_workers=4, read_timeout=2.0) as rig:
        host, port = rig.listener.address
        pushes = [rig.valid_request(nid) for nid in range(100, 130)]
        args = [sys.executable, "-c", FLOODER, host, str(port), rig.path, "500", "2"]
        started = time.monotonic()
        flooders = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        try:
            time.sleep(0.3)  # let the flood get going
            latencies, statuses, threads = [], [], []
            for data in pushes:
                t0 = time.monotonic()
                statuses.append(status_of(raw_request(rig.listener.address, data)))
                latencies.append(time.monotonic() - t0)
                threads.append(threading.active_count())
                time.sleep(0.01)
            counts = [int(f.communicate(timeout=60)[0]) for f in flooders]
        finally:
            for f in flooders:
                if f.poll() is None:
                    f.kill()
                    f.communicate()
        flood_s = time.monotonic() - started
        total = sum(counts)
        assert total == 2000
        assert max(threads) == before + 1 + 4
        assert statuses == [201] * len(pushes)
        assert [p.notification_id for _, p in rig.calls] == [str(n) for n in range(100, 130)]
        median_ms = 1000 * statistics.median(latencies)
        worst_ms = 1000 * max(latencies)
        assert worst_ms < 250
        stats = rig.listener.stats
        rejected = sum(stats.rejected_by_reason.values()) + stats.queue_full
        assert rejected == total  # each junk connection ends in exactly one counted outcome
        push = rig.valid_request(200)
        t0 = time.monotonic()
        assert status_of(raw_request(rig.listener.address, push)) == 201
        after_ms = 1000 * (time.monotonic() - t0)
        assert after_ms < 100
        print(
            f"\njunk flood: {total} requests in {flood_s:.2f} s ({total / flood_s:.0f}/s), "
            f"valid push under flood median {median_ms:.1f} ms, worst {worst_ms:.1f} ms; "
            f"after flood {after_ms:.1f} ms; 503s {stats.queue_full}; "
            f"reasons {dict(sorted(stats.rejected_by_reason.items()))}"
        )
    assert threading.active_count() == before


# ----------------------------------------------------------------------------- life cycle


def test_port_in_use_raises_address_in_use() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        lst = PushListener(port=port, on_push=lambda k, p: None)
        with pytest.raises(AddressInUseError) as info:
            lst.start()
        assert info.value.message == (
            f"Port {port} on 127.0.0.1 is already in use: choose another port for the push "
            "listener in Settings, or stop the program using it."
        )
        assert not lst.running
        lst.stop()


def test_two_listeners_cannot_share_a_port() -> None:
    first = PushListener(on_push=lambda k, p: None)
    first.start()
    try:
        second = PushListener(port=first.address[1], on_push=lambda k, p: None)
        with pytest.raises(AddressInUseError):
            second.start()
    finally:
        first.stop()


def test_other_bind_failures_are_listener_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ListenerError) as info:
        PushListener("203.0.113.7", on_push=lambda k, p: None).start()
    assert not isinstance(info.value, AddressInUseError)
    assert "does not belong to this computer" in info.value.message
    with pytest.raises(ListenerError) as info:
        PushListener(port=70000, on_push=lambda k, p: None).start()
    assert "0 to 65535" in info.value.message

    def refuse(self: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(listener_module._PushHTTPServer, "server_bind", refuse)
    with pytest.raises(ListenerError) as info:
        PushListener(port=80, on_push=lambda k, p: None).start()
    assert "not allowed to listen on port 80" in info.value.message


def test_stop_is_idempotent_and_start_stop_leaves_nothing_behind() -> None:
    before = threading.active_count()
    lst = PushListener(on_push=lambda k, p: None)
    lst.stop()
    for _ in range(20):
        lst.start()
        lst.start()  # already running: no second server
        names = {t.name for t in threading.enumerate()}
        assert "push-listener" in names
        assert threading.active_count() == before + 1 + lst.max_workers
        lst.stop()
        lst.stop()
        assert threading.active_count() == before
    assert "push-listener" not in {t.name for t in threading.enumerate()}


def test_restart_on_the_same_port_serves_again() -> None:
    with make_rig() as rig:
        port = rig.listener.address[1]
        assert rig.post(*rig.sender.push(payload(1))).status_code == 201
        rig.listener.stop()
        with pytest.raises(requests.ConnectionError):
            rig.post(*rig.sender.push(payload(2)))
        restarted = PushListener(port=port, on_push=lambda k, p: rig.calls.append((k, p)))
        restarted.set_routes([rig.route])
        restarted.start()
        try:
            url = f"http://127.0.0.1:{port}{restarted.path_for(rig.route)}"
            headers, body = rig.sender.push(payload(3))
            assert rig.session.post(url, headers=headers, data=body, timeout=5).status_code == 201
        finally:
            restarted.stop()


def test_stop_does_not_wait_for_slow_clients() -> None:
    with make_rig(read_timeout=30.0) as rig:
        slow = [socket.create_connection(rig.listener.address, timeout=5) for _ in range(6)]
        try:
            time.sleep(0.1)
            started = time.monotonic()
            rig.listener.stop()
            assert time.monotonic() - started < 1.0
            for sock in slow:  # closed without an answer (no 4xx for a push cut short)
                assert read_all(sock) == b""
        finally:
            for sock in slow:
                sock.close()


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    lst = PushListener("::1", on_push=lambda k, p: None)
    try:
        lst.start()
    except ListenerError:
        pytest.skip("IPv6 loopback unavailable")
    try:
        host, port = lst.address
        assert host == "::1" and port > 0
        with socket.create_connection(("::1", port), timeout=5) as sock:
            sock.sendall(b"GET /push/x HTTP/1.0\r\n\r\n")
            assert status_of(read_all(sock)) == 404
    finally:
        lst.stop()
