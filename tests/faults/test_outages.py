"""Servers that go away, fail, cut answers short, answer too slowly or cannot be found.

Each case scripts the demo instance, drives the whole app (worker threads, poller, inbox)
and asserts the exact multiset of toasts: every notification once, none twice.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from faults_harness import (
    FAST,
    PAGES,
    Launch,
    add_account,
    once_each,
    page_requests,
)

from tootbell.config import AccountConfig, Paths, load_config, save_config
from tootbell.demo import DemoServer
from tootbell.secrets import SecretStore


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def assert_backoff_grows(retry_gaps: list[float]) -> None:
    """Exponential backoff with jitter: the wait never shrinks (the jitter keeps at least
    half the ceiling, and the ceiling doubles) and ends well above where it began (five
    waits: the ceiling grew sixteenfold, so at least eightfold whatever the jitter)."""
    assert len(retry_gaps) == 5, retry_gaps
    for before, after in itertools.pairwise(retry_gaps):
        assert after >= before - 0.05, retry_gaps  # 50 ms for the loopback round trip
    assert retry_gaps[-1] >= 4 * retry_gaps[0], retry_gaps


@pytest.mark.parametrize("how", ["down", "drop"])
def test_server_down_for_a_while_then_back(
    how: str, server: DemoServer, home: Paths, secrets: SecretStore, launch: Launch
) -> None:
    """``down``: every request is dropped until the server comes back; ``drop``: the next
    five page requests are dropped. Either way: back off, then every notification once."""
    acc = add_account(server, secrets, home)
    run = launch()
    run.wait_health(acc.key, "ok")
    made = [server.add_notification("mention") for _ in range(5)]
    start = server.requests[-1].time
    if how == "down":
        server.faults.down = True
    else:
        server.faults.queue(PAGES, "drop", count=5)
    run.app.check_now()
    status = run.wait_health(acc.key, "retrying")
    assert "connection was closed before the server answered" in status.text
    assert "Retrying in" in status.text
    assert run.notifier.shown == []
    # It retries on its own (nobody presses Check now), further apart each time.
    run.qtbot.waitUntil(lambda: len(page_requests(server, start)) >= 6, timeout=10_000)
    server.faults.down = False
    run.wait_toasted(once_each(acc, made))
    assert run.wait_health(acc.key, "ok").text == "Up to date"
    assert_backoff_grows(gaps(page_requests(server, start))[:5])  # after the five failures
    run.settle(acc.key)
    assert run.toasted() == once_each(acc, made)


def test_5xx_storm_backs_off_more_and_more_then_delivers_all_once(
    server: DemoServer, home: Paths, secrets: SecretStore, launch: Launch
) -> None:
    acc = add_account(server, secrets, home)
    run = launch()
    run.wait_health(acc.key, "ok")
    made = [server.add_notification("mention") for _ in range(4)]
    start = server.requests[-1].time
    server.faults.queue(PAGES, "500", count=3)
    server.faults.queue(PAGES, "503", count=2)
    run.app.check_now()
    status = run.wait_health(acc.key, "retrying")
    assert "has a problem of its own (error 50" in status.text
    run.wait_toasted(once_each(acc, made))
    times = page_requests(server, start)
    assert len(times) == 7  # five failures, then the page with the four and the empty one
    assert_backoff_grows(gaps(times[:6]))
    assert run.wait_health(acc.key, "ok").text == "Up to date"
    run.settle(acc.key)
    assert run.toasted() == once_each(acc, made)


def test_answers_cut_mid_body_or_garbage_are_retried_losing_and_doubling_nothing(
    server: DemoServer, home: Paths, secrets: SecretStore, launch: Launch
) -> None:
    """A backlog of three pages per round; a page in the middle fails, after the first page
    was already decided and saved: the retry goes on from there."""
    acc = add_account(server, secrets, home)
    run = launch()
    run.wait_health(acc.key, "ok")
    expected = once_each(acc, [])
    rounds = [["cut"], ["garbage"], ["cut", "garbage"]]
    for kinds in rounds:
        made = [server.add_notification("mention") for _ in range(200)]  # pages 80, 80, 40
        start = server.requests[-1].time
        for i, kind in enumerate(kinds):
            # The second page fails; with two kinds its first retry fails too.
            server.faults.queue(PAGES, kind, after=1 if i == 0 else 0)
        run.app.check_now()
        expected += once_each(acc, made)
        run.wait_toasted(expected)
        # 80 + 80 + 40 + the empty page, and one more request for each failure
        run.settle(acc.key)
        assert len(page_requests(server, start)) == 4 + len(kinds) + 1
    assert run.toasted() == expected


def test_answers_slower_than_the_client_timeout_are_given_up_and_retried(
    server: DemoServer, home: Paths, secrets: SecretStore, launch: Launch
) -> None:
    """The read timeout is lowered from 20 s to 0.5 s through the app's injection point
    (WorkerTiming.client_timeout); the server answers the first two page requests after
    1.5 s."""
    acc = add_account(server, secrets, home)
    run = launch(timing=replace(FAST, client_timeout=(2.0, 0.5)))
    run.wait_health(acc.key, "ok")
    made = [server.add_notification("mention") for _ in range(3)]
    start = server.requests[-1].time
    server.faults.queue(PAGES, "slow", count=2, delay=1.5)
    run.app.check_now()
    status = run.wait_health(acc.key, "retrying")
    assert "the server took too long to answer" in status.text
    run.wait_toasted(once_each(acc, made))
    times = page_requests(server, start)
    assert len(times) == 4  # two given up, the page with the three, the empty page
    # Tootbell gave up on each slow answer at its timeout, not after the server's 1.5 s.
    assert all(gap < 1.4 for gap in gaps(times[:3])), gaps(times)
    run.settle(acc.key)
    assert run.toasted() == once_each(acc, made)


def test_a_server_name_that_does_not_resolve_is_said_in_words_and_the_app_goes_on(
    server: DemoServer, home: Paths, secrets: SecretStore, launch: Launch
) -> None:
    lost = AccountConfig(
        key="me@tootbell-no-such-host.invalid", base_url="http://tootbell-no-such-host.invalid"
    )
    secrets.set_token(lost.key, "a-token-for-a-server-that-is-not-there")
    save_config(home, load_config(home).with_account(lost))
    good = add_account(server, secrets, home)
    run = launch()
    status = run.wait_health(lost.key, "retrying", timeout=30_000)  # resolvers can be slow
    assert "Could not reach tootbell-no-such-host.invalid: the name could not be found" in (
        status.text
    )
    assert "Retrying in" in status.text
    assert "the name could not be found" in run.app.model().tooltip()
    run.wait_health(good.key, "ok")
    made = [server.add_notification("mention") for _ in range(3)]
    run.app.check_now()
    run.wait_toasted(once_each(good, made))
    # Still trying, still saying why, and nothing toasted for it.
    assert run.wait_health(lost.key, "retrying").text.startswith("Could not reach")
    assert set(run.app.workers) == {lost.key, good.key}
    run.settle(good.key)
    assert run.toasted() == once_each(good, made)
