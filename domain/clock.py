"""Time comes from an injectable clock so tests can move it; always timezone-aware UTC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def due_date(created_at: datetime, sla_hours: int) -> datetime:
    """When an appeal must be resolved: its category's SLA counted from filing."""
    if created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    if sla_hours <= 0:
        raise ValueError("an SLA must be a positive number of hours")
    return created_at + timedelta(hours=sla_hours)


def local_time(
    moment: datetime, tz: tzinfo, *, date_only: bool = False, time_only: bool = False
) -> str:
    """A moment as people in the city read it: "31.12.2026 14:05", or only its date or time.
    The one format every message uses, so a resident and an operator see the same."""
    local = moment.astimezone(tz)
    if date_only:
        return local.strftime("%d.%m.%Y")
    if time_only:
        return local.strftime("%H:%M")
    return local.strftime("%d.%m.%Y %H:%M")
