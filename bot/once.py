"""Handle an inbound event exactly once: its id is recorded in the transaction of its effects."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from domain.clock import Clock
from domain.dialog.events import Channel
from storage.uow import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)
T = TypeVar("T")


# Named for what happened, not as an error of ours.
class Duplicate(Exception):
    """The event was handled before (a platform's redelivery)."""


async def handle_once(
    uows: UnitOfWorkFactory,
    clock: Clock,
    channel: Channel,
    event_id: int,
    work: Callable[[UnitOfWork], Awaitable[T]],
) -> T:
    """Run `work` in one unit of work unless this event id was handled; raise Duplicate if it
    was (also when a concurrent delivery of the same event commits first)."""
    async with uows() as uow:
        # Claimed first, in the same transaction as the effects: a concurrent delivery of the
        # same event waits on this row (PostgreSQL) or the write lock (SQLite), then finds it.
        if not await uow.updates.claim(channel, event_id, clock()):
            raise Duplicate(f"{channel} event {event_id}")
        result = await work(uow)
        try:
            await uow.commit()
        except IntegrityError as exc:
            raise Duplicate(f"{channel} event {event_id} (concurrent)") from exc
    return result
