"""Signing in and out against the demo instance: browser flow, out-of-band fallback, pasted
tokens, reuse of one app registration per instance, revocation, keyring contents."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from browser_sim import Browser
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from tootbell.accounts import (
    AppRegistry,
    SignInError,
    sign_in_with_browser,
    sign_in_with_token,
    sign_out,
)
from tootbell.config import AccountConfig, Paths, load_config, save_config
from tootbell.demo import DemoServer
from tootbell.mastodon.client import AuthError, MastodonClient
from tootbell.mastodon.oauth import OOB_URI, SCOPES
from tootbell.secrets import SecretStore


class DictKeyring(KeyringBackend):
    """An in-memory keyring whose contents the tests can inspect."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.data.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


@pytest.fixture
def keyring_backend() -> DictKeyring:
    return DictKeyring()


@pytest.fixture
def store(keyring_backend: DictKeyring) -> SecretStore:
    return SecretStore(backend=keyring_backend)


def host_of(server: DemoServer) -> str:
    return server.base_url.split("://", 1)[1]


def browser_sign_in(
    server: DemoServer,
    home: Paths,
    store: SecretStore,
    browser: Browser | None = None,
    **kw: object,
) -> AccountConfig:
    b = browser or Browser()
    return sign_in_with_browser(
        server.base_url,
        paths=home,
        secrets=store,
        open_url=b,
        ask_code=b.oob_code,
        timeout=10,
        **kw,  # type: ignore[arg-type]
    )


