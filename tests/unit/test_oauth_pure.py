"""Pure parts of OAuth and the client: addresses, PKCE, Link and rate-limit parsing, scrubbing,
and the loopback catcher (it only talks to itself over 127.0.0.1)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import requests.adapters

from tootbell.mastodon.client import (
    ApiError,
    AuthError,
    RateLimited,
    link_cursors,
    parse_rate_limit,
    parse_reset,
    scrub,
)
from tootbell.mastodon.oauth import (
    OOB_URI,
    SCOPES,
    AppRegistration,
    LoopbackCatcher,
    OAuthError,
    authorize_url,
    is_loopback_redirect,
    normalize_instance,
    pkce_pair,
    register_app,
    s256_challenge,
)

# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("mastodon.social", "https://mastodon.social"),
        ("  mastodon.social  ", "https://mastodon.social"),
        ("Mastodon.Social/", "https://mastodon.social"),
        ("mastodon.social.", "https://mastodon.social"),
        ("https://mastodon.social", "https://mastodon.social"),
        ("HTTPS://Mastodon.Social/", "https://mastodon.social"),
        ("https://host.example/some/path?x=1#frag", "https://host.example"),
        ("https://host.example:443/", "https://host.example"),
        ("https://host.example:8443", "https://host.example:8443"),
        ("host.example:8443", "https://host.example:8443"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/web/home", "http://127.0.0.1:8080"),
        ("http://host.example:80/", "http://host.example"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("@me@mastodon.social", "https://mastodon.social"),
        ("me@mastodon.social", "https://mastodon.social"),
        ("@Me@Fosstodon.ORG", "https://fosstodon.org"),
        ("https://mastodon.social/@me", "https://mastodon.social"),
        ("bücher.example", "https://xn--bcher-kva.example"),
    ],
)
def test_normalize_instance_accepts(typed: str, expected: str) -> None:
    assert normalize_instance(typed) == expected


def test_normalize_never_downgrades_to_http() -> None:
    assert normalize_instance("127.0.0.1:8080") == "https://127.0.0.1:8080"
    assert normalize_instance("mastodon.social").startswith("https://")


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "mastodon social",
        "not a server!!",
        "https://",
        "@me@",
        "ftp://mastodon.social",
        "javascript:alert(1)",
        "mastodon",
        "exa_mple.com",
        "-bad-.example",
        "host.example:99999",
        "host.example:port",
        "???",
        "1.2.3",
    ],
)
def test_normalize_instance_rejects_with_advice(typed: str) -> None:
    with pytest.raises(ValueError) as info:
        normalize_instance(typed)
    message = str(info.value)
    assert "mastodon.social" in message  # says what to type
    assert message.endswith(".")


def test_loopback_redirects() -> None:
    assert is_loopback_redirect("http://127.0.0.1/callback")
    assert is_loopback_redirect("http://127.0.0.1:5555/callback")
    assert is_loopback_redirect("http://[::1]:5555/callback")
    assert not is_loopback_redirect("http://localhost/callback")
    assert not is_loopback_redirect("https://127.0.0.1/callback")
    assert not is_loopback_redirect(OOB_URI)


# --------------------------------------------------------------------------- PKCE


def test_pkce_rfc7636_appendix_b_vector() -> None:
    # RFC 7636 Appendix B: the S256 challenge of this verifier.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_pkce_pair_shape() -> None:
    verifier, challenge = pkce_pair()
    assert len(verifier) == 64
    assert re.fullmatch(r"[A-Za-z0-9_-]{64}", verifier)
    assert challenge == s256_challenge(verifier)
    assert "=" not in challenge
    assert pkce_pair()[0] != verifier


def test_authorize_url_carries_pkce_and_state() -> None:
    reg = AppRegistration(
        "https://host.example", "cid", "secret", SCOPES, ("http://127.0.0.1/callback", OOB_URI)
    )
    url = authorize_url(reg, "http://127.0.0.1:4321/callback", "st4te", "chal")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://host.example/oauth/authorize"
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q == {
        "response_type": "code",
        "client_id": "cid",
        "redirect_uri": "http://127.0.0.1:4321/callback",
        "scope": SCOPES,
        "state": "st4te",
        "code_challenge": "chal",
        "code_challenge_method": "S256",
    }
    assert "secret" not in url
    assert "secret" not in repr(reg)


# --------------------------------------------------------------------------- Link, rate limits


def test_link_cursors_mastodon_shape() -> None:
    header = (
        '<https://m.example/api/v1/notifications?limit=80&max_id=109>; rel="next", '
        '<https://m.example/api/v1/notifications?limit=80&min_id=120>; rel="prev"'
    )
    assert link_cursors(header) == ("109", "120")
    assert link_cursors(None) == (None, None)
    assert link_cursors("garbage") == (None, None)
    only_prev = '<https://m.example/api/v1/notifications?min_id=01HX>; rel="prev"'
    assert link_cursors(only_prev) == (None, "01HX")


def test_rate_limit_iso_with_microseconds() -> None:
    rl = parse_rate_limit(
        {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "2026-03-01T12:05:00.123456Z",
        }
    )
    assert rl.limit == 300
    assert rl.remaining == 0
    assert rl.reset_at == datetime(2026, 3, 1, 12, 5, 0, 123456, tzinfo=UTC)


def test_rate_limit_reset_variants() -> None:
    assert parse_reset("2026-03-01T12:05:00+01:00") == datetime(2026, 3, 1, 11, 5, tzinfo=UTC)
    assert parse_reset("1772366700") == datetime.fromtimestamp(1772366700, UTC)
    assert parse_reset("1772366700.5") == datetime.fromtimestamp(1772366700.5, UTC)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_reset("30", now) == now + timedelta(seconds=30)
    assert parse_reset("soon") is None
    assert parse_reset("") is None
    assert parse_reset(None) is None
    assert parse_reset("-5") is None
    assert parse_rate_limit({}).remaining is None


# --------------------------------------------------------------------------- errors


def test_scrub_removes_tokens() -> None:
    tok = "s3cr3t-T0KEN_value"
    text = (
        f"Authorization: Bearer {tok} url=/x?access_token={tok}&a=1 "
        f"{{'Authorization': 'Bearer {tok}'}} token={tok}"
    )
    cleaned = scrub(text)
    assert tok not in cleaned
    assert "a=1" in cleaned
    assert tok not in scrub(f"it was {tok}", tok)


def test_error_str_and_repr() -> None:
    e = RateLimited("slow down", 429, datetime(2026, 1, 1, tzinfo=UTC))
    assert str(e) == "slow down"
    assert "slow down" in repr(e)
    assert isinstance(AuthError("x", 401), ApiError)
    assert ApiError("x").status is None


# --------------------------------------------------------------------------- loopback catcher


def _get(url: str) -> requests.Response:
    with requests.Session() as s:
        return s.get(url, timeout=5)


@pytest.fixture
def catcher() -> Iterator[LoopbackCatcher]:
    c = LoopbackCatcher("expected-state")
    c.start()
    yield c
    c.stop()


def test_catcher_returns_code(catcher: LoopbackCatcher) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callback", catcher.redirect_uri)
    r = _get(f"{catcher.redirect_uri}?code=abc&state=expected-state")
    assert r.status_code == 200
    assert "Signed in — you can close this tab and return to Tootbell" in r.text
    assert catcher.wait(5) == "abc"
    # A second visit (reload) does not change the result.
    r2 = _get(f"{catcher.redirect_uri}?code=other&state=expected-state")
    assert r2.status_code == 200
    assert catcher.wait(1) == "abc"


def test_catcher_state_mismatch(catcher: LoopbackCatcher) -> None:
    r = _get(f"{catcher.redirect_uri}?code=abc&state=forged")
    assert r.status_code == 400
    assert "did not match" in r.text
    with pytest.raises(OAuthError, match="did not match"):
        catcher.wait(5)


def test_catcher_denied(catcher: LoopbackCatcher) -> None:
    r = _get(
        f"{catcher.redirect_uri}?error=access_denied&error_description=nope&state=expected-state"
    )
    assert "You declined" in r.text
    with pytest.raises(OAuthError, match="You declined"):
        catcher.wait(5)


def test_catcher_other_paths_and_missing_code(catcher: LoopbackCatcher) -> None:
    base = catcher.redirect_uri.rsplit("/", 1)[0]
    assert _get(f"{base}/favicon.ico").status_code == 404
    assert _get(f"{catcher.redirect_uri}?state=expected-state").status_code == 400
    r = _get(f"{catcher.redirect_uri}?code=<b>x</b>&state=expected-state")
    assert "<b>" not in r.text
    assert catcher.wait(5) == "<b>x</b>"


def test_catcher_timeout() -> None:
    c = LoopbackCatcher("s")
    c.start()
    try:
        with pytest.raises(OAuthError, match="waited"):
            c.wait(0.2)
    finally:
        c.stop()


def test_catcher_stop_from_another_thread_cancels_wait() -> None:
    c = LoopbackCatcher("s")
    c.start()
    timer = threading.Timer(0.2, c.stop)
    timer.start()
    try:
        with pytest.raises(OAuthError, match="Sign-in was cancelled"):
            c.wait(30)
    finally:
        timer.join()
        c.stop()
        c.stop()  # idempotent


def test_catcher_cancel_event() -> None:
    c = LoopbackCatcher("s")
    c.start()
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    try:
        with pytest.raises(OAuthError, match="cancelled"):
            c.wait(30, cancel)
    finally:
        c.stop()


def test_catcher_stop_without_start() -> None:
    c = LoopbackCatcher("s")
    c.stop()
    with pytest.raises(OAuthError, match="cancelled"):
        c.wait(1)


# --------------------------------------------------------------------------- registration


class ScriptedAdapter(requests.adapters.BaseAdapter):
    """Answers requests in turn from a list of (status, JSON body); records the form bodies."""

    def __init__(self, answers: list[tuple[int, object]]) -> None:
        super().__init__()
        # The first request is the OAuth metadata probe: answer it like a pre-4.3 server.
        self.answers = [(404, {"error": "Not found"}), *answers]
        self.bodies: list[dict[str, list[str]]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        body = request.body or ""
        self.bodies.append(parse_qs(body if isinstance(body, str) else body.decode()))
        status, payload = self.answers.pop(0)
        resp = requests.Response()
        resp.status_code = status
        resp._content = json.dumps(payload).encode()
        resp.url = request.url or ""
        resp.request = request
        return resp

    def close(self) -> None:
        pass


def test_register_falls_back_to_oob_when_loopback_is_refused() -> None:
    adapter = ScriptedAdapter(
        [
            (422, {"error": "Validation failed: Redirect URI must be an absolute URI."}),
            (
                200,
                {
                    "client_id": "cid",
                    "client_secret": "csecret",
                    "redirect_uri": OOB_URI,
                    "vapid_key": "vk",
                },
            ),
        ]
    )
    with requests.Session() as s:
        s.mount("https://", adapter)
        reg = register_app("https://m.example", session=s)
    assert [b["redirect_uris"] for b in adapter.bodies[1:]] == [
        ["http://127.0.0.1/callback\n" + OOB_URI],
        [OOB_URI],
    ]
    assert reg.redirect_uris == (OOB_URI,)
    assert not reg.has_loopback
    assert reg.vapid_key == "vk"


def test_register_refused_outright() -> None:
    adapter = ScriptedAdapter([(403, {"error": "Registrations are closed"})])
    with requests.Session() as s:
        s.mount("https://", adapter)
        with pytest.raises(OAuthError, match="refused to register Tootbell: Registrations"):
            register_app("https://m.example", session=s)


def test_register_without_secret_is_refused() -> None:
    adapter = ScriptedAdapter([(200, {"client_id": "cid"})])
    with requests.Session() as s:
        s.mount("https://", adapter)
        with pytest.raises(OAuthError, match="client ID and secret"):
            register_app("https://m.example", session=s)
