"""The polling core against the demo instance over real loopback HTTP, faults included."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tootbell.config import AccountState, Paths, Settings, StateStore, StorageError
from tootbell.delivery.poller import AccountPoller, Backoff, Health
from tootbell.demo import DemoServer
from tootbell.inbox import Inbox, Toast
from tootbell.mastodon.client import MastodonClient

KEY = "demo@test"


class Clock:
    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def make_poller(
    server: DemoServer, paths: Paths, *, clock: Clock | None = None, timeout: float = 5.0
) -> tuple[AccountPoller, AccountState]:
    store = StateStore(paths)
    state = store.load(KEY)
    token = server.create_token("demo")
    client = MastodonClient(server.base_url, token, timeout=(timeout, timeout))
    clk = clock or Clock()
    inbox = Inbox(KEY, state, clock=clk)
    poller = AccountPoller(
        KEY,
        client,
        inbox,
        state,
        lambda: store.save(KEY, state),
        clock=clk,
        backoff=Backoff(rng=lambda: 0.0),
    )
    return poller, state


def ids_of(toasts: list[Toast]) -> list[str]:
    return [i for t in toasts for i in t.notification_ids]


SETTINGS = Settings(away_threshold=1000, coalesce_window_s=0)


def test_first_run_starts_at_newest_not_history(server: DemoServer, home: Paths) -> None:
    for _ in range(5):
        server.add_notification("mention")
    poller, _ = make_poller(server, home)
    out = poller.poll(SETTINGS)
    assert out.health is Health.OK
    assert out.toasts == []  # old history is not toasted
    new = server.add_notification("mention", status_text="hello there")
    out = poller.poll(SETTINGS)
    assert ids_of(out.toasts) == [new["id"]]
    poller.client.close()


def test_first_run_starts_from_read_marker(server: DemoServer, home: Paths) -> None:
    made = [server.add_notification("mention") for _ in range(4)]
    server.set_marker(made[1]["id"])
    poller, _ = make_poller(server, home)
    out = poller.poll(SETTINGS)
    assert sorted(ids_of(out.toasts)) == sorted([made[2]["id"], made[3]["id"]])
    poller.client.close()


def test_pages_until_empty_with_min_id(server: DemoServer, home: Paths) -> None:
    poller, state = make_poller(server, home)
    poller.poll(SETTINGS)
    made = [server.add_notification("mention") for _ in range(200)]
    server.clear_requests()
    out = poller.poll(SETTINGS)
    assert sorted(ids_of(out.toasts), key=lambda i: (len(i), i)) == [m["id"] for m in made]
    pages = [r for r in server.requests if r.path == "/api/v1/notifications"]
    assert len(pages) == 4  # 80 + 80 + 40 + the empty page
    assert all("min_id" in r.query for r in pages)
    assert state.cursor == made[-1]["id"]
    poller.client.close()


def test_exactly_once_across_restart(server: DemoServer, home: Paths) -> None:
    poller, _ = make_poller(server, home)
    poller.poll(SETTINGS)
    a = server.add_notification("mention")
    first = poller.poll(SETTINGS)
    poller.client.close()
    b = server.add_notification("follow")
    again, _ = make_poller(server, home)  # a restart: state comes back from disk
    second = again.poll(SETTINGS)
    assert ids_of(first.toasts) == [a["id"]]
    assert ids_of(second.toasts) == [b["id"]]
    again.client.close()


def test_server_errors_back_off_then_recover_losing_nothing(
    server: DemoServer, home: Paths
) -> None:
    poller, _ = make_poller(server, home)
    poller.poll(SETTINGS)
    made = [server.add_notification("mention") for _ in range(3)]
    server.faults.queue("/api/v1/notifications", "500", count=3)
    delays = []
    for _ in range(3):
        out = poller.poll(SETTINGS)
        assert out.health is Health.RETRYING
        assert out.toasts == []
        assert "Retrying" in out.error
        delays.append(out.next_delay_s)
    assert delays == sorted(delays) and delays[0] < delays[-1]  # exponential
    out = poller.poll(SETTINGS)
    assert out.health is Health.OK
    assert sorted(ids_of(out.toasts)) == sorted(m["id"] for m in made)
    assert poller.backoff.failures == 0
    poller.client.close()


def test_backoff_is_capped_at_15_minutes() -> None:
    b = Backoff(rng=lambda: 1.0)
    delays = [b.next_delay() for _ in range(20)]
    assert max(delays) == 900.0
    assert delays[0] < 60


def test_429_waits_until_reset(server: DemoServer, home: Paths) -> None:
    clock = Clock()
    poller, _ = make_poller(server, home, clock=clock)
    poller.poll(SETTINGS)
    server.faults.queue("/api/v1/notifications", "429", reset_in=120)
    out = poller.poll(SETTINGS)
    assert out.health is Health.RATE_LIMITED
    assert 100 <= out.next_delay_s <= 140
    poller.client.close()


def test_401_stops_the_account(server: DemoServer, home: Paths) -> None:
    poller, _ = make_poller(server, home)
    poller.poll(SETTINGS)
    server.faults.queue("/api/v1/notifications", "401")
    out = poller.poll(SETTINGS)
    assert out.health is Health.AUTH_FAILED
    assert "Sign in again" in out.error
    server.clear_requests()
    out = poller.poll(SETTINGS)  # stays stopped: no more requests
    assert out.health is Health.AUTH_FAILED
    assert server.requests == []
    poller.client.close()


@pytest.mark.parametrize("kind", ["garbage", "cut", "drop"])
def test_malformed_or_cut_responses_lose_nothing(
    server: DemoServer, home: Paths, kind: str
) -> None:
    poller, _ = make_poller(server, home)
    poller.poll(SETTINGS)
    made = [server.add_notification("mention") for _ in range(2)]
    server.faults.queue("/api/v1/notifications", kind)
    out = poller.poll(SETTINGS)
    assert out.health is Health.RETRYING
    assert out.toasts == []
    out = poller.poll(SETTINGS)
    assert sorted(ids_of(out.toasts)) == sorted(m["id"] for m in made)
    poller.client.close()


def test_slow_response_beyond_timeout(server: DemoServer, home: Paths) -> None:
    poller, _ = make_poller(server, home, timeout=0.5)
    poller.poll(SETTINGS)
    made = server.add_notification("mention")
    server.faults.queue("/api/v1/notifications", "slow", delay=1.5)
    out = poller.poll(SETTINGS)
    assert out.health is Health.RETRYING
    out = poller.poll(SETTINGS)
    assert ids_of(out.toasts) == [made["id"]]
    poller.client.close()


def test_restart_in_the_middle_of_a_backlog(server: DemoServer, home: Paths) -> None:
    """A failure after the first page: the accepted page is not shown twice, nothing is lost."""
    poller, _ = make_poller(server, home)
    poller.poll(SETTINGS)
    made = [server.add_notification("mention") for _ in range(120)]
    # first page succeeds, the second is a 500 mid-poll
    server.faults.queue("/api/v1/notifications", "500", after=1)
    first = poller.poll(SETTINGS)
    poller.client.close()
    again, _ = make_poller(server, home)
    second = again.poll(SETTINGS)
    shown = ids_of(first.toasts) + ids_of(second.toasts)
    assert sorted(shown, key=lambda i: (len(i), i)) == [m["id"] for m in made]
    again.client.close()


def test_hidden_by_filter_never_toasted(server: DemoServer, home: Paths) -> None:
    poller, _ = make_poller(server, home)
    poller.poll(SETTINGS)
    server.add_notification("mention", filtered_action="hide")
    shown = server.add_notification("mention", filtered_action="warn", filter_title="Spoilers")
    out = poller.poll(SETTINGS)
    assert ids_of(out.toasts) == [shown["id"]]
    assert "Filtered: Spoilers" in out.toasts[0].body
    poller.client.close()


def test_backlog_becomes_one_summary(server: DemoServer, home: Paths) -> None:
    poller, _ = make_poller(server, home)
    poller.poll(SETTINGS)
    for _ in range(300):
        server.add_notification("mention")
    out = poller.poll(replace(SETTINGS, away_threshold=8))
    assert len(out.toasts) == 1
    assert "300" in out.toasts[0].title
    poller.client.close()


def test_every_save_keeps_the_toasts_it_records_as_decided_pending(
    server: DemoServer, home: Paths
) -> None:
    """A crash right after any save of a poll loses nothing: every notification the saved
    cursor has passed has its toast in the saved pending list, until it is handed over."""
    store = StateStore(home)
    state = store.load(KEY)
    client = MastodonClient(server.base_url, server.create_token("demo"))
    saves: list[tuple[str | None, set[str]]] = []

    def save() -> None:
        store.save(KEY, state)
        again = store.load(KEY)
        pending = {i for t in again.pending for i in t["notification_ids"]}
        saves.append((again.cursor, pending))

    poller = AccountPoller(KEY, client, Inbox(KEY, state), state, save)
    poller.poll(SETTINGS)
    made = [str(server.add_notification("mention")["id"]) for _ in range(200)]
    saves.clear()
    out = poller.poll(SETTINGS)
    assert len(saves) == 3  # one save per page: 80, 80, 40
    for cursor, pending in saves:
        assert cursor is not None
        decided = {i for i in made if (len(i), i) <= (len(cursor), cursor)}
        assert decided and decided <= pending
    assert poller.inbox.handed_over(out.toasts)
    assert state.pending == []
    client.close()


def test_a_failed_save_is_tried_again_at_the_next_poll(server: DemoServer, home: Paths) -> None:
    poller, _ = make_poller(server, home)
    poller.poll(SETTINGS)
    made = server.add_notification("mention")
    real_save = poller._save_state

    def full() -> None:
        raise StorageError(home.state_dir / "x.json", OSError(28, "No space left on device"))

    poller._save_state = full
    out = poller.poll(SETTINGS)
    assert ids_of(out.toasts) == [made["id"]]
    assert "the disk is full" in out.storage_error
    poller._save_state = real_save
    out = poller.poll(SETTINGS)  # nothing new arrives, yet the state reaches the disk
    assert out.toasts == [] and out.storage_error == ""
    assert StateStore(home).load(KEY).cursor == made["id"]
    poller.client.close()
