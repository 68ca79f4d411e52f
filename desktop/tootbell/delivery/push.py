"""Web Push for one account: keys in the keyring, the subscription on the server, the route the
listener serves, and what to show when a push arrives but the notification cannot be fetched.

Qt-free; driven by that account's worker thread.
"""

from __future__ import annotations

import json
import logging
import re
import secrets as pysecrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from tootbell.config import AccountConfig, AccountState, Settings
from tootbell.delivery.listener import PushRoute
from tootbell.inbox import FilterVerdict, Toast
from tootbell.mastodon.client import ApiError, MastodonClient, NotFound
from tootbell.mastodon.entities import Capabilities, parse_time
from tootbell.mastodon.push_api import (
    PushSubscription,
    alerts_from_settings,
    get_subscription,
    subscribe,
    supports_standard,
    unsubscribe,
    update_subscription,
)
from tootbell.mastodon.webpush import PushKeys, PushPayload, endpoint_origin, generate_keys
from tootbell.render import clean_line, filtered_body, shorten
from tootbell.secrets import SecretStore

log = logging.getLogger(__name__)

PUSH_PATH = "/push/"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


class PushSetupError(Exception):
    """Push could not be set up; ``message`` says why in words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_public_url(url: str) -> str:
    """The public base URL a relay or tunnel forwards to the listener, tidied.

    Mastodon only delivers to public addresses; GoToSocial only to https. Plain http is
    accepted for loopback test servers only.
    """
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise PushSetupError(
            "The public URL must look like https://push.example.org/tootbell: the address of a "
            "relay or tunnel that forwards to Tootbell's listener."
        )
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise PushSetupError(
            "The public URL must use https://: servers refuse to push to plain http addresses."
        )
    if parts.query or parts.fragment:
        raise PushSetupError("The public URL must not have a query (?…) or fragment (#…).")
    return text


def endpoint_url(public_url: str, path_token: str) -> str:
    return f"{public_url.rstrip('/')}{PUSH_PATH}{path_token}"


def load_or_create_keys(account_key: str, state: AccountState, store: SecretStore) -> PushKeys:
    """This account's push keys: private key and auth secret from the keyring, public key in
    state. Created (and stored) on first use, with a fresh unguessable listener path."""
    raw = store.get_push_key(account_key)
    if raw:
        try:
            d = json.loads(raw)
            keys = PushKeys(str(d["private"]), str(d["public"]), str(d["auth"]))
        except (ValueError, KeyError, TypeError):
            log.warning("%s: the stored push keys are unreadable; making new ones", account_key)
        else:
            if not state.push_public_key:
                state.push_public_key = keys.public_b64
            if not state.push_path_token:
                state.push_path_token = pysecrets.token_urlsafe(32)
            return keys
    keys = generate_keys()
    store.set_push_key(
        account_key,
        json.dumps({"private": keys.private_b64, "public": keys.public_b64, "auth": keys.auth_b64}),
    )
    state.push_public_key = keys.public_b64
    state.push_path_token = pysecrets.token_urlsafe(32)
    state.push_endpoint = ""  # new keys: the server must get a new subscription
    return keys


def _alerts_match(current: PushSubscription, wanted: dict[str, bool]) -> bool:
    return all(bool(current.alerts.get(k, False)) == v for k, v in wanted.items())


def ensure_subscription(
    client: MastodonClient,
    acc: AccountConfig,
    state: AccountState,
    keys: PushKeys,
    settings: Settings,
    caps: Capabilities,
) -> PushSubscription:
    """Make the server's subscription match what Tootbell wants, with as few calls as possible.

    Verified with GET; created when missing or pointing elsewhere (POST replaces the token's
    old subscription: create first, never delete-then-create); otherwise updated with PUT
    carrying the full alert set when the switches or the policy changed.
    """
    public = check_public_url(acc.push_public_url)
    endpoint = endpoint_url(public, state.push_path_token)
    alerts = alerts_from_settings(settings)
    policy = settings.push_policy
    current = get_subscription(client)
    standard = supports_standard(caps)
    if current is None or current.endpoint != endpoint or state.push_endpoint != endpoint:
        sub = subscribe(client, endpoint, keys, alerts=alerts, policy=policy, standard=standard)
        log.info("%s: push subscription created", acc.key)
    elif not _alerts_match(current, alerts) or current.policy != policy:
        sub = update_subscription(client, alerts=alerts, policy=policy)
        log.info("%s: push subscription updated", acc.key)
    else:
        sub = current
    state.push_endpoint = endpoint
    state.push_server_key = sub.server_key or caps.vapid_key
    if not state.push_server_key:
        raise PushSetupError(
            f"{client.host} did not say which key signs its pushes, so Tootbell cannot check them."
        )
    return sub


def disable_push(
    client: MastodonClient | None, account_key: str, state: AccountState, store: SecretStore
) -> None:
    """Delete the server's subscription (when reachable) and forget the keys."""
    if client is not None:
        unsubscribe(client)  # a missing subscription (404) is fine there
    store.delete_push_key(account_key)
    state.push_path_token = ""
    state.push_public_key = ""
    state.push_server_key = ""
    state.push_endpoint = ""


