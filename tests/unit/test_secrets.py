"""Unit tests of tootbell.secrets against in-memory keyring backends (no OS keyring)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import keyring.backend
import keyring.errors
import pytest
from keyring.backends import fail

from tootbell import secrets as secrets_mod
from tootbell.secrets import (
    LOCKED_MESSAGE,
    SERVICE,
    KeyringLocked,
    KeyringTimeout,
    KeyringUnavailable,
    SecretStore,
    SecretStoreError,
    is_secure,
)

SECRET = "s3cr3t-token-value-0123456789"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that keeps secrets in a dict; ``fail_with`` makes every call raise."""

    priority = 1
    # Defining a KeyringBackend subclass registers it with keyring for the whole process;
    # not viable keeps keyring from ever offering it outside these tests.
    viable = False

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.data: dict[tuple[str, str], str] = {}
        self.fail_with: BaseException | None = None
        self.calls: list[tuple[str, str, str]] = []
        self.gate: threading.Event | None = None

    def _enter(self, op: str, service: str, username: str) -> None:
        self.calls.append((op, service, username))
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail_with is not None:
            raise self.fail_with

    def get_password(self, service: str, username: str) -> str | None:
        self._enter("get", service, username)
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._enter("set", service, username)
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._enter("delete", service, username)
        if self.data.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("No such password!")


class PlaintextKeyring(MemoryKeyring):
    """Stands in for keyrings.alt's PlaintextKeyring (files on disk, priority 0.5)."""

    priority = 0.5  # type: ignore[assignment]


class LowPriorityKeyring(MemoryKeyring):
    priority = 0.2  # type: ignore[assignment]


@pytest.fixture
def backend() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def store(backend: MemoryKeyring) -> SecretStore:
    return SecretStore(backend=backend, timeout=5.0)


# -- storing and reading --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("get", "set_", "delete", "key", "username"),
    [
        (
            "get_token",
            "set_token",
            "delete_token",
            "ana@example.social",
            "token:ana@example.social",
        ),
        (
            "get_client_secret",
            "set_client_secret",
            "delete_client_secret",
            "https://example.social",
            "client-secret:https://example.social",
        ),
        (
            "get_push_key",
            "set_push_key",
            "delete_push_key",
            "ana@example.social",
            "push-key:ana@example.social",
        ),
    ],
)
def test_round_trip_uses_documented_names(
    store: SecretStore,
    backend: MemoryKeyring,
    get: str,
    set_: str,
    delete: str,
    key: str,
    username: str,
) -> None:
    assert getattr(store, get)(key) is None
    getattr(store, set_)(key, SECRET)
    assert backend.data == {(SERVICE, username): SECRET}
    assert getattr(store, get)(key) == SECRET
    getattr(store, delete)(key)
    assert backend.data == {}
    assert getattr(store, get)(key) is None


def test_service_name_is_tootbell() -> None:
    assert SERVICE == "Tootbell"


def test_accounts_do_not_collide(store: SecretStore) -> None:
    store.set_token("ana@a.example", "one")
    store.set_token("ana@b.example", "two")
    store.set_client_secret("https://a.example", "three")
    assert store.get_token("ana@a.example") == "one"
    assert store.get_token("ana@b.example") == "two"
    assert store.get_client_secret("https://a.example") == "three"


def test_set_replaces(store: SecretStore) -> None:
    store.set_token("ana@a.example", "old")
    store.set_token("ana@a.example", "new")
    assert store.get_token("ana@a.example") == "new"


def test_delete_of_missing_entry_is_a_no_op(store: SecretStore) -> None:
    store.delete_token("nobody@nowhere.example")
    store.delete_client_secret("https://nowhere.example")


def test_delete_error_when_entry_stays_is_reported(
    store: SecretStore, backend: MemoryKeyring
) -> None:
    store.set_token("ana@a.example", SECRET)

    def refuse(service: str, username: str) -> None:
        raise keyring.errors.PasswordDeleteError("read-only keyring")

    backend.delete_password = refuse  # type: ignore[method-assign]
    with pytest.raises(SecretStoreError) as info:
        store.delete_token("ana@a.example")
    assert "PasswordDeleteError" in info.value.message


def test_empty_secret_is_refused(store: SecretStore) -> None:
    with pytest.raises(ValueError):
        store.set_token("ana@a.example", "")


