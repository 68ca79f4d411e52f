"""Small real PNG images made with zlib and struct: avatars and custom emoji for the demo.

Each avatar is a coloured 5×5 mirrored pattern derived from the name, so every account has
its own recognisable picture and the same name always gives the same bytes.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

RGB = tuple[int, int, int]


def _chunk(tag: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(tag + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)


def encode_rgb(width: int, height: int, rows: list[bytes]) -> bytes:
    """Encode 8-bit RGB rows (each ``width * 3`` bytes) as a PNG file."""
    if len(rows) != height or any(len(r) != width * 3 for r in rows):
        raise ValueError("rows do not match the image size")
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _colour(digest: bytes, saturation: float, value: float) -> RGB:
    hue = int.from_bytes(digest[:2], "big") / 65535
    r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
    return (round(r * 255), round(g * 255), round(b * 255))


@functools.lru_cache(maxsize=256)
def avatar_png(name: str, size: int = 48) -> bytes:
    """A ``size``×``size`` identicon for ``name``: a coloured mirrored pattern on a light tile."""
    if size < 6:
        raise ValueError("size too small")
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    fg = _colour(digest, 0.6, 0.8)
    bg = (240, 240, 236)
    cell = size // 6
    margin = (size - 5 * cell) // 2
    # 5 rows × 3 columns of bits, mirrored to 5 columns.
    bits = int.from_bytes(digest[2:6], "big")
    grid = [[bool(bits >> (r * 3 + c) & 1) for c in range(3)] for r in range(5)]
    for row in grid:
        row.extend([row[1], row[0]])
    rows: list[bytes] = []
    for y in range(size):
        gy = (y - margin) // cell if margin <= y < margin + 5 * cell else -1
        line = bytearray()
        for x in range(size):
            gx = (x - margin) // cell if margin <= x < margin + 5 * cell else -1
            on = gy >= 0 and gx >= 0 and grid[gy][gx]
            line.extend(fg if on else bg)
        rows.append(bytes(line))
    return encode_rgb(size, size, rows)


@functools.lru_cache(maxsize=64)
def emoji_png(shortcode: str, size: int = 32) -> bytes:
    """A round coloured disc for a custom emoji shortcode."""
    digest = hashlib.sha256(b"emoji:" + shortcode.encode("utf-8")).digest()
    fg = _colour(digest, 0.7, 0.95)
    bg = (255, 255, 255)
    centre = (size - 1) / 2
    radius2 = (size / 2 - 1) ** 2
    rows = []
    for y in range(size):
        line = bytearray()
        for x in range(size):
            inside = (x - centre) ** 2 + (y - centre) ** 2 <= radius2
            line.extend(fg if inside else bg)
        rows.append(bytes(line))
    return encode_rgb(size, size, rows)


@functools.lru_cache(maxsize=1)
def header_png() -> bytes:
    """The plain header image every demo account has."""
    return encode_rgb(8, 4, [bytes((200, 200, 210)) * 8] * 4)
