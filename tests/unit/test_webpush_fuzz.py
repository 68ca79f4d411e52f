"""Property tests: whatever arrives over the wire, decrypt / verify_vapid / parse_payload either
succeed or raise a PushError subclass; damaged messages never decrypt to something else."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from tootbell.mastodon.webpush import (
    DecryptError,
    PayloadError,
    PushPayload,
    VapidError,
    VapidSigner,
    b64url_encode,
    decrypt,
    encrypt,
    generate_keys,
    parse_payload,
    verify_vapid,
)

FUZZ = settings(max_examples=300, deadline=None)

KEYS = generate_keys()
SIGNER = VapidSigner.generate()
AUDIENCE = "https://relay.example"
NOW = 1_800_000_000.0
MESSAGE = b'{"notification_id": 1, "access_token": "t"}'
SEALED = {
    enc: encrypt(MESSAGE, public_b64=KEYS.public_b64, auth_b64=KEYS.auth_b64, encoding=enc)
    for enc in ("aes128gcm", "aesgcm")
}

header_names = st.sampled_from(
    ["Content-Encoding", "content-encoding", "Encryption", "Crypto-Key", "Authorization", "TTL"]
)
b64_text = st.binary(max_size=80).map(b64url_encode)
param_text = st.one_of(
    st.text(max_size=120),
    st.lists(
        st.tuples(st.sampled_from(["dh", "salt", "rs", "p256ecdsa", "keyid", "k", "t"]), b64_text),
        max_size=4,
    ).map(lambda pairs: ";".join(f"{k}={v}" for k, v in pairs)),
    st.integers(min_value=-5, max_value=2**40).map(lambda n: f"salt=AAAAAAAAAAAAAAAAAAAAAA;rs={n}"),
)
header_maps = st.dictionaries(header_names, param_text, max_size=5)
encodings = st.sampled_from(["aes128gcm", "aesgcm", "AES128GCM", "gzip", ""])


def sender_key() -> str:
    return generate_keys().public_b64


@st.composite
def aes128gcm_bodies(draw: st.DrawFn) -> bytes:
    """Bodies with a plausible RFC 8188 header, so the fuzz reaches the record parser."""
    salt = draw(st.binary(min_size=16, max_size=16))
    rs = draw(st.one_of(st.integers(0, 64), st.integers(0, 2**32 - 1)))
    idlen = draw(st.sampled_from([65, 65, 0, 1, 64, 66, 255]))
    keyid = SEALED["aes128gcm"][0][21:86] if idlen == 65 else draw(st.binary(max_size=idlen))
    rest = draw(st.binary(max_size=300))
    return salt + rs.to_bytes(4, "big") + bytes([idlen]) + keyid + rest


@FUZZ
@given(
    body=st.one_of(st.binary(max_size=400), aes128gcm_bodies()),
    headers=header_maps,
    encoding=encodings,
)
def test_decrypt_raises_only_decrypt_errors(
    body: bytes, headers: dict[str, str], encoding: str
) -> None:
    headers = {**headers, "Content-Encoding": encoding}
    try:
        decrypt(body, headers, KEYS)
    except DecryptError as e:
        assert e.reason


@FUZZ
@given(
    encoding=st.sampled_from(["aes128gcm", "aesgcm"]),
    index=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
    cut=st.integers(min_value=0, max_value=8),
)
def test_damaged_messages_never_decrypt_to_something_else(
    encoding: str, index: int, flip: int, cut: int
) -> None:
    body, headers = SEALED[encoding]
    damaged = bytearray(body[: len(body) - cut])
    damaged[index % len(damaged)] ^= flip
    try:
        plaintext = decrypt(bytes(damaged), headers, KEYS)
    except DecryptError:
        return
    # Only the record-size field is not authenticated, and a one-record body ignores it.
    assert plaintext == MESSAGE


@FUZZ
@given(
    salt=st.one_of(b64_text, st.text(max_size=30)),
    dh=st.one_of(b64_text, st.just(sender_key()), st.text(max_size=90)),
    rs=st.one_of(st.none(), st.text(max_size=12), st.integers(-3, 2**33).map(str)),
    body=st.binary(max_size=200),
)
def test_decrypt_aesgcm_headers(salt: str, dh: str, rs: str | None, body: bytes) -> None:
    enc = f"salt={salt}" + ("" if rs is None else f";rs={rs}")
    try:
        decrypt(
            body, {"Content-Encoding": "aesgcm", "Encryption": enc, "Crypto-Key": f"dh={dh}"}, KEYS
        )
    except DecryptError as e:
        assert e.reason


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def signed_tokens(draw: st.DrawFn) -> str:
    """JWTs with arbitrary headers and claims, correctly signed with the server's key."""
    header = draw(st.one_of(st.just({"typ": "JWT", "alg": "ES256"}), json_values))
    claims = draw(
        st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "aud": st.one_of(st.just(AUDIENCE), json_values),
                    "exp": st.one_of(st.floats(), st.integers(), json_values),
                    "sub": json_values,
                },
            ),
            json_values,
        )
    )
    head = b64url_encode(json.dumps(header).encode())
    body = b64url_encode(json.dumps(claims).encode())
    token = SIGNER.token(AUDIENCE, now=NOW)
    r, s = decode_dss_signature(
        SIGNER._key.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    )
    sig = b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    return draw(st.sampled_from([f"{head}.{body}.{sig}", token]))