# -- status ---------------------------------------------------------------------------------


def test_check_ok(store: SecretStore, backend: MemoryKeyring) -> None:
    status = store.check()
    assert status.ok and status.secure
    assert status.message == ""
    assert status.backend_name == backend.name
    assert backend.calls == [("get", SERVICE, "check")]


def test_check_reports_locked(store: SecretStore, backend: MemoryKeyring) -> None:
    backend.fail_with = keyring.errors.KeyringLocked("Failed to unlock the collection!")
    status = store.check()
    assert not status.ok
    assert status.secure
    assert status.message == LOCKED_MESSAGE


@pytest.mark.parametrize("make", [fail.Keyring, PlaintextKeyring, LowPriorityKeyring])
def test_insecure_or_missing_backend_is_refused(
    make: Callable[[], keyring.backend.KeyringBackend],
) -> None:
    backend = make()
    store = SecretStore(backend=backend)
    status = store.check()
    assert not status.ok
    assert not status.secure
    assert "gnome-keyring" in status.message
    assert "apt install gnome-keyring" in status.message
    with pytest.raises(KeyringUnavailable) as info:
        store.set_token("ana@a.example", SECRET)
    assert info.value.title == "No secure keyring"
    # Nothing was written anywhere, not even to the plaintext backend.
    assert getattr(backend, "data", {}) == {}


def test_fail_backend_message_says_no_keyring() -> None:
    status = SecretStore(backend=fail.Keyring()).check()  # type: ignore[no-untyped-call]
    assert status.message.startswith("No secure keyring was found.")
    assert "KeePassXC" in status.message
    assert "KWallet" in status.message


def test_plaintext_backend_message_names_it() -> None:
    status = SecretStore(backend=PlaintextKeyring()).check()
    assert "does not store secrets securely" in status.message


def test_is_secure() -> None:
    assert is_secure(MemoryKeyring())
    assert not is_secure(PlaintextKeyring())
    assert not is_secure(LowPriorityKeyring())
    assert not is_secure(fail.Keyring())  # type: ignore[no-untyped-call]


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (keyring.errors.KeyringLocked("Failed to unlock the collection!"), KeyringLocked),
        (
            keyring.errors.InitError("Failed to create the collection: Prompt dismissed.."),
            KeyringLocked,
        ),
        (
            keyring.errors.NoKeyringError("No recommended backend was available."),
            KeyringUnavailable,
        ),
        (
            keyring.errors.InitError("Failed to create the collection: no service."),
            KeyringUnavailable,
        ),
        (keyring.errors.PasswordSetError("boom"), SecretStoreError),
        (OSError("socket closed"), SecretStoreError),
    ],
)
def test_errors_are_translated(
    store: SecretStore, backend: MemoryKeyring, raised: Exception, expected: type[SecretStoreError]
) -> None:
    backend.fail_with = raised
    with pytest.raises(expected) as info:
        store.get_token("ana@a.example")
    assert type(info.value) is expected
    assert info.value.cause == type(raised).__name__
    assert info.value.title
    assert info.value.message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_locked_message_is_for_people(store: SecretStore, backend: MemoryKeyring) -> None:
    backend.fail_with = keyring.errors.KeyringLocked("Failed to unlock the collection!")
    with pytest.raises(KeyringLocked) as info:
        store.get_token("ana@a.example")
    assert info.value.title == "Keyring locked"
    assert info.value.message == (
        "Your keyring is locked. Unlock it (for example by logging in to your desktop session "
        "or opening Passwords and Keys) and Tootbell will retry."
    )


