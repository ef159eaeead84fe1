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
        if recent is not None:
            # One process owns the database: the claim is written at the commit, in the same
            # transaction as the effects, so that the work before it (the dialog's thinking)
            # does not hold the database. A redelivery of what this process handled is
            # skipped here; one it cannot know of is rolled back at the commit.
            if (channel, event_id) in recent:
                raise Duplicate(f"{channel} event {event_id}")
            uow.updates.claim_at_commit(channel, event_id, clock())
        # Claimed first, in the same transaction as the effects: a concurrent delivery of the
        # same event waits on this row, then finds it.
        elif not await uow.updates.claim(channel, event_id, clock()):
            raise Duplicate(f"{channel} event {event_id}")
        result = await work(uow)
        try:
            await uow.commit()
        except (IntegrityError, ClaimTaken) as exc:
            raise Duplicate(f"{channel} event {event_id} (concurrent)") from exc
        if recent is not None:
            recent.add(channel, event_id)
    return result
