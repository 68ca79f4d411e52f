"""Unit tests of tootbell.mastodon.webpush: the RFC 8291 example, our own sender against our own
receiver for both encodings, VAPID round trips and rejections, payload parsing, secret hygiene.

Independent senders (pywebpush, npm web-push) are in tests/integration/test_webpush_interop.py.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tootbell.mastodon import webpush
from tootbell.mastodon.webpush import (
    MAX_PAYLOAD_BYTES,
    RECORD_SIZE,
    VAPID_LEEWAY_S,
    VAPID_MAX_LIFETIME_S,
    VAPID_TOKEN_LIFETIME_S,
    DecryptError,
    PayloadError,
    PushError,
    PushKeys,
    PushPayload,
    VapidError,
    VapidSigner,
    b64url_decode,
    b64url_encode,
    decrypt,
    encrypt,
    endpoint_origin,
    generate_keys,
    merge_headers,
    parse_payload,
    verify_vapid,
)

# RFC 8291 Appendix A: the example push message and the keys it was made with.
RFC_PLAINTEXT = b"When I grow up, I want to be a watermelon"
RFC_PLAINTEXT_B64 = "V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24"
RFC_AS_PUBLIC = (
    "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
)
RFC_AS_PRIVATE = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
RFC_UA_PUBLIC = (
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
)
RFC_UA_PRIVATE = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
RFC_SALT = "DGv6ra1nlYgDCS1FRnbzlw"
RFC_AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
RFC_MESSAGE = (
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmY"
    "WAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgS"
    "xsj_Qulcy4a-fN"
)
RFC_KEYS = PushKeys(private_b64=RFC_UA_PRIVATE, public_b64=RFC_UA_PUBLIC, auth_b64=RFC_AUTH)

AES128GCM = {"Content-Encoding": "aes128gcm"}
AUDIENCE = "https://relay.example"
ENDPOINT = "https://relay.example/push/abcdef"
TOKEN = "tok-0123456789abcdefghijklmnopqrstuvwxyz"
NOW = 1_800_000_000.0


def payload_json(**fields: object) -> bytes:
    base: dict[str, object] = {
        "access_token": TOKEN,
        "preferred_locale": "en",
        "notification_id": 123456,
        "notification_type": "mention",
        "icon": "https://social.example/avatars/a.png",
        "title": "Alice mentioned you",
        "body": "hello there",
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


# --------------------------------------------------------------------------- RFC 8291


def test_rfc8291_example_message_decrypts() -> None:
    body = b64url_decode(RFC_MESSAGE)
    assert decrypt(body, AES128GCM, RFC_KEYS) == RFC_PLAINTEXT
    assert b64url_decode(RFC_PLAINTEXT_B64) == RFC_PLAINTEXT


def test_rfc8291_example_needs_the_right_auth_secret() -> None:
    body = b64url_decode(RFC_MESSAGE)
    wrong = PushKeys(RFC_UA_PRIVATE, RFC_UA_PUBLIC, b64url_encode(bytes(16)))
    with pytest.raises(DecryptError) as exc:
        decrypt(body, AES128GCM, wrong)
    assert "authentication failed" in exc.value.reason


def test_rfc8291_example_is_reproduced_by_encrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the RFC's sender key and salt, encrypt() yields the RFC's message byte for byte."""
    sender = ec.derive_private_key(
        int.from_bytes(b64url_decode(RFC_AS_PRIVATE), "big"), ec.SECP256R1()
    )
    monkeypatch.setattr(webpush, "_ephemeral", lambda: (sender, b64url_decode(RFC_SALT)))
    body, headers = encrypt(RFC_PLAINTEXT, public_b64=RFC_UA_PUBLIC, auth_b64=RFC_AUTH)
    assert headers == {"Content-Encoding": "aes128gcm"}
    assert b64url_encode(body) == RFC_MESSAGE


# --------------------------------------------------------------------------- keys, base64


def test_generate_keys_shapes_and_pairing() -> None:
    keys = generate_keys()
    for text in (keys.private_b64, keys.public_b64, keys.auth_b64):
        assert "=" not in text and "+" not in text and "/" not in text
    assert len(b64url_decode(keys.private_b64)) == 32
    public = b64url_decode(keys.public_b64)
    assert len(public) == 65 and public[0] == 4
    assert len(b64url_decode(keys.auth_b64)) == 16
    private = webpush._private_key(keys.private_b64)
    assert webpush._point(private.public_key()) == public
    other = generate_keys()
    assert other.private_b64 != keys.private_b64 and other.auth_b64 != keys.auth_b64


