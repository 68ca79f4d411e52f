"""Web Push message security: receiver keys, decryption (RFC 8291 ``aes128gcm`` and the legacy
``aesgcm`` draft), VAPID checks (RFC 8292 and the older ``WebPush`` scheme) and the decrypted
Mastodon payload; plus the sending side (encryption, VAPID signing) for self-tests and the demo.

Keys travel as base64url without padding; padded or standard base64 is accepted on input.
Every receiving-side failure raises a :class:`PushError` whose ``reason`` is short, fit for a
log line, and never contains key material, tokens or message content.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ENCODINGS: tuple[str, ...] = ("aes128gcm", "aesgcm")
RECORD_SIZE = 4096
# RFC 8291 §4: a push message is one record and at most 4096 octets including the 86-octet
# aes128gcm header, so 4096 - 86 - 16 (tag) - 1 (delimiter) octets of plaintext.
MAX_PAYLOAD_BYTES = 3993
VAPID_MAX_LIFETIME_S = 24 * 60 * 60  # RFC 8292 §2: exp no more than 24 hours ahead
VAPID_LEEWAY_S = 300  # clock skew between the sender and this machine
VAPID_TOKEN_LIFETIME_S = 12 * 60 * 60  # what VapidSigner puts in exp
DEFAULT_VAPID_SUBJECT = "mailto:push@tootbell.invalid"

_SCALAR_BYTES = 32
_POINT_BYTES = 65
_AUTH_BYTES = 16
_SALT_BYTES = 16
_AES128GCM_HEADER = _SALT_BYTES + 4 + 1  # salt, record size, key id length
_TAG_BYTES = 16
_MAX_HEADER_CHARS = 8192
_ID_SHAPE = re.compile(r"[!-~]{1,128}")  # opaque IDs: printable ASCII, no spaces
_B64_CHARS = re.compile(r"[A-Za-z0-9_-]*")
_PARAM_SPLIT = re.compile(r"[;,]")


# --------------------------------------------------------------------------- errors


class PushError(Exception):
    """A push could not be accepted. ``reason`` is short, for logs; never a secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r})"


class DecryptError(PushError):
    """The body could not be decrypted with our keys (wrong keys, damaged, unknown encoding)."""


class VapidError(PushError):
    """The VAPID authorization is missing, malformed, signed by another key, or out of date."""


class PayloadError(PushError):
    """The decrypted message is not the JSON object a Mastodon-API server sends."""


# --------------------------------------------------------------------------- base64url


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2), as Web Push and JWTs use it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url or standard base64, padded or not. ValueError when it is neither."""
    if not isinstance(text, str):
        raise ValueError("not text")
    cleaned = text.strip().rstrip("=").replace("+", "-").replace("/", "_")
    if not _B64_CHARS.fullmatch(cleaned) or len(cleaned) % 4 == 1:
        raise ValueError("not base64")
    try:
        return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None


def _decode_exact(text: str, size: int) -> bytes:
    raw = b64url_decode(text)
    if len(raw) != size:
        raise ValueError("wrong length")
    return raw


def _private_key(private_b64: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from its raw 32-byte scalar (ValueError when it is not one)."""
    scalar = int.from_bytes(_decode_exact(private_b64, _SCALAR_BYTES), "big")
    return ec.derive_private_key(scalar, ec.SECP256R1())


