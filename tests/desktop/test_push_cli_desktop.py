"""``tootbell push …`` and ``doctor`` as a person runs them, with the real Secret Service.

The demo instance runs in the test process and, unlike Mastodon, may deliver to loopback, so
the "public URL" here is the listener's own loopback address.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_run import cli_env, tootbell

from tootbell.demo import DemoServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path)


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    with DemoServer() as srv:
        yield srv


def test_push_enable_status_test_disable(env: dict[str, str], demo: DemoServer) -> None:
    token = demo.create_token("demo")
    assert (
        tootbell(env, "account", "add", demo.base_url, "--token-stdin", stdin=token).returncode == 0
    )
    key = f"demo@{demo.base_url.split('//', 1)[1]}"
    port = free_port()
    public = f"http://127.0.0.1:{port}"

    r = tootbell(env, "push", "enable", key, "--public-url", "http://example.org/relay")
    assert r.returncode == 2 and "https://" in r.stderr  # plain http only for loopback tests

    r = tootbell(
        env, "push", "enable", key, "--public-url", public, "--listen", f"127.0.0.1:{port}"
    )
    assert r.returncode == 0, r.stderr
    assert "Web Push is on" in r.stdout
    sub = demo.push_subscription(token)
    assert sub is not None and sub["endpoint"].startswith(public + "/push/")

    r = tootbell(env, "push", "status")
    assert r.returncode == 0
    assert key in r.stdout and "subscribed:" in r.stdout and "policy all" in r.stdout

    # Tootbell is not running: the test brings its own listener up on the listen address
    r = tootbell(env, "push", "test", key)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "The route works" in r.stdout

    r = tootbell(env, "doctor")
    assert f"[ok  ] Push route {key}: The route works" in r.stdout, r.stdout

    # the push private key never reaches a file
    import json

    from tootbell.secrets import SecretStore

    raw = SecretStore().get_push_key(key)
    assert raw
    private = json.loads(raw)["private"]
    for p in Path(env["TOOTBELL_HOME"]).rglob("*"):
        if p.is_file():
            assert private not in p.read_text(errors="replace"), p

    r = tootbell(env, "push", "disable", key)
    assert r.returncode == 0, r.stderr
    assert demo.push_subscription(token) is None
    assert SecretStore().get_push_key(key) is None


def test_push_test_explains_a_dead_route(env: dict[str, str], demo: DemoServer) -> None:
    token = demo.create_token("demo")
    assert (
        tootbell(env, "account", "add", demo.base_url, "--token-stdin", stdin=token).returncode == 0
    )
    key = f"demo@{demo.base_url.split('//', 1)[1]}"
    listen, dead = free_port(), free_port()
    r = tootbell(
        env,
        "push",
        "enable",
        key,
        "--public-url",
        f"http://127.0.0.1:{dead}",
        "--listen",
        f"127.0.0.1:{listen}",
    )
    assert r.returncode == 0, r.stderr
    r = tootbell(env, "push", "test", key)
    assert r.returncode == 1
    assert "refused" in r.stdout