def files_text(paths: Paths) -> str:
    out = []
    for d in (paths.config_dir, paths.state_dir, paths.cache_dir, paths.log_dir):
        for f in Path(d).rglob("*"):
            if f.is_file():
                out.append(f.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(out)


# --------------------------------------------------------------------------- browser sign-in


def test_browser_sign_in(
    server: DemoServer, home: Paths, store: SecretStore, keyring_backend: DictKeyring
) -> None:
    said: list[str] = []
    acc = browser_sign_in(server, home, store, progress=said.append)
    host = host_of(server)
    assert acc.key == f"demo@{host}"
    assert acc.base_url == server.base_url
    assert acc.account_id
    assert acc.display_name == "Demo User"
    assert acc.client_id
    assert said == [
        f"Registering Tootbell with {host}…",
        "Waiting for you to approve in the browser…",
        "Checking your account…",
    ]
    token = store.get_token(acc.key)
    assert token
    with MastodonClient(server.base_url, token) as c:
        assert c.verify_credentials().id == acc.account_id

    apps = json.loads((home.state_dir / "apps.json").read_text())
    entry = apps["apps"][server.base_url]
    assert entry["client_id"] == acc.client_id
    assert entry["scopes"] == SCOPES + " profile"
    secret = store.get_client_secret(server.base_url)
    assert secret
    on_disk = files_text(home)
    assert secret not in on_disk
    assert token not in on_disk
    assert secret in keyring_backend.data.values()


def test_registration_reused_for_second_account(
    server: DemoServer, home: Paths, store: SecretStore
) -> None:
    first = browser_sign_in(server, home, store)
    server.signed_in_user = "alice"
    second = browser_sign_in(server, home, store)
    assert first.key == f"demo@{host_of(server)}"
    assert second.key == f"alice@{host_of(server)}"
    assert first.client_id == second.client_id
    assert len(server.requests_to("/api/v1/apps", "POST")) == 1
    assert store.get_token(first.key) != store.get_token(second.key)


def test_missing_client_secret_registers_again(
    server: DemoServer, home: Paths, store: SecretStore
) -> None:
    first = browser_sign_in(server, home, store)
    store.delete_client_secret(server.base_url)
    second = browser_sign_in(server, home, store)
    assert len(server.requests_to("/api/v1/apps", "POST")) == 2
    assert second.client_id != first.client_id
    assert AppRegistry(home, store).get_or_register(server.base_url).client_id == second.client_id


def test_two_demo_servers_do_not_collide(
    server: DemoServer, home: Paths, store: SecretStore
) -> None:
    with DemoServer() as other:
        a = browser_sign_in(server, home, store)
        b = browser_sign_in(other, home, store)
    assert a.key != b.key
    assert store.get_token(a.key) != store.get_token(b.key)


def test_denied(
    server: DemoServer, home: Paths, store: SecretStore, keyring_backend: DictKeyring
) -> None:
    with pytest.raises(SignInError, match="You declined"):
        browser_sign_in(server, home, store, Browser("deny"))
    assert store.get_token(f"demo@{host_of(server)}") is None


def test_state_mismatch(server: DemoServer, home: Paths, store: SecretStore) -> None:
    browser = Browser(tamper=lambda loc: loc.replace("state=", "state=x"))
    with pytest.raises(SignInError, match="did not match"):
        browser_sign_in(server, home, store, browser)
    assert not server.requests_to("/oauth/token")


def test_oob_fallback_when_no_browser_opens(
    server: DemoServer, home: Paths, store: SecretStore
) -> None:
    browser = Browser(opens=False)
    acc = browser_sign_in(server, home, store, browser)
    assert acc.key == f"demo@{host_of(server)}"
    assert len(browser.visited) == 2
    assert "redirect_uri=urn" in browser.visited[1]
    (tok_req,) = server.requests_to("/oauth/token", "POST")
    assert f"redirect_uri={requests.utils.quote(OOB_URI, safe='')}" in tok_req.body.decode()


def test_oob_when_server_refused_loopback(
    server: DemoServer, home: Paths, store: SecretStore
) -> None:
    # A registration that has only the out-of-band redirect (as after a server refused the
    # loopback one): the browser is never asked to open the loopback flow.
    with requests.Session() as s:
        app = s.post(
            server.base_url + "/api/v1/apps",
            data={"client_name": "Tootbell", "redirect_uris": OOB_URI, "scopes": SCOPES},
            timeout=5,
        ).json()
    (home.state_dir / "apps.json").write_text(
        json.dumps(
            {
                "version": 1,
                "apps": {
                    server.base_url: {
                        "client_id": app["client_id"],
                        "redirect_uris": [OOB_URI],
                        "scopes": SCOPES,
                        "vapid_key": "",
                    }
                },
            }
        )
    )
    store.set_client_secret(server.base_url, app["client_secret"])
    opened: list[str] = []
    browser = Browser()
    acc = sign_in_with_browser(
        server.base_url,
        paths=home,
        secrets=store,
        open_url=lambda url: opened.append(url) or True,
        ask_code=browser.oob_code,
        timeout=5,
    )
    assert opened == []
    assert acc.client_id == app["client_id"]
    assert len(server.requests_to("/api/v1/apps", "POST")) == 1  # the one above


def test_pasted_url_with_code_is_accepted(
    server: DemoServer, home: Paths, store: SecretStore
) -> None:
    browser = Browser(opens=False)

    def paste_url(url: str) -> str | None:
        code = browser.oob_code(url)
        return f"  https://example.invalid/?code={code}&x=1  "

    acc = sign_in_with_browser(
        server.base_url, paths=home, secrets=store, open_url=browser, ask_code=paste_url, timeout=5
    )
    assert store.get_token(acc.key)


def test_no_browser_and_no_ask_code(server: DemoServer, home: Paths, store: SecretStore) -> None:
    with pytest.raises(SignInError, match="browser"):
        sign_in_with_browser(
            server.base_url, paths=home, secrets=store, open_url=lambda _u: False, timeout=5
        )


def test_ask_code_cancelled(server: DemoServer, home: Paths, store: SecretStore) -> None:
    with pytest.raises(SignInError, match="cancelled"):
        sign_in_with_browser(
            server.base_url,
            paths=home,
            secrets=store,
            open_url=lambda _u: False,
            ask_code=lambda _u: None,
            timeout=5,
        )


def test_cancel_while_waiting(server: DemoServer, home: Paths, store: SecretStore) -> None:
    cancel = threading.Event()

    def open_and_walk_away(_url: str) -> bool:
        threading.Timer(0.3, cancel.set).start()
        return True

    with pytest.raises(SignInError, match="cancelled"):
        sign_in_with_browser(
            server.base_url,
            paths=home,
            secrets=store,
            open_url=open_and_walk_away,
            cancel=cancel,
            timeout=30,
        )


def test_cancel_before_start(server: DemoServer, home: Paths, store: SecretStore) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(SignInError, match="cancelled"):
        sign_in_with_browser(
            server.base_url, paths=home, secrets=store, open_url=Browser(), cancel=cancel, timeout=5
        )


def test_timeout(server: DemoServer, home: Paths, store: SecretStore) -> None:
    with pytest.raises(SignInError, match="waited"):
        sign_in_with_browser(
            server.base_url, paths=home, secrets=store, open_url=lambda _u: True, timeout=0.3
        )


def test_unreachable_server(home: Paths, store: SecretStore) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SignInError, match=r"Could not reach 127\.0\.0\.1"):
        sign_in_with_browser(
            f"http://127.0.0.1:{port}", paths=home, secrets=store, open_url=Browser(), timeout=5
        )


def test_bad_address(home: Paths, store: SecretStore) -> None:
    with pytest.raises(SignInError, match=r"mastodon\.social"):
        sign_in_with_browser(
            "not a server", paths=home, secrets=store, open_url=Browser(), timeout=5
        )
    with pytest.raises(SignInError, match=r"mastodon\.social"):
        sign_in_with_token("", "token", secrets=store)


# --------------------------------------------------------------------------- token sign-in


def test_token_sign_in(server: DemoServer, store: SecretStore) -> None:
    token = server.create_token("demo")
    acc = sign_in_with_token(server.base_url + "/", f"  {token}\n", secrets=store)
    assert acc.key == f"demo@{host_of(server)}"
    assert acc.base_url == server.base_url
    assert acc.client_id == ""
    assert store.get_token(acc.key) == token