def _public_key_from_bytes(point: bytes) -> ec.EllipticCurvePublicKey:
    if len(point) != _POINT_BYTES or point[0] != 0x04:
        raise ValueError("not an uncompressed P-256 point")
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def _scalar(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_numbers().private_value.to_bytes(_SCALAR_BYTES, "big")


def _same_secret(a: str, b: str) -> bool:
    """Constant-time equality for secret text."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class PushKeys:
    """The receiving side's keys for one subscription: what ``keys[p256dh]`` and ``keys[auth]``
    are sent from, and what decrypts the pushes. ``private_b64`` and ``auth_b64`` are secrets."""

    private_b64: str  # raw 32-byte P-256 scalar, base64url without padding
    public_b64: str  # uncompressed 65-byte point, base64url without padding (p256dh)
    auth_b64: str  # 16 random bytes, base64url without padding

    def __repr__(self) -> str:
        return f"PushKeys(public_b64={self.public_b64!r}, private_b64=<hidden>, auth_b64=<hidden>)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PushKeys):
            return NotImplemented
        return (
            _same_secret(self.private_b64, other.private_b64)
            & _same_secret(self.auth_b64, other.auth_b64)
            & (self.public_b64 == other.public_b64)
        )


def generate_keys() -> PushKeys:
    """A fresh P-256 key pair and auth secret for a new subscription."""
    private = ec.generate_private_key(ec.SECP256R1())
    return PushKeys(
        private_b64=b64url_encode(_scalar(private)),
        public_b64=b64url_encode(_point(private.public_key())),
        auth_b64=b64url_encode(os.urandom(_AUTH_BYTES)),
    )


# --------------------------------------------------------------------------- headers


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header ``name`` (case-insensitive), or None."""
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted and isinstance(value, str):
            return value
    return None


def _header_params(value: str) -> dict[str, str]:
    """``name=value`` pairs of a Crypto-Key / Encryption header, split on ``;`` and ``,``.

    Names are lower-cased, values unquoted; the first occurrence of a name wins.
    """
    params: dict[str, str] = {}
    for part in _PARAM_SPLIT.split(value):
        name, sep, val = part.partition("=")
        if not sep:
            continue
        name = name.strip().lower()
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1]
        params.setdefault(name, val)
    return params


def merge_headers(*parts: Mapping[str, str]) -> dict[str, str]:
    """Combine header sets for one push request (``encrypt``'s and ``VapidSigner.headers``):
    ``Crypto-Key`` values are joined with ``;`` (``dh=…;p256ecdsa=…``), others replaced."""
    merged: dict[str, str] = {}
    for part in parts:
        for name, value in part.items():
            existing = next((k for k in merged if k.lower() == name.lower()), None)
            if existing is not None and name.lower() == "crypto-key":
                merged[existing] = f"{merged[existing]};{value}"
            elif existing is not None:
                merged[existing] = value
            else:
                merged[name] = value
    return merged


def endpoint_origin(url: str) -> str:
    """The origin of ``url`` (``https://host[:port]``, default port left out, lower case): the
    VAPID ``aud`` for pushes to that URL. ValueError when ``url`` is not an http(s) URL."""
    origin = _origin(url, allow_path=True)
    if origin is None:
        raise ValueError("not an http or https URL")
    return origin


def _origin(value: str, *, allow_path: bool) -> str | None:
    if not isinstance(value, str) or len(value) > _MAX_HEADER_CHARS:
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in ("http", "https") or not host or parts.username or parts.password:
        return None
    if not allow_path and (parts.path not in ("", "/") or parts.query or parts.fragment):
        return None
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + ("" if port is None or port == default else f":{port}")


# --------------------------------------------------------------------------- decrypt


