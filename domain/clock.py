"""Time comes from an injectable clock so tests can move it; always timezone-aware UTC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

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
