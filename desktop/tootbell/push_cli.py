"""``tootbell push enable|disable|status|test``: Web Push from the command line.

A running Tootbell is told to reload (enable, disable) or asked to run the route test through
its own listener (test); without one, ``test`` runs a temporary listener itself.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime
from typing import TextIO

from tootbell import APP_NAME
from tootbell.config import AccountConfig, Paths, StateStore, load_config, save_config
from tootbell.delivery.push import RouteTestResult

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _err(text: str) -> None:
    print(f"{APP_NAME}: {text}", file=sys.stderr)


def _account(paths: Paths, acct: str) -> AccountConfig | None:
    acc = load_config(paths).account(acct.lstrip("@"))
    if acc is None:
        _err(f"no account {acct.lstrip('@')}. See: tootbell account list")
    return acc


def _check_listen(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen takes HOST:PORT, for example 127.0.0.1:8765 (got {text!r})")
    return text


def _tell_running_app(paths: Paths) -> bool:
    from tootbell.app import ask_running_instance

    return ask_running_instance(paths, "reload") is not None


def cmd_enable(paths: Paths, acct: str, public_url: str, listen: str | None) -> int:
    from tootbell.cli import _secrets_or_explain
    from tootbell.delivery.push import (
        PushSetupError,
        check_public_url,
        ensure_subscription,
        load_or_create_keys,
    )
    from tootbell.mastodon.client import ApiError, MastodonClient
    from tootbell.secrets import SecretStoreError

    acc = _account(paths, acct)
    if acc is None:
        return EXIT_FAIL
    try:
        url = check_public_url(public_url)
        if listen:
            _check_listen(listen)
    except PushSetupError as e:
        _err(e.message)
        return EXIT_USAGE
    except ValueError as e:
        _err(str(e))
        return EXIT_USAGE
    store = _secrets_or_explain()
    if store is None:
        return EXIT_FAIL
    config = load_config(paths)
    if listen:
        config = replace(config, settings=replace(config.settings, push_listen=listen))
    acc = replace(acc, delivery="push", push_public_url=url)
    states = StateStore(paths)
    state = states.load(acc.key)
    try:
        token = store.get_token(acc.key)
        if not token:
            _err(f"no access token for {acc.key} in the keyring: sign in again")
            return EXIT_FAIL
        keys = load_or_create_keys(acc.key, state, store)
        with MastodonClient(acc.base_url, token) as client:
            caps = client.capabilities()
            sub = ensure_subscription(client, acc, state, keys, config.settings, caps)
    except (PushSetupError, ApiError, SecretStoreError) as e:
        _err(f"push was not switched on: {e.message}")
        states.save(acc.key, state)
        return EXIT_FAIL
    states.save(acc.key, state)
    save_config(paths, config.with_account(acc))
    print(f"Web Push is on for {acc.key}.")
    scheme = "RFC 8291" if sub.standard else "legacy"
    print(f"  {caps.domain or acc.base_url} pushes to {url}/push/… ({scheme} encryption)")
    print(f"  Your relay must forward that URL to the listener at {config.settings.push_listen}.")
    if _tell_running_app(paths):
        print("  The running Tootbell picked up the change.")
    print(f"  Check the route with: tootbell push test {acc.key}")
    return EXIT_OK


def cmd_disable(paths: Paths, acct: str) -> int:
    from tootbell.cli import _secrets_or_explain
    from tootbell.delivery.push import disable_push
    from tootbell.mastodon.client import ApiError, MastodonClient
    from tootbell.secrets import SecretStoreError

    acc = _account(paths, acct)
    if acc is None:
        return EXIT_FAIL
    store = _secrets_or_explain()
    if store is None:
        return EXIT_FAIL
    states = StateStore(paths)
    state = states.load(acc.key)
    try:
        token = store.get_token(acc.key)
        with MastodonClient(acc.base_url, token) as client:
            disable_push(client if token else None, acc.key, state, store)
    except (ApiError, SecretStoreError) as e:
        _err(f"push was not switched off: {e.message}")
        return EXIT_FAIL
    states.save(acc.key, state)
    config = load_config(paths)
    save_config(paths, config.with_account(replace(acc, delivery="poll")))
    print(
        f"Web Push is off for {acc.key}; Tootbell checks every {config.settings.poll_interval_s} s."
    )
    _tell_running_app(paths)
    return EXIT_OK


def cmd_status(paths: Paths, out: TextIO = sys.stdout) -> int:
    from tootbell.app import ask_running_instance
    from tootbell.cli import _secrets_or_explain
    from tootbell.mastodon.client import ApiError, MastodonClient
    from tootbell.mastodon.push_api import get_subscription

    config = load_config(paths)
    running = ask_running_instance(paths, "ping") is not None
    print(
        f"Listener: {config.settings.push_listen} "
        f"({'Tootbell is running' if running else 'Tootbell is not running'})",
        file=out,
    )
    store = None
    for acc in config.accounts:
        if acc.delivery != "push":
            print(f"{acc.key}\tpolling every {config.settings.poll_interval_s} s", file=out)
            continue
        state = StateStore(paths).load(acc.key)
        last = (
            datetime.fromtimestamp(state.last_push_at).strftime("%Y-%m-%d %H:%M")
            if state.last_push_at
            else "never"
        )
        line = f"{acc.key}\tpush via {acc.push_public_url}\tlast push {last}"
        store = store or _secrets_or_explain()
        token = store.get_token(acc.key) if store else None
        if token:
            try:
                with MastodonClient(acc.base_url, token) as client:
                    sub = get_subscription(client)
                if sub is None:
                    line += "\tno subscription on the server (Tootbell re-creates it)"
                else:
                    on = sum(1 for v in sub.alerts.values() if v)
                    line += f"\tsubscribed: {on} alert types, policy {sub.policy}"
            except ApiError as e:
                line += f"\tserver not asked: {e.message}"
        print(line, file=out)
    return EXIT_OK


def route_test(paths: Paths, acc: AccountConfig) -> RouteTestResult:
    """The route test through the running app's listener, or a temporary one of our own."""
    from tootbell.app import ask_running_instance

    answer = ask_running_instance(paths, f"push-test {acc.key}", answer_ms=30_000)
    if answer:
        try:
            d = json.loads(answer)
            return RouteTestResult(bool(d.get("ok")), str(d.get("message", "")))
        except ValueError:
            return RouteTestResult(
                False, "The running Tootbell gave an answer that makes no sense."
            )
    if answer is not None:
        return RouteTestResult(False, "The running Tootbell did not answer within 30 s.")
    return _route_test_own_listener(paths, acc)