def decrypt(body: bytes, headers: Mapping[str, str], keys: PushKeys) -> bytes:
    """The plaintext of a push ``body`` sent to ``keys``.

    ``Content-Encoding: aes128gcm`` carries salt and sender key in the body (RFC 8291);
    ``aesgcm`` takes them from ``Encryption: salt=…`` and ``Crypto-Key: dh=…``. Header names are
    case-insensitive. Anything else, or any failure, raises :class:`DecryptError`.
    """
    if not isinstance(body, (bytes, bytearray)):
        raise DecryptError("body is not bytes")
    body = bytes(body)
    encoding = (_header(headers, "Content-Encoding") or "").strip().lower()
    if encoding not in ENCODINGS:
        raise DecryptError("unsupported content encoding")
    try:
        private = _private_key(keys.private_b64)
        auth = _decode_exact(keys.auth_b64, _AUTH_BYTES)
    except ValueError:
        raise DecryptError("unusable receiver keys") from None
    if encoding == "aes128gcm":
        _check_aes128gcm_body(body)
        options: dict[str, Any] = {}
    else:
        options = _aesgcm_options(headers)
    try:
        plaintext = http_ece.decrypt(
            body, private_key=private, auth_secret=auth, version=encoding, **options
        )
    except http_ece.ECEException as e:
        message = str(getattr(e, "message", ""))
        if message.startswith("Decryption error"):
            raise DecryptError("authentication failed (wrong keys or damaged body)") from None
        raise DecryptError("malformed encrypted body") from None
    except Exception:  # the library's own parsing (struct, point decoding, tag length)
        raise DecryptError("malformed encrypted body") from None
    if not isinstance(plaintext, bytes):
        raise DecryptError("malformed encrypted body")
    return plaintext


def _check_aes128gcm_body(body: bytes) -> None:
    """RFC 8188 §2.1 header as RFC 8291 §4 fixes it: the key id is the sender's 65-byte key."""
    if len(body) < _AES128GCM_HEADER:
        raise DecryptError("body too short")
    record_size = int.from_bytes(body[_SALT_BYTES : _SALT_BYTES + 4], "big")
    if record_size < _TAG_BYTES + 2:
        raise DecryptError("bad record size")
    if body[_AES128GCM_HEADER - 1] != _POINT_BYTES:
        raise DecryptError("bad sender key")
    key_start = _AES128GCM_HEADER
    try:
        _public_key_from_bytes(body[key_start : key_start + _POINT_BYTES])
    except ValueError:
        raise DecryptError("bad sender key") from None
    if len(body) < key_start + _POINT_BYTES + _TAG_BYTES + 1:
        raise DecryptError("body too short")


def _aesgcm_options(headers: Mapping[str, str]) -> dict[str, Any]:
    encryption = _header(headers, "Encryption")
    crypto_key = _header(headers, "Crypto-Key")
    if encryption is None or len(encryption) > _MAX_HEADER_CHARS:
        raise DecryptError("missing Encryption header")
    if crypto_key is None or len(crypto_key) > _MAX_HEADER_CHARS:
        raise DecryptError("missing Crypto-Key header")
    enc = _header_params(encryption)
    if "salt" not in enc:
        raise DecryptError("missing salt")
    try:
        salt = _decode_exact(enc["salt"], _SALT_BYTES)
    except ValueError:
        raise DecryptError("bad salt") from None
    record_size = RECORD_SIZE
    if "rs" in enc:
        text = enc["rs"]
        if not (text.isascii() and text.isdigit()) or len(text) > 10:
            raise DecryptError("bad record size")
        record_size = int(text)
        if not 3 <= record_size <= 2**31 - 1:
            raise DecryptError("bad record size")
    dh_text = _header_params(crypto_key).get("dh")
    if dh_text is None:
        raise DecryptError("missing sender key")
    try:
        dh = _decode_exact(dh_text, _POINT_BYTES)
        _public_key_from_bytes(dh)
    except ValueError:
        raise DecryptError("bad sender key") from None
    return {"salt": salt, "dh": dh, "rs": record_size}


# --------------------------------------------------------------------------- VAPID


