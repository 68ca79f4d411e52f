"""The secret store: access tokens, OAuth client secrets and push keys in the OS keyring.

Every secret lives under the keyring service ``"Tootbell"``; the user name says what it is:

* ``token:<account_key>``         an account's access token (``account_key`` is ``user@host``)
* ``client-secret:<base_url>``    the OAuth client secret of the app registered on an instance
* ``push-key:<account_key>``      the private key of an account's Web Push subscription

The backend is chosen lazily, on first use (choosing it costs ~100 ms and may talk to D-Bus),
and checked: no backend, ``keyring``'s fail backend or an insecure one (plaintext files, low
priority) raise :class:`KeyringUnavailable`; there is no fallback to plaintext. Keyring calls
run one at a time on a dedicated daemon thread and are abandoned after ``timeout`` seconds, so
a keyring that hangs cannot hang the caller. Errors carry a ``title`` and a ``message`` to show
to people; secrets never appear in messages or logs.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

log = logging.getLogger(__name__)

T = TypeVar("T")

SERVICE = "Tootbell"
DEFAULT_TIMEOUT = 30.0


def _install_hint() -> str:
    if sys.platform == "darwin":
        return (
            "Tootbell keeps its secrets in the macOS Keychain. Make sure the login keychain "
            "exists and is unlocked (Keychain Access), then start Tootbell again."
        )
    if sys.platform == "win32":
        return (
            "Tootbell keeps its secrets in the Windows Credential Manager. Make sure you "
            "are signed in to a normal user session, then start Tootbell again."
        )
    return (
        "Install and start a Secret Service provider such as gnome-keyring "
        "(Debian: apt install gnome-keyring), KWallet on KDE, or KeePassXC with Secret "
        "Service enabled, then start Tootbell again."
    )


class SecretStoreError(Exception):
    """The keyring could not be used. ``title`` and ``message`` are shown to the person as is.

    ``cause`` names the underlying exception class (never its text, which might quote data).
    """

    default_title = "Keyring error"

    def __init__(self, message: str, *, title: str | None = None, cause: str | None = None) -> None:
        super().__init__(message)
        self.title = title or self.default_title
        self.message = message
        self.cause = cause


class KeyringUnavailable(SecretStoreError):
    """No keyring backend, or only an insecure one."""

    default_title = "No secure keyring"


class KeyringLocked(SecretStoreError):
    """The keyring is locked and was not unlocked (no prompt, or the prompt was dismissed)."""

    default_title = "Keyring locked"


class KeyringTimeout(SecretStoreError):
    """The keyring did not answer in time (often: an unlock prompt nobody answered)."""

    default_title = "Keyring not answering"


LOCKED_MESSAGE = (
    "Your keyring is locked. Unlock it (for example by logging in to your desktop "
    "session or opening Passwords and Keys) and Tootbell will retry."
)


def _no_keyring_message() -> str:
    return "No secure keyring was found. " + _install_hint()


def _insecure_message(name: str) -> str:
    return (
        f"The only keyring found ({name}) does not store secrets securely, so Tootbell "
        "will not use it. " + _install_hint()
    )


@dataclass(frozen=True)
class KeyringStatus:
    """The outcome of :meth:`SecretStore.check`, for start-up and ``tootbell doctor``."""

    ok: bool
    backend_name: str  # e.g. "SecretService Keyring"; "" when none could be chosen
    secure: bool
    message: str  # for people; "" when ok


def backend_name(backend: KeyringBackend) -> str:
    try:
        return str(backend.name)
    except Exception:  # a third-party backend with an odd module layout
        return type(backend).__name__


def is_secure(backend: KeyringBackend) -> bool:
    """Whether ``backend`` keeps secrets safely enough for access tokens.

    Rejects ``keyring``'s fail and null backends, anything ``keyring`` itself does not
    recommend (priority below 1) and every ``keyrings.alt`` file or plaintext backend.
    A chainer is secure only when every backend it chains is.
    """
    from keyring.core import recommended

    cls = type(backend)
    module = cls.__module__
    if module in ("keyring.backends.fail", "keyring.backends.null"):
        return False
    if module.startswith("keyrings.alt") or "plaintext" in cls.__name__.lower():
        return False
    if module == "keyring.backends.chainer":
        chained = list(getattr(backend, "backends", []))
        return bool(chained) and all(is_secure(b) for b in chained)
    try:
        return bool(recommended(backend))
    except Exception:
        return False


def _installed_packages() -> set[str]:
    """Top-level packages that register ``keyring`` backends (keyring itself included)."""
    from importlib.metadata import entry_points

    packages = {"keyring"}
    for ep in entry_points(group="keyring.backends"):
        packages.add(ep.value.split(":", 1)[0].split(".", 1)[0])
    return packages


def choose_backend() -> KeyringBackend:
    """The backend to use: the person's explicit choice, else the best installed one.

    ``PYTHON_KEYRING_BACKEND`` or ``keyringrc.cfg`` win, as with ``keyring.get_keyring()``.
    Otherwise this differs from ``keyring``'s own choice in two ways: it never picks the
    chainer (secrets go to one place: the highest-priority backend) and it ignores backend
    classes that no installed package registers, because ``keyring`` also offers every
    ``KeyringBackend`` subclass that happens to be imported (test doubles, the demo's memory
    keyring), and would then choose the chainer over the real keyring.
    """
    from keyring import backend as kb
    from keyring import core
    from keyring.backends import fail

    try:
        explicit = core.load_env() or core.load_config()
    except Exception as e:
        log.warning("ignoring the configured keyring backend: %s", type(e).__name__)
        explicit = None
    if explicit is not None:
        return explicit
    installed = _installed_packages()
    candidates = [
        b
        for b in kb.get_all_keyring()
        if type(b).__module__.split(".", 1)[0] in installed
        and type(b).__module__ != "keyring.backends.chainer"
        and b.priority > 0
    ]
    fallback: KeyringBackend = fail.Keyring()  # type: ignore[no-untyped-call]
    return max(candidates, key=kb.by_priority, default=fallback)


class _Runner:
    """One daemon thread that runs keyring calls in order; callers wait with a timeout."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], object], Future[object]]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, fn: Callable[[], T], timeout: float | None) -> T:
        if timeout is None:
            return fn()
        future: Future[object] = Future()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="tootbell-keyring", daemon=True
                )
                self._thread.start()
        self._jobs.put((fn, future))
        try:
            return future.result(timeout)  # type: ignore[return-value]
        except FutureTimeout:
            future.cancel()  # if it has not started yet, it never will
            raise

    def _loop(self) -> None:
        while True:
            fn, future = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)


