"""How the integration tests sign the demo user in and which settings a quiet app runs with."""

from __future__ import annotations

from tootbell.config import AccountConfig, Settings
from tootbell.demo import DemoServer
from tootbell.secrets import SecretStore

# Checks only when a test asks (Check now); every notification its own toast.
QUIET = Settings(poll_interval_s=3600, away_threshold=50)


def demo_account(server: DemoServer, secrets: SecretStore) -> AccountConfig:
    """The demo user on ``server``, its token in ``secrets``."""
    acc = AccountConfig(key=f"demo@{server.base_url.split('//', 1)[1]}", base_url=server.base_url)
    secrets.set_token(acc.key, server.create_token("demo"))
    return acc