def verify_vapid(
    headers: Mapping[str, str],
    server_key_b64: str,
    *,
    audience: str,
    now: float | None = None,
) -> None:
    """Check that a push was authorized by the server whose VAPID key is ``server_key_b64``.

    Accepts ``Authorization: vapid t=<jwt>, k=<key>`` (RFC 8292) and ``Authorization: WebPush
    <jwt>`` with ``Crypto-Key: p256ecdsa=<key>`` (draft 01, Mastodon before 4.4). The key named
    in the headers must be the server's; the ES256 signature must verify with it; ``aud`` must be
    ``audience`` (an origin); ``exp`` must lie in the future and at most 24 hours ahead (plus a
    small leeway for clock skew). Raises :class:`VapidError` otherwise.
    """
    now = time.time() if now is None else now
    token, key_text = _vapid_parts(headers)
    try:
        server_point = _decode_exact(server_key_b64, _POINT_BYTES)
        server_key = _public_key_from_bytes(server_point)
    except ValueError:
        raise VapidError("unusable server key") from None
    try:
        sent_point = b64url_decode(key_text)
    except ValueError:
        raise VapidError("malformed key") from None
    if not hmac.compare_digest(sent_point, server_point):
        raise VapidError("signed by another key")
    claims = _verified_claims(token, server_key)
    want = _origin(audience, allow_path=False)
    if want is None:
        raise VapidError("unusable audience")
    aud = claims.get("aud")
    if not isinstance(aud, str) or _origin(aud, allow_path=False) != want:
        raise VapidError("wrong audience")
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        raise VapidError("missing expiry")
    if isinstance(exp, float) and not math.isfinite(exp):
        raise VapidError("missing expiry")
    if exp <= now:
        raise VapidError("expired")
    if exp > now + VAPID_MAX_LIFETIME_S + VAPID_LEEWAY_S:
        raise VapidError("expiry too far ahead")


def _vapid_parts(headers: Mapping[str, str]) -> tuple[str, str]:
    """(JWT, key text) from either header style."""
    auth = _header(headers, "Authorization")
    if auth is None or not auth.strip():
        raise VapidError("missing Authorization")
    if len(auth) > _MAX_HEADER_CHARS:
        raise VapidError("malformed Authorization")
    scheme, _, rest = auth.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "vapid":
        params: dict[str, str] = {}
        for part in rest.split(","):
            name, sep, value = part.partition("=")
            if sep:
                params.setdefault(name.strip().lower(), value.strip().strip('"'))
        token = params.get("t", "")
        key_text = params.get("k", "")
    elif scheme == "webpush":
        token = rest.strip()
        crypto_key = _header(headers, "Crypto-Key") or ""
        if len(crypto_key) > _MAX_HEADER_CHARS:
            raise VapidError("malformed Crypto-Key")
        key_text = _header_params(crypto_key).get("p256ecdsa", "")
    else:
        raise VapidError("not a VAPID authorization")
    if not token:
        raise VapidError("missing token")
    if not key_text:
        raise VapidError("missing key")
    return token, key_text


