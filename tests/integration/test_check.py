"""``tootbell check`` core against the demo instance: shares the app's record, never coalesces."""

from __future__ import annotations

from dataclasses import replace

from tootbell.config import AccountConfig, Paths, Settings, StateStore
from tootbell.delivery.check import check_account
from tootbell.demo import DemoServer
from tootbell.inbox import Inbox
from tootbell.mastodon.client import MastodonClient
from tootbell.secrets import SecretStore


def account(server: DemoServer, secrets: SecretStore) -> AccountConfig:
    host = server.base_url.split("//", 1)[1]
    acc = AccountConfig(key=f"demo@{host}", base_url=server.base_url)
    secrets.set_token(acc.key, server.create_token("demo"))
    return acc


def test_check_prints_each_new_one_and_records_it(
    server: DemoServer, home: Paths, secrets: SecretStore
) -> None:
    acc = account(server, secrets)
    assert check_account(acc, Settings(), paths=home, secrets=secrets, peek=False).lines == []
    first = server.add_notification("favourite", from_user="ana")
    sid = first["status"]["id"]
    for u in ("ben", "chloe"):
        server.add_notification("favourite", from_user=u, status_id=sid)
    server.add_notification("mention", filtered_action="hide")
    warned = server.add_notification("mention", filtered_action="warn", filter_title="Spoilers")
    r = check_account(acc, Settings(), paths=home, secrets=secrets, peek=False)
    assert r.error == ""
    assert [line["type"] for line in r.lines] == ["favourite"] * 3 + ["mention"]  # no coalescing
    assert r.lines[-1]["id"] == warned["id"]
    assert r.lines[-1]["body"] == "Filtered: Spoilers"
    assert all(line["account"] == acc.key for line in r.lines)
    assert r.lines[0]["url"].startswith(server.base_url)
    # a second check prints nothing: the record is shared
    assert check_account(acc, Settings(), paths=home, secrets=secrets, peek=False).lines == []


def test_peek_leaves_the_record_alone(
    server: DemoServer, home: Paths, secrets: SecretStore
) -> None:
    acc = account(server, secrets)
    check_account(acc, Settings(), paths=home, secrets=secrets, peek=False)
    made = server.add_notification("mention")
    before = StateStore(home).load(acc.key)
    r1 = check_account(acc, Settings(), paths=home, secrets=secrets, peek=True)
    r2 = check_account(acc, Settings(), paths=home, secrets=secrets, peek=True)
    assert [x["id"] for x in r1.lines] == [made["id"]] == [x["id"] for x in r2.lines]
    assert StateStore(home).load(acc.key) == before


def test_what_check_printed_is_not_toasted_again(
    server: DemoServer, home: Paths, secrets: SecretStore
) -> None:
    acc = account(server, secrets)
    check_account(acc, Settings(), paths=home, secrets=secrets, peek=False)
    printed = server.add_notification("mention")
    check_account(acc, Settings(), paths=home, secrets=secrets, peek=False)
    later = server.add_notification("follow")
    from tootbell.delivery.poller import AccountPoller

    store = StateStore(home)
    state = store.load(acc.key)
    client = MastodonClient(server.base_url, secrets.get_token(acc.key))
    poller = AccountPoller(
        acc.key, client, Inbox(acc.key, state), state, lambda: store.save(acc.key, state)
    )
    out = poller.poll(Settings())
    client.close()
    ids = [i for t in out.toasts for i in t.notification_ids]
    assert printed["id"] not in ids
    assert ids == [later["id"]]


def test_check_never_moves_the_read_marker(
    server: DemoServer, home: Paths, secrets: SecretStore
) -> None:
    acc = account(server, secrets)
    check_account(acc, Settings(), paths=home, secrets=secrets, peek=False)
    server.add_notification("mention")
    server.clear_requests()
    check_account(acc, Settings(), paths=home, secrets=secrets, peek=False)
    assert not [
        r for r in server.requests if r.method == "POST" and r.path.startswith("/api/v1/markers")
    ]


def test_switches_apply(server: DemoServer, home: Paths, secrets: SecretStore) -> None:
    acc = account(server, secrets)
    check_account(acc, Settings(), paths=home, secrets=secrets, peek=False)
    server.add_notification("favourite")
    m = server.add_notification("mention")
    types = dict(Settings().types)
    types["favourite"] = False
    r = check_account(
        acc, replace(Settings(), types=types), paths=home, secrets=secrets, peek=False
    )
    assert [x["id"] for x in r.lines] == [m["id"]]


def test_bad_token_is_reported_in_words(
    server: DemoServer, home: Paths, secrets: SecretStore
) -> None:
    acc = account(server, secrets)
    secrets.set_token(acc.key, "not-a-valid-token")
    r = check_account(acc, Settings(), paths=home, secrets=secrets, peek=False)
    assert r.lines == []
    assert "not-a-valid-token" not in r.error
    assert r.error