class SecretStore:
    """Tokens and client secrets in the OS keyring, with clear errors and no plaintext fallback.

    Pass ``backend`` to use a specific ``keyring`` backend (tests use an in-memory one);
    otherwise ``keyring.get_keyring()`` chooses on first use. ``timeout`` (seconds, ``None``
    for none) bounds every call; call from a worker thread, never the GUI thread.
    """

    def __init__(
        self, backend: KeyringBackend | None = None, *, timeout: float | None = DEFAULT_TIMEOUT
    ) -> None:
        self._backend = backend
        self._timeout = timeout
        self._lock = threading.Lock()
        self._runner = _Runner()

    # -- status --------------------------------------------------------------------------------

    def check(self) -> KeyringStatus:
        """Choose the backend if needed, and read a harmless entry to see that it works."""
        try:
            backend = self._get_backend()
        except SecretStoreError as e:
            name = self._backend_name_or_empty()
            return KeyringStatus(False, name, False, e.message)
        name = backend_name(backend)
        try:
            self._call("check", "read", lambda b: b.get_password(SERVICE, "check"))
        except SecretStoreError as e:
            return KeyringStatus(False, name, True, e.message)
        return KeyringStatus(True, name, True, "")

    def backend_name(self) -> str:
        """The chosen backend's display name (chooses it if needed); "" if there is none."""
        try:
            return backend_name(self._get_backend())
        except SecretStoreError:
            return self._backend_name_or_empty()

    # -- tokens --------------------------------------------------------------------------------

    def get_token(self, account_key: str) -> str | None:
        return self._get(f"token:{account_key}")

    def set_token(self, account_key: str, token: str) -> None:
        self._set(f"token:{account_key}", token)

    def delete_token(self, account_key: str) -> None:
        self._delete(f"token:{account_key}")

    # -- client secrets ------------------------------------------------------------------------

    def get_client_secret(self, base_url: str) -> str | None:
        return self._get(f"client-secret:{base_url}")

    def set_client_secret(self, base_url: str, secret: str) -> None:
        self._set(f"client-secret:{base_url}", secret)

    def delete_client_secret(self, base_url: str) -> None:
        self._delete(f"client-secret:{base_url}")

    # -- push subscription keys ----------------------------------------------------------------

    def get_push_key(self, account_key: str) -> str | None:
        return self._get(f"push-key:{account_key}")

    def set_push_key(self, account_key: str, key: str) -> None:
        self._set(f"push-key:{account_key}", key)

    def delete_push_key(self, account_key: str) -> None:
        self._delete(f"push-key:{account_key}")

    # -- internals -----------------------------------------------------------------------------

    def _get(self, username: str) -> str | None:
        value = self._call(username, "read", lambda b: b.get_password(SERVICE, username))
        return None if value is None else str(value)

    def _set(self, username: str, secret: str) -> None:
        if not secret:
            raise ValueError("refusing to store an empty secret")
        self._call(
            username, "save", lambda b: b.set_password(SERVICE, username, secret), secret=secret
        )
        log.debug("saved %s in the keyring", username)

    def _delete(self, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        def delete(backend: KeyringBackend) -> None:
            try:
                backend.delete_password(SERVICE, username)
            except PasswordDeleteError:
                # Most backends say "not found" this way; anything else leaves it readable.
                if backend.get_password(SERVICE, username) is not None:
                    raise
                log.debug("%s was not in the keyring", username)

        self._call(username, "delete", delete)
        log.debug("deleted %s from the keyring", username)

    def _timeout_error(self, action: str, username: str) -> KeyringTimeout:
        log.warning("keyring did not answer within %s s (%s %s)", self._timeout, action, username)
        return KeyringTimeout(
            f"The keyring did not answer within {self._timeout or 0:g} seconds. If it asks to "
            "be unlocked, answer its prompt; Tootbell will retry."
        )

    def _backend_name_or_empty(self) -> str:
        return backend_name(self._backend) if self._backend is not None else ""

    def _get_backend(self) -> KeyringBackend:
        with self._lock:
            if self._backend is None:
                try:
                    self._backend = self._runner.run(self._choose_backend, self._timeout)
                except FutureTimeout:
                    raise self._timeout_error("choosing a backend", "") from None
                except Exception as e:
                    log.warning("choosing a keyring backend failed: %s", type(e).__name__)
                    raise KeyringUnavailable(
                        _no_keyring_message(), cause=type(e).__name__
                    ) from None
            backend = self._backend
        if not is_secure(backend):
            name = backend_name(backend)
            if type(backend).__module__ in ("keyring.backends.fail", "keyring.backends.null"):
                raise KeyringUnavailable(_no_keyring_message(), cause=type(backend).__name__)
            raise KeyringUnavailable(_insecure_message(name), cause=type(backend).__name__)
        return backend

    @staticmethod
    def _choose_backend() -> KeyringBackend:
        backend = choose_backend()
        log.info("keyring backend: %s", backend_name(backend))
        return backend

    def _call(
        self,
        username: str,
        action: str,
        fn: Callable[[KeyringBackend], T],
        *,
        secret: str | None = None,
    ) -> T:
        def job() -> T:
            if type(backend).__module__ == "keyring.backends.SecretService":
                _unlock_secret_service(backend)
            return fn(backend)

        try:
            backend = self._get_backend()
            return self._runner.run(job, self._timeout)
        except SecretStoreError:
            raise
        except FutureTimeout:
            raise self._timeout_error(action, username) from None
        except Exception as e:
            raise _translate(e, action, username, secret) from None


def _unlock_secret_service(backend: KeyringBackend) -> None:
    """Unlock the collection the SecretService backend uses (the desktop may prompt).

    ``keyring`` does the same, but when the collection stays locked it raises without closing
    its D-Bus connection; checking first, with a connection we close, avoids that leak.
    """
    import secretstorage
    from keyring.errors import InitError
    from keyring.errors import KeyringLocked as BackendLocked

    conn = secretstorage.dbus_init()
    try:
        path = getattr(backend, "preferred_collection", None)
        try:
            collection = (
                secretstorage.Collection(conn, path)
                if path
                else secretstorage.get_default_collection(conn)
            )
            if collection.is_locked():
                collection.unlock()
                if collection.is_locked():
                    raise BackendLocked("Failed to unlock the collection!")
        except secretstorage.exceptions.SecretStorageException as e:
            raise InitError(f"Failed to create the collection: {e}.") from e
    finally:
        conn.close()


def _translate(exc: Exception, action: str, username: str, secret: str | None) -> SecretStoreError:
    """Map a backend exception to a domain error whose text never contains the secret."""
    from keyring import errors

    name = type(exc).__name__
    text = str(exc)
    if secret:
        text = text.replace(secret, "***")
    log.warning("keyring %s of %s failed: %s: %s", action, username, name, text)
    lowered = text.lower()
    if isinstance(exc, errors.KeyringLocked) or name == "LockedException":
        return KeyringLocked(LOCKED_MESSAGE, cause=name)
    if isinstance(exc, errors.InitError) and ("dismissed" in lowered or "lock" in lowered):
        return KeyringLocked(LOCKED_MESSAGE, cause=name)
    if isinstance(exc, errors.NoKeyringError | errors.InitError):
        return KeyringUnavailable(_no_keyring_message(), cause=name)
    if name in ("SecretServiceNotAvailableException", "ItemNotFoundException"):
        return KeyringUnavailable(_no_keyring_message(), cause=name)
    return SecretStoreError(
        f"The keyring could not {action} a secret ({name}). Tootbell will try again later.",
        cause=name,
    )
