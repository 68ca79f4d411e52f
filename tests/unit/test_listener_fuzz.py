"""The push listener fed arbitrary bytes as whole HTTP requests over a real socket.

Whatever arrives, no exception escapes a worker, nothing is logged as an error, on_push is
never called, the answer is a well-formed rejection (or nothing), and the server stays up.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tootbell.delivery.listener import PushListener, PushRoute
from tootbell.mastodon.webpush import (
    PushPayload,
    VapidSigner,
    b64url_encode,
    encrypt,
    generate_keys,
    merge_headers,
)

AUDIENCE = "https://relay.example"
TOKEN = "fuzz-access-token"
REJECTIONS = {400, 401, 403, 404, 405, 408, 411, 413, 414, 415, 431, 501, 503, 505}


class ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Target:
    listener: PushListener
    route: PushRoute
    path: str
    auth_headers: dict[str, str]  # valid VAPID for the route, so bodies reach decryption
    body: bytes  # a valid encrypted push body, to be damaged
    calls: list[tuple[str, PushPayload]]
    errors: ErrorRecords


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    keys = generate_keys()
    signer = VapidSigner.generate()
    route = PushRoute(
        account_key="fuzz@example.social",
        path_token=b64url_encode(os.urandom(32)),
        keys=keys,
        server_key=signer.public_b64,
        audience=AUDIENCE,
        access_token=TOKEN,
    )
    body, enc_headers = encrypt(
        b'{"access_token": "fuzz-access-token", "notification_id": 1}',
        public_b64=keys.public_b64,
        auth_b64=keys.auth_b64,
    )
    calls: list[tuple[str, PushPayload]] = []
    listener = PushListener(
        on_push=lambda key, p: calls.append((key, p)), max_workers=2, read_timeout=2.0
    )
    listener.set_routes([route])
    errors = ErrorRecords()
    logger = logging.getLogger("tootbell")
    logger.addHandler(errors)
    listener.start()
    try:
        yield Target(
            listener,
            route,
            listener.path_for(route),
            merge_headers(enc_headers, signer.headers(AUDIENCE, encoding="aes128gcm")),
            body,
            calls,
            errors,
        )
    finally:
        listener.stop()
        logger.removeHandler(errors)


def exchange(address: tuple[str, int], data: bytes) -> bytes:
    with socket.create_connection(address, timeout=5) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # answered and closed before everything was sent
            pass
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


# Requests shaped like pushes, with parts chosen to hit each check.
HEADER_NAMES = st.sampled_from(
    [
        "Content-Length",
        "Content-Encoding",
        "Authorization",
        "Crypto-Key",
        "Encryption",
        "Transfer-Encoding",
        "Host",
        "Expect",
        "Connection",
        "TTL",
    ]
) | st.text(max_size=20)
HEADER_VALUES = st.sampled_from(
    ["aes128gcm", "aesgcm", "0", "10", "4096", "4097", "99999999999999", "-1", "chunked", ""]
) | st.text(max_size=80)


def mostly(draw: st.DrawFn, usual: object, other: st.SearchStrategy[object]) -> object:
    """``usual`` four times in five, else something drawn from ``other``."""
    return usual if draw(st.integers(0, 4)) else draw(other)


@st.composite
def shaped_requests(draw: st.DrawFn, target: Target) -> bytes:
    method = mostly(draw, "POST", st.sampled_from(["GET", "post", "PUT", ""]) | st.text(max_size=8))
    path = mostly(
        draw,
        target.path,
        st.sampled_from([target.path + "?a=b", "/push/", "/", "*", "//push/x"])
        | st.text(max_size=60),
    )
    version = mostly(
        draw, "HTTP/1.1", st.sampled_from(["HTTP/1.0", "HTTP/2.0", "HTTP/0.9", "", "HTTP/x"])
    )
    headers = dict(target.auth_headers) if mostly(draw, True, st.just(False)) else {}
    headers.update(draw(st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=4)))
    body = draw(
        st.sampled_from([target.body, target.body[:-1], target.body[1:], target.body + b"x", b""])
        | st.binary(max_size=400)
    )
    if body == target.body:  # the right length: damage a byte so it cannot decrypt
        at = draw(st.integers(0, len(body) - 1))
        body = body[:at] + bytes([body[at] ^ draw(st.integers(1, 255))]) + body[at + 1 :]
    if mostly(draw, True, st.just(False)):
        headers["Content-Length"] = str(len(body))
    eol = mostly(draw, "\r\n", st.sampled_from(["\n", "\r"]))
    assert isinstance(eol, str)
    head = eol.join([f"{method} {path} {version}"] + [f"{k}: {v}" for k, v in headers.items()])
    data = (head + eol + eol).encode("utf-8") + body
    if not mostly(draw, True, st.just(False)):
        cut = draw(st.integers(min_value=0, max_value=len(data)))
        data = data[:cut] + draw(st.binary(max_size=40)) + data[cut:]
    return data


def check_answer(target: Target, data: bytes) -> None:
    answer = exchange(target.listener.address, data)
    if answer:
        assert answer.startswith(b"HTTP/1.0 "), answer[:40]
        status = int(answer.split(b" ", 2)[1])
        assert status in REJECTIONS, answer[:80]
        assert b"\r\n\r\n" in answer and answer.endswith(b"\r\n\r\n")  # no body, ever
    assert target.calls == []
    assert target.errors.records == []
    assert any(t.name == "push-listener" and t.is_alive() for t in threading.enumerate())


FUZZ = settings(max_examples=200, deadline=None)


@FUZZ
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes(target: Target, data: bytes) -> None:
    check_answer(target, data)


@FUZZ
@given(st.data())
def test_push_shaped_requests(target: Target, data: st.DataObject) -> None:
    check_answer(target, data.draw(shaped_requests(target)))


def test_still_serving_after_fuzzing(target: Target) -> None:
    body, enc_headers = encrypt(
        b'{"access_token": "fuzz-access-token", "notification_id": 2}',
        public_b64=target.route.keys.public_b64,
        auth_b64=target.route.keys.auth_b64,
    )
    headers = {**target.auth_headers, **enc_headers, "Content-Length": str(len(body))}
    head = f"POST {target.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    answer = exchange(target.listener.address, (head + "\r\n").encode() + body)
    assert answer.startswith(b"HTTP/1.0 201 ")
    assert [p.notification_id for _, p in target.calls] == ["2"]
    target.calls.clear()
    stats = target.listener.stats
    assert stats.queue_full == 0
    assert stats.rejected_by_reason.get("internal_error", 0) == 0
