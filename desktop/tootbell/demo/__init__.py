"""A simulated Mastodon instance on loopback, for ``tootbell --demo`` and for the tests.

Real HTTP with Mastodon's JSON shapes and semantics; see docs/INTERNALS.md.
"""

from __future__ import annotations

from tootbell.demo.faults import FAULT_KINDS, Fault, FaultScript, RequestLog
from tootbell.demo.push import PushDelivery
from tootbell.demo.server import DemoServer
from tootbell.demo.world import VAPID_PUBLIC_KEY, Pose
from tootbell.mastodon.oauth import OOB_URI, SCOPES

__all__ = [
    "FAULT_KINDS",
    "OOB_URI",
    "SCOPES",
    "VAPID_PUBLIC_KEY",
    "DemoServer",
    "Fault",
    "FaultScript",
    "Pose",
    "PushDelivery",
    "RequestLog",
]
