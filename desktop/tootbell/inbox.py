"""The inbox: the one place that decides which notifications become toasts, and how.

One :class:`Inbox` per account, used only by that account's worker thread. Every delivery
(poll, push, stream) hands it notifications; it shows each one at most once, applies the
person's filters and switches, holds toasts back during a pause or quiet hours, coalesces
bursts of favourites/boosts/follows, collapses floods into one summary and keeps the unread
list in step with the server's read marker. Pure Python; time is injected.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dtime
from typing import Any

from tootbell.config import SEEN_LIMIT, AccountState, QuietHours, Settings
from tootbell.mastodon.entities import Account, Notification, id_key, id_newer
from tootbell.render import (
    filtered_body,
    render,
    render_away,
    render_group,
    render_held,
    safe_url,
    searchable_text,
)

COALESCING_TYPES = frozenset({"favourite", "reblog", "follow", "admin.sign_up"})
UNREAD_LIMIT = 1000  # the server caps its own unread_count at 1000 too
_TOAST_MEMORY = 500  # toasts remembered for withdrawing once read
_GROUP_LIMIT = 200  # coalescing groups kept at once
_GROUP_ACTORS = 5  # sender accounts kept per group for titles and bodies
_HELD_MEMORY = 5000  # held-back ids remembered for the end-of-pause summary
_PENDING_LIMIT = 1000  # toasts awaiting the notifier kept in the state (a guard; normally few)


@dataclass(frozen=True)
class Toast:
    """One desktop notification to show, or to update in place when ``key`` is already shown."""

    key: str  # stable: updates with the same key replace the toast in place
    account_key: str
    title: str  # plain text; the notifier escapes for body-markup servers
    body: str
    icon_url: str | None  # sender's avatar (static) or None for the app icon
    open_url: str | None  # "Open" action target; None: the caller opens the notifications page
    notification_ids: tuple[str, ...]
    kind: str  # notification type, "summary", "away"
    dismissable: bool  # "Dismiss" action offered (dismisses notification_ids on the server)
    urgency: int = 1
    # Notifications this toast announces for the first time, by type ("direct" for direct
    # messages). A coalesced toast that grows lists only the newcomers.
    type_counts: tuple[tuple[str, int], ...] = ()

    @property
    def new_count(self) -> int:
        return sum(c for _, c in self.type_counts)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "account_key": self.account_key,
            "title": self.title,
            "body": self.body,
            "icon_url": self.icon_url,
            "open_url": self.open_url,
            "notification_ids": list(self.notification_ids),
            "kind": self.kind,
            "dismissable": self.dismissable,
            "urgency": self.urgency,
            "type_counts": [[t, c] for t, c in self.type_counts],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Toast | None:
        """A toast saved with :meth:`to_json`; None when the entry is not one."""
        texts = [data.get(k) for k in ("key", "account_key", "title", "body", "kind")]
        ids = data.get("notification_ids")
        counts = data.get("type_counts", [])
        urls = [data.get("icon_url"), data.get("open_url")]
        urgency = data.get("urgency", 1)
        if (
            not all(isinstance(t, str) for t in texts)
            or not all(u is None or isinstance(u, str) for u in urls)
            or not isinstance(ids, list)
            or not all(isinstance(i, str) for i in ids)
            or not isinstance(counts, list)
            or not all(
                isinstance(c, list)
                and len(c) == 2
                and isinstance(c[0], str)
                and isinstance(c[1], int)
                for c in counts
            )
            or not isinstance(urgency, int)
        ):
            return None
        return cls(
            key=str(data["key"]),
            account_key=str(data["account_key"]),
            title=str(data["title"]),
            body=str(data["body"]),
            icon_url=urls[0],
            open_url=urls[1],
            notification_ids=tuple(ids),
            kind=str(data["kind"]),
            dismissable=bool(data.get("dismissable", False)),
            urgency=urgency,
            type_counts=tuple((str(c[0]), int(c[1])) for c in counts),
        )


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class FilterVerdict:
    """What the person's keyword filters say about a notification's post."""

    action: str  # "show", "blur", "warn" or "hide"
    titles: tuple[str, ...] = ()


_SHOW = FilterVerdict("show")


def filter_verdict(n: Notification) -> FilterVerdict:
    """Apply ``status.filtered``: only results whose filter covers the notifications context.

    Any ``hide`` wins; otherwise ``warn`` (or an action this version does not know) beats
    ``blur``. Mastodon matches every active filter whatever its context, so results for other
    contexts are ignored here.
    """
    if n.status is None:
        return _SHOW
    results = [r for r in n.status.filtered if "notifications" in r.context]
    if not results:
        return _SHOW
    hide = [r.title for r in results if r.action.lower() == "hide"]
    if hide:
        return FilterVerdict("hide", tuple(hide))
    warn = [r.title for r in results if r.action.lower() not in ("hide", "blur")]
    if warn:
        return FilterVerdict("warn", tuple(warn))
    return FilterVerdict("blur", tuple(r.title for r in results))


def group_id(n: Notification) -> str | None:
    """The coalescing group of ``n``, or ``None`` when it is always shown on its own."""
    if n.type not in COALESCING_TYPES:
        return None
    if n.group_key and not n.group_key.startswith("ungrouped-"):
        return n.group_key
    return f"{n.type}:{n.status.id if n.status else ''}"


def count_key(n: Notification) -> str:
    """The type a notification is counted under in summaries; direct messages apart."""
    return "direct" if n.is_direct else n.type


def _parse_hhmm(text: str) -> dtime | None:
    try:
        h, m = text.strip().split(":")
        hour, minute = int(h), int(m)
    except (ValueError, AttributeError):
        return None
    if hour == 24 and minute == 0:
        return dtime(0, 0)
    if 0 <= hour <= 23 and 0 <= minute <= 59:
        return dtime(hour, minute)
    return None


def quiet_hours_active(qh: QuietHours, now: datetime) -> bool:
    """True when local time ``now`` falls in ``[start, end)``; ranges may span midnight.

    A range with equal ends, or with a time that does not parse, is never active.
    """
    if not qh.enabled:
        return False
    start, end = _parse_hhmm(qh.start), _parse_hhmm(qh.end)
    if start is None or end is None or start == end:
        return False
    t = now.time().replace(tzinfo=None)
    if start < end:
        return start <= t < end
    return t >= start or t < end


# --------------------------------------------------------------------------- the inbox


@dataclass
class _Group:
    """A coalesced toast in progress: one post's favourites, boosts, or a run of follows."""

    key: str  # toast key
    type: str
    ids: list[str]
    actor_ids: set[str]
    actors: list[Account]  # most recent first, distinct, at most _GROUP_ACTORS
    anonymous: int  # members without an account
    latest: Notification
    verdict: FilterVerdict
    shown_at: float

    def add(self, n: Notification, verdict: FilterVerdict) -> None:
        self.ids.append(n.id)
        self.latest = n
        self.verdict = verdict
        acc = n.account
        if acc is None:
            self.anonymous += 1
            return
        self.actor_ids.add(acc.id)
        self.actors = [acc, *(a for a in self.actors if a.id != acc.id)][:_GROUP_ACTORS]

    @property
    def senders(self) -> int:
        return len(self.actor_ids) + self.anonymous


