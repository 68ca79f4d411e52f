"""``tootbell check``: poll one account once and return what a toast would say, uncoalesced.

It shares the app's cursor and exactly-once record (unless peeking) and never moves the
server's read marker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tootbell.config import AccountConfig, Paths, Settings, StateStore
from tootbell.inbox import Inbox, filter_verdict
from tootbell.mastodon.client import ApiError, MastodonClient
from tootbell.mastodon.entities import id_key, id_newer
from tootbell.secrets import SecretStore, SecretStoreError

MAX_PAGES = 400


@dataclass
class CheckResult:
    lines: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def check_account(
    acc: AccountConfig,
    settings: Settings,
    *,
    paths: Paths,
    secrets: SecretStore,
    peek: bool,
    multi_account: bool = False,
) -> CheckResult:
    result = CheckResult()
    try:
        token = secrets.get_token(acc.key)
    except SecretStoreError as e:
        result.error = e.message
        return result
    if not token:
        result.error = "no access token in the keyring: sign in again"
        return result
    store = StateStore(paths)
    state = store.load(acc.key)
    inbox = Inbox(acc.key, state, multi_account=multi_account)
    client = MastodonClient(acc.base_url, token)
    try:
        if state.cursor is None:
            marker = client.notifications_marker()
            if marker is not None:
                state.cursor = marker.last_read_id
                state.marker = marker.last_read_id
            else:
                first = client.notifications(limit=1)
                state.cursor = first.items[0].id if first.items else "0"
            if not peek:
                store.save(acc.key, state)
        cursor = state.cursor
        for _ in range(MAX_PAGES):
            page = client.notifications(min_id=cursor, limit=80)
            if not page.items:
                break
            for n in sorted(page.items, key=lambda x: id_key(x.id)):
                if state.has_seen(n.id) or n.filtered:
                    continue
                verdict = filter_verdict(n)
                if verdict.action == "hide" or not settings.type_enabled(n.type):
                    continue
                t = inbox.single_toast(n, verdict)
                result.lines.append(
                    {
                        "account": acc.key,
                        "id": n.id,
                        "type": n.type,
                        "title": t.title,
                        "body": t.body,
                        "url": t.open_url,
                    }
                )
            newest = max((n.id for n in page.items), key=id_key)
            if id_newer(newest, cursor):
                cursor = newest
            if not peek:
                state.remember(n.id for n in page.items)
                state.cursor = cursor
                store.save(acc.key, state)
    except ApiError as e:
        result.error = e.message
    finally:
        client.close()
    return result
