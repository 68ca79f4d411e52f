"""The server side of a Web Push subscription: ``/api/v1/push/subscription`` (POST, GET, PUT,
DELETE), the alert set Tootbell asks for, and whether the server can push RFC 8291 messages.

Bodies are JSON (GoToSocial ignores form-encoded alerts), ``policy`` sits inside ``data`` (a
top-level one is ignored) and every PUT carries the whole alert set (the server resets what is
left out).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tootbell.config import Settings
from tootbell.mastodon.client import BadResponse, MastodonClient, NotFound
from tootbell.mastodon.entities import Capabilities
from tootbell.mastodon.webpush import PushKeys

log = logging.getLogger(__name__)

PATH = "/api/v1/push/subscription"

# Every notification type Mastodon accepts in data[alerts] (Notification::TYPES, 4.5), in the
# order of its documentation; servers ignore the keys they do not know.
ALERT_TYPES: tuple[str, ...] = (
    "mention",
    "status",
    "reblog",
    "follow",
    "follow_request",
    "favourite",
    "poll",
    "update",
    "quote",
    "quoted_update",
    "admin.sign_up",
    "admin.report",
    "severed_relationships",
    "moderation_warning",
    "annual_report",
)
POLICIES: tuple[str, ...] = ("all", "followed", "follower", "none")

# api_versions.mastodon of 4.4.0, the release that added subscription[standard].
STANDARD_API_VERSION = 6


@dataclass(frozen=True)
class PushSubscription:
    """The server's record of this token's subscription (``WebPushSubscription``)."""

    id: str
    endpoint: str
    standard: bool  # False on servers that predate the flag (they push aesgcm)
    alerts: dict[str, bool]
    policy: str
    server_key: str  # the server's VAPID public key; "" when the server sent none


def alerts_from_settings(settings: Settings) -> dict[str, bool]:
    """The full alert set, each type following the person's switch for it."""
    return {t: settings.type_enabled(t) for t in ALERT_TYPES}


def subscribe(
    client: MastodonClient,
    endpoint: str,
    keys: PushKeys,
    *,
    alerts: Mapping[str, bool],
    policy: str = "all",
    standard: bool,
) -> PushSubscription:
    """Create this token's subscription (the server drops any earlier one)."""
    body = {
        "subscription": {
            "endpoint": endpoint,
            "keys": {"p256dh": keys.public_b64, "auth": keys.auth_b64},
            "standard": bool(standard),
        },
        "data": _data(alerts, policy),
    }
    return _subscription(client, _send_json(client, "POST", body))


def get_subscription(client: MastodonClient) -> PushSubscription | None:
    """This token's subscription, or None when it has none (404)."""
    try:
        data = client.request_json("GET", PATH)
    except NotFound:
        return None
    return _subscription(client, data)


def update_subscription(
    client: MastodonClient, *, alerts: Mapping[str, bool], policy: str = "all"
) -> PushSubscription:
    """Replace the alerts and policy. Types missing from ``alerts`` are sent as false."""
    return _subscription(client, _send_json(client, "PUT", {"data": _data(alerts, policy)}))


def unsubscribe(client: MastodonClient) -> None:
    """Delete this token's subscription; having none (404) is fine."""
    try:
        client.request_json("DELETE", PATH)
    except NotFound:
        pass
    except BadResponse as e:
        # The server said 2xx and then sent no JSON: the subscription is gone all the same.
        if e.status is None or not 200 <= e.status < 300:
            raise


def supports_standard(caps: Capabilities) -> bool:
    """Whether the server honours ``subscription[standard]`` (RFC 8291 ``aes128gcm`` pushes):
    Mastodon 4.4+ and GoToSocial (which always pushes ``aes128gcm``)."""
    if caps.software == "gotosocial":
        return True
    if caps.software != "mastodon":
        return False
    return caps.api_mastodon >= STANDARD_API_VERSION or _version(caps.version) >= (4, 4)


# --------------------------------------------------------------------------- helpers


def _data(alerts: Mapping[str, bool], policy: str) -> dict[str, Any]:
    if policy not in POLICIES:
        raise ValueError(f"unknown push policy {policy!r}")
    full = {t: bool(alerts.get(t, False)) for t in ALERT_TYPES}
    # Types Tootbell does not list (a server's own extras) go through as the caller set them.
    full.update({t: bool(v) for t, v in alerts.items() if t not in full})
    return {"alerts": full, "policy": policy}


def _version(version: str) -> tuple[int, int]:
    head = version.strip().split("+")[0].split("-")[0].split(" ")[0]
    parts = head.split(".")
    try:
        return (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0)
    except (ValueError, IndexError):
        return (0, 0)


def _subscription(client: MastodonClient, data: Any) -> PushSubscription:
    bad = BadResponse(f"{client.host} sent a push subscription Tootbell could not understand")
    if not isinstance(data, dict):
        raise bad
    raw_id = data.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (int, str)) or raw_id == "":
        raise bad
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str):
        raise bad
    raw_alerts = data.get("alerts")
    alerts = (
        {k: v for k, v in raw_alerts.items() if isinstance(k, str) and isinstance(v, bool)}
        if isinstance(raw_alerts, dict)
        else {}
    )
    policy = data.get("policy")
    server_key = data.get("server_key")
    return PushSubscription(
        id=str(raw_id),
        endpoint=endpoint,
        standard=data.get("standard") is True,
        alerts=alerts,
        policy=policy if isinstance(policy, str) and policy else "all",
        server_key=server_key if isinstance(server_key, str) else "",
    )


def _send_json(client: MastodonClient, method: str, body: Mapping[str, Any]) -> Any:
    """One call with a JSON body: GoToSocial ignores form-encoded alerts."""
    return client.request_json(method, PATH, json_body=body)
