"""401 on one of two accounts (two instances): that one stops and asks to sign in again."""

from __future__ import annotations

from faults_harness import Launch, add_account, once_each, page_requests

from tootbell.config import Paths
from tootbell.demo import DemoServer
from tootbell.secrets import SecretStore


def test_401_stops_that_account_and_the_other_goes_on(
    server: DemoServer,
    other_server: DemoServer,
    home: Paths,
    secrets: SecretStore,
    launch: Launch,
) -> None:
    a = add_account(server, secrets, home)
    b = add_account(other_server, secrets, home)
    run = launch()
    run.wait_health(a.key, "ok")
    run.wait_health(b.key, "ok")
    a1 = [server.add_notification("mention") for _ in range(2)]
    b1 = [other_server.add_notification("mention") for _ in range(2)]
    run.app.check_now()
    expected = once_each(a, a1) + once_each(b, b1)
    run.wait_toasted(expected)

    # a's token is revoked (signed out elsewhere): its server answers 401 from now on.
    server.revoke_all_tokens()
    for _ in range(2):
        server.add_notification("mention")
    b2 = [other_server.add_notification("mention") for _ in range(2)]
    run.app.check_now()
    status = run.wait_health(a.key, "auth_failed")
    assert "sign in again" in status.text.lower()
    assert "sign in again" in run.app.model().tooltip().lower()
    assert run.app.model().state.name == "ERROR"
    expected += once_each(b, b2)
    run.wait_toasted(expected)

    # a has stopped: Check now sends it nothing; b goes on.
    asked = len(page_requests(server))
    b3 = [other_server.add_notification("mention") for _ in range(2)]
    run.settle(a.key)
    run.settle(b.key)
    expected += once_each(b, b3)
    run.wait_toasted(expected)
    assert len(page_requests(server)) == asked
    assert run.wait_health(a.key, "auth_failed").text == status.text
    assert run.wait_health(b.key, "ok").text == "Up to date"
    assert run.toasted() == expected  # a2 never, everything else once
