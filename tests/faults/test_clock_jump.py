"""A clock jump as after sleep: the worker notices and checks at once, whatever it waited for.

The worker compares its wall clock with the monotonic one every ``clock_jump_check_ms``
(15 s in the product; 100 ms here, through WorkerTiming) and gets a wall clock that the test
moves forward ten minutes, as a resume from suspend does.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest
from faults_harness import FAST, JumpingClock, Launch, add_account, once_each, page_requests

from tootbell.config import Paths
from tootbell.demo import DemoServer
from tootbell.secrets import SecretStore


@pytest.mark.parametrize("waiting_for", ["the hourly check", "a ten-minute backoff"])
def test_a_clock_jump_checks_at_once(
    waiting_for: str, server: DemoServer, home: Paths, secrets: SecretStore, launch: Launch
) -> None:
    clock = JumpingClock()
    acc = add_account(server, secrets, home)
    timing = replace(FAST, clock_jump_check_ms=100, wall_clock=clock)
    if waiting_for == "a ten-minute backoff":
        timing = replace(timing, backoff_base_s=600.0, backoff_cap_s=600.0)
    run = launch(timing=timing)
    run.wait_health(acc.key, "ok")
    if waiting_for == "a ten-minute backoff":
        server.faults.down = True
        run.app.check_now()
        assert re.search(r"Retrying in ([5-9]|10) min", run.wait_health(acc.key, "retrying").text)
        server.faults.down = False
    made = [server.add_notification("mention") for _ in range(3)]
    asked = len(page_requests(server))
    # Without a jump the check runs and changes nothing.
    reads = clock.reads
    run.qtbot.waitUntil(lambda: clock.reads >= reads + 3, timeout=5000)
    assert len(page_requests(server)) == asked
    assert run.notifier.shown == []

    clock.offset += 600.0  # the machine slept for ten minutes
    jumped = time.time()
    run.wait_toasted(once_each(acc, made), timeout=5000)
    assert page_requests(server, jumped)[0] - jumped < 2.0
    assert run.wait_health(acc.key, "ok").text == "Up to date"
    run.settle(acc.key)
    assert run.toasted() == once_each(acc, made)
