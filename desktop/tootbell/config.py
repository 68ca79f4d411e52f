"""Typed settings (what the person chose) and app state (cursors, seen IDs), kept apart.

Both are JSON files written atomically. Secrets are in neither: they live in the keyring.
``TOOTBELL_HOME=DIR`` puts config, state, cache and logs under DIR.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

APP_DIR_NAME = "tootbell"
CONFIG_VERSION = 1
STATE_VERSION = 1

# Every notification type the settings offer a switch for, in display order. Unknown types
# (newer servers, Akkoma extras) follow the "other" switch.
NOTIFICATION_TYPES: tuple[str, ...] = (
    "mention",
    "status",
    "reblog",
    "favourite",
    "follow",
    "follow_request",
    "poll",
    "update",
    "quote",
    "admin.sign_up",
    "admin.report",
    "severed_relationships",
    "moderation_warning",
    "other",
)


class StorageError(OSError):
    """A config or state file could not be written. ``message`` is shown to the person."""

    def __init__(self, path: Path, cause: OSError) -> None:
        import errno

        if cause.errno == errno.ENOSPC:
            what = "the disk is full"
        elif cause.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            what = "permission denied"
        else:
            what = cause.strerror or str(cause)
        self.path = path
        self.message = f"Could not save {path.name}: {what}. Tootbell keeps running."
        super().__init__(cause.errno, self.message)


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    state_dir: Path
    cache_dir: Path
    log_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.json"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def avatar_dir(self) -> Path:
        return self.cache_dir / "avatars"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "tootbell.log"

    def ensure(self) -> None:
        for d in (self.config_dir, self.state_dir, self.cache_dir, self.log_dir):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)


def default_paths(env: dict[str, str] | None = None) -> Paths:
    env = dict(os.environ) if env is None else env
    home = env.get("TOOTBELL_HOME")
    if home:
        root = Path(home).expanduser()
        return Paths(root / "config", root / "state", root / "cache", root / "logs")
    return Paths(
        Path(platformdirs.user_config_dir(APP_DIR_NAME)),
        Path(platformdirs.user_state_dir(APP_DIR_NAME)),
        Path(platformdirs.user_cache_dir(APP_DIR_NAME)),
        Path(platformdirs.user_log_dir(APP_DIR_NAME)),
    )


def atomic_write_text(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never half.

    Raises :class:`StorageError` (with a message for people) when the disk is full or the
    directory is not writable; the old file is left untouched.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise StorageError(path, e) from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            if hasattr(os, "fchmod"):  # not on Windows before Python 3.13
                os.fchmod(f.fileno(), mode)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StorageError(path, e) from e
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        # A damaged file: keep it aside for inspection and start from defaults.
        with contextlib.suppress(OSError):
            path.replace(path.with_suffix(path.suffix + ".damaged"))
        return None
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class QuietHours:
    enabled: bool = False
    start: str = "22:00"  # local time, HH:MM
    end: str = "07:00"


_PUSH_CHECKS: dict[str, Callable[[object], bool]] = {
    "push_listen": lambda v: isinstance(v, str) and ":" in v,
    "push_catchup_s": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 60,
    "push_policy": lambda v: v in ("all", "followed", "follower", "none"),
}


@dataclass(frozen=True)
class Settings:
    """What the person chose. Immutable: replace the whole object to change it."""

    poll_interval_s: int = 60
    types: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(NOTIFICATION_TYPES, True))
    quiet_hours: QuietHours = field(default_factory=QuietHours)
    pause_until: float | None = None  # epoch seconds; float("inf") = until resumed
    coalesce_window_s: int = 60
    away_threshold: int = 8  # more new notifications than this at once -> one summary toast
    show_avatars: bool = True
    push_listen: str = "127.0.0.1:8765"  # where the Web Push listener binds (host:port)
    push_catchup_s: int = 600  # the slow poll that runs beside push, so nothing is lost
    push_policy: str = "all"  # whose notifications the server pushes: all/followed/follower/none

    def type_enabled(self, ntype: str) -> bool:
        key = ntype if ntype in self.types else "other"
        if ntype.startswith("admin.") and ntype not in self.types:
            key = "admin.sign_up"
        return self.types.get(key, True)

    def paused_at(self, now: float) -> bool:
        return self.pause_until is not None and now < self.pause_until

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        if self.pause_until == float("inf"):
            d["pause_until"] = "forever"
        return d

    @classmethod
    def from_json(cls, data: object) -> Settings:
        if not isinstance(data, dict):
            return cls()
        base = cls()
        kwargs: dict[str, Any] = {}
        names = {f.name for f in fields(cls)}
        for k, v in data.items():
            if k not in names:
                continue
            if k == "types" and isinstance(v, dict):
                merged = dict(base.types)
                merged.update({str(t): bool(on) for t, on in v.items()})
                kwargs[k] = merged
            elif k == "quiet_hours" and isinstance(v, dict):
                qh_names = {f.name for f in fields(QuietHours)}
                kwargs[k] = QuietHours(**{a: b for a, b in v.items() if a in qh_names})
            elif k == "pause_until":
                kwargs[k] = (
                    float("inf")
                    if v == "forever"
                    else (float(v) if isinstance(v, (int, float)) else None)
                )
            elif k in ("poll_interval_s", "coalesce_window_s", "away_threshold"):
                if isinstance(v, int) and v > 0:
                    kwargs[k] = v
            elif k == "show_avatars":
                kwargs[k] = bool(v)
            elif k in _PUSH_CHECKS and _PUSH_CHECKS[k](v):
                kwargs[k] = v
        s = replace(base, **kwargs)
        return replace(s, poll_interval_s=max(15, min(s.poll_interval_s, 3600)))


@dataclass(frozen=True)
class AccountConfig:
    """One signed-in account. The token lives in the keyring under ``key``."""

    key: str  # "user@host", unique, also the keyring user name
    base_url: str  # "https://host" (or http:// when typed explicitly)
    account_id: str = ""
    display_name: str = ""
    client_id: str = ""  # not secret; the client secret is in the keyring
    delivery: str = "poll"  # "poll", or "push" (Web Push with a slow catch-up poll)
    enabled: bool = True
    push_public_url: str = ""  # the public HTTPS base URL that forwards to the listener

    @property
    def handle(self) -> str:
        return self.key

    @classmethod
    def from_json(cls, data: object) -> AccountConfig | None:
        if not isinstance(data, dict) or not data.get("key") or not data.get("base_url"):
            return None
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Config:
    settings: Settings = field(default_factory=Settings)
    accounts: tuple[AccountConfig, ...] = ()

    def account(self, key: str) -> AccountConfig | None:
        for a in self.accounts:
            if a.key == key:
                return a
        return None

    def with_account(self, acc: AccountConfig) -> Config:
        others = tuple(a for a in self.accounts if a.key != acc.key)
        return replace(self, accounts=(*others, acc))

    def without_account(self, key: str) -> Config:
        return replace(self, accounts=tuple(a for a in self.accounts if a.key != key))


def load_config(paths: Paths) -> Config:
    data = _read_json(paths.config_file)
    if data is None:
        return Config()
    accounts = tuple(
        a for a in (AccountConfig.from_json(x) for x in data.get("accounts", []) or []) if a
    )
    return Config(settings=Settings.from_json(data.get("settings")), accounts=accounts)


def save_config(paths: Paths, config: Config) -> None:
    data = {
        "version": CONFIG_VERSION,
        "settings": config.settings.to_json(),
        "accounts": [asdict(a) for a in config.accounts],
    }
    atomic_write_text(paths.config_file, json.dumps(data, indent=2, sort_keys=True) + "\n")


# --------------------------------------------------------------------------- state

SEEN_LIMIT = 2000  # IDs remembered per account for exactly-once; older ones fall below the cursor


@dataclass
class AccountState:
    """What Tootbell remembers about one account between runs. No secrets."""

    cursor: str | None = None  # newest notification id handled (poll min_id)
    seen: list[str] = field(default_factory=list)  # recently toasted/decided ids, oldest first
    marker: str | None = None  # last known server read marker
    unread: list[str] = field(default_factory=list)  # ids newer than the marker, not hidden
    # Ids newer than the marker that the server's unread count still counts but the badge
    # does not: hidden by a keyword filter, or in a conversation marked read here.
    hidden: list[str] = field(default_factory=list)
    paused_count: int = 0  # notifications held back while paused, for the summary toast
    # Toasts decided but not yet handed to the notifier (``Toast.to_json()``), saved with
    # the cursor and seen ids that record them, so a crash in between does not lose them:
    # the next start shows them. Dropped once the notifier has them.
    pending: list[dict[str, Any]] = field(default_factory=list)
    last_poll: float | None = None
    # Web Push: public parts only; the private key and auth secret are in the keyring.
    push_path_token: str = ""
    push_public_key: str = ""
    push_server_key: str = ""
    push_endpoint: str = ""
    last_push_at: float | None = None

    def remember(self, ids: Iterable[str]) -> None:
        seen = set(self.seen)
        for i in ids:
            if i not in seen:
                self.seen.append(i)
                seen.add(i)
        if len(self.seen) > SEEN_LIMIT:
            del self.seen[: len(self.seen) - SEEN_LIMIT]

    def has_seen(self, nid: str) -> bool:
        return nid in self.seen

    @classmethod
    def from_json(cls, data: object) -> AccountState:
        if not isinstance(data, dict):
            return cls()
        s = cls()
        cur = data.get("cursor")
        s.cursor = str(cur) if cur is not None else None
        s.seen = [str(x) for x in data.get("seen", []) if isinstance(x, (str, int))]
        m = data.get("marker")
        s.marker = str(m) if m is not None else None
        s.unread = [str(x) for x in data.get("unread", []) if isinstance(x, (str, int))]
        s.hidden = [str(x) for x in data.get("hidden", []) if isinstance(x, (str, int))]
        pc = data.get("paused_count", 0)
        s.paused_count = pc if isinstance(pc, int) else 0
        pending = data.get("pending")
        if isinstance(pending, list):
            s.pending = [t for t in pending if isinstance(t, dict)]
        lp = data.get("last_poll")
        s.last_poll = float(lp) if isinstance(lp, (int, float)) else None
        for name in ("push_path_token", "push_public_key", "push_server_key", "push_endpoint"):
            v = data.get(name)
            if isinstance(v, str):
                setattr(s, name, v)
        lpa = data.get("last_push_at")
        s.last_push_at = float(lpa) if isinstance(lpa, (int, float)) else None
        return s


class StateStore:
    """Per-account state in one file per account, written atomically.

    One file per account means one account's worker never rewrites another's data.
    """

    def __init__(self, paths: Paths) -> None:
        self._dir = paths.state_dir / "accounts"

    def _file(self, key: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "@._-" else "_" for c in key)
        return self._dir / f"{safe}.json"

    def load(self, key: str) -> AccountState:
        data = _read_json(self._file(key))
        return AccountState.from_json(data) if data is not None else AccountState()

    def save(self, key: str, state: AccountState) -> None:
        data = {"version": STATE_VERSION, **asdict(state)}
        atomic_write_text(self._file(key), json.dumps(data, separators=(",", ":")))

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._file(key).unlink()

    def tidy(self, older_than_s: float = 60.0, now: float | None = None) -> int:
        """Remove temporary files that a write cut off by a crash left behind. Only old ones:
        a younger one may belong to a write under way (``tootbell check`` runs alongside).
        Returns how many went."""
        moment = time.time() if now is None else now
        removed = 0
        try:
            leftovers = list(self._dir.glob(".*.json.*.tmp"))
        except OSError:
            return 0
        for tmp in leftovers:
            with contextlib.suppress(OSError):
                if moment - tmp.stat().st_mtime >= older_than_s:
                    tmp.unlink()
                    removed += 1
        return removed
