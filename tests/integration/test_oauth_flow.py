"""The OAuth pieces against the demo instance: registration, the browser round trip through
the loopback catcher with PKCE and state, the out-of-band code, exchange and revocation."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from browser_sim import Browser

from tootbell.demo import DemoServer
from tootbell.mastodon.client import AuthError, MastodonClient
from tootbell.mastodon.oauth import (
    LOOPBACK_REDIRECT,
    OOB_URI,
    SCOPES,
    AppRegistration,
    LoopbackCatcher,
    OAuthError,
    authorize_url,
    exchange_code,
    new_state,
    pkce_pair,
    register_app,
    revoke,
)


def test_register_app_without_profile_on_older_servers() -> None:
    with DemoServer(version="4.0.2") as old:
        reg = register_app(old.base_url)
        (req,) = old.requests_to("/api/v1/apps", "POST")
    assert reg.scopes == SCOPES
    assert parse_qs(req.body.decode())["scopes"] == [SCOPES]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_register_app(server: DemoServer) -> None:
    reg = register_app(server.base_url)
    assert reg.base_url == server.base_url
    assert reg.client_id and reg.client_secret
    assert reg.scopes == SCOPES + " profile"  # 4.5 offers the profile scope
    assert set(reg.redirect_uris) == {LOOPBACK_REDIRECT, OOB_URI}
    assert reg.has_loopback
    assert reg.client_secret not in repr(reg)
    (req,) = server.requests_to("/api/v1/apps", "POST")
    assert req.header("Authorization") is None
    form = parse_qs(req.body.decode())
    assert form["client_name"] == ["Tootbell"]
    assert form["scopes"] == [SCOPES + " profile"]
    assert form["redirect_uris"] == [f"{LOOPBACK_REDIRECT}\n{OOB_URI}"]
    assert form["website"][0].startswith("https://")


def test_register_app_errors_are_oauth_errors(server: DemoServer) -> None:
    server.faults.queue("/api/v1/apps", "503")
    with pytest.raises(OAuthError, match="error 503"):
        register_app(server.base_url)
    server.faults.queue("/api/v1/apps", "drop")
    with pytest.raises(OAuthError, match="Could not reach"):
        register_app(server.base_url)


def _sign_in(server: DemoServer, browser: Browser) -> tuple[AppRegistration, str]:
    reg = register_app(server.base_url)
    verifier, challenge = pkce_pair()
    state = new_state()
    catcher = LoopbackCatcher(state)
    catcher.start()
    try:
        url = authorize_url(reg, catcher.redirect_uri, state, challenge)
        assert browser(url)
        code = catcher.wait(10)
    finally:
        catcher.stop()
    return reg, exchange_code(reg, code, catcher.redirect_uri, verifier)


def test_browser_round_trip(server: DemoServer) -> None:
    browser = Browser()
    reg, token = _sign_in(server, browser)
    q = query_of(browser.visited[0])
    assert q["code_challenge_method"] == "S256"
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callback", q["redirect_uri"])
    assert browser.landing is not None
    assert "Signed in — you can close this tab and return to Tootbell" in browser.landing.text
    with MastodonClient(server.base_url, token) as c:
        assert c.verify_credentials().username == "demo"
    # The token request carried the PKCE verifier and the exact redirect URI.
    (tok_req,) = server.requests_to("/oauth/token", "POST")
    form = parse_qs(tok_req.body.decode())
    assert form["grant_type"] == ["authorization_code"]
    assert form["redirect_uri"] == [q["redirect_uri"]]
    assert len(form["code_verifier"][0]) == 64
    assert reg.client_id in form["client_id"]


def test_denied(server: DemoServer) -> None:
    browser = Browser("deny")
    with pytest.raises(OAuthError, match="You declined"):
        _sign_in(server, browser)
    assert browser.landing is not None
    assert "You declined" in browser.landing.text


def test_state_mismatch(server: DemoServer) -> None:
    browser = Browser(tamper=lambda loc: re.sub(r"state=[^&]+", "state=forged", loc))
    with pytest.raises(OAuthError, match="did not match"):
        _sign_in(server, browser)
    assert browser.landing is not None
    assert browser.landing.status_code == 400


def test_wrong_verifier_is_refused(server: DemoServer) -> None:
    reg = register_app(server.base_url)
    _verifier, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    browser = Browser()
    state = new_state()
    url = authorize_url(reg, OOB_URI, state, challenge)
    code = browser.oob_code(url)
    assert code
    with pytest.raises(OAuthError, match="did not accept the sign-in"):
        exchange_code(reg, code, OOB_URI, other_verifier)


def test_oob_code(server: DemoServer) -> None:
    reg = register_app(server.base_url)
    verifier, challenge = pkce_pair()
    code = Browser().oob_code(authorize_url(reg, OOB_URI, new_state(), challenge))
    assert code
    token = exchange_code(reg, code, OOB_URI, verifier)
    with MastodonClient(server.base_url, token) as c:
        assert c.verify_credentials().username == "demo"
    # A code works once.
    with pytest.raises(OAuthError):
        exchange_code(reg, code, OOB_URI, verifier)


def test_revoke(server: DemoServer) -> None:
    reg, token = _sign_in(server, Browser())
    revoke(reg, token)
    with MastodonClient(server.base_url, token) as c, pytest.raises(AuthError):
        c.verify_credentials()
    (req,) = server.requests_to("/oauth/revoke", "POST")
    form = parse_qs(req.body.decode())
    assert form["token"] == [token]
    assert form["client_id"] == [reg.client_id]
    assert form["client_secret"] == [reg.client_secret]


def test_revoke_with_wrong_secret(server: DemoServer) -> None:
    reg, token = _sign_in(server, Browser())
    bad = AppRegistration(reg.base_url, reg.client_id, "wrong", reg.scopes, reg.redirect_uris)
    with pytest.raises(OAuthError) as info:
        revoke(bad, token)
    assert token not in str(info.value)
    assert "wrong" not in str(info.value)