def test_b64_accepts_padded_and_standard_alphabets() -> None:
    raw = bytes(range(250, 256)) + b"\xfb\xff"
    standard = base64.b64encode(raw).decode()
    assert "+" in standard or "/" in standard
    assert b64url_decode(standard) == raw
    assert b64url_decode(standard.rstrip("=")) == raw
    assert b64url_decode(base64.urlsafe_b64encode(raw).decode()) == raw
    assert b64url_decode(b64url_encode(raw)) == raw
    for bad in ("a", "ab$c", "é", "abc=d"):
        with pytest.raises(ValueError):
            b64url_decode(bad)


def test_padded_standard_base64_keys_decrypt() -> None:
    def std(text: str) -> str:
        return base64.b64encode(b64url_decode(text)).decode()

    keys = PushKeys(std(RFC_UA_PRIVATE), std(RFC_UA_PUBLIC), std(RFC_AUTH))
    assert decrypt(b64url_decode(RFC_MESSAGE), AES128GCM, keys) == RFC_PLAINTEXT


def test_reprs_hide_secrets() -> None:
    keys = generate_keys()
    text = repr(keys)
    assert keys.private_b64 not in text and keys.auth_b64 not in text
    assert keys.public_b64 in text
    signer = VapidSigner.generate()
    assert signer.private_b64 not in repr(signer) and signer.public_b64 in repr(signer)
    payload = parse_payload(payload_json())
    assert TOKEN not in repr(payload) and "123456" in repr(payload)
    assert TOKEN not in str(payload)


def test_push_keys_equality() -> None:
    keys = generate_keys()
    assert keys == PushKeys(keys.private_b64, keys.public_b64, keys.auth_b64)
    assert keys != PushKeys(keys.private_b64, keys.public_b64, b64url_encode(bytes(16)))
    assert keys != generate_keys()
    assert hash(keys) == hash(PushKeys(keys.private_b64, keys.public_b64, keys.auth_b64))


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("encoding", ["aes128gcm", "aesgcm"])
@pytest.mark.parametrize("size", [1, 300, MAX_PAYLOAD_BYTES])
def test_encrypt_decrypt_round_trip(encoding: str, size: int) -> None:
    keys = generate_keys()
    message = bytes(i % 251 for i in range(size))
    body, headers = encrypt(
        message, public_b64=keys.public_b64, auth_b64=keys.auth_b64, encoding=encoding
    )
    assert headers["Content-Encoding"] == encoding
    assert decrypt(body, headers, keys) == message
    with pytest.raises(DecryptError):
        decrypt(body, headers, generate_keys())


def test_aes128gcm_body_is_one_record_with_sender_key() -> None:
    keys = generate_keys()
    body, _ = encrypt(b"x" * MAX_PAYLOAD_BYTES, public_b64=keys.public_b64, auth_b64=keys.auth_b64)
    assert len(body) == RECORD_SIZE
    assert int.from_bytes(body[16:20], "big") == RECORD_SIZE
    assert body[20] == 65 and body[21] == 4
    again, _ = encrypt(b"x", public_b64=keys.public_b64, auth_b64=keys.auth_b64)
    short, _ = encrypt(b"x", public_b64=keys.public_b64, auth_b64=keys.auth_b64)
    assert again[:16] != short[:16] and again[21:86] != short[21:86]  # fresh salt and key


def test_aesgcm_headers_shape() -> None:
    keys = generate_keys()
    _, headers = encrypt(
        b"hi", public_b64=keys.public_b64, auth_b64=keys.auth_b64, encoding="aesgcm"
    )
    assert set(headers) == {"Content-Encoding", "Encryption", "Crypto-Key"}
    assert headers["Encryption"].startswith("salt=")
    assert headers["Encryption"].count("=") == 1 and headers["Crypto-Key"].count("=") == 1
    assert len(b64url_decode(headers["Encryption"][5:])) == 16
    assert headers["Crypto-Key"].startswith("dh=")
    assert len(b64url_decode(headers["Crypto-Key"][3:])) == 65