def _route_test_own_listener(paths: Paths, acc: AccountConfig) -> RouteTestResult:
    from tootbell.cli import _secrets_or_explain
    from tootbell.delivery.listener import ListenerError, PushListener
    from tootbell.delivery.push import (
        PushSetupError,
        is_route_test,
        load_or_create_keys,
        make_route_test,
        send_route_test,
    )
    from tootbell.mastodon.webpush import PushPayload
    from tootbell.secrets import SecretStoreError

    store = _secrets_or_explain()
    if store is None:
        return RouteTestResult(False, "No secure keyring: the push keys cannot be read.")
    config = load_config(paths)
    states = StateStore(paths)
    state = states.load(acc.key)
    try:
        keys = load_or_create_keys(acc.key, state, store)
        states.save(acc.key, state)
        test = make_route_test(acc, keys)
    except (PushSetupError, SecretStoreError) as e:
        return RouteTestResult(False, e.message)
    got = threading.Event()
    when: list[float] = []

    def on_push(_key: str, payload: PushPayload) -> None:
        if is_route_test(payload) and payload.notification_id == test.notification_id:
            when.append(time.monotonic())
            got.set()

    host, _, port = config.settings.push_listen.rpartition(":")
    listener = PushListener(host.strip("[]"), int(port), on_push=on_push)
    try:
        listener.start()
    except ListenerError as e:
        return RouteTestResult(False, e.message)
    try:
        listener.set_routes([test.route])
        return send_route_test(test, lambda t: when[0] if got.wait(t) and when else None)
    finally:
        listener.stop()


def cmd_test(paths: Paths, acct: str) -> int:
    acc = _account(paths, acct)
    if acc is None:
        return EXIT_FAIL
    if acc.delivery != "push" or not acc.push_public_url:
        _err(
            f"push is off for {acc.key}. Turn it on with: tootbell push enable {acc.key} "
            "--public-url https://…"
        )
        return EXIT_FAIL
    result = route_test(paths, acc)
    print(result.message)
    return EXIT_OK if result.ok else EXIT_FAIL
