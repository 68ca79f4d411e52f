"""429 with a reset time: not one request before the reset, whoever asks."""

from __future__ import annotations

import time

from faults_harness import PAGES, Launch, add_account, once_each
from PySide6.QtCore import QTimer

from tootbell.config import Paths
from tootbell.demo import DemoServer
from tootbell.secrets import SecretStore

RESET_IN = 3.0


def test_no_request_before_the_reset_not_even_on_check_now(
    server: DemoServer, home: Paths, secrets: SecretStore, launch: Launch
) -> None:
    acc = add_account(server, secrets, home)
    run = launch()
    run.wait_health(acc.key, "ok")
    made = [server.add_notification("mention") for _ in range(3)]
    server.faults.queue(PAGES, "429", reset_in=RESET_IN)
    run.app.check_now()
    status = run.wait_health(acc.key, "rate_limited")
    assert "slow down" in status.text
    limited = [r for r in server.requests_to(PAGES) if r.path == PAGES][-1]
    reset_at = limited.time + RESET_IN  # the server computed its reset a moment later still
    # The person presses Check now every 200 ms until the reset has passed.
    presses: list[float] = []

    def press() -> None:
        presses.append(time.time())
        run.app.check_now()

    presser = QTimer()
    presser.setInterval(200)
    presser.timeout.connect(press)
    presser.start()
    try:
        run.qtbot.waitUntil(lambda: time.time() > reset_at, timeout=int(RESET_IN * 1000) + 2000)
    finally:
        presser.stop()
    assert len(presses) >= 10
    early = [
        (r.method, r.path, f"{reset_at - r.time:.2f} s early")
        for r in server.requests
        if limited.time < r.time < reset_at
    ]
    assert early == []
    run.wait_toasted(once_each(acc, made))  # at the reset, without anyone asking
    status = run.wait_health(acc.key, "ok")
    run.settle(acc.key)
    assert run.toasted() == once_each(acc, made)