def test_encrypt_rejects_bad_input() -> None:
    keys = generate_keys()
    with pytest.raises(ValueError):
        encrypt(b"", public_b64=keys.public_b64, auth_b64=keys.auth_b64)
    with pytest.raises(ValueError):
        encrypt(b"x" * (MAX_PAYLOAD_BYTES + 1), public_b64=keys.public_b64, auth_b64=keys.auth_b64)
    with pytest.raises(ValueError):
        encrypt(b"x", public_b64=keys.auth_b64, auth_b64=keys.auth_b64)
    with pytest.raises(ValueError):
        encrypt(b"x", public_b64=keys.public_b64, auth_b64=keys.public_b64)
    with pytest.raises(ValueError):
        encrypt(b"x", public_b64=keys.public_b64, auth_b64=keys.auth_b64, encoding="aesgcm128")


def test_aesgcm_header_variants() -> None:
    keys = generate_keys()
    body, headers = encrypt(
        b"hello", public_b64=keys.public_b64, auth_b64=keys.auth_b64, encoding="aesgcm"
    )
    salt = headers["Encryption"].split("=", 1)[1]
    dh = headers["Crypto-Key"].split("=", 1)[1]
    vapid = VapidSigner.generate().public_b64
    variants = [
        {"content-encoding": "AESGCM", "encryption": f"salt={salt}", "crypto-key": f"dh={dh}"},
        {
            "Content-Encoding": "aesgcm",
            "Encryption": f'keyid="p256dh";salt="{salt}"',
            "Crypto-Key": f'keyid="p256dh";dh="{dh}", p256ecdsa={vapid}',
        },
        {
            "Content-Encoding": "aesgcm",
            "Encryption": f"salt={salt};rs=4096",
            "Crypto-Key": f"p256ecdsa={vapid};dh={dh}",
        },
        {  # the first dh names the sender; a later duplicate does not override it
            "Content-Encoding": "aesgcm",
            "Encryption": f"salt={salt}",
            "Crypto-Key": f"dh={dh},dh={vapid}",
        },
    ]
    for h in variants:
        assert decrypt(body, h, keys) == b"hello"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "unsupported content encoding"),
        ({"Content-Encoding": "gzip"}, "unsupported content encoding"),
        ({"Content-Encoding": "aesgcm", "Crypto-Key": "dh=x"}, "missing Encryption header"),
        ({"Content-Encoding": "aesgcm", "Encryption": "salt=x"}, "missing Crypto-Key header"),
        ({"Content-Encoding": "aesgcm", "Encryption": "rs=4096", "Crypto-Key": "dh=x"}, "salt"),
        ({"Content-Encoding": "aesgcm", "Encryption": "salt=AAAA", "Crypto-Key": "dh=x"}, "salt"),
    ],
)
def test_decrypt_header_failures(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(DecryptError) as exc:
        decrypt(b"\x00" * 64, headers, generate_keys())
    assert reason in exc.value.reason


def test_aesgcm_needs_sender_key_and_valid_record_size() -> None:
    keys = generate_keys()
    body, headers = encrypt(
        b"hi", public_b64=keys.public_b64, auth_b64=keys.auth_b64, encoding="aesgcm"
    )
    no_dh = {**headers, "Crypto-Key": "p256ecdsa=" + keys.public_b64}
    with pytest.raises(DecryptError, match="missing sender key"):
        decrypt(body, no_dh, keys)
    bad_dh = {**headers, "Crypto-Key": "dh=" + b64url_encode(b"\x04" + bytes(64))}
    with pytest.raises(DecryptError, match="bad sender key"):
        decrypt(body, bad_dh, keys)
    for rs in ("0", "2", "-1", "abc", "99999999999"):
        with pytest.raises(DecryptError, match="record size"):
            decrypt(body, {**headers, "Encryption": headers["Encryption"] + ";rs=" + rs}, keys)


def test_tampered_or_truncated_aes128gcm_fails() -> None:
    keys = generate_keys()
    body, headers = encrypt(b"secret words", public_b64=keys.public_b64, auth_b64=keys.auth_b64)
    for index in (0, 30, len(body) - 20, len(body) - 1):  # salt, key, ciphertext, tag
        damaged = bytearray(body)
        damaged[index] ^= 0x01
        with pytest.raises(DecryptError):
            decrypt(bytes(damaged), headers, keys)
    for cut in (0, 10, 21, 86, 90, len(body) - 1):
        with pytest.raises(DecryptError):
            decrypt(body[:cut], headers, keys)
    wrong_idlen = body[:20] + b"\x40" + body[21:]
    with pytest.raises(DecryptError, match="bad sender key"):
        decrypt(wrong_idlen, headers, keys)
    tiny_rs = body[:16] + (17).to_bytes(4, "big") + body[20:]
    with pytest.raises(DecryptError, match="record size"):
        decrypt(tiny_rs, headers, keys)


def test_decrypt_errors_carry_no_secrets() -> None:
    keys = generate_keys()
    body, headers = encrypt(b"secret words", public_b64=keys.public_b64, auth_b64=keys.auth_b64)
    with pytest.raises(DecryptError) as exc:
        decrypt(body[:-1] + bytes([body[-1] ^ 1]), headers, keys)
    text = f"{exc.value} {exc.value!r} {exc.value.reason}"
    assert keys.private_b64 not in text and keys.auth_b64 not in text
    assert exc.value.__cause__ is None and exc.value.__suppress_context__


def test_unusable_receiver_keys() -> None:
    keys = generate_keys()
    body, headers = encrypt(b"x", public_b64=keys.public_b64, auth_b64=keys.auth_b64)
    for bad in (
        PushKeys("", keys.public_b64, keys.auth_b64),
        PushKeys(b64url_encode(bytes(32)), keys.public_b64, keys.auth_b64),  # scalar 0
        PushKeys(keys.private_b64, keys.public_b64, b64url_encode(bytes(15))),
    ):
        with pytest.raises(DecryptError, match="unusable receiver keys"):
            decrypt(body, headers, bad)


def test_error_hierarchy() -> None:
    for cls in (DecryptError, VapidError, PayloadError):
        err = cls("why")
        assert isinstance(err, PushError) and err.reason == "why" and str(err) == "why"


# --------------------------------------------------------------------------- VAPID


def test_vapid_round_trip_both_styles() -> None:
    signer = VapidSigner.generate()
    h1 = signer.headers(AUDIENCE, encoding="aes128gcm", now=NOW)
    assert h1["Authorization"].startswith("vapid t=")
    assert h1["Authorization"].endswith(f", k={signer.public_b64}")
    assert h1["Authorization"].count("=") == 2  # t= and k=, no base64 padding
    verify_vapid(h1, signer.public_b64, audience=AUDIENCE, now=NOW)
    h2 = signer.headers(AUDIENCE, encoding="aesgcm", now=NOW)
    assert h2["Authorization"].startswith("WebPush ")
    assert h2["Crypto-Key"] == f"p256ecdsa={signer.public_b64}"
    verify_vapid(h2, signer.public_b64, audience=AUDIENCE, now=NOW)


def test_vapid_token_claims() -> None:
    signer = VapidSigner.generate(subject="mailto:admin@social.example")
    token = signer.token(ENDPOINT, now=NOW)
    header_b64, claims_b64, signature_b64 = token.split(".")
    assert json.loads(b64url_decode(header_b64)) == {"typ": "JWT", "alg": "ES256"}
    assert json.loads(b64url_decode(claims_b64)) == {
        "aud": AUDIENCE,
        "exp": int(NOW) + VAPID_TOKEN_LIFETIME_S,
        "sub": "mailto:admin@social.example",
    }
    assert VAPID_TOKEN_LIFETIME_S == 12 * 3600
    assert len(b64url_decode(signature_b64)) == 64


def test_signer_and_encrypt_headers_combine_for_aesgcm() -> None:
    keys = generate_keys()
    signer = VapidSigner.generate()
    body, crypto = encrypt(
        b"hi", public_b64=keys.public_b64, auth_b64=keys.auth_b64, encoding="aesgcm"
    )
    headers = merge_headers(crypto, signer.headers(AUDIENCE, encoding="aesgcm", now=NOW))
    assert headers["Crypto-Key"] == f"{crypto['Crypto-Key']};p256ecdsa={signer.public_b64}"
    verify_vapid(headers, signer.public_b64, audience=AUDIENCE, now=NOW)
    assert decrypt(body, headers, keys) == b"hi"
    assert merge_headers({"A": "1"}, {"a": "2"}) == {"A": "2"}


def test_vapid_signer_key_checks() -> None:
    signer = VapidSigner.generate()
    assert VapidSigner.from_private(signer.private_b64) == signer
    other = VapidSigner.generate()
    with pytest.raises(ValueError):
        VapidSigner(signer.private_b64, other.public_b64)
    with pytest.raises(ValueError):
        VapidSigner("nope", signer.public_b64)
    with pytest.raises(ValueError):
        signer.headers("not a url", encoding="aes128gcm")
    with pytest.raises(ValueError):
        signer.headers(AUDIENCE, encoding="gzip")


def test_vapid_time_window() -> None:
    signer = VapidSigner.generate()
    headers = signer.headers(AUDIENCE, encoding="aes128gcm", now=NOW)
    exp = NOW // 1 + VAPID_TOKEN_LIFETIME_S
    verify_vapid(headers, signer.public_b64, audience=AUDIENCE, now=exp - 1)
    with pytest.raises(VapidError, match="expired"):
        verify_vapid(headers, signer.public_b64, audience=AUDIENCE, now=exp)
    earliest = exp - VAPID_MAX_LIFETIME_S - VAPID_LEEWAY_S
    verify_vapid(headers, signer.public_b64, audience=AUDIENCE, now=earliest)
    with pytest.raises(VapidError, match="too far"):
        verify_vapid(headers, signer.public_b64, audience=AUDIENCE, now=earliest - 1)


def test_vapid_audience_is_compared_as_an_origin() -> None:
    signer = VapidSigner.generate()
    headers = signer.headers("https://Relay.Example:443/push/x", encoding="aes128gcm", now=NOW)
    verify_vapid(headers, signer.public_b64, audience="https://relay.example/", now=NOW)
    for wrong in ("http://relay.example", "https://relay.example:8443", "https://evil.example"):
        with pytest.raises(VapidError, match="wrong audience"):
            verify_vapid(headers, signer.public_b64, audience=wrong, now=NOW)
    with pytest.raises(VapidError, match="unusable audience"):
        verify_vapid(headers, signer.public_b64, audience="https://relay.example/push", now=NOW)
    assert (
        endpoint_origin("HTTPS://Relay.Example:8443/push/abc?x=1") == "https://relay.example:8443"
    )
    assert endpoint_origin("http://[::1]:80/p") == "http://[::1]"


def test_vapid_rejections() -> None:
    signer = VapidSigner.generate()
    other = VapidSigner.generate()
    key = signer.public_b64
    token = signer.token(AUDIENCE, now=NOW)
    h, c, s = token.split(".")

    def check(headers: dict[str, str], reason: str, server_key: str = key) -> None:
        with pytest.raises(VapidError) as exc:
            verify_vapid(headers, server_key, audience=AUDIENCE, now=NOW)
        assert reason in exc.value.reason

    sig = bytearray(b64url_decode(s))
    sig[5] ^= 1
    check({"Authorization": f"vapid t={h}.{c}.{b64url_encode(bytes(sig))}, k={key}"}, "signature")
    forged_claims = b64url_encode(
        json.dumps({"aud": AUDIENCE, "exp": int(NOW) + 60, "sub": "mailto:x@y.z"}).encode()
    )
    check({"Authorization": f"vapid t={h}.{forged_claims}.{s}, k={key}"}, "signature")
    # Signed by another key that claims to be the server's
    check({"Authorization": f"vapid t={other.token(AUDIENCE, now=NOW)}, k={key}"}, "signature")
    # A valid token from another server
    check(other.headers(AUDIENCE, encoding="aes128gcm", now=NOW), "another key")
    check({"Authorization": f"vapid t={token}, k={other.public_b64}"}, "another key")
    check(signer.headers(AUDIENCE, encoding="aes128gcm", now=NOW), "another key", other.public_b64)
    none_header = b64url_encode(b'{"alg":"none","typ":"JWT"}')
    check({"Authorization": f"vapid t={none_header}.{c}.{s}, k={key}"}, "algorithm")
    check({}, "missing Authorization")
    check({"Authorization": "Bearer abc"}, "not a VAPID authorization")
    check({"Authorization": f"vapid k={key}"}, "missing token")
    check({"Authorization": f"vapid t={token}"}, "missing key")
    check({"Authorization": f"WebPush {token}"}, "missing key")
    check({"Authorization": f"vapid t={h}.{c}, k={key}"}, "malformed token")
    check({"Authorization": f"vapid t={h}.{c}.{s[:-4]}, k={key}"}, "signature")
    check({"Authorization": f"vapid t={token}, k={key}"}, "unusable server key", "abc")


def test_vapid_rejects_missing_or_odd_exp() -> None:
    signer = VapidSigner.generate()
    key = webpush._private_key(signer.private_b64)

    def signed(claims: dict[str, object]) -> dict[str, str]:
        head = webpush._json_b64({"typ": "JWT", "alg": "ES256"})
        body = b64url_encode(json.dumps(claims).encode())
        r, s = decode_dss_signature(key.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256())))
        sig = b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        return {"Authorization": f"vapid t={head}.{body}.{sig}, k={signer.public_b64}"}

    ok = signed({"aud": AUDIENCE, "exp": NOW + 3600.5})
    verify_vapid(ok, signer.public_b64, audience=AUDIENCE, now=NOW)
    cases: list[tuple[dict[str, object], str]] = [
        ({"aud": AUDIENCE}, "missing expiry"),
        ({"aud": AUDIENCE, "exp": True}, "missing expiry"),
        ({"aud": AUDIENCE, "exp": "1900000000"}, "missing expiry"),
        ({"exp": int(NOW) + 60}, "wrong audience"),
        ({"aud": [AUDIENCE], "exp": int(NOW) + 60}, "wrong audience"),
    ]
    for claims, reason in cases:
        with pytest.raises(VapidError, match=reason):
            verify_vapid(signed(claims), signer.public_b64, audience=AUDIENCE, now=NOW)