def route_for(
    acc: AccountConfig, state: AccountState, keys: PushKeys, access_token: str
) -> PushRoute:
    return PushRoute(
        account_key=acc.key,
        path_token=state.push_path_token,
        keys=keys,
        server_key=state.push_server_key,
        audience=endpoint_origin(check_public_url(acc.push_public_url)),
        access_token=access_token,
    )


# --------------------------------------------------------------------------- keyword filters


@dataclass(frozen=True)
class _Keyword:
    pattern: re.Pattern[str]


@dataclass
class KeywordFilters:
    """The account's keyword filters for the notifications context, for pushes that arrive
    when the notification itself cannot be fetched (the fetch carries the server's verdict)."""

    filters: list[tuple[str, str, list[_Keyword]]] = field(default_factory=list)
    loaded: bool = False

    def refresh(self, client: MastodonClient) -> None:
        try:
            data = client.request_json("GET", "/api/v2/filters")
        except NotFound:
            self._refresh_v1(client)
            return
        found: list[tuple[str, str, list[_Keyword]]] = []
        now = datetime.now(UTC)
        for f in data if isinstance(data, list) else []:
            if not isinstance(f, dict) or "notifications" not in (f.get("context") or []):
                continue
            expires = parse_time(f.get("expires_at"))
            if expires is not None and expires <= now:
                continue
            kws = [
                _Keyword(_keyword_re(str(k.get("keyword", "")), bool(k.get("whole_word", True))))
                for k in f.get("keywords") or []
                if isinstance(k, dict) and k.get("keyword")
            ]
            found.append((str(f.get("title", "")), str(f.get("filter_action", "warn")), kws))
        self.filters = found
        self.loaded = True

    def _refresh_v1(self, client: MastodonClient) -> None:
        try:
            data = client.request_json("GET", "/api/v1/filters")
        except ApiError:
            self.filters, self.loaded = [], True
            return
        found: list[tuple[str, str, list[_Keyword]]] = []
        for f in data if isinstance(data, list) else []:
            if not isinstance(f, dict) or "notifications" not in (f.get("context") or []):
                continue
            phrase = str(f.get("phrase", ""))
            if not phrase:
                continue
            action = "hide" if f.get("irreversible") else "warn"
            kw = _Keyword(_keyword_re(phrase, bool(f.get("whole_word", True))))
            found.append((phrase, action, [kw]))
        self.filters = found
        self.loaded = True

    def verdict(self, text: str) -> FilterVerdict:
        hide: list[str] = []
        warn: list[str] = []
        for title, action, keywords in self.filters:
            if any(k.pattern.search(text) for k in keywords):
                (hide if action == "hide" else warn).append(title)
        if hide:
            return FilterVerdict("hide", tuple(hide))
        if warn:
            return FilterVerdict("warn", tuple(warn))
        return FilterVerdict("show")


def _keyword_re(keyword: str, whole_word: bool) -> re.Pattern[str]:
    body = re.escape(keyword)
    if whole_word:
        body = rf"(?<![\w]){body}(?![\w])"
    return re.compile(body, re.IGNORECASE)


def fallback_toast(
    account_key: str, payload: PushPayload, filters: KeywordFilters, settings: Settings
) -> Toast | None:
    """A toast from the push payload alone, shown only when the keyword filters let it pass.

    Used when fetching the notification failed. Without loaded filters nothing is shown: the
    catch-up poll will bring the notification with the server's own verdict.
    """
    if not filters.loaded or not settings.type_enabled(payload.notification_type or "other"):
        return None
    text = f"{payload.title}\n{payload.body}"
    verdict = filters.verdict(text)
    if verdict.action == "hide":
        return None
    body = filtered_body(verdict.titles) if verdict.action == "warn" else payload.body
    return Toast(
        key=f"{account_key}:n:{payload.notification_id}",
        account_key=account_key,
        title=shorten(clean_line(payload.title) or "New notification", 80),
        body=shorten(body, 300),
        icon_url=payload.icon or None,
        open_url=None,
        notification_ids=(payload.notification_id,),
        kind=payload.notification_type or "other",
        dismissable=True,
        type_counts=((payload.notification_type or "other", 1),),
    )