@dataclass
class _Plan:
    """One toast an accept() call would produce, before deciding on the away summary."""

    newest: str
    single: tuple[Notification, FilterVerdict] | None = None
    group: str | None = None
    members: list[tuple[Notification, FilterVerdict]] = field(default_factory=list)


class Inbox:
    """Decides, for one account, what the person sees. Mutates the given ``AccountState``;
    the caller persists it after :meth:`accept`, :meth:`tick` and :meth:`mark_read_up_to`."""

    def __init__(
        self,
        account_key: str,
        state: AccountState,
        *,
        clock: Callable[[], float] = time.time,
        local_time: Callable[[], datetime] = datetime.now,
        multi_account: bool = False,
    ) -> None:
        self.account_key = account_key
        self.state = state
        self.multi_account = multi_account  # add the account to titles (several signed in)
        self._clock = clock
        self._local_time = local_time
        self._groups: dict[str, _Group] = {}
        self._toast_ids: dict[str, tuple[str, ...]] = {}
        self._held: dict[str, str] = {}  # held-back id -> count key
        self._held_text: dict[str, str] = {}  # held-back id -> what a keyword filter matches
        self._direct_posts: dict[str, str] = {}  # unread direct message id -> its post's id
        self._held_reasons: set[str] = set()

    # -- public API --------------------------------------------------------------------

    @property
    def unread_count(self) -> int:
        return len(self.state.unread)

    def badge(self, server_count: int | None) -> int:
        """The unread count to show: the server's own count where it has one, less what a
        keyword filter hides here (the server counts those too), else the local count."""
        if server_count is None:
            return self.unread_count
        return max(0, server_count - len(self.state.hidden))

    @property
    def holding(self) -> bool:
        """Whether notifications are held back for an end-of-pause summary."""
        return bool(self._held)

    def hold_reason(self, settings: Settings) -> str | None:
        """``"paused"``, ``"quiet"`` (quiet hours) or ``None`` when toasts may be shown."""
        if settings.paused_at(self._clock()):
            return "paused"
        if quiet_hours_active(settings.quiet_hours, self._local_time()):
            return "quiet"
        return None

    def accept(self, items: list[Notification], settings: Settings) -> list[Toast]:
        """Decide about newly delivered notifications (any order, duplicates welcome).

        Returns the toasts to show, oldest first; an end-of-pause summary, if due, comes
        before them.
        """
        now = self._clock()
        reason = self.hold_reason(settings)
        out = self._held_summary() if reason is None else []
        self._prune_groups(now, settings)
        fresh = self._fresh(items)
        if not fresh:
            return out
        candidates: list[tuple[Notification, FilterVerdict]] = []
        for n in fresh:
            verdict = filter_verdict(n)
            if n.filtered:
                continue  # never shown and not unread: the server does not count them either
            if verdict.action == "hide":
                self._add_hidden(n.id)  # never shown; the server counts it as unread all the same
                continue
            if not id_newer(n.id, self.state.marker):
                continue  # already read elsewhere: no toast, not unread
            self._add_unread(n.id)
            if n.is_direct and n.status is not None:
                self._direct_posts[n.id] = n.status.id
            if not settings.type_enabled(n.type):
                continue  # switched off: unread on the server, but no toast
            if reason is not None:
                self._hold(n, reason)
                continue
            candidates.append((n, verdict))
        self.state.remember(n.id for n in fresh)
        self._tidy_unread()
        if candidates:
            out.extend(self._toasts_for(candidates, now, settings))
        return out

    def finish_batch(self, toasts: list[Toast], settings: Settings) -> list[Toast]:
        """Merge the toasts of several :meth:`accept` calls that belong to one delivery.

        A poll may span many pages; this keeps the last version of each key and applies the
        away rule to the whole poll, so a long catch-up still ends in one summary toast.
        """
        summaries: dict[str, Toast] = {}
        latest: dict[str, Toast] = {}
        for t in toasts:
            target = summaries if t.kind == "summary" else latest
            target.pop(t.key, None)
            target[t.key] = t
        shown = list(latest.values())
        others = [t for t in toasts if t.kind != "summary"]
        has_away = any(t.kind == "away" for t in others)
        if len(shown) > settings.away_threshold or (has_away and len(others) > 1):
            # Every version counts: each one lists only what it announced first.
            counts: Counter[str] = Counter()
            for t in others:
                counts.update(dict(t.type_counts))
            ids = {i for t in shown for i in t.notification_ids}
            shown = [self._away_toast(counts, ids)]
        return [*summaries.values(), *shown]

    def tick(self, settings: Settings) -> list[Toast]:
        """Called every poll and when the pause changes: the summary once a pause has ended."""
        self._prune_groups(self._clock(), settings)
        if self.hold_reason(settings) is not None:
            return []
        return self._held_summary()

    def mark_read_up_to(self, last_read_id: str) -> list[str]:
        """The server's read marker moved: forget unread ids up to it.

        Returns the keys of toasts whose notifications are now all read, so the caller can
        withdraw them. The stored marker only moves forward.
        """
        if id_newer(last_read_id, self.state.marker):
            self.state.marker = last_read_id
        self.state.unread = [i for i in self.state.unread if id_newer(i, last_read_id)]
        self.state.hidden = [i for i in self.state.hidden if id_newer(i, last_read_id)]
        read_held = [i for i in self._held if not id_newer(i, last_read_id)]
        for i in read_held:
            del self._held[i]
            self._held_text.pop(i, None)
        if read_held:
            self.state.paused_count = max(0, self.state.paused_count - len(read_held))
        keys = [
            k
            for k, ids in self._toast_ids.items()
            if ids and not any(id_newer(i, last_read_id) for i in ids)
        ]
        for k in keys:
            self.forget_toast(k)
        self._drop_pending_read(lambda i: not id_newer(i, last_read_id))
        return keys

    def mark_ids_read(self, ids: Iterable[str], *, server_still_counts: bool = False) -> list[str]:
        """Some notifications were read or dismissed here: no longer unread. When the server
        still counts them (a conversation marked read leaves the marker where it was), the
        badge leaves them out of the server's count. Returns the keys of toasts whose
        notifications are now all read."""
        gone = set(ids)
        self.state.unread = [i for i in self.state.unread if i not in gone]
        if server_still_counts:
            for i in sorted(gone, key=id_key):
                self._add_hidden(i)
        keys = [k for k, t in self._toast_ids.items() if t and set(t) <= gone]
        for k in keys:
            self.forget_toast(k)
        self._drop_pending_read(lambda i: i in gone)
        return keys

    def mark_post_read(self, status_id: str) -> list[str]:
        """A conversation whose newest post is ``status_id`` was marked read elsewhere in
        Tootbell: its unread direct messages of that post are read (the server still counts
        them). Returns the keys of toasts now fully read."""
        ids = [i for i, post in self._direct_posts.items() if post == status_id]
        return self.mark_ids_read(ids, server_still_counts=True) if ids else []

    def drop_held(self, hidden: Callable[[str], bool]) -> list[str]:
        """The keyword filters changed while toasts are held back (pause, quiet hours): forget
        the held notifications whose post a *hide* filter now catches, as :meth:`accept` would
        have. ``hidden`` gets the text a filter matches. Returns the ids dropped."""
        gone = [i for i, text in self._held_text.items() if text and hidden(text)]
        for i in gone:
            del self._held[i]
            del self._held_text[i]
        if gone:
            self.state.paused_count = max(0, self.state.paused_count - len(gone))
            dropped = set(gone)
            self.state.unread = [i for i in self.state.unread if i not in dropped]
            for i in gone:
                self._add_hidden(i)
        return gone

    # -- toasts on their way to the notifier ----------------------------------------------

    def keep_pending(self, toasts: Iterable[Toast], *, replacing: Iterable[str] = ()) -> bool:
        """Record toasts decided but not yet handed to the notifier in the state, which the
        caller saves together with the cursor and seen ids that mark them decided: a crash
        in between then shows them at the next start instead of losing them. Pending toasts
        with a key in ``replacing``, or the key of a new one, are dropped first (a newer
        version replaces an older one). Returns whether the pending list changed."""
        new = [t.to_json() for t in toasts]
        gone = set(replacing) | {t["key"] for t in new}
        kept = [t for t in self.state.pending if t.get("key") not in gone]
        pending = [*kept, *new][-_PENDING_LIMIT:]
        if pending == self.state.pending:
            return False
        self.state.pending = pending
        return True

    def handed_over(self, toasts: Iterable[Toast]) -> bool:
        """The notifier has these toasts: no longer pending (a newer version of one, decided
        meanwhile, stays). Returns whether the pending list changed."""
        shown = [t.to_json() for t in toasts]
        pending = [t for t in self.state.pending if t not in shown]
        if len(pending) == len(self.state.pending):
            return False
        self.state.pending = pending
        return True

    def restore_pending(self, settings: Settings) -> list[Toast]:
        """At start: the toasts a previous run decided but never handed over, to show now
        (merged as one poll's toasts would be). They stay pending until handed over."""
        toasts = [t for t in (Toast.from_json(d) for d in self.state.pending) if t is not None]
        for t in toasts:
            self._track(t)
        restored = self.finish_batch(toasts, settings)
        self.state.pending = [t.to_json() for t in restored]
        return restored

    def _drop_pending_read(self, read: Callable[[str], bool]) -> None:
        self.state.pending = [
            t
            for t in self.state.pending
            if not (t.get("notification_ids") and all(read(i) for i in t["notification_ids"]))
        ]

    def forget_toast(self, key: str) -> None:
        """A toast is gone for good (read, or dismissed by the person): the next arrival in
        its group starts a new count instead of growing the old one."""
        self._toast_ids.pop(key, None)
        for gid in [g for g, grp in self._groups.items() if grp.key == key]:
            del self._groups[gid]

    # -- deciding ----------------------------------------------------------------------

    def _fresh(self, items: Iterable[Notification]) -> list[Notification]:
        """Items not decided before, oldest first, each id once."""
        seen = set(self.state.seen)
        floor: str | None = None
        if len(self.state.seen) >= SEEN_LIMIT and self.state.cursor is not None:
            # Ids older than everything remembered fell out of `seen`; they are handled if the
            # poller's cursor has passed them too.
            oldest = min(self.state.seen, key=id_key)
            floor = min(oldest, self.state.cursor, key=id_key)
        fresh: dict[str, Notification] = {}
        for n in sorted(items, key=lambda x: id_key(x.id)):
            if n.id in seen or n.id in fresh:
                continue
            if floor is not None and not id_newer(n.id, floor):
                continue
            fresh[n.id] = n
        return list(fresh.values())

    def _add_unread(self, nid: str) -> None:
        if nid not in self.state.unread:
            self.state.unread.append(nid)

    def _add_hidden(self, nid: str) -> None:
        if id_newer(nid, self.state.marker) and nid not in self.state.hidden:
            self.state.hidden.append(nid)
            del self.state.hidden[:-UNREAD_LIMIT]

    def _tidy_unread(self) -> None:
        marker = self.state.marker
        ids = sorted({i for i in self.state.unread if id_newer(i, marker)}, key=id_key)
        self.state.unread = ids[-UNREAD_LIMIT:]
        unread = set(self.state.unread)
        self._direct_posts = {i: p for i, p in self._direct_posts.items() if i in unread}

    def _hold(self, n: Notification, reason: str) -> None:
        self.state.paused_count += 1
        self._held_reasons.add(reason)
        self._held[n.id] = count_key(n)
        self._held_text[n.id] = searchable_text(n)
        while len(self._held) > _HELD_MEMORY:
            oldest = next(iter(self._held))
            del self._held[oldest]
            self._held_text.pop(oldest, None)

    # -- building toasts ---------------------------------------------------------------

    def _toasts_for(
        self,
        candidates: list[tuple[Notification, FilterVerdict]],
        now: float,
        settings: Settings,
    ) -> list[Toast]:
        plans: list[_Plan] = []
        by_group: dict[str, _Plan] = {}
        for n, verdict in candidates:
            gid = group_id(n)
            if gid is None:
                plans.append(_Plan(newest=n.id, single=(n, verdict)))
                continue
            plan = by_group.get(gid)
            if plan is None:
                plan = by_group[gid] = _Plan(newest=n.id, group=gid)
                plans.append(plan)
            plan.members.append((n, verdict))
            plan.newest = n.id  # candidates come oldest first
        plans.sort(key=lambda p: id_key(p.newest))

        toasts: list[Toast] = []
        for plan in plans:
            if plan.single is not None:
                toasts.append(self.single_toast(*plan.single))
            elif plan.group is not None:
                toasts.append(self._group_toast(plan.group, plan.members, now, settings))
        if len(toasts) > settings.away_threshold:
            counts = Counter(count_key(n) for n, _ in candidates)
            return [self._away_toast(counts, {n.id for n, _ in candidates})]
        for t in toasts:
            self._track(t)
        return toasts

    def single_toast(self, n: Notification, verdict: FilterVerdict) -> Toast:
        r = render(
            n,
            self.account_key,
            multi_account=self.multi_account,
            hide_media=verdict.action in ("blur", "warn"),
        )
        body = filtered_body(verdict.titles) if verdict.action == "warn" else r.body
        return Toast(
            key=f"{self.account_key}:n:{n.id}",
            account_key=self.account_key,
            title=r.title,
            body=body,
            icon_url=_avatar(n.account),
            open_url=r.url,
            notification_ids=(n.id,),
            kind=n.type,
            dismissable=True,
            type_counts=((count_key(n), 1),),
        )

    def _group_toast(
        self,
        gid: str,
        members: list[tuple[Notification, FilterVerdict]],
        now: float,
        settings: Settings,
    ) -> Toast:
        group = self._groups.get(gid)
        if group is None or not self._in_window(group, now, settings):
            first, first_verdict = members[0]
            group = _Group(
                key=f"{self.account_key}:g:{gid}",
                type=first.type,
                ids=[],
                actor_ids=set(),
                actors=[],
                anonymous=0,
                latest=first,
                verdict=first_verdict,
                shown_at=now,
            )
        for n, verdict in members:
            group.add(n, verdict)
        group.shown_at = now
        self._groups.pop(gid, None)
        self._groups[gid] = group  # most recently shown last
        while len(self._groups) > _GROUP_LIMIT:
            del self._groups[next(iter(self._groups))]

        n, verdict = group.latest, group.verdict
        hide_media = verdict.action in ("blur", "warn")
        if len(group.ids) == 1:
            r = render(n, self.account_key, multi_account=self.multi_account, hide_media=hide_media)
        else:
            r = render_group(
                group.type,
                group.actors,
                group.senders,
                n.status,
                self.account_key,
                multi_account=self.multi_account,
                hide_media=hide_media,
            )
        body = filtered_body(verdict.titles) if verdict.action == "warn" else r.body
        return Toast(
            key=group.key,
            account_key=self.account_key,
            title=r.title,
            body=body,
            icon_url=_avatar(n.account),
            open_url=r.url,
            notification_ids=tuple(group.ids),
            kind=group.type,
            dismissable=True,
            type_counts=((group.type, len(members)),),
        )

    def _away_toast(self, counts: Mapping[str, int], ids: Iterable[str]) -> Toast:
        total = sum(c for c in counts.values() if c > 0)
        r = render_away(total, counts, self.account_key, multi_account=self.multi_account)
        toast = Toast(
            key=f"{self.account_key}:away",
            account_key=self.account_key,
            title=r.title,
            body=r.body,
            icon_url=None,
            open_url=None,
            notification_ids=tuple(sorted(set(ids), key=id_key)),
            kind="away",
            dismissable=False,
            type_counts=_sorted_counts(counts),
        )
        self._track(toast)
        return toast

    def _held_summary(self) -> list[Toast]:
        total = self.state.paused_count
        counts = Counter(self._held.values())
        reason = "quiet" if self._held_reasons == {"quiet"} else "paused"
        ids = tuple(sorted(self._held, key=id_key))
        self.state.paused_count = 0
        self._held.clear()
        self._held_text.clear()
        self._held_reasons.clear()
        if total <= 0:
            return []
        r = render_held(total, counts, reason, self.account_key, multi_account=self.multi_account)
        toast = Toast(
            key=f"{self.account_key}:summary",
            account_key=self.account_key,
            title=r.title,
            body=r.body,
            icon_url=None,
            open_url=None,
            notification_ids=ids,
            kind="summary",
            dismissable=False,
            type_counts=_sorted_counts(counts),
        )
        self._track(toast)
        return [toast]

    # -- memory ------------------------------------------------------------------------

    def _track(self, toast: Toast) -> None:
        self._toast_ids.pop(toast.key, None)
        self._toast_ids[toast.key] = toast.notification_ids
        while len(self._toast_ids) > _TOAST_MEMORY:
            del self._toast_ids[next(iter(self._toast_ids))]

    @staticmethod
    def _in_window(group: _Group, now: float, settings: Settings) -> bool:
        # A clock that went backwards does not keep a group alive forever.
        window = settings.coalesce_window_s
        return window > 0 and 0 <= now - group.shown_at <= window

    def _prune_groups(self, now: float, settings: Settings) -> None:
        expired = [g for g, grp in self._groups.items() if not self._in_window(grp, now, settings)]
        for gid in expired:
            del self._groups[gid]


def _avatar(account: Account | None) -> str | None:
    if account is None:
        return None
    return safe_url(account.avatar_static) or safe_url(account.avatar)


def _sorted_counts(counts: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((k, v) for k, v in counts.items() if v > 0))
