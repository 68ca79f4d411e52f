"""The command line as a person runs it, with the real Secret Service and notification daemon.

Each command is a separate ``tootbell`` process; the demo instance runs in the test process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_run import cli_env, tootbell

from tootbell.demo import DemoServer


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path)


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    with DemoServer() as srv:
        yield srv


def host(demo: DemoServer) -> str:
    return demo.base_url.split("//", 1)[1]


def test_version(env: dict[str, str]) -> None:
    from tootbell import __version__

    r = tootbell(env, "--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"Tootbell {__version__}"


def test_token_account_lifecycle(env: dict[str, str], demo: DemoServer) -> None:
    token = demo.create_token("demo")
    r = tootbell(env, "account", "add", demo.base_url, "--token-stdin", stdin=token + "\n")
    assert r.returncode == 0, r.stderr
    key = f"demo@{host(demo)}"
    assert key in r.stdout

    # the token is in the real keyring, and nowhere under TOOTBELL_HOME
    from tootbell.secrets import SecretStore

    store = SecretStore()
    assert "SecretService" in store.check().backend_name
    assert store.get_token(key) == token
    for p in Path(env["TOOTBELL_HOME"]).rglob("*"):
        if p.is_file():
            assert token not in p.read_text(errors="replace"), p

    r = tootbell(env, "account", "list")
    assert r.returncode == 0
    assert r.stdout.splitlines()[0].split("\t")[0] == key

    # check: first run starts at the newest, then prints what is new, once
    assert tootbell(env, "check").returncode == 0
    made = demo.add_notification("mention", from_user="ana", status_text="Ping from the CLI")
    r = tootbell(env, "check", "--json", "--peek")
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["id"] for x in lines] == [made["id"]]
    assert set(lines[0]) == {"account", "id", "type", "title", "body", "url"}
    assert "Ping from the CLI" in lines[0]["body"]
    r = tootbell(env, "check")
    assert made["id"] not in r.stdout and "mentioned you" in r.stdout
    assert tootbell(env, "check").stdout == ""  # printed once only

    r = tootbell(env, "account", "remove", key)
    assert r.returncode == 0, r.stderr
    # Only the app that issued a token can revoke it: for a pasted token Tootbell says so.
    assert "Authorized apps" in r.stderr
    # gone from the keyring and the config
    assert store.get_token(key) is None
    assert tootbell(env, "account", "list").stdout == ""


def test_token_never_on_the_command_line_or_in_errors(
    env: dict[str, str], demo: DemoServer
) -> None:
    r = tootbell(
        env, "account", "add", demo.base_url, "--token-stdin", stdin="wrong-token-123456\n"
    )
    assert r.returncode != 0
    assert "wrong-token-123456" not in r.stderr + r.stdout
    assert "token" in r.stderr.lower()


def test_doctor_reports_the_real_desktop(env: dict[str, str], demo: DemoServer) -> None:
    token = demo.create_token("demo")
    assert (
        tootbell(env, "account", "add", demo.base_url, "--token-stdin", stdin=token).returncode == 0
    )
    r = tootbell(env, "doctor")
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    assert "[ok  ] Qt platform: xcb" in out
    assert "[ok  ] System tray: available" in out
    assert "[ok  ] Notification server: dunst" in out
    assert "[ok  ] Keyring:" in out and "secure" in out
    assert f"demo@{host(demo)}: reachable, token valid" in out
    assert "mastodon 4.5.0" in out

    demo.revoke_all_tokens()
    r = tootbell(env, "doctor")
    assert r.returncode != 0
    assert "token rejected" in r.stdout and "sign in again" in r.stdout