# --------------------------------------------------------------------------- route test

TEST_TYPE = "tootbell.test"


@dataclass(frozen=True)
class RouteTestResult:
    ok: bool
    message: str  # one or two sentences for the person
    seconds: float | None = None  # from sending to the listener's receipt


@dataclass(frozen=True)
class RouteTest:
    """A test push Tootbell encrypts to its own keys and posts to the public URL.

    It travels the same way the server's pushes do (relay → listener) but on its own path,
    signed by a throw-away VAPID key that only this test route accepts.
    """

    route: PushRoute
    url: str
    nonce: str
    signer_private: str = field(repr=False)

    @property
    def notification_id(self) -> str:
        return f"tootbell-test-{self.nonce}"


def make_route_test(acc: AccountConfig, keys: PushKeys) -> RouteTest:
    from tootbell.mastodon.webpush import VapidSigner

    public = check_public_url(acc.push_public_url)
    signer = VapidSigner.generate()
    nonce = pysecrets.token_urlsafe(16)
    path = pysecrets.token_urlsafe(32)
    route = PushRoute(
        account_key=acc.key,
        path_token=path,
        keys=keys,
        server_key=signer.public_b64,
        audience=endpoint_origin(public),
        access_token=nonce,
    )
    return RouteTest(route, endpoint_url(public, path), nonce, signer.private_b64)


def is_route_test(payload: PushPayload) -> bool:
    return payload.notification_type == TEST_TYPE


def send_route_test(
    test: RouteTest,
    received: Callable[[float], float | None],
    *,
    timeout: float = 10.0,
) -> RouteTestResult:
    """Post the test push to the public URL and wait for the listener to report it.

    ``received(timeout)`` blocks until the listener has handed over the test push and returns
    the monotonic time it arrived, or None.
    """
    import time

    import requests

    from tootbell.mastodon.webpush import VapidSigner, encrypt

    payload = json.dumps(
        {
            "notification_id": test.notification_id,
            "notification_type": TEST_TYPE,
            "access_token": test.nonce,
            "title": "Tootbell route test",
            "body": "",
            "icon": "",
            "preferred_locale": "en",
        }
    ).encode()
    body, headers = encrypt(
        payload, public_b64=test.route.keys.public_b64, auth_b64=test.route.keys.auth_b64
    )
    signer = VapidSigner.from_private(test.signer_private)
    headers.update(signer.headers(test.route.audience, encoding="aes128gcm"))
    headers.update({"TTL": "60", "Content-Type": "application/octet-stream", "Urgency": "normal"})
    host = urlsplit(test.url).netloc
    started = time.monotonic()
    try:
        with requests.Session() as session:
            session.trust_env = False
            resp = session.post(test.url, data=body, headers=headers, timeout=timeout)
            status = resp.status_code
            resp.close()
    except requests.Timeout:
        return RouteTestResult(False, f"{host} did not answer within {timeout:.0f} s.")
    except requests.RequestException as e:
        return RouteTestResult(False, f"Could not reach {host}: {_reason(e)}.")
    arrived = received(min(timeout, 5.0)) if status == 201 else None
    if status == 201 and arrived is not None:
        took = max(0.0, arrived - started)
        return RouteTestResult(
            True, f"The route works: the listener received the test in {took * 1000:.0f} ms.", took
        )
    return RouteTestResult(False, _status_words(status, host))


def _status_words(status: int, host: str) -> str:
    if status == 201:
        return (
            f"{host} answered, but Tootbell's listener never saw the test: the relay seems to "
            "forward somewhere else."
        )
    if status == 404:
        return (
            f"{host} answered 404: it does not forward …{PUSH_PATH}… to Tootbell's listener, or "
            "the URL has a different path."
        )
    if status in (401, 403, 400):
        return (
            f"The listener refused the test ({status}): the relay changes the request on the "
            "way (headers or body must pass through untouched)."
        )
    if status in (502, 503, 504):
        return (
            f"{host} could not reach Tootbell's listener ({status}): is the tunnel pointed at "
            "the listen address in Settings, and is Tootbell running?"
        )
    return f"{host} answered {status}; the listener would have answered 201."


def _reason(e: Exception) -> str:
    text = str(e).lower()
    if "name or service not known" in text or "nodename" in text or "getaddrinfo" in text:
        return "the name does not resolve"
    if "refused" in text:
        return "the connection was refused"
    if "certificate" in text or "ssl" in text:
        return "its HTTPS certificate is not valid"
    return "the connection failed"
