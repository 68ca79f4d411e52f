"""The avatar cache: each sender's picture downloaded once (size-limited) for toasts and lists."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from tootbell.mastodon.client import ApiError, MastodonClient

log = logging.getLogger(__name__)

AVATAR_MAX_BYTES = 512 * 1024


def looks_like_image(data: bytes) -> bool:
    return data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF")) or b"<svg" in data[:512]


def cached_avatar(client: MastodonClient, url: str, cache: Path) -> str | None:
    """The local file for ``url``, downloading it on first use; None when it cannot be had."""
    path = cache / hashlib.sha256(url.encode()).hexdigest()[:32]
    if path.exists():
        return str(path)
    try:
        data = client.get_bytes(url, AVATAR_MAX_BYTES)
    except ApiError as e:
        log.info("avatar not fetched: %s", e.message)
        return None
    if not looks_like_image(data):
        return None
    try:
        cache.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as e:
        log.info("avatar not cached: %s", e)
        return None
    return str(path)