def test_token_sign_in_bad_token(
    server: DemoServer, store: SecretStore, keyring_backend: DictKeyring
) -> None:
    with pytest.raises(SignInError) as info:
        sign_in_with_token(server.base_url, "definitely-not-a-token", secrets=store)
    message = info.value.message
    assert "did not accept this access token" in message
    assert "definitely-not-a-token" not in message
    assert keyring_backend.data == {}


@pytest.mark.parametrize("token", ["", "   ", "two words"])
def test_token_sign_in_empty_or_spaced(server: DemoServer, store: SecretStore, token: str) -> None:
    with pytest.raises(SignInError):
        sign_in_with_token(server.base_url, token, secrets=store)


def test_token_sign_in_server_trouble(server: DemoServer, store: SecretStore) -> None:
    server.faults.queue("/api/v1/accounts", "503")
    with pytest.raises(SignInError, match="error 503"):
        sign_in_with_token(server.base_url, server.create_token(), secrets=store)


# --------------------------------------------------------------------------- sign out


def test_sign_out_revokes_and_forgets(
    server: DemoServer, home: Paths, store: SecretStore, keyring_backend: DictKeyring
) -> None:
    acc = browser_sign_in(server, home, store)
    save_config(home, load_config(home).with_account(acc))
    token = store.get_token(acc.key)
    assert token
    assert store.get_client_secret(server.base_url)
    store.set_push_key(acc.key, '{"private": "p", "public": "q", "auth": "a"}')
    assert sign_out(acc, paths=home, secrets=store) is None
    assert store.get_token(acc.key) is None
    with MastodonClient(server.base_url, token) as c, pytest.raises(AuthError):
        c.verify_credentials()
    assert len(server.requests_to("/oauth/revoke", "POST")) == 1
    # The push keys go, and with the last account on this instance its registration too.
    assert store.get_push_key(acc.key) is None
    assert store.get_client_secret(server.base_url) is None
    assert keyring_backend.data == {}
    apps = json.loads((home.state_dir / "apps.json").read_text())
    assert server.base_url not in apps["apps"]
    # A new sign-in there registers again.
    browser_sign_in(server, home, store)
    assert len(server.requests_to("/api/v1/apps", "POST")) == 2


def test_sign_out_keeps_the_registration_another_account_uses(
    server: DemoServer, home: Paths, store: SecretStore
) -> None:
    first = browser_sign_in(server, home, store)
    server.signed_in_user = "alice"
    second = browser_sign_in(server, home, store)
    save_config(home, load_config(home).with_account(first).with_account(second))
    assert sign_out(first, paths=home, secrets=store) is None
    save_config(home, load_config(home).without_account(first.key))
    assert store.get_token(first.key) is None
    secret = store.get_client_secret(server.base_url)
    assert secret
    # The other account can still be signed out properly: its token is revoked.
    token = store.get_token(second.key)
    assert sign_out(second, paths=home, secrets=store) is None
    with MastodonClient(server.base_url, token) as c, pytest.raises(AuthError):
        c.verify_credentials()
    assert store.get_client_secret(server.base_url) is None


def test_sign_out_of_a_push_account_deletes_its_subscription_and_keys(
    server: DemoServer, home: Paths, store: SecretStore, keyring_backend: DictKeyring
) -> None:
    """A pasted token cannot be revoked, so its subscription is deleted on the server."""
    from tootbell.config import AccountState, Settings
    from tootbell.delivery.push import ensure_subscription, load_or_create_keys

    token = server.create_token()
    acc = sign_in_with_token(server.base_url, token, secrets=store)
    acc = replace(acc, delivery="push", push_public_url="http://127.0.0.1:9")
    state = AccountState()
    keys = load_or_create_keys(acc.key, state, store)
    with MastodonClient(server.base_url, token) as client:
        ensure_subscription(client, acc, state, keys, Settings(), client.capabilities())
    assert server.push_subscription(token) is not None
    assert store.get_push_key(acc.key)
    note = sign_out(acc, paths=home, secrets=store)
    assert note is not None and "Authorized apps" in note
    assert server.push_subscription(token) is None
    assert keyring_backend.data == {}


def test_sign_out_when_server_unreachable(
    server: DemoServer, home: Paths, store: SecretStore
) -> None:
    acc = browser_sign_in(server, home, store)
    server.faults.queue("/oauth/revoke", "drop")
    note = sign_out(acc, paths=home, secrets=store)
    assert note is not None
    assert host_of(server) in note
    assert store.get_token(acc.key) is None


def test_sign_out_pasted_token_account(server: DemoServer, home: Paths, store: SecretStore) -> None:
    acc = sign_in_with_token(server.base_url, server.create_token(), secrets=store)
    note = sign_out(acc, paths=home, secrets=store)
    assert note is not None and "Authorized apps" in note
    assert store.get_token(acc.key) is None


def test_sign_out_twice_is_harmless(server: DemoServer, home: Paths, store: SecretStore) -> None:
    acc = browser_sign_in(server, home, store)
    sign_out(acc, paths=home, secrets=store)
    assert sign_out(acc, paths=home, secrets=store) is None
