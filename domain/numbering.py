"""Human-friendly appeal numbers such as 1580-2026-000123."""

from __future__ import annotations

import re

_NUMBER_RE = re.compile(r"^(?P<prefix>[0-9A-Za-z]{1,10})-(?P<year>\d{4})-(?P<seq>\d{6,})$")


def format_number(prefix: str, year: int, sequence: int) -> str:
    if sequence < 1:
        raise ValueError("appeal sequence numbers start at 1")
    return f"{prefix}-{year:04d}-{sequence:06d}"


def parse_number(text: str) -> tuple[str, int, int] | None:
    """(prefix, year, sequence) of a well-formed number, or None."""
    match = _NUMBER_RE.match(text.strip())
    if not match:
        return None
    return match["prefix"], int(match["year"]), int(match["seq"])
