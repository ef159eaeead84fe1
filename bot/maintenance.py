"""Timers of the lifecycle: overdue reminders in the staff chat and closing unanswered appeals."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

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
    expired: list[int] = field(default_factory=list)


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
    ) -> None:
        self._leading = leading
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
        return TickResult(reminded, closed, expired)

    async def run(self) -> None:
        while True:
            if not self._leading():
                await asyncio.sleep(self._interval)
                continue
            try:
                result = await self.tick()
                if result.reminded or result.closed:
                    logger.info(
                        "reminded %d overdue, closed %d unanswered",
                        len(result.reminded),
                        len(result.closed),
                    )
            except Exception:
                logger.exception("maintenance round failed")
            await asyncio.sleep(self._interval)
