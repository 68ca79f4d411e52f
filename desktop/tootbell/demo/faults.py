"""Scripted failures for the demo instance, and the log of the requests it received.

Tests queue faults by path prefix; each queued fault is consumed by the next ``count``
matching requests. ``down = True`` drops every request until it is set back to False.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

logger = logging.getLogger(__name__)

FAULT_KINDS: frozenset[str] = frozenset(
    {"500", "503", "429", "401", "409", "garbage", "cut", "slow", "drop"}
)


@dataclass(frozen=True)
class Fault:
    """One scripted failure, as handed to the request that consumes it."""

    path_prefix: str
    kind: str
    reset_in: float = 1.0  # "429": X-RateLimit-Reset is now + reset_in seconds
    delay: float = 1.0  # "slow": seconds to wait before answering normally
    method: str | None = None  # only requests with this method match (None: any)

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return path.startswith(self.path_prefix)


@dataclass
class _Pending:
    fault: Fault
    remaining: int
    skip: int = 0  # matching requests still to let through first


class FaultScript:
    """A queue of faults the demo server applies to the requests it receives. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self.down = False
        """While True every request is dropped (socket closed without an answer)."""

    def queue(
        self,
        path_prefix: str,
        kind: str,
        count: int = 1,
        *,
        reset_in: float = 1.0,
        delay: float = 1.0,
        method: str | None = None,
        after: int = 0,
    ) -> None:
        """Make the next ``count`` requests whose path starts with ``path_prefix`` fail
        (after letting ``after`` matching requests through untouched).

        Kinds: "500", "503", "429" (``reset_in``), "401", "409", "garbage" (200 with a body
        that is not JSON), "cut" (Content-Length larger than what is sent, then the
        connection closes), "slow" (``delay`` seconds, then a normal answer), "drop" (close
        the socket without answering).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if count < 1 or after < 0:
            raise ValueError("count must be at least 1 and after not negative")
        fault = Fault(path_prefix, kind, reset_in=reset_in, delay=delay, method=method)
        with self._lock:
            self._queue.append(_Pending(fault, count, after))
        logger.debug("fault queued: %s ×%d after %d", fault, count, after)

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request, if one is queued (consuming one of its count)."""
        with self._lock:
            for entry in self._queue:
                if not entry.fault.matches(method, path):
                    continue
                if entry.skip > 0:
                    entry.skip -= 1
                else:
                    entry.remaining -= 1
                    if entry.remaining <= 0:
                        self._queue.remove(entry)
                    return entry.fault
        return None

    def pending(self) -> list[tuple[Fault, int]]:
        """The faults not yet consumed, with how many requests each still applies to."""
        with self._lock:
            return [(entry.fault, entry.remaining) for entry in self._queue]

    def clear(self) -> None:
        """Forget every queued fault and bring the server back up."""
        with self._lock:
            self._queue.clear()
        self.down = False


@dataclass(frozen=True)
class RequestLog:
    """One request the demo server received (faulted or not)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    time: float  # time.time() when the request arrived
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name."""
        low = name.lower()
        for key, value in self.headers.items():
            if key.lower() == low:
                return value
        return None

    def param(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None
