"""The local Web Push endpoint: :class:`PushListener`, a bounded stdlib HTTP server.

Qt-free. It checks, decrypts and de-duplicates pushes for the configured routes and hands each
valid one to ``on_push`` on one of a fixed number of worker threads.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import io
import logging
import queue
import re
import socket
import socketserver
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any

from tootbell.mastodon.webpush import (
    PushError,
    PushKeys,
    PushPayload,
    decrypt,
    parse_payload,
    verify_vapid,
)

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

log = logging.getLogger(__name__)

PATH_PREFIX = "/push/"
ENCODINGS = frozenset({"aes128gcm", "aesgcm"})
# Request line plus headers. Mastodon sends well under 2 KiB; more is junk, not a push.
MAX_HEADER_BYTES = 8192
REPLAY_WINDOW_S = 600.0
REPLAY_CAPACITY = 1000

_DRAIN_LIMIT = 256 * 1024  # unread bytes swallowed before close, so the reply is not lost to a RST
_LINGER_S = 0.5  # after an early reply, time for the client to finish sending its body
_WRITE_TIMEOUT_S = 1.0  # a reply is a few hundred bytes: it fits in the socket buffer at once
_POLL_INTERVAL_S = 0.1  # how quickly serve_forever notices shutdown()
_BUSY_CLOSE_DELAY_S = 0.5
_BUSY_CLOSE_MAX = 256  # connections answered 503 and not yet closed
_LISTEN_BACKLOG = 128  # a burst waits in the kernel instead of meeting SYN retries
_CONTENT_LENGTH = re.compile(r"[0-9]{1,12}")
_BUSY_REPLY = (
    b"HTTP/1.0 503 Service Unavailable\r\n"
    b"Retry-After: 1\r\n"
    b"Content-Length: 0\r\n"
    b"Connection: close\r\n\r\n"
)
_WSAEADDRINUSE = 10048
_WSAEACCES = 10013


class ListenerError(Exception):
    """The listener cannot run; ``message`` says why in words for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AddressInUseError(ListenerError):
    """Another program (or another listener) already listens on the configured port."""


@dataclass(frozen=True)
class PushRoute:
    """Where one account's pushes arrive and how to check and decrypt them."""

    account_key: str
    path_token: str = field(repr=False)  # 32 random url-safe bytes; knowing it lets one post
    keys: PushKeys = field(repr=False)
    server_key: str  # the instance's VAPID public key, base64url
    audience: str  # origin of the public URL the server posts to
    access_token: str = field(repr=False)  # the payload's access_token must equal it


@dataclass(frozen=True)
class ListenerStats:
    """A snapshot of what the listener has seen since it was created."""

    accepted: int = 0  # pushes handed to on_push
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    last_push_at: dict[str, float] = field(default_factory=dict)  # account_key -> clock()
    queue_full: int = 0  # connections answered 503 because every worker and slot was busy
    replayed: int = 0  # duplicate deliveries answered 201 without calling on_push again
    handoff_failures: int = 0  # on_push raised; the push was still answered 201


class _Headers(Mapping[str, str]):
    """Request headers looked up without regard to case; the first of a repeated name wins."""

    def __init__(self, items: Iterable[tuple[str, Any]]) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in items:
            self._items.setdefault(name.lower(), (name, str(value)))

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)


class _BoundedReader(io.RawIOBase):
    """Reads a socket until a deadline and up to a byte budget.

    The deadline covers the whole connection, so a client trickling one byte at a time is cut
    off like one that sends nothing. Once the deadline has passed, only bytes already waiting
    in the socket are read (a push that sat in the queue is still served).
    """

    def __init__(self, sock: socket.socket, deadline: float, budget: int) -> None:
        super().__init__()
        self._sock = sock
        self.deadline = deadline
        self._remaining = budget
        self.over_budget = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self._remaining <= 0:
            self.over_budget = True
            return 0
        with memoryview(buffer) as view, view.cast("B") as octets:
            wanted = min(len(octets), self._remaining)
            self._sock.settimeout(max(self.deadline - time.monotonic(), 0.0))
            try:
                got = self._sock.recv_into(octets[:wanted])
            except BlockingIOError:
                raise TimeoutError("read deadline passed") from None
        self._remaining -= got
        return got


