"""Handle an inbound event exactly once: its id is recorded in the transaction of its effects."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from domain.clock import Clock
from domain.dialog.events import Channel
from storage.processed_updates import ClaimTaken
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
    recent = uows.recent_claims
    async with uows() as uow:
        # The claim is written at the commit, in the same transaction as the effects (on
        # PostgreSQL a dialog step's in the same statement as its replies: storage._hot), so
        # that the work before it (the dialog's thinking) holds no transaction. A delivery of
        # an event already handled does the work again, and is rolled back at the commit,
        # before anything outside the database is written; a concurrent one waits on the
        # claim's row there, then finds it. Where one process owns the database, a redelivery
        # of what this process handled is skipped before the work.
        if recent is not None and (channel, event_id) in recent:
            raise Duplicate(f"{channel} event {event_id}")
        uow.updates.claim_at_commit(channel, event_id, clock())
        result = await work(uow)
        try:
            await uow.commit()
        except (IntegrityError, ClaimTaken) as exc:
            raise Duplicate(f"{channel} event {event_id} (concurrent)") from exc
        if recent is not None:
            recent.add(channel, event_id)
    return result
