"""The dialogs' services over real HTTP against the demo instance (v2 and v1 filter servers)."""

from __future__ import annotations

import pytest

from tootbell.config import AccountConfig, Paths
from tootbell.demo import DemoServer
from tootbell.mastodon.filters_api import FilterDraft, KeywordEdit
from tootbell.secrets import SecretStore
from tootbell.services import FilterService, NotificationsService


def account(server: DemoServer, secrets: SecretStore) -> AccountConfig:
    acc = AccountConfig(key=f"demo@{server.base_url.split('//', 1)[1]}", base_url=server.base_url)
    secrets.set_token(acc.key, server.create_token("demo"))
    return acc


@pytest.mark.parametrize("version", ["4.5.0", "3.5.3"])
def test_filter_service_round_trip(version: str, home: Paths, secrets: SecretStore) -> None:
    with DemoServer(version=version) as server:
        service = FilterService(account(server, secrets), secrets, home)
        try:
            support, found = service.load()
            assert support == ("v2" if version.startswith("4") else "v1") and found == []
            draft = FilterDraft(
                "Spoilers", ("notifications",), "hide", 3600, (KeywordEdit("finale"),)
            )
            created = service.create(draft)
            kw = created.keywords[0]
            edited = FilterDraft(
                "Spoilers",
                ("notifications",),
                "hide",
                None,
                (KeywordEdit("season finale", True, kw.id),),
            )
            updated = service.update(created.id, edited)
            assert [k.keyword for k in updated.keywords] == ["season finale"]
            assert [
                f["title"] if "title" in f else f.get("phrase") for f in server.filters_for("demo")
            ]
            service.delete(created.id)
            assert service.load()[1] == []
        finally:
            service.close()


def test_notifications_service(server: DemoServer, home: Paths, secrets: SecretStore) -> None:
    service = NotificationsService(account(server, secrets), secrets, home)
    try:
        a = server.add_notification("mention")
        b = server.add_notification("mention", visibility="direct", status_text="psst")
        recent = service.recent()
        assert [n.id for n in recent] == [b["id"], a["id"]]
        assert service.can_dismiss
        assert (
            service.avatar(recent[0].account.avatar_static if recent[0].account else "") is not None
        )
        service.dismiss([recent[1]])
        assert [n["id"] for n in server.notifications_for("demo")] == [b["id"]]
        convs = service.conversations()
        assert len(convs) == 1 and convs[0].unread
        service.mark_conversation_read(convs[0].id)
        assert service.conversations() == []
        service.mark_all_read()
        marker = server.marker("demo")
        assert marker is not None and marker["last_read_id"] == b["id"]
        service.clear_all()
        assert server.notifications_for("demo") == []
    finally:
        service.close()


def test_gotosocial_cannot_dismiss_single(home: Paths, secrets: SecretStore) -> None:
    with DemoServer(version="v0.19.2", software="gotosocial") as server:
        service = NotificationsService(account(server, secrets), secrets, home)
        try:
            service.recent()
            assert service.can_dismiss is False
        finally:
            service.close()