def test_other_error_names_the_cause_but_never_the_secret(
    store: SecretStore, backend: MemoryKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    backend.fail_with = keyring.errors.PasswordSetError(f"could not store {SECRET!r}")
    caplog.set_level(logging.DEBUG, logger="tootbell.secrets")
    with pytest.raises(SecretStoreError) as info:
        store.set_token("ana@a.example", SECRET)
    assert "PasswordSetError" in info.value.message
    assert SECRET not in str(info.value)
    assert SECRET not in info.value.message
    assert SECRET not in caplog.text
    assert "PasswordSetError" in caplog.text


def test_success_is_never_logged_with_the_secret(
    store: SecretStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tootbell")
    store.set_token("ana@a.example", SECRET)
    assert store.get_token("ana@a.example") == SECRET
    store.delete_token("ana@a.example")
    assert SECRET not in caplog.text


# -- laziness, threads, timeouts ------------------------------------------------------------


@pytest.fixture
def counted_choice(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[MemoryKeyring]]:
    chosen: list[MemoryKeyring] = []

    def choose() -> MemoryKeyring:
        chosen.append(MemoryKeyring())
        return chosen[-1]

    monkeypatch.setattr(secrets_mod, "choose_backend", choose)
    yield chosen


def test_backend_is_chosen_lazily_and_once(counted_choice: list[MemoryKeyring]) -> None:
    store = SecretStore()
    assert counted_choice == []
    store.set_token("ana@a.example", SECRET)
    assert store.get_token("ana@a.example") == SECRET
    assert len(counted_choice) == 1


def test_concurrent_first_use_chooses_once(counted_choice: list[MemoryKeyring]) -> None:
    store = SecretStore()
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(20):
                store.set_token(f"user{i}@x.example", f"t{i}-{j}")
                assert store.get_token(f"user{i}@x.example") == f"t{i}-{j}"
        except BaseException as e:  # collected for the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert errors == []
    assert len(counted_choice) == 1
    assert len(counted_choice[0].data) == 6


class StrayKeyring(MemoryKeyring):
    """A backend class that is merely imported somewhere (as the demo's keyring can be)."""

    priority = 5


class RegisteredKeyring(MemoryKeyring):
    """Stands in for a backend that an installed package registers."""

    priority = 2


RegisteredKeyring.__module__ = "keyring.backends.registered_double"


@pytest.fixture
def no_configured_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring.core

    monkeypatch.setattr(keyring.core, "load_env", lambda: None)
    monkeypatch.setattr(keyring.core, "load_config", lambda: None)


@pytest.mark.usefixtures("no_configured_backend")
def test_choose_backend_ignores_unregistered_classes_and_the_chainer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from keyring.backends import chainer

    registered = RegisteredKeyring()
    found = [StrayKeyring(), registered, chainer.ChainerBackend()]  # type: ignore[no-untyped-call]
    monkeypatch.setattr(keyring.backend, "get_all_keyring", lambda: found)
    assert secrets_mod.choose_backend() is registered


@pytest.mark.usefixtures("no_configured_backend")
def test_choose_backend_falls_back_to_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring.backend, "get_all_keyring", lambda: [StrayKeyring()])
    chosen = secrets_mod.choose_backend()
    assert isinstance(chosen, fail.Keyring)
    assert not SecretStore(backend=chosen).check().ok


def test_choose_backend_honours_the_configured_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring.core

    configured = PlaintextKeyring()
    monkeypatch.setattr(keyring.core, "load_env", lambda: configured)
    assert secrets_mod.choose_backend() is configured
    # ... and the store still refuses it when it is not secure.
    monkeypatch.setattr(secrets_mod, "choose_backend", lambda: configured)
    with pytest.raises(KeyringUnavailable):
        SecretStore().get_token("ana@a.example")


def test_hanging_keyring_times_out(backend: MemoryKeyring) -> None:
    gate = threading.Event()
    backend.gate = gate
    store = SecretStore(backend=backend, timeout=0.2)
    try:
        with pytest.raises(KeyringTimeout) as info:
            store.get_token("ana@a.example")
        assert "did not answer within 0.2 seconds" in info.value.message
        # The stuck call still holds the keyring thread: the next call waits its turn.
        with pytest.raises(KeyringTimeout):
            store.get_token("ana@a.example")
    finally:
        gate.set()
    backend.gate = None
    store.set_token("ana@a.example", SECRET)
    assert store.get_token("ana@a.example") == SECRET


def test_no_timeout_runs_in_the_calling_thread(backend: MemoryKeyring) -> None:
    seen: list[str] = []
    original = backend.get_password

    def spy(service: str, username: str) -> str | None:
        seen.append(threading.current_thread().name)
        return original(service, username)

    backend.get_password = spy  # type: ignore[method-assign]
    SecretStore(backend=backend, timeout=None).get_token("ana@a.example")
    SecretStore(backend=backend, timeout=1.0).get_token("ana@a.example")
    assert seen == [threading.current_thread().name, "tootbell-keyring"]
