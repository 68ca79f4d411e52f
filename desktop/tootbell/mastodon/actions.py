"""What a person does back to the server: dismiss and clear notifications, move the read
marker (forward only), and list and read direct conversations.

Degrades by capability: a group is dismissed with the v2 call where the server has it and
one notification at a time elsewhere; a server without per-item dismiss (GoToSocial) is
reported as :class:`DismissUnsupported` rather than silently ignored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tootbell.mastodon.client import (
    MARKER_CONFLICT_RETRIES,
    ApiError,
    BadResponse,
    Conflict,
    MastodonClient,
    NotFound,
    link_cursors,
)
from tootbell.mastodon.entities import (
    Account,
    Capabilities,
    EntityError,
    Marker,
    Status,
    id_newer,
)

log = logging.getLogger(__name__)

CONVERSATIONS_PATH = "/api/v1/conversations"
CONVERSATIONS_PAGE = 40  # Mastodon's maximum per page
CONVERSATION_SCAN = 200  # how far back to look for one conversation or for unread ones


class DismissUnsupported(ApiError):
    """The server cannot dismiss single notifications (GoToSocial): only "clear all" works."""


# --------------------------------------------------------------------------- notifications


def dismiss(
    client: MastodonClient,
    notification_ids: Iterable[str],
    group_key: str | None = None,
    *,
    caps: Capabilities | None = None,
) -> None:
    """Dismiss notifications on the server.

    With a real group key (not ``ungrouped-…``) and a server with grouped notifications
    (``caps``, or probed: a 404 falls back), one ``POST /api/v2/notifications/:group_key/dismiss``
    removes the whole group; otherwise each id goes through ``POST
    /api/v1/notifications/:id/dismiss``. A notification that is already gone is fine.
    Raises :class:`DismissUnsupported` where the server has no per-item dismiss."""
    ids = list(dict.fromkeys(notification_ids))
    if caps is not None and not caps.has_dismiss:
        raise _unsupported(client)
    grouped = caps is None or caps.has_grouped_notifications
    if group_key and not group_key.startswith("ungrouped-") and grouped:
        try:
            client.request_json("POST", f"/api/v2/notifications/{_seg(group_key)}/dismiss")
            return
        except NotFound:
            log.debug("no v2 group dismiss for %s on %s; one by one", group_key, client.host)
    for nid in ids:
        try:
            client.dismiss_notification(nid)
        except NotFound:
            if _still_there(client, nid):
                raise _unsupported(client) from None
            log.debug("notification %s was already gone on %s", nid, client.host)


def _still_there(client: MastodonClient, nid: str) -> bool:
    """Whether a notification whose dismiss got 404 still exists (then dismiss is missing)."""
    try:
        client.notification(nid)
    except NotFound:
        return False
    return True


def _unsupported(client: MastodonClient) -> DismissUnsupported:
    return DismissUnsupported(
        f"{client.host} cannot dismiss single notifications; use Clear all instead", 404
    )


def clear_all(client: MastodonClient) -> None:
    """Delete every notification of the account: ``POST /api/v1/notifications/clear``.
    Does not move the read marker."""
    client.clear_notifications()


def mark_read(
    client: MastodonClient,
    last_read_id: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Marker | None:
    """Move the notifications read marker to ``last_read_id``, forward only.

    Reads the marker first and returns it unchanged when ``last_read_id`` is not newer.
    A 409 (another device wrote at the same time) starts over, re-reading and re-checking,
    up to ``MARKER_CONFLICT_RETRIES`` times. None when the server keeps no markers."""
    attempt = 0
    while True:
        try:
            try:
                current = client.notifications_marker()
            except NotFound:
                log.debug("%s keeps no read markers", client.host)
                return None
            if current is not None and not id_newer(last_read_id, current.last_read_id):
                return current
            return _post_marker(client, last_read_id)
        except Conflict:
            attempt += 1
            if attempt > MARKER_CONFLICT_RETRIES:
                raise
            log.debug("marker conflict on %s; retry %d", client.host, attempt)
            sleep(0.1 * attempt)


def _post_marker(client: MastodonClient, last_read_id: str) -> Marker:
    data = client.request_json(
        "POST", "/api/v1/markers", data={"notifications[last_read_id]": last_read_id}
    )
    raw = data.get("notifications") if isinstance(data, dict) else None
    try:
        return Marker.from_json(raw)
    except (EntityError, TypeError, ValueError) as e:
        log.debug("bad marker from %s: %s", client.host, e)
        raise BadResponse(f"{client.host} sent a read marker Tootbell could not understand") from e


# --------------------------------------------------------------------------- conversations


@dataclass(frozen=True)
class Conversation:
    id: str
    unread: bool
    accounts: tuple[Account, ...]
    last_status: Status | None

    @classmethod
    def from_json(cls, data: object) -> Conversation:
        """Lenient like the other entities: unreadable accounts are dropped and an
        unreadable last status becomes None; only the id is required."""
        if not isinstance(data, dict):
            raise EntityError("conversation is not an object")
        cid = data.get("id")
        if isinstance(cid, bool) or not isinstance(cid, (str, int)) or cid == "":
            raise EntityError("missing 'id'")
        accounts: list[Account] = []
        raw_accounts = data.get("accounts")
        for raw in raw_accounts if isinstance(raw_accounts, list) else ():
            try:
                accounts.append(Account.from_json(raw))
            except (EntityError, TypeError, ValueError):
                continue
        last: Status | None = None
        raw_status = data.get("last_status")
        if isinstance(raw_status, dict):
            try:
                last = Status.from_json(raw_status)
            except (EntityError, TypeError, ValueError, AttributeError) as e:
                log.debug("conversation %s: unreadable last status (%s)", cid, e)
        unread = data.get("unread")
        return cls(
            id=str(cid),
            unread=unread is True or unread == "true",
            accounts=tuple(accounts),
            last_status=last,
        )


def conversations(
    client: MastodonClient, *, unread_only: bool = False, limit: int = 40
) -> list[Conversation]:
    """Direct conversations, most recent first, following ``Link`` pages up to ``limit``.

    ``unread_only`` keeps the unread ones (looking through at most ``CONVERSATION_SCAN``)."""
    limit = max(1, limit)
    out: list[Conversation] = []
    scan = max(limit, CONVERSATION_SCAN) if unread_only else limit
    for conv in _walk_conversations(client, scan):
        if unread_only and not conv.unread:
            continue
        out.append(conv)
        if len(out) >= limit:
            break
    return out


def conversation_for_status(
    client: MastodonClient, status_id: str, *, scan: int = CONVERSATION_SCAN
) -> Conversation | None:
    """The conversation whose last post is ``status_id`` (a direct message that just
    arrived), looking through at most ``scan`` conversations; None if not found."""
    for conv in _walk_conversations(client, scan):
        if conv.last_status is not None and conv.last_status.id == status_id:
            return conv
    return None


def mark_conversation_read(client: MastodonClient, conversation_id: str) -> Conversation:
    """``POST /api/v1/conversations/:id/read``. Neither dismisses the matching mention nor
    moves the read marker: callers do those too."""
    data = client.request_json("POST", f"{CONVERSATIONS_PATH}/{_seg(conversation_id)}/read")
    try:
        return Conversation.from_json(data)
    except EntityError as e:
        log.debug("bad conversation from %s: %s", client.host, e)
        raise BadResponse(f"{client.host} sent a conversation Tootbell could not understand") from e


def _walk_conversations(client: MastodonClient, max_items: int) -> Iterator[Conversation]:
    """Conversations page by page (``rel="next"``), at most ``max_items`` looked at."""
    page_size = max(1, min(CONVERSATIONS_PAGE, max_items))
    max_id: str | None = None
    seen_cursors: set[str] = set()
    looked = 0
    while looked < max_items:
        params: list[tuple[str, str]] = [("limit", str(page_size))]
        if max_id is not None:
            params.append(("max_id", max_id))
        data, link = _get_page(client, CONVERSATIONS_PATH, params)
        if not isinstance(data, list):
            raise BadResponse(f"{client.host} sent conversations Tootbell could not understand")
        if not data:
            return
        for raw in data:
            if looked >= max_items:
                return
            looked += 1
            try:
                yield Conversation.from_json(raw)
            except EntityError as e:
                log.warning("Skipped unreadable conversation (%s)", e)
        next_max, _ = link_cursors(link)
        if next_max is None or next_max in seen_cursors:
            return
        seen_cursors.add(next_max)
        max_id = next_max


def _get_page(
    client: MastodonClient, path: str, params: list[tuple[str, str]]
) -> tuple[Any, str | None]:
    """GET returning the decoded JSON and the ``Link`` header, which ``request_json`` does
    not expose; errors are the client's own typed ones."""
    resp = client._send("GET", path, params=params)
    link = resp.headers.get("Link")
    return client._json(resp), link


def _seg(value: str) -> str:
    """An ID or group key as one path segment."""
    return quote(value, safe="")