def _drain(sock: socket.socket) -> None:
    """Swallow bytes that already arrived, without waiting, so close() sends FIN and not RST."""
    try:
        sock.setblocking(False)
        left = _DRAIN_LIMIT
        while left > 0:
            chunk = sock.recv(min(left, 65536))
            if not chunk:
                return
            left -= len(chunk)
    except OSError:  # BlockingIOError: nothing more waiting; or the peer is gone
        return


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class _PushRequestHandler(BaseHTTPRequestHandler):
    """One request per connection, rejected as early and as cheaply as possible."""

    server: _PushHTTPServer
    protocol_version = "HTTP/1.0"  # every reply closes the connection

    def __init__(
        self,
        request: Any,
        client_address: Any,
        server: socketserver.BaseServer,
        deadline: float | None = None,
    ) -> None:
        self._deadline = time.monotonic() + 5.0 if deadline is None else deadline
        self._answered = False
        self._request_read = False  # the whole request, body included, has been read
        self._declared_body = 0
        super().__init__(request, client_address, server)

    def setup(self) -> None:
        super().setup()
        self.rfile.close()
        self._reader = _BoundedReader(
            self.connection, self._deadline, MAX_HEADER_BYTES + self.server.listener.max_body
        )
        self.rfile = io.BufferedReader(self._reader)

    def handle(self) -> None:
        self.close_connection = True
        listener = self.server.listener
        try:
            self._handle_one()
        except TimeoutError:
            self._reject(HTTPStatus.REQUEST_TIMEOUT, "timeout")
        except OSError as exc:  # reset, broken pipe, or stop() shut the socket
            listener._count_rejection("connection_lost")
            log.debug("push listener: connection lost (%s)", type(exc).__name__)
        except Exception:
            log.exception("push listener: unexpected error while handling a request")
            # A 5xx makes the server retry later; never answer our own fault with a 4xx.
            self._reject(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error")

    def _handle_one(self) -> None:
        line = self.rfile.readline(MAX_HEADER_BYTES + 1)
        if not line:
            self.server.listener._count_rejection("empty")
            return
        if len(line) > MAX_HEADER_BYTES:
            self._reject(HTTPStatus.REQUEST_URI_TOO_LONG, "request_line_too_long")
            return
        self.raw_requestline = line
        if not self.parse_request():
            # It answered through send_error(), except for a blank request line.
            if not self._answered:
                self._reject(HTTPStatus.BAD_REQUEST, "malformed")
            return
        if self._reader.over_budget:
            self._reject(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large")
            return
        declared = str(self.headers.get("Content-Length", "")).strip()
        if _CONTENT_LENGTH.fullmatch(declared):
            self._declared_body = int(declared)
        self._handle_push()

    def _handle_push(self) -> None:
        listener = self.server.listener
        route = listener._route_for(self.path)
        if route is None:
            self._reject(HTTPStatus.NOT_FOUND, "not_found")
            return
        if self.command != "POST":
            self._reject(HTTPStatus.METHOD_NOT_ALLOWED, "method", {"Allow": "POST"})
            return
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths or "Transfer-Encoding" in self.headers:
            self._reject(HTTPStatus.LENGTH_REQUIRED, "length_required")
            return
        if len(lengths) > 1 or not _CONTENT_LENGTH.fullmatch(str(lengths[0]).strip()):
            self._reject(HTTPStatus.BAD_REQUEST, "bad_length")
            return
        length = int(str(lengths[0]).strip())
        if length > listener.max_body:
            self._reject(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too_large")
            return
        headers = _Headers(self.headers.items())
        if headers.get("Content-Encoding", "").strip().lower() not in ENCODINGS:
            self._reject(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "encoding")
            return
        if not headers.get("Authorization", "").strip():
            self._reject(HTTPStatus.UNAUTHORIZED, "vapid_missing", {"WWW-Authenticate": "vapid"})
            return
        try:
            verify_vapid(headers, route.server_key, audience=route.audience, now=listener._clock())
        except PushError as exc:
            self._reject(HTTPStatus.FORBIDDEN, "vapid_invalid", detail=exc.reason)
            return
        body = self.rfile.read(length)
        self._request_read = True
        if len(body) != length:
            self._reject(HTTPStatus.BAD_REQUEST, "short_body")
            return
        try:
            plaintext = decrypt(body, headers, route.keys)
        except PushError as exc:
            self._reject(HTTPStatus.BAD_REQUEST, "decrypt", detail=exc.reason)
            return
        try:
            payload = parse_payload(plaintext)
        except PushError as exc:
            self._reject(HTTPStatus.BAD_REQUEST, "payload", detail=exc.reason)
            return
        if not hmac.compare_digest(
            payload.access_token.encode("utf-8"), route.access_token.encode("utf-8")
        ):
            self._reject(HTTPStatus.FORBIDDEN, "token_mismatch")
            return
        listener._deliver(route.account_key, payload)
        self._answer(HTTPStatus.CREATED)

    def _reject(
        self,
        status: int,
        reason: str,
        extra: Mapping[str, str] | None = None,
        *,
        detail: str = "",
    ) -> None:
        self.server.listener._count_rejection(reason)
        log.debug(
            "push listener: rejected %d %s%s from %s",
            status,
            reason,
            f" ({detail})" if detail else "",
            self.client_address[0] if self.client_address else "?",
        )
        with contextlib.suppress(OSError):  # the client is gone: nothing more to tell it
            self._answer(status, extra)

    def _answer(self, status: int, extra: Mapping[str, str] | None = None) -> None:
        """Send the status line and headers (there is never a body) in one write.

        Not through send_response_only(): it needs a parsed request, which an over-long
        request line never gets, and it writes nothing for a request it took for HTTP/0.9
        (any malformed one), so those clients would get no answer at all.
        """
        if self._answered:
            return
        self._answered = True
        self.connection.settimeout(_WRITE_TIMEOUT_S)
        lines = [f"{self.protocol_version} {status} {_phrase(status)}"]
        lines += [f"{name}: {value}" for name, value in (extra or {}).items()]
        lines += ["Content-Length: 0", "Connection: close", "", ""]
        self.wfile.write("\r\n".join(lines).encode("latin-1"))

    def finish(self) -> None:
        if self._answered and not self._request_read and self._declared_body > 0:
            self._discard_body()
        super().finish()

    def _discard_body(self) -> None:
        """Read the body of a request answered early, within a short time and the byte budget.

        Closing with unread bytes sends a reset, which can destroy the reply before the client
        reads it. A body over the budget is still cut off.
        """
        self._reader.deadline = min(self._reader.deadline, time.monotonic() + _LINGER_S)
        left = self._declared_body
        with contextlib.suppress(OSError):  # the deadline, or the client is gone
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    return
                left -= len(chunk)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Only parse_request() calls this: an unparsable request line or headers.
        self._reject(code, "malformed")

    def log_message(self, format: str, *args: Any) -> None:
        # The base class would print request lines (with the secret path) to stderr.
        pass


class _PushHTTPServer(HTTPServer):
    """Accepts connections and hands them to the listener's fixed worker pool."""

    allow_reuse_address = sys.platform != "win32"  # on Windows it would let two bind one port
    request_queue_size = _LISTEN_BACKLOG

    def __init__(
        self, address: tuple[str, int], listener: PushListener, run: _Run, family: int
    ) -> None:
        self.address_family = family
        self.listener = listener
        self.run = run
        # Connections answered 503, with when to close them; only the accept thread uses it.
        self.closing: deque[tuple[socket.socket, float]] = deque()
        super().__init__(address, _PushRequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look the host up in reverse DNS, which can hang.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        try:
            self.run.pending.put_nowait((request, client_address, time.monotonic()))
        except queue.Full:
            self.listener._count_queue_full()
            self._answer_busy(request)

    def _answer_busy(self, request: socket.socket) -> None:
        """Answer 503 without blocking, and close a little later.

        Closing at once would reset the connection if the request is still arriving, and a
        reset can destroy the 503 before the client reads it. The socket is half-closed now and
        closed on a later pass of the accept loop; never more than a bounded number wait.
        """
        with contextlib.suppress(OSError):
            request.setblocking(False)
            request.send(_BUSY_REPLY)
        with contextlib.suppress(OSError):
            request.shutdown(socket.SHUT_WR)
        self.closing.append((request, time.monotonic() + _BUSY_CLOSE_DELAY_S))
        while len(self.closing) > _BUSY_CLOSE_MAX:
            self._close_busy(self.closing.popleft()[0])

    def service_actions(self) -> None:
        # Called by serve_forever() on every pass of its loop, on the accept thread.
        now = time.monotonic()
        while self.closing and self.closing[0][1] <= now:
            self._close_busy(self.closing.popleft()[0])

    def close_busy_now(self) -> None:
        """Close every connection answered 503 (once the accept loop has stopped)."""
        while self.closing:
            self._close_busy(self.closing.popleft()[0])

    @staticmethod
    def _close_busy(request: socket.socket) -> None:
        _drain(request)
        request.close()

    def shutdown_request(self, request: Any) -> None:
        with contextlib.suppress(OSError):
            request.shutdown(socket.SHUT_WR)
        _drain(request)
        self.close_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("push listener: error while accepting a connection")


_Item = tuple[socket.socket, Any, float] | None


@dataclass
class _Run:
    """What one start() created and stop() tears down."""

    pending: queue.Queue[_Item]
    server: _PushHTTPServer | None = None
    accept_thread: threading.Thread | None = None
    workers: list[threading.Thread] = field(default_factory=list)
    active: set[socket.socket] = field(default_factory=set)
    stopping: bool = False


def _bind_error(host: str, port: int, exc: BaseException) -> ListenerError:
    where = f"port {port} on {host}"
    code = getattr(exc, "errno", None)
    winerror = getattr(exc, "winerror", None)
    if isinstance(exc, socket.gaierror):
        return ListenerError(
            f"Cannot listen on {host}: the address is not known on this computer. "
            "Check the push listener address in Settings."
        )
    if code == errno.EADDRINUSE or winerror == _WSAEADDRINUSE:
        return AddressInUseError(
            f"Port {port} on {host} is already in use: choose another port for the push "
            "listener in Settings, or stop the program using it."
        )
    if code in (errno.EACCES, errno.EPERM) or winerror == _WSAEACCES:
        return ListenerError(
            f"Tootbell is not allowed to listen on {where}: ports below 1024 need administrator "
            "rights, and some ports are reserved. Choose a port above 1024 in Settings."
        )
    if code == errno.EADDRNOTAVAIL:
        return ListenerError(
            f"Cannot listen on {host}: that address does not belong to this computer. "
            "Choose another address for the push listener in Settings."
        )
    if isinstance(exc, OverflowError | ValueError):
        return ListenerError(
            f"Cannot listen on {where}: the port must be a number from 0 to 65535."
        )
    detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return ListenerError(f"Cannot listen on {where}: {detail}.")


class PushListener:
    """Receives Web Push requests for the routes it is given and calls ``on_push`` for each.

    Connections are served by ``max_workers`` threads fed through a queue of ``max_pending``
    slots; when both are full the connection is answered 503 at once. A valid push whose
    handling fails later still gets 201: any 4xx but 408/429 makes Mastodon delete the
    subscription, and the catch-up poll recovers what was lost.

    ``on_push(account_key, payload)`` runs on a worker thread and must return quickly (emit a
    queued signal, put on a queue); ``stop()`` waits for calls in progress.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        on_push: Callable[[str, PushPayload], None],
        max_workers: int = 4,
        max_body: int = 4096,
        read_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        max_pending: int = 16,
    ) -> None:
        if max_workers < 1 or max_pending < 1:
            raise ValueError("max_workers and max_pending must be at least 1")
        if max_body < 1 or read_timeout <= 0:
            raise ValueError("max_body and read_timeout must be positive")
        self._host = host
        self._port = port
        self._on_push = on_push
        self.max_workers = max_workers
        self.max_pending = max_pending
        self.max_body = max_body
        self.read_timeout = read_timeout
        self._clock = clock
        self._routes: tuple[tuple[bytes, PushRoute], ...] = ()
        self._lock = threading.Lock()  # routes, stats, replay memory, active sockets
        self._lifecycle = threading.Lock()  # start() and stop()
        self._run: _Run | None = None
        self._recent: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._accepted = 0
        self._rejected: dict[str, int] = {}
        self._last_push_at: dict[str, float] = {}
        self._queue_full = 0
        self._replayed = 0
        self._handoff_failures = 0

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Bind and serve; raises :class:`AddressInUseError` or :class:`ListenerError`."""
        with self._lifecycle:
            if self._run is not None:
                return
            run = _Run(pending=queue.Queue(maxsize=self.max_pending))
            family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
            try:
                run.server = _PushHTTPServer((self._host, self._port), self, run, family)
            except (OSError, OverflowError, ValueError) as exc:
                raise _bind_error(self._host, self._port, exc) from exc
            run.workers = [
                threading.Thread(
                    target=self._work,
                    args=(run,),
                    name=f"push-listener-worker-{n}",
                    daemon=True,
                )
                for n in range(self.max_workers)
            ]
            run.accept_thread = threading.Thread(
                target=run.server.serve_forever,
                kwargs={"poll_interval": _POLL_INTERVAL_S},
                name="push-listener",
                daemon=True,
            )
            for worker in run.workers:
                worker.start()
            run.accept_thread.start()
            self._run = run
            log.info("push listener: listening on %s:%d", *self.address)

    def stop(self) -> None:
        """Stop accepting, cut off clients in progress and join every thread. Idempotent."""
        with self._lifecycle:
            run, self._run = self._run, None
            if run is None or run.server is None:
                return
            run.server.shutdown()
            run.server.close_busy_now()
            while True:  # connections nobody will serve now
                try:
                    item = run.pending.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].close()
            with self._lock:
                run.stopping = True
                for sock in run.active:  # a blocked read returns at once; no reply is sent
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
            for _ in run.workers:
                run.pending.put(None)
            for worker in run.workers:
                worker.join()
            run.server.server_close()
            if run.accept_thread is not None:
                run.accept_thread.join()
            log.info("push listener: stopped")

    @property
    def running(self) -> bool:
        return self._run is not None

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port) while running; the configured one otherwise."""
        run = self._run
        if run is not None and run.server is not None:
            host, port = run.server.server_address[:2]
            return str(host), int(port)
        return self._host, self._port

    # -- routes and stats -------------------------------------------------------------------

    def set_routes(self, routes: Iterable[PushRoute]) -> None:
        """Replace every route at once; requests in progress finish with the old set."""
        table = tuple((route.path_token.encode("utf-8"), route) for route in routes)
        with self._lock:
            self._routes = table

    def path_for(self, route: PushRoute) -> str:
        return PATH_PREFIX + route.path_token

    @property
    def stats(self) -> ListenerStats:
        with self._lock:
            return ListenerStats(
                accepted=self._accepted,
                rejected_by_reason=dict(self._rejected),
                last_push_at=dict(self._last_push_at),
                queue_full=self._queue_full,
                replayed=self._replayed,
                handoff_failures=self._handoff_failures,
            )

    # -- used by the server and its handlers -------------------------------------------------

    def _route_for(self, path: str) -> PushRoute | None:
        path = path.split("?", 1)[0]
        if not path.startswith(PATH_PREFIX):
            return None
        token = path[len(PATH_PREFIX) :].encode("latin-1", "replace")
        if not token:
            return None
        found: PushRoute | None = None
        for candidate, route in self._routes:  # compare with every route: no early exit
            if hmac.compare_digest(candidate, token) and found is None:
                found = route
        return found

    def _deliver(self, account_key: str, payload: PushPayload) -> None:
        now = self._clock()
        with self._lock:
            while self._recent:
                oldest_key, seen_at = next(iter(self._recent.items()))
                if now - seen_at < REPLAY_WINDOW_S and len(self._recent) < REPLAY_CAPACITY:
                    break
                del self._recent[oldest_key]
            key = (account_key, payload.notification_id)
            replay = key in self._recent
            if replay:
                self._replayed += 1
            else:
                self._recent[key] = now
                self._accepted += 1
                self._last_push_at[account_key] = now
        if replay:
            log.debug("push listener: replayed push for %s ignored", account_key)
            return
        try:
            self._on_push(account_key, payload)
        except Exception:
            with self._lock:
                self._handoff_failures += 1
            log.exception(
                "push listener: handling a push for %s failed; answered 201 anyway, the next "
                "poll catches up",
                account_key,
            )

    def _count_rejection(self, reason: str) -> None:
        with self._lock:
            self._rejected[reason] = self._rejected.get(reason, 0) + 1

    def _count_queue_full(self) -> None:
        with self._lock:
            self._queue_full += 1
        log.debug("push listener: all workers busy, answered 503")

    def _work(self, run: _Run) -> None:
        server = run.server
        assert server is not None
        while True:
            item = run.pending.get()
            if item is None:
                return
            sock, client_address, accepted_at = item
            with self._lock:
                skip = run.stopping
                if not skip:
                    run.active.add(sock)
            try:
                if not skip:
                    _PushRequestHandler(
                        sock, client_address, server, deadline=accepted_at + self.read_timeout
                    )
            except Exception:
                log.exception("push listener: unexpected error in a worker")
            finally:
                with self._lock:
                    run.active.discard(sock)
                server.shutdown_request(sock)