authorizations = st.one_of(
    st.text(max_size=200),
    st.builds(lambda t, k: f"vapid t={t}, k={k}", st.text(max_size=120), st.text(max_size=90)),
    st.builds(lambda t: f"vapid t={t}, k={SIGNER.public_b64}", signed_tokens()),
    st.builds(lambda t: f"WebPush {t}", signed_tokens()),
    st.builds(
        lambda parts: "vapid t=" + ".".join(parts) + f",k={SIGNER.public_b64}",
        st.lists(b64_text, min_size=1, max_size=4),
    ),
)


@FUZZ
@given(
    authorization=authorizations,
    crypto_key=st.one_of(st.none(), param_text, st.just(f"p256ecdsa={SIGNER.public_b64}")),
    server_key=st.one_of(st.just(SIGNER.public_b64), b64_text, st.text(max_size=20)),
    audience=st.one_of(st.just(AUDIENCE), st.text(max_size=30)),
    now=st.one_of(st.just(NOW), st.floats(allow_nan=False), st.floats()),
)
def test_verify_vapid_raises_only_vapid_errors(
    authorization: str, crypto_key: str | None, server_key: str, audience: str, now: float
) -> None:
    headers = {"Authorization": authorization}
    if crypto_key is not None:
        headers["Crypto-Key"] = crypto_key
    try:
        verify_vapid(headers, server_key, audience=audience, now=now)
    except VapidError as e:
        assert e.reason


@FUZZ
@given(data=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())))
def test_parse_payload_raises_only_payload_errors(data: bytes) -> None:
    try:
        payload = parse_payload(data)
    except PayloadError as e:
        assert e.reason
        return
    assert isinstance(payload, PushPayload) and payload.notification_id and payload.access_token


@FUZZ
@given(
    fields=st.fixed_dictionaries(
        {},
        optional={
            "notification_id": json_values,
            "access_token": json_values,
            "title": json_values,
            "body": json_values,
            "icon": json_values,
            "preferred_locale": json_values,
            "notification_type": json_values,
        },
    )
)
def test_parse_payload_object_shapes(fields: dict[str, object]) -> None:
    try:
        payload = parse_payload(json.dumps(fields).encode())
    except PayloadError:
        return
    assert payload.access_token == fields["access_token"]
    assert payload.notification_id == str(fields["notification_id"])
    for name in ("title", "body", "icon", "preferred_locale", "notification_type"):
        value = fields.get(name)
        assert getattr(payload, name) == (value if isinstance(value, str) else "")
