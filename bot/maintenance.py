"""Timers of the lifecycle: overdue reminders in the staff chat and closing unanswered appeals."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.faults import stop_if_cancelled
from bot.media import LOCAL_PREFIX, MediaStore
from domain.appointments import AppointmentConfig, AppointmentService
from domain.clock import Clock
from domain.desk import Desk
from domain.i18n import Translator
from domain.lifecycle import Lifecycle, LifecycleConfig
from storage.uow import UnitOfWorkFactory

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TickResult:
    reminded: list[int]
    closed: list[int]
    media_removed: int = 0
    expired: list[int] = field(default_factory=list)
    # Overdue appeals held by departments' executors: reminded in their chats, escalated to
    # the staff chat.
    reminded_executors: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    # Bookings whose reminder (the day before, two hours before) was queued this round.
    appointments_reminded: list[int] = field(default_factory=list)


class Maintenance:
    def __init__(
        self,
        uows: UnitOfWorkFactory,
        translator: Translator,
        clock: Clock,
        lifecycle: LifecycleConfig,
        *,
        reminder_period: timedelta,
        interval: float,
        pending_ttl: timedelta = timedelta(minutes=10),
        leading: Callable[[], bool] = lambda: True,
        media: MediaStore | None = None,
        media_orphan_age: float = 48 * 3600,
        sent_kept: timedelta = timedelta(days=7),
        appointments: AppointmentConfig | None = None,
    ) -> None:
        self._appointments = appointments
        # Every update's replies pass through the outbox: delivered rows are removed once a
        # day here (and at start-up), so that the table does not grow for ever.
        self._sent_kept = sent_kept
        self._pruned_at: datetime | None = None
        self._leading = leading
        self._media = media
        self._media_orphan_age = media_orphan_age
        self._uows = uows
        self._translator = translator
        self._clock = clock
        self._lifecycle = lifecycle
        self._reminder_period = reminder_period
        self._interval = interval
        self._pending_ttl = pending_ttl

    async def tick(self) -> TickResult:
        """One round; each kind of work is its own unit of work."""
        async with self._uows() as uow:
            lifecycle = Lifecycle(uow, self._translator, self._clock, self._lifecycle)
            reminded = await lifecycle.remind_overdue(self._reminder_period)
            await uow.commit()
        async with self._uows() as uow:
            lifecycle = Lifecycle(uow, self._translator, self._clock, self._lifecycle)
            executors, escalated = await lifecycle.remind_executors(self._reminder_period)
            await uow.commit()
        async with self._uows() as uow:
            lifecycle = Lifecycle(uow, self._translator, self._clock, self._lifecycle)
            closed = await lifecycle.close_unanswered()
            await uow.commit()
        async with self._uows() as uow:
            lifecycle = Lifecycle(uow, self._translator, self._clock, self._lifecycle)
            with self._translator.use(self._lifecycle.staff_locale):
                desk = Desk(
                    lifecycle,
                    uow.pending,
                    self._clock,
                    self._lifecycle.timezone,
                    pending_ttl=self._pending_ttl,
                )
                expired = await desk.expire()
            await uow.commit()
        appointments_reminded: list[int] = []
        if self._appointments is not None:
            async with self._uows() as uow:
                service = AppointmentService(
                    uow.appointments, uow.outbox, self._translator, self._clock, self._appointments
                )
                appointments_reminded = await service.remind()
                await uow.commit()
        now = datetime.now(UTC)
        if self._pruned_at is None or now - self._pruned_at > timedelta(days=1):
            async with self._uows() as uow:
                await uow.outbox_queue.prune_sent(now - self._sent_kept)
                await uow.commit()
            self._pruned_at = now
        removed = 0
        if self._media is not None:
            async with self._uows() as uow:
                used = await uow.media_refs.local(LOCAL_PREFIX)
            removed = await self._media.remove_orphans(used, self._media_orphan_age)
        return TickResult(
            reminded,
            closed,
            removed,
            expired,
            reminded_executors=executors,
            escalated=escalated,
            appointments_reminded=appointments_reminded,
        )

    async def run(self) -> None:
        while True:
            stop_if_cancelled()  # one a library swallowed (bot.faults.stop_if_cancelled)
            if not self._leading():
                await asyncio.sleep(self._interval)
                continue
            try:
                result = await self.tick()
                if result.reminded or result.closed or result.media_removed:
                    logger.info(
                        "reminded %d overdue, closed %d unanswered, removed %d unused media",
                        len(result.reminded),
                        len(result.closed),
                        result.media_removed,
                    )
            except Exception:
                stop_if_cancelled()
                logger.exception("maintenance round failed")
            await asyncio.sleep(self._interval)
