"""Direct conversations of the demo instance, shaped like Mastodon's ``AccountConversation``.

A direct message to a local user creates or updates that user's conversation with the other
participants: ``unread`` becomes true and the message becomes ``last_status``. Pages are
ordered and cut by the last status id, as ``AccountConversation.to_a_paginated_by_id`` does.
Unlike Mastodon, which keeps one conversation per thread, the demo keeps one per set of
participants (its direct messages are never replies).

No HTTP here, and no lock of its own: :class:`ConversationStore` takes the world's lock.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tootbell.mastodon.entities import id_key

JSON = dict[str, Any]


@dataclass
class ConversationRecord:
    id: str
    username: str  # the local user whose conversation it is
    participant_ids: frozenset[str]
    accounts: list[JSON]  # the other participants
    last_status: JSON
    unread: bool = True
    pinned: dict[str, tuple[str, ...]] = field(default_factory=dict)  # forced filter matches

    @property
    def last_status_id(self) -> str:
        return str(self.last_status["id"])


class ConversationStore:
    """Every user's conversations. Methods take ``lock`` (the world's re-entrant lock) and
    hand out copies."""

    def __init__(self, lock: threading.RLock, next_id: Callable[[], str]) -> None:
        self._lock = lock
        self._next_id = next_id
        self._records: list[ConversationRecord] = []

    def add_status(
        self,
        username: str,
        status: JSON,
        others: Sequence[JSON],
        *,
        from_self: bool = False,
        pinned: Mapping[str, Sequence[str]] | None = None,
    ) -> ConversationRecord:
        """Record ``status`` in ``username``'s conversation with ``others`` (made if new).
        Unread unless the user wrote it; ``last_status`` is the newest status seen."""
        with self._lock:
            ids = frozenset(str(a["id"]) for a in others)
            record = next(
                (r for r in self._records if r.username == username and r.participant_ids == ids),
                None,
            )
            frozen = {k: tuple(v) for k, v in (pinned or {}).items()}
            if record is None:
                record = ConversationRecord(
                    id=self._next_id(),
                    username=username,
                    participant_ids=ids,
                    accounts=copy.deepcopy(list(others)),
                    last_status=copy.deepcopy(status),
                    pinned=frozen,
                )
                self._records.append(record)
            elif id_key(str(status["id"])) >= id_key(record.last_status_id):
                record.last_status = copy.deepcopy(status)
                record.accounts = copy.deepcopy(list(others))
                record.pinned = frozen
            record.unread = not from_self
            return copy.deepcopy(record)

    def _find(self, username: str, conversation_id: str) -> ConversationRecord | None:
        for r in self._records:
            if r.username == username and r.id == conversation_id:
                return r
        return None

    def get(self, username: str, conversation_id: str) -> ConversationRecord | None:
        with self._lock:
            r = self._find(username, conversation_id)
            return copy.deepcopy(r) if r is not None else None

    def set_unread(
        self, username: str, conversation_id: str, unread: bool
    ) -> ConversationRecord | None:
        with self._lock:
            r = self._find(username, conversation_id)
            if r is None:
                return None
            r.unread = unread
            return copy.deepcopy(r)

    def delete(self, username: str, conversation_id: str) -> bool:
        with self._lock:
            r = self._find(username, conversation_id)
            if r is None:
                return False
            self._records.remove(r)
            return True

    def page(
        self,
        username: str,
        *,
        limit: int,
        max_id: str | None = None,
        since_id: str | None = None,
        min_id: str | None = None,
    ) -> list[ConversationRecord]:
        """Newest first by last status id; ``min_id`` takes the page just above it."""
        with self._lock:
            mine = sorted(
                (r for r in self._records if r.username == username),
                key=lambda r: id_key(r.last_status_id),
            )

            def below(r: ConversationRecord, cursor: str | None) -> bool:
                return cursor is None or id_key(r.last_status_id) < id_key(cursor)

            def above(r: ConversationRecord, cursor: str | None) -> bool:
                return cursor is None or id_key(r.last_status_id) > id_key(cursor)

            if min_id is not None:
                asc = [r for r in mine if above(r, min_id) and below(r, max_id)]
                page = list(reversed(asc[:limit]))
            else:
                desc = [r for r in reversed(mine) if below(r, max_id) and above(r, since_id)]
                page = desc[:limit]
            return copy.deepcopy(page)

    def all(self, username: str) -> list[ConversationRecord]:
        """The user's conversations, newest first."""
        with self._lock:
            mine = [r for r in self._records if r.username == username]
            mine.sort(key=lambda r: id_key(r.last_status_id), reverse=True)
            return copy.deepcopy(mine)
