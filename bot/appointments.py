"""Wiring for appointments with officials: their settings, and the reception file's sync."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Settings
from domain.appointments import AppointmentConfig
from domain.reception import load_reception
from storage.uow import UnitOfWorkFactory


def create_appointment_config(settings: Settings) -> AppointmentConfig:
    return AppointmentConfig(
        timezone=ZoneInfo(settings.timezone),
        number_prefix=settings.appeal_number_prefix,
        days_ahead=settings.appointment_days_ahead,
        change_before=timedelta(hours=settings.appointment_change_hours),
        contact_centre_phone=settings.contact_centre_phone,
    )


async def sync_reception(uows: UnitOfWorkFactory, path: Path) -> None:
    """Make the officials match the city's reception file (validated before anything is
    written)."""
    specs = load_reception(path)
    async with uows() as uow:
        await uow.appointments.sync_officials(specs)
        await uow.commit()
