"""What the filters and notifications dialogs ask of one account, over its own connection.

Every method blocks (keyring, network); the dialogs call them off the GUI thread. Each service
opens its own client lazily, in the dialog's worker thread, and is closed with the dialog.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from tootbell.avatars import cached_avatar
from tootbell.config import AccountConfig, Paths
from tootbell.mastodon import actions, filters_api
from tootbell.mastodon.actions import Conversation
from tootbell.mastodon.client import ApiError, MastodonClient
from tootbell.mastodon.entities import Capabilities, Notification, id_key
from tootbell.mastodon.filters_api import Filter, FilterDraft
from tootbell.secrets import SecretStore

RECENT_LIMIT = 80


class AccountService:
    def __init__(
        self,
        acc: AccountConfig,
        secrets: SecretStore,
        paths: Paths,
        capabilities: Capabilities | None = None,
    ) -> None:
        self.account = acc
        self._secrets = secrets
        self._paths = paths
        self._caps = capabilities
        self._client: MastodonClient | None = None
        self._lock = threading.Lock()

    def client(self) -> MastodonClient:
        with self._lock:
            if self._client is None:
                token = self._secrets.get_token(self.account.key)
                if not token:
                    raise ApiError("There is no access token for this account: sign in again.")
                self._client = MastodonClient(self.account.base_url, token)
            return self._client

    def capabilities(self) -> Capabilities:
        if self._caps is None:
            self._caps = self.client().capabilities()
        return self._caps

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


class FilterService(AccountService):
    """The server's keyword filters (v2, or v1 on older servers)."""

    _versions: dict[str, int]

    def __init__(
        self,
        acc: AccountConfig,
        secrets: SecretStore,
        paths: Paths,
        capabilities: Capabilities | None = None,
        *,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(acc, secrets, paths, capabilities)
        self._versions = {}
        # Called (on the calling thread) after every change the server accepted, even one that
        # finishes after the dialog closed: the app re-reads the filters for the inbox.
        self._on_change = on_change or (lambda: None)

    @property
    def supports_blur(self) -> bool:
        caps = self._caps
        return (
            caps is not None
            and caps.software == "mastodon"
            and (caps.api_mastodon >= 5 or caps.version.split(".")[:2] >= ["4", "4"])
        )

    def load(self) -> tuple[str, list[Filter]]:
        self.capabilities()
        support, found = filters_api.list_filters(self.client())
        self._versions = {f.id: f.version for f in found}
        return support, found

    def create(self, draft: FilterDraft) -> Filter:
        f = filters_api.create_filter(self.client(), draft, version=self._version())
        self._versions[f.id] = f.version
        self._on_change()
        return f

    def update(self, filter_id: str, draft: FilterDraft) -> Filter:
        version = self._versions.get(filter_id, self._version())
        f = filters_api.update_filter(self.client(), filter_id, draft, version=version)
        self._versions[f.id] = f.version
        self._on_change()
        return f

    def delete(self, filter_id: str) -> None:
        version = self._versions.get(filter_id, self._version())
        filters_api.delete_filter(self.client(), filter_id, version=version)
        self._versions.pop(filter_id, None)
        self._on_change()

    def _version(self) -> int:
        """v1 on servers without v2 filters (the v1 ids are keyword ids: never mix them)."""
        caps = self._caps
        return 1 if caps is not None and not caps.has_v2_filters else 2

    def remove_status(self, filter_status_id: str) -> None:
        filters_api.remove_filter_status(self.client(), filter_status_id)
        self._on_change()

    def recent(self) -> list[Notification]:
        return self.client().notifications(limit=RECENT_LIMIT).items


class NotificationsService(AccountService):
    """Recent notifications to dismiss or clear, read state, unread conversations."""

    @property
    def can_dismiss(self) -> bool:
        return self._caps is None or self._caps.has_dismiss

    def recent(self) -> list[Notification]:
        self.capabilities()
        items = self.client().notifications(limit=RECENT_LIMIT).items
        return sorted(items, key=lambda n: id_key(n.id), reverse=True)

    def avatar(self, url: str) -> str | None:
        return cached_avatar(self.client(), url, self._paths.avatar_dir)

    def dismiss(self, notifications: list[Notification]) -> None:
        client = self.client()
        for n in notifications:
            actions.dismiss(client, [n.id])

    def clear_all(self) -> None:
        actions.clear_all(self.client())

    def mark_all_read(self) -> None:
        items = self.client().notifications(limit=1).items
        if items:
            actions.mark_read(self.client(), items[0].id)

    def conversations(self) -> list[Conversation]:
        return actions.conversations(self.client(), unread_only=True)

    def mark_conversation_read(self, conversation_id: str) -> None:
        actions.mark_conversation_read(self.client(), conversation_id)