def _verified_claims(token: str, key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """The claims of an ES256 JWT whose signature verifies with ``key``."""
    parts = token.split(".")
    if len(parts) != 3:
        raise VapidError("malformed token")
    header_b64, claims_b64, signature_b64 = parts
    header = _jwt_object(header_b64)
    claims = _jwt_object(claims_b64)  # read before the check, which needs both parts valid
    if header.get("alg") != "ES256":
        raise VapidError("unsupported token algorithm")
    typ = header.get("typ", "JWT")
    if not isinstance(typ, str) or typ.upper() != "JWT":
        raise VapidError("malformed token")
    try:
        signature = b64url_decode(signature_b64)
    except ValueError:
        raise VapidError("malformed token") from None
    if len(signature) != 2 * _SCALAR_BYTES:
        raise VapidError("malformed signature")
    r = int.from_bytes(signature[:_SCALAR_BYTES], "big")
    s = int.from_bytes(signature[_SCALAR_BYTES:], "big")
    signed = f"{header_b64}.{claims_b64}".encode("ascii")
    try:
        key.verify(encode_dss_signature(r, s), signed, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise VapidError("bad signature") from None
    return claims


def _jwt_object(part: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(part))
    except (ValueError, RecursionError):  # includes UnicodeDecodeError and JSONDecodeError
        raise VapidError("malformed token") from None
    if not isinstance(value, dict):
        raise VapidError("malformed token")
    return value


# --------------------------------------------------------------------------- payload


@dataclass(frozen=True)
class PushPayload:
    """The decrypted Mastodon push: a signal to fetch notification ``notification_id``.
    ``access_token`` is the subscription's own OAuth token (a secret)."""

    notification_id: str
    notification_type: str
    access_token: str
    title: str
    body: str
    icon: str
    preferred_locale: str

    def __repr__(self) -> str:
        return (
            f"PushPayload(notification_id={self.notification_id!r}, "
            f"notification_type={self.notification_type!r}, access_token=<hidden>, "
            f"title={self.title!r}, body={self.body!r}, icon={self.icon!r}, "
            f"preferred_locale={self.preferred_locale!r})"
        )

    def token_matches(self, token: str) -> bool:
        """Constant-time check that the payload names ``token`` (the account's own token)."""
        return bool(token) and _same_secret(self.access_token, token)


def parse_payload(data: bytes) -> PushPayload:
    """Parse the decrypted JSON. ``notification_id`` may be a JSON number (Mastodon) or a string
    (GoToSocial); it becomes a string. A missing id or token raises :class:`PayloadError`;
    missing or non-text title, body, icon, locale and type become ``""``."""
    try:
        value = json.loads(bytes(data).decode("utf-8"))
    except (ValueError, RecursionError, TypeError):  # UnicodeDecodeError is a ValueError
        raise PayloadError("not JSON") from None
    if not isinstance(value, dict):
        raise PayloadError("not a JSON object")
    raw_id = value.get("notification_id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        if raw_id < 0:
            raise PayloadError("bad notification_id")
        nid = str(raw_id)
    elif isinstance(raw_id, str):
        nid = raw_id
    else:
        raise PayloadError("missing notification_id")
    if not _ID_SHAPE.fullmatch(nid):
        raise PayloadError("bad notification_id")
    token = value.get("access_token")
    if not isinstance(token, str) or not token:
        raise PayloadError("missing access_token")

    def text(name: str) -> str:
        v = value.get(name)
        return v if isinstance(v, str) else ""

    return PushPayload(
        notification_id=nid,
        notification_type=text("notification_type"),
        access_token=token,
        title=text("title"),
        body=text("body"),
        icon=text("icon"),
        preferred_locale=text("preferred_locale"),
    )


# --------------------------------------------------------------------------- sending side


def encrypt(
    payload: bytes, *, public_b64: str, auth_b64: str, encoding: str = "aes128gcm"
) -> tuple[bytes, dict[str, str]]:
    """Encrypt ``payload`` for the subscription keys ``public_b64`` (p256dh) and ``auth_b64``
    with a fresh ephemeral key and salt. Returns the body and its headers: ``Content-Encoding``,
    plus ``Encryption`` and ``Crypto-Key: dh=…`` for ``aesgcm``.

    ValueError when the keys are unusable, the encoding unknown, or the payload empty or over
    :data:`MAX_PAYLOAD_BYTES`.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown content encoding {encoding!r}")
    if not payload:
        raise ValueError("empty payload")  # aes128gcm would have no record at all
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError("payload too large for one push message")
    try:
        receiver = _decode_exact(public_b64, _POINT_BYTES)
        _public_key_from_bytes(receiver)
    except ValueError:
        raise ValueError("unusable p256dh key") from None
    try:
        auth = _decode_exact(auth_b64, _AUTH_BYTES)
    except ValueError:
        raise ValueError("unusable auth secret") from None
    sender, salt = _ephemeral()
    body = http_ece.encrypt(
        bytes(payload),
        salt=salt,
        private_key=sender,
        dh=receiver,
        auth_secret=auth,
        rs=RECORD_SIZE,
        version=encoding,
    )
    assert isinstance(body, bytes)
    if encoding == "aes128gcm":
        return body, {"Content-Encoding": "aes128gcm"}
    return body, {
        "Content-Encoding": "aesgcm",
        "Encryption": f"salt={b64url_encode(salt)}",
        "Crypto-Key": f"dh={b64url_encode(_point(sender.public_key()))}",
    }


def _ephemeral() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """A one-message sender key and salt (RFC 8291 §3.1: never reused)."""
    return ec.generate_private_key(ec.SECP256R1()), os.urandom(_SALT_BYTES)


@dataclass(frozen=True)
class VapidSigner:
    """A server's VAPID identity: signs ES256 JWTs and builds the authorization headers.
    ``private_b64`` (raw 32-byte scalar, base64url) is a secret; ``public_b64`` is the
    ``server_key`` subscribers see."""

    private_b64: str
    public_b64: str
    subject: str = DEFAULT_VAPID_SUBJECT
    _key: ec.EllipticCurvePrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            key = _private_key(self.private_b64)
            public = _decode_exact(self.public_b64, _POINT_BYTES)
        except ValueError:
            raise ValueError("unusable VAPID key") from None
        if not hmac.compare_digest(_point(key.public_key()), public):
            raise ValueError("VAPID public key does not belong to the private key")
        object.__setattr__(self, "_key", key)

    @classmethod
    def generate(cls, subject: str = DEFAULT_VAPID_SUBJECT) -> VapidSigner:
        """A new random VAPID key pair."""
        key = ec.generate_private_key(ec.SECP256R1())
        return cls(b64url_encode(_scalar(key)), b64url_encode(_point(key.public_key())), subject)

    @classmethod
    def from_private(cls, private_b64: str, subject: str = DEFAULT_VAPID_SUBJECT) -> VapidSigner:
        """The signer for a stored private key (the public key is derived)."""
        try:
            key = _private_key(private_b64)
        except ValueError:
            raise ValueError("unusable VAPID key") from None
        return cls(b64url_encode(_scalar(key)), b64url_encode(_point(key.public_key())), subject)

    def __repr__(self) -> str:
        return (
            f"VapidSigner(public_b64={self.public_b64!r}, private_b64=<hidden>, "
            f"subject={self.subject!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VapidSigner):
            return NotImplemented
        return (
            _same_secret(self.private_b64, other.private_b64)
            & (self.public_b64 == other.public_b64)
            & (self.subject == other.subject)
        )

    def __hash__(self) -> int:
        return hash((self.public_b64, self.subject))

    def token(self, audience: str, *, now: float | None = None) -> str:
        """An ES256 JWT with ``aud`` = the origin of ``audience``, ``exp`` = now + 12 h and
        ``sub`` = :attr:`subject`."""
        aud = _origin(audience, allow_path=True)
        if aud is None:
            raise ValueError("VAPID audience must be an http or https origin")
        now = time.time() if now is None else now
        header = {"typ": "JWT", "alg": "ES256"}
        claims = {"aud": aud, "exp": int(now) + VAPID_TOKEN_LIFETIME_S, "sub": self.subject}
        signing_input = f"{_json_b64(header)}.{_json_b64(claims)}"
        der = self._key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        raw = r.to_bytes(_SCALAR_BYTES, "big") + s.to_bytes(_SCALAR_BYTES, "big")
        return f"{signing_input}.{b64url_encode(raw)}"

    def headers(self, audience: str, *, encoding: str, now: float | None = None) -> dict[str, str]:
        """Authorization headers for a push to ``audience``: ``vapid t=…, k=…`` for
        ``aes128gcm``; ``WebPush <jwt>`` plus ``Crypto-Key: p256ecdsa=…`` for ``aesgcm``
        (combine with :func:`encrypt`'s ``Crypto-Key`` through :func:`merge_headers`)."""
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown content encoding {encoding!r}")
        jwt = self.token(audience, now=now)
        if encoding == "aes128gcm":
            return {"Authorization": f"vapid t={jwt}, k={self.public_b64}"}
        return {"Authorization": f"WebPush {jwt}", "Crypto-Key": f"p256ecdsa={self.public_b64}"}


def _json_b64(value: Mapping[str, Any]) -> str:
    return b64url_encode(json.dumps(value, separators=(",", ":")).encode("utf-8"))