def test_vapid_uses_current_time_by_default() -> None:
    signer = VapidSigner.generate()
    verify_vapid(
        signer.headers(AUDIENCE, encoding="aes128gcm"), signer.public_b64, audience=AUDIENCE
    )
    stale = signer.headers(AUDIENCE, encoding="aes128gcm", now=time.time() - 13 * 3600)
    with pytest.raises(VapidError, match="expired"):
        verify_vapid(stale, signer.public_b64, audience=AUDIENCE)


# --------------------------------------------------------------------------- payload


def test_parse_mastodon_payload() -> None:
    payload = parse_payload(payload_json())
    assert payload == PushPayload(
        notification_id="123456",
        notification_type="mention",
        access_token=TOKEN,
        title="Alice mentioned you",
        body="hello there",
        icon="https://social.example/avatars/a.png",
        preferred_locale="en",
    )


def test_parse_gotosocial_string_id_and_sparse_fields() -> None:
    payload = parse_payload(
        json.dumps({"notification_id": "01JAB3XYZ", "access_token": TOKEN}).encode()
    )
    assert payload.notification_id == "01JAB3XYZ"
    assert (payload.title, payload.body, payload.icon, payload.preferred_locale) == ("",) * 4
    assert payload.notification_type == ""
    odd = parse_payload(payload_json(title=None, body=5, icon=["x"]))
    assert (odd.title, odd.body, odd.icon) == ("", "", "")
    big = parse_payload(payload_json(notification_id=113_000_000_000_000_000_000))
    assert big.notification_id == "113000000000000000000"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'"string"',
        payload_json(notification_id=...),
        payload_json(notification_id=None),
        payload_json(notification_id=True),
        payload_json(notification_id=1.5),
        payload_json(notification_id=-3),
        payload_json(notification_id=""),
        payload_json(notification_id="has space"),
        payload_json(notification_id="x" * 129),
        payload_json(notification_id={"id": 1}),
        payload_json(access_token=...),
        payload_json(access_token=""),
        payload_json(access_token=42),
        b"[" * 100_000,
    ],
)
def test_parse_payload_rejects(data: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_payload(data)


def test_payload_token_matches() -> None:
    payload = parse_payload(payload_json())
    assert payload.token_matches(TOKEN)
    assert not payload.token_matches(TOKEN + "x")
    assert not payload.token_matches("")
