"""Sample pictures residents and operators can send, drawn here (no files, no network)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

WIDTH, HEIGHT = 160, 120
Colour = tuple[int, int, int]
Painter = Callable[[int, int], Colour]


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    title: str
    paint: Painter


def _png(paint: Painter) -> bytes:
    rows = b"".join(
        b"\x00" + b"".join(bytes(paint(x, y)) for x in range(WIDTH)) for y in range(HEIGHT)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def _pothole(x: int, y: int) -> Colour:
    if y < 30:
        return (150, 190, 230)
    if ((x - 80) / 45) ** 2 + ((y - 80) / 18) ** 2 < 1:
        return (40, 35, 30)
    if 55 < y < 58 and x % 30 < 18:
        return (235, 235, 235)
    return (105, 105, 110)


def _street_light(x: int, y: int) -> Colour:
    if 76 <= x <= 82 and y > 25:
        return (60, 60, 70)
    if 70 <= x <= 100 and 20 <= y <= 27:
        return (60, 60, 70)
    if ((x - 96) / 7) ** 2 + ((y - 31) / 5) ** 2 < 1:
        return (90, 90, 80)  # the lamp, out
    return (20, 25, 60) if y < 100 else (50, 50, 50)


def _burst_pipe(x: int, y: int) -> Colour:
    if 50 <= y <= 66 and 10 <= x <= 150:
        return (120, 120, 130)
    if ((x - 80) ** 2 + (y - 45) ** 2) < 400 and y < 58:
        return (90, 160, 230)  # the jet
    if y > 95:
        return (70, 130, 200) if (x + y) % 7 else (110, 170, 230)
    return (150, 120, 90)


def _repaired(x: int, y: int) -> Colour:
    if y < 30:
        return (150, 190, 230)
    if 55 < y < 58 and x % 30 < 18:
        return (235, 235, 235)
    if ((x - 80) / 45) ** 2 + ((y - 80) / 18) ** 2 < 1:
        return (60, 60, 64)  # fresh asphalt
    return (105, 105, 110)


SAMPLES = (
    Sample("pothole", "Pothole", _pothole),
    Sample("street-light", "Street light out", _street_light),
    Sample("burst-pipe", "Burst pipe", _burst_pipe),
    Sample("repaired", "Repaired road", _repaired),
)
BY_NAME = {sample.name: sample for sample in SAMPLES}


@cache
def sample_png(name: str) -> bytes:
    """The sample's picture as PNG; KeyError for an unknown name."""
    return _png(BY_NAME[name].paint)
