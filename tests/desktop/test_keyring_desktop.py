"""tootbell.secrets against the real Secret Service (gnome-keyring) of the desktop session."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
import secretstorage
from desktop_session import keyring_locked, lock_keyring, unlock_keyring

from tootbell.secrets import (
    LOCKED_MESSAGE,
    SERVICE,
    KeyringLocked,
    SecretStore,
)


@pytest.fixture
def store() -> SecretStore:
    return SecretStore(timeout=20.0)


@pytest.fixture
def account() -> str:
    return f"ana-{uuid.uuid4().hex[:8]}@desktop.test"


@pytest.fixture
def unlocked_afterwards() -> Iterator[None]:
    yield
    if keyring_locked():
        unlock_keyring()


def _items(username: str) -> list[tuple[str, dict[str, str]]]:
    conn = secretstorage.dbus_init()
    try:
        collection = secretstorage.get_default_collection(conn)
        items = list(collection.search_items({"service": SERVICE, "username": username}))
        return [(item.get_label(), item.get_attributes()) for item in items]
    finally:
        conn.close()


def test_keyring_chooses_secret_service(store: SecretStore) -> None:
    status = store.check()
    assert status.ok, status.message
    assert status.secure
    assert status.backend_name == "SecretService Keyring"
    # keyring's own choice, in a clean process, agrees.
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import keyring; k = keyring.get_keyring(); "
            "print(type(k).__module__, type(k).__name__)",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert out == ["keyring.backends.SecretService", "Keyring"]


def test_token_stored_read_back_and_deleted(store: SecretStore, account: str) -> None:
    secret = uuid.uuid4().hex
    assert store.get_token(account) is None
    store.set_token(account, secret)
    assert store.get_token(account) == secret
    # It really is in gnome-keyring, under the documented service and user name.
    [(label, attributes)] = _items(f"token:{account}")
    assert attributes["service"] == "Tootbell"
    assert attributes["username"] == f"token:{account}"
    assert secret not in label
    # A second store (another process would be the same) reads it too.
    assert SecretStore().get_token(account) == secret
    store.delete_token(account)
    assert store.get_token(account) is None
    assert _items(f"token:{account}") == []
    store.delete_token(account)  # deleting again is fine


def test_client_secret_round_trip(store: SecretStore) -> None:
    base_url = f"https://{uuid.uuid4().hex[:8]}.desktop.test"
    store.set_client_secret(base_url, "client-secret-value")
    assert store.get_client_secret(base_url) == "client-secret-value"
    store.delete_client_secret(base_url)
    assert store.get_client_secret(base_url) is None


@pytest.mark.usefixtures("unlocked_afterwards")
def test_locked_keyring_is_reported_then_works_after_unlock(
    store: SecretStore, account: str
) -> None:
    store.set_token(account, "before-lock")
    lock_keyring()
    assert keyring_locked()

    status = SecretStore(timeout=20.0).check()
    assert not status.ok
    assert status.backend_name == "SecretService Keyring"
    assert status.message == LOCKED_MESSAGE

    with pytest.raises(KeyringLocked) as info:
        store.get_token(account)
    assert info.value.title == "Keyring locked"
    assert info.value.message == LOCKED_MESSAGE
    assert "before-lock" not in str(info.value)
    with pytest.raises(KeyringLocked):
        store.set_token(account, "while-locked")

    unlock_keyring()
    assert not keyring_locked()
    assert store.check().ok
    assert store.get_token(account) == "before-lock"
    store.delete_token(account)
