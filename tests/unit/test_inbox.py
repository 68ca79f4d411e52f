"""The inbox decides what the person sees: exactly once, filters, switches, pause and quiet
hours, coalescing, the away summary and unread counting. Time is driven by hand."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

import pytest

from tootbell.config import SEEN_LIMIT, AccountState, QuietHours, Settings
from tootbell.inbox import (
    COALESCING_TYPES,
    UNREAD_LIMIT,
    Inbox,
    Toast,
    filter_verdict,
    group_id,
    quiet_hours_active,
)
from tootbell.mastodon.entities import Notification

AK = "demo@example.social"
T0 = 1_800_000_000.0
BASE = Settings()


class Clock:
    """Epoch seconds and local wall time, moved by hand."""

    def __init__(self) -> None:
        self.now = T0
        self.local = datetime(2026, 3, 2, 12, 0)

    def __call__(self) -> float:
        return self.now

    def local_time(self) -> datetime:
        return self.local

    def advance(self, seconds: float) -> None:
        self.now += seconds


def account(user: str) -> dict[str, Any]:
    return {
        "id": f"acc-{user}",
        "username": user,
        "acct": user,
        "display_name": user.capitalize(),
        "url": f"https://example.social/@{user}",
        "avatar": f"https://example.social/av/{user}.gif",
        "avatar_static": f"https://example.social/av/{user}.png",
    }


def filt(
    action: str, title: str = "Spoilers", context: tuple[str, ...] = ("notifications",)
) -> dict[str, Any]:
    return {
        "filter": {"id": title, "title": title, "context": list(context), "filter_action": action},
        "keyword_matches": ["x"],
    }


def n(
    nid: int | str,
    ntype: str = "mention",
    *,
    user: str = "ana",
    status_id: str | None = "s1",
    text: str = "hello",
    visibility: str = "public",
    media: int = 0,
    filters: list[dict[str, Any]] | None = None,
    policy: bool = False,
    group_key: str | None = None,
) -> Notification:
    data: dict[str, Any] = {
        "id": str(nid),
        "type": ntype,
        "created_at": "2026-03-02T12:00:00Z",
        "account": account(user) if user else None,
    }
    if status_id is not None:
        data["status"] = {
            "id": status_id,
            "url": f"https://example.social/@demo/{status_id}",
            "uri": f"https://example.social/users/demo/statuses/{status_id}",
            "content": f"<p>{text}</p>",
            "spoiler_text": "",
            "visibility": visibility,
            "account": account("demo"),
            "media_attachments": [{"id": str(i)} for i in range(media)],
            "filtered": filters or [],
        }
    if group_key is not None:
        data["group_key"] = group_key
    if policy:
        data["filtered"] = True
    return Notification.from_json(data)


def make(
    state: AccountState | None = None, clock: Clock | None = None, **kw: Any
) -> tuple[Inbox, AccountState, Clock]:
    state = state if state is not None else AccountState()
    clock = clock or Clock()
    return Inbox(AK, state, clock=clock, local_time=clock.local_time, **kw), state, clock


def ids(toasts: list[Toast]) -> list[str]:
    return [i for t in toasts for i in t.notification_ids]


# --------------------------------------------------------------------------- single toasts


def test_a_mention_becomes_one_toast() -> None:
    inbox, state, _ = make()
    [t] = inbox.accept([n(7, text="hi there")], BASE)
    assert t.key == f"{AK}:n:7"
    assert t.account_key == AK
    assert (t.title, t.body) == ("Ana mentioned you", "hi there")
    assert t.icon_url == "https://example.social/av/ana.png"
    assert t.open_url == "https://example.social/@demo/s1"
    assert t.notification_ids == ("7",)
    assert (t.kind, t.dismissable) == ("mention", True)
    assert t.type_counts == (("mention", 1),)
    assert state.seen == ["7"]


def test_no_account_means_no_icon() -> None:
    inbox, _, _ = make()
    [t] = inbox.accept([n(1, "poll", user="")], BASE)
    assert t.icon_url is None
    assert t.title == "A poll you voted in or created has ended"


def test_multi_account_titles_name_the_account() -> None:
    inbox, _, _ = make(multi_account=True)
    [t] = inbox.accept([n(1)], BASE)
    assert t.title == f"Ana mentioned you · {AK}"


# --------------------------------------------------------------------------- exactly once


def test_the_same_batch_twice_is_shown_once() -> None:
    inbox, _, _ = make()
    assert ids(inbox.accept([n(1), n(2)], BASE)) == ["1", "2"]
    assert inbox.accept([n(1), n(2)], BASE) == []


def test_overlapping_batches_from_different_deliveries() -> None:
    inbox, _, _ = make()
    assert ids(inbox.accept([n(1), n(2), n(3)], BASE)) == ["1", "2", "3"]
    assert ids(inbox.accept([n(3)], BASE)) == []  # the push of one already polled
    assert ids(inbox.accept([n(2), n(3), n(4), n(5)], BASE)) == ["4", "5"]


def test_duplicates_within_one_batch() -> None:
    inbox, _, _ = make()
    assert ids(inbox.accept([n(1), n(1), n(1)], BASE)) == ["1"]


def test_out_of_order_input_is_processed_oldest_first() -> None:
    inbox, state, _ = make()
    toasts = inbox.accept([n(10), n(9), n(100), n(11)], BASE)
    assert ids(toasts) == ["9", "10", "11", "100"]  # ordered by (length, text), not text
    assert state.seen == ["9", "10", "11", "100"]


def test_restart_over_the_same_state_shows_nothing_twice() -> None:
    inbox, state, _ = make()
    inbox.accept([n(1), n(2)], BASE)
    # A new process: the state went through its JSON file.
    restored = AccountState.from_json(json.loads(json.dumps(asdict(state))))
    again, _, _ = make(restored)
    assert ids(again.accept([n(1), n(2), n(3)], BASE)) == ["3"]


def test_every_decided_id_is_remembered_even_when_not_shown() -> None:
    inbox, state, _ = make()
    off = replace(BASE, types={**BASE.types, "favourite": False})
    items = [
        n(1, filters=[filt("hide")]),
        n(2, policy=True),
        n(3, "favourite"),
        n(4),
    ]
    assert ids(inbox.accept(items, off)) == ["4"]
    assert state.seen == ["1", "2", "3", "4"]
    assert inbox.accept(items, BASE) == []  # switching favourites back on shows nothing old


def test_ids_that_fell_out_of_seen_are_handled_when_below_the_cursor() -> None:
    state = AccountState(seen=[str(i) for i in range(10_000, 10_000 + SEEN_LIMIT)])
    state.cursor = str(10_000 + SEEN_LIMIT - 1)
    inbox, _, _ = make(state)
    # Older than anything remembered and below the cursor: handled long ago.
    assert inbox.accept([n(9_999)], BASE) == []
    # Newer than the cursor: new.
    assert ids(inbox.accept([n(10_000 + SEEN_LIMIT)], BASE)) == [str(10_000 + SEEN_LIMIT)]


def test_old_ids_are_new_when_seen_is_not_full_or_there_is_no_cursor() -> None:
    state = AccountState(seen=[str(i) for i in range(10_000, 10_000 + SEEN_LIMIT)])
    inbox, _, _ = make(state)  # no cursor
    assert ids(inbox.accept([n(9_999)], BASE)) == ["9999"]
    state2 = AccountState(seen=["500", "600"], cursor="600")
    inbox2, _, _ = make(state2)  # seen not full: the cursor alone decides nothing
    assert ids(inbox2.accept([n(400)], BASE)) == ["400"]


# --------------------------------------------------------------------------- filters


def test_hide_filter_in_notifications_context_drops_silently() -> None:
    inbox, state, _ = make()
    assert inbox.accept([n(1, filters=[filt("hide")])], BASE) == []
    assert inbox.unread_count == 0
    assert state.seen == ["1"]


def test_the_badge_leaves_out_what_the_server_counts_but_tootbell_hides() -> None:
    inbox, state, _ = make()
    inbox.accept([n(1, filters=[filt("hide")]), n(2), n(3, visibility="direct")], BASE)
    assert inbox.unread_count == 2
    assert state.hidden == ["1"]
    assert inbox.badge(None) == 2  # no server count: Tootbell's own
    assert inbox.badge(3) == 2  # Mastodon counts the hidden one too
    # A conversation marked read here: the server's marker, and count, stay where they were.
    inbox.mark_ids_read(["3"], server_still_counts=True)
    assert inbox.badge(3) == 1 and inbox.badge(None) == 1
    inbox.mark_ids_read(["2"])  # dismissed: the server stops counting it itself
    assert inbox.badge(1) == 0
    # Read elsewhere past all of them: nothing is left to discount.
    inbox.mark_read_up_to("3")
    assert state.hidden == []
    assert inbox.badge(0) == 0 and inbox.badge(4) == 4
    assert json.loads(json.dumps(asdict(state)))["hidden"] == []


def test_a_conversation_read_here_reads_its_direct_messages() -> None:
    inbox, _state, _ = make()
    toasts = inbox.accept(
        [
            n(1, visibility="direct", status_id="p1"),
            n(2, visibility="direct", status_id="p2"),
            n(3, status_id="p1"),  # a public mention of the same post: not a direct message
        ],
        BASE,
    )
    assert inbox.unread_count == 3
    key_of = {t.notification_ids[0]: t.key for t in toasts}
    assert inbox.mark_post_read("p1") == [key_of["1"]]
    assert inbox.unread_count == 2
    assert inbox.badge(3) == 2  # the server still counts it: the marker did not move
    assert inbox.mark_post_read("p1") == []  # once
    assert inbox.mark_post_read("unknown") == []


def test_hidden_ids_survive_a_restart() -> None:
    inbox, state, _ = make()
    inbox.accept([n(5, filters=[filt("hide")])], BASE)
    again = AccountState.from_json(json.loads(json.dumps(asdict(state))))
    assert again.hidden == ["5"]


def test_filters_for_other_contexts_are_ignored() -> None:
    inbox, _, _ = make()
    [t] = inbox.accept([n(1, text="secret", filters=[filt("hide", context=("home",))])], BASE)
    assert t.body == "secret"


def test_warn_filter_keeps_the_title_and_hides_the_content() -> None:
    inbox, _, _ = make()
    [t] = inbox.accept([n(1, text="the ending", media=2, filters=[filt("warn")])], BASE)
    assert t.title == "Ana mentioned you"
    assert t.body == "Filtered: Spoilers"
    assert inbox.unread_count == 1


def test_unknown_filter_action_is_treated_as_warn() -> None:
    inbox, _, _ = make()
    [t] = inbox.accept([n(1, text="x", filters=[filt("shimmer", "Future")])], BASE)
    assert t.body == "Filtered: Future"


def test_blur_filter_shows_text_but_no_media() -> None:
    inbox, _, _ = make()
    [t] = inbox.accept([n(1, text="look", media=2, filters=[filt("blur")])], BASE)
    assert t.body == "look"
    [u] = inbox.accept([n(2, text="look", media=2)], BASE)
    assert u.body == "look\n📎 2 attachments"


def test_strongest_filter_wins() -> None:
    both = [filt("warn", "A"), filt("hide", "B")]
    assert filter_verdict(n(1, filters=both)).action == "hide"
    assert filter_verdict(n(1, filters=[filt("blur", "A"), filt("warn", "B")])).action == "warn"
    assert filter_verdict(n(1, filters=[filt("blur")])).action == "blur"
    assert filter_verdict(n(1)).action == "show"
    assert filter_verdict(n(1, "follow", status_id=None)).action == "show"


def test_policy_filtered_is_never_toasted_nor_unread() -> None:
    inbox, _, _ = make()
    assert inbox.accept([n(1, policy=True)], BASE) == []
    assert inbox.unread_count == 0


# --------------------------------------------------------------------------- switches


def test_switched_off_type_is_not_toasted_but_is_unread() -> None:
    inbox, _, _ = make()
    off = replace(BASE, types={**BASE.types, "favourite": False})
    assert inbox.accept([n(1, "favourite")], off) == []
    assert inbox.unread_count == 1
    assert ids(inbox.accept([n(2)], off)) == ["2"]


def test_unknown_types_follow_the_other_switch() -> None:
    inbox, _, _ = make()
    off = replace(BASE, types={**BASE.types, "other": False})
    assert inbox.accept([n(1, "pleroma:emoji_reaction")], off) == []
    assert ids(inbox.accept([n(2, "pleroma:emoji_reaction")], BASE)) == ["2"]


# --------------------------------------------------------------------------- pause, quiet hours


def test_pause_until_a_time_holds_toasts_then_summarises() -> None:
    inbox, state, clock = make()
    paused = replace(BASE, pause_until=T0 + 3600)
    items = [n(1), n(2, visibility="direct"), n(3, "favourite", user="bo"), n(4, "favourite")]
    assert inbox.accept(items, paused) == []
    assert state.paused_count == 4
    assert inbox.unread_count == 4
    assert inbox.hold_reason(paused) == "paused"
    assert inbox.tick(paused) == []  # still paused
    clock.advance(3601)
    assert inbox.hold_reason(paused) is None
    [s] = inbox.tick(paused)
    assert s.key == f"{AK}:summary"
    assert (s.kind, s.dismissable, s.open_url, s.icon_url) == ("summary", False, None, None)
    assert s.title == "4 notifications while paused"
    assert s.body == "1 direct message, 1 mention, 2 favourites"
    assert s.notification_ids == ("1", "2", "3", "4")
    assert state.paused_count == 0
    assert inbox.tick(paused) == []  # once


def test_pause_forever_until_resumed() -> None:
    inbox, state, clock = make()
    forever = replace(BASE, pause_until=float("inf"))
    assert inbox.accept([n(1)], forever) == []
    clock.advance(365 * 86400)
    assert inbox.tick(forever) == []
    assert state.paused_count == 1
    [s] = inbox.tick(BASE)  # resumed
    assert s.title == "1 notification while paused"
    assert s.body == "1 mention"


def test_a_new_hide_filter_drops_held_notifications_from_the_summary() -> None:
    inbox, state, clock = make()
    paused = replace(BASE, pause_until=T0 + 3600)
    items = [n(1, text="the finale was wild"), n(2, text="lunch?"), n(3, "follow", status_id=None)]
    assert inbox.accept(items, paused) == []
    assert inbox.holding and state.paused_count == 3 and inbox.unread_count == 3
    seen: list[str] = []

    def hidden(text: str) -> bool:
        seen.append(text)
        return "finale" in text

    assert inbox.drop_held(hidden) == ["1"]
    assert seen == ["the finale was wild", "lunch?"]  # a follow has no post to match
    assert state.paused_count == 2 and inbox.unread_count == 2
    assert inbox.drop_held(hidden) == []  # once
    clock.advance(3601)
    [s] = inbox.tick(paused)
    assert s.title == "2 notifications while paused"
    assert s.body == "1 mention, 1 new follower"
    assert s.notification_ids == ("2", "3")
    assert not inbox.holding


def test_nothing_held_means_no_summary() -> None:
    inbox, _, clock = make()
    paused = replace(BASE, pause_until=T0 + 10)
    clock.advance(20)
    assert inbox.tick(paused) == []


def test_summary_comes_before_new_toasts_when_accept_ends_the_pause() -> None:
    inbox, _, clock = make()
    paused = replace(BASE, pause_until=T0 + 60)
    inbox.accept([n(1)], paused)
    clock.advance(61)
    toasts = inbox.accept([n(2)], paused)
    assert [t.kind for t in toasts] == ["summary", "mention"]
    assert ids(toasts) == ["1", "2"]


def test_switched_off_and_hidden_do_not_count_while_paused() -> None:
    inbox, state, _ = make()
    paused = replace(BASE, pause_until=float("inf"), types={**BASE.types, "favourite": False})
    inbox.accept([n(1, "favourite"), n(2, filters=[filt("hide")]), n(3, policy=True)], paused)
    assert state.paused_count == 0


def test_held_count_survives_a_restart() -> None:
    inbox, state, _ = make()
    inbox.accept([n(1), n(2)], replace(BASE, pause_until=float("inf")))
    again, _, _ = make(AccountState.from_json(json.loads(json.dumps(asdict(state)))))
    [s] = again.tick(BASE)
    assert s.title == "2 notifications while paused"


def test_quiet_hours_over_midnight() -> None:
    quiet = replace(BASE, quiet_hours=QuietHours(enabled=True, start="22:00", end="07:00"))
    inbox, state, clock = make()
    clock.local = datetime(2026, 3, 2, 23, 30)
    assert inbox.accept([n(1)], quiet) == []
    clock.local = datetime(2026, 3, 3, 6, 59)
    assert inbox.accept([n(2), n(3, "follow", status_id=None)], quiet) == []
    assert inbox.tick(quiet) == []
    assert state.paused_count == 3
    clock.local = datetime(2026, 3, 3, 7, 0)
    [s] = inbox.tick(quiet)
    assert s.title == "3 notifications during quiet hours"
    assert s.body == "2 mentions, 1 new follower"
    [t] = inbox.accept([n(4)], quiet)
    assert t.kind == "mention"


@pytest.mark.parametrize(
    ("start", "end", "hhmm", "active"),
    [
        ("22:00", "07:00", (22, 0), True),
        ("22:00", "07:00", (21, 59), False),
        ("22:00", "07:00", (0, 0), True),
        ("22:00", "07:00", (6, 59), True),
        ("22:00", "07:00", (7, 0), False),
        ("22:00", "07:00", (12, 0), False),
        ("13:00", "14:30", (13, 0), True),
        ("13:00", "14:30", (14, 29), True),
        ("13:00", "14:30", (14, 30), False),
        ("13:00", "14:30", (12, 59), False),
        ("22:00", "24:00", (23, 59), True),
        ("08:00", "08:00", (8, 0), False),  # empty range
        ("25:00", "07:00", (3, 0), False),  # unparseable: never active
        ("nonsense", "07:00", (3, 0), False),
    ],
)
def test_quiet_hours_ranges(start: str, end: str, hhmm: tuple[int, int], active: bool) -> None:
    qh = QuietHours(enabled=True, start=start, end=end)
    assert quiet_hours_active(qh, datetime(2026, 3, 2, *hhmm)) is active


def test_quiet_hours_disabled() -> None:
    qh = QuietHours(enabled=False, start="00:00", end="23:59")
    assert not quiet_hours_active(qh, datetime(2026, 3, 2, 12, 0))


def test_pause_wins_over_quiet_hours_in_the_wording() -> None:
    both = replace(
        BASE,
        pause_until=float("inf"),
        quiet_hours=QuietHours(enabled=True, start="00:00", end="23:59"),
    )
    inbox, _, clock = make()
    inbox.accept([n(1)], both)
    clock.local = datetime(2026, 3, 2, 23, 59, 30)
    [s] = inbox.tick(BASE)
    assert s.title == "1 notification while paused"


def test_reading_elsewhere_during_quiet_hours_cancels_the_summary() -> None:
    inbox, state, _ = make()
    paused = replace(BASE, pause_until=float("inf"))
    inbox.accept([n(1), n(2), n(3)], paused)
    inbox.mark_read_up_to("2")
    assert state.paused_count == 1
    [s] = inbox.tick(BASE)
    assert s.title == "1 notification while paused"
    assert s.body == "1 mention"
    assert s.notification_ids == ("3",)
    inbox.accept([n(4)], paused)
    inbox.mark_read_up_to("4")
    assert inbox.tick(BASE) == []


# --------------------------------------------------------------------------- coalescing


def test_thirty_favourites_become_one_toast_updated_in_place() -> None:
    inbox, _, clock = make()
    keys = set()
    last: Toast | None = None
    for i in range(30):
        clock.advance(1)
        [last] = inbox.accept([n(100 + i, "favourite", user=f"user{i:02d}", text="my post")], BASE)
        keys.add(last.key)
    assert keys == {f"{AK}:g:favourite:s1"}
    assert last is not None
    assert last.title == "User29 and 29 others favourited your post"
    assert last.body == "my post"
    assert last.icon_url == "https://example.social/av/user29.png"  # most recent actor
    assert last.open_url == "https://example.social/@demo/s1"
    assert len(last.notification_ids) == 30
    assert (last.kind, last.dismissable) == ("favourite", True)
    assert last.type_counts == (("favourite", 1),)  # what this version added


def test_first_of_a_group_reads_like_a_single_toast() -> None:
    inbox, _, _ = make()
    [t] = inbox.accept([n(1, "favourite", text="my post")], BASE)
    assert t.key == f"{AK}:g:favourite:s1"
    assert (t.title, t.body) == ("Ana favourited your post", "my post")


def test_a_burst_in_one_batch_gives_one_toast() -> None:
    inbox, _, _ = make()
    items = [n(i, "favourite", user=f"u{i}") for i in range(1, 31)]
    [t] = inbox.accept(items, BASE)
    assert t.title == "U30 and 29 others favourited your post"
    assert t.type_counts == (("favourite", 30),)


def test_two_boosters_are_both_named_most_recent_first() -> None:
    inbox, _, clock = make()
    inbox.accept([n(1, "reblog", user="ben")], BASE)
    clock.advance(5)
    [t] = inbox.accept([n(2, "reblog", user="ana")], BASE)
    assert t.title == "Ana and Ben boosted your post"
    assert t.notification_ids == ("1", "2")


def test_follows_coalesce_without_a_status() -> None:
    inbox, _, _ = make()
    items = [n(i, "follow", user=u, status_id=None) for i, u in enumerate("abcd", 1)]
    [t] = inbox.accept(items, BASE)
    assert t.key == f"{AK}:g:follow:"
    assert t.title == "D and 3 others followed you"
    assert t.body.startswith("@d@example.social, @c@example.social, @b@example.social")
    assert t.body.endswith("and 1 more")


def test_sign_ups_coalesce() -> None:
    inbox, _, _ = make()
    items = [n(i, "admin.sign_up", user=u, status_id=None) for i, u in enumerate("ab", 1)]
    [t] = inbox.accept(items, BASE)
    assert t.title == "New sign-ups: B and A"


def test_the_same_person_twice_counts_once() -> None:
    inbox, _, _ = make()
    [t] = inbox.accept([n(1, "favourite", user="ana"), n(2, "favourite", user="ana")], BASE)
    assert t.title == "Ana favourited your post"
    assert t.notification_ids == ("1", "2")


def test_different_posts_are_different_groups() -> None:
    inbox, _, _ = make()
    items = [n(1, "favourite", status_id="s1"), n(2, "favourite", status_id="s2")]
    toasts = inbox.accept(items, BASE)
    assert [t.key for t in toasts] == [f"{AK}:g:favourite:s1", f"{AK}:g:favourite:s2"]


def test_server_group_key_is_used_unless_ungrouped() -> None:
    assert group_id(n(1, "favourite", group_key="favourite-s1-123")) == "favourite-s1-123"
    assert group_id(n(1, "favourite", group_key="ungrouped-1")) == "favourite:s1"
    assert group_id(n(1, "mention", group_key="mention-x")) is None
    assert {"favourite", "reblog", "follow", "admin.sign_up"} == COALESCING_TYPES
    inbox, _, _ = make()
    [t] = inbox.accept([n(1, "reblog", group_key="reblog-s1-42")], BASE)
    assert t.key == f"{AK}:g:reblog-s1-42"


def test_window_expiry_starts_a_new_toast() -> None:
    inbox, _, clock = make()
    inbox.accept([n(1, "favourite", user="ana"), n(2, "favourite", user="ben")], BASE)
    clock.advance(BASE.coalesce_window_s - 1)
    [t] = inbox.accept([n(3, "favourite", user="cy")], BASE)
    assert t.title == "Cy and 2 others favourited your post"  # the window slides
    clock.advance(BASE.coalesce_window_s + 1)
    [u] = inbox.accept([n(4, "favourite", user="dee")], BASE)
    assert u.title == "Dee favourited your post"
    assert u.notification_ids == ("4",)


def test_mentions_are_never_coalesced() -> None:
    inbox, _, _ = make()
    toasts = inbox.accept([n(i, "mention", user=f"u{i}", status_id="s1") for i in (1, 2, 3)], BASE)
    assert [t.key for t in toasts] == [f"{AK}:n:1", f"{AK}:n:2", f"{AK}:n:3"]


def test_dismissed_group_starts_over() -> None:
    inbox, _, clock = make()
    [t] = inbox.accept([n(1, "favourite", user="ana")], BASE)
    inbox.forget_toast(t.key)
    clock.advance(1)
    [u] = inbox.accept([n(2, "favourite", user="ben")], BASE)
    assert u.title == "Ben favourited your post"


def test_a_warn_filter_applies_to_the_group_body() -> None:
    inbox, _, _ = make()
    items = [n(i, "favourite", user=f"u{i}", filters=[filt("warn")]) for i in (1, 2)]
    [t] = inbox.accept(items, BASE)
    assert t.title == "U2 and U1 favourited your post"
    assert t.body == "Filtered: Spoilers"


# --------------------------------------------------------------------------- away


def test_more_toasts_than_the_threshold_become_one_away_toast() -> None:
    inbox, _, _ = make()
    items = [n(i, user=f"u{i}") for i in range(1, 10)]  # 9 mentions > 8
    [t] = inbox.accept(items, BASE)
    assert t.key == f"{AK}:away"
    assert t.kind == "away"
    assert t.title == "9 notifications while you were away"
    assert t.body == "9 mentions"
    assert (t.open_url, t.icon_url, t.dismissable) == (None, None, False)
    assert t.notification_ids == tuple(str(i) for i in range(1, 10))


def test_exactly_the_threshold_is_still_shown() -> None:
    inbox, _, _ = make()
    assert len(inbox.accept([n(i) for i in range(1, 9)], BASE)) == 8


def test_away_counts_toasts_after_coalescing_but_reports_notifications() -> None:
    inbox, _, _ = make()
    favs = [n(i, "favourite", user=f"u{i}") for i in range(1, 21)]
    mentions = [n(100 + i, user=f"m{i}") for i in range(5)]
    assert len(inbox.accept(favs + mentions, BASE)) == 6  # 1 group + 5 mentions
    more_mentions = [n(200 + i, user=f"x{i}") for i in range(8)]
    more_favs = [n(300 + i, "favourite", user=f"f{i}", status_id="s9") for i in range(20)]
    [t] = inbox.accept(more_mentions + more_favs, BASE)  # 8 + 1 group = 9 toasts
    assert t.title == "28 notifications while you were away"
    assert t.body == "8 mentions, 20 favourites"


def test_finish_batch_applies_the_away_rule_across_pages() -> None:
    inbox, _, _ = make()
    page1 = inbox.accept([n(i, user=f"a{i}") for i in range(1, 6)], BASE)
    page2 = inbox.accept([n(i, user=f"b{i}") for i in range(6, 11)], BASE)
    [t] = inbox.finish_batch(page1 + page2, BASE)
    assert t.kind == "away"
    assert t.title == "10 notifications while you were away"
    assert t.notification_ids == tuple(str(i) for i in range(1, 11))


def test_finish_batch_sums_several_away_toasts() -> None:
    inbox, _, _ = make()
    pages = [inbox.accept([n(p * 100 + i, user=f"u{i}") for i in range(80)], BASE) for p in (1, 2)]
    pages.append(inbox.accept([n(301, "favourite")], BASE))
    assert [len(p) for p in pages] == [1, 1, 1]
    [t] = inbox.finish_batch([t for p in pages for t in p], BASE)
    assert t.title == "161 notifications while you were away"
    assert t.body == "160 mentions, 1 favourite"


def test_finish_batch_keeps_small_batches_and_the_last_version_of_a_group() -> None:
    inbox, _, clock = make(clock=None)
    paused = replace(BASE, pause_until=T0 + 1)
    inbox.accept([n(1)], paused)
    clock.advance(2)
    page1 = inbox.accept([n(2, "favourite", user="a"), n(3)], BASE)
    page2 = inbox.accept([n(4, "favourite", user="b")], BASE)
    out = inbox.finish_batch(page1 + page2, BASE)
    assert [t.kind for t in out] == ["summary", "mention", "favourite"]
    assert out[2].title == "B and A favourited your post"
    assert inbox.finish_batch([], BASE) == []


def test_finish_batch_leaves_one_away_toast_alone() -> None:
    inbox, _, _ = make()
    toasts = inbox.accept([n(i, user=f"u{i}") for i in range(1, 12)], BASE)
    assert inbox.finish_batch(toasts, BASE) == toasts


# --------------------------------------------------------------------------- unread, read


def test_unread_counts_what_is_newer_than_the_marker() -> None:
    inbox, state, _ = make(AccountState(marker="5"))
    toasts = inbox.accept([n(4), n(5), n(6), n(7, filters=[filt("hide")])], BASE)
    assert ids(toasts) == ["6"]  # 4 and 5 were read elsewhere already
    assert state.unread == ["6"]
    assert inbox.unread_count == 1


def test_mark_read_up_to_drops_read_ids_and_moves_the_marker() -> None:
    inbox, state, _ = make()
    inbox.accept([n(1), n(2), n(3)], BASE)
    assert inbox.unread_count == 3
    assert inbox.mark_read_up_to("2") == [f"{AK}:n:1", f"{AK}:n:2"]
    assert state.marker == "2"
    assert state.unread == ["3"]
    assert inbox.mark_read_up_to("1") == []  # the marker never moves back
    assert state.marker == "2"
    assert inbox.mark_read_up_to("2") == []  # keys are reported once


def test_a_group_is_read_only_when_all_its_notifications_are() -> None:
    inbox, _, _ = make()
    [g] = inbox.accept([n(1, "favourite", user="a"), n(3, "favourite", user="b")], BASE)
    inbox.accept([n(2)], BASE)
    assert inbox.mark_read_up_to("2") == [f"{AK}:n:2"]
    assert inbox.mark_read_up_to("3") == [g.key]


def test_a_read_group_starts_over() -> None:
    inbox, _, clock = make()
    inbox.accept([n(1, "favourite", user="a")], BASE)
    inbox.mark_read_up_to("1")
    clock.advance(1)
    [t] = inbox.accept([n(2, "favourite", user="b")], BASE)
    assert t.title == "B favourited your post"


def test_away_and_summary_toasts_are_withdrawn_when_read() -> None:
    inbox, _, _ = make()
    [t] = inbox.accept([n(i, user=f"u{i}") for i in range(1, 12)], BASE)
    assert inbox.mark_read_up_to("11") == [t.key]


def test_unread_is_capped_keeping_the_newest() -> None:
    inbox, state, _ = make()
    quiet = replace(BASE, pause_until=float("inf"))
    inbox.accept([n(i) for i in range(1, UNREAD_LIMIT + 51)], quiet)
    assert inbox.unread_count == UNREAD_LIMIT
    assert state.unread[0] == "51"
    assert state.unread[-1] == str(UNREAD_LIMIT + 50)


def test_unread_survives_a_restart() -> None:
    inbox, state, _ = make()
    inbox.accept([n(1), n(2)], BASE)
    again, _, _ = make(AccountState.from_json(json.loads(json.dumps(asdict(state)))))
    assert again.unread_count == 2


# --------------------------------------------------------------------------- pending toasts


def test_pending_toasts_survive_a_restart_until_handed_over() -> None:
    """Decided toasts stay in the state (saved with the seen ids) until the notifier has
    them; a restart before that shows them, once they are handed over never again."""
    inbox, state, _ = make()
    toasts = inbox.accept([n(1), n(2, "favourite", status_id="s9"), n(3)], BASE)
    assert inbox.keep_pending(toasts)
    assert not inbox.keep_pending(toasts)  # nothing new
    assert inbox.handed_over(toasts[:1])
    saved = json.loads(json.dumps(asdict(state)))  # through the state file and back

    again, restored_state, _ = make(AccountState.from_json(saved))
    restored = again.restore_pending(BASE)
    assert restored == toasts[1:]
    assert again.handed_over(restored)
    assert restored_state.pending == []
    assert make(AccountState.from_json(asdict(restored_state)))[0].restore_pending(BASE) == []


def test_a_newer_version_of_a_pending_toast_replaces_it_and_stays_until_shown() -> None:
    clock = Clock()
    inbox, state, _ = make(clock=clock)
    first = inbox.accept([n(1, "favourite", user="ana")], BASE)
    inbox.keep_pending(first)
    second = inbox.accept([n(2, "favourite", user="ben")], BASE)
    assert second[0].key == first[0].key and second[0] != first[0]
    inbox.keep_pending(second)
    assert [p["notification_ids"] for p in state.pending] == [["1", "2"]]
    assert not inbox.handed_over(first)  # the old version was shown: the new one is owed
    assert inbox.handed_over(second)
    assert state.pending == []


def test_pending_toasts_read_elsewhere_are_not_shown_after_a_restart() -> None:
    inbox, state, _ = make()
    inbox.keep_pending(inbox.accept([n(5), n(6), n(9)], BASE))
    inbox.mark_read_up_to("6")
    assert [p["notification_ids"] for p in state.pending] == [["9"]]
    inbox.mark_ids_read(["9"])
    assert state.pending == []


def test_unreadable_pending_entries_are_skipped() -> None:
    [t] = make()[0].accept([n(4)], BASE)
    state = AccountState.from_json({"pending": [t.to_json(), {"key": 3}, "junk", {}]})
    assert make(state)[0].restore_pending(BASE) == [t]
