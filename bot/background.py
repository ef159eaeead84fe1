"""The workers that run beside the webhooks: the outbox sender and the lifecycle timers (both
only in the elected worker, see bot.leader)."""

from __future__ import annotations

from datetime import timedelta

from bot.appointments import create_appointment_config
from bot.config import Settings
from bot.leader import Leadership
from bot.limits import RateLimiter
from bot.maintenance import Maintenance
from bot.media import MediaStore
from bot.outbox.sender import OutboxSender, SenderConfig, Transport
from domain.clock import Clock
from domain.dialog.events import Channel
from domain.i18n import Translator
from domain.lifecycle import LifecycleConfig
from storage.uow import UnitOfWorkFactory


def create_sender(
    settings: Settings,
    uows: UnitOfWorkFactory,
    transports: dict[Channel, Transport],
    limiter: RateLimiter,
    leadership: Leadership,
) -> OutboxSender:
    sender = OutboxSender(
        uows,
        transports,
        limiter,
        config=SenderConfig(
            poll_interval=settings.outbox_poll_seconds,
            backoff_base=settings.outbox_backoff_seconds,
            max_attempts=settings.outbox_max_attempts,
            credentials_pause=settings.outbox_credentials_pause_seconds,
            staff_chat=str(settings.staff_chat_id) if settings.staff_chat_id is not None else None,
        ),
        leading=lambda: leadership.is_leader,
    )
    leadership.on_gained(sender.wake)
    return sender


def create_maintenance(
    settings: Settings,
    uows: UnitOfWorkFactory,
    translator: Translator,
    clock: Clock,
    lifecycle: LifecycleConfig,
    leadership: Leadership,
    media: MediaStore,
) -> Maintenance:
    return Maintenance(
        uows,
        translator,
        clock,
        lifecycle,
        reminder_period=timedelta(hours=settings.reminder_period_hours),
        pending_ttl=timedelta(minutes=settings.staff_pending_minutes),
        interval=settings.maintenance_interval_seconds,
        leading=lambda: leadership.is_leader,
        media=media,
        media_orphan_age=settings.media_orphan_hours * 3600,
        appointments=create_appointment_config(settings),
    )
